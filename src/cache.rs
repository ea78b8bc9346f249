//! What one compilation keeps for the next (`platc watch`, and
//! [`compile_reusing`](crate::compile_reusing)): each parsed file, and each
//! service's diagnostics. A later compilation reuses a file's syntax tree
//! when its text and its place in the source map are the same, and a
//! service's resolution and check when neither its file nor anything global
//! (the workspace file, the standard library) changed. Reuse never changes
//! the result: a compilation with a cache gives the same bytes as one
//! without.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::ast;
use crate::diag::Diagnostic;
use crate::span::FileId;

/// A parsed file: its text, where it sat in the source map, its tree.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub text: Arc<str>,
    pub id: FileId,
    /// Shared: a compilation reads it, the next one may reuse it.
    pub file: Option<Arc<ast::File>>,
    pub diags: Vec<Diagnostic>,
}

/// The diagnostics one service produced.
#[derive(Debug, Clone, Default)]
pub struct ServiceDiags {
    pub resolve: Vec<Diagnostic>,
    pub check: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Default)]
pub struct Cache {
    /// By workspace-relative path (or `<stdlib>/...`).
    pub parsed: BTreeMap<String, Parsed>,
    /// By service name.
    pub services: BTreeMap<String, ServiceDiags>,
    /// The texts of everything every service depends on: the workspace file
    /// and the standard library files, with their paths.
    pub global: Vec<(String, Arc<str>)>,
    /// The compiled templates, for the targets they were compiled for.
    pub renderer: Option<(Vec<crate::Target>, Arc<crate::emit::render::Renderer>)>,
}

impl Cache {
    /// The tree of `path` if it was parsed from the same text at the same place.
    pub fn reuse(&self, path: &str, id: FileId, text: &Arc<str>) -> Option<&Parsed> {
        self.parsed.get(path).filter(|p| p.id == id && (Arc::ptr_eq(&p.text, text) || p.text == *text))
    }
}
