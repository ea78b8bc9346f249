//! The merge rules of the module documentation, one test each.
use super::*;
use crate::parse::parse;
use crate::span::FileId;

fn body(src: &str) -> ast::Body {
    let (f, d) = parse(FileId(0), src);
    assert!(d.is_empty(), "{d:?}");
    f.unwrap().body
}

fn merged(layers: &[(&str, Layer)]) -> (Map, Vec<Diagnostic>) {
    let mut m = Merger::new(false);
    let mut diags = Vec::new();
    for (src, layer) in layers {
        m.apply_body(&body(src), layer, &mut diags);
    }
    (m.tree, diags)
}

fn at<'a>(tree: &'a Map, path: &str) -> &'a Node {
    let keys: Vec<&str> = path.split('.').collect();
    get(tree, &keys).unwrap_or_else(|| panic!("no {path}"))
}

#[test]
fn scalars_replace_and_keep_the_winning_origin() {
    let (t, d) =
        merged(&[("replicas = 2", Layer::Defaults), ("replicas = 4", Layer::Environment("production".into()))]);
    assert!(d.is_empty());
    assert_eq!(display(&at(&t, "replicas").value), "4");
    assert_eq!(at(&t, "replicas").origin.layer, Layer::Environment("production".into()));
}

#[test]
fn maps_merge_by_key_whether_block_dotted_or_literal() {
    let (t, _) = merged(&[
        ("health { liveness = \"/healthz\"  readiness = \"/readyz\" }", Layer::Defaults),
        ("health.readiness = \"/ready\"", Layer::GoldenPath("web-api".into())),
        ("health = { period = 5s }", Layer::Service),
    ]);
    assert_eq!(display(&at(&t, "health.liveness").value), "\"/healthz\"");
    assert_eq!(at(&t, "health.liveness").origin.layer, Layer::Defaults);
    assert_eq!(display(&at(&t, "health.readiness").value), "\"/ready\"");
    assert_eq!(display(&at(&t, "health.period").value), "5s");
}

#[test]
fn lists_replace() {
    let (t, _) = merged(&[("tags = [\"base\"]", Layer::Defaults), ("tags = [\"web\"]", Layer::GoldenPath("w".into()))]);
    assert_eq!(display(&at(&t, "tags").value), "[\"web\"]");
}

#[test]
fn append_keeps_what_is_below_and_each_item_its_origin() {
    let (t, d) =
        merged(&[("tags = [\"web\"]", Layer::GoldenPath("w".into())), ("tags += [\"payments\"]", Layer::Service)]);
    assert!(d.is_empty());
    let tags = at(&t, "tags");
    assert_eq!(display(&tags.value), "[\"web\", \"payments\"]");
    let Value::List(items) = &tags.value else { panic!() };
    assert_eq!(items[0].origin.layer, Layer::GoldenPath("w".into()));
    assert_eq!(items[1].origin.layer, Layer::Service);
}

#[test]
fn append_to_nothing_starts_a_list() {
    let (t, d) = merged(&[("tags += [\"x\"]", Layer::Service)]);
    assert!(d.is_empty());
    assert_eq!(display(&at(&t, "tags").value), "[\"x\"]");
}

#[test]
fn append_to_a_scalar_is_an_error() {
    let (_, d) = merged(&[("port = 80", Layer::Defaults), ("port += [1]", Layer::Service)]);
    assert_eq!(d[0].code, "platc::merge::append_non_list");
}

#[test]
fn locked_values_refuse_plain_changes_in_higher_layers() {
    let (_, d) = merged(&[
        ("locked security.run_as_non_root = true", Layer::Defaults),
        ("security { run_as_non_root = false }", Layer::Service),
    ]);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, "platc::merge::locked");
    assert!(d[0].help.as_deref().unwrap().contains("override security.run_as_non_root = false because"));
}

#[test]
fn locked_values_may_be_restated_unchanged() {
    let (_, d) = merged(&[
        ("locked security.run_as_non_root = true", Layer::Defaults),
        ("security.run_as_non_root = true", Layer::Service),
    ]);
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn override_changes_a_locked_value() {
    let mut m = Merger::new(false);
    let mut d = Vec::new();
    m.apply_body(&body("locked security.run_as_non_root = true"), &Layer::Defaults, &mut d);
    let b = body("override security.run_as_non_root = false because \"vendor image\"");
    let ast::Item::Override(o) = &b.items[0] else { panic!() };
    m.apply_override(o, "vendor image", &mut d);
    assert!(d.is_empty(), "{d:?}");
    let n = at(&m.tree, "security.run_as_non_root");
    assert_eq!(n.value, Value::Bool(false));
    assert_eq!(n.origin.layer, Layer::Override("vendor image".into()));
}

#[test]
fn trace_records_every_step_in_order() {
    let mut m = Merger::new(true);
    let mut d = Vec::new();
    m.apply_body(&body("replicas = 2"), &Layer::Defaults, &mut d);
    m.apply_body(&body("replicas = 3"), &Layer::Tier("gold".into()), &mut d);
    let steps: Vec<&Layer> = m.trace.as_ref().unwrap().iter().map(|s| &s.origin.layer).collect();
    assert_eq!(steps, [&Layer::Defaults, &Layer::Tier("gold".into())]);
}
