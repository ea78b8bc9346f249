//! The benchmark harness of issue 5: synthetic workspaces, and whole-process
//! timings of the release `platc` on them, side by side with the peers of
//! `../shared/bench/peers`. Not part of platc's CLI; run it through cargo,
//! which builds the release binary first:
//!
//! ```text
//! cargo bench --bench harness -- gen full N DIR     # a synthetic monorepo of N services
//! cargo bench --bench harness -- gen peer N DIR     # gen.py's peer workload, in plat
//! cargo bench --bench harness -- full  [--sizes 100,1000,10000] [--runs 5] [--json FILE]
//! cargo bench --bench harness -- peers [--sizes 100,1000,10000] [--runs 5] [--json FILE]
//! cargo bench --bench harness -- all   [--sizes ...] [--json FILE]  # both, one report
//! cargo bench --bench harness -- lsp   [--sizes 1000] [--runs 9]     # editor diagnostics after an edit
//! ```
//!
//! BENCHMARKS.md says what each measurement is. No timing lives in a test:
//! the harness checks its workloads (`platc check`, `check.py`) before it
//! times anything, and fails instead of reporting numbers for wrong output.

#[path = "harness/full.rs"]
mod full;
#[path = "harness/full_workload.rs"]
mod full_workload;
#[path = "harness/lsp.rs"]
mod lsp;
#[path = "harness/measure.rs"]
mod measure;
#[path = "harness/peer_workload.rs"]
mod peer_workload;
#[path = "harness/peers.rs"]
mod peers;
#[path = "harness/report.rs"]
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The release binary cargo built for this bench target.
pub const PLATC: &str = env!("CARGO_BIN_EXE_platc");

const USAGE: &str = "\
usage: cargo bench --bench harness -- COMMAND

  gen full N DIR      write a synthetic monorepo of N services (two environments,
                      a DAG of dependencies, postgres, redis, tiers, golden paths)
  gen peer N DIR      write ../shared/bench/peers/gen.py's workload in plat
  full                time platc on the synthetic monorepo: cold build, no-op
                      rebuild, rebuild after a one-line edit, watch latency,
                      peak memory
  peers               time `platc build --target kubernetes` on the peer workload
                      in the same run as jrsonnet, KCL and the serde_yaml floor
  all                 full, then peers, then the issue's targets, in one report
  lsp                 time `platc lsp` from an edit to its diagnostics (open
                      document, Content-Length framed LSP messages)

options (full, peers, all):
  --sizes 100,1000,10000   workspace sizes (default: 100,1000,10000)
  --runs R                 timed runs per measurement, after one warm-up (default: 5;
                           3 for a size whose cold build takes more than 10 s)
  --peers jrsonnet,kcl,floor-serde
                           peers to run (names of run.sh; default: those three)
  --work DIR               scratch directory (default: target/bench-work)
  --json FILE              also write the results as JSON

environment: PEERS (where run.sh installed the peers, default ~/.cache/platc-peers),
PLATC_BENCH_PEERS (the peer benchmark; default: ../shared/bench/peers next to the
repository, or next to the main checkout of a git worktree)
";

/// Options shared by the measuring commands.
#[derive(Clone, Debug)]
pub struct Options {
    pub sizes: Vec<usize>,
    pub runs: Option<usize>,
    pub peers: Vec<String>,
    pub work: PathBuf,
    pub json: Option<PathBuf>,
}

fn main() -> ExitCode {
    // `cargo bench` appends `--bench` to the arguments of every bench target.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["gen", which, n, dir] => {
            let n = parse_n(n)?;
            let dir = Path::new(dir);
            if dir.exists() && !is_generated(dir) {
                return Err(format!("{} exists and is not a generated workspace: give a new directory", dir.display()));
            }
            fresh_dir(dir)?;
            match *which {
                "full" => full_workload::generate(n, dir)?,
                "peer" => peer_workload::generate(n, dir, &embedded_kubernetes_templates()?)?,
                other => return Err(format!("unknown workload `{other}` (full or peer)\n\n{USAGE}")),
            }
            eprintln!("wrote a {which} workspace of {n} services to {}", dir.display());
            Ok(())
        }
        [cmd @ ("full" | "peers" | "all"), rest @ ..] => {
            let options = options(rest)?;
            // Find the peers before spending an hour on the full workload.
            let setup = if matches!(*cmd, "peers" | "all") { Some(peers::setup(&options)?) } else { None };
            let mut report = report::Report::new();
            let measured = (|| {
                if matches!(*cmd, "full" | "all") {
                    full::run(&options, &mut report)?;
                }
                if let Some(setup) = &setup {
                    peers::run(&options, setup, &mut report)?;
                }
                Ok::<(), String>(())
            })();
            // What was measured is reported even when a later step failed.
            report.finish(&options)?;
            measured
        }
        ["lsp", rest @ ..] => {
            let mut o = options(rest)?;
            if !rest.contains(&"--sizes") {
                o.sizes = vec![1000];
            }
            lsp::run(&o)
        }
        [] | ["-h" | "--help" | "help"] => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown command `{}`\n\n{USAGE}", args.join(" "))),
    }
}

fn parse_n(s: &str) -> Result<usize, String> {
    s.replace(['_', ','], "").parse().map_err(|_| format!("`{s}` is not a number of services"))
}

fn options(args: &[&str]) -> Result<Options, String> {
    let mut o = Options {
        sizes: vec![100, 1000, 10000],
        runs: None,
        peers: vec!["jrsonnet".into(), "kcl".into(), "floor-serde".into()],
        work: Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-work"),
        json: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().copied().ok_or_else(|| format!("{flag} needs a value"));
        match *flag {
            "--sizes" => o.sizes = value()?.split(',').map(parse_n).collect::<Result<_, _>>()?,
            "--runs" => o.runs = Some(parse_n(value()?)?.max(1)),
            "--peers" => {
                o.peers = value()?.split(',').filter(|p| !p.is_empty()).map(str::to_string).collect();
            }
            "--work" => o.work = absolute(Path::new(value()?))?,
            "--json" => o.json = Some(absolute(Path::new(value()?))?),
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
        }
    }
    Ok(o)
}

fn absolute(p: &Path) -> Result<PathBuf, String> {
    std::env::current_dir().map(|c| c.join(p)).map_err(|e| e.to_string())
}

/// The file names of the embedded `stdlib/templates/kubernetes/`, which the
/// peer workload's overlay replaces one by one.
fn embedded_kubernetes_templates() -> Result<Vec<String>, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib/templates/kubernetes");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let name = entry.map_err(|e| e.to_string())?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".hbs") {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Writes a file, creating its directory.
pub fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Whether `dir` is empty or holds a workspace this harness generated (and
/// may therefore be replaced).
fn is_generated(dir: &Path) -> bool {
    let empty = std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false);
    let platform = std::fs::read_to_string(dir.join("platform.plat")).unwrap_or_default();
    empty || platform.starts_with(full_workload::HEADER) || platform.starts_with(peer_workload::HEADER)
}

/// Removes `dir` if it exists and creates it empty.
pub fn fresh_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| format!("cannot empty {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))
}
