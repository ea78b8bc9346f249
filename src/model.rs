//! The resolved model: every service of the workspace with its final values
//! in every environment. Produced by `resolve`, checked by `check`, ordered by
//! `graph`, rendered by `emit`.

use std::collections::BTreeMap;

use crate::ast;
use crate::merge::Step;
use crate::span::{FileId, Span};
use crate::value::{Map, Value};
use crate::workspace::Workspace;

#[derive(Clone, Debug)]
pub struct Model {
    pub workspace: Workspace,
    /// Sorted by name.
    pub services: Vec<Service>,
}

impl Model {
    /// A service by name; recorded as a lookup when a memoized query is
    /// running ([`crate::memo::note`]).
    pub fn service(&self, name: &str) -> Option<&Service> {
        crate::memo::note(|| crate::memo::Lookup::Service(name.to_string()));
        self.services.binary_search_by(|s| s.name.as_str().cmp(name)).ok().and_then(|i| self.services.get(i))
    }
}

/// An escape hatch the service took: an `override` or an `allow`.
#[derive(Clone, Debug, PartialEq)]
pub struct Escape {
    /// The overridden path, or the waived policy.
    pub(crate) what: String,
    pub(crate) reason: String,
    pub(crate) span: Span,
    /// The golden path that took it for every service on it, or `None` when
    /// the service did.
    pub(crate) from: Option<String>,
}

/// A `patch` of a service, or of a golden path it is on.
#[derive(Clone, Debug)]
pub struct ServicePatch {
    pub patch: ast::Patch,
    /// The golden path it came from, or `None` when the service wrote it.
    pub(crate) from: Option<String>,
}

impl ServicePatch {
    /// The layer it is written in, for messages.
    pub(crate) fn layer(&self) -> crate::value::Layer {
        match &self.from {
            Some(g) => crate::value::Layer::GoldenPath(g.clone()),
            None => crate::value::Layer::Service,
        }
    }

    /// The reason given, if any.
    pub(crate) fn reason(&self) -> Option<String> {
        self.patch.reason.as_ref().and_then(ast::StrLit::as_plain)
    }
}

#[derive(Clone, Debug)]
pub struct Service {
    pub name: String,
    pub(crate) name_span: Span,
    pub(crate) file: FileId,
    /// The source file, workspace-relative (named in every output header).
    pub path: String,
    /// Golden paths, outermost first.
    pub(crate) golden_paths: Vec<String>,
    pub overrides: Vec<Escape>,
    pub waivers: Vec<Escape>,
    /// The golden paths' patches first, then the service's own.
    pub patches: Vec<ServicePatch>,
    /// `depends_on` as written (services and resources), with spans.
    pub(crate) depends_on: Vec<(String, Span)>,
    pub(crate) apis: Vec<Api>,
    /// One per environment of the workspace, in its order. Shared: `watch`
    /// keeps an unchanged service from the previous compilation, and its
    /// resolved values are most of it.
    pub instances: std::sync::Arc<[Instance]>,
}

impl Service {
    pub fn instance(&self, env: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.env == env)
    }
}

/// A service in one environment.
#[derive(Clone, Debug)]
pub struct Instance {
    pub env: String,
    pub(crate) values: Map,
    pub resources: Vec<Resource>,
    /// Every assignment in order, when `Options::trace` asked for it.
    pub(crate) trace: Option<Vec<Step>>,
}

impl Instance {
    pub fn get(&self, path: &[&str]) -> Option<&Value> {
        crate::merge::get(&self.values, path).map(|n| &n.value)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(&[key]).and_then(Value::as_word)
    }

    /// What the instance's values name outside the service, with spans: a
    /// reference to another service's address (`users.addr`) or to a
    /// resource another service owns (`orders.events.url`), as a setting or
    /// as a `${...}` left in a string for emit (`interpolated` is true).
    pub(crate) fn outside_refs(&self) -> Vec<OutsideRef> {
        fn walk(v: &Value, span: Span, own: &[Resource], out: &mut Vec<OutsideRef>) {
            match v {
                Value::Ref(p)
                    if crate::scope::classify(p, crate::scope::Place::Setting, |n| own.iter().any(|r| r.name == n))
                        .is_outside() =>
                {
                    out.push(OutsideRef { path: p.clone(), span, interpolated: false })
                }
                Value::Interpolated(parts) => {
                    for part in parts {
                        if let ast::StrPart::Interp(p, s) = part {
                            out.push(OutsideRef { path: p.clone(), span: *s, interpolated: true });
                        }
                    }
                }
                Value::Map(m) => m.values().for_each(|n| walk(&n.value, n.origin.span, own, out)),
                Value::List(l) => l.iter().for_each(|n| walk(&n.value, n.origin.span, own, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for n in self.values.values() {
            walk(&n.value, n.origin.span, &self.resources, &mut out);
        }
        out
    }
}

/// A reference outside the service (see [`Instance::outside_refs`]).
#[derive(Clone, Debug)]
pub(crate) struct OutsideRef {
    /// `[service, part]` or `[owner, resource, output]`.
    pub(crate) path: Vec<String>,
    pub(crate) span: Span,
    pub(crate) interpolated: bool,
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub name: String,
    pub ty: String,
    pub(crate) span: Span,
    pub(crate) values: Map,
    /// Output name → value (usually a secret reference).
    pub(crate) outputs: BTreeMap<String, Value>,
}

#[derive(Clone, Debug)]
pub(crate) struct Api {
    pub(crate) name: String,
    pub(crate) span: Span,
    pub(crate) values: Map,
    /// The text of `definition = file(...)`, when given.
    pub(crate) definition: Option<String>,
}
