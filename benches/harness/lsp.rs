//! `lsp [--sizes N,...] [--runs R]`: how long `platc lsp` takes to show
//! diagnostics after an edit, on the synthetic monorepo, as an editor sees
//! it: the release binary over its standard input and output, LSP messages
//! with Content-Length framing. The edited file is the `edit` measurement's
//! (a web-api in the middle of the graph), open in the server:
//!
//! - **error appears**: its `LOG_LEVEL` line becomes `LOG_LEVEL = glod.nope`;
//!   from sending the change to the diagnostic for that file;
//! - **error cleared**: the line back; from sending the change to the empty
//!   diagnostics for that file (the server publishes them when check is
//!   done, before emit renders: the next measurement starts once the whole
//!   compilation is);
//! - **clean edit**: a new `LOG_LEVEL` value (no diagnostic to publish);
//!   from sending the change to the answer to a request sent right after it
//!   (the server handles messages in order, so that is when the compilation
//!   is done).
//!
//! Each run does all three, after one warm-up run; the medians are printed.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};

use crate::full_workload::{self, edited_service};
use crate::{Options, PLATC, fresh_dir};

pub fn run(o: &Options) -> Result<(), String> {
    println!("| services | open (first compilation) | error appears | error cleared | clean edit compiled |");
    println!("|---:|---:|---:|---:|---:|");
    for &n in &o.sizes {
        let dir = o.work.join(format!("lsp-{n}"));
        fresh_dir(&dir)?;
        full_workload::generate(n, &dir)?;
        let rel = full_workload::service_file(edited_service(n));
        let (open, [appears, cleared, clean]) = measure(&dir, &rel, o.runs.unwrap_or(9))?;
        println!(
            "| {n} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |",
            open * 1e3,
            median(&appears) * 1e3,
            median(&cleared) * 1e3,
            median(&clean) * 1e3
        );
    }
    Ok(())
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: i64,
}

impl Server {
    fn send(&mut self, msg: Value) -> Result<(), String> {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len())
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("platc lsp: {e}"))
    }

    fn read(&mut self) -> Result<Value, String> {
        let mut len = None;
        loop {
            let mut line = String::new();
            if self.stdout.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err("platc lsp stopped".into());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                len = v.parse::<usize>().ok();
            }
        }
        let mut body = vec![0; len.ok_or("a message without Content-Length")?];
        self.stdout.read_exact(&mut body).map_err(|e| e.to_string())?;
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    }

    fn notify(&mut self, method: &str, params: Value) -> Result<(), String> {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }))
    }

    fn request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next += 1;
        let id = self.next;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))?;
        loop {
            let m = self.read()?;
            if m.get("id") == Some(&json!(id)) && m.get("method").is_none() {
                return Ok(m);
            }
        }
    }

    /// Waits for diagnostics of `uri`, empty or not as `want_some` says.
    fn diagnostics(&mut self, uri: &str, want_some: bool) -> Result<(), String> {
        loop {
            let m = self.read()?;
            if m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri {
                let some = m["params"]["diagnostics"].as_array().is_some_and(|d| !d.is_empty());
                if some == want_some {
                    return Ok(());
                }
            }
        }
    }
}

/// The first compilation, and each run's (error appears, error cleared,
/// clean edit), in seconds.
fn measure(ws: &Path, rel: &str, runs: usize) -> Result<(f64, [Vec<f64>; 3]), String> {
    let mut child = Command::new(PLATC)
        .arg("lsp")
        .env("XDG_CACHE_HOME", ws.join(".cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {PLATC}: {e}"))?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut s = Server { child, stdin, stdout, next: 0 };
    let path = ws.join(rel);
    let uri = format!("file://{}", path.display());
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let line = text.lines().position(|l| l.trim_start().starts_with("LOG_LEVEL")).ok_or("no LOG_LEVEL line")?;
    let original = text.lines().nth(line).unwrap_or_default().to_string();

    s.request("initialize", json!({ "processId": null, "rootUri": null, "capabilities": {} }))?;
    s.notify("initialized", json!({}))?;
    let t = Instant::now();
    s.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "plat", "version": 1, "text": text } }),
    )?;
    s.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }))?;
    let open = t.elapsed().as_secs_f64();

    let mut version = 1;
    let mut change = |s: &mut Server, new: &str| -> Result<Instant, String> {
        version += 1;
        let range = json!({
            "start": { "line": line, "character": 0 },
            "end": { "line": line, "character": original.chars().count() + 40 },
        });
        let t = Instant::now();
        s.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri, "version": version },
                "contentChanges": [{ "range": range, "text": new }],
            }),
        )?;
        Ok(t)
    };
    let mut times: [Vec<f64>; 3] = Default::default();
    for run in 0..=runs {
        let t = change(&mut s, "    LOG_LEVEL    = glod.nope")?;
        s.diagnostics(&uri, true)?;
        let appears = t.elapsed().as_secs_f64();
        let t = change(&mut s, &original)?;
        s.diagnostics(&uri, false)?;
        let cleared = t.elapsed().as_secs_f64();
        // (The server may publish before its compilation is done: the next
        // edit starts when it is.)
        s.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }))?;
        let t = change(&mut s, &format!("    LOG_LEVEL    = \"lsp-{run}\""))?;
        s.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }))?;
        let clean = t.elapsed().as_secs_f64();
        change(&mut s, &original)?;
        s.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }))?;
        if run > 0 {
            times[0].push(appears);
            times[1].push(cleared);
            times[2].push(clean);
        }
    }
    s.request("shutdown", Value::Null)?;
    s.notify("exit", Value::Null)?;
    let _ = s.child.wait();
    Ok((open, times))
}
