//! Names in scope: what a dotted name means where it is written.
//!
//! Four places read names: policy conditions ([`crate::eval`]), `${...}` in
//! strings ([`crate::resolve`]'s interpolation), the schema's check of a
//! setting that references an output ([`crate::schema`], with the check of
//! what a service names outside itself in [`crate::check`]) and the
//! template context ([`crate::emit`], which fills in other services'
//! addresses and granted outputs). Each asks this module, in two steps:
//!
//! 1. [`classify`]: what the name is, by its shape, the [`Place`] it is
//!    written in and the service's own resources: `service.name`, a
//!    service attribute, `environment.name` or an environment value, a
//!    workspace value, an output of one of the service's resources
//!    (`sessions.addr`), another service's address part (`users.addr`) or
//!    an output of a resource another service granted (`orders.cache.addr`).
//! 2. [`Scope::find`] (names inside the service, its workspace and its
//!    environment; known while the service resolves) or [`outside`]
//!    (another service's address, a granted resource's output; known only
//!    with the whole model, at check and emit): the value, with the origin
//!    of its assignment where it has one, or why there is none (unset, no
//!    such output, with the outputs there are for a did-you-mean).
//!
//! The callers differ only in how they report what they find (each keeps
//! its own diagnostics), and in the few places [`Place`] spells out.

use std::borrow::Cow;

use crate::model::{Instance, Model, Resource};
use crate::value::{Map, Origin, Value};
use crate::workspace::{Environment, Workspace};

/// The roots a condition or a string names the service's own values,
/// the workspace's and the environment's by.
pub const ROOTS: &[&str] = &["service", "workspace", "environment"];

/// The parts of another service's address a reference may use
/// (`users.url`, `${users.addr}`).
pub const ADDRESS_PARTS: &[&str] = &["url", "host", "addr", "port"];

/// Where a name is written; the callers genuinely differ here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// A policy condition: the roots, and any other name is an attribute
    /// of the service, unprefixed (`replicas`, `autoscale.min`), or a
    /// symbol (`production`); `environment` alone is its name. A
    /// condition cannot name outputs or other services.
    Condition,
    /// `${...}` in a string: the roots, then outputs, addresses and
    /// granted outputs.
    String,
    /// A setting's value (`URL = payments-db.url`): a reference to an
    /// output or an address only. The roots mean nothing here
    /// (`NAME = service.name` is not a value of the service: write
    /// `"${service.name}"`).
    Setting,
}

/// What a dotted name means (see [`classify`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meaning<'p> {
    /// `service.name`.
    ServiceName,
    /// An attribute of the service: `service.<path>`, or in a condition
    /// the unprefixed path (possibly empty: `service` alone).
    Attribute(&'p [String]),
    /// `environment.name` (and `environment` alone in a condition).
    EnvironmentName,
    /// `environment.<path>` (possibly empty: `${environment}`).
    Environment(&'p [String]),
    /// `workspace.<key>`.
    Workspace(&'p str),
    /// An output of one of the service's own resources.
    Output { resource: &'p str, output: &'p str },
    /// A part of another service's address (the service may not exist:
    /// `check` says so).
    Address { service: &'p str, part: &'p str },
    /// An output of a resource another service owns (and, `check` makes
    /// sure, grants).
    Granted { owner: &'p str, resource: &'p str, output: &'p str },
    /// Nothing a name of this shape can mean here (`workspace.a.b`, four
    /// parts, a bare word in a string or setting).
    Other,
}

impl Meaning<'_> {
    /// Known only with the whole model: left in a string for emit to fill
    /// in, checked against the workspace by `check`.
    pub fn is_outside(&self) -> bool {
        matches!(self, Meaning::Address { .. } | Meaning::Granted { .. })
    }
}

/// What `path` means at `place`; `own` says whether a name is one of the
/// service's resources.
pub fn classify<'p>(path: &'p [String], place: Place, own: impl Fn(&str) -> bool) -> Meaning<'p> {
    if place != Place::Setting {
        let root = path.first().map(String::as_str);
        match (root, path.get(1..).unwrap_or_default()) {
            (Some("service"), [n]) if n == "name" => return Meaning::ServiceName,
            (Some("service"), rest) => return Meaning::Attribute(rest),
            (Some("environment"), [n]) if n == "name" => return Meaning::EnvironmentName,
            (Some("environment"), []) if place == Place::Condition => return Meaning::EnvironmentName,
            (Some("environment"), rest) => return Meaning::Environment(rest),
            (Some("workspace"), [key]) => return Meaning::Workspace(key),
            // `workspace` alone is a symbol in a condition, nothing in a string.
            (Some("workspace"), [_, _, ..]) => return Meaning::Other,
            _ => {}
        }
    }
    if place == Place::Condition {
        return Meaning::Attribute(path);
    }
    match path {
        [resource, output] if own(resource) => Meaning::Output { resource, output },
        [service, part] => Meaning::Address { service, part },
        [owner, resource, output] => Meaning::Granted { owner, resource, output },
        _ => Meaning::Other,
    }
}

/// What a name refers to.
#[derive(Clone, Debug, PartialEq)]
pub enum Found<'a> {
    /// A name platc gives (`service.name`, `environment.name`, an address).
    Text(Cow<'a, str>),
    /// A value, with the origin of its assignment where it has one (a
    /// value of the service or of the environment).
    Value(Cow<'a, Value>, Option<&'a Origin>),
    /// Nothing is set there.
    Unset,
    /// The resource exists and has no such output; these are its outputs.
    NoOutput(Vec<&'a str>),
    /// Another service's address or a granted output: [`outside`] knows.
    Outside,
    /// Nothing this scope knows.
    Unknown,
}

/// What a service sees of itself, its workspace and its environment.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub service: &'a str,
    /// The service's values in the environment.
    pub values: &'a Map,
    pub resources: &'a [Resource],
    pub workspace: &'a Workspace,
    pub environment: &'a Environment,
}

impl<'a> Scope<'a> {
    /// Whether `name` is one of the service's resources.
    pub fn owns(&self, name: &str) -> bool {
        self.resources.iter().any(|r| r.name == name)
    }

    /// [`classify`] with this service's resources.
    pub fn classify<'p>(&self, path: &'p [String], place: Place) -> Meaning<'p> {
        classify(path, place, |n| self.owns(n))
    }

    /// What a name inside the service, its workspace or its environment
    /// refers to.
    pub fn find(&self, name: Meaning) -> Found<'a> {
        match name {
            Meaning::ServiceName => Found::Text(Cow::Borrowed(self.service)),
            Meaning::EnvironmentName => Found::Text(Cow::Borrowed(&self.environment.name)),
            Meaning::Attribute(rest) => node(self.values, rest),
            Meaning::Environment(rest) => node(&self.environment.values, rest),
            Meaning::Workspace(key) => {
                self.workspace.get(key).map_or(Found::Unset, |v| Found::Value(Cow::Owned(v), None))
            }
            Meaning::Output { resource, output } => own_output(self.resources, resource, output),
            Meaning::Address { .. } | Meaning::Granted { .. } => Found::Outside,
            Meaning::Other => Found::Unknown,
        }
    }
}

fn node<'a>(map: &'a Map, path: &[String]) -> Found<'a> {
    let keys: Vec<&str> = path.iter().map(String::as_str).collect();
    match crate::merge::get(map, &keys) {
        Some(n) => Found::Value(Cow::Borrowed(&n.value), Some(&n.origin)),
        None => Found::Unset,
    }
}

/// An output of one of the service's own resources (`resources`).
pub fn own_output<'a>(resources: &'a [Resource], resource: &str, output: &str) -> Found<'a> {
    match resources.iter().find(|r| r.name == resource) {
        Some(r) => output_of(r, output),
        None => Found::Unknown,
    }
}

fn output_of<'a>(r: &'a Resource, output: &str) -> Found<'a> {
    match r.outputs.get(output) {
        Some(v) => Found::Value(Cow::Borrowed(v), None),
        None => Found::NoOutput(r.outputs.keys().map(String::as_str).collect()),
    }
}

/// What a name outside the service means in environment `env` of the
/// model: another service's address part (`users.addr`: for a service
/// that is not in the model, or a part that is not one, the address of an
/// http service on port 80, as emit has always written; `check` reports
/// both first), or the output of a resource another service owns.
pub fn outside<'m>(model: &'m Model, env: &str, name: Meaning) -> Found<'m> {
    match name {
        Meaning::Address { service, part } => {
            let inst = model.service(service).and_then(|s| s.instance(env));
            Found::Text(Cow::Owned(address_part(service, inst, part)))
        }
        Meaning::Granted { owner, resource, output } => match resource_of(model, owner, env, resource) {
            Some(r) => output_of(r, output),
            None => Found::Unknown,
        },
        _ => Found::Unknown,
    }
}

/// The resource `name` of the service `owner` in environment `env`.
pub fn resource_of<'m>(model: &'m Model, owner: &str, env: &str, name: &str) -> Option<&'m Resource> {
    model.service(owner)?.instance(env)?.resources.iter().find(|r| r.name == name)
}

/// The level at which a resource's `grants` give it to `service`
/// (`consume`), if they do.
pub fn grant_level<'r>(r: &'r Resource, service: &str) -> Option<&'r str> {
    r.values.get("grants").and_then(|n| n.value.as_map()).and_then(|m| m.get(service)).and_then(|n| n.value.as_word())
}

/// Whether a resource's `grants` name `service` at all.
pub fn grants(r: &Resource, service: &str) -> bool {
    r.values.get("grants").and_then(|n| n.value.as_map()).is_some_and(|m| m.contains_key(service))
}

/// The names a misspelt one may have meant, at `place`: the roots (not in
/// a setting), the workspace's services and the service's resources.
pub fn candidates<'n>(
    place: Place,
    services: impl IntoIterator<Item = &'n str>,
    resources: impl IntoIterator<Item = &'n str>,
) -> impl Iterator<Item = &'n str> + Clone {
    let roots: &[&str] = if place == Place::Setting { &[] } else { ROOTS };
    let services: Vec<&str> = services.into_iter().collect();
    let resources: Vec<&str> = resources.into_iter().collect();
    roots.iter().copied().chain(services).chain(resources)
}

/// The namespace of a service instance: its `namespace` (the standard
/// library's default is `"${service.name}"`, one per service); several
/// services may share one.
pub fn namespace(service: &str, inst: Option<&Instance>) -> String {
    inst.and_then(|i| i.str("namespace")).unwrap_or(service).to_string()
}

/// The in-cluster DNS name of a service: `<name>.<namespace>.svc.cluster.local`.
pub fn service_host(name: &str, inst: Option<&Instance>) -> String {
    format!("{name}.{}.svc.cluster.local", namespace(name, inst))
}

/// The protocol a service instance speaks (`protocol`, http unless said).
pub fn protocol(inst: &Instance) -> &str {
    inst.str("protocol").unwrap_or("http")
}

/// The port of a service's Service: `service_port`, or 80 for http and the
/// container port for grpc and tcp.
pub fn service_port(inst: &Instance) -> i64 {
    let port = inst.get(&["port"]).and_then(Value::as_i64).unwrap_or(8080);
    inst.get(&["service_port"]).and_then(Value::as_i64).unwrap_or(if protocol(inst) == "http" { 80 } else { port })
}

/// How other services reach a service: `(url, addr)`. The address is
/// `host:port` of its Service; the URL is `http://host[:port]` for http (no
/// port when it is 80) and the address itself for grpc and tcp.
pub fn service_address(name: &str, inst: Option<&Instance>) -> (String, String) {
    let host = service_host(name, inst);
    let (proto, port) = inst.map(|i| (protocol(i), service_port(i))).unwrap_or(("http", 80));
    let addr = format!("{host}:{port}");
    let url = match (proto, port) {
        ("http", 80) => format!("http://{host}"),
        ("http", _) => format!("http://{addr}"),
        _ => addr.clone(),
    };
    (url, addr)
}

/// The text of one address part of a service (`url`, `host`, `addr`,
/// `port`): what `users.addr` as a setting and `${users.addr}` in a string
/// both give.
pub fn address_part(name: &str, inst: Option<&Instance>, part: &str) -> String {
    match part {
        "host" => service_host(name, inst),
        "port" => inst.map_or(80, service_port).to_string(),
        "addr" => service_address(name, inst).1,
        _ => service_address(name, inst).0,
    }
}

#[cfg(test)]
mod tests;
