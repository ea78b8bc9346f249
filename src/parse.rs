//! Stage 1, parse: source text → [`ast::File`].
//!
//! pest recognises the shape (grammar/plat.pest) in [`syntax`], once per
//! file, into the lossless tree the formatter and the editor read too; this
//! module lowers that tree into the typed AST at once.
//! Strings are decoded here by hand ([`strings`]) so that escapes and `${}`
//! get exact spans. Before pest runs, [`brackets`] checks nesting and input
//! size, which bounds recursion and gives unclosed-brace errors that point at
//! the opening brace.
//!
//! Invariant: a syntax error never mentions a grammar rule; it says what was
//! expected in plain words.

mod brackets;
mod strings;

use std::sync::Arc;

use crate::ast::*;
use crate::cache::Parsed;
use crate::diag::{Diagnostic, one_of};
use crate::span::{FileId, Span};
use crate::syntax::{self, Node, Rule, SyntaxTree};

/// Largest source file platc reads, in bytes.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting of `{`, `[` and `(`.
pub(crate) const MAX_DEPTH: usize = 48;

/// Parses one file. On a syntax error the file yields no AST and one
/// diagnostic; string-decoding errors are reported alongside a usable AST.
pub fn parse(file: FileId, text: &str) -> (Option<File>, Vec<Diagnostic>) {
    let (ast, diags, _) = parse_counting(file, text);
    (ast, diags)
}

/// [`parse`], keeping everything the parse made, for the parse memo
/// ([`crate::cache`]): the text, the syntax tree (the formatter and the
/// editor read it, and never parse again) and the AST lowered from it.
pub fn parse_shared(file: FileId, text: &Arc<str>) -> Parsed {
    let (syntax, ast, diags, _) = parse_tree(file, text.clone());
    Parsed { text: text.clone(), id: file, syntax: syntax.map(Arc::new), file: ast.map(Arc::new), diags }
}

/// [`parse`], and the work spent finding the ends of spans (for the tests
/// that it stays proportional to the input).
fn parse_counting(file: FileId, text: &str) -> (Option<File>, Vec<Diagnostic>, usize) {
    let (_, ast, diags, work) = parse_tree(file, text.into());
    (ast, diags, work)
}

/// The one parse: the tree (`None` on a syntax error), the AST lowered from
/// it, the diagnostics and the work spent finding span ends.
fn parse_tree(file: FileId, text: Arc<str>) -> (Option<SyntaxTree>, Option<File>, Vec<Diagnostic>, usize) {
    if let Some(d) = brackets::check(file, &text) {
        return (None, None, vec![d], 0);
    }
    match syntax::parse(text.clone()) {
        Ok(tree) => {
            let trivia = trivia_runs(&text);
            let work = std::cell::Cell::new(text.len());
            let mut lower = Lower { file, diags: Vec::new(), operators: 0, nesting: 0, trivia, work };
            let body = tree.root().into_inner().next().map(|b| lower.body(b)).unwrap_or_default();
            let work = lower.work.get();
            (Some(tree), Some(File { body }), lower.diags, work)
        }
        Err(e) => (None, None, vec![syntax_error(file, &text, &e)], 0),
    }
}

struct Lower {
    file: FileId,
    diags: Vec<Diagnostic>,
    /// Operators in the expression being lowered (bounded by `MAX_OPERATORS`).
    operators: usize,
    /// How deep the values being lowered nest: the blocks, maps and lists
    /// around them, and the names of the dotted paths that set them
    /// (`a.b.c = 1` nests as deep as `a { b { c = 1 } }`). Bounded by
    /// [`MAX_DEPTH`], as brackets are.
    nesting: usize,
    /// The file's runs of whitespace and comments (see [`trivia_runs`]).
    trivia: Vec<(usize, usize)>,
    /// Work spent finding span ends: the bytes [`trivia_runs`] looked at,
    /// and the steps of every look-up in its result.
    work: std::cell::Cell<usize>,
}

/// Most operators in one condition: deeper trees would recurse too deep when
/// evaluated (and no policy needs more).
pub(crate) const MAX_OPERATORS: usize = 256;

impl Lower {
    /// The span of a pair, ending at its last token: pest's own span also
    /// covers the whitespace and comments it skipped looking for more.
    fn span(&self, p: &Node<'_>) -> Span {
        let s = p.as_span();
        self.work.set(self.work.get() + self.trivia.len().max(1).ilog2() as usize + 1);
        Span::new(self.file, s.start(), tight_end(&self.trivia, s.start(), s.end()))
    }

    fn body(&mut self, p: Node<'_>) -> Body {
        let span = self.span(&p);
        let items = self.nested(1, |l| p.into_inner().filter_map(|i| l.item(i)).collect());
        Body { items, span }
    }

    /// Lowers with the nesting `more` levels deeper.
    fn nested<T>(&mut self, more: usize, f: impl FnOnce(&mut Self) -> T) -> T {
        self.nesting += more;
        let out = f(self);
        self.nesting -= more;
        out
    }

    /// The levels a path of `names` names adds below `nesting` (the first
    /// name is at that level); past [`MAX_DEPTH`] in all, one
    /// diagnostic and the number of names that fit (the path is cut there,
    /// so that no later stage builds the absurd nesting).
    fn path_fits(&mut self, nesting: usize, names: usize, span: Span, what: &str) -> usize {
        // The file's own items are at nesting 1, inside no bracket.
        let room = (MAX_DEPTH + 2).saturating_sub(nesting.max(1)).max(1);
        if names <= room {
            return names;
        }
        self.diags.push(
            Diagnostic::error(
                "platc::parse::too_deep",
                format!("this {what} has {names} names; with what encloses it, that nests deeper than {MAX_DEPTH} levels"),
            )
            .label(Span::new(span.file, span.start as usize, span.start as usize + 1), format!("{what} starts here"))
            .help(format!(
                "a dotted path nests like blocks do (`a.b = 1` is `a {{ b = 1 }}`); keep the nesting within {MAX_DEPTH} levels"
            )),
        );
        room
    }

    fn item(&mut self, p: Node<'_>) -> Option<Item> {
        Some(match p.as_rule() {
            Rule::attribute => Item::Attribute(self.attribute(p)),
            Rule::locked => Item::Locked(self.attribute(p.into_inner().nth(1)?)),
            Rule::override_ => {
                self.operators = 0;
                let span = self.span(&p);
                let mut it = p.into_inner().skip(1);
                let path = self.path(it.next()?);
                let value = self.expr(it.nth(1)?);
                let reason = self.string(it.nth(1)?);
                Item::Override(Override { path, value, reason, span })
            }
            Rule::allow => {
                let span = self.span(&p);
                let mut it = p.into_inner().skip(1);
                let policy = self.ident(it.next()?);
                let reason = self.string(it.nth(1)?);
                Item::Allow(Allow { policy, reason, span })
            }
            Rule::patch => {
                let span = self.span(&p);
                let mut it = p.into_inner().skip(1);
                let target = self.ident(it.next()?);
                let kind = self.ident(it.next()?);
                let mut reason = None;
                let mut sets = Vec::new();
                for i in it {
                    match i.as_rule() {
                        Rule::string => reason = Some(self.string(i)),
                        Rule::patch_body => sets = i.into_inner().map(|a| self.attribute(a)).collect(),
                        _ => {}
                    }
                }
                Item::Patch(Patch { target, kind, reason, sets, span })
            }
            Rule::block => Item::Block(self.block(p)?),
            _ => return None,
        })
    }

    /// Counts one operator; false (after one diagnostic) past the limit.
    fn operator(&mut self, span: Span) -> bool {
        self.operators += 1;
        if self.operators == MAX_OPERATORS + 1 {
            self.diags.push(
                Diagnostic::error(
                    "platc::parse::too_complex",
                    format!("this condition has more than {MAX_OPERATORS} operators"),
                )
                .label(Span::new(span.file, span.start as usize, span.start as usize + 1), "condition starts here")
                .help("split it into several policies, each with a simpler `require`"),
            );
        }
        self.operators <= MAX_OPERATORS
    }

    fn attribute(&mut self, p: Node<'_>) -> Attribute {
        self.operators = 0;
        let span = self.span(&p);
        let mut it = p.into_inner();
        let path = it.next().map(|x| self.path(x)).unwrap_or(Path { segments: Vec::new(), span });
        let op = match it.next().map(|o| o.as_str().to_string()) {
            Some(o) if o == "+=" => AssignOp::Append,
            _ => AssignOp::Set,
        };
        let below = path.segments.len().saturating_sub(1);
        let value = self.nested(below, |l| it.next().map(|x| l.expr(x)).unwrap_or(Expr { kind: ExprKind::Null, span }));
        Attribute { path, op, value, span }
    }

    fn block(&mut self, p: Node<'_>) -> Option<Block> {
        let span = self.span(&p);
        let mut kind = None;
        let mut labels = Vec::new();
        let mut from = None;
        let mut body = Body::default();
        for part in p.into_inner() {
            match part.as_rule() {
                Rule::ident => kind = Some(self.ident(part)),
                Rule::label => {
                    let inner = part.into_inner().next()?;
                    labels.push(match inner.as_rule() {
                        Rule::string => {
                            let s = self.string(inner);
                            Ident { name: s.as_plain().unwrap_or_default(), span: s.span }
                        }
                        _ => self.ident(inner),
                    });
                }
                Rule::from_clause => from = part.into_inner().nth(1).map(|i| self.ident(i)),
                Rule::body => body = self.body(part),
                _ => {}
            }
        }
        Some(Block { kind: kind?, labels, from, body, span })
    }

    fn ident(&self, p: Node<'_>) -> Ident {
        Ident { name: p.as_str().to_string(), span: self.span(&p) }
    }

    fn path(&mut self, p: Node<'_>) -> Path {
        let span = self.span(&p);
        let mut segments = Vec::new();
        for part in p.into_inner() {
            let pspan = self.span(&part);
            match part.as_rule() {
                Rule::segment => {
                    let Some(inner) = part.into_inner().next() else {
                        continue;
                    };
                    let key = match inner.as_rule() {
                        Rule::string => self.string(inner).as_plain().unwrap_or_default(),
                        _ => inner.as_str().to_string(),
                    };
                    segments.push(Segment::Key(key, pspan));
                }
                Rule::selector => {
                    let Some(inner) = part.into_inner().next() else {
                        continue;
                    };
                    if inner.as_rule() == Rule::int {
                        match inner.as_str().parse() {
                            Ok(i) => segments.push(Segment::Index(i, pspan)),
                            Err(_) => self.diags.push(
                                Diagnostic::error("platc::parse::syntax", "this list index is too large")
                                    .label(pspan, "index out of range"),
                            ),
                        }
                    } else {
                        let mut kv = inner.into_inner();
                        let key = kv.next().map(|k| k.as_str().to_string()).unwrap_or_default();
                        let value = match kv.next() {
                            Some(v) if v.as_rule() == Rule::string => self.string(v).as_plain().unwrap_or_default(),
                            Some(v) => v.as_str().to_string(),
                            None => String::new(),
                        };
                        segments.push(Segment::Select { key, value, span: pspan });
                    }
                }
                _ => {}
            }
        }
        let fits = self.path_fits(self.nesting, segments.len(), span, "path");
        segments.truncate(fits);
        Path { segments, span }
    }

    fn string(&mut self, p: Node<'_>) -> StrLit {
        let span = self.span(&p);
        let (parts, diags) = match p.as_rule() {
            Rule::heredoc => strings::decode_heredoc(self.file, p.as_str(), span.start as usize),
            _ => strings::decode_quoted(self.file, p.as_str(), span.start as usize),
        };
        self.diags.extend(diags);
        StrLit { parts, span }
    }

    fn exprs(&mut self, p: Node<'_>) -> Vec<Expr> {
        p.into_inner().map(|e| self.expr(e)).collect()
    }

    fn expr(&mut self, p: Node<'_>) -> Expr {
        let span = self.span(&p);
        let rule = p.as_rule();
        let kind = match rule {
            Rule::expr | Rule::paren => match p.into_inner().next() {
                Some(inner) => return self.expr(inner),
                None => ExprKind::Null,
            },
            Rule::or_expr | Rule::and_expr => {
                let op = if rule == Rule::or_expr { BinOp::Or } else { BinOp::And };
                let mut operands = p.into_inner().filter(|x| !matches!(x.as_rule(), Rule::kw_or | Rule::kw_and));
                let Some(first) = operands.next() else {
                    return Expr { kind: ExprKind::Null, span };
                };
                let mut acc = self.expr(first);
                for rhs in operands {
                    if !self.operator(span) {
                        return Expr { kind: ExprKind::Null, span };
                    }
                    let rhs = self.expr(rhs);
                    let span = acc.span.to(rhs.span);
                    acc = Expr { kind: ExprKind::Binary { op, lhs: Box::new(acc), rhs: Box::new(rhs) }, span };
                }
                return acc;
            }
            Rule::not_expr => {
                let mut it = p.into_inner();
                match it.next() {
                    Some(first) if first.as_rule() == Rule::not_op => match it.next() {
                        Some(inner) if self.operator(span) => ExprKind::Not(Box::new(self.expr(inner))),
                        _ => ExprKind::Null,
                    },
                    Some(first) => return self.expr(first),
                    None => ExprKind::Null,
                }
            }
            Rule::cmp_expr => {
                let mut it = p.into_inner();
                let Some(lhs) = it.next() else {
                    return Expr { kind: ExprKind::Null, span };
                };
                let lhs = self.expr(lhs);
                let (Some(op), Some(rhs)) = (it.next(), it.next()) else {
                    return lhs;
                };
                let op = match op.as_str() {
                    "==" => BinOp::Eq,
                    "!=" => BinOp::Ne,
                    "<=" => BinOp::Le,
                    ">=" => BinOp::Ge,
                    "<" => BinOp::Lt,
                    ">" => BinOp::Gt,
                    "in" => BinOp::In,
                    _ => BinOp::NotIn,
                };
                ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(self.expr(rhs)) }
            }
            Rule::string | Rule::heredoc => ExprKind::Str(self.string(p)),
            Rule::number => {
                let kind = number(p.as_str());
                if let ExprKind::Number { value, text } = &kind
                    && !exact(text, *value)
                {
                    self.diags.push(
                        Diagnostic::error(
                            "platc::parse::bad_number",
                            format!("`{text}` cannot be kept exactly as a number"),
                        )
                        .label(span, "more digits than a number holds")
                        .help(format!(
                            "numbers are whole numbers up to {} or decimals of about 15 digits; to keep every digit, write it as text: \"{text}\"",
                            i64::MAX
                        )),
                    );
                }
                kind
            }
            Rule::boolean => ExprKind::Bool(p.as_str().starts_with('t')),
            Rule::null => ExprKind::Null,
            Rule::list => ExprKind::List(self.nested(1, |l| l.exprs(p))),
            Rule::map => match p.into_inner().find(|x| x.as_rule() == Rule::body) {
                Some(b) => ExprKind::Map(self.body(b)),
                None => ExprKind::Map(Body { items: Vec::new(), span }),
            },
            Rule::call => {
                let mut it = p.into_inner();
                let name = match it.next() {
                    Some(n) => self.ident(n),
                    None => {
                        return Expr { kind: ExprKind::Null, span };
                    }
                };
                ExprKind::Call { name, args: it.map(|a| self.expr(a)).collect() }
            }
            Rule::tagged => {
                let mut it = p.into_inner();
                let (Some(tag), Some(map)) = (it.next(), it.next()) else {
                    return Expr { kind: ExprKind::Null, span };
                };
                let tag = self.ident(tag);
                let body = match map.into_inner().find(|x| x.as_rule() == Rule::body) {
                    Some(b) => self.body(b),
                    None => Body { items: Vec::new(), span },
                };
                ExprKind::Tagged { tag, body }
            }
            Rule::reference => {
                let mut names: Vec<Ident> = p.into_inner().map(|i| self.ident(i)).collect();
                // A reference reads a value; it nests nothing, but a name
                // deeper than anything can be set is refused the same way.
                let fits = self.path_fits(1, names.len(), span, "reference");
                names.truncate(fits);
                ExprKind::Ref(names)
            }
            _ => ExprKind::Null,
        };
        Expr { kind, span }
    }
}

/// The end of a pair's last token: its span less the whitespace and
/// comments pest consumed after it looking for more. One look-up in the
/// file's trivia runs, whatever the pair holds: walking down to the pair's
/// last token and scanning its trailing text again for every enclosing pair
/// made a chain of `not`s followed by a long comment quadratic (issue 13,
/// item 16).
fn tight_end(trivia: &[(usize, usize)], start: usize, end: usize) -> usize {
    // The last run starting before `end`.
    let i = trivia.partition_point(|(s, _)| *s < end);
    match i.checked_sub(1).and_then(|i| trivia.get(i)) {
        Some(&(s, e)) if end <= e => s.max(start),
        _ => end,
    }
}

/// The runs of whitespace and comments of a file, in order, as pest skips
/// them: everything outside string literals that is a space, tab, line
/// break or a `#` comment. Each byte is looked at once.
fn trivia_runs(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut add = |s: usize, e: usize| match runs.last_mut() {
        Some(last) if last.1 == s => last.1 = e,
        _ => runs.push((s, e)),
    };
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                add(i, i + 1);
                i += 1;
            }
            b'#' => {
                let start = i;
                while bytes.get(i).is_some_and(|c| *c != b'\n') {
                    i += 1;
                }
                add(start, i);
            }
            b'"' if bytes.get(i..i + 3) == Some(b"\"\"\"") => {
                let body = bytes.get(i + 3..).unwrap_or_default();
                i = body.windows(3).position(|w| w == b"\"\"\"").map_or(bytes.len(), |p| i + 3 + p + 3);
            }
            b'"' => {
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    match c {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\n' => break,
                        _ => i += 1,
                    }
                }
            }
            _ => i += 1,
        }
    }
    runs
}

/// Whether the number written `text` is `value` exactly: a whole number
/// that fits in an i64 (it is kept as one), or a decimal whose digits, less
/// leading and trailing zeros, are those of the f64 (`1.50` is 1.5, `007` is
/// 7; `0.1000000000000000000001` and `1e400`-sized integers are not).
fn exact(text: &str, value: f64) -> bool {
    if text.parse::<i64>().is_ok() {
        return true;
    }
    let (sign, digits) = text.strip_prefix('-').map_or(("", text), |d| ("-", d));
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let written = if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") };
    let written = if written == "-0" { "0".to_string() } else { written };
    let shown = format!("{value}");
    let shown = if shown == "-0" { "0".to_string() } else { shown };
    value.is_finite() && written == shown
}

/// `2.5` → a number; `500m`, `512Mi`, `99.9%` → a quantity.
fn number(text: &str) -> ExprKind {
    let split = text
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || *c == '.' || (*i == 0 && *c == '-')))
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let value = num.parse::<f64>().unwrap_or(0.0);
    if unit.is_empty() {
        ExprKind::Number { value, text: num.to_string() }
    } else {
        ExprKind::Quantity { value, number: num.to_string(), unit: unit.to_string() }
    }
}

/// Turns pest's error into plain words: what was expected, what was found.
fn syntax_error(file: FileId, text: &str, e: &pest::error::Error<Rule>) -> Diagnostic {
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let rest = text.get(pos..).unwrap_or("");
    let found = describe_found(rest);
    if rest.starts_with('"') && !rest.starts_with("\"\"\"") {
        return Diagnostic::error("platc::parse::unterminated_string", "this string is not closed on its line")
            .label(Span::new(file, pos, pos + 1), "string starts here")
            .help("close it with `\"`; for text over several lines use `\"\"\"` ... `\"\"\"`");
    }
    let expected: Vec<String> = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut words: Vec<&'static str> = positives.iter().map(|r| rule_words(*r)).collect();
            words.sort_unstable();
            words.dedup();
            words.into_iter().map(String::from).collect()
        }
        pest::error::ErrorVariant::CustomError { .. } => {
            // pest's guard against recursion too deep for its stack.
            return Diagnostic::error("platc::parse::too_deep", "this expression nests too deeply to read")
                .label(Span::new(file, pos, pos + 1), "too deep here")
                .help("write it with fewer nested `not` and parentheses");
        }
    };
    let width = rest.chars().next().map(char::len_utf8).unwrap_or(0);
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", one_of(&expected))
    };
    Diagnostic::error("platc::parse::syntax", message)
        .label(Span::new(file, pos, pos + width), format!("unexpected {found}"))
        .help(syntax_help(rest, &expected))
}

fn syntax_help(rest: &str, expected: &[String]) -> String {
    if rest.starts_with(':') {
        return "attributes are set with `=`, as in `port = 8080`".into();
    }
    if expected.iter().any(|e| e == "`because`") {
        return "every escape hatch says why: `... because \"reason\"`".into();
    }
    if expected.iter().any(|e| e == "a value") {
        return "a value is a string (\"...\"), a number, a quantity (512Mi), true/false, a name, a list [...] or a map { ... }".into();
    }
    "a file holds attributes (`name = value`) and blocks (`kind label { ... }`)".into()
}

fn describe_found(rest: &str) -> String {
    let Some(c) = rest.chars().next() else {
        return "the end of the file".into();
    };
    if c == '\n' || c == '\r' {
        return "the end of the line".into();
    }
    if c.is_alphanumeric() || c == '_' {
        let word: String =
            rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-').take(40).collect();
        return format!("`{word}`");
    }
    if c.is_control() {
        return format!("the control character U+{:04X}", u32::from(c));
    }
    format!("`{c}`")
}

/// Plain words for each grammar rule; never shown as the rule's name.
fn rule_words(r: Rule) -> &'static str {
    match r {
        Rule::EOI => "the end of the file",
        Rule::ident | Rule::label => "a name",
        Rule::path | Rule::segment => "an attribute name",
        Rule::assign_op | Rule::eq => "`=`",
        Rule::lbrace | Rule::map => "`{`",
        Rule::rbrace => "`}`",
        Rule::kw_because => "`because`",
        Rule::kw_from | Rule::from_clause => "`from`",
        Rule::string | Rule::heredoc => "a string",
        Rule::number | Rule::int => "a number",
        Rule::selector | Rule::select => "a list index or `key=value`",
        Rule::cmp_op | Rule::not_in | Rule::kw_in => "an operator",
        Rule::kw_and | Rule::kw_or => "`and` or `or`",
        Rule::body
        | Rule::file
        | Rule::attribute
        | Rule::block
        | Rule::locked
        | Rule::override_
        | Rule::allow
        | Rule::patch
        | Rule::patch_body
        | Rule::kw_locked
        | Rule::kw_override
        | Rule::kw_allow
        | Rule::kw_patch => "an attribute or a block",
        _ => "a value",
    }
}

#[cfg(test)]
mod tests;
