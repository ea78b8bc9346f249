//! `patch TARGET KIND { path = value }`: edits to generated objects after
//! rendering, before serialization.
//!
//! A path walks maps by key (creating missing keys) and lists by position
//! (`containers[0]`) or by a key (`containers[name=app]`). A patch whose kind
//! matches no generated object, or whose list step matches no item, is an
//! error: a patch that silently does nothing is a patch nobody can trust.

use crate::ast::{AssignOp, Attribute, Patch, Segment};
use crate::diag::Diagnostic;
use crate::value::{Layer, Value, from_expr};

use super::doc::Doc;

/// Applies one patch to the objects of its target; `docs` are all objects
/// the target generated for one service in one environment, with their kinds
/// (see [`targets_of`]); `at` names them in diagnostics (`` `api` in staging ``).
pub fn apply(patch: &Patch, docs: &mut [(String, &mut Doc)], at: &str, diags: &mut Vec<Diagnostic>) {
    let mut matched = false;
    for (kind, doc) in docs.iter_mut() {
        if kind != &patch.kind.name {
            continue;
        }
        matched = true;
        for set in &patch.sets {
            if let Err(d) = apply_set(set, doc) {
                diags.push(d.at(at));
            }
        }
    }
    if !matched {
        let mut kinds: Vec<&str> = docs.iter().map(|(k, _)| k.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        diags.push(
            Diagnostic::error(
                "platc::patch::no_match",
                format!("no `{}` is generated for {}", patch.kind.name, patch.target.name),
            )
            .at(at)
            .label(patch.kind.span, "matches nothing")
            .help(crate::diag::unknown_help(&patch.kind.name, "kind", kinds.iter().copied())),
        );
    }
}

fn apply_set(set: &Attribute, doc: &mut Doc) -> Result<(), Diagnostic> {
    let mut conv = Vec::new();
    let node = from_expr(&set.value, &Layer::Service, &mut conv);
    if let Some(d) = conv.into_iter().next() {
        return Err(d);
    }
    let value = to_doc(&node.value).ok_or_else(|| {
        Diagnostic::error(
            "platc::patch::bad_value",
            format!("{} cannot be written into a generated object", node.value.describe()),
        )
        .label(set.value.span, "not plain data")
        .help("a patch writes strings, numbers, booleans, lists and maps; secrets stay references")
    })?;
    let mut cur: &mut Doc = doc;
    let segs = &set.path.segments;
    let Some((last, parents)) = segs.split_last() else {
        return Ok(());
    };
    for seg in parents {
        cur = step(cur, seg)?;
    }
    match last {
        Segment::Key(k, _) => {
            if !matches!(cur, Doc::Map(_)) {
                return Err(not_a(seg_span(last), "a map", k));
            }
            match (set.op, cur.get_mut(k)) {
                (AssignOp::Append, Some(Doc::List(items))) => match value {
                    Doc::List(more) => items.extend(more),
                    other => items.push(other),
                },
                (AssignOp::Append, Some(_)) => return Err(not_a(seg_span(last), "a list", k)),
                _ => cur.set(k, value),
            }
        }
        seg => {
            let slot = step(cur, seg)?;
            *slot = value;
        }
    }
    Ok(())
}

fn seg_span(s: &Segment) -> crate::span::Span {
    s.span()
}

fn not_a(span: crate::span::Span, what: &str, key: &str) -> Diagnostic {
    Diagnostic::error("platc::patch::no_match", format!("`{key}` is not {what} in the generated object"))
        .label(span, "cannot step here")
        .help("check the path against the generated file (`platc build`, then read it)")
}

fn step<'a>(cur: &'a mut Doc, seg: &Segment) -> Result<&'a mut Doc, Diagnostic> {
    match seg {
        Segment::Key(k, span) => match cur {
            Doc::Map(m) => {
                if !m.iter().any(|(key, _)| key == k) {
                    m.push((k.clone(), Doc::Map(Vec::new())));
                }
                Ok(m.iter_mut().find(|(key, _)| key == k).map(|(_, v)| v).ok_or_else(|| not_a(*span, "a map", k))?)
            }
            _ => Err(not_a(*span, "a map", k)),
        },
        Segment::Index(i, span) => match cur {
            Doc::List(items) => {
                let len = items.len();
                items.get_mut(*i).ok_or_else(|| {
                    Diagnostic::error("platc::patch::no_match", format!("index {i} is past the end of a list of {len}"))
                        .label(*span, "no such item")
                        .help("count from 0, or select by key: `[name=app]`")
                })
            }
            _ => Err(not_a(*span, "a list", &format!("[{i}]"))),
        },
        Segment::Select { key, value, span } => match cur {
            Doc::List(items) => {
                let found: Vec<String> = items.iter().filter_map(|d| d.get(key).and_then(scalar_text)).collect();
                items
                    .iter_mut()
                    .find(|d| d.get(key).and_then(scalar_text).as_deref() == Some(value.as_str()))
                    .ok_or_else(|| {
                        Diagnostic::error("platc::patch::no_match", format!("no item has `{key}` = `{value}`"))
                            .label(*span, "matches no item")
                            .help(crate::diag::unknown_help(value, "item", found.iter().map(String::as_str)))
                    })
            }
            _ => Err(not_a(*span, "a list", &format!("[{key}={value}]"))),
        },
    }
}

fn scalar_text(d: &Doc) -> Option<String> {
    match d {
        Doc::Str(s) => Some(s.clone()),
        Doc::Int(i) => Some(i.to_string()),
        Doc::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A plat value as generated data; `None` for secrets and other references
/// that have no literal form.
pub fn to_doc(v: &Value) -> Option<Doc> {
    Some(match v {
        Value::Null => Doc::Null,
        Value::Bool(b) => Doc::Bool(*b),
        Value::Number(_, text) if text.parse::<i64>().is_ok() => Doc::Int(text.parse().unwrap_or_default()),
        Value::Number(n, _) if n.fract() == 0.0 && n.abs() < 9.0e15 => Doc::Int(*n as i64),
        Value::Number(n, _) => Doc::Float(*n),
        Value::Quantity { value, unit, .. } if unit == "%" => {
            if value.fract() == 0.0 {
                Doc::Int(*value as i64)
            } else {
                Doc::Float(*value)
            }
        }
        Value::Quantity { number, unit, .. } => Doc::Str(format!("{number}{unit}")),
        Value::Str(s) => Doc::Str(s.clone()),
        Value::Ref(p) if p.len() == 1 => Doc::Str(p.join(".")),
        Value::List(items) => Doc::List(items.iter().map(|n| to_doc(&n.value)).collect::<Option<_>>()?),
        Value::Map(m) => Doc::Map(m.iter().map(|(k, n)| Some((k.clone(), to_doc(&n.value)?))).collect::<Option<_>>()?),
        _ => return None,
    })
}

/// The objects a patch of a target can address, with their kinds: a
/// document's `kind` (Kubernetes, catalog entities, PrometheusRule), or, for
/// Terraform, each `resource.<type>.<name>` body with its type as kind.
pub fn targets_of<'a>(terraform: bool, doc: &'a mut Doc, out: &mut Vec<(String, &'a mut Doc)>) {
    if !terraform {
        if let Some(k) = doc.kind().map(str::to_string) {
            out.push((k, doc));
        }
        return;
    }
    let Some(Doc::Map(types)) = doc.get_mut("resource") else {
        return;
    };
    for (ty, named) in types.iter_mut() {
        if let Doc::Map(bodies) = named {
            for (_, body) in bodies.iter_mut() {
                out.push((ty.clone(), body));
            }
        }
    }
}
