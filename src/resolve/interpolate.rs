//! `${...}` in strings, filled in once a service's values are final.
//!
//! The roots a string may name: `service.name` and any `service.<attribute>`,
//! `workspace.<attribute>`, `environment.name` and `environment.<attribute>`,
//! a plain (not secret) output of one of the service's resources
//! (`${sessions.addr}`), and the address of another service
//! (`${users.host}`, `.port`, `.addr`, `.url`) or a plain output of a
//! resource another service granted it (`${orders.cache.addr}`).
//! A string that names another interpolated string is filled in first
//! (bounded, so a cycle is an error, not a hang).
//!
//! Another service's address depends on that service's values (its protocol
//! and Service port), which are not known while this one resolves: those
//! parts stay `${...}` in the value (every other part filled in), are checked
//! against the whole workspace by `check` (the service exists and is in
//! `depends_on`, the part exists, a foreign resource is granted) and filled
//! in by `emit` from the same addresses `users.addr` references get
//! (`emit::context::service_address`).

use crate::ast::StrPart;
use crate::diag::Diagnostic;
use crate::merge::display;
use crate::model::Instance;
use crate::scope::{Found, Meaning, Place};
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

/// The longest text one interpolated string may fill in to (a string as long
/// as the largest file `file(...)` may read).
pub(crate) const MAX_FILLED: usize = 1 << 20;

/// The most text the interpolated strings of one instance may fill in, all
/// together. Every byte written counts, and every `${...}` one more, so that
/// strings naming strings (that name strings...) cannot make the work or the
/// memory grow exponentially with the nesting: it is refused first.
pub(crate) const MAX_WORK: usize = 16 << 20;

/// The state of filling in one instance's strings.
struct Filler<'a> {
    values: &'a Map,
    scope: &'a Scope<'a>,
    /// The resources of the service, for `${<resource>.<output>}`.
    resources: &'a [crate::model::Resource],
    /// The text of every `${...}` filled in so far, by its dotted path (or
    /// why it cannot be: each string is filled in at most once).
    done: std::collections::HashMap<String, Result<Vec<StrPart>, Failure>>,
    /// Set once a string was too deep to fill in: that depends on where it
    /// was named from, so failures are no longer remembered.
    too_deep: bool,
    /// The `${...}` being filled in, outermost first (a cycle is a path
    /// already on it).
    stack: Vec<String>,
    /// What is left of [`MAX_WORK`].
    work_left: usize,
}

/// Replaces every interpolated string of the instance by its text.
pub(crate) fn finalize(instance: &mut Instance, scope: &Scope, diags: &mut Vec<Diagnostic>) {
    if !instance.values.values().any(|n| has_interpolation(&n.value)) {
        return;
    }
    let snapshot = instance.values.clone();
    let resources = instance.resources.clone();
    let mut filler = Filler {
        values: &snapshot,
        resources: &resources,
        scope,
        done: std::collections::HashMap::new(),
        stack: Vec::new(),
        too_deep: false,
        work_left: MAX_WORK,
    };
    for (key, node) in instance.values.iter_mut() {
        fill_node(key, node, &mut filler, diags);
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

fn fill_node(path: &str, node: &mut Node, filler: &mut Filler, diags: &mut Vec<Diagnostic>) {
    let scope = filler.scope;
    match &mut node.value {
        Value::Interpolated(parts) => {
            let text = match filler.fill(parts) {
                // Parts left for emit (another service's address): the value
                // stays interpolated, with only those.
                Ok(filled) if filled.iter().any(|p| matches!(p, StrPart::Interp(..))) => {
                    node.value = Value::Interpolated(filled);
                    return;
                }
                Ok(filled) => filled
                    .into_iter()
                    .map(|p| match p {
                        StrPart::Lit(s) => s,
                        StrPart::Interp(..) => String::new(),
                    })
                    .collect(),
                Err((span, message, help)) => {
                    let span = if span == Span::default() { node.origin.span } else { span };
                    // A workspace value the platform's default needs and the
                    // workspace does not set: one cause, in platform.plat, for
                    // every service (one report listing them).
                    let missing = parts.iter().find_map(|p| match p {
                        StrPart::Interp(path, _) => match crate::scope::classify(path, Place::String, |_| false) {
                            Meaning::Workspace(key) if scope.workspace.get(key).is_none() => Some(key),
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
        Value::Map(m) => m.iter_mut().for_each(|(k, n)| fill_node(&format!("{path}.{k}"), n, filler, diags)),
        Value::List(l) => l.iter_mut().for_each(|n| fill_node(path, n, filler, diags)),
        _ => {}
    }
}

type Failure = (Span, String, String);

impl Filler<'_> {
    /// The text of `parts`, each `${...}` filled in but those left for emit
    /// (outside the service, see [`crate::scope`]), literal text merged.
    fn fill(&mut self, parts: &[StrPart]) -> Result<Vec<StrPart>, Failure> {
        let mut out = Vec::new();
        let mut len = 0;
        for part in parts {
            match part {
                StrPart::Lit(s) => self.append(&mut out, &mut len, &[StrPart::Lit(s.clone())], None)?,
                StrPart::Interp(path, span) => {
                    self.charge(1, *span)?;
                    let text = self.lookup(path, *span)?;
                    self.append(&mut out, &mut len, &text, Some((path, *span)))?;
                }
            }
        }
        Ok(out)
    }

    /// Appends `text` to `out` if both limits allow it (checked before the
    /// text is copied); `len` is the length of `out` so far (a part left
    /// for emit counts as its path).
    fn append(
        &mut self,
        out: &mut Vec<StrPart>,
        len: &mut usize,
        text: &[StrPart],
        at: Option<(&[String], Span)>,
    ) -> Result<(), Failure> {
        let span = at.map_or(Span::default(), |(_, s)| s);
        let size: usize = text
            .iter()
            .map(|p| match p {
                StrPart::Lit(s) => s.len(),
                StrPart::Interp(p, _) => p.iter().map(|s| s.len() + 1).sum(),
            })
            .sum();
        if len.saturating_add(size) > MAX_FILLED {
            let what = at.map_or("this string".to_string(), |(p, _)| format!("`${{{}}}`", p.join(".")));
            return Err((
                span,
                format!("filling in {what} makes a string longer than {} MiB", MAX_FILLED >> 20),
                "interpolate shorter strings, or fewer of them: strings that name strings multiply their length".into(),
            ));
        }
        self.charge(size, span)?;
        *len += size;
        for part in text {
            match (out.last_mut(), part) {
                (Some(StrPart::Lit(prev)), StrPart::Lit(s)) => prev.push_str(s),
                (_, StrPart::Lit(s)) if s.is_empty() => {}
                (_, p) => out.push(p.clone()),
            }
        }
        Ok(())
    }

    /// Takes `n` from what is left of [`MAX_WORK`].
    fn charge(&mut self, n: usize, span: Span) -> Result<(), Failure> {
        match self.work_left.checked_sub(n) {
            Some(left) => {
                self.work_left = left;
                Ok(())
            }
            None => Err((
                span,
                format!(
                    "the interpolated strings of `{}` fill in more than {} MiB in all",
                    self.scope.service,
                    MAX_WORK >> 20
                ),
                "interpolate shorter strings, or fewer of them: strings that name strings multiply their length".into(),
            )),
        }
    }

    fn lookup(&mut self, path: &[String], span: Span) -> Result<Vec<StrPart>, Failure> {
        let dotted = path.join(".");
        if let Some(done) = self.done.get(&dotted) {
            return done.clone();
        }
        let (values, scope) = (self.values, self.scope);
        let roots = "`${service.name}`, `${service.<attribute>}`, `${workspace.<attribute>}`, `${environment.name}` or another service's address (`${users.addr}`, `.host`, `.port`, `.url`)";
        let unknown = |what: &str| (span, format!("`${{{dotted}}}` names {what}"), format!("interpolate {roots}"));
        let names = crate::scope::Scope {
            service: scope.service,
            values,
            resources: self.resources,
            workspace: scope.workspace,
            environment: scope.environment,
        };
        let name = names.classify(path, Place::String);
        let value = match names.find(name) {
            Found::Outside => return Ok(vec![StrPart::Interp(path.to_vec(), span)]),
            Found::Text(t) => return Ok(vec![StrPart::Lit(t.into_owned())]),
            Found::Value(v, _) => Some(v.into_owned()),
            Found::Unset => None,
            Found::NoOutput(known) => {
                let (resource, output) = match name {
                    Meaning::Output { resource, output } => (resource, output),
                    _ => ("", ""),
                };
                return Err((
                    span,
                    format!("resource `{resource}` has no output `{output}`"),
                    crate::diag::unknown_help(output, "output", known),
                ));
            }
            Found::Unknown => return Err(unknown("nothing platc knows")),
        };
        let text = match value {
            Some(Value::Interpolated(parts)) => {
                if let Some(at) = self.stack.iter().position(|p| *p == dotted) {
                    let chain: Vec<String> =
                        self.stack.iter().skip(at).chain([&dotted]).map(|p| format!("`${{{p}}}`")).collect();
                    return Err((
                        span,
                        format!("`${{{dotted}}}` refers back to itself: {}", chain.join(" → ")),
                        "break the cycle of interpolated strings".into(),
                    ));
                }
                if self.stack.len() >= MAX_DEPTH {
                    self.too_deep = true;
                    return Err((
                        span,
                        format!("`${{{dotted}}}` is a string filled in from strings more than {MAX_DEPTH} levels deep"),
                        format!("interpolate a value that needs at most {MAX_DEPTH} levels of strings filled in"),
                    ));
                }
                self.stack.push(dotted.clone());
                let filled = self.fill(&parts);
                self.stack.pop();
                if filled.is_ok() || !self.too_deep {
                    self.done.insert(dotted, filled.clone());
                }
                return filled;
            }
            Some(Value::Str(s)) => vec![StrPart::Lit(s)],
            Some(v @ (Value::Number(..) | Value::Quantity { .. } | Value::Bool(_))) => vec![StrPart::Lit(display(&v))],
            Some(Value::Ref(p)) => vec![StrPart::Lit(p.join("."))],
            Some(Value::Secret(_)) => {
                return Err((
                    span,
                    format!("`${{{dotted}}}` is a secret; secrets are never written into strings"),
                    format!(
                        "pass the secret as a setting of its own: `NAME = {}`",
                        if path.len() == 2 && path.first().is_some_and(|r| r != "service") {
                            dotted.clone()
                        } else {
                            "secret(\"...\")".into()
                        }
                    ),
                ));
            }
            Some(Value::Null) | None => {
                return Err((span, format!("`${{{dotted}}}` is not set"), format!("set it, or interpolate {roots}")));
            }
            Some(other) => return Err(unknown(other.describe())),
        };
        Ok(text)
    }
}
