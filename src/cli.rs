//! The command line: a thin shell around [`platc::compile`]. It finds the
//! workspace, reads its files, prints diagnostics and writes the output.
//! Exit codes: 0 success, 1 diagnostics (errors in the input), 2 usage or
//! I/O problems.

mod load;
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
    about = "Compile service.plat files into Kubernetes, Terraform, CI, dashboards, alerts and catalog entries"
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
        /// Output directory (default: <workspace>/gen).
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
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum MessageFormat {
    Human,
    Short,
    Json,
    Github,
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

/// Exit code: diagnostics were reported.
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
        Command::Check { path } => check(path, format),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            EXIT_USAGE
        }
    }
}

struct Loaded {
    root: PathBuf,
    out: PathBuf,
    compiled: Compiled,
}

fn compile(path: Option<PathBuf>, out: Option<PathBuf>, options: &Options) -> Result<Loaded, String> {
    let path = path.unwrap_or_else(|| PathBuf::from("."));
    let found = load::find(&path)?;
    let out = match out {
        Some(o) => std::env::current_dir().map(|c| c.join(o)).map_err(|e| e.to_string())?,
        None => found.root.join("gen"),
    };
    let sources = load::sources(&found.root, &out)?;
    let compiled = platc::compile(&sources, options);
    Ok(Loaded { root: found.root, out, compiled })
}

/// Prints every diagnostic; returns whether any was an error.
fn report(c: &Compiled, format: Format) -> bool {
    let color = format == Format::Human && std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut err = std::io::stderr().lock();
    for d in &c.diagnostics {
        let _ = err.write_all(render(d, &c.files, format, color).as_bytes());
    }
    let errors = c.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = c.diagnostics.len() - errors;
    if format == Format::Human && (errors > 0 || warnings > 0) {
        let _ = writeln!(err, "{}", plural_summary(errors, warnings));
    }
    errors > 0
}

fn plural_summary(errors: usize, warnings: usize) -> String {
    let e = if errors == 1 { "1 error".to_string() } else { format!("{errors} errors") };
    let w = if warnings == 1 { "1 warning".to_string() } else { format!("{warnings} warnings") };
    match (errors, warnings) {
        (0, _) => w,
        (_, 0) => format!("{e}; nothing was written"),
        _ => format!("{e} and {w}; nothing was written"),
    }
}

fn build(path: Option<PathBuf>, out: Option<PathBuf>, targets: Vec<Target>, format: Format) -> Result<u8, String> {
    let started = Instant::now();
    let options = Options { targets, ..Options::default() };
    let loaded = compile(path, out, &options)?;
    if report(&loaded.compiled, format) {
        return Ok(EXIT_DIAGNOSTICS);
    }
    let Some(output) = &loaded.compiled.output else {
        return Ok(EXIT_DIAGNOSTICS);
    };
    let written = write::write(&loaded.out, output)?;
    let services = loaded.compiled.model.as_ref().map(|m| m.services.len()).unwrap_or(0);
    eprintln!(
        "built {} files for {} service{} into {} ({} written, {} removed, {} unchanged) in {:.2}s",
        output.files.len(),
        services,
        if services == 1 { "" } else { "s" },
        display(&loaded.root, &loaded.out),
        written.changed.len(),
        written.removed.len(),
        written.unchanged,
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

fn check(path: Option<PathBuf>, format: Format) -> Result<u8, String> {
    let loaded = compile(path, None, &Options::default())?;
    if report(&loaded.compiled, format) {
        return Ok(EXIT_DIAGNOSTICS);
    }
    let services = loaded.compiled.model.as_ref().map(|m| m.services.len()).unwrap_or(0);
    if format == Format::Human {
        eprintln!("checked {services} service{}: no errors", if services == 1 { "" } else { "s" });
    }
    Ok(0)
}

/// A path as short as possible for messages: relative to the current
/// directory when inside it.
fn display(_root: &Path, path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    cwd.and_then(|c| path.strip_prefix(&c).ok().map(|p| p.display().to_string()))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| path.display().to_string())
}
