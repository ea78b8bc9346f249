//! Stage 2a, the standard library: parsed stdlib files → an index of what
//! the platform team declared (defaults, golden paths, tiers, resource types,
//! policies, languages, schemas) plus the handlebars templates.
//!
//! The embedded library (`stdlib/`) is overlaid by the workspace's own
//! directory (`stdlib = "./platform"`). An overlay file with a new path
//! extends the library by declaration ([`Role::Extends`]): its `defaults`
//! change single defaults, its `schema NAME` blocks add attributes (an
//! attribute declared already takes `override NAME = TYPE because "..."`),
//! its other declarations add golden paths, tiers, resource types,
//! policies and languages. An overlay file with an embedded file's path
//! replaces that file (the eject path; `platc::library::replaced` warns that
//! upgrades no longer reach it). Declaring the same name twice otherwise is
//! an error that shows both.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::ast::{self, Body, ExprKind, Ident};
use crate::diag::{Diagnostic, Severity, one_of, unknown_help};
use crate::schema::{self, Record, Type};
use crate::span::Span;

/// A named declaration: `template web-api from base { ... }`.
#[derive(Clone, Debug)]
pub struct Decl {
    pub(crate) name: Ident,
    pub(crate) from: Option<Ident>,
    pub body: Body,
    pub(crate) span: Span,
}

#[derive(Clone, Debug)]
pub(crate) struct ResourceType {
    pub(crate) decl: Decl,
    pub(crate) sizes: BTreeMap<String, (Span, Body)>,
    pub(crate) schema: Record,
    pub(crate) defaults: Body,
    pub(crate) outputs: Body,
    /// `terraform = template("...")`, relative to `templates/`.
    pub(crate) terraform: Option<(String, Span)>,
    /// The catalog Resource `spec.type` (`database`, `cache`, ...).
    pub(crate) catalog_type: String,
    /// The port services connect to (for NetworkPolicy egress).
    pub(crate) port: i64,
    /// `kubernetes = template("...")`: objects that run the resource in the
    /// cluster, in the owning service's namespace.
    pub(crate) kubernetes: Option<(String, Span)>,
    /// `grant_terraform = template("...")`: the Terraform, in the root module
    /// of a service the resource is granted to, that gives its workload role
    /// the access its grant says.
    pub(crate) grant_terraform: Option<(String, Span)>,
    /// `clouds = [aws, ...]`: the workspace clouds that offer it; `None`
    /// (`clouds = any`, or no `terraform` and no `clouds`) for every cloud.
    pub(crate) clouds: Option<Vec<String>>,
    /// `access { LEVEL = [ACTION, ...] }`: what a grant of each level allows
    /// (read by the templates; the levels are what `grants` may say).
    pub(crate) access: Body,
}

impl ResourceType {
    /// The template this type renders for each resource in `target`'s
    /// output: the attribute named after the target. Only `kubernetes` and
    /// `terraform` have one, because the attribute also means something
    /// beyond the target (made in the cluster, made in the cloud: see the
    /// template context); a new target renders no per-resource files.
    pub(crate) fn template_for(&self, target: &str) -> Option<&(String, Span)> {
        match target {
            "terraform" => self.terraform.as_ref(),
            "kubernetes" => self.kubernetes.as_ref(),
            _ => None,
        }
    }

    /// The template that grants another service access to a resource of
    /// this type in `target`'s output (`grant_terraform`).
    pub(crate) fn grant_template_for(&self, target: &str) -> Option<&(String, Span)> {
        match target {
            "terraform" => self.grant_terraform.as_ref(),
            _ => None,
        }
    }

    /// Whether a workspace on `cloud` offers this type.
    pub(crate) fn offered_on(&self, cloud: &str) -> bool {
        self.clouds.as_ref().is_none_or(|c| c.iter().any(|x| x == cloud))
    }
}

#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) name: Ident,
    pub(crate) when: Option<ast::Expr>,
    pub(crate) require: ast::Expr,
    pub(crate) severity: Severity,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
    pub(crate) span: Span,
    /// The selectors of its `generated("...")` calls: a policy with any is
    /// checked on the generated objects, after patches (see
    /// [`check::output`](crate::check::output)).
    pub selectors: Vec<(String, Span)>,
}

/// `workload NAME { ATTRIBUTE = "why" ... }`: attributes of the service
/// schema that a workload does not use. A service of that workload setting
/// one is an error (a warning with `severity = warning`) that says why.
#[derive(Clone, Debug)]
pub(crate) struct Workload {
    pub(crate) name: Ident,
    /// Attribute, why it does not apply, and where that is said.
    pub(crate) not_for: Vec<(String, String, Span)>,
    pub(crate) severity: Severity,
}

/// A handlebars template of the library: its display path and text.
#[derive(Clone, Debug)]
pub struct TemplateFile {
    pub(crate) shown_as: String,
    pub(crate) text: Arc<str>,
}

#[derive(Debug, Default)]
pub struct Library {
    pub(crate) defaults: Option<Decl>,
    pub golden_paths: BTreeMap<String, Decl>,
    pub tiers: BTreeMap<String, Decl>,
    pub(crate) resource_types: BTreeMap<String, ResourceType>,
    pub policies: BTreeMap<String, Policy>,
    pub languages: BTreeMap<String, Decl>,
    pub schemas: BTreeMap<String, Record>,
    pub(crate) workloads: BTreeMap<String, Workload>,
    /// `workspace default { ... }`: the workspace of a lone service.
    pub(crate) default_workspace: Option<ast::Block>,
    /// `templates/<path>` → template, e.g. `kubernetes/deployment.yaml.hbs`.
    pub(crate) templates: BTreeMap<String, TemplateFile>,
    pub(crate) tier_names: BTreeSet<String>,
    pub(crate) language_names: BTreeSet<String>,
    /// `target NAME { ... }`: the kinds of output, in declaration order
    /// (see [`crate::targets`]).
    pub targets: crate::targets::Targets,
}

/// Where a standard-library file comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Embedded in platc.
    Embedded,
    /// An overlay file with an embedded file's path: it replaces that file.
    Replaces,
    /// An overlay file of its own: its declarations extend the library.
    Extends,
}

const KINDS: &[&str] = &[
    "defaults",
    "template",
    "tier",
    "resource_type",
    "policy",
    "language",
    "schema",
    "workload",
    "workspace",
    "target",
];

impl Library {
    /// Indexes the parsed stdlib files (in path order): the embedded ones
    /// (and those an overlay replaces) first, then the overlay's own, which
    /// extend them.
    pub(crate) fn build(
        files: Vec<(ast::File, Role)>,
        templates: BTreeMap<String, TemplateFile>,
        diags: &mut Vec<Diagnostic>,
    ) -> Library {
        let mut lib = Library { templates, ..Library::default() };
        let mut seen: BTreeMap<(String, String), Span> = BTreeMap::new();
        let (extensions, base): (Vec<_>, Vec<_>) = files.into_iter().partition(|(_, r)| *r == Role::Extends);
        let mut defaults_ext: Vec<ast::Block> = Vec::new();
        for (file, role) in base.into_iter().chain(extensions) {
            for item in file.body.items {
                let ast::Item::Block(b) = item else {
                    diags.push(
                        Diagnostic::error("platc::library::misplaced", "the standard library holds only declarations")
                            .label(item.span(), "not inside a declaration")
                            .help(format!("put this inside a block: {}", KINDS.join(", "))),
                    );
                    continue;
                };
                if role == Role::Extends && b.kind.name == "defaults" && b.labels.is_empty() {
                    defaults_ext.push(b);
                    continue;
                }
                if role == Role::Extends
                    && b.kind.name == "schema"
                    && let [name] = b.labels.as_slice()
                    && let Some(rec) = lib.schemas.get_mut(&name.name)
                {
                    extend_record(rec, &b.body, diags);
                    continue;
                }
                lib.declare(b, &mut seen, diags);
            }
        }
        lib.extend_defaults(defaults_ext, diags);
        for required in ["service", "api", "environment"] {
            if !lib.schemas.contains_key(required) {
                diags.push(
                    Diagnostic::error(
                        "platc::library::missing_schema",
                        format!("the standard library has no `schema {required}`"),
                    )
                    .help("an overlay that replaces `schema.plat` must keep the service, api and environment schemas"),
                );
            }
        }
        lib.tier_names = lib.tiers.keys().cloned().collect();
        lib.language_names = lib.languages.keys().cloned().collect();
        lib.check_golden_paths(diags);
        lib.check_resource_types(diags);
        lib.check_policies(diags);
        lib.check_workloads(diags);
        lib.check_targets(diags);
        lib
    }

    /// Every selector of a policy names a declared target (known only once
    /// the overlay's declarations are in).
    ///
    /// And a directory of output templates (`templates/docs/x.yaml.hbs`)
    /// that no target renders is a warning: nothing would say why its files
    /// are missing (a misspelt or forgotten `target` declaration).
    fn check_targets(&self, diags: &mut Vec<Diagnostic>) {
        let per_resource: BTreeSet<&str> = self
            .resource_types
            .values()
            .flat_map(|rt| rt.terraform.iter().chain(rt.kubernetes.iter()).chain(rt.grant_terraform.iter()))
            .map(|(t, _)| t.as_str())
            .collect();
        let mut orphans: BTreeMap<&str, &TemplateFile> = BTreeMap::new();
        for (name, file) in &self.templates {
            let Some((dir, rest)) = name.split_once('/') else { continue };
            let output = rest.strip_suffix(".hbs").is_some_and(|f| crate::emit::Format::named(f).is_some());
            let direct = !rest.contains('/') || rest.strip_prefix("workspace/").is_some_and(|r| !r.contains('/'));
            if output
                && direct
                && self.targets.get(dir).is_none()
                && !crate::emit::render::is_partial(name)
                && !per_resource.contains(name.as_str())
            {
                orphans.entry(dir).or_insert(file);
            }
        }
        for (dir, first) in orphans {
            diags.push(
                Diagnostic::warning(
                    "platc::library::unknown_template",
                    format!("templates/{dir}/ belongs to no target: {} and its neighbours render nothing", first.shown_as),
                )
                .help(match crate::diag::did_you_mean(dir, self.targets.names()) {
                    Some(close) => format!("did you mean the target `{close}`? (move the templates to templates/{close}/), or declare `target {dir} {{ ... }}`"),
                    None => format!(
                        "declare `target {dir} {{ per = service  path = \"<service>/{dir}/<file>\"  format = yaml }}` (docs/templates.md, \"Targets: the registry\"), or move the templates to a target's directory"
                    ),
                }),
            );
        }
        for p in self.policies.values() {
            for (text, span) in &p.selectors {
                let Ok(sel) = crate::check::output::Selector::parse(text) else { continue };
                if self.targets.get(&sel.target).is_none() {
                    diags.push(
                        Diagnostic::error(
                            "platc::library::bad_policy",
                            format!(
                                "`generated(...)` takes a selector: unknown target `{}`; {}",
                                sel.target,
                                unknown_help(&sel.target, "target", self.targets.names())
                            ),
                        )
                        .label(*span, "not a selector")
                        .help("write a plain string: `generated(\"kubernetes/*:..securityContext.privileged\")`"),
                    );
                }
            }
        }
    }

    /// A workload declaration names attributes of the service schema.
    fn check_workloads(&self, diags: &mut Vec<Diagnostic>) {
        let Some(service) = self.schemas.get("service") else { return };
        for w in self.workloads.values() {
            for (attr, _, span) in &w.not_for {
                if !service.fields.contains_key(attr) {
                    diags.push(
                        Diagnostic::error(
                            "platc::library::bad_declaration",
                            format!(
                                "workload `{}` names `{attr}`, which the service schema does not have",
                                w.name.name
                            ),
                        )
                        .label(*span, "not an attribute of a service")
                        .help(unknown_help(
                            attr,
                            "attribute",
                            service.fields.keys().map(String::as_str),
                        )),
                    );
                }
            }
        }
    }

    fn declare(&mut self, b: ast::Block, seen: &mut BTreeMap<(String, String), Span>, diags: &mut Vec<Diagnostic>) {
        let kind = b.kind.name.clone();
        let want_labels = match kind.as_str() {
            "defaults" => 0,
            "template" | "tier" | "resource_type" | "policy" | "language" | "schema" | "workload" | "workspace"
            | "target" => 1,
            _ => {
                diags.push(
                    Diagnostic::error("platc::library::unknown_declaration", format!("unknown declaration `{kind}`"))
                        .label(b.kind.span, "not a standard-library declaration")
                        .help(unknown_help(&kind, "declaration", KINDS.iter().copied())),
                );
                return;
            }
        };
        if b.labels.len() != want_labels {
            let form =
                if want_labels == 0 { format!("`{kind} {{ ... }}`") } else { format!("`{kind} NAME {{ ... }}`") };
            diags.push(
                Diagnostic::error("platc::library::bad_declaration", format!("`{kind}` is written {form}"))
                    .label(b.span, "wrong number of names")
                    .help(format!("write {form}")),
            );
            return;
        }
        if b.from.is_some() && kind != "template" {
            diags.push(
                Diagnostic::error(
                    "platc::library::bad_declaration",
                    "only golden paths (`template`) extend another with `from`",
                )
                .label(b.from.as_ref().map(|f| f.span).unwrap_or(b.span), "`from` here"),
            );
        }
        let name = b.labels.first().cloned().unwrap_or_else(|| b.kind.clone());
        if let Some(prev) = seen.insert((kind.clone(), name.name.clone()), name.span) {
            diags.push(
                Diagnostic::error("platc::library::duplicate", format!("{kind} `{}` is declared twice", name.name))
                    .label(name.span, "declared again here")
                    .also(prev, "first declared here")
                    .help(match kind.as_str() {
                        "defaults" | "schema" => "declare it once per file of the standard library; an overlay file of another name adds to it (`schema service { cost_center = string }`, `defaults { replicas = 3 }`)",
                        _ => "give yours another name, or replace the file that declares the embedded one by its path (an overlay file with the same path replaces it); rename or remove one declaration",
                    }),
            );
            return;
        }
        let decl = Decl { name: name.clone(), from: b.from.clone(), body: b.body.clone(), span: b.span };
        match kind.as_str() {
            "defaults" => self.defaults = Some(decl),
            "template" => {
                self.golden_paths.insert(name.name.clone(), decl);
            }
            "tier" => {
                self.tiers.insert(name.name.clone(), decl);
            }
            "language" => {
                self.languages.insert(name.name.clone(), decl);
            }
            "schema" => {
                let rec = schema::record_from_body(&b.body, diags);
                self.schemas.insert(name.name.clone(), rec);
            }
            "policy" => {
                if let Some(p) = policy(decl, diags) {
                    self.policies.insert(name.name.clone(), p);
                }
            }
            "resource_type" => {
                let rt = resource_type(decl, diags);
                self.resource_types.insert(name.name.clone(), rt);
            }
            "workload" => {
                let w = workload(decl, diags);
                self.workloads.insert(name.name.clone(), w);
            }
            "target" => {
                if let Some(t) = crate::targets::target(&decl, diags) {
                    self.targets.0.push(t);
                }
            }
            _ => self.default_workspace = Some(b),
        }
    }

    /// Adds the overlay's `defaults { ... }` blocks to the embedded ones:
    /// each value it sets replaces that one default (its span, in the
    /// overlay file, is its origin in `platc explain`). A default the
    /// embedded library locks changes only with `override PATH = VALUE
    /// because "..."` (and stays locked); two overlay blocks setting the
    /// same default is an error.
    fn extend_defaults(&mut self, blocks: Vec<ast::Block>, diags: &mut Vec<Diagnostic>) {
        if blocks.is_empty() {
            return;
        }
        // The embedded locks, as a merge of the embedded defaults sees them.
        let mut locks = crate::merge::Merger::new(false);
        if let Some(d) = &self.defaults {
            locks.apply_body(&d.body, &crate::value::Layer::Defaults, &mut Vec::new());
        }
        let mut set: BTreeMap<String, Span> = BTreeMap::new();
        let mut items = Vec::new();
        for b in &blocks {
            let mut probe = locks.clone();
            let mut found = Vec::new();
            // A higher layer than the defaults: a lock it breaks is reported.
            let overlay = crate::value::Layer::Tier("overlay".into());
            let plain = ast::Body {
                items: b.body.items.iter().filter(|i| !matches!(i, ast::Item::Override(_))).cloned().collect(),
                span: b.body.span,
            };
            probe.apply_body(&plain, &overlay, &mut found);
            for d in found.into_iter().filter(|d| d.code == "platc::merge::locked") {
                let path = d.message.split('`').nth(1).unwrap_or_default().to_string();
                diags.push(Diagnostic {
                    help: Some(format!(
                        "the standard library locks `{path}`; an overlay changes a locked default only explicitly: `override {path} = ... because \"...\"` in its `defaults` (the new value stays locked for services)"
                    )),
                    ..d
                });
            }
            for (path, span) in default_paths(&b.body, "") {
                if let Some(prev) = set.insert(path.clone(), span) {
                    diags.push(
                        Diagnostic::error(
                            "platc::library::duplicate",
                            format!("default `{path}` is set twice by the overlay"),
                        )
                        .label(span, "set again here")
                        .also(prev, "first set here")
                        .help("keep one: which would win depends on file names"),
                    );
                }
            }
            for item in &b.body.items {
                items.push(match item {
                    ast::Item::Override(o) => {
                        let keys: Vec<String> =
                            o.path.keys().unwrap_or_default().into_iter().map(str::to_string).collect();
                        let a = ast::Attribute {
                            path: o.path.clone(),
                            op: ast::AssignOp::Set,
                            value: o.value.clone(),
                            span: o.span,
                        };
                        if locks.locks.contains_key(&keys) { ast::Item::Locked(a) } else { ast::Item::Attribute(a) }
                    }
                    other => other.clone(),
                });
            }
        }
        match &mut self.defaults {
            Some(d) => d.body.items.extend(items),
            None => {
                let first = blocks.into_iter().next();
                if let Some(b) = first {
                    let span = b.body.span;
                    self.defaults =
                        Some(Decl { name: b.kind.clone(), from: None, body: ast::Body { items, span }, span: b.span });
                }
            }
        }
    }

    /// The chain of golden paths of `name`, outermost first.
    pub fn golden_path_chain(&self, name: &str) -> Vec<&Decl> {
        let mut chain = Vec::new();
        let mut cur = self.golden_paths.get(name);
        while let Some(d) = cur {
            if chain.iter().any(|c: &&Decl| c.name.name == d.name.name) {
                break;
            }
            chain.push(d);
            cur = d.from.as_ref().and_then(|f| self.golden_paths.get(&f.name));
        }
        chain.reverse();
        chain
    }

    fn check_golden_paths(&self, diags: &mut Vec<Diagnostic>) {
        for d in self.golden_paths.values() {
            let Some(parent) = &d.from else { continue };
            if !self.golden_paths.contains_key(&parent.name) {
                diags.push(Diagnostic::unknown(
                    "platc::library::unknown_golden_path",
                    "golden path",
                    &parent.name,
                    parent.span,
                    self.golden_paths.keys().map(String::as_str),
                ));
                continue;
            }
            // A cycle: following `from` comes back here.
            let mut cur = Some(parent);
            let mut steps = 0;
            while let Some(p) = cur {
                if p.name == d.name.name {
                    diags.push(
                        Diagnostic::error(
                            "platc::library::golden_path_cycle",
                            format!("golden path `{}` extends itself", d.name.name),
                        )
                        .label(parent.span, "this `from` leads back here")
                        .help("remove one `from` of the cycle"),
                    );
                    break;
                }
                steps += 1;
                if steps > self.golden_paths.len() {
                    break;
                }
                cur = self.golden_paths.get(&p.name).and_then(|g| g.from.as_ref());
            }
        }
    }

    fn check_resource_types(&self, diags: &mut Vec<Diagnostic>) {
        for rt in self.resource_types.values() {
            for (path, span) in rt
                .terraform
                .iter()
                .chain(rt.kubernetes.iter())
                .chain(rt.grant_terraform.iter())
                .filter(|(p, _)| !self.templates.contains_key(p))
            {
                diags.push(
                    Diagnostic::error(
                        "platc::library::unknown_template",
                        format!("no template `{path}` in the standard library"),
                    )
                    .label(*span, "template not found")
                    .help(unknown_help(
                        path,
                        "template",
                        self.templates.keys().map(String::as_str),
                    )),
                );
            }
        }
    }

    /// Every dotted reference in a policy must name something that exists.
    fn check_policies(&self, diags: &mut Vec<Diagnostic>) {
        let Some(service) = self.schemas.get("service") else {
            return;
        };
        for p in self.policies.values() {
            let mut refs = Vec::new();
            collect_refs(&p.require, &mut refs);
            if let Some(w) = &p.when {
                collect_refs(w, &mut refs);
            }
            for (path, span) in refs {
                if let Err(help) = policy_ref_ok(&path, service) {
                    diags.push(
                        Diagnostic::error(
                            "platc::library::bad_policy",
                            format!("policy `{}` refers to unknown `{}`", p.name.name, path.join(".")),
                        )
                        .label(span, "unknown attribute")
                        .help(help),
                    );
                }
            }
        }
    }
}

/// Every default a `defaults` body sets, dotted, with where.
fn default_paths(body: &Body, prefix: &str) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    for item in &body.items {
        match item {
            ast::Item::Attribute(a) | ast::Item::Locked(a) if a.op == ast::AssignOp::Set => {
                out.push((format!("{prefix}{}", a.path.display()), a.path.span))
            }
            ast::Item::Override(o) => out.push((format!("{prefix}{}", o.path.display()), o.path.span)),
            ast::Item::Block(b) if b.labels.is_empty() => {
                out.extend(default_paths(&b.body, &format!("{prefix}{}.", b.kind.name)))
            }
            _ => {}
        }
    }
    out
}

/// An overlay's `schema NAME { ... }` adds to the schema of that name: new
/// attributes and blocks are added, a block the schema has already gains
/// the block's attributes; an attribute declared already is an error
/// unless the overlay says `override NAME = TYPE because "..."`.
fn extend_record(rec: &mut Record, body: &Body, diags: &mut Vec<Diagnostic>) {
    for item in &body.items {
        match item {
            ast::Item::Attribute(a) => {
                let Some(key) = schema::field_name(a, diags) else { continue };
                if let Some(prev) = rec.fields.get(key) {
                    diags.push(redeclared(key, a.path.span, prev.span));
                    continue;
                }
                let (ty, required) = schema::type_from_expr(&a.value, diags);
                rec.fields.insert(key.to_string(), schema::Field { ty, required, span: a.path.span });
            }
            ast::Item::Block(b) if b.labels.is_empty() => match rec.fields.get_mut(&b.kind.name) {
                Some(schema::Field { ty: Type::Record(inner), .. }) => extend_record(inner, &b.body, diags),
                Some(prev) => {
                    let prev = prev.span;
                    diags.push(
                        Diagnostic::error(
                            "platc::library::redeclared",
                            format!("the schema declares `{}` already, and not as a block", b.kind.name),
                        )
                        .label(b.kind.span, "declared again as a block")
                        .also(prev, "declared here")
                        .help(format!(
                            "choose another name, or change its type explicitly: `override {} = TYPE because \"...\"`",
                            b.kind.name
                        )),
                    );
                }
                None => {
                    let inner = schema::record_from_body(&b.body, diags);
                    rec.fields.insert(
                        b.kind.name.clone(),
                        schema::Field { ty: Type::Record(inner), required: false, span: b.kind.span },
                    );
                }
            },
            ast::Item::Override(o) => {
                let key = o.path.display();
                if !rec.fields.contains_key(&key) {
                    diags.push(
                        Diagnostic::error(
                            "platc::library::bad_declaration",
                            format!("`override {key}`: the schema has no `{key}` to override"),
                        )
                        .label(o.path.span, "not declared before")
                        .help(unknown_help(
                            &key,
                            "attribute",
                            rec.fields.keys().map(String::as_str),
                        )),
                    );
                    continue;
                }
                let (ty, required) = schema::type_from_expr(&o.value, diags);
                rec.fields.insert(key, schema::Field { ty, required, span: o.path.span });
            }
            other => diags.push(
                Diagnostic::error("platc::schema::bad_type", "a schema holds `field = type` and blocks")
                    .label(other.span(), "not a field")
                    .help("write `name = type`, a block of fields, or `override name = type because \"...\"`"),
            ),
        }
    }
}

/// An overlay declaring a schema attribute that exists already.
fn redeclared(key: &str, at: Span, prev: Span) -> Diagnostic {
    Diagnostic::error("platc::library::redeclared", format!("the schema declares `{key}` already"))
        .label(at, "declared again here")
        .also(prev, "declared here")
        .help(format!(
            "an overlay adds attributes; to change the type of an existing one say so: `override {key} = TYPE because \"...\"`, or choose another name"
        ))
}

/// Checks a reference used in a policy against the service schema.
fn policy_ref_ok(path: &[String], service: &Record) -> Result<(), String> {
    let (first, rest) = match path.split_first() {
        Some(x) => x,
        None => return Ok(()),
    };
    match first.as_str() {
        "environment" | "workspace" => return Ok(()),
        "service" if rest.first().is_some_and(|r| r == "name") => return Ok(()),
        _ => {}
    }
    let rest = if first == "service" { rest } else { path };
    if let [only] = rest
        && first != "service"
        && !service.fields.contains_key(only)
    {
        return Ok(()); // a bare word: a symbol such as `production`
    }
    let mut rec = service;
    for (i, key) in rest.iter().enumerate() {
        let Some(field) = rec.fields.get(key) else {
            return Err(unknown_help(key, "attribute", rec.fields.keys().map(String::as_str)));
        };
        match &field.ty {
            Type::Record(inner) => rec = inner,
            _ if i + 1 == rest.len() => return Ok(()),
            _ => return Err(format!("`{key}` has no fields")),
        }
    }
    Ok(())
}

fn collect_refs(e: &ast::Expr, out: &mut Vec<(Vec<String>, Span)>) {
    match &e.kind {
        ExprKind::Ref(p) => out.push((p.iter().map(|i| i.name.clone()).collect(), e.span)),
        ExprKind::Binary { lhs, rhs, .. } => {
            collect_refs(lhs, out);
            collect_refs(rhs, out);
        }
        ExprKind::Not(x) => collect_refs(x, out),
        ExprKind::Call { args, .. } | ExprKind::List(args) => args.iter().for_each(|a| collect_refs(a, out)),
        _ => {}
    }
}

fn string_attr(body: &Body, key: &str, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let a = body.get(key)?;
    match &a.value.kind {
        ExprKind::Str(s) if s.as_plain().is_some() => s.as_plain(),
        _ => {
            diags.push(
                Diagnostic::error("platc::library::bad_declaration", format!("`{key}` is a plain string"))
                    .label(a.value.span, "not a plain string"),
            );
            None
        }
    }
}

fn policy(decl: Decl, diags: &mut Vec<Diagnostic>) -> Option<Policy> {
    const FIELDS: &[&str] = &["when", "require", "severity", "message", "help"];
    for item in &decl.body.items {
        let key = match item {
            ast::Item::Attribute(a) => a.path.display(),
            other => {
                diags.push(
                    Diagnostic::error(
                        "platc::library::bad_policy",
                        "a policy holds `when`, `require`, `severity`, `message` and `help`",
                    )
                    .label(other.span(), "not a policy field"),
                );
                continue;
            }
        };
        if !FIELDS.contains(&key.as_str()) {
            diags.push(
                Diagnostic::error("platc::library::bad_policy", format!("unknown policy field `{key}`"))
                    .label(item.span(), "not a policy field")
                    .help(unknown_help(&key, "field", FIELDS.iter().copied())),
            );
        }
    }
    let Some(require) = decl.body.get("require").map(|a| a.value.clone()) else {
        diags.push(
            Diagnostic::error("platc::library::bad_policy", format!("policy `{}` has no `require`", decl.name.name))
                .label(decl.name.span, "nothing to check")
                .help("add `require = <condition>`, such as `require = replicas >= 2`"),
        );
        return None;
    };
    let severity = match decl.body.get("severity").map(|a| (a.value.as_symbol().map(|i| i.name.as_str()), a.value.span))
    {
        None | Some((Some("error"), _)) => Severity::Error,
        Some((Some("warning"), _)) => Severity::Warning,
        Some((_, span)) => {
            diags.push(
                Diagnostic::error("platc::library::bad_policy", "a policy's severity is `error` or `warning`")
                    .label(span, "unknown severity")
                    .help(format!("write `severity = {}`", one_of(&["error", "warning"]))),
            );
            Severity::Error
        }
    };
    let message =
        string_attr(&decl.body, "message", diags).unwrap_or_else(|| format!("policy `{}` failed", decl.name.name));
    let help = string_attr(&decl.body, "help", diags);
    let when = decl.body.get("when").map(|a| a.value.clone());
    let mut selectors = Vec::new();
    crate::check::output::selectors_of(&require, &mut selectors);
    if let Some(w) = &when {
        crate::check::output::selectors_of(w, &mut selectors);
    }
    for (text, span) in &selectors {
        if let Err(why) = crate::check::output::Selector::parse(text) {
            diags.push(
                Diagnostic::error("platc::library::bad_policy", format!("`generated(...)` takes a selector: {why}"))
                    .label(*span, "not a selector")
                    .help("write a plain string: `generated(\"kubernetes/*:..securityContext.privileged\")`"),
            );
        }
    }
    Some(Policy { name: decl.name.clone(), when, require, severity, message, help, span: decl.span, selectors })
}

fn workload(decl: Decl, diags: &mut Vec<Diagnostic>) -> Workload {
    let mut not_for = Vec::new();
    let mut severity = Severity::Error;
    for item in &decl.body.items {
        let ast::Item::Attribute(a) = item else {
            diags.push(
                Diagnostic::error("platc::library::bad_declaration", "a workload holds `ATTRIBUTE = \"why\"` lines")
                    .label(item.span(), "not an attribute")
                    .help("write `expose = \"a worker has no Service: nothing would route to it\"`"),
            );
            continue;
        };
        let key = a.path.display();
        if key == "severity" {
            severity = match a.value.as_symbol().map(|i| i.name.as_str()) {
                Some("warning") => Severity::Warning,
                Some("error") => Severity::Error,
                _ => {
                    diags.push(
                        Diagnostic::error(
                            "platc::library::bad_declaration",
                            "a workload's severity is `error` or `warning`",
                        )
                        .label(a.value.span, "unknown severity"),
                    );
                    Severity::Error
                }
            };
            continue;
        }
        match &a.value.kind {
            ExprKind::Str(s) if s.as_plain().is_some() => {
                not_for.push((key, s.as_plain().unwrap_or_default(), a.path.span));
            }
            _ => diags.push(
                Diagnostic::error("platc::library::bad_declaration", format!("`{key}` says why in a plain string"))
                    .label(a.value.span, "not a plain string")
                    .help(format!("write `{key} = \"why it does not apply\"`")),
            ),
        }
    }
    Workload { name: decl.name, not_for, severity }
}

fn resource_type(decl: Decl, diags: &mut Vec<Diagnostic>) -> ResourceType {
    const FIELDS: &[&str] = &[
        "catalog_type",
        "port",
        "sizes",
        "schema",
        "defaults",
        "outputs",
        "terraform",
        "kubernetes",
        "grant_terraform",
        "clouds",
        "access",
    ];
    let mut sizes = BTreeMap::new();
    let mut rec = Record::default();
    let mut defaults = Body::default();
    let mut outputs = Body::default();
    let mut access = Body::default();
    for item in &decl.body.items {
        match item {
            ast::Item::Block(b) if b.labels.is_empty() => match b.kind.name.as_str() {
                "sizes" => {
                    for size in b.body.blocks() {
                        sizes.insert(size.kind.name.clone(), (size.kind.span, size.body.clone()));
                    }
                }
                "schema" => rec = schema::record_from_body(&b.body, diags),
                "defaults" => defaults = b.body.clone(),
                "outputs" => outputs = b.body.clone(),
                "access" => access = b.body.clone(),
                other => diags.push(
                    Diagnostic::error(
                        "platc::library::bad_declaration",
                        format!("unknown block `{other}` in a resource type"),
                    )
                    .label(b.kind.span, "not part of a resource type")
                    .help(unknown_help(other, "block", FIELDS.iter().copied())),
                ),
            },
            ast::Item::Attribute(a) if FIELDS.contains(&a.path.display().as_str()) => {}
            other => diags.push(
                Diagnostic::error("platc::library::bad_declaration", "unknown field in a resource type")
                    .label(other.span(), "not part of a resource type")
                    .help(format!("a resource type holds {}", FIELDS.join(", "))),
            ),
        }
    }
    if sizes.is_empty() {
        diags.push(
            Diagnostic::error(
                "platc::library::bad_declaration",
                format!("resource type `{}` has no sizes", decl.name.name),
            )
            .label(decl.name.span, "no `sizes { ... }`")
            .help("add `sizes { small { ... } medium { ... } }`"),
        );
    }
    let names: Vec<&str> = sizes.keys().map(String::as_str).collect();
    let size_type = Type::Enum(names.iter().map(|s| s.to_string()).collect());
    rec.fields.insert("size".into(), schema::Field { ty: size_type, required: false, span: decl.name.span });
    for (_, body) in sizes.values() {
        for a in body.attributes() {
            let key = a.path.display();
            rec.fields.entry(key).or_insert(schema::Field { ty: Type::Any, required: false, span: a.path.span });
        }
    }
    let template = |key: &str, example: &str, diags: &mut Vec<Diagnostic>| {
        decl.body.get(key).and_then(|a| match &a.value.kind {
            ExprKind::Call { name, args } if name.name == "template" => match args.as_slice() {
                [ast::Expr { kind: ExprKind::Str(s), span }] => s.as_plain().map(|p| (p, *span)),
                _ => None,
            },
            _ => {
                diags.push(
                    Diagnostic::error("platc::library::bad_declaration", format!("`{key}` names a template"))
                        .label(a.value.span, "not a template reference")
                        .help(format!("write `{key} = template(\"{example}\")`")),
                );
                None
            }
        })
    };
    let terraform = template("terraform", "terraform/postgres.tf.hbs", diags);
    let kubernetes = template("kubernetes", "kubernetes/resources/cache.yaml.hbs", diags);
    let grant_terraform = template("grant_terraform", "terraform/grants/queue.tf.hbs", diags);
    // The levels a grant may give, each a list of what it allows.
    let levels: Vec<String> =
        access.attributes().map(|a| a.path.display()).chain(access.blocks().map(|b| b.kind.name.clone())).collect();
    rec.fields.insert(
        "grants".into(),
        schema::Field { ty: Type::Map(Box::new(Type::Enum(levels))), required: false, span: decl.name.span },
    );
    let clouds = match decl.body.get("clouds").map(|a| (&a.value.kind, a.value.span)) {
        None if terraform.is_some() => Some(vec!["aws".to_string()]),
        None => None,
        Some((ExprKind::Ref(p), _)) if p.len() == 1 && p.first().is_some_and(|i| i.name == "any") => None,
        Some((ExprKind::List(items), _)) if items.iter().all(|i| i.as_symbol().is_some()) => {
            Some(items.iter().filter_map(|i| i.as_symbol().map(|s| s.name.clone())).collect())
        }
        Some((_, span)) => {
            diags.push(
                Diagnostic::error("platc::library::bad_declaration", "`clouds` lists the clouds that offer the type")
                    .label(span, "not a list of clouds")
                    .help("write `clouds = [aws]`, or `clouds = any` for a type that runs in the cluster"),
            );
            None
        }
    };
    let catalog_type = string_attr(&decl.body, "catalog_type", diags).unwrap_or_else(|| "resource".into());
    let port = decl
        .body
        .get("port")
        .and_then(|a| match a.value.kind {
            ExprKind::Number { value, .. } if value.fract() == 0.0 && (1.0..=65535.0).contains(&value) => {
                Some(value as i64)
            }
            _ => None,
        })
        .unwrap_or(443);
    ResourceType {
        decl,
        sizes,
        schema: rec,
        defaults,
        outputs,
        terraform,
        catalog_type,
        port,
        kubernetes,
        grant_terraform,
        clouds,
        access,
    }
}
