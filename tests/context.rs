//! The template context keeps the origin of every leaf (issue 15): for every
//! example, every leaf of every service's context in every environment has
//! sources unless it is a constant of platc, each attribute it names is one
//! of the service's, and the traced context is exactly what templates see.

mod common;

use std::collections::BTreeSet;

use platc::emit::context::{self, Leaf, Source, Trace};
use platc::schema::{Record, Type};

/// The example workspaces that build (not `examples/errors`).
fn cases() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(common::examples())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "errors")
        .collect();
    out.sort();
    out
}

/// Whether `path` is an attribute the schema declares (through records and
/// the entries of maps of records).
fn declared(rec: &Record, path: &[&str]) -> bool {
    let Some((first, rest)) = path.split_first() else { return true };
    let Some(field) = rec.fields.get(*first) else { return false };
    match (&field.ty, rest) {
        (_, []) => true,
        (Type::Record(inner), rest) => declared(inner, rest),
        (Type::Map(inner), [_, rest @ ..]) => match inner.as_ref() {
            Type::Record(r) => declared(r, rest),
            _ => rest.is_empty(),
        },
        _ => false,
    }
}

fn json_paths(j: &serde_json::Value, path: &mut Vec<String>, out: &mut BTreeSet<Vec<String>>) {
    context::shape::json_leaves(j, path, &mut |p| {
        out.insert(p.to_vec());
    });
}

#[test]
fn every_leaf_of_every_example_has_its_sources() {
    for case in cases() {
        let c = common::compile(&common::examples().join(&case));
        let (Some(model), Some(graph), Some(lib)) = (&c.model, &c.graph, &c.library) else {
            panic!("{case} must resolve")
        };
        let schema = lib.schemas.get("service").expect("schema service");
        let shared = context::Shared::new(model, graph, lib);
        for s in &model.services {
            let base = context::service_base(s, &shared);
            for inst in s.instances.iter() {
                let at = format!("{case}: {} in {}", s.name, inst.env);
                let leaves = context::leaves(s, inst, model, graph, lib);
                assert!(!leaves.is_empty(), "{at}: no leaves");
                // The traced context is the one templates see, leaf for leaf.
                let env = model.workspace.environments.iter().find(|e| e.name == inst.env).unwrap();
                let json = context::instance(&base, s, inst, env, &shared);
                let mut seen = BTreeSet::new();
                json_paths(&json, &mut Vec::new(), &mut seen);
                let traced: BTreeSet<Vec<String>> = leaves.iter().map(|l| l.path.clone()).collect();
                assert_eq!(seen, traced, "{at}: the traced leaves are not the context's");
                for Leaf { path, value, trace } in &leaves {
                    let p = path.join(".");
                    let Trace::From(sources) = trace else { continue };
                    assert!(!sources.is_empty(), "{at}: `{p}` ({value}) has no sources and is not a constant");
                    for source in sources {
                        if let Source::Attribute(a) = source {
                            let keys: Vec<&str> = a.split('.').collect();
                            assert!(
                                inst.get(&keys).is_some() || declared(schema, &keys),
                                "{at}: `{p}` names `{a}`, which is neither set nor an attribute of the schema"
                            );
                        }
                    }
                }
            }
        }
    }
}

fn attributes(sources: &[Source]) -> Vec<&str> {
    sources
        .iter()
        .filter_map(|s| match s {
            Source::Attribute(a) => Some(a.as_str()),
            Source::Value { .. } => None,
        })
        .collect()
}

#[test]
fn composed_values_name_what_they_are_composed_from() {
    let c = common::compile(&common::examples().join("monorepo"));
    let (model, graph, lib) = (c.model.as_ref().unwrap(), c.graph.as_ref().unwrap(), c.library.as_ref().unwrap());
    let s = model.service("storefront").unwrap();
    let inst = s.instance("production").unwrap();
    let sources = |path: &[&str]| context::sources(s, inst, model, graph, lib, path);

    assert_eq!(attributes(&sources(&["image"])), ["image", "version", "digest"]);
    assert_eq!(attributes(&sources(&["image_registry"])), ["image"]);
    assert_eq!(sources(&["service", "replicas"]), [Source::Attribute("replicas".into())]);
    assert_eq!(attributes(&sources(&["service", "service_port"])), ["port", "protocol"]);
    // A setting injected for a dependency: the service's `depends_on`, and
    // what the other service's address is made of.
    let orders = sources(&["config", "ORDERS_URL"]);
    assert_eq!(attributes(&orders), ["depends_on"]);
    assert!(
        orders.iter().any(|s| matches!(s, Source::Value { what, .. } if what.starts_with("service orders"))),
        "{orders:?}"
    );
    assert_eq!(sources(&["config", "NODE_ENV"]), [Source::Attribute("env.NODE_ENV".into())]);
    // A value of the workspace: where `platform.plat` writes it.
    let cluster = sources(&["environment", "cluster"]);
    let [Source::Value { what, origin }] = cluster.as_slice() else { panic!("{cluster:?}") };
    assert_eq!(what, "environment production: cluster");
    assert_eq!(origin.span.file, model.workspace.span.file);
    assert_eq!(c.files.path(origin.span.file), "platform.plat");
    // A name composed from the service's: its declaration.
    let object = sources(&["names", "object"]);
    assert!(matches!(object.first(), Some(Source::Value { what, .. }) if what == "service storefront"), "{object:?}");
    // Lists are addressed by index; a part gives every leaf's sources.
    assert_eq!(attributes(&sources(&["network", "egress", "0", "name"])), ["depends_on"]);
    assert!(attributes(&sources(&["config"])).contains(&"env.NODE_ENV"));
    // A constant of platc has none.
    assert_eq!(sources(&["scratch", "0", "name"]), []);
    assert_eq!(sources(&["no", "such", "leaf"]), []);
}

/// docs/templates.md lists the context as its types say it: the part
/// between the markers is generated (`PLATC_UPDATE_DOCS=1` rewrites it).
#[test]
fn the_reference_lists_the_context_its_types_declare() {
    let c = common::compile(&common::examples().join("lone-service"));
    let lib = c.library.as_ref().expect("the embedded standard library");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/templates.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let generated = context::docs::markdown(lib);
    let Some(expected) = context::docs::splice(&text, &generated) else {
        panic!("docs/templates.md has no `{}` ... `{}` part", context::docs::BEGIN, context::docs::END)
    };
    if expected == text {
        return;
    }
    if std::env::var_os("PLATC_UPDATE_DOCS").is_some() {
        std::fs::write(&path, expected).unwrap();
        return;
    }
    let diff = similar::TextDiff::from_lines(&text, &expected).unified_diff().to_string();
    panic!("docs/templates.md is out of step with the context's types (PLATC_UPDATE_DOCS=1 rewrites it):\n{diff}");
}

/// A setting naming another service's address: what the service wrote, and
/// what the address is made of there.
#[test]
fn a_reference_to_another_service_names_its_address() {
    let c = common::compile(&common::examples().join("grpc-shop"));
    let (model, graph, lib) = (c.model.as_ref().unwrap(), c.graph.as_ref().unwrap(), c.library.as_ref().unwrap());
    let s = model.service("checkout").unwrap();
    let inst = s.instances.last().unwrap();
    let sources = context::sources(s, inst, model, graph, lib, &["config", "CATALOG_TARGET"]);
    assert_eq!(attributes(&sources), ["env.CATALOG_TARGET"]);
    assert!(
        sources.iter().any(|s| matches!(s, Source::Value { what, .. } if what.starts_with("service catalog: "))),
        "{sources:?}"
    );
}

/// The Namespace object of a shared namespace: whether it is restricted
/// comes from each member's security flags, each named once, the other
/// members' by the flag itself (not the whole `security` block, twice).
#[test]
fn a_shared_namespace_names_each_members_flags_once() {
    let c =
        common::compile(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workspaces/shared-namespace"));
    let (model, graph, lib) = (c.model.as_ref().unwrap(), c.graph.as_ref().unwrap(), c.library.as_ref().unwrap());
    let s = model.service("checkout").unwrap();
    let inst = s.instances.last().unwrap();
    let leaves = context::leaves(s, inst, model, graph, lib);
    let restricted = leaves.iter().find(|l| l.path == ["namespace_object", "restricted"]).expect("the leaf");
    let Trace::From(sources) = &restricted.trace else { panic!("{restricted:?}") };
    let whats: Vec<&str> = sources
        .iter()
        .filter_map(|s| match s {
            Source::Value { what, .. } => Some(what.as_str()),
            Source::Attribute(_) => None,
        })
        .collect();
    assert_eq!(whats, ["service cart: security.run_as_non_root", "service cart: security.allow_privilege_escalation"]);
    for (i, s) in sources.iter().enumerate() {
        assert!(!sources.get(..i).unwrap_or_default().contains(s), "{s:?} named twice: {sources:?}");
    }
}
