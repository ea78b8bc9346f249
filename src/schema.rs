//! The schema the standard library defines (`schema service { ... }`) and the
//! type check of resolved values against it.
//!
//! A schema body declares each attribute as `name = TYPE`, where TYPE is a
//! type name (`string`, `port`, `cpu`, ...) or a call (`list(tag)`,
//! `enum(a, b)`, `required(string)`); a nested block is a record.

use std::collections::{BTreeMap, BTreeSet};

use crate::ast::{self, ExprKind};
use crate::diag::{Diagnostic, one_of, unknown_help};
use crate::span::Span;
use crate::value::{Map, Node, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Any,
    String,
    Int,
    Number,
    Bool,
    Port,
    Cpu,
    Memory,
    /// A five-field cron expression or a macro (`@daily`).
    Cron,
    Duration,
    Percent,
    /// A DNS label.
    Name,
    /// A Backstage tag.
    Tag,
    Host,
    Url,
    Digest,
    Secret,
    File,
    /// A string, number, bool, secret or reference to another value's output.
    Setting,
    /// A service of the workspace or a resource of this service.
    Dependency,
    Tier,
    Language,
    Enum(Vec<String>),
    List(Box<Type>),
    Map(Box<Type>),
    Record(Record),
}

/// The fields of a block.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Record {
    pub fields: BTreeMap<String, Field>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub ty: Type,
    pub required: bool,
    pub span: Span,
}

const TYPE_NAMES: &[&str] = &[
    "any",
    "string",
    "int",
    "number",
    "bool",
    "port",
    "cpu",
    "memory",
    "duration",
    "percent",
    "name",
    "tag",
    "host",
    "url",
    "digest",
    "secret",
    "file",
    "setting",
    "dependency",
    "tier",
    "language",
];

impl Type {
    /// Words for messages: "a port number (1-65535)".
    pub fn describe(&self) -> String {
        match self {
            Type::Any => "any value".into(),
            Type::String => "a string".into(),
            Type::Int => "a whole number".into(),
            Type::Number => "a number".into(),
            Type::Bool => "`true` or `false`".into(),
            Type::Port => "a port number (1-65535)".into(),
            Type::Cpu => "a CPU quantity such as `500m` or `2`".into(),
            Type::Memory => "a memory quantity such as `512Mi` or `2Gi`".into(),
            Type::Cron => "a cron schedule such as \"*/15 * * * *\" or \"@daily\"".into(),
            Type::Duration => "a duration such as `30s`, `5m` or `300ms`".into(),
            Type::Percent => "a percentage such as `70%`".into(),
            Type::Name => "a name of lowercase letters, digits and `-` (a DNS label)".into(),
            Type::Tag => "a tag of lowercase letters, digits and `-`".into(),
            Type::Host => "a host name such as \"api.example.com\"".into(),
            Type::Url => "an http(s) URL".into(),
            Type::Digest => "an image digest \"sha256:<64 hex digits>\"".into(),
            Type::Secret => "a secret reference `secret(\"name/key\")`".into(),
            Type::File => "a file reference `file(\"path\")`".into(),
            Type::Setting => "a string, number, boolean, `secret(...)` or a reference such as `payments-db.url`".into(),
            Type::Dependency => "the name of a service or of a resource of this service".into(),
            Type::Tier => "a tier".into(),
            Type::Language => "a language".into(),
            Type::Enum(v) => {
                let v: Vec<String> = v.iter().map(|s| format!("`{s}`")).collect();
                format!("one of {}", one_of(&v))
            }
            Type::List(t) => format!("a list of {}", plural(&t.describe())),
            Type::Map(t) if matches!(**t, Type::Record(_)) => "a map of blocks `{ ... }`".into(),
            Type::Map(t) => format!("a map of {}", plural(&t.describe())),
            Type::Record(_) => "a block `{ ... }`".into(),
        }
    }
}

fn plural(s: &str) -> String {
    s.strip_prefix("a ").or_else(|| s.strip_prefix("an ")).map(|r| format!("{r}s")).unwrap_or_else(|| s.to_string())
}

/// The name a schema attribute declares: one name (a dotted one is an
/// error: a field of a block is declared in a nested block).
pub(crate) fn field_name<'a>(a: &'a ast::Attribute, diags: &mut Vec<Diagnostic>) -> Option<&'a str> {
    let keys = a.path.keys()?;
    let [key] = keys.as_slice() else {
        diags.push(
            Diagnostic::error("platc::schema::bad_type", "a schema field is one name")
                .label(a.path.span, "dotted name")
                .help("nest a block to declare a field of a block"),
        );
        return None;
    };
    Some(key)
}

/// Reads a schema body.
pub(crate) fn record_from_body(body: &ast::Body, diags: &mut Vec<Diagnostic>) -> Record {
    let mut rec = Record::default();
    for item in &body.items {
        match item {
            ast::Item::Attribute(a) => {
                let Some(key) = field_name(a, diags) else { continue };
                let (ty, required) = type_from_expr(&a.value, diags);
                rec.fields.insert(key.to_string(), Field { ty, required, span: a.path.span });
            }
            ast::Item::Block(b) if b.labels.is_empty() => {
                let inner = record_from_body(&b.body, diags);
                rec.fields
                    .insert(b.kind.name.clone(), Field { ty: Type::Record(inner), required: false, span: b.kind.span });
            }
            other => diags.push(
                Diagnostic::error("platc::schema::bad_type", "a schema holds `field = type` and blocks")
                    .label(other.span(), "not a field"),
            ),
        }
    }
    rec
}

pub(crate) fn type_from_expr(e: &ast::Expr, diags: &mut Vec<Diagnostic>) -> (Type, bool) {
    match &e.kind {
        ExprKind::Ref(p) if p.len() == 1 => {
            let name = p.first().map(|i| i.name.as_str()).unwrap_or("");
            let ty = match name {
                "any" => Type::Any,
                "string" => Type::String,
                "int" => Type::Int,
                "number" => Type::Number,
                "bool" => Type::Bool,
                "port" => Type::Port,
                "cpu" => Type::Cpu,
                "memory" => Type::Memory,
                "cron" => Type::Cron,
                "duration" => Type::Duration,
                "percent" => Type::Percent,
                "name" => Type::Name,
                "tag" => Type::Tag,
                "host" => Type::Host,
                "url" => Type::Url,
                "digest" => Type::Digest,
                "secret" => Type::Secret,
                "file" => Type::File,
                "setting" => Type::Setting,
                "dependency" => Type::Dependency,
                "tier" => Type::Tier,
                "language" => Type::Language,
                _ => {
                    diags.push(
                        Diagnostic::error("platc::schema::bad_type", format!("unknown type `{name}`"))
                            .label(e.span, "not a type")
                            .help(unknown_help(name, "type", TYPE_NAMES.iter().copied())),
                    );
                    Type::Any
                }
            };
            (ty, false)
        }
        ExprKind::Call { name, args } => match (name.name.as_str(), args.as_slice()) {
            ("required", [inner]) => (type_from_expr(inner, diags).0, true),
            ("list", [inner]) => (Type::List(Box::new(type_from_expr(inner, diags).0)), false),
            // `map({ field = type ... })`: a map of records, each entry a
            // block of its own (`init { wait { image = "..." } }`).
            ("map", [ast::Expr { kind: ExprKind::Map(body), .. }]) => {
                (Type::Map(Box::new(Type::Record(record_from_body(body, diags)))), false)
            }
            ("map", [inner]) => (Type::Map(Box::new(type_from_expr(inner, diags).0)), false),
            ("enum", values) if !values.is_empty() => {
                let mut words = Vec::new();
                for v in values {
                    match v.as_symbol() {
                        Some(i) => words.push(i.name.clone()),
                        None => diags.push(
                            Diagnostic::error("platc::schema::bad_type", "enum values are bare names")
                                .label(v.span, "not a name"),
                        ),
                    }
                }
                (Type::Enum(words), false)
            }
            _ => {
                diags.push(
                    Diagnostic::error("platc::schema::bad_type", format!("`{}(...)` is not a type", name.name))
                        .label(e.span, "not a type")
                        .help("types are names (`string`, `port`, ...) or `list(T)`, `map(T)`, `map({ field = T ... })`, `enum(a, b)`, `required(T)`"),
                );
                (Type::Any, false)
            }
        },
        _ => {
            diags.push(
                Diagnostic::error("platc::schema::bad_type", format!("{} is not a type", e.describe()))
                    .label(e.span, "not a type")
                    .help(
                        "types are names (`string`, `port`, ...) or `list(T)`, `map(T)`, `enum(a, b)`, `required(T)`",
                    ),
            );
            (Type::Any, false)
        }
    }
}

/// What a type check needs to know about the workspace.
pub(crate) struct Names<'a> {
    pub tiers: &'a BTreeSet<String>,
    pub languages: &'a BTreeSet<String>,
    pub services: &'a BTreeSet<String>,
    /// Resources of the service being checked: name → output names.
    pub resources: &'a BTreeMap<String, BTreeSet<String>>,
}

/// Checks every value of `map` against `rec`; `what` names the block for
/// messages ("service", "service `payments` › health").
pub(crate) fn check_record(map: &Map, rec: &Record, what: &str, at: Span, names: &Names, diags: &mut Vec<Diagnostic>) {
    check_fields(map, rec, &Where { parent: None, name: what }, at, names, diags);
}

/// Where a value sits, for messages: `service.health.liveness`. Built as a
/// chain on the stack and written out only when a message needs it.
pub(crate) struct Where<'a> {
    parent: Option<&'a Where<'a>>,
    name: &'a str,
}

impl std::fmt::Display for Where<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(p) = self.parent {
            write!(f, "{p}.")?;
        }
        f.write_str(self.name)
    }
}

fn check_fields(map: &Map, rec: &Record, what: &Where, at: Span, names: &Names, diags: &mut Vec<Diagnostic>) {
    for (key, node) in map {
        match rec.fields.get(key) {
            Some(field) => check_at(node, &field.ty, &Where { parent: Some(what), name: key }, names, diags),
            None => diags.push(
                Diagnostic::error("platc::check::unknown_attribute", format!("unknown attribute `{key}` in {}", what))
                    .label(node.origin.span, "not in the schema")
                    .help(unknown_help(key, "attribute", rec.fields.keys().map(String::as_str))),
            ),
        }
    }
    for (key, field) in &rec.fields {
        if field.required && map.get(key).is_none_or(|n| n.value == Value::Null) {
            diags.push(
                Diagnostic::error("platc::check::missing_attribute", format!("{} needs `{key}`", what))
                    .label(at, format!("`{key}` is not set"))
                    .also(field.span, "required by the schema here")
                    .help(format!("add `{key} = ...` ({})", field.ty.describe())),
            );
        }
    }
}

fn check_at(node: &Node, ty: &Type, at: &Where, names: &Names, diags: &mut Vec<Diagnostic>) {
    let v = &node.value;
    if *v == Value::Null || *ty == Type::Any {
        return;
    }
    let path = at.name;
    let span = node.origin.span;
    let bad = |diags: &mut Vec<Diagnostic>, detail: Option<String>| {
        let name = path.rsplit('.').next().unwrap_or(path);
        diags.push(
            Diagnostic::error(
                "platc::check::type_mismatch",
                format!("`{name}` is {}; found {}", ty.describe(), v.describe()),
            )
            .label(span, detail.unwrap_or_else(|| format!("expected {}", ty.describe())))
            .help(example(ty, name)),
        );
    };
    match ty {
        Type::Any => {}
        Type::String => {
            if !matches!(v, Value::Str(_) | Value::Interpolated(_)) {
                bad(diags, None)
            }
        }
        Type::Int => {
            if v.as_i64().is_none() {
                bad(diags, None)
            }
        }
        Type::Number => {
            if !matches!(v, Value::Number(..)) {
                bad(diags, None)
            }
        }
        Type::Bool => {
            if !matches!(v, Value::Bool(_)) {
                bad(diags, None)
            }
        }
        Type::Port => {
            if !v.as_i64().is_some_and(|p| (1..=65535).contains(&p)) {
                bad(diags, None)
            }
        }
        Type::Cpu => match v {
            Value::Number(n, _) if *n > 0.0 => {}
            Value::Quantity { unit, value, .. } if unit == "m" && *value >= 1.0 && value.fract() == 0.0 => {}
            _ => bad(diags, None),
        },
        Type::Memory => match v {
            Value::Number(n, text) => diags.push(
                Diagnostic::error(
                    "platc::check::missing_unit",
                    format!("`{path} = {text}` has no unit: a size needs one"),
                )
                .label(span, format!("{text} bytes? {text} mebibytes?"))
                .help(format!(
                    "write the unit: `{path} = {}Mi` (Ki, Mi, Gi, Ti; or K, M, G, T for powers of 1000)",
                    if *n > 0.0 { text.as_str() } else { "512" }
                )),
            ),
            Value::Quantity { unit, value, .. }
                if ["Ki", "Mi", "Gi", "Ti", "K", "M", "G", "T"].contains(&unit.as_str()) && *value > 0.0 => {}
            Value::Quantity { unit, .. } if unit == "m" || unit == "mi" || unit == "gi" => {
                bad(diags, Some(format!("`{unit}` is not a memory unit; use Mi or Gi")))
            }
            _ => bad(diags, None),
        },
        Type::Cron => match v {
            Value::Str(s) => {
                if let Err(why) = cron(s) {
                    diags.push(
                        Diagnostic::error("platc::check::bad_schedule", format!("`{s}` is not a cron schedule: {why}"))
                            .label(span, why)
                            .help(
                                "write five fields, `minute hour day-of-month month day-of-week`, such as \
                                 `\"30 3 * * *\"` (03:30 every day) or `\"*/15 * * * *\"`, or a macro: \
                                 @hourly, @daily, @weekly, @monthly, @yearly",
                            ),
                    );
                }
            }
            _ => bad(diags, None),
        },
        Type::Duration => match v {
            Value::Quantity { unit, value, .. }
                if ["ms", "s", "m", "h", "d"].contains(&unit.as_str()) && *value >= 0.0 => {}
            _ => bad(diags, None),
        },
        Type::Percent => match v {
            Value::Quantity { unit, value, .. } if unit == "%" && (0.0..=100.0).contains(value) => {}
            _ => bad(diags, None),
        },
        Type::Name => match v {
            Value::Str(s) if is_dns_label(s) => {}
            Value::Ref(p) if p.len() == 1 && p.first().is_some_and(|s| is_dns_label(s)) => {}
            _ => bad(diags, None),
        },
        Type::Tag => match v.as_word() {
            Some(s) if is_tag(s) => {}
            _ => bad(diags, None),
        },
        Type::Host => match v {
            Value::Str(s) if s.starts_with("*.") => {
                bad(diags, Some("a wildcard: one service cannot own every host of a domain; name its host".into()))
            }
            Value::Str(s) if is_ip(s) => {
                bad(diags, Some("an IP address, not a host name (an ingress routes by name)".into()))
            }
            Value::Str(s) if is_host(s) => {}
            _ => bad(diags, None),
        },
        Type::Url => match v {
            Value::Str(s)
                if (s.starts_with("https://") || s.starts_with("http://")) && !s.contains(char::is_whitespace) => {}
            _ => bad(diags, None),
        },
        Type::Digest => match v {
            Value::Str(s) if is_digest(s) => {}
            _ => bad(diags, None),
        },
        Type::Secret => match v {
            Value::Secret(s) => check_secret(s, span, diags),
            _ => bad(diags, None),
        },
        Type::File => {
            if !matches!(v, Value::File(_)) {
                bad(diags, None)
            }
        }
        Type::Setting => match v {
            Value::Str(_) | Value::Interpolated(_) | Value::Number(..) | Value::Bool(_) | Value::Quantity { .. } => {}
            Value::Secret(s) => check_secret(s, span, diags),
            Value::Ref(p) if p.len() == 2 => check_output_ref(p, span, names, diags),
            // `owner.resource.output`: checked against the owner's grants
            // (check::outside, which sees the whole model).
            Value::Ref(p) if p.len() == 3 => {}
            Value::Ref(p) if p.len() == 1 => diags.push(
                Diagnostic::error(
                    "platc::check::type_mismatch",
                    format!("`{}` is a bare name, not a setting", p.join(".")),
                )
                .label(span, "a name, not a value")
                .help(format!(
                    "quote text (`\"{}\"`), or reference an output such as `{}.url`",
                    p.join("."),
                    p.join(".")
                )),
            ),
            _ => bad(diags, None),
        },
        Type::Dependency => match v {
            Value::Ref(p) if p.len() == 1 => {
                let n = p.first().map(String::as_str).unwrap_or("");
                if !names.services.contains(n) && !names.resources.contains_key(n) {
                    let known = names.services.iter().chain(names.resources.keys()).map(String::as_str);
                    diags.push(
                        Diagnostic::error("platc::check::unknown_dependency", format!("unknown dependency `{n}`"))
                            .label(span, "no service of the workspace nor resource of this service has this name")
                            .help(unknown_help(n, "service or resource", known)),
                    );
                }
            }
            _ => bad(diags, None),
        },
        Type::Tier => symbol(v, span, "tier", names.tiers.iter().map(String::as_str), diags),
        Type::Language => symbol(v, span, "language", names.languages.iter().map(String::as_str), diags),
        Type::Enum(words) => {
            let what = path.rsplit('.').next().unwrap_or("value");
            symbol(v, span, what, words.iter().map(String::as_str), diags)
        }
        Type::List(inner) => match v {
            Value::List(items) => {
                for item in items {
                    check_at(item, inner, at, names, diags);
                }
            }
            _ => bad(diags, None),
        },
        Type::Map(inner) => match v {
            Value::Map(m) => {
                // Settings are environment variables: their names are too
                // (and a secret's `<NAME>_FILE`, and a ConfigMap key).
                if **inner == Type::Setting {
                    for (k, item) in m.iter().filter(|(k, _)| !is_env_name(k)) {
                        diags.push(bad_env_name(k, item.origin.span));
                    }
                    // A secret `K` is mounted as a file and `K_FILE` names it,
                    // which would hide a setting of that name.
                    for (k, item) in m.iter().filter(|(_, n)| matches!(n.value, Value::Secret(_))) {
                        if let Some(other) = m.get(&format!("{k}_FILE")) {
                            diags.push(
                                Diagnostic::error(
                                    "platc::check::collision",
                                    format!("`{k}_FILE` is set, and is also the variable that names the file of the secret `{k}`"),
                                )
                                .label(other.origin.span, format!("`{k}_FILE` set here"))
                                .also(item.origin.span, format!("`{k}` is a secret: platc sets `{k}_FILE` to its file"))
                                .help(format!("rename the setting `{k}_FILE`, or the secret `{k}`")),
                            );
                        }
                    }
                }
                for (k, item) in m {
                    check_at(item, inner, &Where { parent: Some(at), name: k }, names, diags);
                }
            }
            _ => bad(diags, None),
        },
        Type::Record(rec) => match v {
            Value::Map(m) => check_fields(m, rec, at, span, names, diags),
            _ => bad(diags, None),
        },
    }
}

fn symbol<'a>(
    v: &Value,
    span: Span,
    what: &str,
    known: impl Iterator<Item = &'a str> + Clone,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(word) = v.as_word() else {
        diags.push(
            Diagnostic::error("platc::check::type_mismatch", format!("`{what}` is a name; found {}", v.describe()))
                .label(span, format!("expected a {what}"))
                .help(unknown_help("", what, known)),
        );
        return;
    };
    if !known.clone().any(|k| k == word) {
        let mut all: Vec<&str> = known.clone().collect();
        all.sort_unstable();
        let list: Vec<String> = all.iter().map(|s| s.to_string()).collect();
        diags.push(
            Diagnostic::error(
                "platc::check::unknown_symbol",
                format!("unknown {what} `{word}`; expected {}", one_of(&list)),
            )
            .label(span, format!("not a {what}"))
            .help(unknown_help(word, what, known)),
        );
    }
}

/// `payments-db.url`, `users.addr`: what the name means is
/// [`crate::scope`]'s answer; a setting's reference must name an output of
/// one of the service's resources or a part of another service's address.
fn check_output_ref(p: &[String], span: Span, names: &Names, diags: &mut Vec<Diagnostic>) {
    use crate::scope::{ADDRESS_PARTS, Meaning, Place, classify};
    match classify(p, Place::Setting, |n| names.resources.contains_key(n)) {
        Meaning::Output { resource, output } => {
            let outputs = names.resources.get(resource).into_iter().flatten();
            if !outputs.clone().any(|o| o == output) {
                diags.push(
                    Diagnostic::error(
                        "platc::check::unknown_output",
                        format!("resource `{resource}` has no output `{output}`"),
                    )
                    .label(span, "no such output")
                    .help(unknown_help(output, "output", outputs.map(String::as_str))),
                );
            }
        }
        Meaning::Address { service, part } if names.services.contains(service) && !ADDRESS_PARTS.contains(&part) => {
            diags.push(
                Diagnostic::error(
                    "platc::check::unknown_output",
                    format!("service `{service}` has no output `{part}`"),
                )
                .label(span, "no such output")
                .help(unknown_help(part, "output", ADDRESS_PARTS.iter().copied())),
            );
        }
        Meaning::Address { service, .. } if names.services.contains(service) => {}
        Meaning::Address { service: target, .. } => {
            let known = crate::scope::candidates(
                Place::Setting,
                names.services.iter().map(String::as_str),
                names.resources.keys().map(String::as_str),
            );
            let help = match crate::diag::did_you_mean(target, known) {
                Some(close) => format!("did you mean `{close}`?"),
                None => "reference a resource this service declares (`resource TYPE NAME { ... }`) or another service of the workspace".into(),
            };
            diags.push(
                Diagnostic::error(
                    "platc::check::unknown_reference",
                    format!("`{target}` is not a resource of this service nor a service"),
                )
                .label(span, "unknown name")
                .help(help),
            );
        }
        _ => {}
    }
}

fn check_secret(s: &str, span: Span, diags: &mut Vec<Diagnostic>) {
    let ok = match s.rsplit_once('/') {
        Some((name, key)) => {
            is_dns_subdomain(name)
                && !key.is_empty()
                && key.len() <= 253
                && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        }
        None => false,
    };
    if !ok && !s.contains("${") {
        diags.push(
            Diagnostic::error(
                "platc::check::bad_secret",
                format!("`secret(\"{s}\")` does not name a secret and a key"),
            )
            .label(span, "expected \"secret-name/key\"")
            .help("write `secret(\"payments/stripe-key\")`: the secret `payments`, its key `stripe-key`"),
        );
    }
}

fn example(ty: &Type, name: &str) -> String {
    let v = match ty {
        Type::String => "\"text\"".to_string(),
        Type::Int => "3".into(),
        Type::Number => "2.5".into(),
        Type::Bool => "true".into(),
        Type::Port => "8080".into(),
        Type::Cpu => "500m".into(),
        Type::Memory => "512Mi".into(),
        Type::Cron => "\"*/15 * * * *\"".into(),
        Type::Duration => "30s".into(),
        Type::Percent => "70%".into(),
        Type::Name => "\"checkout\"".into(),
        Type::Tag => "\"payments\"".into(),
        Type::Host => "\"api.example.com\"".into(),
        Type::Url => "\"https://example.com\"".into(),
        Type::Digest => "\"sha256:...\"".into(),
        Type::Secret => "secret(\"name/key\")".into(),
        Type::File => "file(\"api/openapi.yaml\")".into(),
        Type::List(_) => "[...]".into(),
        Type::Record(_) | Type::Map(_) => return format!("write `{name} {{ ... }}`"),
        Type::Enum(w) => w.first().cloned().unwrap_or_default(),
        _ => return format!("`{name}` takes {}", ty.describe()),
    };
    format!("write it as `{name} = {v}`")
}

/// The macros a Kubernetes CronJob schedule may be.
pub(crate) const CRON_MACROS: &[&str] =
    &["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/// Checks a cron schedule as a Kubernetes CronJob reads it: five fields
/// (minute, hour, day of month, month, day of week), each `*`, a number, a
/// range `a-b` or a list of those, with an optional `/step`; months and
/// days of the week also by name (`jan`, `mon`); or one of the macros.
/// `Err` says what is wrong, in a few words.
pub(crate) fn cron(s: &str) -> Result<(), String> {
    let s = s.trim();
    if s.starts_with('@') {
        return if CRON_MACROS.contains(&s) {
            Ok(())
        } else {
            Err(format!("`{s}` is not a macro (the macros are {})", CRON_MACROS.join(", ")))
        };
    }
    const FIELDS: [(&str, u32, u32, &[&str]); 5] = [
        ("minute", 0, 59, &[]),
        ("hour", 0, 23, &[]),
        ("day of month", 1, 31, &[]),
        ("month", 1, 12, &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]),
        ("day of week", 0, 7, &["sun", "mon", "tue", "wed", "thu", "fri", "sat"]),
    ];
    let fields: Vec<&str> = s.split_whitespace().collect();
    match fields.len() {
        5 => {}
        6 => return Err("six fields: Kubernetes schedules have no seconds field".into()),
        n => return Err(format!("{n} fields where five are needed")),
    }
    for (text, (name, lo, hi, names)) in fields.iter().zip(FIELDS) {
        let value = |t: &str| -> Result<u32, String> {
            let first = if name == "month" { 1 } else { 0 };
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(t)) {
                return Ok(i as u32 + first);
            }
            match t.parse::<u32>() {
                Ok(v) if (lo..=hi).contains(&v) => Ok(v),
                Ok(v) => Err(format!("{name} {v} is outside {lo}-{hi}")),
                Err(_) => Err(format!("`{t}` is not a {name}")),
            }
        };
        for item in text.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((r, st)) => (r, Some(st)),
                None => (item, None),
            };
            if let Some(st) = step
                && !st.parse::<u32>().is_ok_and(|n| n >= 1 && n <= hi.max(1))
            {
                return Err(format!("`/{st}` is not a step of the {name}"));
            }
            if range == "*" || (range == "?" && (name == "day of month" || name == "day of week")) {
                continue;
            }
            match range.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (value(a)?, value(b)?);
                    if a > b {
                        return Err(format!("{name} range `{range}` runs backwards"));
                    }
                }
                None => {
                    value(range)?;
                }
            }
        }
    }
    Ok(())
}

/// A Kubernetes DNS label: lowercase alphanumerics and `-`, 1-63 characters,
/// starting and ending with an alphanumeric.
/// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_env_name(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn bad_env_name(name: &str, span: Span) -> Diagnostic {
    let fixed: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
        .collect::<String>()
        .trim_matches('_')
        .chars()
        .take(64)
        .collect();
    let fixed = if fixed.starts_with(|c: char| c.is_ascii_digit()) { format!("_{fixed}") } else { fixed };
    let help = if fixed.is_empty() {
        "an environment variable name is letters, digits and `_`, not starting with a digit".to_string()
    } else {
        format!("an environment variable name is letters, digits and `_`, not starting with a digit; try `{fixed}`")
    };
    Diagnostic::error(
        "platc::check::bad_name",
        format!("`{}` is not an environment variable name", name.escape_debug()),
    )
    .label(span, "set under this name")
    .help(help)
}

pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A host name: DNS labels with a dot, not a wildcard, not an address
/// (a name whose last label is all digits is one).
fn is_host(s: &str) -> bool {
    s.contains('.') && is_dns_subdomain(s) && !is_ip(s)
}

fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
        || s.rsplit('.').next().is_some_and(|last| !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
}

fn is_tag(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.split('-').all(|p| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'+' || b == b'#')
        })
}

/// An image digest: `sha256:` and 64 lowercase hex digits.
pub(crate) fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("payments-db"));
        assert!(!is_dns_label("Payments"));
        assert!(!is_dns_label("-x"));
        assert!(!is_dns_label(&"a".repeat(64)));
        assert!(is_tag("c++"));
        assert!(is_digest(&format!("sha256:{}", "a".repeat(64))));
    }

    #[test]
    fn cron_schedules_are_five_fields_or_a_macro() {
        for ok in [
            "*/15 * * * *",
            "0 3 * * *",
            "30 2 1-15/2 jan-jun mon,fri",
            "0 0 * * 7",
            "@daily",
            "@hourly",
            "5 4 ? * SUN",
        ] {
            assert_eq!(cron(ok), Ok(()), "{ok}");
        }
        assert!(cron("every day at 3").unwrap_err().contains("4 fields"));
        assert!(cron("0 0 3 * * *").unwrap_err().contains("six fields"));
        assert!(cron("60 * * * *").unwrap_err().contains("minute 60 is outside 0-59"));
        assert!(cron("0 24 * * *").unwrap_err().contains("hour"));
        assert!(cron("0 0 0 * *").unwrap_err().contains("day of month 0"));
        assert!(cron("0 0 * * * ").is_ok());
        assert!(cron("*/0 * * * *").is_err());
        assert!(cron("5-1 * * * *").unwrap_err().contains("backwards"));
        assert!(cron("@reboot").is_err());
        assert!(cron("0 0 * foo *").is_err());
    }
}
