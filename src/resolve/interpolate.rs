//! `${...}` in strings, filled in once a service's values are final.
//!
//! The roots a string may name: `service.name` and any `service.<attribute>`,
//! `workspace.<attribute>`, `environment.name` and `environment.<attribute>`.
//! A string that names another interpolated string is filled in first
//! (bounded, so a cycle is an error, not a hang).

use crate::ast::StrPart;
use crate::diag::Diagnostic;
use crate::merge::{self, display};
use crate::model::Instance;
use crate::span::Span;
use crate::value::{Layer, Map, Node, Value};
use crate::workspace::{Environment, Workspace};

/// What `${...}` can see.
pub struct Scope<'a> {
    pub service: &'a str,
    /// The service's name in its file, for errors in values it inherited.
    pub service_span: Span,
    pub workspace: &'a Workspace,
    pub environment: &'a Environment,
}

const MAX_DEPTH: usize = 8;

/// Replaces every interpolated string of the instance by its text.
pub fn finalize(instance: &mut Instance, scope: &Scope, diags: &mut Vec<Diagnostic>) {
    if !instance.values.values().any(|n| has_interpolation(&n.value)) {
        return;
    }
    let snapshot = instance.values.clone();
    for (key, node) in instance.values.iter_mut() {
        fill_node(key, node, &snapshot, scope, diags);
    }
}

fn has_interpolation(v: &Value) -> bool {
    match v {
        Value::Interpolated(_) => true,
        Value::Map(m) => m.values().any(|n| has_interpolation(&n.value)),
        Value::List(l) => l.iter().any(|n| has_interpolation(&n.value)),
        _ => false,
    }
}

fn fill_node(path: &str, node: &mut Node, snapshot: &Map, scope: &Scope, diags: &mut Vec<Diagnostic>) {
    match &mut node.value {
        Value::Interpolated(parts) => {
            let text = match fill(parts, snapshot, scope, 0) {
                Ok(s) => s,
                Err((span, message, help)) => {
                    let span = if span == Span::default() { node.origin.span } else { span };
                    // A workspace value the platform's default needs and the
                    // workspace does not set: one cause, in platform.plat, for
                    // every service (one report listing them).
                    let missing = parts.iter().find_map(|p| match p {
                        StrPart::Interp(path, _) => match path.as_slice() {
                            [root, key] if root == "workspace" && scope.workspace.get(key).is_none() => Some(key),
                            _ => None,
                        },
                        StrPart::Lit(_) => None,
                    });
                    let mut d = Diagnostic::error("platc::resolve::bad_interpolation", message);
                    let written =
                        matches!(node.origin.layer, Layer::Service | Layer::Environment(_) | Layer::Override(_));
                    if let (false, Some(key), true) = (written, missing, scope.workspace.declared) {
                        d = Diagnostic::error(
                            "platc::resolve::bad_interpolation",
                            format!(
                                "the workspace has no `{key}`, which the {}'s `{path}` needs",
                                node.origin.layer.describe()
                            ),
                        )
                        .label(scope.workspace.span, format!("no `{key}` here"))
                        .also(span, format!("`{path}` needs `${{workspace.{key}}}`"))
                        .help(format!("set `{key} = ...` in the workspace block, or `{path}` in every service"))
                        .at(format!("`{}`", scope.service));
                    } else if written {
                        d = d.label(span, "cannot be filled in").help(help);
                    } else {
                        // A default of the platform that this service cannot fill in:
                        // point at the service, and say what to set.
                        d = d
                            .label(scope.service_span, format!("`{path}` of `{}` cannot be filled in", scope.service))
                            .also(span, format!("the {}'s `{path}` needs this", node.origin.layer.describe()))
                            .help(format!(
                                "set `{path}` in this service (the {} cannot be filled in here)",
                                node.origin.layer.describe()
                            ));
                    }
                    diags.push(d);
                    String::new()
                }
            };
            node.value = Value::Str(text);
        }
        Value::Map(m) => m.iter_mut().for_each(|(k, n)| fill_node(&format!("{path}.{k}"), n, snapshot, scope, diags)),
        Value::List(l) => l.iter_mut().for_each(|n| fill_node(path, n, snapshot, scope, diags)),
        _ => {}
    }
}

type Failure = (Span, String, String);

fn fill(parts: &[StrPart], values: &Map, scope: &Scope, depth: usize) -> Result<String, Failure> {
    let mut out = String::new();
    for part in parts {
        match part {
            StrPart::Lit(s) => out.push_str(s),
            StrPart::Interp(path, span) => out.push_str(&lookup(path, *span, values, scope, depth)?),
        }
    }
    Ok(out)
}

fn lookup(path: &[String], span: Span, values: &Map, scope: &Scope, depth: usize) -> Result<String, Failure> {
    let dotted = path.join(".");
    let roots = "`${service.name}`, `${service.<attribute>}`, `${workspace.<attribute>}` or `${environment.name}`";
    let unknown = |what: &str| (span, format!("`${{{dotted}}}` names {what}"), format!("interpolate {roots}"));
    if depth > MAX_DEPTH {
        return Err((
            span,
            format!("`${{{dotted}}}` refers back to itself"),
            "break the cycle of interpolated strings".into(),
        ));
    }
    let keys: Vec<&str> = path.iter().map(String::as_str).collect();
    let value = match keys.as_slice() {
        ["service", "name"] => return Ok(scope.service.to_string()),
        ["service", rest @ ..] => merge::get(values, rest).map(|n| n.value.clone()),
        ["environment", "name"] => return Ok(scope.environment.name.clone()),
        ["environment", rest @ ..] => merge::get(&scope.environment.values, rest).map(|n| n.value.clone()),
        ["workspace", key] => scope.workspace.get(key),
        _ => return Err(unknown("nothing platc knows")),
    };
    match value {
        Some(Value::Interpolated(parts)) => fill(&parts, values, scope, depth + 1),
        Some(Value::Str(s)) => Ok(s),
        Some(v @ (Value::Number(..) | Value::Quantity { .. } | Value::Bool(_))) => Ok(display(&v)),
        Some(Value::Ref(p)) => Ok(p.join(".")),
        Some(Value::Secret(_)) => Err((
            span,
            format!("`${{{dotted}}}` is a secret; secrets are never written into strings"),
            "pass the secret as its own setting: `NAME = secret(\"...\")`".into(),
        )),
        Some(Value::Null) | None => {
            Err((span, format!("`${{{dotted}}}` is not set"), format!("set it, or interpolate {roots}")))
        }
        Some(other) => Err(unknown(other.describe())),
    }
}
