//! The built binary, driven as a user would: exit codes, messages, and what
//! lands on disk.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn platc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_platc")).args(args).current_dir(cwd).env("NO_COLOR", "1").output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A scratch copy of an example.
fn scratch(example: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("platc-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    copy(&common::examples().join(example), &dir);
    dir
}

fn copy(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        if name == "gen" {
            continue;
        }
        if p.is_dir() {
            copy(&p, &to.join(name))
        } else {
            fs::copy(&p, to.join(name)).unwrap();
        }
    }
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { stack.push(p) } else { out.push((p.clone(), fs::read(&p).unwrap())) }
        }
    }
    out.sort();
    out
}

#[test]
fn help_names_every_command() {
    let o = platc(&["--help"], Path::new("."));
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for cmd in ["build", "check"] {
        assert!(text.contains(cmd), "{text}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let o = platc(&["build", "/nonexistent/platc/path"], Path::new("."));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
    let o = platc(&["frobnicate"], Path::new("."));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn build_writes_then_rebuild_writes_nothing() {
    let dir = scratch("monorepo", "rebuild");
    let o = platc(&["build"], &dir.join("services/payments"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.join("gen/payments/kubernetes/production/deployment.yaml").is_file());
    assert!(dir.join("gen/platc-index.json").is_file());
    let before = snapshot(&dir.join("gen"));
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("(0 written, 0 removed"), "{}", stderr(&o));
    assert_eq!(snapshot(&dir.join("gen")), before);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failed_build_leaves_the_previous_output_untouched() {
    let dir = scratch("monorepo", "failed");
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    let before = snapshot(&dir.join("gen"));
    let svc = dir.join("services/orders/service.plat");
    let text = fs::read_to_string(&svc).unwrap().replace("tier        = gold", "tier        = glod");
    fs::write(&svc, text).unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("did you mean `gold`?"), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing was written"), "{}", stderr(&o));
    assert_eq!(snapshot(&dir.join("gen")), before);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn files_no_longer_produced_are_removed_and_others_kept() {
    let dir = scratch("monorepo", "stale");
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    fs::write(dir.join("gen/NOTES.md"), "mine").unwrap();
    fs::remove_dir_all(dir.join("services/reports")).unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!dir.join("gen/reports").exists(), "the removed service's files are gone");
    assert_eq!(fs::read_to_string(dir.join("gen/NOTES.md")).unwrap(), "mine", "a file platc did not write stays");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn never_overwrites_a_file_it_did_not_write() {
    let dir = scratch("lone-service", "clobber");
    fs::create_dir_all(dir.join("gen/hello")).unwrap();
    fs::write(dir.join("gen/hello/catalog-info.yaml"), "hand-written\n").unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("refusing to overwrite"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(dir.join("gen/hello/catalog-info.yaml")).unwrap(), "hand-written\n");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn check_reports_in_every_message_format() {
    let case = common::examples().join("errors/check--unknown_symbol");
    let human = platc(&["check", case.to_str().unwrap()], Path::new("."));
    assert_eq!(human.status.code(), Some(1));
    assert!(stderr(&human).contains("platc::check::unknown_symbol"));
    assert!(stderr(&human).contains("did you mean `gold`?"));

    let short = platc(&["check", "--message-format", "short", case.to_str().unwrap()], Path::new("."));
    assert_eq!(
        stderr(&short).trim(),
        "service.plat:7:10: error[platc::check::unknown_symbol]: unknown tier `glod`; expected bronze, gold or silver (help: did you mean `gold`?)"
    );

    let json = platc(&["check", "--message-format", "json", case.to_str().unwrap()], Path::new("."));
    let v: serde_json::Value = serde_json::from_str(stderr(&json).trim()).unwrap();
    assert_eq!(v["code"], "platc::check::unknown_symbol");
    assert_eq!((v["line"].as_u64(), v["column"].as_u64()), (Some(7), Some(10)));

    let gh = platc(&["check", "--message-format", "github", case.to_str().unwrap()], Path::new("."));
    assert!(
        stderr(&gh).starts_with("::error file=service.plat,line=7,col=10,title=platc%3A%3Acheck%3A%3Aunknown_symbol::"),
        "{}",
        stderr(&gh)
    );
}

#[test]
fn out_puts_the_tree_elsewhere() {
    let dir = scratch("lone-service", "out");
    let o = platc(&["build", ".", "--out", "elsewhere"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.join("elsewhere/hello/catalog-info.yaml").is_file());
    assert!(!dir.join("gen").exists());
    fs::remove_dir_all(&dir).unwrap();
}
