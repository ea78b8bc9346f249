//! Evaluation of policy conditions (`when`, `require`) on one service in one
//! environment.
//!
//! A reference names a value of the service (`replicas`, `autoscale.min`,
//! `service.name`), of the workspace (`workspace.registry`) or the current
//! environment (`environment`, `environment.cluster`); a bare word that is
//! none of these is a symbol (`production`, `cron`). Quantities compare by
//! their meaning, as the schema types them: `cpu <= limits.cpu` compares
//! cores, `memory < 1Gi` bytes, `500m` next to a cpu is millicores and next
//! to a duration minutes. Every service value the condition read is recorded,
//! so that a failing policy can point at the line that set it.

use crate::ast::{BinOp, Expr, ExprKind, StrPart};
use crate::model::Instance;
use crate::schema::{Record, Type};
use crate::scope::{Found, Meaning, Place};
use crate::span::Span;
use crate::value::{Origin, Value};
use crate::workspace::{Environment, Workspace};

/// A value during evaluation.
#[derive(Clone, Debug, PartialEq)]
pub enum EVal {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    List(Vec<EVal>),
}

impl EVal {
    fn describe(&self) -> &'static str {
        match self {
            EVal::Null => "null",
            EVal::Bool(_) => "a boolean",
            EVal::Num(_) => "a number",
            EVal::Str(_) => "a string",
            EVal::List(_) => "a list",
        }
    }

    /// Truth for `when`/`require`/`and`/`or`: unset counts as false.
    pub fn truthy(&self) -> Option<bool> {
        match self {
            EVal::Bool(b) => Some(*b),
            EVal::Null => Some(false),
            _ => None,
        }
    }
}

/// What a condition can see.
pub struct Scope<'a> {
    pub service: &'a str,
    pub instance: &'a Instance,
    pub workspace: &'a Workspace,
    pub environment: &'a Environment,
    pub schema: &'a Record,
    /// The generated objects, for `generated(...)` (only where they exist:
    /// when the service is rendered).
    pub objects: Option<&'a dyn Objects>,
}

impl<'a> Scope<'a> {
    /// The names the condition sees.
    fn names(&self) -> crate::scope::Scope<'a> {
        crate::scope::Scope {
            service: self.service,
            values: &self.instance.values,
            resources: &self.instance.resources,
            workspace: self.workspace,
            environment: self.environment,
        }
    }
}

/// The generated objects of a service in one environment.
pub trait Objects: Sync {
    /// The values a selector (`kubernetes/*:..hostNetwork`) finds, each with
    /// the origin of the patch that wrote it, if one did.
    fn select(&self, selector: &str) -> Result<Vec<(EVal, Option<&Origin>)>, String>;
}

/// An evaluation error: where, and what went wrong.
pub type Error = (Span, String);

/// Evaluates a condition; `read` collects the origins of service values
/// used (pass a `Vec` only when they are wanted: for a message).
pub fn eval<'a>(e: &Expr, s: &Scope<'a>, read: &mut Vec<&'a Origin>) -> Result<EVal, Error> {
    eval_hint(e, s, read, None)
}

fn eval_hint<'a>(e: &Expr, s: &Scope<'a>, read: &mut Vec<&'a Origin>, hint: Option<&Type>) -> Result<EVal, Error> {
    Ok(match &e.kind {
        ExprKind::Null => EVal::Null,
        ExprKind::Bool(b) => EVal::Bool(*b),
        ExprKind::Number { value, .. } => EVal::Num(*value),
        ExprKind::Quantity { value, unit, .. } => EVal::Num(normalize(*value, unit, hint)),
        ExprKind::Str(lit) => {
            let mut out = String::new();
            for p in &lit.parts {
                match p {
                    StrPart::Lit(t) => out.push_str(t),
                    StrPart::Interp(path, span) => match reference(path, *span, s, read)?.0 {
                        EVal::Str(t) => out.push_str(&t),
                        EVal::Num(n) => out.push_str(&n.to_string()),
                        EVal::Bool(b) => out.push_str(&b.to_string()),
                        other => {
                            return Err((*span, format!("`${{{}}}` is {}", path.join("."), other.describe())));
                        }
                    },
                }
            }
            EVal::Str(out)
        }
        ExprKind::Ref(parts) => {
            let path: Vec<String> = parts.iter().map(|p| p.name.clone()).collect();
            reference(&path, e.span, s, read)?.0
        }
        ExprKind::List(items) => {
            EVal::List(items.iter().map(|i| eval_hint(i, s, read, hint)).collect::<Result<_, _>>()?)
        }
        ExprKind::Not(inner) => {
            let v = eval(inner, s, read)?;
            EVal::Bool(!truth(&v, inner.span)?)
        }
        ExprKind::Binary { op: op @ (BinOp::And | BinOp::Or), lhs, rhs } => {
            let l = truth(&eval(lhs, s, read)?, lhs.span)?;
            // Short-circuit, as a reader expects: `when` guards `require`.
            if (*op == BinOp::And && !l) || (*op == BinOp::Or && l) {
                return Ok(EVal::Bool(l));
            }
            EVal::Bool(truth(&eval(rhs, s, read)?, rhs.span)?)
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let lt = type_of(lhs, s);
            let rt = type_of(rhs, s);
            let l = eval_hint(lhs, s, read, rt)?;
            let r = eval_hint(rhs, s, read, lt)?;
            EVal::Bool(compare(*op, &l, &r, e.span)?)
        }
        ExprKind::Call { name, args } if name.name == "generated" => {
            let Some(objects) = s.objects else {
                return Err((
                    e.span,
                    "`generated(...)` reads the generated objects, which exist only in a build".into(),
                ));
            };
            let mut found = Vec::new();
            for a in args {
                let selector = match &a.kind {
                    ExprKind::Str(lit) => lit.as_plain(),
                    _ => None,
                }
                .ok_or((a.span, "`generated` takes plain strings".to_string()))?;
                for (v, origin) in objects.select(&selector).map_err(|m| (a.span, m))? {
                    read.extend(origin);
                    found.push(v);
                }
            }
            EVal::List(found)
        }
        ExprKind::Call { name, args } => {
            let vals: Vec<EVal> = args.iter().map(|a| eval(a, s, read)).collect::<Result<_, _>>()?;
            call(&name.name, &vals, e.span)?
        }
        ExprKind::Map(_) | ExprKind::Tagged { .. } => {
            return Err((e.span, "a condition cannot use a map".into()));
        }
    })
}

fn truth(v: &EVal, span: Span) -> Result<bool, Error> {
    v.truthy().ok_or_else(|| (span, format!("expected a condition (true or false); found {}", v.describe())))
}

/// Resolves a dotted reference; returns its value and its schema type.
/// What the name means is [`crate::scope`]'s answer; a condition differs
/// from a string only in reading unprefixed attributes and symbols (see
/// [`Place::Condition`]), and in checking an attribute against the schema
/// (for its type, which gives quantities their meaning).
fn reference<'a>(
    path: &[String],
    span: Span,
    s: &Scope<'a>,
    read: &mut Vec<&'a Origin>,
) -> Result<(EVal, Option<&'a Type>), Error> {
    let names = s.names();
    let found = match names.classify(path, Place::Condition) {
        Meaning::Attribute(rest) => {
            let keys: Vec<&str> = rest.iter().map(String::as_str).collect();
            let ty = field_type(s.schema, &keys);
            if ty.is_none() {
                if let [word] = path {
                    return Ok((EVal::Str(word.clone()), None)); // a symbol
                }
                return Err((span, format!("`{}` is not an attribute of a service", path.join("."))));
            }
            return Ok(match names.find(Meaning::Attribute(rest)) {
                Found::Value(v, origin) => {
                    read.extend(origin);
                    (from_value(&v, ty), ty)
                }
                _ => (EVal::Null, ty),
            });
        }
        Meaning::Other => {
            return Err((span, format!("`{}` is not an attribute of a service", path.join("."))));
        }
        // Values of the environment and the workspace are not the
        // service's: a failing policy does not point at them.
        name => names.find(name),
    };
    Ok((
        match found {
            Found::Text(t) => EVal::Str(t.into_owned()),
            Found::Value(v, _) => from_value(&v, None),
            _ => EVal::Null,
        },
        None,
    ))
}

fn type_of<'a>(e: &Expr, s: &Scope<'a>) -> Option<&'a Type> {
    let ExprKind::Ref(parts) = &e.kind else {
        return None;
    };
    let path: Vec<String> = parts.iter().map(|p| p.name.clone()).collect();
    match s.names().classify(&path, Place::Condition) {
        Meaning::Attribute(rest) => field_type(s.schema, &rest.iter().map(String::as_str).collect::<Vec<_>>()),
        _ => None,
    }
}

fn field_type<'a>(rec: &'a Record, path: &[&str]) -> Option<&'a Type> {
    let (first, rest) = path.split_first()?;
    let field = rec.fields.get(*first)?;
    if rest.is_empty() {
        return Some(&field.ty);
    }
    match &field.ty {
        Type::Record(inner) => field_type(inner, rest),
        _ => None,
    }
}

/// A resolved value as an evaluation value, quantities normalized by type.
pub fn from_value(v: &Value, ty: Option<&Type>) -> EVal {
    match v {
        Value::Null => EVal::Null,
        Value::Bool(b) => EVal::Bool(*b),
        Value::Number(n, _) => EVal::Num(*n),
        Value::Quantity { value, unit, .. } => EVal::Num(normalize(*value, unit, ty)),
        Value::Str(t) => EVal::Str(t.clone()),
        Value::Ref(p) => EVal::Str(p.join(".")),
        Value::Secret(t) | Value::File(t) | Value::Template(t) => EVal::Str(t.clone()),
        Value::List(items) => EVal::List(items.iter().map(|n| from_value(&n.value, inner(ty))).collect()),
        Value::Interpolated(_) | Value::Call(..) | Value::Tagged(..) | Value::Map(_) => EVal::Null,
    }
}

fn inner(ty: Option<&Type>) -> Option<&Type> {
    match ty {
        Some(Type::List(t)) => Some(t),
        _ => None,
    }
}

/// A quantity in base units: cores, bytes, seconds, percent.
pub fn normalize(value: f64, unit: &str, ty: Option<&Type>) -> f64 {
    let factor = match (unit, ty) {
        ("m", Some(Type::Duration)) => 60.0,
        ("m", _) => 0.001,
        ("ms", _) => 0.001,
        ("s", _) => 1.0,
        ("h", _) => 3600.0,
        ("d", _) => 86400.0,
        ("Ki", _) => 1024.0,
        ("Mi", _) => 1024.0 * 1024.0,
        ("Gi", _) => 1024.0 * 1024.0 * 1024.0,
        ("Ti", _) => 1024.0_f64.powi(4),
        ("K" | "k", _) => 1e3,
        ("M", _) => 1e6,
        ("G", _) => 1e9,
        ("T", _) => 1e12,
        _ => 1.0,
    };
    value * factor
}

fn compare(op: BinOp, l: &EVal, r: &EVal, span: Span) -> Result<bool, Error> {
    Ok(match op {
        BinOp::Eq => equal(l, r),
        BinOp::Ne => !equal(l, r),
        BinOp::In | BinOp::NotIn => {
            let found = match r {
                EVal::List(items) => items.iter().any(|i| equal(l, i)),
                EVal::Str(hay) => matches!(l, EVal::Str(n) if hay.contains(n.as_str())),
                EVal::Null => false,
                other => {
                    return Err((span, format!("`in` looks inside a list or a string; found {}", other.describe())));
                }
            };
            found == (op == BinOp::In)
        }
        _ => match (l, r) {
            (EVal::Null, _) | (_, EVal::Null) => false,
            (EVal::Num(a), EVal::Num(b)) => match op {
                BinOp::Lt => a < b,
                BinOp::Le => a <= b,
                BinOp::Gt => a > b,
                _ => a >= b,
            },
            (EVal::Str(a), EVal::Str(b)) => match op {
                BinOp::Lt => a < b,
                BinOp::Le => a <= b,
                BinOp::Gt => a > b,
                _ => a >= b,
            },
            (a, b) => {
                return Err((
                    span,
                    format!("cannot order {} and {} with `{}`", a.describe(), b.describe(), op.as_str()),
                ));
            }
        },
    })
}

fn equal(a: &EVal, b: &EVal) -> bool {
    match (a, b) {
        (EVal::Num(x), EVal::Num(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        (EVal::List(x), EVal::List(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b)),
        _ => a == b,
    }
}

/// The functions a condition may call.
pub const FUNCTIONS: &[&str] = &["starts_with", "ends_with", "contains", "len", "all", "like", "generated"];

fn call(name: &str, args: &[EVal], span: Span) -> Result<EVal, Error> {
    let strs = |args: &[EVal]| match args {
        [EVal::Str(a), EVal::Str(b)] => Ok(Some((a.clone(), b.clone()))),
        [EVal::Null, _] | [_, EVal::Null] => Ok(None),
        _ => Err((span, format!("`{name}` takes two strings"))),
    };
    // `starts_with`, `ends_with` and `like` of a list: every item. With more
    // than one pattern (or a list of them: `workspace.vendor_registries`),
    // a text matches when any of them does.
    let each = |args: &[EVal], f: &dyn Fn(&str, &str) -> bool| -> Result<bool, Error> {
        match args {
            [EVal::List(items), EVal::Str(b)] => Ok(items.iter().all(|i| matches!(i, EVal::Str(a) if f(a, b)))),
            [_, _] if !matches!(args.get(1), Some(EVal::List(_))) => Ok(strs(args)?.is_some_and(|(a, b)| f(&a, &b))),
            [text, patterns @ ..] if !patterns.is_empty() => {
                let mut any = Vec::new();
                for p in patterns {
                    match p {
                        EVal::Str(p) => any.push(p.as_str()),
                        EVal::List(ps) => {
                            for p in ps {
                                match p {
                                    EVal::Str(p) => any.push(p.as_str()),
                                    other => {
                                        return Err((
                                            span,
                                            format!("`{name}` matches strings; found {}", other.describe()),
                                        ));
                                    }
                                }
                            }
                        }
                        EVal::Null => {}
                        other => return Err((span, format!("`{name}` matches strings; found {}", other.describe()))),
                    }
                }
                let one = |t: &EVal| matches!(t, EVal::Str(a) if any.iter().any(|p| f(a, p)));
                match text {
                    EVal::List(items) => Ok(items.iter().all(one)),
                    EVal::Null => Ok(false),
                    t => Ok(one(t)),
                }
            }
            _ => Err((span, format!("`{name}` takes a text (or a list of texts) and one or more patterns"))),
        }
    };
    Ok(match name {
        "starts_with" => EVal::Bool(each(args, &|a, b| a.starts_with(b))?),
        "ends_with" => EVal::Bool(each(args, &|a, b| a.ends_with(b))?),
        "like" => EVal::Bool(each(args, &glob)?),
        "all" => match args {
            [EVal::List(items), x] => EVal::Bool(items.iter().all(|i| equal(i, x))),
            _ => return Err((span, "`all` takes a list and a value".into())),
        },
        "contains" => match args {
            [EVal::List(items), x] => EVal::Bool(items.iter().any(|i| equal(i, x))),
            _ => EVal::Bool(strs(args)?.is_some_and(|(a, b)| a.contains(&b))),
        },
        "len" => match args {
            [EVal::List(items)] => EVal::Num(items.len() as f64),
            [EVal::Str(t)] => EVal::Num(t.chars().count() as f64),
            [EVal::Null] => EVal::Num(0.0),
            _ => return Err((span, "`len` takes one list or string".into())),
        },
        _ => {
            return Err((span, format!("unknown function `{name}`; the functions are {}", FUNCTIONS.join(", "))));
        }
    })
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(text: &str, pattern: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else { return text.is_empty() };
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for p in middle {
        match rest.find(p) {
            Some(i) => rest = rest.get(i + p.len()..).unwrap_or(""),
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod glob_tests {
    use super::glob;

    #[test]
    fn stars_match_any_run() {
        assert!(glob("ghcr.io/acme/x:1@sha256:ab", "ghcr.io/acme/*@sha256:*"));
        assert!(!glob("ghcr.io/acme/x:1", "*@sha256:*"));
        assert!(glob("abc", "abc"));
        assert!(!glob("abcd", "abc"));
        assert!(glob("a", "*a*"));
        assert!(!glob("ab", "a*ba"));
    }
}

#[cfg(test)]
mod pattern_tests {
    use super::{EVal, call};
    use crate::span::Span;

    fn s(x: &str) -> EVal {
        EVal::Str(x.to_string())
    }

    #[test]
    fn several_patterns_match_when_any_does() {
        let registries = EVal::List(vec![s("docker.io/library/"), s("registry.k8s.io/")]);
        let images = EVal::List(vec![s("ghcr.io/acme/a:1"), s("docker.io/library/busybox:1")]);
        let yes = call("starts_with", &[images.clone(), s("ghcr.io/acme/"), registries.clone()], Span::default());
        assert_eq!(yes.ok(), Some(EVal::Bool(true)));
        let no = call("starts_with", &[images, registries.clone()], Span::default());
        assert_eq!(no.ok(), Some(EVal::Bool(false)), "every item must match one");
        let one = call("starts_with", &[s("docker.io/library-x/a"), registries.clone()], Span::default());
        assert_eq!(one.ok(), Some(EVal::Bool(false)));
        // Two plain strings keep their meaning.
        assert_eq!(call("starts_with", &[s("abc"), s("ab")], Span::default()).ok(), Some(EVal::Bool(true)));
        assert!(call("starts_with", &[s("abc"), EVal::Num(1.0)], Span::default()).is_err());
        assert!(call("starts_with", &[s("abc"), s("x"), EVal::Num(1.0)], Span::default()).is_err());
    }
}
