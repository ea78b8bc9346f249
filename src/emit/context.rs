//! The data a template sees: the resolved service in one environment, plus
//! what platc derives from the whole workspace (labels, the image reference,
//! settings split into config and secret files, network peers from the
//! dependency graph, resources and their outputs).
//!
//! The context is typed: [`Context`] and one struct per part of it, each
//! field with its doc comment, serialized (serde) to the JSON handlebars
//! sees. The parts whose shape the standard library's schema declares (the
//! service's values, `workspace`, `environment`, an api, a resource's
//! values, a language) stay values of that schema ([`shape::Values`]).
//! Every leaf keeps where it comes from ([`shape::Traced`]): the builder
//! records the sources of each value as it makes it (only when asked, by
//! [`sources`]; emit builds the same context without them), so `explain` can
//! name the attributes behind a composed value. `docs/templates.md` lists the
//! context generated from these types ([`docs`]; a test keeps it in step).
//!
//! What the other outputs (Terraform, workflows, dashboards, alerts) need
//! beyond the resolved values is computed here and kept mechanical; the
//! opinions (burn-rate windows, which AWS settings, which CI steps) are in
//! the templates.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map as JMap, Value as Json, json};
use sha2::{Digest, Sha256};

use crate::graph::Graph;
use crate::library::Library;
use crate::model::{Instance, Model, Service};
use crate::schema::{Field, Record, Type};
use crate::scope::{self, Found, Meaning, Place};
use crate::span::Span;
use crate::value::{Layer, Node, Origin, Value, map_json, split_secret, to_json};
use crate::workspace::Environment;

pub mod docs;
pub mod shape;
pub use shape::Trace;
use shape::{Maybe, Traced, Tracer, Values, context_type, kind};

/// Where secrets are mounted in the container (never passed as env values).
pub const SECRETS_DIR: &str = "/var/run/secrets/platc";

// How other services reach a service: what `users.addr` means is the
// scope's to say (one answer for settings, strings and the context).
pub use crate::scope::namespace;
use crate::scope::{protocol, service_address, service_port};

/// Where a leaf of a service's template context comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A value of the service (a dotted attribute path: `replicas`, `env.ORDERS_URL`,
    /// `resources`... as `explain SERVICE PATH` takes it), explained with its chain.
    Attribute(String),
    /// A value written outside the service: the workspace, an environment, a language,
    /// a resource type, the standard library; `what` says which (`workspace.registry`,
    /// `environment production: cluster`, `language go: build`, ...).
    Value { what: String, origin: crate::value::Origin },
}

context_type! {
    /// The context of a per-service, per-environment template.
    pub struct Context<'s> {
        /// the service in this environment (`service.replicas`, `service.health.liveness`, ...)
        pub service: ServiceCtx,
        /// the environment: its `name` and the workspace's values of it
        pub environment: &'s Values<kind::Environment>,
        /// what is the same for the service in every environment
        #[serde(flatten)]
        pub base: &'s Base<'s>,
        /// the service's namespace in this environment (`service.namespace`; by default its name)
        pub namespace: Traced<String>,
        /// whether the namespace is the service's own (named after it); false in a shared one: the default-deny NetworkPolicy is then `<service>-default-deny`
        pub own_namespace: Traced<bool>,
        /// PromQL matchers of the service's series, `namespace='<ns>'` in its own namespace, in a shared one also its pods' and jobs' names
        pub promql: Promql,
        /// what the Namespace object carries, the same for every service in it
        pub namespace_object: NamespaceObject,
        /// Kubernetes labels, as the standard library's `kubernetes/_labels.hbs` declares them (`app.kubernetes.io/name`, `instance`, `version`, `component`, `part-of`, `managed-by`, `platc.dev/team`, `platc.dev/tier`, `platc.dev/environment`; see "Labels"); every template but the labels partial itself sees them
        #[serde(skip_serializing_if = "Option::is_none")]
        pub labels: Option<BTreeMap<String, Traced<String>>>,
        /// the labels every selector matches: `app.kubernetes.io/name`
        pub selector: BTreeMap<String, Traced<String>>,
        /// the image reference, `image:version@digest` (without the parts not given)
        pub image: Traced<String>,
        /// the registry host of `service.image` (`ghcr.io`; `docker.io` for Docker Hub), for CI to log in to
        pub image_registry: Traced<String>,
        /// plain settings (the service's `env`, plus `<DEP>_URL` and `<DEP>_ADDR` of each service it depends on, see "Protocols"), as strings
        pub config: BTreeMap<String, Traced<String>>,
        /// a short hash of `config`
        pub config_hash: Traced<String>,
        /// each secret setting
        pub secrets: Vec<SecretFile>,
        /// one per Kubernetes Secret (in a namespace shared with other services every Secret is prefixed with the service, `<service>-<secret>`, `<service>-<owner>-<secret>`)
        pub secret_volumes: Vec<SecretVolume>,
        /// names of the service's Kubernetes objects that always fit; a long name keeps a prefix and ends with a hash of the whole
        pub names: Names,
        /// the peers of the NetworkPolicy
        pub network: Network,
        /// where Prometheus scrapes /metrics, or null for a cron job and for a workload without `port` or `metrics_port` (no monitor, no `MetricsAbsent`, no monitoring rule in the NetworkPolicy)
        pub scrape: Maybe<Scrape>,
        /// the pod's scratch volumes, `tmp` first
        pub scratch: Vec<Scratch>,
        /// the pod's vendor images in full: the service's own with `image_source = vendor`, each init container's `image`, each in-cluster resource's image (the deploy checks their pin instead of a signature)
        pub vendor_images: Vec<Traced<String>>,
        /// each resource of the service
        pub resources: Vec<ResourceCtx>,
        /// each resource another service owns, grants this one and this one references (`bookings.booking-events.url`)
        pub uses: Vec<UseCtx>,
        /// whether the service has Terraform: a resource made by Terraform, or one granted to it (an in-cluster resource alone needs none)
        pub terraform: Traced<bool>,
        /// the `language` declaration's values and `name`, or null without `language`
        pub language: Maybe<&'s Values<kind::Language>>,
        /// the tier's objectives as numbers, or null for a tcp service (no request SLI) and without `slo`
        pub slo: Maybe<Slo>,
        /// the request metrics of the service's protocol, or null for tcp
        pub metrics: Maybe<Metrics>,
        /// whether a PodDisruptionBudget can be met (`replicas` above `pdb.min_available`)
        pub pdb: Traced<bool>,
        /// in a resource's own template, that entry of `resources`; in a `grant_terraform` template, that entry of `uses`
        #[serde(skip_serializing_if = "Option::is_none")]
        pub resource: Option<Traced<Json>>,
    }
}

context_type! {
    /// The part of a service's context that is the same in every environment.
    pub struct Base<'s> {
        /// every environment in deploy order
        pub environments: Vec<EnvironmentEntry<'s>>,
        /// the workspace (`platform.plat`), its defaults filled in (`repo_dir` is the workspace's directory relative to the repository root, with a trailing `/`, or `""`: prefix every path a workflow names with it)
        pub workspace: &'s Values<kind::Workspace>,
        /// each `api` of the service
        pub apis: Vec<ApiCtx>,
        /// what the service depends on and what depends on it
        pub dependencies: Dependencies,
        /// the service's overrides and its golden paths'
        pub overrides: Vec<Override>,
        /// the service's waivers and its golden paths'
        pub waivers: Vec<Waiver>,
        /// the service's patches and its golden paths'
        pub patches: Vec<PatchCtx>,
        /// the golden-path chain, outermost first
        pub golden_paths: Vec<Traced<String>>,
        /// the outermost golden path, or null for a service with no `from`
        pub golden_path: Traced<Option<String>>,
        /// the service file (workspace-relative)
        pub source: Traced<String>,
        /// the directory of the service file (`""` at the root): CI path filters, build context
        pub source_dir: Traced<String>,
        /// the workspace's standard-library overlay directory (`platform`), or null: CI path filters
        pub stdlib_dir: Traced<Option<String>>,
    }
}

context_type! {
    /// The service in one environment.
    pub struct ServiceCtx {
        /// every resolved attribute, quantities as written (`"512Mi"`), percentages as numbers (`70`), secrets as `{secret, name, key}`, every attribute the schema declares present (null when unset)
        #[serde(flatten)]
        pub values: Values<kind::Service>,
        /// the service's name
        pub name: Traced<String>,
        /// the port of its Service, always set: 80 for http, `port` otherwise, unless the service says
        pub service_port: Traced<i64>,
    }
}

context_type! {
    /// An environment, in the deploy order.
    pub struct EnvironmentEntry<'s> {
        /// the environment's `name` and values, as `environment`
        #[serde(flatten)]
        pub values: &'s Values<kind::Environment>,
        /// whether it is the first in deploy order
        pub first: Traced<bool>,
        /// whether it is the last
        pub last: Traced<bool>,
        /// the environment before it, or null
        pub previous: Traced<Option<String>>,
        /// the service's image there
        pub image: Traced<Option<String>>,
        /// the service's namespace there when it is not its own, else null
        pub namespace: Traced<Option<String>>,
    }
}

context_type! {
    /// An `api` of the service.
    pub struct ApiCtx {
        /// its values
        #[serde(flatten)]
        pub values: Values<kind::Api>,
        /// its name
        pub name: Traced<String>,
        /// the text of the file `definition` names, or null
        pub definition: Traced<Option<String>>,
    }
}

context_type! {
    /// What a service depends on, and what depends on it.
    pub struct Dependencies {
        /// the services it depends on
        pub services: Vec<Traced<String>>,
        /// its resources
        pub resources: Vec<Traced<String>>,
        /// the services that depend on it
        pub dependents: Vec<Traced<String>>,
        /// the apis of the services it depends on
        pub apis: Vec<Traced<String>>,
    }
}

context_type! {
    /// An `override` of the service or its golden path.
    pub struct Override {
        /// the overridden attribute
        pub path: Traced<String>,
        /// why
        pub reason: Traced<String>,
        /// the golden path that wrote it, null for the service's own
        pub golden_path: Traced<Option<String>>,
    }
}

context_type! {
    /// An `allow` (a waiver) of the service or its golden path.
    pub struct Waiver {
        /// the waived policy
        pub policy: Traced<String>,
        /// why
        pub reason: Traced<String>,
        /// the golden path that wrote it, null for the service's own
        pub golden_path: Traced<Option<String>>,
    }
}

context_type! {
    /// A `patch` of the service or its golden path.
    pub struct PatchCtx {
        /// what it writes, in words: `kubernetes Deployment: spec.a, spec.b`
        pub what: Traced<String>,
        /// why; `no reason given` without one
        pub reason: Traced<String>,
        /// the golden path that wrote it, null for the service's own
        pub golden_path: Traced<Option<String>>,
    }
}

context_type! {
    /// PromQL matchers of a service's series.
    pub struct Promql {
        /// series with a `pod` label, its metrics, cAdvisor's and kube-state-metrics' pod series; in a shared namespace also `pod=~'<object>-[a-z0-9]+-[a-z0-9]+'`, a cron job's `<object>-[0-9]+-[a-z0-9]+`
        pub pods: Traced<String>,
        /// kube-state-metrics' job series; in a shared namespace also `job_name=~'<object>-[0-9]+'`
        pub jobs: Traced<String>,
    }
}

context_type! {
    /// What the Namespace object of a service carries.
    pub struct NamespaceObject {
        /// the namespace
        pub name: Traced<String>,
        /// the owners' label value when all the services of the namespace have one owner, else null
        pub team: Traced<Option<String>>,
        /// no service in it overrode a security default
        pub restricted: Traced<bool>,
    }
}

context_type! {
    /// A secret setting.
    pub struct SecretFile {
        /// the variable
        pub env: Traced<String>,
        /// `NAME_FILE`, the variable that names the file
        pub file_env: Traced<String>,
        /// the Kubernetes Secret
        pub secret: Traced<String>,
        /// its key
        pub key: Traced<String>,
        /// where it is mounted
        pub path: Traced<String>,
    }
}

context_type! {
    /// A Kubernetes Secret the pod mounts.
    pub struct SecretVolume {
        /// the pod's volume name
        pub volume: Traced<String>,
        /// the secret store's entry its keys are read from, `<service>/<environment>/<secret>`; for a resource granted by another service the owner's entry `<owner>/<environment>/<secret>`, synced into the Secret `<owner>-<secret>` of this namespace
        pub remote_key: Traced<String>,
        /// the Secret's name
        pub secret: Traced<String>,
        /// where it is mounted
        pub mount: Traced<String>,
        /// its keys
        pub keys: Vec<Traced<String>>,
    }
}

context_type! {
    /// The names of a service's Kubernetes objects.
    pub struct Names {
        /// the workload and what is named after it: the service's name, shortened to 52 for a cron job
        pub object: Traced<String>,
        /// `<service>-config`, shortened to 63
        pub config: Traced<String>,
        /// `<service>-tls`, shortened to 63
        pub tls: Traced<String>,
        /// `<service>-rules`, shortened to 63
        pub rules: Traced<String>,
        /// `<service>-public`, shortened to 63
        pub public: Traced<String>,
    }
}

context_type! {
    /// The peers of a service's NetworkPolicy.
    pub struct Network {
        /// its callers, the dependents
        pub ingress: Vec<Peer>,
        /// its dependencies that serve
        pub egress: Vec<Peer>,
        /// the ports of the resources it uses
        pub resource_ports: Vec<Traced<i64>>,
        /// exposed through the ingress, `expose.via` unset or `ingress`, with a `host`
        pub exposed: Traced<bool>,
        /// `expose.via` is `load_balancer` or `node_port`
        pub public: Traced<bool>,
    }
}

context_type! {
    /// A service on the other end of a NetworkPolicy rule.
    pub struct Peer {
        /// its name
        pub name: Traced<String>,
        /// its namespace
        pub namespace: Traced<String>,
        /// its container port
        pub port: Traced<i64>,
        /// its workload
        pub workload: Traced<String>,
    }
}

context_type! {
    /// Where Prometheus scrapes a service.
    pub struct Scrape {
        /// the port's name, `metrics` with `metrics_port`, else the protocol's
        pub port: Traced<String>,
        /// its number
        pub number: Traced<i64>,
    }
}

context_type! {
    /// A scratch volume of the pod.
    pub struct Scratch {
        /// `tmp`, or the name under `scratch`
        pub name: Traced<String>,
        /// the pod's volume name, `tmp` or `scratch-<name>`
        pub volume: Traced<String>,
        /// where it is mounted
        pub path: Traced<Option<String>>,
        /// its size, or null
        pub size: Traced<Json>,
    }
}

context_type! {
    /// A resource, as its templates and the service's see it.
    pub struct ResourceCtx {
        /// its resolved values
        #[serde(flatten)]
        pub values: Values<kind::Resource>,
        /// who may use it and how, the owner's `grants`
        pub grants: Vec<Grant>,
        /// the type's levels, each as declared, `{actions, key_actions}` for a queue
        pub access: Values<kind::Access>,
        /// `<service>-<resource>`, shortened to 63: the name of its Kubernetes objects
        pub object: Traced<String>,
        /// the service that owns it
        pub owner: Traced<String>,
        /// whether its type has a `kubernetes` template: it runs in the cluster
        pub in_cluster: Traced<bool>,
        /// its name
        pub name: Traced<String>,
        /// its name as a Terraform identifier; in `uses`, `<owner>_<resource>`
        pub tf_name: Traced<String>,
        /// its name in the catalog, unique in the workspace
        pub catalog_name: Traced<String>,
        /// its type
        pub r#type: Traced<String>,
        /// the catalog Resource's `spec.type`
        pub catalog_type: Traced<String>,
        /// the port services connect to
        pub port: Traced<i64>,
        /// its outputs
        pub outputs: BTreeMap<String, Traced<Json>>,
    }
}

context_type! {
    /// A grant of a resource to another service.
    pub struct Grant {
        /// the grantee
        pub service: Traced<String>,
        /// its namespace
        pub namespace: Traced<String>,
        /// its workload
        pub workload: Traced<String>,
        /// the level granted
        pub level: Traced<String>,
        /// what that level allows
        pub actions: Traced<Json>,
    }
}

context_type! {
    /// A resource another service owns and grants this one.
    pub struct UseCtx {
        /// every field of `resources`, of the owner's resource
        #[serde(flatten)]
        pub resource: ResourceCtx,
        /// the level granted
        pub level: Traced<String>,
        /// what the level allows
        pub actions: Traced<Json>,
    }
}

context_type! {
    /// The tier's objectives as numbers.
    pub struct Slo {
        /// `slo.availability`, or null; 99.95 gives the target 0.9995, the budget 0.0005
        pub availability: Maybe<Availability>,
        /// `slo.latency_p99`, or null
        pub latency: Maybe<Latency>,
    }
}

context_type! {
    /// The availability objective.
    pub struct Availability {
        /// `availability`
        pub name: Traced<String>,
        /// as written
        pub percent: Traced<f64>,
        /// as a ratio
        pub target: Traced<Json>,
        /// the error budget
        pub budget: Traced<Json>,
    }
}

context_type! {
    /// The latency objective.
    pub struct Latency {
        /// `latency`
        pub name: Traced<String>,
        /// the threshold in seconds, 300ms → 0.3
        pub seconds: Traced<Json>,
        /// the p99 objective allows 1% of requests to be slower: 0.01
        pub budget: Traced<f64>,
        /// matches the histogram bucket `le` label of the threshold however the client wrote it, `1` or `1.0`, for a PromQL raw string
        pub le_regex: Traced<String>,
    }
}

context_type! {
    /// The request metrics of a protocol (the metrics contract, README "Alerts").
    pub struct Metrics {
        /// the request counter
        pub requests: Traced<String>,
        /// the matcher of failed requests
        pub errors: Traced<String>,
        /// the label of the result
        pub outcome: Traced<String>,
        /// the latency histogram, without `_bucket`
        pub duration: Traced<String>,
    }
}

context_type! {
    /// The context of workspace templates (`templates/<target>/workspace/`).
    pub struct WorkspaceContext {
        /// the workspace, as a service's templates see it
        pub workspace: Values<kind::Workspace>,
        /// every service
        pub services: Vec<WorkspaceService>,
        /// every `system`
        pub systems: Vec<System>,
        /// some service's namespace is not its own: `platc-deploy.yml` then takes a `namespace` input and makes each service of a shared namespace its own ApplySet, `platc-applyset-<service>`
        pub shared_namespaces: bool,
    }
}

context_type! {
    /// A service, for workspace templates.
    pub struct WorkspaceService {
        /// its name
        pub name: String,
        /// its file
        pub source: String,
        /// its `owner` in the last environment, or null
        pub owner: Option<String>,
        /// its `system`, or null
        pub system: Option<String>,
    }
}

context_type! {
    /// A system: the services that name it.
    pub struct System {
        /// its name
        pub name: String,
        /// the owner of its first service
        pub owner: String,
        /// its services
        pub services: Vec<String>,
    }
}

/// The instance's values with every `${...}` left for emit filled in (the
/// address of another service, a plain output of a resource granted to the
/// service); `check` has made sure each names something that exists.
pub fn fill_outside(inst: &Instance, model: &Model) -> Option<crate::value::Map> {
    fn fill(v: &mut Value, env: &str, model: &Model) {
        match v {
            Value::Interpolated(parts) => {
                let mut text = String::new();
                for p in parts.iter() {
                    match p {
                        crate::ast::StrPart::Lit(s) => text.push_str(s),
                        // Only names outside the service are left (resolve
                        // filled in the others).
                        crate::ast::StrPart::Interp(path, _) => {
                            match scope::outside(model, env, scope::classify(path, Place::String, |_| false)) {
                                Found::Text(t) => text.push_str(&t),
                                Found::Value(v, _) => {
                                    if let Value::Str(s) = v.as_ref() {
                                        text.push_str(s);
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                }
                *v = Value::Str(text);
            }
            Value::Map(m) => m.values_mut().for_each(|n| fill(&mut n.value, env, model)),
            Value::List(l) => l.iter_mut().for_each(|n| fill(&mut n.value, env, model)),
            _ => {}
        }
    }
    fn any(v: &Value) -> bool {
        match v {
            Value::Interpolated(_) => true,
            Value::Map(m) => m.values().any(|n| any(&n.value)),
            Value::List(l) => l.iter().any(|n| any(&n.value)),
            _ => false,
        }
    }
    if !inst.values.values().any(|n| any(&n.value)) {
        return None;
    }
    let mut values = inst.values.clone();
    values.values_mut().for_each(|n| fill(&mut n.value, &inst.env, model));
    Some(values)
}

/// A resource another service owns and grants this one, that it uses
/// (`orders.order-events.url`): the owner, the resource, the level granted.
pub struct Used<'a> {
    pub owner: &'a str,
    pub resource: &'a crate::model::Resource,
    pub level: String,
}

/// The granted resources an instance uses, each once, by owner and name.
pub fn used<'a>(me: &str, inst: &Instance, model: &'a Model) -> Vec<Used<'a>> {
    let mut out: BTreeMap<(String, String), Used<'a>> = BTreeMap::new();
    for r in inst.outside_refs() {
        let [owner, resource, _] = r.path.as_slice() else { continue };
        let Some(o) = model.service(owner) else { continue };
        let Some(res) = scope::resource_of(model, owner, &inst.env, resource) else {
            continue;
        };
        let Some(level) = scope::grant_level(res, me).map(str::to_string) else { continue }; // not granted: check said so
        out.entry((owner.clone(), resource.clone())).or_insert(Used { owner: &o.name, resource: res, level });
    }
    out.into_values().collect()
}

/// A value written outside the service: `what`, and where.
fn value(what: impl Into<String>, origin: Origin) -> Source {
    Source::Value { what: what.into(), origin }
}

fn at(layer: Layer, span: Span) -> Origin {
    Origin { layer, span, key: None }
}

/// The service's name, as its declaration writes it.
fn named(service: &Service) -> Source {
    value(format!("service {}", service.name), at(Layer::Service, service.name_span))
}

/// Another service's value `key` in `env` (where it was set), or its name.
fn peer_sources(model: &Model, name: &str, env: &str, key: &str) -> Vec<Source> {
    match model.service(name) {
        Some(s) => other_sources(s, s.instance(env), key),
        None => Vec::new(),
    }
}

/// Another service's value at the dotted `key` in `inst` (where it was
/// set), or its name.
fn other_sources(s: &Service, inst: Option<&Instance>, key: &str) -> Vec<Source> {
    let keys: Vec<&str> = key.split('.').collect();
    match inst.and_then(|i| crate::merge::get(&i.values, &keys)) {
        Some(n) => vec![value(format!("service {}: {key}", s.name), n.origin.clone())],
        None => vec![named(s)],
    }
}

/// The attributes among `paths` that are set; when none is, all of them
/// (schema attributes left unset: the value is what their absence means).
fn attrs(inst: &Instance, paths: &[&str]) -> Vec<Source> {
    let set = |p: &&&str| inst.get(&p.split('.').collect::<Vec<_>>()).is_some();
    let any = paths.iter().any(|p| set(&p));
    paths.iter().filter(|p| !any || set(p)).map(|p| Source::Attribute(p.to_string())).collect()
}

/// Where the service's namespace comes from: its `namespace`, else its name.
fn namespace_sources(service: &Service, inst: Option<&Instance>) -> Vec<Source> {
    match inst.and_then(|i| i.get(&["namespace"])) {
        Some(_) => vec![Source::Attribute("namespace".into())],
        None => vec![named(service)],
    }
}

/// The deepest node along `path` in `values`, and how many segments it took.
fn node_at<'m>(values: &'m crate::value::Map, path: &[String]) -> Option<(usize, &'m Node)> {
    let mut map = values;
    let mut found = None;
    for (i, seg) in path.iter().enumerate() {
        let Some(n) = map.get(seg) else { break };
        found = Some((i + 1, n));
        match n.value.as_map() {
            Some(m) => map = m,
            None => break,
        }
    }
    found
}

/// The deepest field of a schema along `path` (through records, and the
/// entries of maps of records), and how many segments it took.
fn field_at<'r>(rec: &'r Record, path: &[String]) -> Option<(usize, &'r Field)> {
    let mut rec = rec;
    let mut found = None;
    let mut i = 0;
    while let Some(seg) = path.get(i) {
        let Some(f) = rec.fields.get(seg) else { break };
        i += 1;
        found = Some((i, f));
        match &f.ty {
            Type::Record(inner) => rec = inner,
            Type::Map(inner) => match inner.as_ref() {
                Type::Record(r) if path.get(i).is_some() => {
                    i += 1;
                    rec = r;
                }
                _ => break,
            },
            _ => break,
        }
    }
    found
}

fn joined(path: &[String], depth: usize) -> String {
    path.get(..depth).unwrap_or(path).join(".")
}

/// The sources of the service's values: each leaf is the attribute it is
/// in (set, or declared by the schema).
fn service_rule(values: crate::value::Map, schema: Option<Record>) -> shape::Rule {
    std::sync::Arc::new(move |p: &[String]| {
        let depth = node_at(&values, p)
            .map(|(d, _)| d)
            .or_else(|| schema.as_ref().and_then(|s| field_at(s, p)).map(|(d, _)| d));
        // A key holding a dot (`pod_annotations."a.b/c"`) is not a segment of
        // a dotted path: the attribute is the map that holds it.
        let dotted = p.iter().position(|k| k.contains('.')).unwrap_or(p.len());
        let depth = depth.map(|d| d.min(dotted)).filter(|d| *d > 0);
        Trace::From(depth.map(|d| Source::Attribute(joined(p, d))).into_iter().collect())
    })
}

/// The sources of values written outside the service (`what`): each leaf is
/// the value written; a field the schema filled in is the schema's
/// (`schema`: its name and record); the `extra` keys are platc's, from what
/// each names; anything else is `otherwise`.
fn nodes_rule(
    what: String,
    values: crate::value::Map,
    schema: Option<(String, Record)>,
    extra: Vec<(String, Source)>,
    otherwise: Trace,
) -> shape::Rule {
    std::sync::Arc::new(move |p: &[String]| {
        if let Some(first) = p.first()
            && let Some((_, s)) = extra.iter().find(|(k, _)| k == first)
        {
            return Trace::From(vec![s.clone()]);
        }
        if let Some((d, n)) = node_at(&values, p) {
            return Trace::From(vec![value(format!("{what}: {}", joined(p, d)), n.origin.clone())]);
        }
        match schema.as_ref().and_then(|(w, s)| field_at(s, p).map(|(d, f)| (w, d, f))) {
            Some((w, d, f)) => Trace::From(vec![value(format!("{w}: {}", joined(p, d)), at(Layer::Defaults, f.span))]),
            None => otherwise.clone(),
        }
    })
}

/// What every context is computed from, and the parts that do not depend on
/// the service, built once per build: the workspace, each environment, each
/// language.
pub struct Shared<'a> {
    model: &'a Model,
    graph: &'a Graph,
    lib: &'a Library,
    trace: Tracer,
    workspace: Values<kind::Workspace>,
    stdlib_dir: Traced<Option<String>>,
    /// `environment`, by name.
    environment: BTreeMap<String, Values<kind::Environment>>,
    /// `language`, by name.
    languages: BTreeMap<String, Values<kind::Language>>,
    /// The `environment` of one the workspace does not declare (never: emit
    /// renders the declared ones).
    no_environment: Values<kind::Environment>,
}

impl<'a> Shared<'a> {
    pub fn new(model: &'a Model, graph: &'a Graph, lib: &'a Library) -> Shared<'a> {
        Shared::with(model, graph, lib, Tracer(false))
    }

    /// The shared parts, recording the sources of every leaf.
    pub fn traced(model: &'a Model, graph: &'a Graph, lib: &'a Library) -> Shared<'a> {
        Shared::with(model, graph, lib, Tracer(true))
    }

    fn with(model: &'a Model, graph: &'a Graph, lib: &'a Library, t: Tracer) -> Shared<'a> {
        let ws = &model.workspace;
        let environment = ws
            .environments
            .iter()
            .map(|env| {
                let mut o = object(map_json(&env.values));
                o.insert("name".into(), Json::String(env.name.clone()));
                let schema = lib.schemas.get("environment");
                if let Some(rec) = schema {
                    fill_unset(&mut o, rec);
                }
                let rule = t.0.then(|| {
                    let name = value(format!("environment {}", env.name), at(Layer::Builtin, env.span));
                    nodes_rule(
                        format!("environment {}", env.name),
                        env.values.clone(),
                        schema.map(|s| ("schema environment".to_string(), s.clone())),
                        vec![("name".into(), name)],
                        Trace::From(Vec::new()),
                    )
                });
                (env.name.clone(), Values::new(o, rule))
            })
            .collect();
        let languages = lib
            .languages
            .iter()
            .map(|(name, d)| {
                let values = crate::value::map_from_body(&d.body, &Layer::Defaults, &mut Vec::new());
                let mut o = object(map_json(&values));
                o.insert("name".into(), Json::String(d.name.name.clone()));
                let rule = t.0.then(|| {
                    let named = value(format!("language {name}"), at(Layer::Defaults, d.name.span));
                    nodes_rule(
                        format!("language {name}"),
                        values,
                        None,
                        vec![("name".into(), named)],
                        Trace::From(Vec::new()),
                    )
                });
                (name.clone(), Values::new(o, rule))
            })
            .collect();
        let workspace_rule = t.0.then(|| {
            let mut extra =
                vec![("environments".to_string(), value("workspace environments", at(Layer::Builtin, ws.span)))];
            if ws.declared {
                extra.push(("name".into(), value("workspace name", at(Layer::Builtin, ws.span))));
            }
            if let Some(n) = ws.values.get("repository_root") {
                extra.push(("repo_dir".into(), value("workspace: repository_root", n.origin.clone())));
            }
            // The rest is a default of platc's.
            nodes_rule("workspace".into(), ws.values.clone(), None, extra, Trace::Constant)
        });
        let stdlib_dir = match &ws.stdlib {
            Some((d, span)) => {
                let dir = d.trim_start_matches("./").trim_end_matches('/').to_string();
                t.leaf(Some(dir), || vec![value("workspace: stdlib", at(Layer::Builtin, *span))])
            }
            None => Traced::constant(None),
        };
        Shared {
            model,
            graph,
            lib,
            trace: t,
            workspace: Values::new(object(ws.to_json()), workspace_rule),
            stdlib_dir,
            environment,
            languages,
            no_environment: Values::new(JMap::new(), None),
        }
    }
}

/// The service-level part of the context, shared by every environment.
pub fn service_base<'s>(service: &Service, shared: &'s Shared) -> Base<'s> {
    let (model, graph, lib, t) = (shared.model, shared.graph, shared.lib, shared.trace);
    let file = || vec![value(format!("the file of service {}", service.name), at(Layer::Service, service.name_span))];
    let dir = service.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let deps = graph.service_dependencies(&service.name);
    let depends_on = || vec![Source::Attribute("depends_on".into())];
    let first = service.instances.first();
    // Written by the service, or by its golden path `from`.
    let escape = |span: Span, from: &Option<String>| {
        let layer = from.clone().map_or(Layer::Service, Layer::GoldenPath);
        vec![value(format!("service {}", service.name), at(layer, span))]
    };
    let golden = |from: &Option<String>, span: Span| match from {
        Some(g) => t.leaf(Some(g.clone()), || escape(span, from)),
        None => Traced::constant(None),
    };
    let chain =
        || vec![value(format!("the golden paths of service {}", service.name), at(Layer::Service, service.name_span))];
    let dependencies = Dependencies {
        services: deps.iter().map(|d| t.leaf(d.to_string(), depends_on)).collect(),
        resources: first
            .map(|i| {
                i.resources
                    .iter()
                    .map(|r| {
                        t.leaf(r.name.clone(), || {
                            vec![value(format!("resource {}", r.name), at(Layer::Service, r.span))]
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
        dependents: graph
            .dependents(&service.name)
            .into_iter()
            .map(|d| t.leaf(d.to_string(), || dependent_sources(model, d, &service.name)))
            .collect(),
        apis: deps
            .iter()
            .filter_map(|d| model.service(d))
            .flat_map(|s| {
                s.apis.iter().map(move |a| {
                    t.leaf(a.name.clone(), || {
                        vec![value(format!("service {}: api {}", s.name, a.name), at(Layer::Service, a.span))]
                    })
                })
            })
            .collect(),
    };
    let environments = model
        .workspace
        .environments
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((i, e, shared.environment.get(&e.name)?)))
        .map(|(i, e, values)| {
            let envs = &model.workspace.environments;
            let order = || vec![value("workspace environments", at(Layer::Builtin, e.span))];
            let there = service.instance(&e.name);
            let ns = namespace(&service.name, there);
            // The deploy passes the namespace only when it is not the service's own.
            let namespace = if ns == service.name { None } else { Some(ns) };
            EnvironmentEntry {
                values,
                first: t.leaf(i == 0, order),
                last: t.leaf(i + 1 == envs.len(), order),
                previous: t.leaf(i.checked_sub(1).and_then(|p| envs.get(p)).map(|p| p.name.clone()), order),
                image: t.leaf(there.map(image_ref), || {
                    there.map(|inst| attrs(inst, &["image", "version", "digest"])).unwrap_or_default()
                }),
                namespace: t.leaf(namespace, || namespace_sources(service, there)),
            }
        })
        .collect();
    let apis = service
        .apis
        .iter()
        .map(|a| {
            let mut o = object(map_json(&a.values));
            let schema = lib.schemas.get("api");
            if let Some(rec) = schema {
                fill_unset(&mut o, rec);
            }
            let api = || value(format!("service {}: api {}", service.name, a.name), at(Layer::Service, a.span));
            let rule = t.0.then(|| {
                nodes_rule(
                    format!("service {}: api {}", service.name, a.name),
                    a.values.clone(),
                    schema.map(|s| ("schema api".to_string(), s.clone())),
                    Vec::new(),
                    Trace::From(Vec::new()),
                )
            });
            ApiCtx {
                values: Values::new(o, rule),
                name: t.leaf(a.name.clone(), || vec![api()]),
                definition: t.leaf(a.definition.clone(), || match a.values.get("definition") {
                    Some(n) => {
                        vec![value(format!("service {}: api {}: definition", service.name, a.name), n.origin.clone())]
                    }
                    None => vec![api()],
                }),
            }
        })
        .collect();
    Base {
        environments,
        workspace: &shared.workspace,
        apis,
        dependencies,
        overrides: service
            .overrides
            .iter()
            .map(|o| Override {
                path: t.leaf(o.what.clone(), || escape(o.span, &o.from)),
                reason: t.leaf(o.reason.clone(), || escape(o.span, &o.from)),
                golden_path: golden(&o.from, o.span),
            })
            .collect(),
        waivers: service
            .waivers
            .iter()
            .map(|w| Waiver {
                policy: t.leaf(w.what.clone(), || escape(w.span, &w.from)),
                reason: t.leaf(w.reason.clone(), || escape(w.span, &w.from)),
                golden_path: golden(&w.from, w.span),
            })
            .collect(),
        patches: service
            .patches
            .iter()
            .map(|p| {
                let span = p.patch.span;
                let reason = p.reason();
                PatchCtx {
                    what: t.leaf(patch_what(&p.patch), || escape(span, &p.from)),
                    reason: match reason {
                        Some(r) => t.leaf(r, || escape(span, &p.from)),
                        None => Traced::constant("no reason given".into()),
                    },
                    golden_path: golden(&p.from, span),
                }
            })
            .collect(),
        golden_paths: service.golden_paths.iter().map(|g| t.leaf(g.clone(), chain)).collect(),
        // The outermost golden path, or null for a service with no `from`.
        golden_path: match service.golden_paths.first() {
            Some(g) => t.leaf(Some(g.clone()), chain),
            None => Traced::constant(None),
        },
        source: t.leaf(service.path.clone(), file),
        source_dir: t.leaf(dir.to_string(), file),
        stdlib_dir: shared.stdlib_dir.clone(),
    }
}

/// Every field the schema declares is present (null when unset; an empty
/// list or map for list and map fields), so that a template can test or loop
/// over any of them, and strict mode still catches a name that is not in the
/// schema at all.
fn fill_unset(obj: &mut JMap<String, Json>, rec: &Record) {
    for (key, field) in &rec.fields {
        let entry = obj.entry(key.clone()).or_insert(Json::Null);
        match (&field.ty, &mut *entry) {
            (Type::Record(inner), Json::Object(sub)) => fill_unset(sub, inner),
            (Type::Record(inner), e @ Json::Null) => {
                let mut sub = JMap::new();
                fill_unset(&mut sub, inner);
                *e = Json::Object(sub);
            }
            // A map of records: every entry has every field.
            (Type::Map(inner), Json::Object(entries)) => {
                if let Type::Record(rec) = inner.as_ref() {
                    for entry in entries.values_mut() {
                        if let Json::Object(sub) = entry {
                            fill_unset(sub, rec);
                        }
                    }
                }
            }
            (Type::List(_), e @ Json::Null) => *e = Json::Array(Vec::new()),
            (Type::Map(_), e @ Json::Null) => *e = Json::Object(JMap::new()),
            _ => {}
        }
    }
}

/// What a patch writes, in words: `kubernetes Deployment: spec.a, spec.b`.
pub fn patch_what(p: &crate::ast::Patch) -> String {
    let paths: Vec<String> = p.sets.iter().map(|a| a.path.display()).collect();
    format!("{} {}: {}", p.target.name, p.kind.name, paths.join(", "))
}

/// The full context of one service in one environment, as templates see it
/// (without `labels`, which emit adds from the labels partial).
pub fn instance(base: &Base, service: &Service, inst: &Instance, env: &Environment, shared: &Shared) -> Json {
    serde_json::to_value(typed(base, service, inst, env, shared)).unwrap_or(Json::Null)
}

/// The typed context of one service in one environment.
pub fn typed<'s>(
    base: &'s Base<'s>,
    service: &Service,
    inst: &Instance,
    env: &Environment,
    shared: &'s Shared,
) -> Context<'s> {
    let (model, graph, lib, t) = (shared.model, shared.graph, shared.lib, shared.trace);
    let filled;
    let inst = match fill_outside(inst, model) {
        Some(values) => {
            filled = Instance { values, ..inst.clone() };
            &filled
        }
        None => inst,
    };
    let mut svc = object(map_json(&inst.values));
    let schema = lib.schemas.get("service");
    if let Some(rec) = schema {
        fill_unset(&mut svc, rec);
    }
    let service_ctx = ServiceCtx {
        values: Values::new(svc, t.0.then(|| service_rule(inst.values.clone(), schema.cloned()))),
        name: t.leaf(service.name.clone(), || vec![named(service)]),
        service_port: t.leaf(service_port(inst), || attrs(inst, &["service_port", "port", "protocol"])),
    };
    let ns = namespace(&service.name, Some(inst));
    let ns_sources = || namespace_sources(service, Some(inst));
    let workload = inst.str("workload");
    let (config, secrets, secret_volumes) = settings(service, inst, model, graph, t);
    let config_hash = t.leaf(hash_json(&config), || attrs(inst, &["env", "depends_on"]));
    let uses = used(&service.name, inst, model);
    let declared = |owner: &str, r: &crate::model::Resource| {
        value(format!("service {owner}: resource {}", r.name), at(Layer::Service, r.span))
    };
    // Terraform of its own: a resource made by Terraform, or the grant of one.
    let cloud = |ty: &str| lib.resource_types.get(ty).is_some_and(|t| t.terraform.is_some());
    // A granted resource needs Terraform of the grantee's only where its
    // type grants cloud access (`grant_terraform`): a granted database's
    // access is its connection secret, nothing in the cloud.
    let granted = |ty: &str| lib.resource_types.get(ty).is_some_and(|t| t.grant_terraform.is_some());
    let terraform = inst.resources.iter().any(|r| cloud(&r.ty))
        || uses.iter().any(|u| cloud(&u.resource.ty) && granted(&u.resource.ty));
    let terraform = if inst.resources.is_empty() && uses.is_empty() {
        Traced::constant(terraform)
    } else {
        t.leaf(terraform, || {
            let own = inst.resources.iter().map(|r| declared(&service.name, r));
            own.chain(uses.iter().map(|u| declared(u.owner, u.resource))).collect()
        })
    };
    let uses_ctx = uses
        .iter()
        .map(|u| {
            let mut resource = resource(u.owner, u.resource, &inst.env, shared);
            let grant = || {
                let node =
                    u.resource.values.get("grants").and_then(|n| n.value.as_map()).and_then(|m| m.get(&service.name));
                let what = format!("service {}: resource {}: grants.{}", u.owner, u.resource.name, service.name);
                node.map(|n| value(what, n.origin.clone())).into_iter().collect()
            };
            let actions = resource.access.json.get(&u.level).cloned().unwrap_or(Json::Array(Vec::new()));
            let tf_name = format!("{}_{}", u.owner, u.resource.name).replace('-', "_");
            resource.tf_name = t.leaf(tf_name, || vec![declared(u.owner, u.resource)]);
            UseCtx {
                actions: t.leaf(actions, || {
                    let ty = &u.resource.ty;
                    let rt = lib.resource_types.get(ty);
                    let levels = rt.map(|r| crate::value::map_from_body(&r.access, &Layer::Defaults, &mut Vec::new()));
                    let node = levels.as_ref().and_then(|l| l.get(&u.level));
                    node.map(|n| value(format!("resource type {ty}: access.{}", u.level), n.origin.clone()))
                        .into_iter()
                        .collect()
                }),
                level: t.leaf(u.level.clone(), grant),
                resource,
            }
        })
        .collect();
    let language = inst.str("language").and_then(|l| shared.languages.get(l));
    let min_available = inst.get(&["pdb", "min_available"]).and_then(Value::as_i64);
    let replicas = inst.get(&["replicas"]).and_then(Value::as_i64).unwrap_or(1);
    let metrics = metrics(inst, t);
    // A tcp service has no request SLI: health alerts only.
    let slo = match &metrics {
        None => t.maybe(None, || attrs(inst, &["protocol"])),
        Some(_) => t.maybe(slo(inst, t), || attrs(inst, &["slo"])),
    };
    let image = || attrs(inst, &["image", "version", "digest"]);
    Context {
        service: service_ctx,
        environment: shared.environment.get(&env.name).unwrap_or(&shared.no_environment),
        base,
        own_namespace: t.leaf(ns == service.name, || {
            let mut s = ns_sources();
            s.push(named(service));
            s
        }),
        namespace_object: namespace_object(&ns, service, inst, model, graph, t),
        promql: promql(&ns, service, inst, t),
        namespace: t.leaf(ns, ns_sources),
        labels: None,
        selector: BTreeMap::from([(
            "app.kubernetes.io/name".to_string(),
            t.leaf(service.name.clone(), || vec![named(service)]),
        )]),
        image: t.leaf(image_ref(inst), image),
        image_registry: t.leaf(registry_host(inst.str("image").unwrap_or("")), || attrs(inst, &["image"])),
        config,
        config_hash,
        secrets,
        secret_volumes,
        names: names(service, workload, inst, t),
        network: network(service, inst, &uses, model, graph, lib, t),
        scrape: scrape(inst, t),
        scratch: scratch(inst, t),
        vendor_images: vendor_images(inst, lib, t),
        resources: inst.resources.iter().map(|r| resource(&service.name, r, &inst.env, shared)).collect(),
        uses: uses_ctx,
        terraform,
        language: t.maybe(language, || attrs(inst, &["language"])),
        // A budget only where it can be met: more replicas than must stay up.
        pdb: t.leaf(min_available.is_some_and(|m| m >= 1 && replicas > m), || {
            attrs(inst, &["pdb.min_available", "replicas"])
        }),
        slo,
        metrics: t.maybe(metrics, || attrs(inst, &["protocol"])),
        resource: None,
    }
}

fn object(v: Json) -> JMap<String, Json> {
    match v {
        Json::Object(o) => o,
        _ => JMap::new(),
    }
}

/// A resource as templates see it, owned by `owner`.
fn resource(owner: &str, r: &crate::model::Resource, env: &str, shared: &Shared) -> ResourceCtx {
    let (model, lib, t) = (shared.model, shared.lib, shared.trace);
    let rt = lib.resource_types.get(&r.ty);
    let declared = || vec![value(format!("service {owner}: resource {}", r.name), at(Layer::Service, r.span))];
    let of_type = |what: &str| {
        let span = rt.map(|t| t.decl.name.span).unwrap_or_default();
        vec![value(format!("resource type {}{what}", r.ty), at(Layer::ResourceType(r.ty.clone()), span))]
    };
    let owner_sources = || model.service(owner).map(named).into_iter().collect::<Vec<_>>();
    let levels = rt
        .map(|t| crate::value::map_from_body(&t.access, &crate::value::Layer::Defaults, &mut Vec::new()))
        .unwrap_or_default();
    let access = object(map_json(&levels));
    // Who may use it, and how (the owner's `grants`), with the grantee's
    // namespace, port and what the level allows.
    let grants: Vec<Grant> = r
        .values
        .get("grants")
        .and_then(|n| n.value.as_map())
        .into_iter()
        .flatten()
        .map(|(grantee, node)| {
            let level = node.value.as_word().unwrap_or("");
            let by =
                || vec![value(format!("service {owner}: resource {}: grants.{grantee}", r.name), node.origin.clone())];
            let with = |key: &str| {
                let mut s = by();
                s.extend(peer_sources(model, grantee, env, key));
                s
            };
            let there = model.service(grantee);
            let workload = there.and_then(|s| s.instances.first()).and_then(|i| i.str("workload"));
            let actions = access.get(level).cloned().unwrap_or(Json::Array(Vec::new()));
            Grant {
                service: t.leaf(grantee.clone(), by),
                namespace: t.leaf(namespace(grantee, there.and_then(|s| s.instance(env))), || with("namespace")),
                level: t.leaf(level.to_string(), by),
                workload: t.leaf(workload.unwrap_or("service").to_string(), || with("workload")),
                actions: t.leaf(actions, || {
                    let what = format!("resource type {}: access.{level}", r.ty);
                    levels.get(level).map(|n| value(what, n.origin.clone())).into_iter().collect()
                }),
            }
        })
        .collect();
    let mut values = object(map_json(&r.values));
    if let Some(t) = rt {
        fill_unset(&mut values, &t.schema);
    }
    let values_rule = t.0.then(|| {
        nodes_rule(
            format!("service {owner}: resource {}", r.name),
            r.values.clone(),
            rt.map(|t| (format!("resource type {} schema", r.ty), t.schema.clone())),
            Vec::new(),
            Trace::From(Vec::new()),
        )
    });
    let access_rule = t.0.then(|| {
        nodes_rule(format!("resource type {}: access", r.ty), levels.clone(), None, Vec::new(), Trace::From(Vec::new()))
    });
    let object_name = || {
        let mut s = declared();
        s.extend(owner_sources());
        s
    };
    ResourceCtx {
        values: Values::new(values, values_rule),
        grants,
        access: Values::new(access, access_rule),
        object: t.leaf(catalog_resource_name(owner, &r.name), object_name),
        owner: t.leaf(owner.to_string(), owner_sources),
        in_cluster: t.leaf(rt.is_some_and(|t| t.kubernetes.is_some()), || of_type("")),
        name: t.leaf(r.name.clone(), declared),
        tf_name: t.leaf(r.name.replace('-', "_"), declared),
        catalog_name: t.leaf(catalog_resource_name(owner, &r.name), object_name),
        r#type: t.leaf(r.ty.clone(), declared),
        catalog_type: t.leaf(rt.map(|t| t.catalog_type.clone()).unwrap_or_default(), || of_type("")),
        port: t.leaf(rt.map(|t| t.port).unwrap_or(443), || of_type(": port")),
        outputs: r
            .outputs
            .iter()
            .map(|(k, v)| (k.clone(), t.leaf(to_json(v), || of_type(&format!(": outputs.{k}")))))
            .collect(),
    }
}

/// The tier's objectives as numbers (see [`Slo`]), or none.
fn slo(inst: &Instance, t: Tracer) -> Option<Slo> {
    let percent = inst.get(&["slo", "availability"]).and_then(|v| match v {
        Value::Quantity { value, unit, .. } if unit == "%" => Some(*value),
        _ => None,
    });
    let latency = inst
        .get(&["slo", "latency_p99"])
        .map(to_json)
        .map(|d| super::render::duration_seconds(&d))
        .and_then(|s| s.as_f64());
    if percent.is_none() && latency.is_none() {
        return None;
    }
    let written = || attrs(inst, &["slo.availability"]);
    let availability = percent.map(|p| Availability {
        name: Traced::constant("availability".into()),
        percent: t.leaf(p, written),
        target: t.leaf(decimal(p / 100.0), written),
        budget: t.leaf(decimal((100.0 - p) / 100.0), written),
    });
    let written = || attrs(inst, &["slo.latency_p99"]);
    let latency = latency.map(|s| {
        let text = format!("{s}");
        let le_regex = if s.fract() == 0.0 { format!("{text}(\\.0)?") } else { text.replace('.', "\\.") };
        Latency {
            name: Traced::constant("latency".into()),
            seconds: t.leaf(decimal(s), written),
            budget: Traced::constant(0.01),
            le_regex: t.leaf(le_regex, written),
        }
    });
    Some(Slo {
        availability: t.maybe(availability, || attrs(inst, &["slo.availability"])),
        latency: t.maybe(latency, || attrs(inst, &["slo.latency_p99"])),
    })
}

/// A ratio rounded to ten decimal places, so that 1 - 0.9995 prints as
/// 0.0005 and not as the nearest binary fraction.
fn decimal(x: f64) -> Json {
    let rounded = (x * 1e10).round() / 1e10;
    if rounded.fract() == 0.0 && rounded.abs() < 9.0e15 {
        Json::from(rounded as i64)
    } else {
        serde_json::Number::from_f64(rounded).map(Json::Number).unwrap_or(Json::Null)
    }
}

/// The catalog name of a resource: unique in the whole workspace, so two
/// services' `cache` resources do not collide in Backstage; at most 63
/// characters (Backstage's limit), shortened with a hash.
pub fn catalog_resource_name(service: &str, resource: &str) -> String {
    let name = if resource.starts_with(&format!("{service}-")) {
        resource.to_string()
    } else {
        format!("{service}-{resource}")
    };
    super::render::bounded(&name, LABEL_MAX)
}

/// The request metrics of a protocol (the metrics contract, README
/// "Alerts"): the request counter, the matcher of failed requests, the
/// label of the outcome and the latency histogram; none for tcp.
fn metrics(inst: &Instance, t: Tracer) -> Option<Metrics> {
    let [requests, errors, outcome, duration] = match protocol(inst) {
        "http" => ["http_requests_total", "code=~'5..'", "code", "http_request_duration_seconds"],
        "grpc" => [
            "grpc_server_handled_total",
            "grpc_code=~'Unknown|DeadlineExceeded|Unimplemented|Internal|Unavailable|DataLoss'",
            "grpc_code",
            "grpc_server_handling_seconds",
        ],
        _ => return None,
    };
    let by = || attrs(inst, &["protocol"]);
    Some(Metrics {
        requests: t.leaf(requests.into(), by),
        errors: t.leaf(errors.into(), by),
        outcome: t.leaf(outcome.into(), by),
        duration: t.leaf(duration.into(), by),
    })
}

/// What the Namespace object of `ns` carries, the same for every service in
/// it (each emits it; applying one after another changes nothing): the team
/// label when they all have one owner, and the restricted Pod Security
/// profile unless one of them overrode a security default.
fn namespace_object(
    ns: &str,
    service: &Service,
    inst: &Instance,
    model: &Model,
    graph: &Graph,
    t: Tracer,
) -> NamespaceObject {
    let env = &inst.env;
    // Each member looked up by name, so that a change to one is a change
    // to what every member's rendering read.
    let members: Vec<(&Service, &Instance)> = graph
        .namespace_members(env, ns)
        .iter()
        .filter_map(|name| model.service(name).and_then(|s| s.instance(env).map(|i| (s, i))))
        .collect();
    let teams: BTreeSet<String> = members.iter().map(|(_, i)| label_value(i.str("owner").unwrap_or(""))).collect();
    let flag = |i: &Instance, k: &str| i.get(&["security", k]).and_then(Value::as_bool);
    let restricted = members
        .iter()
        .all(|(_, i)| flag(i, "run_as_non_root") == Some(true) && flag(i, "allow_privilege_escalation") != Some(true));
    let team = match teams.len() {
        1 => teams.into_iter().next(),
        _ => None,
    };
    // Each member's `keys`: this service's attributes, the others' values
    // (each named once).
    let of_members = |keys: &[&str]| {
        let mut out: Vec<Source> = Vec::new();
        for (s, i) in &members {
            let found = match s.name == service.name {
                true => attrs(inst, keys),
                false => keys.iter().flat_map(|k| other_sources(s, Some(i), k)).collect(),
            };
            for f in found {
                if !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        out
    };
    NamespaceObject {
        name: t.leaf(ns.to_string(), || namespace_sources(service, Some(inst))),
        team: t.leaf(team, || of_members(&["owner"])),
        restricted: t
            .leaf(restricted, || of_members(&["security.run_as_non_root", "security.allow_privilege_escalation"])),
    }
}

/// The name of the workload and what is named after it: the service's name,
/// shortened to fit a CronJob's.
fn object_name(service: &str, workload: Option<&str>) -> String {
    if workload == Some("cron") { super::render::bounded(service, CRONJOB_MAX) } else { service.to_string() }
}

/// PromQL matchers of the service's series: `pods` for series with a `pod`
/// label (its metrics, cAdvisor's, kube-state-metrics' pod series), `jobs`
/// for kube-state-metrics' job series. In its own namespace the namespace
/// alone; in a shared one also its pods' names (`<object>-<hash>-<id>`, which
/// no other workload's pods match: names never hold two more hyphenated
/// parts after another service's name and the hash parts hold no `-`) and
/// its jobs' (`<object>-<timestamp>`).
fn promql(ns: &str, service: &Service, inst: &Instance, t: Tracer) -> Promql {
    let workload = inst.str("workload");
    let by = || {
        let mut s = namespace_sources(service, Some(inst));
        s.push(named(service));
        s.extend(attrs(inst, &["workload"]));
        s
    };
    let own = format!("namespace='{ns}'");
    if ns == service.name {
        return Promql { pods: t.leaf(own.clone(), by), jobs: t.leaf(own, by) };
    }
    let object = object_name(&service.name, workload);
    let pods = if workload == Some("cron") {
        format!("{own},pod=~'{object}-[0-9]+-[a-z0-9]+'")
    } else {
        format!("{own},pod=~'{object}-[a-z0-9]+-[a-z0-9]+'")
    };
    Promql { pods: t.leaf(pods, by), jobs: t.leaf(format!("{own},job_name=~'{object}-[0-9]+'"), by) }
}

/// The names of a service's Kubernetes objects, each within what the API
/// server accepts whatever the service's name (a DNS label of up to 63):
/// `object` for the workload and what is named after it (52 for a CronJob,
/// whose Jobs add 11 characters), and the derived `config`, `tls` and
/// `rules`; a long one is shortened with a hash of the whole.
fn names(service: &Service, workload: Option<&str>, inst: &Instance, t: Tracer) -> Names {
    let bounded = super::render::bounded;
    let by = || vec![named(service)];
    let name = &service.name;
    Names {
        object: t.leaf(object_name(name, workload), || {
            let mut s = by();
            s.extend(attrs(inst, &["workload"]));
            s
        }),
        config: t.leaf(bounded(&format!("{name}-config"), LABEL_MAX), by),
        tls: t.leaf(bounded(&format!("{name}-tls"), LABEL_MAX), by),
        rules: t.leaf(bounded(&format!("{name}-rules"), LABEL_MAX), by),
        public: t.leaf(bounded(&format!("{name}-public"), LABEL_MAX), by),
    }
}

/// Where Prometheus scrapes the service's /metrics, or null: the port named
/// `metrics` (`metrics_port`), else the port named after the protocol; a
/// cron job (too brief to scrape) and a workload without a port have none,
/// so they get no ServiceMonitor/PodMonitor and no `MetricsAbsent` alert.
fn scrape(inst: &Instance, t: Tracer) -> Maybe<Scrape> {
    let port = |k: &str| inst.get(&[k]).and_then(Value::as_i64);
    if inst.str("workload") == Some("cron") {
        return t.maybe(None, || attrs(inst, &["workload"]));
    }
    let scrape = match (port("metrics_port"), port("port")) {
        (Some(m), _) => Some(Scrape {
            port: t.leaf("metrics".into(), || attrs(inst, &["metrics_port"])),
            number: t.leaf(m, || attrs(inst, &["metrics_port"])),
        }),
        (None, Some(p)) => Some(Scrape {
            port: t.leaf(protocol(inst).into(), || attrs(inst, &["protocol"])),
            number: t.leaf(p, || attrs(inst, &["port"])),
        }),
        (None, None) => None,
    };
    t.maybe(scrape, || attrs(inst, &["port", "metrics_port"]))
}

/// The pod's scratch volumes (emptyDir): `tmp` at /tmp always (the
/// service's `scratch.tmp` sets its size), then each of `scratch`, in the
/// order of their names.
fn scratch(inst: &Instance, t: Tracer) -> Vec<Scratch> {
    let declared = inst.get(&["scratch"]).and_then(Value::as_map);
    let entry = |name: &str| {
        let field = |k: &str| declared.and_then(|m| m.get(name)).and_then(|n| n.value.as_map()).and_then(|m| m.get(k));
        let size = field("size").map(|n| to_json(&n.value));
        let path = field("path").and_then(|n| n.value.as_str()).map(str::to_string);
        let by = |k: &str| vec![Source::Attribute(format!("scratch.{name}.{k}"))];
        let size = match size {
            Some(s) => t.leaf(s, || by("size")),
            None => Traced::constant(Json::Null),
        };
        (path.map(|p| t.leaf(Some(p), || by("path"))), size)
    };
    let (tmp_path, tmp_size) = entry("tmp");
    let mut out = vec![Scratch {
        name: Traced::constant("tmp".into()),
        volume: Traced::constant("tmp".into()),
        path: tmp_path.unwrap_or_else(|| Traced::constant(Some("/tmp".into()))),
        size: tmp_size,
    }];
    for name in declared.into_iter().flat_map(|m| m.keys()).filter(|n| *n != "tmp") {
        let (path, size) = entry(name);
        let by = || vec![Source::Attribute(format!("scratch.{name}"))];
        let volume = super::render::bounded(&format!("scratch-{name}"), LABEL_MAX);
        out.push(Scratch {
            name: t.leaf(name.clone(), by),
            volume: t.leaf(volume, by),
            path: path.unwrap_or_else(|| t.leaf(None, by)),
            size,
        });
    }
    out
}

/// The images of the service's objects that are a vendor's, in full: the
/// service's own with `image_source = vendor`, each init container's
/// `image`, and the image of each in-cluster resource (a resource type with
/// a `kubernetes` template names it by `image`, `version` and `digest`). The
/// deploy checks that each is pinned by digest instead of verifying a
/// signature of the workspace's CI (which never built them).
fn vendor_images(inst: &Instance, lib: &Library, t: Tracer) -> Vec<Traced<String>> {
    let mut out: BTreeMap<String, Vec<Source>> = BTreeMap::new();
    let mut add = |image: String, from: &dyn Fn() -> Vec<Source>| {
        let sources = out.entry(image).or_default();
        if t.0 {
            sources.extend(from());
        }
    };
    if inst.str("image_source") == Some("vendor") {
        add(image_ref(inst), &|| attrs(inst, &["image_source", "image", "version", "digest"]));
    }
    for r in &inst.resources {
        let in_cluster = lib.resource_types.get(&r.ty).is_some_and(|t| t.kubernetes.is_some());
        let word = |k: &str| r.values.get(k).and_then(|n| n.value.as_str());
        if in_cluster && let Some(image) = word("image") {
            let version = word("version").map(|v| format!(":{v}")).unwrap_or_default();
            let digest = word("digest").map(|d| format!("@{d}")).unwrap_or_default();
            add(format!("{image}{version}{digest}"), &|| {
                ["image", "version", "digest"]
                    .iter()
                    .filter_map(|k| {
                        let n = r.values.get(*k)?;
                        Some(value(format!("resource {}: {k}", r.name), n.origin.clone()))
                    })
                    .collect()
            });
        }
    }
    let init = inst.get(&["init"]).and_then(Value::as_map);
    for (name, c) in init.into_iter().flatten() {
        if let Some(image) = c.value.as_map().and_then(|m| m.get("image")).and_then(|n| n.value.as_str()) {
            add(image.to_string(), &|| vec![Source::Attribute(format!("init.{name}.image"))]);
        }
    }
    out.into_iter().map(|(image, sources)| t.leaf(image, || sources)).collect()
}

/// The longest CronJob name Kubernetes accepts.
const CRONJOB_MAX: usize = 52;

/// The context of workspace-wide templates (`templates/<target>/workspace/`):
/// the workspace, its services and its systems.
pub fn workspace(model: &Model) -> Json {
    let mut systems: BTreeMap<String, Vec<&Service>> = BTreeMap::new();
    let services = model
        .services
        .iter()
        .map(|s| {
            let last = s.instances.last();
            let word = |k: &str| last.and_then(|i| i.str(k)).map(str::to_string);
            if let Some(system) = word("system") {
                systems.entry(system).or_default().push(s);
            }
            WorkspaceService {
                name: s.name.clone(),
                source: s.path.clone(),
                owner: word("owner"),
                system: word("system"),
            }
        })
        .collect();
    let systems = systems
        .into_iter()
        .map(|(name, members)| {
            let owner =
                members.first().and_then(|s| s.instances.last()).and_then(|i| i.str("owner")).unwrap_or("").to_string();
            System { name, owner, services: members.iter().map(|s| s.name.clone()).collect() }
        })
        .collect();
    // Some service's namespace is not its own (shared, or named otherwise):
    // the deploy takes the namespace as an input and scopes its ApplySet to
    // the service.
    let shared_namespaces =
        model.services.iter().any(|s| s.instances.iter().any(|i| namespace(&s.name, Some(i)) != s.name));
    let ctx = WorkspaceContext {
        workspace: Values::new(object(model.workspace.to_json()), None),
        services,
        systems,
        shared_namespaces,
    };
    serde_json::to_value(ctx).unwrap_or(Json::Null)
}

/// A leaf of a service's context: its path (object keys, list indices as
/// decimal strings), its value, and where it comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Leaf {
    pub path: Vec<String>,
    pub value: Json,
    pub trace: Trace,
}

/// Every leaf (every string, number, boolean and null) of the context of
/// `service` in the environment of `inst`, built as emit builds it with the
/// sources of each recorded, in path order; without `labels`, which the
/// labels partial writes (see [`sources`]). Empty for an environment the
/// workspace does not declare.
pub fn leaves(service: &Service, inst: &Instance, model: &Model, graph: &Graph, lib: &Library) -> Vec<Leaf> {
    let Some(env) = model.workspace.environments.iter().find(|e| e.name == inst.env) else {
        return Vec::new();
    };
    let shared = Shared::traced(model, graph, lib);
    let base = service_base(service, &shared);
    let ctx = typed(&base, service, inst, env, &shared);
    // Later wins, as in the JSON: a typed field over a schema value of the
    // same name.
    let mut traces: BTreeMap<Vec<String>, Trace> = BTreeMap::new();
    shape::Leaves::leaves(&ctx, &mut Vec::new(), &mut |p, t| {
        traces.insert(p.to_vec(), t);
    });
    let json = serde_json::to_value(&ctx).unwrap_or(Json::Null);
    traces
        .into_iter()
        .map(|(path, trace)| {
            let value = path.iter().try_fold(&json, |j, k| match j {
                Json::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => j.get(k.as_str()),
            });
            Leaf { value: value.cloned().unwrap_or(Json::Null), path, trace }
        })
        .collect()
}

/// The sources of the context leaf at `path` (segments: object keys, and list indices as
/// decimal strings: ["secrets","0","env"], ["selector","app.kubernetes.io/name"]) of
/// `service` in the environment of `inst`: for a value copied from the service, that
/// attribute; for a composed one (the image reference, `names.object`, a `config` entry
/// injected for a dependency, `network.ingress[0].port`...), every value it is composed
/// from (an inherited origin). Empty only for constants of platc itself.
///
/// A path to a part rather than a leaf (`["config"]`) gives the sources of
/// every leaf under it, each once. A label (`["labels", KEY]`) is the labels
/// partial's, which the standard library declares and emit renders.
pub fn sources(
    service: &Service,
    inst: &Instance,
    model: &Model,
    graph: &Graph,
    lib: &Library,
    path: &[&str],
) -> Vec<Source> {
    sources_in(&leaves(service, inst, model, graph, lib), path)
}

/// [`sources`] from the context's [`leaves`], built once by a caller that
/// asks for several paths (explain, one per traced value).
pub fn sources_in(leaves: &[Leaf], path: &[&str]) -> Vec<Source> {
    if let ["labels", key] = path {
        let what = format!("standard library `{LABELS_TEMPLATE}`: {key}");
        return vec![value(what, at(Layer::Defaults, Span::default()))];
    }
    let mut out = Vec::new();
    for leaf in leaves {
        let under = leaf.path.len() >= path.len() && leaf.path.iter().zip(path).all(|(a, b)| a == b);
        if let (true, Trace::From(sources)) = (under, &leaf.trace) {
            for s in sources {
                if !out.contains(s) {
                    out.push(s.clone());
                }
            }
        }
    }
    out
}

/// The registry host of an image repository, as docker reads it: the first
/// path segment when it looks like a host (`ghcr.io`, `localhost:5000`),
/// else Docker Hub.
fn registry_host(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first.to_string(),
        _ => "docker.io".to_string(),
    }
}

/// `repository:tag@digest`, or without the parts not given.
fn image_ref(inst: &Instance) -> String {
    let mut s = inst.str("image").unwrap_or("").to_string();
    if let Some(v) = inst.get(&["version"]).and_then(Value::as_str) {
        s.push(':');
        s.push_str(v);
    }
    if let Some(d) = inst.get(&["digest"]).and_then(Value::as_str) {
        s.push('@');
        s.push_str(d);
    }
    s
}

/// The partial that declares the labels of a service's objects.
pub const LABELS_TEMPLATE: &str = "kubernetes/_labels.hbs";

/// The labels of a service in one environment, from the standard library's
/// `kubernetes/_labels.hbs` rendered with its context (`text`): a map of
/// strings, each value made a label value. It must keep the label every
/// selector matches, `app.kubernetes.io/name: <service>`.
pub fn labels_from(text: &str, service: &str) -> Result<Json, String> {
    let docs = super::yaml::parse(text)?;
    let mut labels = BTreeMap::new();
    for doc in &docs {
        let super::doc::Doc::Map(entries) = doc else {
            return Err("the labels are not a map of `key: value` lines".into());
        };
        for (k, v) in entries {
            let value = match v {
                super::doc::Doc::Str(s) => s.clone(),
                super::doc::Doc::Int(i) => i.to_string(),
                super::doc::Doc::Float(f) => f.to_string(),
                super::doc::Doc::Bool(b) => b.to_string(),
                _ => return Err(format!("label `{k}` is not a string")),
            };
            labels.insert(k.clone(), label_value(&value));
        }
    }
    if labels.get("app.kubernetes.io/name").map(String::as_str) != Some(service) {
        return Err(format!("the labels must keep `app.kubernetes.io/name: {service}`, which every selector matches"));
    }
    Ok(json!(labels))
}

/// A Kubernetes label value: at most 63 of `[A-Za-z0-9._-]`, alphanumeric at
/// both ends. A longer value is shortened with a hash of the whole (as
/// `bounded` does), so two long values that share a prefix stay distinct.
pub fn label_value(s: &str) -> String {
    let mapped: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    super::render::bounded(trimmed, LABEL_MAX)
}

/// The longest label value and DNS label Kubernetes accepts.
pub const LABEL_MAX: usize = 63;

/// The settings of an instance: plain config, each secret setting, each
/// Kubernetes Secret mounted.
type Settings = (BTreeMap<String, Traced<String>>, Vec<SecretFile>, Vec<SecretVolume>);

/// Secret → (remote key, its (key, variable)s, the sources of them all).
type BySecret = BTreeMap<String, (String, Vec<(String, String)>, Vec<Source>)>;

/// Where another service's address comes from: the service's `depends_on`
/// and what the address is made of there.
fn address_sources(model: &Model, dep: &str, env: &str) -> Vec<Source> {
    // First the service's `depends_on` (a reference to the service skips it).
    let mut out = vec![Source::Attribute("depends_on".into())];
    let inst = model.service(dep).and_then(|s| s.instance(env));
    let set: Vec<Source> = ["port", "service_port", "protocol", "namespace"]
        .iter()
        .filter_map(|k| {
            let n = inst?.values.get(*k)?;
            Some(value(format!("service {dep}: {k}"), n.origin.clone()))
        })
        .collect();
    match (set.is_empty(), model.service(dep)) {
        (true, Some(s)) => out.push(named(s)),
        _ => out.extend(set),
    }
    out
}

/// Splits `env` (plus injected `*_URL` and `*_ADDR` settings of dependencies) into plain
/// config (a ConfigMap) and secrets (mounted files, `NAME_FILE` pointing at
/// each).
fn settings(service: &Service, inst: &Instance, model: &Model, graph: &Graph, t: Tracer) -> Settings {
    let address = |name: &str| service_address(name, model.service(name).and_then(|s| s.instance(&inst.env)));
    let mut config: BTreeMap<String, Traced<String>> = BTreeMap::new();
    // Variable → (secret, key, owner, sources): the owner's store entry holds it.
    let mut secrets: BTreeMap<String, (String, String, String, Trace)> = BTreeMap::new();
    let env = inst.get(&["env"]).and_then(Value::as_map);
    let written: Vec<String> = env
        .into_iter()
        .flatten()
        .filter_map(|(_, n)| match &n.value {
            Value::Secret(s) => Some(s.clone()),
            Value::Ref(p) if p.len() == 2 => resolve_ref(p, inst),
            _ => None,
        })
        .collect();
    let own = |(secret, key): (String, String), trace: Trace| (secret, key, service.name.clone(), trace);
    // Injected first, so that what the service writes wins.
    for dep in graph.service_dependencies(&service.name) {
        let (url, addr) = address(dep);
        let from = || address_sources(model, dep, &inst.env);
        config.insert(env_name(dep, "URL"), t.leaf(url, from));
        config.insert(env_name(dep, "ADDR"), t.leaf(addr, from));
    }
    for (dep, _) in &service.depends_on {
        let Some(r) = inst.resources.iter().find(|r| &r.name == dep) else {
            continue;
        };
        let from = |out: &str| {
            let what = format!("service {}: resource {}: outputs.{out}", service.name, r.name);
            vec![Source::Attribute("depends_on".into()), value(what, at(Layer::Service, r.span))]
        };
        match r.outputs.get_key_value("url").or_else(|| r.outputs.iter().next()) {
            Some((out, Value::Secret(s))) if !written.contains(s) => {
                secrets.insert(env_name(&r.name, &out.to_ascii_uppercase()), own(split(s), t.trace(|| from(out))));
            }
            // A plain output (an in-cluster address) is configuration.
            Some((out, Value::Str(s))) => {
                config.insert(env_name(&r.name, &out.to_ascii_uppercase()), t.leaf(s.clone(), || from(out)));
            }
            _ => {}
        }
    }
    for (name, node) in env.into_iter().flatten() {
        let written = || vec![Source::Attribute(format!("env.{name}"))];
        let secret = match &node.value {
            Value::Secret(s) => Some(own(split(s), t.trace(written))),
            Value::Ref(p) if p.len() == 2 => resolve_ref(p, inst).map(|s| own(split(&s), t.trace(written))),
            // A secret of a resource another service granted this one: in
            // the owner's store entry, synced into a Secret of this
            // namespace named `<owner>-<secret>`.
            Value::Ref(p) => match foreign_output(p, &inst.env, model) {
                Some(Value::Secret(s)) => {
                    let (secret, key) = split(s);
                    let owner = p.first().cloned().unwrap_or_default();
                    Some((secret, key, owner, t.trace(written)))
                }
                _ => None,
            },
            _ => None,
        };
        match (&node.value, secret) {
            (_, Some(s)) => {
                config.remove(name);
                secrets.insert(name.clone(), s);
            }
            (Value::Ref(p), None) if p.len() == 3 => {
                let v = match foreign_output(p, &inst.env, model) {
                    Some(Value::Str(s)) => s.clone(),
                    _ => String::new(),
                };
                secrets.remove(name);
                config.insert(name.clone(), t.leaf(v, written));
            }
            (Value::Ref(p), None) => {
                let target = p.first().map(String::as_str).unwrap_or("");
                let out = p.get(1).map(String::as_str).unwrap_or("");
                // A plain output of one of the service's resources, or
                // another service's address.
                let plain = match own_output(p, inst) {
                    Some(Value::Str(s)) => Some(s.clone()),
                    _ => None,
                };
                let own = plain.is_some();
                let v = plain.unwrap_or_else(|| {
                    let address = scope::outside(model, &inst.env, Meaning::Address { service: target, part: out });
                    match address {
                        Found::Text(t) => t.into_owned(),
                        _ => String::new(),
                    }
                });
                secrets.remove(name);
                // What the service wrote, and what the address is made of.
                let from = || {
                    let mut s = written();
                    if !own {
                        s.extend(address_sources(model, target, &inst.env).into_iter().skip(1));
                    }
                    s
                };
                config.insert(name.clone(), t.leaf(v, from));
            }
            // A number is text in a ConfigMap: as written (`007`, `1.50`).
            (Value::Number(_, text), None) => {
                secrets.remove(name);
                config.insert(name.clone(), t.leaf(text.clone(), written));
            }
            (v, None) => {
                secrets.remove(name);
                let text = match to_json(v) {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                config.insert(name.clone(), t.leaf(text, written));
            }
        }
    }
    // The Kubernetes Secret of each: its own name, or `<owner>-<secret>`
    // for another service's; in a namespace the service shares with others,
    // prefixed with the service (`<service>-<secret>`,
    // `<service>-<owner>-<secret>`) so no two services' Secrets collide.
    let own_namespace = namespace(&service.name, Some(inst)) == service.name;
    let local = |secret: &str, owner: &str| {
        let name = if owner == service.name { secret.to_string() } else { format!("{owner}-{secret}") };
        if own_namespace {
            if owner == service.name { name } else { super::render::bounded(&name, LABEL_MAX) }
        } else {
            super::render::bounded(&format!("{}-{name}", service.name), LABEL_MAX)
        }
    };
    let mut by_secret: BySecret = BTreeMap::new();
    let list = secrets
        .iter()
        .map(|(var, (secret, key, owner, trace))| {
            let name = local(secret, owner);
            let remote = format!("{owner}/{}/{secret}", inst.env);
            let entry = by_secret.entry(name.clone()).or_insert_with(|| (remote, Vec::new(), Vec::new()));
            entry.1.push((key.clone(), var.clone()));
            if let Trace::From(s) = trace {
                entry.2.extend(s.iter().cloned());
            }
            let leaf = |value: String| Traced { value, trace: trace.clone() };
            SecretFile {
                env: leaf(var.clone()),
                file_env: leaf(format!("{var}_FILE")),
                path: leaf(format!("{SECRETS_DIR}/{name}/{key}")),
                secret: leaf(name),
                key: leaf(key.clone()),
            }
        })
        .collect();
    let volumes = by_secret
        .into_iter()
        .map(|(secret, (remote_key, mut items, mut sources))| {
            items.sort();
            items.dedup_by(|a, b| a.0 == b.0);
            sources.dedup();
            let leaf = |value: String| Traced { value, trace: Trace::From(sources.clone()) };
            SecretVolume {
                volume: leaf(super::render::bounded(&format!("secret-{}", secret.replace('.', "-")), LABEL_MAX)),
                remote_key: leaf(remote_key),
                mount: leaf(format!("{SECRETS_DIR}/{secret}")),
                keys: items.iter().map(|(k, _)| leaf(k.clone())).collect(),
                secret: leaf(secret),
            }
        })
        .collect();
    (config, list, volumes)
}

fn split(s: &str) -> (String, String) {
    let (a, b) = split_secret(s);
    (a.to_string(), b.to_string())
}

/// `orders.order-events.url` → that output of the owner's resource.
fn foreign_output<'a>(p: &[String], env: &str, model: &'a Model) -> Option<&'a Value> {
    match scope::outside(model, env, scope::classify(p, Place::Setting, |_| false)) {
        Found::Value(Cow::Borrowed(v), _) => Some(v),
        _ => None,
    }
}

/// `payments-db.url` → that output of the service's own resource.
fn own_output<'a>(p: &[String], inst: &'a Instance) -> Option<&'a Value> {
    let [resource, output] = p else { return None };
    match scope::own_output(&inst.resources, resource, output) {
        Found::Value(Cow::Borrowed(v), _) => Some(v),
        _ => None,
    }
}

/// `payments-db.url` → the secret that output names.
fn resolve_ref(p: &[String], inst: &Instance) -> Option<String> {
    match own_output(p, inst)? {
        Value::Secret(s) => Some(s.clone()),
        _ => None,
    }
}

/// `payments-db` + `URL` → `PAYMENTS_DB_URL`.
pub fn env_name(name: &str, suffix: &str) -> String {
    let mut s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    s.push('_');
    s.push_str(suffix);
    s
}

/// Peers for the NetworkPolicy: who may call this service, whom it calls.
fn network(
    service: &Service,
    inst: &Instance,
    uses: &[Used],
    model: &Model,
    graph: &Graph,
    lib: &Library,
    t: Tracer,
) -> Network {
    let env = &inst.env;
    let peer = |name: &str, by: &dyn Fn() -> Vec<Source>| {
        let there = model.service(name).and_then(|s| s.instance(env));
        let port = there.and_then(|i| i.get(&["port"])).and_then(Value::as_i64);
        let workload = there.and_then(|i| i.str("workload")).unwrap_or("service");
        Peer {
            name: t.leaf(name.to_string(), by),
            namespace: t.leaf(namespace(name, there), || peer_sources(model, name, env, "namespace")),
            port: match port {
                Some(p) => t.leaf(p, || peer_sources(model, name, env, "port")),
                None => Traced::constant(8080),
            },
            workload: t.leaf(workload.to_string(), || peer_sources(model, name, env, "workload")),
        }
    };
    let ingress = graph
        .dependents(&service.name)
        .into_iter()
        .map(|d| peer(d, &|| dependent_sources(model, d, &service.name)))
        .collect();
    let egress = graph
        .service_dependencies(&service.name)
        .into_iter()
        .filter(|d| model.service(d).and_then(|s| s.instance(env)).and_then(|i| i.str("workload")) == Some("service"))
        .map(|d| peer(d, &|| vec![Source::Attribute("depends_on".into())]))
        .collect();
    let mut ports: BTreeMap<i64, Vec<Source>> = BTreeMap::new();
    for r in inst.resources.iter().chain(uses.iter().map(|u| u.resource)) {
        let rt = lib.resource_types.get(&r.ty);
        let sources = ports.entry(rt.map(|t| t.port).unwrap_or(443)).or_default();
        if t.0
            && let Some(rt) = rt
        {
            let origin = at(Layer::ResourceType(r.ty.clone()), rt.decl.name.span);
            sources.push(value(format!("resource type {}: port", r.ty), origin));
        }
    }
    // `expose.via`: the ingress (the default, with a host), or a Service of
    // its own reachable from outside the cluster (`public`).
    let via = inst.get(&["expose", "via"]).and_then(Value::as_word);
    let exposed = matches!(via, None | Some("ingress")) && inst.get(&["expose", "host"]).is_some();
    let public = matches!(via, Some("load_balancer" | "node_port"));
    Network {
        ingress,
        egress,
        resource_ports: ports.into_iter().map(|(p, s)| t.leaf(p, || s)).collect(),
        exposed: t.leaf(exposed, || attrs(inst, &["expose.via", "expose.host"])),
        public: t.leaf(public, || attrs(inst, &["expose.via"])),
    }
}

/// Where `by`'s dependency on `on` is written: its `depends_on`.
fn dependent_sources(model: &Model, by: &str, on: &str) -> Vec<Source> {
    let s = model.service(by);
    match (s, s.and_then(|s| s.depends_on.iter().find(|(n, _)| n == on))) {
        (_, Some((_, span))) => vec![value(format!("service {by}: depends_on"), at(Layer::Service, *span))],
        (Some(s), None) => vec![named(s)],
        (None, None) => Vec::new(),
    }
}

/// A short, stable hash of a value's JSON (for rollout annotations).
pub fn hash_json(v: &impl serde::Serialize) -> String {
    let digest = Sha256::digest(serde_json::to_vec(v).unwrap_or_default());
    super::hex(digest.get(..8).unwrap_or_default())
}
