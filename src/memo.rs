//! The incremental core: the stages are pure functions, and one memo store,
//! outside them, keeps each one's results by a fingerprint of everything it
//! read. `build`, `watch`, the language server and the benches all compile
//! through it: a compilation given the [`Store`] of an earlier one
//! ([`compile_reusing`](crate::compile_reusing)) reuses every result whose
//! inputs are unchanged, and computes the rest. Reuse never changes the
//! result (tests/incremental.rs compares against compilations from scratch
//! over random edit sequences).
//!
//! | query      | stage function                      | memoized on                                                  |
//! |------------|-------------------------------------|--------------------------------------------------------------|
//! | parse      | [`parse::parse`](crate::parse)      | the file's path, place in the source map and text            |
//! | resolve    | [`resolve::service`](crate::resolve)| its file, the globals, `trace`, and every `file()` it loaded |
//! | check      | [`check::check_service`](crate::check) | its resolution, the globals, the known services, `broken`, `--env` |
//! | render     | emit's per-service rendering        | its resolution, the globals, the options; and every other service and graph edge it looked up |
//! | templates  | [`emit::compile_templates`](crate::emit) | the globals and the targets                             |
//! | secrets    | [`secrets::service`](crate::secrets), kept with the resolution | the service's resolution              |
//! | redaction  | [`secrets::redact_sources`](crate::secrets) of each source file | its text                            |
//! | output     | emit's assembly of the output and its index | each service's rendering (the same one shared), and the last output |
//!
//! The *globals* are the workspace file and the standard library (embedded
//! and overlaid), each with its path and place, and where the workspace sits
//! in its repository: everything every service reads. The no-op stamp of
//! `platc build` (src/cli/stamp.rs) is the whole build's entry in the same
//! scheme: its fingerprint of every input, with the files loaded by name
//! loaded again and compared.
//!
//! What a query reads is its key, by construction where the types allow it:
//! `resolve` sees the [`Sources`] only through a tracked view that records
//! each file it loads with the fingerprint of what it got (as comemo's
//! `Tracked` does), and a result is reused only when every recorded load
//! gives the same again; it sees no other service (its
//! [`Context`](crate::resolve::Context) has none), `check` sees one service
//! and the workspace, not the model (and both run recorded: one that ever
//! looked another service up would not be reused). Rendering reads other services
//! (addresses, ports, APIs, workloads of its neighbours): the accessors
//! themselves ([`Model::service`], [`Graph::service_dependencies`],
//! [`Graph::dependents`], [`Graph::namespace_members`]) [`note`] each
//! lookup made while a rendering runs, and a rendering is reused only when
//! every lookup answers the same (a neighbour's resolution, a list of
//! edges, a namespace's members). [`Store::affected_by`] (what
//! `platc graph --affected-by` prints) reads the same records.
//!
//! The engine is this module rather than comemo or salsa: comemo keys
//! memoized calls by `Hash` of their arguments and of every tracked method's
//! return value, and neither the syntax trees, the model nor the library
//! (with `f64` numbers throughout) are `Hash`; its cache is one process-wide
//! static that every compilation (watch's, the editor's, a test's
//! from-scratch one) would share, with no per-compilation count of what was
//! reused (`Stats`). salsa asks the model and library to become database
//! entities, a rewrite of every stage. Here each query is a fingerprint
//! (SHA-256 of what it reads, 128 bits kept) in a store owned by the caller,
//! and a compilation keeps only the entries it used (the next store holds
//! this compilation's results, so memory does not grow with edits), and the
//! previous results of a query that did not run at all.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use sha2::{Digest, Sha256};

use crate::cache::Cache;
use crate::diag::Diagnostic;
use crate::emit::ServiceOutput;
use crate::emit::render::Renderer;
use crate::graph::Graph;
use crate::library::Library;
use crate::model::{Model, Service};
use crate::resolve::{self, ServiceDecl};
use crate::sources::{Sources, Text};
use crate::span::SourceMap;
use crate::workspace::Workspace;
use crate::{Options, Stats};

/// What a query read, in 128 bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 16]);

impl Fingerprint {
    /// A file's contents as a compilation gets them (or why it did not).
    pub fn of_load(r: &Result<Text, String>) -> Fingerprint {
        match r {
            Ok(t) => Fingerprint::of_text(t),
            Err(why) => Hasher::new("error").str(why).finish(),
        }
    }

    pub fn of_text(t: &Text) -> Fingerprint {
        match t {
            Text::Utf8(t) => Hasher::new("utf8").str(t).finish(),
            Text::Invalid { valid_up_to } => Hasher::new("invalid").u64(*valid_up_to as u64).finish(),
        }
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::emit::hex(&self.0))
    }
}

/// Builds a [`Fingerprint`]; every part is length-prefixed, so that no two
/// different sequences of parts hash alike.
pub struct Hasher(Sha256);

impl Hasher {
    /// Starts a fingerprint of one kind of query.
    pub fn new(kind: &str) -> Hasher {
        Hasher(Sha256::new()).str(kind)
    }

    pub fn bytes(mut self, b: &[u8]) -> Hasher {
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
        self
    }

    pub fn str(self, s: &str) -> Hasher {
        self.bytes(s.as_bytes())
    }

    pub fn u64(mut self, n: u64) -> Hasher {
        self.0.update(n.to_le_bytes());
        self
    }

    pub fn opt(self, s: Option<&str>) -> Hasher {
        match s {
            Some(s) => self.u64(1).str(s),
            None => self.u64(0),
        }
    }

    pub fn maybe(self, f: Option<Fingerprint>) -> Hasher {
        match f {
            Some(f) => self.u64(1).fp(f),
            None => self.u64(0),
        }
    }

    pub fn fp(mut self, f: Fingerprint) -> Hasher {
        self.0.update(f.0);
        self
    }

    pub fn finish(self) -> Fingerprint {
        let mut out = [0u8; 16];
        for (o, b) in out.iter_mut().zip(self.0.finalize().iter()) {
            *o = *b;
        }
        Fingerprint(out)
    }
}

/// Files loaded through a tracked view of the sources, each with the
/// fingerprint of what the load gave.
pub type Reads = Vec<(String, Fingerprint)>;

/// One service resolved: the stage's result, with what it read.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub service: Option<Service>,
    pub diags: Vec<Diagnostic>,
    /// The files it loaded by name (`file(...)`).
    pub reads: Reads,
    /// Of its key and its reads: what a query reading this service's
    /// resolution is keyed on.
    pub fingerprint: Fingerprint,
    /// Whether it may be reused: it looked up no other service.
    reusable: bool,
    /// What the credential scan finds in the service (a function of the
    /// service alone: made once, kept with the resolution).
    secrets: OnceLock<Arc<crate::secrets::Found>>,
}

impl Resolved {
    /// The credential scan of the service ([`crate::secrets::service`]).
    pub fn secrets(&self) -> Arc<crate::secrets::Found> {
        let found = self
            .secrets
            .get_or_init(|| Arc::new(self.service.as_ref().map(crate::secrets::service).unwrap_or_default()));
        Arc::clone(found)
    }
}

/// A lookup of another service's facts during a query (see [`note`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lookup {
    /// [`Model::service`]: its resolution.
    Service(String),
    /// [`Graph::service_dependencies`].
    Dependencies(String),
    /// [`Graph::dependents`].
    Dependents(String),
    /// [`Graph::namespace_members`]: environment, namespace.
    Namespace(String, String),
}

impl Lookup {
    /// The service looked up; none for a namespace's members (its name is
    /// not a service's, and the members are each looked up by name).
    fn service(&self) -> Option<&str> {
        match self {
            Lookup::Service(n) | Lookup::Dependencies(n) | Lookup::Dependents(n) => Some(n),
            Lookup::Namespace(..) => None,
        }
    }
}

thread_local! {
    /// The lookups of the query running on this thread, when it is recorded.
    static LOOKUPS: std::cell::RefCell<Option<Vec<Lookup>>> = const { std::cell::RefCell::new(None) };
}

/// Records a lookup of another service's facts, when a memoized query is
/// running on this thread (called by the accessors themselves, so that no
/// query can read a service without it being recorded).
pub fn note(lookup: impl FnOnce() -> Lookup) {
    LOOKUPS.with(|l| {
        if let Some(v) = l.borrow_mut().as_mut() {
            v.push(lookup());
        }
    });
}

/// Runs `f`, returning what it looked up (on this thread: the stage
/// functions memoized run on the thread that calls them).
fn recording<R>(f: impl FnOnce() -> R) -> (R, Vec<Lookup>) {
    let outer = LOOKUPS.with(|l| l.replace(Some(Vec::new())));
    let out = f();
    let got = LOOKUPS.with(|l| l.replace(outer)).unwrap_or_default();
    (out, got)
}

/// A service's rendering, with the lookups it made and what each answered.
#[derive(Debug)]
struct Rendering {
    output: Arc<ServiceOutput>,
    lookups: Vec<(Lookup, Fingerprint)>,
}

/// A check's diagnostics, with the other services it looked up (a use of a
/// resource another service grants is checked against that service).
#[derive(Debug)]
struct Checked {
    diags: Arc<Vec<Diagnostic>>,
    lookups: Vec<(String, Fingerprint)>,
}

/// What a service's results were made from, kept for
/// [`affected_by`](crate::Compiled::affected_by).
#[derive(Debug, Clone)]
struct Record {
    path: String,
    fingerprint: Fingerprint,
    reads: Vec<String>,
    /// The services its rendering looked up.
    looked_up: BTreeSet<String>,
}

/// What a compilation leaves for the next: every query's results by key.
#[derive(Default)]
pub struct Store {
    /// Parsed files by path (the parse query, kept by [`crate::input`]).
    pub(crate) parsed: Cache,
    resolved: HashMap<Fingerprint, Arc<Resolved>>,
    checked: HashMap<Fingerprint, Arc<Checked>>,
    rendered: HashMap<Fingerprint, Arc<Rendering>>,
    templates: Option<(Fingerprint, Arc<Renderer>)>,
    /// By service name, of the services in the model.
    services: BTreeMap<String, Record>,
    /// The paths of the globals (any change to one changes every service).
    globals: BTreeSet<String>,
    /// The standard-library overlay's directory (a file added there is global).
    overlay: Option<String>,
    /// What the credential scan of the sources found in each text.
    pub(crate) redactions: crate::secrets::Redactions,
    /// What the compilation's output was assembled from (when it built).
    emitted: Option<crate::emit::Emitted>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("parsed", &self.parsed.parsed.len())
            .field("resolved", &self.resolved.len())
            .field("checked", &self.checked.len())
            .field("rendered", &self.rendered.len())
            .finish()
    }
}

impl Store {
    /// The compilation's parse of the file at `path` (workspace-relative, or
    /// `<stdlib>/...`): its text, syntax tree and AST, which the formatter
    /// and the editor read without parsing again.
    pub fn parsed(&self, path: &str) -> Option<&crate::cache::Parsed> {
        self.parsed.parsed.get(path)
    }

    /// The services whose results a change to `files` (workspace-relative)
    /// can alter: a global file changes every service (`None`); a service
    /// file, or a file it loaded, changes that service, its [`neighbours`]
    /// and the services whose rendering looked it up. A file no query read
    /// changes nothing.
    pub fn affected_by(&self, files: &[String], graph: &Graph) -> Option<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for f in files {
            let in_overlay = self.overlay.as_ref().is_some_and(|d| f.starts_with(&format!("{d}/")));
            if self.globals.contains(f) || f == crate::workspace::WORKSPACE_FILE || in_overlay {
                return None;
            }
            for (name, r) in &self.services {
                if r.path == *f || r.reads.contains(f) {
                    out.insert(name.clone());
                    out.extend(neighbours(graph, name).into_iter().map(str::to_string));
                    let readers = self.services.iter().filter(|(_, o)| o.looked_up.contains(name));
                    out.extend(readers.map(|(n, _)| n.clone()));
                }
            }
        }
        Some(out)
    }
}

/// The services whose resolution a service's rendered files read: those it
/// depends on (their addresses, ports, APIs, workloads) and those that
/// depend on it (the callers its NetworkPolicy admits). The one rule, for
/// rendering's key and for what a change affects.
pub(crate) fn neighbours<'g>(graph: &'g Graph, service: &str) -> Vec<&'g str> {
    let mut out = graph.service_dependencies(service);
    out.extend(graph.dependents(service));
    out
}

/// A compilation's view of the memo store: the previous store to read, the
/// next one to fill, and counts of what was reused.
pub(crate) struct Db<'a> {
    prev: &'a Store,
    next: Mutex<Store>,
    globals: Fingerprint,
    /// Each service's resolution, by name (the first of a name), once resolved.
    fingerprints: OnceLock<BTreeMap<String, Fingerprint>>,
    resolved: AtomicUsize,
    reused: AtomicUsize,
    rendered: AtomicUsize,
    kept: AtomicUsize,
}

impl<'a> Db<'a> {
    /// Starts a compilation over `prev`, once the input is parsed (`parsed`
    /// holds the globals' texts; `files`, where each sits; `sources`, where
    /// the workspace is and the library it overlays).
    pub fn new(prev: &'a Store, parsed: Cache, files: &SourceMap, sources: &Sources, overlay: Option<&str>) -> Db<'a> {
        let mut h = Hasher::new("globals");
        for (path, text) in &parsed.global {
            h = h.str(path).u64(files.find(path).map_or(u64::MAX, |id| u64::from(id.0))).str(text);
        }
        for d in sources.workspace_dirs() {
            h = h.str(d);
        }
        // Which paths the library being overlaid has (an overlay file of
        // one of them replaces it, of another name extends the library).
        for path in sources.stdlib().keys() {
            h = h.str(path);
        }
        let globals = parsed.global.iter().map(|(p, _)| p.clone()).collect();
        Db {
            prev,
            next: Mutex::new(Store { parsed, globals, overlay: overlay.map(str::to_string), ..Store::default() }),
            globals: h.finish(),
            fingerprints: OnceLock::new(),
            resolved: AtomicUsize::new(0),
            reused: AtomicUsize::new(0),
            rendered: AtomicUsize::new(0),
            kept: AtomicUsize::new(0),
        }
    }

    fn next(&self) -> MutexGuard<'_, Store> {
        self.next.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves every service declaration (on every core, results in order).
    pub fn resolve_all(
        &self,
        decls: &[ServiceDecl],
        library: &Library,
        workspace: &Workspace,
        sources: &Sources,
        files: &SourceMap,
        trace: bool,
    ) -> Vec<Arc<Resolved>> {
        let all = crate::par::map(decls, |decl| self.resolve(decl, library, workspace, sources, files, trace));
        let mut next = self.next();
        for (decl, r) in decls.iter().zip(&all) {
            let Some(s) = &r.service else { continue };
            next.services.entry(s.name.clone()).or_insert_with(|| Record {
                path: decl.path.clone(),
                fingerprint: r.fingerprint,
                reads: r.reads.iter().map(|(p, _)| p.clone()).collect(),
                looked_up: BTreeSet::new(),
            });
        }
        let _ = self.fingerprints.set(next.services.iter().map(|(n, r)| (n.clone(), r.fingerprint)).collect());
        all
    }

    /// One service, resolved with exactly what its key holds: its file, the
    /// globals (library and workspace), `trace`, and the sources through a
    /// tracked view.
    fn resolve(
        &self,
        decl: &ServiceDecl,
        library: &Library,
        workspace: &Workspace,
        sources: &Sources,
        files: &SourceMap,
        trace: bool,
    ) -> Arc<Resolved> {
        let text = files.get(decl.file).map(|f| f.text.as_ref()).unwrap_or("");
        let key = Hasher::new("resolve")
            .str(&decl.path)
            .u64(u64::from(decl.file.0))
            .str(text)
            .u64(decl.item as u64)
            .fp(self.globals)
            .u64(u64::from(trace))
            .finish();
        let valid =
            |r: &Resolved| r.reusable && r.reads.iter().all(|(p, f)| Fingerprint::of_load(&sources.load(p)) == *f);
        let result = match self.prev.resolved.get(&key).filter(|r| valid(r)) {
            Some(r) => {
                self.reused.fetch_add(1, Ordering::Relaxed);
                Arc::clone(r)
            }
            None => {
                self.resolved.fetch_add(1, Ordering::Relaxed);
                let (tracked, reads) = sources.tracked();
                let cx = resolve::Context { library, workspace, sources: &tracked, trace };
                let mut diags = Vec::new();
                // Resolution reads no other service (its context holds none);
                // should it ever look one up, it is never reused.
                let (service, lookups) = recording(|| resolve::service(decl, &cx, &mut diags));
                let reads = reads.take();
                let mut h = Hasher::new("resolved").fp(key);
                for (p, f) in &reads {
                    h = h.str(p).fp(*f);
                }
                if !lookups.is_empty() {
                    h = h.str("not reusable");
                }
                let reusable = lookups.is_empty();
                Arc::new(Resolved {
                    service,
                    diags,
                    reads,
                    fingerprint: h.finish(),
                    reusable,
                    secrets: OnceLock::new(),
                })
            }
        };
        self.next().resolved.insert(key, Arc::clone(&result));
        result
    }

    /// The fingerprint of a service's resolution (`None`: no such service).
    fn service(&self, name: &str) -> Option<Fingerprint> {
        self.fingerprints.get().and_then(|f| f.get(name)).copied()
    }

    /// Checks every service (on every core, results in order); see
    /// [`Db::check`].
    pub fn check_all(
        &self,
        model: &Model,
        library: &Library,
        known: &BTreeSet<String>,
        broken: &BTreeSet<String>,
        env: Option<&str>,
    ) -> Vec<Arc<Vec<Diagnostic>>> {
        let mut h = Hasher::new("known");
        for k in known {
            h = h.str(k);
        }
        let known_fp = h.finish();
        crate::par::map(&model.services, |s| {
            self.check(s, model, library, (known, known_fp), broken.contains(&s.name), env)
        })
    }

    /// Checks one service: it sees the service, the workspace, the library,
    /// the names of every service (with their fingerprint), whether its
    /// resolution failed and the environment checked, all in its key; and
    /// other services only through [`Model::service`], whose lookups are
    /// recorded: a check is reused only when each answers the same now (a
    /// grantee's check reads its owner's grants).
    fn check(
        &self,
        service: &Service,
        model: &Model,
        library: &Library,
        (known, known_fp): (&BTreeSet<String>, Fingerprint),
        broken: bool,
        env: Option<&str>,
    ) -> Arc<Vec<Diagnostic>> {
        let key = Hasher::new("check")
            .fp(self.globals)
            .maybe(self.service(&service.name))
            .fp(known_fp)
            .u64(u64::from(broken))
            .opt(env)
            .finish();
        let answer = |name: &str| Hasher::new("service").maybe(self.service(name)).finish();
        let valid = |c: &Checked| c.lookups.iter().all(|(name, then)| answer(name) == *then);
        if let Some(c) = self.prev.checked.get(&key).filter(|c| valid(c)) {
            self.next().checked.insert(key, Arc::clone(c));
            return Arc::clone(&c.diags);
        }
        let mut diags = Vec::new();
        let ((), mut lookups) =
            recording(|| crate::check::check_service(service, model, library, known, broken, env, &mut diags));
        let result = Arc::new(diags);
        lookups.sort();
        lookups.dedup();
        // A check looks other services up by name alone; should one ever
        // read the graph, it is not kept for reuse.
        let services: Option<Vec<(String, Fingerprint)>> = lookups
            .iter()
            .map(|l| match l {
                Lookup::Service(n) => Some((n.clone(), answer(n))),
                _ => None,
            })
            .collect();
        if let Some(lookups) = services {
            self.next().checked.insert(key, Arc::new(Checked { diags: Arc::clone(&result), lookups }));
        }
        result
    }

    /// The compiled templates of the targets built.
    pub fn templates(
        &self,
        options: &Options,
        compile: impl FnOnce() -> Result<Renderer, Vec<Diagnostic>>,
    ) -> Result<Arc<Renderer>, Vec<Diagnostic>> {
        let mut h = Hasher::new("templates").fp(self.globals);
        for t in &options.targets {
            h = h.str(t);
        }
        let key = h.finish();
        let renderer = match self.prev.templates.as_ref().filter(|(k, _)| *k == key) {
            Some((_, r)) => Arc::clone(r),
            None => Arc::new(compile()?),
        };
        self.next().templates = Some((key, Arc::clone(&renderer)));
        Ok(renderer)
    }

    /// Renders one service with `render`, which reads the service, the
    /// globals and the options (its key), and other services through
    /// [`Model::service`] and the graph's [`Graph::service_dependencies`],
    /// [`Graph::dependents`] and [`Graph::namespace_members`]: those lookups
    /// are recorded, each with the fingerprint of its answer, and a
    /// rendering is reused only when every one of them answers the same now
    /// (as `resolve`'s loads are).
    pub fn render(
        &self,
        service: &Service,
        graph: &Graph,
        options: &Options,
        render: &dyn Fn() -> ServiceOutput,
    ) -> Arc<ServiceOutput> {
        let mut h = Hasher::new("render")
            .fp(self.globals)
            .opt(options.env.as_deref())
            .u64(u64::from(options.keep_docs))
            // A spilled rendering keeps hashes, not text: never reused by
            // a compilation that needs the text.
            .u64(u64::from(options.spill.is_some()))
            .str(&service.name)
            .maybe(self.service(&service.name));
        for t in &options.targets {
            h = h.str(t);
        }
        let key = h.finish();
        let valid = |r: &Rendering| r.lookups.iter().all(|(l, answer)| self.answer(l, graph) == *answer);
        let result = match self.prev.rendered.get(&key).filter(|r| valid(r)) {
            Some(r) => {
                self.kept.fetch_add(1, Ordering::Relaxed);
                Arc::clone(r)
            }
            None => {
                self.rendered.fetch_add(1, Ordering::Relaxed);
                let (output, mut lookups) = recording(render);
                lookups.sort();
                lookups.dedup();
                let lookups = lookups
                    .into_iter()
                    .map(|l| {
                        let answer = self.answer(&l, graph);
                        (l, answer)
                    })
                    .collect();
                Arc::new(Rendering { output: Arc::new(output), lookups })
            }
        };
        let mut next = self.next();
        if let Some(record) = next.services.get_mut(&service.name) {
            record.looked_up = result.lookups.iter().filter_map(|(l, _)| l.service()).map(str::to_string).collect();
        }
        next.rendered.insert(key, Arc::clone(&result));
        Arc::clone(&result.output)
    }

    /// What the last compilation's output was assembled from, if it built
    /// (see [`crate::emit::Emitted`]).
    pub fn emitted(&self) -> Option<&crate::emit::Emitted> {
        self.prev.emitted.as_ref()
    }

    /// Keeps what this compilation's output was assembled from.
    pub fn set_emitted(&self, emitted: crate::emit::Emitted) {
        self.next().emitted = Some(emitted);
    }

    /// What a lookup answers now, as a fingerprint.
    fn answer(&self, lookup: &Lookup, graph: &Graph) -> Fingerprint {
        let names = |h: Hasher, ns: Vec<&str>| ns.into_iter().fold(h, |h, n| h.str(n)).finish();
        match lookup {
            Lookup::Service(n) => Hasher::new("service").maybe(self.service(n)).finish(),
            Lookup::Dependencies(n) => names(Hasher::new("dependencies"), graph.service_dependencies(n)),
            Lookup::Dependents(n) => names(Hasher::new("dependents"), graph.dependents(n)),
            Lookup::Namespace(env, ns) => {
                names(Hasher::new("namespace"), graph.namespace_members(env, ns).iter().map(String::as_str).collect())
            }
        }
    }

    /// The store for the next compilation, and the counts of this one. The
    /// store keeps the results this compilation used (so it does not grow
    /// with edits), and the previous results of a query that did not run at
    /// all (a compilation that stopped at an error keeps the last rendering
    /// for the one after the fix).
    pub fn finish(self) -> (Store, Stats) {
        let stats = Stats {
            resolved: self.resolved.into_inner(),
            reused: self.reused.into_inner(),
            rendered: self.rendered.into_inner(),
            kept: self.kept.into_inner(),
            patched: false,
        };
        let mut next = self.next.into_inner().unwrap_or_else(|e| e.into_inner());
        let stats = Stats { patched: next.emitted.as_ref().is_some_and(|e| e.patched), ..stats };
        if next.resolved.is_empty() {
            next.resolved = self.prev.resolved.clone();
        }
        if next.checked.is_empty() {
            next.checked = self.prev.checked.clone();
        }
        if next.rendered.is_empty() {
            next.rendered = self.prev.rendered.clone();
        }
        if next.templates.is_none() {
            next.templates = self.prev.templates.clone();
        }
        (next, stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_recorded_only_while_recording_on_this_thread() {
        note(|| Lookup::Service("outside".into()));
        let ((), outer) = recording(|| {
            note(|| Lookup::Service("a".into()));
            let ((), inner) = recording(|| note(|| Lookup::Dependents("b".into())));
            assert_eq!(inner, vec![Lookup::Dependents("b".into())]);
            std::thread::scope(|s| {
                s.spawn(|| note(|| Lookup::Service("other thread".into())));
            });
            note(|| Lookup::Dependencies("c".into()));
        });
        assert_eq!(outer, vec![Lookup::Service("a".into()), Lookup::Dependencies("c".into())]);
    }

    #[test]
    fn fingerprints_separate_their_parts() {
        assert_ne!(Hasher::new("q").str("ab").str("c").finish(), Hasher::new("q").str("a").str("bc").finish());
        assert_ne!(Hasher::new("q").maybe(None).finish(), Hasher::new("q").u64(0).u64(0).finish());
        assert_eq!(Fingerprint::of_load(&Ok(Text::Utf8("x".into()))), Fingerprint::of_text(&Text::Utf8("x".into())));
        assert_ne!(Fingerprint::of_load(&Err("x".into())), Fingerprint::of_text(&Text::Utf8("x".into())));
    }
}
