//! Decoding of string literals: escapes (`\" \\ \n \t \r \u{...}`),
//! `${path}` interpolation and `$${` for a literal `${`. Multi-line strings
//! (`"""` ... `"""`) drop the newline after the opening quotes and the
//! indentation common to their lines, and keep no trailing newline unless the
//! text ends with an empty line.

use crate::ast::StrPart;
use crate::diag::Diagnostic;
use crate::span::{FileId, Span};

/// Decodes `"..."`; `raw` includes the quotes, `base` is its byte offset.
pub fn decode_quoted(file: FileId, raw: &str, base: usize) -> (Vec<StrPart>, Vec<Diagnostic>) {
    let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or("");
    let mut d = Decoder { file, parts: Vec::new(), diags: Vec::new() };
    d.decode(inner, base + 1);
    (d.parts, d.diags)
}

/// Decodes `"""..."""`.
pub fn decode_heredoc(file: FileId, raw: &str, base: usize) -> (Vec<StrPart>, Vec<Diagnostic>) {
    let inner = raw.get(3..raw.len().saturating_sub(3)).unwrap_or("");
    let mut start = base + 3;
    let mut body = inner;
    if let Some(rest) = body.strip_prefix("\r\n").or_else(|| body.strip_prefix('\n')) {
        start += body.len() - rest.len();
        body = rest;
    }
    // Lines with their offsets; a last line of only spaces is the closing
    // delimiter's indentation and not part of the text.
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut off = start;
    for line in body.split('\n') {
        lines.push((off, line));
        off += line.len() + 1;
    }
    if lines.len() > 1 && lines.last().is_some_and(|(_, l)| l.trim().is_empty()) {
        lines.pop();
    }
    let indent = lines
        .iter()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(_, l)| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    let mut d = Decoder { file, parts: Vec::new(), diags: Vec::new() };
    let count = lines.len();
    for (n, (off, line)) in lines.into_iter().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let cut = indent.min(line.len());
        let text = line.get(cut..).unwrap_or("");
        d.decode(text, off + cut);
        if n + 1 < count {
            d.lit("\n");
        }
    }
    (d.parts, d.diags)
}

struct Decoder {
    file: FileId,
    parts: Vec<StrPart>,
    diags: Vec<Diagnostic>,
}

impl Decoder {
    fn lit(&mut self, s: &str) {
        if let Some(StrPart::Lit(last)) = self.parts.last_mut() {
            last.push_str(s);
        } else {
            self.parts.push(StrPart::Lit(s.to_string()));
        }
    }

    fn decode(&mut self, text: &str, base: usize) {
        let mut rest = text;
        let mut pos = base;
        while !rest.is_empty() {
            let next = rest.find(['\\', '$']).unwrap_or(rest.len());
            if next > 0 {
                let (lit, tail) = rest.split_at(next);
                self.lit(lit);
                pos += next;
                rest = tail;
                continue;
            }
            let consumed = if rest.starts_with("$${") {
                self.lit("${");
                3
            } else if rest.starts_with("${") {
                self.interpolation(rest, pos)
            } else if rest.starts_with('$') {
                self.lit("$");
                1
            } else {
                self.escape(rest, pos)
            };
            pos += consumed;
            rest = rest.get(consumed..).unwrap_or("");
        }
    }

    /// `${a.b}` at the start of `rest`; returns the bytes consumed.
    fn interpolation(&mut self, rest: &str, pos: usize) -> usize {
        let Some(close) = rest.find('}') else {
            self.diags.push(
                Diagnostic::error("platc::parse::bad_interpolation", "`${` is never closed in this string")
                    .label(Span::new(self.file, pos, pos + 2), "opened here")
                    .help("write `${name}`, or `$${` for a literal `${`"),
            );
            return rest.len();
        };
        let inner = rest.get(2..close).unwrap_or("");
        let trimmed = inner.trim();
        let lead = inner.len() - inner.trim_start().len();
        let parts: Vec<String> = trimmed.split('.').map(str::to_string).collect();
        let ok = !trimmed.is_empty()
            && parts.iter().all(|p| {
                let mut cs = p.chars();
                cs.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        let span = Span::new(self.file, pos + 2 + lead, pos + 2 + lead + trimmed.len());
        if ok && parts.len() > super::MAX_DEPTH + 1 {
            self.diags.push(
                Diagnostic::error(
                    "platc::parse::too_deep",
                    format!(
                        "`${{...}}` names a value {} levels deep; values nest at most {} levels",
                        parts.len(),
                        super::MAX_DEPTH
                    ),
                )
                .label(Span::new(self.file, pos, pos + 2), "interpolation starts here")
                .help("interpolate a value at most as deep as a value can be set"),
            );
        } else if ok {
            self.parts.push(StrPart::Interp(parts, span));
        } else {
            self.diags.push(
                Diagnostic::error("platc::parse::bad_interpolation", format!("`${{{inner}}}` does not name a value"))
                    .label(Span::new(self.file, pos, pos + close + 1), "not a reference")
                    .help("interpolate a dotted name such as `${service.name}`; write `$${` for a literal `${`"),
            );
        }
        close + 1
    }

    /// `\x` at the start of `rest`; returns the bytes consumed.
    fn escape(&mut self, rest: &str, pos: usize) -> usize {
        let mut chars = rest.chars();
        chars.next();
        let Some(c) = chars.next() else {
            self.lit("\\");
            return 1;
        };
        let simple = match c {
            '"' => Some('"'),
            '\\' => Some('\\'),
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            '$' => Some('$'),
            _ => None,
        };
        if let Some(s) = simple {
            self.lit(s.encode_utf8(&mut [0; 4]));
            return 2;
        }
        if c == 'u'
            && rest.get(2..3) == Some("{")
            && let Some(close) = rest.find('}')
        {
            let hex = rest.get(3..close).unwrap_or("");
            if let Some(ch) = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
                self.lit(ch.encode_utf8(&mut [0; 4]));
                return close + 1;
            }
            self.diags.push(
                Diagnostic::error("platc::parse::bad_escape", format!("`\\u{{{hex}}}` is not a Unicode character"))
                    .label(Span::new(self.file, pos, pos + close + 1), "invalid code point")
                    .help("write the code point in hexadecimal, as in `\\u{e9}`"),
            );
            return close + 1;
        }
        let width = 1 + c.len_utf8();
        self.diags.push(
            Diagnostic::error("platc::parse::bad_escape", format!("unknown escape `\\{c}`"))
                .label(Span::new(self.file, pos, pos + width), "unknown escape")
                .help("the escapes are \\\" \\\\ \\n \\t \\r \\$ and \\u{...}; write `\\\\` for a backslash"),
        );
        width
    }
}
