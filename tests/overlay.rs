//! Overlays extend the standard library by declaration (issue 14, item 8):
//! an overlay file of its own name adds schema attributes, changes single
//! defaults and adds templates at extension points, and everything it did
//! not change keeps following the embedded library, upgrades included.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::output_file as file;
use platc::sources::{Sources, embedded_stdlib};
use platc::{Compiled, Options};

fn custom_stdlib() -> Sources {
    common::load(&common::examples().join("custom-stdlib"))
}

fn codes(c: &Compiled) -> Vec<&str> {
    c.diagnostics.iter().map(|d| d.code).collect()
}

/// The embedded library with `path` changed by `edit`.
fn upgraded(path: &str, edit: impl Fn(&str) -> String) -> BTreeMap<String, Arc<str>> {
    let mut lib = embedded_stdlib();
    let old = lib.get(path).unwrap_or_else(|| panic!("no embedded {path}")).to_string();
    let new = edit(&old);
    assert_ne!(old, new, "the edit changes {path}");
    lib.insert(path.to_string(), Arc::from(new));
    lib
}

/// The "Done means" test: a change to an embedded template that the
/// overlay of examples/custom-stdlib does not touch reaches its output
/// (with the old example, which copied deployment.yaml.hbs, it did not).
#[test]
fn an_upgrade_of_an_embedded_template_reaches_the_overlay_workspace() {
    let before = platc::compile(&custom_stdlib(), &Options::default());
    let deployment = "search/kubernetes/production/deployment.yaml";
    assert!(!file(&before, deployment).contains("revisionHistoryLimit: 7"));

    let mut sources = custom_stdlib();
    sources.set_stdlib(upgraded("templates/kubernetes/deployment.yaml.hbs", |t| {
        t.replace("revisionHistoryLimit: 5", "revisionHistoryLimit: 7")
    }));
    let after = platc::compile(&sources, &Options::default());
    let text = file(&after, deployment);
    assert!(text.contains("revisionHistoryLimit: 7"), "{text}");
    // And the overlay's own additions are still there.
    assert!(text.contains("globex.example/cost-center: CC-4410"), "{text}");
    assert!(text.contains("topologySpreadConstraints"), "{text}");
    assert!(!after.diagnostics.iter().any(|d| d.code == "platc::library::replaced"), "{:?}", codes(&after));

    // An upgraded default the overlay did not change reaches it too.
    let mut sources = custom_stdlib();
    sources.set_stdlib(upgraded("defaults.plat", |t| t.replace("cpu      = 250m", "cpu      = 300m")));
    let after = platc::compile(&sources, &Options::default());
    assert!(file(&after, deployment).contains("cpu: 300m"));
}

/// A file that replaces an embedded one by path (the eject path) keeps
/// working, says so in a warning, and no longer receives upgrades.
#[test]
fn a_replaced_file_warns_and_keeps_its_own_text() {
    let mut sources = custom_stdlib();
    let embedded = embedded_stdlib();
    let deployment = embedded.get("templates/kubernetes/deployment.yaml.hbs").unwrap().to_string();
    sources.insert("platform/templates/kubernetes/deployment.yaml.hbs", deployment);
    sources.set_stdlib(upgraded("templates/kubernetes/deployment.yaml.hbs", |t| {
        t.replace("revisionHistoryLimit: 5", "revisionHistoryLimit: 7")
    }));
    let c = platc::compile(&sources, &Options::default());
    let d = c.diagnostics.iter().find(|d| d.code == "platc::library::replaced").expect("a warning");
    assert!(!d.is_error());
    assert!(d.message.contains("platform/templates/kubernetes/deployment.yaml.hbs"), "{}", d.message);
    assert!(file(&c, "search/kubernetes/production/deployment.yaml").contains("revisionHistoryLimit: 5"));
}

#[test]
fn an_overlay_default_changes_that_default_alone_with_the_overlay_as_origin() {
    let options = Options { trace: true, keep_docs: true, ..Options::default() };
    let c = platc::compile(&custom_stdlib(), &options);
    assert!(c.output.is_some(), "{}", common::diagnostics_text(&c));
    let e = platc::explain::explain(&c, "recommendations", "replicas", Some("staging")).unwrap();
    assert_eq!(e.value, "3");
    let last = e.chain.last().unwrap();
    assert_eq!(last.layer, "overlay default");
    assert!(last.place.starts_with("platform/defaults/globex.plat:"), "{last:?}");
    assert!(e.chain.first().unwrap().place.starts_with("<stdlib>/defaults.plat:"), "{:?}", e.chain);
    // Every other default is the embedded one.
    let e = platc::explain::explain(&c, "recommendations", "cpu", Some("staging")).unwrap();
    assert_eq!(e.chain.len(), 1, "{:?}", e.chain);
    assert!(e.chain[0].place.starts_with("<stdlib>/defaults.plat:"), "{:?}", e.chain);
}

/// A small workspace with an overlay directory holding `files`.
fn overlay(files: &[(&str, &str)], service_extra: &str) -> Compiled {
    platc::compile(&overlay_sources(files, service_extra), &Options::default())
}

fn overlay_sources(files: &[(&str, &str)], service_extra: &str) -> Sources {
    let mut sources = Sources::new();
    sources.insert(
        "platform.plat",
        r#"workspace w {
  registry = "ghcr.io/w"
  repo     = "w/w"
  stdlib   = "./platform"
  environment staging {}
  environment production {}
}
"#,
    );
    sources.insert(
        "services/api/service.plat",
        format!(
            r#"service api from web-api {{
  owner    = "team-a"
  language = go
  version  = "1.0.0"
  digest   = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
{service_extra}
}}
"#
        ),
    );
    for (p, t) in files {
        sources.insert(format!("platform/{p}"), *t);
    }
    sources
}

#[test]
fn an_overlay_schema_block_adds_attributes_and_nested_fields() {
    let schema = "schema service {\n  cost_center = string\n  health {\n    grace = duration\n  }\n}\n";
    let c = overlay(&[("schema/extra.plat", schema)], "  cost_center = \"CC-1\"\n  health { grace = 5s }");
    assert!(c.output.is_some(), "{}", common::diagnostics_text(&c));
    // The embedded attributes are all still there (health keeps its own).
    let c = overlay(&[("schema/extra.plat", schema)], "  health { liveness = \"/live\" }");
    assert!(c.output.is_some(), "{}", common::diagnostics_text(&c));
    // Any schema: an environment attribute.
    let c = overlay(&[("schema/env.plat", "schema environment {\n  region = string\n}\n")], "");
    assert!(c.output.is_some(), "{}", common::diagnostics_text(&c));
    // Without the overlay, the attribute is unknown.
    let c = overlay(&[], "  cost_center = \"CC-1\"");
    assert!(codes(&c).contains(&"platc::check::unknown_attribute"), "{:?}", codes(&c));
}

#[test]
fn redeclaring_a_schema_attribute_is_an_error_unless_it_says_override() {
    let c = overlay(&[("schema/extra.plat", "schema service {\n  port = string\n}\n")], "");
    let d = c.diagnostics.iter().find(|d| d.code == "platc::library::redeclared").expect("redeclared");
    assert!(d.is_error());
    assert_eq!(d.labels.len(), 2, "the overlay's and the embedded declaration: {d:?}");
    assert_eq!(c.files.path(d.labels[0].span.file), "platform/schema/extra.plat");
    assert_eq!(c.files.path(d.labels[1].span.file), "<stdlib>/schema.plat");
    assert!(d.help.as_deref().unwrap().contains("override port"), "{d:?}");
    assert!(c.output.is_none());

    // Said explicitly, the type changes.
    let c = overlay(
        &[("schema/extra.plat", "schema service {\n  override tags = list(string) because \"free-form tags\"\n}\n")],
        "  tags = [\"Not A Tag!\"]",
    );
    assert!(c.output.is_some(), "{}", common::diagnostics_text(&c));
    // An override of nothing is an error.
    let c = overlay(&[("schema/extra.plat", "schema service {\n  override nope = string because \"x\"\n}\n")], "");
    assert!(codes(&c).contains(&"platc::library::bad_declaration"), "{:?}", codes(&c));
}

#[test]
fn overlay_defaults_respect_the_embedded_locks() {
    let c = overlay(&[("defaults/x.plat", "defaults {\n  security { run_as_non_root = false }\n}\n")], "");
    let d = c.diagnostics.iter().find(|d| d.code == "platc::merge::locked").expect("locked");
    assert!(d.help.as_deref().unwrap().contains("override security.run_as_non_root"), "{d:?}");
    assert!(c.output.is_none());
    // With `override`, the platform changes its own lock (and it stays locked).
    let c = overlay(
        &[(
            "defaults/x.plat",
            "defaults {\n  override security.run_as_user = 20000 because \"Globex's images run as 20000\"\n  replicas = 4\n}\n",
        )],
        "",
    );
    assert!(c.output.is_some(), "{}", common::diagnostics_text(&c));
    assert!(file(&c, "api/kubernetes/staging/deployment.yaml").contains("runAsUser: 20000"));
    // A block changes the fields it names and keeps the others.
    let c = overlay(&[("defaults/x.plat", "defaults {\n  health { period = 20s }\n}\n")], "");
    let text = file(&c, "api/kubernetes/staging/deployment.yaml");
    assert!(text.contains("periodSeconds: 20") && text.contains("path: /healthz"), "{text}");
    // Two overlay files setting one default: which wins would depend on names.
    let c =
        overlay(&[("a.plat", "defaults {\n  replicas = 4\n}\n"), ("b.plat", "defaults {\n  replicas = 5\n}\n")], "");
    assert!(codes(&c).contains(&"platc::library::duplicate"), "{:?}", codes(&c));
}

#[test]
fn extension_points_add_to_embedded_templates() {
    let c = overlay(
        &[
            ("templates/kubernetes/pod-annotations/a.hbs", "example.com/a: {{service.name}}\n"),
            ("templates/kubernetes/pod-annotations/b.hbs", "example.com/b: \"two\"\n"),
            ("templates/kubernetes/annotations/team.hbs", "example.com/team: {{service.owner}}\n"),
            ("templates/kubernetes/pod-spec/prio.hbs", "priorityClassName: high\n"),
            (
                "templates/kubernetes/limits.yaml.hbs",
                "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: {{names.object}}\n",
            ),
        ],
        "",
    );
    let text = file(&c, "api/kubernetes/staging/deployment.yaml");
    assert!(text.contains("example.com/a: api") && text.contains("example.com/b: two"), "{text}");
    assert!(text.contains("priorityClassName: high"), "{text}");
    assert!(file(&c, "api/kubernetes/staging/service.yaml").contains("example.com/team: team-a"));
    // A new template is a new output.
    assert!(file(&c, "api/kubernetes/staging/limits.yaml").contains("kind: LimitRange"));
    assert!(!codes(&c).contains(&"platc::library::replaced"), "{:?}", codes(&c));
}

#[test]
fn a_template_can_raise_a_diagnostic_at_the_service() {
    let t = "{{#unless (eq service.tier \"gold\")}}{{fail \"only gold services here\" at=\"tier\" help=\"set `tier = gold`\"}}{{/unless}}";
    let c = overlay(&[("templates/kubernetes/check.yaml.hbs", t)], "  tier = silver");
    let d = c.diagnostics.iter().find(|d| d.code == "platc::emit::fail").expect("fail");
    assert!(d.is_error());
    assert_eq!(d.message, "only gold services here");
    assert_eq!(d.help.as_deref(), Some("set `tier = gold`"));
    let label = &d.labels[0];
    assert_eq!(c.files.path(label.span.file), "services/api/service.plat");
    assert_eq!(c.files.get(label.span.file).unwrap().slice(label.span), "silver", "the value that set `tier`");
    assert!(label.message.contains("platform/templates/kubernetes/check.yaml.hbs"), "{label:?}");
    assert!(c.output.is_none(), "a failed build writes nothing");
    // The two environments are one report.
    assert_eq!(c.diagnostics.iter().filter(|d| d.code == "platc::emit::fail").count(), 1);
    // Not raised, nothing is said.
    let c = overlay(&[("templates/kubernetes/check.yaml.hbs", t)], "  tier = gold");
    assert!(c.output.is_some(), "{}", common::diagnostics_text(&c));
    // A value set by a default: at the default, with the service shown too.
    let c = overlay(&[("templates/kubernetes/check.yaml.hbs", "{{fail \"no\" at=\"replicas\"}}")], "");
    let d = c.diagnostics.iter().find(|d| d.code == "platc::emit::fail").expect("fail");
    assert_eq!(c.files.path(d.labels[0].span.file), "<stdlib>/defaults.plat");
    assert_eq!(c.files.get(d.labels[1].span.file).unwrap().slice(d.labels[1].span), "api");
    // Without `at`, at the service's name.
    let c = overlay(&[("templates/kubernetes/check.yaml.hbs", "{{fail \"no\"}}")], "");
    let d = c.diagnostics.iter().find(|d| d.code == "platc::emit::fail").expect("fail");
    assert_eq!(c.files.get(d.labels[0].span.file).unwrap().slice(d.labels[0].span), "api");
}

/// Issue 15: a new target is one declaration plus its templates. The
/// overlay declares `docs` (nothing in platc names it): its files are
/// generated where the declaration says, listed in the build index with
/// their kind, patched by `patch docs ...`, read by a policy's
/// `generated("docs/...")`, explained, and selectable alone.
const DOCS_TARGET: &str = r#"target docs {
  per    = environment
  path   = "<service>/docs/<environment>/<file>"
  workspace_path = "docs/<file>"
  format = yaml
  index  = kinds
}
"#;

fn docs_files(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut files = vec![
        ("targets/docs.plat", DOCS_TARGET),
        (
            "templates/docs/runbook.yaml.hbs",
            "kind: Runbook\nservice: {{service.name}}\nenvironment: {{environment.name}}\nowner: {{service.owner}}\n",
        ),
        ("templates/docs/workspace/index.yaml.hbs", "kind: DocsIndex\nrepo: {{workspace.repo}}\n"),
    ];
    files.extend_from_slice(extra);
    files
}

#[test]
fn a_new_target_works_by_declaration_alone() {
    let c = overlay(&docs_files(&[]), "  patch docs Runbook {\n    owner = \"team-docs\"\n  }");
    let text = file(&c, "api/docs/staging/runbook.yaml");
    assert!(text.contains("kind: Runbook") && text.contains("environment: staging"), "{text}");
    assert!(text.contains("owner: team-docs"), "the patch applies: {text}");
    assert!(file(&c, "api/docs/production/runbook.yaml").contains("environment: production"));
    assert!(file(&c, "docs/index.yaml").contains("repo: w/w"), "the workspace-wide template");
    let index: serde_json::Value = serde_json::from_str(&file(&c, "platc-index.json")).unwrap();
    let entry = index["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "api/docs/production/runbook.yaml")
        .expect("listed in the index");
    assert_eq!(entry["kind"], "docs/Runbook");
    assert_eq!(entry["environment"], "production");
    assert_eq!(entry["service"], "api");

    // Built alone, by name: only its files (and the index).
    let sources = overlay_sources(&docs_files(&[]), "");
    let only = Options { targets: vec!["docs".into()], ..Options::default() };
    let c = platc::compile(&sources, &only);
    let out = c.output.as_ref().unwrap_or_else(|| panic!("{}", common::diagnostics_text(&c)));
    let paths: Vec<&str> = out.files.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        ["api/docs/production/runbook.yaml", "api/docs/staging/runbook.yaml", "docs/index.yaml", "platc-index.json"]
    );
    let lib = c.library.as_ref().unwrap();
    assert!(lib.targets.check_names(["docs", "kubernetes"]).is_ok());
    let err = lib.targets.check_names(["doc"]).unwrap_err();
    assert!(err.contains("unknown target `doc`") && err.contains("did you mean `docs`?"), "{err}");

    // `explain` of a generated path of the new target.
    let traced = Options { trace: true, keep_docs: true, ..Options::default() };
    let c = platc::compile(&sources, &traced);
    let e = platc::explain::explain(&c, "api", "docs/Runbook:owner", Some("staging")).unwrap();
    let g = e.generated.expect("a generated path");
    assert_eq!(g.file, "api/docs/staging/runbook.yaml");
    assert_eq!(g.value, "team-a");
    assert!(e_sources_name(&g.traced, "owner"), "{:?}", g.traced);
    // A target named by a prefix of another's name is not that one.
    let err = platc::explain::explain(&c, "api", "doc/Runbook:owner", Some("staging")).unwrap_err();
    assert!(err.contains("no target `doc`; did you mean `docs`?"), "{err}");

    // A policy over the new target's generated objects.
    let policy = r#"policy runbook_owned {
  require  = "team-a" in generated("docs/Runbook:owner")
  message  = "a runbook names its owning team"
}
"#;
    let c = overlay(&docs_files(&[("policies/runbook.plat", policy)]), "");
    assert!(c.output.is_some(), "{}", common::diagnostics_text(&c));
    let c = overlay(
        &docs_files(&[("policies/runbook.plat", policy)]),
        "  patch docs Runbook {\n    owner = \"nobody\"\n  }",
    );
    // The policy reads the path: the patch is on a protected path.
    assert!(codes(&c).contains(&"platc::patch::needs_reason"), "{:?}", codes(&c));
    let c = overlay(
        &docs_files(&[("policies/runbook.plat", policy)]),
        "  patch docs Runbook because \"handed over\" {\n    owner = \"nobody\"\n  }",
    );
    assert!(codes(&c).contains(&"platc::policy::violation"), "{:?}", codes(&c));
}

/// A template that writes a context value raw (`{{{...}}}`) into JSON: its
/// traced rendering does not parse, and `explain` says so and shows the
/// values of equal text as a guess, never a wrong trace.
#[test]
fn explain_says_when_a_file_cannot_be_traced() {
    let facts = ("templates/docs/facts.json.hbs", "{\"kind\": \"Facts\", \"replicas\": {{{service.replicas}}}}\n");
    let traced = Options { trace: true, keep_docs: true, ..Options::default() };
    let c = platc::compile(&overlay_sources(&docs_files(&[facts]), "  replicas = 7"), &traced);
    let e = platc::explain::explain(&c, "api", "docs/Facts:replicas", Some("staging")).unwrap();
    let g = e.generated.as_ref().expect("a generated path");
    assert_eq!(g.value, "7");
    assert!(g.traced.is_empty(), "{g:#?}");
    assert!(g.untraced.as_deref().is_some_and(|w| w.contains("does not parse")), "{g:#?}");
    assert_eq!(g.guessed.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), ["replicas"]);
    let text = platc::explain::render(&e);
    assert!(text.contains("not traced: tracing failed") && text.contains("(a guess, not a trace)"), "{text}");
}

fn e_sources_name(traced: &[platc::explain::Traced], path: &str) -> bool {
    traced.iter().flat_map(|t| &t.sources).any(|s| matches!(s, platc::explain::Source::Attribute(e) if e.path == path))
}

/// The registry's declarations are checked: a path without `<file>`, a per-service path
/// naming the environment, an unknown field; and names used elsewhere (a
/// patch target, a policy selector's target) are checked against it with a
/// did-you-mean.
#[test]
fn target_declarations_and_their_uses_are_checked() {
    let message = |c: &Compiled, code: &str| {
        c.diagnostics
            .iter()
            .filter(|d| d.code == code)
            .map(|d| format!("{} ({})", d.message, d.help.clone().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    // A file's extension names its format; else it is the target's.
    let c = overlay(
        &docs_files(&[
            ("templates/docs/notes.json.hbs", "{\"kind\": \"Notes\", \"a\": [1]}"),
            ("templates/docs/plain.hbs", "kind: Plain\n"),
        ]),
        "",
    );
    let notes = file(&c, "api/docs/staging/notes.json");
    assert!(notes.starts_with('{') && notes.contains("\"kind\": \"Notes\""), "written as JSON: {notes}");
    assert!(file(&c, "api/docs/staging/plain").contains("# Generated by platc"), "written as YAML");

    for (decl, says) in [
        ("target t {\n  per = service\n  path = \"<service>/t\"\n  format = yaml\n}\n", "has no `<file>`"),
        (
            "target t {\n  per = service\n  path = \"<service>/<environment>/<file>\"\n}\n",
            "renders once per service, and its `path` names `<environment>`",
        ),
        ("target t {\n  path = \"<service>/<file>\"\n}\n", "has no `<environment>`"),
        ("target t {\n  per = service\n  path = \"<service>/<nme>/<file>\"\n}\n", "`<nme>` is not a placeholder"),
        ("target t {\n  per = service\n  path = \"<service>/<file>\"\n  formt = yaml\n}\n", "unknown field `formt`"),
        (
            "target t {\n  per = service\n  path = \"<service>/<file>\"\n  format = toml\n}\n",
            "a target's `format` is `yaml`, `json` or `hcl`",
        ),
        ("target kubernetes {\n  per = service\n  path = \"<service>/<file>\"\n}\n", ""),
    ] {
        let c = overlay(&[("targets/t.plat", decl)], "");
        assert!(c.output.is_none(), "{decl}");
        if says.is_empty() {
            assert!(codes(&c).contains(&"platc::library::duplicate"), "{decl}: {:?}", codes(&c));
        } else {
            let m = message(&c, "platc::library::bad_declaration");
            assert!(m.contains(says), "{decl}: {m}");
        }
    }

    // Output templates in a directory no target renders: a warning, not silence.
    let c = overlay(
        &[
            ("targets/docs.plat", &DOCS_TARGET.replace("target docs", "target doc")),
            ("templates/docs/runbook.yaml.hbs", "kind: Runbook\n"),
        ],
        "",
    );
    let d = c.diagnostics.iter().find(|d| d.code == "platc::library::unknown_template").expect("a warning");
    assert!(!d.is_error() && c.output.is_some());
    assert!(d.message.contains("templates/docs/ belongs to no target"), "{}", d.message);
    assert!(d.help.as_deref().unwrap_or("").contains("did you mean the target `doc`?"), "{:?}", d.help);
    // Partials and extension points there are not outputs: nothing is said.
    let c = overlay(&[("templates/shared/_bits.hbs", "x: 1\n"), ("templates/kubernetes/pod-spec/p.hbs", "a: 1\n")], "");
    assert!(!codes(&c).contains(&"platc::library::unknown_template"), "{:?}", codes(&c));

    // A patch of a target the registry does not have names the overlay's too.
    let c = overlay(&docs_files(&[]), "  patch dcs Runbook {\n    owner = \"x\"\n  }");
    let m = message(&c, "platc::patch::unknown_target");
    assert!(m.contains("unknown patch target `dcs`") && m.contains("did you mean `docs`?"), "{m}");
    // A policy selector's target is checked against the registry.
    let policy = "policy p {\n  require = false not in generated(\"kubernets/*:..privileged\")\n}\n";
    let c = overlay(&[("policies/p.plat", policy)], "");
    let m = message(&c, "platc::library::bad_policy");
    assert!(m.contains("unknown target `kubernets`") && m.contains("did you mean `kubernetes`?"), "{m}");
    // ... the overlay's own included.
    let policy = "policy p {\n  require = \"x\" not in generated(\"docs/*:owner\")\n}\n";
    let c = overlay(&docs_files(&[("policies/p.plat", policy)]), "");
    assert!(message(&c, "platc::library::bad_policy").is_empty(), "{:?}", codes(&c));
}

/// The label scheme is the standard library's `kubernetes/_labels.hbs`, not
/// Rust: an overlay adds a label at its extension point and every object
/// of the service (and its pods) carries it; a replaced partial that drops
/// the label every selector matches is an error, not a broken tree.
#[test]
fn labels_are_declared_by_the_standard_library_and_extended_by_an_overlay() {
    let c = overlay(
        &[("templates/kubernetes/labels/cost.hbs", "acme.example/cost-center: {{concat \"cc-\" service.owner}}\n")],
        "",
    );
    for f in ["deployment.yaml", "service.yaml", "configmap.yaml", "networkpolicy.yaml"] {
        let text = file(&c, &format!("api/kubernetes/staging/{f}"));
        assert!(text.contains("acme.example/cost-center: cc-team-a"), "{f}: {text}");
        assert!(text.contains("app.kubernetes.io/name: api"), "{f}: {text}");
    }
    // The objects of an in-cluster resource carry the owner's labels too
    // (team, tier, environment and the overlay's), under names of their
    // own, so that no selector of the service matches the resource's pods.
    let c = overlay(
        &[("templates/kubernetes/labels/cost.hbs", "acme.example/cost-center: {{concat \"cc-\" service.owner}}\n")],
        "  resource cache slots {}",
    );
    let text = file(&c, "api/kubernetes/staging/resource-slots.yaml");
    let blocks = text.matches(" labels:\n").count();
    assert_eq!(blocks, 5, "{text}");
    assert!(text.matches("app.kubernetes.io/name: api-slots").count() >= blocks, "{text}");
    for label in [
        "app.kubernetes.io/instance: api-slots-staging",
        "app.kubernetes.io/component: cache",
        "acme.example/cost-center: cc-team-a",
        "platc.dev/team: team-a",
        "platc.dev/environment: staging",
    ] {
        assert_eq!(text.matches(label).count(), blocks, "{label}: {text}");
    }
    assert!(!text.contains("app.kubernetes.io/version"), "{text}");
    let dropped = "app.kubernetes.io/component: {{service.workload}}\n";
    let c = overlay(&[("templates/kubernetes/_labels.hbs", dropped)], "");
    assert!(c.output.is_none());
    let d = c.diagnostics.iter().find(|d| d.code == "platc::emit::invalid_output").expect("an error");
    assert!(d.message.contains("app.kubernetes.io/name: api"), "{}", d.message);
    // A value that is no label value is made one; a number stays text.
    let c = overlay(
        &[("templates/kubernetes/labels/odd.hbs", "acme.example/odd: \"--Team A/1.50--\"\nacme.example/n: \"1.50\"\n")],
        "",
    );
    let text = file(&c, "api/kubernetes/staging/deployment.yaml");
    assert!(text.contains("acme.example/odd: Team-A-1.50"), "{text}");
    assert!(text.contains("acme.example/n: \"1.50\""), "{text}");
}

/// The namespace is a default of the standard library: an overlay's one
/// changed default puts every service in its team's namespace, and
/// everything that names the namespace follows (the objects, the
/// Namespace, the address others get, the deploy's input).
#[test]
fn an_overlay_default_puts_services_in_their_teams_namespace() {
    let c = overlay(&[("defaults/teams.plat", "defaults {\n  namespace = \"${service.owner}\"\n}\n")], "");
    let deployment = file(&c, "api/kubernetes/staging/deployment.yaml");
    assert!(deployment.contains("namespace: team-a"), "{deployment}");
    let ns = file(&c, "api/kubernetes/staging/namespace.yaml");
    assert!(ns.contains("name: team-a"), "{ns}");
    let policy = file(&c, "api/kubernetes/staging/networkpolicy.yaml");
    assert!(policy.contains("name: api-default-deny"), "{policy}");
    let deploy = c.output.as_ref().unwrap().files.iter().find(|(p, _)| p.ends_with("api-deploy.yml"));
    let (_, f) = deploy.expect("a deploy workflow");
    assert!(f.contents.contains("namespace: team-a"), "{}", f.contents);
}

/// A namespace interpolated from another value (not the service's name)
/// reaches the address of an in-cluster resource, which resolve works out
/// before the service's own values are interpolated.
#[test]
fn an_interpolated_namespace_reaches_an_in_cluster_resources_address() {
    let c = overlay(
        &[("defaults/teams.plat", "defaults {\n  namespace = \"${service.owner}\"\n}\n")],
        "  resource cache slots {}\n  env { SLOTS = slots.addr }",
    );
    let cm = file(&c, "api/kubernetes/staging/configmap.yaml");
    assert!(cm.contains("SLOTS: \"api-slots.team-a.svc.cluster.local:6379\""), "{cm}");
}
