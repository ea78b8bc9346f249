//! Structural equality of two syntax trees, spans ignored: the check that a
//! formatted file means what the original meant.

use crate::ast::*;

pub(super) fn file(a: &File, b: &File) -> bool {
    body(&a.body, &b.body)
}

fn all<T>(a: &[T], b: &[T], eq: impl Fn(&T, &T) -> bool) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| eq(x, y))
}

fn body(a: &Body, b: &Body) -> bool {
    all(&a.items, &b.items, item)
}

fn item(a: &Item, b: &Item) -> bool {
    match (a, b) {
        (Item::Attribute(x), Item::Attribute(y)) | (Item::Locked(x), Item::Locked(y)) => attribute(x, y),
        (Item::Override(x), Item::Override(y)) => {
            path(&x.path, &y.path) && expr(&x.value, &y.value) && string(&x.reason, &y.reason)
        }
        (Item::Allow(x), Item::Allow(y)) => ident(&x.policy, &y.policy) && string(&x.reason, &y.reason),
        (Item::Patch(x), Item::Patch(y)) => {
            ident(&x.target, &y.target)
                && ident(&x.kind, &y.kind)
                && match (&x.reason, &y.reason) {
                    (Some(a), Some(b)) => string(a, b),
                    (None, None) => true,
                    _ => false,
                }
                && all(&x.sets, &y.sets, attribute)
        }
        (Item::Block(x), Item::Block(y)) => {
            ident(&x.kind, &y.kind)
                && all(&x.labels, &y.labels, ident)
                && match (&x.from, &y.from) {
                    (Some(f), Some(g)) => ident(f, g),
                    (None, None) => true,
                    _ => false,
                }
                && body(&x.body, &y.body)
        }
        _ => false,
    }
}

fn attribute(a: &Attribute, b: &Attribute) -> bool {
    path(&a.path, &b.path) && a.op == b.op && expr(&a.value, &b.value)
}

fn ident(a: &Ident, b: &Ident) -> bool {
    a.name == b.name
}

fn path(a: &Path, b: &Path) -> bool {
    all(&a.segments, &b.segments, |x, y| match (x, y) {
        (Segment::Key(k, _), Segment::Key(l, _)) => k == l,
        (Segment::Index(i, _), Segment::Index(j, _)) => i == j,
        (Segment::Select { key: k, value: v, .. }, Segment::Select { key: l, value: w, .. }) => k == l && v == w,
        _ => false,
    })
}

fn string(a: &StrLit, b: &StrLit) -> bool {
    all(&a.parts, &b.parts, |x, y| match (x, y) {
        (StrPart::Lit(s), StrPart::Lit(t)) => s == t,
        (StrPart::Interp(p, _), StrPart::Interp(q, _)) => p == q,
        _ => false,
    })
}

fn expr(a: &Expr, b: &Expr) -> bool {
    // Long `and` / `or` chains nest to the left and `not not ...` nests too:
    // walk those spines in a loop rather than by recursion.
    let (mut a, mut b) = (a, b);
    loop {
        match (&a.kind, &b.kind) {
            (ExprKind::Binary { op: o, lhs: l, rhs: r }, ExprKind::Binary { op: p, lhs: m, rhs: s }) => {
                if o != p || !expr(r, s) {
                    return false;
                }
                (a, b) = (l, m);
            }
            (ExprKind::Not(x), ExprKind::Not(y)) => (a, b) = (x, y),
            _ => return leaf(a, b),
        }
    }
}

fn leaf(a: &Expr, b: &Expr) -> bool {
    match (&a.kind, &b.kind) {
        (ExprKind::Str(s), ExprKind::Str(t)) => string(s, t),
        (ExprKind::Number { text: s, .. }, ExprKind::Number { text: t, .. }) => s == t,
        (ExprKind::Quantity { number: n, unit: u, .. }, ExprKind::Quantity { number: m, unit: v, .. }) => {
            n == m && u == v
        }
        (ExprKind::Bool(x), ExprKind::Bool(y)) => x == y,
        (ExprKind::Null, ExprKind::Null) => true,
        (ExprKind::Ref(p), ExprKind::Ref(q)) => all(p, q, ident),
        (ExprKind::List(p), ExprKind::List(q)) => all(p, q, expr),
        (ExprKind::Map(p), ExprKind::Map(q)) => body(p, q),
        (ExprKind::Call { name: n, args: p }, ExprKind::Call { name: m, args: q }) => ident(n, m) && all(p, q, expr),
        (ExprKind::Tagged { tag: t, body: p }, ExprKind::Tagged { tag: u, body: q }) => ident(t, u) && body(p, q),
        _ => false,
    }
}
