//! The red team's findings of issue 13 (language, evaluation and secrets):
//! each input is a file in `tests/regressions/redteam-<item>-<what>.plat`
//! whose second comment line says what it must give (`Expect: <code>`, or
//! `Expect: builds`). `tests/robustness.rs` compiles the same files for
//! "never a panic"; here each must give exactly its expected outcome.

mod common;

use platc::sources::Sources;

fn regression(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Compiles `text` as a lone `service.plat`.
fn compile_one(text: &str) -> platc::Compiled {
    let mut sources = Sources::new();
    sources.insert_bytes("service.plat", text.as_bytes().to_vec());
    sources.set_loader(Box::new(|_| Err("no such file".into())));
    platc::compile(&sources, &platc::Options::default())
}

/// Compiles the regression file `name` and checks its `Expect:` line;
/// returns the compilation for further checks.
fn expect(name: &str) -> platc::Compiled {
    let text = regression(name);
    let expected = text
        .lines()
        .find_map(|l| l.split_once("Expect: ").map(|(_, e)| e.split([',', ' ']).next().unwrap_or_default()))
        .unwrap_or_else(|| panic!("{name} has no `Expect:` line"))
        .to_string();
    let c = compile_one(&text);
    if expected == "builds" {
        assert!(!c.has_errors(), "{name} must build:\n{}", common::diagnostics_text(&c));
        assert!(c.output.is_some());
    } else {
        assert!(
            c.diagnostics.iter().any(|d| d.code == expected && d.is_error()),
            "{name} must report {expected}; it reported:\n{}",
            common::diagnostics_text(&c)
        );
        assert!(c.output.is_none());
    }
    c
}

#[test]
fn redteam_13_exponential_interpolation() {
    let c = expect("redteam-13-exponential-interpolation.plat");
    let text = common::diagnostics_text(&c);
    assert!(text.contains("longer than 1 MiB"), "{text}");
}

#[test]
fn redteam_13_many_empty_references_are_filled_in_once() {
    // Empty strings cost nothing to copy: without each string filled in
    // once, 6 levels of 40 references is 40^6 lookups.
    let mut env = String::from("    L0 = \"\"\n");
    for i in 1..=6 {
        env.push_str(&format!("    L{i} = \"{}\"\n", format!("${{service.env.L{}}}", i - 1).repeat(40)));
    }
    let c = compile_one(&service_with_env(&env));
    assert!(!c.has_errors(), "{}", common::diagnostics_text(&c));
}

fn service_with_env(env: &str) -> String {
    format!(
        "service x from web-api {{\n  owner = \"team-x\"\n  language = go\n  image = \"ghcr.io/acme/x\"\n  version = \"1.0.0\"\n  digest = \"sha256:{}\"\n  env {{\n{env}  }}\n}}\n",
        "a".repeat(64)
    )
}

#[test]
fn redteam_24_interpolation_depth_is_not_called_a_cycle() {
    let mut env = String::from("    L0 = \"x\"\n");
    for i in 1..=12 {
        env.push_str(&format!("    L{i} = \"${{service.env.L{}}}\"\n", i - 1));
    }
    let text = common::diagnostics_text(&compile_one(&service_with_env(&env)));
    assert!(text.contains("more than 8 levels deep"), "{text}");
    assert!(!text.contains("refers back to itself"), "{text}");
}

#[test]
fn redteam_24_an_interpolation_cycle_names_its_chain() {
    let env = "    A = \"${service.env.B}\"\n    B = \"${service.env.C}\"\n    C = \"${service.env.A}\"\n";
    let text = common::diagnostics_text(&compile_one(&service_with_env(env)));
    assert!(text.contains("refers back to itself: `${service.env."), "{text}");
    assert!(text.contains("→"), "{text}");
}

#[test]
fn redteam_14_dotted_patch_path() {
    let c = expect("redteam-14-dotted-patch-path.plat");
    assert_eq!(c.diagnostics.iter().filter(|d| d.code == "platc::parse::too_deep").count(), 1);
}

#[test]
fn redteam_14_dotted_paths_nest_like_blocks_everywhere() {
    let deep = |n: usize| vec!["a"; n].join(".");
    let digest = "a".repeat(64);
    let head = format!(
        "service x from web-api {{ owner = \"t\" language = go image = \"ghcr.io/acme/x\" version = \"1.0.0\" digest = \"sha256:{digest}\"\n"
    );
    // 100,000 names (this aborted at 7 GB), in every place a dotted path is read.
    for body in [
        format!("patch kubernetes Deployment {{ metadata.{} = \"x\" }}", deep(100_000)),
        format!("labels.{} = \"x\"", deep(100_000)),
        format!("override labels.{} = \"x\" because \"y\"", deep(100_000)),
        format!("description = \"${{service.{}}}\"", deep(100_000)),
        format!("labels {{ a = {} }}", deep(100_000)),
    ] {
        let c = compile_one(&format!("{head}{body}\n}}\n"));
        assert!(c.diagnostics.iter().any(|d| d.code == "platc::parse::too_deep"), "{}", common::diagnostics_text(&c));
    }
    // Dotted names and blocks add up: 40 blocks around a path of 10 names is too deep,
    // around a path of 5 names it is not.
    let nested = |names: usize| format!("{}{} = 1{}", "b { ".repeat(40), deep(names), " }".repeat(40));
    let deep_enough = |c: &platc::Compiled| c.diagnostics.iter().any(|d| d.code == "platc::parse::too_deep");
    assert!(deep_enough(&compile_one(&nested(10))));
    assert!(!deep_enough(&compile_one(&nested(5))));
}

const DEMO: &str = "service demo from web-api {\n  owner = \"team-demo\"\n  language = go\n  image = \"ghcr.io/acme/demo\"\n  version = \"1.0.0\"\n  digest = \"sha256:2a97516c354b68848cdbd8f54a226a0a55b21ed138e207ad6c5cbb9c00aa5aea\"\n}\n";

/// A workspace overlaying the standard library with `templates`
/// (paths under `platform/templates/`).
fn with_templates(templates: &[(String, String)]) -> platc::Compiled {
    with_templates_and(templates, &platc::Options::default())
}

/// [`with_templates`], compiled with `options`.
fn with_templates_and(templates: &[(String, String)], options: &platc::Options) -> platc::Compiled {
    let mut sources = Sources::new();
    sources.insert_bytes(
        "platform.plat",
        b"workspace acme {\n  registry = \"ghcr.io/acme\"\n  stdlib = \"./platform\"\n  environment staging {}\n}\n"
            .to_vec(),
    );
    sources.insert_bytes("services/demo/service.plat", DEMO.as_bytes().to_vec());
    for (path, text) in templates {
        sources.insert_bytes(format!("platform/templates/{path}"), text.as_bytes().to_vec());
    }
    sources.set_loader(Box::new(|_| Err("no such file".into())));
    platc::compile(&sources, options)
}

fn template_errors(c: &platc::Compiled) -> String {
    assert!(c.output.is_none());
    let text = common::diagnostics_text(c);
    assert!(c.diagnostics.iter().any(|d| d.code == "platc::emit::template"), "{text}");
    text
}

#[test]
fn redteam_15_a_template_including_itself() {
    let own = regression("redteam-15-self-include.hbs");
    // Directly, through `include` and through `{{> name}}`, and through a chain.
    let cases = [
        vec![("kubernetes/_loop.hbs", own.clone()), ("kubernetes/x.yaml.hbs", own.clone())],
        vec![("kubernetes/_loop.hbs", "a: {{> loop}}".into()), ("kubernetes/x.yaml.hbs", "{{> loop}}".into())],
        vec![
            ("kubernetes/_loop.hbs", "{{> other}}".into()),
            ("kubernetes/_other.hbs", "{{include \"kubernetes/_loop.hbs\"}}".into()),
            ("kubernetes/x.yaml.hbs", "{{> loop}}".into()),
        ],
    ];
    for case in cases {
        let c = with_templates(&case.into_iter().map(|(p, t)| (p.to_string(), t)).collect::<Vec<_>>());
        let text = template_errors(&c);
        assert!(text.contains("includes itself: kubernetes/_loop.hbs → "), "{text}");
    }
}

#[test]
fn redteam_15_a_computed_include_of_itself_is_bounded_while_rendering() {
    let c = with_templates(&[
        ("kubernetes/_loop.hbs".into(), "a: {{include (concat \"kubernetes/_lo\" \"op.hbs\")}}".into()),
        ("kubernetes/x.yaml.hbs".into(), "{{include \"kubernetes/_loop.hbs\"}}".into()),
    ]);
    let text = template_errors(&c);
    assert!(text.contains("included 16 levels deep"), "{text}");
}

#[test]
fn redteam_15_double_inclusion_25_levels_deep() {
    let mut templates = vec![
        ("kubernetes/_l0.hbs".to_string(), regression("redteam-15-double-include.hbs")),
        ("kubernetes/x.yaml.hbs".to_string(), "{{include \"kubernetes/_l0.hbs\"}}".to_string()),
    ];
    for i in 1..25 {
        let next = format!("{{{{include \"kubernetes/_l{}.hbs\"}}}}", i + 1);
        templates.push((format!("kubernetes/_l{i}.hbs"), format!("x: {next}{next}")));
    }
    templates.push(("kubernetes/_l25.hbs".to_string(), "x: 1".to_string()));
    let text = template_errors(&with_templates(&templates));
    assert!(text.contains("templates through its inclusions; the limit is 10000"), "{text}");
    // A chain without the doubling is refused for its depth instead.
    let chain: Vec<(String, String)> = (0..25)
        .map(|i| (format!("kubernetes/_c{i}.hbs"), format!("{{{{include \"kubernetes/_c{}.hbs\"}}}}", i + 1)))
        .chain([("kubernetes/_c25.hbs".to_string(), "x: 1".to_string())])
        .chain([("kubernetes/x.yaml.hbs".to_string(), "{{include \"kubernetes/_c0.hbs\"}}".to_string())])
        .collect();
    let text = template_errors(&with_templates(&chain));
    assert!(text.contains("levels deep; the limit is 16"), "{text}");
}

#[test]
fn redteam_12_resource_named_main() {
    expect("redteam-12-resource-named-main.plat");
}

#[test]
fn redteam_12_two_sources_of_one_file_are_an_error() {
    // The service's CI workflow and a workspace workflow of the same name.
    let c = with_templates(&[("workflows/workspace/demo-ci.yml.hbs".into(), "name: x\non: push\njobs: {}\n".into())]);
    assert!(c.output.is_none());
    let text = common::diagnostics_text(&c);
    assert!(text.contains("`.github/workflows/demo-ci.yml` is generated twice"), "{text}");
    // A file where another needs a directory.
    let c = with_templates(&[("catalog/workspace/demo.hbs".into(), "a: 1\n".into())]);
    let text = common::diagnostics_text(&c);
    assert!(text.contains("generated inside the generated file `demo`"), "{text}");
    // Nor the build index.
    let c = with_templates(&[("catalog/workspace/platc-index.json.hbs".into(), "{\"files\": []}\n".into())]);
    let text = common::diagnostics_text(&c);
    assert!(text.contains("`platc-index.json` is the build index"), "{text}");
}

/// (Its linearity is proven by counting work in `src/parse/tests.rs`.)
#[test]
fn redteam_16_not_chain_before_a_comment() {
    expect("redteam-16-not-chain-comment.plat");
}

#[test]
fn redteam_21_env_keys() {
    let c = expect("redteam-21-env-keys.plat");
    let bad: Vec<&str> =
        c.diagnostics.iter().filter(|d| d.code == "platc::check::bad_name").map(|d| d.message.as_str()).collect();
    assert_eq!(bad.len(), 3, "{bad:?}");
    assert!(bad.iter().any(|m| m.contains(r"`A B\n../x`")), "{bad:?}");
    assert!(!bad.iter().any(|m| m.contains("GOOD_NAME_2")), "{bad:?}");
    let text = common::diagnostics_text(&c);
    assert!(
        text.contains("`DB_FILE` is set, and is also the variable that names the file of the secret `DB`"),
        "{text}"
    );
}

/// Every diagnostic of `c`, in every form, and says whether any shows one of `secrets`.
fn shows_any(c: &platc::Compiled, secrets: &[&str]) -> Option<String> {
    use platc::diag::render::{Format, render};
    for d in &c.diagnostics {
        for f in [Format::Human, Format::Short, Format::Json, Format::Github] {
            let shown = render(d, &c.files, f, false);
            if let Some(s) = secrets.iter().find(|s| shown.contains(**s)) {
                return Some(format!("{s} in {shown}"));
            }
        }
    }
    None
}

#[test]
fn redteam_10_secrets_the_scan_missed() {
    let c = expect("redteam-10-secrets.plat");
    let found = c.diagnostics.iter().filter(|d| d.code == "platc::check::plaintext_secret").count();
    assert_eq!(found, 16, "{}", common::diagnostics_text(&c));
    let values = [
        "wJalrXUtnFEMI",
        "hunter2",
        "AKIAIOSFODNN7EXAMPLE",
        "redispw",
        "pa/ss",
        "jdbcpw",
        "dbpw",
        "mssqlpw",
        "abcdefghijklmnop",
        "dXNlcjpwYXNzd29yZA",
        "npm_a1B2",
        "pypi-AgEI",
        "XXXXXXXXXXXXXXXX",
        "ghp_A1b2",
        "patchpw",
    ];
    assert_eq!(shows_any(&c, &values), None);
}

#[test]
fn redteam_10_workspace_values_and_file_contents_are_scanned() {
    let mut sources = Sources::new();
    sources.insert_bytes(
        "platform.plat",
        b"workspace acme {\n  registry = \"ghcr.io/acme\"\n  dashboards_url = \"https://admin:grafanapw@grafana.acme.example\"\n  environment staging { cluster = \"AKIAIOSFODNN7EXAMPLE\" }\n}\n".to_vec(),
    );
    let service = DEMO.replace("}\n", "  api a {\n    type = openapi\n    definition = file(\"api.yaml\")\n  }\n}\n");
    sources.insert_bytes("services/demo/service.plat", service.into_bytes());
    sources.set_loader(Box::new(|p| {
        if p.ends_with("api.yaml") {
            Ok(b"openapi: 3.0.0\n# token: glpat-abcdefghijklmnopqrstuv\n".to_vec())
        } else {
            Err("no such file".into())
        }
    }));
    let c = platc::compile(&sources, &platc::Options::default());
    let text = common::diagnostics_text(&c);
    let messages: Vec<&str> = c
        .diagnostics
        .iter()
        .filter(|d| d.code == "platc::check::plaintext_secret")
        .map(|d| d.message.as_str())
        .collect();
    assert!(messages.iter().any(|m| m.contains("`dashboards_url` of the workspace")), "{text}");
    assert!(messages.iter().any(|m| m.contains("`cluster` of the environment `staging`")), "{text}");
    assert!(messages.iter().any(|m| m.contains("the definition of api `a` of `demo` holds a GitLab token")), "{text}");
    assert_eq!(shows_any(&c, &["grafanapw", "AKIAIOSFODNN7EXAMPLE", "glpat-abc"]), None);
}

#[test]
fn redteam_10_every_string_that_reaches_the_output_is_scanned() {
    // A template of the platform's own that writes a token: no source
    // literal holds it, the generated file does.
    let c = with_templates(&[(
        "kubernetes/extra.yaml.hbs".into(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  t: \"xoxb-1234567890-abcdefghij\"\n".into(),
    )]);
    let text = common::diagnostics_text(&c);
    assert!(c.output.is_none());
    assert!(text.contains("generated `demo/kubernetes/staging/extra.yaml` would hold a secret"), "{text}");
}

/// A generated file that holds a credential is never handed to
/// `Options::spill` (`platc build` would stage it on disk); the service's
/// other files are.
#[test]
fn a_generated_file_holding_a_credential_is_never_spilled() {
    use std::sync::{Arc, Mutex};
    let offered: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&offered);
    let spill = move |path: &str, _: &platc::emit::OutFile| {
        sink.lock().unwrap().push(path.to_string());
        true
    };
    let options = platc::Options { spill: Some(platc::emit::Spill(Arc::new(spill))), ..platc::Options::default() };
    let c = with_templates_and(
        &[(
            "kubernetes/extra.yaml.hbs".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  t: \"xoxb-1234567890-abcdefghij\"\n"
                .into(),
        )],
        &options,
    );
    let text = common::diagnostics_text(&c);
    assert!(c.output.is_none() && text.contains("generated `demo/kubernetes/staging/extra.yaml` would hold"), "{text}");
    let offered = offered.lock().unwrap();
    assert!(offered.iter().any(|p| p == "demo/kubernetes/staging/deployment.yaml"), "{offered:?}");
    assert!(!offered.iter().any(|p| p.ends_with("/extra.yaml")), "{offered:?}");
}

/// What reaches only the build index is scanned there: the index is
/// scanned record by record (each record made with its service's
/// rendering), and a credential in one field of a record is refused as the
/// scan of the whole index refused it, with the same diagnostic. A
/// template's file name, in the paths of its files, is written nowhere else.
#[test]
fn a_credential_that_reaches_only_the_build_index_is_refused() {
    let configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  t: \"ok\"\n";
    let c = with_templates(&[("kubernetes/xoxb-1234567890-abcdefghij.yaml.hbs".into(), configmap.into())]);
    let text = common::diagnostics_text(&c);
    assert!(c.output.is_none(), "{text}");
    let secrets: Vec<&platc::diag::Diagnostic> =
        c.diagnostics.iter().filter(|d| d.code == "platc::check::plaintext_secret").collect();
    assert_eq!(secrets.len(), 1, "{text}");
    assert_eq!(
        secrets[0].message,
        "generated `platc-index.json` would hold a secret in plain text: it looks like a Slack token"
    );
    // A patch's reason is not scanned in the model: the Deployment's
    // annotation that carries it is refused, and so is the index's escape.
    let mut sources = Sources::new();
    sources.insert_bytes(
        "platform.plat",
        b"workspace acme {\n  registry = \"ghcr.io/acme\"\n  environment staging {}\n}\n".to_vec(),
    );
    let service = DEMO.replace(
        "}\n",
        "  patch kubernetes Deployment because \"ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" {\n    spec.minReadySeconds = 5\n  }\n}\n",
    );
    sources.insert_bytes("services/demo/service.plat", service.into_bytes());
    sources.set_loader(Box::new(|_| Err("no such file".into())));
    let c = platc::compile(&sources, &platc::Options::default());
    let text = common::diagnostics_text(&c);
    assert!(c.output.is_none(), "{text}");
    assert!(
        text.contains("generated `platc-index.json` would hold a secret in plain text: it looks like a GitHub token"),
        "{text}"
    );
    assert_eq!(shows_any(&c, &["ghp_aaaa"]), None);
}

#[test]
fn redteam_11_wildcard_and_ip_hosts() {
    let c = expect("redteam-11-hosts.plat");
    let text = common::diagnostics_text(&c);
    assert!(text.contains("a wildcard"), "{text}");
    assert!(text.contains("an IP address"), "{text}");
}

#[test]
fn redteam_11_collisions_between_services() {
    // The red team's case: `a`'s `b-cache` and `a-b`'s `cache`, both exposing one host.
    let c = common::compile(&common::examples().join("errors/check--collision"));
    let text = common::diagnostics_text(&c);
    assert!(c.output.is_none());
    assert!(
        text.contains("resource `cache` of `a-b` and resource `b-cache` of `a` would both be named `a-b-cache`"),
        "{text}"
    );
    assert!(text.contains("`a-b` and `a` both expose `shop.acme.example/`"), "{text}");
}

#[test]
fn redteam_11_collisions_through_environment_names() {
    // `x-cache-eu` in prod and `x-cache` in eu-prod: both `x-cache-eu-prod`.
    let mut sources = Sources::new();
    sources.insert_bytes(
        "platform.plat",
        b"workspace acme {\n  registry = \"ghcr.io/acme\"\n  environment prod {}\n  environment eu-prod {}\n}\n"
            .to_vec(),
    );
    let service =
        DEMO.replace("}\n", "  resource redis cache-eu { size = small }\n  resource redis cache { size = small }\n}\n");
    sources.insert_bytes("services/demo/service.plat", service.into_bytes());
    sources.set_loader(Box::new(|_| Err("no such file".into())));
    let c = platc::compile(&sources, &platc::Options::default());
    let text = common::diagnostics_text(&c);
    assert!(text.contains("would both be named `demo-cache-eu-prod` in the cloud"), "{text}");
}

#[test]
fn redteam_20_numbers_are_kept_as_written() {
    let c = expect("redteam-20-numbers.plat");
    let files = &c.output.as_ref().unwrap().files;
    let configmap = &files["x/kubernetes/production/configmap.yaml"].contents;
    for line in ["BIG: \"123456789012345678\"", "PADDED: \"007\"", "DECIMAL: \"1.50\""] {
        assert!(configmap.contains(line), "{line} in {configmap}");
    }
    let deployment = &files["x/kubernetes/production/deployment.yaml"].contents;
    assert!(deployment.contains("revisionHistoryLimit: 123456789012345678\n"), "{deployment}");
}

#[test]
fn redteam_20_inexact_numbers_are_refused() {
    let c = expect("redteam-20-inexact-number.plat");
    assert_eq!(c.diagnostics.iter().filter(|d| d.code == "platc::parse::bad_number").count(), 2);
}

#[test]
fn redteam_10_no_snippet_shows_a_secret_even_when_no_check_ran() {
    // A file that does not parse: no setting is checked, yet the snippet of
    // the syntax error is the line that holds the password.
    let c = compile_one("service x {\n  env { DB_PASSWORD = \"hunter2\" : AKIAIOSFODNN7EXAMPLE }\n}\n");
    assert!(c.has_errors());
    assert_eq!(shows_any(&c, &["hunter2", "AKIAIOSFODNN7EXAMPLE"]), None);
}

/// (The work is counted in `src/emit/yaml.rs`: n log n key comparisons.)
#[test]
fn redteam_23_a_configmap_of_thousands_of_keys() {
    let c = expect("redteam-23-many-settings.plat");
    let configmap = &c.output.as_ref().unwrap().files["x/kubernetes/production/configmap.yaml"].contents;
    assert!(configmap.contains("S2999_URL: "), "{}", configmap.len());
}
