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
    /// How diagnostics are printed.
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
        /// Generate only these outputs (repeatable).
        #[arg(long = "target", value_enum)]
        targets: Vec<TargetArg>,
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
        Command::Build { path, out, targets } => {
            build(path, out, targets.into_iter().map(TargetArg::target).collect(), format)
        }
        Command::Check { path, frozen: false, .. } => check(path, format),
        Command::Check { path, frozen: true, out } => frozen::run(path, out, format),
        Command::Watch { path, out } => watch::run(path, out, format),
        Command::Diff { path, base, format: how } => diff::run(path, &base, how, format),
        Command::Explain { service, path, env, workspace } => {
            explain::run(&workspace, &service, &path, env.as_deref(), format)
        }
        Command::Fmt { path, check } => fmt::run(path, check, format),
        Command::Graph { path, format: how, affected_by } => graph::run(path, how, &affected_by, format),
        Command::New { name, template, dir, owner } => new::run(&name, &template, dir, owner, format),
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
        Some(o) => std::env::current_dir().map(|c| c.join(o)).map_err(|e| e.to_string()),
        None => Ok(root.join("gen")),
    }
}

/// Prints every diagnostic; returns whether any was an error.
pub fn report(c: &Compiled, format: Format) -> bool {
    print_diagnostics(&c.diagnostics, &c.files, format, "nothing was written")
}

/// Prints diagnostics and, in human form, a summary line.
pub fn print_diagnostics(
    diags: &[platc::diag::Diagnostic],
    files: &platc::span::SourceMap,
    format: Format,
    consequence: &str,
) -> bool {
    let color = format == Format::Human && std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut err = std::io::stderr().lock();
    for d in diags {
        let _ = err.write_all(render(d, files, format, color).as_bytes());
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    if format == Format::Human && (errors > 0 || warnings > 0) {
        let _ = writeln!(err, "{}", summary(errors, warnings, consequence));
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

fn build(path: Option<PathBuf>, out: Option<PathBuf>, targets: Vec<Target>, format: Format) -> Result<u8, String> {
    let started = Instant::now();
    let options = Options { targets, ..Options::default() };
    let to_stdout = out.as_deref() == Some(Path::new("-"));
    let (root, out, sources) = read(path, if to_stdout { None } else { out })?;
    if !to_stdout && let Some(files) = stamp::up_to_date(&out, &sources, &options) {
        eprintln!(
            "nothing changed: the {files} files in {} are up to date ({:.2}s)",
            display(&out),
            started.elapsed().as_secs_f64()
        );
        return Ok(0);
    }
    let compiled = platc::compile(&sources, &options);
    let loaded = Loaded { root, out, compiled };
    let result = finish_build(&loaded, to_stdout, format, started);
    if !to_stdout && result == Ok(0) {
        let workflows = loaded.workflows_dir();
        stamp::record(&loaded.out, workflows.as_deref(), &sources, &options, &loaded.compiled);
    }
    // The process exits next: freeing the model and the output one node at a
    // time would only cost time (about 3 ms per 1,000 services).
    std::mem::forget(loaded);
    result
}

fn finish_build(loaded: &Loaded, to_stdout: bool, format: Format, started: Instant) -> Result<u8, String> {
    if report(&loaded.compiled, format) {
        return Ok(EXIT_DIAGNOSTICS);
    }
    let Some(output) = &loaded.compiled.output else {
        return Ok(EXIT_DIAGNOSTICS);
    };
    if to_stdout {
        return stream(output, &loaded.compiled, started);
    }
    let written = match loaded.workflows_dir() {
        None => write::write(&loaded.out, output, write::Commit::Swap)?,
        Some(dir) => {
            // Everything is checked before anything is written.
            let previous = write::previous(&loaded.out);
            let (rest, workflows) = github::split(output);
            github::check(&dir, &workflows, &previous)?;
            let mut w = write::write(&loaded.out, &rest, write::Commit::Swap)?;
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
        .map(|m| m.services.iter().map(|s| s.overrides.len() + s.waivers.len()).sum())
        .unwrap_or(0);
    if escapes > 0 && format == Format::Human {
        let what = if escapes == 1 {
            "1 override or waiver is".to_string()
        } else {
            format!("{escapes} overrides and waivers are")
        };
        eprintln!("{what} in effect (listed in {}/platc-index.json)", display(&loaded.out));
    }
    eprintln!(
        "built {} files for {} into {} ({} written, {} removed, {} unchanged) in {:.2}s",
        output.files.len(),
        plural(services, "service"),
        display(&loaded.out),
        written.changed.len(),
        written.removed.len(),
        written.unchanged,
        started.elapsed().as_secs_f64()
    );
    Ok(0)
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

fn check(path: Option<PathBuf>, format: Format) -> Result<u8, String> {
    let loaded = compile(path, None, &Options::default())?;
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
/// directory when inside it.
pub fn display(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    cwd.and_then(|c| path.strip_prefix(&c).ok().map(|p| p.display().to_string()))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| path.display().to_string())
}
