//! Results: markdown tables on stdout (what BENCHMARKS.md quotes), the
//! targets of issue 5 as met or not, and the same data as JSON.

use std::fmt::Write as _;

use crate::Options;
use crate::measure::{Machine, Sample, Usage, load, machine, revision};
use crate::peers::PLATC_STREAM;

/// One size of the full workload.
pub struct FullRow {
    pub n: usize,
    pub files: usize,
    pub input_bytes: u64,
    pub runs: usize,
    pub cold: Sample,
    pub noop: Sample,
    pub edit: Sample,
    pub watch: Sample,
    /// What platc watch itself printed (`rebuilt in N ms`), per timed edit.
    pub watch_self_ms: Vec<f64>,
    /// Memory and CPU time of one more cold build.
    pub usage: Usage,
    pub load_before: String,
    pub load_after: String,
}

/// One tool on the peer workload.
pub struct PeerRow {
    pub tool: String,
    pub command: String,
    pub sample: Sample,
    /// None for the tree-write row, which runs in the harness's process.
    pub usage: Option<Usage>,
    pub check: String,
}

/// Every tool on one size of the peer workload.
pub struct PeerSet {
    pub n: usize,
    pub runs: usize,
    pub platc_files: usize,
    pub rows: Vec<PeerRow>,
    pub load_before: String,
    pub load_after: String,
}

impl PeerSet {
    fn median(&self, tool: &str) -> Option<f64> {
        self.rows.iter().find(|r| r.tool == tool).map(|r| r.sample.median())
    }
}

pub struct Report {
    machine: Machine,
    revision: String,
    load_at_start: String,
    command: String,
    pub full: Vec<FullRow>,
    pub peers: Vec<PeerSet>,
}

fn secs(s: f64) -> String {
    if s.is_nan() {
        "–".into()
    } else if s < 1.0 {
        format!("{:.3} s", s)
    } else {
        format!("{:.2} s", s)
    }
}

fn ms(s: f64) -> String {
    if s.is_nan() { "–".into() } else { format!("{:.0} ms", s * 1000.0) }
}

fn mib(kib: u64) -> String {
    format!("{} MB", (kib as f64 * 1024.0 / 1e6).round())
}

/// CPU time of one run: user + kernel, all threads.
fn cpu(u: &Usage) -> String {
    format!("{:.2} + {:.2} s", u.user_s, u.sys_s)
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_nan() || b.is_nan() || b == 0.0 { "–".into() } else { format!("{:.2}", a / b) }
}

fn median(v: &[f64]) -> f64 {
    Sample { runs: v.to_vec() }.median()
}

impl Report {
    pub fn new() -> Report {
        let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
        Report {
            machine: machine(),
            revision: revision(),
            load_at_start: load(),
            command: format!("cargo bench --bench harness -- {}", args.join(" ")),
            full: Vec::new(),
            peers: Vec::new(),
        }
    }

    fn header(&self) -> String {
        let m = &self.machine;
        format!(
            "Machine: {} cores ({}), {:.1} GiB memory, Linux {}. platc at commit {} (release build). Load average (1, 5, 15 min) at start: {}.\nCommand: `{}`\n",
            m.cores, m.cpu, m.memory_gib, m.kernel, self.revision, self.load_at_start, self.command
        )
    }

    /// The full-workload table, and how each measurement grows with N.
    pub fn full_markdown(&self) -> String {
        let mut s = String::from(
            "### Full build (all outputs, two environments)\n\n\
             | services | files | cold build | no-op rebuild | one-line edit | watch: edit to disk | watch (platc's own) | peak RSS (cold) | CPU user + sys (cold) | runs | load before → after |\n\
             |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
        );
        for r in &self.full {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {:.0} ms | {} | {} | {} | {} → {} |",
                r.n,
                r.files,
                secs(r.cold.median()),
                secs(r.noop.median()),
                secs(r.edit.median()),
                ms(r.watch.median()),
                median(&r.watch_self_ms),
                mib(r.usage.rss_kib),
                cpu(&r.usage),
                r.runs,
                r.load_before,
                r.load_after
            );
        }
        s.push_str("\nMedians (min–max):\n\n| services | cold build | no-op rebuild | one-line edit | watch |\n|---:|---|---|---|---|\n");
        for r in &self.full {
            let span = |x: &Sample| format!("{} ({}–{})", secs(x.median()), secs(x.min()), secs(x.max()));
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} ({}–{}) |",
                r.n,
                span(&r.cold),
                span(&r.noop),
                span(&r.edit),
                ms(r.watch.median()),
                ms(r.watch.min()),
                ms(r.watch.max())
            );
        }
        let growth: Vec<(&FullRow, &FullRow)> = self.full.windows(2).map(|w| (&w[0], &w[1])).collect();
        if !growth.is_empty() {
            s.push_str("\nGrowth (ratio of medians between consecutive sizes; linear = the ratio of sizes):\n\n| from → to | size ratio | cold build | no-op rebuild | one-line edit | watch | peak RSS |\n|---|---:|---:|---:|---:|---:|---:|\n");
            for (a, b) in growth {
                let _ = writeln!(
                    s,
                    "| {} → {} | {} | {} | {} | {} | {} | {} |",
                    a.n,
                    b.n,
                    ratio(b.n as f64, a.n as f64),
                    ratio(b.cold.median(), a.cold.median()),
                    ratio(b.noop.median(), a.noop.median()),
                    ratio(b.edit.median(), a.edit.median()),
                    ratio(b.watch.median(), a.watch.median()),
                    ratio(b.usage.rss_kib as f64, a.usage.rss_kib as f64)
                );
            }
        }
        s
    }

    /// Per size: every tool's median, spread, memory and ratio to platc.
    pub fn peers_markdown(&self) -> String {
        let mut s = String::from("### Kubernetes only, peer workload\n\n");
        let tools: Vec<&str> =
            self.peers.first().map(|p| p.rows.iter().map(|r| r.tool.as_str()).collect()).unwrap_or_default();
        s.push_str("| services |");
        for t in &tools {
            let _ = write!(s, " {t} |");
        }
        // Ratios against the stream when it was measured: the peers write one.
        let base = if tools.contains(&PLATC_STREAM) { PLATC_STREAM } else { "platc" };
        for t in tools.iter().filter(|t| **t != base) {
            let _ = write!(s, " {t} / {base} |");
        }
        s.push_str(" load before → after |\n|---:|");
        for _ in 0..tools.len() * 2 - 1 {
            s.push_str("---:|");
        }
        s.push_str("---|\n");
        for p in &self.peers {
            let platc = p.median(base).unwrap_or(f64::NAN);
            let _ = write!(s, "| {} |", p.n);
            for t in &tools {
                let _ = write!(s, " {} |", secs(p.median(t).unwrap_or(f64::NAN)));
            }
            for t in tools.iter().filter(|t| **t != base) {
                let _ = write!(s, " {} |", ratio(p.median(t).unwrap_or(f64::NAN), platc));
            }
            let _ = writeln!(s, " {} → {} |", p.load_before, p.load_after);
        }
        s.push_str(
            "\n`X / platc --out -` above 1 means platc is faster than X. `platc` writes its tree of files (3 per \
             service) into a new directory; `platc --out -` writes the same objects as one YAML stream to a file, \
             as every peer does. `tree-write` is not a tool: it writes platc's own output files again with \
             `std::fs` on one thread, in the harness's process, with no compiling: what writing this tree of \
             files alone costs on this disk.\n",
        );
        for p in &self.peers {
            let _ = write!(
                s,
                "\n{} services ({} timed rounds after a warm-up round; platc wrote {} files):\n\n| tool | median | min–max | peak RSS | CPU user + sys (one run) | check.py |\n|---|---:|---:|---:|---:|---|\n",
                p.n, p.runs, p.platc_files
            );
            for r in &p.rows {
                let _ = writeln!(
                    s,
                    "| {} | {} | {}–{} | {} | {} | {} |",
                    r.tool,
                    secs(r.sample.median()),
                    secs(r.sample.min()),
                    secs(r.sample.max()),
                    r.usage.map(|u| mib(u.rss_kib)).unwrap_or_else(|| "–".into()),
                    r.usage.as_ref().map(cpu).unwrap_or_else(|| "–".into()),
                    r.check
                );
            }
        }
        s
    }

    /// The targets of issue 5, each met, not met, or not measured here.
    pub fn targets_markdown(&self) -> String {
        let full = |n: usize| self.full.iter().find(|r| r.n == n);
        let peers = |n: usize| self.peers.iter().find(|p| p.n == n);
        let mut rows: Vec<(String, String, Option<bool>)> = Vec::new();
        let mut add = |what: &str, measured: Option<(String, bool)>| match measured {
            Some((m, ok)) => rows.push((what.into(), m, Some(ok))),
            None => rows.push((what.into(), "not measured in this run".into(), None)),
        };
        // The stream when it was measured (the peers write one), else the tree.
        let k8s = peers(1000).and_then(|p| Some((p.median(PLATC_STREAM).or_else(|| p.median("platc"))?, p)));
        add(
            "Kubernetes only, N = 1,000: at least 1.5x faster than jrsonnet",
            k8s.and_then(|(platc, p)| {
                let j = p.median("jrsonnet")?;
                Some((format!("platc {} vs jrsonnet {}: {:.2}x", secs(platc), secs(j), j / platc), j / platc >= 1.5))
            }),
        );
        add(
            "Kubernetes only, N = 1,000: within 3x of the serde_yaml floor",
            k8s.and_then(|(platc, p)| {
                let f = p.median("floor-serde")?;
                Some((format!("platc {} vs floor {}: {:.2}x", secs(platc), secs(f), platc / f), platc / f <= 3.0))
            }),
        );
        add(
            "Full build, N = 1,000: cold under 1 s",
            full(1000).map(|r| (secs(r.cold.median()), r.cold.median() < 1.0)),
        );
        add(
            "Full build, N = 1,000: no-op rebuild under 0.2 s",
            full(1000).map(|r| (secs(r.noop.median()), r.noop.median() < 0.2)),
        );
        add(
            "Full build, N = 1,000: a one-line edit on disk within 100 ms of the save (watch)",
            full(1000).map(|r| (ms(r.watch.median()), r.watch.median() < 0.1)),
        );
        add(
            "N = 10,000: cost grows no worse than linearly (cold full build, 10k/1k at most 11)",
            full(1000).zip(full(10000)).map(|(a, b)| {
                let g = b.cold.median() / a.cold.median();
                (format!("{:.2} ({} → {})", g, secs(a.cold.median()), secs(b.cold.median())), g <= 11.0)
            }),
        );
        add(
            "N = 10,000: Kubernetes only grows no worse than linearly (10k/1k at most 11)",
            peers(1000).zip(peers(10000)).and_then(|(a, b)| {
                let platc = |p: &PeerSet| p.median(PLATC_STREAM).or_else(|| p.median("platc"));
                let (x, y) = (platc(a)?, platc(b)?);
                Some((format!("{:.2} ({} → {})", y / x, secs(x), secs(y)), y / x <= 11.0))
            }),
        );
        add(
            "N = 10,000: peak memory under 1 GB (cold full build)",
            full(10000).map(|r| (mib(r.usage.rss_kib), (r.usage.rss_kib as f64) * 1024.0 < 1e9)),
        );
        let mut s = String::from("### Targets of issue 5\n\n| target | measured | |\n|---|---|---|\n");
        for (what, m, ok) in rows {
            let verdict = match ok {
                Some(true) => "met",
                Some(false) => "**not met**",
                None => "–",
            };
            let _ = writeln!(s, "| {what} | {m} | {verdict} |");
        }
        s
    }

    /// Prints the whole report and writes the JSON file if asked.
    pub fn finish(&self, o: &Options) -> Result<(), String> {
        println!("\n## Results\n\n{}", self.header());
        if !self.full.is_empty() {
            println!("{}", self.full_markdown());
        }
        if !self.peers.is_empty() {
            println!("{}", self.peers_markdown());
        }
        println!("{}", self.targets_markdown());
        println!("Load average at the end: {}.", load());
        if let Some(path) = &o.json {
            std::fs::write(path, self.json()).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        Ok(())
    }

    fn json(&self) -> String {
        let m = &self.machine;
        let full: Vec<String> = self
            .full
            .iter()
            .map(|r| {
                obj(&[
                    ("services", r.n.to_string()),
                    ("files", r.files.to_string()),
                    ("input_bytes", r.input_bytes.to_string()),
                    ("runs", r.runs.to_string()),
                    ("cold_s", sample_json(&r.cold)),
                    ("noop_s", sample_json(&r.noop)),
                    ("edit_s", sample_json(&r.edit)),
                    ("watch_s", sample_json(&r.watch)),
                    ("watch_self_ms", list(r.watch_self_ms.iter().map(|v| num(*v)))),
                    ("usage", usage_json(&r.usage)),
                    ("load_before", string(&r.load_before)),
                    ("load_after", string(&r.load_after)),
                ])
            })
            .collect();
        let peers: Vec<String> = self
            .peers
            .iter()
            .map(|p| {
                let rows = p.rows.iter().map(|r| {
                    obj(&[
                        ("tool", string(&r.tool)),
                        ("command", string(&r.command)),
                        ("seconds", sample_json(&r.sample)),
                        ("usage", r.usage.as_ref().map(usage_json).unwrap_or_else(|| "null".into())),
                        ("check", string(&r.check)),
                    ])
                });
                obj(&[
                    ("services", p.n.to_string()),
                    ("runs", p.runs.to_string()),
                    ("platc_files", p.platc_files.to_string()),
                    ("load_before", string(&p.load_before)),
                    ("load_after", string(&p.load_after)),
                    ("tools", list(rows)),
                ])
            })
            .collect();
        obj(&[
            (
                "machine",
                obj(&[
                    ("cores", m.cores.to_string()),
                    ("cpu", string(&m.cpu)),
                    ("memory_gib", num(m.memory_gib)),
                    ("kernel", string(&m.kernel)),
                ]),
            ),
            ("platc_revision", string(&self.revision)),
            ("command", string(&self.command)),
            ("load_at_start", string(&self.load_at_start)),
            ("full", list(full.into_iter())),
            ("peers", list(peers.into_iter())),
        ]) + "\n"
    }
}

fn usage_json(u: &Usage) -> String {
    obj(&[
        ("peak_rss_kib", u.rss_kib.to_string()),
        ("user_s", num(u.user_s)),
        ("sys_s", num(u.sys_s)),
        ("wall_s", num(u.wall_s)),
    ])
}

fn sample_json(s: &Sample) -> String {
    obj(&[
        ("median", num(s.median())),
        ("min", num(s.min())),
        ("max", num(s.max())),
        ("runs", list(s.runs.iter().map(|v| num(*v)))),
    ])
}

fn num(v: f64) -> String {
    if v.is_finite() { format!("{v:.6}") } else { "null".into() }
}

fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

fn obj(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}: {v}", string(k))).collect();
    format!("{{{}}}", body.join(", "))
}
