//! Workflows where GitHub runs them. GitHub reads workflows only from the
//! repository root's flat `.github/workflows/`, so a default build
//! (`<workspace>/gen`) writes the generated workflows there, at
//! `repository_root` from platform.plat (the workspace's directory unless it
//! says `".."`, ...). They stay in the build index under their
//! `.github/workflows/...` paths like every other generated file, which is
//! how a later build knows which workflows are its own: it rewrites and
//! removes only those, and refuses to overwrite a workflow it did not
//! write. With `--out DIR` the whole tree, workflows included, stays in
//! DIR (for review or validation).
//!
//! This placement stays in Rust, outside the target registry
//! (`stdlib/targets.plat`): it is where the CLI writes, not what the
//! compiler makes, and it goes by the output path (`.github/workflows/...`),
//! whichever target declares that path.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use platc::emit::{OutFile, Output};

/// The output paths that are workflows.
pub const PREFIX: &str = ".github/workflows/";

/// Where a default build writes workflows: `<repository root>/.github/workflows`
/// (`None` for an explicit `--out`, or a build that did not get as far as the
/// workspace).
pub fn directory(root: &Path, default_out: bool, compiled: &platc::Compiled) -> Option<PathBuf> {
    if !default_out {
        return None;
    }
    let up = compiled.model.as_ref()?.workspace.repo_up.0;
    if up == 0 {
        return Some(root.join(PREFIX));
    }
    // The compiler placed the workspace in the repository from the same
    // canonical path (`Sources::workspace_dirs`).
    let abs = fs::canonicalize(root).ok()?;
    Some(abs.ancestors().nth(up)?.join(PREFIX))
}

/// Where an output path lives on disk.
pub fn place(out: &Path, workflows: Option<&Path>, path: &str) -> PathBuf {
    match (workflows, path.strip_prefix(PREFIX)) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => out.join(path),
    }
}

/// The output without its workflows (for gen/; the index still lists them),
/// and the workflows by file name.
pub fn split(output: &Output) -> (Output, BTreeMap<String, Arc<OutFile>>) {
    let mut rest = BTreeMap::new();
    let mut workflows = BTreeMap::new();
    for (path, file) in &output.files {
        match path.strip_prefix(PREFIX) {
            Some(name) => workflows.insert(name.to_string(), file.clone()),
            None => rest.insert(path.clone(), file.clone()),
        };
    }
    (Output { files: rest }, workflows)
}

/// Checks that the workflows can be written: the directory is a real one
/// (no link on the way), and no file platc did not write (per `previous`,
/// the previous build's index) would be overwritten. Nothing is written.
pub fn check(
    dir: &Path,
    workflows: &BTreeMap<String, Arc<OutFile>>,
    previous: &BTreeSet<String>,
) -> Result<(), String> {
    for d in [dir.parent(), Some(dir)].into_iter().flatten() {
        if fs::symlink_metadata(d).is_ok_and(|m| !m.is_dir()) {
            return Err(format!(
                "refusing to write workflows into `{}`: it is not a directory (a link or a file)",
                d.display()
            ));
        }
    }
    for (name, file) in workflows {
        let target = dir.join(name);
        match fs::symlink_metadata(&target) {
            Ok(m) if !m.is_file() => {
                return Err(format!("refusing to overwrite `{}`: it is not a regular file", target.display()));
            }
            Ok(_)
                if !previous.contains(&format!("{PREFIX}{name}"))
                    && super::write::read_regular(&target).is_some_and(|b| b != file.contents.as_bytes()) =>
            {
                return Err(format!(
                    "refusing to overwrite `{}`: platc did not generate it (it is not in the build index)\n  help: rename your workflow, or move it away and let platc write this one",
                    target.display()
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Writes the workflows that changed and removes the ones the previous
/// build wrote that this one does not. Returns (written, removed).
pub fn write(
    dir: &Path,
    workflows: &BTreeMap<String, Arc<OutFile>>,
    previous: &BTreeSet<String>,
) -> Result<(Vec<String>, Vec<String>), String> {
    let mut written = Vec::new();
    if !workflows.is_empty() {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    }
    for (name, file) in workflows {
        let target = dir.join(name);
        if super::write::read_regular(&target).is_some_and(|b| b == file.contents.as_bytes()) {
            continue;
        }
        super::write::write_atomic(&target, file.contents.as_bytes())?;
        written.push(format!("{PREFIX}{name}"));
    }
    let mut removed = Vec::new();
    for path in previous {
        let Some(name) = path.strip_prefix(PREFIX) else { continue };
        if workflows.contains_key(name) || name.is_empty() || name.contains('/') || name.starts_with('.') {
            continue;
        }
        let target = dir.join(name);
        if fs::symlink_metadata(&target).is_ok_and(|m| m.is_file()) {
            fs::remove_file(&target).map_err(|e| format!("cannot remove `{}`: {e}", target.display()))?;
            removed.push(path.clone());
        }
    }
    Ok((written, removed))
}
