//! Hostile and broken input: never a panic, never output with errors.
//!
//! - the cases issue 6 names (empty files, NUL bytes, invalid UTF-8, a BOM,
//!   CRLF, unterminated constructs, absurd nesting and operator chains);
//! - every file in `tests/regressions/` (inputs the fuzzers found);
//! - a seeded mutation run over the examples' files: a fixed number of
//!   mutants, the same on every run (the real fuzzers are in `fuzz/`).

mod common;

use platc::diag::render::{Format, render};
use platc::sources::Sources;

/// Compiles `text` as a lone service; checks the invariants.
fn survive(text: &[u8]) -> platc::Compiled {
    let mut sources = Sources::new();
    sources.insert_bytes("service.plat", text.to_vec());
    sources.set_loader(Box::new(|_| Err("no such file".into())));
    let c = platc::compile(&sources, &platc::Options::default());
    if c.has_errors() {
        assert!(c.output.is_none(), "a failed build produced output");
    } else {
        assert!(c.output.is_some() || c.diagnostics.iter().any(|d| d.is_error()));
    }
    for d in &c.diagnostics {
        for f in [Format::Human, Format::Short, Format::Json, Format::Github] {
            let shown = render(d, &c.files, f, false);
            assert!(!shown.is_empty());
        }
    }
    c
}

const VALID: &str = include_str!("../examples/lone-service/service.plat");

#[test]
fn the_named_hostile_inputs() {
    let mut cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\0".to_vec(),
        b"service a {\0}".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x41],
        b"\xef\xbb\xbf".to_vec(),
        format!("\u{feff}{VALID}").into_bytes(),
        VALID.replace('\n', "\r\n").into_bytes(),
        b"service a {".to_vec(),
        b"service a { owner = \"x".to_vec(),
        b"service a { description = \"\"\"".to_vec(),
        b"service a { owner = \"${\" }".to_vec(),
        b"service a { tags = [1, 2,".to_vec(),
        b"service a { x = secret(".to_vec(),
        b"}}}]])))".to_vec(),
        b"a = \"\\u{110000}\" b = \"\\u{d800}\"".to_vec(),
        format!("a = {}", "[".repeat(100_000)).into_bytes(),
        format!("a = {}1", "not ".repeat(200_000)).into_bytes(),
        format!("policy p {{ require = {} }}", vec!["x"; 200_000].join(" and ")).into_bytes(),
        format!("service a {{ owner = \"{}\" }}", "x".repeat(5_000_000)).into_bytes(),
        format!("service {} {{ owner = \"x\" }}", "a".repeat(10_000)).into_bytes(),
    ];
    for i in (0..VALID.len()).step_by(7) {
        cases.push(VALID.as_bytes().get(..i).unwrap_or_default().to_vec()); // every truncation
    }
    for case in cases {
        let t = std::time::Instant::now();
        survive(&case);
        if std::env::var_os("PLATC_TIME").is_some() {
            eprintln!(
                "{:>6} ms {:?}",
                t.elapsed().as_millis(),
                String::from_utf8_lossy(case.get(..40.min(case.len())).unwrap_or_default())
            );
        }
    }
}

#[test]
fn every_regression_input() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "plat") {
            continue; // the README, and templates (`tests/redteam.rs` reads those)
        }
        survive(&std::fs::read(&p).unwrap());
    }
}

/// xorshift64*: a fixed, dependency-free generator, so every run mutates the
/// same way.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "\"\"\"",
    "${",
    "$${",
    "}",
    "=",
    "+=",
    "==",
    ",",
    ".",
    "#",
    "\n",
    "\r\n",
    " ",
    "\t",
    "\\",
    "\\u{",
    "not ",
    " and ",
    " in ",
    "locked ",
    "override ",
    " because ",
    "allow ",
    "patch ",
    "from ",
    "secret(",
    "file(",
    "resource postgres db { }",
    "environment production { replicas = 1 }",
    "500m",
    "99.9%",
    "-1",
    "null",
    "true",
    "\u{feff}",
    "\0",
    "é",
    "${service.name}",
    "[name=app]",
    "depends_on = [a]",
    "tier = ",
    "workload = cron",
];

#[test]
fn seeded_mutations_of_the_examples() {
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    let mut stack = vec![common::examples()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "service.plat") {
                seeds.push(std::fs::read(&p).unwrap());
            }
        }
    }
    seeds.sort();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let mut m = seeds.get(rng.below(seeds.len())).cloned().unwrap_or_default();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(m.len() + 1);
            match rng.below(5) {
                0 if !m.is_empty() => {
                    let end = (at + 1 + rng.below(20)).min(m.len());
                    m.drain(at.min(end)..end);
                }
                1 if !m.is_empty() => {
                    let i = at.min(m.len() - 1);
                    m[i] ^= 1 << rng.below(8);
                }
                2 => {
                    let other = seeds.get(rng.below(seeds.len())).cloned().unwrap_or_default();
                    let from = rng.below(other.len() + 1);
                    let len = rng.below(60).min(other.len() - from.min(other.len()));
                    let piece = other.get(from..from + len).unwrap_or_default().to_vec();
                    m.splice(at..at, piece);
                }
                _ => {
                    let t = TOKENS[rng.below(TOKENS.len())].as_bytes().to_vec();
                    m.splice(at..at, t);
                }
            }
        }
        survive(&m);
    }
}
