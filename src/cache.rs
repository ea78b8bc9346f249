//! The parse query's part of the memo store ([`crate::memo`]): each parsed
//! file (its syntax tree and AST) by path, reused when its text and its place
//! in the source map are the same; and the texts of the globals (the workspace file and the
//! standard library's files, with their paths), which every other query's
//! key holds.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::ast;
use crate::diag::Diagnostic;
use crate::span::FileId;
use crate::syntax::SyntaxTree;

/// A parsed file: its text, where it sat in the source map, its syntax tree
/// and the AST lowered from it (both `None` on a syntax error).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub text: Arc<str>,
    pub id: FileId,
    /// The lossless tree ([`crate::syntax`]): what the formatter formats and
    /// the editor reads, without parsing again.
    pub syntax: Option<Arc<SyntaxTree>>,
    /// Shared: a compilation reads it, the next one may reuse it.
    pub file: Option<Arc<ast::File>>,
    pub diags: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Default)]
pub struct Cache {
    /// By workspace-relative path (or `<stdlib>/...`).
    pub parsed: BTreeMap<String, Parsed>,
    /// The texts of everything every service depends on: the workspace file
    /// and the standard library files, with their paths.
    pub global: Vec<(String, Arc<str>)>,
}

impl Cache {
    /// The tree of `path` if it was parsed from the same text at the same place.
    pub fn reuse(&self, path: &str, id: FileId, text: &Arc<str>) -> Option<&Parsed> {
        self.parsed.get(path).filter(|p| p.id == id && (Arc::ptr_eq(&p.text, text) || p.text == *text))
    }
}
