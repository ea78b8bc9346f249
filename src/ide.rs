//! What an editor asks of a compilation, in the language's own terms: what
//! is under the cursor, where a name is declared, what may be written here,
//! the outline of a file and the fixes a diagnostic's help spells out.
//!
//! Pure functions of a [`Compiled`] and a document's text, in byte offsets
//! and [`Span`]s; the language server (`platc lsp`, in the CLI) speaks the
//! protocol, converts positions ([`position`], [`offset`]: UTF-16 code
//! units, as LSP counts them) and does the I/O. Hover reuses
//! [`explain`](crate::explain), so it shows what `platc explain` shows.
//! A dotted name (a setting's reference, a `${...}`, a name in a policy's
//! condition) is read as [`crate::scope`] reads it at that place, the same
//! classification the compiler makes there.

use crate::Compiled;
use crate::ast::{self, Block, Body, Expr, ExprKind, Item, StrPart};
use crate::diag::Diagnostic;
use crate::model::Model;
use crate::schema::{Record, Type};
use crate::scope::{Found, Meaning, Place, Scope, classify, resource_of};
use crate::span::{SourceMap, Span};
use crate::value::{Map, Origin, Value};
use crate::workspace::Environment;

/// The zero-based line and UTF-16 column of a byte offset (clamped to the
/// text; an offset inside a character counts from that character's start).
pub fn position(text: &str, offset: usize) -> (u32, u32) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or("");
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count();
    let col: usize = before.get(line_start..).unwrap_or("").chars().map(char::len_utf16).sum();
    (clamp(line), clamp(col))
}

/// The byte offset of a zero-based line and UTF-16 column; a column past
/// the line's end means its end, a line past the text's end means the end.
pub fn offset(text: &str, line: u32, character: u32) -> usize {
    let mut start = 0usize;
    for _ in 0..line {
        match text.get(start..).and_then(|t| t.find('\n')) {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let rest = text.get(start..).unwrap_or("");
    let line_text = rest.split('\n').next().unwrap_or("");
    let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
    let mut units = 0usize;
    for (i, c) in line_text.char_indices() {
        if units >= character as usize {
            return start + i;
        }
        units += c.len_utf16();
    }
    start + line_text.len()
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A node of a file's outline.
#[derive(Clone, Debug, PartialEq)]
pub struct Symbol {
    pub name: String,
    /// The kind of block (`service`, `resource postgres`, ...) or the value
    /// as written, for an attribute.
    pub detail: String,
    pub kind: SymbolKind,
    /// The whole item.
    pub span: Span,
    /// Its name.
    pub name_span: Span,
    pub children: Vec<Symbol>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    /// `service`, `workspace` and standard-library declarations.
    Declaration,
    Environment,
    Resource,
    Api,
    /// Any other block (`health { ... }`, `patch ...`).
    Block,
    Attribute,
    /// `override` and `allow`.
    Escape,
}

/// The outline of a parsed file: its blocks and attributes, nested.
pub fn document_symbols(file: &ast::File, text: &str) -> Vec<Symbol> {
    body_symbols(&file.body, text)
}

fn body_symbols(body: &Body, text: &str) -> Vec<Symbol> {
    body.items.iter().map(|i| item_symbol(i, text)).collect()
}

fn slice(text: &str, span: Span) -> String {
    text.get(span.range()).unwrap_or("").to_string()
}

fn item_symbol(item: &Item, text: &str) -> Symbol {
    match item {
        Item::Attribute(a) | Item::Locked(a) => Symbol {
            name: a.path.display(),
            detail: slice(text, a.value.span),
            kind: SymbolKind::Attribute,
            span: a.span,
            name_span: a.path.span,
            children: match &a.value.kind {
                ExprKind::Map(b) | ExprKind::Tagged { body: b, .. } => body_symbols(b, text),
                _ => Vec::new(),
            },
        },
        Item::Override(o) => Symbol {
            name: o.path.display(),
            detail: format!("override = {}", slice(text, o.value.span)),
            kind: SymbolKind::Escape,
            span: o.span,
            name_span: o.path.span,
            children: Vec::new(),
        },
        Item::Allow(a) => Symbol {
            name: a.policy.name.clone(),
            detail: "allow".into(),
            kind: SymbolKind::Escape,
            span: a.span,
            name_span: a.policy.span,
            children: Vec::new(),
        },
        Item::Patch(p) => Symbol {
            name: format!("{} {}", p.target.name, p.kind.name),
            detail: "patch".into(),
            kind: SymbolKind::Block,
            span: p.span,
            name_span: p.target.span.to(p.kind.span),
            children: p.sets.iter().map(|a| item_symbol(&Item::Attribute(a.clone()), text)).collect(),
        },
        Item::Block(b) => block_symbol(b, text),
    }
}

fn block_symbol(b: &Block, text: &str) -> Symbol {
    let kind = match b.kind.name.as_str() {
        "environment" => SymbolKind::Environment,
        "resource" => SymbolKind::Resource,
        "api" => SymbolKind::Api,
        _ if !b.labels.is_empty() => SymbolKind::Declaration,
        _ => SymbolKind::Block,
    };
    // `resource postgres orders-db`: named by its last label, its type in the detail.
    let (name, name_span, detail) = match b.labels.split_last() {
        Some((last, rest)) => {
            let mut detail = std::iter::once(b.kind.name.as_str())
                .chain(rest.iter().map(|l| l.name.as_str()))
                .collect::<Vec<_>>()
                .join(" ");
            if let Some(f) = &b.from {
                detail.push_str(&format!(" from {}", f.name));
            }
            (last.name.clone(), last.span, detail)
        }
        None => (b.kind.name.clone(), b.kind.span, String::new()),
    };
    Symbol { name, detail, kind, span: b.span, name_span, children: body_symbols(&b.body, text) }
}

/// What the cursor is on, in a service file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hit {
    /// An attribute of a service (`health.liveness`); `env` when written
    /// inside `environment NAME { ... }`.
    Attribute {
        service: String,
        path: String,
        env: Option<String>,
        span: Span,
    },
    GoldenPath(String, Span),
    ResourceType(String, Span),
    Tier(String, Span),
    Language(String, Span),
    Policy(String, Span),
    /// Another service, named in a reference or `depends_on`.
    Service(String, Span),
    /// A resource of `service`, named in a reference or `depends_on`.
    Resource {
        service: String,
        name: String,
        span: Span,
    },
    /// A part of another service's address (`orders.url`, `${orders.addr}`),
    /// in environment `env` (or each).
    Address {
        service: String,
        part: String,
        env: Option<String>,
        span: Span,
    },
    /// An output of a resource `service` owns (`payments-db.url`, or a
    /// granted one: `bookings.booking-events.url`).
    Output {
        service: String,
        resource: String,
        output: String,
        env: Option<String>,
        span: Span,
    },
    /// `workspace` as the root of a name.
    Workspace(Span),
    /// `environment` as the root of a name (or alone in a condition): the
    /// environment `env`, or each.
    Environment {
        env: Option<String>,
        span: Span,
    },
    /// A value a string or a condition names through a root
    /// (`${service.name}`, `workspace.registry`, `environment.cluster`) or,
    /// in a condition, unprefixed (`replicas`). `service` is `None` in a
    /// policy, which every service meets.
    Value {
        service: Option<String>,
        env: Option<String>,
        name: Named,
        span: Span,
    },
}

/// What a [`Hit::Value`] names, as [`crate::scope::classify`] reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Named {
    ServiceName,
    /// An attribute of the service (its path, not empty).
    Attribute(Vec<String>),
    /// A value of the environment (its path, not empty).
    Environment(Vec<String>),
    Workspace(String),
}

impl Hit {
    /// The span of the text the hit is about.
    pub fn span(&self) -> Span {
        match self {
            Hit::Attribute { span, .. }
            | Hit::GoldenPath(_, span)
            | Hit::ResourceType(_, span)
            | Hit::Tier(_, span)
            | Hit::Language(_, span)
            | Hit::Policy(_, span)
            | Hit::Service(_, span)
            | Hit::Resource { span, .. }
            | Hit::Address { span, .. }
            | Hit::Output { span, .. }
            | Hit::Workspace(span)
            | Hit::Environment { span, .. }
            | Hit::Value { span, .. } => *span,
        }
    }
}

fn within(span: Span, offset: usize) -> bool {
    (span.start as usize) <= offset && offset <= span.end as usize
}

/// What is at `offset` in a parsed file (the one that `compiled` holds, or
/// a newer text of it: names are looked up in `compiled`'s library and model).
pub fn hit_at(file: &ast::File, offset: usize, compiled: &Compiled) -> Option<Hit> {
    for b in file.body.blocks().filter(|b| within(b.span, offset)) {
        match b.kind.name.as_str() {
            "service" => {
                let service = b.labels.first()?.name.clone();
                if let Some(f) = b.from.as_ref().filter(|f| within(f.span, offset)) {
                    return Some(Hit::GoldenPath(f.name.clone(), f.span));
                }
                let cx = Walk { compiled, service: Some(service), offset };
                return cx.body(&b.body, &[], None);
            }
            // A policy's conditions: no one service's (every service meets them).
            "policy" => {
                let cx = Walk { compiled, service: None, offset };
                let cond = b.body.attributes().find(|a| {
                    matches!(a.path.keys().as_deref(), Some(["when" | "require"])) && within(a.value.span, offset)
                })?;
                return cx.condition(&cond.value);
            }
            _ => {}
        }
    }
    None
}

struct Walk<'a> {
    compiled: &'a Compiled,
    /// The service whose file it is; `None` in a policy.
    service: Option<String>,
    offset: usize,
}

impl Walk<'_> {
    fn body(&self, body: &Body, prefix: &[String], env: Option<&str>) -> Option<Hit> {
        let item = body.items.iter().find(|i| within(i.span(), self.offset))?;
        match item {
            Item::Attribute(a) | Item::Locked(a) => self.attribute(&a.path, &a.value, prefix, env),
            Item::Override(o) => self.attribute(&o.path, &o.value, prefix, env),
            Item::Allow(a) => {
                within(a.policy.span, self.offset).then(|| Hit::Policy(a.policy.name.clone(), a.policy.span))
            }
            Item::Patch(_) => None,
            Item::Block(b) => match (b.kind.name.as_str(), b.labels.as_slice()) {
                ("environment", [name]) => self.body(&b.body, prefix, Some(&name.name)),
                ("resource", [ty, ..]) if within(ty.span, self.offset) => {
                    Some(Hit::ResourceType(ty.name.clone(), ty.span))
                }
                ("resource", [_, name]) if within(name.span, self.offset) => Some(Hit::Resource {
                    service: self.service.clone().unwrap_or_default(),
                    name: name.name.clone(),
                    span: name.span,
                }),
                ("resource" | "api", _) => self.values(&b.body, env),
                (kind, []) if within(b.kind.span, self.offset) => {
                    Some(self.attribute_hit(&[prefix, &[kind.to_string()]].concat(), env, b.kind.span))
                }
                (kind, []) => self.body(&b.body, &[prefix, &[kind.to_string()]].concat(), env),
                _ => None,
            },
        }
    }

    /// Names used in the values of a block whose attributes are not the
    /// service's own (a resource's, an API's).
    fn values(&self, body: &Body, env: Option<&str>) -> Option<Hit> {
        let item = body.items.iter().find(|i| within(i.span(), self.offset))?;
        match item {
            Item::Attribute(a) if within(a.value.span, self.offset) => self.expr(&a.value, None, env),
            _ => None,
        }
    }

    fn attribute(&self, path: &ast::Path, value: &Expr, prefix: &[String], env: Option<&str>) -> Option<Hit> {
        if within(path.span, self.offset) {
            let mut keys = prefix.to_vec();
            keys.extend(path.keys()?.into_iter().map(str::to_string));
            return Some(self.attribute_hit(&keys, env, path.span));
        }
        if !within(value.span, self.offset) {
            return None;
        }
        let key = path.keys().and_then(|k| k.last().map(|s| s.to_string()));
        match &value.kind {
            ExprKind::Map(b) => {
                let mut keys = prefix.to_vec();
                keys.extend(path.keys()?.into_iter().map(str::to_string));
                self.body(b, &keys, env)
            }
            _ => self.expr(value, key.as_deref(), env),
        }
    }

    fn attribute_hit(&self, keys: &[String], env: Option<&str>, span: Span) -> Hit {
        Hit::Attribute {
            service: self.service.clone().unwrap_or_default(),
            path: keys.join("."),
            env: env.map(str::to_string),
            span,
        }
    }

    /// A value of the service: a dotted name in it is a setting's
    /// reference, and `${...}` in a string an interpolation.
    fn expr(&self, e: &Expr, key: Option<&str>, env: Option<&str>) -> Option<Hit> {
        match &e.kind {
            ExprKind::Ref(parts) if parts.len() > 1 => {
                let segments: Vec<(String, Span)> = parts.iter().map(|i| (i.name.clone(), i.span)).collect();
                self.dotted(&segments, Place::Setting, env)
            }
            ExprKind::Ref(parts) => {
                let first = parts.first().filter(|i| within(i.span, self.offset))?;
                self.name(&first.name, first.span, key)
            }
            ExprKind::Str(lit) => self.interpolation(lit, Place::String, env),
            ExprKind::List(items) | ExprKind::Call { args: items, .. } => {
                items.iter().find(|x| within(x.span, self.offset)).and_then(|x| self.expr(x, key, env))
            }
            ExprKind::Map(b) | ExprKind::Tagged { body: b, .. } => self.values(b, env),
            ExprKind::Binary { lhs, rhs, .. } => {
                [lhs, rhs].into_iter().find(|x| within(x.span, self.offset)).and_then(|x| self.expr(x, key, env))
            }
            ExprKind::Not(x) => self.expr(x, key, env),
            _ => None,
        }
    }

    /// A policy's condition: every name in it, and in its strings'
    /// `${...}`, is read as a condition reads it.
    fn condition(&self, e: &Expr) -> Option<Hit> {
        match &e.kind {
            ExprKind::Ref(parts) => {
                let segments: Vec<(String, Span)> = parts.iter().map(|i| (i.name.clone(), i.span)).collect();
                self.dotted(&segments, Place::Condition, None)
            }
            ExprKind::Str(lit) => self.interpolation(lit, Place::Condition, None),
            ExprKind::List(items) | ExprKind::Call { args: items, .. } => {
                items.iter().find(|x| within(x.span, self.offset)).and_then(|x| self.condition(x))
            }
            ExprKind::Binary { lhs, rhs, .. } => {
                [lhs, rhs].into_iter().find(|x| within(x.span, self.offset)).and_then(|x| self.condition(x))
            }
            ExprKind::Not(x) => self.condition(x),
            _ => None,
        }
    }

    /// The `${...}` of a string the cursor is in.
    fn interpolation(&self, lit: &ast::StrLit, place: Place, env: Option<&str>) -> Option<Hit> {
        lit.parts.iter().find_map(|p| match p {
            StrPart::Interp(path, span) if within(*span, self.offset) => {
                self.dotted(&interpolation_segments(path, *span), place, env)
            }
            _ => None,
        })
    }

    /// A dotted name at `place`, read as the compiler reads it there
    /// ([`crate::scope::classify`], with the service's own resources): the
    /// segment the cursor is on says which part of it is meant. On the
    /// first of `orders.url`, the service; on the last, its address. On the
    /// first of `db.url`, the resource; on the last, its output. On the
    /// root of `service.name`, `workspace.registry`, `environment.cluster`,
    /// the service, workspace or environment; further on, the value the
    /// name up to that segment names.
    fn dotted(&self, segments: &[(String, Span)], place: Place, env: Option<&str>) -> Option<Hit> {
        let at = segments.iter().position(|(_, s)| within(*s, self.offset))?;
        let span = segments.get(at)?.1;
        let path: Vec<String> = segments.iter().map(|(n, _)| n.clone()).collect();
        let service = self.service.as_deref();
        let svc = service.and_then(|s| self.compiled.model.as_ref()?.service(s));
        let inst = svc.and_then(|s| env.and_then(|e| s.instance(e)).or_else(|| s.instances.first()));
        let own = |n: &str| inst.is_some_and(|i| i.resources.iter().any(|r| r.name == n));
        let env = env.map(str::to_string);
        let whole = classify(&path, place, own);
        // An output, the service's own (`db.url`) or granted
        // (`orders.events.url`): before the resource's segment its owner,
        // on it the resource, after it the output.
        let output = match whole {
            Meaning::Output { resource, output } => Some((service?, resource, output, 0)),
            Meaning::Granted { owner, resource, output } => Some((owner, resource, output, 1)),
            _ => None,
        };
        if let Some((owner, resource, output, on_resource)) = output {
            let service = owner.to_string();
            return Some(match at.cmp(&on_resource) {
                std::cmp::Ordering::Less => Hit::Service(service, span),
                std::cmp::Ordering::Equal => Hit::Resource { service, name: resource.to_string(), span },
                std::cmp::Ordering::Greater => {
                    Hit::Output { service, resource: resource.to_string(), output: output.to_string(), env, span }
                }
            });
        }
        match whole {
            Meaning::Address { service, .. } if at == 0 => return Some(Hit::Service(service.to_string(), span)),
            Meaning::Address { service, part } => {
                return Some(Hit::Address { service: service.to_string(), part: part.to_string(), env, span });
            }
            Meaning::Other => return None,
            _ => {}
        }
        // Named through a root, or (in a condition) an unprefixed attribute.
        let rooted = !matches!(whole, Meaning::Attribute(rest) if rest.len() == path.len());
        if rooted && at == 0 {
            return match path.first()?.as_str() {
                "service" => Some(Hit::Service(service?.to_string(), span)),
                "workspace" => Some(Hit::Workspace(span)),
                _ => Some(Hit::Environment { env, span }),
            };
        }
        let name = match classify(path.get(..=at)?, place, own) {
            Meaning::ServiceName => Named::ServiceName,
            Meaning::Attribute(rest) if !rest.is_empty() => Named::Attribute(rest.to_vec()),
            Meaning::EnvironmentName | Meaning::Environment([]) => return Some(Hit::Environment { env, span }),
            Meaning::Environment(rest) => Named::Environment(rest.to_vec()),
            Meaning::Workspace(key) => Named::Workspace(key.to_string()),
            _ => return None,
        };
        Some(Hit::Value { service: service.map(str::to_string), env, name, span })
    }

    /// A name in a value: a tier or language where the attribute takes one,
    /// else a resource of this service or another service.
    fn name(&self, name: &str, span: Span, key: Option<&str>) -> Option<Hit> {
        let lib = self.compiled.library.as_ref();
        if key == Some("tier") && lib.is_some_and(|l| l.tiers.contains_key(name)) {
            return Some(Hit::Tier(name.to_string(), span));
        }
        if key == Some("language") && lib.is_some_and(|l| l.languages.contains_key(name)) {
            return Some(Hit::Language(name.to_string(), span));
        }
        let model = self.compiled.model.as_ref()?;
        let service = self.service.as_deref()?;
        let own = model.service(service);
        if own.and_then(|s| s.instances.first()).is_some_and(|i| i.resources.iter().any(|r| r.name == name)) {
            return Some(Hit::Resource { service: service.to_string(), name: name.to_string(), span });
        }
        model.service(name).map(|_| Hit::Service(name.to_string(), span))
    }
}

/// The segments of `${a.b.c}` with their spans (`span` is the name's: the
/// parser allows no space around a dot).
fn interpolation_segments(path: &[String], span: Span) -> Vec<(String, Span)> {
    let mut start = span.start as usize;
    path.iter()
        .map(|p| {
            let s = Span::new(span.file, start, start + p.len());
            start += p.len() + 1;
            (p.clone(), s)
        })
        .collect()
}

/// Where the thing hit is declared, if it is a declaration.
pub fn definition(compiled: &Compiled, hit: &Hit) -> Option<Span> {
    let lib = compiled.library.as_ref();
    let model = compiled.model.as_ref();
    match hit {
        Hit::GoldenPath(n, _) => lib?.golden_paths.get(n).map(|d| d.name.span),
        Hit::ResourceType(n, _) => lib?.resource_types.get(n).map(|r| r.decl.name.span),
        Hit::Tier(n, _) => lib?.tiers.get(n).map(|d| d.name.span),
        Hit::Language(n, _) => lib?.languages.get(n).map(|d| d.name.span),
        Hit::Policy(n, _) => lib?.policies.get(n).map(|p| p.name.span),
        Hit::Service(n, _) => model?.service(n).map(|s| s.name_span),
        Hit::Resource { service, name, .. } => {
            let s = model?.service(service)?;
            s.instances.first()?.resources.iter().find(|r| &r.name == name).map(|r| r.span)
        }
        Hit::Attribute { path, .. } => {
            let service = lib?.schemas.get("service")?;
            field(service, path).map(|f| f.span)
        }
        Hit::Address { service, part, .. } => {
            crate::scope::ADDRESS_PARTS.contains(&part.as_str()).then_some(())?;
            model?.service(service).map(|s| s.name_span)
        }
        Hit::Output { service, resource, output, env, .. } => {
            output_resource(model?, service, resource, output, env.as_deref()).map(|r| r.span)
        }
        Hit::Workspace(_) => Some(model?.workspace.span),
        Hit::Environment { env, .. } => {
            let model = model?;
            envs(model, env.as_deref()).into_iter().find_map(|e| environment(model, e)).map(|e| e.span)
        }
        Hit::Value { service, env, name, .. } => value_definition(compiled, service.as_deref(), env.as_deref(), name),
    }
}

/// The resource `service` owns (in `env`, or the first environment it is
/// in) that has `output`.
fn output_resource<'m>(
    model: &'m Model,
    service: &str,
    resource: &str,
    output: &str,
    env: Option<&'m str>,
) -> Option<&'m crate::model::Resource> {
    let r = envs(model, env).into_iter().find_map(|e| resource_of(model, service, e, resource))?;
    r.outputs.contains_key(output).then_some(r)
}

/// The environments a name is read in: the one it is written in, or each.
fn envs<'m>(model: &'m Model, env: Option<&'m str>) -> Vec<&'m str> {
    match env {
        Some(e) => vec![e],
        None => model.workspace.environment_names().collect(),
    }
}

fn environment<'m>(model: &'m Model, name: &str) -> Option<&'m Environment> {
    model.workspace.environments.iter().find(|e| e.name == name)
}

/// What `service` (none: a policy's, which reads no service's values) sees
/// in environment `env`.
fn scope_in<'m>(model: &'m Model, service: Option<&'m str>, env: &str) -> Option<Scope<'m>> {
    static NONE: Map = Map::new();
    let inst = service.and_then(|s| model.service(s)?.instance(env));
    Some(Scope {
        service: service.unwrap_or(""),
        values: inst.map_or(&NONE, |i| &i.values),
        resources: inst.map_or(&[], |i| &i.resources),
        workspace: &model.workspace,
        environment: environment(model, env)?,
    })
}

impl Named {
    fn meaning(&self) -> Meaning<'_> {
        match self {
            Named::ServiceName => Meaning::ServiceName,
            Named::Attribute(path) => Meaning::Attribute(path),
            Named::Environment(path) => Meaning::Environment(path),
            Named::Workspace(key) => Meaning::Workspace(key),
        }
    }

    /// The name as written in a string.
    fn dotted(&self) -> String {
        match self {
            Named::ServiceName => "service.name".into(),
            Named::Attribute(path) => format!("service.{}", path.join(".")),
            Named::Environment(path) => format!("environment.{}", path.join(".")),
            Named::Workspace(key) => format!("workspace.{key}"),
        }
    }

    /// Its field in the schema (of a service, or of an environment).
    fn field<'l>(&self, compiled: &'l Compiled) -> Option<&'l crate::schema::Field> {
        let (schema, path) = match self {
            Named::Attribute(path) => ("service", path),
            Named::Environment(path) => ("environment", path),
            _ => return None,
        };
        field(compiled.library.as_ref()?.schemas.get(schema)?, &path.join("."))
    }
}

/// Where an assignment is written: its key, else its value (never a value
/// platc computed, which is written nowhere).
fn written(origin: &Origin) -> Option<Span> {
    let span = origin.key.unwrap_or(origin.span);
    (span != Span::default()).then_some(span)
}

/// Where a workspace value is set: its attribute in the workspace
/// declaration (`region` in `cloud = aws { region = ... }`, `name` its label).
fn workspace_origin(ws: &crate::workspace::Workspace, key: &str) -> Option<Span> {
    match key {
        "name" => Some(ws.span),
        "region" => match &ws.values.get("cloud")?.value {
            Value::Tagged(_, m) => written(&m.get("region")?.origin),
            _ => None,
        },
        _ => written(&ws.values.get(key)?.origin),
    }
}

/// Where the value a [`Hit::Value`] names is set, as the scope finds it: in
/// the environment it is written in, or the first that sets it (the
/// service's own assignment, a golden path's, a standard-library default,
/// the environment's or the workspace's declaration); else the schema's
/// field.
fn value_definition(compiled: &Compiled, service: Option<&str>, env: Option<&str>, name: &Named) -> Option<Span> {
    let model = compiled.model.as_ref()?;
    match name {
        Named::ServiceName => return Some(model.service(service?)?.name_span),
        Named::Workspace(key) => return workspace_origin(&model.workspace, key),
        Named::Attribute(_) | Named::Environment(_) => {}
    }
    let set = envs(model, env).into_iter().find_map(|e| match scope_in(model, service, e)?.find(name.meaning()) {
        Found::Value(_, Some(origin)) => written(origin),
        _ => None,
    });
    set.or_else(|| name.field(compiled).map(|f| f.span))
}

fn field<'a>(rec: &'a Record, dotted: &str) -> Option<&'a crate::schema::Field> {
    let mut rec = rec;
    let mut keys = dotted.split('.').peekable();
    while let Some(k) = keys.next() {
        let f = rec.fields.get(k)?;
        if keys.peek().is_none() {
            return Some(f);
        }
        match &f.ty {
            Type::Record(inner) => rec = inner,
            _ => return None,
        }
    }
    None
}

/// Markdown for a hover: for an attribute, its value in each environment
/// (the one it is written in, when inside `environment NAME`) with the chain
/// of assignments that set it, as `platc explain` prints it. Needs a
/// compilation made with `Options { trace: true, .. }`.
pub fn hover(compiled: &Compiled, hit: &Hit) -> Option<String> {
    let place = |span: Span| crate::explain::place(&compiled.files, span);
    match hit {
        Hit::Attribute { service, path, env, .. } => attribute_hover(compiled, service, path, env.as_deref()),
        Hit::Address { service, part, env, .. } => {
            let span = definition(compiled, hit)?;
            let model = compiled.model.as_ref()?;
            let lines = each_env(model, env.as_deref(), |e| {
                match crate::scope::outside(model, e, Meaning::Address { service, part }) {
                    Found::Text(t) => Some(t.into_owned()),
                    _ => None,
                }
            });
            let at = place(span);
            Some(format!("`{service}.{part}`: the {part} of service `{service}`, declared at {at}{}", shown(&lines)))
        }
        Hit::Output { service, resource, output, env, .. } => {
            let model = compiled.model.as_ref()?;
            let r = output_resource(model, service, resource, output, env.as_deref())?;
            let lines = each_env(model, env.as_deref(), |e| {
                match crate::scope::outside(model, e, Meaning::Granted { owner: service, resource, output }) {
                    Found::Value(v, _) => Some(crate::merge::display(&v)),
                    _ => None,
                }
            });
            let (ty, at) = (&r.ty, place(r.span));
            Some(format!(
                "output `{output}` of {ty} `{resource}` of service `{service}`, declared at {at}{}",
                shown(&lines)
            ))
        }
        Hit::Workspace(_) => {
            let span = definition(compiled, hit)?;
            Some(format!("workspace `{}`, declared at {}", compiled.model.as_ref()?.workspace.name, place(span)))
        }
        Hit::Environment { env, .. } => {
            let model = compiled.model.as_ref()?;
            let lines: Vec<String> = envs(model, env.as_deref())
                .into_iter()
                .filter_map(|e| environment(model, e))
                .map(|e| format!("environment `{}`, declared at {}", e.name, place(e.span)))
                .collect();
            (!lines.is_empty()).then(|| lines.join("\n\n"))
        }
        Hit::Value { service, env, name, .. } => value_hover(compiled, service.as_deref(), env.as_deref(), name),
        other => {
            let span = definition(compiled, other)?;
            let (what, name) = match other {
                Hit::GoldenPath(n, _) => ("golden path", n),
                Hit::ResourceType(n, _) => ("resource type", n),
                Hit::Tier(n, _) => ("tier", n),
                Hit::Language(n, _) => ("language", n),
                Hit::Policy(n, _) => ("policy", n),
                Hit::Service(n, _) => ("service", n),
                Hit::Resource { name, .. } => ("resource", name),
                _ => return None,
            };
            let mut out = format!("{what} `{name}`, declared at {}", place(span));
            if let Hit::Resource { service, name, .. } = other {
                out.push_str(&resource_summary(compiled, service, name));
            }
            Some(out)
        }
    }
}

/// An attribute of a service: its value in each environment (or `env`)
/// with the chain of assignments that set it, as `platc explain` prints it.
fn attribute_hover(compiled: &Compiled, service: &str, path: &str, env: Option<&str>) -> Option<String> {
    let model = compiled.model.as_ref()?;
    let mut out = String::new();
    for e in envs(model, env) {
        if let Ok(x) = crate::explain::explain(compiled, service, path, Some(e)) {
            out.push_str(&crate::explain::render(&x));
        }
    }
    let ty = compiled
        .library
        .as_ref()
        .and_then(|l| l.schemas.get("service"))
        .and_then(|s| field(s, path))
        .map(|f| format!("`{path}`: {}\n\n", f.ty.describe()))
        .unwrap_or_default();
    if out.is_empty() && ty.is_empty() {
        return None;
    }
    Some(if out.is_empty() { ty } else { format!("{ty}```text\n{out}```\n") })
}

/// What `text` gives in each environment (or `env`), where it gives anything.
fn each_env(model: &Model, env: Option<&str>, mut text: impl FnMut(&str) -> Option<String>) -> Vec<(String, String)> {
    envs(model, env).into_iter().filter_map(|e| Some((e.to_string(), text(e)?))).collect()
}

/// Values by environment for a hover: one line when they are all the same,
/// else a line each.
fn shown(lines: &[(String, String)]) -> String {
    match lines {
        [] => String::new(),
        [(_, first), rest @ ..] if rest.iter().all(|(_, t)| t == first) => format!("\n\n```text\n{first}\n```\n"),
        _ => {
            let each: Vec<String> = lines.iter().map(|(e, t)| format!("{e}: {t}\n")).collect();
            format!("\n\n```text\n{}```\n", each.concat())
        }
    }
}

/// A value named through a root, or in a condition: for an attribute of
/// the service, as [`attribute_hover`]; else the value the scope finds in
/// each environment (or `env`) and where it is set.
fn value_hover(compiled: &Compiled, service: Option<&str>, env: Option<&str>, name: &Named) -> Option<String> {
    let model = compiled.model.as_ref()?;
    match (name, service) {
        (Named::Attribute(path), Some(s)) => return attribute_hover(compiled, s, &path.join("."), env),
        (Named::ServiceName, None) => return Some("`service.name`: the name of the service the policy checks".into()),
        _ => {}
    }
    let mut set = false;
    let lines = each_env(model, env, |e| {
        let text = match scope_in(model, service, e)?.find(name.meaning()) {
            Found::Text(t) => format!("{t:?}"),
            Found::Value(v, origin) => {
                let at = match name {
                    Named::Workspace(key) => workspace_origin(&model.workspace, key),
                    _ => origin.and_then(written),
                };
                let at = at.map(|s| format!(", set at {}", crate::explain::place(&compiled.files, s)));
                format!("{}{}", crate::merge::display(&v), at.unwrap_or_default())
            }
            _ => return Some("not set".into()),
        };
        set = true;
        Some(text)
    });
    let field = name.field(compiled);
    if !set && field.is_none() {
        return None;
    }
    let ty = field.map(|f| format!(": {}", f.ty.describe())).unwrap_or_default();
    let dotted = match (name, service) {
        // A condition names the service's attributes unprefixed.
        (Named::Attribute(path), None) => path.join("."),
        _ => name.dotted(),
    };
    Some(format!("`{dotted}`{ty}{}", if set { shown(&lines) } else { String::new() }))
}

/// A resource's type, values in each environment and outputs.
fn resource_summary(compiled: &Compiled, service: &str, name: &str) -> String {
    let Some(s) = compiled.model.as_ref().and_then(|m| m.service(service)) else { return String::new() };
    let mut out = String::new();
    for inst in s.instances.iter() {
        let Some(r) = inst.resources.iter().find(|r| r.name == name) else { continue };
        if out.is_empty() {
            out.push_str(&format!("\n\n{} `{}`; outputs: ", r.ty, r.name));
            let outputs: Vec<String> = r.outputs.keys().map(|k| format!("`{name}.{k}`")).collect();
            out.push_str(&outputs.join(", "));
            out.push_str("\n\n```text\n");
        }
        let values: Vec<String> =
            r.values.iter().map(|(k, n)| format!("{k} = {}", crate::merge::display(&n.value))).collect();
        out.push_str(&format!("{}: {}\n", inst.env, values.join("  ")));
    }
    if !out.is_empty() {
        out.push_str("```\n");
    }
    out
}

/// One completion.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CompletionKind {
    /// An attribute of the schema, or a nested block of it.
    Attribute,
    /// `resource`, `environment`, `override`, ...
    Keyword,
    /// A tier, golden path, resource type, size, language, enum value.
    Symbol,
    Service,
    Resource,
    /// An output of a resource or service (`url`).
    Output,
}

/// What may be written at `offset` of `text`, the document at `path`
/// (workspace-relative). Works on the text as typed (broken or not): the
/// context is read from the text, the names from `compiled`.
pub fn completions(compiled: &Compiled, path: &str, text: &str, offset: usize) -> Vec<Completion> {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or("");
    let word_start = before.rfind(|c: char| !is_word(c)).map_or(0, |i| i + 1);
    let head = before.get(..word_start).unwrap_or("");
    let line = head.rsplit('\n').next().unwrap_or("");
    let lead = line.trim_end();
    let blocks = enclosing(before);
    let service = own_service(compiled, path, &blocks);
    let mut out = Vec::new();
    let sym = |out: &mut Vec<Completion>, names: &mut dyn Iterator<Item = &String>, detail: &str| {
        out.extend(names.map(|n| Completion { label: n.clone(), kind: CompletionKind::Symbol, detail: detail.into() }));
    };
    let lib = compiled.library.as_ref();
    // `name.` : what may follow, as the scope reads the name; after a
    // service's name also the resources it grants this one
    // (`owner.resource.output`).
    if let Some(target) = head.strip_suffix('.') {
        out.extend(after_dot(compiled, text, service.as_deref(), target));
        let start = target.rfind(|c: char| !is_word(c) && c != '.').map_or(0, |i| i + 1);
        if let Some(owner) = target.get(start..).filter(|c| !c.contains('.')) {
            out.extend(granted(compiled, service.as_deref(), owner));
        }
        return out;
    }
    // `"...${` : what a string may interpolate.
    if head.ends_with("${") {
        for root in ["service", "workspace", "environment"] {
            out.push(Completion {
                label: root.into(),
                kind: CompletionKind::Keyword,
                detail: "interpolation root".into(),
            });
        }
        out.extend(peers(compiled, text, service.as_deref()));
        return out;
    }
    let last_word = lead.rsplit(|c: char| !is_word(c)).next().unwrap_or("");
    if lead.ends_with("from") && last_word == "from" {
        if let Some(l) = lib {
            sym(&mut out, &mut l.golden_paths.keys(), "golden path");
        }
        return out;
    }
    if last_word == "resource" && lead.ends_with("resource") {
        if let Some(l) = lib {
            sym(&mut out, &mut l.resource_types.keys(), "resource type");
        }
        return out;
    }
    if last_word == "allow" && lead.ends_with("allow") {
        if let Some(l) = lib {
            sym(&mut out, &mut l.policies.keys(), "policy");
        }
        return out;
    }
    if let Some(key) = list_of(before.get(..word_start).unwrap_or("")) {
        if key == "depends_on" {
            out.extend(peers(compiled, text, service.as_deref()));
        }
        return out;
    }
    if let Some(key) = lead.strip_suffix('=').map(|k| k.trim_end().trim_end_matches('+').trim()) {
        let key = key.rsplit(|c: char| c.is_whitespace() || c == '{').next().unwrap_or(key);
        out.extend(values(compiled, text, service.as_deref(), &blocks, key));
        return out;
    }
    if lead.is_empty() || lead.ends_with('{') {
        if let Some(l) = lib {
            out.extend(attributes(l, &blocks));
        }
        return out;
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// The headers of the blocks open at the end of `text`, outermost first
/// (`service orders from web-api`, `environment production`, `health`),
/// skipping strings and comments.
fn enclosing(text: &str) -> Vec<String> {
    let mut stack = Vec::new();
    let mut start = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '#' => {
                for (j, d) in chars.by_ref() {
                    if d == '\n' {
                        start = j + 1;
                        break;
                    }
                }
            }
            '"' => {
                let triple = text.get(i..i + 3) == Some("\"\"\"");
                if triple {
                    chars.next();
                    chars.next();
                }
                let mut escaped = false;
                while let Some((j, d)) = chars.next() {
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == '"' && (!triple || text.get(j..j + 3) == Some("\"\"\"")) {
                        if triple {
                            chars.next();
                            chars.next();
                        }
                        break;
                    }
                }
            }
            '{' => {
                stack.push(text.get(start..i).unwrap_or("").trim().to_string());
                start = i + 1;
            }
            '}' => {
                stack.pop();
                start = i + 1;
            }
            '\n' => start = i + 1,
            _ => {}
        }
    }
    stack
}

/// The service a document declares, from its compiled model.
fn own_service(compiled: &Compiled, path: &str, blocks: &[String]) -> Option<String> {
    let model = compiled.model.as_ref();
    if let Some(s) = model.and_then(|m| m.services.iter().find(|s| s.path == path)) {
        return Some(s.name.clone());
    }
    let header = blocks.first()?;
    let mut words = header.split_whitespace();
    (words.next() == Some("service")).then(|| words.next().map(str::to_string)).flatten()
}

/// `resource TYPE NAME` declarations of a text: (name, type).
fn declared_resources(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        if w.next() == Some("resource")
            && let (Some(ty), Some(name)) = (w.next(), w.next())
        {
            out.push((name.trim_end_matches('{').to_string(), ty.to_string()));
        }
    }
    out
}

/// What may follow a dotted name at the end of `target` (`db.`,
/// `users.`, `orders.cache.`, in a string `${service.health.`): what
/// [`crate::scope`] says the name is, as a setting's value or, after
/// `${`, in a string. The service's resources are those declared in the
/// text as typed and in the compiled model.
fn after_dot(compiled: &Compiled, text: &str, service: Option<&str>, target: &str) -> Vec<Completion> {
    use crate::scope::ADDRESS_PARTS;
    let mut out = Vec::new();
    let Some(lib) = compiled.library.as_ref() else { return out };
    let model = compiled.model.as_ref();
    let start = target.rfind(|c: char| !is_word(c) && c != '.').map_or(0, |i| i + 1);
    let chain = target.get(start..).unwrap_or("");
    let place = if target.get(..start).unwrap_or("").ends_with("${") { Place::String } else { Place::Setting };
    // The word being typed is the last part.
    let path: Vec<String> = chain.split('.').map(str::to_string).chain([String::new()]).collect();
    let declared = declared_resources(text);
    let first = |s: &str| model.and_then(|m| m.service(s)).and_then(|s| s.instances.first());
    let in_model =
        |s: &str, r: &str| first(s).and_then(|i| i.resources.iter().find(|x| x.name == r)).map(|r| r.ty.clone());
    let own_type = |r: &str| {
        declared.iter().find(|(n, _)| n == r).map(|(_, t)| t.clone()).or_else(|| service.and_then(|s| in_model(s, r)))
    };
    let resource_outputs = |out: &mut Vec<Completion>, ty: Option<String>| {
        if let Some(rt) = ty.and_then(|t| lib.resource_types.get(&t)) {
            out.extend(rt.outputs.attributes().map(|a| Completion {
                label: a.path.display(),
                kind: CompletionKind::Output,
                detail: format!("output of {}", rt.decl.name.name),
            }));
        }
    };
    let fields = |out: &mut Vec<Completion>, rec: Option<&Record>, keys: &[String]| {
        let Some(mut rec) = rec else { return };
        for k in keys {
            match rec.fields.get(k).map(|f| &f.ty) {
                Some(Type::Record(inner)) => rec = inner,
                _ => return,
            }
        }
        out.extend(rec.fields.iter().map(|(k, f)| Completion {
            label: k.clone(),
            kind: CompletionKind::Attribute,
            detail: f.ty.describe(),
        }));
    };
    let name = |label: &str, detail: &str| Completion {
        label: label.into(),
        kind: CompletionKind::Attribute,
        detail: detail.into(),
    };
    match classify(&path, place, |r| own_type(r).is_some()) {
        Meaning::Output { resource, .. } => resource_outputs(&mut out, own_type(resource)),
        // The service's own, or one granted to it: another is `not_granted`.
        Meaning::Granted { owner, resource, .. }
            if service == Some(owner) || granted(compiled, service, owner).iter().any(|c| c.label == *resource) =>
        {
            resource_outputs(&mut out, in_model(owner, resource))
        }
        Meaning::Address { service: other, .. } if model.and_then(|m| m.service(other)).is_some() => {
            out.extend(ADDRESS_PARTS.iter().map(|o| Completion {
                label: o.to_string(),
                kind: CompletionKind::Output,
                detail: format!("of service {other}"),
            }));
        }
        Meaning::Attribute(rest) => {
            let keys = rest.split_last().map_or(&[][..], |(_, k)| k);
            if keys.is_empty() {
                out.push(name("name", "the service's name"));
            }
            fields(&mut out, lib.schemas.get("service"), keys);
        }
        Meaning::Environment(rest) => {
            let keys = rest.split_last().map_or(&[][..], |(_, k)| k);
            if keys.is_empty() {
                out.push(name("name", "the environment's name"));
            }
            fields(&mut out, lib.schemas.get("environment"), keys);
        }
        Meaning::Workspace(_) => {
            if let Some(ws) = model.map(|m| &m.workspace) {
                out.extend(ws.keys().into_iter().map(|k| name(&k, "of the workspace")));
            }
        }
        _ => {}
    }
    out
}

/// The resources `owner` grants `service` (`grants { <service> = LEVEL }`),
/// which it may reference as `owner.resource.output`.
fn granted(compiled: &Compiled, service: Option<&str>, owner: &str) -> Vec<Completion> {
    let (Some(service), Some(model)) = (service, compiled.model.as_ref()) else { return Vec::new() };
    let Some(inst) = model.service(owner).and_then(|s| s.instances.first()) else { return Vec::new() };
    inst.resources
        .iter()
        .filter(|r| crate::scope::grants(r, service))
        .map(|r| {
            let level = crate::scope::grant_level(r, service).unwrap_or("");
            Completion {
                label: r.name.clone(),
                kind: CompletionKind::Resource,
                detail: format!("resource {} of {owner}, granted ({level})", r.ty),
            }
        })
        .collect()
}

/// The key of the list literal open at the end of `text` (`depends_on` in
/// `depends_on = [users, `).
fn list_of(text: &str) -> Option<&str> {
    let mut depth = 0i32;
    for (i, c) in text.char_indices().rev() {
        match c {
            ']' => depth += 1,
            '[' if depth == 0 => {
                let lead = text.get(..i)?.trim_end();
                let lead = lead.strip_suffix('=')?.trim_end().trim_end_matches('+').trim_end();
                let start = lead.rfind(|c: char| !is_word(c)).map_or(0, |j| j + 1);
                return lead.get(start..);
            }
            '[' => depth -= 1,
            '\n' | '{' | '}' | '=' if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// What `depends_on` may name: other services and this service's resources.
fn peers(compiled: &Compiled, text: &str, service: Option<&str>) -> Vec<Completion> {
    let mut out = Vec::new();
    for (name, ty) in declared_resources(text) {
        out.push(Completion { label: name, kind: CompletionKind::Resource, detail: format!("resource {ty}") });
    }
    if let Some(m) = compiled.model.as_ref() {
        for s in m.services.iter().filter(|s| Some(s.name.as_str()) != service) {
            out.push(Completion { label: s.name.clone(), kind: CompletionKind::Service, detail: "service".into() });
        }
    }
    out
}

/// The record the innermost open block is described by, and whether it is
/// the service (or one of its environments) itself.
fn record<'a>(lib: &'a crate::library::Library, blocks: &[String]) -> Option<(&'a Record, bool)> {
    let (first, rest) = blocks.split_first()?;
    let mut words = first.split_whitespace();
    if words.next() != Some("service") {
        return None;
    }
    let mut rec = lib.schemas.get("service")?;
    let mut top = true;
    for header in rest {
        let mut w = header.split_whitespace();
        let kind = w.next().unwrap_or("");
        match kind {
            "environment" if top => {}
            "resource" => {
                let ty = w.next()?;
                rec = &lib.resource_types.get(ty)?.schema;
                top = false;
            }
            "api" if top => {
                rec = lib.schemas.get("api")?;
                top = false;
            }
            _ => {
                let key = header.split('=').next().unwrap_or(header).trim();
                match &rec.fields.get(key)?.ty {
                    Type::Record(inner) => rec = inner,
                    _ => return None,
                }
                top = false;
            }
        }
    }
    Some((rec, top))
}

fn attributes(lib: &crate::library::Library, blocks: &[String]) -> Vec<Completion> {
    let Some((rec, top)) = record(lib, blocks) else { return Vec::new() };
    let mut out: Vec<Completion> = rec
        .fields
        .iter()
        .map(|(k, f)| Completion { label: k.clone(), kind: CompletionKind::Attribute, detail: f.ty.describe() })
        .collect();
    if top {
        let in_env = blocks.len() > 1;
        let kws: &[&str] = if in_env {
            &["resource", "override"]
        } else {
            &["resource", "environment", "api", "override", "allow", "patch"]
        };
        out.extend(kws.iter().map(|k| Completion {
            label: k.to_string(),
            kind: CompletionKind::Keyword,
            detail: "keyword".into(),
        }));
    }
    out
}

/// The type of the value of `key` in the innermost open block: a field of
/// its record, or any key of a map (`env { NAME = ... }`).
fn value_type<'a>(lib: &'a crate::library::Library, blocks: &[String], key: &str) -> Option<&'a Type> {
    if let Some((rec, _)) = record(lib, blocks)
        && let Some(f) = rec.fields.get(key)
    {
        return Some(&f.ty);
    }
    let (inner, outer) = blocks.split_last()?;
    let (rec, _) = record(lib, outer)?;
    let map_key = inner.split('=').next().unwrap_or(inner).trim();
    match &rec.fields.get(map_key)?.ty {
        Type::Map(t) => Some(t),
        _ => None,
    }
}

/// What may follow `key =`: the names its type allows; for a setting or a
/// dependency, this service's resources and the other services.
fn values(compiled: &Compiled, text: &str, service: Option<&str>, blocks: &[String], key: &str) -> Vec<Completion> {
    let Some(lib) = compiled.library.as_ref() else { return Vec::new() };
    let Some(mut ty) = value_type(lib, blocks, key) else { return Vec::new() };
    while let Type::List(inner) = ty {
        ty = inner;
    }
    let names: Vec<(String, &str)> = match ty {
        Type::Tier => lib.tiers.keys().map(|k| (k.clone(), "tier")).collect(),
        Type::Language => lib.languages.keys().map(|k| (k.clone(), "language")).collect(),
        Type::Enum(vs) => vs.iter().map(|v| (v.clone(), if key == "size" { "size" } else { "value" })).collect(),
        Type::Bool => vec![("true".into(), "bool"), ("false".into(), "bool")],
        Type::Setting | Type::Dependency => return peers(compiled, text, service),
        _ => Vec::new(),
    };
    names
        .into_iter()
        .map(|(label, detail)| Completion { label, kind: CompletionKind::Symbol, detail: detail.into() })
        .collect()
}

/// A fix spelled out by a diagnostic: replace `span` with `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    pub span: Span,
    pub text: String,
}

/// The fixes a diagnostic's help gives concretely: "did you mean `x`?"
/// replaces the unknown name; a locked value's help writes the `override
/// ... because "..."` that replaces the assignment, when it is written flat;
/// an escape hatch without `because` gets one (with a reason to write).
pub fn fixes(d: &Diagnostic, files: &SourceMap) -> Vec<Fix> {
    let mut out = Vec::new();
    let (Some(help), Some(span)) = (d.help.as_deref(), d.primary()) else { return out };
    let written = files.slice(span);
    if let Some(close) = help.strip_prefix("did you mean `").and_then(|h| h.strip_suffix("`?")) {
        let wrong = backticked(&d.message).unwrap_or(written);
        // The unknown name within what the label covers (a path, a reference).
        let at = if written == wrong { Some(0) } else { find_word(written, wrong) };
        if let Some(at) = at {
            let start = span.start as usize + at;
            out.push(Fix {
                title: format!("replace `{wrong}` with `{close}`"),
                span: Span::new(span.file, start, start + wrong.len()),
                text: close.to_string(),
            });
        }
        return out;
    }
    // `override x = 1` (or `allow p`) with no reason: the parser expects
    // `because` where the next item starts; the reason goes at the end of
    // the escape hatch's own line (before a trailing comment).
    if d.code == "platc::parse::syntax"
        && d.message.starts_with("expected `because`")
        && let Some(file) = files.get(span.file)
    {
        let before = file.text.get(..span.start as usize).unwrap_or("");
        let content = before.trim_end();
        let line_start = content.rfind('\n').map_or(0, |i| i + 1);
        let line = content.get(line_start..).unwrap_or("");
        let end = line_start + code_end(line);
        out.push(Fix {
            title: "add `because \"...\"`".into(),
            span: Span::new(span.file, end, end),
            text: " because \"...\"".into(),
        });
        return out;
    }
    if d.code == "platc::merge::locked"
        && let Some(dotted) = backticked(&d.message)
        && let Some(suggested) = backticked_after(help, "say why: ")
        && written.trim_start().starts_with(dotted)
        && written.get(dotted.len()..).is_some_and(|r| r.trim_start().starts_with('='))
    {
        out.push(Fix { title: format!("override `{dotted}` with a reason"), span, text: suggested.to_string() });
    }
    out
}

/// Where the code of a line ends: before a trailing comment and the
/// spaces ahead of it (a `#` inside a string is not a comment).
fn code_end(line: &str) -> usize {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '#' if !in_string => return line.get(..i).unwrap_or("").trim_end().len(),
            _ => {}
        }
    }
    line.trim_end().len()
}

/// The first `quoted` part of a message.
fn backticked(s: &str) -> Option<&str> {
    let start = s.find('`')? + 1;
    let len = s.get(start..)?.find('`')?;
    s.get(start..start + len)
}

fn backticked_after<'a>(s: &'a str, marker: &str) -> Option<&'a str> {
    let rest = s.get(s.find(marker)? + marker.len()..)?;
    let inner = rest.strip_prefix('`')?;
    inner.rfind('`').and_then(|end| inner.get(..end))
}

/// Where `word` occurs in `text` as a whole word.
fn find_word(text: &str, word: &str) -> Option<usize> {
    if word.is_empty() {
        return None;
    }
    let mut from = 0;
    while let Some(i) = text.get(from..).and_then(|t| t.find(word)) {
        let at = from + i;
        let before = text.get(..at).and_then(|t| t.chars().next_back());
        let after = text.get(at + word.len()..).and_then(|t| t.chars().next());
        if !before.is_some_and(is_word) && !after.is_some_and(is_word) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

#[cfg(test)]
mod tests;
