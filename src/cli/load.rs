//! Finding a workspace on disk and reading its sources.
//!
//! The root is the nearest directory at or above PATH holding `platform.plat`
//! (as cargo finds Cargo.toml); failing that, PATH itself when it is, or
//! holds, a lone `service.plat`. Every `.plat` and `.hbs` file under the root
//! is read, except in hidden directories, `target/`, `node_modules/` and the
//! output directory. Symbolic links are followed when they stay inside the
//! workspace (see [`sources`]); the others are reported, never skipped
//! silently.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use platc::parse::MAX_FILE_BYTES;
use platc::sources::Sources;
use platc::workspace::{SERVICE_FILE, WORKSPACE_FILE};

/// Most files platc reads from one workspace.
const MAX_FILES: usize = 200_000;

/// A workspace found on disk.
pub struct Found {
    pub root: PathBuf,
}

/// Finds the workspace root for a path given on the command line.
pub fn find(path: &Path) -> Result<Found, String> {
    let meta = fs::metadata(path).map_err(|e| format!("cannot read `{}`: {e}", super::display(path)))?;
    let start =
        if meta.is_dir() { path.to_path_buf() } else { path.parent().map(Path::to_path_buf).unwrap_or_default() };
    let start = if start.as_os_str().is_empty() { PathBuf::from(".") } else { start };
    let abs = fs::canonicalize(&start).map_err(|e| format!("cannot read `{}`: {e}", super::display(&start)))?;
    let mut dir = Some(abs.as_path());
    while let Some(d) = dir {
        if d.join(WORKSPACE_FILE).is_file() {
            return Ok(Found { root: d.to_path_buf() });
        }
        dir = d.parent();
    }
    if abs.join(SERVICE_FILE).is_file() {
        return Ok(Found { root: abs });
    }
    Err(format!(
        "no `{WORKSPACE_FILE}` at or above `{}`, and no `{SERVICE_FILE}` in it\n  help: run platc inside a workspace, or point it at a directory holding a service.plat",
        super::display(path)
    ))
}

/// Reads every source file of the workspace. `skip` is the output directory.
///
/// A symbolic link is followed when its target stays inside the workspace,
/// outside hidden directories, `target/`, `node_modules/` and the output
/// (its files keyed by the link's path); a directory link that leads back
/// above itself is not followed twice. A link that is not followed, or a
/// FIFO, socket or device where a source would be, is recorded in the
/// sources as skipped, and becomes a diagnostic: an error for a source
/// file, a warning for a directory.
pub fn sources(root: &Path, skip: &Path) -> Result<Sources, String> {
    let mut sources = Sources::new();
    sources.set_workspace_dirs(directory_names(root));
    let skip = fs::canonicalize(skip).unwrap_or_else(|_| skip.to_path_buf());
    // (path as seen from the root, the real directories it goes through)
    let mut stack: Vec<(PathBuf, Vec<PathBuf>)> = vec![(root.to_path_buf(), vec![root.to_path_buf()])];
    let mut count = 0usize;
    let mut dirs = 0usize;
    let mut found = Vec::new();
    while let Some((dir, chain)) = stack.pop() {
        dirs += 1;
        if dirs > MAX_FILES {
            return Err(format!("more than {MAX_FILES} directories under `{}`", super::display(root)));
        }
        let entries = fs::read_dir(&dir).map_err(|e| format!("cannot read `{}`: {e}", super::display(&dir)))?;
        let real_dir = chain.last().cloned().unwrap_or_else(|| dir.clone());
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read `{}`: {e}", super::display(&dir)))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            let kind = entry.file_type().map_err(|e| format!("cannot read `{}`: {e}", super::display(&path)))?;
            let excluded_dir = |name: &str| name.starts_with('.') || name == "target" || name == "node_modules";
            if kind.is_dir() {
                let real = real_dir.join(&name);
                if excluded_dir(&name) || real == skip {
                    continue;
                }
                let mut chain = chain.clone();
                chain.push(real);
                stack.push((path, chain));
            } else if kind.is_file() {
                if is_source(&name) {
                    count += 1;
                    if count > MAX_FILES {
                        return Err(format!("more than {MAX_FILES} source files under `{}`", super::display(root)));
                    }
                    found.push((relative(root, &path)?, path));
                }
            } else if kind.is_symlink() {
                if excluded_dir(&name) {
                    continue;
                }
                match follow(root, &skip, &path, &chain) {
                    Followed::Dir(real) => {
                        let mut chain = chain.clone();
                        chain.push(real);
                        stack.push((path, chain));
                    }
                    Followed::File(real) if is_source(&name) => {
                        count += 1;
                        if count > MAX_FILES {
                            return Err(format!("more than {MAX_FILES} source files under `{}`", super::display(root)));
                        }
                        found.push((relative(root, &path)?, real));
                    }
                    Followed::File(_) => {}
                    Followed::Not { reason, dir } => {
                        if is_source(&name) || dir {
                            sources.skip(relative(root, &path)?, reason, !dir);
                        }
                    }
                }
            } else if is_source(&name) {
                sources.skip(relative(root, &path)?, "it is not a regular file (a FIFO, socket or device)", true);
            }
        }
    }
    // Reading is a system call or three per file: on every core.
    let read = platc::par::map(&found, |(_, path)| read_source(path));
    for ((rel, _), bytes) in found.into_iter().zip(read) {
        sources.insert_bytes(rel, bytes?);
    }
    let root = root.to_path_buf();
    sources.set_loader(Box::new(move |rel: &str| load_inside(&root, rel)));
    Ok(sources)
}

/// Where a symbolic link leads, for the reader.
enum Followed {
    Dir(PathBuf),
    File(PathBuf),
    Not { reason: String, dir: bool },
}

fn follow(root: &Path, skip: &Path, link: &Path, chain: &[PathBuf]) -> Followed {
    let Ok(real) = fs::canonicalize(link) else {
        return Followed::Not { reason: "it is a symbolic link to nothing".into(), dir: false };
    };
    let meta = fs::metadata(&real);
    let dir = meta.as_ref().is_ok_and(|m| m.is_dir());
    let Ok(rel) = real.strip_prefix(root) else {
        return Followed::Not { reason: "it is a symbolic link to outside the workspace".into(), dir };
    };
    if real.starts_with(skip) {
        return Followed::Not { reason: "it is a symbolic link into the output directory".into(), dir };
    }
    if rel.components().any(|c| {
        let c = c.as_os_str().to_string_lossy();
        c.starts_with('.') || c == "target" || c == "node_modules"
    }) {
        return Followed::Not { reason: "it is a symbolic link into a hidden or excluded directory".into(), dir };
    }
    if dir {
        if chain.iter().any(|d| d.starts_with(&real)) {
            return Followed::Not { reason: "it is a symbolic link to a directory above it (a loop)".into(), dir };
        }
        return Followed::Dir(real);
    }
    if meta.is_ok_and(|m| m.is_file()) {
        return Followed::File(real);
    }
    Followed::Not { reason: "it is a symbolic link to something that is not a regular file".into(), dir: false }
}

fn relative(root: &Path, path: &Path) -> Result<String, String> {
    let rel = path.strip_prefix(root).map_err(|_| format!("`{}` is outside the workspace", super::display(path)))?;
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().to_string()).collect();
    Ok(parts.join("/"))
}

/// Whether a file is a source the workspace is read for (others are read
/// when the compilation names them).
pub fn is_source(name: &str) -> bool {
    name.ends_with(".plat") || name.ends_with(".hbs")
}

/// A source file's bytes, at most one past the largest the compiler reads
/// (it reports what is too large).
pub fn read_source(path: &Path) -> Result<Vec<u8>, String> {
    read_limited(path, MAX_FILE_BYTES + 1)
}

/// Reads at most `limit` bytes.
fn read_limited(path: &Path, limit: usize) -> Result<Vec<u8>, String> {
    let f = fs::File::open(path).map_err(|e| format!("cannot read `{}`: {e}", super::display(path)))?;
    let mut buf = Vec::new();
    f.take(limit as u64).read_to_end(&mut buf).map_err(|e| format!("cannot read `{}`: {e}", super::display(path)))?;
    Ok(buf)
}

/// `file("...")`: a file inside the workspace, not through a symlink that
/// leaves it.
fn load_inside(root: &Path, rel: &str) -> Result<Vec<u8>, String> {
    let path = root.join(rel);
    let real = fs::canonicalize(&path).map_err(|e| e.to_string())?;
    let Ok(inside) = real.strip_prefix(root) else {
        return Err("it resolves (through a symbolic link) to a place outside the workspace".into());
    };
    // Hidden files and directories (`.git/`, `.env`) are out of reach, by
    // name or through a link.
    if rel
        .split('/')
        .chain(inside.components().map(|c| c.as_os_str().to_str().unwrap_or(".")))
        .any(|c| c.starts_with('.') && c != "." && c != "..")
    {
        return Err("it is (or leads to) a hidden file or directory".into());
    }
    if let Some(file) = git_ignored(root, inside) {
        return Err(format!(
            "git ignores it (`{file}`): ignored files (local settings, credentials, build output) are out of reach"
        ));
    }
    if !real.is_file() {
        return Err("not a regular file".into());
    }
    read_limited(&real, 1024 * 1024 + 1)
}

/// Whether git ignores `rel` (workspace-relative): the `.gitignore` of the
/// workspace and of every directory on the way to it, each with its own
/// base as git reads them, the deepest that matches deciding. Returns the
/// deciding file, workspace-relative.
fn git_ignored(root: &Path, rel: &Path) -> Option<String> {
    let parts: Vec<&std::ffi::OsStr> = rel.components().map(|c| c.as_os_str()).collect();
    let mut dir = root.to_path_buf();
    let mut verdict = None;
    for i in 0..parts.len() {
        let file = dir.join(".gitignore");
        if file.is_file() {
            let (gi, _) = ignore::gitignore::Gitignore::new(&file);
            let path = root.join(rel);
            match gi.matched_path_or_any_parents(&path, false) {
                ignore::Match::Ignore(_) => {
                    let shown = file.strip_prefix(root).unwrap_or(&file).display().to_string();
                    verdict = Some(shown);
                }
                ignore::Match::Whitelist(_) => verdict = None,
                ignore::Match::None => {}
            }
        }
        let Some(part) = parts.get(i) else { break };
        dir.push(part);
    }
    verdict
}

/// The names of `root` and its parents, innermost first (for
/// `repository_root`; names that are not UTF-8 end the list).
fn directory_names(root: &Path) -> Vec<String> {
    let Ok(abs) = fs::canonicalize(root) else { return Vec::new() };
    abs.ancestors().map_while(|p| p.file_name()?.to_str().map(str::to_string)).collect()
}
