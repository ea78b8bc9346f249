//! From the syntax tree ([`crate::syntax`]) to output lines.
//!
//! Layout follows what the author wrote where a choice exists, and is
//! canonical everywhere else:
//!
//! - a body (`{ ... }` of a block, a map, a patch) stays on one line when it
//!   was written on one line and still fits [`MAX_WIDTH`]; otherwise one item
//!   per line. A list or a call stays on one line when written on one line;
//!   otherwise one element per line, each followed by `,`.
//! - a condition broken over lines keeps its breaks before `and` / `or`;
//!   every other line break inside an expression is dropped.
//! - comments between items or list elements keep their place: on the line
//!   of the code before them (trailing) or on their own lines. A comment
//!   anywhere else (say between a block's name and its label) has no place in
//!   the layout; the item around it is then copied as written
//!   ([`Printer::verbatim`]), only re-indented.

use crate::syntax::Node;

use super::inline::{Interior, R, join_body, op_text, start, unwrap};
use super::lines::{Comment, Line, Seg, Sep, width};
use super::tree::{Rule, Source, Triv, comment_text, is_blank, tight_end};

/// Lines longer than this are not kept on one line when a body can break.
pub(super) const MAX_WIDTH: usize = 100;
const INDENT: usize = 2;
/// Alignment class of the `{` of blocks (see [`Sep::Keep`]); the items of a
/// one-line block body are classes 1, 2, ... by position.
const BRACE: usize = 0;

type P<'a> = Node<'a>;

/// Lays a parsed file out; `None` if that fails at the top level.
pub(super) fn print(src: &Source<'_>, file: &P<'_>) -> Option<Vec<Line>> {
    let body = file.clone().into_inner().find(|p| p.as_rule() == Rule::body)?;
    let items: Vec<P<'_>> = body.into_inner().collect();
    let mut printer = Printer { src, lines: Vec::new() };
    printer.sequence(0, &items, src.text.len(), 0, Kind::File).ok()?;
    while printer.lines.last().is_some_and(is_blank_line) {
        printer.lines.pop();
    }
    Some(printer.lines)
}

fn is_blank_line(l: &Line) -> bool {
    l.segs.is_empty() && l.comment.is_none()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Body,
    List,
}

struct Printer<'s, 'a> {
    src: &'s Source<'a>,
    lines: Vec<Line>,
}

impl Printer<'_, '_> {
    // --- the current line ----------------------------------------------------

    fn line(&mut self, depth: usize) {
        self.lines.push(Line::new(depth * INDENT));
    }

    /// Depth of the current line (what a bracket opened on it nests under).
    fn depth(&self) -> usize {
        self.lines.last().map(|l| l.indent / INDENT).unwrap_or(0)
    }

    fn width(&self) -> usize {
        self.lines.last().map(Line::width).unwrap_or(0)
    }

    fn open_line(&mut self) -> R<&mut Line> {
        match self.lines.last_mut() {
            Some(l) if l.comment.is_none() => Ok(l),
            _ => Err(Interior),
        }
    }

    /// Appends text to the current segment.
    fn put(&mut self, s: &str) -> R {
        let line = self.open_line()?;
        match line.segs.last_mut() {
            Some(seg) => seg.text.push_str(s),
            None => line.segs.push(Seg { sep: Sep::Fixed(0), text: s.to_string() }),
        }
        Ok(())
    }

    /// Starts a new segment.
    fn seg(&mut self, sep: Sep, s: &str) -> R {
        self.open_line()?.segs.push(Seg { sep, text: s.to_string() });
        Ok(())
    }

    /// Ends the current line with the comment at `start..end`.
    fn trailing(&mut self, start: usize, end: usize) -> R {
        let comment = Comment {
            text: comment_text(self.src.text, start, end),
            col: self.src.column(start),
            gap: self.src.gap_before(start).max(1),
        };
        let line = self.open_line()?;
        if line.segs.is_empty() || line.keep_end {
            return Err(Interior);
        }
        line.comment = Some(comment);
        Ok(())
    }

    fn comment_line(&mut self, depth: usize, start: usize, end: usize) {
        let mut line = Line::new(depth * INDENT);
        line.segs.push(Seg { sep: Sep::Fixed(0), text: comment_text(self.src.text, start, end) });
        self.lines.push(line);
    }

    fn blank(&mut self) {
        if !self.lines.last().is_none_or(is_blank_line) {
            self.lines.push(Line::new(0));
        }
    }

    // --- sequences: bodies and multi-line lists ------------------------------

    /// Writes `elems` one per line at `depth`, with the comments and blank
    /// lines around them. The opener (if any) is on the current line.
    fn sequence(&mut self, open_end: usize, elems: &[P<'_>], close: usize, depth: usize, kind: Kind) -> R {
        let mut prev = open_end;
        let mut fresh = true;
        for e in elems {
            self.gap(prev, start(e), depth, kind, fresh, false)?;
            match kind {
                Kind::List => {
                    self.line(depth);
                    self.expr(e)?;
                    self.put(",")?;
                }
                Kind::File | Kind::Body => self.item(e, depth),
            }
            prev = tight_end(e);
            fresh = false;
        }
        self.gap(prev, close, depth, kind, fresh, true)
    }

    /// The comments and blank lines between two elements (or an opener and
    /// an element, or an element and the closer).
    fn gap(&mut self, from: usize, to: usize, depth: usize, kind: Kind, fresh: bool, closing: bool) -> R {
        // Nothing trails the start of the file.
        let can_trail = !(kind == Kind::File && fresh);
        let mut fresh = fresh;
        let mut newlines = 0;
        let mut same_line = true;
        for t in self.src.trivia(from, to) {
            match t {
                Triv::Newline => {
                    newlines += 1;
                    same_line = false;
                }
                Triv::Comment { start, end } => {
                    if same_line && can_trail {
                        self.trailing(start, end)?;
                    } else {
                        if newlines >= 2 && !fresh {
                            self.blank();
                        }
                        self.comment_line(depth, start, end);
                        fresh = false;
                    }
                    newlines = 0;
                }
                Triv::Punct(..) => {}
            }
        }
        if newlines >= 2 && !fresh && !closing {
            self.blank();
        }
        Ok(())
    }

    // --- items ---------------------------------------------------------------

    /// One item of a body, on a line of its own.
    fn item(&mut self, p: &P<'_>, depth: usize) {
        let mark = self.lines.len();
        self.line(depth);
        if self.item_inner(p).is_err() {
            self.lines.truncate(mark);
            self.verbatim(p, depth);
        }
    }

    fn item_inner(&mut self, p: &P<'_>) -> R {
        let kids: Vec<P<'_>> = p.clone().into_inner().collect();
        match (p.as_rule(), kids.as_slice()) {
            (Rule::attribute, _) => self.attribute(p, "", None),
            (Rule::locked, [kw, attr]) => self.attribute(attr, "locked ", Some(kw.as_span().end())),
            (Rule::override_, [kw, path, eq, value, because, reason]) => {
                self.src.clean_between(&[kw, path, eq, value, because, reason])?;
                self.put(&format!("override {} = ", path.as_str()))?;
                self.expr(value)?;
                self.put(&format!(" because {}", reason.as_str()))
            }
            (Rule::allow, [kw, policy, because, reason]) => {
                self.src.clean_between(&[kw, policy, because, reason])?;
                self.put(&format!("allow {} because {}", policy.as_str(), reason.as_str()))
            }
            (Rule::patch, [kw, target, kind, lb, body, rb]) => {
                self.put(&self.src.words(&[kw, target, kind], lb)?)?;
                let items: Vec<P<'_>> = body.clone().into_inner().collect();
                self.braced(lb, &items, rb, Sep::Keep { class: BRACE, col: self.src.column(start(lb)), canon: 1 }, true)
            }
            (Rule::patch, [kw, target, kind, because, reason, lb, body, rb]) => {
                self.put(&self.src.words(&[kw, target, kind, because, reason], lb)?)?;
                let items: Vec<P<'_>> = body.clone().into_inner().collect();
                self.braced(lb, &items, rb, Sep::Keep { class: BRACE, col: self.src.column(start(lb)), canon: 1 }, true)
            }
            (Rule::block, _) => {
                let (header, lb, body, rb) = self.src.block_parts(&kids)?;
                self.put(&header)?;
                let items: Vec<P<'_>> = body.into_inner().collect();
                let brace = Sep::Keep { class: BRACE, col: self.src.column(start(&lb)), canon: 1 };
                self.braced(&lb, &items, &rb, brace, true)
            }
            _ => Err(Interior),
        }
    }

    fn attribute(&mut self, p: &P<'_>, prefix: &str, after: Option<usize>) -> R {
        let kids: Vec<P<'_>> = p.clone().into_inner().collect();
        let [path, op, value] = kids.as_slice() else {
            return Err(Interior);
        };
        if let Some(end) = after {
            self.src.clean(end, start(path))?;
        }
        self.src.clean_between(&[path, op, value])?;
        self.put(&format!("{prefix}{}", path.as_str()))?;
        let op = if op.as_str().starts_with("+=") { "+=" } else { "=" };
        let line = self.lines.len();
        let seg = self.lines.last().map(|l| l.segs.len()).unwrap_or(0);
        self.seg(Sep::Eq { op: width(op) }, &format!("{op} "))?;
        self.expr(value)?;
        if self.lines.len() != line {
            // A multi-line value takes no part in `=` alignment.
            if let Some(s) = self.lines.get_mut(line.saturating_sub(1)).and_then(|l| l.segs.get_mut(seg)) {
                s.sep = Sep::Fixed(1);
            }
        }
        Ok(())
    }

    /// `{ ... }` after a header already written on the current line.
    fn braced(&mut self, lb: &P<'_>, items: &[P<'_>], rb: &P<'_>, brace: Sep, table: bool) -> R {
        let (open, close) = (lb.as_span().end(), start(rb));
        if !self.src.has_newline(start(lb), rb.as_span().end()) {
            let cells = items.iter().map(|i| self.src.inline_item(i)).collect::<R<Vec<_>>>()?;
            let commas = self.src.uses_commas(items);
            let joined = join_body(&cells, commas);
            if self.width() + brace.canonical() + width(&joined) <= MAX_WIDTH {
                if !table || cells.len() < 2 {
                    return self.seg(brace, &joined);
                }
                let last = cells.len() - 1;
                for (k, (cell, item)) in cells.iter().zip(items).enumerate() {
                    let text = if commas && k < last { format!("{cell},") } else { cell.clone() };
                    if k == 0 {
                        self.seg(brace, &format!("{{ {text}"))?;
                    } else {
                        let col = self.src.column(start(item));
                        self.seg(Sep::Keep { class: BRACE + k, col, canon: if commas { 1 } else { 2 } }, &text)?;
                    }
                }
                return self.seg(Sep::Fixed(1), "}");
            }
        }
        if items.is_empty() && !self.src.has_comment(open, close) {
            return self.seg(brace, "{}");
        }
        let depth = self.depth();
        self.seg(brace, "{")?;
        self.sequence(open, items, close, depth + 1, Kind::Body)?;
        self.line(depth);
        self.put("}")
    }

    /// The item copied as written: its first line at `depth`, the others
    /// shifted as much as the first moved; the text of `"""` strings untouched.
    fn verbatim(&mut self, p: &P<'_>, depth: usize) {
        let (from, to) = (start(p), tight_end(p));
        let new_col = depth * INDENT;
        let old_col = self.src.column(from);
        let mut pos = from;
        for (n, piece) in self.src.slice(from, to).split('\n').enumerate() {
            let end = pos + piece.len();
            let (indent, text) = if n == 0 {
                (new_col, piece)
            } else if self.src.in_heredoc(pos.saturating_sub(1)) {
                (0, piece)
            } else {
                let text = piece.trim_start_matches(is_blank);
                let lead = piece.get(..piece.len() - text.len()).map(|s| s.chars().count()).unwrap_or(0);
                ((lead + new_col).saturating_sub(old_col), text)
            };
            let mut line = Line::new(indent);
            line.segs.push(Seg { sep: Sep::Fixed(0), text: text.to_string() });
            line.keep_end = end < to && self.src.in_heredoc(end);
            self.lines.push(line);
            pos = end + 1;
        }
    }

    // --- expressions, laid out -------------------------------------------------

    /// Writes an expression from the current position on the current line.
    fn expr(&mut self, p: &P<'_>) -> R {
        let p = &unwrap(p);
        let rule = p.as_rule();
        if matches!(rule, Rule::map | Rule::tagged) {
            return self.map_like(p);
        }
        if !self.src.has_newline(start(p), tight_end(p)) {
            let text = self.src.inline(p)?;
            return self.put(&text);
        }
        let kids: Vec<P<'_>> = p.clone().into_inner().collect();
        match (rule, kids.as_slice()) {
            (Rule::expr, [inner]) => self.expr(inner),
            (Rule::or_expr | Rule::and_expr, [first, rest @ ..]) => {
                let base = self.depth();
                self.expr(first)?;
                let mut prev = tight_end(first);
                for pair in rest.chunks(2) {
                    let [kw, operand] = pair else {
                        return Err(Interior);
                    };
                    self.src.clean_between(&[kw, operand])?;
                    if self.src.has_newline(prev, start(operand)) {
                        // Comments before the operator keep their place.
                        self.gap(prev, start(kw), base + 1, Kind::Body, false, true)?;
                        self.line(base + 1);
                    } else {
                        self.put(" ")?;
                    }
                    self.put(&format!("{} ", kw.as_str()))?;
                    self.expr(operand)?;
                    prev = tight_end(operand);
                }
                Ok(())
            }
            (Rule::not_expr, _) => {
                let inner = self.nots(p)?;
                self.expr(&inner)
            }
            (Rule::cmp_expr, [only]) => self.expr(only),
            (Rule::cmp_expr, [lhs, op, rhs]) => {
                self.src.clean_between(&[lhs, op, rhs])?;
                self.expr(lhs)?;
                self.put(&format!(" {} ", op_text(op)))?;
                self.expr(rhs)
            }
            (Rule::paren, [inner]) => {
                self.src.clean(start(p) + 1, start(inner))?;
                self.src.clean(tight_end(inner), p.as_span().end().saturating_sub(1))?;
                self.put("(")?;
                self.expr(inner)?;
                self.put(")")
            }
            (Rule::list, elems) => {
                self.put("[")?;
                self.elements(start(p) + 1, elems, p.as_span().end().saturating_sub(1), "]")
            }
            (Rule::call, [name, args @ ..]) => {
                let paren = self.paren_after(name, p)?;
                self.put(&format!("{}(", name.as_str()))?;
                self.elements(paren + 1, args, p.as_span().end().saturating_sub(1), ")")
            }
            (Rule::heredoc, _) => self.heredoc(p),
            _ => {
                let text = self.src.inline(p)?;
                self.put(&text)
            }
        }
    }

    /// Writes the `not`s of a `not not x` and returns `x` (without recursion:
    /// a chain of `not`s has no depth limit).
    fn nots<'i>(&mut self, p: &P<'i>) -> R<P<'i>> {
        let mut cur = p.clone();
        loop {
            let kids: Vec<P<'i>> = cur.clone().into_inner().collect();
            match kids.as_slice() {
                [op, inner] if op.as_rule() == Rule::not_op => {
                    self.src.clean(op.as_span().end(), start(inner))?;
                    self.put("not ")?;
                    cur = inner.clone();
                }
                [only] => return Ok(only.clone()),
                _ => return Err(Interior),
            }
        }
    }

    /// Where the `(` of a call is.
    fn paren_after(&self, name: &P<'_>, call: &P<'_>) -> R<usize> {
        let from = name.as_span().end();
        let trivia = self.src.trivia(from, call.as_span().end());
        let at = trivia
            .iter()
            .find_map(|t| match t {
                Triv::Punct('(', at) => Some(*at),
                _ => None,
            })
            .ok_or(Interior)?;
        self.src.clean(from, at)?;
        Ok(at)
    }

    /// The elements of a list or a call written over several lines.
    fn elements(&mut self, open: usize, elems: &[P<'_>], close: usize, closer: &str) -> R {
        if elems.is_empty() && !self.src.has_comment(open, close) {
            return self.put(closer);
        }
        let depth = self.depth();
        self.sequence(open, elems, close, depth + 1, Kind::List)?;
        self.line(depth);
        self.put(closer)
    }

    /// A map or a tagged map in a place where it may break over lines.
    fn map_like(&mut self, p: &P<'_>) -> R {
        let kids: Vec<P<'_>> = p.clone().into_inner().collect();
        match (p.as_rule(), kids.as_slice()) {
            (Rule::map, [lb, body, rb]) => {
                let items: Vec<P<'_>> = body.clone().into_inner().collect();
                self.braced(lb, &items, rb, Sep::Fixed(0), false)
            }
            (Rule::tagged, [tag, map]) => {
                self.src.clean(tag.as_span().end(), start(map))?;
                self.put(tag.as_str())?;
                let inner: Vec<P<'_>> = map.clone().into_inner().collect();
                let [lb, body, rb] = inner.as_slice() else {
                    return Err(Interior);
                };
                let items: Vec<P<'_>> = body.clone().into_inner().collect();
                self.braced(lb, &items, rb, Sep::Fixed(1), false)
            }
            _ => Err(Interior),
        }
    }

    /// A `"""` string, byte for byte (CRLF line ends aside, which its
    /// decoding ignores).
    fn heredoc(&mut self, p: &P<'_>) -> R {
        let raw = p.as_str();
        let text = if raw.contains("\r\r\n") { raw.to_string() } else { raw.replace("\r\n", "\n") };
        let mut parts = text.split('\n');
        self.put(parts.next().unwrap_or(""))?;
        let rest: Vec<&str> = parts.collect();
        let Some((last, middle)) = rest.split_last() else {
            return Ok(());
        };
        self.open_line()?.keep_end = true;
        for m in middle {
            let mut line = Line::new(0);
            line.segs.push(Seg { sep: Sep::Fixed(0), text: (*m).to_string() });
            line.keep_end = true;
            self.lines.push(line);
        }
        let mut line = Line::new(0);
        line.segs.push(Seg { sep: Sep::Fixed(0), text: (*last).to_string() });
        self.lines.push(line);
        Ok(())
    }
}
