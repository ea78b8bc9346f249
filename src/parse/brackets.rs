//! A lexical pre-pass over a file before pest sees it: size and encoding
//! limits, and bracket matching. It bounds the parser's recursion (nesting
//! deeper than [`MAX_DEPTH`] is refused here) and reports an unclosed `{` at
//! the brace that opened it rather than at the end of the file.

use super::{MAX_DEPTH, MAX_FILE_BYTES};

/// Most logical operators in one file: reading more costs time for nothing
/// (one condition may hold at most `MAX_OPERATORS`).
const MAX_FILE_OPERATORS: usize = 20_000;
use crate::diag::Diagnostic;
use crate::span::{FileId, Span};

/// The first structural problem of the text, if any.
pub fn check(file: FileId, text: &str) -> Option<Diagnostic> {
    if text.len() > MAX_FILE_BYTES {
        return Some(
            Diagnostic::error(
                "platc::parse::too_large",
                format!("this file is {} bytes; platc reads files up to {} bytes", text.len(), MAX_FILE_BYTES),
            )
            .label(Span::new(file, 0, 0), "file starts here")
            .help("split the definitions over several files"),
        );
    }
    if let Some(pos) = text.find('\0') {
        return Some(
            Diagnostic::error("platc::parse::nul_byte", "this file contains a NUL byte")
                .label(Span::new(file, pos, pos + 1), "NUL byte")
                .help("plat files are UTF-8 text; remove the NUL byte (is this a binary file?)"),
        );
    }
    let bytes = text.as_bytes();
    let mut stack: Vec<(u8, usize)> = Vec::new();
    let mut operators = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'#' => i = skip_line(bytes, i),
            b'"' if bytes.get(i..i + 3) == Some(b"\"\"\"") => match find(bytes, i + 3, b"\"\"\"") {
                Some(end) => i = end + 3,
                None => {
                    return Some(
                        Diagnostic::error(
                            "platc::parse::unterminated_string",
                            "this multi-line string is never closed",
                        )
                        .label(Span::new(file, i, i + 3), "opened here")
                        .help("close it with `\"\"\"`"),
                    );
                }
            },
            b'"' => i = skip_string(bytes, i),
            b'{' | b'[' | b'(' => {
                stack.push((b, i));
                if stack.len() > MAX_DEPTH {
                    return Some(
                        Diagnostic::error("platc::parse::too_deep", format!("nesting deeper than {MAX_DEPTH} levels"))
                            .label(Span::new(file, i, i + 1), "too deep here")
                            .help("flatten the structure; no platform definition needs this much nesting"),
                    );
                }
                i += 1;
            }
            b'}' | b']' | b')' => {
                let want = match b {
                    b'}' => b'{',
                    b']' => b'[',
                    _ => b'(',
                };
                match stack.pop() {
                    Some((open, _)) if open == want => {}
                    Some((open, at)) => {
                        return Some(
                            Diagnostic::error(
                                "platc::parse::unbalanced",
                                format!("`{}` closes a `{}`", b as char, open as char),
                            )
                            .label(Span::new(file, i, i + 1), "this closes the wrong bracket")
                            .also(Span::new(file, at, at + 1), "the bracket still open")
                            .help(format!(
                                "close the `{}` with `{}` first",
                                open as char,
                                closer(open) as char
                            )),
                        );
                    }
                    None => {
                        return Some(
                            Diagnostic::error("platc::parse::unbalanced", format!("unexpected `{}`", b as char))
                                .label(Span::new(file, i, i + 1), "nothing is open here")
                                .help("remove it, or open the block it was meant to close"),
                        );
                    }
                }
                i += 1;
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                // A whole word: count the logical operators.
                let start = i;
                while bytes.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-') {
                    i += 1;
                }
                if matches!(bytes.get(start..i), Some(b"and" | b"or" | b"not")) {
                    operators += 1;
                    if operators > MAX_FILE_OPERATORS {
                        return Some(
                            Diagnostic::error(
                                "platc::parse::too_complex",
                                format!("this file has more than {MAX_FILE_OPERATORS} `and`, `or` and `not`"),
                            )
                            .label(Span::new(file, start, i), "one too many")
                            .help("no platform definition needs this many conditions; split the policies"),
                        );
                    }
                }
            }
            _ => i += 1,
        }
    }
    stack.pop().map(|(open, at)| {
        Diagnostic::error("platc::parse::unbalanced", format!("this `{}` is never closed", open as char))
            .label(Span::new(file, at, at + 1), "opened here")
            .help(format!("add a `{}` where it should end", closer(open) as char))
    })
}

fn closer(open: u8) -> u8 {
    match open {
        b'{' => b'}',
        b'[' => b']',
        _ => b')',
    }
}

fn skip_line(bytes: &[u8], mut i: usize) -> usize {
    while let Some(&b) = bytes.get(i) {
        if b == b'\n' {
            break;
        }
        i += 1;
    }
    i
}

/// Past the closing quote, or at the end of the line for an unclosed string
/// (pest reports that one).
fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    i += 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' => return i,
            _ => i += 1,
        }
    }
    i
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}
