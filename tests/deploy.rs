//! The deploy path end to end, with no cluster: the generated deploy job's
//! `run:` steps are replayed with bash, as GitHub would run them, against a
//! fake `kubectl`, `aws`, `cosign` and `yq` on PATH that record their calls.
//! What is checked is what a cluster would see: the Namespace first, then
//! every other generated object of the service as one pruned ApplySet
//! scoped to the service's namespace (alerts, monitors and ExternalSecrets
//! included), then the waits.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

/// Builds the example into `<root>/gen`, as `platc build` does by default.
fn build(example: &str, root: &Path) {
    build_workspace(&common::examples().join(example), root);
}

fn build_workspace(workspace: &Path, root: &Path) {
    let compiled = common::compile(workspace);
    let out = compiled.output.as_ref().expect("the example builds");
    for (path, file) in &out.files {
        let p = root.join("gen").join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, &file.contents).unwrap();
    }
}

fn yaml(path: &Path) -> Value {
    serde_yaml::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// Fake tools that append one line per call (`tool arg arg ...`, with
/// KUBECTL_APPLYSET when set) to `calls.log`.
fn fake_bin(root: &Path) -> PathBuf {
    fake_bin_listing(root, &["ghcr.io/acme/example:1@sha256:0"])
}

/// The fake tools, with `yq` listing `images` as the manifests' images.
fn fake_bin_listing(root: &Path, images: &[&str]) -> PathBuf {
    let bin = root.join("fake-bin");
    fs::create_dir_all(&bin).unwrap();
    let log = root.join("calls.log");
    let record = |name: &str, extra: &str| {
        let script = format!(
            "#!/usr/bin/env bash\nprintf '%s' \"${{KUBECTL_APPLYSET:+KUBECTL_APPLYSET=$KUBECTL_APPLYSET }}{name}\" >> '{log}'\nprintf ' %s' \"$@\" >> '{log}'\necho >> '{log}'\n{extra}\n",
            log = log.display()
        );
        let p = bin.join(name);
        fs::write(&p, script).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
    };
    // `kubectl get externalsecrets -o name` lists one, so the wait runs.
    record("kubectl", r#"case " $* " in *" get "*) echo externalsecret.external-secrets.io/x;; esac"#);
    record("aws", "");
    record("cosign", "");
    let listing: String = images.iter().map(|i| format!("echo '{i}'\n")).collect();
    record("yq", &listing);
    bin
}

/// `${{ inputs.x }}` → the value the calling job passes (an input it does
/// not pass is empty, its default); `${{ inputs.x || inputs.y }}` → the
/// first that is not empty, as GitHub evaluates it.
fn substitute(text: &str, inputs: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("a closed expression") + start;
        let expr = rest[start + 3..end].trim();
        let value = expr
            .split("||")
            .map(|operand| {
                let name = operand
                    .trim()
                    .strip_prefix("inputs.")
                    .unwrap_or_else(|| panic!("an expression this test does not know: {expr}"));
                inputs.get(name).cloned().unwrap_or_default()
            })
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        out.push_str(&value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Runs the deploy job for one service and environment as the service's
/// workflow calls it; returns the recorded calls.
fn replay(root: &Path, service: &str, env: &str) -> Vec<String> {
    replay_with(root, service, env, fake_bin(root))
}

fn replay_with(root: &Path, service: &str, env: &str, bin: PathBuf) -> Vec<String> {
    let workflows = root.join("gen/.github/workflows");
    let ci = yaml(&workflows.join(format!("{service}-deploy.yml")));
    let job = &ci["jobs"][format!("deploy-{env}").as_str()];
    assert_eq!(job["uses"].as_str(), Some("./.github/workflows/platc-deploy.yml"));
    let inputs: BTreeMap<String, String> = job["with"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v.as_str().unwrap().to_string()))
        .collect();
    let deploy = yaml(&workflows.join("platc-deploy.yml"));
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let _ = fs::remove_file(root.join("calls.log"));
    for step in deploy["jobs"]["deploy"]["steps"].as_sequence().unwrap() {
        let Some(run) = step["run"].as_str() else { continue };
        if let Some(cond) = step["if"].as_str() {
            assert_eq!(cond, "inputs.workload != 'cron'", "a condition this test does not know");
            if inputs["workload"] == "cron" {
                continue;
            }
        }
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", run]).current_dir(root).env("PATH", &path);
        cmd.env("GITHUB_REPOSITORY", "acme/platform").env_remove("KUBECTL_APPLYSET");
        for (k, v) in step["env"].as_mapping().into_iter().flatten() {
            cmd.env(k.as_str().unwrap(), substitute(v.as_str().unwrap(), &inputs));
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "step {:?} failed: {}", step["name"], String::from_utf8_lossy(&out.stderr));
    }
    fs::read_to_string(root.join("calls.log")).unwrap().lines().map(str::to_string).collect()
}

fn kubectl(calls: &[String]) -> Vec<&String> {
    calls.iter().filter(|c| c.starts_with("kubectl") || c.starts_with("KUBECTL_APPLYSET")).collect()
}

#[test]
fn deploy_applies_namespace_first_then_the_whole_service_as_a_pruned_applyset() {
    let tmp = tempdir("deploy-order");
    build("monorepo", &tmp);
    let dir = "gen/payments/kubernetes/production";
    let calls = replay(&tmp, "payments", "production");
    let k = kubectl(&calls);
    assert_eq!(
        k.first().map(|s| s.as_str()),
        Some(format!("kubectl apply --server-side --field-manager=platc -f {dir}/namespace.yaml").as_str()),
        "the Namespace is applied before anything that lives in it: {k:#?}"
    );
    let apply = k.get(1).expect("a second apply");
    assert!(apply.starts_with("KUBECTL_APPLYSET=true kubectl apply --server-side"), "{apply}");
    assert!(apply.contains(" --namespace payments --applyset=platc-applyset --prune "), "{apply}");
    // Every generated file but the Namespace, alerts, monitors and secrets
    // included, is in the one pruned apply.
    let mut files: Vec<String> = fs::read_dir(tmp.join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n != "namespace.yaml")
        .collect();
    files.sort();
    for f in &files {
        assert!(apply.contains(&format!(" -f {dir}/{f}")), "{f} is not applied: {apply}");
    }
    for needed in ["prometheusrule.yaml", "servicemonitor.yaml", "externalsecret.yaml", "deployment.yaml"] {
        assert!(files.iter().any(|f| f == needed), "{needed} is generated");
    }
    assert!(!apply.contains("namespace.yaml"), "the Namespace is never in the pruned set: {apply}");
    // The prune scope: every object of the set lives in the service's
    // namespace, so pruning can touch nothing else.
    for f in &files {
        let text = fs::read_to_string(tmp.join(dir).join(f)).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v = Value::deserialize(doc).unwrap();
            assert_eq!(v["metadata"]["namespace"].as_str(), Some("payments"), "{f}");
        }
    }
    let rest: Vec<&str> = k.iter().skip(2).map(|s| s.as_str()).collect();
    assert!(
        rest.iter().any(|c| c.contains("wait --for=condition=Ready externalsecrets.external-secrets.io --all")),
        "{rest:#?}"
    );
    assert_eq!(
        rest.last().copied(),
        Some("kubectl --namespace payments rollout status deployment/payments --timeout=10m")
    );
    // Images are verified before anything is applied.
    let first_cosign = calls.iter().position(|c| c.starts_with("cosign verify")).expect("cosign verifies");
    let first_apply = calls.iter().position(|c| c.contains("kubectl apply")).unwrap();
    assert!(first_cosign < first_apply);
}

#[test]
fn a_cron_job_is_applied_without_waiting_for_a_rollout() {
    let tmp = tempdir("deploy-cron");
    build("monorepo", &tmp);
    let calls = replay(&tmp, "reports", "staging");
    let k = kubectl(&calls);
    assert!(k.iter().any(|c| c.contains("--applyset=platc-applyset --prune")));
    assert!(k.iter().all(|c| !c.contains("rollout status")), "{k:#?}");
}

/// A vendor's image (an init container's busybox in harbor's loader) is not
/// signed by the workspace's CI: the deploy checks its pin and verifies the
/// signature of every other image, an image the service does not declare
/// as a vendor's included.
#[test]
fn a_vendor_image_is_checked_for_its_pin_not_a_signature() {
    let tmp = tempdir("deploy-vendor");
    build("harbor", &tmp);
    let loader = fs::read_to_string(tmp.join("gen/loader/kubernetes/staging/deployment.yaml")).unwrap();
    let image = |name: &str| {
        loader
            .lines()
            .map(str::trim)
            .filter_map(|l| l.strip_prefix("image: "))
            .map(|i| i.trim_matches('"'))
            .find(|i| i.contains(name))
            .unwrap()
            .to_string()
    };
    let (app, busybox) = (image("/apps/loader:"), image("busybox"));
    let sneaked = "docker.io/library/busybox:1.36.1";
    let bin = fake_bin_listing(&tmp, &[&app, &busybox, sneaked]);
    let calls = replay_with(&tmp, "loader", "staging", bin);
    let verified: Vec<&String> = calls.iter().filter(|c| c.starts_with("cosign verify")).collect();
    assert_eq!(verified.len(), 2, "{verified:#?}");
    assert!(verified.iter().any(|c| c.ends_with(&format!(" {app}"))), "{verified:#?}");
    assert!(verified.iter().any(|c| c.ends_with(&format!(" {sneaked}"))), "{verified:#?}");
    assert!(!verified.iter().any(|c| c.contains(&busybox)), "{verified:#?}");
}

/// Two services sharing their team's namespace (`namespace = "shop"`, cart
/// and checkout) and a third in its own: each applies the same Namespace,
/// then its own objects as its own ApplySet in `shop`, so neither's prune
/// can delete the other's; no object is in both sets; the waits are scoped
/// to the service.
#[test]
fn services_sharing_a_namespace_deploy_as_separate_applysets() {
    let tmp = tempdir("deploy-shared-namespace");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workspaces/shared-namespace");
    build_workspace(&workspace, &tmp);
    let objects = |service: &str| -> Vec<(String, String)> {
        let dir = tmp.join(format!("gen/{service}/kubernetes/staging"));
        let mut all = Vec::new();
        for e in fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.file_name().is_some_and(|n| n == "namespace.yaml") {
                continue;
            }
            for doc in serde_yaml::Deserializer::from_str(&fs::read_to_string(&path).unwrap()) {
                let v = Value::deserialize(doc).unwrap();
                let ns = v["metadata"]["namespace"].as_str().map(str::to_string);
                let expected = if service == "mailer" { "mailer" } else { "shop" };
                assert_eq!(ns.as_deref(), Some(expected), "{}", path.display());
                let kind = v["kind"].as_str().unwrap().to_string();
                all.push((kind, v["metadata"]["name"].as_str().unwrap().to_string()));
            }
        }
        all
    };
    let (cart, checkout) = (objects("cart"), objects("checkout"));
    let clash: Vec<&(String, String)> = cart.iter().filter(|o| checkout.contains(o)).collect();
    assert!(clash.is_empty(), "objects two services of one namespace both generate: {clash:#?}");
    // Both databases are named `db`: each Secret is prefixed with its service.
    for (service, objs) in [("cart", &cart), ("checkout", &checkout)] {
        let secret = format!("{service}-db");
        assert!(objs.contains(&("ExternalSecret".to_string(), secret.clone())), "{objs:#?}");
    }
    // The same Namespace object from both (the first line is the header
    // naming the source).
    let ns = |service: &str| {
        let text = fs::read_to_string(tmp.join(format!("gen/{service}/kubernetes/staging/namespace.yaml"))).unwrap();
        text.split_once('\n').unwrap().1.to_string()
    };
    assert_eq!(ns("cart"), ns("checkout"));
    assert!(ns("cart").contains("name: shop"), "{}", ns("cart"));
    // Addresses name the namespace: a service's, and an in-cluster
    // resource's; NetworkPolicy peers select it.
    let config = |service: &str| {
        fs::read_to_string(tmp.join(format!("gen/{service}/kubernetes/staging/configmap.yaml"))).unwrap()
    };
    assert!(config("cart").contains("cart-sessions.shop.svc.cluster.local:6379"), "{}", config("cart"));
    assert!(config("checkout").contains("dns:///cart.shop.svc.cluster.local:50051"), "{}", config("checkout"));
    assert!(config("mailer").contains("dns:///cart.shop.svc.cluster.local:50051"), "{}", config("mailer"));
    let policy = fs::read_to_string(tmp.join("gen/mailer/kubernetes/staging/networkpolicy.yaml")).unwrap();
    assert!(policy.contains("kubernetes.io/metadata.name: shop"), "{policy}");
    // The SLOs, alerts and dashboards of each count its own pods' series,
    // not the whole namespace's.
    for file in ["cart/alerts/staging/rules.yaml", "cart/dashboards/dashboard.json"] {
        let text = fs::read_to_string(tmp.join("gen").join(file)).unwrap();
        assert!(text.contains("namespace='shop',pod=~'cart-[a-z0-9]+-[a-z0-9]+'"), "{file}");
        for bare in
            ["{namespace='shop'}", "{namespace='shop',le", "{namespace='shop',grpc_code", "{namespace='shop',container"]
        {
            assert!(!text.contains(bare), "{file}: a series of the whole namespace: {bare}");
        }
    }

    for (service, namespace, applyset) in [
        ("cart", "shop", "platc-applyset-cart"),
        ("checkout", "shop", "platc-applyset-checkout"),
        ("mailer", "mailer", "platc-applyset"),
    ] {
        let calls = replay(&tmp, service, "staging");
        let k = kubectl(&calls);
        let dir = format!("gen/{service}/kubernetes/staging");
        assert_eq!(
            k.first().map(|s| s.as_str()),
            Some(format!("kubectl apply --server-side --field-manager=platc -f {dir}/namespace.yaml").as_str()),
            "{k:#?}"
        );
        let apply = k.get(1).expect("a second apply");
        assert!(apply.contains(&format!(" --namespace {namespace} --applyset={applyset} --prune ")), "{apply}");
        if namespace == "shop" {
            let mine = format!(
                "--namespace shop wait --for=condition=Ready externalsecrets.external-secrets.io --selector app.kubernetes.io/name={service} "
            );
            assert!(k.iter().any(|c| c.contains(&mine)), "{k:#?}");
            assert!(k.iter().all(|c| !c.contains("--all")), "{k:#?}");
            let rollout = format!("kubectl --namespace shop rollout status deployment/{service} --timeout=10m");
            assert_eq!(k.last().map(|s| s.as_str()), Some(rollout.as_str()));
        }
    }
}

use serde::Deserialize;

fn tempdir(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("platc-test-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&p);
    fs::create_dir_all(&p).unwrap();
    p
}
