//! `platc new NAME --from TEMPLATE`: a commented service.plat from a golden
//! path, checked to build before it is written.

use std::fs;
use std::path::PathBuf;

use platc::Options;
use platc::diag::render::Format;
use platc::diag::unknown_help;
use platc::library::Library;
use platc::schema::is_dns_label;
use platc::workspace::{SERVICE_FILE, Workspace};

use super::{EXIT_DIAGNOSTICS, EXIT_USAGE, display, load, print_diagnostics};

pub fn run(
    name: &str,
    template: &str,
    dir: Option<PathBuf>,
    owner: Option<String>,
    format: Format,
) -> Result<u8, String> {
    if !is_dns_label(name) {
        eprintln!(
            "error: `{name}` is not a DNS label\n  help: use lowercase letters, digits and `-`, such as `payments-api`"
        );
        return Ok(EXIT_USAGE);
    }
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let root = load::find(&cwd).map(|f| f.root).unwrap_or_else(|_| cwd.clone());
    let dir = match dir {
        Some(d) => super::normalize(&cwd.join(d)),
        None if root.join("services").is_dir() => root.join("services"),
        None => cwd.clone(),
    };
    let target = dir.join(name).join(SERVICE_FILE);
    if fs::symlink_metadata(&target).is_ok() {
        eprintln!("error: `{}` already exists", display(&target));
        return Ok(EXIT_USAGE);
    }
    let rel = target
        .strip_prefix(&root)
        .map(|p| p.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"))
        .map_err(|_| format!("`{}` is outside the workspace at `{}`", display(&target), display(&root)))?;
    // Every directory on the way that exists is a real one inside the
    // workspace: the file is never written through a link to elsewhere.
    let mut on_the_way = root.clone();
    for part in rel.split('/').take(rel.split('/').count().saturating_sub(1)) {
        on_the_way.push(part);
        match fs::symlink_metadata(&on_the_way) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "refusing to write through `{}`: it is a symbolic link\n  help: create the service in a real directory of the workspace",
                    display(&on_the_way)
                ));
            }
            Ok(m) if !m.is_dir() => return Err(format!("`{}` is not a directory", display(&on_the_way))),
            Ok(_) => {}
            Err(_) => break, // created below
        }
    }

    // The library and workspace this service will build in.
    let mut sources = load::sources(&root, &root.join("gen"))?;
    let probe = platc::compile(&sources, &Options::default());
    let (Some(lib), Some(model)) = (&probe.library, &probe.model) else {
        print_diagnostics(&probe.diagnostics, &probe.files, format, "no service was created");
        return Ok(EXIT_DIAGNOSTICS);
    };
    if !lib.golden_paths.contains_key(template) {
        eprintln!(
            "error: unknown golden path `{template}`\n  help: {}",
            unknown_help(template, "golden path", lib.golden_paths.keys().map(String::as_str))
        );
        return Ok(EXIT_USAGE);
    }
    let owner = owner.unwrap_or_else(|| format!("team-{name}"));
    let text = scaffold(name, template, &owner, lib, &model.workspace);

    // It must build as written, in this workspace.
    sources.insert(rel.clone(), text.clone());
    let built = platc::compile(&sources, &Options::default());
    let own: Vec<_> = built
        .diagnostics
        .iter()
        .filter(|d| d.primary().is_some_and(|s| built.files.path(s.file) == rel))
        .cloned()
        .collect();
    if own.iter().any(|d| d.is_error())
        || built.diagnostics.iter().any(|d| d.is_error() && probe.diagnostics.iter().all(|p| p != d))
    {
        print_diagnostics(&built.diagnostics, &built.files, format, "no service was created");
        eprintln!(
            "the scaffold for `{template}` does not build in this workspace; this is a bug in the golden path or in platc"
        );
        return Ok(EXIT_DIAGNOSTICS);
    }
    fs::create_dir_all(target.parent().unwrap_or(&dir))
        .map_err(|e| format!("cannot create `{}`: {e}", display(&dir)))?;
    // Created new: an existing file, or a link of that name, is never followed.
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .map_err(|e| format!("cannot write `{}`: {e}", display(&target)))?;
    eprintln!("created {} from the `{template}` golden path; build it with `platc build`", display(&target));
    Ok(0)
}

/// The text of the new service file.
fn scaffold(name: &str, template: &str, owner: &str, lib: &Library, ws: &Workspace) -> String {
    let chain = lib.golden_path_chain(template);
    let workload = chain
        .iter()
        .rev()
        .find_map(|d| d.body.get("workload"))
        .and_then(|a| a.value.as_symbol().map(|i| i.name.clone()))
        .unwrap_or_else(|| "service".into());
    let languages: Vec<&str> = lib.languages.keys().map(String::as_str).collect();
    let tiers: Vec<&str> = lib.tiers.keys().map(String::as_str).collect();
    let language = languages.first().copied().unwrap_or("go");
    let mut s = String::new();
    s.push_str(&format!("# {name}: what it does, in a sentence.\n"));
    s.push_str(&format!("# Created by `platc new {name} --from {template}`. Everything not set here comes from\n"));
    s.push_str("# the standard library; `platc explain NAME ATTRIBUTE` shows where a value comes from.\n");
    s.push_str(&format!("service {name} from {template} {{\n"));
    s.push_str(&format!("  owner       = {}   # the owning team (a Backstage group)\n", plat_string(owner)));
    s.push_str(&format!("  description = \"{name}: replace with what it does\"\n"));
    s.push_str("  lifecycle   = experimental\n");
    s.push_str(&format!("  language    = {language}   # {}\n", languages.join(", ")));
    s.push_str(&format!("  # tier     = {}   # {}\n", tiers.last().copied().unwrap_or("silver"), tiers.join(", ")));
    if workload == "cron" {
        s.push_str("  schedule    = \"0 * * * *\"   # standard five-field cron\n");
    }
    s.push('\n');
    s.push_str("  # The image is `image:version@digest`; your release automation updates both.\n");
    if ws.registry.is_none() {
        s.push_str(&format!("  image   = \"registry.example.com/{name}\"\n"));
    }
    s.push_str("  version = \"0.1.0\"\n");
    s.push_str(
        "  allow image-pinned because \"new service: no image released yet; set `digest` on the first release\"\n",
    );
    s.push('\n');
    s.push_str("  # cpu    = 250m\n  # memory = 256Mi\n");
    s.push_str("  env {\n    LOG_LEVEL = \"info\"\n  }\n\n");
    s.push_str("  # depends_on = [another-service]\n");
    s.push_str(&format!("  # resource postgres {name}-db {{ size = small }}\n"));
    if workload != "cron" {
        s.push('\n');
        for env in &ws.environments {
            s.push_str(&format!("  environment {} {{ replicas = 2 }}\n", env.name));
        }
    }
    s.push_str("}\n");
    s
}

/// A string literal of the language holding exactly `s`: quotes, backslashes
/// and `$` escaped (so `${...}` is text, not an interpolation), control
/// characters as escapes.
fn plat_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
