//! The one parse of a `.plat` file: its text and a lossless syntax tree,
//! shared by the compiler (which lowers it into [`ast`](crate::ast), in
//! [`parse`](crate::parse)), the formatter ([`fmt`](crate::fmt)) and the
//! editor ([`ide`](crate::ide), through the parse memo in
//! [`cache`](crate::cache)).
//!
//! The grammar (grammar/plat.pest) is derived here and nowhere else. pest's
//! pairs borrow the text and live in a queue private to pest, so the tree is
//! copied once into an owned arena ([`SyntaxTree`]): one compact node per
//! pair, in pre-order, each knowing where its subtree ends. A [`Node`] is a
//! cursor into it with the names of pest's `Pair` (`as_rule`, `as_str`,
//! `as_span`, `into_inner`), so the lowering and the layout read as they did.
//!
//! Lossless: the tree owns its text, and the gaps between its leaf tokens
//! hold only whitespace, line breaks, comments and the grammar's literal
//! punctuation (`, [ ] ( )`), which [`SyntaxTree::tokens`] yields as
//! tokens of their own. The tokens cover the text byte for byte, in order
//! (a property test checks it over every file of the repository).
//!
//! pest keeps `WHITESPACE` and `COMMENT` silent, and a rule that ends with an
//! optional part may include trailing trivia in its span: a composite
//! node's `as_span().end()` is pest's, and [`tight_end`] finds where its last
//! token ends.

use std::sync::Arc;

use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/plat.pest"]
struct Grammar;

/// Why a text does not parse: pest's error (turned into plain words by
/// [`parse`](crate::parse)).
pub type SyntaxError = Box<pest::error::Error<Rule>>;

/// Parses `text` (all of it, as one `file`) into its tree. Callers check
/// the text's size and nesting first, as [`parse_shared`](crate::parse::parse_shared)
/// does (that bounds pest's recursion).
pub(crate) fn parse(text: Arc<str>) -> Result<SyntaxTree, SyntaxError> {
    let pairs = Grammar::parse(Rule::file, &text).map_err(Box::new)?;
    let mut nodes = Vec::new();
    // Pre-order with an explicit stack (nesting is bounded by the bracket
    // check, but `not not not ...` is not): each entry is a node's children
    // still to copy and the node's index.
    let mut stack: Vec<(pest::iterators::Pairs<'_, Rule>, Option<usize>)> = vec![(pairs, None)];
    while let Some((kids, parent)) = stack.last_mut() {
        match kids.next() {
            Some(pair) => {
                let span = pair.as_span();
                let index = nodes.len();
                nodes.push(Raw {
                    rule: pair.as_rule(),
                    start: offset(span.start()),
                    end: offset(span.end()),
                    after: 0,
                });
                stack.push((pair.into_inner(), Some(index)));
            }
            None => {
                let done = *parent;
                stack.pop();
                let after = offset(nodes.len());
                if let Some(raw) = done.and_then(|i| nodes.get_mut(i)) {
                    raw.after = after;
                }
            }
        }
    }
    Ok(SyntaxTree { text, nodes })
}

/// Offsets fit in `u32`: files are at most [`MAX_FILE_BYTES`](crate::parse::MAX_FILE_BYTES).
fn offset(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One pair of pest's tree, owned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Raw {
    rule: Rule,
    start: u32,
    end: u32,
    /// The index one past this node's last descendant (its next sibling's,
    /// if it has one).
    after: u32,
}

/// A parsed file: its text and its tree (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxTree {
    text: Arc<str>,
    /// In pre-order; the first is the `file` node.
    nodes: Vec<Raw>,
}

impl SyntaxTree {
    /// The text the tree was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The `file` node (the tree of an empty text is a `file` too).
    pub fn root(&self) -> Node<'_> {
        Node { tree: self, index: 0 }
    }

    /// The number of nodes (a measure of the tree's size).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The leaf tokens (names, literals, keywords, operators, braces: what
    /// the formatter copies as written), in source order.
    pub fn leaves(&self) -> Vec<Node<'_>> {
        leaves(&self.root())
    }

    /// Every token of the text, in order: the leaves and the trivia and
    /// punctuation between them. Their texts joined are the file's text.
    pub fn tokens(&self) -> Vec<Token<'_>> {
        let mut out = Vec::new();
        let mut at = 0;
        for leaf in self.leaves() {
            let (start, end) = (leaf.as_span().start(), token_end(&leaf));
            out.extend(gap(&self.text, at, start));
            out.push(Token { kind: TokenKind::Leaf(leaf.as_rule()), start, end, text: slice(&self.text, start, end) });
            at = end;
        }
        out.extend(gap(&self.text, at, self.text.len()));
        out
    }

    /// The nodes whose tokens cover byte `offset`, outermost first (the
    /// `file` node, then the item, ... down to the leaf at `offset`). A
    /// position right after a token and before trivia counts as on it, as
    /// an editor's cursor at the end of a word is on that word; an empty
    /// body (`{}`) is under the position between its braces.
    pub fn covering(&self, offset: usize) -> Vec<Node<'_>> {
        let mut out = Vec::new();
        let mut node = self.root();
        loop {
            out.push(node.clone());
            if is_leaf(node.as_rule()) {
                return out;
            }
            // A node the position is inside of (or at the start of, or an
            // empty one at it), else one it is right after.
            let inside = |c: &Node<'_>| {
                let (start, end) = (c.as_span().start(), tight_end(c));
                c.as_rule() != Rule::EOI && start <= offset && (offset < end || start == end)
            };
            let after = |c: &Node<'_>| c.as_rule() != Rule::EOI && tight_end(c) == offset;
            let kids = node.into_inner();
            match kids.clone().find(inside).or_else(|| kids.clone().find(after)) {
                Some(c) => node = c,
                None => return out,
            }
        }
    }
}

fn slice(text: &str, from: usize, to: usize) -> &str {
    text.get(from..to).unwrap_or("")
}

/// A place in the tree: a node and the tree it is in. Named as pest's
/// `Pair` is.
#[derive(Clone)]
pub struct Node<'t> {
    tree: &'t SyntaxTree,
    index: usize,
}

impl std::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}({}..{})", self.as_rule(), self.as_span().start(), self.as_span().end())
    }
}

/// Where a node lies in its text: pest's span (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextSpan<'t> {
    text: &'t str,
    start: usize,
    end: usize,
}

impl<'t> TextSpan<'t> {
    pub fn start(&self) -> usize {
        self.start
    }

    pub fn end(&self) -> usize {
        self.end
    }

    pub fn as_str(&self) -> &'t str {
        slice(self.text, self.start, self.end)
    }
}

impl<'t> Node<'t> {
    fn raw(&self) -> Raw {
        self.tree.nodes.get(self.index).copied().unwrap_or(Raw { rule: Rule::EOI, start: 0, end: 0, after: 0 })
    }

    pub fn as_rule(&self) -> Rule {
        self.raw().rule
    }

    pub fn as_span(&self) -> TextSpan<'t> {
        let raw = self.raw();
        TextSpan { text: &self.tree.text, start: raw.start as usize, end: raw.end as usize }
    }

    /// The text of the node's span.
    pub fn as_str(&self) -> &'t str {
        self.as_span().as_str()
    }

    /// The node's children, in order.
    pub fn into_inner(self) -> Children<'t> {
        let after = self.raw().after as usize;
        Children { tree: self.tree, next: self.index + 1, after }
    }
}

/// The children of a node (see [`Node::into_inner`]).
#[derive(Clone)]
pub struct Children<'t> {
    tree: &'t SyntaxTree,
    next: usize,
    after: usize,
}

impl<'t> Iterator for Children<'t> {
    type Item = Node<'t>;

    fn next(&mut self) -> Option<Node<'t>> {
        if self.next >= self.after {
            return None;
        }
        let node = Node { tree: self.tree, index: self.next };
        self.next = (node.raw().after as usize).max(self.next + 1);
        Some(node)
    }
}

/// One token of a file (see [`SyntaxTree::tokens`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'t> {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
    pub text: &'t str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A leaf node of the tree (see [`is_leaf`]).
    Leaf(Rule),
    /// Spaces, tabs, carriage returns and byte-order marks.
    Whitespace,
    Newline,
    /// `#` up to (not including) the end of its line.
    Comment,
    /// The grammar's literal punctuation: `,` `[` `]` `(` `)`.
    Punct,
    /// Anything else between two leaves: never expected (a grammar rule
    /// with a literal that is not a leaf nor punctuation); the property
    /// test fails on it.
    Other,
}

/// Whitespace as the grammar sees it (the newline aside).
pub fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\u{FEFF}')
}

/// The tokens of the text between two leaves (`from..to`).
pub fn gap(text: &str, from: usize, to: usize) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let Some(gap) = text.get(from..to) else {
        return out;
    };
    let mut chars = gap.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let mut end = i + c.len_utf8();
        let kind = match c {
            '\n' => TokenKind::Newline,
            '#' => {
                while let Some(&(j, d)) = chars.peek() {
                    if d == '\n' {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
                TokenKind::Comment
            }
            c if is_blank(c) => {
                while let Some(&(j, d)) = chars.peek() {
                    if !is_blank(d) {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
                TokenKind::Whitespace
            }
            ',' | '[' | ']' | '(' | ')' => TokenKind::Punct,
            _ => TokenKind::Other,
        };
        out.push(Token { kind, start: from + i, end: from + end, text: slice(gap, i, end) });
    }
    out
}

/// Rules whose nodes are tokens: copied as written by the formatter, not
/// descended into (a `path` or a `reference` is one token, dots and all).
pub fn is_leaf(rule: Rule) -> bool {
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
pub fn token_end(p: &Node<'_>) -> usize {
    let span = p.as_span();
    match p.as_rule() {
        Rule::assign_op if span.as_str().starts_with("+=") => span.start() + 2,
        Rule::assign_op | Rule::eq => span.start() + 1,
        _ => span.end(),
    }
}

/// Where the last token of a node ends (its span may run on over trivia).
pub fn tight_end(node: &Node<'_>) -> usize {
    let mut p = node.clone();
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

/// The leaf nodes under `root`, in source order.
pub fn leaves<'t>(root: &Node<'t>) -> Vec<Node<'t>> {
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

#[cfg(test)]
mod tests;
