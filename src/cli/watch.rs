//! `platc watch`: build, then rebuild on every save of a file the
//! compilation read (and on new .plat files), batching an editor's burst of
//! events, ignoring the output directory. Broken input prints the new
//! diagnostics and keeps the last good output; the next good save rebuilds.
//! Only the changed files are read again, only the services a change can
//! affect are re-rendered, and only changed files are written.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};
use platc::diag::render::Format;
use platc::sources::Sources;
use platc::{Compiled, Options};

use super::{display, load, out_dir, print_diagnostics, write};

/// How long a burst of events may go quiet before the rebuild starts.
const SETTLE: Duration = Duration::from_millis(25);

pub fn run(path: Option<PathBuf>, out: Option<PathBuf>, format: Format) -> Result<u8, String> {
    let path = path.unwrap_or_else(|| PathBuf::from("."));
    let root = load::find(&path)?.root;
    let out = out_dir(&root, out)?;
    // Whatever an interrupted build left is finished first, and an output
    // that is not a real directory is refused before anything is read.
    drop(write::lock(&out)?);
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |e| {
        let _ = tx.send(e);
    })
    .map_err(|e| format!("cannot watch files: {e}"))?;
    watcher.watch(&root, RecursiveMode::Recursive).map_err(|e| format!("cannot watch `{}`: {e}", display(&root)))?;

    let options = Options::default();
    let mut last = Last::default();
    rebuild(&root, &out, &options, &mut last, &[], Instant::now(), format);
    eprintln!("watching {} (Ctrl-C to stop)", display(&root));
    loop {
        let Ok(first) = rx.recv() else { return Ok(0) };
        let started = Instant::now();
        let mut changed = Vec::new();
        collect(first, &root, &out, &mut changed);
        while let Ok(more) = rx.recv_timeout(SETTLE) {
            collect(more, &root, &out, &mut changed);
        }
        changed.sort();
        changed.dedup();
        if changed.is_empty() {
            continue;
        }
        rebuild(&root, &out, &options, &mut last, &changed, started, format);
    }
}

/// Workspace-relative paths of the relevant files an event names.
fn collect(event: notify::Result<notify::Event>, root: &Path, out: &Path, changed: &mut Vec<String>) {
    let Ok(event) = event else { return };
    if event.kind.is_access() {
        return;
    }
    for p in event.paths {
        if p.starts_with(out) {
            continue; // our own output
        }
        let Ok(rel) = p.strip_prefix(root) else { continue };
        let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        if rel.split('/').any(|s| s.starts_with('.') || s == "target" || s == "node_modules") {
            continue;
        }
        changed.push(rel);
    }
}

/// What the loop keeps between rebuilds.
#[derive(Default)]
struct Last {
    /// The last compilation whose output was written.
    good: Option<Compiled>,
    /// The sources as last read.
    sources: Option<Sources>,
}

/// `previous` with the changed files read again, or `None` when a change is
/// not one file (a directory or a link appeared, went or moved): then the
/// whole workspace is read again.
fn updated(previous: &Sources, root: &Path, changed: &[String]) -> Option<Sources> {
    let mut next = previous.clone();
    for rel in changed {
        let path = root.join(rel);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => {
                if load::is_source(rel) {
                    next.insert_bytes(rel.clone(), load::read_source(&path).ok()?);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let inside = format!("{rel}/");
                if previous.files().any(|(p, _)| p.starts_with(&inside)) {
                    return None; // a directory went
                }
                next.remove(rel);
            }
            _ => return None,
        }
    }
    Some(next)
}

fn rebuild(
    root: &Path,
    out: &Path,
    options: &Options,
    last: &mut Last,
    changed: &[String],
    started: Instant,
    format: Format,
) {
    let relevant = changed.is_empty()
        || changed.iter().any(|f| load::is_source(f) || last.good.as_ref().is_some_and(|c| c.read.contains(f)));
    if !relevant {
        return;
    }
    let again = last.sources.as_ref().filter(|_| !changed.is_empty()).and_then(|s| updated(s, root, changed));
    let sources = match again.map_or_else(|| load::sources(root, out), Ok) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return;
        }
    };
    last.sources = Some(sources.clone());
    let compiled = match last.good.as_ref() {
        Some(prev) if !changed.is_empty() => platc::compile_reusing(&sources, options, prev, changed),
        _ => platc::compile(&sources, options),
    };
    if print_diagnostics(&compiled.diagnostics, &compiled.files, format, "keeping the last good output") {
        return;
    }
    let Some(output) = &compiled.output else { return };
    let result = write::lock(out).and_then(|locked| match last.good.as_ref().and_then(|c| c.output.as_ref()) {
        Some(previous) => write::write_delta(&locked, output, previous),
        None => write::write(&locked, output, write::Commit::InPlace),
    });
    match result {
        Ok(w) => {
            let what = match (w.changed.len(), w.removed.len()) {
                (0, 0) => "no file changed".to_string(),
                (c, 0) => format!("{} written", super::plural(c, "file")),
                (c, r) => format!("{} written, {} removed", super::plural(c, "file"), r),
            };
            let s = &compiled.stats;
            eprintln!(
                "rebuilt in {} ms: {what} ({} of {} services rendered)",
                started.elapsed().as_millis(),
                s.rendered,
                s.rendered + s.kept
            );
            for f in w.changed.iter().take(10) {
                eprintln!("  {f}");
            }
            last.good = Some(compiled);
        }
        Err(e) => eprintln!("error: {e}"),
    }
}
