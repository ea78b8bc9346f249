//! Secrets written in plain text: a check over every resolved value, and the
//! spans to redact so that no diagnostic shows the value.
//!
//! Two rules:
//! - a setting whose name says it is a secret (`*_SECRET`, `*_PASSWORD`,
//!   `DBPASSWORD`, `PASSWORD_DB`, `*_TOKEN`, `*_KEY`, ...) holding a literal
//!   instead of `secret("...")`;
//! - a text anywhere (values, setting names, patches, `override` and `allow`
//!   reasons, the workspace's and environments' values, the contents of
//!   `file(...)`, and every generated file) that looks like a credential:
//!   AWS access and secret keys, GitHub, GitLab, Slack, Stripe, Google, npm
//!   and PyPI tokens, Slack webhooks, private-key blocks, JSON web tokens,
//!   `Bearer`/`Basic` authorizations, URLs with a password in them and
//!   `password=...` in connection strings and arguments.
//!
//! The error shows the `secret("...")` form to write instead. The literal is
//! redacted from the source text before any diagnostic is rendered, and so
//! is any credential-looking text in any source file ([`redact_sources`]),
//! whether or not a diagnostic names it; the renderer also masks such text
//! in messages ([`redact`]).

use std::borrow::Cow;
use std::sync::Arc;

use crate::ast::{self, ExprKind, StrPart};
use crate::diag::Diagnostic;
use crate::emit::OutFile;
use crate::model::{Model, Service};
use crate::span::{SourceMap, Span};
use crate::value::{Layer, Map, Node, Value};

/// What [`service`] finds in one service, each at its span: a function of
/// the service alone, which the memo store keeps with its resolution.
pub(crate) type Found = Vec<(Span, Diagnostic)>;

/// Scans the model, each service's findings given by `service` (the memo
/// store's, kept with the service's resolution); returns the spans of the
/// literals to redact.
pub(crate) fn scan(model: &Model, service: &dyn Fn(&Service) -> Arc<Found>, diags: &mut Vec<Diagnostic>) -> Vec<Span> {
    let mut found: Found = Vec::new();
    for s in &model.services {
        found.extend(service(s).iter().cloned());
    }
    // The workspace's values reach every service's files.
    let ws = &model.workspace;
    let mut shared: Vec<(Span, Diagnostic)> = Vec::new();
    workspace_values(&ws.values, "workspace", &mut shared);
    for env in &ws.environments {
        workspace_values(&env.values, &format!("environment `{}`", env.name), &mut shared);
    }
    found.extend(shared);
    found.sort_by_key(|(span, _)| *span);
    found.dedup_by_key(|(span, _)| *span);
    let spans = found.iter().map(|(s, _)| *s).collect();
    diags.extend(found.into_iter().map(|(_, d)| d));
    spans
}

/// What [`scan`] finds in one service's values, APIs, patches and reasons
/// (the model's scan of the service).
pub(crate) fn service(s: &Service) -> Found {
    let mut found: Found = Vec::new();
    // Values are the same object in every environment unless an
    // environment block set them; spans dedup the repeats.
    for inst in s.instances.iter() {
        walk(s, "", &inst.values, &mut found);
        for r in &inst.resources {
            walk(s, &format!("resource `{}` ", r.name), &r.values, &mut found);
        }
    }
    for a in &s.apis {
        walk(s, &format!("api `{}` ", a.name), &a.values, &mut found);
        // The file's text lands in the catalog.
        let at = a.values.get("definition").map_or(a.span, |n| n.origin.span);
        if let Some(kind) = a.definition.as_deref().and_then(credential) {
            let message = format!("the definition of api `{}` of `{}` holds {kind}", a.name, s.name);
            found.push((at, leak(at, message, "its text is written into the catalog: take the credential out of the file, and rotate it, since it was committed")));
        }
    }
    for p in &s.patches {
        for set in &p.patch.sets {
            patch_value(s, &set.path.display(), &set.value, &mut found);
        }
    }
    // Reasons land in annotations and the build index.
    for (kind, e) in s.overrides.iter().map(|e| ("override", e)).chain(s.waivers.iter().map(|e| ("allow", e))) {
        if let Some(what) = credential(&e.reason) {
            let message = format!("the reason of `{kind} {}` in `{}` holds {what}", e.what, s.name);
            found.push((e.span, leak(e.span, message, "reasons are written into the generated files and the build report: say why without the credential, and rotate it, since it was committed")));
        }
    }
    found
}

fn workspace_values(map: &Map, owner: &str, found: &mut Vec<(Span, Diagnostic)>) {
    for (key, node) in map {
        match &node.value {
            Value::Map(m) => workspace_values(m, owner, found),
            Value::List(items) => {
                for n in items {
                    let one: Map = std::iter::once((key.clone(), n.clone())).collect();
                    workspace_values(&one, owner, found);
                }
            }
            Value::Str(text) => {
                let why = if secret_name(key) && !text.is_empty() {
                    Some("its name says it is a secret".to_string())
                } else {
                    credential(text).map(|k| format!("it looks like {k}"))
                };
                if let Some(why) = why {
                    let span = node.origin.span;
                    found.push((
                        span,
                        Diagnostic::error(
                            "platc::check::plaintext_secret",
                            format!("`{key}` of the {owner} holds a secret in plain text: {why}"),
                        )
                        .label(span, "a literal value (not shown)")
                        .help("keep credentials out of the workspace: every service's files carry its values; then rotate it, since it was committed"),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// Scans generated files (by output path) for credentials that no source
/// literal showed whole (strings filled in from several values, say): one
/// error per file, at the service it belongs to. Returns the paths of the
/// files it reported.
pub(crate) fn scan_output(
    files: &std::collections::BTreeMap<String, Arc<OutFile>>,
    model: &Model,
    diags: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let mut found = Vec::new();
    for (path, f) in files {
        let Some(kind) = credential(&f.contents) else { continue };
        diags.push(generated(path, kind, f.service.as_deref(), model));
        found.push(path.clone());
    }
    found
}

/// The error for a generated file (of `service`, if one) that holds a
/// credential of `kind`.
pub(crate) fn generated(path: &str, kind: &str, service: Option<&str>, model: &Model) -> Diagnostic {
    let mut d = Diagnostic::error(
        "platc::check::plaintext_secret",
        format!("generated `{}` would hold a secret in plain text: it looks like {kind}", path.escape_debug()),
    );
    if let Some(s) = service.and_then(|s| model.service(s)) {
        d = d.label(s.name_span, "generated for this service");
    }
    d.help(
        "find the value it came from (a string filled in from others, a workspace value, a file) and use `secret(\"...\")`",
    )
}

/// Masks, in every source file, each text that looks like a credential
/// (whether or not a check named it): no diagnostic can show one.
pub fn redact_sources(files: &mut SourceMap) {
    redact_sources_reusing(files, &Redactions::default());
}

/// What [`redact_sources`] found in each file (by path, with the text it
/// read): a function of the text alone, which the memo store keeps for the
/// next compilation, so that only the files whose text changed are
/// scanned again.
#[derive(Clone, Debug, Default)]
pub(crate) struct Redactions(std::collections::HashMap<String, (Arc<str>, Ranges)>);

/// Byte ranges of a text.
type Ranges = Arc<Vec<(usize, usize)>>;

/// [`redact_sources`], taking from `previous` what it found in a text that
/// did not change; returns what it found, for the next compilation.
pub(crate) fn redact_sources_reusing(files: &mut SourceMap, previous: &Redactions) -> Redactions {
    let mut spans = Vec::new();
    let mut next = std::collections::HashMap::new();
    for (id, f) in files.iter() {
        let same = |(text, _): &&(Arc<str>, Ranges)| Arc::ptr_eq(text, &f.text) || *text == f.text;
        let ranges = match previous.0.get(&f.path).filter(same) {
            Some((_, ranges)) => Arc::clone(ranges),
            None => {
                let mut ranges: Vec<(usize, usize)> = find(&f.text).into_iter().map(|(s, e, _)| (s, e)).collect();
                ranges.extend(named_literals(&f.text));
                Arc::new(ranges)
            }
        };
        spans.extend(ranges.iter().map(|(start, end)| Span::new(id, *start, *end)));
        next.insert(f.path.clone(), (Arc::clone(&f.text), ranges));
    }
    files.redact_all(&spans);
    Redactions(next)
}

/// The strings of `NAME = "..."` whose name says they are secret, found in
/// the text itself (so also in a file that does not parse, where no check
/// sees the setting): the ranges of their contents.
fn named_literals(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'#' => {
                while b.get(i).is_some_and(|c| *c != b'\n') {
                    i += 1;
                }
            }
            b'"' => {
                let open = i;
                i += 1;
                while let Some(&c) = b.get(i) {
                    match c {
                        b'\\' => i += 2,
                        b'"' | b'\n' => break,
                        _ => i += 1,
                    }
                }
                let close = i.min(b.len());
                i += 1;
                // Back from the quote: blanks, `=` (not `==`, `!=`, ...), blanks, a name.
                let before = b.get(..open).unwrap_or_default();
                let mut j = before.len();
                while j > 0 && before.get(j - 1).is_some_and(|c| *c == b' ' || *c == b'\t') {
                    j -= 1;
                }
                if j == 0
                    || before.get(j - 1) != Some(&b'=')
                    || (j >= 2 && before.get(j - 2).is_some_and(|c| b"=!<>+".contains(c)))
                {
                    continue;
                }
                j -= 1;
                while j > 0 && before.get(j - 1).is_some_and(|c| *c == b' ' || *c == b'\t') {
                    j -= 1;
                }
                let end = j;
                while j > 0 && before.get(j - 1).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
                {
                    j -= 1;
                }
                let name = text.get(j..end).unwrap_or_default();
                if !name.is_empty() && secret_name(name) && close > open + 1 {
                    out.push((open + 1, close));
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// `text` with every credential-looking part masked by `*`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let found = find(text);
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, _) in found {
        if start < at {
            continue;
        }
        out.push_str(text.get(at..start).unwrap_or_default());
        out.extend(text.get(start..end).unwrap_or_default().chars().map(|_| '*'));
        at = end;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    Cow::Owned(out)
}

fn walk(s: &Service, prefix: &str, map: &Map, found: &mut Vec<(Span, Diagnostic)>) {
    for (key, node) in map {
        value(s, prefix, key, node, found);
    }
}

fn value(s: &Service, prefix: &str, key: &str, node: &Node, found: &mut Vec<(Span, Diagnostic)>) {
    // Only what the service wrote: the platform's own defaults are trusted.
    let written = matches!(node.origin.layer, Layer::Service | Layer::Environment(_) | Layer::Override(_));
    match &node.value {
        Value::Map(m) => {
            for (k, n) in m {
                // A name is text too (`env { "AKIA..." = "x" }`).
                if written && let Some(kind) = credential(k) {
                    let span = n.origin.span;
                    let message = format!("{prefix}a name in `{key}` of `{}` looks like {kind}", s.name);
                    found.push((span, leak(span, message, "names are written into the generated files: a credential is never a name; rotate it, since it was committed")));
                }
                value(s, prefix, k, n, found);
            }
        }
        Value::List(items) => {
            for n in items {
                value(s, prefix, key, n, found);
            }
        }
        Value::Str(text) if written => check(s, prefix, key, text, node.origin.span, found),
        // A string left with another service's address to fill in (emit
        // does): its literal text, as the service wrote it, with the address
        // standing in (the generated files are scanned again, filled in).
        Value::Interpolated(parts) if written => {
            let text: String = parts
                .iter()
                .map(|p| match p {
                    StrPart::Lit(t) => t.clone(),
                    StrPart::Interp(path, _) => format!(" {} ", path.join(".")),
                })
                .collect();
            check(s, prefix, key, &text, node.origin.span, found)
        }
        Value::Number(_, text) if written && secret_name(key) => check(s, prefix, key, text, node.origin.span, found),
        _ => {}
    }
}

fn patch_value(s: &Service, key: &str, e: &ast::Expr, found: &mut Vec<(Span, Diagnostic)>) {
    match &e.kind {
        ExprKind::Str(lit) => {
            let last = key.rsplit('.').next().unwrap_or(key);
            match lit.as_plain() {
                Some(text) => check(s, "patch ", last, &text, e.span, found),
                None => {
                    // An interpolated string: its literal text, each part
                    // alone and all together (a name filled in between).
                    let parts: Vec<&str> = lit
                        .parts
                        .iter()
                        .filter_map(|p| match p {
                            StrPart::Lit(t) => Some(t.as_str()),
                            StrPart::Interp(..) => None,
                        })
                        .collect();
                    let joined = parts.join(" ");
                    if let Some(kind) = parts.iter().find_map(|t| credential(t)).or_else(|| credential(&joined)) {
                        found.push((e.span, plaintext(s, "patch ", last, e.span, &format!("it looks like {kind}"))));
                    }
                }
            }
        }
        ExprKind::List(items) => items.iter().for_each(|i| patch_value(s, key, i, found)),
        ExprKind::Map(body) => {
            for a in body.attributes() {
                patch_value(s, &a.path.display(), &a.value, found);
            }
            // `{ name = "DB_PASSWORD", value = "..." }`: an env entry in a patch.
            if let (Some(n), Some(v)) = (body.get("name"), body.get("value"))
                && let (ExprKind::Str(n), ExprKind::Str(v)) = (&n.value.kind, &v.value.kind)
                && let (Some(name), Some(text)) = (n.as_plain(), v.as_plain())
                && secret_name(&name)
                && !text.is_empty()
            {
                found.push((v.span, plaintext(s, "patch ", &name, v.span, "its name says it is a secret")));
            }
        }
        _ => {}
    }
}

fn check(s: &Service, prefix: &str, key: &str, text: &str, span: Span, found: &mut Vec<(Span, Diagnostic)>) {
    if secret_name(key) && !text.is_empty() {
        found.push((span, plaintext(s, prefix, key, span, "its name says it is a secret")));
    } else if let Some(kind) = credential(text) {
        found.push((span, plaintext(s, prefix, key, span, &format!("it looks like {kind}"))));
    }
}

/// A credential where no `secret(...)` can stand in (a name, a reason, a
/// file's text).
fn leak(span: Span, message: String, help: &str) -> Diagnostic {
    Diagnostic::error("platc::check::plaintext_secret", message).label(span, "a credential (not shown)").help(help)
}

fn plaintext(s: &Service, prefix: &str, key: &str, span: Span, why: &str) -> Diagnostic {
    let suggestion = format!("{}/{}", s.name, key.to_lowercase().replace('_', "-"));
    Diagnostic::error(
        "platc::check::plaintext_secret",
        format!("{prefix}`{key}` of `{}` holds a secret in plain text: {why}", s.name),
    )
    .label(span, "a literal value (not shown)")
    .help(format!(
        "keep the value in your secret manager and refer to it: `{key} = secret(\"{suggestion}\")`; then rotate it, since it was committed"
    ))
}

/// A setting name that says it holds a secret: a part (between `_`, `-`
/// and `.`) that is a secret word (`DB_PASSWORD`, `PASSWORD_DB`,
/// `STRIPE_KEY`), or a name ending in one (`DBPASSWORD`, `APITOKEN`); not a
/// name for something about a secret (`*_KEY_ID`, `*_PUBLIC_KEY`,
/// `PASSWORD_FILE`, `TOKEN_URL`, `TOKEN_TTL`, ...).
pub fn secret_name(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    // Anywhere in the name; short or ambiguous words only at its end.
    const WORDS: &[&str] = &["SECRET", "PASSWORD", "PASSWD", "TOKEN", "APIKEY", "CREDENTIALS"];
    const LAST: &[&str] = &["PASS", "PWD"];
    const ENDINGS: &[&str] = &["SECRET", "PASSWORD", "PASSWD", "TOKEN", "APIKEY", "CREDENTIALS", "PRIVATEKEY"];
    const ABOUT: &[&str] = &[
        "FILE",
        "PATH",
        "DIR",
        "ID",
        "NAME",
        "URL",
        "URI",
        "ENDPOINT",
        "HEADER",
        "TTL",
        "EXPIRY",
        "EXPIRES",
        "LENGTH",
        "LEN",
        "MIN",
        "MAX",
        "TYPE",
        "ARN",
        "REF",
        "ENABLED",
        "REQUIRED",
        "POLICY",
        "ROTATION",
        "VERSION",
        "FORMAT",
        "ALGORITHM",
        "ISSUER",
        "AUDIENCE",
        "SCOPE",
        "SCOPES",
        "LIFETIME",
        "TIMEOUT",
        "REGION",
        "MANAGER",
        "STORE",
        "ENGINE",
        "BACKEND",
        "PROVIDER",
        "MODE",
        "KIND",
        "COUNT",
        "SIZE",
        "PREFIX",
        "SUFFIX",
        "LABEL",
        "ROLE",
        "CACHE",
        "ENABLE",
        "DISABLED",
    ];
    let parts: Vec<&str> = k.split(['_', '-', '.']).filter(|p| !p.is_empty()).collect();
    let Some(last) = parts.last() else { return false };
    if ABOUT.contains(last) || k.ends_with("_PUBLIC_KEY") || k.ends_with("PUBLICKEY") {
        return false;
    }
    let key_like = *last == "KEY" && parts.len() > 1; // STRIPE_KEY, not KEY or MONKEY
    key_like
        || LAST.contains(last)
        || parts.iter().any(|p| WORDS.contains(p))
        || ENDINGS.iter().any(|e| last.ends_with(e))
}

/// What kind of credential a text contains, if it contains one.
pub fn credential(text: &str) -> Option<&'static str> {
    find(text).first().map(|(_, _, kind)| *kind)
}

/// Every credential-looking part of `text`: byte ranges (on character
/// boundaries) and what each looks like, in order, not overlapping. One
/// pass; each position looks at its first byte before anything else.
pub fn find(text: &str) -> Vec<(usize, usize, &'static str)> {
    let b = text.as_bytes();
    let mut out: Vec<(usize, usize, &'static str)> = Vec::new();
    let token = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-';
    let run = |from: usize| b.get(from..).unwrap_or_default().iter().take_while(|c| token(c)).count();
    let mut i = 0;
    while i < b.len() {
        let Some(&first) = b.get(i) else { break };
        let rest = b.get(i..).unwrap_or_default();
        let starts = |p: &str| rest.starts_with(p.as_bytes());
        let at_word = i == 0 || b.get(i - 1).is_some_and(|c| !c.is_ascii_alphanumeric());
        let found: Option<(usize, &'static str)> = match first {
            b'A' if (starts("AKIA") || starts("ASIA"))
                && rest.get(4..20).is_some_and(|s| s.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())) =>
            {
                Some((20, "an AWS access key"))
            }
            b'A' if starts("AIza") && rest.get(4..39).is_some_and(|s| s.iter().all(token)) => {
                Some((39, "a Google API key"))
            }
            b'g' if ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"].iter().any(|p| starts(p)) && run(i + 4) >= 36 => {
                Some((4 + run(i + 4), "a GitHub token"))
            }
            b'g' if starts("github_pat_") && run(i + 11) >= 22 => Some((11 + run(i + 11), "a GitHub token")),
            b'g' if starts("glpat-") && run(i + 6) >= 20 => Some((6 + run(i + 6), "a GitLab token")),
            b'x' if starts("xox")
                && rest.get(3).is_some_and(|c| b"abposr".contains(c))
                && rest.get(4) == Some(&b'-')
                && run(i + 5) >= 10 =>
            {
                Some((5 + run(i + 5), "a Slack token"))
            }
            b's' | b'r' if (starts("sk_live_") || starts("rk_live_") || starts("sk_test_")) && run(i + 8) >= 16 => {
                Some((8 + run(i + 8), "a Stripe key"))
            }
            b'n' if at_word && starts("npm_") && run(i + 4) >= 36 => Some((4 + run(i + 4), "an npm token")),
            b'p' if at_word && starts("pypi-") && run(i + 5) >= 32 => Some((5 + run(i + 5), "a PyPI token")),
            b'h' if starts("hooks.slack.com/services/") => {
                let len = rest.iter().take_while(|c| token(c) || **c == b'/' || **c == b'.').count();
                (len > 40).then_some((len, "a Slack webhook"))
            }
            b'-' if starts("-----BEGIN ")
                && rest.get(..rest.len().min(80)).is_some_and(|l| {
                    let line = l.split(|c| *c == b'\n').next().unwrap_or_default();
                    line.windows(11).any(|w| w == b"PRIVATE KEY")
                }) =>
            {
                let end = text.get(i..).and_then(|t| t.find("-----END ")).map_or(rest.len(), |e| {
                    let tail = rest.get(e + 9..).unwrap_or_default();
                    e + 9 + tail.iter().position(|c| *c == b'\n').unwrap_or(tail.len())
                });
                Some((end, "a private key"))
            }
            b'e' if starts("eyJ") => {
                // (Within 16 KiB: each `eyJ` is looked at alone.)
                let rest = rest.get(..rest.len().min(16 << 10)).unwrap_or_default();
                let parts: Vec<usize> =
                    rest.splitn(4, |c| *c == b'.').take(3).map(|p| p.iter().take_while(|c| token(c)).count()).collect();
                (parts.len() == 3 && parts.iter().all(|n| *n >= 10))
                    .then(|| (parts.iter().sum::<usize>() + 2, "a JSON web token"))
            }
            b'B' if starts("Bearer ") && run(i + 7) >= 16 => {
                let len =
                    rest.get(7..).unwrap_or_default().iter().take_while(|c| token(c) || b"._~+/=".contains(c)).count();
                Some((7 + len, "a bearer token"))
            }
            b'B' if starts("Basic ") => {
                let len = rest
                    .get(6..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || b"+/=".contains(c))
                    .count();
                (len >= 8).then_some((6 + len, "basic authorization"))
            }
            b':' if starts("://") => url_password(rest).map(|len| (len, "a URL with a password in it")),
            b'p' | b'P' if at_word && password_assignment(rest).is_some() => {
                password_assignment(rest).map(|len| (len, "a password in a setting string"))
            }
            // Only where a run of key characters starts, so that each run is
            // looked at once.
            c if (c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
                && (i == 0
                    || b.get(i - 1).is_some_and(|p| !(p.is_ascii_alphanumeric() || *p == b'/' || *p == b'+'))) =>
            {
                aws_secret(rest).map(|len| (len, "an AWS secret key"))
            }
            _ => None,
        };
        match found {
            Some((len, kind)) => {
                let mut end = (i + len.max(1)).min(b.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                out.push((i, end, kind));
                i = end;
            }
            None => i += 1,
        }
    }
    out
}

/// `://user:password@host` at the start of `rest` (the user may be empty,
/// the password may hold `/`): the length through the password.
fn url_password(rest: &[u8]) -> Option<usize> {
    let authority: &[u8] = rest.get(3..)?;
    // (At most 1 KiB: each `://` is looked at alone.)
    let len = authority
        .iter()
        .take(1024)
        .take_while(|c| !matches!(c, b' ' | b'"' | b'\'' | b'\n' | b'\r' | b'\t' | b'?' | b'#' | b'<' | b'>'))
        .count();
    let authority = authority.get(..len)?;
    let at = authority.iter().rposition(|c| *c == b'@')?;
    let userinfo = authority.get(..at)?;
    let colon = userinfo.iter().position(|c| *c == b':')?;
    let user = userinfo.get(..colon)?;
    let password = userinfo.get(colon + 1..)?;
    let placeholder = password.starts_with(b"${") || password.starts_with(b"$(") || password.starts_with(b"{{");
    (!user.contains(&b'/') && !password.is_empty() && !placeholder).then_some(3 + at)
}

/// `password=...`, `pwd=...`, `passwd=...` (any case, as in JDBC and MSSQL
/// connection strings and `--password=...` arguments) with a value that is
/// not a placeholder: the length through the value.
fn password_assignment(rest: &[u8]) -> Option<usize> {
    let name = ["password=", "passwd=", "pwd="]
        .iter()
        .find(|n| rest.get(..n.len()).is_some_and(|r| r.eq_ignore_ascii_case(n.as_bytes())))?;
    let value = rest.get(name.len()..)?;
    let len = value
        .iter()
        .take(256)
        .take_while(|c| !matches!(c, b';' | b'&' | b' ' | b'"' | b'\'' | b'\n' | b'\r' | b'\t' | b','))
        .count();
    let v = value.get(..len)?;
    let placeholder = v.starts_with(b"$") || v.starts_with(b"{{") || v.starts_with(b"%") || v.starts_with(b"<");
    (len > 0 && !placeholder).then_some(name.len() + len)
}

/// A 40-character AWS secret access key: exactly 40 of `[A-Za-z0-9/+]`,
/// alone, mixing upper case, lower case and digits (a git commit or a hex
/// digest has no upper case; paths have more than two `/`).
fn aws_secret(rest: &[u8]) -> Option<usize> {
    let is = |c: &u8| c.is_ascii_alphanumeric() || *c == b'/' || *c == b'+';
    let len = rest.iter().take_while(|c| is(c)).count();
    let s = rest.get(..len)?;
    let ok = len == 40
        && s.iter().any(u8::is_ascii_uppercase)
        && s.iter().any(u8::is_ascii_lowercase)
        && s.iter().any(u8::is_ascii_digit)
        && s.iter().filter(|c| **c == b'/').count() <= 2
        && !rest.get(len).is_some_and(|c| *c == b'=' || c.is_ascii_alphanumeric());
    ok.then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_say_secret() {
        for k in ["STRIPE_KEY", "DB_PASSWORD", "API_TOKEN", "CLIENT_SECRET", "AWS_SECRET_ACCESS_KEY", "github-token"] {
            assert!(secret_name(k), "{k}");
        }
        for k in ["LOG_LEVEL", "KEY", "SSH_PUBLIC_KEY", "AWS_ACCESS_KEY_ID", "TLS_KEY_FILE", "MONKEY_BUSINESS"] {
            assert!(!secret_name(k), "{k}");
        }
        // Issue 13, item 10: a secret word anywhere in the name, or at its end.
        for k in ["DBPASSWORD", "PASSWORD_DB", "APITOKEN", "db-pwd", "SECRET_VALUE", "DB_PASSWORD_PRIMARY"] {
            assert!(secret_name(k), "{k}");
        }
        for k in [
            "PASSWORD_FILE",
            "TOKEN_URL",
            "TOKEN_TTL",
            "SECRET_NAME",
            "COMPASS",
            "PASSPORT_ID",
            "BYPASS_CACHE",
            "PASS_THROUGH_HEADERS",
            "SECRET_MANAGER_REGION",
        ] {
            assert!(!secret_name(k), "{k}");
        }
    }

    #[test]
    fn redteam_10_credential_patterns_the_scan_missed() {
        for (text, kind) in [
            ("redis://:pw@cache:6379", "a URL with a password in it"),
            ("postgres://app:pa/ss@db/app", "a URL with a password in it"),
            ("jdbc:postgresql://db/app?user=a&password=x1", "a password in a setting string"),
            ("Server=db;User Id=a;Password=x1;", "a password in a setting string"),
            ("--password=x1", "a password in a setting string"),
            ("Authorization: Bearer abcdefghijklmnopqrstu", "a bearer token"),
            ("Basic dXNlcjpwYXNzd29yZA==", "basic authorization"),
            ("npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "an npm token"),
            ("pypi-AgEIcHlwaS5vcmcCJGFiY2RlZjAxLTIzNDUtNjc4", "a PyPI token"),
            ("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "a Slack webhook"),
            ("key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY here", "an AWS secret key"),
        ] {
            assert_eq!(credential(text), Some(kind), "{text}");
        }
        for text in [
            "https://example.com/a:b@c",
            "postgres://db:5432/app",
            "postgres://app:${DB_PASSWORD}@db/app",
            "--password=$(cat /run/secrets/db)",
            "password_policy=strict",
            "Basic auth is off",
            "Bearer tokens are checked",
            "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9",
            "services/payments/handlers/Version12/x",
            "sha256:2a97516c354b68848cdbd8f54a226a0a55b21ed138e207ad6c5cbb9c00aa5aea",
        ] {
            assert_eq!(credential(text), None, "{text}");
        }
    }

    #[test]
    fn named_secret_literals_are_found_in_the_text() {
        let text = "a {\n  DB_PASSWORD = \"hunter2\"  # x\n  LOG = \"info\"\n  API_TOKEN = secret(\"a/b\")\n  ok = x == \"y\"\n}}}";
        let found: Vec<&str> = named_literals(text).into_iter().map(|(s, e)| &text[s..e]).collect();
        assert_eq!(found, ["hunter2"]);
    }

    /// What the redaction of the sources found in a text is taken from the
    /// last compilation only for that same text: a changed text is scanned
    /// again, and the result is the one of scanning every text.
    #[test]
    fn the_redaction_of_the_sources_reuses_only_what_it_found_in_the_same_text() {
        let map = |texts: &[(&str, &str)]| {
            let mut m = SourceMap::default();
            for (p, t) in texts {
                m.add(p.to_string(), Arc::from(*t));
            }
            m
        };
        let texts = |m: &SourceMap| m.iter().map(|(_, f)| f.text.to_string()).collect::<Vec<_>>();
        let a = "k = \"AKIAIOSFODNN7EXAMPLE\"\n";
        let mut first = map(&[("a.plat", a), ("b.plat", "ok\n")]);
        let found = redact_sources_reusing(&mut first, &Redactions::default());
        assert_eq!(texts(&first), ["k = \"********************\"\n", "ok\n"]);
        // Same texts: what was found is reused (here, a record planted
        // for `b.plat`'s text, to show that it is read).
        let mut planted = found.clone();
        planted.0.insert("b.plat".into(), (Arc::from("ok\n"), Arc::new(vec![(0, 1)])));
        let mut second = map(&[("a.plat", a), ("b.plat", "ok\n")]);
        let _ = redact_sources_reusing(&mut second, &planted);
        assert_eq!(texts(&second), ["k = \"********************\"\n", "*k\n"]);
        // A changed text is scanned again, whatever the record says.
        let changed = [("a.plat", "k = \"fine\"\n"), ("b.plat", "ok # glpat-abcdefghijklmnopqrstuv\n")];
        let mut third = map(&changed);
        let _ = redact_sources_reusing(&mut third, &planted);
        let mut fresh = map(&changed);
        redact_sources(&mut fresh);
        assert_eq!(texts(&third), texts(&fresh));
        assert_eq!(texts(&third), ["k = \"fine\"\n".to_string(), format!("ok # {}\n", "*".repeat(28))]);
    }

    #[test]
    fn redaction_masks_every_credential_and_nothing_else() {
        assert_eq!(redact("no secrets"), "no secrets");
        assert_eq!(redact("u=redis://:pw@h x"), "u=redis******@h x");
        let masked = redact("a AKIAIOSFODNN7EXAMPLE b --password=x1 c");
        assert!(!masked.contains("AKIA") && !masked.contains("x1"), "{masked}");
        assert!(masked.starts_with("a ") && masked.ends_with(" c"), "{masked}");
    }

    #[test]
    fn credential_patterns() {
        assert_eq!(credential("id AKIAIOSFODNN7EXAMPLE here"), Some("an AWS access key"));
        assert_eq!(credential(&format!("ghp_{}", "a".repeat(36))), Some("a GitHub token"));
        assert_eq!(credential("postgres://app:hunter2@db:5432/app"), Some("a URL with a password in it"));
        assert_eq!(credential("-----BEGIN RSA PRIVATE KEY-----\nMIIE"), Some("a private key"));
        assert_eq!(credential(&format!("sk_live_{}", "x".repeat(24))), Some("a Stripe key"));
        assert_eq!(credential("https://grafana.acme.example/d/x"), None);
        assert_eq!(credential("postgres://db:5432/app"), None);
        assert_eq!(credential("Handles payment processing"), None);
    }
}
