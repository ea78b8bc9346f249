//! "Nothing changed": a no-op `platc build` that does not compile.
//!
//! After a build that wrote a tree with no diagnostic, platc records a stamp:
//! a fingerprint of everything the build read (this platc binary, the
//! options, every source file and every file the build loaded by name) and
//! the size and modification time of every file it left in the output. The
//! next build with the same fingerprint, whose output files all still have
//! those sizes and times, has nothing to do (as ninja decides, plus the
//! inputs' contents rather than their times: a checkout that touches files
//! without changing them stays a no-op). Anything else, including a
//! generated file edited by hand, is a full build.
//!
//! The stamp also records each output file's hash next to its state: the
//! next build, whatever its inputs, takes a file whose size and times are
//! still the recorded ones as holding that hash, and does not read it
//! ([`Known`]) — except a file modified in the same tick of the clock as
//! the stamp was written (git's "racy" files), which is read.
//!
//! Stamps live in the user's cache directory (`$XDG_CACHE_HOME/platc` or
//! `~/.cache/platc`), one per output directory, never in the workspace: the
//! generated tree is reviewed in pull requests and holds nothing but output.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use platc::emit::hex;
use platc::memo::{Fingerprint, Hasher};
use platc::sources::Sources;
use platc::{Compiled, Options};
use sha2::{Digest, Sha256};

const HEADER: &str = "platc-stamp 2";

/// The stamp of the output directory `out`, or `None` without a cache
/// directory.
fn stamp_path(out: &Path) -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let out = fs::canonicalize(out).ok()?;
    let key = hex(&Sha256::digest(out.as_os_str().as_encoded_bytes()));
    Some(cache.join("platc").join(format!("{}.stamp", key.get(..32)?)))
}

/// What the build read, as one fingerprint: the binary, the options, the
/// sources, and the files loaded by name (`extra`, loaded again here and
/// compared as the memo store validates a query's recorded loads: the
/// stamp is the whole build's entry in the same scheme, see platc::memo).
fn fingerprint(sources: &Sources, options: &Options, extra: &[String]) -> Option<String> {
    let exe = std::env::current_exe().ok().and_then(|e| fs::metadata(e).ok())?;
    let mut h = Hasher::new("stamp")
        .str(&format!("{} {} {}.{:09}", env!("CARGO_PKG_VERSION"), exe.len(), exe.mtime(), exe.mtime_nsec()))
        .str(&format!("{:?} {:?}", options.targets, options.env));
    for (path, t) in sources.files() {
        h = h.str(path).fp(Fingerprint::of_text(t));
    }
    for path in extra {
        let got = sources.load(path);
        got.as_ref().ok()?;
        h = h.str(path).fp(Fingerprint::of_load(&got));
    }
    // What was found and not read counts too: its diagnostic must not be
    // skipped by the shortcut.
    for (path, skipped) in sources.skipped() {
        h = h.str(path).str(&skipped.reason).u64(u64::from(skipped.error));
    }
    Some(h.finish().to_string())
}

/// The size, modification and change times of a file, as the stamp writes
/// them (the change time cannot be set back by hand, as `touch` sets the
/// modification time).
fn file_state(path: &Path) -> Option<String> {
    let m = fs::symlink_metadata(path).ok()?;
    m.is_file().then(|| state_of(&m))
}

fn state_of(m: &fs::Metadata) -> String {
    format!("{} {}.{:09} {}.{:09}", m.len(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec())
}

/// What the last build left in the output, by the stamp: each file's state
/// and hash when it was written.
pub struct Known {
    /// By output path: the state, a tab, the hash (one string per file: at
    /// 10,000 services there are 268,592).
    files: std::collections::HashMap<String, String>,
    /// When the stamp was written (seconds, nanoseconds).
    stamped: (i64, i64),
}

impl Known {
    /// Whether `path` (output-relative, at `target`) certainly holds the text
    /// of hash `sha256`: the stamp recorded that hash, the file's size and
    /// times are the recorded ones, and it was last modified before the
    /// stamp was written (a change in the same clock tick as the stamp
    /// could keep all three).
    pub fn holds(&self, path: &str, target: &Path, sha256: &str) -> bool {
        let Some((state, sha)) = self.files.get(path).and_then(|v| v.split_once('\t')) else { return false };
        if sha != sha256 {
            return false;
        }
        let Ok(m) = fs::symlink_metadata(target) else { return false };
        m.is_file()
            && (m.mtime(), m.mtime_nsec()) < self.stamped
            && (m.ctime(), m.ctime_nsec()) < self.stamped
            && state_of(&m) == state
    }
}

/// The files the last build of `out` recorded, whatever its inputs.
pub fn known(out: &Path) -> Option<Known> {
    let path = stamp_path(out)?;
    let stamp = fs::symlink_metadata(&path).ok()?;
    let text = fs::read_to_string(&path).ok()?;
    let mut lines = text.lines();
    if lines.next()? != HEADER {
        return None;
    }
    lines.next()?;
    lines.next()?;
    let mut files = std::collections::HashMap::new();
    for line in lines {
        let mut f = line.splitn(3, '\t');
        let (state, sha, path) = (f.next()?, f.next()?, f.next()?);
        files.insert(path.to_string(), format!("{state}\t{sha}"));
    }
    Some(Known { files, stamped: (stamp.mtime(), stamp.mtime_nsec()) })
}

/// Whether the last build of `out` read exactly these inputs and its files
/// are untouched since: then it returns how many files there are.
pub fn up_to_date(out: &Path, sources: &Sources, options: &Options) -> Option<usize> {
    let text = fs::read_to_string(stamp_path(out)?).ok()?;
    let mut lines = text.lines();
    if lines.next()? != HEADER {
        return None;
    }
    let inputs = lines.next()?.strip_prefix("inputs ")?;
    let extra: Vec<String> = lines.next()?.strip_prefix("loaded")?.split('\t').skip(1).map(str::to_string).collect();
    if fingerprint(sources, options, &extra)? != inputs {
        return None;
    }
    let files: Vec<(&str, &str)> = lines
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            Some((f.next()?, f.nth(1)?))
        })
        .collect::<Option<_>>()?;
    let same = platc::par::map(&files, |(state, path)| file_state(&out.join(path)).as_deref() == Some(*state));
    same.iter().all(|s| *s).then_some(files.len())
}

/// Records the stamp of a build that wrote `compiled`'s output to `out`.
/// With a diagnostic (a warning) there is no shortcut (a no-op build would
/// not repeat it), but the files are still recorded. A stamp that cannot be
/// written only costs the next build its shortcut.
pub fn record(out: &Path, workflows: Option<&Path>, sources: &Sources, options: &Options, compiled: &Compiled) {
    let (Some(path), Some(output)) = (stamp_path(out), &compiled.output) else { return };
    let _ = fs::remove_file(&path);
    let extra: Vec<String> = compiled.read.iter().filter(|p| sources.get(p).is_none()).cloned().collect();
    let plain = |p: &String| !p.contains(['\t', '\n']);
    if !extra.iter().all(plain) || !output.files.keys().all(plain) {
        return; // the stamp is lines of tab-separated fields
    }
    let inputs = match fingerprint(sources, options, &extra) {
        Some(_) if !compiled.diagnostics.is_empty() => "-".to_string(),
        Some(inputs) => inputs,
        None => return,
    };
    // Workflows written at the repository root are recorded by their whole
    // path (which `out.join` keeps as it is).
    let place = |p: &String| -> String {
        match workflows {
            Some(_) if p.starts_with(super::github::PREFIX) => {
                super::github::place(out, workflows, p).to_string_lossy().into_owned()
            }
            _ => p.clone(),
        }
    };
    let keys: Vec<&String> = output.files.keys().collect();
    if workflows.is_some_and(|w| !plain(&w.to_string_lossy().into_owned())) {
        return;
    }
    let states = platc::par::map(&keys, |p| file_state(&out.join(place(p))));
    // Written line by line: at 10,000 services the stamp is 40 MB, and the
    // build's output is still in memory.
    let Some(dir) = path.parent() else { return };
    if fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = (|| -> std::io::Result<bool> {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(fs::File::create(&tmp)?);
        write!(w, "{HEADER}\ninputs {inputs}\nloaded")?;
        for p in &extra {
            write!(w, "\t{p}")?;
        }
        writeln!(w)?;
        for ((p, state), file) in keys.iter().zip(states).zip(output.files.values()) {
            let Some(state) = state else { return Ok(false) };
            writeln!(w, "{state}\t{}\t{}", file.sha256, place(p))?;
        }
        w.into_inner().map_err(|e| e.into_error())?;
        Ok(true)
    })();
    if !matches!(written, Ok(true)) || fs::rename(&tmp, &path).is_err() {
        let _ = fs::remove_file(&tmp);
    }
}
