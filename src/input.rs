//! Stage 1 (driver), input: [`Sources`] → parsed files, sorted into the
//! workspace file, the standard library (embedded, overlaid by the
//! workspace's own directory) and the service files.
//!
//! Every file parsed is registered in the [`SourceMap`]; every workspace file
//! used is recorded in `read` (what `platc watch` watches).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::ast;
use crate::cache::Cache;
use crate::diag::{Diagnostic, escape_unprintable, is_unprintable};
use crate::library::{Role, TemplateFile};
use crate::parse;
use crate::resolve::{ServiceDecl, join_inside};
use crate::sources::{STDLIB_PREFIX, Sources, Text};
use crate::span::{SourceMap, Span};
use crate::workspace::{SERVICE_FILE, WORKSPACE_FILE, selects};

/// The parsed input of a compilation.
pub struct Input {
    /// `workspace NAME { ... }` from platform.plat, if there is one.
    pub workspace: Option<ast::Block>,
    /// The standard library's parsed `.plat` files, each with its role:
    /// embedded, an overlay file replacing an embedded one, or an overlay
    /// file of its own name that extends the library.
    pub stdlib: Vec<(ast::File, Role)>,
    pub templates: BTreeMap<String, TemplateFile>,
    /// Workspace-relative directory of the stdlib overlay, if any.
    pub overlay: Option<String>,
    pub service_files: Vec<(String, crate::span::FileId, Arc<ast::File>)>,
    /// How many service files there are, parsed or not.
    pub service_file_count: usize,
}

/// Registers and parses one file; `None` when it is not UTF-8 or does not parse.
pub fn parse_file(path: &str, text: &Text, files: &mut SourceMap, diags: &mut Vec<Diagnostic>) -> Option<ast::File> {
    parse_cached(path, text, files, diags, &Cache::default(), &mut Cache::default())
}

/// [`parse_file`], reusing the tree in `cache` when the text and the place
/// are the same, and recording it in `next`.
pub fn parse_cached(
    path: &str,
    text: &Text,
    files: &mut SourceMap,
    diags: &mut Vec<Diagnostic>,
    cache: &Cache,
    next: &mut Cache,
) -> Option<ast::File> {
    match text {
        Text::Utf8(t) => {
            let id = files.add(path.to_string(), t.clone());
            let parsed = match cache.reuse(path, id, t) {
                Some(p) => p.clone(),
                None => parse::parse_shared(id, t),
            };
            diags.extend(parsed.diags.iter().cloned());
            let file = parsed.file.as_deref().cloned();
            next.parsed.insert(path.to_string(), parsed);
            file
        }
        Text::Invalid { valid_up_to } => {
            let id = files.add(path.to_string(), Arc::from(""));
            diags.push(
                Diagnostic::error(
                    "platc::parse::not_utf8",
                    format!("`{path}` is not UTF-8 text (invalid byte at offset {valid_up_to})"),
                )
                .label(Span::new(id, 0, 0), "in this file")
                .help("save the file as UTF-8"),
            );
            None
        }
    }
}

/// Reads the workspace file, the standard library and the service files.
pub fn load(
    sources: &Sources,
    files: &mut SourceMap,
    diags: &mut Vec<Diagnostic>,
    read: &mut BTreeSet<String>,
    cache: &Cache,
    next: &mut Cache,
) -> Input {
    let mut workspace = None;
    let mut overlay = None;
    // Paths are printed into headers, annotations and messages: one that
    // could break out of a line is refused, and never read further.
    for (path, _) in sources.files() {
        if path.chars().any(is_unprintable) {
            diags.push(bad_path(path, files));
        }
    }
    let printable = |path: &str| !path.chars().any(is_unprintable);
    // What the reader found and did not read is said, never skipped silently.
    for (path, skipped) in sources.skipped() {
        let shown = escape_unprintable(path).into_owned();
        let id = files.add(shown.clone(), Arc::from(""));
        let d = Diagnostic::error("platc::workspace::unreadable", format!("`{shown}` is not read: {}", skipped.reason))
            .label(Span::new(id, 0, 0), "not read")
            .help("platc reads regular files, and follows symbolic links that stay inside the workspace (outside hidden directories and the output); replace it with a file or a link inside the workspace");
        diags.push(if skipped.error { d } else { d.with_severity(crate::diag::Severity::Warning) });
    }
    if let Some(text) = sources.get(WORKSPACE_FILE) {
        read.insert(WORKSPACE_FILE.to_string());
        if let Text::Utf8(t) = text {
            next.global.push((WORKSPACE_FILE.to_string(), t.clone()));
        }
        if let Some(file) = parse_cached(WORKSPACE_FILE, text, files, diags, cache, next) {
            for item in file.body.items {
                match item {
                    ast::Item::Block(b) if b.kind.name == "workspace" && workspace.is_none() => workspace = Some(b),
                    other => diags.push(
                        Diagnostic::error(
                            "platc::workspace::misplaced",
                            "platform.plat holds one `workspace NAME { ... }` block",
                        )
                        .label(other.span(), "not the workspace block")
                        .help(
                            "move services to their own service.plat and platform declarations to the stdlib directory",
                        ),
                    ),
                }
            }
        }
        if let Some(b) = &workspace {
            overlay = stdlib_dir(b, diags);
        }
    }

    // The standard library: embedded files, overlaid path by path. A file
    // of the overlay with a new path extends the library (its declarations
    // add to the embedded ones); one with an embedded file's path replaces
    // that file (the eject path), which is said in a warning: upgrades of
    // the embedded library no longer reach it.
    let mut stdlib: BTreeMap<String, (String, Text, Role)> = sources
        .stdlib()
        .into_iter()
        .map(|(p, t)| {
            let shown = format!("{STDLIB_PREFIX}{p}");
            (p, (shown, Text::Utf8(t), Role::Embedded))
        })
        .collect();
    let mut registered: BTreeMap<String, crate::span::FileId> = BTreeMap::new();
    if let Some(dir) = &overlay {
        let prefix = format!("{dir}/");
        for (path, text) in sources.files().filter(|(p, _)| printable(p)) {
            if let Some(rel) = path.strip_prefix(&prefix)
                && (rel.ends_with(".plat") || rel.ends_with(".hbs"))
            {
                read.insert(path.to_string());
                let role = if stdlib.contains_key(rel) { Role::Replaces } else { Role::Extends };
                if role == Role::Replaces
                    && let Text::Utf8(t) = text
                {
                    let id = files.add(path.to_string(), t.clone());
                    registered.insert(path.to_string(), id);
                    diags.push(replaced(path, rel, Span::new(id, 0, 0)));
                }
                stdlib.insert(rel.to_string(), (path.to_string(), text.clone(), role));
            }
        }
    }
    // Every .plat file is parsed at once below, on every core: the
    // standard library's first, then the services'.
    let mut todo: Vec<(String, crate::span::FileId, std::sync::Arc<str>)> = Vec::new();
    let mut roles = Vec::new();
    let mut templates = BTreeMap::new();
    for (rel, (shown, text, role)) in &stdlib {
        if let Text::Utf8(t) = text {
            next.global.push((shown.clone(), t.clone()));
        }
        if let Some(t) = rel.strip_prefix("templates/") {
            match text {
                Text::Utf8(s) => {
                    templates.insert(t.to_string(), TemplateFile { shown_as: shown.clone(), text: s.clone() });
                }
                Text::Invalid { .. } => {
                    parse_file(shown, text, files, diags);
                }
            }
        } else if rel.ends_with(".plat") {
            match text {
                Text::Utf8(t) => {
                    // (A replacing file was registered for its warning.)
                    let id = registered.get(shown).copied().unwrap_or_else(|| files.add(shown.clone(), t.clone()));
                    todo.push((shown.clone(), id, t.clone()));
                    roles.push(*role);
                }
                Text::Invalid { .. } => {
                    parse_file(shown, text, files, diags);
                }
            }
        }
    }
    let stdlib_files = todo.len();

    // Service files: by the workspace's globs, else every service.plat.
    let globs = workspace.as_ref().map(service_globs).unwrap_or_default();
    let mut service_file_count = 0;
    for (path, text) in sources.files().filter(|(p, _)| printable(p)) {
        let is_service = path == SERVICE_FILE || path.ends_with(&format!("/{SERVICE_FILE}"));
        let in_overlay = overlay.as_ref().is_some_and(|d| path.starts_with(&format!("{d}/")));
        if !is_service || in_overlay || (!globs.is_empty() && !selects(&globs, path)) {
            continue;
        }
        read.insert(path.to_string());
        service_file_count += 1;
        match text {
            Text::Utf8(t) => todo.push((path.to_string(), files.add(path.to_string(), t.clone()), t.clone())),
            Text::Invalid { .. } => {
                parse_file(path, text, files, diags);
            }
        }
    }
    // Files are independent: parse them on every core (unless the previous
    // compilation already did).
    let trees = crate::par::map(&todo, |(path, id, text)| match cache.reuse(path, *id, text) {
        Some(p) => p.clone(),
        None => parse::parse_shared(*id, text),
    });
    let mut parsed = Vec::new();
    let mut service_files = Vec::new();
    for (i, ((path, id, _), tree)) in todo.into_iter().zip(trees).enumerate() {
        diags.extend(tree.diags.iter().cloned());
        if let Some(f) = tree.file.clone() {
            if i < stdlib_files {
                parsed.push((ast::File::clone(&f), roles.get(i).copied().unwrap_or(Role::Embedded)));
            } else {
                service_files.push((path.clone(), id, f));
            }
        }
        next.parsed.insert(path, tree);
    }
    for (glob, span) in &globs {
        let matched = sources
            .files()
            .any(|(p, _)| (p == SERVICE_FILE || p.ends_with("/service.plat")) && selects(&[(glob.clone(), *span)], p));
        if !matched {
            diags.push(
                Diagnostic::warning("platc::workspace::empty_glob", format!("`{glob}` matches no service.plat"))
                    .label(*span, "matches nothing")
                    .help("services live in `service.plat` files; check the pattern (`*` stays within one directory, `**` crosses them)"),
            );
        }
    }
    Input { workspace, stdlib: parsed, templates, overlay, service_files, service_file_count }
}

/// An overlay file that replaces an embedded one by its path.
fn replaced(path: &str, rel: &str, at: Span) -> Diagnostic {
    Diagnostic::warning(
        "platc::library::replaced",
        format!("`{path}` replaces the standard library's `{rel}`: upgrades of platc no longer reach it"),
    )
    .label(at, "replaces the embedded file")
    .help("to change part of the standard library, declare only the change in an overlay file of another name (`defaults { replicas = 3 }`, `schema service { cost_center = string }`, a template in an extension point's directory): docs/language.md, \"Overlays\"")
}

/// A source whose path holds a line break or another unprintable character,
/// shown escaped.
fn bad_path(path: &str, files: &mut SourceMap) -> Diagnostic {
    let shown = escape_unprintable(path).into_owned();
    let id = files.add(shown.clone(), Arc::from(""));
    Diagnostic::error(
        "platc::workspace::bad_path",
        format!("the path `{shown}` holds a line break or another control character"),
    )
    .label(Span::new(id, 0, 0), "this file's path")
    .help("rename the file or its directory: platc prints paths into generated comments, annotations and messages, where such a character could change what they say")
}

fn stdlib_dir(b: &ast::Block, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let a = b.body.get("stdlib")?;
    let ast::ExprKind::Str(s) = &a.value.kind else {
        return None;
    };
    let raw = s.as_plain()?;
    match join_inside(WORKSPACE_FILE, &raw) {
        Some(dir) => Some(dir.trim_end_matches('/').to_string()),
        // `.` (or `a/..`): inside, but the workspace itself.
        None if join_inside(WORKSPACE_FILE, &format!("{}/x", raw.trim_end_matches('/'))).as_deref() == Some("x") => {
            diags.push(
                Diagnostic::error(
                    "platc::workspace::bad_value",
                    format!("`{raw}` is the workspace itself, not a directory in it"),
                )
                .label(a.value.span, "the whole workspace")
                .help("keep the standard library's files in their own directory, such as `stdlib = \"./platform\"`"),
            );
            None
        }
        None => {
            diags.push(
                Diagnostic::error("platc::workspace::stdlib_outside", format!("`{raw}` is outside the workspace"))
                    .label(a.value.span, "leaves the workspace")
                    .help(
                        "keep the standard library directory inside the workspace, such as `stdlib = \"./platform\"`",
                    ),
            );
            None
        }
    }
}

fn service_globs(b: &ast::Block) -> Vec<(String, Span)> {
    let Some(a) = b.body.get("services") else {
        return Vec::new();
    };
    let ast::ExprKind::List(items) = &a.value.kind else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|i| match &i.kind {
            ast::ExprKind::Str(s) => s.as_plain().map(|p| (p, i.span)),
            _ => None,
        })
        .collect()
}

/// The `service` blocks of the service files; anything else there is an error.
pub fn service_decls(
    service_files: Vec<(String, crate::span::FileId, Arc<ast::File>)>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<ServiceDecl> {
    let mut out = Vec::new();
    for (path, file, ast) in service_files {
        let mut any = false;
        for (i, item) in ast.body.items.iter().enumerate() {
            match item {
                ast::Item::Block(b) if b.kind.name == "service" => {
                    any = true;
                    out.push(ServiceDecl { tree: Arc::clone(&ast), item: i, file, path: path.clone() });
                }
                other => diags.push(
                    Diagnostic::error(
                        "platc::resolve::misplaced",
                        "a service file holds `service NAME { ... }` blocks",
                    )
                    .label(other.span(), "outside any service")
                    .help("move this inside the service block, or into the workspace's stdlib directory"),
                ),
            }
        }
        if !any {
            diags.push(
                Diagnostic::error("platc::resolve::empty_service_file", format!("`{path}` declares no service"))
                    .label(Span::new(file, 0, 0), "no `service` block")
                    .help("write `service NAME from web-api { owner = \"team-x\" ... }`"),
            );
        }
    }
    out
}
