//! Writing a generated tree to disk.
//!
//! A first build (no output directory yet, or an empty one) is written into
//! a sibling directory that is renamed into place whole. After that, only
//! files whose bytes changed are written, each through a temporary file
//! and a rename, so a reader never sees half a file (no fsync: like cargo,
//! platc guards against interrupted processes, not power loss). Files the previous build
//! wrote (per its index) and this one does not are removed; nothing else is
//! ever removed or overwritten: a file at a generated path that platc did not
//! write is an error, not a casualty. The index is written last, so an
//! interrupted build is finished by the next one.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use platc::Output;
use platc::emit::INDEX_FILE;

/// What a write did.
#[derive(Debug, Default)]
pub struct Written {
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
}

/// Paths the previous build's index lists.
pub fn previous(out: &Path) -> BTreeSet<String> {
    let Ok(text) = fs::read_to_string(out.join(INDEX_FILE)) else {
        return BTreeSet::new();
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        return BTreeSet::new();
    };
    json.get("files")
        .and_then(|f| f.as_array())
        .map(|files| files.iter().filter_map(|f| f.get("path")?.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Writes `output` under `out`.
pub fn write(out: &Path, output: &Output) -> Result<Written, String> {
    let old = previous(out);
    // Refuse before touching anything.
    for (path, file) in &output.files {
        let target = out.join(path);
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
    if is_absent_or_empty(out) {
        return write_fresh(out, output);
    }
    let files: Vec<(&String, &platc::emit::OutFile)> = output.files.iter().filter(|(p, _)| *p != INDEX_FILE).collect();
    // Compare and write on every core; each file through a rename.
    let dirs = Dirs::default();
    let results = platc::par::map(&files, |(path, file)| -> Result<bool, String> {
        let target = out.join(path);
        if fs::read(&target).is_ok_and(|b| b == file.contents.as_bytes()) {
            return Ok(false);
        }
        dirs.ensure(target.parent())?;
        write_atomic(&target, file.contents.as_bytes())?;
        Ok(true)
    });
    let mut w = Written::default();
    for ((path, _), r) in files.iter().zip(results) {
        if r? {
            w.changed.push((*path).clone());
        } else {
            w.unchanged += 1;
        }
    }
    for path in old.iter().filter(|p| !output.files.contains_key(*p)) {
        if !safe_relative(path) {
            continue; // an index someone edited; never follow it out of the tree
        }
        let target = out.join(path);
        match fs::remove_file(&target) {
            Ok(()) => {
                w.removed.push(path.clone());
                remove_empty_parents(out, &target);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove `{}`: {e}", target.display())),
        }
    }
    if let Some(index) = output.files.get(INDEX_FILE) {
        let target = out.join(INDEX_FILE);
        if !fs::read(&target).is_ok_and(|b| b == index.contents.as_bytes()) {
            write_atomic(&target, index.contents.as_bytes())?;
        }
    }
    Ok(w)
}

fn is_absent_or_empty(dir: &Path) -> bool {
    match fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// A first build: the whole tree is written into a sibling directory, then
/// renamed into place in one step, so no reader ever sees part of it.
fn write_fresh(out: &Path, output: &Output) -> Result<Written, String> {
    let name = out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "gen".into());
    let parent = out.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    fs::create_dir_all(&parent).map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
    let stage = parent.join(format!(".{name}.platc-{}.tmp", std::process::id()));
    let _ = fs::remove_dir_all(&stage);
    let files: Vec<(&String, &platc::emit::OutFile)> = output.files.iter().collect();
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

/// Directories already created, so that thousands of files in the same
/// few directories make each of them once.
#[derive(Default)]
struct Dirs(std::sync::Mutex<BTreeSet<PathBuf>>);

impl Dirs {
    fn ensure(&self, dir: Option<&Path>) -> Result<(), String> {
        let Some(dir) = dir else { return Ok(()) };
        if self.0.lock().map(|d| d.contains(dir)).unwrap_or(false) {
            return Ok(());
        }
        fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
        if let Ok(mut d) = self.0.lock() {
            d.insert(dir.to_path_buf());
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
