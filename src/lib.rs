//! platc: the compiler of an internal developer platform.
//!
//! A workspace of `service.plat` files, a `platform.plat` and a standard
//! library become Kubernetes manifests, Terraform, CI workflows, dashboards,
//! alerts and catalog entries. The whole compiler is [`compile`]: sources in,
//! a tree of generated files out, with diagnostics and the list of files it
//! read. It does no I/O; the CLI (`src/cli/`) reads and writes.
//!
//! The pipeline, top to bottom:
//!
//! | stage      | module                      | in → out                                   |
//! |------------|-----------------------------|--------------------------------------------|
//! | parse      | [`input`], [`parse`]        | sources → ASTs ([`ast`])                   |
//! | library    | [`library`], [`workspace`]  | stdlib ASTs → declarations; workspace      |
//! | resolve    | [`resolve`], [`merge`]      | service ASTs → [`model`] with origins      |
//! | check      | [`check`], [`schema`], [`eval`], [`secrets`] | model → type, policy and secret diagnostics |
//! | graph      | [`graph`]                   | model → dependency graph, order, cycles    |
//! | emit       | [`emit`]                    | model + graph → generated files           |
//!
//! Diagnostics ([`diag`]) are collected by every stage and sorted once.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic, clippy::todo))]

pub mod ast;
pub mod cache;
pub mod check;
pub mod diag;
pub mod diff;
pub mod edit;
pub mod emit;
pub mod escape;
pub mod eval;
pub mod explain;
pub mod fmt;
pub mod graph;
pub mod ide;
pub mod input;
pub mod library;
pub mod merge;
pub mod model;
pub mod par;
pub mod parse;
pub mod resolve;
pub mod schema;
pub mod secrets;
pub mod sources;
pub mod span;
pub mod value;
pub mod workspace;

use std::collections::{BTreeMap, BTreeSet};

use diag::Diagnostic;
use library::Library;
use model::Model;
use sources::Sources;
use span::SourceMap;
use workspace::Workspace;

pub use emit::{Output, Target};

/// What to compile and how.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Only these outputs (all when empty).
    pub targets: Vec<Target>,
    /// Keep every assignment's history (for `platc explain`).
    pub trace: bool,
    /// Keep each generated file's parsed documents (for `platc diff` and
    /// `platc explain` of generated paths).
    pub keep_docs: bool,
    /// Only this environment (`--env`): policies are checked and
    /// per-environment files generated for it alone; files that do not
    /// depend on the environment (workflows, dashboards, catalog) are still
    /// generated. `None`: every environment.
    pub env: Option<String>,
    /// Each service's files as soon as they are rendered (see
    /// [`emit::Spill`]): `platc build` writes them to its staging directory
    /// and keeps only their hashes.
    pub spill: Option<emit::Spill>,
}

/// The result of a compilation.
#[derive(Debug)]
pub struct Compiled {
    /// Every file parsed, for rendering diagnostics.
    pub files: SourceMap,
    /// Sorted by file, position and code.
    pub diagnostics: Vec<Diagnostic>,
    /// The generated files by output-relative path; `None` when an error was
    /// reported (a failed build writes nothing).
    pub output: Option<Output>,
    /// Workspace files the compilation read (what `watch` watches).
    pub read: BTreeSet<String>,
    /// The resolved model, when resolution got that far.
    pub model: Option<Model>,
    /// The dependency graph of the model.
    pub graph: Option<graph::Graph>,
    /// The standard library the model was resolved with.
    pub library: Option<Library>,
    /// Spans of secrets found in plain text, redacted in `files` (and never
    /// to be shown by any command).
    pub redacted: Vec<span::Span>,
    /// What the next compilation may reuse (see [`compile_reusing`]).
    pub cache: Option<cache::Cache>,
    /// How much work was done, and how much reused.
    pub stats: Stats,
}

/// Counts of work done by a compilation (reported by `watch` and the benchmarks).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Services resolved and checked again / taken from the previous compilation.
    pub resolved: usize,
    pub reused: usize,
    /// Services rendered again / whose files were taken from the previous output.
    pub rendered: usize,
    pub kept: usize,
}

impl Compiled {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Compiles a workspace.
pub fn compile(sources: &Sources, options: &Options) -> Compiled {
    compile_inner(sources, options, None, &[])
}

/// Compiles a workspace again after `changed` files (workspace-relative)
/// changed, re-rendering only the services those changes can affect and
/// taking every other service's files from `previous` (for `platc watch`).
/// The result is the same as a full [`compile`].
pub fn compile_reusing(sources: &Sources, options: &Options, previous: &Compiled, changed: &[String]) -> Compiled {
    compile_inner(sources, options, Some(previous), changed)
}

/// The services whose output `changed` can alter, when `previous` allows
/// reuse at all (it built, and nothing global changed).
fn reuse_for<'a>(
    previous: Option<&'a Compiled>,
    changed: &[String],
    model: &Model,
    graph: &graph::Graph,
) -> Option<(&'a Output, BTreeSet<String>)> {
    let previous = previous?;
    let output = previous.output.as_ref()?;
    let before = previous.model.as_ref()?;
    let names = |m: &Model| m.services.iter().map(|s| (s.name.clone(), s.path.clone())).collect::<Vec<_>>();
    if names(before) != names(model) {
        return None; // services added, removed or moved: render everything
    }
    let affected = previous.affected_by(changed)?;
    // Neighbours in the new graph too (a new `depends_on` reaches new peers).
    let mut all = affected.clone();
    for s in &affected {
        all.extend(graph.dependents(s).into_iter().map(str::to_string));
        all.extend(graph.service_dependencies(s).into_iter().map(str::to_string));
    }
    Some((output, all))
}

impl Compiled {
    /// The services whose generated files a change to `files`
    /// (workspace-relative) can alter: the workspace file or a
    /// standard-library file changes every service (`None`); a service file,
    /// or a file it reads, changes that service and its direct neighbours in
    /// the graph (callers list its port and APIs; dependencies list it as a
    /// caller). A file the compilation never read changes nothing.
    pub fn affected_by(&self, files: &[String]) -> Option<BTreeSet<String>> {
        let model = self.model.as_ref()?;
        let graph = self.graph.as_ref()?;
        let overlay =
            model.workspace.stdlib.as_ref().and_then(|(d, _)| resolve::join_inside(workspace::WORKSPACE_FILE, d));
        let mut out = BTreeSet::new();
        for f in files {
            let global =
                f == workspace::WORKSPACE_FILE || overlay.as_ref().is_some_and(|d| f.starts_with(&format!("{d}/")));
            if global {
                return None;
            }
            if !self.read.contains(f) {
                continue;
            }
            for s in &model.services {
                let dir = s.path.rsplit_once('/').map(|(d, _)| format!("{d}/")).unwrap_or_default();
                let reads_it = s.path == *f || (f.starts_with(&dir) && !f.ends_with(workspace::SERVICE_FILE));
                if reads_it {
                    out.insert(s.name.clone());
                    out.extend(graph.dependents(&s.name).into_iter().map(str::to_string));
                    out.extend(graph.service_dependencies(&s.name).into_iter().map(str::to_string));
                }
            }
        }
        Some(out)
    }
}

fn compile_inner(sources: &Sources, options: &Options, previous: Option<&Compiled>, changed: &[String]) -> Compiled {
    let mut files = SourceMap::default();
    let mut diags = Vec::new();
    let mut read = BTreeSet::new();

    let empty = cache::Cache::default();
    let previous_cache = previous.and_then(|p| p.cache.as_ref()).unwrap_or(&empty);
    let mut next = cache::Cache::default();
    let input = input::load(sources, &mut files, &mut diags, &mut read, previous_cache, &mut next);
    let library = Library::build(input.stdlib, input.templates, &mut diags);
    // A platform.plat that does not parse: its errors alone. (Resolving the
    // services in the built-in workspace instead would only report, in
    // every service, what the workspace was meant to say.)
    let workspace_failed = diags
        .iter()
        .any(|d| d.is_error() && d.primary().is_some_and(|s| files.path(s.file) == workspace::WORKSPACE_FILE));
    if workspace_failed && input.workspace.is_none() {
        return finish(files, diags, None, read, None);
    }
    let workspace = match input.workspace.as_ref().or(library.default_workspace.as_ref()) {
        Some(b) => {
            let mut ws = Workspace::from_block(b, input.workspace.is_some(), &mut diags);
            ws.locate(sources.workspace_dirs(), &mut diags);
            ws
        }
        None => {
            diags.push(Diagnostic::error(
                "platc::workspace::missing",
                "no workspace: neither platform.plat nor a built-in default",
            ));
            return finish(files, diags, None, read, None);
        }
    };
    let service_file_count = input.service_file_count;
    let decls = input::service_decls(input.service_files, &mut diags);
    if service_file_count == 0 {
        diags.push(
            Diagnostic::error("platc::workspace::no_services", "the workspace has no services")
                .help("add a `service.plat` holding `service NAME from web-api { owner = \"team-x\" }`"),
        );
    }

    // What may be reused from the previous compilation: services whose file,
    // and every global input, are unchanged (and whose `file(...)` reads
    // did not change either).
    let same_globals = next.global == previous_cache.global;
    let reusable = previous.filter(|_| same_globals).and_then(|p| p.model.as_ref()).map(|m| Reusable {
        model: m,
        cache: previous_cache,
        changed,
    });
    let (model, mut broken, reused) =
        resolve_all(&decls, &library, workspace, sources, options, reusable.as_ref(), &mut next, &mut diags, &mut read);
    // A service whose file already has an error is not checked against the
    // policies: they would only restate it.
    let failed_files: BTreeSet<span::FileId> =
        diags.iter().filter(|d| d.is_error()).filter_map(|d| d.primary()).map(|s| s.file).collect();
    broken.extend(model.services.iter().filter(|s| failed_files.contains(&s.file)).map(|s| s.name.clone()));
    // Checks of reused services are reused too, when the set of services
    // (which references are checked against) is the same.
    let same_names = reusable.as_ref().is_some_and(|r| {
        r.model.services.len() == model.services.len()
            && r.model.services.iter().zip(&model.services).all(|(a, b)| a.name == b.name)
    });
    let reused_checks: BTreeMap<String, Vec<Diagnostic>> = if same_names {
        reused.iter().filter_map(|n| Some((n.clone(), previous_cache.services.get(n)?.check.clone()))).collect()
    } else {
        BTreeMap::new()
    };
    let unresolved = declared_in_failed_files(&files, &failed_files, &model);
    let checked =
        check::check(&model, &library, &broken, &reused_checks, &unresolved, options.env.as_deref(), &mut diags);
    for (name, ds) in checked {
        diags.extend(ds.iter().cloned());
        next.services.entry(name).or_default().check = ds;
    }
    let redacted = secrets::scan(&model, &mut diags);
    files.redact_all(&redacted);
    let graph = graph::build(&model, &mut diags);

    let reuse = reuse_for(previous, changed, &model, &graph);
    let rendered = reuse.as_ref().map_or(model.services.len(), |(_, only)| only.len());
    let stats = Stats {
        resolved: model.services.len() - reused.len(),
        reused: reused.len(),
        rendered,
        kept: model.services.len() - rendered.min(model.services.len()),
    };
    let output = if diags.iter().any(Diagnostic::is_error) {
        None
    } else {
        // The compiled templates are kept when every global input (the
        // standard library's text among them) and the targets are the same.
        let renderer = previous_cache
            .renderer
            .as_ref()
            .filter(|(targets, _)| same_globals && *targets == options.targets)
            .map(|(_, r)| std::sync::Arc::clone(r));
        let mut carry = emit::Carry { previous: reuse.as_ref().map(|(o, s)| (*o, s)), renderer };
        let output = emit::emit(&model, &graph, &library, options, &mut carry, &files, &mut diags);
        next.renderer = carry.renderer.map(|r| (options.targets.clone(), r));
        // Every string that reaches the output, whatever it was made from
        // (the kept files of other services were scanned when made).
        if let Some(out) = &output {
            secrets::scan_output(out, &model, reuse.as_ref().map(|(_, only)| only), &mut diags);
        }
        output
    };
    let mut compiled = finish(files, diags, output, read, Some(model));
    compiled.graph = Some(graph);
    compiled.library = Some(library);
    compiled.redacted = redacted;
    compiled.cache = Some(next);
    compiled.stats = stats;
    compiled
}

/// The service names files that failed to parse or resolve appear to
/// declare (`service NAME`, read from their text) and that did not resolve:
/// a dependency on one is not reported as unknown, only the file's own error.
fn declared_in_failed_files(files: &SourceMap, failed: &BTreeSet<span::FileId>, model: &Model) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for id in failed {
        let Some(f) = files.get(*id) else { continue };
        if f.path.starts_with("<stdlib>") || f.path == workspace::WORKSPACE_FILE {
            continue;
        }
        let mut words = f.text.split(|c: char| c.is_whitespace() || c == '{');
        while let Some(w) = words.next() {
            if w == "service"
                && let Some(name) = words.by_ref().find(|n| !n.is_empty())
                && schema::is_dns_label(name)
                && model.service(name).is_none()
            {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// What a compilation may take from the previous one.
struct Reusable<'a> {
    model: &'a Model,
    cache: &'a cache::Cache,
    /// Files that changed since (a service reading one is resolved again).
    changed: &'a [String],
}

fn finish(
    files: SourceMap,
    mut diagnostics: Vec<Diagnostic>,
    output: Option<Output>,
    read: BTreeSet<String>,
    model: Option<Model>,
) -> Compiled {
    // No diagnostic may show a credential, whether or not one was named.
    let mut files = files;
    secrets::redact_sources(&mut files);
    diag::sort(&mut diagnostics, &files);
    let output = if diagnostics.iter().any(Diagnostic::is_error) { None } else { output };
    Compiled {
        files,
        diagnostics,
        output,
        read,
        model,
        graph: None,
        library: None,
        redacted: Vec::new(),
        cache: None,
        stats: Stats::default(),
    }
}

#[allow(clippy::too_many_arguments)]
fn resolve_all(
    decls: &[resolve::ServiceDecl],
    library: &Library,
    workspace: Workspace,
    sources: &Sources,
    options: &Options,
    reusable: Option<&Reusable>,
    next: &mut cache::Cache,
    diags: &mut Vec<Diagnostic>,
    read: &mut BTreeSet<String>,
) -> (Model, BTreeSet<String>, BTreeSet<String>) {
    let cx = resolve::Context { library, workspace: &workspace, sources, trace: options.trace };
    let mut services: BTreeMap<String, model::Service> = BTreeMap::new();
    // Services whose resolution failed: their policies would only repeat it.
    let mut broken = BTreeSet::new();
    let mut reused = BTreeSet::new();
    // Services resolve independently: on every core, results in order.
    let parsed_now = &next.parsed;
    let resolved_all = par::map(decls, |decl| {
        if let Some((s, ds)) = reuse_one(decl, reusable, parsed_now, options) {
            return (Some(s.clone()), ds.clone(), true);
        }
        let mut own = Vec::new();
        let resolved = resolve::service(decl, &cx, &mut own);
        (resolved, own, false)
    });
    for (decl, (resolved, own, was_reused)) in decls.iter().zip(resolved_all) {
        let failed = own.iter().any(Diagnostic::is_error);
        diags.extend(own.iter().cloned());
        let Some(s) = resolved else { continue };
        if failed {
            broken.insert(s.name.clone());
        }
        if was_reused {
            reused.insert(s.name.clone());
        }
        for api in &s.apis {
            if let Some(value::Value::File(rel)) = api.values.get("definition").map(|n| &n.value)
                && let Some(p) = resolve::join_inside(&decl.path, rel)
            {
                read.insert(p);
            }
        }
        if let Some(prev) = services.get(&s.name) {
            diags.push(
                Diagnostic::error(
                    "platc::resolve::duplicate_service",
                    format!("service `{}` is declared twice", s.name),
                )
                .label(s.name_span, "declared again")
                .also(prev.name_span, "first declared here")
                .help("service names are unique in a workspace; rename one"),
            );
            continue;
        }
        next.services.insert(s.name.clone(), cache::ServiceDiags { resolve: own, check: Vec::new() });
        services.insert(s.name.clone(), s);
    }
    (Model { workspace, services: services.into_values().collect() }, broken, reused)
}

/// The previous compilation's service for `decl`, with its resolution
/// diagnostics, if nothing it was resolved from changed.
fn reuse_one<'a>(
    decl: &resolve::ServiceDecl,
    reusable: Option<&'a Reusable>,
    parsed_now: &BTreeMap<String, cache::Parsed>,
    options: &Options,
) -> Option<(&'a model::Service, &'a Vec<Diagnostic>)> {
    let r = reusable?;
    let name = decl.block()?.labels.first()?.name.as_str();
    let prev = r.model.service(name)?;
    let then = r.cache.parsed.get(&decl.path)?;
    let now = parsed_now.get(&decl.path)?;
    let same_file = prev.path == decl.path && prev.file == decl.file && then.id == now.id && then.text == now.text;
    let traced = prev.instances.first().is_none_or(|i| i.trace.is_some() == options.trace);
    let dir = decl.path.rsplit_once('/').map(|(d, _)| format!("{d}/")).unwrap_or_default();
    let reads_changed = r.changed.iter().any(|f| f.starts_with(&dir) && !f.ends_with(workspace::SERVICE_FILE));
    if !same_file || !traced || reads_changed {
        return None;
    }
    Some((prev, &r.cache.services.get(name)?.resolve))
}
