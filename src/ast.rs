//! The typed syntax tree of a `.plat` file, exactly as written.
//!
//! Produced by [`parse`](crate::parse); every node carries its [`Span`].
//! Nothing here knows what a service or a tier is: meaning comes later, from
//! the schema the standard library defines.

use crate::span::Span;

/// A whole file: one body.
#[derive(Clone, Debug)]
pub struct File {
    pub body: Body,
}

/// Attributes and blocks, in source order.
#[derive(Clone, Debug, Default)]
pub struct Body {
    pub items: Vec<Item>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum Item {
    Attribute(Attribute),
    /// `locked path = value`
    Locked(Attribute),
    /// `override path = value because "reason"`
    Override(Override),
    /// `allow policy because "reason"`
    Allow(Allow),
    /// `patch target Kind [because "reason"] { path = value ... }`
    Patch(Patch),
    Block(Block),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Attribute(a) | Item::Locked(a) => a.span,
            Item::Override(o) => o.span,
            Item::Allow(a) => a.span,
            Item::Patch(p) => p.span,
            Item::Block(b) => b.span,
        }
    }
}

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `a.b."c.d"[0][name=app]`
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub segments: Vec<Segment>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Segment {
    /// `.name` or `."quoted name"`
    Key(String, Span),
    /// `[3]`
    Index(usize, Span),
    /// `[name=app]`: the list item whose `name` is `app`
    Select { key: String, value: String, span: Span },
}

impl Segment {
    pub fn span(&self) -> Span {
        match self {
            Segment::Key(_, s) | Segment::Index(_, s) | Segment::Select { span: s, .. } => *s,
        }
    }
}

impl Path {
    /// The path as the user would write it again.
    pub fn display(&self) -> String {
        let mut out = String::new();
        for seg in &self.segments {
            match seg {
                Segment::Key(k, _) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') && !k.is_empty() {
                        out.push_str(k);
                    } else {
                        out.push_str(&format!("{k:?}"));
                    }
                }
                Segment::Index(i, _) => out.push_str(&format!("[{i}]")),
                Segment::Select { key, value, .. } => out.push_str(&format!("[{key}={value}]")),
            }
        }
        out
    }

    /// The keys of a path that has no list selectors, or `None`.
    pub fn keys(&self) -> Option<Vec<&str>> {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Key(k, _) => Some(k.as_str()),
                _ => None,
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    /// `=`: replace (maps merge by key)
    Set,
    /// `+=`: append to a list
    Append,
}

#[derive(Clone, Debug)]
pub struct Attribute {
    pub path: Path,
    pub op: AssignOp,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Override {
    pub path: Path,
    pub value: Expr,
    pub reason: StrLit,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Allow {
    pub policy: Ident,
    pub reason: StrLit,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Patch {
    pub target: Ident,
    pub kind: Ident,
    /// `patch kubernetes Deployment because "..." { }`: required when the
    /// patch writes a path a policy reads.
    pub reason: Option<StrLit>,
    pub sets: Vec<Attribute>,
    pub span: Span,
}

/// `kind label label from parent { body }`
#[derive(Clone, Debug)]
pub struct Block {
    pub kind: Ident,
    pub labels: Vec<Ident>,
    pub from: Option<Ident>,
    pub body: Body,
    pub span: Span,
}

/// A string literal with its interpolations decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct StrLit {
    pub parts: Vec<StrPart>,
    pub span: Span,
}

impl StrLit {
    /// The text when the string has no interpolation.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                StrPart::Lit(s) => out.push_str(s),
                StrPart::Interp(..) => return None,
            }
        }
        Some(out)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum StrPart {
    Lit(String),
    /// `${a.b.c}`: the dotted reference and its span
    Interp(Vec<String>, Span),
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Str(StrLit),
    /// A plain number; `text` is what was written (`2.50` stays `2.50`).
    Number {
        value: f64,
        text: String,
    },
    /// A number with a unit: `500m`, `512Mi`, `30s`, `99.9%`.
    Quantity {
        value: f64,
        number: String,
        unit: String,
    },
    Bool(bool),
    Null,
    /// `name` or `a.b.c`: a symbol or a reference, decided by the schema.
    Ref(Vec<Ident>),
    List(Vec<Expr>),
    /// `{ key = value ... }`
    Map(Body),
    Call {
        name: Ident,
        args: Vec<Expr>,
    },
    /// `aws { region = "eu-west-1" }`
    Tagged {
        tag: Ident,
        body: Body,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Not(Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    And,
    Or,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::NotIn => "not in",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }
}

impl Expr {
    /// The single name of a one-segment reference (`gold`, `production`).
    pub fn as_symbol(&self) -> Option<&Ident> {
        match &self.kind {
            ExprKind::Ref(parts) if parts.len() == 1 => parts.first(),
            _ => None,
        }
    }

    /// Words for what this expression is, for messages ("a string", "a list").
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            ExprKind::Str(_) => "a string",
            ExprKind::Number { .. } => "a number",
            ExprKind::Quantity { unit, .. } if unit == "%" => "a percentage",
            ExprKind::Quantity { .. } => "a quantity",
            ExprKind::Bool(_) => "a boolean",
            ExprKind::Null => "null",
            ExprKind::Ref(p) if p.len() == 1 => "a name",
            ExprKind::Ref(_) => "a reference",
            ExprKind::List(_) => "a list",
            ExprKind::Map(_) => "a map",
            ExprKind::Call { .. } => "a call",
            ExprKind::Tagged { .. } => "a tagged map",
            ExprKind::Binary { .. } | ExprKind::Not(_) => "a condition",
        }
    }
}

impl Body {
    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        self.items.iter().filter_map(|i| match i {
            Item::Attribute(a) => Some(a),
            _ => None,
        })
    }

    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.items.iter().filter_map(|i| match i {
            Item::Block(b) => Some(b),
            _ => None,
        })
    }

    /// The attribute set at a one-key path, the last one if repeated.
    pub fn get(&self, key: &str) -> Option<&Attribute> {
        self.attributes().filter(|a| matches!(a.path.segments.as_slice(), [Segment::Key(k, _)] if k == key)).last()
    }
}
