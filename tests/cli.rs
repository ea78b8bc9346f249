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
    common::copy(&common::examples().join(example), &dir);
    dir
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
fn a_partial_build_touches_only_its_own_files() {
    let dir = scratch("monorepo", "partial");
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    // Workflows are written where GitHub reads them: the repository root
    // (the workspace's directory here).
    let workflow = dir.join(".github/workflows/orders-ci.yml");
    assert!(!dir.join("gen/.github").exists(), "no workflow is left in gen/");
    let staging = dir.join("gen/orders/kubernetes/staging/deployment.yaml");
    let production = dir.join("gen/orders/kubernetes/production/deployment.yaml");
    assert!(workflow.is_file() && staging.is_file() && production.is_file());
    // Only kubernetes: the workflows (and every other target) stay, and stay listed.
    let o = platc(&["build", "--target", "kubernetes"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains(" 0 removed"), "{}", stderr(&o));
    assert!(workflow.is_file(), "another target's file is kept");
    let index = fs::read_to_string(dir.join("gen/platc-index.json")).unwrap();
    assert!(index.contains(".github/workflows/orders-ci.yml"), "and still listed");
    // Only staging: production's files stay as they are.
    fs::write(
        dir.join("services/orders/service.plat"),
        fs::read_to_string(dir.join("services/orders/service.plat")).unwrap().replace("cpu", "# cpu"),
    )
    .unwrap();
    let before = fs::read(&production).unwrap();
    let o = platc(&["build", "--env", "staging"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(fs::read(&production).unwrap(), before, "the other environment's file is untouched");
    assert!(stderr(&o).contains(" 0 removed"), "{}", stderr(&o));
    // A full build afterwards owns everything again.
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // --env on check and diff, and an unknown one.
    assert_eq!(platc(&["check", "--env", "staging"], &dir).status.code(), Some(0));
    let o = platc(&["check", "--frozen", "--env", "staging"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = platc(&["check", "--env", "qa"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no environment `qa`"), "{}", stderr(&o));
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

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn check_reports_in_every_message_format() {
    let case = common::examples().join("errors/check--unknown_symbol");
    let human = platc(&["check", case.to_str().unwrap()], Path::new("."));
    assert_eq!(human.status.code(), Some(1));
    assert!(stderr(&human).contains("platc::check::unknown_symbol"));
    assert!(stderr(&human).contains("did you mean `gold`?"));
    assert!(stdout(&human).is_empty(), "human reports go to standard error");

    // The machine formats go to standard output, and nothing else does.
    let short = platc(&["check", "--message-format", "short", case.to_str().unwrap()], Path::new("."));
    assert_eq!(
        stdout(&short).trim(),
        "service.plat:7:10: error[platc::check::unknown_symbol]: unknown tier `glod`; expected bronze, gold or silver (help: did you mean `gold`?)"
    );
    assert!(stderr(&short).is_empty(), "{}", stderr(&short));

    let json = platc(&["check", "--message-format", "json", case.to_str().unwrap()], Path::new("."));
    assert!(stderr(&json).is_empty(), "{}", stderr(&json));
    let v: serde_json::Value = serde_json::from_str(stdout(&json).trim()).unwrap();
    assert_eq!(v["code"], "platc::check::unknown_symbol");
    assert_eq!((v["line"].as_u64(), v["column"].as_u64()), (Some(7), Some(10)));
    assert_eq!((v["end_line"].as_u64(), v["end_column"].as_u64()), (Some(7), Some(14)));

    let gh = platc(&["check", "--message-format", "github", case.to_str().unwrap()], Path::new("."));
    assert!(stderr(&gh).is_empty(), "{}", stderr(&gh));
    assert!(
        stdout(&gh).starts_with(
            "::error file=service.plat,line=7,col=10,endLine=7,endColumn=14,title=platc%3A%3Acheck%3A%3Aunknown_symbol::"
        ),
        "{}",
        stdout(&gh)
    );
}

/// Checks one GitHub annotation line against the workflow-command syntax:
/// `::error file=F,line=L,col=C,endLine=L,endColumn=C,title=T::message`.
fn github_annotation(line: &str) -> Result<(), String> {
    let rest =
        line.strip_prefix("::error ").or_else(|| line.strip_prefix("::warning ")).ok_or("not ::error or ::warning")?;
    let (props, message) = rest.split_once("::").ok_or("no `::` before the message")?;
    if message.is_empty() || message.contains('\n') || message.contains('\r') {
        return Err("an empty or multi-line message".into());
    }
    let keys: Vec<&str> = props.split(',').map(|p| p.split_once('=').map_or("", |(k, _)| k)).collect();
    let want: &[&str] =
        if keys.len() == 1 { &["title"] } else { &["file", "line", "col", "endLine", "endColumn", "title"] };
    if keys != want {
        return Err(format!("properties {keys:?}, expected {want:?}"));
    }
    for p in props.split(',') {
        let (k, v) = p.split_once('=').ok_or("a property without `=`")?;
        if ["line", "col", "endLine", "endColumn"].contains(&k) && v.parse::<u32>().map_or(true, |n| n == 0) {
            return Err(format!("`{k}` is not a positive number"));
        }
        if v.contains([':', ',', '\n']) {
            return Err(format!("`{k}` is not escaped"));
        }
    }
    Ok(())
}

#[test]
fn machine_formats_are_json_lines_and_annotations_on_stdout() {
    // Several reports, with labels in several files.
    for case in
        ["errors/graph--cycle", "errors/policy--violation", "errors/check--unknown_dependency", "errors/emit--template"]
    {
        let dir = common::examples().join(case);
        let json = platc(&["check", "--message-format", "json", dir.to_str().unwrap()], Path::new("."));
        assert_eq!(json.status.code(), Some(1));
        assert!(stderr(&json).is_empty(), "{case}: {}", stderr(&json));
        let out = stdout(&json);
        assert!(out.ends_with('\n'));
        for line in out.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{case}: `{line}`: {e}"));
            assert!(v["code"].as_str().unwrap().starts_with("platc::"), "{line}");
            assert!(v["message"].is_string() && v["labels"].is_array() && v["places"].is_array(), "{line}");
            for l in v["labels"].as_array().unwrap() {
                assert!(l["file"].is_string() && l["end_line"].as_u64() >= l["line"].as_u64(), "{line}");
            }
        }
        let gh = platc(&["check", "--message-format", "github", dir.to_str().unwrap()], Path::new("."));
        assert!(stderr(&gh).is_empty(), "{case}: {}", stderr(&gh));
        for line in stdout(&gh).lines() {
            github_annotation(line).unwrap_or_else(|e| panic!("{case}: `{line}`: {e}"));
        }
    }
    // A cycle across three files is one report with a label in each.
    let dir = common::examples().join("errors/graph--cycle");
    let json = platc(&["check", "--message-format", "json", dir.to_str().unwrap()], Path::new("."));
    let cycle: serde_json::Value = serde_json::from_str(stdout(&json).lines().next().unwrap()).unwrap();
    let files: std::collections::BTreeSet<&str> =
        cycle["labels"].as_array().unwrap().iter().map(|l| l["file"].as_str().unwrap()).collect();
    assert_eq!(files.len(), 3, "{cycle}");

    // A build's summary stays on standard error.
    let dir = scratch("lone-service", "machine-build");
    let built = platc(&["build", "--message-format", "json"], &dir);
    assert_eq!(built.status.code(), Some(0), "{}", stderr(&built));
    assert!(stdout(&built).is_empty(), "{}", stdout(&built));
    assert!(stderr(&built).contains("built "), "{}", stderr(&built));
    fs::remove_dir_all(&dir).unwrap();
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
    // What differs: a diff from the file on disk to what platc generates.
    assert!(err.contains("-edited") && err.contains("+kind: Component"), "{err}");
    assert!(err.contains("gen/users/catalog-info.yaml is missing"), "{err}");
    // A file platc did not write: `platc build` never removes it, so say so.
    assert!(err.contains("gen/stray.yaml was not written by platc"), "{err}");
    assert!(err.contains("leaves it: delete it") && err.contains("+x: 1"), "{err}");
    assert!(err.contains("run `platc build") && err.contains("1 file platc did not write"), "{err}");
    // Following the advice makes it pass.
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    fs::remove_file(dir.join("gen/stray.yaml")).unwrap();
    let o = platc(&["check", "--frozen"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A file platc wrote and no longer generates: `platc build` removes it.
    fs::remove_dir_all(dir.join("services/reports")).unwrap();
    let o = platc(&["check", "--frozen", "--message-format", "json"], &dir);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        lines.iter().any(|v| v["message"].as_str().unwrap().contains("is not generated any more")
            && v["help"].as_str().unwrap().contains("removes it")),
        "{lines:#?}"
    );
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

    // A target of format `hcl` (the registry says so): its objects are the
    // resource bodies, by type.
    let ws = dir.to_str().unwrap();
    let o =
        platc(&["explain", "orders", "terraform/aws_db_instance:instance_class", "--workspace", ws], Path::new("."));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("generated in orders/terraform/production/orders-db.tf"), "{out}{}", stderr(&o));
    let o =
        platc(&["explain", "orders", "terrafrom/aws_db_instance:instance_class", "--workspace", ws], Path::new("."));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no target `terrafrom`; did you mean `terraform`?"), "{}", stderr(&o));
}

/// A generated value platc composed from several service values (the image
/// reference) names each of them with its file and line, and so does one
/// it derived from another (a dependency's address, from `depends_on`):
/// traced through the template (issue 15), no guess by equal text.
#[test]
fn explain_names_the_values_a_generated_value_was_composed_from() {
    let dir = common::examples().join("monorepo");
    let explain = |path: &str| {
        let o = platc(&["explain", "orders", path, "--workspace", dir.to_str().unwrap()], Path::new("."));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let out = explain("kubernetes/Deployment:spec.template.spec.containers[name=app].image");
    assert!(out.starts_with("orders / production / kubernetes/Deployment:spec.template.spec.containers[name=app].image = ghcr.io/acme/orders:3.8.0@sha256:1c168adb"), "{out}");
    assert!(
        out.contains("generated in orders/kubernetes/production/deployment.yaml by <stdlib>/templates/kubernetes/deployment.yaml.hbs\n"),
        "{out}"
    );
    assert!(
        out.contains("traced to the template value `image` (written by <stdlib>/templates/kubernetes/_container.hbs), from `image`, `version`, `digest`:"),
        "{out}"
    );
    assert!(!out.contains("not traced") && !out.contains("a guess"), "{out}");
    let image = out.find("orders / production / image = \"ghcr.io/acme/orders\"").expect(&out);
    let version = out.find("orders / production / version = \"3.8.0\"").expect(&out);
    let digest = out.find("orders / production / digest = \"sha256:1c168adb").expect(&out);
    assert!(image < version && version < digest, "{out}");
    assert!(
        out.contains(
            "standard-library default  = \"${workspace.registry}/${service.name}\"   <stdlib>/defaults.plat:9:14"
        ),
        "{out}"
    );
    assert!(
        out.contains("service                   = \"3.8.0\"   services/orders/service.plat:9:17   <- final"),
        "{out}"
    );
    assert!(out.contains("   services/orders/service.plat:10:17   <- final"), "{out}");

    let out = explain("kubernetes/ConfigMap:data.PAYMENTS_URL");
    assert!(
        out.contains("traced to the template value `config.PAYMENTS_URL` (written by <stdlib>/templates/kubernetes/configmap.yaml.hbs), from `depends_on`, service payments: port (services/payments/service.plat:14:12), service payments: protocol (<stdlib>/defaults.plat:13:14), service payments: namespace (<stdlib>/defaults.plat:50:15):"),
        "{out}"
    );
    assert!(out.contains("service  = [payments, users, inventory]   services/orders/service.plat:27:16"), "{out}");
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
    // --env: the change is in production; staging shows none.
    let o = platc(&["diff", "--env", "staging"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    let o = platc(&["diff", "--env", "production"], &dir);
    assert_eq!(o.status.code(), Some(1));
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

    // A file added by a save is written, and removed by the next.
    let queue = "  resource queue order-events { fifo = true }\n";
    let extra = dir.join("gen/orders/terraform/production/extra-events.tf");
    let with = original.replace(queue, &format!("{queue}  resource queue extra-events {{ fifo = true }}\n"));
    fs::write(&svc, with).unwrap();
    wait_for(&|| extra.exists());
    fs::write(&svc, original.clone()).unwrap();
    wait_for(&|| !extra.exists());
    assert!(dir.join("gen/orders/terraform/production/order-events.tf").exists());
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
    // What a kill between the two renames leaves: the journal naming the
    // old tree (by device and inode), the old tree beside, no output.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(dir.join("gen")).unwrap();
        let journal = format!("platc swap journal: the old tree's device:inode\n{}:{}\n", m.dev(), m.ino());
        fs::write(dir.join(".gen.platc-swap"), journal).unwrap();
    }
    fs::rename(dir.join("gen"), dir.join(".gen.platc-old")).unwrap();
    fs::write(dir.join(".gen.platc-lock"), "999999999").unwrap();
    fs::create_dir_all(dir.join(".gen.platc-new/half")).unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("restored `gen`"), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing changed"), "the restored tree was already up to date: {}", stderr(&o));
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
    // Two environments' objects share names: one stream holds one of them.
    let o = platc(&["build", ".", "--out", "-", "--target", "kubernetes"], &ws);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("--env staging"), "{}", stderr(&o));
    let o = platc(&["build", ".", "--out", "-", "--target", "kubernetes", "--env", "production"], &ws);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let sources: Vec<&str> = text.lines().filter(|l| l.starts_with("# Source: ")).collect();
    assert!(!sources.is_empty() && text.starts_with("---\n# Source: "), "{text}");
    assert!(sources.iter().all(|s| s.contains("/kubernetes/production/")), "{sources:?}");
    assert!(text.contains("kind: Deployment"));
    assert!(!text.contains("platc-index.json"));
    // An environment the workspace does not have: a usage error.
    let o = platc(&["build", ".", "--out", "-", "--target", "kubernetes", "--env", "prod"], &ws);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no environment `prod`") && stderr(&o).contains("`production`"), "{}", stderr(&o));
    // Terraform is HCL: no stream, nothing on stdout, exit 2 with a hint.
    let o = platc(&["build", ".", "--out", "-"], &ws);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("--target"), "{}", stderr(&o));
    // Only build writes a stream.
    assert_eq!(platc(&["watch", ".", "--out", "-"], &ws).status.code(), Some(2));
}

// ---------------------------------------------------------------------------
// Issue 13, the file-system side: each test is named after the red team's item.

/// A `platc` child whose standard error is collected as it comes.
#[cfg(unix)]
struct Running {
    child: std::process::Child,
    err: std::sync::Arc<std::sync::Mutex<String>>,
}

#[cfg(unix)]
impl Running {
    fn spawn(args: &[&str], cwd: &Path) -> Running {
        use std::io::Read;
        let cache = std::env::temp_dir().join(format!("platc-cli-cache-{}", std::process::id()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_platc"))
            .args(args)
            .current_dir(cwd)
            .env("NO_COLOR", "1")
            .env("XDG_CACHE_HOME", cache)
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let err = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = std::sync::Arc::clone(&err);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Running { child, err }
    }

    fn err(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Waits (up to a generous bound, as a hang guard only) until `cond`
    /// holds of what the child printed, or it exits.
    fn wait_for(&mut self, cond: impl Fn(&str) -> bool) -> bool {
        let start = std::time::Instant::now();
        loop {
            if cond(&self.err()) {
                return true;
            }
            if self.child.try_wait().unwrap().is_some() {
                std::thread::sleep(std::time::Duration::from_millis(100));
                return cond(&self.err());
            }
            assert!(start.elapsed() < std::time::Duration::from_secs(60), "timed out: {}", self.err());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn finish(&mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        (status.code(), self.err())
    }

    fn stop(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(std::time::Duration::from_millis(100));
        self.err()
    }
}

/// A failed test does not leave its `platc watch` running.
#[cfg(unix)]
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// No raw line break of `name` in `text`: the name was printed escaped.
fn no_raw(text: &str, name: &str) -> bool {
    !text.contains(name)
}

/// A service directory whose name holds line breaks is refused with a
/// diagnostic that names it escaped, in every format; nothing is written.
#[test]
#[cfg(unix)]
fn redteam_01_control_characters_in_paths_are_refused_and_escaped() {
    let dir = scratch("monorepo", "redteam01");
    let evil = "x\n---\n{apiVersion: v1, kind: Pod, metadata: {name: pwn}}\n---\n#";
    fs::create_dir_all(dir.join("services").join(evil)).unwrap();
    let svc = fs::read_to_string(common::examples().join("lone-service/service.plat")).unwrap();
    fs::write(dir.join("services").join(evil).join("service.plat"), svc).unwrap();
    for fmt in ["human", "short", "json", "github"] {
        let o = platc(&["build", "--message-format", fmt], &dir);
        assert_eq!(o.status.code(), Some(1), "{fmt}: {}", stderr(&o));
        // Machine formats are on stdout, the human one on stderr: both read.
        let err = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert!(err.contains("platc::workspace::bad_path") || err.contains("bad_path"), "{fmt}: {err}");
        assert!(no_raw(&err, evil) && !err.contains("\n---\n{apiVersion"), "{fmt} printed the raw name:\n{err}");
        let escaped = if fmt == "json" { "x\\\\n---\\\\n{apiVersion" } else { "x\\n---\\n{apiVersion" };
        assert!(err.contains(escaped), "{fmt} names the path escaped:\n{err}");
    }
    assert!(!dir.join("gen").exists(), "nothing was written");
    fs::remove_dir_all(&dir).unwrap();
}

/// `check --frozen` names files of the output directory: a name holding
/// a line break cannot start a workflow command, nor a line of its own.
#[test]
#[cfg(unix)]
fn redteam_03_frozen_escapes_file_names_in_every_format() {
    let dir = scratch("lone-service", "redteam03");
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    let evil = "x\n::stop-commands::pwn\ny";
    fs::write(dir.join("gen").join(evil), "planted").unwrap();
    let gh = platc(&["check", "--frozen", "--message-format", "github"], &dir);
    assert_eq!(gh.status.code(), Some(1));
    let out = String::from_utf8_lossy(&gh.stdout);
    assert!(out.lines().all(|l| l.starts_with("::error file=")), "{out}");
    assert!(out.contains("x\\n%3A%3Astop-commands%3A%3Apwn\\ny") || out.contains("%0A"), "{out}");
    for fmt in ["human", "short"] {
        let o = platc(&["check", "--frozen", "--message-format", fmt], &dir);
        let err = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert!(!err.lines().any(|l| l.starts_with("::stop-commands")), "{fmt}: {err}");
        assert!(err.contains("x\\n::stop-commands::pwn\\ny"), "{fmt}: {err}");
        assert!(err.contains("was not written by platc"), "{fmt}: {err}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

/// An output directory that is a link to elsewhere is refused, and nothing
/// of the link's target is touched or hard-linked; a FIFO there is refused
/// too (never opened).
#[test]
#[cfg(unix)]
fn redteam_05_output_link_or_fifo_refused() {
    use std::os::unix::fs::MetadataExt;
    let dir = scratch("lone-service", "redteam05");
    let home = std::env::temp_dir().join(format!("platc-cli-redteam05-home-{}", std::process::id()));
    let _ = fs::remove_dir_all(&home);
    fs::create_dir_all(home.join(".ssh")).unwrap();
    fs::write(home.join(".ssh/id_rsa"), "KEY").unwrap();
    std::os::unix::fs::symlink(&home, dir.join("gen")).unwrap();
    for args in [&["build"][..], &["check", "--frozen"][..]] {
        let o = platc(args, &dir);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    }
    assert_eq!(fs::metadata(home.join(".ssh/id_rsa")).unwrap().nlink(), 1, "never hard-linked");
    assert_eq!(fs::read_dir(&home).unwrap().count(), 1, "nothing written into the target");
    assert!(!dir.join(".gen.platc-new").exists());
    fs::remove_file(dir.join("gen")).unwrap();

    let fifo = Command::new("mkfifo").arg(dir.join("gen")).status().unwrap();
    assert!(fifo.success());
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a directory"), "{}", stderr(&o));
    fs::remove_file(dir.join("gen")).unwrap();
    fs::write(dir.join("gen"), "a file").unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(dir.join("gen")).unwrap(), "a file");

    // In a real output, a file platc did not write is left as it is: not
    // copied, not moved, never hard-linked.
    fs::remove_file(dir.join("gen")).unwrap();
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    fs::write(dir.join("gen/NOTES.md"), "mine").unwrap();
    let ino = fs::metadata(dir.join("gen/NOTES.md")).unwrap().ino();
    let svc = dir.join("service.plat");
    fs::write(&svc, fs::read_to_string(&svc).unwrap().replace("replicas = 3", "replicas = 4")).unwrap();
    let o = platc(&["build"], &dir);
    assert!(stderr(&o).contains("(1 written"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(dir.join("gen/NOTES.md")).unwrap(), "mine");
    assert_eq!(fs::metadata(dir.join("gen/NOTES.md")).unwrap().ino(), ino, "left where it is");
    assert_eq!(fs::metadata(dir.join("gen/NOTES.md")).unwrap().nlink(), 1, "never linked");
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_dir_all(&home).unwrap();
}

/// `watch` refuses a link in the output on the paths it writes or removes,
/// like `build`: an index entry under a linked directory deletes nothing.
#[test]
#[cfg(unix)]
fn redteam_04_watch_refuses_links_in_the_output() {
    let dir = scratch("lone-service", "redteam04");
    let victim = std::env::temp_dir().join(format!("platc-cli-redteam04-victim-{}", std::process::id()));
    let _ = fs::remove_dir_all(&victim);
    fs::create_dir_all(&victim).unwrap();
    fs::write(victim.join("id_rsa"), "KEY").unwrap();
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    let index = dir.join("gen/platc-index.json");
    let text = fs::read_to_string(&index).unwrap();
    let planted = text.replacen("\"files\": [", "\"files\": [\n    {\"path\": \"evil/id_rsa\"},", 1);
    assert_ne!(planted, text);
    fs::write(&index, planted).unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("gen/evil")).unwrap();
    // The same check in build (which used to report the entry "removed"
    // while leaving it untouched behind the link: item 24).
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("symbolic link") && !stderr(&o).contains("1 removed"), "{}", stderr(&o));
    let mut w = Running::spawn(&["watch"], &dir);
    assert!(w.wait_for(|e| e.contains("symbolic link")), "{}", w.err());
    let err = w.stop();
    assert!(err.contains("gen/evil"), "{err}");
    assert_eq!(fs::read_to_string(victim.join("id_rsa")).unwrap(), "KEY", "nothing deleted through the link");

    // The whole output a link: watch stops before reading it.
    fs::remove_dir_all(dir.join("gen")).unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("gen")).unwrap();
    let (code, err) = Running::spawn(&["watch"], &dir).finish();
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(fs::read_dir(&victim).unwrap().count(), 1);
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_dir_all(&victim).unwrap();
}

/// A committed `.gen.platc-old/` is not platc's to restore (no journal of
/// its own names it), and a committed lock file means nothing: the OS lock
/// is what serializes builds.
#[test]
#[cfg(unix)]
fn redteam_06_committed_old_tree_and_lock_are_not_trusted() {
    let dir = scratch("lone-service", "redteam06");
    fs::create_dir_all(dir.join(".gen.platc-old/hello")).unwrap();
    fs::write(dir.join(".gen.platc-old/clusterrolebinding.yaml"), "kind: ClusterRoleBinding\n").unwrap();
    fs::write(dir.join(".gen.platc-old/platc-index.json"), "{\"files\": []}").unwrap();
    // A journal cannot vouch for it either: it names another directory.
    fs::write(dir.join(".gen.platc-swap"), "platc swap journal: the old tree's device:inode\n1:1\n").unwrap();
    fs::write(dir.join(".gen.platc-lock"), "1").unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("waiting"), "{}", stderr(&o));
    assert!(!dir.join("gen/clusterrolebinding.yaml").exists(), "the planted tree was not restored");
    assert!(dir.join("gen/hello/catalog-info.yaml").is_file());
    assert!(!dir.join(".gen.platc-old").exists() && !dir.join(".gen.platc-swap").exists());
    assert!(!dir.join(".gen.platc-lock").exists(), "the lock file goes with the lock");
    fs::remove_dir_all(&dir).unwrap();
}

/// The lock is the kernel's: a build waits while another process holds it,
/// whatever the file says (a dead pid used to mean "take it over"), and
/// goes on as soon as it is released.
#[test]
#[cfg(unix)]
fn redteam_17_the_lock_is_an_os_lock() {
    let dir = scratch("lone-service", "redteam17");
    let path = dir.join(".gen.platc-lock");
    let held = fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
    held.lock().unwrap();
    fs::write(&path, "999999999").unwrap();
    let mut b = Running::spawn(&["build"], &dir);
    assert!(b.wait_for(|e| e.contains("waiting for another platc")), "{}", b.err());
    assert!(b.child.try_wait().unwrap().is_none(), "it waits: {}", b.err());
    assert!(!dir.join("gen").exists(), "nothing written while another holds the lock");
    // Released as platc releases it: the file removed, then unlocked.
    fs::remove_file(&path).unwrap();
    drop(held);
    let (code, err) = b.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(dir.join("gen/hello/catalog-info.yaml").is_file());
    fs::remove_dir_all(&dir).unwrap();
}

/// What a kill leaves at each step of a swap, and what the next run does:
/// between the two renames the old tree is put back by any command that
/// uses the output (even a build that then fails, or `check --frozen`);
/// after the second rename the old tree is deleted, never restored.
#[test]
#[cfg(unix)]
fn redteam_18_an_interrupted_swap_is_finished_by_the_next_run() {
    use std::os::unix::fs::MetadataExt;
    let dir = scratch("lone-service", "redteam18");
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    let before = snapshot(&dir.join("gen"));
    let journal = |d: &Path| {
        let m = fs::symlink_metadata(d).unwrap();
        format!("platc swap journal: the old tree's device:inode\n{}:{}\n", m.dev(), m.ino())
    };
    let killed_between_renames = || {
        fs::write(dir.join(".gen.platc-swap"), journal(&dir.join("gen"))).unwrap();
        fs::rename(dir.join("gen"), dir.join(".gen.platc-old")).unwrap();
        fs::create_dir_all(dir.join(".gen.platc-new/hello")).unwrap();
    };
    let rel = |v: Vec<(PathBuf, Vec<u8>)>, base: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        v.into_iter().map(|(p, b)| (p.strip_prefix(base).unwrap().to_path_buf(), b)).collect()
    };

    // `check --frozen` finishes it, and finds the tree up to date.
    killed_between_renames();
    let o = platc(&["check", "--frozen"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("restored"), "{}", stderr(&o));
    assert_eq!(rel(snapshot(&dir.join("gen")), &dir), rel(before.clone(), &dir));

    // So does `watch`, before its first build.
    killed_between_renames();
    let mut w = Running::spawn(&["watch"], &dir);
    assert!(w.wait_for(|e| e.contains("restored `gen`")), "{}", w.err());
    w.stop();
    assert_eq!(rel(snapshot(&dir.join("gen")), &dir), rel(before.clone(), &dir));

    // A build whose input is broken still puts the old tree back first.
    killed_between_renames();
    let svc = dir.join("service.plat");
    let good = fs::read_to_string(&svc).unwrap();
    fs::write(&svc, good.replace("tier        = silver", "tier        = glod")).unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(snapshot(&dir.join("gen")), before);
    for leftover in [".gen.platc-old", ".gen.platc-new", ".gen.platc-swap"] {
        assert!(!dir.join(leftover).exists(), "{leftover}");
    }
    fs::write(&svc, &good).unwrap();

    // Killed after the second rename (journal still there): the new tree
    // stays, the old one goes.
    fs::write(dir.join(".gen.platc-swap"), journal(&dir.join("gen"))).unwrap();
    fs::create_dir_all(dir.join(".gen.platc-old/hello")).unwrap();
    fs::write(dir.join(".gen.platc-old/hello/stale.yaml"), "old").unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!dir.join(".gen.platc-old").exists() && !dir.join("gen/hello/stale.yaml").exists());

    // Killed while deleting the old tree (no journal any more), then the
    // output lost: the partial old tree is deleted, not restored.
    fs::create_dir_all(dir.join(".gen.platc-old/hello")).unwrap();
    fs::write(dir.join(".gen.platc-old/hello/partial.yaml"), "old").unwrap();
    fs::remove_dir_all(dir.join("gen")).unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!dir.join("gen/hello/partial.yaml").exists());
    assert_eq!(rel(snapshot(&dir.join("gen")), &dir), rel(before, &dir));
    fs::remove_dir_all(&dir).unwrap();
}

/// `--out` must be absent, empty, or platc's own: not a file, not the
/// workspace, not `.`; and a refusal leaves nothing beside it.
#[test]
fn redteam_08_out_must_be_empty_or_platcs() {
    let dir = scratch("lone-service", "redteam08");
    fs::write(dir.join("notes.txt"), "mine").unwrap();
    let o = platc(&["build", ".", "--out", "notes.txt"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(dir.join("notes.txt")).unwrap(), "mine");
    let before = snapshot(&dir);
    for out in [".", dir.to_str().unwrap(), "sub/.."] {
        let o = platc(&["build", ".", "--out", out], &dir);
        assert_eq!(o.status.code(), Some(2), "--out {out}: {}", stderr(&o));
        assert!(stderr(&o).contains("not platc's output"), "{}", stderr(&o));
        assert_eq!(snapshot(&dir), before, "--out {out} changed the workspace");
    }
    let parent = dir.parent().unwrap();
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    for what in ["new", "old", "lock", "swap", "journal", "undo"] {
        assert!(!parent.join(format!(".{name}.platc-{what}")).exists(), "{what} left beside the workspace");
    }
    // An empty directory, one made ready with dotfiles, and then platc's
    // own, are fine.
    fs::create_dir_all(dir.join("ready")).unwrap();
    fs::write(dir.join("ready/.gitkeep"), "").unwrap();
    let o = platc(&["build", ".", "--out", "ready"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.join("ready/.gitkeep").is_file() && dir.join("ready/platc-index.json").is_file());
    fs::create_dir_all(dir.join("empty")).unwrap();
    assert_eq!(platc(&["build", ".", "--out", "empty"], &dir).status.code(), Some(0));
    assert_eq!(platc(&["build", ".", "--out", "empty/../empty"], &dir).status.code(), Some(0));
    fs::remove_dir_all(&dir).unwrap();
}

/// `platc new` writes only inside the workspace, never through a link, and
/// writes `--owner` as a literal string (no interpolation).
#[test]
#[cfg(unix)]
fn redteam_09_new_stays_inside_and_quotes_the_owner() {
    let dir = scratch("monorepo", "redteam09");
    let outside = dir.parent().unwrap().join(format!("platc-cli-redteam09-outside-{}", std::process::id()));
    let _ = fs::remove_dir_all(&outside);
    let escape = format!("services/../../{}", outside.file_name().unwrap().to_string_lossy());
    let o = platc(&["new", "x1", "--from", "worker", "--dir", &escape], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("outside the workspace"), "{}", stderr(&o));
    assert!(!outside.exists(), "nothing written outside the workspace");

    fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("services/x2")).unwrap();
    let o = platc(&["new", "x2", "--from", "worker"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "nothing written through the link");
    fs::remove_file(dir.join("services/x2")).unwrap();

    let o = platc(&["new", "billing", "--from", "worker", "--owner", "${workspace.repo}\"x"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = fs::read_to_string(dir.join("services/billing/service.plat")).unwrap();
    assert!(text.contains(r#"owner       = "\${workspace.repo}\"x""#), "{text}");
    let o = platc(&["explain", "billing", "owner", "--workspace", "."], &dir);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("${workspace.repo}\\\"x"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_dir_all(&outside).unwrap();
}

/// Links that stay inside the workspace are followed (a linked service.plat,
/// platform.plat, a linked overlay directory); a link out of it, or a FIFO
/// where a source would be, is an error that names it, never a silent skip.
#[test]
#[cfg(unix)]
fn redteam_22_links_inside_are_followed_and_the_rest_diagnosed() {
    use std::os::unix::fs::symlink;
    let rel = |v: Vec<(PathBuf, Vec<u8>)>, base: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        v.into_iter().map(|(p, b)| (p.strip_prefix(base).unwrap().to_path_buf(), b)).collect()
    };
    // A linked overlay directory and a linked platform.plat build the same tree.
    let plain = scratch("custom-stdlib", "redteam22-plain");
    assert_eq!(platc(&["build"], &plain).status.code(), Some(0));
    let linked = scratch("custom-stdlib", "redteam22-linked");
    fs::create_dir_all(linked.join("vendor")).unwrap();
    fs::rename(linked.join("platform"), linked.join("vendor/platform")).unwrap();
    symlink("vendor/platform", linked.join("platform")).unwrap();
    fs::rename(linked.join("platform.plat"), linked.join("vendor/platform.plat")).unwrap();
    symlink("vendor/platform.plat", linked.join("platform.plat")).unwrap();
    let o = platc(&["build"], &linked);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(rel(snapshot(&linked.join("gen")), &linked), rel(snapshot(&plain.join("gen")), &plain));

    // A linked service.plat inside the workspace is a service.
    let dir = scratch("monorepo", "redteam22");
    fs::create_dir_all(dir.join("shared")).unwrap();
    let hello = fs::read_to_string(common::examples().join("lone-service/service.plat")).unwrap();
    fs::write(dir.join("shared/hello.plat"), &hello).unwrap();
    fs::create_dir_all(dir.join("services/hello")).unwrap();
    symlink("../../shared/hello.plat", dir.join("services/hello/service.plat")).unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.join("gen/hello/catalog-info.yaml").is_file());

    // One leaving the workspace, or a FIFO: an error naming it, nothing written.
    let outside = dir.parent().unwrap().join(format!("platc-cli-redteam22-outside-{}.plat", std::process::id()));
    fs::write(&outside, hello.replace("service hello", "service outside")).unwrap();
    fs::create_dir_all(dir.join("services/outside")).unwrap();
    symlink(&outside, dir.join("services/outside/service.plat")).unwrap();
    fs::create_dir_all(dir.join("services/fifo")).unwrap();
    assert!(Command::new("mkfifo").arg(dir.join("services/fifo/service.plat")).status().unwrap().success());
    let before = snapshot(&dir.join("gen"));
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("services/outside/service.plat` is not read: it is a symbolic link to outside"), "{err}");
    assert!(err.contains("services/fifo/service.plat` is not read: it is not a regular file"), "{err}");
    assert_eq!(snapshot(&dir.join("gen")), before);
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_dir_all(&plain).unwrap();
    fs::remove_dir_all(&linked).unwrap();
    fs::remove_file(&outside).unwrap();
}

/// `file(...)` cannot reach hidden files: not by name, not through a link.
#[test]
#[cfg(unix)]
fn redteam_07_file_cannot_read_hidden_files() {
    let dir = scratch("monorepo", "redteam07");
    fs::create_dir_all(dir.join(".git")).unwrap();
    fs::write(dir.join(".git/config"), "extraheader = AUTHORIZATION: basic c2VjcmV0LXRva2Vu\n").unwrap();
    let svc = dir.join("services/users/service.plat");
    let text = fs::read_to_string(&svc).unwrap();
    fs::write(&svc, text.replace("file(\"api/openapi.yaml\")", "file(\"../../.git/config\")")).unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("platc::resolve::file_hidden"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("c2VjcmV0"), "{}", stderr(&o));
    // Through a link with an innocent name.
    std::os::unix::fs::symlink("../../../.git/config", dir.join("services/users/api/config.yaml")).unwrap();
    fs::write(&svc, text.replace("file(\"api/openapi.yaml\")", "file(\"api/config.yaml\")")).unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("hidden file or directory"), "{}", stderr(&o));
    assert!(!dir.join("gen").exists());
    fs::remove_dir_all(&dir).unwrap();
}

/// What git ignores (local settings, credentials) is out of reach of
/// `file()` too: by a `.gitignore` of the workspace or of a directory on the
/// way, as git reads them (a `!` exception in a deeper file lets it back).
#[test]
fn redteam_07_file_cannot_read_what_git_ignores() {
    let dir = scratch("monorepo", "redteam07-ignored");
    fs::write(dir.join("services/users/api/local.yaml"), "openapi: 3.0.0\ntoken: c2VjcmV0LXRva2Vu\n").unwrap();
    fs::write(dir.join(".gitignore"), "local.yaml\n").unwrap();
    let svc = dir.join("services/users/service.plat");
    let text = fs::read_to_string(&svc).unwrap();
    fs::write(&svc, text.replace("file(\"api/openapi.yaml\")", "file(\"api/local.yaml\")")).unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("git ignores it (`.gitignore`)"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("c2VjcmV0"), "{}", stderr(&o));
    assert!(!dir.join("gen").exists());
    // A deeper .gitignore's exception wins, as in git.
    fs::write(dir.join("services/users/.gitignore"), "!api/local.yaml\n").unwrap();
    fs::write(dir.join("services/users/api/local.yaml"), "openapi: 3.0.0\n").unwrap();
    let o = platc(&["check"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    fs::remove_dir_all(&dir).unwrap();
}

/// Cosmetic items: `stdlib = "."` is not "outside the workspace"; a failed
/// swap leaves no staging directory.
#[test]
fn redteam_24_stdlib_dot_is_named_for_what_it_is() {
    let dir = scratch("custom-stdlib", "redteam24");
    let ws = dir.join("platform.plat");
    let text = fs::read_to_string(&ws).unwrap();
    fs::write(&ws, text.replace("\"./platform\"", "\".\"")).unwrap();
    let o = platc(&["check"], &dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("is the workspace itself"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("outside the workspace"), "{}", stderr(&o));
    fs::remove_dir_all(&dir).unwrap();
}

/// A write that fails after its staging directory was made removes it (the
/// `--out .` case of the report is in redteam_08).
#[test]
#[cfg(unix)]
fn redteam_24_a_failed_swap_leaves_no_staging_directory() {
    let dir = scratch("lone-service", "redteam24-stage");
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    let svc = dir.join("service.plat");
    fs::write(&svc, fs::read_to_string(&svc).unwrap().replace("replicas = 3", "replicas = 4")).unwrap();
    // A file of the user's where the service's directory goes: the changed
    // files are staged when it is found.
    fs::remove_dir_all(dir.join("gen/hello")).unwrap();
    fs::write(dir.join("gen/hello"), "mine").unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is in the way"), "{}", stderr(&o));
    for leftover in [".gen.platc-new", ".gen.platc-journal", ".gen.platc-undo"] {
        assert!(!dir.join(leftover).exists(), "{leftover}");
    }
    assert_eq!(fs::read_to_string(dir.join("gen/hello")).unwrap(), "mine");
    fs::remove_dir_all(&dir).unwrap();
}

/// `watch` sees a service directory deleted and made again at once, and one
/// renamed; a process reading its output all the time does not hold its
/// rebuilds back; another process rolling the output back is noticed and
/// put right.
#[test]
#[cfg(unix)]
fn redteam_19_watch_sees_directories_readers_and_rollbacks() {
    let dir = scratch("monorepo", "redteam19");
    let hpa = dir.join("gen/orders/kubernetes/production/horizontalpodautoscaler.yaml");
    let mut w = Running::spawn(&["watch"], &dir);
    assert!(w.wait_for(|e| e.contains("watching")), "{}", w.err());
    let until = |what: &str, cond: &dyn Fn() -> bool| {
        let start = std::time::Instant::now();
        while !cond() {
            assert!(start.elapsed() < std::time::Duration::from_secs(60), "timed out waiting for {what}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };

    // A reader that never stops, in the output.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (stop, index) = (std::sync::Arc::clone(&stop), dir.join("gen/platc-index.json"));
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = fs::read(&index);
            }
        })
    };
    let svc = dir.join("services/orders/service.plat");
    let original = fs::read_to_string(&svc).unwrap();
    fs::write(&svc, original.replace("    replicas  = 4", "    replicas  = 7")).unwrap();
    until("a rebuild while the output is read", &|| {
        fs::read_to_string(&hpa).is_ok_and(|t| t.contains("minReplicas: 7"))
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();

    // Deleted and made again at once, with a change.
    let reports = dir.join("services/reports");
    let text = fs::read_to_string(reports.join("service.plat")).unwrap();
    let catalog = dir.join("gen/reports/catalog-info.yaml");
    fs::remove_dir_all(&reports).unwrap();
    fs::create_dir_all(&reports).unwrap();
    fs::write(reports.join("service.plat"), text.replacen("description = \"", "description = \"Remade: ", 1)).unwrap();
    until("the remade directory", &|| fs::read_to_string(&catalog).is_ok_and(|t| t.contains("Remade: ")));

    // Renamed.
    fs::rename(&reports, dir.join("services/reports-renamed")).unwrap();
    until("the renamed directory", &|| {
        fs::read_to_string(&catalog).is_ok_and(|t| t.contains("services/reports-renamed/service.plat"))
    });

    // Another process puts an older tree in place: watch writes its own back.
    let saved = dir.parent().unwrap().join(format!("platc-cli-redteam19-saved-{}", std::process::id()));
    let _ = fs::remove_dir_all(&saved);
    common::copy(&dir.join("gen"), &saved);
    let hpa_saved = saved.join("orders/kubernetes/production/horizontalpodautoscaler.yaml");
    fs::write(&hpa_saved, fs::read_to_string(&hpa_saved).unwrap().replace("minReplicas: 7", "minReplicas: 4")).unwrap();
    let index_saved = saved.join("platc-index.json");
    fs::write(&index_saved, fs::read_to_string(&index_saved).unwrap().replacen('{', "{ ", 1)).unwrap();
    fs::rename(dir.join("gen"), dir.join("gen-rolled")).unwrap();
    fs::rename(&saved, dir.join("gen")).unwrap();
    assert!(w.wait_for(|e| e.contains("replaced by another process")), "{}", w.err());
    assert!(fs::read_to_string(&hpa).unwrap().contains("minReplicas: 7"), "the rollback put right");
    w.stop();
    fs::remove_dir_all(&dir).unwrap();
}

// ---- Incremental writes (issue 15) -----------------------------------------

/// Every file under `dir` with its inode and modification time.
#[cfg(unix)]
fn identities(dir: &Path) -> std::collections::BTreeMap<PathBuf, (u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    snapshot(dir)
        .into_iter()
        .map(|(p, _)| {
            let m = fs::metadata(&p).unwrap();
            (p.strip_prefix(dir).unwrap().to_path_buf(), (m.ino(), m.mtime(), m.mtime_nsec()))
        })
        .collect()
}

/// A rebuild after an edit writes the files that changed and removes the
/// stale ones, and touches nothing else: every other file keeps its inode
/// and modification time. A generated file edited by hand is written again
/// (platc knows its files by the stamp's sizes and times, not by trust).
#[test]
#[cfg(unix)]
fn a_rebuild_touches_only_what_changed() {
    let dir = scratch("monorepo", "incremental");
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    let before = identities(&dir.join("gen"));
    let before_text = snapshot(&dir.join("gen"));
    let edited = dir.join("gen/users/catalog-info.yaml");
    let users = fs::read_to_string(&edited).unwrap();
    fs::write(&edited, users.replace("users", "u5ers")).unwrap();
    let svc = dir.join("services/orders/service.plat");
    fs::write(&svc, fs::read_to_string(&svc).unwrap().replace("    replicas  = 4", "    replicas  = 5")).unwrap();
    fs::remove_dir_all(dir.join("services/reports")).unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&edited).unwrap(), users, "the hand edit is undone");
    let after = identities(&dir.join("gen"));
    let reference = scratch("monorepo", "incremental-ref");
    fs::write(reference.join("services/orders/service.plat"), fs::read_to_string(&svc).unwrap()).unwrap();
    fs::remove_dir_all(reference.join("services/reports")).unwrap();
    assert_eq!(platc(&["build"], &reference).status.code(), Some(0));
    let rel = |v: Vec<(PathBuf, Vec<u8>)>, base: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        v.into_iter().map(|(p, b)| (p.strip_prefix(base).unwrap().to_path_buf(), b)).collect()
    };
    assert_eq!(
        rel(snapshot(&dir.join("gen")), &dir.join("gen")),
        rel(snapshot(&reference.join("gen")), &reference.join("gen"))
    );
    // Written: exactly the files whose text differs from the last build's
    // (and the one edited by hand).
    let old_text: std::collections::BTreeMap<PathBuf, Vec<u8>> =
        rel(before_text, &dir.join("gen")).into_iter().collect();
    let written: Vec<&PathBuf> = after.iter().filter(|(p, id)| before.get(*p) != Some(id)).map(|(p, _)| p).collect();
    let differ: Vec<&PathBuf> = rel(snapshot(&dir.join("gen")), &dir.join("gen"))
        .iter()
        .filter(|(p, b)| old_text.get(p) != Some(b) || p.ends_with("users/catalog-info.yaml"))
        .map(|(p, _)| after.keys().find(|k| *k == p).unwrap())
        .collect();
    assert_eq!(written, differ, "{}", stderr(&o));
    assert!(written.contains(&&PathBuf::from("orders/kubernetes/production/horizontalpodautoscaler.yaml")));
    assert!(written.len() < 10 && after.len() > 100, "{written:?}");
    assert!(before.keys().any(|p| p.starts_with("reports")) && !after.keys().any(|p| p.starts_with("reports")));
    assert!(!dir.join("gen/reports").exists(), "the stale directories go too");
    for leftover in [".gen.platc-new", ".gen.platc-journal", ".gen.platc-undo"] {
        assert!(!dir.join(leftover).exists(), "{leftover}");
    }
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_dir_all(&reference).unwrap();
}

/// A build stopped between any two files of its write (killed, or failing)
/// leaves the old tree or, once any later command has locked the output,
/// the old tree back: never a mix. The next build then writes the new one.
#[test]
#[cfg(unix)]
fn an_interrupted_write_leaves_the_old_tree_or_the_new() {
    let dir = scratch("monorepo", "interrupted");
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    let old = snapshot(&dir.join("gen"));
    let svc = dir.join("services/orders/service.plat");
    let good = fs::read_to_string(&svc).unwrap();
    // Files replaced (the version is in every object's labels), added (the
    // cache's Terraform) and removed (the queue's).
    let edit = good
        .replace("\"3.8.0\"", "\"3.9.0\"")
        .replace("  resource queue order-events { fifo = true }\n", "  resource redis cache { size = small }\n")
        .replace("    EVENTS_QUEUE = order-events.url\n", "");
    assert_ne!(edit, good);
    let faulty = |spec: &str| {
        let cache = std::env::temp_dir().join(format!("platc-cli-cache-{}", std::process::id()));
        Command::new(env!("CARGO_BIN_EXE_platc"))
            .args(["build"])
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .env("XDG_CACHE_HOME", cache)
            .env("PLATC_TEST_WRITE_FAULT", spec)
            .output()
            .unwrap()
    };
    fs::write(&svc, &edit).unwrap();
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let new = snapshot(&dir.join("gen"));
    assert_ne!(new, old);
    let back_to_old = |label: &str| {
        fs::write(&svc, &good).unwrap();
        let o = platc(&["build"], &dir);
        assert_eq!(o.status.code(), Some(0), "{label}: {}", stderr(&o));
        assert_eq!(snapshot(&dir.join("gen")), old, "{label}");
        fs::write(&svc, &edit).unwrap();
    };
    back_to_old("reset");
    // How many steps the write has (one per written or removed file, and
    // the index), from the journal a kill before the first leaves.
    assert_ne!(faulty("kill:0").status.code(), Some(0));
    let journal: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join(".gen.platc-journal")).unwrap()).unwrap();
    let ops = journal["ops"].as_array().unwrap();
    let steps = ops.len();
    let count = |what: &str| ops.iter().filter(|o| o.get(what).is_some()).count();
    assert!(count("replace") > 3 && count("add") > 0 && count("remove") > 0, "{journal}");
    for at in [0, 1, steps / 2, steps - 2, steps - 1] {
        // Killed before step `at`: the next command that locks the output
        // (here `check --frozen`) puts the old tree back.
        let o = faulty(&format!("kill:{at}"));
        assert_ne!(o.status.code(), Some(0), "kill:{at} {}", stderr(&o));
        assert!(dir.join(".gen.platc-journal").exists(), "kill:{at}");
        let o = platc(&["check", "--frozen"], &dir);
        assert!(stderr(&o).contains("restored `gen`"), "kill:{at}: {}", stderr(&o));
        assert_eq!(snapshot(&dir.join("gen")), old, "kill:{at}: the old tree, whole");
        for leftover in [".gen.platc-new", ".gen.platc-journal", ".gen.platc-undo"] {
            assert!(!dir.join(leftover).exists(), "kill:{at}: {leftover}");
        }
        // A step that fails: rolled back before the build returns.
        let o = faulty(&format!("error:{at}"));
        assert_eq!(o.status.code(), Some(2), "error:{at}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("injected failure") && stderr(&o).contains("nothing was changed"),
            "{}",
            stderr(&o)
        );
        assert_eq!(snapshot(&dir.join("gen")), old, "error:{at}: the old tree, whole");
        // And the next build writes the new tree.
        let o = platc(&["build"], &dir);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(snapshot(&dir.join("gen")), new, "after kill:{at}, the new tree");
        back_to_old(&format!("after {at}"));
    }
    fs::remove_dir_all(&dir).unwrap();
}

// ---- Day one (issue 11) ----------------------------------------------------

const NEW_DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// `platc pin` writes the released image into service.plat, changing only
/// the pinned values, and refuses what is not a digest or not a service.
#[test]
fn pin_writes_the_released_image_and_nothing_else() {
    let dir = scratch("monorepo", "pin");
    let file = dir.join("services/payments/service.plat");
    let before = fs::read_to_string(&file).unwrap();
    let o = platc(&["pin", "payments", "--digest", NEW_DIGEST, "--version", "sha-abc123"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let after = fs::read_to_string(&file).unwrap();
    let changed: Vec<(&str, &str)> = before.lines().zip(after.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(before.lines().count(), after.lines().count());
    assert_eq!(changed.len(), 2, "only the two pinned lines change: {changed:#?}");
    assert!(after.contains("  version = \"sha-abc123\"\n"), "{after}");
    assert!(after.contains(&format!("  digest  = \"{NEW_DIGEST}\"\n")), "alignment kept: {after}");
    // The build deploys exactly that image.
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    let deployment = fs::read_to_string(dir.join("gen/payments/kubernetes/production/deployment.yaml")).unwrap();
    assert!(deployment.contains(&format!("ghcr.io/acme/payments:sha-abc123@{NEW_DIGEST}")), "{deployment}");
    // Refusals change nothing.
    let bad = platc(&["pin", "payments", "--digest", "sha256:nothex"], &dir);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("not an image digest"), "{}", stderr(&bad));
    let unknown = platc(&["pin", "paymnts", "--digest", NEW_DIGEST], &dir);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("did you mean `payments`"), "{}", stderr(&unknown));
    assert_eq!(fs::read_to_string(&file).unwrap(), after);
    fs::remove_dir_all(&dir).unwrap();
}

/// A vendor's image is pinned like any other (by hand: no CI built it), and
/// `pin` says that the digest is all the deploy will check.
#[test]
fn pin_a_vendor_image() {
    let dir = scratch("harbor", "pin-vendor");
    let file = dir.join("services/vendor-redis/service.plat");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(
        &file,
        "service vendor-redis from web-api {\n  owner        = \"team-web\"\n  image_source = vendor\n  image        = \"docker.io/library/redis\"\n  version      = \"7.2.4\"\n  digest       = \"sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\"\n  protocol     = tcp\n  port         = 6379\n}\n",
    )
    .unwrap();
    let o = platc(&["pin", "vendor-redis", "--digest", NEW_DIGEST, "--version", "7.2.5"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("a vendor's image"), "{}", stderr(&o));
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    let deployment = fs::read_to_string(dir.join("gen/vendor-redis/kubernetes/production/deployment.yaml")).unwrap();
    assert!(deployment.contains(&format!("docker.io/library/redis:7.2.5@{NEW_DIGEST}")), "{deployment}");
    assert!(!dir.join(".github/workflows/vendor-redis-ci.yml").exists(), "nothing to build");
    fs::remove_dir_all(&dir).unwrap();
}

/// A new service's first release: `pin` adds the digest and drops the
/// waiver `platc new` wrote for "no image yet".
#[test]
fn pin_completes_a_new_service() {
    let dir = scratch("monorepo", "pin-new");
    let o = platc(&["new", "hello", "--from", "web-api", "--owner", "team-hello"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let file = dir.join("services/hello/service.plat");
    assert!(fs::read_to_string(&file).unwrap().contains("allow image-pinned"));
    // No released image yet: CI, but nothing to deploy.
    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    assert!(dir.join(".github/workflows/hello-ci.yml").is_file());
    assert!(!dir.join(".github/workflows/hello-deploy.yml").exists());
    let o = platc(&["pin", "hello", "--digest", NEW_DIGEST], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = fs::read_to_string(&file).unwrap();
    assert!(!text.contains("allow image-pinned") && text.contains(NEW_DIGEST), "{text}");
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(0), "no unused waiver, no unpinned image: {}", stderr(&o));
    assert!(dir.join(".github/workflows/hello-deploy.yml").is_file(), "the pin brings the deploy");
    fs::remove_dir_all(&dir).unwrap();
}

/// Workflows go where GitHub reads them: `.github/workflows/` of the
/// repository root (`repository_root`), with path filters relative to it;
/// a workflow platc did not write is never overwritten.
#[test]
fn workflows_are_written_at_the_repository_root() {
    let repo = std::env::temp_dir().join(format!("platc-cli-reporoot-{}", std::process::id()));
    let _ = fs::remove_dir_all(&repo);
    common::copy(&common::examples().join("monorepo"), &repo.join("platform"));
    let ws = repo.join("platform/platform.plat");
    let text = fs::read_to_string(&ws).unwrap().replacen(
        "workspace acme {",
        "workspace acme {\n  repository_root = \"..\"",
        1,
    );
    fs::write(&ws, text).unwrap();
    let o = platc(&["build"], &repo.join("platform"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ci = fs::read_to_string(repo.join(".github/workflows/orders-ci.yml")).unwrap();
    assert!(ci.contains("- \"platform/services/orders/**\""), "{ci}");
    assert!(ci.contains("working-directory: platform/services/orders"), "{ci}");
    let deploy = fs::read_to_string(repo.join(".github/workflows/orders-deploy.yml")).unwrap();
    assert!(deploy.contains("manifests: platform/gen/orders/kubernetes/production"), "{deploy}");
    assert!(deploy.contains("- \"platform/gen/orders/kubernetes/**\""), "{deploy}");
    assert!(!repo.join("platform/gen/.github").exists(), "no workflow left in gen/");
    let index = fs::read_to_string(repo.join("platform/gen/platc-index.json")).unwrap();
    assert!(index.contains("\".github/workflows/orders-ci.yml\""), "tracked by the build index");
    // In step: frozen passes; a hand edit of a workflow is drift.
    assert_eq!(platc(&["check", "--frozen"], &repo.join("platform")).status.code(), Some(0));
    fs::write(repo.join(".github/workflows/orders-ci.yml"), "edited").unwrap();
    let o = platc(&["check", "--frozen"], &repo.join("platform"));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("orders-ci.yml differs"), "{}", stderr(&o));
    // platc's own workflow (in the index) is simply rewritten.
    assert_eq!(platc(&["build"], &repo.join("platform")).status.code(), Some(0));
    assert!(fs::read_to_string(repo.join(".github/workflows/orders-ci.yml")).unwrap().contains("name: orders"));
    // The team's own workflow at a generated path is refused, not replaced.
    fs::remove_file(repo.join("platform/gen/platc-index.json")).unwrap();
    fs::remove_dir_all(repo.join("platform/gen")).unwrap();
    fs::write(repo.join(".github/workflows/users-ci.yml"), "name: ours\n").unwrap();
    let o = platc(&["build"], &repo.join("platform"));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("platc did not generate it"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(repo.join(".github/workflows/users-ci.yml")).unwrap(), "name: ours\n");
    // A workflow platc no longer generates is removed; others' stay.
    fs::remove_file(repo.join(".github/workflows/users-ci.yml")).unwrap();
    fs::write(repo.join(".github/workflows/mine.yml"), "name: mine\n").unwrap();
    assert_eq!(platc(&["build"], &repo.join("platform")).status.code(), Some(0));
    fs::remove_dir_all(repo.join("platform/services/reports")).unwrap();
    let o = platc(&["build"], &repo.join("platform"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!repo.join(".github/workflows/reports-ci.yml").exists());
    assert!(repo.join(".github/workflows/mine.yml").exists());
    fs::remove_dir_all(&repo).unwrap();
}

/// Names and label values fit whatever the service's name: a 57-character
/// web service and a 55-character cron job.
#[test]
fn long_service_names_make_names_that_fit() {
    let dir = scratch("monorepo", "longnames");
    let long_web = "orders-service-for-the-european-union-checkout-platform-a";
    let long_cron = "reports-generator-for-the-finance-and-accounting-depart";
    for (old, new) in [("orders", long_web), ("reports", long_cron)] {
        fs::rename(dir.join("services").join(old), dir.join("services").join(new)).unwrap();
    }
    for entry in fs::read_dir(dir.join("services")).unwrap() {
        let p = entry.unwrap().path().join("service.plat");
        let t = fs::read_to_string(&p).unwrap();
        let t = t
            .replace("service orders ", &format!("service {long_web} "))
            .replace("service reports ", &format!("service {long_cron} "))
            .replace("= orders.url", &format!("= {long_web}.url"))
            .replace("[orders,", &format!("[{long_web},"))
            .replace("[orders]", &format!("[{long_web}]"));
        fs::write(&p, t).unwrap();
    }
    let o = platc(&["build"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut seen = 0;
    for sub in [long_web, long_cron] {
        for env in ["staging", "production"] {
            let k8s = dir.join("gen").join(sub).join("kubernetes").join(env);
            for e in fs::read_dir(&k8s).unwrap() {
                let text = fs::read_to_string(e.unwrap().path()).unwrap();
                for doc in serde_yaml::Deserializer::from_str(&text) {
                    let v: serde_yaml::Value = serde::Deserialize::deserialize(doc).unwrap();
                    let kind = v["kind"].as_str().unwrap().to_string();
                    let name = v["metadata"]["name"].as_str().unwrap();
                    let max = if kind == "CronJob" { 52 } else { 63 };
                    assert!(name.len() <= max, "{kind} {name}");
                    for (k, val) in v["metadata"]["labels"].as_mapping().into_iter().flatten() {
                        let val = val.as_str().unwrap();
                        assert!(val.len() <= 63, "{kind} {name}: label {k:?} = {val}");
                    }
                    seen += 1;
                }
            }
        }
    }
    assert!(seen > 20);
    fs::remove_dir_all(&dir).unwrap();
}

/// Issue 15: `--target` takes the names of the standard library's registry
/// (an overlay's own target too), checked with a did-you-mean; a partial
/// build of a new target keeps every other target's files.
#[test]
fn target_names_come_from_the_registry() {
    let dir = scratch("custom-stdlib", "targets");
    fs::create_dir_all(dir.join("platform/targets")).unwrap();
    fs::create_dir_all(dir.join("platform/templates/docs")).unwrap();
    fs::write(
        dir.join("platform/targets/docs.plat"),
        "target docs {\n  per    = service\n  path   = \"<service>/docs/<file>\"\n  format = yaml\n}\n",
    )
    .unwrap();
    fs::write(dir.join("platform/templates/docs/mkdocs.yml.hbs"), "site_name: {{service.name}}\n").unwrap();
    let o = platc(&["build", "--target", "kubernets"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("unknown target `kubernets`; did you mean `kubernetes`?"), "{}", stderr(&o));
    assert!(!dir.join("gen").exists(), "nothing was written");
    let o = platc(&["build", "--target", "doc"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean `docs`?"), "{}", stderr(&o));

    assert_eq!(platc(&["build"], &dir).status.code(), Some(0));
    let mkdocs = dir.join("gen/search/docs/mkdocs.yml");
    assert!(fs::read_to_string(&mkdocs).unwrap().contains("site_name: search"));
    let deployment = dir.join("gen/search/kubernetes/production/deployment.yaml");
    fs::write(dir.join("platform/templates/docs/mkdocs.yml.hbs"), "site_name: {{concat \"docs of \" service.name}}\n")
        .unwrap();
    let o = platc(&["build", "--target", "docs"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(fs::read_to_string(&mkdocs).unwrap().contains("site_name: docs of search"));
    assert!(deployment.is_file(), "another target's file is kept");
    let index = fs::read_to_string(dir.join("gen/platc-index.json")).unwrap();
    assert!(index.contains("search/kubernetes/production/deployment.yaml") && index.contains("search/docs/mkdocs.yml"));
    // A YAML stream names the YAML targets, the new one among them.
    let o = platc(&["build", ".", "--out", "-"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--target (kubernetes, workflows, alerts, catalog, docs)"), "{}", stderr(&o));
    fs::remove_dir_all(&dir).unwrap();
}
