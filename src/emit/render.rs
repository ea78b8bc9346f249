//! Handlebars, set up for generating structured files safely.
//!
//! Every template of the library is compiled once. Strict mode: a template
//! that names a missing value fails (with the template's name), it never
//! renders an empty string. Escaping is the other way round from HTML:
//!
//! - `{{value}}` always lands as a **quoted string** (JSON quoting, which is
//!   also valid YAML), whatever the value holds: quotes, newlines, `${...}`,
//!   `#` or `: ` cannot change the structure of the output.
//! - `{{json value}}` lands as the value's JSON: numbers and booleans stay
//!   typed, lists and maps become inline JSON (valid YAML flow style).
//! - `{{concat a "-" b}}` joins values into one quoted string (as a
//!   subexpression, `(concat a b)`, the joined text itself).
//! - `{{hcl value}}` is a quoted HCL string (`${` and `%{` escaped).
//! - `{{gha value}}` is a quoted string for a GitHub Actions workflow: as
//!   `{{value}}`, and every `${{` in it is written `${{ '${{' }}`, an
//!   expression whose value is the literal text, so GitHub never evaluates an
//!   expression a value carries. Several arguments are joined first.
//! - `{{bounded N a "-" b}}` joins its arguments into a name of at most `N`
//!   characters: unchanged when it fits, else a prefix plus `-` and 8 hex
//!   digits of the whole name's SHA-256, so that long names stay distinct
//!   (cloud APIs limit name lengths; the template knows which limit). Like
//!   `lower` and `seconds` it is a value: quoted in `{{...}}`, plain text as
//!   a subexpression (`{{concat (bounded 75 name) ".fifo"}}`).
//! - `eq`, `ne`, `gt`, `lt`, `and`, `or`, `not`, `contains` for conditions;
//!   `lower`, `upper`, `join` (a list with a separator) and `seconds` (a
//!   duration in seconds) as values.
//!
//! `{{{value}}}` (triple braces) writes text unquoted; the standard library
//! uses it only for numbers it computed itself.
//!
//! Templates whose file name starts with `_` are partials: `{{> name}}`, or
//! `{{include "dir/_name.hbs" indent=N}}`, which renders them without
//! copying the context (the standard library uses it for speed).
//!
//! **Extension points.** `{{slot "kubernetes/pod-annotations" indent=N}}`
//! renders, in name order and each like an `include`, every template in the
//! directory `templates/kubernetes/pod-annotations/` (nothing when there is
//! none): an overlay adds to an embedded template by adding a file there,
//! without copying the template.
//!
//! **Tracing.** `platc explain` renders a file again with a marked context
//! ([`super::trace`]), with a renderer of its own ([`Renderer::traced`])
//! whose helpers unmark their arguments and mark their values. A build's
//! renderer ([`Renderer::new`]) has the plain helpers: a build never looks
//! at tracing.
//!
//! **Diagnostics.** `{{fail "message" at="attribute" help="..."}}` stops
//! the rendering and becomes the diagnostic `platc::emit::fail`, naming the
//! template and the service, at the place that set `attribute` (else at
//! the service's name); the build writes nothing.

use std::collections::{BTreeMap, BTreeSet};

use handlebars::{Context, Handlebars, Helper, HelperResult, Output, RenderContext};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::library::TemplateFile;

/// A template problem: the template, a position in it, and what went wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateProblem {
    pub template: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// What to do, when the general advice does not fit.
    pub help: Option<&'static str>,
    /// Raised by the template itself with `{{fail ...}}`.
    pub raised: Option<Box<Raised>>,
}

/// What a template said with `{{fail "message" at="path" help="..."}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Raised {
    pub message: String,
    /// The attribute of the service the problem is about (dotted).
    pub at: Option<String>,
    pub help: Option<String>,
    /// The template that raised it, when it is one another included (an
    /// extension point's, a partial).
    pub template: Option<String>,
}

/// All templates of the library, compiled.
pub struct Renderer {
    hb: Handlebars<'static>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&String> = self.hb.get_templates().keys().collect();
        f.debug_struct("Renderer").field("templates", &names).finish()
    }
}

/// Whether a template is a partial (`_name.hbs`): included by others,
/// never rendered into a file of its own.
pub fn is_partial(name: &str) -> bool {
    name.rsplit('/').next().is_some_and(|f| f.starts_with('_'))
}

impl Renderer {
    /// Compiles the templates `wanted` says are needed (those of the targets
    /// being built) and every partial they may include; problems are
    /// returned, not fatal. A partial that no wanted template names is not
    /// compiled: for a small workspace, compiling the whole library's
    /// partials would be most of the build.
    pub fn new(
        templates: &BTreeMap<String, TemplateFile>,
        wanted: impl Fn(&str) -> bool + Sync,
    ) -> (Renderer, Vec<TemplateProblem>) {
        Renderer::compile(templates, wanted, false)
    }

    /// As [`Renderer::new`], with the helpers of a traced rendering (see
    /// [`super::trace`]): they unmark their arguments and mark their values,
    /// and a partial tags the marks it writes. Outside [`super::trace::with`]
    /// it renders as the build's renderer does. Only `platc explain` makes one.
    pub fn traced(
        templates: &BTreeMap<String, TemplateFile>,
        wanted: impl Fn(&str) -> bool + Sync,
    ) -> (Renderer, Vec<TemplateProblem>) {
        Renderer::compile(templates, wanted, true)
    }

    fn compile(
        templates: &BTreeMap<String, TemplateFile>,
        wanted: impl Fn(&str) -> bool + Sync,
        traced: bool,
    ) -> (Renderer, Vec<TemplateProblem>) {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(quote);
        hb.register_helper("json", Box::new(json_helper));
        hb.register_helper("include", Box::new(Include { traced }));
        hb.register_helper("slot", Box::new(Slot { members: slot_members(templates), traced }));
        hb.register_helper("fail", Box::new(Fail { traced }));
        hb.register_helper("hcl", Box::new(hcl_helper));
        hb.register_helper("gha", Box::new(gha_helper));
        for v in VALUES {
            if traced {
                hb.register_helper(v.name, Box::new(TracedValue(*v)));
            } else {
                hb.register_helper(v.name, Box::new(*v));
            }
        }
        // Compile what is wanted, on every core; a partial is registered
        // under its short name (`{{> pod}}`) and its path (`include`).
        let roots: Vec<&str> = templates.keys().map(String::as_str).filter(|n| wanted(n)).collect();
        let partials = partials_needed(templates, &roots);
        let needed = |n: &str| wanted(n) || partials.as_ref().map_or(is_partial(n), |p| p.contains(n));
        let list: Vec<(&String, &TemplateFile)> = templates.iter().filter(|(n, _)| needed(n)).collect();
        let compiled = crate::par::map(&list, |(_, t)| handlebars::Template::compile(t.text.as_ref()));
        let mut problems = include_problems(templates, &list.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>());
        for ((name, _), result) in list.into_iter().zip(compiled) {
            match result {
                Ok(template) => {
                    if is_partial(name) {
                        hb.register_template(short_name(name), template.clone());
                    }
                    hb.register_template(name, template);
                }
                Err(e) => {
                    let (line, column) = e.pos().map(|(l, c)| (Some(l), Some(c))).unwrap_or((None, None));
                    problems.push(TemplateProblem {
                        template: name.clone(),
                        line,
                        column,
                        message: e.reason().to_string(),
                        help: None,
                        raised: None,
                    });
                }
            }
        }
        (Renderer { hb }, problems)
    }

    pub fn has(&self, name: &str) -> bool {
        self.hb.has_template(name)
    }

    /// Renders a template with a context.
    pub fn render(&self, name: &str, context: &Json) -> Result<String, TemplateProblem> {
        self.render_with(name, &Context::from(context.clone()))
    }

    /// Renders a template with a context built once (`Context::from(json)`)
    /// and shared by every template of a service; handlebars' `render` would
    /// serialize the whole context again on every call.
    pub fn render_with(&self, name: &str, context: &Context) -> Result<String, TemplateProblem> {
        INCLUDES.with(|c| c.set((0, 0)));
        RAISED.with(|r| r.borrow_mut().take());
        INSIDE.with(|i| i.borrow_mut().clear());
        self.hb.render_with_context(name, context).map_err(|e| TemplateProblem {
            template: e.template_name.clone().unwrap_or_else(|| name.to_string()),
            line: e.line_no,
            column: e.column_no,
            message: e.reason().to_string(),
            help: None,
            raised: RAISED.with(|r| r.borrow_mut().take()),
        })
    }
}

/// The longest chain of inclusions (`{{include ...}}`, `{{> ...}}`): a
/// template including a template ... this deep is refused.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// The most templates one template may expand to, counting every inclusion
/// in its text (and theirs): a template including another twice, that one
/// including a third twice, ... doubles the work at every level.
pub const MAX_EXPANSION: u64 = 10_000;

/// The most `{{include ...}}` one rendering may make (inclusions in a loop
/// over the data count each time).
pub const MAX_INCLUDES: usize = 1_000_000;

std::thread_local! {
    /// The rendering on this thread: how deep the `include`s nest now, and
    /// how many it made. A rendering runs on one thread.
    static INCLUDES: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
    /// What `{{fail ...}}` raised in the rendering on this thread.
    static RAISED: std::cell::RefCell<Option<Box<Raised>>> = const { std::cell::RefCell::new(None) };
    /// The templates being included, innermost last (what `fail` names).
    static INSIDE: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Problems with how the templates `names` include each other, found before
/// any is rendered: a cycle (named by its chain), a chain deeper than
/// [`MAX_INCLUDE_DEPTH`], a template expanding to more than
/// [`MAX_EXPANSION`] templates, a partial named only at render time or
/// defined inline (which the checks could not see; `{{include (...)}}` may
/// compute its name, and is bounded while rendering).
fn include_problems(templates: &BTreeMap<String, TemplateFile>, names: &[&str]) -> Vec<TemplateProblem> {
    let problem = |template: &str, message: String| TemplateProblem {
        template: template.to_string(),
        line: None,
        column: None,
        message,
        help: Some(
            "a template may include others (`{{include \"dir/_name.hbs\"}}`, `{{> name}}`, `{{slot \"dir\"}}`) but never itself, and not without bound",
        ),
        raised: None,
    };
    let mut problems = Vec::new();
    // What each template includes, each inclusion once per time it is written.
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut by_short: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for k in templates.keys().filter(|k| is_partial(k)) {
        by_short.entry(short_name(k)).or_default().push(k.as_str());
    }
    for &name in names {
        let Some(t) = templates.get(name) else { continue };
        if let Some(why) = unchecked_partial(&t.text) {
            problems.push(problem(name, why.to_string()));
        }
        let found = references(&t.text).unwrap_or_default().into_iter().flat_map(|r| match r {
            Reference::Path(p) => templates.get_key_value(p).map(|(k, _)| k.as_str()).into_iter().collect::<Vec<_>>(),
            Reference::Short(n) => by_short.get(n).cloned().unwrap_or_default(),
            Reference::Slot(d) => in_slot(templates, d).collect(),
        });
        edges.insert(name, found.collect());
    }
    // Leaves first: a template is done when everything it includes is.
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    let mut expansion: BTreeMap<&str, u64> = BTreeMap::new();
    let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
    let mut includers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (&from, tos) in &edges {
        let distinct: BTreeSet<&str> = tos.iter().copied().filter(|t| edges.contains_key(t)).collect();
        waiting.insert(from, distinct.len());
        for to in distinct {
            includers.entry(to).or_default().push(from);
        }
    }
    let mut ready: Vec<&str> = waiting.iter().filter(|(_, n)| **n == 0).map(|(t, _)| *t).collect();
    while let Some(t) = ready.pop() {
        let tos = edges.get(t).map(Vec::as_slice).unwrap_or_default();
        let d = 1 + tos.iter().filter_map(|x| depth.get(x)).max().copied().unwrap_or(0);
        let e = tos.iter().filter_map(|x| expansion.get(x)).fold(1u64, |a, b| a.saturating_add(*b));
        depth.insert(t, d);
        expansion.insert(t, e);
        for &up in includers.get(t).map(Vec::as_slice).unwrap_or_default() {
            if let Some(n) = waiting.get_mut(up) {
                *n -= 1;
                if *n == 0 {
                    ready.push(up);
                }
            }
        }
    }
    // What is left includes itself, through a chain of what is left.
    let mut reported = BTreeSet::new();
    for &start in waiting.keys().filter(|t| !depth.contains_key(*t)) {
        let mut chain = vec![start];
        let mut at = start;
        let cycle = loop {
            let next =
                edges.get(at).and_then(|tos| tos.iter().find(|x| edges.contains_key(*x) && !depth.contains_key(*x)));
            let Some(&next) = next else { break None };
            if let Some(i) = chain.iter().position(|c| *c == next) {
                let mut cycle: Vec<&str> = chain.get(i..).unwrap_or_default().to_vec();
                cycle.push(next);
                break Some(cycle);
            }
            chain.push(next);
            at = next;
        };
        let Some(cycle) = cycle else { continue };
        let members: BTreeSet<&str> = cycle.iter().copied().collect();
        if reported.insert(members) {
            let first = cycle.first().copied().unwrap_or(start);
            problems.push(problem(first, format!("`{first}` includes itself: {}", cycle.join(" → "))));
        }
    }
    for (t, d) in &depth {
        if *d > MAX_INCLUDE_DEPTH + 1 {
            problems.push(problem(
                t,
                format!("`{t}` includes templates {} levels deep; the limit is {MAX_INCLUDE_DEPTH}", d - 1),
            ));
        } else if let Some(e) = expansion.get(t).filter(|e| **e > MAX_EXPANSION) {
            let e = if *e == u64::MAX { "more than 2^64".to_string() } else { e.to_string() };
            problems.push(problem(
                t,
                format!("`{t}` expands to {e} templates through its inclusions; the limit is {MAX_EXPANSION} (does a template include another several times at every level?)"),
            ));
        }
    }
    problems
}

/// Why the inclusions of a template's text cannot be checked before
/// rendering: a partial named by an expression (`{{> (lookup ...)}}`) or an
/// inline partial (`{{#*inline ...}}`).
fn unchecked_partial(text: &str) -> Option<&'static str> {
    let blank = |c: char| c.is_whitespace() || c == '~';
    for (at, _) in text.match_indices("{{") {
        let after = text.get(at + 2..)?.trim_start_matches(blank);
        if after.starts_with("#*inline") {
            return Some("inline partials (`{{#*inline}}`) are not supported; put the partial in a `_name.hbs` file");
        }
        if let Some(rest) = after.strip_prefix('>').or_else(|| after.strip_prefix("#>"))
            && rest.trim_start().starts_with(['(', '['])
        {
            return Some(
                "a partial must be named as written (`{{> name}}`); for a computed name use `{{include (...)}}`",
            );
        }
    }
    None
}

/// A partial named in a template's text.
#[derive(Debug, PartialEq)]
enum Reference<'a> {
    /// `{{include "kubernetes/_pod.hbs"}}`
    Path(&'a str),
    /// `{{> pod}}`: the partial's file name without `_` and `.hbs`.
    Short(&'a str),
    /// `{{slot "kubernetes/pod-annotations"}}`: every template in that directory.
    Slot(&'a str),
}

/// The templates of an extension point: those directly in the directory
/// `slot`, in name order.
fn in_slot<'a>(templates: &'a BTreeMap<String, TemplateFile>, slot: &str) -> impl Iterator<Item = &'a str> {
    let prefix = format!("{}/", slot.trim_end_matches('/'));
    templates
        .keys()
        .filter(move |k| k.strip_prefix(&prefix).is_some_and(|f| !f.contains('/') && f.ends_with(".hbs")))
        .map(String::as_str)
}

/// Every directory of templates, with its templates in name order (what
/// `{{slot "dir"}}` renders).
fn slot_members(templates: &BTreeMap<String, TemplateFile>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for k in templates.keys().filter(|k| k.ends_with(".hbs")) {
        if let Some((dir, _)) = k.rsplit_once('/') {
            out.entry(dir.to_string()).or_default().push(k.clone());
        }
    }
    out
}

/// The partials `roots` may include, directly or through other partials.
/// `None` when one of them names a partial only at render time
/// (`{{include (concat ...)}}`, `{{> (lookup ...)}}`): then any may be.
fn partials_needed<'a>(templates: &'a BTreeMap<String, TemplateFile>, roots: &[&'a str]) -> Option<BTreeSet<&'a str>> {
    let mut needed = BTreeSet::new();
    let mut todo: Vec<&str> = roots.to_vec();
    while let Some(name) = todo.pop() {
        let Some(t) = templates.get(name) else { continue };
        for r in references(&t.text)? {
            let found: Vec<&str> = match r {
                Reference::Path(p) => templates.get_key_value(p).map(|(k, _)| k.as_str()).into_iter().collect(),
                Reference::Short(n) => {
                    templates.keys().filter(|k| is_partial(k) && short_name(k) == n).map(String::as_str).collect()
                }
                Reference::Slot(d) => in_slot(templates, d).collect(),
            };
            for f in found {
                if needed.insert(f) {
                    todo.push(f);
                }
            }
        }
    }
    Some(needed)
}

/// A partial's name for `{{> name}}`: `kubernetes/_pod.hbs` is `pod`.
fn short_name(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.trim_start_matches('_').trim_end_matches(".hbs")
}

/// Every partial a template's text names; `None` if one is computed.
fn references(text: &str) -> Option<Vec<Reference<'_>>> {
    let blank = |c: char| c.is_whitespace() || c == '~';
    let mut refs = Vec::new();
    let openers = text.match_indices("{{").chain(text.match_indices('('));
    for (at, opener) in openers {
        let after = text.get(at + opener.len()..)?.trim_start_matches(blank);
        if let Some(arg) = after.strip_prefix("include").filter(|a| a.starts_with(char::is_whitespace)) {
            let path = arg.trim_start().strip_prefix('"')?;
            refs.push(Reference::Path(path.get(..path.find('"')?)?));
        } else if let Some(arg) = after.strip_prefix("slot").filter(|a| a.starts_with(char::is_whitespace)) {
            let dir = arg.trim_start().strip_prefix('"')?;
            refs.push(Reference::Slot(dir.get(..dir.find('"')?)?));
        } else if opener == "{{"
            && let Some(rest) = after.strip_prefix('>').or_else(|| after.strip_prefix("#>"))
        {
            let rest = rest.trim_start();
            let name = match rest.strip_prefix('"') {
                Some(quoted) => quoted.get(..quoted.find('"')?)?,
                None if rest.starts_with(['(', '[']) => return None,
                None => rest.split(|c: char| blank(c) || c == '}').next().unwrap_or(""),
            };
            refs.push(Reference::Short(name));
        }
    }
    Some(refs)
}

/// A value as a quoted string (see [`super::doc::quote_into`]).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    super::doc::quote_into(s, &mut out);
    out
}

/// An HCL quoted string: JSON escapes, plus `${` → `$${` and `%{` → `%%{`
/// so that no user text becomes a Terraform expression or directive.
pub fn hcl_quote(s: &str) -> String {
    quote(s).replace("${", "$${").replace("%{", "%%{")
}

fn param<'a>(h: &'a Helper, i: usize) -> Result<&'a Json, handlebars::RenderError> {
    h.param(i)
        .map(|p| p.value())
        .ok_or_else(|| handlebars::RenderErrorReason::ParamNotFoundForIndex("helper", i).into())
}

/// `{{include "kubernetes/_pod.hbs" indent=6}}`: renders another template
/// of the library in the current context, every line indented by `indent`
/// spaces. Unlike a handlebars partial (`{{> pod}}`), it does not copy the
/// whole context on every inclusion, which matters when thousands of
/// services each include several partials.
struct Include {
    /// In a traced renderer ([`Renderer::traced`]).
    traced: bool,
}

impl handlebars::HelperDef for Include {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        include(h, self.traced, r, ctx, rc, out)
    }
}

fn include<'reg: 'rc, 'rc>(
    h: &Helper<'rc>,
    traced: bool,
    r: &'reg Handlebars<'reg>,
    ctx: &'rc Context,
    rc: &mut RenderContext<'reg, 'rc>,
    out: &mut dyn Output,
) -> HelperResult {
    let name = param(h, 0)?.as_str().ok_or(handlebars::RenderErrorReason::InvalidParamType("a template name"))?;
    let indent = h.hash_get("indent").and_then(|v| v.value().as_u64()).unwrap_or(0);
    let name = if traced { super::trace::unmarked(name) } else { name.into() };
    include_one(&name, indent, traced, r, ctx, rc, out)
}

/// `{{slot "kubernetes/pod-annotations" indent=8}}`: every template of
/// that directory, in name order, each as `include` renders it.
struct Slot {
    members: BTreeMap<String, Vec<String>>,
    /// In a traced renderer ([`Renderer::traced`]).
    traced: bool,
}

impl handlebars::HelperDef for Slot {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let dir = param(h, 0)?
            .as_str()
            .ok_or(handlebars::RenderErrorReason::InvalidParamType("an extension point (a directory)"))?;
        let dir = if self.traced { super::trace::unmarked(dir) } else { dir.into() };
        let indent = h.hash_get("indent").and_then(|v| v.value().as_u64()).unwrap_or(0);
        let members = self.members.get(dir.trim_end_matches('/')).map(Vec::as_slice).unwrap_or_default();
        for (i, name) in members.iter().enumerate() {
            if i > 0 {
                out.write("\n")?;
            }
            include_one(name, indent, self.traced, r, ctx, rc, out)?;
        }
        Ok(())
    }
}

/// `{{fail "message" at="attribute" help="..."}}`: the template refuses
/// the service (see the module's documentation). Several arguments are
/// joined.
struct Fail {
    /// In a traced renderer ([`Renderer::traced`]): what it says is unmarked.
    traced: bool,
}

impl handlebars::HelperDef for Fail {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        _: &mut dyn Output,
    ) -> HelperResult {
        let said = |v: &Json| {
            let t = text(v);
            if self.traced { super::trace::unmarked(&t).into_owned() } else { t }
        };
        let message: String = h.params().iter().map(|p| said(p.value())).collect();
        let message = if message.trim().is_empty() { "the template refused this service".to_string() } else { message };
        let hash = |k: &str| h.hash_get(k).map(|v| said(v.value())).filter(|s| !s.is_empty());
        let template = INSIDE.with(|i| i.borrow().last().cloned());
        let raised = Raised { message: message.clone(), at: hash("at"), help: hash("help"), template };
        RAISED.with(|r| *r.borrow_mut() = Some(Box::new(raised)));
        Err(handlebars::RenderErrorReason::Other(message).into())
    }
}

/// Renders `name` where an `include` (or a `slot`) is; in a traced
/// renderer (`traced`), with the marks it writes tagged with it.
fn include_one<'reg: 'rc, 'rc>(
    name: &str,
    indent: u64,
    traced: bool,
    r: &'reg Handlebars<'reg>,
    ctx: &'rc Context,
    rc: &mut RenderContext<'reg, 'rc>,
    out: &mut dyn Output,
) -> HelperResult {
    let template =
        r.get_template(name).ok_or_else(|| handlebars::RenderErrorReason::PartialNotFound(name.to_owned()))?;
    // The checks before rendering see only names written out; these bound
    // computed ones (`{{include (concat ...)}}`) too.
    let (depth, count) = INCLUDES.with(std::cell::Cell::get);
    if depth >= MAX_INCLUDE_DEPTH {
        return Err(handlebars::RenderErrorReason::Other(format!(
            "`{name}` is included {MAX_INCLUDE_DEPTH} levels deep (does it include itself?)"
        ))
        .into());
    }
    if count >= MAX_INCLUDES {
        return Err(handlebars::RenderErrorReason::Other(format!(
            "more than {MAX_INCLUDES} inclusions in one rendering (at `{name}`)"
        ))
        .into());
    }
    INCLUDES.with(|c| c.set((depth + 1, count + 1)));
    INSIDE.with(|i| i.borrow_mut().push(name.to_string()));
    let mut buf = handlebars::StringOutput::new();
    let rendered = handlebars::Renderable::render(template, r, ctx, rc, &mut buf);
    INCLUDES.with(|c| c.set((depth, c.get().1)));
    rendered?;
    // (On an error the stack is left as it is: `fail` read it, and the
    // next rendering starts afresh.)
    INSIDE.with(|i| i.borrow_mut().pop());
    let mut text = buf.into_string().map_err(|e| handlebars::RenderErrorReason::Other(e.to_string()))?;
    if traced {
        text = super::trace::tag(&text, name);
    }
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let pad = " ".repeat(usize::try_from(indent).unwrap_or(0));
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.write("\n")?;
        }
        if !line.is_empty() {
            out.write(&pad)?;
            out.write(line)?;
        }
    }
    Ok(())
}

fn json_helper(h: &Helper, _: &Handlebars, _: &Context, _: &mut RenderContext, out: &mut dyn Output) -> HelperResult {
    let v = param(h, 0)?;
    let mut s = String::new();
    compact_json(v, &mut s);
    out.write(&s)?;
    Ok(())
}

/// serde_json's compact form, with the extra escapes of [`quote`].
fn compact_json(v: &Json, out: &mut String) {
    match v {
        Json::String(s) => out.push_str(&quote(s)),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                compact_json(item, out);
            }
            out.push(']');
        }
        Json::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&quote(k));
                out.push_str(": ");
                compact_json(item, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A value as text: a string as it is, null as nothing, any other as JSON.
pub(super) fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

fn hcl_helper(h: &Helper, _: &Handlebars, _: &Context, _: &mut RenderContext, out: &mut dyn Output) -> HelperResult {
    let joined: String = h.params().iter().map(|p| text(p.value())).collect();
    out.write(&hcl_quote(&joined))?;
    Ok(())
}

/// A quoted workflow string in which no `${{` starts an expression.
pub fn gha_quote(s: &str) -> String {
    quote(&s.replace("${{", "${{ '${{' }}"))
}

fn gha_helper(h: &Helper, _: &Handlebars, _: &Context, _: &mut RenderContext, out: &mut dyn Output) -> HelperResult {
    let joined: String = h.params().iter().map(|p| text(p.value())).collect();
    out.write(&gha_quote(&joined))?;
    Ok(())
}

/// `name` if it has at most `max` characters, else a prefix of it, `-` and
/// 8 hex digits of its SHA-256 (exactly `max` characters).
pub fn bounded(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_string();
    }
    let hash = super::hex(Sha256::digest(name.as_bytes()).get(..4).unwrap_or_default());
    let prefix: String = name.chars().take(max.saturating_sub(9)).collect();
    format!("{}-{hash}", prefix.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
}

fn truthy(v: &Json) -> bool {
    match v {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}

fn num(v: &Json) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// A helper that computes a value from its arguments: `{{lower x}}`
/// writes it (quoted), `(lower x)` passes it on. A traced renderer has it
/// as a [`TracedValue`].
#[derive(Clone, Copy)]
struct ValueHelper {
    name: &'static str,
    /// The arguments it needs (more may follow).
    needs: usize,
    f: fn(&[&Json]) -> Result<Json, handlebars::RenderErrorReason>,
}

impl handlebars::HelperDef for ValueHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<handlebars::ScopedJson<'rc>, handlebars::RenderError> {
        let args = self.args(h, r)?;
        Ok(handlebars::ScopedJson::Derived((self.f)(&args)?))
    }
}

impl ValueHelper {
    /// Its arguments, once it is checked that it has those it needs.
    fn args<'h>(&self, h: &'h Helper, r: &Handlebars) -> Result<Vec<&'h Json>, handlebars::RenderError> {
        for i in 0..self.needs {
            if h.param(i).is_none_or(|p| r.strict_mode() && p.is_value_missing()) {
                return Err(handlebars::RenderErrorReason::ParamNotFoundForIndex(self.name, i).into());
            }
        }
        Ok(h.params().iter().map(|p| p.value()).collect())
    }
}

/// A value helper of a traced renderer ([`Renderer::traced`]): while a
/// rendering is traced ([`super::trace::with`]) it unmarks its arguments
/// first and marks its value with what they carried.
struct TracedValue(ValueHelper);

impl handlebars::HelperDef for TracedValue {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<handlebars::ScopedJson<'rc>, handlebars::RenderError> {
        let mut leaves = Vec::new();
        let plain: Vec<Json> = self.0.args(h, r)?.into_iter().map(|a| super::trace::unmark(a, &mut leaves)).collect();
        let value = (self.0.f)(&plain.iter().collect::<Vec<_>>())?;
        Ok(handlebars::ScopedJson::Derived(super::trace::remark(value, leaves)))
    }
}

/// The value helpers, by name.
const VALUES: &[ValueHelper] = &[
    ValueHelper { name: "eq", needs: 2, f: |a| Ok(Json::Bool(arg(a, 0) == arg(a, 1))) },
    ValueHelper { name: "ne", needs: 2, f: |a| Ok(Json::Bool(arg(a, 0) != arg(a, 1))) },
    ValueHelper { name: "gt", needs: 2, f: |a| Ok(Json::Bool(num(arg(a, 0)) > num(arg(a, 1)))) },
    ValueHelper { name: "lt", needs: 2, f: |a| Ok(Json::Bool(num(arg(a, 0)) < num(arg(a, 1)))) },
    ValueHelper { name: "and", needs: 2, f: |a| Ok(Json::Bool(truthy(arg(a, 0)) && truthy(arg(a, 1)))) },
    ValueHelper { name: "or", needs: 2, f: |a| Ok(Json::Bool(truthy(arg(a, 0)) || truthy(arg(a, 1)))) },
    ValueHelper { name: "not", needs: 1, f: |a| Ok(Json::Bool(!truthy(arg(a, 0)))) },
    ValueHelper {
        name: "contains",
        needs: 2,
        f: |a| {
            Ok(Json::Bool(match arg(a, 0) {
                Json::Array(items) => items.contains(arg(a, 1)),
                Json::String(s) => s.contains(&text(arg(a, 1))),
                _ => false,
            }))
        },
    },
    ValueHelper { name: "lower", needs: 1, f: |a| Ok(Json::String(string(a, "lower")?.to_lowercase())) },
    ValueHelper { name: "upper", needs: 1, f: |a| Ok(Json::String(string(a, "upper")?.to_uppercase())) },
    ValueHelper { name: "seconds", needs: 1, f: |a| Ok(duration_seconds(arg(a, 0))) },
    ValueHelper { name: "concat", needs: 0, f: |a| Ok(Json::String(a.iter().map(|v| text(v)).collect())) },
    ValueHelper {
        name: "bounded",
        needs: 1,
        f: |a| {
            let max = arg(a, 0).as_u64().ok_or_else(|| {
                handlebars::RenderErrorReason::ParamTypeMismatchForName("bounded", "max".into(), "u64".into())
            })?;
            let joined: String = a.iter().skip(1).map(|v| text(v)).collect();
            Ok(Json::String(bounded(&joined, usize::try_from(max).unwrap_or(usize::MAX))))
        },
    },
    ValueHelper {
        name: "join",
        needs: 2,
        f: |a| {
            let sep = arg(a, 1).as_str().ok_or_else(|| {
                handlebars::RenderErrorReason::ParamTypeMismatchForName("join", "sep".into(), "str".into())
            })?;
            Ok(Json::String(match arg(a, 0) {
                Json::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(sep),
                other => text(other),
            }))
        },
    },
];

/// The `i`th argument (null when there is none: [`ValueHelper`] checks the count).
fn arg<'a>(args: &[&'a Json], i: usize) -> &'a Json {
    args.get(i).copied().unwrap_or(&Json::Null)
}

/// The first argument, a string.
fn string<'a>(args: &[&'a Json], helper: &'static str) -> Result<&'a str, handlebars::RenderErrorReason> {
    arg(args, 0)
        .as_str()
        .ok_or_else(|| handlebars::RenderErrorReason::ParamTypeMismatchForName(helper, "s".into(), "str".into()))
}

/// `"300ms"` → 0.3, `"5m"` → 300, a number → itself.
pub fn duration_seconds(d: &Json) -> Json {
    let s = match d {
        Json::Number(_) => return d.clone(),
        Json::String(s) => s.as_str(),
        _ => return Json::Null,
    };
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let Ok(n) = n.parse::<f64>() else {
        return Json::Null;
    };
    let factor = match unit {
        "ms" => 0.001,
        "s" | "" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return Json::Null,
    };
    let v = n * factor;
    if v.fract() == 0.0 {
        Json::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map(Json::Number).unwrap_or(Json::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, ctx: Json) -> Result<String, TemplateProblem> {
        let mut templates = BTreeMap::new();
        templates.insert("t.hbs".to_string(), TemplateFile { shown_as: "t.hbs".into(), text: t.into() });
        let (r, problems) = Renderer::new(&templates, |_| true);
        assert!(problems.is_empty(), "{problems:?}");
        r.render("t.hbs", &ctx)
    }

    #[test]
    fn finds_the_partials_a_template_names() {
        let text = r#"a: {{include "k/_pod.hbs" indent=2}}
{{~> meta}} {{#> layout}}x{{/layout}} {{json (include "k/_c.hbs")}} {{> "quoted"}}
{{#if include}}{{/if}}"#;
        let refs = references(text).unwrap();
        assert_eq!(
            refs,
            [
                Reference::Path("k/_pod.hbs"),
                Reference::Short("meta"),
                Reference::Short("layout"),
                Reference::Short("quoted"),
                Reference::Path("k/_c.hbs"),
            ]
        );
        assert_eq!(references(r#"{{include (concat "k/_" name ".hbs")}}"#), None);
        assert_eq!(references("{{> (lookup . 'p')}}"), None);
        // Text that only looks like one is taken as one: all are compiled.
        assert_eq!(references("(include this)"), None);
    }

    #[test]
    fn compiles_only_the_partials_that_can_be_included() {
        let file = |t: &str| TemplateFile { shown_as: "x".into(), text: t.into() };
        let mut templates = BTreeMap::new();
        templates.insert("k/deploy.yaml.hbs".to_string(), file(r#"{{include "k/_pod.hbs"}}"#));
        templates.insert("k/_pod.hbs".to_string(), file("{{> container}}"));
        templates.insert("k/_container.hbs".to_string(), file("c: 1"));
        templates.insert("alerts/_broken.hbs".to_string(), file("{{#if}}"));
        let (r, problems) = Renderer::new(&templates, |n| n == "k/deploy.yaml.hbs");
        assert!(problems.is_empty(), "the unused broken partial is not compiled: {problems:?}");
        assert!(r.has("k/_pod.hbs") && r.has("k/_container.hbs") && r.has("container"));
        assert!(!r.has("alerts/_broken.hbs"));
        assert_eq!(r.render("k/deploy.yaml.hbs", &serde_json::json!({})).unwrap(), "c: 1");
        let (_, problems) = Renderer::new(&templates, |_| true);
        assert_eq!(problems.len(), 1, "wanted, it is compiled and reported");
    }

    #[test]
    fn a_slot_renders_its_directory_in_name_order() {
        let file = |t: &str| TemplateFile { shown_as: "x".into(), text: t.into() };
        let mut templates = BTreeMap::new();
        templates.insert("k/deploy.yaml.hbs".to_string(), file("a:\n  x: 1\n{{slot \"k/more\" indent=2}}\nb: 2"));
        templates.insert("k/more/2.hbs".to_string(), file("z: {{json n}}"));
        templates.insert("k/more/1.hbs".to_string(), file("y: {{json n}}\n"));
        templates.insert("k/more/deeper/3.hbs".to_string(), file("not: in the slot"));
        templates.insert("k/other.yaml.hbs".to_string(), file("{{slot \"k/none\"}}"));
        assert_eq!(references("{{slot \"k/more\" indent=2}}").unwrap(), [Reference::Slot("k/more")]);
        // Wanted alone, the slot's templates are compiled because it names them.
        let (r, problems) = Renderer::new(&templates, |n| n == "k/deploy.yaml.hbs" || n == "k/other.yaml.hbs");
        assert!(problems.is_empty(), "{problems:?}");
        let out = r.render("k/deploy.yaml.hbs", &serde_json::json!({"n": 3})).unwrap();
        assert_eq!(out, "a:\n  x: 1\n  y: 3\n  z: 3\nb: 2");
        assert_eq!(r.render("k/other.yaml.hbs", &serde_json::json!({})).unwrap(), "");
        // A slot's template that fills its own slot is a cycle, found before rendering.
        templates.insert("k/more/1.hbs".to_string(), file("{{slot \"k/more\"}}"));
        let (_, problems) = Renderer::new(&templates, |_| true);
        assert!(
            problems.iter().any(|p| p.message.contains("includes itself") || p.message.contains("cycle")),
            "{problems:?}"
        );
    }

    #[test]
    fn fail_raises_the_templates_own_problem() {
        let e = render("{{fail \"no \" x at=\"a.b\" help=\"do y\"}}", serde_json::json!({"x": "way"})).unwrap_err();
        let r = e.raised.expect("raised");
        assert_eq!((r.message.as_str(), r.at.as_deref(), r.help.as_deref()), ("no way", Some("a.b"), Some("do y")));
        // Another failure of the same thread starts afresh.
        let e = render("{{nope}}", serde_json::json!({})).unwrap_err();
        assert!(e.raised.is_none());
    }

    #[test]
    fn plain_values_are_always_quoted() {
        let out = render("a: {{x}}", serde_json::json!({"x": "v\nkind: Secret # \"${{ y }}\""})).unwrap();
        assert_eq!(out, r#"a: "v\nkind: Secret # \"${{ y }}\"""#);
    }

    #[test]
    fn json_keeps_types() {
        let out = render("a: {{json n}} b: {{json m}}", serde_json::json!({"n": 3, "m": {"k": [true]}})).unwrap();
        assert_eq!(out, r#"a: 3 b: {"k": [true]}"#);
    }

    #[test]
    fn strict_mode_names_the_missing_value() {
        let e = render("a: {{nope}}", serde_json::json!({})).unwrap_err();
        assert!(e.message.contains("nope"), "{e:?}");
    }

    #[test]
    fn hcl_strings_cannot_interpolate() {
        assert_eq!(hcl_quote("${var.x} %{if}"), r#""$${var.x} %%{if}""#);
    }

    #[test]
    fn workflow_strings_never_become_expressions() {
        let out = render("a: {{gha x}}", serde_json::json!({"x": "${{ secrets.T }} $(id)"})).unwrap();
        assert_eq!(out, r#"a: "${{ '${{' }} secrets.T }} $(id)""#);
    }

    #[test]
    fn bounded_names_keep_distinct() {
        assert_eq!(bounded("payments-db-production", 40), "payments-db-production");
        let long = bounded("inventory-stock-cache-production-eu-west-one", 28);
        assert_eq!(long.chars().count(), 28);
        assert!(long.starts_with("inventory-stock-cac-"));
        assert_ne!(long, bounded("inventory-stock-cache-production-eu-west-two", 28));
        let out = render("a: {{bounded 12 x \"-\" y}}", serde_json::json!({"x": "abc", "y": "def"})).unwrap();
        assert_eq!(out, r#"a: "abc-def""#);
        let out = render("a: {{concat (bounded 12 x) \".fifo\"}}", serde_json::json!({"x": "abc"})).unwrap();
        assert_eq!(out, r#"a: "abc.fifo""#);
    }

    /// Traced, every helper passes on what its arguments carried, a
    /// partial tags what it wrote, and conditions take the same branches.
    #[test]
    fn helpers_pass_their_marks_on() {
        use super::super::trace;
        let mut templates = BTreeMap::new();
        let file = |t: &str| TemplateFile { shown_as: "x".into(), text: t.into() };
        templates.insert(
            "t.hbs".to_string(),
            file("a: {{concat (bounded 12 x \"-\" (lower y)) \".f\"}}\nb: {{json n}}\n{{#if (gt n 2)}}c: {{hcl z}}\n{{/if}}{{#unless e}}d: 1\n{{/unless}}{{include \"_p.hbs\"}}"),
        );
        templates.insert("_p.hbs".to_string(), file("p: {{seconds d}}"));
        let (r, problems) = Renderer::traced(&templates, |_| true);
        assert!(problems.is_empty(), "{problems:?}");
        let (build, problems) = Renderer::new(&templates, |_| true);
        assert!(problems.is_empty(), "{problems:?}");
        let ctx = serde_json::json!({"x": "abc", "y": "DEF", "n": 3, "z": "${q}", "e": "", "d": "5m"});
        let plain = build.render("t.hbs", &ctx).unwrap();
        assert_eq!(r.render("t.hbs", &ctx).unwrap(), plain, "untraced, a traced renderer renders as the build's");
        let (marked, marks) = trace::mark(&ctx);
        let (text, marks) = trace::with(marks, || r.render("t.hbs", &marked));
        let docs: Vec<_> =
            super::super::yaml::parse(&text.unwrap()).unwrap().into_iter().map(trace::strip_keys).collect();
        let [doc] = &docs[..] else { panic!("{docs:?}") };
        let at = |k: &str| -> Vec<(String, Option<String>)> {
            trace::landed(doc.get(k).unwrap(), &marks).into_iter().map(|l| (l.path.join("."), l.template)).collect()
        };
        assert_eq!(at("a"), [("x".into(), None), ("y".into(), None)]);
        assert_eq!(at("b"), [("n".into(), None)]);
        assert_eq!(at("c"), [("z".into(), None)]);
        assert_eq!(at("d"), []);
        assert_eq!(at("p"), [("d".into(), Some("_p.hbs".into()))]);
        assert_eq!(trace::strip(&doc.get("a").unwrap().text()), "abc-def.f");
        assert!(plain.contains("a: \"abc-def.f\"") && plain.contains("p: \"300\""), "{plain}");
        assert!(!trace::active());
    }

    #[test]
    fn durations_in_seconds() {
        assert_eq!(duration_seconds(&Json::from("300ms")), serde_json::json!(0.3));
        assert_eq!(duration_seconds(&Json::from("5m")), serde_json::json!(300));
    }
}
