//! `peers`: `platc build --target kubernetes` on the peer workload
//! (`gen peer`), timed in the same run and the same way as the peers of
//! `../shared/bench/peers`:
//!
//! - each peer's workload comes from `gen.py TOOL N DIR`, and its command from
//!   `run.sh`'s own `cmd()` function, so both stay what the peer benchmark
//!   runs;
//! - every tool's output is checked against gen.py's `reference(N)` with
//!   `check.py` before anything is timed (platc's files are concatenated into
//!   one YAML stream first: 30,000 paths do not fit on a command line);
//! - then rounds: in each round every tool runs once, so that a change of
//!   load hits every tool alike; the first round is the warm-up; whole
//!   processes, a peer's stdout to a file as `run.sh` does, platc into a new
//!   empty directory each run (deleted after the measurements);
//! - platc runs twice: writing its tree of files (`--out DIR`, 3 files per
//!   service), and as `platc --out -`, one YAML stream on stdout to a file,
//!   which is what the peers write; ratios are taken against the stream;
//! - a `tree-write` row writes platc's own output files again with `std::fs`
//!   (one thread, in process): what the file system alone costs for this
//!   tree, since the peers write one file and platc writes 3*N;
//! - peak RSS and CPU time from one run under `/usr/bin/time`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::full::files_under;
use crate::measure::{Cmd, Sample, load, settle};
use crate::report::{PeerRow, PeerSet, Report};
use crate::{Options, PLATC, fresh_dir, peer_workload};

/// The name of the row that writes platc's files again, with no compiling.
pub const TREE_WRITE: &str = "tree-write";
/// The name of the row of `platc build --out -` (one YAML stream on stdout).
pub const PLATC_STREAM: &str = "platc --out -";

/// The peer benchmark's directory: `$PLATC_BENCH_PEERS`, or
/// `../shared/bench/peers` next to the repository, or next to the main
/// checkout when this is a git worktree.
fn peers_dir() -> Result<PathBuf, String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut candidates: Vec<PathBuf> = std::env::var_os("PLATC_BENCH_PEERS").map(PathBuf::from).into_iter().collect();
    candidates.push(manifest.join("../shared/bench/peers"));
    let common = Command::new("git")
        .args(["rev-parse", "--path-format=absolute", "--git-common-dir"])
        .current_dir(manifest)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(main) = common.as_deref().and_then(Path::parent) {
        candidates.push(main.join("../shared/bench/peers"));
    }
    candidates.iter().find_map(|d| d.join("gen.py").exists().then(|| d.canonicalize().ok()).flatten()).ok_or_else(
        || {
            format!(
                "the peer benchmark is not in {}: set PLATC_BENCH_PEERS",
                candidates.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(" or ")
            )
        },
    )
}

/// Where `run.sh install` puts the peers and the venv with pyyaml.
fn installed() -> PathBuf {
    match std::env::var_os("PEERS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(".cache/platc-peers"),
    }
}

/// Which gen.py workload a peer reads (run.sh's `src()`).
fn workload(peer: &str) -> Option<&str> {
    match peer {
        "jrsonnet" | "gojsonnet" => Some("jsonnet"),
        p if p.starts_with("floor-") => None,
        p => Some(p),
    }
}

/// The command run.sh runs for `peer` on workload `dir`, from its `cmd()`.
fn peer_command(peers: &Path, peer: &str, n: usize, dir: &Path) -> Result<Vec<String>, String> {
    if peer == "floor-cat" || peer == "cdk8s" || peer == "pkl" {
        return Err(format!(
            "peer `{peer}` is not supported by this harness (its output or arguments are not one stdout stream of one command)"
        ));
    }
    // Sourcing run.sh with `--help` defines its functions and prints its
    // usage (`sed ... "$0"`, hence $0 = run.sh), without running anything.
    let run_sh = peers.join("run.sh").display().to_string();
    let script = "set -e; . \"$0\" --help >/dev/null; cmd \"$1\" \"$2\"";
    let out = Command::new("bash")
        .args(["-c", script, &run_sh, peer, &dir.display().to_string()])
        .env("N", n.to_string())
        .output()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || line.is_empty() {
        return Err(format!("run.sh has no command for peer `{peer}`"));
    }
    Ok(line.split_whitespace().map(str::to_string).collect())
}

/// What a row of the table runs.
enum Kind {
    /// `platc build --target kubernetes`, into a new empty directory per run.
    Platc,
    /// A peer's command, YAML to a file.
    Peer(Cmd),
    /// Not a tool: platc's own output files written again with `std::fs` on
    /// one thread, in this process, into a new directory: what writing this
    /// tree of files costs on this disk, with no compiling at all.
    TreeWrite(Vec<(String, Vec<u8>)>),
}

struct Tool {
    name: String,
    kind: Kind,
    /// The YAML that check.py reads.
    output: PathBuf,
}

struct Size<'a> {
    ws: String,
    dir: &'a Path,
}

impl Size<'_> {
    fn platc(&self, run: &str) -> Result<Cmd, String> {
        let out = self.dir.join("plat-out").join(run);
        std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        Ok(Cmd::new(PLATC, &["build", &self.ws, "--target", "kubernetes", "--out", &out.display().to_string()]))
    }

    /// One timed run of `tool`, in seconds.
    fn time(&self, tool: &Tool, run: &str) -> Result<f64, String> {
        match &tool.kind {
            Kind::Platc => self.platc(run)?.time(),
            Kind::Peer(cmd) => cmd.time(),
            Kind::TreeWrite(files) => {
                let root = self.dir.join("tree-write").join(run);
                std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
                let started = Instant::now();
                let mut made = BTreeSet::new();
                for (path, bytes) in files {
                    let target = root.join(path);
                    if let Some(parent) = target.parent()
                        && made.insert(parent.to_path_buf())
                    {
                        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
                    }
                    std::fs::write(&target, bytes).map_err(|e| format!("{}: {e}", target.display()))?;
                }
                Ok(started.elapsed().as_secs_f64())
            }
        }
    }
}

/// Where the peer benchmark and its Python are.
pub struct Setup {
    peers: PathBuf,
    python: PathBuf,
}

/// Finds the peer benchmark, the venv of `run.sh install` and every peer's
/// program, before anything is measured.
pub fn setup(o: &Options) -> Result<Setup, String> {
    let peers = peers_dir()?;
    let install = format!("bash {}/run.sh install {}", peers.display(), o.peers.join(" "));
    let python = installed().join("venv/bin/python");
    if !python.exists() {
        return Err(format!("{} is missing: run `{install}` first", python.display()));
    }
    for peer in &o.peers {
        let argv = peer_command(&peers, peer, 1, Path::new("/nonexistent"))?;
        let program = argv.first().ok_or("empty peer command")?;
        if program.starts_with('/') && !Path::new(program).exists() {
            return Err(format!("{peer} is not installed ({program} is missing): run `{install}`"));
        }
    }
    Ok(Setup { peers, python })
}

pub fn run(o: &Options, setup: &Setup, report: &mut Report) -> Result<(), String> {
    for &n in &o.sizes {
        eprintln!("peers, {n} services: generating and checking");
        let set = size(n, o, &setup.peers, &setup.python)?;
        report.peers.push(set);
        println!("{}", report.peers_markdown());
    }
    Ok(())
}

fn size(n: usize, o: &Options, peers: &Path, python: &Path) -> Result<PeerSet, String> {
    let dir = o.work.join(format!("peers-{n}"));
    fresh_dir(&dir)?;
    let ws = dir.join("plat");
    peer_workload::generate(n, &ws, &crate::embedded_kubernetes_templates()?)?;
    let at = Size { ws: ws.display().to_string(), dir: &dir };
    let mut tools = vec![Tool { name: "platc".into(), kind: Kind::Platc, output: dir.join("platc.yaml") }];
    let stream = dir.join("platc-stream.yaml");
    let argv = ["build", at.ws.as_str(), "--target", "kubernetes", "--out", "-"];
    tools.push(Tool {
        name: PLATC_STREAM.into(),
        kind: Kind::Peer(Cmd::new(PLATC, &argv).stdout_to(&stream)),
        output: stream,
    });
    for peer in &o.peers {
        let wdir = match workload(peer) {
            Some(w) => {
                let wdir = dir.join(w);
                if !wdir.exists() {
                    let gen_py = peers.join("gen.py").display().to_string();
                    let status = Command::new("python3")
                        .args([gen_py.as_str(), w, &n.to_string(), &wdir.display().to_string()])
                        .status()
                        .map_err(|e| format!("cannot run python3: {e}"))?;
                    if !status.success() {
                        return Err(format!("gen.py {w} {n} failed"));
                    }
                }
                wdir
            }
            None => dir.clone(),
        };
        let argv = peer_command(peers, peer, n, &wdir)?;
        let (program, args) = argv.split_first().ok_or("empty peer command")?;
        if program.starts_with('/') && !Path::new(program).exists() {
            return Err(format!(
                "{peer} is not installed ({program} is missing): run `bash {}/run.sh install {peer}`",
                peers.display()
            ));
        }
        let output = dir.join(format!("{peer}.yaml"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tools.push(Tool { name: peer.clone(), kind: Kind::Peer(Cmd::new(program, &args).stdout_to(&output)), output });
    }

    // Correct output first: one run each, checked against gen.py's reference.
    let mut checks = Vec::new();
    for t in &tools {
        at.time(t, "check")?;
        if matches!(t.kind, Kind::Platc) {
            concatenate(&dir.join("plat-out/check"), &t.output)?;
        }
        let check = Command::new(python)
            .arg("check.py")
            .arg(n.to_string())
            .arg(&t.output)
            .current_dir(peers)
            .output()
            .map_err(|e| format!("cannot run check.py: {e}"))?;
        let said = String::from_utf8_lossy(&check.stdout).trim().to_string();
        if !check.status.success() {
            return Err(format!("{}'s output for {n} services is not gen.py's reference:\n{said}", t.name));
        }
        eprintln!("  {:<12} check.py: {}", t.name, said.lines().last().unwrap_or(""));
        checks.push(said.lines().last().unwrap_or("").to_string());
    }
    let written = files_under(&dir.join("plat-out/check"));
    let platc_files = written.len();
    let base = dir.join("plat-out/check");
    let mut files = Vec::new();
    for f in &written {
        let rel = f.strip_prefix(&base).map_err(|e| e.to_string())?.to_string_lossy().into_owned();
        files.push((rel, std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?));
    }
    tools.push(Tool { name: TREE_WRITE.into(), kind: Kind::TreeWrite(files), output: PathBuf::new() });
    checks.push(String::new());

    // Then the timings, in rounds; round 0 is the warm-up.
    let runs = o.runs.unwrap_or(5);
    eprintln!("  timing: {runs} rounds after a warm-up round");
    settle();
    let load_before = load();
    let mut samples = vec![Sample::default(); tools.len()];
    for round in 0..=runs {
        for (t, s) in tools.iter().zip(samples.iter_mut()) {
            let secs = at.time(t, &round.to_string())?;
            if round > 0 {
                s.runs.push(secs);
            }
        }
    }
    let load_after = load();
    let mut rows = Vec::new();
    for ((t, sample), check) in tools.iter().zip(samples).zip(checks) {
        let (command, usage) = match &t.kind {
            Kind::Platc => {
                let cmd = at.platc("rss")?;
                (cmd.shown(), Some(cmd.usage()?))
            }
            Kind::Peer(cmd) => (cmd.shown(), Some(cmd.usage()?)),
            Kind::TreeWrite(_) => ("std::fs::write of platc's files, one thread, in process".into(), None),
        };
        rows.push(PeerRow { tool: t.name.clone(), command, sample, usage, check });
    }
    for scratch in ["plat-out", "tree-write"] {
        let d = dir.join(scratch);
        std::fs::remove_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    settle();
    Ok(PeerSet { n, runs, platc_files, rows, load_before, load_after })
}

/// Every generated `.yaml` file as one YAML stream, for check.py; anything
/// else platc wrote besides its index is an error.
fn concatenate(out: &Path, to: &Path) -> Result<(), String> {
    let mut all = String::new();
    for f in files_under(out) {
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name == "platc-index.json" {
            continue;
        }
        if !name.ends_with(".yaml") {
            return Err(format!("platc wrote {} in the Kubernetes-only peer workload", f.display()));
        }
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        all.push_str("---\n");
        all.push_str(&text);
        if !text.ends_with('\n') {
            all.push('\n');
        }
    }
    std::fs::write(to, all).map_err(|e| format!("{}: {e}", to.display()))
}
