//! Canonical formatting of `.plat` files (`platc fmt`).
//!
//! The formatter lays out pest's parse tree of the language's own grammar
//! (`tree`) as lines (`layout`, with `inline` for what stays on one
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
//! and must give the same syntax tree (spans aside, `same`) and the same
//! comments in the same order; otherwise the original text is returned.
//! Idempotence is tested over every `.plat` file of the repository.

mod inline;
mod layout;
mod lines;
mod same;
mod tree;

use crate::ast;
use crate::diag::Diagnostic;
use crate::span::FileId;

/// Formats one .plat file. Err carries the parse diagnostics when the file
/// does not parse (a file that does not parse is never rewritten).
pub fn format_file(file: FileId, text: &str) -> Result<String, Vec<Diagnostic>> {
    let ast = parse(file, text)?;
    // `None` is never expected (the tests check it); it would mean the layout
    // lost a comment or changed the meaning, and then the file stays as it is.
    Ok(format_checked(file, text, &ast).unwrap_or_else(|| text.to_string()))
}

/// The syntax tree of a file without errors.
fn parse(file: FileId, text: &str) -> Result<ast::File, Vec<Diagnostic>> {
    match crate::parse::parse(file, text) {
        (Some(ast), diags) if !diags.iter().any(Diagnostic::is_error) => Ok(ast),
        (_, diags) => Err(diags),
    }
}

/// The formatted text, if it provably means what `text` means.
fn format_checked(file: FileId, text: &str, ast: &ast::File) -> Option<String> {
    let root = tree::parse_file(text)?;
    let src = tree::Source::new(text, &root);
    let out = lines::render(&layout::print(&src, &root)?);
    if out == text {
        return Some(out);
    }
    let (again, diags) = crate::parse::parse(file, &out);
    if diags.iter().any(Diagnostic::is_error) || !same::file(ast, &again?) {
        return None;
    }
    let root_again = tree::parse_file(&out)?;
    if tree::comments(text, &root) != tree::comments(&out, &root_again) {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
