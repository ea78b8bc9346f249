//! `platc check --frozen`: the generated files on disk must be exactly what
//! a build would write now — no hand edits, no stale or missing files, no
//! extra files in the output directory.

use std::fs;
use std::path::PathBuf;

use platc::Options;
use platc::diag::render::{Format, gh_data, gh_property};

use super::{EXIT_DIAGNOSTICS, compile, display, report};

pub fn run(path: Option<PathBuf>, out: Option<PathBuf>, format: Format) -> Result<u8, String> {
    let loaded = compile(path, out, &Options::default())?;
    // Finishes an interrupted build's swap, and keeps a build from swapping
    // the tree while it is compared.
    let _locked = super::write::lock_to_read(&loaded.out)?;
    if report(&loaded.compiled, format) {
        return Ok(EXIT_DIAGNOSTICS);
    }
    let Some(output) = &loaded.compiled.output else { return Ok(EXIT_DIAGNOSTICS) };
    let mut problems: Vec<(String, &str)> = Vec::new();
    let workflows = loaded.workflows_dir();
    for (path, file) in &output.files {
        let placed = super::github::place(&loaded.out, workflows.as_deref(), path);
        match super::write::read_regular(&placed) {
            Some(bytes) if bytes == file.contents.as_bytes() => {}
            Some(_) => problems.push((path.clone(), "differs from what platc generates (edited by hand, or stale)")),
            None if fs::symlink_metadata(&placed).is_ok() => {
                problems.push((path.clone(), "is not a regular file (a link, directory, FIFO or device)"))
            }
            None => problems.push((path.clone(), "is missing")),
        }
    }
    let mut on_disk = Vec::new();
    super::write::walk(&loaded.out, &loaded.out, &mut on_disk);
    for path in on_disk.iter().filter(|p| !output.files.contains_key(*p)) {
        problems.push((path.clone(), "is not generated any more (or never was)"));
    }
    problems.sort();
    if problems.is_empty() {
        if format == Format::Human {
            eprintln!("{} is up to date ({} files)", display(&loaded.out), output.files.len());
        }
        return Ok(0);
    }
    for (path, what) in &problems {
        // `display` escapes what could break the line; GitHub's own escaping
        // on top keeps `::` and `,` out of the command's syntax.
        let shown = display(&super::github::place(&loaded.out, workflows.as_deref(), path));
        match format {
            Format::Github => {
                println!(
                    "::error file={},title=platc%3A%3Afrozen::{}",
                    gh_property(&shown),
                    gh_data(&format!("{shown} {what}"))
                )
            }
            Format::Json => println!(
                "{}",
                serde_json::json!({ "code": "platc::frozen", "severity": "error", "file": shown, "message": format!("{shown} {what}") })
            ),
            _ => eprintln!("{shown} {what}"),
        }
    }
    let root = display(&loaded.root);
    let fix = if root.is_empty() || root == "." { "platc build".to_string() } else { format!("platc build {root}") };
    eprintln!("{} out of date; run `{fix}` and commit the result", super::plural(problems.len(), "generated file"));
    Ok(EXIT_DIAGNOSTICS)
}
