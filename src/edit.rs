//! Edits of a `service.plat` that keep everything else as written: the
//! image pin (`platc pin`), made by release automation so that no human
//! copies a digest by hand.
//!
//! The text is parsed, the service block's own top-level assignments found
//! by their spans, and only their values replaced (or a line added after
//! the block's last top-level assignment, with its indentation). Comments,
//! alignment and every other line stay byte for byte.

use crate::ast::{Body, Item};
use crate::span::FileId;

/// A new image pin for a service.
#[derive(Clone, Debug)]
pub struct Pin<'a> {
    /// `sha256:` and 64 lowercase hex digits.
    pub digest: &'a str,
    /// The image tag, when it changes too.
    pub version: Option<&'a str>,
}

/// Sets `digest` (and `version`) in the service block of `text`, and drops an
/// `allow image-pinned` waiver there (a pinned image needs none). `Err`
/// says in words why the file cannot be edited.
pub fn pin(text: &str, pin: &Pin) -> Result<String, String> {
    if !crate::schema::is_digest(pin.digest) {
        return Err(format!("`{}` is not an image digest (`sha256:` and 64 hex digits)", pin.digest));
    }
    if let Some(v) = pin.version
        && !is_image_tag(v)
    {
        return Err(format!("`{v}` is not an image tag (letters, digits, `_`, `.` and `-`, at most 128)"));
    }
    let (file, diags) = crate::parse::parse(FileId(0), text);
    let Some(file) = file.filter(|_| diags.iter().all(|d| !d.is_error())) else {
        return Err("the file does not parse; fix it first (`platc check` shows where)".into());
    };
    let services: Vec<&crate::ast::Block> = file
        .body
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Block(b) if b.kind.name == "service" => Some(b),
            _ => None,
        })
        .collect();
    let [service] = services.as_slice() else {
        return Err("the file does not hold exactly one `service` block".into());
    };
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    set(&service.body, text, "digest", pin.digest, &mut edits)?;
    if let Some(v) = pin.version {
        set(&service.body, text, "version", v, &mut edits)?;
    }
    for item in &service.body.items {
        if let Item::Allow(a) = item
            && a.policy.name == "image-pinned"
        {
            let (start, end) = whole_lines(text, a.span.start as usize, a.span.end as usize);
            edits.push((start, end, String::new()));
        }
    }
    // From the end, and at one place a removal before an insertion.
    edits.sort_by_key(|e| std::cmp::Reverse((e.0, e.1)));
    let mut out = text.to_string();
    for (start, end, with) in edits {
        out.replace_range(start..end, &with);
    }
    Ok(out)
}

/// Replaces the value of the block's own `key = ...`, or adds the line.
fn set(body: &Body, text: &str, key: &str, value: &str, edits: &mut Vec<(usize, usize, String)>) -> Result<(), String> {
    let quoted = format!("\"{value}\"");
    let mut last = None;
    for item in &body.items {
        if let Item::Attribute(a) | Item::Locked(a) = item {
            last = Some(a);
            if a.path.display() == key {
                if !matches!(a.op, crate::ast::AssignOp::Set) {
                    return Err(format!("`{key}` is not set with `=` in the service block"));
                }
                edits.push((a.value.span.start as usize, a.value.span.end as usize, quoted));
                return Ok(());
            }
        }
    }
    // A new line after the last top-level assignment (or at the block's
    // start), indented like it.
    let (at, indent) = match last {
        Some(a) => {
            let (start, end) = whole_lines(text, a.span.start as usize, a.span.end as usize);
            let line = text.get(start..end).unwrap_or("");
            (end, line.chars().take_while(|c| *c == ' ' || *c == '\t').collect::<String>())
        }
        None => {
            let open =
                text.get(body.span.start as usize..).and_then(|t| t.find('{')).map(|i| i + body.span.start as usize);
            let at = open.and_then(|o| text.get(o..).and_then(|t| t.find('\n')).map(|n| o + n + 1));
            (at.ok_or("the service block has no body to add to")?, "  ".to_string())
        }
    };
    edits.push((at, at, format!("{indent}{key} = {quoted}\n")));
    Ok(())
}

/// The span widened to whole lines (from the line's start to after its
/// line break).
fn whole_lines(text: &str, start: usize, end: usize) -> (usize, usize) {
    let start = text.get(..start).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
    let end = text.get(end..).and_then(|t| t.find('\n')).map_or(text.len(), |i| end + i + 1);
    (start, end)
}

/// An OCI tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
fn is_image_tag(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with(['.', '-'])
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn replaces_values_and_keeps_everything_else() {
        let text = "# top\nservice a from web-api {\n  owner   = \"t\"   # who\n  version = \"1.0\"\n  digest  = \"sha256:00\"  # old\n  environment staging { version = \"x\" }\n}\n";
        let out = pin(text, &Pin { digest: DIGEST, version: Some("sha-abc") }).unwrap();
        assert_eq!(
            out,
            format!(
                "# top\nservice a from web-api {{\n  owner   = \"t\"   # who\n  version = \"sha-abc\"\n  digest  = \"{DIGEST}\"  # old\n  environment staging {{ version = \"x\" }}\n}}\n"
            )
        );
    }

    #[test]
    fn adds_the_digest_and_drops_the_first_release_waiver() {
        let text = "service a from web-api {\n  owner = \"t\"\n  version = \"0.1.0\"\n  allow image-pinned because \"no image yet\"\n\n  env { A = \"b\" }\n}\n";
        let out = pin(text, &Pin { digest: DIGEST, version: None }).unwrap();
        assert_eq!(
            out,
            format!(
                "service a from web-api {{\n  owner = \"t\"\n  version = \"0.1.0\"\n  digest = \"{DIGEST}\"\n\n  env {{ A = \"b\" }}\n}}\n"
            )
        );
        // The result parses and pinning again changes only the value.
        let again = pin(&out, &Pin { digest: DIGEST, version: None }).unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn refuses_what_is_not_a_pin() {
        let text = "service a from web-api {\n  owner = \"t\"\n}\n";
        assert!(pin(text, &Pin { digest: "sha256:xyz", version: None }).unwrap_err().contains("not an image digest"));
        assert!(pin(text, &Pin { digest: DIGEST, version: Some("a\"b") }).unwrap_err().contains("not an image tag"));
        assert!(pin("service a {", &Pin { digest: DIGEST, version: None }).unwrap_err().contains("does not parse"));
    }
}
