//! `platc check --frozen`: the generated files on disk must be exactly what
//! a build would write now — no hand edits, no stale or missing files, no
//! extra files in the output directory. Each problem says what to do, and a
//! file that differs shows how.

use std::fs;
use std::path::PathBuf;

use platc::Options;
use platc::diag::render::{Format, gh_data, gh_property};

use super::{EXIT_DIAGNOSTICS, compile, display, report};

/// Lines of a difference shown per file (the rest is counted).
const MAX_DIFF_LINES: usize = 40;

/// One file out of step, what to do about it, and what differs.
struct Problem {
    path: String,
    what: &'static str,
    fix: String,
    /// A unified diff (on disk → generated), or the start of a file platc
    /// did not write.
    shown: Option<String>,
    /// Whether `platc build` fixes it (false: a file platc did not write).
    ours: bool,
}

pub fn run(path: Option<PathBuf>, out: Option<PathBuf>, env: Option<String>, format: Format) -> Result<u8, String> {
    let options = Options { env, ..Options::default() };
    let loaded = compile(path, out, &options)?;
    super::known_env(&loaded.compiled, options.env.as_deref())?;
    // Finishes an interrupted build's swap, and keeps a build from swapping
    // the tree while it is compared.
    let _locked = super::write::lock_to_read(&loaded.out)?;
    if report(&loaded.compiled, format) {
        return Ok(EXIT_DIAGNOSTICS);
    }
    let Some(output) = &loaded.compiled.output else { return Ok(EXIT_DIAGNOSTICS) };
    let root = display(&loaded.root);
    let build = if root.is_empty() || root == "." { "platc build".to_string() } else { format!("platc build {root}") };
    let index = super::write::previous_entries(&loaded.out);
    let mut problems: Vec<Problem> = Vec::new();
    let workflows = loaded.workflows_dir();
    let place = |path: &str| super::github::place(&loaded.out, workflows.as_deref(), path);
    for (path, file) in &output.files {
        if path == platc::emit::INDEX_FILE && options.env.is_some() {
            continue; // lists every environment's files; this check saw one
        }
        let placed = place(path);
        match super::write::read_regular(&placed) {
            Some(bytes) if bytes == file.contents.as_bytes() => {}
            None if fs::symlink_metadata(&placed).is_ok() => problems.push(Problem {
                path: path.clone(),
                what: "is not a regular file (a link, directory, FIFO or device)",
                fix: format!("remove it; `{build}` then writes the file"),
                shown: None,
                ours: true,
            }),
            Some(bytes) => problems.push(Problem {
                path: path.clone(),
                what: "differs from what platc generates (edited by hand, or stale)",
                fix: format!(
                    "`{build}` writes what platc generates; a change by hand belongs in the service.plat, a `patch` or the standard library"
                ),
                shown: Some(unified(&String::from_utf8_lossy(&bytes), &file.contents, path)),
                ours: true,
            }),
            None => problems.push(Problem {
                path: path.clone(),
                what: "is missing",
                fix: format!("`{build}` writes it"),
                shown: None,
                ours: true,
            }),
        }
    }
    let mut on_disk = Vec::new();
    super::write::walk(&loaded.out, &loaded.out, &mut on_disk);
    for path in on_disk.iter().filter(|p| !output.files.contains_key(*p)) {
        match index.get(path) {
            // Another environment's file, outside a `--env` check.
            Some(Some(e)) if options.env.as_deref().is_some_and(|only| only != e) => {}
            Some(_) => problems.push(Problem {
                path: path.clone(),
                what: "is not generated any more",
                fix: format!("`{build}` removes it (platc wrote it, and removes what it no longer generates)"),
                shown: None,
                ours: true,
            }),
            None => {
                let text =
                    super::write::read_regular(&loaded.out.join(path)).map(|b| String::from_utf8_lossy(&b).to_string());
                let start = text.map(|t| {
                    let lines: Vec<String> = t.lines().take(5).map(|l| format!("+{l}")).collect();
                    let more = t.lines().count().saturating_sub(lines.len());
                    let mut s = lines.join("\n");
                    if more > 0 {
                        s.push_str(&format!("\n({more} more lines)"));
                    }
                    s
                });
                problems.push(Problem {
                    path: path.clone(),
                    what: "was not written by platc (platc-index.json does not list it)",
                    fix: format!(
                        "platc never removes or overwrites a file it did not write, so `{build}` leaves it: delete it, or keep it outside {}",
                        display(&loaded.out)
                    ),
                    shown: start,
                    ours: false,
                });
            }
        }
    }
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    if problems.is_empty() {
        if format == Format::Human {
            eprintln!("{} is up to date ({} files)", display(&loaded.out), output.files.len());
        }
        return Ok(0);
    }
    for p in &problems {
        // `display` escapes what could break the line; GitHub's own escaping
        // on top keeps `::` and `,` out of the command's syntax.
        let shown = display(&place(&p.path));
        let message = format!("{shown} {}", p.what);
        match format {
            Format::Github => {
                let mut text = format!("{message}\n{}", p.fix);
                if let Some(d) = &p.shown {
                    text.push('\n');
                    text.push_str(d);
                }
                println!("::error file={},title=platc%3A%3Afrozen::{}", gh_property(&shown), gh_data(&text));
            }
            Format::Json => println!(
                "{}",
                serde_json::json!({
                    "code": "platc::frozen", "severity": "error", "file": shown, "message": message,
                    "help": p.fix, "diff": p.shown,
                })
            ),
            Format::Short => println!("{shown}: error[platc::frozen]: {} (help: {})", p.what, p.fix),
            Format::Human => {
                eprintln!("{message}\n  help: {}", p.fix);
                if let Some(d) = &p.shown {
                    for line in d.lines() {
                        eprintln!("    {line}");
                    }
                }
            }
        }
    }
    let foreign = problems.iter().filter(|p| !p.ours).count();
    let ours = problems.len() - foreign;
    if format == Format::Human {
        match (ours, foreign) {
            (n, 0) => {
                eprintln!("{} out of date; run `{build}` and commit the result", super::plural(n, "generated file"))
            }
            (0, m) => eprintln!(
                "{} in the output directory that platc did not write: delete or move them",
                super::plural(m, "file")
            ),
            (n, m) => eprintln!(
                "{} out of date (run `{build}` and commit the result) and {} platc did not write (delete or move them)",
                super::plural(n, "generated file"),
                super::plural(m, "file")
            ),
        }
    }
    Ok(EXIT_DIAGNOSTICS)
}

/// What differs, as a unified diff from the file on disk to what platc
/// generates, cut at [`MAX_DIFF_LINES`].
fn unified(on_disk: &str, generated: &str, path: &str) -> String {
    let text = similar::TextDiff::from_lines(on_disk, generated)
        .unified_diff()
        .context_radius(2)
        .header(&format!("{path} (on disk)"), &format!("{path} (generated)"))
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = lines.iter().take(MAX_DIFF_LINES).copied().collect::<Vec<_>>().join("\n");
    if lines.len() > MAX_DIFF_LINES {
        out.push_str(&format!("\n({} more lines of difference)", lines.len() - MAX_DIFF_LINES));
    }
    out
}
