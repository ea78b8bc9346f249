//! Every example is a fixture. `examples/<case>/` builds, and its snapshot
//! (`snapshots/examples__build@<case>.snap`) is the whole generated tree.
//! `examples/errors/<stage>--<code>/` fails with `platc::<stage>::<code>`,
//! writes nothing, and its snapshot is the sources plus the rendered
//! diagnostics. Adding a test means adding a directory.

mod common;

use std::fs;
use std::path::Path;

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(true);
    s.set_omit_expression(true);
    s
}

fn cases(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir() && e.file_name() != "errors")
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn build() {
    let root = common::examples();
    for case in cases(&root) {
        let c = common::compile(&root.join(&case));
        let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{case} must build:\n{}", common::diagnostics_text(&c));
        let mut text = String::new();
        if !c.diagnostics.is_empty() {
            text.push_str(&common::diagnostics_text(&c));
        }
        text.push_str(&common::tree_text(&c));
        settings().bind(|| insta::assert_snapshot!(format!("build@{case}"), text));
    }
}

#[test]
fn errors() {
    let root = common::examples().join("errors");
    for case in cases(&root) {
        let c = common::compile(&root.join(&case));
        let code = format!("platc::{}", case.replace("--", "::"));
        assert!(
            c.diagnostics.iter().any(|d| d.code == code),
            "{case} must report {code}; it reported:\n{}",
            common::diagnostics_text(&c)
        );
        if c.diagnostics.iter().any(|d| d.is_error()) {
            assert!(c.output.is_none(), "{case}: a failed build produces no output");
        }
        let mut text = String::new();
        let mut sources: Vec<_> = c.files.iter().filter(|(_, f)| !f.path.starts_with("<stdlib>")).collect();
        sources.sort_by(|a, b| a.1.path.cmp(&b.1.path));
        for (_, f) in sources {
            text.push_str(&format!("=== {}\n{}", f.path, f.text));
            if !f.text.ends_with('\n') {
                text.push('\n');
            }
        }
        text.push_str("=== diagnostics\n");
        text.push_str(&common::diagnostics_text(&c));
        settings().bind(|| insta::assert_snapshot!(format!("error@{case}"), text));
    }
}

/// Every diagnostic code the compiler can raise has an example in
/// `examples/errors/` (except the few that need inputs too large to keep or
/// that only a broken build of platc can reach).
#[test]
fn every_diagnostic_code_has_an_error_example() {
    const EXEMPT: &[&str] = &[
        "platc::internal",                // a bug, not an input
        "platc::parse::too_large",        // a 4 MiB file; covered by a unit test
        "platc::resolve::file_too_large", // a 1 MiB file; same limit logic
        "platc::workspace::missing",      // only if the embedded stdlib lost workspace.plat
        "platc::workspace::bad_path",     // a file name with a line break: tests/cli.rs redteam_01 makes one
        "platc::workspace::unreadable",   // links and FIFOs found on disk: tests/cli.rs redteam_22 makes them
    ];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut codes = std::collections::BTreeSet::new();
    let mut stack = vec![src];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("tests.rs") {
                let text = fs::read_to_string(&p).unwrap();
                for (i, _) in text.match_indices("\"platc::") {
                    let rest = &text[i + 1..];
                    let end = rest.find('"').unwrap();
                    let code = &rest[..end];
                    if code.matches("::").count() == 2 && !code.contains(' ') {
                        codes.insert(code.to_string());
                    }
                }
            }
        }
    }
    let have: std::collections::BTreeSet<String> =
        cases(&common::examples().join("errors")).iter().map(|c| format!("platc::{}", c.replace("--", "::"))).collect();
    let missing: Vec<_> = codes.iter().filter(|c| !have.contains(*c) && !EXEMPT.contains(&c.as_str())).collect();
    assert!(missing.is_empty(), "add an example under examples/errors/ for: {missing:?}");
}
