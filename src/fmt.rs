//! Canonical formatting of `.plat` files (`platc fmt`).
//!
//! The formatter lays out the compiler's own syntax tree ([`crate::syntax`],
//! seen through `tree`; the one parse serves both) as lines (`layout`, with `inline` for what stays on one
//! line), then aligns columns across lines (`lines`). The rules, in short:
//!
//! - two spaces per block level; one item per line in a multi-line body;
//!   a body written on one line stays on one line while it fits 100 columns
//!   (items separated by two spaces, or `, ` when the author used commas);
//! - `=` / `+=` of consecutive single-line attributes aligned (a blank line,
//!   a comment line, a block or a multi-line value ends the run); exactly one
//!   space around operators otherwise; `[a, b]`, `f(a, b)`, `{ k = v }`;
//!   lists and calls written over several lines get one element per line,
//!   each followed by `,`; a condition written over several lines keeps its
//!   breaks before `and` / `or` (one level deeper), other breaks inside an
//!   expression are dropped;
//! - every comment stays where it was, trailing or on its own line; blank
//!   lines between items stay (runs collapse to one; none right after `{`,
//!   before `}`, or at either end of the file); the author's alignment of
//!   trailing comments and of one-line blocks (`{` and the items of a table
//!   of one-line blocks) is kept, never created; a comment where the layout
//!   has no place for it (between a block's name and its label, between `=`
//!   and the value) keeps its whole item as written, only re-indented;
//! - strings are copied byte for byte (a `"""` string loses only CRs before
//!   its line ends); no trailing whitespace, LF line ends, no byte-order
//!   mark, one newline at the end.
//!
//! Meaning is guaranteed, not hoped for: the formatted text is parsed again
//! (once, as the compiler parses it) and must give the same AST (spans
//! aside, `same`) and the same comments in the same order; otherwise the
//! original text is returned.
//! Idempotence is tested over every `.plat` file of the repository.

mod inline;
mod layout;
mod lines;
mod same;
mod tree;

use std::sync::Arc;

use crate::ast;
use crate::cache;
use crate::diag::Diagnostic;
use crate::span::FileId;
use crate::syntax::SyntaxTree;

/// Formats one .plat file. Err carries the parse diagnostics when the file
/// does not parse (a file that does not parse is never rewritten).
pub fn format_file(file: FileId, text: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = parse(file, text)?;
    // `None` is never expected (the tests check it); it would mean the layout
    // lost a comment or changed the meaning, and then the file stays as it is.
    Ok(format_checked(file, text, &parsed).unwrap_or_else(|| text.to_string()))
}

/// Formats a file the compiler already parsed (an entry of the parse memo):
/// its input is not parsed again. `None` when it does not parse or has
/// errors, as [`format_file`]'s `Err`.
pub fn format_parsed(parsed: &cache::Parsed) -> Option<String> {
    if parsed.diags.iter().any(Diagnostic::is_error) {
        return None;
    }
    let good = Good { tree: parsed.syntax.clone()?, ast: parsed.file.clone()? };
    Some(format_checked(parsed.id, &parsed.text, &good).unwrap_or_else(|| parsed.text.to_string()))
}

/// A file without errors, as the compiler parsed it: the tree the layout
/// reads and the AST the meaning check compares.
struct Good {
    tree: Arc<SyntaxTree>,
    ast: Arc<ast::File>,
}

/// The one parse of a file without errors.
fn parse(file: FileId, text: &str) -> Result<Good, Vec<Diagnostic>> {
    let parsed = crate::parse::parse_shared(file, &Arc::from(text));
    match (parsed.syntax, parsed.file) {
        (Some(tree), Some(ast)) if !parsed.diags.iter().any(Diagnostic::is_error) => Ok(Good { tree, ast }),
        _ => Err(parsed.diags),
    }
}

/// The formatted text, if it provably means what `text` (the text of
/// `parsed`) means.
fn format_checked(file: FileId, text: &str, parsed: &Good) -> Option<String> {
    let src = tree::Source::new(&parsed.tree);
    let out = lines::render(&layout::print(&src, &parsed.tree.root())?);
    if out == text {
        return Some(out);
    }
    let again = parse(file, &out).ok()?;
    if !same::file(&parsed.ast, &again.ast) {
        return None;
    }
    if tree::comments(text, &parsed.tree) != tree::comments(&out, &again.tree) {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
