//! One-line forms and the checks shared by the layout: an expression or a
//! body item written on one line, a block header, and whether a gap between
//! two tokens holds a comment.

use crate::syntax::Node;

use super::tree::{Rule, Source, Triv, tight_end};

/// A comment (or a line that already ended) where the layout has no place
/// for what comes next: the enclosing item is copied as written instead.
#[derive(Debug)]
pub(super) struct Interior;

pub(super) type R<T = ()> = Result<T, Interior>;

type P<'a> = Node<'a>;

pub(super) fn start(p: &P<'_>) -> usize {
    p.as_span().start()
}

impl Source<'_> {
    /// Fails if a comment lies between two positions.
    pub(super) fn clean(&self, from: usize, to: usize) -> R {
        if self.has_comment(from, to) { Err(Interior) } else { Ok(()) }
    }

    pub(super) fn clean_between(&self, parts: &[&P<'_>]) -> R {
        for w in parts.windows(2) {
            if let [a, b] = w {
                self.clean(tight_end(a), start(b))?;
            }
        }
        Ok(())
    }

    /// `kind label "label" from parent`, checked free of comments up to `{`.
    pub(super) fn words(&self, leaves: &[&P<'_>], lb: &P<'_>) -> R<String> {
        let mut out = String::new();
        let mut prev: Option<usize> = None;
        for l in leaves {
            if let Some(end) = prev {
                self.clean(end, start(l))?;
                out.push(' ');
            }
            out.push_str(l.as_str());
            prev = Some(l.as_span().end());
        }
        if let Some(end) = prev {
            self.clean(end, start(lb))?;
        }
        Ok(out)
    }

    /// The header text of a block, its braces and body.
    pub(super) fn block_parts<'i>(&self, kids: &[P<'i>]) -> R<(String, P<'i>, P<'i>, P<'i>)> {
        let mut leaves = Vec::new();
        let (mut lb, mut body, mut rb) = (None, None, None);
        for k in kids {
            match k.as_rule() {
                Rule::label | Rule::from_clause => leaves.extend(k.clone().into_inner()),
                Rule::lbrace => lb = Some(k.clone()),
                Rule::body => body = Some(k.clone()),
                Rule::rbrace => rb = Some(k.clone()),
                _ => leaves.push(k.clone()),
            }
        }
        let (Some(lb), Some(body), Some(rb)) = (lb, body, rb) else {
            return Err(Interior);
        };
        let refs: Vec<&P<'i>> = leaves.iter().collect();
        Ok((self.words(&refs, &lb)?, lb, body, rb))
    }

    /// Whether a one-line body separates its items with commas.
    pub(super) fn uses_commas(&self, items: &[P<'_>]) -> bool {
        items.windows(2).any(|w| match w {
            [a, b] => self.trivia(tight_end(a), start(b)).iter().any(|t| matches!(t, Triv::Punct(',', _))),
            _ => false,
        })
    }

    // --- one-line forms --------------------------------------------------------

    /// An item of a one-line body.
    pub(super) fn inline_item(&self, p: &P<'_>) -> R<String> {
        let kids: Vec<P<'_>> = p.clone().into_inner().collect();
        match (p.as_rule(), kids.as_slice()) {
            (Rule::attribute, [path, op, value]) => {
                let op = if op.as_str().starts_with("+=") { "+=" } else { "=" };
                Ok(format!("{} {op} {}", path.as_str(), self.inline(value)?))
            }
            (Rule::locked, [_, attr]) => Ok(format!("locked {}", self.inline_item(attr)?)),
            (Rule::override_, [_, path, _, value, _, reason]) => {
                Ok(format!("override {} = {} because {}", path.as_str(), self.inline(value)?, reason.as_str()))
            }
            (Rule::allow, [_, policy, _, reason]) => {
                Ok(format!("allow {} because {}", policy.as_str(), reason.as_str()))
            }
            (Rule::patch, [kw, target, kind, lb, body, _]) => {
                let header = self.words(&[kw, target, kind], lb)?;
                let items: Vec<P<'_>> = body.clone().into_inner().collect();
                Ok(format!("{header} {}", self.inline_body(&items)?))
            }
            (Rule::patch, [kw, target, kind, because, reason, lb, body, _]) => {
                let header = self.words(&[kw, target, kind, because, reason], lb)?;
                let items: Vec<P<'_>> = body.clone().into_inner().collect();
                Ok(format!("{header} {}", self.inline_body(&items)?))
            }
            (Rule::block, _) => {
                let (header, _, body, _) = self.block_parts(&kids)?;
                let items: Vec<P<'_>> = body.into_inner().collect();
                Ok(format!("{header} {}", self.inline_body(&items)?))
            }
            _ => Err(Interior),
        }
    }

    pub(super) fn inline_body(&self, items: &[P<'_>]) -> R<String> {
        let cells = items.iter().map(|i| self.inline_item(i)).collect::<R<Vec<_>>>()?;
        Ok(join_body(&cells, self.uses_commas(items)))
    }

    /// An expression written on one line (it has no line break).
    pub(super) fn inline(&self, p: &P<'_>) -> R<String> {
        if self.has_newline(start(p), tight_end(p)) {
            return Err(Interior);
        }
        let kids: Vec<P<'_>> = p.clone().into_inner().collect();
        Ok(match (p.as_rule(), kids.as_slice()) {
            (Rule::expr, [inner]) => self.inline(inner)?,
            (Rule::paren, [inner]) => format!("({})", self.inline(inner)?),
            (Rule::or_expr | Rule::and_expr, _) => {
                kids.iter().map(|k| self.inline(k)).collect::<R<Vec<_>>>()?.join(" ")
            }
            (Rule::kw_and | Rule::kw_or, _) => p.as_str().to_string(),
            (Rule::not_expr, _) => {
                let mut out = String::new();
                let mut cur = p.clone();
                loop {
                    let kids: Vec<P<'_>> = cur.clone().into_inner().collect();
                    match kids.as_slice() {
                        [op, inner] if op.as_rule() == Rule::not_op => {
                            out.push_str("not ");
                            cur = inner.clone();
                        }
                        [only] => {
                            out.push_str(&self.inline(only)?);
                            break;
                        }
                        _ => return Err(Interior),
                    }
                }
                out
            }
            (Rule::cmp_expr, [only]) => self.inline(only)?,
            (Rule::cmp_expr, [lhs, op, rhs]) => format!("{} {} {}", self.inline(lhs)?, op_text(op), self.inline(rhs)?),
            (Rule::list, elems) => format!("[{}]", self.inline_all(elems)?),
            (Rule::call, [name, args @ ..]) => format!("{}({})", name.as_str(), self.inline_all(args)?),
            (Rule::map, [_, body, _]) => {
                let items: Vec<P<'_>> = body.clone().into_inner().collect();
                self.inline_body(&items)?
            }
            (Rule::tagged, [tag, map]) => format!("{} {}", tag.as_str(), self.inline(map)?),
            (Rule::string | Rule::heredoc | Rule::number | Rule::boolean | Rule::null | Rule::reference, _) => {
                p.as_str().to_string()
            }
            _ => return Err(Interior),
        })
    }

    pub(super) fn inline_all(&self, elems: &[P<'_>]) -> R<String> {
        Ok(elems.iter().map(|e| self.inline(e)).collect::<R<Vec<_>>>()?.join(", "))
    }
}

/// Skips the rules that only wrap one other (`expr` around a value, a
/// comparison without operator, ...).
pub(super) fn unwrap<'i>(p: &P<'i>) -> P<'i> {
    let mut cur = p.clone();
    loop {
        if !matches!(cur.as_rule(), Rule::expr | Rule::or_expr | Rule::and_expr | Rule::not_expr | Rule::cmp_expr) {
            return cur;
        }
        let mut kids = cur.clone().into_inner();
        match (kids.next(), kids.next()) {
            (Some(only), None) if only.as_rule() != Rule::not_op => cur = only,
            _ => return cur,
        }
    }
}

/// `{}`, `{ a = 1  b = 2 }` or, when the author used commas, `{ a = 1, b = 2 }`.
pub(super) fn join_body(cells: &[String], commas: bool) -> String {
    if cells.is_empty() {
        return "{}".to_string();
    }
    format!("{{ {} }}", cells.join(if commas { ", " } else { "  " }))
}

/// A comparison operator; `not` and `in` may be on different lines.
pub(super) fn op_text(op: &P<'_>) -> String {
    op.as_str().split_whitespace().collect::<Vec<_>>().join(" ")
}
