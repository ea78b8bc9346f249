//! `platc lsp` as an editor meets it: the real binary over standard input
//! and output, LSP's JSON-RPC with Content-Length framing, on a copy of the
//! monorepo example. Every answer is checked for its place and its words.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::{Value, json};

struct Client {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    next: i64,
    /// Notifications received and not yet looked at.
    notes: Vec<Value>,
}

impl Client {
    fn start(cache: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_platc"))
            .arg("lsp")
            .env("XDG_CACHE_HOME", cache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            loop {
                let mut len = None;
                loop {
                    let mut line = String::new();
                    if out.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = Some(v.parse::<usize>().unwrap());
                    }
                }
                let mut body = vec![0; len.expect("a Content-Length header")];
                out.read_exact(&mut body).unwrap();
                if tx.send(serde_json::from_slice::<Value>(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        Client { child, stdin, rx, next: 0, notes: Vec::new() }
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request and waits for its response (keeping notifications
    /// that arrive first): its `result`.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let msg = self.request_raw(method, params);
        assert!(msg.get("error").is_none(), "{method}: {msg}");
        msg["result"].clone()
    }

    /// The whole response to a request.
    fn request_raw(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            // A guard against a hang, not a speed check.
            let msg = self.rx.recv_timeout(Duration::from_secs(300)).expect("the server answers");
            if msg.get("id") == Some(&json!(id)) && msg.get("method").is_none() {
                return msg;
            }
            self.notes.push(msg);
        }
    }

    /// Opens a document with `text` (version 1).
    fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "plat", "version": 1, "text": text } }),
        );
    }

    /// A request about a place in a document (hover, definition,
    /// completion): its `result`.
    fn at(&mut self, method: &str, uri: &str, (line, character): (u64, u64)) -> Value {
        self.request(method, json!({ "textDocument": { "uri": uri }, "position": pos(line, character) }))
    }

    /// Shutdown, exit: the server ends cleanly.
    fn shut_down(mut self) {
        assert_eq!(self.request("shutdown", Value::Null), Value::Null);
        self.notify("exit", Value::Null);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
    }

    /// The diagnostics last published for `uri`, once everything sent so
    /// far has been handled (the server handles messages in order, so the
    /// answer to a request comes after the diagnostics of earlier changes).
    fn diagnostics(&mut self, uri: &str) -> Option<Vec<Value>> {
        self.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }));
        let last = self
            .notes
            .iter()
            .rev()
            .find(|n| n["method"] == "textDocument/publishDiagnostics" && n["params"]["uri"] == uri)
            .map(|n| n["params"]["diagnostics"].as_array().unwrap().clone());
        self.notes.clear();
        last
    }
}

fn uri(p: &Path) -> String {
    format!("file://{}", p.display())
}

/// The zero-based line holding `needle`, and the UTF-16 column where it starts.
fn find(text: &str, needle: &str) -> (u64, u64) {
    let at = text.find(needle).unwrap_or_else(|| panic!("`{needle}` in the text"));
    let before = &text[..at];
    let line = before.matches('\n').count();
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..].encode_utf16().count();
    (line as u64, col as u64)
}

fn pos(line: u64, character: u64) -> Value {
    json!({ "line": line, "character": character })
}

/// The range of `len` UTF-16 units from a place.
fn range((line, character): (u64, u64), len: u64) -> Value {
    json!({ "start": pos(line, character), "end": pos(line, character + len) })
}

/// The markdown of a hover.
fn hover_text(hover: &Value) -> String {
    hover["contents"]["value"].as_str().unwrap_or_else(|| panic!("{hover}")).to_string()
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let tmp = std::env::temp_dir().join(format!("platc-lsp-{name}{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    tmp
}

/// A copy of an example under `tmp/ws`, by its canonical path.
fn copied(example: &str, tmp: &Path) -> PathBuf {
    let ws = tmp.join("ws");
    common::copy(&common::examples().join(example), &ws);
    fs::canonicalize(&ws).unwrap()
}

#[test]
fn an_editor_session() {
    let tmp = scratch("");
    let ws = copied("monorepo", &tmp);
    let cache = tmp.join("cache");
    let mut c = Client::start(&cache);

    let init = c.request("initialize", json!({ "processId": null, "rootUri": uri(&ws), "capabilities": {} }));
    let caps = &init["capabilities"];
    assert_eq!(caps["textDocumentSync"], json!(2), "incremental sync: {caps}");
    assert_eq!(caps["positionEncoding"], "utf-16", "{caps}");
    for cap in ["hoverProvider", "definitionProvider", "documentFormattingProvider", "documentSymbolProvider"] {
        assert_eq!(caps[cap], json!(true), "{cap}: {caps}");
    }
    c.notify("initialized", json!({}));

    // Open a clean service: no problem anywhere in it.
    let orders = ws.join("services/orders/service.plat");
    let orders_uri = uri(&orders);
    let mut text = fs::read_to_string(&orders).unwrap();
    c.open(&orders_uri, &text);
    let d = c.diagnostics(&orders_uri).unwrap_or_default();
    assert!(d.is_empty(), "{d:?}");

    // Misspell the tier after non-ASCII text on the same line (an
    // incremental change): the error sits on `glod`, counted in UTF-16.
    let (line, col) = find(&text, "tier        = gold");
    let typed = "command = [\"ünïcödé\", \"😀\"]  tier = glod";
    let old_len = "tier        = gold".len() as u64;
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": orders_uri, "version": 2 },
            "contentChanges": [{ "range": { "start": pos(line, col), "end": pos(line, col + old_len) }, "text": typed }],
        }),
    );
    text = text.replacen("tier        = gold", typed, 1);
    let (gl, gc) = find(&text, "glod");
    assert_eq!(gl, line);
    let bytes_before = text.lines().nth(line as usize).unwrap().find("glod").unwrap() as u64;
    assert!(gc < bytes_before, "the line has characters of several bytes");
    let d = c.diagnostics(&orders_uri).expect("diagnostics for the edited file");
    let err = d.iter().find(|d| d["code"] == "platc::check::unknown_symbol").unwrap_or_else(|| panic!("{d:?}"));
    assert_eq!(err["range"], json!({ "start": pos(gl, gc), "end": pos(gl, gc + 4) }), "{err}");
    assert_eq!(err["severity"], json!(1));
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("unknown tier `glod`") && msg.contains("did you mean `gold`?"), "{msg}");

    // The quick fix from "did you mean".
    let actions = c.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": orders_uri },
            "range": { "start": pos(gl, gc), "end": pos(gl, gc) },
            "context": { "diagnostics": [] },
        }),
    );
    let fix = &actions[0];
    assert_eq!(fix["kind"], "quickfix", "{actions}");
    let edit = &fix["edit"]["changes"][&orders_uri][0];
    assert_eq!(edit["newText"], "gold");
    assert_eq!(edit["range"], json!({ "start": pos(gl, gc), "end": pos(gl, gc + 4) }));

    // Fix it: the file's diagnostics are cleared.
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": orders_uri, "version": 3 },
            "contentChanges": [{ "range": { "start": pos(gl, gc), "end": pos(gl, gc + 4) }, "text": "gold" }],
        }),
    );
    text = text.replacen("glod", "gold", 1);
    assert_eq!(c.diagnostics(&orders_uri), Some(vec![]), "cleared once fixed");

    // A file that is not open changes on disk: its diagnostics come too,
    // with the other place a problem involves as related information.
    let users = ws.join("services/users/service.plat");
    let users_uri = uri(&users);
    let original = fs::read_to_string(&users).unwrap();
    fs::write(&users, original.replacen("service users", "service payments", 1)).unwrap();
    let changed = json!({ "changes": [{ "uri": users_uri, "type": 2 }] });
    c.notify("workspace/didChangeWatchedFiles", changed.clone());
    let d = c.diagnostics(&users_uri).expect("diagnostics for a file that is not open");
    let dup = d.iter().find(|d| d["code"] == "platc::resolve::duplicate_service").unwrap_or_else(|| panic!("{d:?}"));
    let (ul, uc) = find(&original, "users");
    assert_eq!(dup["range"], json!({ "start": pos(ul, uc), "end": pos(ul, uc + 8) }), "{dup}");
    let payments = fs::read_to_string(ws.join("services/payments/service.plat")).unwrap();
    let (sl, sc) = find(&payments, "payments from");
    let related = &dup["relatedInformation"][0];
    assert_eq!(related["location"]["uri"], uri(&ws.join("services/payments/service.plat")), "{dup}");
    assert_eq!(related["location"]["range"], json!({ "start": pos(sl, sc), "end": pos(sl, sc + 8) }));
    assert_eq!(related["message"], "first declared here");
    fs::write(&users, &original).unwrap();
    c.notify("workspace/didChangeWatchedFiles", changed);
    assert_eq!(c.diagnostics(&users_uri), Some(vec![]), "cleared once restored");

    // Emit's own diagnostics are published with the others: an edit emit
    // refuses (no `language`, which the CI workflow needs) shows its error.
    // The edit that fixes it clears the file as soon as check is done,
    // before emit renders, and again with the whole result.
    let without = text.replacen("  language    = go\n", "", 1);
    assert_ne!(without, text);
    let whole = |text: &str, version: u32| json!({ "textDocument": { "uri": orders_uri, "version": version }, "contentChanges": [{ "text": text }] });
    c.notify("textDocument/didChange", whole(&without, 10));
    let d = c.diagnostics(&orders_uri).expect("emit's diagnostics");
    assert!(d.iter().any(|d| d["code"] == "platc::emit::needs_language"), "{d:?}");
    c.notify("textDocument/didChange", whole(&text, 11));
    c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": orders_uri } }));
    let published: Vec<&Value> = c
        .notes
        .iter()
        .filter(|n| n["method"] == "textDocument/publishDiagnostics" && n["params"]["uri"] == orders_uri)
        .map(|n| &n["params"]["diagnostics"])
        .collect();
    assert_eq!(published, [&json!([]), &json!([])], "cleared before emit, then with the result");
    c.notes.clear();

    // Hover on `cpu`: its value in each environment, and where it was set.
    let (cl, cc) = find(&text, "cpu    = 500m");
    let hover = c.at("textDocument/hover", &orders_uri, (cl, cc + 1));
    let shown = hover_text(&hover);
    assert!(shown.contains("orders / staging / cpu = 500m"), "{shown}");
    assert!(shown.contains("orders / production / cpu = 500m"), "{shown}");
    assert!(shown.contains(&format!("services/orders/service.plat:{}:", cl + 1)), "{shown}");
    assert!(shown.contains("<stdlib>/"), "the chain names the default it overrides: {shown}");
    assert_eq!(hover["range"], json!({ "start": pos(cl, cc), "end": pos(cl, cc + 3) }));

    // Completion: tiers after `tier =`, attributes at the start of a line.
    let (tl, tc) = find(&text, "gold");
    let items = c.at("textDocument/completion", &orders_uri, (tl, tc));
    let labels: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert!(labels.contains(&"silver") && labels.contains(&"bronze"), "{labels:?}");
    assert!(!labels.contains(&"replicas"), "{labels:?}");
    let items = c.at("textDocument/completion", &orders_uri, (cl, 2));
    let labels: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert!(labels.contains(&"replicas") && labels.contains(&"health") && labels.contains(&"resource"), "{labels:?}");
    assert!(!labels.contains(&"gold"), "{labels:?}");

    // Definition: a golden path into the standard library on disk, a
    // service into its file.
    let (fl, fc) = find(&text, "web-api");
    let def = c.at("textDocument/definition", &orders_uri, (fl, fc + 2));
    let target = def["uri"].as_str().unwrap_or_else(|| panic!("{def}"));
    let prefix = format!("file://{}/platc/stdlib-", cache.display());
    assert!(target.starts_with(&prefix) && target.ends_with("/golden-paths/web-api.plat"), "{target}");
    let file = fs::read_to_string(target.strip_prefix("file://").unwrap()).unwrap();
    let (wl, wc) = find(&file, "template web-api");
    assert_eq!(def["range"], json!({ "start": pos(wl, wc + 9), "end": pos(wl, wc + 16) }));
    let (pl, pc) = find(&text, "payments, users");
    let def = c.at("textDocument/definition", &orders_uri, (pl, pc + 1));
    assert_eq!(def["uri"], uri(&ws.join("services/payments/service.plat")));
    assert_eq!(def["range"], json!({ "start": pos(sl, sc), "end": pos(sl, sc + 8) }));

    // A whole name, read as the compiler reads it there (issue 15). On
    // `url` of `orders.url`, another service's address, declared where
    // `orders` is; on `orders`, that service.
    let notifications = ws.join("services/notifications/service.plat");
    let n_uri = uri(&notifications);
    let n_text = fs::read_to_string(&notifications).unwrap();
    c.open(&n_uri, &n_text);
    let (dl, dc) = find(&text, "orders from");
    let orders_decl = json!({ "uri": orders_uri, "range": range((dl, dc), 6) });
    let (ol, oc) = find(&n_text, "orders.url");
    let on_url = (ol, oc + 8);
    let hover = c.at("textDocument/hover", &n_uri, on_url);
    let shown = hover_text(&hover);
    assert!(
        shown.starts_with("`orders.url`: the url of service `orders`, declared at services/orders/service.plat:2:9"),
        "{shown}"
    );
    assert!(shown.contains("http://orders.orders.svc.cluster.local"), "{shown}");
    assert_eq!(hover["range"], range((ol, oc + 7), 3));
    assert_eq!(c.at("textDocument/definition", &n_uri, on_url), orders_decl);
    let on_orders = (ol, oc + 2);
    let hover = c.at("textDocument/hover", &n_uri, on_orders);
    let shown = hover_text(&hover);
    assert!(shown.starts_with("service `orders`, declared at"), "{shown}");
    assert_eq!(hover["range"], range((ol, oc), 6));
    assert_eq!(c.at("textDocument/definition", &n_uri, on_orders), orders_decl);

    // `payments-db.url`: the resource's declaration, hovered with the output.
    let p_uri = uri(&ws.join("services/payments/service.plat"));
    c.open(&p_uri, &payments);
    let (rl, rc) = find(&payments, "resource postgres payments-db");
    let db_decl = json!({ "uri": p_uri, "range": range((rl, rc + 18), 11) });
    let (ul, uc) = find(&payments, "payments-db.url");
    let on_url = (ul, uc + 13);
    let hover = c.at("textDocument/hover", &p_uri, on_url);
    let shown = hover_text(&hover);
    assert!(shown.starts_with("output `url` of postgres `payments-db` of service `payments`"), "{shown}");
    assert!(shown.contains("secret(\"payments-db/url\")"), "{shown}");
    assert_eq!(hover["range"], range((ul, uc + 12), 3));
    assert_eq!(c.at("textDocument/definition", &p_uri, on_url), db_decl);
    let on_db = (ul, uc + 3);
    let hover = c.at("textDocument/hover", &p_uri, on_db);
    let shown = hover_text(&hover);
    assert!(shown.starts_with("resource `payments-db`, declared at services/payments/service.plat:"), "{shown}");
    assert_eq!(hover["range"], range((ul, uc), 11));
    assert_eq!(c.at("textDocument/definition", &p_uri, on_db), db_decl);

    // Document symbols: the service, its resources and environments.
    let syms = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": orders_uri } }));
    let svc = &syms[0];
    assert_eq!(svc["name"], "orders");
    let children: Vec<&str> = svc["children"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    for want in ["owner", "orders-db", "order-events", "depends_on", "staging", "production"] {
        assert!(children.contains(&want), "{want} in {children:?}");
    }

    // Formatting: back to the file as on disk (a change of the whole text),
    // then a badly laid-out line; one edit gives the canonical file.
    text = fs::read_to_string(&orders).unwrap();
    let (ml, mc) = find(&text, "memory = 512Mi");
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": orders_uri, "version": 4 },
            "contentChanges": [
                { "text": text },
                { "range": { "start": pos(ml, mc), "end": pos(ml, mc + 14) }, "text": "memory=512Mi" },
            ],
        }),
    );
    let edits = c.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": orders_uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let edits = edits.as_array().unwrap();
    assert_eq!(edits.len(), 1, "{edits:?}");
    let lines = text.matches('\n').count() as u64;
    assert_eq!(edits[0]["range"], json!({ "start": pos(0, 0), "end": pos(lines, 0) }));
    let new_text = edits[0]["newText"].as_str().unwrap();
    assert!(
        new_text.contains("\n  cpu    = 500m\n  memory = 512Mi\n") && !new_text.contains("memory=512Mi"),
        "{new_text}"
    );
    assert_eq!(new_text, platc::fmt::format_file(platc::span::FileId(0), &text).unwrap());

    c.shut_down();
    let _ = fs::remove_dir_all(&tmp);
}

/// Issue 15: hover and definition follow a whole name through the scope in
/// a string, a granted resource of another service and a policy's
/// condition; a name that means nothing gets no answer (and no error).
#[test]
fn whole_names_under_the_cursor() {
    let tmp = scratch("names-");
    let ws = copied("harbor", &tmp);
    // The workspace's own policy, in its own standard-library directory.
    let platform = fs::read_to_string(ws.join("platform.plat")).unwrap();
    let platform = platform.replacen("  cloud    =", "  stdlib   = \"./platform\"\n  cloud    =", 1);
    fs::write(ws.join("platform.plat"), &platform).unwrap();
    fs::create_dir_all(ws.join("platform/policies")).unwrap();
    let policy = "policy placed {\n  when     = environment == production\n  require  = workspace.registry != null and environment.cluster != null\n  severity = error\n  message  = \"production runs on a cluster, from the registry\"\n}\n";
    fs::write(ws.join("platform/policies/placed.plat"), policy).unwrap();
    let mut c = Client::start(&tmp.join("cache"));
    c.request("initialize", json!({ "processId": null, "rootUri": uri(&ws), "capabilities": {} }));
    c.notify("initialized", json!({}));

    let dispatch = ws.join("services/dispatch/service.plat");
    let d_uri = uri(&dispatch);
    let text = fs::read_to_string(&dispatch).unwrap().replacen(
        "    BOOKINGS_TARGET",
        "    WHERE           = \"${environment.cluster} ${service.name}\"\n    NOPE            = nope.url\n    BOOKINGS_TARGET",
        1,
    );
    c.open(&d_uri, &text);
    let d = c.diagnostics(&d_uri).unwrap_or_default();
    let codes: Vec<&str> = d.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["platc::check::unknown_reference"], "only `nope.url` is wrong: {d:?}");

    // `bookings.booking-events.url`: the resource bookings grants dispatch,
    // in bookings' file; on `url`, hovered with its output; on `bookings`,
    // the service.
    let bookings = fs::read_to_string(ws.join("services/bookings/service.plat")).unwrap();
    let b_uri = uri(&ws.join("services/bookings/service.plat"));
    let (el, ec) = find(&bookings, "resource queue booking-events");
    let events_decl = json!({ "uri": b_uri, "range": range((el, ec + 15), 14) });
    let (bl, bc) = find(&bookings, "bookings from");
    let bookings_decl = json!({ "uri": b_uri, "range": range((bl, bc), 8) });
    let (gl, gc) = find(&text, "bookings.booking-events.url");
    assert_eq!(c.at("textDocument/definition", &d_uri, (gl, gc + 12)), events_decl);
    let hover = c.at("textDocument/hover", &d_uri, (gl, gc + 12));
    assert!(
        hover_text(&hover).starts_with("resource `booking-events`, declared at services/bookings/service.plat:13:18")
    );
    assert_eq!(hover["range"], range((gl, gc + 9), 14));
    assert_eq!(c.at("textDocument/definition", &d_uri, (gl, gc + 25)), events_decl);
    let hover = c.at("textDocument/hover", &d_uri, (gl, gc + 25));
    let s = hover_text(&hover);
    assert!(s.starts_with("output `url` of queue `booking-events` of service `bookings`"), "{s}");
    assert!(s.contains("secret(\"booking-events/url\")"), "{s}");
    assert_eq!(hover["range"], range((gl, gc + 24), 3));
    assert_eq!(c.at("textDocument/definition", &d_uri, (gl, gc + 1)), bookings_decl);

    // `${bookings.addr}` in a string: the address, declared where bookings is.
    let (al, ac) = find(&text, "bookings.addr}");
    let hover = c.at("textDocument/hover", &d_uri, (al, ac + 10));
    let s = hover_text(&hover);
    assert!(s.starts_with("`bookings.addr`: the addr of service `bookings`"), "{s}");
    assert!(s.contains("bookings.bookings.svc.cluster.local:"), "{s}");
    assert_eq!(hover["range"], range((al, ac + 9), 4));
    assert_eq!(c.at("textDocument/definition", &d_uri, (al, ac + 10)), bookings_decl);

    // `${environment.cluster}`: set in each environment's declaration (the
    // first one's for the definition); `${service.name}`: the service's.
    let (pl, pc) = find(&platform, "cluster = \"stg");
    let (cl, cc) = find(&text, "cluster}");
    let p_uri = uri(&ws.join("platform.plat"));
    assert_eq!(
        c.at("textDocument/definition", &d_uri, (cl, cc + 2)),
        json!({ "uri": p_uri, "range": range((pl, pc), 7) })
    );
    let s = hover_text(&c.at("textDocument/hover", &d_uri, (cl, cc + 2)));
    assert!(s.contains(&format!("staging: \"stg-euc1\", set at platform.plat:{}:", pl + 1)), "{s}");
    assert!(s.contains("production: \"prd-euc1\""), "{s}");
    let (nl, nc) = find(&text, "name}");
    let (sl, sc) = find(&text, "dispatch from");
    assert_eq!(
        c.at("textDocument/definition", &d_uri, (nl, nc + 1)),
        json!({ "uri": d_uri, "range": range((sl, sc), 8) })
    );

    // A name that means nothing: no answer, and no error.
    let (xl, xc) = find(&text, "nope.url");
    for col in [xc + 1, xc + 6] {
        assert_eq!(c.at("textDocument/hover", &d_uri, (xl, col)), Value::Null);
        assert_eq!(c.at("textDocument/definition", &d_uri, (xl, col)), Value::Null);
    }

    // A policy's condition: `workspace.registry` goes to the workspace's
    // assignment; `environment` alone is the environment (each of them).
    let policy_uri = uri(&ws.join("platform/policies/placed.plat"));
    c.open(&policy_uri, policy);
    let (rl, rc) = find(policy, "registry");
    let (vl, vc) = find(&platform, "\"registry.harbor.example/apps\"");
    assert_eq!(
        c.at("textDocument/definition", &policy_uri, (rl, rc + 1)),
        json!({ "uri": p_uri, "range": range((vl, vc), 30) })
    );
    let s = hover_text(&c.at("textDocument/hover", &policy_uri, (rl, rc + 1)));
    assert!(s.contains(&format!("\"registry.harbor.example/apps\", set at platform.plat:{}:", vl + 1)), "{s}");
    let (wl, wc) = find(policy, "environment ==");
    let (stl, stc) = find(&platform, "staging");
    assert_eq!(
        c.at("textDocument/definition", &policy_uri, (wl, wc + 1)),
        json!({ "uri": p_uri, "range": range((stl, stc), 7) })
    );
    let s = hover_text(&c.at("textDocument/hover", &policy_uri, (wl, wc + 1)));
    assert!(s.contains("environment `staging`") && s.contains("environment `production`"), "{s}");

    c.shut_down();
    let _ = fs::remove_dir_all(&tmp);
}

/// The VS Code extension's JSON files parse, and name each other rightly.
#[test]
fn the_vscode_extension_is_consistent() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("editors/vscode");
    let read = |p: &str| -> Value { serde_json::from_str(&fs::read_to_string(dir.join(p)).unwrap()).unwrap() };
    let package = read("package.json");
    let grammar = read("syntaxes/plat.tmLanguage.json");
    read("language-configuration.json");
    let contributed = &package["contributes"]["grammars"][0];
    assert_eq!(contributed["scopeName"], grammar["scopeName"]);
    assert_eq!(contributed["path"], "./syntaxes/plat.tmLanguage.json");
    assert_eq!(package["contributes"]["languages"][0]["extensions"], json!([".plat"]));
    assert!(fs::read_to_string(dir.join("extension.js")).unwrap().contains("args: [\"lsp\"]"));
    // Every rule the grammar includes exists.
    let repo = grammar["repository"].as_object().unwrap();
    let text = grammar.to_string();
    for inc in text.split("\"include\":\"#").skip(1) {
        let name = &inc[..inc.find('"').unwrap()];
        assert!(repo.contains_key(name), "#{name}");
    }
}

/// What an editor may send that is odd: a method the server does not know,
/// a request about a document it was never given, a change past the end of
/// the text, a file outside any workspace. Each gets a plain answer, and the
/// server goes on.
#[test]
fn odd_requests_get_plain_answers() {
    let tmp = scratch("odd-");
    fs::create_dir_all(tmp.join("loose")).unwrap();
    let tmp = fs::canonicalize(&tmp).unwrap();
    let mut c = Client::start(&tmp.join("cache"));
    c.request("initialize", json!({ "processId": null, "rootUri": null, "capabilities": {} }));
    c.notify("initialized", json!({}));

    let unknown = c.request_raw("textDocument/semanticTokens/full", json!({ "textDocument": { "uri": "file:///x" } }));
    assert_eq!(unknown["error"]["code"], json!(-32601), "{unknown}");
    let bad = c.request_raw("textDocument/hover", json!({ "nonsense": true }));
    assert_eq!(bad["error"]["code"], json!(-32602), "{bad}");
    let never = uri(&tmp.join("never-opened.plat"));
    for method in ["textDocument/hover", "textDocument/definition", "textDocument/completion"] {
        assert_eq!(c.at(method, &never, (0, 0)), Value::Null, "{method}");
    }

    // A .plat file in no workspace: its syntax errors, with UTF-16 ranges.
    let loose = tmp.join("loose/notes.plat");
    let loose_uri = uri(&loose);
    let text = "# ünï 😀\nx = \"😀\" }\n";
    fs::write(&loose, text).unwrap();
    c.open(&loose_uri, text);
    let d = c.diagnostics(&loose_uri).expect("syntax errors of a loose file");
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["code"], "platc::parse::unbalanced", "{d:?}");
    assert_eq!(d[0]["range"]["start"], pos(1, 9), "{d:?}");

    // A change past the end of the text appends. The fixed file is cleared.
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": loose_uri, "version": 2 },
            "contentChanges": [
                { "range": { "start": pos(1, 8), "end": pos(1, 10) }, "text": "" },
                { "range": { "start": pos(99, 0), "end": pos(99, 5) }, "text": "y = 1\n" },
            ],
        }),
    );
    assert_eq!(c.diagnostics(&loose_uri), Some(vec![]));
    let syms = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": loose_uri } }));
    let names: Vec<&str> = syms.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["x", "y"]);
    c.notify("textDocument/didClose", json!({ "textDocument": { "uri": loose_uri } }));
    assert_eq!(c.diagnostics(&loose_uri), Some(vec![]));

    // A lone service opened through a symbolic link: its diagnostics come
    // for the document as the editor named it.
    common::copy(&common::examples().join("lone-service"), &tmp.join("real"));
    std::os::unix::fs::symlink(tmp.join("real"), tmp.join("link")).unwrap();
    let linked = tmp.join("link/service.plat");
    let linked_uri = uri(&linked);
    let text = fs::read_to_string(&linked).unwrap().replace("tier        = silver", "tier        = silvr");
    c.open(&linked_uri, &text);
    c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": linked_uri } }));
    let published: Vec<&Value> = c
        .notes
        .iter()
        .filter(|n| n["method"] == "textDocument/publishDiagnostics")
        .map(|n| &n["params"]["uri"])
        .collect();
    assert_eq!(published, [&json!(linked_uri)], "under the name the editor used, only");
    let d = c.diagnostics(&linked_uri).unwrap();
    let (l, col) = find(&text, "silvr");
    assert_eq!(d[0]["code"], "platc::check::unknown_symbol", "{d:?}");
    assert_eq!(d[0]["range"]["start"], pos(l, col));

    c.shut_down();
    let _ = fs::remove_dir_all(&tmp);
}
