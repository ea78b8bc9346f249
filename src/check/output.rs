//! Policies over the generated objects: `generated("kubernetes/*:..securityContext.privileged")`
//! in a policy reads the objects platc generated for the service in one
//! environment, after its patches, so that no patch can produce what a
//! policy forbids.
//!
//! A selector is `TARGET/KIND:PATH`. `KIND` is an object's `kind`
//! (Kubernetes, catalog, PrometheusRule), a Terraform resource type, or `*`
//! for every object of the target. `PATH` walks the object:
//!
//! | step        | means                                                         |
//! |-------------|---------------------------------------------------------------|
//! | `a.b`       | the key `b` of the map at `a`; a missing key gives `null`      |
//! | `..key`     | every `key` at any depth below (none found: no value)          |
//! | `[*]`       | every item of a list                                           |
//! | `[2]`       | the third item                                                 |
//! | `[name=app]`| the item whose `name` is `app`                                 |
//!
//! The values found are a list (`true not in generated(...)`,
//! `all(generated(...), false)`); several selectors give one list. A patch
//! that writes where a policy's selector reaches is on a *protected path*
//! and needs `because "..."`; its value is then still checked like any other.

use crate::ast::{self, Segment};
use crate::diag::Diagnostic;
use crate::emit::doc::Doc;
use crate::eval::{self, EVal};
use crate::library::{Library, Policy};
use crate::model::{Instance, Model, Service};
use crate::span::Span;
use crate::value::{Layer, Origin};

/// One step of a selector path.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Key(String),
    /// `..key`: at any depth.
    Descend(String),
    /// `[*]`
    Every,
    Index(usize),
    Select(String, String),
}

/// A parsed `TARGET/KIND:PATH`.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    pub target: String,
    /// `*` for every kind.
    pub kind: String,
    pub steps: Vec<Step>,
}

impl Selector {
    /// Parses a selector; `Err` says what is wrong, for a diagnostic.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let form = "write `TARGET/KIND:PATH`, such as `kubernetes/Deployment:spec.template.spec.hostNetwork`";
        let (head, path) = text.split_once(':').ok_or_else(|| format!("no `:` before the path; {form}"))?;
        let (target, kind) = head.split_once('/').ok_or_else(|| format!("no `/` between target and kind; {form}"))?;
        // The target is checked against the registry where the library is
        // complete (`Library::check_targets`).
        if target.is_empty() {
            return Err(format!("no target before `/`; {form}"));
        }
        if kind.is_empty() {
            return Err(format!("no kind (write `*` for every kind); {form}"));
        }
        let mut steps = Vec::new();
        let mut rest = path;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("..") {
                let (key, r) = key_of(r);
                if key.is_empty() {
                    return Err(format!("`..` is followed by a key in `{path}`"));
                }
                steps.push(Step::Descend(key.to_string()));
                rest = r;
            } else if let Some(r) = rest.strip_prefix('[') {
                let (inner, r) = r.split_once(']').ok_or_else(|| format!("unclosed `[` in `{path}`"))?;
                steps.push(match inner {
                    "*" => Step::Every,
                    _ => match (inner.parse::<usize>(), inner.split_once('=')) {
                        (Ok(i), _) => Step::Index(i),
                        (_, Some((k, v))) if !k.is_empty() => Step::Select(k.to_string(), v.to_string()),
                        _ => return Err(format!("`[{inner}]` is not `[*]`, `[N]` or `[key=value]`")),
                    },
                });
                rest = r;
            } else {
                let r = if steps.is_empty() { rest } else { rest.strip_prefix('.').unwrap_or(rest) };
                let (key, r) = key_of(r);
                if key.is_empty() {
                    return Err(format!("an empty key in `{path}`"));
                }
                steps.push(Step::Key(key.to_string()));
                rest = r;
            }
        }
        if steps.is_empty() {
            return Err(format!("no path after `:`; {form}"));
        }
        Ok(Selector { target: target.to_string(), kind: kind.to_string(), steps })
    }

    fn matches(&self, target: &str, kind: &str) -> bool {
        self.target == target && (self.kind == "*" || self.kind == kind)
    }
}

fn key_of(s: &str) -> (&str, &str) {
    let end = s.find(['.', '[']).unwrap_or(s.len());
    s.split_at(end)
}

/// A step of a concrete place in an object: a key, or some list item.
#[derive(Clone, Debug, PartialEq)]
enum Place {
    Key(String),
    Item,
}

/// Walks `steps` from `doc`; every value reached, `None` where a key is
/// missing, with the place it was found at.
fn walk<'d>(doc: Option<&'d Doc>, steps: &[Step], at: &mut Vec<Place>, out: &mut Vec<(Option<&'d Doc>, Vec<Place>)>) {
    let Some((first, rest)) = steps.split_first() else {
        out.push((doc, at.clone()));
        return;
    };
    let Some(doc) = doc else {
        out.push((None, at.clone()));
        return;
    };
    match (first, doc) {
        (Step::Key(k), _) => {
            at.push(Place::Key(k.clone()));
            walk(doc.get(k), rest, at, out);
            at.pop();
        }
        (Step::Descend(k), _) => descend(doc, k, rest, at, out),
        (Step::Every, Doc::List(items)) => {
            for item in items {
                at.push(Place::Item);
                walk(Some(item), rest, at, out);
                at.pop();
            }
        }
        (Step::Index(i), Doc::List(items)) => {
            at.push(Place::Item);
            walk(items.get(*i), rest, at, out);
            at.pop();
        }
        (Step::Select(k, v), Doc::List(items)) => {
            for item in items.iter().filter(|d| d.get(k).map(Doc::text).as_deref() == Some(v.as_str())) {
                at.push(Place::Item);
                walk(Some(item), rest, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn descend<'d>(
    doc: &'d Doc,
    key: &str,
    rest: &[Step],
    at: &mut Vec<Place>,
    out: &mut Vec<(Option<&'d Doc>, Vec<Place>)>,
) {
    match doc {
        Doc::Map(m) => {
            for (k, v) in m {
                at.push(Place::Key(k.clone()));
                if k == key {
                    walk(Some(v), rest, at, out);
                }
                descend(v, key, rest, at, out);
                at.pop();
            }
        }
        Doc::List(items) => {
            for item in items {
                at.push(Place::Item);
                descend(item, key, rest, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// A patch assignment, as the places it writes.
struct Written {
    target: String,
    kind: String,
    places: Vec<Place>,
    origin: Origin,
}

/// The generated objects of one service in one environment, after its
/// patches, as a policy's `generated(...)` sees them.
pub(crate) struct Objects<'a> {
    /// Target, kind and object (a Terraform resource body has its type as kind).
    docs: Vec<(&'a str, String, &'a Doc)>,
    written: Vec<Written>,
}

impl<'a> Objects<'a> {
    pub fn new(service: &Service) -> Objects<'a> {
        let mut written = Vec::new();
        for p in &service.patches {
            for set in &p.patch.sets {
                written.push(Written {
                    target: p.patch.target.name.clone(),
                    kind: p.patch.kind.name.clone(),
                    places: places_of(&set.path),
                    origin: Origin { layer: p.layer(), span: set.span, key: None },
                });
            }
        }
        Objects { docs: Vec::new(), written }
    }

    /// Adds the documents of a target (in Terraform's shape for a target of
    /// format `hcl`: each resource body is an object, its type the kind).
    pub fn add(&mut self, target: &'a crate::targets::Target, docs: &'a [Doc]) {
        let hcl = target.format == crate::emit::Format::Hcl;
        let target = target.name.as_str();
        for d in docs {
            if hcl {
                if let Some(Doc::Map(types)) = d.get("resource") {
                    for (ty, named) in types {
                        if let Doc::Map(bodies) = named {
                            self.docs.extend(bodies.iter().map(|(_, b)| (target, ty.clone(), b)));
                        }
                    }
                }
            } else {
                self.docs.push((target, d.kind().unwrap_or("").to_string(), d));
            }
        }
    }
}

impl eval::Objects for Objects<'_> {
    fn select(&self, text: &str) -> Result<Vec<(EVal, Option<&Origin>)>, String> {
        let sel = Selector::parse(text)?;
        let mut out = Vec::new();
        for (target, kind, doc) in &self.docs {
            if !sel.matches(target, kind) {
                continue;
            }
            let mut found = Vec::new();
            walk(Some(doc), &sel.steps, &mut Vec::new(), &mut found);
            for (value, place) in found {
                let origin = self
                    .written
                    .iter()
                    .filter(|w| w.target == *target && w.kind == *kind && overlaps(&w.places, &place))
                    .map(|w| &w.origin)
                    .next_back();
                out.push((value.map(from_doc).unwrap_or(EVal::Null), origin));
            }
        }
        Ok(out)
    }
}

/// One place is inside the other.
fn overlaps(a: &[Place], b: &[Place]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

fn places_of(path: &ast::Path) -> Vec<Place> {
    path.segments
        .iter()
        .map(|s| match s {
            Segment::Key(k, _) => Place::Key(k.clone()),
            Segment::Index(..) | Segment::Select { .. } => Place::Item,
        })
        .collect()
}

fn from_doc(d: &Doc) -> EVal {
    match d {
        Doc::Null => EVal::Null,
        Doc::Bool(b) => EVal::Bool(*b),
        Doc::Int(i) => EVal::Num(*i as f64),
        Doc::Float(f) => EVal::Num(*f),
        Doc::Str(s) => EVal::Str(s.clone()),
        Doc::List(items) => EVal::List(items.iter().map(from_doc).collect()),
        Doc::Map(_) => EVal::Str(d.text()),
    }
}

/// The selectors of every `generated("...")` in an expression.
pub(crate) fn selectors_of(e: &ast::Expr, out: &mut Vec<(String, Span)>) {
    use ast::ExprKind;
    match &e.kind {
        ExprKind::Call { name, args } if name.name == "generated" => {
            for a in args {
                match &a.kind {
                    ExprKind::Str(s) => out.push((s.as_plain().unwrap_or_default(), a.span)),
                    _ => out.push((String::new(), a.span)),
                }
            }
        }
        ExprKind::Call { args, .. } | ExprKind::List(args) => args.iter().for_each(|a| selectors_of(a, out)),
        ExprKind::Binary { lhs, rhs, .. } => {
            selectors_of(lhs, out);
            selectors_of(rhs, out);
        }
        ExprKind::Not(x) => selectors_of(x, out),
        _ => {}
    }
}

/// A patch without a reason that writes where a policy reads: an error
/// naming the policy. A patch with a reason is listed with it, and its
/// result is still checked.
pub(crate) fn patch_reasons(service: &Service, lib: &Library, diags: &mut Vec<Diagnostic>) {
    for p in service.patches.iter().filter(|p| p.patch.reason.is_none()) {
        for set in &p.patch.sets {
            let Some(policy) = protecting(&p.patch, set, lib) else { continue };
            let header = format!("patch {} {}", p.patch.target.name, p.patch.kind.name);
            diags.push(
                Diagnostic::error(
                    "platc::patch::needs_reason",
                    format!(
                        "`{}` is read by policy `{}`: a patch there needs a reason",
                        set.path.display(),
                        policy.name.name
                    ),
                )
                .label(set.path.span, "a protected path")
                .also(policy.name.span, "the policy that reads it")
                .help(format!("say why, for the reviewer and the catalog: `{header} because \"...\" {{ ... }}`")),
            );
        }
    }
}

/// The first policy whose selectors reach into what `set` writes.
fn protecting<'l>(patch: &ast::Patch, set: &ast::Attribute, lib: &'l Library) -> Option<&'l Policy> {
    // The written value, at its path, as a document of its own.
    let mut conv = Vec::new();
    let node = crate::value::from_expr(&set.value, &Layer::Service, &mut conv);
    let mut doc = crate::emit::patch::to_doc(&node.value).unwrap_or(Doc::Null);
    for seg in set.path.segments.iter().rev() {
        doc = match seg {
            Segment::Key(k, _) => Doc::Map(vec![(k.clone(), doc)]),
            Segment::Index(..) => Doc::List(vec![doc]),
            Segment::Select { key, value, .. } => {
                if let Doc::Map(m) = &mut doc {
                    m.push((key.clone(), Doc::Str(value.clone())));
                }
                Doc::List(vec![doc])
            }
        };
    }
    let kind = &patch.kind.name;
    let written = places_of(&set.path);
    lib.policies.values().find(|policy| {
        policy.selectors.iter().filter_map(|(s, _)| Selector::parse(s).ok()).any(|sel| {
            if !sel.matches(&patch.target.name, kind) {
                return false;
            }
            let mut found = Vec::new();
            walk(Some(&doc), &sel.steps, &mut Vec::new(), &mut found);
            // The selector reads the written value, or through it (a
            // replaced map whose key it reads is now missing).
            found.iter().any(|(v, place)| v.is_some() || place.starts_with(&written))
        })
    })
}

/// Runs the policies over the generated objects of `service` in one
/// environment; returns the names of the failing policies it waived.
pub(crate) fn run(
    service: &Service,
    instance: &Instance,
    model: &Model,
    lib: &Library,
    objects: &Objects,
    diags: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let mut waived = Vec::new();
    let (Some(env), Some(schema)) =
        (model.workspace.environments.iter().find(|e| e.name == instance.env), lib.schemas.get("service"))
    else {
        return waived;
    };
    for policy in lib.policies.values().filter(|p| !p.selectors.is_empty()) {
        let is_waived = service.waivers.iter().any(|w| w.what == policy.name.name);
        match super::run_policy(policy, service, instance, &model.workspace, env, schema, Some(objects)) {
            Ok(true) => {}
            Ok(false) if is_waived => waived.push(policy.name.name.clone()),
            Ok(false) => {
                diags.push(super::violation(policy, service, instance, &model.workspace, env, schema, Some(objects)))
            }
            Err((span, message)) => diags.push(super::cannot_evaluate(policy, service, instance, span, &message)),
        }
    }
    waived
}

/// `allow` of a policy over generated objects that passed everywhere.
pub(crate) fn unused_waivers(service: &Service, lib: &Library, waived: &[String], diags: &mut Vec<Diagnostic>) {
    for w in service.waivers.iter().filter(|w| w.from.is_none()) {
        let output = lib.policies.get(&w.what).is_some_and(|p| !p.selectors.is_empty());
        if output && !waived.contains(&w.what) {
            diags.push(super::unused_waiver(w));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_every_step() {
        let s = Selector::parse("kubernetes/*:..containers[*].securityContext.privileged").unwrap();
        assert_eq!(s.kind, "*");
        assert_eq!(
            s.steps,
            vec![
                Step::Descend("containers".into()),
                Step::Every,
                Step::Key("securityContext".into()),
                Step::Key("privileged".into())
            ]
        );
        let s = Selector::parse("kubernetes/Deployment:spec.template.spec.containers[name=app].image").unwrap();
        assert_eq!(s.steps.get(4), Some(&Step::Select("name".into(), "app".into())));
        assert!(Selector::parse("kubernetes:spec").is_err());
        // The target's name is checked against the registry by the library.
        assert!(Selector::parse("/Deployment:spec").is_err());
        assert!(Selector::parse("kubernetes/Deployment:spec[x]").is_err());
    }

    #[test]
    fn missing_keys_read_as_null_and_descent_finds_every_depth() {
        let doc = Doc::Map(vec![(
            "spec".into(),
            Doc::Map(vec![(
                "containers".into(),
                Doc::List(vec![
                    Doc::Map(vec![("securityContext".into(), Doc::Map(vec![("privileged".into(), Doc::Bool(true))]))]),
                    Doc::Map(vec![]),
                ]),
            )]),
        )]);
        let sel = Selector::parse("kubernetes/*:..containers[*].securityContext.privileged").unwrap();
        let mut found = Vec::new();
        walk(Some(&doc), &sel.steps, &mut Vec::new(), &mut found);
        let values: Vec<Option<&Doc>> = found.iter().map(|(v, _)| *v).collect();
        assert_eq!(values, vec![Some(&Doc::Bool(true)), None]);
    }
}
