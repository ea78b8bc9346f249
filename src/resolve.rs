//! Stage 3, resolve: each `service` declaration → a [`model::Service`] with
//! its values in every environment.
//!
//! For each service: find its golden-path chain and tier, lay the layers in
//! the order `merge` documents (defaults, golden paths, tier, service), then
//! for each environment of the workspace add its `environment` block and the
//! service's overrides, resolve its resources the same way (type defaults,
//! size table, resource body, environment's resource body) and fill in
//! `${...}` interpolations. Structural blocks (`resource`, `api`,
//! `environment`) and escape hatches (`override`, `allow`, `patch`) are read
//! here; plain attributes go through `merge`.

mod interpolate;

use std::collections::{BTreeMap, BTreeSet};

use crate::ast::{self, Block, ExprKind, Item};
use crate::diag::{Diagnostic, unknown_help};
use crate::library::{Library, ResourceType};
use crate::merge::Merger;
use crate::model::{Api, Escape, Instance, Resource, Service, ServicePatch};
use crate::schema::is_dns_label;
use crate::sources::{Sources, Text};
use crate::span::{FileId, Span};
use crate::value::{self, Layer, Value};
use crate::workspace::{Workspace, dns_error};

pub(crate) use interpolate::Scope;

/// A `service NAME ... { }` block and the file it came from.
#[derive(Clone, Debug)]
pub struct ServiceDecl {
    /// The file's tree, shared with the parse cache (`watch` keeps it), and
    /// which of its items the block is.
    pub tree: std::sync::Arc<crate::ast::File>,
    pub item: usize,
    pub file: FileId,
    pub path: String,
}

impl ServiceDecl {
    pub fn block(&self) -> Option<&Block> {
        match self.tree.body.items.get(self.item)? {
            crate::ast::Item::Block(b) => Some(b),
            _ => None,
        }
    }
}

/// What resolution needs from the rest of the compilation.
pub(crate) struct Context<'a> {
    pub library: &'a Library,
    pub workspace: &'a Workspace,
    pub sources: &'a Sources,
    pub trace: bool,
}

/// The blocks a service body may hold, besides attributes.
const SERVICE_BLOCKS: &[&str] = &["resource", "api", "environment"];

/// Resolves one service.
pub(crate) fn service(decl: &ServiceDecl, cx: &Context, diags: &mut Vec<Diagnostic>) -> Option<Service> {
    let b = decl.block()?;
    let Some(name) = b.labels.first() else {
        diags.push(
            Diagnostic::error("platc::resolve::bad_service", "a service has a name")
                .label(b.kind.span, "no name")
                .help("write `service payments from web-api { ... }`"),
        );
        return None;
    };
    if b.labels.len() > 1 {
        diags.push(
            Diagnostic::error("platc::resolve::bad_service", "a service has exactly one name")
                .label(b.labels.get(1).map(|l| l.span).unwrap_or(b.span), "extra name")
                .help("golden paths come after `from`: `service payments from web-api { ... }`"),
        );
    }
    if !is_dns_label(&name.name) {
        diags.push(dns_error("service", &name.name, name.span));
    }
    let lib = cx.library;

    // The golden-path chain, outermost first.
    let mut chain = Vec::new();
    if let Some(from) = &b.from {
        if lib.golden_paths.contains_key(&from.name) {
            chain = lib.golden_path_chain(&from.name);
        } else {
            diags.push(Diagnostic::unknown(
                "platc::resolve::unknown_golden_path",
                "golden path",
                &from.name,
                from.span,
                lib.golden_paths.keys().map(String::as_str),
            ));
        }
    }

    let parts = Parts::read(&b.body, cx, diags);
    crate::merge::set_twice(&b.body, diags);

    // The tier is the last one set below the environment blocks.
    let tier = std::iter::once(lib.defaults.as_ref().map(|d| &d.body))
        .chain(chain.iter().map(|d| Some(&d.body)))
        .chain(std::iter::once(Some(&b.body)))
        .flatten()
        .filter_map(|body| body.get("tier"))
        .filter_map(|a| {
            a.value.as_symbol().map(|i| i.name.clone()).or_else(|| match &a.value.kind {
                ExprKind::Str(s) => s.as_plain(),
                _ => None,
            })
        })
        .next_back();

    let mut base = Merger::new(cx.trace);
    if let Some(d) = &lib.defaults {
        base.apply_body(&d.body, &Layer::Defaults, diags);
    }
    // A golden path's escape hatches apply to every service on it: its
    // overrides right after its own values (a service still needs its own
    // `override` to change them again), its waivers and patches before the
    // service's own.
    let mut overrides = Vec::new();
    let mut waivers = Vec::new();
    let mut patches = Vec::new();
    for gp in &chain {
        base.apply_body(&gp.body, &Layer::GoldenPath(gp.name.name.clone()), diags);
        let from = Some(gp.name.name.clone());
        let own = Parts::escapes(&gp.body, cx, diags);
        for (o, reason) in &own.overrides {
            base.apply_override(o, reason, diags);
            overrides.push(Escape { what: o.path.display(), reason: reason.clone(), span: o.span, from: from.clone() });
        }
        waivers.extend(own.waivers.into_iter().map(|w| Escape { from: from.clone(), ..w }));
        patches.extend(own.patches.into_iter().map(|p| ServicePatch { from: from.clone(), ..p }));
    }
    if let Some(t) = tier.as_ref().and_then(|t| lib.tiers.get(t)) {
        base.apply_body(&t.body, &Layer::Tier(t.name.name.clone()), diags);
    }
    base.apply_body(&b.body, &Layer::Service, diags);

    let depends_on = read_depends_on(&base);
    let mut instances = Vec::new();
    for env in &cx.workspace.environments {
        let mut m = base.clone();
        let env_block = parts.environments.get(&env.name);
        if let Some(eb) = env_block {
            let layer = Layer::Environment(env.name.clone());
            m.apply_body(&eb.body, &layer, diags);
            if let Some(a) = eb.body.get("tier") {
                diags.push(
                    Diagnostic::error("platc::resolve::misplaced", "`tier` is the same in every environment")
                        .label(a.path.span, "set in an environment block")
                        .help("the tier decides the SLOs, alerts and PodDisruptionBudget of the service as a whole: move `tier` to the service body"),
                );
            }
            if let Some(a) = eb.body.get("depends_on") {
                diags.push(
                    Diagnostic::error("platc::resolve::misplaced", "`depends_on` is the same in every environment")
                        .label(a.path.span, "set in an environment block")
                        .help("move `depends_on` to the service body"),
                );
            }
        }
        for (o, reason) in &parts.overrides {
            m.apply_override(o, reason, diags);
        }
        let env_resources = env_block.map(|eb| Parts::env_resources(eb, &parts, diags)).unwrap_or_default();
        let scope = Scope { service: &name.name, service_span: name.span, workspace: cx.workspace, environment: env };
        // The namespace the resources' in-cluster addresses name, as the
        // instance will have it (`"${service.name}"` by default). Only an
        // in-cluster resource's output names it: worked out (a copy of the
        // values interpolated) the first time one asks, not for every
        // instance.
        let ns = std::cell::OnceCell::new();
        let namespace = || {
            ns.get_or_init(|| match m.tree.get("namespace").map(|n| &n.value) {
                Some(Value::Interpolated(_)) => {
                    let values = m.tree.clone();
                    let mut probe = Instance { env: env.name.clone(), values, resources: Vec::new(), trace: None };
                    interpolate::finalize(&mut probe, &scope, &mut Vec::new());
                    crate::scope::namespace(&name.name, Some(&probe))
                }
                Some(v) => v.as_word().unwrap_or(&name.name).to_string(),
                None => name.name.clone(),
            })
            .clone()
        };
        let mut resources = Vec::new();
        for (rname, (rt, rblock)) in &parts.resources {
            let at = (name.name.as_str(), env.name.as_str(), &namespace as &dyn Fn() -> String);
            resources.push(resource(rname, rt, rblock, env_resources.get(rname).copied(), at, cx.trace, diags));
        }
        let mut instance = Instance { env: env.name.clone(), values: m.tree, resources, trace: m.trace };
        interpolate::finalize(&mut instance, &scope, diags);
        fill_max(&mut instance, diags);
        instances.push(instance);
    }

    let apis = parts.apis.iter().map(|(n, blk)| api(n, blk, decl, cx, diags)).collect();
    Some(Service {
        name: name.name.clone(),
        name_span: name.span,
        file: decl.file,
        path: decl.path.clone(),
        golden_paths: chain.iter().map(|d| d.name.name.clone()).collect(),
        overrides: overrides
            .into_iter()
            .chain(parts.overrides.iter().map(|(o, r)| Escape {
                what: o.path.display(),
                reason: r.clone(),
                span: o.span,
                from: None,
            }))
            .collect(),
        waivers: waivers.into_iter().chain(parts.waivers).collect(),
        patches: patches.into_iter().chain(parts.patches).collect(),
        depends_on,
        apis,
        instances: instances.into(),
    })
}

/// The structural parts of a service body.
#[derive(Default)]
struct Parts<'a> {
    resources: BTreeMap<String, (&'a ResourceType, &'a Block)>,
    apis: BTreeMap<String, &'a Block>,
    environments: BTreeMap<String, &'a Block>,
    overrides: Vec<(&'a ast::Override, String)>,
    waivers: Vec<Escape>,
    patches: Vec<ServicePatch>,
}

impl<'a> Parts<'a> {
    fn read(body: &'a ast::Body, cx: &'a Context, diags: &mut Vec<Diagnostic>) -> Parts<'a> {
        let mut p = Parts::default();
        let mut spans: BTreeMap<(String, String), Span> = BTreeMap::new();
        let mut dup = |kind: &str, name: &ast::Ident, diags: &mut Vec<Diagnostic>| {
            if let Some(prev) = spans.insert((kind.to_string(), name.name.clone()), name.span) {
                diags.push(
                    Diagnostic::error("platc::resolve::duplicate", format!("{kind} `{}` is declared twice", name.name))
                        .label(name.span, "declared again")
                        .also(prev, "first declared here"),
                );
                return true;
            }
            false
        };
        for item in &body.items {
            match item {
                Item::Block(b) if b.labels.is_empty() && b.from.is_none() => {}
                Item::Block(b) => match (b.kind.name.as_str(), b.labels.as_slice()) {
                    ("resource", [ty, name]) => {
                        if !is_dns_label(&name.name) {
                            diags.push(dns_error("resource", &name.name, name.span));
                        }
                        let Some(rt) = cx.library.resource_types.get(&ty.name) else {
                            diags.push(unknown_resource_type(ty, cx.library));
                            continue;
                        };
                        if let Some(d) = reserved_resource_name(name, rt, cx.library) {
                            diags.push(d);
                        }
                        if !rt.offered_on(&cx.workspace.cloud) {
                            diags.push(cloud_unsupported(ty, rt, cx));
                        }
                        if !dup("resource", name, diags) {
                            p.resources.insert(name.name.clone(), (rt, b));
                        }
                    }
                    ("api", [name]) => {
                        if !is_dns_label(&name.name) {
                            diags.push(dns_error("api", &name.name, name.span));
                        }
                        if !dup("api", name, diags) {
                            p.apis.insert(name.name.clone(), b);
                        }
                    }
                    ("environment", [name]) => {
                        if !cx.workspace.environments.iter().any(|e| e.name == name.name) {
                            diags.push(Diagnostic::unknown(
                                "platc::resolve::unknown_environment",
                                "environment",
                                &name.name,
                                name.span,
                                cx.workspace.environment_names(),
                            ));
                            continue;
                        }
                        if !dup("environment", name, diags) {
                            p.environments.insert(name.name.clone(), b);
                        }
                    }
                    (kind @ ("resource" | "api" | "environment"), _) => diags.push(block_form_error(kind, b)),
                    (kind, _) => diags.push(
                        Diagnostic::error(
                            "platc::resolve::unknown_block",
                            format!("unknown block `{kind}` in a service"),
                        )
                        .label(b.kind.span, "not a service block")
                        .help(unknown_help(kind, "block", SERVICE_BLOCKS.iter().copied())),
                    ),
                },
                Item::Locked(a) => diags.push(
                    Diagnostic::error("platc::resolve::misplaced", "only the standard library locks values")
                        .label(a.span, "`locked` in a service")
                        .help("remove `locked`; a service sets its values plainly"),
                ),
                Item::Override(_) | Item::Allow(_) | Item::Patch(_) => p.escape(item, cx, diags),
                Item::Attribute(_) => {}
            }
        }
        p
    }

    /// The escape hatches of a golden path's body.
    fn escapes(body: &'a ast::Body, cx: &'a Context, diags: &mut Vec<Diagnostic>) -> Parts<'a> {
        let mut p = Parts::default();
        for item in &body.items {
            p.escape(item, cx, diags);
        }
        p
    }

    /// Reads an `override`, `allow` or `patch` (anything else is left alone).
    fn escape(&mut self, item: &'a Item, cx: &'a Context, diags: &mut Vec<Diagnostic>) {
        match item {
            Item::Override(o) => match o.reason.as_plain().filter(|r| !r.trim().is_empty()) {
                Some(reason) => self.overrides.push((o, reason)),
                None => diags.push(empty_reason(o.reason.span)),
            },
            Item::Allow(a) => match a.reason.as_plain().filter(|r| !r.trim().is_empty()) {
                Some(reason) => {
                    if !cx.library.policies.contains_key(&a.policy.name) {
                        diags.push(Diagnostic::unknown(
                            "platc::resolve::unknown_policy",
                            "policy",
                            &a.policy.name,
                            a.policy.span,
                            cx.library.policies.keys().map(String::as_str),
                        ));
                    }
                    self.waivers.push(Escape { what: a.policy.name.clone(), reason, span: a.span, from: None });
                }
                None => diags.push(empty_reason(a.reason.span)),
            },
            Item::Patch(pa) => {
                if let Some(r) = &pa.reason
                    && r.as_plain().is_none_or(|r| r.trim().is_empty())
                {
                    diags.push(empty_reason(r.span));
                }
                self.patches.push(ServicePatch { patch: pa.clone(), from: None });
            }
            _ => {}
        }
    }

    /// The `resource` blocks of an environment block, by name.
    fn env_resources(eb: &'a Block, parts: &Parts, diags: &mut Vec<Diagnostic>) -> BTreeMap<String, &'a Block> {
        let mut out = BTreeMap::new();
        for item in &eb.body.items {
            match item {
                Item::Block(b) if b.labels.is_empty() => {}
                Item::Block(b) if b.kind.name == "resource" => {
                    let [ty, name] = b.labels.as_slice() else {
                        diags.push(block_form_error("resource", b));
                        continue;
                    };
                    match parts.resources.get(&name.name) {
                        Some((rt, _)) if rt.decl.name.name == ty.name => {
                            out.insert(name.name.clone(), b);
                        }
                        Some((rt, _)) => diags.push(
                            Diagnostic::error(
                                "platc::resolve::resource_type_mismatch",
                                format!("`{}` is a {}, not a {}", name.name, rt.decl.name.name, ty.name),
                            )
                            .label(ty.span, "different type")
                            .help(format!("write `resource {} {} {{ ... }}`", rt.decl.name.name, name.name)),
                        ),
                        None => diags.push(
                            Diagnostic::error(
                                "platc::resolve::unknown_resource",
                                format!("the service declares no resource `{}`", name.name),
                            )
                            .label(name.span, "not declared in the service body")
                            .help(unknown_help(
                                &name.name,
                                "resource",
                                parts.resources.keys().map(String::as_str),
                            )),
                        ),
                    }
                }
                Item::Attribute(_) => {}
                other => diags.push(
                    Diagnostic::error(
                        "platc::resolve::misplaced",
                        "an environment block holds attributes and resource adjustments",
                    )
                    .label(other.span(), "not allowed in an environment block")
                    .help("put `override`, `allow`, `patch`, `api` and `environment` at the service level"),
                ),
            }
        }
        out
    }
}

/// `max(512Mi, memory)`: the largest of quantities and attributes of the
/// service, once its values are final. The standard library states its
/// limits this way (`limits { memory = max(512Mi, memory) }`): a limit the
/// service does not set follows its request.
fn fill_max(instance: &mut Instance, diags: &mut Vec<Diagnostic>) {
    fn has_max(v: &Value) -> bool {
        match v {
            Value::Call(name, _) => name == "max",
            Value::Map(m) => m.values().any(|n| has_max(&n.value)),
            _ => false,
        }
    }
    if !instance.values.values().any(|n| has_max(&n.value)) {
        return;
    }
    let snapshot = instance.values.clone();
    for node in instance.values.values_mut() {
        fill_max_node(node, &snapshot, diags);
    }
}

fn fill_max_node(node: &mut value::Node, snapshot: &value::Map, diags: &mut Vec<Diagnostic>) {
    match &mut node.value {
        Value::Map(m) => m.values_mut().for_each(|n| fill_max_node(n, snapshot, diags)),
        Value::Call(name, args) if name == "max" => {
            let mut best: Option<(f64, Value)> = None;
            for arg in args.iter() {
                let v = match &arg.value {
                    Value::Ref(path) => {
                        let keys: Vec<&str> = path.iter().map(String::as_str).collect();
                        match crate::merge::get(snapshot, &keys).map(|n| &n.value) {
                            Some(v @ (Value::Quantity { .. } | Value::Number(..))) => v.clone(),
                            _ => continue, // unset (or not a size): the other arguments decide
                        }
                    }
                    v @ (Value::Quantity { .. } | Value::Number(..)) => v.clone(),
                    other => {
                        diags.push(
                            Diagnostic::error(
                                "platc::resolve::bad_call",
                                format!("`max` takes quantities and attribute names; found {}", other.describe()),
                            )
                            .label(arg.origin.span, "not a quantity")
                            .help("write `max(512Mi, memory)`"),
                        );
                        continue;
                    }
                };
                let n = match &v {
                    Value::Quantity { value, unit, .. } => crate::eval::normalize(*value, unit, None),
                    Value::Number(n, _) => *n,
                    _ => continue,
                };
                if best.as_ref().is_none_or(|(b, _)| n > *b) {
                    best = Some((n, v));
                }
            }
            node.value = best.map(|(_, v)| v).unwrap_or(Value::Null);
        }
        _ => {}
    }
}

fn block_form_error(kind: &str, b: &Block) -> Diagnostic {
    let form = match kind {
        "resource" => "resource TYPE NAME { ... }",
        "api" => "api NAME { ... }",
        _ => "environment NAME { ... }",
    };
    Diagnostic::error("platc::resolve::bad_block", format!("`{kind}` is written `{form}`"))
        .label(b.span, "wrong number of names")
        .help(format!("write `{form}`"))
}

fn empty_reason(span: Span) -> Diagnostic {
    Diagnostic::error("platc::resolve::empty_reason", "an escape hatch needs a reason")
        .label(span, "no reason given")
        .help("say why, for the reviewer and the catalog: `because \"vendor image runs as root until PAY-112\"`")
}

/// A resource's Terraform is written to `<name>.tf`, next to the files of
/// the service's own Terraform templates (`terraform/main.tf.hbs` writes
/// `main.tf`): a resource may not take one of their names.
fn reserved_resource_name(name: &ast::Ident, rt: &ResourceType, lib: &Library) -> Option<Diagnostic> {
    rt.terraform.as_ref()?; // no Terraform file of its own
    let template = format!("terraform/{}.tf.hbs", name.name);
    let resource_templates = || lib.resource_types.values().filter_map(|t| t.terraform.as_ref());
    if !lib.templates.contains_key(&template) || resource_templates().any(|(t, _)| *t == template) {
        return None;
    }
    let taken: Vec<String> = lib
        .templates
        .keys()
        .filter_map(|k| k.strip_prefix("terraform/")?.strip_suffix(".tf.hbs"))
        .filter(|n| !n.contains('/') && !n.starts_with('_'))
        .filter(|n| !resource_templates().any(|(t, _)| t == &format!("terraform/{n}.tf.hbs")))
        .map(|n| format!("`{n}`"))
        .collect();
    Some(
        Diagnostic::error(
            "platc::resolve::reserved_name",
            format!(
                "a resource named `{}` would write `{}.tf`, which the service's Terraform writes",
                name.name, name.name
            ),
        )
        .label(name.span, format!("`{}.tf` is generated from {template}", name.name))
        .help(format!(
            "rename the resource; its Terraform is `<name>.tf`, and {} {} taken",
            taken.join(", "),
            if taken.len() == 1 { "is" } else { "are" }
        )),
    )
}

fn unknown_resource_type(ty: &ast::Ident, lib: &Library) -> Diagnostic {
    let known = lib.resource_types.keys().map(String::as_str);
    Diagnostic::unknown("platc::resolve::unknown_resource_type", "resource type", &ty.name, ty.span, known)
}

fn read_depends_on(m: &Merger) -> Vec<(String, Span)> {
    match m.tree.get("depends_on").map(|n| &n.value) {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|n| match &n.value {
                Value::Ref(p) if p.len() == 1 => p.first().map(|s| (s.clone(), n.origin.span)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A resource type the workspace's cloud does not offer.
fn cloud_unsupported(ty: &ast::Ident, rt: &ResourceType, cx: &Context) -> Diagnostic {
    let cloud = &cx.workspace.cloud;
    let offered: Vec<String> = cx
        .library
        .resource_types
        .values()
        .filter(|t| t.offered_on(cloud))
        .map(|t| format!("`{}`", t.decl.name.name))
        .collect();
    let on: Vec<String> = rt.clouds.iter().flatten().map(|c| format!("`{c}`")).collect();
    let mut d = Diagnostic::error(
        "platc::resolve::cloud_unsupported",
        format!("resource type `{}` is not offered on `{cloud}`, the workspace's cloud", ty.name),
    )
    .label(ty.span, format!("offered on {}", crate::diag::one_of(&on)));
    if cx.workspace.declared {
        d = d.also(cx.workspace.span, format!("the workspace is on `{cloud}`"));
    }
    d.help(if offered.is_empty() {
        format!("no resource type of the standard library is offered on `{cloud}`; a platform overlay can add one")
    } else {
        format!(
            "on `{cloud}`, use {} (or add a resource type for `{cloud}` in a platform overlay)",
            crate::diag::one_of(&offered)
        )
    })
}

fn resource(
    name: &str,
    rt: &ResourceType,
    block: &Block,
    env_block: Option<&Block>,
    (service, env, namespace): (&str, &str, &dyn Fn() -> String),
    trace: bool,
    diags: &mut Vec<Diagnostic>,
) -> Resource {
    let type_layer = Layer::ResourceType(rt.decl.name.name.clone());
    let mut m = Merger::new(trace);
    m.apply_body(&rt.defaults, &type_layer, diags);
    // The size decides which row of the size table lies under the body.
    let mut probe = m.clone();
    probe.apply_body(&block.body, &Layer::Service, &mut Vec::new());
    if let Some(eb) = env_block {
        probe.apply_body(&eb.body, &Layer::Environment(env.to_string()), &mut Vec::new());
    }
    if let Some(size) = probe.tree.get("size").and_then(|n| n.value.as_word())
        && let Some((_, row)) = rt.sizes.get(size)
    {
        m.apply_body(row, &type_layer, diags);
    }
    m.apply_body(&block.body, &Layer::Service, diags);
    if let Some(eb) = env_block {
        m.apply_body(&eb.body, &Layer::Environment(env.to_string()), diags);
    }
    for item in &block.body.items {
        if !matches!(item, Item::Attribute(_)) && !matches!(item, Item::Block(b) if b.labels.is_empty()) {
            diags.push(
                Diagnostic::error("platc::resolve::misplaced", "a resource holds attributes")
                    .label(item.span(), "not allowed in a resource")
                    .help("put escape hatches at the service level"),
            );
        }
    }
    let mut outputs = BTreeMap::new();
    let mut out_diags = Vec::new();
    for (k, node) in value::map_from_body(&rt.outputs, &type_layer, &mut out_diags) {
        let v = match node.value {
            Value::Secret(s) => Value::Secret(s.replace("${resource.name}", name).replace("$$", "$")),
            // A plain output (an in-cluster address): `${resource.name}`,
            // `${resource.host}` (its Service's in-cluster name) and
            // `${resource.port}` filled in.
            Value::Interpolated(parts) => {
                let object = crate::emit::context::catalog_resource_name(service, name);
                let host = format!("{object}.{}.svc.cluster.local", namespace());
                let mut text = String::new();
                for p in &parts {
                    match p {
                        ast::StrPart::Lit(l) => text.push_str(l),
                        ast::StrPart::Interp(path, span) => match path.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
                            ["resource", "name"] => text.push_str(name),
                            ["resource", "host"] => text.push_str(&host),
                            ["resource", "port"] => text.push_str(&rt.port.to_string()),
                            _ => out_diags.push(
                                Diagnostic::error(
                                    "platc::library::bad_declaration",
                                    format!("a resource output may interpolate `${{resource.name}}`, `${{resource.host}}` or `${{resource.port}}`, not `${{{}}}`", path.join(".")),
                                )
                                .label(*span, "not a resource value")
                                .help("write `addr = \"${resource.host}:${resource.port}\"`"),
                            ),
                        },
                    }
                }
                Value::Str(text)
            }
            other => other,
        };
        outputs.insert(k, v);
    }
    diags.extend(out_diags);
    let span = block.labels.get(1).map(|l| l.span).unwrap_or(block.span);
    Resource { name: name.to_string(), ty: rt.decl.name.name.clone(), span, values: m.tree, outputs }
}

fn api(name: &str, b: &Block, decl: &ServiceDecl, cx: &Context, diags: &mut Vec<Diagnostic>) -> Api {
    let values = value::map_from_body(&b.body, &Layer::Service, diags);
    let mut definition = None;
    if let Some(node) = values.get("definition")
        && let Value::File(rel) = &node.value
    {
        definition = load_file(rel, &decl.path, node.origin.span, cx.sources, diags);
    }
    let span = b.labels.first().map(|l| l.span).unwrap_or(b.span);
    Api { name: name.to_string(), span, values, definition }
}

/// Largest file `file(...)` reads.
const MAX_REFERENCED_FILE: usize = 1024 * 1024;

/// Reads `file("rel")` relative to the directory of `from`, refusing paths
/// that leave the workspace.
fn load_file(rel: &str, from: &str, span: Span, sources: &Sources, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let Some(path) = join_inside(from, rel) else {
        diags.push(
            Diagnostic::error("platc::resolve::file_outside_workspace", format!("`{rel}` is outside the workspace"))
                .label(span, "leaves the workspace")
                .help("refer to files inside the workspace, relative to this service.plat"),
        );
        return None;
    };
    if path.split('/').any(|c| c.starts_with('.')) {
        diags.push(
            Diagnostic::error("platc::resolve::file_hidden", format!("`{rel}` is a hidden file or in a hidden directory"))
                .label(span, "hidden")
                .help("hidden files and directories (`.git/`, `.env`) are out of reach of `file(...)`; move the file to a visible directory"),
        );
        return None;
    }
    match sources.load(&path) {
        Ok(Text::Utf8(t)) if t.len() <= MAX_REFERENCED_FILE => Some(t.to_string()),
        Ok(Text::Utf8(t)) => {
            diags.push(
                Diagnostic::error(
                    "platc::resolve::file_too_large",
                    format!("`{path}` is {} bytes; the limit is {MAX_REFERENCED_FILE}", t.len()),
                )
                .label(span, "file too large"),
            );
            None
        }
        Ok(Text::Invalid { .. }) => {
            diags.push(
                Diagnostic::error("platc::resolve::file_not_utf8", format!("`{path}` is not UTF-8 text"))
                    .label(span, "binary or wrongly encoded file")
                    .help("refer to a text file (an OpenAPI, AsyncAPI, GraphQL or protobuf definition)"),
            );
            None
        }
        Err(reason) => {
            diags.push(
                Diagnostic::error("platc::resolve::file_not_found", format!("cannot read `{path}`: {reason}"))
                    .label(span, "file not found")
                    .help("paths are relative to the directory of this service.plat"),
            );
            None
        }
    }
}

/// `services/pay/service.plat` + `proto/x.proto` → `services/pay/proto/x.proto`;
/// `None` when the result would leave the workspace.
pub(crate) fn join_inside(from: &str, rel: &str) -> Option<String> {
    if rel.starts_with('/') || rel.contains('\\') || rel.contains(':') || rel.contains('\0') {
        return None;
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    let out = parts.join("/");
    (!out.is_empty()).then_some(out)
}

/// Output names of each resource of a service, for reference checks.
pub(crate) fn resource_outputs(instance: &Instance) -> BTreeMap<String, BTreeSet<String>> {
    instance.resources.iter().map(|r| (r.name.clone(), r.outputs.keys().cloned().collect())).collect()
}
