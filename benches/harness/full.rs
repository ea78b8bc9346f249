//! `full`: platc on the synthetic monorepo (`gen full`), every output, both
//! environments, as a user runs it:
//!
//! - **cold**: `platc build WS --out OUT` into an empty OUT (a new one for
//!   each run: deleting the last one just before would time the disk's
//!   discards);
//! - **no-op**: the same command again, nothing changed;
//! - **edit**: the same command after a one-line edit (`LOG_LEVEL`) in one
//!   service (a web-api in the middle of the graph), a different value each
//!   run; the harness checks that the new value reached the output;
//! - **watch**: `platc watch WS --out OUT`; after its `watching` line, edit
//!   the same line and time from just before the write of the source until
//!   the service's production ConfigMap on disk holds the new value (polled
//!   every millisecond); platc's own `rebuilt in N ms` is recorded too;
//! - **peak RSS** of one cold build, from `/usr/bin/time -f %M`, with its
//!   CPU time (user and kernel, all threads: where a build waits on the disk,
//!   wall time exceeds CPU time over cores).
//!
//! One warm-up run, then `runs` timed runs (5; 3 when a cold build takes more
//! than 10 s); the median is reported.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use crate::full_workload::{self, edited_service};
use crate::measure::{Cmd, Sample, load, sample, settle};
use crate::report::{FullRow, Report};
use crate::{Options, PLATC, fresh_dir};

/// Cold builds slower than this get 3 timed runs instead of 5.
const SLOW: f64 = 10.0;
/// Edits timed in watch mode (after one warm-up edit).
const WATCH_EDITS: usize = 9;

pub fn run(o: &Options, report: &mut Report) -> Result<(), String> {
    for &n in &o.sizes {
        eprintln!("full, {n} services: generating and checking");
        let row = size(n, o)?;
        report.full.push(row);
        println!("{}", report.full_markdown());
    }
    Ok(())
}

fn size(n: usize, o: &Options) -> Result<FullRow, String> {
    let dir = o.work.join(format!("full-{n}"));
    let ws = dir.join("workspace");
    let out = dir.join("out");
    fresh_dir(&dir)?;
    full_workload::generate(n, &ws)?;
    let input_bytes = dir_size(&ws);
    let ws_s = ws.display().to_string();

    // The workload must build with no error (and we show any warning).
    let check = Command::new(PLATC).args(["check", &ws_s]).output().map_err(|e| format!("cannot run {PLATC}: {e}"))?;
    let said = String::from_utf8_lossy(&check.stderr);
    if !check.status.success() {
        return Err(format!("the generated workspace of {n} services does not check:\n{said}"));
    }
    eprintln!("  platc check: {}", said.lines().last().unwrap_or(""));

    // Cold builds go each into a new empty directory; all are deleted only
    // after the measurements of this size (see `settle`).
    let cold_dirs = dir.join("cold");
    let empty = |k: usize| -> Result<PathBuf, String> {
        let d = cold_dirs.join(k.to_string());
        std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        Ok(d)
    };
    let build_into = |out: &Path| Cmd::new(PLATC, &["build", &ws_s, "--out", &out.display().to_string()]);
    settle();
    let load_before = load();
    let warmup = empty(0)?;
    let first = build_into(&warmup).time()?; // the warm-up; also decides how many runs
    let runs = o.runs.unwrap_or(if first > SLOW { 3 } else { 5 });
    let files = count_files(&warmup);
    eprintln!("  cold builds ({runs} runs after a warm-up of {first:.2} s, {files} files)");
    let cold = sample(0, runs, |k| Ok(build_into(&empty(k + 1)?)))?;

    eprintln!("  no-op rebuilds");
    let build = build_into(&out);
    let noop = sample(1, runs, |_| Ok(build.clone()))?;

    eprintln!("  rebuilds after a one-line edit");
    let edited = edited_service(n);
    let source = ws.join(full_workload::service_file(edited));
    let original = std::fs::read_to_string(&source).map_err(|e| e.to_string())?;
    let probe = out.join(format!("{}/kubernetes/production/configmap.yaml", full_workload::name(edited)));
    let edit = sample(1, runs, |k| {
        write_edit(&source, &original, &token(k))?;
        Ok(build.clone())
    })?;
    let landed = std::fs::read_to_string(&probe).unwrap_or_default();
    if !landed.contains(&token(runs)) {
        return Err(format!("after an edit, {} does not hold `{}`", probe.display(), token(runs)));
    }

    eprintln!("  watch: {WATCH_EDITS} edits after a warm-up");
    let (watch, watch_self_ms) = watch(&ws_s, &out.display().to_string(), &source, &original, &probe)?;
    crate::write_file(&source, &original)?;

    eprintln!("  peak memory and CPU time of a cold build");
    let usage = build_into(&empty(runs + 1)?).usage()?;
    let load_after = load();
    std::fs::remove_dir_all(&cold_dirs).map_err(|e| format!("{}: {e}", cold_dirs.display()))?;
    settle();
    Ok(FullRow { n, files, input_bytes, runs, cold, noop, edit, watch, watch_self_ms, usage, load_before, load_after })
}

/// A value that no earlier run wrote.
fn token(k: usize) -> String {
    format!("bench-edit-{k:04}")
}

/// The service file with its `LOG_LEVEL` line set to `value`: one line.
fn write_edit(source: &Path, original: &str, value: &str) -> Result<(), String> {
    let mut done = false;
    let text: String = original
        .lines()
        .map(|l| {
            if !done && l.trim_start().starts_with("LOG_LEVEL") {
                done = true;
                format!("    LOG_LEVEL    = \"{value}\"\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    if !done {
        return Err(format!("{} has no LOG_LEVEL line to edit", source.display()));
    }
    crate::write_file(source, &text)
}

/// Kills the watch process however the measurement ends.
struct Watching(Child);

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn watch(ws: &str, out: &str, source: &Path, original: &str, probe: &Path) -> Result<(Sample, Vec<f64>), String> {
    let mut child = Command::new(PLATC)
        .args(["watch", ws, "--out", out])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run platc watch: {e}"))?;
    let stderr = child.stderr.take().ok_or("no stderr from platc watch")?;
    let _guard = Watching(child);
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    wait_for(&lines, "watching", Duration::from_secs(900))?;

    let mut sample = Sample::default();
    let mut own = Vec::new();
    for k in 0..=WATCH_EDITS {
        // Let the watcher go quiet, and forget what it said so far.
        std::thread::sleep(Duration::from_millis(300));
        while lines.try_recv().is_ok() {}
        let value = format!("bench-watch-{k:04}");
        let started = Instant::now();
        write_edit(source, original, &value)?;
        loop {
            if std::fs::read_to_string(probe).is_ok_and(|t| t.contains(&value)) {
                break;
            }
            if started.elapsed() > Duration::from_secs(300) {
                return Err(format!("platc watch did not write `{value}` to {} within 300 s", probe.display()));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let secs = started.elapsed().as_secs_f64();
        let line = wait_for(&lines, "rebuilt in ", Duration::from_secs(300))?;
        let ms = line.trim_start_matches("rebuilt in ").split_whitespace().next().and_then(|v| v.parse::<f64>().ok());
        if k > 0 {
            sample.runs.push(secs);
            own.extend(ms);
        }
    }
    Ok((sample, own))
}

/// Waits for a line of the watch process that starts with `prefix`.
fn wait_for(lines: &Receiver<String>, prefix: &str, limit: Duration) -> Result<String, String> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with(prefix) => return Ok(line),
            Ok(line) => seen.push(line),
            Err(_) => {
                return Err(format!(
                    "platc watch printed no `{prefix}` line; it said:\n{}",
                    seen[seen.len().saturating_sub(20)..].join("\n")
                ));
            }
        }
    }
}

/// Regular files under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(e.path()),
                Ok(t) if t.is_file() => found.push(e.path()),
                _ => {}
            }
        }
    }
    found.sort();
    found
}

fn count_files(dir: &Path) -> usize {
    files_under(dir).len()
}

fn dir_size(dir: &Path) -> u64 {
    files_under(dir).iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum()
}
