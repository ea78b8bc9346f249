//! Stage 6, emit: the checked model → generated files.
//!
//! Each target is a directory of standard-library templates
//! (`templates/kubernetes/*.hbs`, `templates/catalog/*.hbs`, ...) and a
//! `target` declaration of the library's registry ([`crate::targets`],
//! `stdlib/targets.plat`) that says where its files go, how often it
//! renders and in which format; nothing here names a target. For every
//! service (in parallel) and, for per-environment targets, every
//! environment: build the template context ([`context`]), render each
//! template ([`render`]), parse the text back into data in the target's
//! format ([`yaml`], `serde_json`), apply the service's `patch` blocks
//! ([`patch`]), and write it canonically ([`doc`]) with a header that names
//! the source file. Text never goes out unparsed.
//!
//! Output paths (relative to the output directory) are the declarations':
//! `<service>/kubernetes/<env>/<name>.yaml`, `<service>/terraform/<env>/<name>.tf`
//! (a resource type's templates: `<resource>.tf`, `resource-<resource>.yaml`,
//! `grant-<owner>-<resource>.tf`), `.github/workflows/<service>-<name>.yml`,
//! `<service>/dashboards/<name>.json`, `<service>/alerts/<env>/<name>.yaml`,
//! `<service>/catalog-info.yaml`; docs/templates.md has the table.
//!
//! Templates under `<target>/workspace/` render once for the whole workspace
//! (at the target's `workspace_path`: `catalog-info.yaml` at the root;
//! workflows under `.github/workflows/`, the one flat directory GitHub runs
//! workflows from, so installing them is one directory copy).
//! A target with `only_if` (Terraform: `only_if = terraform`) renders only
//! for services whose context has that flag: Terraform files are rendered
//! only for services that have a resource made by Terraform or use one
//! another service granted them.
//! Plus `platc-index.json`, the build index of every file.

pub mod context;
pub mod doc;
pub mod hcl;
pub mod patch;
pub mod render;
pub mod trace;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::Options;
use crate::diag::Diagnostic;
use crate::graph::Graph;
use crate::library::Library;
use crate::model::{Model, Service};
use crate::span::{SourceMap, Span};
use doc::Doc;
use render::{Renderer, TemplateProblem, is_partial};

/// The build index's file name, at the root of the output directory.
pub const INDEX_FILE: &str = "platc-index.json";

pub use crate::targets::Target;

/// One generated file.
#[derive(Clone, Debug, PartialEq)]
pub struct OutFile {
    pub contents: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    /// `kubernetes/Deployment`, `catalog`, ...
    pub kind: String,
    /// The documents the file was written from, when `Options::keep_docs`.
    pub docs: Option<Vec<Doc>>,
    /// The SHA-256 of `contents`, hex (computed where the file is made, on
    /// the rendering threads).
    pub sha256: String,
    /// The text was handed to [`Options::spill`](crate::Options::spill) and
    /// dropped: `contents` is empty and only `sha256` says what the file holds.
    pub spilled: bool,
    /// The file's record in the build index, made with the service's
    /// rendering (and kept with it by the memo store), so that a
    /// compilation after an edit writes and scans again only the records of
    /// the services it rendered again (see [`IndexRecord`]).
    pub(crate) indexed: Option<IndexRecord>,
}

/// A file's record in the build index, as the index writes it, and what
/// credential the scan found in it (see [`index`]: the index is scanned
/// record by record). A cache of [`record`] for the path it was made for
/// ([`IndexRecord::is_for`]), not part of what the file is: two files equal
/// in everything else are equal.
#[derive(Clone, Debug)]
pub(crate) struct IndexRecord {
    text: String,
    credential: Option<&'static str>,
}

impl PartialEq for IndexRecord {
    fn eq(&self, _: &IndexRecord) -> bool {
        true
    }
}

/// How every record starts, before its path's text.
const RECORD_START: &str = "{\n      \"path\": \"";

impl IndexRecord {
    fn new(path: &str, file: &OutFile) -> IndexRecord {
        let text = record(path, file);
        let credential = crate::secrets::credential(&text);
        IndexRecord { text, credential }
    }

    /// Whether the record was made for `path`: its quoted path is `path`
    /// itself, then the closing quote. Exact for a path with no backslash:
    /// the quoted form of another path that began with `path` and a `"`
    /// would have that `"` escaped, after a backslash in `path`; and a path
    /// the index writes escaped (a quote, a control character) never
    /// matches its own record, which is then written again.
    fn is_for(&self, path: &str) -> bool {
        !path.as_bytes().contains(&b'\\')
            && self
                .text
                .strip_prefix(RECORD_START)
                .and_then(|t| t.strip_prefix(path))
                .is_some_and(|t| t.starts_with('"'))
    }
}

impl OutFile {
    pub fn new(
        contents: String,
        service: Option<String>,
        environment: Option<String>,
        kind: String,
        docs: Option<Vec<Doc>>,
    ) -> OutFile {
        let sha256 = sha256(&contents);
        OutFile { contents, service, environment, kind, docs, sha256, spilled: false, indexed: None }
    }
}

/// Takes each file of a service as soon as the service is rendered (`platc
/// build` stages it on disk, or finds it unchanged there); when it returns
/// true, the file's text is dropped from the output, which keeps its hash
/// ([`OutFile::spilled`]). A build then holds the text of one service per
/// core, not of the whole workspace. A file that looks like it holds a
/// credential is never offered: the scan after emit reports it.
#[derive(Clone)]
pub struct Spill(pub Arc<SpillFn>);

/// What [`Spill`] calls: the file's output path and the file.
pub type SpillFn = dyn Fn(&str, &OutFile) -> bool + Send + Sync;

impl std::fmt::Debug for Spill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Spill")
    }
}

/// Offers each file to `spill` but those of `leaks` (the scan found a
/// credential in them).
fn spill_files(files: &mut BTreeMap<String, Arc<OutFile>>, spill: &Spill, leaks: &[String]) {
    for (path, file) in files.iter_mut() {
        if leaks.contains(path) {
            continue;
        }
        if (spill.0)(path, file)
            && let Some(f) = Arc::get_mut(file)
        {
            f.contents = String::new();
            f.spilled = true;
        }
    }
}

/// Every generated file by output-relative path, the index included.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Output {
    /// Shared, not copied: `watch` keeps the files of services it did not
    /// render again from the previous output.
    pub files: BTreeMap<String, Arc<OutFile>>,
}

impl Output {
    /// Every generated YAML file as one multi-document stream, in path
    /// order, each file's documents after a `# Source: <path>` comment (as
    /// `helm template` prints them): what `platc build --out -` writes, for
    /// `kubectl apply -f -` and other stream readers. The build index is
    /// left out. `Err` names the first file that is not YAML (Terraform,
    /// dashboards), which a YAML stream cannot carry.
    pub fn yaml_stream(&self) -> Result<String, &str> {
        if let Some(p) = self.files.keys().find(|p| *p != INDEX_FILE && Format::of(p) != Format::Yaml) {
            return Err(p);
        }
        let len = self.files.iter().map(|(p, f)| p.len() + f.contents.len() + 16).sum();
        let mut out = String::with_capacity(len);
        for (path, file) in self.files.iter().filter(|(p, _)| *p != INDEX_FILE) {
            out.push_str("---\n# Source: ");
            out.push_str(&crate::diag::escape_unprintable(path));
            out.push('\n');
            out.push_str(&file.contents);
            if !file.contents.ends_with('\n') {
                out.push('\n');
            }
        }
        Ok(out)
    }
}

/// One service's generated files by path, with the diagnostics of making
/// them (the memo store keeps it: see [`crate::memo`]).
#[derive(Debug, Default)]
pub(crate) struct ServiceOutput {
    pub files: BTreeMap<String, Arc<OutFile>>,
    pub diags: Vec<Diagnostic>,
    /// Secrets found in the files (reported when the build otherwise
    /// succeeds: a failed build has no output to leak them).
    pub secrets: Vec<Diagnostic>,
}

/// How [`emit`] has one service rendered: given the service and the
/// rendering itself, it returns the files (rendered now, or taken from the
/// memo store when nothing the rendering reads changed).
pub(crate) type RenderService<'a> = dyn Fn(&Service, &dyn Fn() -> ServiceOutput) -> Arc<ServiceOutput> + Sync + 'a;

/// The targets being built, in declaration order (a name the registry
/// does not have selects nothing: the CLI checks `--target` against it).
fn targets<'a>(lib: &'a Library, options: &Options) -> Vec<&'a Target> {
    lib.targets.iter().filter(|t| options.targets.is_empty() || options.targets.contains(&t.name)).collect()
}

/// The templates of resource types (their `terraform`, `kubernetes` and
/// `grant_terraform` files): rendered per resource, not per service.
fn resource_templates(lib: &Library) -> BTreeSet<&str> {
    lib.resource_types
        .values()
        .flat_map(|rt| rt.terraform.iter().chain(rt.kubernetes.iter()).chain(rt.grant_terraform.iter()))
        .map(|(t, _)| t.as_str())
        .collect()
}

/// The per-service templates of a target: its own files, not partials, not
/// the per-resource templates of resource types.
fn service_templates<'a>(lib: &'a Library, target: &Target, resource_templates: &BTreeSet<&str>) -> Vec<&'a str> {
    let prefix = format!("{}/", target.name);
    lib.templates
        .keys()
        .filter(|k| k.strip_prefix(&prefix).is_some_and(|rest| !rest.contains('/')))
        .filter(|k| !is_partial(k) && !resource_templates.contains(k.as_str()))
        .map(String::as_str)
        .collect()
}

/// A generated file rendered once more with its context traced (see
/// [`trace`]): for `platc explain`, never for a build.
#[derive(Debug)]
pub struct TracedFile {
    /// The template that wrote the file (its name in the library).
    pub template: String,
    /// Where the template is, for people (`<stdlib>/templates/...`).
    pub shown_as: String,
    /// Its documents, unpatched, with the marks in their strings (none in
    /// their keys).
    pub docs: Vec<Doc>,
    pub marks: trace::Marks,
}

/// Renders again, traced, the template that wrote the output file `path`
/// of target `target` for `s` in `inst`'s environment (the last one for a
/// target that renders once per service); `Err` says why it cannot.
pub fn trace_file(
    model: &Model,
    graph: &Graph,
    lib: &Library,
    s: &Service,
    inst: &crate::model::Instance,
    target: &Target,
    path: &str,
) -> Result<TracedFile, String> {
    let inst = if target.per_environment() { inst } else { s.instances.last().unwrap_or(inst) };
    let env = model
        .workspace
        .environments
        .iter()
        .find(|e| e.name == inst.env)
        .ok_or_else(|| format!("no environment `{}`", inst.env))?;
    let shared = context::Shared::new(model, graph, lib);
    let base = context::service_base(s, &shared);
    let ctx = context::instance(&base, s, inst, env, &shared);
    let made_here = |file: &str| target.path(&s.name, &inst.env, file) == path;
    // The per-service templates, then those of resources and grants (with
    // the resource in the context).
    let mut found = service_templates(lib, target, &resource_templates(lib))
        .into_iter()
        .map(|t| (t, t.strip_prefix(&format!("{}/", target.name)).unwrap_or(t).trim_end_matches(".hbs").to_string()))
        .find(|(_, file)| made_here(file))
        .map(|(t, file)| (t.to_string(), file, ctx.clone(), None));
    let each = |key: &str| ctx.get(key).and_then(Json::as_array).into_iter().flatten();
    for (i, r) in each("resources").enumerate().filter(|_| target.resources.is_some()) {
        let ty = r.get("type").and_then(Json::as_str).unwrap_or("");
        let name = r.get("name").and_then(Json::as_str).unwrap_or(ty);
        let template = lib.resource_types.get(ty).and_then(|rt| rt.template_for(&target.name));
        if let (Some((template, _)), Some(file)) = (template, target.resource_file(name))
            && found.is_none()
            && made_here(&file)
        {
            found = Some((template.clone(), file, with_resource(&ctx, r), Some(["resources".into(), i.to_string()])));
        }
    }
    for (i, u) in each("uses").enumerate().filter(|_| target.grants.is_some()) {
        let ty = u.get("type").and_then(Json::as_str).unwrap_or("");
        let owner = u.get("owner").and_then(Json::as_str).unwrap_or("");
        let name = u.get("name").and_then(Json::as_str).unwrap_or(ty);
        let template = lib.resource_types.get(ty).and_then(|rt| rt.grant_template_for(&target.name));
        if let (Some((template, _)), Some(file)) = (template, target.grant_file(owner, name))
            && found.is_none()
            && made_here(&file)
        {
            found = Some((template.clone(), file, with_resource(&ctx, u), Some(["uses".into(), i.to_string()])));
        }
    }
    let (template, file, mut ctx, resource) =
        found.ok_or_else(|| format!("no template of `{}` writes `{path}`", target.name))?;
    let shown_as = lib.templates.get(&template).map_or_else(|| template.clone(), |t| t.shown_as.clone());
    // That template, the labels' and the partials they include, no more.
    let (renderer, problems) = Renderer::traced(&lib.templates, |n| n == template || n == context::LABELS_TEMPLATE);
    if let Some(p) = problems.first() {
        return Err(format!("template {} does not compile: {}", p.template, p.message));
    }
    let labels = renderer.render(context::LABELS_TEMPLATE, &ctx).map_err(|p| p.message)?;
    // The labels are rendered too: traced, each names what it was made from.
    let (marked, marks) = trace::mark(&ctx);
    let (traced_labels, label_marks) = trace::with(marks, || renderer.render(context::LABELS_TEMPLATE, &marked));
    let label_sources: Vec<(String, Vec<Vec<String>>)> = traced_labels
        .ok()
        .and_then(|text| yaml::parse(&text).ok())
        .into_iter()
        .flatten()
        .map(trace::strip_keys)
        .flat_map(|d| match d {
            Doc::Map(entries) => entries,
            _ => Vec::new(),
        })
        .map(|(k, v)| (k, trace::landed(&v, &label_marks).into_iter().map(|l| l.path).collect()))
        .collect();
    if let Json::Object(o) = &mut ctx {
        o.insert("labels".into(), context::labels_from(&labels, &s.name)?);
    }
    let (marked, mut marks) = trace::mark(&ctx);
    // `resource` is a copy of an entry of `resources` (or `uses`): named as that.
    if let Some(at) = resource {
        marks.rebase("resource", &at);
    }
    for (key, from) in &label_sources {
        marks.made_from(&["labels".to_string(), key.clone()], from);
    }
    let (text, marks) = trace::with(marks, || renderer.render(&template, &marked));
    let text = text.map_err(|p| format!("{shown_as} failed when traced: {}", p.message))?;
    let docs = target
        .format_of(&file)
        .parse(&text)
        .map_err(|e| format!("{shown_as} with a traced context does not parse: {e}"))?;
    Ok(TracedFile { template, shown_as, docs: docs.into_iter().map(trace::strip_keys).collect(), marks })
}

/// A resource's context: the service's, with the resource as `resource`.
fn with_resource(ctx: &Json, r: &Json) -> Json {
    let mut rctx = ctx.clone();
    if let Json::Object(o) = &mut rctx {
        o.insert("resource".into(), r.clone());
    }
    rctx
}

/// Compiles the templates of the targets being built (and the partials they
/// include).
pub(crate) fn compile_templates(lib: &Library, options: &Options) -> Result<Renderer, Vec<Diagnostic>> {
    let targets = targets(lib, options);
    // The per-resource templates of the targets built, wherever they are.
    let per_resource: BTreeSet<&str> = lib
        .resource_types
        .values()
        .flat_map(|rt| {
            targets.iter().flat_map(|t| rt.template_for(&t.name).into_iter().chain(rt.grant_template_for(&t.name)))
        })
        .map(|(t, _)| t.as_str())
        .collect();
    let wanted = |name: &str| {
        name == context::LABELS_TEMPLATE
            || !is_partial(name)
                && (targets
                    .iter()
                    .any(|t| name.strip_prefix(t.name.as_str()).is_some_and(|rest| rest.starts_with('/')))
                    || per_resource.contains(name))
    };
    let (renderer, problems) = Renderer::new(&lib.templates, wanted);
    if !problems.is_empty() {
        return Err(problems.iter().map(|p| template_diag(p, lib, None)).collect());
    }
    Ok(renderer)
}

/// Renders every service (each through `render`), then the workspace's
/// files and the index; `None` if a template or patch failed. The output is
/// the last one's (`last`) with what changed replaced, when there is one
/// ([`patched`]); with what it was assembled from, for the next.
#[allow(clippy::too_many_arguments)]
pub(crate) fn emit(
    model: &Model,
    graph: &Graph,
    lib: &Library,
    options: &Options,
    renderer: &Renderer,
    render: &RenderService,
    files: &SourceMap,
    last: Option<(&Output, &Emitted)>,
    diags: &mut Vec<Diagnostic>,
) -> Option<(Output, Emitted)> {
    let targets = targets(lib, options);
    let resource_templates = resource_templates(lib);
    // Each target's per-service templates, listed once for every service.
    let templates =
        targets.iter().map(|&target| (target, service_templates(lib, target, &resource_templates))).collect();
    let shared = context::Shared::new(model, graph, lib);
    let plan =
        Plan { keep_docs: options.keep_docs, env: options.env.as_deref(), model, lib, renderer, templates, shared };

    // Services render independently: on every core, results in order. Every
    // string that reaches the output is scanned for secrets, whatever it was
    // made from; then, for a build that writes as it goes (`spill`), the
    // files are handed to the writer and only their hashes kept.
    let results = crate::par::map(&model.services, |s| {
        render(s, &|| {
            let mut done = ServiceOutput::default();
            plan.service(s, &mut done.files, &mut done.diags);
            let leaks = crate::secrets::scan_output(&done.files, model, &mut done.secrets);
            match &options.spill {
                Some(spill) => spill_files(&mut done.files, spill, &leaks),
                // Kept for the next compilation: with its index records.
                None => index_records(&mut done.files),
            }
            done
        })
    });
    // The workspace's files (rendered on every compilation: a few).
    let mut workspace_diags = Vec::new();
    let mut workspace_files = BTreeMap::new();
    for target in &targets {
        plan.workspace(target, &mut workspace_files, &mut workspace_diags);
    }
    let named: Vec<(&str, &Arc<ServiceOutput>)> =
        model.services.iter().map(|s| s.name.as_str()).zip(&results).collect();
    // The last output, with the files of the services rendered again (or
    // gone) replaced, when that is the whole output; else from scratch.
    let patched = last.and_then(|(o, e)| patched(o, e, &named, &workspace_files));
    let from_scratch = patched.is_none();
    let mut out = patched.unwrap_or_default();
    let mut secrets = Vec::new();
    for result in &results {
        diags.extend(result.diags.iter().cloned());
        secrets.extend(result.secrets.iter().cloned());
        if from_scratch {
            for (path, file) in &result.files {
                insert_new(&mut out.files, path.clone(), Arc::clone(file), model, diags);
            }
        }
    }
    diags.extend(workspace_diags);
    crate::secrets::scan_output(&workspace_files, model, &mut secrets);
    let workspace_paths: Vec<String> = workspace_files.keys().cloned().collect();
    if from_scratch {
        for (path, file) in workspace_files {
            insert_new(&mut out.files, path, file, model, diags);
        }
        // The build index is platc's own: no template may write it.
        if let Some(f) = out.files.get(INDEX_FILE) {
            diags.push(
                Diagnostic::error(
                    "platc::emit::duplicate_file",
                    format!("`{INDEX_FILE}` is the build index; {} generates a file of that name", made_for(f)),
                )
                .help("rename the template that writes it"),
            );
        }
        file_under_file(&out, model, diags);
    }
    if diags.iter().any(Diagnostic::is_error) {
        return None;
    }
    let (index, credential) = index(&out, model, files);
    // Its hash, from where it first differs from the last one.
    let last_index = last.map(|(_, e)| (e.index.contents.as_str(), e.states.as_slice()));
    let (sha256, states) = index_hash(&index, last_index);
    let index = Arc::new(OutFile {
        contents: index,
        service: None,
        environment: None,
        kind: "index".into(),
        docs: None,
        sha256,
        spilled: false,
        indexed: None,
    });
    let emitted = Emitted {
        services: named.iter().map(|(n, r)| (n.to_string(), Arc::clone(r))).collect(),
        workspace: workspace_paths,
        index: Arc::clone(&index),
        states,
        patched: !from_scratch,
    };
    out.files.insert(INDEX_FILE.to_string(), index);
    if let Some(kind) = credential {
        secrets.push(crate::secrets::generated(INDEX_FILE, kind, None, model));
    }
    diags.extend(secrets);
    if diags.iter().any(Diagnostic::is_error) {
        return None;
    }
    Some((out, emitted))
}

/// What an output was assembled from: each service's rendering (as the
/// memo store shares it), the workspace's files, and the index it wrote
/// (the output it describes is the one that holds this very file). The
/// memo store keeps it for the next compilation
/// ([`crate::compile_reusing`]), which assembles its output from the last
/// one ([`patched`]) and hashes its index from the last one's states.
#[derive(Debug)]
pub(crate) struct Emitted {
    services: std::collections::HashMap<String, Arc<ServiceOutput>>,
    workspace: Vec<String>,
    index: Arc<OutFile>,
    /// The index's hasher after every [`INDEX_STEP`] bytes of it.
    states: Vec<Sha256>,
    /// Whether this output was assembled from the last one.
    pub patched: bool,
}

/// How often the hasher's state is kept while hashing the index.
const INDEX_STEP: usize = 1 << 18;

/// The SHA-256 (hex) of the index `text`, and the hasher's state after
/// every [`INDEX_STEP`] bytes of it; given the last index's text and
/// states (`last`), the steps before the first byte where the two differ
/// are not hashed again (an edit changes the records of a few services:
/// the index's text before them is the same).
fn index_hash(text: &str, last: Option<(&str, &[Sha256])>) -> (String, Vec<Sha256>) {
    let (new, old) = (text.as_bytes(), last.map_or(&b""[..], |(t, _)| t.as_bytes()));
    let n = new.len().min(old.len());
    let mut same = 0;
    while same < n {
        let end = (same + 4096).min(n);
        if new.get(same..end) != old.get(same..end) {
            break;
        }
        same = end;
    }
    let last_states = last.map_or(&[][..], |(_, s)| s);
    // The state after `(i + 1) * INDEX_STEP` bytes serves if those bytes are the same.
    let reused = (same / INDEX_STEP).min(last_states.len());
    let mut states: Vec<Sha256> = last_states.get(..reused).unwrap_or_default().to_vec();
    let mut hasher = states.last().cloned().unwrap_or_default();
    for chunk in new.get(reused * INDEX_STEP..).unwrap_or_default().chunks(INDEX_STEP) {
        hasher.update(chunk);
        if chunk.len() == INDEX_STEP {
            states.push(hasher.clone());
        }
    }
    (hex(&hasher.finalize()), states)
}

/// The output of the last compilation (`last`, assembled as `was` says),
/// with the files of every service whose rendering is not the one it was
/// made from taken out and the new ones put in, and the workspace's files
/// replaced: the output from scratch (all of `now`'s files and the
/// workspace's, by path), in time proportional to what changed. `None`
/// when `last` is not the output `was` describes (its index is not the
/// one `was` wrote: the CLI added files and indexed them again), or when a new file meets another (a path
/// generated twice, a file under a file, the index's name): the output is
/// then assembled from scratch, which reports it.
fn patched(
    last: &Output,
    was: &Emitted,
    now: &[(&str, &Arc<ServiceOutput>)],
    workspace: &BTreeMap<String, Arc<OutFile>>,
) -> Option<Output> {
    if last.files.get(INDEX_FILE).is_none_or(|i| !Arc::ptr_eq(i, &was.index)) {
        return None;
    }
    let kept: BTreeSet<&str> = now
        .iter()
        .filter(|(name, r)| was.services.get(*name).is_some_and(|old| Arc::ptr_eq(old, r)))
        .map(|(name, _)| *name)
        .collect();
    let mut out = last.clone();
    out.files.remove(INDEX_FILE);
    for (_, old) in was.services.iter().filter(|(n, _)| !kept.contains(n.as_str())) {
        for path in old.files.keys() {
            out.files.remove(path);
        }
    }
    for path in &was.workspace {
        out.files.remove(path);
    }
    let fresh = now.iter().filter(|(name, _)| !kept.contains(name)).flat_map(|(_, r)| r.files.iter());
    let mut added = Vec::new();
    for (path, file) in fresh.chain(workspace) {
        if path == INDEX_FILE || out.files.insert(path.clone(), Arc::clone(file)).is_some() {
            return None;
        }
        added.push(path);
    }
    // A file under a file: the new file under another, or another under it
    // (two files of the last output never were).
    for path in added {
        let parents = path.match_indices('/').filter_map(|(i, _)| path.get(..i));
        let dir = format!("{path}/");
        let under = out.files.range::<str, _>((std::ops::Bound::Included(dir.as_str()), std::ops::Bound::Unbounded));
        if parents.into_iter().any(|p| out.files.contains_key(p))
            || under.into_iter().next().is_some_and(|(p, _)| p.starts_with(&dir))
        {
            return None;
        }
    }
    Some(out)
}

/// Writes the build index of `out` again, after files were added to it (a
/// partial build keeps the files of the previous build outside its scope).
pub fn reindex(out: &mut Output, model: &Model, files: &SourceMap) {
    out.files.remove(INDEX_FILE);
    let (index, _) = index(out, model, files);
    out.files.insert(INDEX_FILE.to_string(), Arc::new(OutFile::new(index, None, None, "index".into(), None)));
}

struct Plan<'a> {
    keep_docs: bool,
    /// `Options::env`.
    env: Option<&'a str>,
    model: &'a Model,
    lib: &'a Library,
    renderer: &'a Renderer,
    /// The targets being built, each with its per-service templates (not
    /// partials, not the per-resource templates of resource types).
    templates: Vec<(&'a Target, Vec<&'a str>)>,
    /// What every service's context shares.
    shared: context::Shared<'a>,
}

impl Plan<'_> {
    /// The diagnostic of a template that failed (for service and
    /// environment `at`, or for the workspace): its own `fail`, or the
    /// template's error.
    fn failed(&self, p: &TemplateProblem, at: Option<(&str, &str)>) -> Diagnostic {
        match &p.raised {
            Some(r) => raised_diag(p, r, self.lib, self.model, at),
            None => template_diag(p, self.lib, at),
        }
    }

    /// Renders one template into `rendered` (nothing when it renders empty).
    #[allow(clippy::too_many_arguments)]
    fn render_into(
        &self,
        template: &str,
        format: Format,
        file: String,
        ctx: &handlebars::Context,
        at: (&str, &str),
        rendered: &mut Vec<Rendered>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let text = match self.renderer.render_with(template, ctx) {
            Ok(text) => text,
            Err(p) => {
                diags.push(self.failed(&p, Some(at)));
                return;
            }
        };
        if text.trim().is_empty() {
            return; // the template decided this object is not needed
        }
        match format.parse(&text) {
            Ok(docs) if docs.is_empty() => {}
            Ok(docs) => rendered.push((file, format, docs, template.to_string())),
            Err(e) => diags.push(invalid_output(template, self.lib, at.0, at.1, &e)),
        }
    }

    /// `labels` of the context, from the standard library's labels partial
    /// (rendered with the context as it is, not a copy); false (with a
    /// diagnostic) when it fails.
    fn labels(&self, ctx: &mut handlebars::Context, at: (&str, &str), diags: &mut Vec<Diagnostic>) -> bool {
        let template = context::LABELS_TEMPLATE;
        let text = match self.renderer.render_with(template, ctx) {
            Ok(text) => text,
            Err(p) => {
                diags.push(self.failed(&p, Some(at)));
                return false;
            }
        };
        match context::labels_from(&text, at.0) {
            Ok(labels) => {
                if let Json::Object(o) = ctx.data_mut() {
                    o.insert("labels".into(), labels);
                }
                true
            }
            Err(e) => {
                diags.push(invalid_output(template, self.lib, at.0, at.1, &e));
                false
            }
        }
    }

    /// One file per resource whose type has a template for the target (the
    /// target's `resources` names it: `<resource>.tf` from a type's
    /// `terraform` template, `resource-<resource>.yaml` from its
    /// `kubernetes` one), with the resource as `resource` in the context;
    /// and one per grant of another service's resource (`grants`).
    fn resource_files(
        &self,
        target: &Target,
        ctx: &Json,
        at: (&str, &str),
        rendered: &mut Vec<Rendered>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let resources = ctx.get("resources").and_then(Json::as_array).filter(|_| target.resources.is_some());
        for r in resources.into_iter().flatten() {
            let ty = r.get("type").and_then(Json::as_str).unwrap_or("");
            let rt = self.lib.resource_types.get(ty);
            let Some((template, _)) = rt.and_then(|rt| rt.template_for(&target.name)) else {
                continue;
            };
            let mut rctx = ctx.clone();
            if let Json::Object(o) = &mut rctx {
                o.insert("resource".into(), r.clone());
            }
            let name = r.get("name").and_then(Json::as_str).unwrap_or(ty);
            let rctx = handlebars::Context::from(rctx);
            let file = target.resource_file(name).unwrap_or_default();
            self.render_into(template, target.format_of(&file), file, &rctx, at, rendered, diags);
        }
        // The grants of resources other services own (in Terraform's root module).
        let uses = ctx.get("uses").and_then(Json::as_array).filter(|_| target.grants.is_some());
        for u in uses.into_iter().flatten() {
            let ty = u.get("type").and_then(Json::as_str).unwrap_or("");
            let Some((template, _)) =
                self.lib.resource_types.get(ty).and_then(|rt| rt.grant_template_for(&target.name))
            else {
                continue;
            };
            let mut rctx = ctx.clone();
            if let Json::Object(o) = &mut rctx {
                o.insert("resource".into(), u.clone());
            }
            let owner = u.get("owner").and_then(Json::as_str).unwrap_or("");
            let name = u.get("name").and_then(Json::as_str).unwrap_or(ty);
            let rctx = handlebars::Context::from(rctx);
            let file = target.grant_file(owner, name).unwrap_or_default();
            self.render_into(template, target.format_of(&file), file, &rctx, at, rendered, diags);
        }
    }

    /// Workspace-wide templates (`templates/<target>/workspace/*.hbs`),
    /// rendered once into the root of the output.
    fn workspace(&self, target: &Target, files: &mut BTreeMap<String, Arc<OutFile>>, diags: &mut Vec<Diagnostic>) {
        let prefix = format!("{}/workspace/", target.name);
        let own = |k: &&String| k.strip_prefix(&prefix).is_some_and(|rest| !rest.contains('/')) && !is_partial(k);
        let workspace_templates: Vec<&String> = self.lib.templates.keys().filter(own).collect();
        if workspace_templates.is_empty() {
            return;
        }
        let ctx = handlebars::Context::from(context::workspace(self.model));
        for t in workspace_templates {
            let file = t.strip_prefix(&prefix).unwrap_or(t).trim_end_matches(".hbs").to_string();
            let format = target.format_of(&file);
            let text = match self.renderer.render_with(t, &ctx) {
                Ok(text) => text,
                Err(p) => {
                    diags.push(self.failed(&p, None));
                    continue;
                }
            };
            match format.parse(&text) {
                Ok(docs) if docs.is_empty() => {}
                Ok(docs) => match format.write(&docs, crate::workspace::WORKSPACE_FILE) {
                    Ok(contents) => {
                        let kind = target.kind(&docs);
                        files.insert(
                            target.workspace_path(&file),
                            Arc::new(OutFile::new(contents, None, None, kind, self.keep_docs.then(|| docs.clone()))),
                        );
                    }
                    Err(e) => diags.push(invalid_output(t, self.lib, "the workspace", "all environments", &e)),
                },
                Err(e) => diags.push(invalid_output(t, self.lib, "the workspace", "all environments", &e)),
            }
        }
    }

    /// A service with no `language` whose templates of `target` read the
    /// language (the CI workflow builds and tests by language): an error
    /// naming the template, instead of a workflow with empty steps.
    fn needs_language(&self, s: &Service, target: &Target, templates: &[&str]) -> Option<Diagnostic> {
        // A vendor's image is built by its vendor: no CI builds it by language.
        if s.instances.iter().all(|i| i.str("language").is_some() || i.str("image_source") == Some("vendor")) {
            return None;
        }
        let reads =
            templates.iter().find(|t| self.lib.templates.get(**t).is_some_and(|f| f.text.contains("language.")))?;
        let shown = self.lib.templates.get(*reads).map_or(*reads, |f| f.shown_as.as_str());
        let known: Vec<String> = self.lib.languages.keys().map(|l| format!("`{l}`")).collect();
        Some(
            Diagnostic::error(
                "platc::emit::needs_language",
                format!("`{}` has no `language`, and its {} output needs one", s.name, target.name),
            )
            .label(s.name_span, "no `language` set")
            .help(format!(
                "{shown} builds and tests the service by its language; add `language = ...` ({})",
                crate::diag::one_of(&known)
            )),
        )
    }

    fn service(&self, s: &Service, files: &mut BTreeMap<String, Arc<OutFile>>, diags: &mut Vec<Diagnostic>) {
        let base = context::service_base(s, &self.shared);
        let mut contexts = Vec::new();
        for inst in s.instances.iter() {
            let Some(env) = self.model.workspace.environments.iter().find(|e| e.name == inst.env) else {
                continue;
            };
            // With `--env`, the other environments render nothing (the last
            // environment still renders the environment-independent files).
            let last = s.instances.last().is_some_and(|l| l.env == inst.env);
            if !last && self.env.is_some_and(|e| e != inst.env) {
                continue;
            }
            let mut ctx = handlebars::Context::from(context::instance(&base, s, inst, env, &self.shared));
            if !self.labels(&mut ctx, (&s.name, &inst.env), diags) {
                continue;
            }
            contexts.push((inst.env.as_str(), ctx));
        }
        // Render and patch every target in every environment; check the
        // policies over the generated objects; then write.
        let mut batches: Vec<(&Target, &str, Vec<Rendered>)> = Vec::new();
        for (target, templates) in &self.templates {
            let (target, prefix) = (*target, format!("{}/", target.name));
            let envs: Vec<&(&str, handlebars::Context)> = if target.per_environment() {
                contexts.iter().filter(|(e, _)| self.env.is_none_or(|only| only == *e)).collect()
            } else {
                contexts.last().into_iter().collect()
            };
            if let Some(d) = self.needs_language(s, target, templates) {
                diags.push(d);
                continue;
            }
            for (env, ctx) in envs {
                // `only_if = terraform`: no cloud infrastructure of its own, nor granted.
                if let Some(flag) = &target.only_if
                    && !ctx.data().get(flag).and_then(Json::as_bool).unwrap_or(false)
                {
                    continue;
                }
                let mut rendered: Vec<Rendered> = Vec::new();
                for t in templates {
                    let file = t.strip_prefix(&prefix).unwrap_or(t).trim_end_matches(".hbs").to_string();
                    self.render_into(t, target.format_of(&file), file, ctx, (&s.name, env), &mut rendered, diags);
                }
                self.resource_files(target, ctx.data(), (&s.name, env), &mut rendered, diags);
                let mut all: Vec<(String, &mut Doc)> = Vec::new();
                for (_, _, docs, _) in rendered.iter_mut() {
                    for d in docs.iter_mut() {
                        patch::targets_of(target.format == Format::Hcl, d, &mut all);
                    }
                }
                for p in s.patches.iter().filter(|p| p.patch.target.name == target.name) {
                    patch::apply(&p.patch, &mut all, &format!("`{}` in {env}", s.name), diags);
                }
                batches.push((target, env, rendered));
            }
        }
        if self.lib.policies.values().any(|p| !p.selectors.is_empty()) {
            let mut waived = Vec::new();
            for inst in s.instances.iter().filter(|i| self.env.is_none_or(|e| e == i.env)) {
                let mut objects = crate::check::output::Objects::new(s);
                for (target, env, rendered) in &batches {
                    if *env == inst.env || !target.per_environment() {
                        for (_, _, docs, _) in rendered {
                            objects.add(target, docs);
                        }
                    }
                }
                waived.extend(crate::check::output::run(s, inst, self.model, self.lib, &objects, diags));
            }
            if self.env.is_none() {
                crate::check::output::unused_waivers(s, self.lib, &waived, diags);
            }
        }
        for (target, env, rendered) in batches {
            let prefix = format!("{}/", target.name);
            // One source per generated file: a second one is an error naming
            // both templates, never a silent replacement.
            let mut made: BTreeMap<String, String> = BTreeMap::new();
            for (file, format, docs, template) in rendered {
                let contents = match format.write(&docs, &s.path) {
                    Ok(c) => c,
                    Err(e) => {
                        diags.push(invalid_output(&format!("{prefix}{file}"), self.lib, &s.name, env, &e));
                        continue;
                    }
                };
                let environment = target.per_environment().then(|| env.to_string());
                let kind = target.kind(&docs);
                let docs = self.keep_docs.then_some(docs);
                let out = OutFile::new(contents, Some(s.name.clone()), environment, kind, docs);
                let path = target.path(&s.name, env, &file);
                let shown = |t: &str| self.lib.templates.get(t).map_or(t.to_string(), |f| f.shown_as.clone());
                if let Some(first) = made.get(&path) {
                    diags.push(
                        Diagnostic::error(
                            "platc::emit::duplicate_file",
                            format!(
                                "`{path}` is generated twice for `{}` ({env}): by {} and by {}",
                                s.name,
                                shown(first),
                                shown(&template)
                            ),
                        )
                        .label(s.name_span, "generated for this service")
                        .help("every generated file has one source; rename the resource or the template"),
                    );
                    continue;
                }
                made.insert(path.clone(), template);
                files.insert(path, Arc::new(out));
            }
        }
        let unknown: Vec<_> =
            s.patches.iter().map(|p| &p.patch).filter(|p| self.lib.targets.get(&p.target.name).is_none()).collect();
        for p in unknown {
            diags.push(Diagnostic::unknown(
                "platc::patch::unknown_target",
                "patch target",
                &p.target.name,
                p.target.span,
                self.lib.targets.names(),
            ));
        }
    }
}

/// A rendered file: its name, format, documents and the template it came from.
type Rendered = (String, Format, Vec<Doc>, String);

/// Who generated a file, in words.
fn made_for(f: &OutFile) -> String {
    match (&f.service, &f.environment) {
        (Some(s), Some(e)) => format!("service `{s}` ({e})"),
        (Some(s), None) => format!("service `{s}`"),
        (None, _) => "the workspace".to_string(),
    }
}

/// Adds a generated file to the output, unless a file already has its path:
/// emit never replaces one generated file with another (both sources are
/// named instead).
fn insert_new(
    files: &mut BTreeMap<String, Arc<OutFile>>,
    path: String,
    file: Arc<OutFile>,
    model: &Model,
    diags: &mut Vec<Diagnostic>,
) {
    match files.get(&path) {
        None => {
            files.insert(path, file);
        }
        Some(first) => diags.push(clash(&path, "generated twice", first, &file, model)),
    }
}

/// A generated file whose path is under another generated file's (it would
/// need a directory where the file is).
fn file_under_file(out: &Output, model: &Model, diags: &mut Vec<Diagnostic>) {
    for (path, file) in &out.files {
        let parents = path.match_indices('/').filter_map(|(i, _)| path.get(..i));
        if let Some((parent, first)) = parents.filter_map(|p| Some((p, out.files.get(p)?))).next() {
            diags.push(clash(path, &format!("generated inside the generated file `{parent}`"), first, file, model));
        }
    }
}

fn clash(path: &str, what: &str, first: &OutFile, second: &OutFile, model: &Model) -> Diagnostic {
    let mut d = Diagnostic::error(
        "platc::emit::duplicate_file",
        format!("`{path}` is {what}: by {} and by {}", made_for(first), made_for(second)),
    );
    let spans: Vec<Span> =
        [first, second].iter().filter_map(|f| model.service(f.service.as_deref()?).map(|s| s.name_span)).collect();
    for (i, span) in spans.into_iter().enumerate() {
        d = if i == 0 { d.label(span, "generates it") } else { d.also(span, "generates it too") };
    }
    d.help("every generated file has one source; rename a service, or the template that writes this path")
}

/// The formats generated files come in: a target's `format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
    /// Rendered as YAML in the shape of Terraform's JSON syntax, written as HCL.
    Hcl,
}

impl Format {
    /// The name a target declaration uses (`format = hcl`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Hcl => "hcl",
        }
    }

    /// The extensions of its files.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Yaml => &[".yaml", ".yml"],
            Format::Json => &[".json"],
            Format::Hcl => &[".tf"],
        }
    }

    /// The format a file's extension names, if it names one.
    pub fn named(file: &str) -> Option<Format> {
        [Format::Yaml, Format::Json, Format::Hcl].into_iter().find(|f| f.extensions().iter().any(|e| file.ends_with(e)))
    }

    /// A file's format by its extension, YAML when it names none (streams,
    /// which have no registry).
    pub fn of(file: &str) -> Format {
        Format::named(file).unwrap_or(Format::Yaml)
    }

    fn parse(self, text: &str) -> Result<Vec<Doc>, String> {
        match self {
            Format::Yaml | Format::Hcl => yaml::parse(text),
            Format::Json => {
                serde_json::from_str::<Json>(text).map(|v| vec![doc::from_json(&v)]).map_err(|e| e.to_string())
            }
        }
    }

    fn write(self, docs: &[Doc], source: &str) -> Result<String, String> {
        // The input refuses such paths; escaped here too, so that no name can
        // end the comment line and start YAML or HCL of its own.
        let source = crate::diag::escape_unprintable(source);
        let header = format!("Generated by platc from {source}. Do not edit: change the source and run `platc build`.");
        let mut out = String::new();
        match self {
            Format::Yaml => {
                out.push_str(&format!("# {header}\n"));
                doc::to_yaml(docs, &mut out);
            }
            Format::Hcl => {
                out.push_str(&format!("# {header}\n\n"));
                hcl::to_hcl(docs, &mut out)?;
            }
            Format::Json => {
                for d in docs {
                    doc::to_json(d, &mut out);
                }
            }
        }
        Ok(out)
    }
}

fn template_diag(p: &TemplateProblem, lib: &Library, at: Option<(&str, &str)>) -> Diagnostic {
    let shown = lib.templates.get(&p.template).map(|t| t.shown_as.clone()).unwrap_or_else(|| p.template.clone());
    let pos = match (p.line, p.column) {
        (Some(l), Some(c)) => format!("{shown}:{l}:{c}"),
        _ => shown,
    };
    let d = Diagnostic::error("platc::emit::template", format!("template {pos} failed: {}", p.message)).help(
        p.help.unwrap_or(
            "fix the template in the standard library; values are `{{name}}` (quoted) or `{{json name}}` (typed)",
        ),
    );
    match at {
        Some((s, e)) => d.at(format!("`{s}` in {e}")),
        None => d,
    }
}

/// `{{fail "message" at="path" help="..."}}` in a template: the platform's
/// own diagnostic, at the place that set `path` for the service (its
/// `service` line when nothing set it), naming the template.
fn raised_diag(
    p: &TemplateProblem,
    r: &render::Raised,
    lib: &Library,
    model: &Model,
    at: Option<(&str, &str)>,
) -> Diagnostic {
    let template = r.template.as_ref().unwrap_or(&p.template);
    let shown = lib.templates.get(template).map(|t| t.shown_as.clone()).unwrap_or_else(|| template.clone());
    let mut d = Diagnostic::error("platc::emit::fail", r.message.clone()).help(r.help.clone().unwrap_or_else(|| {
        format!("{shown} refuses to generate this; change the service as the message says (the platform team's template decides)")
    }));
    let Some((service, env)) = at else {
        return d.label(model.workspace.span, format!("raised by {shown} for the workspace"));
    };
    if let Some(s) = model.service(service) {
        let node = r.at.as_deref().and_then(|path| {
            let keys: Vec<&str> = path.split('.').collect();
            crate::merge::get(&s.instance(env)?.values, &keys)
        });
        d = match (node, &r.at) {
            (Some(n), Some(path)) if n.origin.span.end > n.origin.span.start => {
                let d = d.label(n.origin.span, format!("`{path}`, which {shown} refuses"));
                // Set by a golden path or a default: the service is shown too.
                if n.origin.span.file == s.file { d } else { d.also(s.name_span, "for this service") }
            }
            (_, Some(path)) => d.label(s.name_span, format!("raised by {shown}: `{path}` is not set for this service")),
            (_, None) => d.label(s.name_span, format!("raised by {shown} for this service")),
        };
    }
    d.at(format!("`{service}` in {env}"))
}

fn invalid_output(template: &str, lib: &Library, service: &str, env: &str, err: &str) -> Diagnostic {
    let shown = lib.templates.get(template).map(|t| t.shown_as.as_str()).unwrap_or(template);
    Diagnostic::error("platc::emit::invalid_output", format!("template {shown} produced unreadable output: {err}"))
    .at(format!("`{service}` in {env}"))
    .help("the template's text must parse as its format; insert values with `{{value}}` or `{{json value}}`, which quote them")
}

/// Makes the index records of a service's files (see [`IndexRecord`]).
fn index_records(files: &mut BTreeMap<String, Arc<OutFile>>) {
    for (path, file) in files.iter_mut() {
        if let Some(f) = Arc::get_mut(file) {
            f.indexed = Some(IndexRecord::new(path, f));
        }
    }
}

/// A file's record in the build index: what `doc::to_json` would write for
/// it as a document, but written directly (thousands of them).
fn record(path: &str, f: &OutFile) -> String {
    let optional = |v: &Option<String>, s: &mut String| match v {
        Some(v) => doc::quote_into(v, s),
        None => s.push_str("null"),
    };
    let mut s = String::with_capacity(160 + path.len() + f.kind.len());
    s.push_str("{\n      \"path\": ");
    doc::quote_into(path, &mut s);
    s.push_str(",\n      \"service\": ");
    optional(&f.service, &mut s);
    s.push_str(",\n      \"environment\": ");
    optional(&f.environment, &mut s);
    s.push_str(",\n      \"kind\": ");
    doc::quote_into(&f.kind, &mut s);
    s.push_str(",\n      \"sha256\": ");
    doc::quote_into(&f.sha256, &mut s);
    s.push_str("\n    }");
    s
}

/// The build index: every file with its service, environment, kind and
/// hash, and every escape hatch in effect (the build report of overrides,
/// waivers and patches, with their reasons, places and the golden path that
/// took them, if one did); and the first credential the scan finds in it.
///
/// The index is assembled from its parts, and scanned by them: each file's
/// record (made with its service's rendering, [`IndexRecord`], or here for
/// a file without one), then the escape hatches, each scanned as the index
/// writes it, quoted. What reaches the index is user-written: the paths
/// (service, environment and resource names, the file names of the
/// standard library's and an overlay's templates), the service and
/// environment names, the kinds (a template's `kind:`), and in the escape
/// hatches what each departs from, its reason, the source file's path and
/// the golden path's name. The reasons of overrides and waivers are
/// scanned in the model too ([`crate::secrets::scan`]); a patch's reason,
/// the paths, the template file names and the source path are not scanned
/// anywhere else: the index's own scan is what refuses them. Every pattern
/// of [`crate::secrets::find`] but one stops at a `"` (what it runs over
/// never includes one), so a credential in a field is found alike in the
/// field, its record or the whole text; the one that does not, a JSON web
/// token looking ahead for its dots, finds a real token within one field
/// (its characters are never escaped, so it is written whole), and what
/// it found across records (a field beginning `eyJ`, dots in later
/// records) was not a credential but the index's own punctuation. A
/// private key reaches to its `-----END` line, but is found at its
/// `-----BEGIN` line. So: one diagnostic, as before, naming the kind of the
/// first credential of the first record (in the index's order) that holds
/// one.
fn index(out: &Output, model: &Model, sources: &SourceMap) -> (String, Option<&'static str>) {
    let mut escapes = Vec::new();
    for svc in &model.services {
        let kinds = svc
            .overrides
            .iter()
            .map(|e| ("override", e.what.clone(), Some(e.reason.clone()), e.span, &e.from))
            .chain(svc.waivers.iter().map(|e| ("waiver", e.what.clone(), Some(e.reason.clone()), e.span, &e.from)))
            .chain(
                svc.patches.iter().map(|p| ("patch", context::patch_what(&p.patch), p.reason(), p.patch.span, &p.from)),
            );
        for (kind, what, reason, span, from) in kinds {
            let at = sources.get(span.file).map(|f| {
                let (line, _) = f.line_col(span.start as usize);
                format!("{}:{line}", f.path)
            });
            escapes.push(Doc::Map(vec![
                ("service".into(), Doc::Str(svc.name.clone())),
                ("kind".into(), Doc::Str(kind.into())),
                ("what".into(), Doc::Str(what)),
                ("reason".into(), reason.map(Doc::Str).unwrap_or(Doc::Null)),
                ("at".into(), at.map(Doc::Str).unwrap_or(Doc::Null)),
                ("golden_path".into(), from.clone().map(Doc::Str).unwrap_or(Doc::Null)),
            ]));
        }
    }
    let len: usize =
        out.files.iter().map(|(p, f)| f.indexed.as_ref().map_or(200 + p.len(), |r| r.text.len() + 6)).sum();
    let mut s = String::with_capacity(len + 128);
    let mut credential = None;
    s.push_str("{\n  \"generator\": \"platc\",\n  \"files\": [");
    for (i, (path, f)) in out.files.iter().enumerate() {
        s.push_str(if i > 0 { ",\n    " } else { "\n    " });
        match f.indexed.as_ref().filter(|r| r.is_for(path)) {
            Some(r) => {
                s.push_str(&r.text);
                credential = credential.or(r.credential);
            }
            None => {
                let r = IndexRecord::new(path, f);
                s.push_str(&r.text);
                credential = credential.or(r.credential);
            }
        }
    }
    s.push_str(if out.files.is_empty() { "]" } else { "\n  ]" });
    s.push_str(",\n  \"escapes\": ");
    let mut block = String::new();
    doc::json_value(&Doc::List(escapes), 2, &mut block);
    credential = credential.or_else(|| crate::secrets::credential(&block));
    s.push_str(&block);
    s.push_str("\n}\n");
    (s, credential)
}

pub fn sha256(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

/// Bytes as lowercase hex digits.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 15] {
            out.push(char::from(HEX.get(usize::from(nibble)).copied().unwrap_or(b'0')));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index scanned record by record finds every credential the scan
    /// of its whole text found, in any field of a record (path, service,
    /// environment, kind), whether the record was made with the service's
    /// rendering or when the index is written; and the one thing the whole
    /// scan found that no record holds: a "token" made of the index's own
    /// punctuation across records.
    #[test]
    fn the_index_scanned_by_records_finds_what_the_whole_scan_found() {
        let mut sources = crate::sources::Sources::new();
        sources.insert(
            "platform.plat",
            "workspace acme {\n  registry = \"ghcr.io/acme\"\n  environment staging {}\n}\n".to_string(),
        );
        sources.insert(
            "services/demo/service.plat",
            "service demo from worker {\n  owner = \"t\"\n  language = go\n  version = \"1.0.0\"\n  allow image-pinned because \"demo\"\n}\n".to_string(),
        );
        let c = crate::compile(&sources, &Options::default());
        let (Some(model), Some(base)) = (c.model.as_ref(), c.output.as_ref()) else { panic!("{:#?}", c.diagnostics) };
        let mut without = base.clone();
        without.files.remove(INDEX_FILE);
        let (text, found) = index(&without, model, &c.files);
        assert_eq!((found, text.as_str()), (None, base.files[INDEX_FILE].contents.as_str()));
        let credentials = [
            "AKIAIOSFODNN7EXAMPLE".to_string(),
            format!("AIza{}", "c".repeat(35)),
            format!("ghp_{}", "a".repeat(36)),
            "glpat-abcdefghijklmnopqrstuv".to_string(),
            "xoxb-1234567890-abcdefghij".to_string(),
            format!("sk_live_{}", "x".repeat(24)),
            format!("npm_{}", "a1".repeat(18)),
            format!("pypi-{}", "b2".repeat(16)),
            "hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX".to_string(),
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----".to_string(),
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N".to_string(),
            "Bearer abcdefghijklmnopqrstu".to_string(),
            "Basic dXNlcjpwYXNzd29yZA==".to_string(),
            "postgres://app:hunter2@db/app".to_string(),
            "--password=x1".to_string(),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_string(),
        ];
        for (n, cred) in credentials.iter().enumerate() {
            for field in 0..4 {
                let mut out = base.clone();
                out.files.remove(INDEX_FILE);
                let at = |f: usize, default: &str| if f == field { cred.clone() } else { default.to_string() };
                let file = OutFile::new(
                    "x: 1\n".into(),
                    Some(at(1, "demo")),
                    Some(at(2, "staging")),
                    at(3, "kubernetes/ConfigMap"),
                    None,
                );
                let path = format!("demo/{}/x.yaml", at(0, "kubernetes"));
                let mut files = BTreeMap::from([(path, Arc::new(file))]);
                if n % 2 == 0 {
                    index_records(&mut files);
                }
                out.files.extend(files);
                let (text, found) = index(&out, model, &c.files);
                assert_eq!(found, crate::secrets::credential(&text), "{cred:?} in field {field}");
                // (An AWS secret key is 40 characters alone: in a path, the
                // slashes around it make it longer, for either scan.)
                let in_path = field == 0 && cred.starts_with("wJalr");
                assert!(found.is_some() || in_path, "{cred:?} in field {field}");
            }
        }
        // The exception: `eyJ` in one record, and the dots the whole scan
        // looked ahead for in the next one's path.
        let mut out = base.clone();
        out.files.remove(INDEX_FILE);
        for path in ["zz/a/eyJhbGciOiJIUzI1NiJ9", "zz/b/f.abcdefghijkl.mnopqrstuvwxyz"] {
            out.files.insert(path.into(), Arc::new(OutFile::new(String::new(), None, None, "k".into(), None)));
        }
        let (text, found) = index(&out, model, &c.files);
        assert_eq!((found, crate::secrets::credential(&text)), (None, Some("a JSON web token")));
    }

    /// A record is taken for a path only if it was made for that path.
    #[test]
    fn a_record_is_for_its_own_path_only() {
        let file = OutFile::new("x".into(), None, None, "k".into(), None);
        let paths = ["a", "a/b.yaml", "a\"b", "a\\", "a\\\"b", "a\nb", "é/\u{2028}", "ab"];
        for made in paths {
            let record = IndexRecord::new(made, &file);
            for asked in paths {
                let escaped = made.contains(['"', '\\', '\n', '\u{2028}']);
                assert_eq!(record.is_for(asked), made == asked && !escaped, "made for {made:?}, asked {asked:?}");
            }
        }
    }

    /// The index's hash from the last one's states is its hash, wherever
    /// the two differ (at the start, inside a step, at a step's boundary,
    /// at the end), however their lengths differ, and from states of a
    /// text that is not the last one's (never reused past a difference).
    #[test]
    fn the_index_hash_from_the_last_states_is_its_hash() {
        let base: String = (0..(3 * INDEX_STEP + 1000)).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let (h, states) = index_hash(&base, None);
        assert_eq!((h.as_str(), states.len()), (sha256(&base).as_str(), 3));
        let edit = |at: usize, with: &str| {
            let mut t = base.clone();
            t.replace_range(at..at + 1, with);
            t
        };
        let texts = [
            base.clone(),
            edit(0, "Z"),
            edit(INDEX_STEP - 1, "Z"),
            edit(INDEX_STEP, "Z"),
            edit(2 * INDEX_STEP + 17, "ZZZ"),
            edit(3 * INDEX_STEP + 999, ""),
            format!("{base}tail"),
            base[..2 * INDEX_STEP].to_string(),
            base[..100].to_string(),
            String::new(),
        ];
        for (i, t) in texts.iter().enumerate() {
            let (h, again) = index_hash(t, Some((&base, &states)));
            assert_eq!(h, sha256(t), "text {i}");
            assert_eq!(again.len(), t.len() / INDEX_STEP, "text {i}");
            // And its states serve the next one.
            assert_eq!(index_hash(&base, Some((t, &again))).0, sha256(&base), "text {i}");
        }
    }

    /// A source path cannot end the header's comment line (the input
    /// refuses such paths; the header does not rely on it).
    #[test]
    fn the_header_escapes_the_source_path() {
        let evil = "services/x\n---\nkind: Pod\n#/service.plat";
        for format in [Format::Yaml, Format::Hcl] {
            let text = format.write(&[], evil).unwrap();
            let first = text.lines().next().unwrap();
            assert!(first.contains("services/x\\n---\\nkind: Pod\\n#/service.plat"), "{first}");
            assert!(!text.lines().any(|l| l == "kind: Pod"), "{text}");
        }
    }
}
