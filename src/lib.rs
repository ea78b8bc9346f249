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
//! | parse      | [`input`], [`syntax`], [`parse`] | sources → lossless trees → ASTs ([`ast`]) |
//! | library    | [`library`], [`workspace`]  | stdlib ASTs → declarations; workspace      |
//! | resolve    | [`resolve`], [`merge`]      | service ASTs → [`model`] with origins      |
//! | check      | [`check`], [`schema`], [`eval`], [`secrets`] | model → type, policy and secret diagnostics |
//! | graph      | [`graph`]                   | model → dependency graph, order, cycles    |
//! | emit       | [`emit`]                    | model + graph → generated files           |
//!
//! Diagnostics ([`diag`]) are collected by every stage and sorted once. A
//! dotted name (`service.replicas`, `${workspace.registry}`, `db.url`,
//! `users.addr`, `orders.cache.addr`) means the same to every stage that
//! reads one: the crate-private `scope` module says what it is and finds it.
//! Stage modules keep their internals `pub(crate)`; what is `pub` is what
//! the CLI, the tests and the benchmarks use.
//! Every stage is a pure function of explicit inputs; the per-service ones
//! (parse, resolve, check, render) are called through one memo store
//! ([`memo`]) that keeps each result by a fingerprint of what it read, so
//! that build, `watch`, the no-op stamp and the language server reuse work
//! the same way ([`compile_reusing`]), and [`compile`] itself holds no
//! decision about what to reuse.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic, clippy::todo))]
// The library does no I/O (files, environment, clock, processes, network,
// terminal): the methods and types clippy.toml lists are errors here, so the
// build enforces it (the CLI in src/cli* reads and writes).
#![cfg_attr(
    not(test),
    deny(
        clippy::disallowed_methods,
        clippy::disallowed_types,
        clippy::print_stdout,
        clippy::print_stderr,
        clippy::dbg_macro
    )
)]

pub mod ast;
pub mod cache;
pub mod check;
pub mod diag;
pub mod diff;
pub mod edit;
pub mod emit;
pub mod escape;
pub(crate) mod eval;
pub mod explain;
pub mod fmt;
pub mod graph;
pub mod ide;
pub mod input;
pub mod library;
pub mod memo;
pub mod merge;
pub mod model;
pub mod par;
pub mod parse;
pub mod resolve;
pub mod schema;
pub(crate) mod scope;
pub mod secrets;
pub mod sources;
pub mod span;
pub mod syntax;
pub mod targets;
pub mod value;
pub mod workspace;

use std::collections::{BTreeMap, BTreeSet};

use diag::Diagnostic;
use library::Library;
use model::Model;
use sources::Sources;
use span::SourceMap;
use workspace::Workspace;

pub use emit::Output;
pub use targets::Target;

/// What to compile and how.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Only these outputs, by name (all when empty): targets of the
    /// library's registry ([`targets`]; check names with
    /// [`targets::Targets::check_names`]).
    pub targets: Vec<String>,
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
    /// Called with the diagnostics of parse, resolve, check and graph
    /// (sorted, the sources already redacted) before emit renders, when
    /// there is no error (else nothing is rendered): the language server
    /// publishes them without waiting for emit, whose own diagnostics come
    /// with the compilation's result.
    pub checked: Option<Checked>,
}

/// See [`Options::checked`].
#[derive(Clone)]
pub struct Checked(pub std::sync::Arc<CheckedFn>);

/// What [`Checked`] calls: the diagnostics so far, and the files their spans point into.
pub type CheckedFn = dyn Fn(&[Diagnostic], &SourceMap) + Send + Sync;

impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checked")
    }
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
    pub memo: memo::Store,
    /// How much work was done, and how much reused.
    pub stats: Stats,
}

/// Counts of work done by a compilation (reported by `watch` and the
/// benchmarks), as the memo store ([`memo`]) counted it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Service declarations resolved / whose resolution was reused (nothing
    /// it read changed).
    pub resolved: usize,
    pub reused: usize,
    /// Services rendered / whose rendering was reused (their files shared).
    pub rendered: usize,
    pub kept: usize,
    /// The output was assembled from the last compilation's, with the files
    /// of the services rendered again replaced (see [`compile_reusing`]).
    pub patched: bool,
}

impl Compiled {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Compiles a workspace.
pub fn compile(sources: &Sources, options: &Options) -> Compiled {
    compile_with(sources, options, &memo::Store::default(), None)
}

/// Compiles a workspace again, reusing every result of `previous` whose
/// inputs did not change (for `platc watch` and the language server). The
/// result is the same as a full [`compile`].
pub fn compile_reusing(sources: &Sources, options: &Options, previous: &Compiled) -> Compiled {
    compile_with(sources, options, &previous.memo, previous.output.as_ref())
}

impl Compiled {
    /// The services whose generated files a change to `files`
    /// (workspace-relative) can alter (`None`: every service); see
    /// [`memo::Store::affected_by`].
    pub fn affected_by(&self, files: &[String]) -> Option<BTreeSet<String>> {
        self.memo.affected_by(files, self.graph.as_ref()?)
    }
}

/// The pipeline. Every stage is a pure function; `db` keeps the results of
/// the per-service ones by what they read ([`memo`]); the output is
/// assembled from the `last` one when the store says what that was made of.
fn compile_with(sources: &Sources, options: &Options, store: &memo::Store, last: Option<&Output>) -> Compiled {
    let mut files = SourceMap::default();
    let mut diags = Vec::new();
    let mut read = BTreeSet::new();

    // parse
    let mut parsed = cache::Cache::default();
    let input = input::load(sources, &mut files, &mut diags, &mut read, &store.parsed, &mut parsed);
    let db = memo::Db::new(store, parsed, &files, sources, input.overlay.as_deref());

    // library
    let library = Library::build(input.stdlib, input.templates, &mut diags);
    // A platform.plat that does not parse: its errors alone. (Resolving the
    // services in the built-in workspace instead would only report, in
    // every service, what the workspace was meant to say.)
    let workspace_failed = diags
        .iter()
        .any(|d| d.is_error() && d.primary().is_some_and(|s| files.path(s.file) == workspace::WORKSPACE_FILE));
    if workspace_failed && input.workspace.is_none() {
        let redactions = secrets::redact_sources_reusing(&mut files, &store.redactions);
        return finish(files, diags, None, read, None, db.finish(), redactions);
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
            let redactions = secrets::redact_sources_reusing(&mut files, &store.redactions);
            return finish(files, diags, None, read, None, db.finish(), redactions);
        }
    };
    let decls = input::service_decls(input.service_files, &mut diags);
    if input.service_file_count == 0 {
        diags.push(
            Diagnostic::error("platc::workspace::no_services", "the workspace has no services")
                .help("add a `service.plat` holding `service NAME from web-api { owner = \"team-x\" }`"),
        );
    }

    // resolve
    let resolved = db.resolve_all(&decls, &library, &workspace, sources, &files, options.trace);
    let (model, mut broken) = assemble(&resolved, workspace, &mut diags, &mut read);

    // check: a service whose file already has an error is not checked
    // against the policies (they would only restate it).
    let failed_files: BTreeSet<span::FileId> =
        diags.iter().filter(|d| d.is_error()).filter_map(|d| d.primary()).map(|s| s.file).collect();
    broken.extend(model.services.iter().filter(|s| failed_files.contains(&s.file)).map(|s| s.name.clone()));
    let unresolved = declared_in_failed_files(&files, &failed_files, &model);
    check::workspace(&model, &library, &mut diags);
    let known = check::known_services(&model, &unresolved);
    let checked = db.check_all(&model, &library, &known, &broken, options.env.as_deref());
    diags.extend(checked.iter().flat_map(|ds| ds.iter().cloned()));
    // The scan of each service is kept with its resolution (the model's
    // service of a name is the first resolution of that name).
    let mut by_name: BTreeMap<&str, &memo::Resolved> = BTreeMap::new();
    for r in &resolved {
        if let Some(s) = &r.service {
            by_name.entry(s.name.as_str()).or_insert(r);
        }
    }
    let scan_service = |s: &model::Service| match by_name.get(s.name.as_str()) {
        Some(r) => r.secrets(),
        None => std::sync::Arc::new(secrets::service(s)),
    };
    let redacted = secrets::scan(&model, &scan_service, &mut diags);
    files.redact_all(&redacted);

    // graph
    let graph = graph::build(&model, &mut diags);

    // No diagnostic may show a credential, whether or not one was named
    // (the texts that did not change were scanned by the last compilation);
    // done before emit, which reads no source text but for line numbers,
    // so that what `checked` is shown is redacted too.
    let redactions = secrets::redact_sources_reusing(&mut files, &store.redactions);

    // emit
    let output = if diags.iter().any(Diagnostic::is_error) {
        None
    } else {
        if let Some(checked) = &options.checked {
            let mut early = diags.clone();
            diag::sort(&mut early, &files);
            (checked.0)(&early, &files);
        }
        match db.templates(options, || emit::compile_templates(&library, options)) {
            Ok(templates) => {
                let render =
                    |s: &model::Service, run: &dyn Fn() -> emit::ServiceOutput| db.render(s, &graph, options, run);
                let last = last.zip(db.emitted());
                let emitted =
                    emit::emit(&model, &graph, &library, options, &templates, &render, &files, last, &mut diags);
                emitted.map(|(output, emitted)| {
                    db.set_emitted(emitted);
                    output
                })
            }
            Err(problems) => {
                diags.extend(problems);
                None
            }
        }
    };

    let mut compiled = finish(files, diags, output, read, Some(model), db.finish(), redactions);
    compiled.graph = Some(graph);
    compiled.library = Some(library);
    compiled.redacted = redacted;
    compiled
}

/// The model of the resolved services (the first of two of one name; the
/// second is an error), and the services whose resolution failed.
fn assemble(
    resolved: &[std::sync::Arc<memo::Resolved>],
    workspace: Workspace,
    diags: &mut Vec<Diagnostic>,
    read: &mut BTreeSet<String>,
) -> (Model, BTreeSet<String>) {
    let mut services: BTreeMap<String, model::Service> = BTreeMap::new();
    let mut broken = BTreeSet::new();
    for r in resolved {
        diags.extend(r.diags.iter().cloned());
        read.extend(r.reads.iter().map(|(p, _)| p.clone()));
        let Some(s) = &r.service else { continue };
        if r.diags.iter().any(Diagnostic::is_error) {
            broken.insert(s.name.clone());
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
        services.insert(s.name.clone(), s.clone());
    }
    (Model { workspace, services: services.into_values().collect() }, broken)
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

fn finish(
    files: SourceMap,
    mut diagnostics: Vec<Diagnostic>,
    output: Option<Output>,
    read: BTreeSet<String>,
    model: Option<Model>,
    (mut memo, stats): (memo::Store, Stats),
    redactions: secrets::Redactions,
) -> Compiled {
    // (`files` are redacted: see `secrets::redact_sources_reusing`.)
    memo.redactions = redactions;
    diag::sort(&mut diagnostics, &files);
    let output = if diagnostics.iter().any(Diagnostic::is_error) { None } else { output };
    Compiled { files, diagnostics, output, read, model, graph: None, library: None, redacted: Vec::new(), memo, stats }
}
