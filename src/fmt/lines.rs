//! Output lines and the column alignment between them.
//!
//! The printer produces lines made of segments; the space before a segment
//! is either fixed or decided here, looking at neighbouring lines:
//!
//! - [`Sep::Eq`]: the `=` (or `+=`) of consecutive single-line attributes
//!   at the same indentation is aligned, one space after the longest name.
//! - [`Sep::Keep`]: alignment that the author made is kept, never created:
//!   consecutive lines whose segment started at the same column in the
//!   original text stay aligned (the `{` of one-line blocks, the items of a
//!   table of one-line blocks); with the canonical gap after the widest.
//!   A lone segment gets the canonical gap.
//! - trailing comments: consecutive lines whose comments started at the same
//!   column stay aligned, keeping the smallest gap the author left; a lone
//!   comment keeps its gap.
//!
//! Each rule is a fixed point: run over its own output, it finds the same
//! groups and the same columns, which is what makes `fmt` idempotent.

/// The space before a segment.
#[derive(Clone, Copy, Debug)]
pub(super) enum Sep {
    Fixed(usize),
    /// Before `= value` / `+= value`; `op` is the width of the operator.
    Eq {
        op: usize,
    },
    /// Alignment kept from the original. Classes are resolved in increasing
    /// order, left to right along a line.
    Keep {
        class: usize,
        col: usize,
        canon: usize,
    },
}

impl Sep {
    /// The width the space has before alignment (what widths are checked with).
    pub fn canonical(self) -> usize {
        match self {
            Sep::Fixed(n) => n,
            Sep::Eq { .. } => 1,
            Sep::Keep { canon, .. } => canon,
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Seg {
    pub sep: Sep,
    pub text: String,
}

#[derive(Clone, Debug)]
pub(super) struct Comment {
    pub text: String,
    /// Column of `#` in the original line.
    pub col: usize,
    /// Spaces between the code and `#` in the original (at least 1).
    pub gap: usize,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Line {
    /// Leading spaces.
    pub indent: usize,
    pub segs: Vec<Seg>,
    pub comment: Option<Comment>,
    /// The line ends inside a `"""` string: its end is text, not layout.
    pub keep_end: bool,
}

impl Line {
    pub fn new(indent: usize) -> Line {
        Line { indent, ..Line::default() }
    }

    /// Width with canonical spacing, no comment.
    pub fn width(&self) -> usize {
        self.indent + self.segs.iter().map(|s| s.sep.canonical() + width(&s.text)).sum::<usize>()
    }
}

pub(super) fn width(s: &str) -> usize {
    s.chars().count()
}

/// Resolves alignment and writes the lines out, each ending in `\n`.
pub(super) fn render(lines: &[Line]) -> String {
    let pads = align(lines);
    let mut out = String::new();
    for (line, pads) in lines.iter().zip(pads) {
        let mut s = String::new();
        if !line.segs.is_empty() || line.comment.is_some() {
            push_spaces(&mut s, line.indent);
        }
        for (seg, pad) in line.segs.iter().zip(&pads.segs) {
            push_spaces(&mut s, *pad);
            s.push_str(&seg.text);
        }
        if let Some(c) = &line.comment {
            push_spaces(&mut s, pads.comment);
            s.push_str(&c.text);
        }
        if line.keep_end {
            out.push_str(&s);
        } else {
            out.push_str(s.trim_end_matches([' ', '\t', '\r']));
        }
        out.push('\n');
    }
    out
}

fn push_spaces(s: &mut String, n: usize) {
    s.extend(std::iter::repeat_n(' ', n));
}

struct Pads {
    segs: Vec<usize>,
    comment: usize,
}

fn align(lines: &[Line]) -> Vec<Pads> {
    // Unresolved pads are None until their rule runs.
    let mut pads: Vec<Vec<Option<usize>>> = lines
        .iter()
        .map(|l| {
            l.segs
                .iter()
                .enumerate()
                .map(|(i, s)| match s.sep {
                    Sep::Fixed(n) => Some(if i == 0 { 0 } else { n }),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let prefix = |pads: &[Vec<Option<usize>>], li: usize, si: usize| -> usize {
        let (Some(line), Some(p)) = (lines.get(li), pads.get(li)) else {
            return 0;
        };
        line.indent
            + line
                .segs
                .iter()
                .zip(p)
                .take(si)
                .map(|(s, pad)| pad.unwrap_or(s.sep.canonical()) + width(&s.text))
                .sum::<usize>()
    };

    // `=` runs: consecutive lines with an Eq segment and the same indent.
    let eq_at: Vec<Option<(usize, usize)>> = lines
        .iter()
        .map(|l| l.segs.iter().position(|s| matches!(s.sep, Sep::Eq { .. })).map(|i| (i, l.indent)))
        .collect();
    let mut i = 0;
    while i < lines.len() {
        let Some(Some((_, indent))) = eq_at.get(i) else {
            i += 1;
            continue;
        };
        let mut j = i;
        while matches!(eq_at.get(j), Some(Some((_, ind))) if ind == indent) {
            j += 1;
        }
        let ends: Vec<(usize, usize, usize)> = (i..j)
            .filter_map(|li| {
                let (si, _) = eq_at.get(li).copied().flatten()?;
                let op = match lines.get(li)?.segs.get(si)?.sep {
                    Sep::Eq { op } => op,
                    _ => 0,
                };
                Some((li, si, prefix(&pads, li, si) + op))
            })
            .collect();
        let target = ends.iter().map(|e| e.2).max().unwrap_or(0) + 1;
        for (li, si, end) in ends {
            if let Some(p) = pads.get_mut(li).and_then(|p| p.get_mut(si)) {
                *p = Some(target - end);
            }
        }
        i = j;
    }

    // Kept alignment, class by class.
    let mut classes: Vec<usize> = lines
        .iter()
        .flat_map(|l| l.segs.iter())
        .filter_map(|s| match s.sep {
            Sep::Keep { class, .. } => Some(class),
            _ => None,
        })
        .collect();
    classes.sort_unstable();
    classes.dedup();
    for class in classes {
        let at: Vec<Option<(usize, usize, usize)>> = lines
            .iter()
            .map(|l| {
                l.segs.iter().enumerate().find_map(|(si, s)| match s.sep {
                    Sep::Keep { class: c, col, canon } if c == class => Some((si, col, canon)),
                    _ => None,
                })
            })
            .collect();
        let mut i = 0;
        while i < lines.len() {
            let Some(Some((_, col, _))) = at.get(i).copied() else {
                i += 1;
                continue;
            };
            let mut j = i;
            while matches!(at.get(j), Some(Some((_, c, _))) if *c == col) {
                j += 1;
            }
            let members: Vec<(usize, usize, usize, usize)> = (i..j)
                .filter_map(|li| {
                    let (si, _, canon) = at.get(li).copied().flatten()?;
                    Some((li, si, canon, prefix(&pads, li, si)))
                })
                .collect();
            if members.len() == 1 {
                for &(li, si, canon, _) in &members {
                    if let Some(p) = pads.get_mut(li).and_then(|p| p.get_mut(si)) {
                        *p = Some(canon);
                    }
                }
            } else {
                let target = members.iter().map(|m| m.3 + m.2).max().unwrap_or(0);
                for &(li, si, _, end) in &members {
                    if let Some(p) = pads.get_mut(li).and_then(|p| p.get_mut(si)) {
                        *p = Some(target - end);
                    }
                }
            }
            i = j;
        }
    }

    // Trailing comments.
    let seg_pads: Vec<Vec<usize>> = lines
        .iter()
        .zip(&pads)
        .map(|(l, p)| l.segs.iter().zip(p).map(|(s, pad)| pad.unwrap_or(s.sep.canonical())).collect())
        .collect();
    let ends: Vec<usize> = lines
        .iter()
        .zip(&seg_pads)
        .map(|(l, p)| l.indent + l.segs.iter().zip(p).map(|(s, pad)| pad + width(&s.text)).sum::<usize>())
        .collect();
    let mut comment_pads = vec![0; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        let Some(col) = lines.get(i).and_then(|l| l.comment.as_ref()).map(|c| c.col) else {
            i += 1;
            continue;
        };
        let mut j = i;
        while lines.get(j).and_then(|l| l.comment.as_ref()).is_some_and(|c| c.col == col) {
            j += 1;
        }
        let gap = (i..j).filter_map(|li| lines.get(li)?.comment.as_ref().map(|c| c.gap.max(1))).min().unwrap_or(1);
        let end = (i..j).filter_map(|li| ends.get(li).copied()).max().unwrap_or(0);
        for li in i..j {
            let line_end = ends.get(li).copied().unwrap_or(0);
            // A comment alone on its line (no code) keeps no gap.
            let empty = lines.get(li).is_some_and(|l| l.segs.is_empty());
            if let Some(p) = comment_pads.get_mut(li) {
                *p = if empty { 0 } else { end + gap - line_end };
            }
        }
        i = j;
    }

    seg_pads.into_iter().zip(comment_pads).map(|(segs, comment)| Pads { segs, comment }).collect()
}
