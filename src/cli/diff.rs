//! `platc diff [--base REV]`: builds the workspace as it is in a git
//! revision (read from git's object store, no checkout) and as it is in the
//! working tree, and reports what changes in the generated files: a summary
//! per service, environment and object, then a unified diff.
//! Exit 0 when nothing changes, 1 when something does, 2 on errors.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use platc::diag::render::Format;
use platc::sources::Sources;
use platc::{Compiled, Options};

use super::{DiffFormat, EXIT_DIAGNOSTICS, EXIT_USAGE, compile, print_diagnostics};

pub fn run(
    path: Option<PathBuf>,
    base: &str,
    how: DiffFormat,
    env: Option<String>,
    format: Format,
) -> Result<u8, String> {
    let options = Options { keep_docs: true, env, ..Options::default() };
    let head = compile(path, None, &options)?;
    super::known_env(&head.compiled, options.env.as_deref())?;
    if head.compiled.output.is_none() {
        print_diagnostics(&head.compiled.diagnostics, &head.compiled.files, format, "nothing to compare");
        return Ok(EXIT_USAGE);
    }
    let top = git(&head.root, &["rev-parse", "--show-toplevel"], None)?;
    let top = PathBuf::from(String::from_utf8_lossy(&top).trim());
    let root = std::fs::canonicalize(&head.root).map_err(|e| e.to_string())?;
    let top = std::fs::canonicalize(&top).map_err(|e| e.to_string())?;
    let prefix = root.strip_prefix(&top).map_err(|_| "the workspace is not inside its git repository".to_string())?;
    let prefix = prefix.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
    let sources = sources_at(&top, base, &prefix, &head.out)?;
    let base_build = platc::compile(&sources, &options);
    if base_build.output.is_none() {
        print_diagnostics(&base_build.diagnostics, &base_build.files, format, "nothing to compare");
        eprintln!("error: the workspace does not build at `{base}`");
        return Ok(EXIT_USAGE);
    }
    let changes = platc::diff::diff(output(&base_build), output(&head.compiled));
    let text = match how {
        DiffFormat::Text => platc::diff::text(&changes, base),
        DiffFormat::Markdown => platc::diff::markdown(&changes, base),
        DiffFormat::Json => platc::diff::json(&changes, base),
    };
    print!("{text}");
    Ok(if changes.is_empty() { 0 } else { EXIT_DIAGNOSTICS })
}

fn output(c: &Compiled) -> &platc::Output {
    static EMPTY: std::sync::OnceLock<platc::Output> = std::sync::OnceLock::new();
    c.output.as_ref().unwrap_or_else(|| EMPTY.get_or_init(Default::default))
}

fn git(dir: &Path, args: &[&str], input: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let out = child.wait_with_output().map_err(|e| format!("git failed: {e}"))?;
    if !out.status.success() {
        return Err(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(out.stdout)
}

/// The workspace's sources at `rev`, read from git's object store.
fn sources_at(top: &Path, rev: &str, prefix: &str, out: &Path) -> Result<Sources, String> {
    git(top, &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")], None)
        .map_err(|_| format!("`{rev}` is not a revision of this repository"))?;
    let spec = if prefix.is_empty() { ".".to_string() } else { prefix.to_string() };
    let listing = git(top, &["ls-tree", "-r", "-z", "--name-only", rev, "--", &spec], None)?;
    let out_rel = out.strip_prefix(top).ok().map(|p| p.to_string_lossy().to_string());
    let names: Vec<String> = listing
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).to_string())
        .filter(|n| n.ends_with(".plat") || n.ends_with(".hbs"))
        .filter(|n| out_rel.as_ref().is_none_or(|o| !n.starts_with(&format!("{o}/"))))
        .filter(|n| !n.split('/').any(|seg| seg.starts_with('.') || seg == "target" || seg == "node_modules"))
        .collect();
    let request: String = names.iter().map(|n| format!("{rev}:{n}\n")).collect();
    let batch = git(top, &["cat-file", "--batch"], Some(request.as_bytes()))?;
    let mut sources = Sources::new();
    let mut rest: &[u8] = &batch;
    for name in &names {
        let nl = rest.iter().position(|b| *b == b'\n').ok_or("git cat-file: short output")?;
        let header = String::from_utf8_lossy(rest.get(..nl).unwrap_or_default()).to_string();
        rest = rest.get(nl + 1..).unwrap_or_default();
        let size: usize =
            header.rsplit(' ').next().and_then(|s| s.parse().ok()).ok_or_else(|| format!("git cat-file: {header}"))?;
        let body = rest.get(..size).ok_or("git cat-file: short output")?.to_vec();
        rest = rest.get(size + 1..).unwrap_or_default();
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            name.strip_prefix(&format!("{prefix}/")).unwrap_or(name).to_string()
        };
        sources.insert_bytes(rel, body);
    }
    let (top, rev, prefix) = (top.to_path_buf(), rev.to_string(), prefix.to_string());
    sources.set_loader(Box::new(move |rel: &str| {
        let full = if prefix.is_empty() { rel.to_string() } else { format!("{prefix}/{rel}") };
        let mut child = Command::new("git")
            .arg("-C")
            .arg(&top)
            .args(["cat-file", "blob", &format!("{rev}:{full}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        child.stdout.take().ok_or("git")?.take(1024 * 1024 + 1).read_to_end(&mut buf).map_err(|e| e.to_string())?;
        let status = child.wait().map_err(|e| e.to_string())?;
        if status.success() { Ok(buf) } else { Err(format!("no such file at {rev}")) }
    }));
    Ok(sources)
}
