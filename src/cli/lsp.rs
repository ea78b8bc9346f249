//! `platc lsp`: the language server (LSP 3.17 over standard input and
//! output), a thin shell over the library. It finds the workspace of an
//! opened document as `platc build` does, keeps the open documents' text
//! over the files on disk, compiles again on every change (reusing the last
//! compilation, as `watch` does) and publishes the diagnostics of every file
//! of the workspace. What the cursor is on, completion, definitions, hover
//! and fixes come from `platc::ide`; formatting from `platc::fmt`.
//!
//! The embedded standard library is written, read-only, to the user's cache
//! directory (`$XDG_CACHE_HOME/platc/stdlib-<hash>/`, or `~/.cache/...`,
//! else the temporary directory) the first time a definition points into
//! it: every editor opens a `file:` URI, where a scheme of platc's own
//! would need code in each editor's extension to show it.
//!
//! The protocol itself is rust-analyzer's `lsp-server` (framing, the
//! initialize handshake, shutdown) and `lsp-types` (the messages).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, Request as _,
};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, CodeActionProviderCapability, CompletionItem,
    CompletionItemKind, CompletionOptions, CompletionParams, CompletionResponse, DiagnosticRelatedInformation,
    DiagnosticSeverity, DidChangeTextDocumentParams, DidChangeWatchedFilesParams, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, DocumentFormattingParams, DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse,
    FileChangeType, GotoDefinitionParams, GotoDefinitionResponse, Hover, HoverContents, HoverParams,
    HoverProviderCapability, Location, MarkupContent, MarkupKind, NumberOrString, OneOf, Position,
    PositionEncodingKind, PublishDiagnosticsParams, Range, ServerCapabilities, SymbolKind, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextEdit, Uri, WorkspaceEdit,
};
use platc::cache::Parsed;
use platc::ide::{self, Hit};
use platc::sources::{STDLIB, STDLIB_PREFIX, Sources, Text};
use platc::span::{FileId, SourceMap, Span};
use platc::workspace::WORKSPACE_FILE;
use platc::{Compiled, Options};
use sha2::{Digest, Sha256};

use super::load;

pub fn run() -> Result<u8, String> {
    let (connection, io) = Connection::stdio();
    let capabilities = ServerCapabilities {
        // Columns in UTF-16 code units, LSP's default (and all that
        // `platc::ide::position` counts in).
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::INCREMENTAL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into(), "[".into(), " ".into()]),
            ..CompletionOptions::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        ..ServerCapabilities::default()
    };
    let init = serde_json::json!({
        "capabilities": capabilities,
        "serverInfo": { "name": "platc", "version": env!("CARGO_PKG_VERSION") },
    });
    let (id, _params) = connection.initialize_start().map_err(|e| format!("language server: {e}"))?;
    connection.initialize_finish(id, init).map_err(|e| format!("language server: {e}"))?;
    let mut server = Server { connection: &connection, docs: BTreeMap::new(), workspaces: BTreeMap::new() };
    let result = server.serve();
    drop(server);
    drop(connection);
    io.join().map_err(|e| format!("language server: {e}"))?;
    result.map(|()| 0)
}

/// An open document.
struct Doc {
    uri: Uri,
    text: String,
    /// The workspace root and the document's path in it.
    place: Option<(PathBuf, String)>,
}

/// A workspace with at least one open document.
struct Workspace {
    sources: Sources,
    /// The last compilation that built.
    good: Option<Compiled>,
    /// The last compilation, when it did not build.
    broken: Option<Compiled>,
    /// Files diagnostics were last published for (so that they can be cleared).
    published: BTreeSet<String>,
}

impl Workspace {
    /// The last compilation.
    fn current(&self) -> Option<&Compiled> {
        self.broken.as_ref().or(self.good.as_ref())
    }
}

struct Server<'a> {
    connection: &'a Connection,
    /// By absolute path.
    docs: BTreeMap<PathBuf, Doc>,
    /// By root.
    workspaces: BTreeMap<PathBuf, Workspace>,
}

fn options() -> Options {
    Options { trace: true, ..Options::default() }
}

impl Server<'_> {
    fn serve(&mut self) -> Result<(), String> {
        let mut pending: VecDeque<Message> = VecDeque::new();
        loop {
            let msg = match pending.pop_front() {
                Some(m) => m,
                None => match self.connection.receiver.recv() {
                    Ok(m) => m,
                    Err(_) => return Ok(()),
                },
            };
            match msg {
                Message::Request(req) => {
                    if self.connection.handle_shutdown(&req).map_err(|e| e.to_string())? {
                        return Ok(());
                    }
                    let resp = self.request(req);
                    self.send(Message::Response(resp));
                }
                Message::Notification(n) => {
                    let mut roots = BTreeSet::new();
                    self.notification(n, &mut roots);
                    // Changes typed faster than a compilation: take them all,
                    // then compile once.
                    while let Ok(next) = self.connection.receiver.try_recv() {
                        match next {
                            Message::Notification(n)
                                if n.method == DidChangeTextDocument::METHOD
                                    || n.method == DidChangeWatchedFiles::METHOD =>
                            {
                                self.notification(n, &mut roots)
                            }
                            other => {
                                pending.push_back(other);
                                break;
                            }
                        }
                    }
                    for (root, changed) in group(roots) {
                        self.compile(&root, &changed);
                    }
                }
                Message::Response(_) => {}
            }
        }
    }

    fn send(&self, msg: Message) {
        let _ = self.connection.sender.send(msg);
    }

    /// Applies a document notification; records (root, changed file).
    fn notification(&mut self, n: Notification, changed: &mut BTreeSet<(PathBuf, String)>) {
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<DidOpenTextDocumentParams>(n.params) else { return };
                let Some(path) = uri_path(&p.text_document.uri) else { return };
                let place = self.attach(&path);
                if let Some((root, rel)) = &place {
                    if let Some(ws) = self.workspaces.get_mut(root) {
                        ws.sources.insert(rel.clone(), p.text_document.text.clone());
                    }
                    changed.insert((root.clone(), rel.clone()));
                }
                let doc = Doc { uri: p.text_document.uri, text: p.text_document.text, place };
                if doc.place.is_none() {
                    self.publish_alone(&doc);
                }
                self.docs.insert(path, doc);
            }
            DidChangeTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<DidChangeTextDocumentParams>(n.params) else { return };
                let Some(path) = uri_path(&p.text_document.uri) else { return };
                let Some(doc) = self.docs.get_mut(&path) else { return };
                for c in p.content_changes {
                    match c.range {
                        Some(r) => {
                            let start = ide::offset(&doc.text, r.start.line, r.start.character);
                            let end = ide::offset(&doc.text, r.end.line, r.end.character).max(start);
                            doc.text.replace_range(start..end, &c.text);
                        }
                        None => doc.text = c.text,
                    }
                }
                match &doc.place {
                    Some((root, rel)) => {
                        if let Some(ws) = self.workspaces.get_mut(root) {
                            ws.sources.insert(rel.clone(), doc.text.clone());
                        }
                        changed.insert((root.clone(), rel.clone()));
                    }
                    None => {
                        let doc = &self.docs[&path];
                        self.publish_alone(doc);
                    }
                }
            }
            DidCloseTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<DidCloseTextDocumentParams>(n.params) else { return };
                let Some(path) = uri_path(&p.text_document.uri) else { return };
                let Some(doc) = self.docs.remove(&path) else { return };
                match doc.place {
                    // Back to what is on disk.
                    Some((root, rel)) => {
                        if let Some(ws) = self.workspaces.get_mut(&root) {
                            match load::read_source(&path) {
                                Ok(bytes) => ws.sources.insert_bytes(rel.clone(), bytes),
                                Err(_) => ws.sources.remove(&rel),
                            }
                        }
                        changed.insert((root, rel));
                    }
                    None => self.publish(&doc.uri, Vec::new()),
                }
            }
            // Files changed on disk (by git, another editor): read again
            // unless open here.
            DidChangeWatchedFiles::METHOD => {
                let Ok(p) = serde_json::from_value::<DidChangeWatchedFilesParams>(n.params) else { return };
                for ev in p.changes {
                    let Some(path) = uri_path(&ev.uri) else { continue };
                    if self.docs.contains_key(&path) || !path.to_str().is_some_and(load::is_source) {
                        continue;
                    }
                    let real = real(&path);
                    for (root, ws) in self.workspaces.iter_mut() {
                        let Ok(rel) = real.strip_prefix(root) else { continue };
                        let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>();
                        let rel = rel.join("/");
                        match load::read_source(&path) {
                            Ok(bytes) if ev.typ != FileChangeType::DELETED => {
                                ws.sources.insert_bytes(rel.clone(), bytes)
                            }
                            _ => ws.sources.remove(&rel),
                        }
                        changed.insert((root.clone(), rel));
                    }
                }
            }
            _ => {}
        }
    }

    /// The workspace of a document (read from disk the first time), and the
    /// document's path in it; `None` outside any workspace.
    fn attach(&mut self, path: &Path) -> Option<(PathBuf, String)> {
        let dir = path.parent()?;
        let root = load::find(dir).ok()?.root;
        let real = real(path);
        let rel = real.strip_prefix(&root).ok()?;
        let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        if !self.workspaces.contains_key(&root) {
            let sources = load::sources(&root, &root.join("gen")).ok()?;
            self.workspaces
                .insert(root.clone(), Workspace { sources, good: None, broken: None, published: BTreeSet::new() });
        }
        Some((root, rel))
    }

    /// Compiles a workspace again and publishes its diagnostics: those of
    /// parse, resolve, check and graph as soon as they are known (when
    /// there is no error, before emit renders), then all of them.
    fn compile(&mut self, root: &Path, changed: &[String]) {
        let places = Places::new(&self.docs, root);
        let Some(ws) = self.workspaces.get_mut(root) else { return };
        let fallback = if ws.sources.get(WORKSPACE_FILE).is_some() {
            WORKSPACE_FILE.to_string()
        } else {
            changed.first().cloned().unwrap_or_default()
        };
        // The early publication, made while the compilation runs; the files
        // it published for are cleared by the final one if need be.
        let early: std::sync::Arc<std::sync::Mutex<BTreeSet<String>>> = std::sync::Arc::default();
        let checked = {
            let (sender, sources, published) =
                (self.connection.sender.clone(), ws.sources.clone(), ws.published.clone());
            let (places, fallback, early) = (places.clone(), fallback.clone(), std::sync::Arc::clone(&early));
            let send = move |m: Message| {
                let _ = sender.send(m);
            };
            platc::Checked(std::sync::Arc::new(move |diagnostics: &[platc::diag::Diagnostic], files: &SourceMap| {
                let now = publish_all(&send, &places, &sources, files, diagnostics, &published, &fallback);
                *early.lock().unwrap_or_else(|e| e.into_inner()) = now;
            }))
        };
        let options = Options { checked: Some(checked), ..options() };
        // The latest compilation holds the latest results (the memo store
        // keeps what it used): every one unchanged since is reused.
        let compiled = match ws.current() {
            Some(prev) => platc::compile_reusing(&ws.sources, &options, prev),
            None => platc::compile(&ws.sources, &options),
        };
        let mut published = std::mem::take(&mut *early.lock().unwrap_or_else(|e| e.into_inner()));
        published.extend(ws.published.iter().cloned());
        let connection = self.connection;
        let send = |m: Message| {
            let _ = connection.sender.send(m);
        };
        ws.published =
            publish_all(&send, &places, &ws.sources, &compiled.files, &compiled.diagnostics, &published, &fallback);
        if compiled.output.is_some() {
            ws.good = Some(compiled);
            ws.broken = None;
        } else {
            ws.broken = Some(compiled);
        }
    }

    /// A .plat file outside any workspace: its syntax errors only.
    fn publish_alone(&self, doc: &Doc) {
        let (_, diags) = platc::parse::parse(FileId(0), &doc.text);
        let diags = diags
            .iter()
            .map(|d| {
                let range = d.primary().map(|s| range(&doc.text, s)).unwrap_or_default();
                lsp_types::Diagnostic {
                    range,
                    severity: Some(severity(d)),
                    code: Some(NumberOrString::String(d.code.to_string())),
                    source: Some("platc".into()),
                    message: message(d),
                    ..lsp_types::Diagnostic::default()
                }
            })
            .collect();
        self.publish(&doc.uri, diags);
    }

    fn publish(&self, uri: &Uri, diagnostics: Vec<lsp_types::Diagnostic>) {
        let params = PublishDiagnosticsParams { uri: uri.clone(), diagnostics, version: None };
        self.send(Message::Notification(Notification::new(PublishDiagnostics::METHOD.into(), params)));
    }

    fn request(&mut self, req: Request) -> Response {
        let id = req.id.clone();
        let result = match req.method.as_str() {
            HoverRequest::METHOD => params::<HoverParams>(&req).map(|p| json(self.hover(p))),
            Completion::METHOD => params::<CompletionParams>(&req).map(|p| json(self.completion(p))),
            GotoDefinition::METHOD => params::<GotoDefinitionParams>(&req).map(|p| json(self.definition(p))),
            Formatting::METHOD => params::<DocumentFormattingParams>(&req).map(|p| json(self.format(p))),
            DocumentSymbolRequest::METHOD => params::<DocumentSymbolParams>(&req).map(|p| json(self.symbols(p))),
            CodeActionRequest::METHOD => params::<CodeActionParams>(&req).map(|p| json(self.actions(p))),
            other => {
                return Response::new_err(id, ErrorCode::MethodNotFound as i32, format!("unknown method {other}"));
            }
        };
        match result {
            Ok(v) => Response::new_ok(id, v),
            Err(e) => error(id, e),
        }
    }

    /// An open document, its workspace's root and last compilation, and its path there.
    fn context(&self, uri: &Uri) -> Option<(&Doc, &Path, &Workspace, &str)> {
        let doc = self.docs.get(&uri_path(uri)?)?;
        let (root, rel) = doc.place.as_ref()?;
        let ws = self.workspaces.get(root)?;
        Some((doc, root, ws, rel))
    }

    /// The parse of a document's current text (syntax tree and AST): the
    /// latest compilation's when it read this text (it normally has: every
    /// change compiles), else a parse of its own.
    fn parsed(&self, doc: &Doc) -> Parsed {
        let compiled = doc.place.as_ref().and_then(|(root, _)| self.workspaces.get(root)?.current());
        let cached = doc.place.as_ref().zip(compiled).and_then(|((_, rel), c)| c.memo.parsed(rel));
        match cached.filter(|p| *p.text == *doc.text) {
            Some(p) => p.clone(),
            None => {
                let id = doc.place.as_ref().zip(compiled).and_then(|((_, rel), c)| c.files.find(rel));
                platc::parse::parse_shared(id.unwrap_or(FileId(u32::MAX)), &std::sync::Arc::from(doc.text.as_str()))
            }
        }
    }

    /// What is under the cursor, by the document's current text.
    fn hit(&self, uri: &Uri, pos: Position) -> Option<(Hit, &Doc, &Path, &Workspace)> {
        let (doc, root, ws, _) = self.context(uri)?;
        let compiled = ws.current()?;
        let file = self.parsed(doc).file?;
        let offset = ide::offset(&doc.text, pos.line, pos.character);
        Some((ide::hit_at(&file, offset, compiled)?, doc, root, ws))
    }

    fn hover(&self, p: HoverParams) -> Option<Hover> {
        let at = p.text_document_position_params;
        let (hit, doc, _, ws) = self.hit(&at.text_document.uri, at.position)?;
        let text = ide::hover(ws.current()?, &hit)?;
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }),
            range: Some(range(&doc.text, hit.span())),
        })
    }

    fn definition(&self, p: GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
        let at = p.text_document_position_params;
        let (hit, _, root, ws) = self.hit(&at.text_document.uri, at.position)?;
        let compiled = ws.current()?;
        let span = ide::definition(compiled, &hit)?;
        let file = compiled.files.path(span.file);
        let uri = match file.strip_prefix(STDLIB_PREFIX) {
            Some(rel) => path_uri(&stdlib_dir()?.join(rel))?,
            None => Places::new(&self.docs, root).uri(file)?,
        };
        let text = text_of(&ws.sources, &compiled.files, span)?;
        Some(GotoDefinitionResponse::Scalar(Location { uri, range: range(&text, span) }))
    }

    fn completion(&self, p: CompletionParams) -> Option<CompletionResponse> {
        let at = p.text_document_position;
        let (doc, _, ws, rel) = self.context(&at.text_document.uri)?;
        let offset = ide::offset(&doc.text, at.position.line, at.position.character);
        let items = ide::completions(ws.current()?, rel, &doc.text, offset)
            .into_iter()
            .map(|c| CompletionItem {
                label: c.label,
                kind: Some(match c.kind {
                    ide::CompletionKind::Attribute => CompletionItemKind::FIELD,
                    ide::CompletionKind::Keyword => CompletionItemKind::KEYWORD,
                    ide::CompletionKind::Symbol => CompletionItemKind::ENUM_MEMBER,
                    ide::CompletionKind::Service => CompletionItemKind::MODULE,
                    ide::CompletionKind::Resource => CompletionItemKind::VARIABLE,
                    ide::CompletionKind::Output => CompletionItemKind::PROPERTY,
                }),
                detail: Some(c.detail),
                ..CompletionItem::default()
            })
            .collect();
        Some(CompletionResponse::Array(items))
    }

    fn format(&self, p: DocumentFormattingParams) -> Option<Vec<TextEdit>> {
        let doc = self.docs.get(&uri_path(&p.text_document.uri)?)?;
        let formatted = platc::fmt::format_parsed(&self.parsed(doc))?;
        if formatted == doc.text {
            return Some(Vec::new());
        }
        let (line, character) = ide::position(&doc.text, doc.text.len());
        let whole = Range::new(Position::new(0, 0), Position::new(line, character));
        Some(vec![TextEdit::new(whole, formatted)])
    }

    fn symbols(&self, p: DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
        let doc = self.docs.get(&uri_path(&p.text_document.uri)?)?;
        let file = self.parsed(doc).file?;
        let syms = ide::document_symbols(&file, &doc.text);
        Some(DocumentSymbolResponse::Nested(syms.iter().map(|s| symbol(s, &doc.text)).collect()))
    }

    // lsp-types keys a workspace edit by `Uri`, whose parsed form clippy
    // thinks mutable; it is never changed here.
    #[allow(clippy::mutable_key_type)]
    fn actions(&self, p: CodeActionParams) -> Option<Vec<CodeActionOrCommand>> {
        let (doc, root, ws, rel) = self.context(&p.text_document.uri)?;
        let compiled = ws.current()?;
        let want = (
            ide::offset(&doc.text, p.range.start.line, p.range.start.character),
            ide::offset(&doc.text, p.range.end.line, p.range.end.character),
        );
        let mut out = Vec::new();
        for d in &compiled.diagnostics {
            let Some(span) = d.primary() else { continue };
            let overlaps = span.start as usize <= want.1 && want.0 <= span.end as usize;
            if compiled.files.path(span.file) != rel || !overlaps {
                continue;
            }
            for fix in ide::fixes(d, &compiled.files) {
                let edit = TextEdit::new(range(&doc.text, fix.span), fix.text);
                let changes = HashMap::from([(p.text_document.uri.clone(), vec![edit])]);
                out.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: fix.title,
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![to_lsp(d, &Places::new(&self.docs, root), &ws.sources, &compiled.files)]),
                    edit: Some(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }),
                    is_preferred: Some(true),
                    ..CodeAction::default()
                }));
            }
        }
        Some(out)
    }
}

/// A path with its directory's symbolic links resolved, as the workspace
/// root is (the file itself may be gone).
fn real(path: &Path) -> PathBuf {
    match (path.parent().and_then(|d| fs::canonicalize(d).ok()), path.file_name()) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

/// (root, file) pairs grouped by root.
fn group(pairs: BTreeSet<(PathBuf, String)>) -> BTreeMap<PathBuf, Vec<String>> {
    let mut out: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for (root, rel) in pairs {
        out.entry(root).or_default().push(rel);
    }
    out
}

fn params<P: serde::de::DeserializeOwned>(req: &Request) -> Result<P, String> {
    serde_json::from_value(req.params.clone()).map_err(|e| format!("bad parameters for {}: {e}", req.method))
}

fn json<T: serde::Serialize>(v: T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

fn error(id: RequestId, message: String) -> Response {
    Response::new_err(id, ErrorCode::InvalidParams as i32, message)
}

fn severity(d: &platc::diag::Diagnostic) -> DiagnosticSeverity {
    if d.is_error() { DiagnosticSeverity::ERROR } else { DiagnosticSeverity::WARNING }
}

/// The message, the primary label's words and the help, as one text.
fn message(d: &platc::diag::Diagnostic) -> String {
    let mut m = d.message.clone();
    if let Some(l) = d.labels.iter().find(|l| l.primary).filter(|l| !l.message.is_empty()) {
        m.push_str(&format!(": {}", l.message));
    }
    if let Some(h) = &d.help {
        m.push_str(&format!("\nhelp: {h}"));
    }
    m
}

fn to_lsp(d: &platc::diag::Diagnostic, places: &Places, sources: &Sources, files: &SourceMap) -> lsp_types::Diagnostic {
    let at = |span: Span| text_of(sources, files, span).map(|t| range(&t, span)).unwrap_or_default();
    let related: Vec<DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .filter(|l| !l.primary)
        .filter_map(|l| {
            let file = files.path(l.span.file);
            let uri = match file.strip_prefix(STDLIB_PREFIX) {
                Some(rel) => path_uri(&stdlib_dir()?.join(rel))?,
                None => places.uri(file)?,
            };
            Some(DiagnosticRelatedInformation {
                location: Location { uri, range: at(l.span) },
                message: l.message.clone(),
            })
        })
        .collect();
    lsp_types::Diagnostic {
        range: d.primary().map(at).unwrap_or_default(),
        severity: Some(severity(d)),
        code: Some(NumberOrString::String(d.code.to_string())),
        source: Some("platc".into()),
        message: message(d),
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}

/// The text a span's offsets count in: the source as given (a compiled
/// file's text may have secrets starred out, byte for byte, which would
/// shift UTF-16 columns), else the compiled text.
fn text_of(sources: &Sources, files: &SourceMap, span: Span) -> Option<std::sync::Arc<str>> {
    let file = files.get(span.file)?;
    if let Some(rel) = file.path.strip_prefix(STDLIB_PREFIX) {
        if let Some((_, t)) = STDLIB.iter().find(|(p, _)| *p == rel) {
            return Some(std::sync::Arc::from(*t));
        }
    } else if let Some(Text::Utf8(t)) = sources.get(&file.path) {
        return Some(t.clone());
    }
    Some(file.text.clone())
}

fn range(text: &str, span: Span) -> Range {
    let (l1, c1) = ide::position(text, span.start as usize);
    let (l2, c2) = ide::position(text, span.end as usize);
    Range::new(Position::new(l1, c1), Position::new(l2, c2))
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` has to be given
fn symbol(s: &ide::Symbol, text: &str) -> DocumentSymbol {
    DocumentSymbol {
        name: if s.name.is_empty() { "(unnamed)".into() } else { s.name.clone() },
        detail: (!s.detail.is_empty()).then(|| s.detail.clone()),
        kind: match s.kind {
            ide::SymbolKind::Declaration => SymbolKind::CLASS,
            ide::SymbolKind::Environment => SymbolKind::NAMESPACE,
            ide::SymbolKind::Resource => SymbolKind::OBJECT,
            ide::SymbolKind::Api => SymbolKind::INTERFACE,
            ide::SymbolKind::Block => SymbolKind::STRUCT,
            ide::SymbolKind::Attribute => SymbolKind::FIELD,
            ide::SymbolKind::Escape => SymbolKind::EVENT,
        },
        tags: None,
        deprecated: None,
        range: range(text, s.span),
        selection_range: range(text, s.name_span),
        children: (!s.children.is_empty()).then(|| s.children.iter().map(|c| symbol(c, text)).collect()),
    }
}

/// Where the files of the workspace at `root` are: the URI of a
/// workspace-relative path is the editor's own for an open document (it may
/// have opened it through a symbolic link), else its real path. A copy of
/// what it needs of the open documents, for a publication made while the
/// server compiles.
#[derive(Clone)]
struct Places {
    root: PathBuf,
    open: BTreeMap<String, Uri>,
}

impl Places {
    fn new(docs: &BTreeMap<PathBuf, Doc>, root: &Path) -> Places {
        let mut open = BTreeMap::new();
        for d in docs.values() {
            if let Some((r, p)) = &d.place
                && r == root
            {
                open.entry(p.clone()).or_insert_with(|| d.uri.clone());
            }
        }
        Places { root: root.to_path_buf(), open }
    }

    fn uri(&self, rel: &str) -> Option<Uri> {
        self.open.get(rel).cloned().or_else(|| path_uri(&self.root.join(rel)))
    }
}

/// Publishes a compilation's diagnostics, each for its file (`fallback` when
/// it has none), and no diagnostics for the files of `published` that have
/// none now; returns the files that have some.
fn publish_all(
    send: &dyn Fn(Message),
    places: &Places,
    sources: &Sources,
    files: &SourceMap,
    diagnostics: &[platc::diag::Diagnostic],
    published: &BTreeSet<String>,
    fallback: &str,
) -> BTreeSet<String> {
    let mut by_file: BTreeMap<String, Vec<lsp_types::Diagnostic>> = BTreeMap::new();
    for d in diagnostics {
        let file = d.primary().map_or(fallback, |s| files.path(s.file)).to_string();
        by_file.entry(file).or_default().push(to_lsp(d, places, sources, files));
    }
    let publish = |uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>| {
        let params = PublishDiagnosticsParams { uri, diagnostics, version: None };
        send(Message::Notification(Notification::new(PublishDiagnostics::METHOD.into(), params)));
    };
    let now: BTreeSet<String> = by_file.keys().cloned().collect();
    for file in published.difference(&now) {
        if let Some(uri) = places.uri(file) {
            publish(uri, Vec::new());
        }
    }
    for (file, diags) in by_file {
        if let Some(uri) = places.uri(&file) {
            publish(uri, diags);
        }
    }
    now
}

/// `file:///...`, percent-encoding what a URI path may not hold.
fn path_uri(path: &Path) -> Option<Uri> {
    let mut s = String::from("file://");
    for b in path.to_str()?.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s.parse().ok()
}

/// The local path of a `file:` URI.
fn uri_path(uri: &Uri) -> Option<PathBuf> {
    let s = uri.as_str();
    let rest = s.strip_prefix("file://")?;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let Some(h) = bytes.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(h).ok()?, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    Some(PathBuf::from(String::from_utf8(out).ok()?))
}

/// The embedded standard library on disk, for definitions that point into
/// it: written once per content (the directory is named by its hash), files
/// read-only, made whole in a temporary directory and renamed into place.
fn stdlib_dir() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("platc");
    let mut h = Sha256::new();
    for (p, t) in STDLIB {
        h.update(p.as_bytes());
        h.update([0]);
        h.update(t.as_bytes());
        h.update([0]);
    }
    let dir = cache.join(format!("stdlib-{}", platc::emit::hex(&h.finalize()).get(..16)?));
    if dir.is_dir() {
        return Some(dir);
    }
    let tmp = cache.join(format!(".stdlib-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    for (p, t) in STDLIB {
        let path = tmp.join(p);
        fs::create_dir_all(path.parent()?).ok()?;
        fs::write(&path, t).ok()?;
        let mut perms = fs::metadata(&path).ok()?.permissions();
        perms.set_readonly(true);
        fs::set_permissions(&path, perms).ok()?;
    }
    if fs::rename(&tmp, &dir).is_err() {
        // Another server got there first.
        let _ = fs::remove_dir_all(&tmp);
    }
    dir.is_dir().then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_round_trip() {
        let p = Path::new("/tmp/a b/café #1/service.plat");
        let uri = path_uri(p).unwrap();
        assert_eq!(uri.as_str(), "file:///tmp/a%20b/caf%C3%A9%20%231/service.plat");
        assert_eq!(uri_path(&uri).unwrap(), p);
        let vscode: Uri = "file://localhost/tmp/x%2Dy/s.plat".parse().unwrap();
        assert_eq!(uri_path(&vscode).unwrap(), Path::new("/tmp/x-y/s.plat"));
        let other: Uri = "untitled:Untitled-1".parse().unwrap();
        assert_eq!(uri_path(&other), None);
    }
}
