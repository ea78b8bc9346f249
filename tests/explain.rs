//! Issue 15: `explain` of a generated path names the values of the
//! template context that landed there, traced by rendering the template
//! again with a marked context, never guessed by equal text.

mod common;

use common::service;
use platc::explain::{Generated, Source};
use platc::sources::Sources;
use platc::{Compiled, Options};

use common::SHOP as PLATFORM;

fn traced(services: &[(&str, String)]) -> Compiled {
    traced_in(PLATFORM, services)
}

fn traced_in(platform: &str, services: &[(&str, String)]) -> Compiled {
    let mut sources = Sources::new();
    sources.insert_bytes("platform.plat".to_string(), platform.as_bytes().to_vec());
    for (name, text) in services {
        sources.insert_bytes(format!("services/{name}/service.plat"), text.as_bytes().to_vec());
    }
    let c = platc::compile(&sources, &Options { trace: true, keep_docs: true, ..Options::default() });
    assert!(c.output.is_some(), "builds: {}", common::diagnostics_text(&c));
    c
}

fn generated(c: &Compiled, svc: &str, path: &str) -> Generated {
    let e = platc::explain::explain(c, svc, path, None).unwrap_or_else(|e| panic!("{path}: {e}"));
    e.generated.unwrap_or_else(|| panic!("{path} is generated"))
}

/// The context paths traced into a generated value.
fn contexts(g: &Generated) -> Vec<&str> {
    g.traced.iter().map(|t| t.context.as_str()).collect()
}

/// The service attributes behind a generated value.
fn attributes(g: &Generated) -> Vec<&str> {
    g.traced
        .iter()
        .flat_map(|t| &t.sources)
        .filter_map(|s| match s {
            Source::Attribute(e) => Some(e.path.as_str()),
            Source::Value { .. } => None,
        })
        .collect()
}

/// Two attributes of equal value: the generated replicas come from
/// `replicas` alone (the equal-text guess named `pdb.min_available` too).
#[test]
fn equal_values_are_told_apart() {
    let c = traced(&[(
        "api",
        service(
            "api",
            "web-api",
            "  replicas = 3\n  pdb { min_available = 3 }\n  autoscale { enabled = false }\n  port = 3",
        ),
    )]);
    let g = generated(&c, "api", "kubernetes/Deployment:spec.replicas");
    assert_eq!(g.value, "3");
    assert_eq!(contexts(&g), ["service.replicas"], "{g:#?}");
    assert_eq!(attributes(&g), ["replicas"]);
    assert!(g.untraced.is_none() && g.guessed.is_empty(), "{g:#?}");
    assert!(g.template.ends_with("templates/kubernetes/deployment.yaml.hbs"), "{}", g.template);
    // The container port: `port`, written by the container's partial.
    let g =
        generated(&c, "api", "kubernetes/Deployment:spec.template.spec.containers[name=app].ports[0].containerPort");
    assert_eq!(attributes(&g), ["port"], "{g:#?}");
    assert!(g.traced.iter().all(|t| t.template.ends_with("templates/kubernetes/_container.hbs")), "{g:#?}");

    let text = platc::explain::render(
        &platc::explain::explain(&c, "api", "kubernetes/Deployment:spec.replicas", None).unwrap(),
    );
    assert!(
        text.contains("traced to the template value `service.replicas` (written by <stdlib>/templates/kubernetes/deployment.yaml.hbs), from `replicas`:"),
        "{text}"
    );
    assert!(text.contains("api / staging / replicas = 3"), "{text}");
    assert!(!text.contains("min_available"), "{text}");
}

/// A value a helper made (`bounded`, `concat`) is traced to the helper's
/// inputs; one platc composed (a name) to what it was composed from.
#[test]
fn values_made_by_helpers_are_traced_to_their_inputs() {
    let body = "  resource queue jobs { fifo = true }\n  depends_on = [jobs]";
    let c = traced(&[("api", service("api", "web-api", body))]);
    // `{{concat (bounded 75 catalog_name "-" ../environment.name "-dlq") ".fifo"}}`
    let g = generated(&c, "api", "terraform/aws_sqs_queue:name");
    assert_eq!(g.value, "api-jobs-staging-dlq.fifo", "the dead-letter queue comes first");
    assert_eq!(contexts(&g), ["resources[0].catalog_name", "environment.name"], "{g:#?}");
    let words: Vec<&str> = g
        .traced
        .iter()
        .flat_map(|t| &t.sources)
        .filter_map(|s| match s {
            Source::Value { what, .. } => Some(what.as_str()),
            Source::Attribute(_) => None,
        })
        .collect();
    assert_eq!(words, ["service api: resource jobs", "service api", "environment staging"], "{g:#?}");
    // The namespace: the attribute (its default is the service's name),
    // written by the metadata partial.
    let g = generated(&c, "api", "kubernetes/Deployment:metadata.namespace");
    assert_eq!(contexts(&g), ["namespace"]);
    assert_eq!(attributes(&g), ["namespace"], "{g:#?}");
    assert!(g.traced[0].template.ends_with("templates/kubernetes/_metadata.hbs"), "{g:#?}");
    // The object's name: the service's, composed by platc (`names.object`).
    let g = generated(&c, "api", "kubernetes/Deployment:metadata.name");
    assert_eq!(contexts(&g), ["names.object"]);
    assert!(
        // The name, and the workload (a cron job's is shortened to 52).
        matches!(&g.traced[0].sources[..], [Source::Value { what, place }, Source::Attribute(w)]
            if what == "service api" && place.starts_with("services/api/service.plat:1:") && w.path == "workload"),
        "{g:#?}"
    );
}

/// The labels platc renders from their own template: each is traced to
/// what that template made it from.
#[test]
fn labels_are_traced_through_their_template() {
    let c = traced(&[("api", service("api", "web-api", "  system = \"shop\""))]);
    let g = generated(&c, "api", "kubernetes/Service:metadata.labels");
    let attrs = attributes(&g);
    for a in ["owner", "version", "system", "tier", "workload"] {
        assert!(attrs.contains(&a), "{a}: {attrs:?}");
    }
    assert!(contexts(&g).contains(&"environment.name"), "{g:#?}");
    assert!(!contexts(&g).iter().any(|c| c.starts_with("labels.platc.dev/team")), "{g:#?}");
}

/// A workflow's value, from a partial of the workflow template.
#[test]
fn workflow_values_are_traced() {
    let c = traced(&[("api", service("api", "web-api", ""))]);
    let g = generated(&c, "api", "workflows:on.push.paths[0]");
    assert_eq!(g.value, "services/api/**");
    assert_eq!(contexts(&g), ["source_dir"], "{g:#?}");
    assert!(g.traced[0].template.ends_with("templates/workflows/_ci_paths.hbs"), "{g:#?}");
    // A file rendered once per service is traced in the environment it was
    // rendered in (the last), whichever is asked.
    let body = "  description = \"A\"\n  environment staging { description = \"B\" }";
    let c = traced_in(
        &PLATFORM.replace("}\n}", "}\n  environment production { cluster = \"p1\" }\n}"),
        &[("api", service("api", "web-api", body))],
    );
    let e = platc::explain::explain(&c, "api", "catalog/Component:metadata.description", Some("staging")).unwrap();
    let g = e.generated.unwrap();
    assert_eq!(g.value, "A");
    let [Source::Attribute(d)] = &g.traced[0].sources[..] else { panic!("{g:#?}") };
    assert_eq!((d.path.as_str(), d.environment.as_str(), d.value.as_str()), ("description", "production", "\"A\""));
    // Text the template writes as it is: nothing traced, and said so.
    let e = platc::explain::explain(&c, "api", "kubernetes/Deployment:apiVersion", None).unwrap();
    assert!(e.generated.as_ref().unwrap().traced.is_empty());
    assert!(platc::explain::render(&e).contains("the template writes it as it is"));
}

/// A patched path names the patch, and no context value.
#[test]
fn a_patch_wins() {
    let body = "  patch kubernetes Deployment because \"pinned\" {\n    spec.revisionHistoryLimit = 3\n    spec.template.spec.nodeSelector = { disktype = \"ssd\" }\n  }\n  replicas = 3";
    let c = traced(&[("api", service("api", "web-api", body))]);
    let g = generated(&c, "api", "kubernetes/Deployment:spec.revisionHistoryLimit");
    assert!(g.patched_at.as_deref().is_some_and(|p| p.starts_with("services/api/service.plat:")), "{g:#?}");
    assert!(g.traced.is_empty() && g.guessed.is_empty(), "{g:#?}");
    // A value inside a map the patch set.
    let g = generated(&c, "api", "kubernetes/Deployment:spec.template.spec.nodeSelector.disktype");
    assert_eq!(g.value, "ssd");
    assert!(g.patched_at.is_some() && g.untraced.is_none(), "{g:#?}");
    // A map the patch changed a part of: the unpatched rendering, traced,
    // is not what was built; said so, never traced wrongly.
    let g = generated(&c, "api", "kubernetes/Deployment:spec.template.spec");
    assert!(g.traced.is_empty(), "{g:#?}");
    assert!(g.untraced.as_deref().is_some_and(|w| w.contains("a `patch` changed a part of it")), "{g:#?}");
}

/// A false value cannot be marked (it would change the template's
/// conditions): said so, and the equal-text guess is shown as a guess.
#[test]
fn an_untraceable_value_is_said_to_be_a_guess() {
    let c = traced(&[("api", service("api", "web-api", ""))]);
    let e = platc::explain::explain(
        &c,
        "api",
        "kubernetes/Deployment:spec.template.spec.automountServiceAccountToken",
        None,
    )
    .unwrap();
    let g = e.generated.as_ref().unwrap();
    assert!(g.untraced.as_deref().is_some_and(|w| w.contains("cannot mark")), "{g:#?}");
    let text = platc::explain::render(&e);
    assert!(text.contains("not traced:") && text.contains("(a guess, not a trace)"), "{text}");
}

/// Every generated file of every example renders again, traced, into the
/// same documents once the marks are taken out (patches aside): tracing
/// takes every branch the build took, and its output parses. The hostile
/// strings example is among them.
#[test]
fn tracing_renders_what_the_build_rendered() {
    use platc::emit::doc::Doc;
    fn plain(d: &Doc) -> Doc {
        match d {
            Doc::List(items) => Doc::List(items.iter().map(plain).collect()),
            Doc::Map(entries) => Doc::Map(entries.iter().map(|(k, v)| (k.clone(), plain(v))).collect()),
            scalar => Doc::Str(platc::emit::trace::strip(&scalar.text()).into_owned()),
        }
    }
    let options = Options { trace: true, keep_docs: true, ..Options::default() };
    let mut traced_files = 0;
    for example in ["monorepo", "grpc-shop", "harbor", "hostile-strings", "lone-service", "custom-stdlib"] {
        let c = platc::compile(&common::load(&common::examples().join(example)), &options);
        let (Some(out), Some(model), Some(graph), Some(lib)) = (&c.output, &c.model, &c.graph, &c.library) else {
            panic!("{example} builds: {}", common::diagnostics_text(&c))
        };
        for (path, f) in &out.files {
            let Some(s) = f.service.as_deref().and_then(|s| model.service(s)) else { continue };
            let inst = match &f.environment {
                Some(e) => s.instance(e).unwrap(),
                None => s.instances.last().unwrap(),
            };
            let target = lib.targets.of_kind(&f.kind).unwrap();
            let t = platc::emit::trace_file(model, graph, lib, s, inst, target, path)
                .unwrap_or_else(|e| panic!("{example}: {path}: {e}"));
            if s.patches.iter().any(|p| p.patch.target.name == target.name) {
                continue;
            }
            let built: Vec<Doc> = f.docs.as_ref().unwrap().iter().map(plain).collect();
            let again: Vec<Doc> = t.docs.iter().map(plain).collect();
            assert_eq!(built, again, "{example}: {path} ({})", t.shown_as);
            traced_files += 1;
        }
    }
    assert!(traced_files > 100, "{traced_files}");
}
