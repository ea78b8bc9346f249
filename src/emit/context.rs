//! The data a template sees: the resolved service in one environment, plus
//! what platc derives from the whole workspace (labels, the image reference,
//! settings split into config and secret files, network peers from the
//! dependency graph, resources and their outputs).
//!
//! Templates read it as `service.*`, `workspace.*`, `environment.*`,
//! `labels`, `image`, `config`, `secrets`, `network`, `resources`, `apis`,
//! `dependencies`, `overrides`, `waivers`, `patches`, `language`, `source`,
//! `source_dir`, `environments` and `slo`. `docs/templates.md` lists every
//! field; keep it in step with this file.
//!
//! What the other outputs (Terraform, workflows, dashboards, alerts) need
//! beyond the resolved values is computed here and kept mechanical; the
//! opinions (burn-rate windows, which AWS settings, which CI steps) are in
//! the templates:
//!
//! - `source_dir`: the directory of the service's `service.plat`
//!   (workspace-relative, `""` at the root): CI path filters, build context.
//! - `stdlib_dir`: the workspace's standard-library overlay directory
//!   (`platform`), or null: CI path filters.
//! - `image_registry`: the registry host of `service.image` (`ghcr.io`), for
//!   CI to log in to.
//! - `environments`: the workspace's environments in deploy order, each with
//!   its values (`cluster`, `approval`, `domain`), `first`, `last`,
//!   `previous` (a name or null) and the service's `image` there.
//! - `slo`: the tier's objectives as numbers, or null without `slo`:
//!   `availability.{name, percent, target, budget}` (99.95 → 0.9995, 0.0005)
//!   and `latency.{name, seconds, budget, le_regex}` (300ms → 0.3; the p99 objective
//!   allows 1% of requests to be slower, budget 0.01; `le_regex` matches the
//!   histogram bucket `le` label of the threshold however the client wrote
//!   it, `1` or `1.0`, for a PromQL raw string).
//! - `resources[].tf_name`: the resource's name as a Terraform identifier.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map as JMap, Value as Json, json};
use sha2::{Digest, Sha256};

use crate::graph::Graph;
use crate::library::Library;
use crate::model::{Instance, Model, Service};
use crate::schema::{Record, Type};
use crate::scope::{self, Found, Meaning, Place};
use crate::value::{Value, map_json, split_secret, to_json};
use crate::workspace::Environment;

/// Where secrets are mounted in the container (never passed as env values).
pub const SECRETS_DIR: &str = "/var/run/secrets/platc";

// How other services reach a service: what `users.addr` means is the
// scope's to say (one answer for settings, strings and the context).
pub use crate::scope::namespace;
use crate::scope::{protocol, service_address, service_port};

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

/// The request metrics of a protocol (the metrics contract, README
/// "Alerts"): the request counter, the matcher of failed requests, the
/// label of the outcome and the latency histogram; none for tcp.
fn metrics(inst: &Instance) -> Json {
    match protocol(inst) {
        "http" => json!({
            "requests": "http_requests_total",
            "errors": "code=~'5..'",
            "outcome": "code",
            "duration": "http_request_duration_seconds",
        }),
        "grpc" => json!({
            "requests": "grpc_server_handled_total",
            "errors": "grpc_code=~'Unknown|DeadlineExceeded|Unimplemented|Internal|Unavailable|DataLoss'",
            "outcome": "grpc_code",
            "duration": "grpc_server_handling_seconds",
        }),
        _ => Json::Null,
    }
}

/// What the Namespace object of `ns` carries, the same for every service in
/// it (each emits it; applying one after another changes nothing): the team
/// label when they all have one owner, and the restricted Pod Security
/// profile unless one of them overrode a security default.
fn namespace_object(ns: &str, env: &str, model: &Model) -> Json {
    let members: Vec<&Instance> =
        model.services.iter().filter_map(|s| s.instance(env).filter(|i| namespace(&s.name, Some(i)) == ns)).collect();
    let teams: BTreeSet<String> = members.iter().map(|i| label_value(i.str("owner").unwrap_or(""))).collect();
    let flag = |i: &Instance, k: &str| i.get(&["security", k]).and_then(Value::as_bool);
    let restricted = members
        .iter()
        .all(|i| flag(i, "run_as_non_root") == Some(true) && flag(i, "allow_privilege_escalation") != Some(true));
    let team = match teams.len() {
        1 => teams.into_iter().next().map(Json::String).unwrap_or(Json::Null),
        _ => Json::Null,
    };
    json!({ "name": ns, "team": team, "restricted": restricted })
}

/// PromQL matchers of the service's series: `pods` for series with a `pod`
/// label (its metrics, cAdvisor's, kube-state-metrics' pod series), `jobs`
/// for kube-state-metrics' job series. In its own namespace the namespace
/// alone; in a shared one also its pods' names (`<object>-<hash>-<id>`, which
/// no other workload's pods match: names never hold two more hyphenated
/// parts after another service's name and the hash parts hold no `-`) and
/// its jobs' (`<object>-<timestamp>`).
fn promql(ns: &str, service: &str, workload: Option<&str>) -> Json {
    let own = format!("namespace='{ns}'");
    if ns == service {
        return json!({ "pods": own, "jobs": own });
    }
    let object = names(service, workload).get("object").and_then(Json::as_str).unwrap_or(service).to_string();
    let pods = if workload == Some("cron") {
        format!("{own},pod=~'{object}-[0-9]+-[a-z0-9]+'")
    } else {
        format!("{own},pod=~'{object}-[a-z0-9]+-[a-z0-9]+'")
    };
    json!({ "pods": pods, "jobs": format!("{own},job_name=~'{object}-[0-9]+'") })
}

/// What every context is computed from, and the parts that do not depend on
/// the service, built once per build: the workspace, each environment, each
/// language.
pub struct Shared<'a> {
    model: &'a Model,
    graph: &'a Graph,
    lib: &'a Library,
    workspace: Json,
    stdlib_dir: Json,
    /// `environments`, in deploy order, without the service's `image`.
    environments: Vec<JMap<String, Json>>,
    /// `environment`, by name.
    environment: BTreeMap<String, Json>,
    /// `language`, by name.
    languages: BTreeMap<String, Json>,
}

impl<'a> Shared<'a> {
    pub fn new(model: &'a Model, graph: &'a Graph, lib: &'a Library) -> Shared<'a> {
        let overlay = model.workspace.stdlib.as_ref().map(|(d, _)| d.trim_start_matches("./").trim_end_matches('/'));
        let envs = &model.workspace.environments;
        let environment: BTreeMap<String, Json> = envs
            .iter()
            .map(|env| {
                let mut o = object(map_json(&env.values));
                o.insert("name".into(), Json::String(env.name.clone()));
                if let Some(rec) = lib.schemas.get("environment") {
                    fill_unset(&mut o, rec);
                }
                (env.name.clone(), Json::Object(o))
            })
            .collect();
        let environments = envs
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut o = environment.get(&e.name).and_then(Json::as_object).cloned().unwrap_or_default();
                o.insert("first".into(), Json::Bool(i == 0));
                o.insert("last".into(), Json::Bool(i + 1 == envs.len()));
                let previous = i.checked_sub(1).and_then(|p| envs.get(p)).map(|p| p.name.clone());
                o.insert("previous".into(), previous.map(Json::String).unwrap_or(Json::Null));
                o
            })
            .collect();
        let languages = lib
            .languages
            .iter()
            .map(|(name, d)| {
                let values = crate::value::map_from_body(&d.body, &crate::value::Layer::Defaults, &mut Vec::new());
                let mut o = object(map_json(&values));
                o.insert("name".into(), Json::String(d.name.name.clone()));
                (name.clone(), Json::Object(o))
            })
            .collect();
        Shared {
            model,
            graph,
            lib,
            workspace: model.workspace.to_json(),
            stdlib_dir: overlay.map(|d| Json::String(d.to_string())).unwrap_or(Json::Null),
            environments,
            environment,
            languages,
        }
    }
}

/// The service-level part of the context, shared by every environment.
pub fn service_base(service: &Service, shared: &Shared) -> JMap<String, Json> {
    let (model, graph, lib) = (shared.model, shared.graph, shared.lib);
    let mut ctx = JMap::new();
    ctx.insert("source".into(), Json::String(service.path.clone()));
    let dir = service.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    ctx.insert("source_dir".into(), Json::String(dir.to_string()));
    ctx.insert("environments".into(), environments(service, shared));
    ctx.insert("stdlib_dir".into(), shared.stdlib_dir.clone());
    ctx.insert("workspace".into(), shared.workspace.clone());
    ctx.insert("namespace".into(), Json::String(namespace(&service.name, service.instances.first())));
    let deps = graph.service_dependencies(&service.name);
    let dependents = graph.dependents(&service.name);
    ctx.insert(
        "dependencies".into(),
        json!({
            "services": deps,
            "resources": service.instances.first().map(|i| i.resources.iter().map(|r| r.name.clone()).collect::<Vec<_>>()).unwrap_or_default(),
            "dependents": dependents,
            "apis": deps.iter().filter_map(|d| model.service(d)).flat_map(|s| s.apis.iter().map(|a| a.name.clone())).collect::<Vec<_>>(),
        }),
    );
    ctx.insert(
        "overrides".into(),
        service
            .overrides
            .iter()
            .map(|o| json!({ "path": o.what, "reason": o.reason, "golden_path": o.from }))
            .collect(),
    );
    ctx.insert(
        "waivers".into(),
        service
            .waivers
            .iter()
            .map(|w| json!({ "policy": w.what, "reason": w.reason, "golden_path": w.from }))
            .collect(),
    );
    ctx.insert(
        "patches".into(),
        service
            .patches
            .iter()
            .map(|p| {
                let reason = p.reason().unwrap_or_else(|| "no reason given".into());
                json!({ "what": patch_what(&p.patch), "reason": reason, "golden_path": p.from })
            })
            .collect(),
    );
    ctx.insert("golden_paths".into(), service.golden_paths.iter().cloned().collect());
    // The outermost golden path, or null for a service with no `from`.
    ctx.insert("golden_path".into(), service.golden_paths.first().cloned().map_or(Json::Null, Json::String));
    ctx.insert(
        "apis".into(),
        service
            .apis
            .iter()
            .map(|a| {
                let mut o = match map_json(&a.values) {
                    Json::Object(o) => o,
                    _ => JMap::new(),
                };
                o.insert("name".into(), Json::String(a.name.clone()));
                o.insert("definition".into(), a.definition.clone().map(Json::String).unwrap_or(Json::Null));
                if let Some(rec) = lib.schemas.get("api") {
                    fill_unset(&mut o, rec);
                }
                Json::Object(o)
            })
            .collect(),
    );
    ctx
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

/// The full context of one service in one environment.
pub fn instance(
    base: &JMap<String, Json>,
    service: &Service,
    inst: &Instance,
    env: &Environment,
    shared: &Shared,
) -> Json {
    let (model, graph, lib) = (shared.model, shared.graph, shared.lib);
    let filled;
    let inst = match fill_outside(inst, model) {
        Some(values) => {
            filled = Instance { values, ..inst.clone() };
            &filled
        }
        None => inst,
    };
    let mut ctx = base.clone();
    let mut svc = object(map_json(&inst.values));
    svc.insert("name".into(), Json::String(service.name.clone()));
    if let Some(rec) = lib.schemas.get("service") {
        fill_unset(&mut svc, rec);
    }
    svc.insert("service_port".into(), json!(service_port(inst)));

    ctx.insert("environment".into(), shared.environment.get(&env.name).cloned().unwrap_or(Json::Null));

    ctx.insert("image".into(), Json::String(image_ref(inst)));
    ctx.insert("image_registry".into(), Json::String(registry_host(inst.str("image").unwrap_or(""))));
    let ns = namespace(&service.name, Some(inst));
    ctx.insert("own_namespace".into(), Json::Bool(ns == service.name));
    ctx.insert("namespace_object".into(), namespace_object(&ns, &env.name, model));
    ctx.insert("promql".into(), promql(&ns, &service.name, inst.str("workload")));
    ctx.insert("namespace".into(), Json::String(ns));
    ctx.insert("selector".into(), json!({ "app.kubernetes.io/name": service.name }));
    ctx.insert("names".into(), names(&service.name, inst.str("workload")));
    ctx.insert("scrape".into(), scrape(inst));
    ctx.insert("scratch".into(), scratch(inst));
    ctx.insert("vendor_images".into(), vendor_images(inst, lib).into_iter().map(Json::String).collect());

    let (config, secrets, volumes) = settings(service, inst, model, graph);
    let config_hash = hash_json(&Json::Object(config.clone()));
    ctx.insert("config".into(), Json::Object(config));
    ctx.insert("config_hash".into(), Json::String(config_hash));
    ctx.insert("secrets".into(), Json::Array(secrets));
    ctx.insert("secret_volumes".into(), Json::Array(volumes));
    ctx.insert("network".into(), network(service, inst, model, graph, lib));
    ctx.insert(
        "resources".into(),
        inst.resources.iter().map(|r| resource(&service.name, r, &inst.env, lib, model)).collect(),
    );
    let uses = used(&service.name, inst, model);
    ctx.insert(
        "uses".into(),
        uses.iter()
            .map(|u| {
                let mut o = object(resource(u.owner, u.resource, &inst.env, lib, model));
                o.insert("owner".into(), Json::String(u.owner.to_string()));
                o.insert("level".into(), Json::String(u.level.clone()));
                let actions = o.get("access").and_then(|a| a.get(&u.level)).cloned().unwrap_or(Json::Array(Vec::new()));
                o.insert("actions".into(), actions);
                o.insert("tf_name".into(), Json::String(format!("{}_{}", u.owner, u.resource.name).replace('-', "_")));
                Json::Object(o)
            })
            .collect(),
    );
    // Terraform of its own: a resource made by Terraform, or the grant of one.
    let cloud = |ty: &str| lib.resource_types.get(ty).is_some_and(|t| t.terraform.is_some());
    // A granted resource needs Terraform of the grantee's only where its
    // type grants cloud access (`grant_terraform`): a granted database's
    // access is its connection secret, nothing in the cloud.
    let granted = |ty: &str| lib.resource_types.get(ty).is_some_and(|t| t.grant_terraform.is_some());
    let terraform = inst.resources.iter().any(|r| cloud(&r.ty))
        || uses.iter().any(|u| cloud(&u.resource.ty) && granted(&u.resource.ty));
    ctx.insert("terraform".into(), Json::Bool(terraform));

    let language = inst.str("language").and_then(|l| shared.languages.get(l)).cloned();
    ctx.insert("language".into(), language.unwrap_or(Json::Null));

    let min_available = inst.get(&["pdb", "min_available"]).and_then(Value::as_i64);
    let replicas = inst.get(&["replicas"]).and_then(Value::as_i64).unwrap_or(1);
    // A budget only where it can be met: more replicas than must stay up.
    ctx.insert("pdb".into(), json!(min_available.is_some_and(|m| m >= 1 && replicas > m)));
    // A tcp service has no request SLI: health alerts only.
    let metrics = metrics(inst);
    ctx.insert("slo".into(), if metrics.is_null() { Json::Null } else { slo(inst) });
    ctx.insert("metrics".into(), metrics);
    ctx.insert("service".into(), Json::Object(svc));
    Json::Object(ctx)
}

fn object(v: Json) -> JMap<String, Json> {
    match v {
        Json::Object(o) => o,
        _ => JMap::new(),
    }
}

fn resource(service: &str, r: &crate::model::Resource, env: &str, lib: &Library, model: &Model) -> Json {
    let mut o = object(map_json(&r.values));
    let rt = lib.resource_types.get(&r.ty);
    let access =
        rt.map(|t| map_json(&crate::value::map_from_body(&t.access, &crate::value::Layer::Defaults, &mut Vec::new())));
    let access = access.unwrap_or(Json::Object(JMap::new()));
    // Who may use it, and how (the owner's `grants`), with the grantee's
    // namespace, port and what the level allows.
    let grants: Vec<Json> = r
        .values
        .get("grants")
        .and_then(|n| n.value.as_map())
        .into_iter()
        .flatten()
        .map(|(grantee, level)| {
            let level = level.value.as_word().unwrap_or("");
            let workload = model.service(grantee).and_then(|s| s.instances.first()).and_then(|i| i.str("workload"));
            json!({
                "service": grantee,
                "namespace": namespace(grantee, model.service(grantee).and_then(|s| s.instance(env))),
                "level": level,
                "workload": workload.unwrap_or("service"),
                "actions": access.get(level).cloned().unwrap_or(Json::Array(Vec::new())),
            })
        })
        .collect();
    o.insert("grants".into(), Json::Array(grants));
    o.insert("access".into(), access);
    o.insert("object".into(), Json::String(catalog_resource_name(service, &r.name)));
    o.insert("owner".into(), Json::String(service.to_string()));
    o.insert("in_cluster".into(), Json::Bool(rt.is_some_and(|t| t.kubernetes.is_some())));
    o.insert("name".into(), Json::String(r.name.clone()));
    o.insert("tf_name".into(), Json::String(r.name.replace('-', "_")));
    o.insert("catalog_name".into(), Json::String(catalog_resource_name(service, &r.name)));
    o.insert("type".into(), Json::String(r.ty.clone()));
    o.insert("catalog_type".into(), Json::String(rt.map(|t| t.catalog_type.clone()).unwrap_or_default()));
    o.insert("port".into(), json!(rt.map(|t| t.port).unwrap_or(443)));
    o.insert("outputs".into(), r.outputs.iter().map(|(k, v)| (k.clone(), to_json(v))).collect());
    if let Some(t) = rt {
        fill_unset(&mut o, &t.schema);
    }
    Json::Object(o)
}

/// The workspace's environments in deploy order, with what a pipeline needs
/// to know about each, and the service's image there.
fn environments(service: &Service, shared: &Shared) -> Json {
    shared
        .environments
        .iter()
        .map(|e| {
            let mut o = e.clone();
            let name = e.get("name").and_then(Json::as_str).unwrap_or("");
            o.insert("image".into(), service.instance(name).map(image_ref).map(Json::String).unwrap_or(Json::Null));
            let ns = namespace(&service.name, service.instance(name));
            // The deploy passes the namespace only when it is not the service's own.
            o.insert("namespace".into(), if ns == service.name { Json::Null } else { Json::String(ns) });
            Json::Object(o)
        })
        .collect()
}

/// The tier's objectives as numbers (see the module doc), or null.
fn slo(inst: &Instance) -> Json {
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
        return Json::Null;
    }
    let availability =
        percent.map(|p| json!({ "name": "availability", "percent": p, "target": decimal(p / 100.0), "budget": decimal((100.0 - p) / 100.0) }));
    let latency = latency.map(|s| {
        let text = format!("{s}");
        let le_regex = if s.fract() == 0.0 { format!("{text}(\\.0)?") } else { text.replace('.', "\\.") };
        json!({ "name": "latency", "seconds": decimal(s), "budget": 0.01, "le_regex": le_regex })
    });
    json!({ "availability": availability, "latency": latency })
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

/// The names of a service's Kubernetes objects, each within what the API
/// server accepts whatever the service's name (a DNS label of up to 63):
/// `object` for the workload and what is named after it (52 for a CronJob,
/// whose Jobs add 11 characters), and the derived `config`, `tls` and
/// `rules`; a long one is shortened with a hash of the whole.
fn names(service: &str, workload: Option<&str>) -> Json {
    let bounded = super::render::bounded;
    let object = if workload == Some("cron") { bounded(service, CRONJOB_MAX) } else { service.to_string() };
    json!({
        "object": object,
        "config": bounded(&format!("{service}-config"), LABEL_MAX),
        "tls": bounded(&format!("{service}-tls"), LABEL_MAX),
        "rules": bounded(&format!("{service}-rules"), LABEL_MAX),
        "public": bounded(&format!("{service}-public"), LABEL_MAX),
    })
}

/// Where Prometheus scrapes the service's /metrics, or null: the port named
/// `metrics` (`metrics_port`), else the port named after the protocol; a
/// cron job (too brief to scrape) and a workload without a port have none,
/// so they get no ServiceMonitor/PodMonitor and no `MetricsAbsent` alert.
fn scrape(inst: &Instance) -> Json {
    let port = |k: &str| inst.get(&[k]).and_then(Value::as_i64);
    if inst.str("workload") == Some("cron") {
        return Json::Null;
    }
    match (port("metrics_port"), port("port")) {
        (Some(m), _) => json!({ "port": "metrics", "number": m }),
        (None, Some(p)) => json!({ "port": protocol(inst), "number": p }),
        (None, None) => Json::Null,
    }
}

/// The pod's scratch volumes (emptyDir): `tmp` at /tmp always (the
/// service's `scratch.tmp` sets its size), then each of `scratch`, in the
/// order of their names: `name`, `volume` (the pod's volume name), `path`,
/// `size` (or null).
fn scratch(inst: &Instance) -> Json {
    let declared = inst.get(&["scratch"]).and_then(Value::as_map);
    let entry = |name: &str| {
        let field = |k: &str| declared.and_then(|m| m.get(name)).and_then(|n| n.value.as_map()).and_then(|m| m.get(k));
        let size = field("size").map(|n| to_json(&n.value)).unwrap_or(Json::Null);
        let path = field("path").and_then(|n| n.value.as_str()).map(str::to_string);
        (path, size)
    };
    let (tmp_path, tmp_size) = entry("tmp");
    let mut out = vec![
        json!({ "name": "tmp", "volume": "tmp", "path": tmp_path.unwrap_or_else(|| "/tmp".into()), "size": tmp_size }),
    ];
    for name in declared.into_iter().flat_map(|m| m.keys()).filter(|n| *n != "tmp") {
        let (path, size) = entry(name);
        let volume = super::render::bounded(&format!("scratch-{name}"), LABEL_MAX);
        out.push(json!({ "name": name, "volume": volume, "path": path, "size": size }));
    }
    Json::Array(out)
}

/// The images of the service's objects that are a vendor's, in full: the
/// service's own with `image_source = vendor`, each init container's
/// `image`, and the image of each in-cluster resource (a resource type with
/// a `kubernetes` template names it by `image`, `version` and `digest`). The
/// deploy checks that each is pinned by digest instead of verifying a
/// signature of the workspace's CI (which never built them).
pub fn vendor_images(inst: &Instance, lib: &Library) -> Vec<String> {
    let mut out = Vec::new();
    if inst.str("image_source") == Some("vendor") {
        out.push(image_ref(inst));
    }
    for r in &inst.resources {
        let in_cluster = lib.resource_types.get(&r.ty).is_some_and(|t| t.kubernetes.is_some());
        let word = |k: &str| r.values.get(k).and_then(|n| n.value.as_str());
        if in_cluster && let Some(image) = word("image") {
            let version = word("version").map(|v| format!(":{v}")).unwrap_or_default();
            let digest = word("digest").map(|d| format!("@{d}")).unwrap_or_default();
            out.push(format!("{image}{version}{digest}"));
        }
    }
    let init = inst.get(&["init"]).and_then(Value::as_map);
    for c in init.into_iter().flat_map(|m| m.values()) {
        if let Some(image) = c.value.as_map().and_then(|m| m.get("image")).and_then(|n| n.value.as_str()) {
            out.push(image.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The longest CronJob name Kubernetes accepts.
const CRONJOB_MAX: usize = 52;

/// The context of workspace-wide templates (`templates/<target>/workspace/`):
/// the workspace, its services and its systems.
pub fn workspace(model: &Model) -> Json {
    let mut systems: BTreeMap<String, Vec<&Service>> = BTreeMap::new();
    let services: Vec<Json> = model
        .services
        .iter()
        .map(|s| {
            let last = s.instances.last();
            let word = |k: &str| last.and_then(|i| i.str(k)).map(str::to_string);
            if let Some(system) = word("system") {
                systems.entry(system).or_default().push(s);
            }
            json!({ "name": s.name, "source": s.path, "owner": word("owner"), "system": word("system") })
        })
        .collect();
    let systems: Vec<Json> = systems
        .into_iter()
        .map(|(name, members)| {
            let owner = members.first().and_then(|s| s.instances.last()).and_then(|i| i.str("owner")).unwrap_or("").to_string();
            json!({ "name": name, "owner": owner, "services": members.iter().map(|s| s.name.clone()).collect::<Vec<_>>() })
        })
        .collect();
    // Some service's namespace is not its own (shared, or named otherwise):
    // the deploy takes the namespace as an input and scopes its ApplySet to
    // the service.
    let shared_namespaces =
        model.services.iter().any(|s| s.instances.iter().any(|i| namespace(&s.name, Some(i)) != s.name));
    json!({ "workspace": model.workspace.to_json(), "services": services, "systems": systems, "shared_namespaces": shared_namespaces })
}

/// A value of the context that platc composes from service values rather
/// than copies (the image reference, a setting's resolved text, the
/// Service's port...): where templates read it, its text, and the service
/// values it inherits its origin from (attribute paths, set ones only, in
/// the order they are composed). `explain` names these assignments behind
/// a generated value that equals the composed text.
#[derive(Clone, Debug, PartialEq)]
pub struct Derived {
    pub path: String,
    pub text: String,
    pub from: Vec<String>,
}

/// The composed values of one service's context in one environment (see
/// [`Derived`]); built the way [`instance`] builds them.
pub fn derived(service: &Service, inst: &Instance, model: &Model, graph: &Graph) -> Vec<Derived> {
    let set = |paths: &[&str]| -> Vec<String> {
        paths.iter().filter(|p| inst.get(&p.split('.').collect::<Vec<_>>()).is_some()).map(|p| p.to_string()).collect()
    };
    let mut out = vec![
        Derived { path: "image".into(), text: image_ref(inst), from: set(&["image", "version", "digest"]) },
        Derived {
            path: "image_registry".into(),
            text: registry_host(inst.str("image").unwrap_or("")),
            from: set(&["image"]),
        },
        Derived {
            path: "service.service_port".into(),
            text: service_port(inst).to_string(),
            from: set(&["service_port", "port", "protocol"]),
        },
    ];
    let (config, _, _) = settings(service, inst, model, graph);
    for (key, value) in config {
        let Json::String(text) = value else { continue };
        let own = format!("env.{key}");
        let from = if inst.get(&["env", key.as_str()]).is_some() { vec![own] } else { set(&["depends_on"]) };
        out.push(Derived { path: format!("config.{key}"), text, from });
    }
    out.retain(|d| !d.from.is_empty() && !d.text.is_empty());
    out
}

// PROVISIONAL (issue 15, explain tracing): `Source` and `sources` are being
// built in parallel, typed and by construction; this stand-in has exactly
// their signature so that `explain` merges onto them. On merge, delete it,
// from this line to `END PROVISIONAL`.

/// What a value of the template context was made from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// An attribute of the service (dotted), explained by its chain.
    Attribute(String),
    /// Something that is not an attribute (the service's name), with its place.
    Value { what: String, origin: crate::value::Origin },
}

/// The sources of the context value at `path` (object keys, list indices
/// as decimal strings) of `service` in `inst`'s environment; empty when
/// platc cannot name them.
pub fn sources(
    service: &Service,
    inst: &Instance,
    model: &Model,
    graph: &Graph,
    _lib: &Library,
    path: &[&str],
) -> Vec<Source> {
    let joined = path.join(".");
    if let Some(d) = derived(service, inst, model, graph).into_iter().find(|d| d.path == joined) {
        return d.from.into_iter().map(Source::Attribute).collect();
    }
    let name = || Source::Value {
        what: format!("the name of service `{}`", service.name),
        origin: crate::value::Origin { layer: crate::value::Layer::Service, span: service.name_span, key: None },
    };
    let set = |keys: &[&str]| inst.get(keys).is_some();
    match path {
        ["service", "name"] => vec![name()],
        // The attribute the value is in (an item of a list: the list).
        ["service", rest @ ..] => (1..=rest.len())
            .rev()
            .filter_map(|n| rest.get(..n))
            .find(|keys| set(keys))
            .map(|keys| vec![Source::Attribute(keys.join("."))])
            .unwrap_or_default(),
        ["namespace"] if set(&["namespace"]) => vec![Source::Attribute("namespace".into())],
        ["namespace"] | ["names", ..] | ["selector", ..] => vec![name()],
        // A value of one of the service's resources: where it was set (the
        // resource's block, its type's defaults or sizes), else the resource.
        ["resources", i, rest @ ..] => {
            let Some(r) = i.parse::<usize>().ok().and_then(|i| inst.resources.get(i)) else { return Vec::new() };
            let node = rest.first().and_then(|k| r.values.get(*k).map(|n| (k, n)));
            vec![match node {
                Some((k, n)) => {
                    Source::Value { what: format!("`{k}` of resource `{}`", r.name), origin: n.origin.clone() }
                }
                None => Source::Value {
                    what: format!("resource `{}`", r.name),
                    origin: crate::value::Origin { layer: crate::value::Layer::Service, span: r.span, key: None },
                },
            }]
        }
        ["environment", ..] => model
            .workspace
            .environments
            .iter()
            .find(|e| e.name == inst.env)
            .map(|e| Source::Value {
                what: format!("environment `{}` of the workspace", e.name),
                origin: crate::value::Origin { layer: crate::value::Layer::Builtin, span: e.span, key: None },
            })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

// END PROVISIONAL

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

/// Splits `env` (plus injected `*_URL` and `*_ADDR` settings of dependencies) into plain
/// config (a ConfigMap) and secrets (mounted files, `NAME_FILE` pointing at
/// each).
fn settings(
    service: &Service,
    inst: &Instance,
    model: &Model,
    graph: &Graph,
) -> (JMap<String, Json>, Vec<Json>, Vec<Json>) {
    let address = |name: &str| service_address(name, model.service(name).and_then(|s| s.instance(&inst.env)));
    let mut config = JMap::new();
    // Variable → (secret, key, owner): the owner's store entry holds it.
    let mut secrets: BTreeMap<String, (String, String, String)> = BTreeMap::new();
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
    let own = |(secret, key): (String, String)| (secret, key, service.name.clone());
    // Injected first, so that what the service writes wins.
    for dep in graph.service_dependencies(&service.name) {
        let (url, addr) = address(dep);
        config.insert(env_name(dep, "URL"), Json::String(url));
        config.insert(env_name(dep, "ADDR"), Json::String(addr));
    }
    for (dep, _) in &service.depends_on {
        let Some(r) = inst.resources.iter().find(|r| &r.name == dep) else {
            continue;
        };
        match r.outputs.get_key_value("url").or_else(|| r.outputs.iter().next()) {
            Some((out, Value::Secret(s))) if !written.contains(s) => {
                secrets.insert(env_name(&r.name, &out.to_ascii_uppercase()), own(split(s)));
            }
            // A plain output (an in-cluster address) is configuration.
            Some((out, Value::Str(s))) => {
                config.insert(env_name(&r.name, &out.to_ascii_uppercase()), Json::String(s.clone()));
            }
            _ => {}
        }
    }
    for (name, node) in env.into_iter().flatten() {
        let secret = match &node.value {
            Value::Secret(s) => Some(own(split(s))),
            Value::Ref(p) if p.len() == 2 => resolve_ref(p, inst).map(|s| own(split(&s))),
            // A secret of a resource another service granted this one: in
            // the owner's store entry, synced into a Secret of this
            // namespace named `<owner>-<secret>`.
            Value::Ref(p) => match foreign_output(p, &inst.env, model) {
                Some(Value::Secret(s)) => {
                    let (secret, key) = split(s);
                    let owner = p.first().cloned().unwrap_or_default();
                    Some((secret, key, owner))
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
                config.insert(name.clone(), Json::String(v));
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
                let v = plain.unwrap_or_else(|| {
                    let address = scope::outside(model, &inst.env, Meaning::Address { service: target, part: out });
                    match address {
                        Found::Text(t) => t.into_owned(),
                        _ => String::new(),
                    }
                });
                secrets.remove(name);
                config.insert(name.clone(), Json::String(v));
            }
            // A number is text in a ConfigMap: as written (`007`, `1.50`).
            (Value::Number(_, text), None) => {
                secrets.remove(name);
                config.insert(name.clone(), Json::String(text.clone()));
            }
            (v, None) => {
                secrets.remove(name);
                let text = match to_json(v) {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                config.insert(name.clone(), Json::String(text));
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
    let mut by_secret: BTreeMap<String, (String, Vec<(String, String)>)> = BTreeMap::new();
    let list = secrets
        .iter()
        .map(|(var, (secret, key, owner))| {
            let name = local(secret, owner);
            let remote = format!("{owner}/{}/{secret}", inst.env);
            by_secret.entry(name.clone()).or_insert_with(|| (remote, Vec::new())).1.push((key.clone(), var.clone()));
            json!({
                "env": var,
                "file_env": format!("{var}_FILE"),
                "secret": name,
                "key": key,
                "path": format!("{SECRETS_DIR}/{name}/{key}"),
            })
        })
        .collect();
    let volumes = by_secret
        .into_iter()
        .map(|(secret, (remote_key, mut items))| {
            items.sort();
            items.dedup_by(|a, b| a.0 == b.0);
            json!({
                "volume": super::render::bounded(&format!("secret-{}", secret.replace('.', "-")), LABEL_MAX),
                "remote_key": remote_key,
                "secret": secret,
                "mount": format!("{SECRETS_DIR}/{secret}"),
                "keys": items.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            })
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
fn network(service: &Service, inst: &Instance, model: &Model, graph: &Graph, lib: &Library) -> Json {
    let peer = |name: &str| {
        let port = model
            .service(name)
            .and_then(|s| s.instance(&inst.env))
            .and_then(|i| i.get(&["port"]))
            .and_then(Value::as_i64)
            .unwrap_or(8080);
        let workload = model
            .service(name)
            .and_then(|s| s.instance(&inst.env))
            .and_then(|i| i.str("workload"))
            .unwrap_or("service");
        let ns = namespace(name, model.service(name).and_then(|s| s.instance(&inst.env)));
        json!({ "name": name, "namespace": ns, "port": port, "workload": workload })
    };
    let ingress: Vec<Json> = graph.dependents(&service.name).into_iter().map(peer).collect();
    let egress: Vec<Json> = graph
        .service_dependencies(&service.name)
        .into_iter()
        .filter(|d| {
            model.service(d).and_then(|s| s.instance(&inst.env)).and_then(|i| i.str("workload")) == Some("service")
        })
        .map(peer)
        .collect();
    let mut ports: Vec<i64> = inst
        .resources
        .iter()
        .chain(used(&service.name, inst, model).iter().map(|u| u.resource))
        .map(|r| lib.resource_types.get(&r.ty).map(|t| t.port).unwrap_or(443))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    // `expose.via`: the ingress (the default, with a host), or a Service of
    // its own reachable from outside the cluster (`public`).
    let via = inst.get(&["expose", "via"]).and_then(Value::as_word);
    let exposed = matches!(via, None | Some("ingress")) && inst.get(&["expose", "host"]).is_some();
    let public = matches!(via, Some("load_balancer" | "node_port"));
    json!({ "ingress": ingress, "egress": egress, "resource_ports": ports, "exposed": exposed, "public": public })
}

/// A short, stable hash of a JSON value (for rollout annotations).
pub fn hash_json(v: &Json) -> String {
    let digest = Sha256::digest(v.to_string().as_bytes());
    super::hex(digest.get(..8).unwrap_or_default())
}
