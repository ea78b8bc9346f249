//! Stage 4, check: the resolved model against the schema the standard
//! library defines, and its policies in every environment.
//!
//! Type errors point at the assignment that set the wrong value (its origin),
//! whichever layer that was. A failing policy points at the service value it
//! read that the service itself set (so the fix is where the cursor lands),
//! with the policy's condition as a second label; `allow POLICY because ...`
//! waives it, and a waiver that waives nothing is a warning.

pub mod output;

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Diagnostic, Severity};
use crate::eval::{self, EVal};
use crate::library::{Library, Policy};
use crate::model::{Instance, Model, Service};
use crate::resolve::resource_outputs;
use crate::schema::{self, Names, Record};
use crate::scope::{self as names, ADDRESS_PARTS, Meaning, Place};
use crate::span::Span;
use crate::value::{Layer, Origin, Value};
use crate::workspace::{Environment, Workspace};

/// The checks of the workspace as a whole: each environment against its
/// schema, and names two services would share. Each service is checked on
/// its own by [`check_service`].
pub(crate) fn workspace(model: &Model, lib: &Library, diags: &mut Vec<Diagnostic>) {
    let ws = &model.workspace;
    if let Some(env_schema) = lib.schemas.get("environment") {
        let empty = BTreeSet::new();
        let no_resources = Default::default();
        let names = Names { tiers: &empty, languages: &empty, services: &empty, resources: &no_resources };
        for env in &ws.environments {
            schema::check_record(
                &env.values,
                env_schema,
                &format!("environment `{}`", env.name),
                env.span,
                &names,
                diags,
            );
        }
    }
    collisions(model, diags);
}

/// The services a dependency may name: every service of the model, and the
/// services declared in files that failed to parse or resolve (`unresolved`),
/// so that a dependency on one is not a second error for the same cause.
pub(crate) fn known_services(model: &Model, unresolved: &BTreeSet<String>) -> BTreeSet<String> {
    model.services.iter().map(|s| s.name.clone()).chain(unresolved.iter().cloned()).collect()
}

/// Names that two services would share in the generated files: a
/// resource's workspace-wide name (`<service>-<resource>`: catalog entity,
/// database identifier, subnet and security groups, and with `-<env>` the
/// cloud names), and an exposed host and path. Each is an error naming both
/// places: the second would take over the first's database or traffic.
fn collisions(model: &Model, diags: &mut Vec<Diagnostic>) {
    use crate::emit::context::catalog_resource_name;
    let mut names: BTreeMap<String, (&str, &str, Span)> = BTreeMap::new();
    let mut cloud: BTreeMap<String, (&str, &str, &str, Span)> = BTreeMap::new();
    let mut routes: BTreeMap<(&str, String, String), (&str, Span)> = BTreeMap::new();
    let clash = |what: String, second: Span, first: Span, first_is: String| {
        Diagnostic::error("platc::check::collision", what)
            .label(second, "takes the name")
            .also(first, first_is)
            .help("rename one of them: generated names join the service's and the resource's with `-`, so they must differ after joining")
    };
    for s in &model.services {
        let mut seen = BTreeSet::new();
        let mut once = BTreeSet::new();
        let mut reported = BTreeSet::new();
        let mut reported_tcp = BTreeSet::new();
        for inst in s.instances.iter() {
            for r in inst.resources.iter().filter(|r| seen.insert((inst.env.as_str(), r.name.as_str()))) {
                let name = catalog_resource_name(&s.name, &r.name);
                match names.get(&name) {
                    Some(&(fs, fr, fspan))
                        if (fs, fr) != (s.name.as_str(), r.name.as_str()) && once.insert(r.name.as_str()) =>
                    {
                        diags.push(clash(
                            format!(
                                "resource `{}` of `{}` and resource `{fr}` of `{fs}` would both be named `{name}`",
                                r.name, s.name
                            ),
                            r.span,
                            fspan,
                            format!("`{fr}` of `{fs}` is named `{name}` too"),
                        ))
                    }
                    Some(_) => {}
                    None => {
                        names.insert(name.clone(), (&s.name, &r.name, r.span));
                    }
                }
                let full = format!("{name}-{}", inst.env);
                match cloud.get(&full) {
                    Some(&(fs, fr, fe, fspan)) if (fs, fr) != (s.name.as_str(), r.name.as_str()) && names.get(&name).is_some_and(|n| (n.0, n.1) == (s.name.as_str(), r.name.as_str())) => diags.push(clash(
                        format!(
                            "resource `{}` of `{}` in {} and resource `{fr}` of `{fs}` in {fe} would both be named `{full}` in the cloud",
                            r.name, s.name, inst.env
                        ),
                        r.span,
                        fspan,
                        format!("`{fr}` of `{fs}` is named `{full}` in {fe} too"),
                    )),
                    Some(_) => {}
                    None => {
                        cloud.insert(full, (&s.name, &r.name, &inst.env, r.span));
                    }
                }
            }
            let expose = |k: &str| inst.get(&["expose", k]).and_then(Value::as_word).map(str::to_string);
            let Some(host) = expose("host") else { continue };
            // A load balancer or node port: the host is a DNS name of the
            // whole port (external-dns), which one service may have.
            let via = expose("via").unwrap_or_else(|| "ingress".to_string());
            let public = via != "ingress";
            let path = if public {
                format!(" ({})", via.replace('_', " "))
            } else {
                expose("path").unwrap_or_else(|| "/".to_string())
            };
            let span = crate::merge::get(&inst.values, &["expose", "host"]).map_or(s.name_span, |n| n.origin.span);
            // The Ingress routes HTTP (and gRPC over HTTP/2); raw TCP it cannot.
            if !public && inst.str("protocol") == Some("tcp") && reported_tcp.insert(&s.name) {
                diags.push(
                    Diagnostic::error(
                        "platc::check::expose_tcp",
                        format!("`{}` speaks tcp, and an Ingress routes only http and grpc", s.name),
                    )
                    .label(span, "exposed here")
                    .help("expose it by a load balancer (`expose { via = load_balancer }`, or `node_port`), which forwards TCP; or set `protocol = http` or `grpc` if that is what the service speaks"),
                );
                continue;
            }
            match routes.get(&(inst.env.as_str(), host.clone(), path.clone())) {
                Some(&(first, fspan)) if first != s.name && reported.insert((first, host.clone(), path.clone())) => {
                    diags.push(
                        Diagnostic::error(
                            "platc::check::collision",
                            format!("`{}` and `{first}` both expose `{host}{path}` in {}", s.name, inst.env),
                        )
                        .label(span, "exposed here")
                        .also(fspan, format!("`{first}` exposes it here"))
                        .help("give each service its own host, or its own path on a shared host"),
                    )
                }
                Some(_) => {}
                None => {
                    routes.insert((inst.env.as_str(), host, path), (&s.name, span));
                }
            }
        }
    }
}

/// Checks one service (all environments, or the policies in `only_env`)
/// against the library and the workspace; `services` are the names a
/// dependency may take. Policies are not run when `broken` (its resolution
/// already failed, and a policy would only repeat the problem in other
/// words). It sees other services only through [`Model::service`] (a use of
/// a resource another service grants is checked against that service's
/// grants), whose lookups the memo store records: its result depends on
/// exactly its arguments and those answers (see [`crate::memo`]).
pub(crate) fn check_service(
    service: &Service,
    model: &Model,
    lib: &Library,
    services: &BTreeSet<String>,
    broken: bool,
    only_env: Option<&str>,
    diags: &mut Vec<Diagnostic>,
) {
    let workspace = &model.workspace;
    let Some(schema) = lib.schemas.get("service") else {
        return;
    };
    for (dep, span) in &service.depends_on {
        if *dep == service.name {
            diags.push(
                Diagnostic::error("platc::check::self_dependency", format!("`{}` depends on itself", service.name))
                    .label(*span, "names this service")
                    .help("remove it from `depends_on`"),
            );
        }
    }
    outside(service, model, lib, services, diags);
    grants(service, services, diags);
    if let Some(api_schema) = lib.schemas.get("api") {
        let names = names_for(lib, services, None);
        for api in &service.apis {
            schema::check_record(&api.values, api_schema, &format!("api `{}`", api.name), api.span, &names, diags);
        }
    }
    let mut waived_something: BTreeSet<&str> = BTreeSet::new();
    let mut type_errors = Vec::new();
    for instance in service.instances.iter() {
        let outputs = resource_outputs(instance);
        let names = names_for(lib, services, Some(&outputs));
        // A service name that is no DNS label is reported once (bad_name),
        // not again as the namespace named after it by default.
        let unnamed;
        let values = if !schema::is_dns_label(&service.name) && instance.str("namespace") == Some(&service.name) {
            unnamed = instance
                .values
                .iter()
                .filter(|(k, _)| *k != "namespace")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            &unnamed
        } else {
            &instance.values
        };
        schema::check_record(values, schema, "service", service.name_span, &names, &mut type_errors);
        for r in &instance.resources {
            if let Some(rt) = lib.resource_types.get(&r.ty) {
                schema::check_record(
                    &r.values,
                    &rt.schema,
                    &format!("resource `{}`", r.name),
                    r.span,
                    &names,
                    &mut type_errors,
                );
            }
        }
    }
    for instance in service.instances.iter() {
        not_for_workload(instance, lib, &mut type_errors);
    }
    // The pod and exposure, once the values have their types.
    if !type_errors.iter().any(Diagnostic::is_error) {
        let mut seen = BTreeSet::new();
        for instance in service.instances.iter() {
            pod_shape(instance, service.name_span, &mut seen, &mut type_errors);
            expose_shape(instance, &mut seen, &mut type_errors);
        }
    }
    let skip_policies = broken || type_errors.iter().any(Diagnostic::is_error);
    diags.extend(type_errors);
    if skip_policies {
        return;
    }
    output::patch_reasons(service, lib, diags);
    // Policies over the generated objects run where the objects are made
    // (emit), after the patches.
    let on_values = || lib.policies.values().filter(|p| p.selectors.is_empty());
    for instance in service.instances.iter().filter(|i| only_env.is_none_or(|e| e == i.env)) {
        let Some(env) = workspace.environments.iter().find(|e| e.name == instance.env) else {
            continue;
        };
        for policy in on_values() {
            let waived = service.waivers.iter().any(|w| w.what == policy.name.name);
            match run_policy(policy, service, instance, workspace, env, schema, None) {
                Ok(true) => {}
                Ok(false) if waived => {
                    waived_something.insert(policy.name.name.as_str());
                }
                Ok(false) => diags.push(violation(policy, service, instance, workspace, env, schema, None)),
                Err((span, message)) => diags.push(cannot_evaluate(policy, service, instance, span, &message)),
            }
        }
    }
    // With one environment checked, a waiver may be for another one.
    for w in service.waivers.iter().filter(|w| w.from.is_none() && only_env.is_none()) {
        let on_value = lib.policies.get(&w.what).is_some_and(|p| p.selectors.is_empty());
        if on_value && !waived_something.contains(w.what.as_str()) {
            diags.push(unused_waiver(w));
        }
    }
}

/// What the service names outside itself (`users.addr`, `${users.host}`,
/// `orders.events.url`): another service it must list in `depends_on` (the
/// one list the NetworkPolicy, the catalog and the deploy order follow), a
/// part of its address that exists, and a resource its owner granted it.
fn outside(service: &Service, model: &Model, lib: &Library, services: &BTreeSet<String>, diags: &mut Vec<Diagnostic>) {
    let mut seen = BTreeSet::new();
    for inst in service.instances.iter() {
        for r in inst.outside_refs() {
            if !seen.insert((r.span, r.path.clone())) {
                continue;
            }
            let dotted = r.path.join(".");
            let shown = if r.interpolated { format!("`${{{dotted}}}`") } else { format!("`{dotted}`") };
            let place = if r.interpolated { Place::String } else { Place::Setting };
            match names::classify(&r.path, place, |n| inst.resources.iter().any(|r| r.name == n)) {
                Meaning::Address { service: target, part } => {
                    if !services.contains(target) {
                        // A bare reference to an unknown name is the schema's to report.
                        if r.interpolated {
                            let known = names::candidates(
                                Place::String,
                                services.iter().map(String::as_str),
                                inst.resources.iter().map(|r| r.name.as_str()),
                            );
                            let help = match crate::diag::did_you_mean(target, known) {
                                Some(close) => format!("did you mean `{close}`?"),
                                None => "interpolate `${service.<attribute>}`, `${workspace.<attribute>}`, `${environment.name}`, a resource's plain output or another service's address (`${users.addr}`)".into(),
                            };
                            diags.push(
                                Diagnostic::error(
                                    "platc::check::unknown_reference",
                                    format!("{shown} names `{target}`, which is not a service of the workspace nor a resource of this service"),
                                )
                                .label(r.span, "unknown name")
                                .help(help),
                            );
                        }
                        continue;
                    }
                    if r.interpolated && !ADDRESS_PARTS.contains(&part) {
                        diags.push(
                            Diagnostic::error(
                                "platc::check::unknown_output",
                                format!("service `{target}` has no output `{part}`"),
                            )
                            .label(r.span, "no such output")
                            .help(crate::diag::unknown_help(
                                part,
                                "output",
                                ADDRESS_PARTS.iter().copied(),
                            )),
                        );
                        continue;
                    }
                    if target != service.name && !service.depends_on.iter().any(|(d, _)| d == target) {
                        diags.push(undeclared(service, target, &shown, r.span));
                    }
                }
                Meaning::Granted { owner, resource, output } => check_granted(
                    service,
                    model,
                    lib,
                    services,
                    inst,
                    (owner, resource, output),
                    &shown,
                    r.span,
                    r.interpolated,
                    diags,
                ),
                _ => {}
            }
        }
    }
}

fn undeclared(service: &Service, target: &str, shown: &str, span: Span) -> Diagnostic {
    let fix = match service.depends_on.is_empty() {
        true => format!("add `depends_on = [{target}]`"),
        false => format!("add `{target}` to `depends_on`"),
    };
    Diagnostic::error(
        "platc::check::undeclared_dependency",
        format!("{shown} is an address of `{target}`, which `{}` does not depend on", service.name),
    )
    .label(span, format!("reaches `{target}`"))
    .help(format!(
        "{fix}: `depends_on` is what opens the NetworkPolicy to `{target}`, orders the deploy and relates the catalog entries; an address without it points at a service the pod may not reach"
    ))
}

/// `owner.resource.output`: the owner exists, has the resource and the
/// output, and grants the resource to this service.
#[allow(clippy::too_many_arguments)]
fn check_granted(
    service: &Service,
    model: &Model,
    lib: &Library,
    services: &BTreeSet<String>,
    inst: &Instance,
    (owner, resource, output): (&str, &str, &str),
    shown: &str,
    span: Span,
    interpolated: bool,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(o) = model.service(owner) else {
        let help = match crate::diag::did_you_mean(owner, services.iter().map(String::as_str)) {
            Some(close) => format!("did you mean `{close}`?"),
            None => "name a service of the workspace and one of its resources: `orders.order-events.url`".into(),
        };
        if !services.contains(owner) {
            diags.push(
                Diagnostic::error("platc::check::unknown_reference", format!("{shown}: `{owner}` is not a service"))
                    .label(span, "unknown service")
                    .help(help),
            );
        }
        return;
    };
    if owner == service.name {
        diags.push(
            Diagnostic::error("platc::check::unknown_reference", format!("{shown} names this service's own resource"))
                .label(span, "the service's own resource")
                .help(format!("write `{resource}.{output}`")),
        );
        return;
    }
    let Some(r) = names::resource_of(model, owner, &inst.env, resource) else {
        let known = o
            .instances
            .first()
            .map(|i| i.resources.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
            .unwrap_or_default();
        diags.push(
            Diagnostic::error("platc::check::unknown_reference", format!("`{owner}` has no resource `{resource}`"))
                .label(span, "no such resource")
                .help(crate::diag::unknown_help(resource, "resource", known)),
        );
        return;
    };
    let Some(value) = r.outputs.get(output) else {
        diags.push(
            Diagnostic::error(
                "platc::check::unknown_output",
                format!("resource `{resource}` of `{owner}` has no output `{output}`"),
            )
            .label(span, "no such output")
            .help(crate::diag::unknown_help(output, "output", r.outputs.keys().map(String::as_str))),
        );
        return;
    };
    let granted = names::grants(r, &service.name);
    if !granted {
        diags.push(
            Diagnostic::error(
                "platc::check::not_granted",
                format!("`{owner}` does not grant its resource `{resource}` to `{}`", service.name),
            )
            .label(span, "used here")
            .also(r.span, format!("owned by `{owner}`, with no grant to `{}`", service.name))
            .help(format!(
                "a resource belongs to the service that declares it; its owner shares it with `grants {{ {} = {} }}` in `resource {} {resource} {{ ... }}`",
                service.name,
                levels(lib, &r.ty),
                r.ty
            )),
        );
        return;
    }
    if interpolated && matches!(value, Value::Secret(_)) {
        diags.push(
            Diagnostic::error(
                "platc::resolve::bad_interpolation",
                format!("{shown} is a secret; secrets are never written into strings"),
            )
            .label(span, "cannot be filled in")
            .help(format!("pass the secret as a setting of its own: `NAME = {owner}.{resource}.{output}`")),
        );
    }
}

/// The access levels of a resource type, for a hint: `consume | produce`.
fn levels(lib: &Library, ty: &str) -> String {
    match lib.resource_types.get(ty).and_then(|t| t.schema.fields.get("grants")).map(|f| &f.ty) {
        Some(schema::Type::Map(inner)) => match &**inner {
            schema::Type::Enum(words) if !words.is_empty() => words.join(" | "),
            _ => "LEVEL".into(),
        },
        _ => "LEVEL".into(),
    }
}

/// Every `grants { SERVICE = LEVEL }` of a resource names another service
/// of the workspace.
fn grants(service: &Service, services: &BTreeSet<String>, diags: &mut Vec<Diagnostic>) {
    let Some(inst) = service.instances.first() else { return };
    for r in &inst.resources {
        let Some(m) = r.values.get("grants").and_then(|n| n.value.as_map()) else { continue };
        for (grantee, node) in m {
            // The service's name as written (`dispatch` of `dispatch = consume`).
            let span = node.origin.key.unwrap_or(node.origin.span);
            if grantee == &service.name {
                diags.push(
                    Diagnostic::error(
                        "platc::check::bad_grant",
                        format!("`{}` grants `{}` to itself", service.name, r.name),
                    )
                    .label(span, "the owner")
                    .help("remove the grant: the owning service always uses its own resources"),
                );
            } else if !services.contains(grantee) {
                diags.push(
                    Diagnostic::error(
                        "platc::check::bad_grant",
                        format!("`{grantee}` is not a service of the workspace"),
                    )
                    .label(span, "granted to an unknown service")
                    .help(crate::diag::unknown_help(
                        grantee,
                        "service",
                        services.iter().filter(|s| **s != service.name).map(String::as_str),
                    )),
                );
            }
        }
    }
}

/// An attribute the service wrote that its workload does not use, as the
/// standard library's `workload` declarations say (with why, and whether it
/// is an error or a warning).
fn not_for_workload(instance: &Instance, lib: &Library, diags: &mut Vec<Diagnostic>) {
    let workload = instance.str("workload").unwrap_or("service");
    let Some(w) = lib.workloads.get(workload) else { return };
    for (key, why, _) in &w.not_for {
        let Some(node) = instance.values.get(key) else { continue };
        let Some(origin) = written_in(node) else { continue };
        // The workloads it does apply to, for the hint.
        let others: Vec<String> = workloads(lib)
            .into_iter()
            .filter(|o| lib.workloads.get(o).is_none_or(|d| !d.not_for.iter().any(|(k, _, _)| k == key)))
            .map(|o| format!("`{o}`"))
            .collect();
        let to = if others.is_empty() {
            String::new()
        } else {
            format!("; it applies to {} workloads", crate::diag::one_of(&others))
        };
        diags.push(
            Diagnostic::error(
                "platc::check::not_for_workload",
                format!("`{key}` does not apply to a {workload} workload: {why}"),
            )
            .with_severity(w.severity)
            .label(origin.span, format!("set for a {workload}"))
            .help(format!("remove `{key}`{to}")),
        );
    }
}

/// The workloads the service schema allows (`workload = enum(...)`).
fn workloads(lib: &Library) -> Vec<String> {
    match lib.schemas.get("service").and_then(|r| r.fields.get("workload")).map(|f| &f.ty) {
        Some(schema::Type::Enum(words)) => words.clone(),
        _ => lib.workloads.keys().cloned().collect(),
    }
}

/// The first origin inside a value that the service wrote (not a default,
/// golden path or tier).
fn written_in(node: &crate::value::Node) -> Option<&Origin> {
    if let crate::value::Value::Map(m) = &node.value {
        return m.values().find_map(written_in);
    }
    matches!(node.origin.layer, Layer::Service | Layer::Environment(_) | Layer::Override(_)).then_some(&node.origin)
}

/// A policy's condition failed to evaluate (a bug in the policy).
pub(crate) fn cannot_evaluate(
    p: &Policy,
    service: &Service,
    instance: &Instance,
    span: Span,
    message: &str,
) -> Diagnostic {
    Diagnostic::error(
        "platc::policy::cannot_evaluate",
        format!("policy `{}` cannot be evaluated: {message}", p.name.name),
    )
    .label(span, "here")
    .at(format!("`{}` in {}", service.name, instance.env))
    .help("fix the policy's condition in the standard library")
}

/// An `allow` whose policy passed everywhere. (A golden path's waivers are
/// the platform's choice for every service on it, and are not reported.)
pub(crate) fn unused_waiver(w: &crate::model::Escape) -> Diagnostic {
    Diagnostic::warning("platc::policy::unused_waiver", format!("`allow {}` waives nothing", w.what))
        .label(w.span, "the policy passes in every environment")
        .help("remove the `allow`, so that a future violation is reported")
}

fn names_for<'a>(
    lib: &'a Library,
    services: &'a BTreeSet<String>,
    outputs: Option<&'a std::collections::BTreeMap<String, BTreeSet<String>>>,
) -> Names<'a> {
    static EMPTY: std::sync::OnceLock<std::collections::BTreeMap<String, BTreeSet<String>>> =
        std::sync::OnceLock::new();
    Names {
        tiers: &lib.tier_names,
        languages: &lib.language_names,
        services,
        resources: outputs.unwrap_or_else(|| EMPTY.get_or_init(Default::default)),
    }
}

fn scope<'a>(
    service: &'a Service,
    instance: &'a Instance,
    workspace: &'a Workspace,
    env: &'a Environment,
    schema: &'a Record,
    objects: Option<&'a dyn eval::Objects>,
) -> eval::Scope<'a> {
    eval::Scope { service: &service.name, instance, workspace, environment: env, schema, objects }
}

/// Whether a policy applies to a service in one environment (`None` when its
/// `when` is false) and holds; for `platc explain`. A policy over generated
/// objects needs them (`objects`).
pub(crate) fn policy_holds(
    p: &Policy,
    service: &Service,
    instance: &Instance,
    model: &Model,
    env: &Environment,
    lib: &Library,
    objects: Option<&dyn eval::Objects>,
) -> Result<Option<bool>, eval::Error> {
    let schema = lib.schemas.get("service").ok_or((p.span, "no service schema".to_string()))?;
    if let Some(when) = &p.when {
        let s = scope(service, instance, &model.workspace, env, schema, objects);
        if !eval::eval(when, &s, &mut Vec::new())?.truthy().unwrap_or(false) {
            return Ok(None);
        }
    }
    run_policy(p, service, instance, &model.workspace, env, schema, objects).map(Some)
}

/// Whether the policy holds (`when` false counts as holding); `objects`
/// are the generated objects, for a policy that reads them.
pub(crate) fn run_policy(
    p: &Policy,
    service: &Service,
    instance: &Instance,
    workspace: &Workspace,
    env: &Environment,
    schema: &Record,
    objects: Option<&dyn eval::Objects>,
) -> Result<bool, eval::Error> {
    let s = scope(service, instance, workspace, env, schema, objects);
    let mut read = Vec::new();
    if let Some(when) = &p.when {
        let applies = eval::eval(when, &s, &mut read)?;
        if !applies.truthy().ok_or((when.span, "`when` is not a condition".to_string()))? {
            return Ok(true);
        }
    }
    let holds = eval::eval(&p.require, &s, &mut read)?;
    holds.truthy().ok_or((p.require.span, format!("`require` is not a condition (found {:?})", holds)))
}

pub(crate) fn violation(
    p: &Policy,
    service: &Service,
    instance: &Instance,
    workspace: &Workspace,
    env: &Environment,
    schema: &Record,
    objects: Option<&dyn eval::Objects>,
) -> Diagnostic {
    let s = scope(service, instance, workspace, env, schema, objects);
    let mut read: Vec<&Origin> = Vec::new();
    let _ = eval::eval(&p.require, &s, &mut read).unwrap_or(EVal::Null);
    let written = |o: &Origin| matches!(o.layer, Layer::Service | Layer::Environment(_) | Layer::Override(_));
    let mut d = Diagnostic::error("platc::policy::violation", format!("policy `{}` fails: {}", p.name.name, p.message))
        .with_severity(p.severity)
        .at(format!("`{}` in {}", service.name, instance.env));
    // A patch that produced what the policy forbids is the place to fix.
    let patched = |o: &Origin| service.patches.iter().any(|p| p.patch.sets.iter().any(|a| a.span == o.span));
    match read.iter().find(|o| patched(o)).or_else(|| read.iter().find(|o| written(o))) {
        Some(o) if patched(o) => d = d.label(o.span, format!("patched here ({})", o.layer.describe())),
        Some(o) => d = d.label(o.span, format!("set here ({})", o.layer.describe())),
        None => d = d.label(service.name_span, format!("`{}`", service.name)),
    }
    let mut seen: Vec<Span> = d.labels.iter().map(|l| l.span).collect();
    for o in read.iter().filter(|o| !written(o) && !patched(o)) {
        if !seen.contains(&o.span) {
            seen.push(o.span);
            d = d.also(o.span, format!("value from the {}", o.layer.describe()));
        }
    }
    d = d.also(p.require.span, "the policy requires this");
    let waive = format!("or waive it with a reason: `allow {} because \"...\"`", p.name.name);
    let help = match &p.help {
        Some(h) => format!("{h}; {waive}"),
        None => format!("change the value, {waive}"),
    };
    if p.severity == Severity::Warning {
        d.severity = Severity::Warning;
    }
    d.help(help)
}

/// The shape of the pod and of its exposure, as the standard library's
/// templates build them from the service's values: what the schema's types
/// cannot say (a name a container or volume can have, one mount per path, a
/// probe that has something to probe). Each problem once per service, at the
/// value that causes it.
fn pod_shape(instance: &Instance, name: Span, seen: &mut BTreeSet<(String, Span)>, diags: &mut Vec<Diagnostic>) {
    let node = |path: &[&str]| crate::merge::get(&instance.values, path);
    // An unset value (an overlay with no default) points at the service.
    let span_of = |path: &[&str]| node(path).map_or(name, |n| n.origin.span);
    let mut push = |d: Diagnostic, seen: &mut BTreeSet<(String, Span)>| {
        let at = d.labels.first().map(|l| l.span).unwrap_or_default();
        if seen.insert((d.message.clone(), at)) {
            diags.push(d);
        }
    };
    let workload = instance.str("workload").unwrap_or("service");
    let protocol = instance.str("protocol").unwrap_or("http");
    let has_port = instance.get(&["port"]).and_then(Value::as_i64).is_some();
    let list_len = |path: &[&str]| match instance.get(path) {
        Some(Value::List(items)) => items.len(),
        _ => 0,
    };
    let map_of = |path: &[&str]| instance.get(path).and_then(Value::as_map);
    let bad = |message: String, at: Span, label: &str, help: &str| {
        Diagnostic::error("platc::check::bad_pod", message).label(at, label.to_string()).help(help.to_string())
    };

    // Ports and probes.
    if workload == "service" && !has_port {
        push(
            bad(
                "a `workload = service` has a Service, and a Service needs a port".into(),
                span_of(&["port"]),
                "no port",
                "set `port` to the port the service listens on, or make it a `worker` (no Service) if it serves nothing",
            ),
            seen,
        );
    }
    let probes = instance.get(&["health", "probes"]).and_then(Value::as_bool).unwrap_or(true);
    let command = list_len(&["health", "command"]) > 0;
    if workload != "cron" && workload != "service" && probes && !command && !has_port {
        push(
            bad(
                "a workload without a port has nothing to probe".into(),
                span_of(&["port"]),
                "no port, so no http, grpc or tcp probe",
                "set `health { probes = false }`, or `health { command = [...] }` for an exec probe",
            ),
            seen,
        );
    }
    if map_of(&["health", "headers"]).is_some_and(|m| !m.is_empty()) && (protocol != "http" || command || !has_port) {
        let why = if command {
            "the probe runs `health.command`"
        } else if !has_port {
            "there is no port to probe"
        } else {
            "the probes are not HTTP"
        };
        push(
            bad(
                format!("`health.headers` are sent by HTTP probes only, and {why}"),
                span_of(&["health", "headers"]),
                "headers that no probe sends",
                "remove `health.headers`; they apply to `protocol = http` probes on the health paths",
            ),
            seen,
        );
    }

    // Header names are HTTP tokens.
    for (header, n) in map_of(&["health", "headers"]).into_iter().flatten() {
        if header.is_empty() || !header.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)) {
            push(
                bad(
                    format!("`{header}` is not an HTTP header name"),
                    n.origin.span,
                    "not an HTTP token",
                    "a header name is letters, digits and `-` (and `!#$%&'*+.^_`|~`), such as `X-Probe`",
                ),
                seen,
            );
        }
    }

    // Containers: the app's name and each init container's are distinct DNS labels.
    let app = instance.str("container_name").unwrap_or("app");
    for (name, n) in map_of(&["init"]).into_iter().flatten() {
        if !crate::schema::is_dns_label(name) {
            push(
                bad(
                    format!("`{name}` cannot name an init container"),
                    n.origin.span,
                    "not a DNS label",
                    "name it with lowercase letters, digits and `-` (at most 63), such as `wait-for-db`",
                ),
                seen,
            );
        } else if name == app {
            push(
                bad(
                    format!("the init container `{name}` has the app container's name"),
                    n.origin.span,
                    "the same name as the app container",
                    "rename the init container, or set `container_name`",
                ),
                seen,
            );
        }
    }

    // Scratch volumes: a name, an absolute path, one volume per path.
    let mut paths: BTreeMap<String, &str> = BTreeMap::new();
    paths.insert(crate::emit::context::SECRETS_DIR.to_string(), "the secrets");
    // `tmp` first (at /tmp unless it says), then the others against it.
    let tmp_path = instance.get(&["scratch", "tmp", "path"]).and_then(Value::as_str).unwrap_or("/tmp");
    match mount_problem("tmp", tmp_path, span_of(&["scratch", "tmp", "path"]), &paths, &bad) {
        Some(d) => push(d, seen),
        None => {
            paths.insert(tmp_path.trim_end_matches('/').to_string(), "tmp");
        }
    }
    for (name, n) in map_of(&["scratch"]).into_iter().flatten().filter(|(name, _)| *name != "tmp") {
        let path = n.value.as_map().and_then(|m| m.get("path")).and_then(|p| p.value.as_str());
        let at = n.value.as_map().and_then(|m| m.get("path")).map(|p| p.origin.span).unwrap_or(n.origin.span);
        if !crate::schema::is_dns_label(name) || name.len() > 55 {
            push(
                bad(
                    format!("`{name}` cannot name a scratch volume"),
                    n.origin.span,
                    "not a DNS label of at most 55 characters",
                    "name it with lowercase letters, digits and `-`, such as `cache` (its volume is `scratch-<name>`)",
                ),
                seen,
            );
            continue;
        }
        let Some(path) = path else {
            push(
                bad(
                    format!("the scratch volume `{name}` has no `path`"),
                    n.origin.span,
                    "mounted where?",
                    "add `path = \"/var/cache/app\"`: where its containers see it",
                ),
                seen,
            );
            continue;
        };
        if let Some(d) = mount_problem(name, path, at, &paths, &bad) {
            push(d, seen);
        }
        paths.insert(path.trim_end_matches('/').to_string(), name);
    }

    // Pod annotations: keys Kubernetes accepts; platc's own are platc's.
    for (key, n) in map_of(&["pod_annotations"]).into_iter().flatten() {
        let (prefix, name) = key.rsplit_once('/').map_or((None, key.as_str()), |(p, n)| (Some(p), n));
        let name_ok = !name.is_empty()
            && name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        let prefix_ok = prefix.is_none_or(|p| p.len() <= 253 && crate::schema::is_dns_subdomain(p));
        if !name_ok || !prefix_ok {
            push(
                bad(
                    format!("`{key}` is not an annotation key"),
                    n.origin.span,
                    "not `[prefix/]name`",
                    "an annotation key is a name of letters, digits, `-`, `_` and `.` (at most 63), optionally after a DNS prefix and `/`: `prometheus.io/scrape`",
                ),
                seen,
            );
        } else if prefix.is_some_and(|p| p == "platc.dev" || p.ends_with(".platc.dev")) {
            push(
                bad(
                    format!("`{key}` is one of platc's own annotations"),
                    n.origin.span,
                    "reserved prefix `platc.dev/`",
                    "use a prefix of your own, such as `example.com/owner`",
                ),
                seen,
            );
        }
    }
}

/// A scratch volume's mount path: absolute, and not where another volume is
/// mounted (or inside it, or around it).
fn mount_problem(
    name: &str,
    path: &str,
    at: Span,
    taken: &BTreeMap<String, &str>,
    bad: &dyn Fn(String, Span, &str, &str) -> Diagnostic,
) -> Option<Diagnostic> {
    if !path.starts_with('/') || path.contains(char::is_whitespace) || path.split('/').any(|p| p == "..") {
        return Some(bad(
            format!("`{path}` is not a mount path for the scratch volume `{name}`"),
            at,
            "not an absolute path",
            "write an absolute path without `..`, such as `/var/cache/app`",
        ));
    }
    let p = path.trim_end_matches('/');
    let clash = taken.iter().find(|(other, _)| {
        *other == p
            || p.starts_with(&format!("{other}/"))
            || other.starts_with(&format!("{p}/"))
            || (p.is_empty() || other.is_empty())
    })?;
    Some(bad(
        format!(
            "the scratch volume `{name}` at `{path}` overlaps {} at `{}`",
            if *clash.1 == "the secrets" { "the secrets".to_string() } else { format!("`{}`", clash.1) },
            clash.0
        ),
        at,
        "overlaps another mount",
        "give each scratch volume a path of its own, outside the others and outside /var/run/secrets/platc",
    ))
}

/// `expose` as the templates read it: `via = ingress` (or unset) needs a
/// `host`; a load balancer or node port routes the whole port, so `path` is
/// for the ingress only.
fn expose_shape(instance: &Instance, seen: &mut BTreeSet<(String, Span)>, diags: &mut Vec<Diagnostic>) {
    let Some(Value::Map(expose)) = instance.get(&["expose"]) else { return };
    let set = |k: &str| expose.get(k).filter(|n| n.value != Value::Null);
    let via = set("via").and_then(|n| n.value.as_word()).unwrap_or("ingress");
    let at = crate::merge::get(&instance.values, &["expose"]).map(|n| n.origin.span).unwrap_or_default();
    let d = match (via, set("host"), set("path")) {
        ("ingress", None, Some(_) | None) if expose.values().any(|n| n.value != Value::Null) => Diagnostic::error(
            "platc::check::bad_expose",
            "`expose` through the ingress needs a `host`".to_string(),
        )
        .label(set("via").or(set("path")).map_or(at, |n| n.origin.span), "no `host` to route")
        .help("add `host = \"shop.example.com\"`, or say `via = load_balancer` (or `node_port`) to expose the port itself"),
        ("load_balancer" | "node_port", _, Some(path)) => Diagnostic::error(
            "platc::check::bad_expose",
            format!("a {} routes the whole port: `expose.path` is for the ingress", via.replace('_', " ")),
        )
        .label(path.origin.span, "a path the load balancer cannot route by")
        .help("remove `path`, or expose the service through the ingress (`via = ingress`, with a `host`)"),
        _ => return,
    };
    let span = d.labels.first().map(|l| l.span).unwrap_or_default();
    if seen.insert((d.message.clone(), span)) {
        diags.push(d);
    }
}
