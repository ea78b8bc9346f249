//! Structured generated data and its canonical text forms.
//!
//! Rendered templates are parsed back into [`Doc`]s (keys keep the order the
//! template wrote them in), patched, and written out by the one canonical
//! writer per format here: the same `Doc` always gives the same bytes.

use std::fmt::Write;

/// A generated value.
#[derive(Clone, Debug, PartialEq)]
pub enum Doc {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Doc>),
    /// Keys in template order.
    Map(Vec<(String, Doc)>),
}

impl Doc {
    pub fn get(&self, key: &str) -> Option<&Doc> {
        match self {
            Doc::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Doc> {
        match self {
            Doc::Map(m) => m.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Doc::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Sets a key, keeping its position if it exists, appending otherwise.
    pub fn set(&mut self, key: &str, value: Doc) {
        if let Doc::Map(m) = self {
            match m.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => *v = value,
                None => m.push((key.to_string(), value)),
            }
        }
    }

    /// A scalar as text, anything else as one line of JSON (for messages).
    pub fn text(&self) -> String {
        match self {
            Doc::Str(s) => s.clone(),
            Doc::Int(i) => i.to_string(),
            Doc::Float(f) => f.to_string(),
            Doc::Bool(b) => b.to_string(),
            Doc::Null => "null".into(),
            other => {
                let mut s = String::new();
                to_json(other, &mut s);
                s.split_whitespace().collect::<Vec<_>>().join(" ")
            }
        }
    }

    /// A `kind`, for Kubernetes-style objects.
    pub fn kind(&self) -> Option<&str> {
        self.get("kind").and_then(Doc::as_str)
    }

    fn is_scalar(&self) -> bool {
        !matches!(self, Doc::List(l) if !l.is_empty()) && !matches!(self, Doc::Map(m) if !m.is_empty())
    }
}

// ---- YAML ---------------------------------------------------------------------

/// Writes documents as one YAML stream (`---` between documents).
pub fn to_yaml(docs: &[Doc], out: &mut String) {
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        yaml_value(d, 0, out);
    }
}

fn yaml_value(d: &Doc, indent: usize, out: &mut String) {
    match d {
        Doc::Map(m) if !m.is_empty() => yaml_map(m, indent, out),
        Doc::List(l) if !l.is_empty() => yaml_list(l, indent, out),
        scalar => {
            yaml_scalar(scalar, indent, out);
            out.push('\n');
        }
    }
}

fn yaml_map(m: &[(String, Doc)], indent: usize, out: &mut String) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            pad(indent, out);
        }
        yaml_key(k, out);
        out.push(':');
        if v.is_scalar() {
            out.push(' ');
            yaml_scalar(v, indent + 2, out);
            out.push('\n');
        } else {
            out.push('\n');
            pad(indent + 2, out);
            yaml_value(v, indent + 2, out);
        }
    }
}

fn yaml_list(l: &[Doc], indent: usize, out: &mut String) {
    for (i, v) in l.iter().enumerate() {
        if i > 0 {
            pad(indent, out);
        }
        out.push_str("- ");
        yaml_value(v, indent + 2, out);
    }
}

fn pad(n: usize, out: &mut String) {
    const SPACES: &str = "                                                                ";
    let mut left = n;
    while left > 0 {
        let take = left.min(SPACES.len());
        out.push_str(SPACES.get(..take).unwrap_or(""));
        left -= take;
    }
}

fn yaml_key(k: &str, out: &mut String) {
    if plain_safe(k) {
        out.push_str(k);
    } else {
        quote_into(k, out);
    }
}

fn yaml_scalar(d: &Doc, indent: usize, out: &mut String) {
    match d {
        Doc::Null => out.push_str("null"),
        Doc::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Doc::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Doc::Float(f) => float(*f, out),
        Doc::Str(s) if block_safe(s) => block(s, indent, out),
        Doc::Str(s) if plain_safe(s) => out.push_str(s),
        Doc::Str(s) => quote_into(s, out),
        Doc::List(_) => out.push_str("[]"),
        Doc::Map(_) => out.push_str("{}"),
    }
}

fn float(f: f64, out: &mut String) {
    if !f.is_finite() {
        out.push_str("null");
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        let _ = write!(out, "{f:.1}");
    } else {
        let _ = write!(out, "{f}");
    }
}

/// A double-quoted string that JSON and YAML both read back as the same
/// text: JSON's escapes, plus `\u` escapes for everything YAML treats as a
/// line break or a byte-order mark. Used for YAML scalars, JSON strings and
/// template values alike.
pub fn quote_into(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || matches!(c, '\u{7f}' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A literal block (`|`) for multi-line text that round-trips exactly.
fn block(s: &str, indent: usize, out: &mut String) {
    let body = s.strip_suffix('\n').unwrap_or(s);
    let chomp = if s.ends_with('\n') { "" } else { "-" };
    out.push('|');
    out.push_str(chomp);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            pad(indent, out);
            out.push_str(line);
        }
    }
}

fn block_safe(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\n'])
        && !s.ends_with("\n\n")
        && !s.chars().any(|c| {
            (c.is_control() && c != '\n') || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}' || c == '\u{85}'
        })
        && !s.split('\n').any(|l| l.ends_with(' '))
}

/// Whether a string can be written without quotes and read back as the same
/// string (under YAML 1.1 and 1.2 resolution both).
pub fn plain_safe(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(&first) = b.first() else { return false };
    if !(first.is_ascii_alphanumeric() || first == b'/') || b.last() == Some(&b' ') {
        return false;
    }
    // One pass: only safe bytes, and no `, ` or ` (`.
    let mut prev = 0u8;
    for &c in b {
        let ok = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/' | b' ' | b'(' | b')' | b',' | b'+');
        if !ok || (prev == b',' && c == b' ') || (prev == b' ' && c == b'(') {
            return false;
        }
        prev = c;
    }
    const RESERVED: &[&str] = &["true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf"];
    if b.len() <= 5 && RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)) {
        return false;
    }
    if first.is_ascii_digit() {
        // Only quantity-like words (`500m`, `512Mi`): digits, an optional
        // fraction, then letters that do not make an exponent.
        let digits = s.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
        let letters_only = !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_alphabetic());
        let dots = b.iter().filter(|c| **c == b'.').count();
        return letters_only && dots <= 1 && !digits.starts_with(['e', 'E']) && !digits.starts_with(['x', 'o', 'b']);
    }
    true
}

// ---- JSON ---------------------------------------------------------------------

/// Pretty JSON, two spaces, keys in document order.
pub fn to_json(d: &Doc, out: &mut String) {
    json_value(d, 0, out);
    out.push('\n');
}

/// `d` as JSON, its lines after the first indented by `indent` spaces.
pub fn json_value(d: &Doc, indent: usize, out: &mut String) {
    match d {
        Doc::Null => out.push_str("null"),
        Doc::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Doc::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Doc::Float(f) if f.is_finite() => {
            let _ = write!(out, "{f}");
        }
        Doc::Float(_) => out.push_str("null"),
        Doc::Str(s) => quote_into(s, out),
        Doc::List(l) if l.is_empty() => out.push_str("[]"),
        Doc::Map(m) if m.is_empty() => out.push_str("{}"),
        Doc::List(l) => {
            out.push('[');
            for (i, v) in l.iter().enumerate() {
                out.push_str(if i > 0 { ",\n" } else { "\n" });
                pad(indent + 2, out);
                json_value(v, indent + 2, out);
            }
            out.push('\n');
            pad(indent, out);
            out.push(']');
        }
        Doc::Map(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                out.push_str(if i > 0 { ",\n" } else { "\n" });
                pad(indent + 2, out);
                quote_into(k, out);
                out.push_str(": ");
                json_value(v, indent + 2, out);
            }
            out.push('\n');
            pad(indent, out);
            out.push('}');
        }
    }
}

/// A JSON value as a [`Doc`] (object keys in the order serde_json gives).
pub fn from_json(v: &serde_json::Value) -> Doc {
    match v {
        serde_json::Value::Null => Doc::Null,
        serde_json::Value::Bool(b) => Doc::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Doc::Int(i),
            None => Doc::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Doc::Str(s.clone()),
        serde_json::Value::Array(a) => Doc::List(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => Doc::Map(o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(d: &Doc) -> String {
        let mut s = String::new();
        to_yaml(std::slice::from_ref(d), &mut s);
        s
    }

    #[test]
    fn plain_only_when_it_reads_back_as_the_same_string() {
        for s in ["payments", "app.kubernetes.io/name", "500m", "512Mi", "/healthz", "Handles payments"] {
            assert!(plain_safe(s), "{s}");
        }
        for s in [
            "",
            "true",
            "No",
            "1.2.3",
            "123",
            "1e3",
            "0x1f",
            "a: b",
            "#x",
            "- x",
            "x ",
            "null",
            "~",
            "*a",
            "&a",
            "!tag",
            "2001-12-14",
        ] {
            assert!(!plain_safe(s), "{s}");
        }
    }

    #[test]
    fn writes_block_yaml_with_indented_lists() {
        let d = Doc::Map(vec![
            ("kind".into(), Doc::Str("Deployment".into())),
            (
                "spec".into(),
                Doc::Map(vec![(
                    "containers".into(),
                    Doc::List(vec![Doc::Map(vec![
                        ("name".into(), Doc::Str("app".into())),
                        ("args".into(), Doc::List(vec![Doc::Str("a: b".into())])),
                    ])]),
                )]),
            ),
            ("empty".into(), Doc::Map(vec![])),
            ("text".into(), Doc::Str("line one\nline two\n".into())),
        ]);
        assert_eq!(
            yaml(&d),
            "kind: Deployment\nspec:\n  containers:\n    - name: app\n      args:\n        - \"a: b\"\nempty: {}\ntext: |\n  line one\n  line two\n"
        );
    }

    #[test]
    fn json_keeps_key_order() {
        let d = Doc::Map(vec![("b".into(), Doc::Int(1)), ("a".into(), Doc::List(vec![Doc::Str("x\"".into())]))]);
        let mut s = String::new();
        to_json(&d, &mut s);
        assert_eq!(s, "{\n  \"b\": 1,\n  \"a\": [\n    \"x\\\"\"\n  ]\n}\n");
    }
}
