//! Timing whole processes, as users see them: spawn, wait, wall clock.
//! Also peak resident memory through `/usr/bin/time -f %M`, the machine's
//! description and its load.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// A command to time: a program, its arguments and where its stdout goes
/// (peers print YAML to stdout; it is written to a file, as `run.sh` does).
#[derive(Clone, Debug)]
pub struct Cmd {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub stdout: Option<PathBuf>,
}

impl Cmd {
    pub fn new(program: impl Into<PathBuf>, args: &[&str]) -> Cmd {
        Cmd { program: program.into(), args: args.iter().map(|a| a.to_string()).collect(), stdout: None }
    }

    pub fn stdout_to(mut self, path: &Path) -> Cmd {
        self.stdout = Some(path.to_path_buf());
        self
    }

    /// The command as a shell would show it.
    pub fn shown(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        if let Some(o) = &self.stdout {
            s.push_str(" > ");
            s.push_str(&o.display().to_string());
        }
        s
    }

    fn command(&self) -> Result<Command, String> {
        let mut c = Command::new(&self.program);
        c.args(&self.args).stdin(Stdio::null()).stderr(Stdio::piped());
        match &self.stdout {
            Some(path) => {
                let f = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
                c.stdout(f);
            }
            None => {
                c.stdout(Stdio::null());
            }
        }
        Ok(c)
    }

    /// Runs once; the wall time in seconds. A failure (non-zero exit) is an
    /// error with the command's stderr.
    pub fn time(&self) -> Result<f64, String> {
        let mut c = self.command()?;
        let started = Instant::now();
        let child = c.spawn().map_err(|e| format!("cannot run {}: {e}", self.shown()))?;
        let out = child.wait_with_output().map_err(|e| format!("{}: {e}", self.shown()))?;
        let secs = started.elapsed().as_secs_f64();
        if !out.status.success() {
            return Err(format!(
                "{} failed ({}):\n{}",
                self.shown(),
                out.status,
                tail(&String::from_utf8_lossy(&out.stderr), 20)
            ));
        }
        Ok(secs)
    }

    /// Peak resident set size and CPU time of one run under `/usr/bin/time`.
    pub fn usage(&self) -> Result<Usage, String> {
        let mut wrapped = Cmd::new("/usr/bin/time", &["-f", "platc-bench-usage %M %U %S %e"]);
        wrapped.args.push(self.program.display().to_string());
        wrapped.args.extend(self.args.iter().cloned());
        wrapped.stdout = self.stdout.clone();
        let out = wrapped.command()?.output().map_err(|e| format!("cannot run /usr/bin/time: {e}"))?;
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!("{} failed ({}):\n{}", self.shown(), out.status, tail(&err, 20)));
        }
        let fields: Vec<f64> = err
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("platc-bench-usage "))
            .map(|l| l.split_whitespace().filter_map(|v| v.parse().ok()).collect())
            .unwrap_or_default();
        match fields[..] {
            [rss, user, sys, wall] => Ok(Usage { rss_kib: rss as u64, user_s: user, sys_s: sys, wall_s: wall }),
            _ => Err(format!("no usage in /usr/bin/time's output: {err}")),
        }
    }
}

/// What `/usr/bin/time` says about one run.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    /// Peak resident set size.
    pub rss_kib: u64,
    /// CPU time in user mode and in the kernel (all threads), and wall time.
    pub user_s: f64,
    pub sys_s: f64,
    pub wall_s: f64,
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Timed runs of one measurement, in seconds, warm-up excluded.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    pub runs: Vec<f64>,
}

impl Sample {
    pub fn median(&self) -> f64 {
        let mut v = self.runs.clone();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    pub fn min(&self) -> f64 {
        self.runs.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn max(&self) -> f64 {
        self.runs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }
}

/// `warmups` untimed runs, then `runs` timed runs of the command `next`
/// prepares (untimed) for run `k` (counting warm-ups).
pub fn sample(
    warmups: usize,
    runs: usize,
    mut next: impl FnMut(usize) -> Result<Cmd, String>,
) -> Result<Sample, String> {
    let mut s = Sample::default();
    for k in 0..warmups + runs {
        let t = next(k)?.time()?;
        if k >= warmups {
            s.runs.push(t);
        }
    }
    Ok(s)
}

/// Lets the file system catch up before timing: `sync`, then a pause. On a
/// disk mounted with `discard`, deleting a large tree just before a run slows
/// that run down by half; the harness deletes only between measurements and
/// settles after.
pub fn settle() {
    let _ = Command::new("sync").status();
    std::thread::sleep(std::time::Duration::from_secs(1));
}

/// `/proc/loadavg`'s three load averages.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The machine: cores, CPU model, memory.
#[derive(Clone, Debug)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_gib: f64,
    pub kernel: String,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
    Machine {
        cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        cpu,
        memory_gib: kib / 1024.0 / 1024.0,
        kernel,
    }
}

/// Which platc was measured: the last commit that changed its sources
/// (`src/`, `stdlib/`, `grammar/`, `Cargo.toml`, `Cargo.lock`), and whether
/// they have uncommitted changes. The harness's own files do not count.
pub fn revision() -> String {
    const SOURCES: [&str; 6] = ["--", "src", "stdlib", "grammar", "Cargo.toml", "Cargo.lock"];
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let mut log = vec!["log", "-1", "--format=%h (%cs)"];
    log.extend(SOURCES);
    let mut status = vec!["status", "--porcelain"];
    status.extend(SOURCES);
    match (git(&log), git(&status)) {
        (Some(commit), Some(changes)) if changes.is_empty() => format!("{commit}, sources clean"),
        (Some(commit), Some(_)) => format!("{commit} with uncommitted changes to its sources"),
        _ => "unknown".into(),
    }
}
