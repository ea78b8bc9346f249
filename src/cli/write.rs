//! Writing a generated tree to disk, safely.
//!
//! - **One writer at a time.** [`lock`] takes an OS lock (`flock`, through
//!   the standard library's `File::lock`) on `.<name>.platc-lock` next to
//!   the output directory. The kernel releases it when the process dies, so
//!   a killed build never leaves a lock that a later one must guess about;
//!   the file's content means nothing. The holder removes the file before
//!   it lets go, and a waiter that wakes up on a removed file tries again
//!   (so two processes never hold locks on two different files).
//! - **Only a real directory.** The output must be absent or a directory,
//!   not a symbolic link, a FIFO or a file; and, when it is not empty, it
//!   must be platc's (hold `platc-index.json`). Anything else is refused
//!   before a byte is read or written.
//! - **Only what changed, all or nothing.** A first build stages the whole
//!   tree in `.<name>.platc-new` and renames it into place. Later ones
//!   find each generated file unchanged on disk (the stamp's recorded size,
//!   times and hash, [`super::stamp::Known`], or else its bytes) or stage it;
//!   `platc build` does so as each service is rendered ([`Staging::offer`]),
//!   keeping hashes rather than text. [`apply`] then moves the staged files
//!   in under a journal (`.<name>.platc-journal`), each replaced or removed
//!   file into `.<name>.platc-undo` first; removing the journal commits. A
//!   failed step is rolled back at once; a killed write is rolled back by
//!   [`lock`] (run by `build`, `check --frozen` and `watch` before they read
//!   the output): see [`recover`]. Unchanged files are never touched.
//!   `watch` writes the files that changed since its last write the same way
//!   ([`write_delta`]).
//! - **Only its own files.** Files the previous build wrote (per its index)
//!   and this one does not are removed; a file at a generated path that
//!   platc did not write is an error, never a casualty; a generated or
//!   removed path through a symbolic link is refused (the tree is never
//!   written or deleted through a link to elsewhere), and a FIFO or device
//!   is never opened.
//! - No fsync: like cargo, platc guards against interrupted processes, not
//!   power loss.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use platc::Output;
use platc::emit::{INDEX_FILE, OutFile};

use sha2::{Digest, Sha256};

use super::display;

/// What a write did.
#[derive(Debug, Default)]
pub struct Written {
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
}

/// Paths the previous build's index lists. Read into paths only: at 10,000
/// services the index is 69 MB, and as a JSON value tree several times that.
pub fn previous(out: &Path) -> BTreeSet<String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        path: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Index {
        #[serde(default)]
        files: Vec<Entry>,
    }
    let Some(bytes) = read_regular(&out.join(INDEX_FILE)) else { return BTreeSet::new() };
    match serde_json::from_slice::<Index>(&bytes) {
        Ok(index) => index.files.into_iter().filter_map(|e| e.path).collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// The previous build's index: each path it lists, with its environment.
pub fn previous_entries(out: &Path) -> std::collections::BTreeMap<String, Option<String>> {
    let Some(bytes) = read_regular(&out.join(INDEX_FILE)) else { return Default::default() };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return Default::default() };
    let files = json.get("files").and_then(|f| f.as_array()).cloned().unwrap_or_default();
    files
        .iter()
        .filter_map(|f| {
            let path = f.get("path")?.as_str()?.to_string();
            Some((path, f.get("environment").and_then(|e| e.as_str()).map(str::to_string)))
        })
        .collect()
}

/// A regular file's bytes; `None` for anything else (a FIFO is never
/// opened: reading one would wait forever).
pub fn read_regular(path: &Path) -> Option<Vec<u8>> {
    if !fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
        return None;
    }
    fs::read(path).ok()
}

/// The output directory, locked by this process, checked and recovered.
/// Dropping it releases the lock.
pub struct Locked {
    out: PathBuf,
    _lock: Lock,
}

impl Locked {
    pub fn out(&self) -> &Path {
        &self.out
    }
}

/// Takes the output's lock (waiting for another platc if it holds it),
/// finishes or undoes an interrupted swap, and refuses an output that is not
/// a real directory.
pub fn lock(out: &Path) -> Result<Locked, String> {
    let lock = Lock::acquire(out)?.map_err(|e| format!("cannot lock `{}`: {e}", display(out)))?;
    recover(out)?;
    check_kind(out)?;
    Ok(Locked { out: out.to_path_buf(), _lock: lock })
}

/// [`lock`] for a command that only reads the output (`check --frozen`):
/// where no lock file can be made (a read-only checkout), no build can be
/// writing either, and the output is only checked.
pub fn lock_to_read(out: &Path) -> Result<Option<Locked>, String> {
    match Lock::acquire(out)? {
        Ok(lock) => {
            recover(out)?;
            check_kind(out)?;
            Ok(Some(Locked { out: out.to_path_buf(), _lock: lock }))
        }
        Err(e) if matches!(e.kind(), std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem) => {
            check_kind(out)?;
            Ok(None)
        }
        Err(e) => Err(format!("cannot lock `{}`: {e}", display(out))),
    }
}

/// The output must be absent or a directory: not a link, a FIFO, a file.
fn check_kind(out: &Path) -> Result<(), String> {
    let help = "help: the output is a directory platc owns; remove this, or choose another with --out";
    match fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot read `{}`: {e}", display(out))),
        Ok(m) if m.file_type().is_symlink() => {
            let to = fs::read_link(out).map(|t| display(&t)).unwrap_or_default();
            Err(format!(
                "refusing `{}` as the output directory: it is a symbolic link (to `{to}`)\n  {help}",
                display(out)
            ))
        }
        Ok(m) if !m.is_dir() => Err(format!(
            "refusing `{}` as the output directory: it is not a directory (a file, FIFO, socket or device)\n  {help}",
            display(out)
        )),
        Ok(_) => Ok(()),
    }
}

/// What the writer knows before the compilation ends, and where it stages
/// the files that changed: `platc build` hands each service's files to
/// [`Staging::offer`] as soon as they are rendered (through
/// [`platc::Options::spill`]), so that their text need not be kept.
pub struct Staging {
    out: PathBuf,
    /// The output was absent or empty: every file is new.
    fresh: bool,
    /// Files the stamp vouches for (see [`super::stamp::Known`]).
    known: Option<super::stamp::Known>,
    /// Paths not to take (workflows written elsewhere, which stay in memory).
    keep: Option<&'static str>,
    stage: Stage,
    dirs: Dirs,
    /// The paths staged (changed). A file the compilation handed over
    /// ([`OutFile::spilled`]) and not staged is unchanged on disk: no set of
    /// the 268,592 unchanged paths of 10,000 services is kept.
    staged: Mutex<HashSet<String>>,
    error: Mutex<Option<String>>,
}

impl Staging {
    /// For the locked output; `keep`: a path prefix [`offer`](Self::offer)
    /// declines.
    pub fn new(locked: &Locked, keep: Option<&'static str>) -> Staging {
        let out = locked.out().to_path_buf();
        Staging {
            fresh: is_absent_or_empty(&out),
            known: super::stamp::known(&out),
            keep,
            stage: Stage::new(&out),
            dirs: Dirs::default(),
            staged: Mutex::default(),
            error: Mutex::default(),
            out,
        }
    }

    /// Takes a generated file: finds it unchanged on disk, or stages it.
    /// Returns whether its text is no longer needed.
    pub fn offer(&self, path: &str, file: &OutFile) -> bool {
        if path == INDEX_FILE || !safe_relative(path) || self.keep.is_some_and(|k| path.starts_with(k)) {
            return false;
        }
        match self.decide(path, file) {
            Ok(()) => true,
            Err(e) => {
                if let Ok(mut first) = self.error.lock() {
                    first.get_or_insert(e);
                }
                false
            }
        }
    }

    /// Whether the file at `path` is on disk with these contents (by the
    /// stamp, or else by reading it); if not, the file is staged.
    fn decide(&self, path: &str, file: &OutFile) -> Result<(), String> {
        let target = self.out.join(path);
        let same = !self.fresh
            && (self.known.as_ref().is_some_and(|k| k.holds(path, &target, &file.sha256))
                || (!file.spilled && read_regular(&target).is_some_and(|b| b == file.contents.as_bytes())));
        if !same {
            if file.spilled {
                return Err(format!("internal error: `{path}` was dropped before it was staged"));
            }
            self.put(path, file.contents.as_bytes())?;
            if let Ok(mut staged) = self.staged.lock() {
                staged.insert(path.to_string());
            }
        }
        Ok(())
    }

    fn put(&self, path: &str, bytes: &[u8]) -> Result<(), String> {
        let target = self.stage.0.join(path);
        self.dirs.ensure(target.parent())?;
        fs::write(&target, bytes).map_err(|e| format!("cannot write `{}`: {e}", display(&target)))
    }

    fn was_staged(&self, path: &str) -> bool {
        self.staged.lock().is_ok_and(|s| s.contains(path))
    }
}

/// Writes `output` under the locked output directory: only the files that
/// changed, all or nothing (see [`apply`]). `staging` holds what
/// [`Staging::offer`] already took during the compilation.
pub fn write(locked: &Locked, output: &Output, staging: Option<&Staging>) -> Result<Written, String> {
    let out = locked.out();
    check_kind(out)?;
    let own;
    let staging = match staging {
        Some(s) => s,
        None => {
            own = Staging::new(locked, None);
            &own
        }
    };
    if let Some(e) = staging.error.lock().ok().and_then(|mut e| e.take()) {
        return Err(e);
    }
    let files: Vec<(&String, &OutFile)> =
        output.files.iter().filter(|(p, _)| *p != INDEX_FILE).map(|(p, f)| (p, &**f)).collect();
    if staging.fresh && is_absent_or_empty(out) {
        return write_fresh(out, output, &files, staging); // nothing there to refuse to overwrite
    }
    let old = previous(out);
    no_links(out, output.files.keys().chain(old.iter()))?;
    if !is_platcs(out) && !only_dotfiles(out) {
        return Err(format!(
            "refusing to overwrite `{}`: it is not empty and is not platc's output (it has no {INDEX_FILE})\n  help: platc writes into an empty directory or one it wrote before; empty it, or choose another with --out",
            display(out)
        ));
    }
    refuse(out, output, &old)?;
    // The files the compilation did not hand over (or all, for a staging
    // made after it) are decided here.
    let undecided: Vec<&(&String, &OutFile)> = files.iter().filter(|(_, f)| !f.spilled).collect();
    let results = platc::par::map(&undecided, |(path, file)| staging.decide(path, file));
    results.into_iter().collect::<Result<Vec<()>, String>>()?;
    let removed: Vec<String> = old
        .iter()
        .filter(|p| !output.files.contains_key(*p) && safe_relative(p) && is_removable(&out.join(p)))
        .cloned()
        .collect();
    let mut w = Written { removed, ..Written::default() };
    for (path, _) in &files {
        if staging.was_staged(path) {
            w.changed.push((*path).clone());
        } else {
            w.unchanged += 1;
        }
    }
    let index = output.files.get(INDEX_FILE);
    let index_same =
        index.is_none_or(|i| read_regular(&out.join(INDEX_FILE)).is_some_and(|b| b == i.contents.as_bytes()));
    if w.changed.is_empty() && w.removed.is_empty() && index_same {
        return Ok(w);
    }
    let mut puts = w.changed.clone();
    if let Some(i) = index.filter(|_| !index_same) {
        staging.put(INDEX_FILE, i.contents.as_bytes())?;
        puts.push(INDEX_FILE.to_string());
    }
    w.removed = apply(out, &staging.stage.0, &puts, &w.removed)?;
    Ok(w)
}

/// `watch`'s write: what changed since `previous` (the last output written,
/// assumed on disk) is staged and applied; nothing else is read or written.
pub fn write_delta(locked: &Locked, output: &Output, previous: &Output) -> Result<Written, String> {
    let out = locked.out();
    check_kind(out)?;
    if !is_platcs(out) {
        return write(locked, output, None);
    }
    // The changed files, shared with `output`, not copied; those of them
    // the last output had (`refuse` asks only about the files it writes);
    // the ones gone. Both outputs are sorted by path: one walk through both
    // (a file shared with the last output is unchanged without comparing).
    let mut partial = Output::default();
    let mut old: BTreeSet<String> = BTreeSet::new();
    let mut gone: Vec<&String> = Vec::new();
    let mut last = previous.files.iter().filter(|(p, _)| *p != INDEX_FILE).peekable();
    for (path, file) in output.files.iter().filter(|(p, _)| *p != INDEX_FILE) {
        while let Some((p, _)) = last.next_if(|(p, _)| *p < path) {
            gone.push(p);
        }
        match last.next_if(|(p, _)| *p == path) {
            Some((_, was)) if std::sync::Arc::ptr_eq(was, file) || was.sha256 == file.sha256 => continue,
            Some(_) => {
                old.insert(path.clone());
            }
            None => {}
        }
        partial.files.insert(path.clone(), std::sync::Arc::clone(file));
    }
    gone.extend(last.map(|(p, _)| p));
    let removed: Vec<String> =
        gone.into_iter().filter(|p| safe_relative(p) && is_removable(&out.join(p))).cloned().collect();
    no_links(out, partial.files.keys().chain(removed.iter()))?;
    refuse(out, &partial, &old)?;
    let stage = Stage::new(out);
    let dirs = Dirs::default();
    let put = |path: &str, bytes: &[u8]| -> Result<(), String> {
        let target = stage.0.join(path);
        dirs.ensure(target.parent())?;
        fs::write(&target, bytes).map_err(|e| format!("cannot write `{}`: {e}", display(&target)))
    };
    let changed: Vec<(&String, &std::sync::Arc<OutFile>)> = partial.files.iter().collect();
    let results = platc::par::map(&changed, |(path, file)| put(path, file.contents.as_bytes()));
    results.into_iter().collect::<Result<Vec<()>, String>>()?;
    let mut puts: Vec<String> = partial.files.keys().cloned().collect();
    if let Some(index) = output.files.get(INDEX_FILE)
        && previous.files.get(INDEX_FILE).is_none_or(|i| i.sha256 != index.sha256)
    {
        put(INDEX_FILE, index.contents.as_bytes())?;
        puts.push(INDEX_FILE.to_string());
    }
    let unchanged = output.files.len().saturating_sub(partial.files.len() + 1);
    let removed =
        if puts.is_empty() && removed.is_empty() { Vec::new() } else { apply(out, &stage.0, &puts, &removed)? };
    Ok(Written { changed: partial.files.keys().cloned().collect(), removed, unchanged })
}

/// Whether the output holds platc's index.
fn is_platcs(out: &Path) -> bool {
    fs::symlink_metadata(out.join(INDEX_FILE)).is_ok_and(|m| m.is_file())
}

/// Whether the output holds nothing but hidden files (`.gitkeep`,
/// `.gitattributes`): a directory made ready for platc, not someone else's.
fn only_dotfiles(out: &Path) -> bool {
    let Ok(entries) = fs::read_dir(out) else { return false };
    entries
        .flatten()
        .all(|e| e.file_name().to_string_lossy().starts_with('.') && e.file_type().is_ok_and(|k| k.is_file()))
}

/// Refuses a generated or removed path that goes through a symbolic link
/// (or is one, for a path written): the one check both commits share.
fn no_links<'a>(out: &Path, paths: impl Iterator<Item = &'a String>) -> Result<(), String> {
    let mut checked = BTreeSet::new();
    for path in paths {
        if !safe_relative(path) {
            continue; // never joined to `out`
        }
        let target = out.join(path);
        let mut dir = target.parent();
        while let Some(d) = dir {
            if d == out || !d.starts_with(out) || !checked.insert(d.to_path_buf()) {
                break;
            }
            if fs::symlink_metadata(d).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(format!(
                    "refusing to write through `{}`: it is a symbolic link\n  help: remove the link from the output directory",
                    display(d)
                ));
            }
            dir = d.parent();
        }
    }
    Ok(())
}

/// Refuses to overwrite files platc did not write, or links, or anything
/// that is not a regular file.
fn refuse(out: &Path, output: &Output, old: &BTreeSet<String>) -> Result<(), String> {
    for (path, file) in &output.files {
        let target = out.join(path);
        let meta = match fs::symlink_metadata(&target) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                let blocking = target.ancestors().skip(1).find(|d| fs::symlink_metadata(d).is_ok_and(|m| !m.is_dir()));
                return Err(format!(
                    "refusing to write `{}`: `{}` is in the way (a file where platc needs a directory)\n  help: move it out of the output directory",
                    display(&target),
                    blocking.map(display).unwrap_or_default()
                ));
            }
            Err(_) => continue,
        };
        if meta.file_type().is_symlink() {
            return Err(format!("refusing to overwrite `{}`: it is a symbolic link", display(&target)));
        }
        if !meta.is_file() {
            return Err(format!(
                "refusing to overwrite `{}`: it is not a regular file (a directory, FIFO, socket or device)\n  help: move it out of the output directory",
                display(&target)
            ));
        }
        if !old.contains(path)
            && path != INDEX_FILE
            && read_regular(&target).is_none_or(|existing| platc::emit::hex(&Sha256::digest(&existing)) != file.sha256)
        {
            return Err(format!(
                "refusing to overwrite `{}`: platc did not generate it (it is not in {INDEX_FILE})\n  help: move it out of the output directory, or choose another with --out",
                display(&target)
            ));
        }
    }
    Ok(())
}

/// Whether a previous file is there to be removed: a file or link of its
/// own (not a directory), reached without a link.
fn is_removable(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| !m.is_dir())
}

fn is_absent_or_empty(dir: &Path) -> bool {
    match fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// `<parent>/.<name>.platc-<what>`: platc's own siblings of the output.
fn sibling(out: &Path, what: &str) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "gen".into());
    out.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(".")).join(format!(".{name}.platc-{what}"))
}

/// The identity of a real directory (device and inode), as the journal
/// records it; `None` for anything else, and where there are no inodes.
fn dir_identity(path: &Path) -> Option<String> {
    let m = fs::symlink_metadata(path).ok().filter(|m| m.is_dir())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(format!("{}:{}", m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        None
    }
}

const JOURNAL_HEADER: &str = "platc swap journal: the old tree's device:inode\n";

/// The identity the journal recorded, if there is a journal of platc's.
fn read_journal(path: &Path) -> Option<String> {
    let text = String::from_utf8(read_regular(path)?).ok()?;
    text.strip_prefix(JOURNAL_HEADER).map(|id| id.trim().to_string()).filter(|id| !id.is_empty())
}

/// Removes a file, link or directory tree (never following a link).
fn remove_any(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// Finishes what a killed build left, deterministically (the lock is held):
///
/// - a write journal (`.<name>.platc-journal`): rolled back ([`recover_write`]);
/// - an older platc's swap journal, no output, and `.<name>.platc-old` whose identity is the one
///   the journal recorded: killed between the two renames; the old tree is
///   complete, and is put back;
/// - a journal and an output: killed after the second rename; the old tree
///   is deleted;
/// - `.<name>.platc-old` without a journal of its own: a tree whose deletion
///   was interrupted, or one that platc did not leave (committed, planted):
///   deleted, never restored;
/// - `.<name>.platc-new`: a build killed while writing it; deleted.
fn recover(out: &Path) -> Result<(), String> {
    recover_write(out)?;
    let old = sibling(out, "old");
    let journal = sibling(out, "swap");
    if fs::symlink_metadata(&journal).is_ok() {
        let recorded = read_journal(&journal);
        if fs::symlink_metadata(out).is_err() {
            if recorded.is_some() && dir_identity(&old) == recorded {
                fs::rename(&old, out).map_err(|e| format!("cannot restore `{}`: {e}", display(out)))?;
                eprintln!("restored `{}`: the last build was stopped while swapping it", display(out));
            } else {
                eprintln!(
                    "warning: `{}` is missing and `{}` is not the tree the journal names; it is not restored",
                    display(out),
                    display(&old)
                );
            }
        }
        remove_any(&journal);
    }
    if fs::symlink_metadata(&old).is_ok() {
        remove_any(&old);
        eprintln!(
            "removed `{}`, left by an interrupted build (platc restores only a tree its own journal names)",
            display(&old)
        );
    }
    remove_any(&sibling(out, "new"));
    Ok(())
}

/// A staging directory, removed on every way out but the rename that
/// makes it the output.
struct Stage(PathBuf, std::sync::atomic::AtomicBool);

impl Stage {
    fn new(out: &Path) -> Stage {
        let stage = sibling(out, "new");
        remove_any(&stage);
        Stage(stage, std::sync::atomic::AtomicBool::new(false))
    }

    /// Renamed into place: nothing left to remove.
    fn done(&self) {
        self.1.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if !self.1.load(std::sync::atomic::Ordering::Relaxed) {
            remove_any(&self.0);
        }
    }
}

/// A first build: everything staged beside, then one rename.
fn write_fresh(
    out: &Path,
    output: &Output,
    files: &[(&String, &OutFile)],
    staging: &Staging,
) -> Result<Written, String> {
    let todo: Vec<&(&String, &OutFile)> = files.iter().filter(|(_, f)| !f.spilled).collect();
    let results = platc::par::map(&todo, |(path, file)| staging.decide(path, file));
    results.into_iter().collect::<Result<Vec<()>, String>>()?;
    if let Some(index) = output.files.get(INDEX_FILE) {
        staging.put(INDEX_FILE, index.contents.as_bytes())?;
    }
    let stage = &staging.stage;
    fs::create_dir_all(&stage.0).map_err(|e| format!("cannot create `{}`: {e}", display(&stage.0)))?;
    if fs::symlink_metadata(out).is_ok() {
        fs::remove_dir(out).map_err(|e| format!("cannot replace `{}`: {e}", display(out)))?;
    }
    fs::rename(&stage.0, out).map_err(|e| format!("cannot move the output into `{}`: {e}", display(out)))?;
    stage.done();
    let changed = files.iter().map(|(p, _)| (*p).clone()).collect();
    Ok(Written { changed, removed: Vec::new(), unchanged: 0 })
}

/// One step of a write, as the journal lists it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Op {
    /// The staged file replaces the output's (which is kept in the undo
    /// directory until the write is done).
    Replace(String),
    /// The staged file is new.
    Add(String),
    /// The output's file goes (into the undo directory).
    Remove(String),
}

/// The journal of a write in progress: the output's and the undo
/// directory's identities (so that only platc's own are trusted) and the
/// steps, in order.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Journal {
    journal: String,
    out: String,
    undo: String,
    ops: Vec<Op>,
}

const WRITE_JOURNAL: &str = "platc write journal 1";

/// Moves the staged files `puts` into the output and removes `removes`,
/// all or nothing. First the journal (`.<name>.platc-journal`) lists every
/// step; each replaced or removed file is moved into `.<name>.platc-undo`
/// (a rename, never a copy) before its step; removing the journal is the
/// commit. An error rolls the steps done back before it returns; a kill
/// leaves the journal, and the next run that locks the output rolls back
/// ([`recover`]): the tree is the old build or the new one, never a mix.
/// The index is the last step. Returns the paths removed.
fn apply(out: &Path, stage: &Path, puts: &[String], removes: &[String]) -> Result<Vec<String>, String> {
    let undo = sibling(out, "undo");
    remove_any(&undo);
    fs::create_dir(&undo).map_err(|e| format!("cannot create `{}`: {e}", display(&undo)))?;
    let exists = |p: &str| fs::symlink_metadata(out.join(p)).is_ok();
    let (index, files): (Vec<&String>, Vec<&String>) = puts.iter().partition(|p| *p == INDEX_FILE);
    let put = |p: &&String| if exists(p) { Op::Replace((*p).clone()) } else { Op::Add((*p).clone()) };
    let mut ops: Vec<Op> = files.iter().map(put).collect();
    ops.extend(removes.iter().filter(|p| is_removable(&out.join(p))).map(|p| Op::Remove(p.clone())));
    ops.extend(index.iter().map(put));
    let journal = Journal {
        journal: WRITE_JOURNAL.into(),
        out: dir_identity(out).unwrap_or_default(),
        undo: dir_identity(&undo).unwrap_or_default(),
        ops,
    };
    let path = sibling(out, "journal");
    let text = serde_json::to_string(&journal).map_err(|e| format!("cannot write the journal: {e}"))?;
    write_atomic(&path, text.as_bytes())?;
    let dirs = Dirs::default();
    for (done, op) in journal.ops.iter().enumerate() {
        fault(done);
        if let Err(e) = step(out, stage, &undo, op, &dirs) {
            let undone = journal.ops.get(..=done).unwrap_or_default();
            let back = roll_back(out, stage, &undo, undone);
            remove_any(&path);
            remove_any(&undo);
            return Err(match back {
                Ok(()) => format!("{e} (nothing was changed)"),
                Err(b) => format!("{e}; and putting the old files back failed: {b}"),
            });
        }
    }
    fs::remove_file(&path).map_err(|e| format!("cannot finish the write (remove `{}`): {e}", display(&path)))?;
    remove_any(&undo);
    let mut removed = Vec::new();
    for op in &journal.ops {
        if let Op::Remove(p) = op {
            remove_empty_parents(out, &out.join(p));
            removed.push(p.clone());
        }
    }
    Ok(removed)
}

/// The test suite's way to stop a write between two files (debug builds
/// only): `PLATC_TEST_WRITE_FAULT=kill:N` kills the process before step N,
/// `error:N` fails step N.
fn fault(step: usize) {
    #[cfg(debug_assertions)]
    if let Ok(spec) = std::env::var("PLATC_TEST_WRITE_FAULT")
        && let Some((how, n)) = spec.split_once(':')
        && n.parse() == Ok(step)
    {
        match how {
            "kill" => std::process::abort(),
            "error" => FAULT.store(true, std::sync::atomic::Ordering::Relaxed),
            _ => {}
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}

#[cfg(debug_assertions)]
static FAULT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn step(out: &Path, stage: &Path, undo: &Path, op: &Op, dirs: &Dirs) -> Result<(), String> {
    #[cfg(debug_assertions)]
    if FAULT.swap(false, std::sync::atomic::Ordering::Relaxed) {
        return Err("cannot write: an injected failure (PLATC_TEST_WRITE_FAULT)".into());
    }
    let mv = |from: &Path, to: &Path| -> Result<(), String> {
        dirs.ensure(to.parent())?;
        fs::rename(from, to).map_err(|e| format!("cannot move `{}` to `{}`: {e}", display(from), display(to)))
    };
    match op {
        Op::Replace(p) => {
            mv(&out.join(p), &undo.join(p))?;
            mv(&stage.join(p), &out.join(p))
        }
        Op::Add(p) => mv(&stage.join(p), &out.join(p)),
        Op::Remove(p) => mv(&out.join(p), &undo.join(p)),
    }
}

/// Undoes `ops` (done or not, in any part), last first; safe to run again
/// after it was itself interrupted.
fn roll_back(out: &Path, stage: &Path, undo: &Path, ops: &[Op]) -> Result<(), String> {
    let mut failed = Vec::new();
    let dirs = Dirs::default();
    for op in ops.iter().rev() {
        let (Op::Replace(p) | Op::Add(p) | Op::Remove(p)) = op;
        if !safe_relative(p) {
            continue;
        }
        let (target, saved) = (out.join(p), undo.join(p));
        match op {
            Op::Replace(_) | Op::Remove(_) => {
                if fs::symlink_metadata(&saved).is_ok_and(|m| m.is_file())
                    && let Err(e) = dirs
                        .ensure(target.parent())
                        .and_then(|()| fs::rename(&saved, &target).map_err(|e| format!("`{}`: {e}", display(&target))))
                {
                    failed.push(e);
                }
            }
            Op::Add(_) => {
                // Moved in (no longer staged): taken out again.
                if fs::symlink_metadata(stage.join(p)).is_err()
                    && fs::symlink_metadata(&target).is_ok_and(|m| m.is_file())
                {
                    match fs::remove_file(&target) {
                        Ok(()) => remove_empty_parents(out, &target),
                        Err(e) => failed.push(format!("`{}`: {e}", display(&target))),
                    }
                }
            }
        }
    }
    if failed.is_empty() { Ok(()) } else { Err(failed.join(", ")) }
}

/// Rolls back a write a kill interrupted (the journal is still there), if
/// the journal is platc's: it names this output directory and an undo
/// directory that are still the ones it made (by device and inode). A
/// journal or undo directory that is not (committed, planted) is deleted,
/// never followed.
fn recover_write(out: &Path) -> Result<(), String> {
    let path = sibling(out, "journal");
    let undo = sibling(out, "undo");
    if fs::symlink_metadata(&path).is_ok() {
        let journal = read_regular(&path)
            .and_then(|b| serde_json::from_slice::<Journal>(&b).ok())
            .filter(|j| j.journal == WRITE_JOURNAL && !j.out.is_empty());
        match journal {
            Some(j)
                if dir_identity(out).as_deref() == Some(j.out.as_str())
                    && dir_identity(&undo).as_deref() == Some(j.undo.as_str()) =>
            {
                roll_back(out, &sibling(out, "new"), &undo, &j.ops).map_err(|e| {
                    format!("cannot put back the files of `{}` a stopped build was replacing: {e}", display(out))
                })?;
                eprintln!("restored `{}`: the last build was stopped while writing it", display(out));
            }
            _ => eprintln!("warning: `{}` is not a journal of this output's; it is ignored", display(&path)),
        }
        remove_any(&path);
    }
    remove_any(&undo);
    Ok(())
}

/// Relative paths of every file (and link) under `dir`, without following links.
pub fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            walk(root, &p, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"));
        }
    }
}

/// Directories already created, so that thousands of files in the same
/// few directories make each of them once (keyed by the path's bytes:
/// comparing `Path`s component by component is slow).
#[derive(Default)]
struct Dirs(Mutex<std::collections::HashSet<std::ffi::OsString>>);

impl Dirs {
    fn ensure(&self, dir: Option<&Path>) -> Result<(), String> {
        let Some(dir) = dir else { return Ok(()) };
        if self.0.lock().map(|d| d.contains(dir.as_os_str())).unwrap_or(false) {
            return Ok(());
        }
        fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", display(dir)))?;
        if let Ok(mut d) = self.0.lock() {
            d.insert(dir.as_os_str().to_owned());
        }
        Ok(())
    }
}

fn safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path.split('/').all(|s| !s.is_empty() && s != "." && s != "..")
}

pub(super) fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = target.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let name = target.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.platc-{}.tmp", std::process::id()));
    let result = (|| {
        // Created new (never through a link of the same name), or not at all.
        let mut f = match fs::OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                fs::remove_file(&tmp)?;
                fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?
            }
            other => other?,
        };
        f.write_all(bytes)?;
        fs::rename(&tmp, target)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write `{}`: {e}", display(target))
    })
}

fn remove_empty_parents(out: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == out || !d.starts_with(out) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// The output's lock: an OS lock on `.<name>.platc-lock`, released by the
/// kernel when the process ends, however it ends. The file is removed
/// before the lock is let go; a waiter whose file was removed meanwhile
/// opens the new one and waits again.
struct Lock {
    path: PathBuf,
    file: fs::File,
}

impl Lock {
    /// The lock; the inner error when no lock file can be made there.
    fn acquire(out: &Path) -> Result<std::io::Result<Lock>, String> {
        let path = sibling(out, "lock");
        if let Some(parent) = path.parent()
            && let Err(e) = fs::create_dir_all(parent)
        {
            return Ok(Err(e));
        }
        let mut told = false;
        loop {
            // platc's lock is a regular file: anything else at its name (a
            // committed link, a FIFO) is removed, never opened.
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => {
                    return Err(format!(
                        "cannot lock `{}`: `{}` is a directory\n  help: remove it; platc keeps its lock there",
                        display(out),
                        display(&path)
                    ));
                }
                Ok(m) if !m.is_file() => {
                    let _ = fs::remove_file(&path);
                }
                _ => {}
            }
            let file = match fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path) {
                Ok(f) => f,
                Err(e) => return Ok(Err(e)),
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    if !told {
                        eprintln!("waiting for another platc to finish writing `{}`", display(out));
                        told = true;
                    }
                    file.lock().map_err(|e| format!("cannot lock `{}`: {e}", display(&path)))?;
                }
                Err(fs::TryLockError::Error(e)) => return Err(format!("cannot lock `{}`: {e}", display(&path))),
            }
            if same_file(&file, &path) {
                return Ok(Ok(Lock { path, file }));
            }
            // The holder removed the file as it finished: lock the new one.
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still locked; closing the file then unlocks it.
        if cfg!(unix) {
            let _ = fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
    }
}

/// Whether `path` still names the open `file` (not removed, not replaced).
fn same_file(file: &fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::symlink_metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true // the file is never removed there
    }
}
