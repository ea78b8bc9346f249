//! The built binary, driven as a user would: exit codes, messages, and what
//! lands on disk.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn platc(args: &[&str], cwd: &Path) -> Output {
    // Build stamps go to a cache of the tests' own, not the user's.
    let cache = std::env::temp_dir().join(format!("platc-cli-cache-{}", std::process::id()));
    Command::new(env!("CARGO_BIN_EXE_platc"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("XDG_CACHE_HOME", cache)
        .output()
        .unwrap()
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
    for cmd in ["build", "check", "watch", "diff", "explain", "fmt", "graph", "new"] {
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
    assert!(stderr(&o).contains("nothing changed"), "{}", stderr(&o));
    assert_eq!(snapshot(&dir.join("gen")), before);

    // A generated file edited by hand is put back.
    let deployment = dir.join("gen/payments/kubernetes/production/deployment.yaml");
    let generated = fs::read_to_string(&deployment).unwrap();
    fs::write(&deployment, generated.replace("replicas", "replicaz")).unwrap();
    let o = platc(&["build"], &dir);
    assert!(stderr(&o).contains("(1 written, 0 removed"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&deployment).unwrap(), generated);

    // A file the build loaded by name counts as an input, as do the options.
    let proto = dir.join("services/payments/proto/payment.proto");
    let mut text = fs::read_to_string(&proto).unwrap();
    text.push_str("\n// changed\n");
    fs::write(&proto, text).unwrap();
    let o = platc(&["build"], &dir);
    assert!(stderr(&o).contains("built "), "{}", stderr(&o));
    let o = platc(&["build", "--target", "kubernetes"], &dir);
    assert!(stderr(&o).contains("built "), "{}", stderr(&o));
    let o = platc(&["build", "--target", "kubernetes"], &dir);
    assert!(stderr(&o).contains("nothing changed"), "{}", stderr(&o));
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

#[test]
fn check_frozen_names_each_drifted_file_and_the_fix() {
    let dir = scratch("monorepo", "frozen");
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    let o = platc(&["check", "--frozen"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    fs::write(dir.join("gen/orders/catalog-info.yaml"), "edited\n").unwrap();
    fs::remove_file(dir.join("gen/users/catalog-info.yaml")).unwrap();
    fs::write(dir.join("gen/stray.yaml"), "x: 1\n").unwrap();
    let o = platc(&["check", "--frozen"], &dir);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("gen/orders/catalog-info.yaml differs"), "{err}");
    assert!(err.contains("gen/users/catalog-info.yaml is missing"), "{err}");
    assert!(err.contains("gen/stray.yaml is not generated"), "{err}");
    assert!(err.contains("run `platc build"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn explain_shows_the_chain_and_the_policies() {
    let dir = common::examples().join("monorepo");
    let o = platc(
        &["explain", "payments", "replicas", "--env", "production", "--workspace", dir.to_str().unwrap()],
        Path::new("."),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("payments / production / replicas = 4\n"), "{out}");
    assert!(out.contains("standard-library default") && out.contains("<stdlib>/defaults.plat:"), "{out}");
    assert!(out.contains("tier `gold`"), "{out}");
    assert!(out.contains("environment block `production`  = 4   services/payments/service.plat:"), "{out}");
    assert!(out.contains("min-replicas-production (require replicas >= 2): passes in production"), "{out}");
    assert!(out.contains("min-replicas-staging (require replicas >= 2): does not apply in production"), "{out}");

    let o = platc(
        &[
            "explain",
            "orders",
            "kubernetes/HorizontalPodAutoscaler:spec.minReplicas",
            "--env",
            "production",
            "--workspace",
            dir.to_str().unwrap(),
        ],
        Path::new("."),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("generated in orders/kubernetes/production/horizontalpodautoscaler.yaml"), "{out}");
    assert!(out.contains("orders / production / replicas = 4"), "{out}");

    let o = platc(&["explain", "payments", "replicaz", "--workspace", dir.to_str().unwrap()], Path::new("."));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean `replicas`?"), "{}", stderr(&o));
}

#[test]
fn graph_prints_dot_mermaid_and_affected_services() {
    let dir = common::examples().join("monorepo");
    let dot = platc(&["graph", dir.to_str().unwrap()], Path::new("."));
    let text = String::from_utf8_lossy(&dot.stdout);
    assert!(text.starts_with("digraph \"acme\" {"), "{text}");
    assert!(text.contains("\"orders\" -> \"payments\";"), "{text}");
    let mermaid = platc(&["graph", dir.to_str().unwrap(), "--format", "mermaid"], Path::new("."));
    assert!(String::from_utf8_lossy(&mermaid.stdout).contains("orders --> payments"));
    let affected = platc(&["graph", "--affected-by", "services/users/service.plat"], &dir);
    assert_eq!(String::from_utf8_lossy(&affected.stdout), "orders\npayments\nstorefront\nusers\n");
    let all = platc(&["graph", "--affected-by", "platform.plat"], &dir);
    assert_eq!(String::from_utf8_lossy(&all.stdout).lines().count(), 7);
}

#[test]
fn new_writes_a_service_that_builds() {
    let dir = scratch("monorepo", "new");
    let o = platc(&["new", "billing", "--from", "worker", "--owner", "team-billing"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = fs::read_to_string(dir.join("services/billing/service.plat")).unwrap();
    assert!(text.contains("service billing from worker {"), "{text}");
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.join("gen/billing/kubernetes/production/deployment.yaml").is_file());
    let o = platc(&["new", "billing", "--from", "worker"], &dir);
    assert_eq!(o.status.code(), Some(2), "refuses to overwrite");
    let o = platc(&["new", "x", "--from", "web-apii"], &dir);
    assert!(stderr(&o).contains("did you mean `web-api`?"));
    fs::remove_dir_all(&dir).unwrap();
}

/// `platc diff` against a git revision: one changed line is one summary line.
#[test]
fn diff_reports_the_effect_of_a_change() {
    let dir = scratch("monorepo", "diff");
    let git = |args: &[&str]| {
        let o = Command::new("git").args(args).current_dir(&dir).output().unwrap();
        assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    git(&["init", "-q"]);
    git(&["-c", "user.email=t@example.com", "-c", "user.name=t", "add", "."]);
    git(&["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "base"]);
    let o = platc(&["diff"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));

    let svc = dir.join("services/orders/service.plat");
    fs::write(&svc, fs::read_to_string(&svc).unwrap().replace("    replicas  = 4", "    replicas  = 6")).unwrap();
    let o = platc(&["diff"], &dir);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with("orders / production\n  HorizontalPodAutoscaler orders: spec.minReplicas: 4 → 6\n"),
        "{out}"
    );
    assert!(out.contains("-  minReplicas: 4\n+  minReplicas: 6\n"), "{out}");
    let md = platc(&["diff", "--format", "markdown"], &dir);
    let item = common::markdown::Block::Item("HorizontalPodAutoscaler orders: spec.minReplicas: 4 → 6".into());
    assert!(common::markdown::view(&String::from_utf8_lossy(&md.stdout)).contains(&item));
    let json = platc(&["diff", "--format", "json"], &dir);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["files"][0]["path"], "orders/kubernetes/production/horizontalpodautoscaler.yaml");
    let o = platc(&["diff", "--base", "no-such-rev"], &dir);
    assert_eq!(o.status.code(), Some(2));
    fs::remove_dir_all(&dir).unwrap();
}

/// Issue 13, item 2: a pull request whose values try to hide its real
/// changes from the reviewer of the markdown report (end the list, claim
/// "No production changes." and comment out the rest; close the
/// `<details>`; add a heading, a fence, a link). Read back by a CommonMark
/// parser, the report has only the blocks platc writes, and every line of
/// the text report is a list item.
#[test]
fn redteam_02_markdown_diff_shows_what_a_pull_request_tries_to_hide() {
    use common::markdown::{Block, view};
    let dir = scratch("monorepo", "diff-hostile");
    let git = |args: &[&str]| {
        let o = Command::new("git").args(args).current_dir(&dir).output().unwrap();
        assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    git(&["init", "-q"]);
    git(&["-c", "user.email=t@example.com", "-c", "user.name=t", "add", "."]);
    git(&["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "base"]);
    let svc = dir.join("services/orders/service.plat");
    let edited = fs::read_to_string(&svc)
        .unwrap()
        .replace("    replicas  = 4", "    replicas  = 6")
        .replace(r#"LOG_LEVEL    = "info""#, r#"LOG_LEVEL    = "info\n\nNo production changes.\n<!--""#)
        .replace(
            r#""Order taking and fulfilment""#,
            r#""</details>\n# Approved\n```\n[docs](javascript:alert(1)) <script>x</script>""#,
        );
    fs::write(&svc, edited).unwrap();
    let o = platc(&["diff", "--format", "markdown"], &dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let md = String::from_utf8_lossy(&o.stdout).to_string();
    let blocks = view(&md);
    assert!(!blocks.iter().any(|b| matches!(b, Block::Other(_))), "{blocks:#?}\n{md}");
    let html: Vec<&Block> = blocks.iter().filter(|b| matches!(b, Block::Html(_))).collect();
    assert_eq!(
        html,
        [&Block::Html("<details><summary>Unified diff</summary>\n".into()), &Block::Html("</details>\n".into())],
        "{md}"
    );
    assert!(matches!(blocks[0], Block::Heading(3, _)), "{md}");
    assert_eq!(blocks.iter().filter(|b| matches!(b, Block::Heading(..))).count(), 1, "{md}");
    let code: Vec<&Block> = blocks.iter().filter(|b| matches!(b, Block::Code(..))).collect();
    assert!(matches!(code[..], [Block::Code(_, c)] if c.contains("-  minReplicas: 4\n+  minReplicas: 6\n")), "{md}");
    assert!(matches!(blocks.last(), Some(Block::Html(h)) if h == "</details>\n"), "{md}");
    // The list items are the text report's lines, the real change among them.
    let items: Vec<String> =
        blocks.iter().filter_map(|b| if let Block::Item(i) = b { Some(i.clone()) } else { None }).collect();
    let text = platc(&["diff"], &dir);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    let lines: Vec<String> =
        text.split("\n\n").next().unwrap().lines().filter_map(|l| l.strip_prefix("  ").map(str::to_string)).collect();
    assert_eq!(items, lines, "{md}");
    assert!(items.contains(&"HorizontalPodAutoscaler orders: spec.minReplicas: 4 → 6".to_string()), "{md}");
    assert!(items.iter().any(|i| i.ends_with(r"LOG_LEVEL: info → info\n\nNo production changes.\n<!--")), "{md}");
    fs::remove_dir_all(&dir).unwrap();
}

/// `platc watch`: builds, rebuilds on a save, keeps the last good output
/// when the input breaks, and rebuilds again when it is fixed.
#[test]
fn watch_rebuilds_on_save_and_survives_broken_input() {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let dir = scratch("monorepo", "watch");
    let mut child = Command::new(env!("CARGO_BIN_EXE_platc"))
        .args(["watch"])
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let hpa = dir.join("gen/orders/kubernetes/production/horizontalpodautoscaler.yaml");
    let wait_for = |cond: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !cond() {
            assert!(start.elapsed() < Duration::from_secs(30), "timed out");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for(&|| fs::read_to_string(&hpa).is_ok_and(|t| t.contains("minReplicas: 4")));
    std::thread::sleep(Duration::from_millis(300)); // the watcher is set up after the first build
    let svc = dir.join("services/orders/service.plat");
    let original = fs::read_to_string(&svc).unwrap();
    fs::write(&svc, original.replace("    replicas  = 4", "    replicas  = 7")).unwrap();
    wait_for(&|| fs::read_to_string(&hpa).is_ok_and(|t| t.contains("minReplicas: 7")));

    let before = fs::read_to_string(&hpa).unwrap();
    fs::write(&svc, original.replace("tier        = gold", "tier        = glod")).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(fs::read_to_string(&hpa).unwrap(), before, "broken input keeps the last good output");

    fs::write(&svc, original.clone()).unwrap();
    wait_for(&|| fs::read_to_string(&hpa).is_ok_and(|t| t.contains("minReplicas: 4")));
    child.kill().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let _ = child.wait();
    assert!(err.contains("unknown tier `glod`"), "{err}");
    assert!(err.contains("keeping the last good output"), "{err}");
    assert!(err.contains("rebuilt in"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

/// A secret written in plain text is an error whose diagnostics, in every
/// format, never show the secret.
#[test]
fn plaintext_secrets_are_refused_and_never_shown() {
    let case = common::examples().join("errors/check--plaintext_secret");
    for fmt in ["human", "short", "json", "github"] {
        let o = platc(&["check", "--message-format", fmt, case.to_str().unwrap()], Path::new("."));
        assert_eq!(o.status.code(), Some(1));
        let all = format!("{}{}", stderr(&o), String::from_utf8_lossy(&o.stdout));
        assert!(all.contains("plaintext_secret"), "{all}");
        for secret in ["hunter2", "AKIAIOSFODNN7EXAMPLE", "pasted-from-the-dashboard"] {
            assert!(!all.contains(secret), "{fmt} output shows {secret}:\n{all}");
        }
    }
    let o = platc(&["explain", "demo", "env.DATABASE_URL", "--workspace", case.to_str().unwrap()], Path::new("."));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("hunter2"));
}

/// Two builds at once: one waits for the other; the tree is whole.
#[test]
fn concurrent_builds_leave_one_whole_tree() {
    let dir = scratch("monorepo", "concurrent");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_platc"))
            .args(["build"])
            .current_dir(&dir)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!((a.status.code(), b.status.code()), (Some(0), Some(0)), "{}{}", stderr(&a), stderr(&b));
    let whole = snapshot(&dir.join("gen"));
    let reference = scratch("monorepo", "concurrent-ref");
    assert_eq!(platc(&["build"], &reference).status.code(), Some(0));
    let strip = |v: Vec<(PathBuf, Vec<u8>)>, base: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        v.into_iter().map(|(p, b)| (p.strip_prefix(base).unwrap().to_path_buf(), b)).collect()
    };
    assert_eq!(strip(whole, &dir.join("gen")), strip(snapshot(&reference.join("gen")), &reference.join("gen")));
    assert!(!dir.join(".gen.platc-lock").exists(), "the lock is released");
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_dir_all(&reference).unwrap();
}

/// A generated path through a symbolic link is refused: platc never writes
/// outside its output directory.
#[test]
#[cfg(unix)]
fn never_writes_through_a_symbolic_link() {
    let dir = scratch("lone-service", "symlink");
    let elsewhere = dir.join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::create_dir_all(dir.join("gen")).unwrap();
    fs::write(dir.join("gen/keep.txt"), "x").unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.join("gen/hello")).unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0, "nothing was written through the link");
    fs::remove_dir_all(&dir).unwrap();
}

/// Interrupted between the two renames of a swap, or leaving a lock behind
/// when killed: the next build recovers the last good tree and goes on.
#[test]
fn recovers_from_an_interrupted_swap_and_a_dead_lock() {
    let dir = scratch("lone-service", "recover");
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    fs::rename(dir.join("gen"), dir.join(".gen.platc-old")).unwrap();
    fs::write(dir.join(".gen.platc-lock"), "999999999").unwrap();
    fs::create_dir_all(dir.join(".gen.platc-new/half")).unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("(0 written, 0 removed"), "the restored tree was already up to date: {}", stderr(&o));
    assert!(!dir.join(".gen.platc-old").exists() && !dir.join(".gen.platc-new").exists());
    fs::remove_dir_all(&dir).unwrap();
}

/// A rebuild swaps in a new tree but hard-links the files that did not
/// change: their inodes (and mtimes) stay, so file watchers see only real
/// changes.
#[test]
#[cfg(unix)]
fn unchanged_files_keep_their_inode() {
    use std::os::unix::fs::MetadataExt;
    let dir = scratch("monorepo", "inode");
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    let users = dir.join("gen/users/catalog-info.yaml");
    let hpa = dir.join("gen/orders/kubernetes/production/horizontalpodautoscaler.yaml");
    let (users_ino, hpa_ino) = (fs::metadata(&users).unwrap().ino(), fs::metadata(&hpa).unwrap().ino());
    let svc = dir.join("services/orders/service.plat");
    fs::write(&svc, fs::read_to_string(&svc).unwrap().replace("    replicas  = 4", "    replicas  = 5")).unwrap();
    let o = platc(&["build"], &dir);
    assert!(stderr(&o).contains("(1 written, 0 removed"), "{}", stderr(&o));
    assert_eq!(fs::metadata(&users).unwrap().ino(), users_ino);
    assert_ne!(fs::metadata(&hpa).unwrap().ino(), hpa_ino);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fmt_formats_in_place_and_check_lists_what_it_would_change() {
    let dir = scratch("lone-service", "fmt");
    let file = dir.join("service.plat");
    let messy = "# keep me\nservice hello from web-api {\n    owner=\"team-hello\"   # and me\n  language = go\n\n\n  image = \"ghcr.io/acme/hello\"\n  version=\"1.0.3\"\n  digest = \"sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\"\n}\n";
    fs::write(&file, messy).unwrap();
    let o = platc(&["fmt", "--check"], &dir);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("service.plat"));
    assert_eq!(fs::read_to_string(&file).unwrap(), messy, "--check changes nothing");
    let o = platc(&["fmt"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let formatted = fs::read_to_string(&file).unwrap();
    assert!(formatted.contains("# keep me") && formatted.contains("# and me"), "{formatted}");
    assert!(formatted.contains("  owner    = \"team-hello\""), "{formatted}");
    assert!(!formatted.contains("\n\n\n"));
    assert_eq!(platc(&["fmt", "--check"], &dir).status.code(), Some(0), "idempotent");
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0), "still builds");
    fs::write(&file, "service {").unwrap();
    let o = platc(&["fmt"], &dir);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(fs::read_to_string(&file).unwrap(), "service {", "a file that does not parse is left alone");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn out_dash_streams_yaml_files_and_refuses_the_rest() {
    let ws = scratch("monorepo", "stream");
    let o = platc(&["build", ".", "--out", "-", "--target", "kubernetes"], &ws);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let sources = text.lines().filter(|l| l.starts_with("# Source: ")).count();
    assert!(sources > 0 && text.starts_with("---\n# Source: "), "{text}");
    assert!(text.contains("kind: Deployment"));
    assert!(!text.contains("platc-index.json"));
    // Terraform is HCL: no stream, nothing on stdout, exit 2 with a hint.
    let o = platc(&["build", ".", "--out", "-"], &ws);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("--target"), "{}", stderr(&o));
    // Only build writes a stream.
    assert_eq!(platc(&["watch", ".", "--out", "-"], &ws).status.code(), Some(2));
}
