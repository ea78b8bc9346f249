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
use platc::emit::INDEX_FILE;
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
        let mut batch = Batch::default();
        if !batch.collect(first, &root, &out) {
            continue;
        }
        // Settles when no *relevant* event came for SETTLE: reads of the
        // output by another process (an editor indexing it, a script
        // polling a manifest) never hold a rebuild back.
        let mut deadline = Instant::now() + SETTLE;
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match rx.recv_timeout(deadline - now) {
                Ok(e) => {
                    if batch.collect(e, &root, &out) {
                        deadline = Instant::now() + SETTLE;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(0),
            }
        }
        let mut changed = batch.changed;
        changed.sort();
        changed.dedup();
        if batch.output_touched && !is_ours(&out, &last) {
            put_back(&out, &last);
        }
        if !changed.is_empty() {
            rebuild(&root, &out, &options, &mut last, &changed, started, format);
        }
    }
}

/// What a burst of events named.
#[derive(Default)]
struct Batch {
    /// Workspace-relative paths, outside the output.
    changed: Vec<String>,
    /// The output directory itself, or its index, changed (moved, replaced,
    /// written): by this watch, or by another platc.
    output_touched: bool,
}

impl Batch {
    /// Adds what an event names; returns whether it was relevant (reads,
    /// and writes inside the output other than its index, are not).
    fn collect(&mut self, event: notify::Result<notify::Event>, root: &Path, out: &Path) -> bool {
        let Ok(event) = event else { return false };
        if event.kind.is_access() {
            return false;
        }
        let mut relevant = false;
        for p in event.paths {
            if p.starts_with(out) {
                if p == out || p == out.join(INDEX_FILE) {
                    self.output_touched = true;
                    relevant = true;
                }
                continue;
            }
            let Ok(rel) = p.strip_prefix(root) else { continue };
            let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            if rel.is_empty() || rel.split('/').any(|s| s.starts_with('.') || s == "target" || s == "node_modules") {
                continue;
            }
            self.changed.push(rel);
            relevant = true;
        }
        relevant
    }
}

/// Whether the output's index on disk is the one this watch last wrote.
fn is_ours(out: &Path, last: &Last) -> bool {
    let Some(index) = last.good.as_ref().and_then(|c| c.output.as_ref()).and_then(|o| o.files.get(INDEX_FILE)) else {
        return true; // nothing written yet: nothing to put back
    };
    write::read_regular(&out.join(INDEX_FILE)).is_some_and(|b| b == index.contents.as_bytes())
}

/// Another platc replaced the output (a build that read older sources, a
/// checkout): the last good output is written again, comparing every file.
fn put_back(out: &Path, last: &Last) {
    let Some(output) = last.good.as_ref().and_then(|c| c.output.as_ref()) else { return };
    match write::lock(out).and_then(|locked| write::write(&locked, output, None)) {
        Ok(w) => eprintln!(
            "the output was replaced by another process: {} written again, {} removed",
            super::plural(w.changed.len(), "file"),
            w.removed.len()
        ),
        Err(e) => eprintln!("error: {e}"),
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
    // A source, a file the compilation read, or a directory that holds (or
    // held) sources: deleted and made again, or renamed, it changes what
    // is read (and the files made in it before it was watched sent no event).
    let relevant = changed.is_empty()
        || changed.iter().any(|f| {
            let inside = format!("{f}/");
            load::is_source(f)
                || last.good.as_ref().is_some_and(|c| c.read.contains(f))
                || fs::symlink_metadata(root.join(f)).is_ok_and(|m| m.is_dir() || m.file_type().is_symlink())
                || last.sources.as_ref().is_some_and(|s| s.files().any(|(p, _)| p.starts_with(&inside)))
        });
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
        Some(prev) => platc::compile_reusing(&sources, options, prev),
        _ => platc::compile(&sources, options),
    };
    if print_diagnostics(&compiled.diagnostics, &compiled.files, format, "keeping the last good output") {
        return;
    }
    let Some(output) = &compiled.output else { return };
    let result = write::lock(out).and_then(|locked| match last.good.as_ref().and_then(|c| c.output.as_ref()) {
        Some(previous) => write::write_delta(&locked, output, previous),
        None => write::write(&locked, output, None),
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
