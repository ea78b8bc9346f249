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

#[test]
fn an_editor_session() {
    let tmp = std::env::temp_dir().join(format!("platc-lsp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    let ws: PathBuf = tmp.join("ws");
    common::copy(&common::examples().join("monorepo"), &ws);
    let ws = fs::canonicalize(&ws).unwrap();
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
    c.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": orders_uri, "languageId": "plat", "version": 1, "text": text } }),
    );
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
    let hover =
        c.request("textDocument/hover", json!({ "textDocument": { "uri": orders_uri }, "position": pos(cl, cc + 1) }));
    let shown = hover["contents"]["value"].as_str().unwrap_or_else(|| panic!("{hover}"));
    assert!(shown.contains("orders / staging / cpu = 500m"), "{shown}");
    assert!(shown.contains("orders / production / cpu = 500m"), "{shown}");
    assert!(shown.contains(&format!("services/orders/service.plat:{}:", cl + 1)), "{shown}");
    assert!(shown.contains("<stdlib>/"), "the chain names the default it overrides: {shown}");
    assert_eq!(hover["range"], json!({ "start": pos(cl, cc), "end": pos(cl, cc + 3) }));

    // Completion: tiers after `tier =`, attributes at the start of a line.
    let (tl, tc) = find(&text, "gold");
    let items =
        c.request("textDocument/completion", json!({ "textDocument": { "uri": orders_uri }, "position": pos(tl, tc) }));
    let labels: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert!(labels.contains(&"silver") && labels.contains(&"bronze"), "{labels:?}");
    assert!(!labels.contains(&"replicas"), "{labels:?}");
    let items =
        c.request("textDocument/completion", json!({ "textDocument": { "uri": orders_uri }, "position": pos(cl, 2) }));
    let labels: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert!(labels.contains(&"replicas") && labels.contains(&"health") && labels.contains(&"resource"), "{labels:?}");
    assert!(!labels.contains(&"gold"), "{labels:?}");

    // Definition: a golden path into the standard library on disk, a
    // service into its file.
    let (fl, fc) = find(&text, "web-api");
    let def = c.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": orders_uri }, "position": pos(fl, fc + 2) }),
    );
    let target = def["uri"].as_str().unwrap_or_else(|| panic!("{def}"));
    let prefix = format!("file://{}/platc/stdlib-", cache.display());
    assert!(target.starts_with(&prefix) && target.ends_with("/golden-paths/web-api.plat"), "{target}");
    let file = fs::read_to_string(target.strip_prefix("file://").unwrap()).unwrap();
    let (wl, wc) = find(&file, "template web-api");
    assert_eq!(def["range"], json!({ "start": pos(wl, wc + 9), "end": pos(wl, wc + 16) }));
    let (pl, pc) = find(&text, "payments, users");
    let def = c.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": orders_uri }, "position": pos(pl, pc + 1) }),
    );
    assert_eq!(def["uri"], uri(&ws.join("services/payments/service.plat")));
    assert_eq!(def["range"], json!({ "start": pos(sl, sc), "end": pos(sl, sc + 8) }));

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

    // Shutdown, exit: the server ends cleanly.
    assert_eq!(c.request("shutdown", Value::Null), Value::Null);
    c.notify("exit", Value::Null);
    let status = c.child.wait().unwrap();
    assert!(status.success(), "{status}");
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
    let tmp = std::env::temp_dir().join(format!("platc-lsp-odd-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
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
    let at = json!({ "textDocument": { "uri": never }, "position": pos(0, 0) });
    assert_eq!(c.request("textDocument/hover", at.clone()), Value::Null);
    assert_eq!(c.request("textDocument/definition", at.clone()), Value::Null);
    assert_eq!(c.request("textDocument/completion", at), Value::Null);

    // A .plat file in no workspace: its syntax errors, with UTF-16 ranges.
    let loose = tmp.join("loose/notes.plat");
    let loose_uri = uri(&loose);
    let text = "# ünï 😀\nx = \"😀\" }\n";
    fs::write(&loose, text).unwrap();
    c.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": loose_uri, "languageId": "plat", "version": 1, "text": text } }),
    );
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
    c.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": linked_uri, "languageId": "plat", "version": 1, "text": text } }),
    );
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

    assert_eq!(c.request("shutdown", Value::Null), Value::Null);
    c.notify("exit", Value::Null);
    assert!(c.child.wait().unwrap().success());
    let _ = fs::remove_dir_all(&tmp);
}
