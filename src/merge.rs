//! Stage 3, merge: layers of attribute assignments → one tree of values.
//!
//! # Precedence
//!
//! | rank | layer                                  | written in                      |
//! |------|----------------------------------------|---------------------------------|
//! | 1    | standard-library `defaults { }`        | `stdlib/defaults.plat`          |
//! | 2    | golden path, outermost `from` first    | `template web-api { }`          |
//! | 3    | tier                                   | `tier gold { }`                 |
//! | 5    | the service                            | `service x from web-api { }`    |
//! | 6    | the service's environment block        | `environment production { }`    |
//! | 7    | `override path = v because "..."`      | the service                     |
//!
//! (Rank 4 is a resource type's defaults and size table, below a resource's
//! own body; rank 0 is what platc computes.)
//!
//! # Rules
//!
//! - **Maps merge by key.** `health { liveness = "/live" }` in a service keeps
//!   the default `health.readiness`. A block and a map literal are the same.
//! - **Scalars and lists replace.** `tags = ["x"]` drops the golden path's
//!   tags; `replicas = 4` replaces 2.
//! - **`+=` appends to a list.** `tags += ["x"]` keeps the tags below and adds
//!   `x`. Appending to something that is not a list is an error.
//! - **`locked` values** may only change through `override`. Setting one in a
//!   higher layer (to a different value) is an error naming the lock; setting
//!   it to the value it is locked at is allowed.
//! - **Every value keeps its origin**: the layer and span of the assignment
//!   that last set it. Appended list items keep their own origins.
//!
//! ```text
//! defaults  { replicas = 2   tags = ["base"]  health { liveness = "/healthz" readiness = "/readyz" } }
//! web-api   { tags = ["web"] }
//! service   { tags += ["payments"]  health { readiness = "/ready" } }
//! production{ replicas = 4 }
//! ⇒ replicas = 4 (environment production), tags = ["web", "payments"],
//!   health = { liveness = "/healthz" (defaults), readiness = "/ready" (service) }
//! ```

use std::collections::BTreeMap;

use crate::ast::{self, AssignOp};
use crate::diag::Diagnostic;
use crate::span::Span;
use crate::value::{self, Layer, Map, Node, Origin, Value};

/// One assignment, as `platc explain` shows it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Step {
    pub(crate) path: String,
    pub(crate) op: AssignOp,
    pub(crate) origin: Origin,
}

/// A tree being built layer by layer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Merger {
    pub(crate) tree: Map,
    /// Locked paths and the assignment that locked them.
    pub(crate) locks: BTreeMap<Vec<String>, Node>,
    /// Every assignment in order, when tracing (for `explain`).
    pub(crate) trace: Option<Vec<Step>>,
}

impl Merger {
    pub(crate) fn new(trace: bool) -> Merger {
        Merger { tree: Map::new(), locks: BTreeMap::new(), trace: trace.then(Vec::new) }
    }

    /// Applies the plain attributes, `locked` attributes and unlabelled
    /// blocks of a body. Labelled blocks, overrides, waivers and patches are
    /// left to the caller, which knows what they mean where.
    pub(crate) fn apply_body(&mut self, body: &ast::Body, layer: &Layer, diags: &mut Vec<Diagnostic>) {
        for item in &body.items {
            match item {
                ast::Item::Attribute(a) => self.apply_attribute(a, layer, false, diags),
                ast::Item::Locked(a) => self.apply_attribute(a, layer, true, diags),
                ast::Item::Block(b) if b.labels.is_empty() && b.from.is_none() => {
                    let map = value::map_from_body(&b.body, layer, diags);
                    let node = Node::new(Value::Map(map), layer.clone(), b.span);
                    self.assign(&[b.kind.name.as_str()], AssignOp::Set, node, b.kind.span, diags);
                }
                _ => {}
            }
        }
    }

    fn apply_attribute(&mut self, a: &ast::Attribute, layer: &Layer, lock: bool, diags: &mut Vec<Diagnostic>) {
        let Some(keys) = a.path.keys() else {
            diags.push(value::list_selector_error(&a.path));
            return;
        };
        let node = value::from_expr(&a.value, layer, diags);
        self.assign(&keys, a.op, node.clone(), a.path.span, diags);
        if lock {
            self.locks.insert(keys.iter().map(|k| k.to_string()).collect(), node);
        }
    }

    /// `override path = value because "reason"`: bypasses locks.
    pub(crate) fn apply_override(&mut self, o: &ast::Override, reason: &str, diags: &mut Vec<Diagnostic>) {
        let Some(keys) = o.path.keys() else {
            diags.push(value::list_selector_error(&o.path));
            return;
        };
        let layer = Layer::Override(reason.to_string());
        let node = value::from_expr(&o.value, &layer, diags);
        self.assign(&keys, AssignOp::Set, node, o.path.span, diags);
    }

    /// Sets `keys` to `node` under the rules above.
    pub(crate) fn assign(&mut self, keys: &[&str], op: AssignOp, node: Node, span: Span, diags: &mut Vec<Diagnostic>) {
        if !matches!(node.origin.layer, Layer::Override(_)) {
            self.check_locks(keys, &node, span, diags);
        }
        if let Some(trace) = &mut self.trace {
            record(trace, &keys.join("."), op, &node);
        }
        let Some((last, parents)) = keys.split_last() else {
            return;
        };
        let mut map = &mut self.tree;
        for key in parents {
            let entry = map
                .entry((*key).to_string())
                .or_insert_with(|| Node::new(Value::Map(Map::new()), node.origin.layer.clone(), span));
            if !matches!(entry.value, Value::Map(_)) {
                *entry = Node::new(Value::Map(Map::new()), node.origin.layer.clone(), span);
            }
            let Value::Map(inner) = &mut entry.value else {
                return;
            };
            map = inner;
        }
        let path = keys.join(".");
        match op {
            AssignOp::Set => set(map, last, node),
            AssignOp::Append => append(map, last, node, &path, diags),
        }
    }

    fn check_locks(&self, keys: &[&str], node: &Node, span: Span, diags: &mut Vec<Diagnostic>) {
        for (lock_path, lock) in &self.locks {
            if node.origin.layer.rank() <= lock.origin.layer.rank() {
                continue;
            }
            // The value this assignment gives the locked path, if it gives one.
            if lock_path.len() < keys.len() || !lock_path.iter().zip(keys).all(|(a, b)| a == b) {
                continue;
            }
            let rest = lock_path.get(keys.len()..).unwrap_or(&[]);
            let given = if rest.is_empty() { Some(node) } else { lookup(&node.value, rest) };
            let Some(given) = given else { continue };
            if same(&given.value, &lock.value) {
                continue;
            }
            let dotted = lock_path.join(".");
            diags.push(
                Diagnostic::error("platc::merge::locked", format!("`{dotted}` is locked by the platform"))
                    .label(given.origin.span.to(span), "changes a locked value")
                    .also(lock.origin.span, "locked here")
                    .help(format!(
                        "if this service really needs it, say why: `override {dotted} = {} because \"...\"`",
                        display(&given.value)
                    )),
            );
        }
    }
}

/// An attribute set twice (`=`) in one block is an error naming both
/// places: with "last wins", the first would be silently dead. Checks
/// `body` and every block, map literal and patch inside it. (`+=` may
/// repeat: each appends.)
pub(crate) fn set_twice(body: &ast::Body, diags: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    let mut first = |path: &ast::Path, diags: &mut Vec<Diagnostic>| {
        let key = path.display();
        match seen.get(&key) {
            Some(prev) => diags.push(
                Diagnostic::error("platc::merge::set_twice", format!("`{key}` is set twice in this block"))
                    .label(path.span, "set again here")
                    .also(*prev, "first set here")
                    .help("keep one: only the last would count"),
            ),
            None => {
                seen.insert(key, path.span);
            }
        }
    };
    for item in &body.items {
        match item {
            ast::Item::Attribute(a) | ast::Item::Locked(a) => {
                if a.op == AssignOp::Set {
                    first(&a.path, diags);
                }
                value_set_twice(&a.value, diags);
            }
            ast::Item::Override(o) => value_set_twice(&o.value, diags),
            ast::Item::Patch(p) => {
                let body =
                    ast::Body { items: p.sets.iter().cloned().map(ast::Item::Attribute).collect(), span: p.span };
                set_twice(&body, diags);
            }
            ast::Item::Block(b) => set_twice(&b.body, diags),
            ast::Item::Allow(_) => {}
        }
    }
}

fn value_set_twice(e: &ast::Expr, diags: &mut Vec<Diagnostic>) {
    match &e.kind {
        ast::ExprKind::Map(body) | ast::ExprKind::Tagged { body, .. } => set_twice(body, diags),
        ast::ExprKind::List(items) => items.iter().for_each(|i| value_set_twice(i, diags)),
        _ => {}
    }
}

fn record(trace: &mut Vec<Step>, path: &str, op: AssignOp, node: &Node) {
    match &node.value {
        Value::Map(m) if !m.is_empty() => {
            for (k, n) in m {
                record(trace, &format!("{path}.{k}"), AssignOp::Set, n);
            }
        }
        _ => trace.push(Step { path: path.to_string(), op, origin: node.origin.clone() }),
    }
}

/// Replaces, or merges two maps by key.
fn set(map: &mut Map, key: &str, node: Node) {
    match (map.get_mut(key), node.value) {
        (Some(old @ Node { value: Value::Map(_), .. }), Value::Map(new)) => {
            let Value::Map(old_map) = &mut old.value else {
                return;
            };
            for (k, v) in new {
                set(old_map, &k, v);
            }
        }
        (_, value) => {
            map.insert(key.to_string(), Node { value, origin: node.origin });
        }
    }
}

fn append(map: &mut Map, key: &str, node: Node, path: &str, diags: &mut Vec<Diagnostic>) {
    let Value::List(new_items) = node.value else {
        diags.push(
            Diagnostic::error(
                "platc::merge::append_non_list",
                format!("`+=` appends a list, but this is {}", node.value.describe()),
            )
            .label(node.origin.span, "not a list")
            .help(format!("write `{path} += [...]`")),
        );
        return;
    };
    match map.get_mut(key) {
        Some(Node { value: Value::List(items), origin }) => {
            items.extend(new_items);
            *origin = node.origin;
        }
        Some(old @ Node { value: Value::Null, .. }) => {
            *old = Node { value: Value::List(new_items), origin: node.origin };
        }
        Some(old) => diags.push(
            Diagnostic::error(
                "platc::merge::append_non_list",
                format!("`{path}` is {}, not a list", old.value.describe()),
            )
            .label(node.origin.span, "appends here")
            .also(old.origin.span, "set here")
            .help(format!("replace it with `{path} = [...]`")),
        ),
        None => {
            map.insert(key.to_string(), Node { value: Value::List(new_items), origin: node.origin });
        }
    }
}

/// The node at a non-empty `path` inside a value.
pub(crate) fn lookup<'a>(v: &'a Value, path: &[String]) -> Option<&'a Node> {
    let (first, rest) = path.split_first()?;
    let node = v.as_map()?.get(first)?;
    if rest.is_empty() { Some(node) } else { lookup(&node.value, rest) }
}

/// Looks a dotted path up in a tree.
pub(crate) fn get<'a>(tree: &'a Map, path: &[&str]) -> Option<&'a Node> {
    let (first, rest) = path.split_first()?;
    let node = tree.get(*first)?;
    if rest.is_empty() {
        return Some(node);
    }
    get(node.value.as_map()?, rest)
}

/// Equal as values, whatever their origins.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x, _), Value::Number(y, _)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(&a.value, &b.value))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((ka, a), (kb, b))| ka == kb && same(&a.value, &b.value))
        }
        _ => a == b,
    }
}

/// A value as plat source, for help lines.
pub(crate) fn display(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(_, t) => t.clone(),
        Value::Quantity { number, unit, .. } => format!("{number}{unit}"),
        Value::Str(s) => format!("{s:?}"),
        Value::Interpolated(_) => "\"...\"".into(),
        Value::Ref(p) => p.join("."),
        Value::Secret(s) => format!("secret({s:?})"),
        Value::File(s) => format!("file({s:?})"),
        Value::Template(s) => format!("template({s:?})"),
        Value::Call(n, _) => format!("{n}(...)"),
        Value::Tagged(t, _) => format!("{t} {{ ... }}"),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(|n| display(&n.value)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(m) => {
            let items: Vec<String> = m.iter().map(|(k, n)| format!("{k} = {}", display(&n.value))).collect();
            format!("{{ {} }}", items.join("  "))
        }
    }
}

#[cfg(test)]
mod tests;
