//! `platc explain`: a value of a service and the whole chain of assignments
//! that set it, each with its layer and place, plus the policies that read
//! it. For a generated path (`kubernetes/Deployment:spec.replicas`), the
//! generated value, the template that wrote it, the patch that set it if
//! any, and the values of the template context that landed there, traced
//! (the template rendered again with a marked context, see
//! [`crate::emit::trace`]), each with what it was made from, explained the
//! same way.
//!
//! Needs a compilation made with `Options { trace: true, keep_docs: true }`.

use crate::Compiled;
use crate::ast::{Segment, StrPart};
use crate::check;
use crate::emit::doc::Doc;
use crate::merge::{self, Step};
use crate::model::{Instance, Service};
use crate::span::{SourceMap, Span};
use crate::value::Value;

/// Where something is, for people: `file:line:col`.
pub fn place(files: &SourceMap, span: Span) -> String {
    match files.get(span.file) {
        Some(f) => {
            let (l, c) = f.line_col(span.start as usize);
            format!("{}:{l}:{c}", f.path)
        }
        None => "(computed)".into(),
    }
}

/// One assignment in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub path: String,
    pub layer: String,
    /// `=` or `+=`.
    pub op: &'static str,
    /// The value as written.
    pub written: String,
    pub place: String,
}

/// A policy that reads the value, and how it fared here.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub policy: String,
    pub outcome: String,
    pub place: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub service: String,
    pub environment: String,
    pub path: String,
    /// The final value, as plat source.
    pub value: String,
    pub chain: Vec<Link>,
    pub checks: Vec<Check>,
    /// Every escape hatch the service is under (its own and its golden
    /// paths'), in words, with its origin and place.
    pub escapes: Vec<String>,
    /// For generated paths: the file, and what set the value.
    pub generated: Option<Generated>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub file: String,
    pub value: String,
    /// The template that wrote the file (where it is, for people).
    pub template: String,
    pub patched_at: Option<String>,
    /// The values of the template context that landed in the generated
    /// value, found by rendering the template once more with its context
    /// traced (see `emit::trace`), in the order they appear.
    pub traced: Vec<Traced>,
    /// Why the value was not traced, when it was not (a patch set it, or
    /// the traced rendering failed): then `guessed` holds the service
    /// values of equal text, said to be a guess.
    pub untraced: Option<String>,
    pub guessed: Vec<Explanation>,
}

/// A value of the template context that landed in a generated value.
#[derive(Debug, Clone, PartialEq)]
pub struct Traced {
    /// Its path in the context: `service.replicas`, `image`, `names.object`.
    pub context: String,
    /// The template that wrote it (the file's, or a partial it included).
    pub template: String,
    /// What it was made from, each explained (empty: nothing platc can name).
    pub sources: Vec<Source>,
}

/// One source of a traced context value.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// An attribute of the service, explained.
    Attribute(Box<Explanation>),
    /// Something else, in words, with its place.
    Value { what: String, place: String },
}

/// Explains `path` of `service` in `env` (default: the last environment).
pub fn explain(c: &Compiled, service: &str, path: &str, env: Option<&str>) -> Result<Explanation, String> {
    let model = c.model.as_ref().ok_or("the workspace did not resolve")?;
    let s = model.service(service).ok_or_else(|| {
        format!(
            "no service `{service}`; {}",
            crate::diag::unknown_help(service, "service", model.services.iter().map(|s| s.name.as_str()))
        )
    })?;
    let inst = match env {
        Some(e) => s.instance(e).ok_or_else(|| {
            format!(
                "no environment `{e}`; {}",
                crate::diag::unknown_help(e, "environment", model.workspace.environment_names())
            )
        })?,
        None => s.instances.last().ok_or("the workspace has no environments")?,
    };
    if let Some((target_kind, inner)) = path.split_once(':') {
        return generated(c, s, inst, target_kind, inner);
    }
    attribute(c, s, inst, path)
}

fn attribute(c: &Compiled, s: &Service, inst: &Instance, path: &str) -> Result<Explanation, String> {
    let keys: Vec<&str> = path.split('.').collect();
    let node = merge::get(&inst.values, &keys).ok_or_else(|| {
        let known: Vec<&str> = inst.values.keys().map(String::as_str).collect();
        format!("`{path}` is not set for `{}`; {}", s.name, crate::diag::unknown_help(path, "attribute", known))
    })?;
    let trace = inst.trace.as_deref().unwrap_or(&[]);
    let chain = trace.iter().filter(|st| related(&st.path, path)).map(|st| link(c, st)).collect();
    let hidden = c
        .redacted
        .iter()
        .any(|r| r.file == node.origin.span.file && r.start < node.origin.span.end && node.origin.span.start < r.end);
    Ok(Explanation {
        service: s.name.clone(),
        environment: inst.env.clone(),
        path: path.to_string(),
        value: if hidden { "(a secret in plain text, not shown)".into() } else { merge::display(&node.value) },
        chain,
        checks: checks(c, s, inst, path),
        escapes: escapes(c, s),
        generated: None,
    })
}

fn escapes(c: &Compiled, s: &Service) -> Vec<String> {
    let origin = |from: &Option<String>| match from {
        Some(g) => format!("golden path `{g}`"),
        None => "the service".to_string(),
    };
    let overrides =
        s.overrides.iter().map(|o| (format!("override {} because {:?}", o.what, o.reason), &o.from, o.span));
    let waivers = s.waivers.iter().map(|w| (format!("allow {} because {:?}", w.what, w.reason), &w.from, w.span));
    let patches = s.patches.iter().map(|p| {
        let why = p.reason().map(|r| format!(" because {r:?}")).unwrap_or_default();
        (format!("patch {}{why}", crate::emit::context::patch_what(&p.patch)), &p.from, p.patch.span)
    });
    overrides
        .chain(waivers)
        .chain(patches)
        .map(|(what, from, span)| format!("{what} (from {}, {})", origin(from), place(&c.files, span)))
        .collect()
}

/// A step sets the path itself, a block containing it, or a value inside it.
fn related(step: &str, path: &str) -> bool {
    step == path || path.starts_with(&format!("{step}.")) || step.starts_with(&format!("{path}."))
}

fn link(c: &Compiled, st: &Step) -> Link {
    let place = place(&c.files, st.origin.span);
    // A default the workspace's overlay changed is told apart from the
    // embedded library's.
    let overlay = matches!(st.origin.layer, crate::value::Layer::Defaults)
        && !place.starts_with(crate::sources::STDLIB_PREFIX)
        && c.files.get(st.origin.span.file).is_some();
    Link {
        path: st.path.clone(),
        layer: if overlay { "overlay default".to_string() } else { st.origin.layer.describe() },
        op: match st.op {
            crate::ast::AssignOp::Set => "=",
            crate::ast::AssignOp::Append => "+=",
        },
        written: c.files.slice(st.origin.span).to_string(),
        place,
    }
}

fn checks(c: &Compiled, s: &Service, inst: &Instance, path: &str) -> Vec<Check> {
    let (Some(lib), Some(model)) = (&c.library, &c.model) else { return Vec::new() };
    let Some(env) = model.workspace.environments.iter().find(|e| e.name == inst.env) else { return Vec::new() };
    let mut out = Vec::new();
    for p in lib.policies.values() {
        let mut refs = Vec::new();
        refs_of(&p.require, &mut refs);
        if let Some(w) = &p.when {
            refs_of(w, &mut refs);
        }
        if !refs.iter().any(|r| related(r.trim_start_matches("service."), path)) {
            continue;
        }
        let waived = s.waivers.iter().find(|w| w.what == p.name.name);
        let mut objects = check::output::Objects::new(s);
        if let Some(out) = &c.output {
            for f in out.files.values() {
                let here = f.environment.as_deref().is_none_or(|e| e == inst.env);
                let target = lib.targets.of_kind(&f.kind);
                if let (true, Some(target), Some(docs)) =
                    (f.service.as_deref() == Some(&s.name) && here, target, &f.docs)
                {
                    objects.add(target, docs);
                }
            }
        }
        let objects = (!p.selectors.is_empty()).then_some(&objects as &dyn crate::eval::Objects);
        let outcome = match check::policy_holds(p, s, inst, model, env, lib, objects) {
            Ok(None) => format!("does not apply in {}", inst.env),
            Ok(Some(true)) => format!("passes in {}", inst.env),
            Ok(Some(false)) => match waived {
                Some(w) => format!("fails in {}, waived because {:?}", inst.env, w.reason),
                None => format!("FAILS in {}", inst.env),
            },
            Err(e) => format!("cannot be evaluated: {}", e.1),
        };
        out.push(Check {
            policy: format!("{} (require {})", p.name.name, c.files.slice(p.require.span)),
            outcome,
            place: place(&c.files, p.span),
        });
    }
    out
}

fn refs_of(e: &crate::ast::Expr, out: &mut Vec<String>) {
    use crate::ast::ExprKind;
    match &e.kind {
        ExprKind::Ref(p) => out.push(p.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(".")),
        ExprKind::Str(s) => {
            for part in &s.parts {
                if let StrPart::Interp(p, _) = part {
                    out.push(p.join("."));
                }
            }
        }
        ExprKind::Binary { lhs, rhs, .. } => {
            refs_of(lhs, out);
            refs_of(rhs, out);
        }
        ExprKind::Not(x) => refs_of(x, out),
        ExprKind::Call { args, .. } | ExprKind::List(args) => args.iter().for_each(|a| refs_of(a, out)),
        _ => {}
    }
}

/// `kubernetes/Deployment:spec.replicas`
fn generated(c: &Compiled, s: &Service, inst: &Instance, target_kind: &str, path: &str) -> Result<Explanation, String> {
    let (target, kind) = target_kind.split_once('/').unwrap_or((target_kind, ""));
    let out = c.output.as_ref().ok_or("the workspace did not build")?;
    // The target and the shape of its objects come from the registry.
    let targets = &c.library.as_ref().ok_or("the standard library did not load")?.targets;
    let Some(registered) = targets.get(target) else {
        return Err(format!("no target `{target}`; {}", crate::diag::unknown_help(target, "target", targets.names())));
    };
    let hcl = registered.format == crate::emit::Format::Hcl;
    let segments = parse_path(path)?;
    let mut found = None;
    for (file, f) in &out.files {
        let ours = targets.of_kind(&f.kind).is_some_and(|t| t.name == target);
        if f.service.as_deref() != Some(s.name.as_str()) || !ours {
            continue;
        }
        if f.environment.as_deref().is_some_and(|e| e != inst.env) {
            continue;
        }
        if let Some(v) = find(f.docs.as_deref().unwrap_or_default(), kind, hcl, &segments) {
            found = Some((file.clone(), v.clone()));
            break;
        }
    }
    let (file, value) =
        found.ok_or_else(|| format!("no generated `{target_kind}` of `{}` in {} has `{path}`", s.name, inst.env))?;
    let shown = value.text();
    let patched_at = s
        .patches
        .iter()
        .map(|p| &p.patch)
        .filter(|p| p.target.name == target && (kind.is_empty() || p.kind.name == kind))
        .flat_map(|p| p.sets.iter())
        .find(|a| {
            // The path itself, or a map or list that holds it.
            let set = a.path.display();
            path == set || path.strip_prefix(set.as_str()).is_some_and(|rest| rest.starts_with(['.', '[']))
        })
        .map(|a| place(&c.files, a.span));
    let mut template = format!("templates/{target}/ (the file {})", file.rsplit('/').next().unwrap_or(&file));
    let mut traced = Vec::new();
    let mut untraced = None;
    if patched_at.is_none() {
        match trace(c, s, inst, registered, &file, kind, hcl, &segments, &value) {
            Ok((shown_as, landed)) => {
                template = shown_as;
                traced = landed;
                if traced.is_empty() && is_falsy(&value) {
                    untraced = Some(format!(
                        "`{shown}` is a false, zero or empty value, which tracing cannot mark (marking it would change the template's conditions): the template may write it as it is, or take it from a value"
                    ));
                }
            }
            Err(why) => untraced = Some(why),
        }
    }
    let guessed = if untraced.is_some() { guess(c, s, inst, &value) } else { Vec::new() };
    Ok(Explanation {
        service: s.name.clone(),
        environment: inst.env.clone(),
        path: format!("{target_kind}:{path}"),
        value: shown.clone(),
        chain: Vec::new(),
        checks: Vec::new(),
        escapes: escapes(c, s),
        generated: Some(Generated { file, value: shown, template, patched_at, traced, untraced, guessed }),
    })
}

/// The value at `segments` in the first of `docs` of kind `kind` that has
/// it (for Terraform, `kind` is the resource type and the path is in its
/// body).
fn find<'a>(docs: &'a [Doc], kind: &str, hcl: bool, segments: &[Segment]) -> Option<&'a Doc> {
    docs.iter().find_map(|d| {
        let kind_of = d.kind().map(crate::emit::trace::strip);
        if !kind.is_empty() && kind_of.as_deref() != Some(kind) && !(hcl && terraform_has(d, kind)) {
            return None;
        }
        let root = if hcl && !kind.is_empty() { terraform_body(d, kind).unwrap_or(d) } else { d };
        walk(root, segments)
    })
}

/// The template that wrote `file` rendered once more, traced: its name for
/// people and the context values that landed at the path, with their
/// sources; `Err` says why it could not be traced.
#[allow(clippy::too_many_arguments)]
fn trace(
    c: &Compiled,
    s: &Service,
    inst: &Instance,
    target: &crate::emit::Target,
    file: &str,
    kind: &str,
    hcl: bool,
    segments: &[Segment],
    built: &Doc,
) -> Result<(String, Vec<Traced>), String> {
    let (Some(model), Some(graph), Some(lib)) = (&c.model, &c.graph, &c.library) else {
        return Err("the workspace did not resolve".into());
    };
    // A file rendered once per service is rendered in the last environment.
    let inst = if target.per_environment() { inst } else { s.instances.last().unwrap_or(inst) };
    let t = crate::emit::trace_file(model, graph, lib, s, inst, target, file)
        .map_err(|e| format!("tracing failed ({e})"))?;
    let node = find(&t.docs, kind, hcl, segments)
        .ok_or_else(|| format!("tracing failed ({} traced has no such path)", t.shown_as))?;
    // The traced rendering must have rendered what the build did here.
    if !agrees(built, node) {
        return Err(format!(
            "tracing failed ({} traced renders something else here: a `patch` changed a part of it, or the template renders otherwise when traced)",
            t.shown_as
        ));
    }
    let shown =
        |template: &str| lib.templates.get(template).map_or_else(|| template.to_string(), |f| f.shown_as.clone());
    // The context's leaves once, for every value that landed here.
    let leaves = crate::emit::context::leaves(s, inst, model, graph, lib);
    let landed = crate::emit::trace::landed(node, &t.marks)
        .into_iter()
        .map(|l| {
            let keys: Vec<&str> = l.path.iter().map(String::as_str).collect();
            let sources = crate::emit::context::sources_in(&leaves, &keys)
                .into_iter()
                .filter_map(|src| match src {
                    crate::emit::context::Source::Attribute(p) => {
                        attribute(c, s, inst, &p).ok().map(|e| Source::Attribute(Box::new(e)))
                    }
                    crate::emit::context::Source::Value { what, origin } => {
                        Some(Source::Value { what, place: place(&c.files, origin.span) })
                    }
                })
                .collect();
            Traced {
                context: context_path(&l.path),
                template: shown(l.template.as_deref().unwrap_or(&t.template)),
                sources,
            }
        })
        .collect();
    Ok((t.shown_as.clone(), landed))
}

/// Whether a traced value, its marks taken out, is the built one (numbers
/// by value: a marked number is read back as its text).
fn agrees(built: &Doc, traced: &Doc) -> bool {
    match (built, traced) {
        (Doc::List(a), Doc::List(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| agrees(x, y)),
        (Doc::Map(a), Doc::Map(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|((k, x), (l, y))| k == l && agrees(x, y))
        }
        (Doc::List(_) | Doc::Map(_), _) | (_, Doc::List(_) | Doc::Map(_)) => false,
        (a, b) => {
            let (a, b) = (a.text(), b.text());
            let b = crate::emit::trace::strip(&b);
            a == b || a.parse::<f64>().ok().zip(b.parse::<f64>().ok()).is_some_and(|(x, y)| x == y)
        }
    }
}

/// `resources[0].name`: a context path as templates write it.
fn context_path(keys: &[String]) -> String {
    let mut out = String::new();
    for k in keys {
        if !out.is_empty() && !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{k}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(k);
        }
    }
    out
}

fn is_falsy(d: &Doc) -> bool {
    match d {
        Doc::Null => true,
        Doc::Bool(b) => !b,
        Doc::Int(i) => *i == 0,
        Doc::Float(f) => *f == 0.0,
        Doc::Str(s) => s.is_empty(),
        Doc::List(l) => l.is_empty(),
        Doc::Map(m) => m.is_empty(),
    }
}

/// When tracing could not tell: the service values whose text equals the
/// generated value (directly, or through a value platc composed), each
/// explained. A guess, and shown as one.
fn guess(c: &Compiled, s: &Service, inst: &Instance, value: &Doc) -> Vec<Explanation> {
    let shown = value.text();
    let mut paths: Vec<String> = Vec::new();
    if let (Some(graph), Some(model), Some(lib)) = (&c.graph, &c.model, &c.library) {
        for (text, from) in composed_values(s, inst, model, graph, lib) {
            if text == shown {
                paths.extend(from);
            }
        }
    }
    let mut leaves = Vec::new();
    leaves_of(&inst.values, "", &mut leaves);
    paths.extend(leaves.into_iter().filter(|(_, v)| same_text(v, value)).map(|(p, _)| p));
    let mut seen = std::collections::BTreeSet::new();
    paths.retain(|p| seen.insert(p.clone()));
    paths.iter().filter_map(|p| attribute(c, s, inst, p).ok()).collect()
}

/// The values of the service's context that platc composes from the
/// service's (the image reference, its registry, the Service's port, each
/// setting): the text of each and the set attributes it comes from, as the
/// context's sources say ([`crate::emit::context::leaves`]).
fn composed_values(
    s: &Service,
    inst: &Instance,
    model: &crate::model::Model,
    graph: &crate::graph::Graph,
    lib: &crate::library::Library,
) -> Vec<(String, Vec<String>)> {
    use crate::emit::context::{Source, Trace};
    let rank = |p: &[String]| match p {
        [a] if a == "image" => Some(0),
        [a] if a == "image_registry" => Some(1),
        [a, b] if a == "service" && b == "service_port" => Some(2),
        [a, _] if a == "config" => Some(3),
        _ => None,
    };
    let mut out: Vec<(u8, String, Vec<String>)> = crate::emit::context::leaves(s, inst, model, graph, lib)
        .into_iter()
        .filter_map(|leaf| {
            let rank = rank(&leaf.path)?;
            let Trace::From(sources) = leaf.trace else { return None };
            let from: Vec<String> = sources
                .into_iter()
                .filter_map(|s| match s {
                    Source::Attribute(a) if inst.get(&a.split('.').collect::<Vec<_>>()).is_some() => Some(a),
                    _ => None,
                })
                .collect();
            let text = match leaf.value {
                serde_json::Value::String(t) => t,
                other => other.to_string(),
            };
            (!from.is_empty() && !text.is_empty()).then_some((rank, text, from))
        })
        .collect();
    out.sort_by_key(|(rank, ..)| *rank);
    out.into_iter().map(|(_, text, from)| (text, from)).collect()
}

fn terraform_has(d: &Doc, ty: &str) -> bool {
    terraform_body(d, ty).is_some()
}

fn terraform_body<'a>(d: &'a Doc, ty: &str) -> Option<&'a Doc> {
    match d.get("resource")?.get(ty)? {
        Doc::Map(named) => named.first().map(|(_, b)| b),
        _ => None,
    }
}

fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    let text = format!("{path} = 0");
    let (f, diags) = crate::parse::parse(crate::span::FileId(0), &text);
    let attr = f.as_ref().and_then(|f| f.body.attributes().next().cloned());
    match attr {
        Some(a) if diags.is_empty() => Ok(a.path.segments),
        _ => Err(format!("`{path}` is not a path (write it as `spec.template.spec.containers[name=app].image`)")),
    }
}

fn walk<'a>(d: &'a Doc, segs: &[Segment]) -> Option<&'a Doc> {
    let (first, rest) = segs.split_first()?;
    let next = match (first, d) {
        (Segment::Key(k, _), Doc::Map(_)) => d.get(k)?,
        (Segment::Index(i, _), Doc::List(items)) => items.get(*i)?,
        (Segment::Select { key, value, .. }, Doc::List(items)) => items.iter().find(|it| {
            it.get(key).and_then(Doc::as_str).map(crate::emit::trace::strip).as_deref() == Some(value.as_str())
        })?,
        _ => return None,
    };
    if rest.is_empty() { Some(next) } else { walk(next, rest) }
}

fn leaves_of(map: &crate::value::Map, prefix: &str, out: &mut Vec<(String, Value)>) {
    for (k, n) in map {
        let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match &n.value {
            Value::Map(m) => leaves_of(m, &p, out),
            v => out.push((p, v.clone())),
        }
    }
}

fn same_text(v: &Value, d: &Doc) -> bool {
    let text = match v {
        Value::Str(s) => s.clone(),
        Value::Number(n, _) => n.to_string(),
        Value::Quantity { value, unit, .. } if unit == "%" => value.to_string(),
        Value::Quantity { number, unit, .. } => format!("{number}{unit}"),
        Value::Bool(b) => b.to_string(),
        Value::Ref(p) if p.len() == 1 => p.join("."),
        _ => return false,
    };
    let generated = match d {
        Doc::Float(f) => f.to_string(),
        other => other.text(),
    };
    !text.is_empty() && text == generated
}

/// The explanation as text for a terminal.
pub fn render(e: &Explanation) -> String {
    let mut s = String::new();
    render_into(e, &mut s, "");
    s
}

fn render_into(e: &Explanation, s: &mut String, indent: &str) {
    s.push_str(&format!("{indent}{} / {} / {} = {}\n", e.service, e.environment, e.path, e.value));
    if let Some(g) = &e.generated {
        s.push_str(&format!("{indent}  generated in {} by {}\n", g.file, g.template));
        let nested = format!("{indent}    ");
        if let Some(p) = &g.patched_at {
            s.push_str(&format!("{indent}  set by a `patch` at {p}\n"));
        }
        for t in &g.traced {
            let names: Vec<String> = t
                .sources
                .iter()
                .map(|src| match src {
                    Source::Attribute(a) => format!("`{}`", a.path),
                    Source::Value { what, place } => format!("{what} ({place})"),
                })
                .collect();
            let from = if names.is_empty() {
                "which is no value of the service platc can name".to_string()
            } else {
                format!("from {}", names.join(", "))
            };
            let colon = if t.sources.iter().any(|x| matches!(x, Source::Attribute(_))) { ":" } else { "" };
            s.push_str(&format!(
                "{indent}  traced to the template value `{}` (written by {}), {from}{colon}\n",
                t.context, t.template
            ));
            for src in &t.sources {
                if let Source::Attribute(a) = src {
                    s.push('\n');
                    render_into(a, s, &nested);
                }
            }
        }
        if let Some(why) = &g.untraced {
            s.push_str(&format!("{indent}  not traced: {why}\n"));
        }
        match (&g.patched_at, &g.untraced) {
            (None, None) if g.traced.is_empty() => s.push_str(&format!(
                "{indent}  no value of the template context lands in it: the template writes it as it is\n"
            )),
            (_, Some(_)) if g.guessed.is_empty() => {
                s.push_str(&format!("{indent}  no service value has the same text\n"))
            }
            (_, Some(_)) => {
                s.push_str(&format!("{indent}  service values with the same text (a guess, not a trace):\n"));
                for src in &g.guessed {
                    s.push('\n');
                    render_into(src, s, &nested);
                }
            }
            _ => {}
        }
        render_escapes(e, s, indent);
        return;
    }
    let width = e.chain.iter().map(|l| l.layer.chars().count()).max().unwrap_or(0);
    let last = e.chain.len();
    for (i, l) in e.chain.iter().enumerate() {
        let mark = if i + 1 == last { "   <- final" } else { "" };
        let what = if l.path == e.path {
            format!("{} {}", l.op, l.written)
        } else {
            format!("{} {} {}", l.path, l.op, l.written)
        };
        s.push_str(&format!("{indent}  {}. {:<width$}  {}   {}{mark}\n", i + 1, l.layer, what, l.place, width = width));
    }
    if e.chain.is_empty() {
        s.push_str(&format!("{indent}  computed by platc (no layer sets it)\n"));
    }
    if !e.checks.is_empty() {
        s.push_str(&format!("{indent}  checked by:\n"));
        for c in &e.checks {
            s.push_str(&format!("{indent}    {}: {}   {}\n", c.policy, c.outcome, c.place));
        }
    }
    render_escapes(e, s, indent);
}

fn render_escapes(e: &Explanation, s: &mut String, indent: &str) {
    if !e.escapes.is_empty() && indent.is_empty() {
        s.push_str("  escape hatches in effect:\n");
        for x in &e.escapes {
            s.push_str(&format!("    {x}\n"));
        }
    }
}
