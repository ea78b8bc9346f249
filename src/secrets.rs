//! Secrets written in plain text: a check over every resolved value, and the
//! spans to redact so that no diagnostic shows the value.
//!
//! Two rules:
//! - a setting whose name says it is a secret (`*_SECRET`, `*_PASSWORD`,
//!   `*_TOKEN`, `*_KEY`, ...) holding a literal instead of `secret("...")`;
//! - a value anywhere (settings, descriptions, resource values, patches)
//!   that looks like a credential: AWS access keys, GitHub, GitLab, Slack,
//!   Stripe and Google tokens, private-key blocks, JSON web tokens and URLs
//!   with a password in them.
//!
//! The error shows the `secret("...")` form to write instead. The literal is
//! redacted from the source text before any diagnostic is rendered.

use crate::ast::{self, ExprKind};
use crate::diag::Diagnostic;
use crate::model::{Model, Service};
use crate::span::Span;
use crate::value::{Layer, Map, Node, Value};

/// Scans the model; returns the spans of the literals to redact.
pub fn scan(model: &Model, diags: &mut Vec<Diagnostic>) -> Vec<Span> {
    let mut found: Vec<(Span, Diagnostic)> = Vec::new();
    for s in &model.services {
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
        }
        for p in &s.patches {
            for set in &p.patch.sets {
                patch_value(s, &set.path.display(), &set.value, &mut found);
            }
        }
    }
    found.sort_by_key(|(span, _)| *span);
    found.dedup_by_key(|(span, _)| *span);
    let spans = found.iter().map(|(s, _)| *s).collect();
    diags.extend(found.into_iter().map(|(_, d)| d));
    spans
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
                value(s, prefix, k, n, found);
            }
        }
        Value::List(items) => {
            for n in items {
                value(s, prefix, key, n, found);
            }
        }
        Value::Str(text) if written => check(s, prefix, key, text, node.origin.span, found),
        Value::Number(_, text) if written && secret_name(key) => check(s, prefix, key, text, node.origin.span, found),
        _ => {}
    }
}

fn patch_value(s: &Service, key: &str, e: &ast::Expr, found: &mut Vec<(Span, Diagnostic)>) {
    match &e.kind {
        ExprKind::Str(lit) => {
            if let Some(text) = lit.as_plain() {
                let last = key.rsplit('.').next().unwrap_or(key);
                check(s, "patch ", last, &text, e.span, found);
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

/// A setting name that says it holds a secret.
pub fn secret_name(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    const SUFFIXES: &[&str] =
        &["SECRET", "PASSWORD", "PASSWD", "PASS", "TOKEN", "KEY", "APIKEY", "CREDENTIALS", "PRIVATE_KEY", "SECRET_KEY"];
    let last = k.rsplit(['_', '-', '.']).next().unwrap_or(&k);
    SUFFIXES.contains(&last)
        && k != "KEY"
        && !k.ends_with("_PUBLIC_KEY")
        && !k.ends_with("_KEY_ID")
        && !k.ends_with("_KEY_FILE")
}

/// What kind of credential a text contains, if it contains one.
pub fn credential(text: &str) -> Option<&'static str> {
    let b = text.as_bytes();
    let upper_digits = |s: &[u8]| s.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let token_chars = |s: &[u8]| s.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-');
    for i in 0..b.len() {
        let rest = b.get(i..).unwrap_or_default();
        let starts = |p: &str| rest.starts_with(p.as_bytes());
        let run = |from: usize| {
            rest.iter().skip(from).take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b'-').count()
        };
        if (starts("AKIA") || starts("ASIA")) && rest.get(4..20).is_some_and(upper_digits) {
            return Some("an AWS access key");
        }
        if (starts("ghp_") || starts("gho_") || starts("ghu_") || starts("ghs_") || starts("ghr_")) && run(4) >= 36 {
            return Some("a GitHub token");
        }
        if starts("github_pat_") && run(11) >= 22 {
            return Some("a GitHub token");
        }
        if starts("glpat-") && run(6) >= 20 {
            return Some("a GitLab token");
        }
        if starts("xox")
            && rest.get(3).is_some_and(|c| b"abposr".contains(c))
            && rest.get(4) == Some(&b'-')
            && run(5) >= 10
        {
            return Some("a Slack token");
        }
        if (starts("sk_live_") || starts("rk_live_") || starts("sk_test_")) && run(8) >= 16 {
            return Some("a Stripe key");
        }
        if starts("AIza") && rest.get(4..39).is_some_and(token_chars) {
            return Some("a Google API key");
        }
        if starts("-----BEGIN ")
            && text.get(i..).is_some_and(|t| t.lines().next().is_some_and(|l| l.contains("PRIVATE KEY")))
        {
            return Some("a private key");
        }
        if starts("eyJ") {
            let parts: Vec<&[u8]> = rest.splitn(4, |c| *c == b'.').take(3).collect();
            let token_run =
                |p: &[u8]| p.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b'-').count();
            if parts.len() == 3 && parts.iter().all(|p| token_run(p) >= 10) {
                return Some("a JSON web token");
            }
        }
        if starts("://") {
            // scheme://user:password@host
            let auth: Vec<u8> =
                rest.iter().skip(3).take_while(|c| !matches!(c, b'/' | b' ' | b'"' | b'\n')).copied().collect();
            if let Some(at) = auth.iter().position(|c| *c == b'@')
                && let Some(colon) = auth.get(..at).and_then(|u| u.iter().position(|c| *c == b':'))
                && at > colon + 1
                && colon > 0
            {
                return Some("a URL with a password in it");
            }
        }
    }
    None
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
