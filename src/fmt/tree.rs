//! The formatter's view of a file: pest's parse tree of the very grammar the
//! compiler uses (so both always agree on what parses), the leaf tokens in
//! source order, and the trivia (blank lines, comments, commas) in the gaps
//! between them.
//!
//! pest keeps `WHITESPACE` and `COMMENT` silent, and a rule that ends with an
//! optional part may include trailing trivia in its span, so the formatter
//! never trusts a composite pair's end: [`tight_end`] finds where its last
//! token ends. Between two leaf tokens there is only whitespace, comments and
//! the grammar's literal punctuation (`, [ ] ( )`), none of which contains `#`
//! or `"`; that is what makes [`Source::trivia`] exact.

use pest::Parser;
use pest::iterators::Pair;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/plat.pest"]
pub(super) struct Grammar;

/// Parses `text` with the language's grammar; `None` if it does not parse.
pub(super) fn parse_file(text: &str) -> Option<Pair<'_, Rule>> {
    Grammar::parse(Rule::file, text).ok()?.next()
}

/// Rules whose pairs the formatter copies as written (modulo `not in`).
pub(super) fn is_leaf(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::ident
            | Rule::string
            | Rule::heredoc
            | Rule::number
            | Rule::path
            | Rule::reference
            | Rule::boolean
            | Rule::null
            | Rule::cmp_op
            | Rule::not_op
            | Rule::assign_op
            | Rule::eq
            | Rule::lbrace
            | Rule::rbrace
            | Rule::kw_locked
            | Rule::kw_override
            | Rule::kw_because
            | Rule::kw_allow
            | Rule::kw_patch
            | Rule::kw_from
            | Rule::kw_and
            | Rule::kw_or
            | Rule::kw_not
            | Rule::kw_in
            | Rule::kw_true
            | Rule::kw_false
            | Rule::kw_null
    )
}

/// Where a leaf token ends. `=` and `+=` are rules with a look-ahead after
/// the operator (`"=" ~ !"="`), so pest's span of them runs on over any
/// whitespace and comments that follow.
pub(super) fn token_end(p: &Pair<'_, Rule>) -> usize {
    let span = p.as_span();
    match p.as_rule() {
        Rule::assign_op if span.as_str().starts_with("+=") => span.start() + 2,
        Rule::assign_op | Rule::eq => span.start() + 1,
        _ => span.end(),
    }
}

/// Where the last token of a pair ends (its span may run on over trivia).
pub(super) fn tight_end(pair: &Pair<'_, Rule>) -> usize {
    let mut p = pair.clone();
    loop {
        let rule = p.as_rule();
        if is_leaf(rule) {
            return token_end(&p);
        }
        // These end with a literal bracket, which pest never runs past.
        if matches!(rule, Rule::list | Rule::call | Rule::paren) {
            return p.as_span().end();
        }
        match p.clone().into_inner().last() {
            Some(last) => p = last,
            None => return p.as_span().end(),
        }
    }
}

/// One thing found in a gap between tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Triv {
    Newline,
    /// `#` up to (not including) the end of its line.
    Comment {
        start: usize,
        end: usize,
    },
    /// Grammar punctuation: `,` `[` `]` `(` `)`.
    Punct(char, usize),
}

/// The text of a file and what the formatter needs to know about positions.
pub(super) struct Source<'a> {
    pub text: &'a str,
    /// Byte offsets where lines start.
    line_starts: Vec<usize>,
    /// Spans of the `"""` strings, in order.
    heredocs: Vec<(usize, usize)>,
}

impl<'a> Source<'a> {
    pub fn new(text: &'a str, file: &Pair<'a, Rule>) -> Source<'a> {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        let heredocs = leaves(file)
            .into_iter()
            .filter(|p| p.as_rule() == Rule::heredoc)
            .map(|p| (p.as_span().start(), p.as_span().end()))
            .collect();
        Source { text, line_starts, heredocs }
    }

    pub fn slice(&self, from: usize, to: usize) -> &'a str {
        self.text.get(from..to).unwrap_or("")
    }

    /// The trivia between two token positions.
    pub fn trivia(&self, from: usize, to: usize) -> Vec<Triv> {
        scan(self.text, from, to)
    }

    /// Whether a comment lies between two positions.
    pub fn has_comment(&self, from: usize, to: usize) -> bool {
        self.trivia(from, to).iter().any(|t| matches!(t, Triv::Comment { .. }))
    }

    pub fn has_newline(&self, from: usize, to: usize) -> bool {
        self.slice(from, to).contains('\n')
    }

    /// Column (in characters, from 0) of a byte offset in its line.
    pub fn column(&self, pos: usize) -> usize {
        let line = self.line_starts.partition_point(|&s| s <= pos).saturating_sub(1);
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        self.slice(start, pos).chars().count()
    }

    /// Whitespace characters right before `pos` on its line.
    pub fn gap_before(&self, pos: usize) -> usize {
        let line = self.line_starts.partition_point(|&s| s <= pos).saturating_sub(1);
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        self.slice(start, pos).chars().rev().take_while(|c| is_blank(*c)).count()
    }

    /// Whether byte `pos` lies strictly inside a `"""` string.
    pub fn in_heredoc(&self, pos: usize) -> bool {
        let i = self.heredocs.partition_point(|&(s, _)| s < pos);
        i.checked_sub(1).and_then(|i| self.heredocs.get(i)).is_some_and(|&(s, e)| s < pos && pos < e)
    }
}

/// Whitespace as the grammar sees it (the newline aside).
pub(super) fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\u{FEFF}')
}

fn scan(text: &str, from: usize, to: usize) -> Vec<Triv> {
    let mut out = Vec::new();
    let Some(gap) = text.get(from..to) else {
        return out;
    };
    let mut chars = gap.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\n' => out.push(Triv::Newline),
            '#' => {
                let mut end = gap.len();
                while let Some(&(j, d)) = chars.peek() {
                    if d == '\n' {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                out.push(Triv::Comment { start: from + i, end: from + end });
            }
            c if is_blank(c) => {}
            c => out.push(Triv::Punct(c, from + i)),
        }
    }
    out
}

/// The leaf pairs of a tree, in source order.
pub(super) fn leaves<'a>(root: &Pair<'a, Rule>) -> Vec<Pair<'a, Rule>> {
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(p) = stack.pop() {
        if is_leaf(p.as_rule()) {
            out.push(p);
        } else {
            let mut kids: Vec<_> = p.into_inner().collect();
            kids.reverse();
            stack.extend(kids);
        }
    }
    out
}

/// Every comment of a parsed file, trailing whitespace dropped, in order.
pub(super) fn comments(text: &str, root: &Pair<'_, Rule>) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut gaps = Vec::new();
    for leaf in leaves(root) {
        gaps.push((at, leaf.as_span().start()));
        at = token_end(&leaf);
    }
    gaps.push((at, text.len()));
    for (from, to) in gaps {
        for t in scan(text, from, to) {
            if let Triv::Comment { start, end } = t {
                out.push(comment_text(text, start, end));
            }
        }
    }
    out
}

/// A comment as the formatter writes it: no trailing whitespace.
pub(super) fn comment_text(text: &str, start: usize, end: usize) -> String {
    text.get(start..end).unwrap_or("").trim_end().to_string()
}
