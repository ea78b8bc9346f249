//! Writing a generated tree to disk, safely.
//!
//! - **One writer at a time.** A lock file next to the output directory
//!   (`.<name>.platc-lock`, holding the writer's pid) serializes builds; a
//!   lock left by a dead process is taken over.
//! - **Whole trees.** [`Commit::Swap`] (`platc build`) builds the new tree in
//!   a sibling directory — unchanged files hard-linked from the old one,
//!   changed files written, the user's own files carried over — and swaps it
//!   in with two renames. Killed at any moment, the output is the last good
//!   tree, or the new complete one; in the instant between the two renames
//!   it is absent, and the next run puts the last good tree back. A first
//!   build is one rename.
//! - **Fast edits.** [`Commit::InPlace`] (`platc watch`) writes only changed
//!   files, each through a temporary file and a rename, so no reader sees
//!   half a file; a kill between two files leaves a mix that the next save
//!   rewrites.
//! - **Only its own files.** Files the previous build wrote (per its index)
//!   and this one does not are removed; a file at a generated path that
//!   platc did not write is an error, never a casualty; a generated path
//!   through a symbolic link is refused (the tree is never written through
//!   a link to elsewhere).
//! - No fsync: like cargo, platc guards against interrupted processes, not
//!   power loss.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use platc::Output;
use platc::emit::INDEX_FILE;

/// What a write did.
#[derive(Debug, Default)]
pub struct Written {
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
}

/// How a changed tree replaces the old one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Commit {
    /// Build the new tree beside the old one and swap: all or nothing.
    Swap,
    /// Rename changed files into place one by one: fastest.
    InPlace,
}

/// Paths the previous build's index lists.
pub fn previous(out: &Path) -> BTreeSet<String> {
    let Ok(text) = fs::read_to_string(out.join(INDEX_FILE)) else { return BTreeSet::new() };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { return BTreeSet::new() };
    json.get("files")
        .and_then(|f| f.as_array())
        .map(|files| files.iter().filter_map(|f| f.get("path")?.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// The previous build's index: each path it lists, with its environment.
pub fn previous_entries(out: &Path) -> std::collections::BTreeMap<String, Option<String>> {
    let Ok(text) = fs::read_to_string(out.join(INDEX_FILE)) else { return Default::default() };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { return Default::default() };
    let files = json.get("files").and_then(|f| f.as_array()).cloned().unwrap_or_default();
    files
        .iter()
        .filter_map(|f| {
            let path = f.get("path")?.as_str()?.to_string();
            Some((path, f.get("environment").and_then(|e| e.as_str()).map(str::to_string)))
        })
        .collect()
}

/// Writes `output` under `out`.
pub fn write(out: &Path, output: &Output, commit: Commit) -> Result<Written, String> {
    let _lock = Lock::acquire(out)?;
    recover(out)?;
    if is_absent_or_empty(out) {
        return write_fresh(out, output); // nothing there to refuse to overwrite
    }
    let old = previous(out);
    refuse(out, output, &old)?;
    let files: Vec<(&String, &platc::emit::OutFile)> =
        output.files.iter().filter(|(p, _)| *p != INDEX_FILE).map(|(p, f)| (p, &**f)).collect();
    let same =
        platc::par::map(&files, |(path, file)| fs::read(out.join(path)).is_ok_and(|b| b == file.contents.as_bytes()));
    let removed: Vec<String> = old
        .iter()
        .filter(|p| !output.files.contains_key(*p) && safe_relative(p) && out.join(p).is_file())
        .cloned()
        .collect();
    let index_same = output
        .files
        .get(INDEX_FILE)
        .is_none_or(|i| fs::read(out.join(INDEX_FILE)).is_ok_and(|b| b == i.contents.as_bytes()));
    let mut w = Written { removed, ..Written::default() };
    for ((path, _), same) in files.iter().zip(&same) {
        if *same {
            w.unchanged += 1;
        } else {
            w.changed.push((*path).clone());
        }
    }
    if w.changed.is_empty() && w.removed.is_empty() && index_same {
        return Ok(w);
    }
    match commit {
        Commit::Swap => swap(out, output, &files, &same, &old)?,
        Commit::InPlace => in_place(out, output, &files, &same, &w.removed)?,
    }
    Ok(w)
}

/// `watch`'s write: what changed since `previous` (the last output written,
/// assumed on disk) is renamed into place; nothing else is read or written.
pub fn write_delta(out: &Path, output: &Output, previous: &Output) -> Result<Written, String> {
    if !out.join(INDEX_FILE).is_file() {
        return write(out, output, Commit::InPlace);
    }
    let _lock = Lock::acquire(out)?;
    // The changed files, shared with `output`, not copied.
    let partial = Output {
        files: output
            .files
            .iter()
            .filter(|(p, f)| *p != INDEX_FILE && previous.files.get(*p).is_none_or(|old| old.sha256 != f.sha256))
            .map(|(p, f)| (p.clone(), std::sync::Arc::clone(f)))
            .collect(),
    };
    let changed: Vec<(&String, &platc::emit::OutFile)> = partial.files.iter().map(|(p, f)| (p, &**f)).collect();
    let new: BTreeSet<String> =
        changed.iter().filter(|(p, _)| !previous.files.contains_key(*p)).map(|(p, _)| (*p).clone()).collect();
    refuse(out, &partial, &previous.files.keys().filter(|p| !new.contains(*p)).cloned().collect())?;
    let removed: Vec<String> =
        previous.files.keys().filter(|p| !output.files.contains_key(*p) && safe_relative(p)).cloned().collect();
    let unchanged = output.files.len().saturating_sub(changed.len() + 1);
    let same = vec![false; changed.len()];
    in_place(out, output, &changed, &same, &removed)?;
    Ok(Written { changed: changed.iter().map(|(p, _)| (*p).clone()).collect(), removed, unchanged })
}

/// Refuses to overwrite files platc did not write, or to write through links.
fn refuse(out: &Path, output: &Output, old: &BTreeSet<String>) -> Result<(), String> {
    let mut checked = BTreeSet::new();
    for (path, file) in &output.files {
        let target = out.join(path);
        // Every directory between `out` and the file must be a real one.
        let mut dir = target.parent();
        while let Some(d) = dir {
            if d == out || !d.starts_with(out) || !checked.insert(d.to_path_buf()) {
                break;
            }
            if fs::symlink_metadata(d).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(format!(
                    "refusing to write through `{}`: it is a symbolic link\n  help: remove the link from the output directory",
                    d.display()
                ));
            }
            dir = d.parent();
        }
        if fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(format!("refusing to overwrite `{}`: it is a symbolic link", target.display()));
        }
        if !old.contains(path)
            && path != INDEX_FILE
            && let Ok(existing) = fs::read(&target)
            && existing != file.contents.as_bytes()
        {
            return Err(format!(
                "refusing to overwrite `{}`: platc did not generate it (it is not in {INDEX_FILE})\n  help: move it out of the output directory, or choose another with --out",
                target.display()
            ));
        }
    }
    Ok(())
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

/// After a kill between the two renames of a swap, the output is absent and
/// the last good tree waits beside it: put it back. Leftover staging
/// directories of dead builds are removed.
fn recover(out: &Path) -> Result<(), String> {
    let old = sibling(out, "old");
    if !out.exists() && old.is_dir() {
        fs::rename(&old, out).map_err(|e| format!("cannot restore `{}`: {e}", out.display()))?;
    } else if old.exists() {
        let _ = fs::remove_dir_all(&old);
    }
    let _ = fs::remove_dir_all(sibling(out, "new"));
    Ok(())
}

/// A first build: write everything beside, then one rename.
fn write_fresh(out: &Path, output: &Output) -> Result<Written, String> {
    let stage = sibling(out, "new");
    let _ = fs::remove_dir_all(&stage);
    let files: Vec<(&String, &platc::emit::OutFile)> = output.files.iter().map(|(p, f)| (p, &**f)).collect();
    let dirs = Dirs::default();
    let results = platc::par::map(&files, |(path, file)| -> Result<(), String> {
        let target = stage.join(path);
        dirs.ensure(target.parent())?;
        fs::write(&target, file.contents.as_bytes()).map_err(|e| format!("cannot write `{}`: {e}", target.display()))
    });
    let done = results.into_iter().collect::<Result<Vec<()>, String>>().and_then(|_| {
        if out.exists() {
            fs::remove_dir(out).map_err(|e| format!("cannot replace `{}`: {e}", out.display()))?;
        }
        fs::rename(&stage, out).map_err(|e| format!("cannot move the output into `{}`: {e}", out.display()))
    });
    if let Err(e) = done {
        let _ = fs::remove_dir_all(&stage);
        return Err(e);
    }
    let changed = output.files.keys().filter(|p| *p != INDEX_FILE).cloned().collect();
    Ok(Written { changed, removed: Vec::new(), unchanged: 0 })
}

/// The new tree beside the old one, then the swap.
fn swap(
    out: &Path,
    output: &Output,
    files: &[(&String, &platc::emit::OutFile)],
    same: &[bool],
    old: &BTreeSet<String>,
) -> Result<(), String> {
    let stage = sibling(out, "new");
    let _ = fs::remove_dir_all(&stage);
    let dirs = Dirs::default();
    let build = || -> Result<(), String> {
        let jobs: Vec<(&String, &platc::emit::OutFile, bool)> =
            files.iter().zip(same).map(|((p, f), s)| (*p, *f, *s)).collect();
        let results = platc::par::map(&jobs, |(path, file, same)| -> Result<(), String> {
            let target = stage.join(path);
            dirs.ensure(target.parent())?;
            if *same && fs::hard_link(out.join(path), &target).is_ok() {
                return Ok(());
            }
            fs::write(&target, file.contents.as_bytes())
                .map_err(|e| format!("cannot write `{}`: {e}", target.display()))
        });
        results.into_iter().collect::<Result<Vec<()>, String>>()?;
        // The user's own files in the output directory come along untouched.
        let mut others = Vec::new();
        walk(out, out, &mut others);
        for rel in others.iter().filter(|p| !output.files.contains_key(*p) && !old.contains(*p)) {
            let (from, to) = (out.join(rel), stage.join(rel));
            dirs.ensure(to.parent())?;
            carry(&from, &to).map_err(|e| format!("cannot keep `{}`: {e}", from.display()))?;
        }
        if let Some(index) = output.files.get(INDEX_FILE) {
            fs::write(stage.join(INDEX_FILE), index.contents.as_bytes())
                .map_err(|e| format!("cannot write the index: {e}"))?;
        }
        Ok(())
    };
    if let Err(e) = build() {
        let _ = fs::remove_dir_all(&stage);
        return Err(e);
    }
    let old_dir = sibling(out, "old");
    fs::rename(out, &old_dir).map_err(|e| format!("cannot replace `{}`: {e}", out.display()))?;
    if let Err(e) = fs::rename(&stage, out) {
        let _ = fs::rename(&old_dir, out);
        return Err(format!("cannot move the output into `{}`: {e}", out.display()));
    }
    let _ = fs::remove_dir_all(&old_dir);
    Ok(())
}

/// A file (or link) of the user's, moved into the new tree as it is.
fn carry(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        let target = fs::read_link(from)?;
        #[cfg(unix)]
        return std::os::unix::fs::symlink(target, to);
        #[cfg(not(unix))]
        return Err(std::io::Error::other(format!("symbolic link to {}", target.display())));
    }
    fs::hard_link(from, to).or_else(|_| fs::copy(from, to).map(|_| ()))
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

/// Changed files renamed into place one by one, then removals, then the index.
fn in_place(
    out: &Path,
    output: &Output,
    files: &[(&String, &platc::emit::OutFile)],
    same: &[bool],
    removed: &[String],
) -> Result<(), String> {
    let dirs = Dirs::default();
    let jobs: Vec<&(&String, &platc::emit::OutFile)> =
        files.iter().zip(same).filter(|(_, s)| !**s).map(|(f, _)| f).collect();
    let results = platc::par::map(&jobs, |(path, file)| -> Result<(), String> {
        let target = out.join(path);
        dirs.ensure(target.parent())?;
        write_atomic(&target, file.contents.as_bytes())
    });
    results.into_iter().collect::<Result<Vec<()>, String>>()?;
    for path in removed {
        let target = out.join(path);
        match fs::remove_file(&target) {
            Ok(()) => remove_empty_parents(out, &target),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove `{}`: {e}", target.display())),
        }
    }
    if let Some(index) = output.files.get(INDEX_FILE) {
        write_atomic(&out.join(INDEX_FILE), index.contents.as_bytes())?;
    }
    Ok(())
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
        fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
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

fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = target.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let name = target.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.platc-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        fs::rename(&tmp, target)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write `{}`: {e}", target.display())
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

/// The output's lock: created exclusively, holding our pid; removed on drop.
struct Lock(PathBuf);

impl Lock {
    fn acquire(out: &Path) -> Result<Lock, String> {
        let path = sibling(out, "lock");
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
        }
        let started = Instant::now();
        let mut told = false;
        loop {
            match fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let _ = write!(f, "{}", std::process::id());
                    return Ok(Lock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&path).ok().and_then(|s| s.trim().parse::<u32>().ok());
                    if holder.is_some_and(|pid| !alive(pid)) {
                        let _ = fs::remove_file(&path); // its writer died: take over
                        continue;
                    }
                    if started.elapsed() > Duration::from_secs(120) {
                        return Err(format!(
                            "another platc (pid {}) is writing `{}`; gave up after two minutes\n  help: if no platc is running, delete `{}`",
                            holder.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
                            out.display(),
                            path.display()
                        ));
                    }
                    if !told {
                        eprintln!("waiting for another platc to finish writing `{}`", out.display());
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(format!("cannot lock `{}`: {e}", path.display())),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Whether a process is running (Linux: it has a /proc entry; elsewhere,
/// assume it is, and rely on the timeout).
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") { Path::new(&format!("/proc/{pid}")).exists() } else { true }
}
