//! Values after parsing: what an attribute holds, and where it came from.
//!
//! An [`ast::Expr`](crate::ast::Expr) becomes a [`Node`] when a layer sets it:
//! the value plus its [`Origin`] (the layer and the span). Conditions
//! (`==`, `and`, ...) are not values; they stay expressions inside policies.

use std::collections::BTreeMap;

use crate::ast::{self, ExprKind, StrPart};
use crate::diag::Diagnostic;
use crate::span::Span;

/// The layers of resolution, lowest first (see `merge`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Layer {
    /// Computed by platc (a name, a label), not written anywhere.
    Builtin,
    /// The standard library's `defaults { ... }`.
    Defaults,
    /// A golden path (`template NAME`); outermost first.
    GoldenPath(String),
    /// A tier.
    Tier(String),
    /// A resource type's defaults or size table.
    ResourceType(String),
    /// The service's own body.
    Service,
    /// The service's `environment NAME { ... }` block.
    Environment(String),
    /// `override path = value because "reason"`.
    Override(String),
}

impl Layer {
    /// Words for `platc explain` and messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Layer::Builtin => "computed by platc".into(),
            Layer::Defaults => "standard-library default".into(),
            Layer::GoldenPath(n) => format!("golden path `{n}`"),
            Layer::Tier(n) => format!("tier `{n}`"),
            Layer::ResourceType(n) => format!("resource type `{n}`"),
            Layer::Service => "service".into(),
            Layer::Environment(n) => format!("environment block `{n}`"),
            Layer::Override(r) => format!("override because {r:?}"),
        }
    }

    /// Rank in the precedence order; a higher rank wins.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Layer::Builtin => 0,
            Layer::Defaults => 1,
            Layer::GoldenPath(_) => 2,
            Layer::Tier(_) => 3,
            Layer::ResourceType(_) => 4,
            Layer::Service => 5,
            Layer::Environment(_) => 6,
            Layer::Override(_) => 7,
        }
    }
}

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub(crate) layer: Layer,
    pub span: Span,
    /// The key it was written under, for an entry of a map written as a
    /// block or literal (`grants { dispatch = consume }`: `dispatch`), so
    /// that a diagnostic about the key points at it, not at the value.
    pub(crate) key: Option<Span>,
}

/// A value with its origin.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub(crate) value: Value,
    pub(crate) origin: Origin,
}

pub(crate) type Map = BTreeMap<String, Node>;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// A plain number and the text it was written as.
    Number(f64, String),
    /// A number with a unit (`500m`, `512Mi`, `30s`, `99.9%`).
    Quantity {
        value: f64,
        number: String,
        unit: String,
    },
    Str(String),
    /// A string with `${...}` parts, filled in when the service is final.
    Interpolated(Vec<StrPart>),
    /// A bare name or dotted reference; the schema decides which.
    Ref(Vec<String>),
    /// `secret("name/key")`: a reference to a secret, never its value.
    Secret(String),
    /// `file("path")`, relative to the file that says it.
    File(String),
    /// `template("path")` in the standard library.
    Template(String),
    /// `name(args)` for any other call (schema types: `list(string)`).
    Call(String, Vec<Node>),
    /// `aws { region = "..." }`
    Tagged(String, Map),
    List(Vec<Node>),
    Map(Map),
}

impl Value {
    /// Words for messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(..) => "a number",
            Value::Quantity { unit, .. } if unit == "%" => "a percentage",
            Value::Quantity { .. } => "a quantity",
            Value::Str(_) | Value::Interpolated(_) => "a string",
            Value::Ref(p) if p.len() == 1 => "a name",
            Value::Ref(_) => "a reference",
            Value::Secret(_) => "a secret reference",
            Value::File(_) => "a file reference",
            Value::Template(_) => "a template reference",
            Value::Call(..) => "a call",
            Value::Tagged(..) => "a tagged map",
            Value::List(_) => "a list",
            Value::Map(_) => "a block",
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A one-word reference (`gold`) or a plain string.
    pub(crate) fn as_word(&self) -> Option<&str> {
        match self {
            Value::Ref(p) if p.len() == 1 => p.first().map(String::as_str),
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            // The text as written: an f64 holds integers exactly only up to 2^53.
            Value::Number(_, text) if text.parse::<i64>().is_ok() => text.parse().ok(),
            Value::Number(n, _) if n.fract() == 0.0 && n.abs() < 9.0e15 => Some(*n as i64),
            _ => None,
        }
    }
}

impl Node {
    pub(crate) fn new(value: Value, layer: Layer, span: Span) -> Node {
        Node { value, origin: Origin { layer, span, key: None } }
    }
}

/// Converts an expression into a value set by `layer`. Conditions are an
/// error here: they belong in a policy's `when` and `require` only.
pub(crate) fn from_expr(expr: &ast::Expr, layer: &Layer, diags: &mut Vec<Diagnostic>) -> Node {
    let value = match &expr.kind {
        ExprKind::Str(s) => match s.as_plain() {
            Some(p) => Value::Str(p),
            None => Value::Interpolated(s.parts.clone()),
        },
        ExprKind::Number { value, text } => Value::Number(*value, text.clone()),
        ExprKind::Quantity { value, number, unit } => {
            Value::Quantity { value: *value, number: number.clone(), unit: unit.clone() }
        }
        ExprKind::Bool(b) => Value::Bool(*b),
        ExprKind::Null => Value::Null,
        ExprKind::Ref(parts) => Value::Ref(parts.iter().map(|p| p.name.clone()).collect()),
        ExprKind::List(items) => Value::List(items.iter().map(|e| from_expr(e, layer, diags)).collect()),
        ExprKind::Map(body) => Value::Map(map_from_body(body, layer, diags)),
        ExprKind::Tagged { tag, body } => Value::Tagged(tag.name.clone(), map_from_body(body, layer, diags)),
        ExprKind::Call { name, args } => call(name, args, expr.span, layer, diags),
        ExprKind::Binary { .. } | ExprKind::Not(_) => {
            diags.push(
                Diagnostic::error("platc::resolve::condition_outside_policy", "a condition is not a value")
                    .label(expr.span, "comparison here")
                    .help("operators (`==`, `and`, `in`, ...) belong in a policy's `when` and `require`; there is no arithmetic"),
            );
            Value::Null
        }
    };
    Node::new(value, layer.clone(), expr.span)
}

fn call(name: &ast::Ident, args: &[ast::Expr], span: Span, layer: &Layer, diags: &mut Vec<Diagnostic>) -> Value {
    let one_string = |what: &str, diags: &mut Vec<Diagnostic>| -> Option<String> {
        match args {
            [ast::Expr { kind: ExprKind::Str(s), .. }] => {
                if let Some(p) = s.as_plain() {
                    return Some(p);
                }
                // `secret("${resource.name}/url")`: filled in later.
                return Some(
                    s.parts
                        .iter()
                        .map(|p| match p {
                            StrPart::Lit(l) => l.replace('$', "$$"),
                            StrPart::Interp(path, _) => format!("${{{}}}", path.join(".")),
                        })
                        .collect(),
                );
            }
            _ => diags.push(
                Diagnostic::error("platc::resolve::bad_call", format!("`{}` takes one string", name.name))
                    .label(span, "here")
                    .help(format!("write `{}(\"{what}\")`", name.name)),
            ),
        }
        None
    };
    match name.name.as_str() {
        "secret" => one_string("team/secret-name", diags).map(Value::Secret).unwrap_or(Value::Null),
        "file" => one_string("path/to/file", diags).map(Value::File).unwrap_or(Value::Null),
        "template" => one_string("templates/x.hbs", diags).map(Value::Template).unwrap_or(Value::Null),
        _ => Value::Call(name.name.clone(), args.iter().map(|a| from_expr(a, layer, diags)).collect()),
    }
}

/// A map literal or block body as a map (nested blocks become nested maps).
/// Only plain attributes and unlabelled blocks belong here; the caller checks
/// for anything else.
pub(crate) fn map_from_body(body: &ast::Body, layer: &Layer, diags: &mut Vec<Diagnostic>) -> Map {
    let mut map = Map::new();
    for item in &body.items {
        match item {
            ast::Item::Attribute(a) => {
                let Some(keys) = a.path.keys() else {
                    diags.push(list_selector_error(&a.path));
                    continue;
                };
                let mut node = from_expr(&a.value, layer, diags);
                node.origin.key = Some(a.path.span);
                insert_path(&mut map, &keys, node, a.path.span);
            }
            ast::Item::Block(b) if b.labels.is_empty() && b.from.is_none() => {
                let inner = map_from_body(&b.body, layer, diags);
                let node = Node::new(Value::Map(inner), layer.clone(), b.span);
                insert_path(&mut map, &[b.kind.name.as_str()], node, b.kind.span);
            }
            other => diags.push(
                Diagnostic::error("platc::resolve::misplaced", "this does not belong inside a map")
                    .label(other.span(), "not a plain attribute")
                    .help("a map holds `key = value` entries and unlabelled blocks"),
            ),
        }
    }
    map
}

/// Sets `keys` in a literal map, creating intermediate maps.
fn insert_path(map: &mut Map, keys: &[&str], node: Node, span: Span) {
    let Some((first, rest)) = keys.split_first() else {
        return;
    };
    if rest.is_empty() {
        map.insert((*first).to_string(), node);
        return;
    }
    let entry = map
        .entry((*first).to_string())
        .or_insert_with(|| Node::new(Value::Map(Map::new()), node.origin.layer.clone(), span));
    if !matches!(entry.value, Value::Map(_)) {
        entry.value = Value::Map(Map::new());
    }
    if let Value::Map(inner) = &mut entry.value {
        insert_path(inner, rest, node, span);
    }
}

pub(crate) fn list_selector_error(path: &ast::Path) -> Diagnostic {
    Diagnostic::error("platc::resolve::selector_outside_patch", "list selectors only work in `patch` blocks")
        .label(path.span, "selects into a list")
        .help("set the whole list here, or edit the generated object with `patch kubernetes KIND { ... }`")
}

/// Turns a value into JSON for templates: strings and names as strings,
/// percentages as numbers (`70%` → 70), other quantities as written
/// (`512Mi`), secrets as `{secret, name, key}`.
pub(crate) fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Number(n, text) => match text.parse::<i64>() {
            Ok(i) => J::from(i),
            Err(_) => number_json(*n),
        },
        Value::Quantity { value, unit, .. } if unit == "%" => number_json(*value),
        Value::Quantity { number, unit, .. } => J::String(format!("{number}{unit}")),
        Value::Str(s) => J::String(s.clone()),
        Value::Interpolated(_) => J::Null,
        Value::Ref(p) => J::String(p.join(".")),
        Value::Secret(s) => {
            let (name, key) = split_secret(s);
            serde_json::json!({ "secret": s, "name": name, "key": key })
        }
        Value::File(p) | Value::Template(p) => J::String(p.clone()),
        Value::Call(name, _) => J::String(name.clone()),
        Value::Tagged(tag, m) => {
            let mut obj = map_json(m);
            if let J::Object(o) = &mut obj {
                o.insert("kind".into(), J::String(tag.clone()));
            }
            obj
        }
        Value::List(items) => J::Array(items.iter().map(|n| to_json(&n.value)).collect()),
        Value::Map(m) => map_json(m),
    }
}

pub(crate) fn map_json(m: &Map) -> serde_json::Value {
    serde_json::Value::Object(m.iter().map(|(k, n)| (k.clone(), to_json(&n.value))).collect())
}

fn number_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
    }
}

/// `"payments/stripe-key"` → (`payments`, `stripe-key`).
pub(crate) fn split_secret(s: &str) -> (&str, &str) {
    s.rsplit_once('/').unwrap_or((s, "value"))
}
