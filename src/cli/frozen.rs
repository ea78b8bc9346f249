//! `platc check --frozen`: the generated files on disk must be exactly what
//! a build would write now — no hand edits, no stale or missing files, no
//! extra files in the output directory.

use std::fs;
use std::path::PathBuf;

use platc::Options;
use platc::diag::render::Format;

use super::{EXIT_DIAGNOSTICS, compile, display, report};

pub fn run(path: Option<PathBuf>, out: Option<PathBuf>, format: Format) -> Result<u8, String> {
    let loaded = compile(path, out, &Options::default())?;
    if report(&loaded.compiled, format) {
        return Ok(EXIT_DIAGNOSTICS);
    }
    let Some(output) = &loaded.compiled.output else { return Ok(EXIT_DIAGNOSTICS) };
    let mut problems: Vec<(String, &str)> = Vec::new();
    let workflows = loaded.workflows_dir();
    for (path, file) in &output.files {
        match fs::read(super::github::place(&loaded.out, workflows.as_deref(), path)) {
            Ok(bytes) if bytes == file.contents.as_bytes() => {}
            Ok(_) => problems.push((path.clone(), "differs from what platc generates (edited by hand, or stale)")),
            Err(_) => problems.push((path.clone(), "is missing")),
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
        let shown = display(&super::github::place(&loaded.out, workflows.as_deref(), path));
        match format {
            Format::Github => println!("::error file={shown},title=platc%3A%3Afrozen::{shown} {what}"),
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
