//! Writing Terraform's native syntax (HCL) from a [`Doc`].
//!
//! Terraform templates render YAML in the shape of Terraform's JSON syntax
//! (`resource: { aws_db_instance: { main: { ... } } }`), which platc parses
//! back, patches and writes here as canonical HCL, `=` aligned as
//! `terraform fmt` aligns it. Inside a body:
//!
//! | in the document                        | written as                         |
//! |----------------------------------------|------------------------------------|
//! | `key: scalar` or a list of scalars     | `key = "value"` (an attribute)     |
//! | `key: {$expr: aws_kms_key.main.arn}`   | `key = aws_kms_key.main.arn`       |
//! | `key: {$map: {a: 1}}`                  | `key = { a = 1 }` (a map attribute)|
//! | `key: {$concat: ["redis://", {$expr: aws_x.y.address}]}` | `key = "redis://${aws_x.y.address}"` |
//! | `key: {$json: {a: {$expr: aws_x.y.arn}}}` | `key = jsonencode({ a = aws_x.y.arn })` |
//! | `key: {...}`                           | `key { ... }` (a nested block)     |
//! | `key: [{...}, {...}]`                  | two `key { ... }` blocks           |
//! | `backend: {s3: {...}}`                 | `backend "s3" { ... }` (a labelled nested block) |
//! | `$comment: text` (or a list of lines)  | `# text` at the top of the block   |
//!
//! Every string is a literal: `${` and `%{` are escaped (`$${`, `%%{`), so no
//! value can become a Terraform expression. Expressions exist only where a
//! template wrote `$expr` (alone, or as a part of `$concat`), which no quoted
//! value can produce, and each must be a plain reference. Comments are one
//! line each (line breaks in the text become spaces); they carry the reasons
//! of static-check exceptions (`checkov:skip=...`), next to what they excuse.

use std::fmt::Write;

use super::doc::{Doc, quote_into};

/// Top-level block types and how many labels each has.
fn labels_of(block: &str) -> usize {
    match block {
        "resource" | "data" => 2,
        "variable" | "output" | "provider" | "module" => 1,
        _ => 0,
    }
}

/// Writes a whole file from a Terraform-JSON-shaped document.
pub fn to_hcl(docs: &[Doc], out: &mut String) -> Result<(), String> {
    let mut first = true;
    for doc in docs {
        let Doc::Map(top) = doc else {
            return Err("a Terraform document is a map of block types".into());
        };
        for (block, value) in top {
            block_group(block, labels_of(block), value, &mut Vec::new(), out, &mut first)?;
        }
    }
    Ok(())
}

/// `resource: {type: {name: body}}` → `resource "type" "name" { body }`.
fn block_group(
    block: &str,
    labels: usize,
    value: &Doc,
    prefix: &mut Vec<String>,
    out: &mut String,
    first: &mut bool,
) -> Result<(), String> {
    if prefix.len() == labels {
        let bodies: Vec<&Doc> = match value {
            Doc::List(items) => items.iter().collect(),
            other => vec![other],
        };
        for body in bodies {
            if !*first {
                out.push('\n');
            }
            *first = false;
            out.push_str(block);
            for l in prefix.iter() {
                out.push(' ');
                quote_into(l, out);
            }
            out.push_str(" {\n");
            body_of(body, 1, out)?;
            out.push_str("}\n");
        }
        return Ok(());
    }
    let Doc::Map(m) = value else {
        return Err(format!("`{block}` needs {labels} label(s) of nested maps"));
    };
    for (label, inner) in m {
        prefix.push(label.clone());
        block_group(block, labels, inner, prefix, out, first)?;
        prefix.pop();
    }
    Ok(())
}

/// Nested block types that take labels (`backend "s3" { }`).
fn nested_labels(block: &str) -> usize {
    match block {
        "backend" => 1,
        _ => 0,
    }
}

fn body_of(body: &Doc, depth: usize, out: &mut String) -> Result<(), String> {
    let Doc::Map(m) = body else {
        return Err("a block body is a map".into());
    };
    for (_, v) in m.iter().filter(|(k, _)| k == "$comment") {
        let lines: Vec<&Doc> = match v {
            Doc::List(items) => items.iter().collect(),
            other => vec![other],
        };
        for line in lines {
            let Doc::Str(text) = line else {
                return Err("`$comment` is a string or a list of strings".into());
            };
            indent(depth, out);
            out.push_str("# ");
            out.push_str(&one_line(text));
            out.push('\n');
        }
    }
    // Attributes first, aligned in one run; then nested blocks.
    let attrs: Vec<(&String, &Doc)> =
        m.iter().filter(|(k, v)| k.as_str() != "$comment" && !is_block(v)).map(|(k, v)| (k, v)).collect();
    let attrs: Vec<(String, &Doc)> = attrs.into_iter().map(|(k, v)| (k.clone(), v)).collect();
    assignments(&attrs, depth, out)?;
    // A blank line between attributes and blocks and between blocks.
    let mut gap = !attrs.is_empty();
    for (k, v) in m.iter().filter(|(k, v)| k.as_str() != "$comment" && is_block(v)) {
        let mut blocks: Vec<(Option<&String>, &Doc)> = Vec::new();
        match (nested_labels(k), v) {
            (1, Doc::Map(labelled)) => blocks.extend(labelled.iter().map(|(l, b)| (Some(l), b))),
            (_, Doc::List(items)) => blocks.extend(items.iter().map(|b| (None, b))),
            (_, other) => blocks.push((None, other)),
        }
        for (label, b) in blocks {
            if gap {
                out.push('\n');
            }
            gap = true;
            indent(depth, out);
            out.push_str(k);
            if let Some(l) = label {
                out.push(' ');
                quote_into(l, out);
            }
            out.push_str(" {\n");
            body_of(b, depth + 1, out)?;
            indent(depth, out);
            out.push_str("}\n");
        }
    }
    Ok(())
}

/// `key = value` lines, one per entry, with `=` aligned as `terraform fmt`
/// (hclwrite) aligns it: over runs of consecutive one-line assignments. A
/// value that spans lines (`{`, `jsonencode({`) gets one space before its
/// `=` and ends the run, so the lines before and after it align apart.
fn assignments(entries: &[(String, &Doc)], depth: usize, out: &mut String) -> Result<(), String> {
    let mut rendered = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let mut text = String::new();
        value(v, depth, &mut text)?;
        rendered.push((k.as_str(), text));
    }
    let mut start = 0;
    while start < rendered.len() {
        let run = rendered.get(start..).unwrap_or_default();
        let one_line = run.iter().take_while(|(_, text)| !text.contains('\n')).count();
        // A run of one-line values, or a single multi-line one.
        let len = one_line.max(1);
        let group = run.get(..len).unwrap_or_default();
        let width = if one_line == 0 { 0 } else { group.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0) };
        for (k, text) in group {
            indent(depth, out);
            out.push_str(k);
            for _ in k.chars().count()..width {
                out.push(' ');
            }
            out.push_str(" = ");
            out.push_str(text);
            out.push('\n');
        }
        start += len;
    }
    Ok(())
}

/// The one-key maps that are values, not blocks.
fn is_special(m: &[(String, Doc)]) -> bool {
    matches!(m, [(k, _)] if matches!(k.as_str(), "$expr" | "$map" | "$concat" | "$json"))
}

/// Comment text on one line: line breaks and other control characters
/// become spaces, so a comment can never end early.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') { ' ' } else { c }).collect()
}

fn is_block(v: &Doc) -> bool {
    match v {
        Doc::Map(m) => !is_special(m),
        Doc::List(items) => !items.is_empty() && items.iter().all(|i| matches!(i, Doc::Map(_)) && is_block(i)),
        _ => false,
    }
}

fn value(v: &Doc, depth: usize, out: &mut String) -> Result<(), String> {
    match v {
        Doc::Null => out.push_str("null"),
        Doc::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Doc::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Doc::Float(f) => {
            let _ = write!(out, "{f}");
        }
        Doc::Str(s) => string(s, out),
        Doc::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                value(item, depth, out)?;
            }
            out.push(']');
        }
        Doc::Map(m) => match m.as_slice() {
            [(k, Doc::Str(expr))] if k == "$expr" => {
                if !is_expression(expr) {
                    return Err(format!("`{expr}` is not a reference expression"));
                }
                out.push_str(expr);
            }
            [(k, Doc::List(parts))] if k == "$concat" => template(parts, out)?,
            [(k, inner @ Doc::Map(_))] if k == "$json" => {
                out.push_str("jsonencode(");
                value(&Doc::Map(vec![("$map".into(), inner.clone())]), depth, out)?;
                out.push(')');
            }
            [(k, Doc::Map(entries))] if k == "$map" => {
                if entries.is_empty() {
                    out.push_str("{}");
                    return Ok(());
                }
                out.push_str("{\n");
                let entries: Vec<(String, &Doc)> = entries.iter().map(|(k, v)| (key_text(k), v)).collect();
                assignments(&entries, depth + 1, out)?;
                indent(depth, out);
                out.push('}');
            }
            _ => return Err("a map inside an attribute must be `$map`, `$expr`, `$concat` or `$json`".into()),
        },
    }
    Ok(())
}

/// `"literal${reference}literal"`: literal parts escaped as in [`string`],
/// references checked as in `$expr`.
fn template(parts: &[Doc], out: &mut String) -> Result<(), String> {
    out.push('"');
    for part in parts {
        match part {
            Doc::Str(s) => {
                let mut quoted = String::new();
                string(s, &mut quoted);
                out.push_str(quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')).unwrap_or(""));
            }
            Doc::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Doc::Map(m) => match m.as_slice() {
                [(k, Doc::Str(expr))] if k == "$expr" && is_expression(expr) => {
                    out.push_str("${");
                    out.push_str(expr);
                    out.push('}');
                }
                _ => return Err("a `$concat` part is a string, a number or a `$expr` reference".into()),
            },
            _ => return Err("a `$concat` part is a string, a number or a `$expr` reference".into()),
        }
    }
    out.push('"');
    Ok(())
}

/// Map keys that are not identifiers are quoted.
fn key_text(k: &str) -> String {
    let ident = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ident {
        k.to_string()
    } else {
        let mut s = String::new();
        string(k, &mut s);
        s
    }
}

/// A literal string: JSON escapes plus `$${` and `%%{`.
fn string(s: &str, out: &mut String) {
    let mut quoted = String::new();
    quote_into(s, &mut quoted);
    out.push_str(&quoted.replace("${", "$${").replace("%{", "%%{"));
}

/// A reference such as `aws_kms_key.main.arn`, `var.subnet_ids`,
/// `local.tags`, `data.aws_caller_identity.current.account_id`, or a
/// reference with an index `aws_x.y[0].id`.
fn is_expression(e: &str) -> bool {
    !e.is_empty()
        && e.split('.').all(|part| {
            let name = part.split('[').next().unwrap_or("");
            !name.is_empty()
                && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && part
                    .get(name.len()..)
                    .unwrap_or("")
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '[' || c == ']' || c == '*')
        })
}

fn indent(depth: usize, out: &mut String) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::yaml;

    fn hcl(yaml_text: &str) -> String {
        let docs = yaml::parse(yaml_text).unwrap();
        let mut s = String::new();
        to_hcl(&docs, &mut s).unwrap();
        s
    }

    #[test]
    fn blocks_attributes_expressions_and_maps() {
        let out = hcl(r#"
terraform:
  required_version: ">= 1.5.0"
resource:
  aws_s3_bucket:
    main:
      bucket: orders-artifacts
      tags: {$map: {service: orders, "team/name": x}}
      kms: {$expr: aws_kms_key.main.arn}
      rule:
        - apply: {sse: "aws:kms"}
        - apply: {sse: AES256}
"#);
        assert_eq!(
            out,
            r#"terraform {
  required_version = ">= 1.5.0"
}

resource "aws_s3_bucket" "main" {
  bucket = "orders-artifacts"
  tags = {
    service     = "orders"
    "team/name" = "x"
  }
  kms = aws_kms_key.main.arn

  rule {
    apply {
      sse = "aws:kms"
    }
  }

  rule {
    apply {
      sse = "AES256"
    }
  }
}
"#
        );
    }

    #[test]
    fn strings_never_become_expressions() {
        let out = hcl("locals:\n  x: \"${var.secret} %{if true}y%{endif}\"\n");
        assert_eq!(out, "locals {\n  x = \"$${var.secret} %%{if true}y%%{endif}\"\n}\n");
    }

    #[test]
    fn templates_json_comments_and_labelled_blocks() {
        let out = hcl(r#"
terraform:
  backend:
    s3: {key: a/b.tfstate}
resource:
  aws_secretsmanager_secret_version:
    main:
      $comment: ["checkov:skip=CKV2_AWS_57: reason\nresource \"x\" {}"]
      secret_string: {$json: {url: {$concat: ["rediss://:", {$expr: random_password.a.result}, "@${x}:", 6379]}}}
"#);
        assert_eq!(
            out,
            r#"terraform {
  backend "s3" {
    key = "a/b.tfstate"
  }
}

resource "aws_secretsmanager_secret_version" "main" {
  # checkov:skip=CKV2_AWS_57: reason resource "x" {}
  secret_string = jsonencode({
    url = "rediss://:${random_password.a.result}@$${x}:6379"
  })
}
"#
        );
        let bad = yaml::parse(r#"locals: {x: {$concat: [{$expr: "file(\"/etc/passwd\")"}]}}"#).unwrap();
        assert!(to_hcl(&bad, &mut String::new()).is_err());
    }

    #[test]
    fn only_references_are_expressions() {
        let docs = yaml::parse("locals:\n  x: {$expr: \"file(\\\"/etc/passwd\\\")\"}\n").unwrap();
        assert!(to_hcl(&docs, &mut String::new()).is_err());
    }
}
