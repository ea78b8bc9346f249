//! The command line: a thin shell around the library. It finds the
//! workspace, reads its files, prints diagnostics and writes the output;
//! each command beyond `build` and `check` lives in its own module.
//! Exit codes: 0 success, 1 diagnostics (errors in the input; for `diff` and
//! `check --frozen` and `fmt --check`: a difference), 2 usage or I/O problems.

mod diff;
mod explain;
mod fmt;
mod frozen;
mod github;
mod graph;
mod load;
mod lsp;
mod new;
mod pin;
mod stamp;
mod watch;
mod write;

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use platc::diag::render::{Format, render};
use platc::{Compiled, Options, Target};

#[derive(Parser, Debug)]
#[command(
    name = "platc",
    version,
    about = "Compile service.plat files into Kubernetes, Terraform, CI workflows, dashboards, alerts and catalog entries"
)]
pub struct Cli {
    /// How diagnostics are printed: `human` on standard error; `short`,
    /// `json` (one object per line) and `github` on standard output, alone.
    #[arg(long, global = true, value_enum, default_value_t = MessageFormat::Human)]
    message_format: MessageFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compile the workspace and write the generated files.
    Build {
        /// A path inside the workspace (default: the current directory).
        path: Option<PathBuf>,
        /// Output directory (default: <workspace>/gen), or `-`: one YAML
        /// stream on standard output (YAML outputs only).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Generate only these outputs (repeatable). Files of the other
        /// outputs in the output directory are kept as they are.
        #[arg(long = "target", value_enum)]
        targets: Vec<TargetArg>,
        /// Only this environment: its per-environment files (the other
        /// environments' files are kept as they are) and the files that do
        /// not depend on the environment. Required by `--out -` when the
        /// stream would hold several environments' objects.
        #[arg(long)]
        env: Option<String>,
    },
    /// Compile and report problems, writing nothing.
    Check {
        /// A path inside the workspace (default: the current directory).
        path: Option<PathBuf>,
        /// Also fail when the files on disk differ from what would be generated.
        #[arg(long)]
        frozen: bool,
        /// Output directory to compare with --frozen (default: <workspace>/gen).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Check the policies, and render, for this environment only.
        #[arg(long)]
        env: Option<String>,
    },
    /// Rebuild on every save of a file the compilation read.
    Watch {
        /// A path inside the workspace (default: the current directory).
        path: Option<PathBuf>,
        /// Output directory (default: <workspace>/gen).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show what the working tree changes in the generated files, against a git revision.
    Diff {
        /// A path inside the workspace (default: the current directory).
        path: Option<PathBuf>,
        /// The revision to compare with.
        #[arg(long, default_value = "HEAD")]
        base: String,
        /// How the report is printed.
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
        /// Compare this environment's files only (and the files that do not
        /// depend on the environment).
        #[arg(long)]
        env: Option<String>,
    },
    /// Show a value of a service and every place that set it.
    Explain {
        /// The service.
        service: String,
        /// An attribute path (`replicas`, `health.liveness`) or a generated
        /// path (`kubernetes/Deployment:spec.replicas`).
        path: String,
        /// The environment (default: the workspace's last).
        #[arg(long)]
        env: Option<String>,
        /// A path inside the workspace (default: the current directory).
        #[arg(long, default_value = ".")]
        workspace: PathBuf,
    },
    /// Format .plat files canonically.
    Fmt {
        /// A file or directory (default: the workspace, or the current directory).
        path: Option<PathBuf>,
        /// List the files that would change, and change nothing.
        #[arg(long)]
        check: bool,
    },
    /// Print the dependency graph.
    Graph {
        /// A path inside the workspace (default: the current directory).
        path: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        /// List the services whose output a change to these files can alter.
        #[arg(long, num_args = 1..)]
        affected_by: Vec<PathBuf>,
    },
    /// Write a commented service.plat from a golden path.
    New {
        /// The service name (a DNS label).
        name: String,
        /// The golden path to start from.
        #[arg(long = "from")]
        template: String,
        /// The directory to create the service's directory in (default:
        /// `services/` of the workspace if it exists, else the current directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The owning team.
        #[arg(long)]
        owner: Option<String>,
    },
    /// Write a released image into a service's service.plat (`digest`, and
    /// `version` when given), keeping its formatting; checked to compile.
    Pin {
        /// The service.
        service: String,
        /// The image digest (`sha256:...`).
        #[arg(long)]
        digest: String,
        /// The image tag.
        #[arg(long)]
        version: Option<String>,
        /// A path inside the workspace (default: the current directory).
        path: Option<PathBuf>,
    },
    /// Run the language server (LSP over standard input and output) for editors.
    Lsp,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
enum MessageFormat {
    Human,
    Short,
    Json,
    Github,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
pub enum DiffFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TargetArg {
    Kubernetes,
    Terraform,
    Workflows,
    Dashboards,
    Alerts,
    Catalog,
}

impl TargetArg {
    fn target(self) -> Target {
        match self {
            TargetArg::Kubernetes => Target::Kubernetes,
            TargetArg::Terraform => Target::Terraform,
            TargetArg::Workflows => Target::Workflows,
            TargetArg::Dashboards => Target::Dashboards,
            TargetArg::Alerts => Target::Alerts,
            TargetArg::Catalog => Target::Catalog,
        }
    }
}

/// Exit code: diagnostics were reported (or, for diff-like commands, a difference).
pub const EXIT_DIAGNOSTICS: u8 = 1;
/// Exit code: usage or I/O problem.
pub const EXIT_USAGE: u8 = 2;

/// Runs the command line; returns the exit code.
pub fn run(cli: Cli) -> u8 {
    let format = match cli.message_format {
        MessageFormat::Human => Format::Human,
        MessageFormat::Short => Format::Short,
        MessageFormat::Json => Format::Json,
        MessageFormat::Github => Format::Github,
    };
    let result = match cli.command {
        Command::Build { path, out, targets, env } => {
            let options =
                Options { targets: targets.into_iter().map(TargetArg::target).collect(), env, ..Options::default() };
            build(path, out, options, format)
        }
        Command::Check { path, frozen: false, env, .. } => check(path, env, format),
        Command::Check { path, frozen: true, out, env } => frozen::run(path, out, env, format),
        Command::Watch { path, out } => watch::run(path, out, format),
        Command::Diff { path, base, format: how, env } => diff::run(path, &base, how, env, format),
        Command::Explain { service, path, env, workspace } => {
            explain::run(&workspace, &service, &path, env.as_deref(), format)
        }
        Command::Fmt { path, check } => fmt::run(path, check, format),
        Command::Graph { path, format: how, affected_by } => graph::run(path, how, &affected_by, format),
        Command::New { name, template, dir, owner } => new::run(&name, &template, dir, owner, format),
        Command::Pin { service, digest, version, path } => {
            pin::run(&service, &digest, version.as_deref(), path, format)
        }
        Command::Lsp => lsp::run(),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            EXIT_USAGE
        }
    }
}

/// A compiled workspace and where it lives.
pub struct Loaded {
    pub root: PathBuf,
    pub out: PathBuf,
    pub compiled: Compiled,
}

impl Loaded {
    /// Where this build's workflows go when not into `out` (see
    /// [`github`]): the repository root's `.github/workflows` for a default
    /// build into `<workspace>/gen`.
    pub fn workflows_dir(&self) -> Option<PathBuf> {
        github::directory(&self.root, self.out == self.root.join("gen"), &self.compiled)
    }
}

/// Finds the workspace of `path`, reads it and compiles it.
pub fn compile(path: Option<PathBuf>, out: Option<PathBuf>, options: &Options) -> Result<Loaded, String> {
    let (root, out, sources) = read(path, out)?;
    let compiled = platc::compile(&sources, options);
    Ok(Loaded { root, out, compiled })
}

/// Finds the workspace of `path` and its output directory, and reads its
/// sources.
fn read(path: Option<PathBuf>, out: Option<PathBuf>) -> Result<(PathBuf, PathBuf, platc::sources::Sources), String> {
    let path = path.unwrap_or_else(|| PathBuf::from("."));
    let found = load::find(&path)?;
    let out = out_dir(&found.root, out)?;
    let sources = load::sources(&found.root, &out)?;
    Ok((found.root, out, sources))
}

/// The output directory: `--out` relative to the current directory, or
/// `<workspace>/gen`.
pub fn out_dir(root: &Path, out: Option<PathBuf>) -> Result<PathBuf, String> {
    match out {
        Some(o) if o == Path::new("-") => {
            Err("`--out -` (one YAML stream on standard output) is for `platc build`; give a directory".into())
        }
        Some(o) => std::env::current_dir().map(|c| normalize(&c.join(o))).map_err(|e| e.to_string()),
        None => Ok(root.join("gen")),
    }
}

/// An absolute path with `.` and `..` resolved and its directory made real,
/// so that `--out .` and `--out dir/..` name the directory itself (and its
/// siblings are where platc stages its writes), not a `.` inside it. The
/// last component stays as written: a link there is refused, not followed.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut clean = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    match (clean.parent(), clean.file_name()) {
        (Some(parent), Some(name)) => {
            std::fs::canonicalize(parent).map(|p| p.join(name)).unwrap_or_else(|_| clean.clone())
        }
        _ => clean,
    }
}

/// Prints every diagnostic; returns whether any was an error.
pub fn report(c: &Compiled, format: Format) -> bool {
    print_diagnostics(&c.diagnostics, &c.files, format, "nothing was written")
}

/// Prints diagnostics and, in human form, a summary line. Human reports go
/// to standard error; the machine formats (`short`, `json`, `github`) go to
/// standard output, one message per line and nothing else there, as cargo
/// does (see [`print_diagnostics_to`] for commands whose standard output is
/// taken).
pub fn print_diagnostics(
    diags: &[platc::diag::Diagnostic],
    files: &platc::span::SourceMap,
    format: Format,
    consequence: &str,
) -> bool {
    print_diagnostics_to(diags, files, format, consequence, false)
}

/// [`print_diagnostics`], with every form on standard error when
/// `stdout_taken` (`build --out -` streams YAML there).
pub fn print_diagnostics_to(
    diags: &[platc::diag::Diagnostic],
    files: &platc::span::SourceMap,
    format: Format,
    consequence: &str,
    stdout_taken: bool,
) -> bool {
    let color = format == Format::Human && std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut sink: Box<dyn std::io::Write> = if format == Format::Human || stdout_taken {
        Box::new(std::io::stderr().lock())
    } else {
        Box::new(std::io::stdout().lock())
    };
    for d in diags {
        let _ = sink.write_all(render(d, files, format, color).as_bytes());
        if format == Format::Human {
            let _ = sink.write_all(b"\n"); // reports apart
        }
    }
    let _ = sink.flush();
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    if format == Format::Human && (errors > 0 || warnings > 0) {
        let _ = writeln!(sink, "{}", summary(errors, warnings, consequence));
    }
    errors > 0
}

fn summary(errors: usize, warnings: usize, consequence: &str) -> String {
    let count = |n: usize, what: &str| if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") };
    match (errors, warnings) {
        (0, w) => count(w, "warning"),
        (e, 0) => format!("{}; {consequence}", count(e, "error")),
        (e, w) => format!("{} and {}; {consequence}", count(e, "error"), count(w, "warning")),
    }
}

/// `--env NAME` names an environment of the workspace (a usage error
/// otherwise, listing them).
pub fn known_env(c: &Compiled, env: Option<&str>) -> Result<(), String> {
    let (Some(env), Some(model)) = (env, c.model.as_ref()) else { return Ok(()) };
    if model.workspace.environments.iter().any(|e| e.name == env) {
        return Ok(());
    }
    Err(format!(
        "no environment `{env}` in the workspace; {}",
        platc::diag::unknown_help(env, "environment", model.workspace.environment_names())
    ))
}

fn build(path: Option<PathBuf>, out: Option<PathBuf>, options: Options, format: Format) -> Result<u8, String> {
    let started = Instant::now();
    let to_stdout = out.as_deref() == Some(Path::new("-"));
    let (root, out, sources) = read(path, if to_stdout { None } else { out })?;
    // Held until the process ends: one build of an output at a time, from the
    // up-to-date check to the last rename.
    let locked = if to_stdout { None } else { Some(write::lock(&out)?) };
    if !to_stdout && let Some(files) = stamp::up_to_date(&out, &sources, &options) {
        eprintln!(
            "nothing changed: the {files} files in {} are up to date ({:.2}s)",
            display(&out),
            started.elapsed().as_secs_f64()
        );
        return Ok(0);
    }
    // Files are staged as their service is rendered, and only their hashes
    // kept (a partial build keeps the text: it adds the files of the
    // previous build outside its scope); workflows, which a default build
    // may write at the repository root, stay in memory there.
    let keep = (out == root.join("gen")).then_some(github::PREFIX);
    let staging = locked.as_ref().map(|l| std::sync::Arc::new(write::Staging::new(l, keep)));
    let mut options = options;
    if let Some(staging) = staging.as_ref().filter(|_| options.targets.is_empty() && options.env.is_none()) {
        let staging = std::sync::Arc::clone(staging);
        options.spill = Some(platc::emit::Spill(std::sync::Arc::new(move |path, file| staging.offer(path, file))));
    }
    let compiled = platc::compile(&sources, &options);
    known_env(&compiled, options.env.as_deref())?;
    let loaded = Loaded { root, out, compiled };
    let result = finish_build(&loaded, locked.as_ref().zip(staging.as_deref()), &options, format, started);
    if !to_stdout && result == Ok(0) {
        let workflows = loaded.workflows_dir();
        stamp::record(&loaded.out, workflows.as_deref(), &sources, &options, &loaded.compiled);
    }
    // The process exits next: freeing the model and the output one node at a
    // time would only cost time (about 3 ms per 1,000 services).
    std::mem::forget(loaded);
    result
}

fn finish_build(
    loaded: &Loaded,
    locked: Option<(&write::Locked, &write::Staging)>,
    options: &Options,
    format: Format,
    started: Instant,
) -> Result<u8, String> {
    let c = &loaded.compiled;
    if print_diagnostics_to(&c.diagnostics, &c.files, format, "nothing was written", locked.is_none()) {
        return Ok(EXIT_DIAGNOSTICS);
    }
    let Some(output) = &loaded.compiled.output else {
        return Ok(EXIT_DIAGNOSTICS);
    };
    let Some((locked, staging)) = locked else {
        return stream(output, &loaded.compiled, started);
    };
    let kept;
    let output = if options.targets.is_empty() && options.env.is_none() {
        output
    } else {
        kept = keep_the_rest(&loaded.out, loaded.workflows_dir().as_deref(), output, options, &loaded.compiled);
        &kept
    };
    let written = match loaded.workflows_dir() {
        None => write::write(locked, output, Some(staging))?,
        Some(dir) => {
            // Everything is checked before anything is written.
            let previous = write::previous(&loaded.out);
            let (rest, workflows) = github::split(output);
            github::check(&dir, &workflows, &previous)?;
            let mut w = write::write(locked, &rest, Some(staging))?;
            let (changed, removed) = github::write(&dir, &workflows, &previous)?;
            w.unchanged += workflows.len() - changed.len();
            w.changed.extend(changed);
            w.removed.extend(removed);
            w
        }
    };
    let services = service_count(&loaded.compiled);
    let escapes = loaded
        .compiled
        .model
        .as_ref()
        .map(|m| m.services.iter().map(|s| s.overrides.len() + s.waivers.len() + s.patches.len()).sum())
        .unwrap_or(0);
    if escapes > 0 && format == Format::Human {
        let what = if escapes == 1 {
            "1 escape hatch (override, waiver or patch) is".to_string()
        } else {
            format!("{escapes} escape hatches (overrides, waivers and patches) are")
        };
        eprintln!("{what} in effect (listed in {}/platc-index.json)", display(&loaded.out));
    }
    let into = match loaded.workflows_dir() {
        Some(dir) => format!("{} (workflows into {})", display(&loaded.out), display(&dir)),
        None => display(&loaded.out),
    };
    eprintln!(
        "built {} files for {} into {} ({} written, {} removed, {} unchanged) in {:.2}s",
        output.files.len(),
        plural(services, "service"),
        into,
        written.changed.len(),
        written.removed.len(),
        written.unchanged,
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// A partial build (`--target`, `--env`) touches only its own files: every
/// file of the previous build outside its scope (another target, another
/// environment) is kept as it is on disk, and listed in the new index.
fn keep_the_rest(
    out: &Path,
    workflows: Option<&Path>,
    output: &platc::Output,
    options: &Options,
    c: &Compiled,
) -> platc::Output {
    let mut all = output.clone();
    let Some(model) = c.model.as_ref() else { return all };
    let Ok(text) = std::fs::read_to_string(out.join(platc::emit::INDEX_FILE)) else { return all };
    let Ok(index) = serde_json::from_str::<serde_json::Value>(&text) else { return all };
    let entries = index.get("files").and_then(|f| f.as_array()).cloned().unwrap_or_default();
    let mut added = false;
    for e in entries {
        let field = |k: &str| e.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let (Some(path), Some(kind)) = (field("path"), field("kind")) else { continue };
        let environment = field("environment");
        let target = kind.split('/').next().and_then(Target::from_name);
        let ours = target.is_some_and(|t| options.targets.is_empty() || options.targets.contains(&t))
            && environment.as_deref().is_none_or(|e| options.env.as_deref().is_none_or(|only| only == e));
        if ours || target.is_none() || all.files.contains_key(&path) {
            continue;
        }
        let kept = write::read_regular(&github::place(out, workflows, &path)).and_then(|b| String::from_utf8(b).ok());
        if let Some(contents) = kept {
            let file = platc::emit::OutFile::new(contents, field("service"), environment, kind, None);
            all.files.insert(path, std::sync::Arc::new(file));
            added = true;
        }
    }
    if added {
        platc::emit::reindex(&mut all, model, &c.files);
    }
    all
}

/// `build --out -`: the YAML files as one stream on standard output, all
/// or nothing (the stream is composed before the first byte is written).
fn stream(output: &platc::emit::Output, compiled: &Compiled, started: Instant) -> Result<u8, String> {
    let text = output.yaml_stream().map_err(|path| {
        let target = output.files.get(path).map(|f| f.kind.split('/').next().unwrap_or("")).unwrap_or("");
        format!(
            "`--out -` writes one YAML stream, and `{path}` ({target}) is not YAML\n  \
             hint: choose YAML outputs with --target (kubernetes, workflows, alerts, catalog), \
             or write a directory with --out DIR"
        )
    })?;
    // Objects of different environments share names: applied from one
    // stream, the last would win. One environment per stream.
    let envs: std::collections::BTreeSet<&str> =
        output.files.values().filter_map(|f| f.environment.as_deref()).collect();
    if envs.len() > 1 {
        let names: Vec<&str> = compiled
            .model
            .as_ref()
            .map(|m| m.workspace.environment_names().collect())
            .unwrap_or_else(|| envs.iter().copied().collect());
        let first = names.first().copied().unwrap_or("staging");
        return Err(format!(
            "`--out -` would stream the objects of {} environments ({}), whose objects share names and would \
             overwrite each other when applied\n  hint: choose one with --env ({}), such as `--env {first}`",
            envs.len(),
            names.join(", "),
            names.join(" | ")
        ));
    }
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => {}
        // The reader stopped early (`| head`): not an error of the build.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(0),
        Err(e) => return Err(format!("cannot write to standard output: {e}")),
    }
    let services = service_count(compiled);
    let files = output.files.len().saturating_sub(1);
    eprintln!(
        "built {} for {} to standard output in {:.2}s",
        plural(files, "file"),
        plural(services, "service"),
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

fn check(path: Option<PathBuf>, env: Option<String>, format: Format) -> Result<u8, String> {
    let options = Options { env, ..Options::default() };
    let loaded = compile(path, None, &options)?;
    known_env(&loaded.compiled, options.env.as_deref())?;
    if report(&loaded.compiled, format) {
        return Ok(EXIT_DIAGNOSTICS);
    }
    let services = service_count(&loaded.compiled);
    if format == Format::Human {
        eprintln!("checked {}: no errors", plural(services, "service"));
    }
    Ok(0)
}

/// How many services a compilation resolved.
fn service_count(c: &Compiled) -> usize {
    c.model.as_ref().map_or(0, |m| m.services.len())
}

pub fn plural(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

/// A path as short as possible for messages: relative to the current
/// directory when inside it, with line breaks and other control characters
/// escaped (a name on disk is data, never part of the message's syntax).
pub fn display(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let shown = cwd
        .and_then(|c| path.strip_prefix(&c).ok().map(|p| p.display().to_string()))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| path.display().to_string());
    platc::diag::escape_unprintable(&shown).into_owned()
}
