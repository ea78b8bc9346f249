//! Guardrails, not gates: a `patch` cannot produce what a standard-library
//! policy forbids, golden paths keep their escape hatches, and every escape
//! hatch is listed.

use platc::sources::Sources;
use platc::{Compiled, Options};

const PLATFORM: &str = r#"
workspace acme {
  registry = "ghcr.io/acme"
  services = ["services/*"]
  environment staging    { cluster = "staging-eu-1" }
  environment production { cluster = "prod-eu-1" }
}
"#;

const DIGEST: &str = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

fn service(from: &str, extra: &str) -> String {
    let schedule = if from == "cron-job" { "schedule = \"0 3 * * *\"" } else { "" };
    format!(
        "service api from {from} {{\n  owner = \"team-a\"\n  language = go\n  version = \"1.0.0\"\n  digest = \"{DIGEST}\"\n  replicas = 2\n  {schedule}\n{extra}\n}}\n"
    )
}

fn compile_with(platform: &str, service: &str) -> Compiled {
    let mut s = Sources::new();
    s.insert("platform.plat", platform);
    s.insert("services/api/service.plat", service);
    platc::compile(&s, &Options::default())
}

fn codes(c: &Compiled) -> Vec<String> {
    c.diagnostics.iter().map(|d| format!("{}: {}", d.code, d.message)).collect()
}

/// The attacks on each standard-library policy over generated objects: a
/// golden path, the object kind, and the patch body.
fn attacks(policy: &str) -> Vec<(&'static str, &'static str, String)> {
    let app = "spec.template.spec.containers[name=app]";
    let cron_app = "spec.jobTemplate.spec.template.spec.containers[name=app]";
    let init =
        format!("spec.template.spec.initContainers = [{{ name = \"init\"  image = \"ghcr.io/acme/init@{DIGEST}\" }}]");
    let d = "Deployment";
    match policy {
        "no-privileged-containers" => vec![
            ("web-api", d, format!("{app}.securityContext.privileged = true")),
            ("cron-job", "CronJob", format!("{cron_app}.securityContext.privileged = true")),
            (
                "worker",
                d,
                "spec.template.spec.initContainers = [{ name = \"x\"  securityContext = { privileged = true } }]"
                    .to_string(),
            ),
            (
                "web-api",
                d,
                format!(
                    "spec.template.spec.containers += [{{ name = \"side\"  image = \"ghcr.io/acme/side@{DIGEST}\"  securityContext = {{ privileged = true }} }}]"
                ),
            ),
        ],
        "no-added-capabilities" => vec![
            ("web-api", d, format!("{app}.securityContext.capabilities.add = [\"SYS_ADMIN\"]")),
            ("web-api", d, format!("{app}.securityContext.capabilities = {{ add = [\"NET_ADMIN\"] }}")),
        ],
        "no-host-namespaces" => vec![
            ("web-api", d, "spec.template.spec.hostNetwork = true".to_string()),
            ("web-api", d, "spec.template.spec.hostPID = true".to_string()),
            ("cron-job", "CronJob", "spec.jobTemplate.spec.template.spec.hostIPC = true".to_string()),
        ],
        "run-as-non-root" => vec![
            ("web-api", d, "spec.template.spec.securityContext.runAsNonRoot = false".to_string()),
            ("web-api", d, format!("{app}.securityContext.runAsNonRoot = false")),
            ("web-api", d, "spec.template.spec.securityContext = { runAsUser = 0 }".to_string()),
            (
                "cron-job",
                "CronJob",
                "spec.jobTemplate.spec.template.spec.securityContext.runAsNonRoot = false".to_string(),
            ),
        ],
        "no-privilege-escalation" => vec![
            ("web-api", d, format!("{app}.securityContext.allowPrivilegeEscalation = true")),
            ("web-api", d, format!("{app}.securityContext = {{ privileged = false }}")),
            ("worker", d, init.clone()),
        ],
        "image-from-registry" => vec![
            ("web-api", d, format!("{app}.image = \"docker.io/evil/miner@{DIGEST}\"")),
            ("cron-job", "CronJob", format!("{cron_app}.image = \"quay.io/x/y@{DIGEST}\"")),
        ],
        "image-pinned" => vec![
            ("web-api", d, format!("{app}.image = \"ghcr.io/acme/api:1.0.0\"")),
            (
                "worker",
                d,
                "spec.template.spec.initContainers = [{ name = \"x\"  image = \"ghcr.io/acme/x:1\" }]".to_string(),
            ),
        ],
        _ => Vec::new(),
    }
}

#[test]
fn no_patch_defeats_a_standard_library_policy() {
    // The service builds on every golden path without a patch (so that the
    // failures below are the patches' doing).
    for from in ["web-api", "worker", "cron-job"] {
        let c = compile_with(PLATFORM, &service(from, ""));
        assert!(c.output.is_some(), "{from} builds: {:#?}", codes(&c));
    }
    let library = compile_with(PLATFORM, &service("web-api", "")).library.unwrap();
    let guarded: Vec<&String> =
        library.policies.iter().filter(|(_, p)| !p.selectors.is_empty()).map(|(n, _)| n).collect();
    for name in [
        "no-privileged-containers",
        "no-host-namespaces",
        "run-as-non-root",
        "no-privilege-escalation",
        "no-added-capabilities",
        "image-from-registry",
        "image-pinned",
    ] {
        assert!(guarded.iter().any(|g| *g == name), "`{name}` is checked on the generated objects");
    }
    for name in guarded {
        let attacks = attacks(name);
        assert!(!attacks.is_empty(), "no attack written for policy `{name}`: add one");
        for (from, kind, body) in attacks {
            // With a reason, the patch applies and the policy still refuses it.
            let patch = format!("  patch kubernetes {kind} because \"I know better\" {{\n    {body}\n  }}");
            let c = compile_with(PLATFORM, &service(from, &patch));
            assert!(c.output.is_none(), "`{name}` stops `{body}` on {from}");
            let failed = c
                .diagnostics
                .iter()
                .any(|d| d.code == "platc::policy::violation" && d.message.contains(&format!("`{name}`")));
            assert!(failed, "`{name}` fails for `{body}` on {from}; got {:#?}", codes(&c));
            // Without one, the patch is refused as touching a protected path.
            let patch = format!("  patch kubernetes {kind} {{\n    {body}\n  }}");
            let c = compile_with(PLATFORM, &service(from, &patch));
            assert!(
                c.diagnostics.iter().any(|d| d.code == "platc::patch::needs_reason"),
                "`{body}` needs a reason; got {:#?}",
                codes(&c)
            );
        }
    }
}

#[test]
fn a_harmless_patch_needs_no_reason_and_every_patch_is_listed() {
    let patch = "  patch kubernetes Deployment {\n    spec.template.spec.nodeSelector = { disktype = \"ssd\" }\n  }";
    let c = compile_with(PLATFORM, &service("web-api", patch));
    assert!(c.output.is_some(), "{:#?}", codes(&c));
    let out = c.output.unwrap();
    let index = &out.files["platc-index.json"].contents;
    let v: serde_json::Value = serde_json::from_str(index).unwrap();
    let escapes = v["escapes"].as_array().unwrap();
    assert!(
        escapes
            .iter()
            .any(|e| e["kind"] == "patch" && e["what"] == "kubernetes Deployment: spec.template.spec.nodeSelector"),
        "{escapes:#?}"
    );
    let deployment = &out.files["api/kubernetes/production/deployment.yaml"].contents;
    assert!(
        deployment.contains(
            "platc.dev/patch.0: \"kubernetes Deployment: spec.template.spec.nodeSelector patched because: no reason given\""
        ),
        "{deployment}"
    );
}

#[test]
fn an_override_of_a_locked_value_is_still_the_sanctioned_departure() {
    // `override` changes the value, and the objects follow the value: the
    // policy over the objects agrees, with no waiver.
    let extra = "  override security.run_as_non_root = false because \"vendor image runs as root\"";
    let c = compile_with(PLATFORM, &service("web-api", extra));
    assert!(c.output.is_some(), "{:#?}", codes(&c));
}

#[test]
fn a_golden_path_carries_its_escape_hatches_to_every_service_on_it() {
    let platform = PLATFORM.replace("services = [", "stdlib = \"./platform\"\n  services = [");
    let mut s = Sources::new();
    s.insert("platform.plat", platform);
    s.insert(
        "platform/golden-paths/singleton.plat",
        r#"
template singleton from web-api {
  replicas = 1
  autoscale { enabled = false }
  allow min-replicas-production because "one instance by design: it holds a lease"
  allow min-replicas-staging because "one instance by design: it holds a lease"
  override security.run_as_non_root = false because "the lease tool runs as root"
  patch kubernetes Deployment { spec.strategy = { type = "Recreate" } }
}
"#,
    );
    s.insert("services/api/service.plat", service("singleton", "").replace("replicas = 2", ""));
    s.insert(
        "services/b/service.plat",
        service("singleton", "").replace("service api", "service b").replace("replicas = 2", ""),
    );
    let c = platc::compile(&s, &Options { trace: true, keep_docs: true, ..Options::default() });
    assert!(c.output.is_some(), "{:#?}", codes(&c));
    let out = c.output.as_ref().unwrap();
    for svc in ["api", "b"] {
        let deployment = &out.files[&format!("{svc}/kubernetes/production/deployment.yaml")].contents;
        assert!(deployment.contains("type: Recreate"), "{deployment}");
        assert!(deployment.contains("runAsNonRoot: false"), "{deployment}");
        assert!(deployment.contains("platc.dev/waiver.0"), "{deployment}");
    }
    let v: serde_json::Value = serde_json::from_str(&out.files["platc-index.json"].contents).unwrap();
    let from_path: Vec<&serde_json::Value> =
        v["escapes"].as_array().unwrap().iter().filter(|e| e["golden_path"] == "singleton").collect();
    // Two waivers, an override and a patch, for each of the two services.
    assert_eq!(from_path.len(), 8, "{from_path:#?}");
    let e = platc::explain::explain(&c, "api", "replicas", Some("production")).unwrap();
    let text = platc::explain::render(&e);
    assert!(text.contains("allow min-replicas-production because \"one instance by design: it holds a lease\" (from golden path `singleton`"), "{text}");
    assert!(text.contains("patch kubernetes Deployment: spec.strategy (from golden path `singleton`"), "{text}");
}

/// Each input that was accepted silently, and the code it gets now.
#[test]
fn what_was_accepted_silently_is_an_error_with_a_place() {
    let cases: &[(&str, &str, &str)] = &[
        ("web-api", "  memory = 512", "platc::check::missing_unit"),
        ("web-api", "  limits { memory = 1024 }", "platc::check::missing_unit"),
        ("cron-job", "  schedule = \"every day at 3\"", "platc::check::bad_schedule"),
        ("cron-job", "  schedule = \"0 0 3 * * *\"", "platc::check::bad_schedule"),
        ("cron-job", "  schedule = \"0 25 * * *\"", "platc::check::bad_schedule"),
        ("web-api", "  port = 8080\n  port = 9090", "platc::merge::set_twice"),
        ("web-api", "  health { liveness = \"/a\"  liveness = \"/b\" }", "platc::merge::set_twice"),
        ("worker", "  expose { host = \"x.acme.example\" }", "platc::check::not_for_workload"),
        ("cron-job", "  expose { host = \"x.acme.example\" }", "platc::check::not_for_workload"),
        ("cron-job", "  autoscale { enabled = true }", "platc::check::not_for_workload"),
        ("web-api", "  schedule = \"0 3 * * *\"", "platc::check::not_for_workload"),
        ("web-api", "  environment production { tier = gold }", "platc::resolve::misplaced"),
    ];
    for (from, extra, code) in cases {
        // (A cron service's own schedule gives way to the one tried.)
        let text = service(from, extra).replace("  schedule = \"0 3 * * *\"\n  schedule", "  schedule");
        if *code != "platc::merge::set_twice" {
            let c = compile_with(PLATFORM, &text);
            assert!(!c.diagnostics.iter().any(|d| d.code == "platc::merge::set_twice"), "{text}");
        }
        let c = compile_with(PLATFORM, &text);
        let d = c.diagnostics.iter().find(|d| d.code == *code);
        assert!(d.is_some(), "`{extra}` on {from} reports {code}; got {:#?}", codes(&c));
        assert!(d.unwrap().primary().is_some() && d.unwrap().help.is_some(), "{code} has a place and a hint");
        assert!(c.output.is_none());
    }
    // Still accepted: a schedule macro, cpu in cores, `+=` twice.
    let c = compile_with(PLATFORM, &service("cron-job", "").replace("\"0 3 * * *\"", "\"@daily\""));
    assert!(c.output.is_some(), "{:#?}", codes(&c));
    let c = compile_with(PLATFORM, &service("web-api", "  cpu = 1\n  tags += [\"a\"]\n  tags += [\"b\"]"));
    assert!(c.output.is_some(), "{:#?}", codes(&c));
}

#[test]
fn an_empty_service_file_is_an_error() {
    let mut s = Sources::new();
    s.insert("platform.plat", PLATFORM);
    s.insert("services/api/service.plat", service("web-api", ""));
    s.insert("services/b/service.plat", "# nothing yet\n");
    let c = platc::compile(&s, &Options::default());
    let d = c.diagnostics.iter().find(|d| d.code == "platc::resolve::empty_service_file").unwrap();
    assert!(d.is_error());
    assert!(c.output.is_none());
}

#[test]
fn a_service_with_no_golden_path_builds_and_one_with_no_language_is_told_why() {
    let c = compile_with(PLATFORM, &service("web-api", "").replace(" from web-api", ""));
    assert!(c.output.is_some(), "{:#?}", codes(&c));
    let catalog = &c.output.as_ref().unwrap().files["api/catalog-info.yaml"].contents;
    assert!(!catalog.contains("golden-path"), "{catalog}");
    let c = compile_with(PLATFORM, &service("web-api", "").replace("  language = go\n", ""));
    let d = c.diagnostics.iter().find(|d| d.code == "platc::emit::needs_language");
    assert!(d.is_some_and(|d| d.help.as_deref().unwrap_or("").contains("ci.yml.hbs")), "{:#?}", codes(&c));
    // Without the workflows, nothing needs the language.
    let mut s = Sources::new();
    s.insert("platform.plat", PLATFORM);
    s.insert("services/api/service.plat", service("web-api", "").replace("  language = go\n", ""));
    let options = Options { targets: vec!["kubernetes".into()], ..Options::default() };
    assert!(platc::compile(&s, &options).output.is_some());
}

#[test]
fn limits_not_set_follow_the_requests_and_limits_set_are_taken_as_written() {
    let c = compile_with(PLATFORM, &service("web-api", "  memory = 1Gi\n  cpu = 2"));
    assert!(c.output.is_some(), "{:#?}", codes(&c));
    let deployment = &c.output.as_ref().unwrap().files["api/kubernetes/production/deployment.yaml"].contents;
    assert!(deployment.contains("limits:\n              cpu: \"2\"\n              memory: 1Gi"), "{deployment}");
    // Below the default limit, the default limit stays.
    let c = compile_with(PLATFORM, &service("web-api", "  memory = 128Mi"));
    let deployment = &c.output.as_ref().unwrap().files["api/kubernetes/production/deployment.yaml"].contents;
    assert!(deployment.contains("memory: 512Mi"), "{deployment}");
    // A limit the service sets is its own, and must cover the request.
    let c = compile_with(PLATFORM, &service("web-api", "  memory = 1Gi\n  limits { memory = 512Mi }"));
    assert!(c.diagnostics.iter().any(|d| d.message.contains("limits-cover-requests")), "{:#?}", codes(&c));
}

#[test]
fn one_root_cause_gives_one_error() {
    // A syntax error in one service: no "unknown dependency" in its callers.
    let mut s = Sources::new();
    s.insert("platform.plat", PLATFORM);
    s.insert("services/users/service.plat", "service users from web-api {\n  owner = = \"x\"\n}\n");
    s.insert("services/api/service.plat", service("web-api", "  depends_on = [users]"));
    s.insert(
        "services/web/service.plat",
        service("web-api", "  depends_on = [users]").replace("service api", "service web"),
    );
    let c = platc::compile(&s, &Options::default());
    assert_eq!(c.diagnostics.len(), 1, "{:#?}", codes(&c));
    assert_eq!(c.diagnostics[0].code, "platc::parse::syntax");

    // A platform.plat that does not parse: its error alone, not one per
    // service resolved in a workspace it did not mean.
    let mut s = Sources::new();
    s.insert("platform.plat", PLATFORM.replace("registry =", "registry = ="));
    s.insert("services/api/service.plat", service("web-api", ""));
    s.insert("services/web/service.plat", service("web-api", "").replace("service api", "service web"));
    let c = platc::compile(&s, &Options::default());
    assert_eq!(c.diagnostics.len(), 1, "{:#?}", codes(&c));
    assert_eq!(c.files.path(c.diagnostics[0].primary().unwrap().file), "platform.plat");

    // No registry: one error at the workspace, listing the services.
    let platform = PLATFORM.replace("  registry = \"ghcr.io/acme\"\n", "");
    let mut s = Sources::new();
    s.insert("platform.plat", platform);
    s.insert("services/api/service.plat", service("web-api", ""));
    s.insert("services/web/service.plat", service("web-api", "").replace("service api", "service web"));
    let c = platc::compile(&s, &Options::default());
    assert_eq!(c.diagnostics.len(), 1, "{:#?}", codes(&c));
    let d = &c.diagnostics[0];
    assert_eq!(c.files.path(d.primary().unwrap().file), "platform.plat");
    assert_eq!(d.places, ["`api`", "`web`"]);

    // A policy failing in both environments: one report naming both.
    let c = compile_with(PLATFORM, &service("web-api", "").replace("\"1.0.0\"", "\"latest\""));
    let failing: Vec<_> = c.diagnostics.iter().filter(|d| d.message.contains("image-no-latest")).collect();
    assert_eq!(failing.len(), 1, "{:#?}", codes(&c));
    assert_eq!(failing[0].places, ["`api` in staging", "`api` in production"]);
}

#[test]
fn one_environment_is_checked_and_built_alone() {
    let extra = "  environment staging { replicas = 1 }\n  allow min-replicas-staging because \"smoke tests only\"";
    let mut s = Sources::new();
    s.insert("platform.plat", PLATFORM);
    s.insert("services/api/service.plat", service("web-api", extra));
    for env in [None, Some("staging"), Some("production")] {
        let options = Options { env: env.map(str::to_string), ..Options::default() };
        let c = platc::compile(&s, &options);
        // The waiver is for staging: not "unused" when only production is checked.
        assert!(c.diagnostics.is_empty(), "{env:?}: {:#?}", codes(&c));
        let out = c.output.unwrap();
        let envs: std::collections::BTreeSet<Option<&str>> =
            out.files.values().map(|f| f.environment.as_deref()).collect();
        match env {
            None => assert!(envs.contains(&Some("staging")) && envs.contains(&Some("production"))),
            Some(e) => assert_eq!(envs, [None, Some(e)].into_iter().collect(), "{env:?}"),
        }
        assert!(out.files.contains_key("api/catalog-info.yaml"), "environment-independent files are built");
    }
}

#[test]
fn the_platform_says_what_each_workload_does_not_use_and_how_strictly() {
    // The standard library's schema, with worker's list made warnings.
    let schema = include_str!("../stdlib/schema.plat")
        .replace("workload worker {\n", "workload worker {\n  severity = warning\n");
    let platform = PLATFORM.replace("services = [", "stdlib = \"./platform\"\n  services = [");
    let mut s = Sources::new();
    s.insert("platform.plat", platform);
    s.insert("platform/schema.plat", schema);
    s.insert("services/api/service.plat", service("worker", "  expose { host = \"x.acme.example\" }"));
    let c = platc::compile(&s, &Options::default());
    let d = c.diagnostics.iter().find(|d| d.code == "platc::check::not_for_workload").expect("reported");
    assert!(!d.is_error() && d.message.contains("nothing would route"), "{d:?}");
    assert!(c.output.is_some(), "{:#?}", codes(&c));
}
