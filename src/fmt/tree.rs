//! The formatter's view of a file: the compiler's own syntax tree
//! ([`crate::syntax`]: one parse serves both, so they always agree on what
//! parses and the formatter does not parse again), the leaf tokens in source
//! order, and the trivia (blank lines, comments, commas) in the gaps between
//! them.
//!
//! pest keeps `WHITESPACE` and `COMMENT` silent, and a rule that ends with an
//! optional part may include trailing trivia in its span, so the formatter
//! never trusts a composite node's end: [`tight_end`] finds where its last
//! token ends. Between two leaf tokens there is only whitespace, comments and
//! the grammar's literal punctuation (`, [ ] ( )`), none of which contains `#`
//! or `"`; that is what makes [`Source::trivia`] exact.

use crate::syntax::{SyntaxTree, TokenKind, gap};

#[cfg(test)]
pub(super) use crate::syntax::token_end;
pub(super) use crate::syntax::{Rule, is_blank, tight_end};

/// Parses `text` with the language's grammar; `None` if it does not parse.
#[cfg(test)]
pub(super) fn parse_file(text: &str) -> Option<SyntaxTree> {
    crate::syntax::parse(text.into()).ok()
}

/// The leaf tokens of a tree, in source order.
#[cfg(test)]
pub(super) fn leaves(tree: &SyntaxTree) -> Vec<crate::syntax::Node<'_>> {
    tree.leaves()
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
    pub fn new(tree: &'a SyntaxTree) -> Source<'a> {
        let text = tree.text();
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        let heredocs = tree
            .leaves()
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

/// The trivia of the text between two leaves (blanks dropped).
fn scan(text: &str, from: usize, to: usize) -> Vec<Triv> {
    gap(text, from, to)
        .into_iter()
        .filter_map(|t| match t.kind {
            TokenKind::Newline => Some(Triv::Newline),
            TokenKind::Comment => Some(Triv::Comment { start: t.start, end: t.end }),
            TokenKind::Punct | TokenKind::Other => t.text.chars().next().map(|c| Triv::Punct(c, t.start)),
            TokenKind::Whitespace | TokenKind::Leaf(_) => None,
        })
        .collect()
}

/// Every comment of a parsed file, trailing whitespace dropped, in order.
pub(super) fn comments(text: &str, tree: &SyntaxTree) -> Vec<String> {
    tree.tokens()
        .into_iter()
        .filter(|t| t.kind == TokenKind::Comment)
        .map(|t| comment_text(text, t.start, t.end))
        .collect()
}

/// A comment as the formatter writes it: no trailing whitespace.
pub(super) fn comment_text(text: &str, start: usize, end: usize) -> String {
    text.get(start..end).unwrap_or("").trim_end().to_string()
}
