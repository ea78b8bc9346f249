//! What a change does to the generated files: two [`Output`]s (base and
//! head, compiled with `keep_docs`) → per-file changes with a readable
//! summary ("spec.replicas: 5 → 6", "spec.egress + ledger",
//! "aws_db_instance.main: instance_class db.t4g.small → db.m6g.large") and a
//! unified diff; and the reports of them ([`text`], [`markdown`], [`json`]),
//! where every name, path and value from the workspace is printed through
//! [`crate::escape`] for the place it lands. Pure: the CLI reads the git
//! revision.

use crate::emit::doc::Doc;
use crate::emit::{OutFile, Output};
use crate::escape;

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    Modified,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Modified => "modified",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileChange {
    pub path: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub kind: String,
    pub change: Change,
    /// Readable lines, one per changed value (object-qualified).
    pub summary: Vec<String>,
    pub unified: String,
}

/// Compares two builds; the index file is left out (it changes with any file).
pub fn diff(base: &Output, head: &Output) -> Vec<FileChange> {
    let mut paths: Vec<&String> = base.files.keys().chain(head.files.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut out = Vec::new();
    for path in paths {
        if path == crate::emit::INDEX_FILE {
            continue;
        }
        let (a, b) = (base.files.get(path).map(|f| &**f), head.files.get(path).map(|f| &**f));
        let (change, meta) = match (a, b) {
            (Some(x), Some(y)) if x.contents == y.contents => continue,
            (Some(_), Some(y)) => (Change::Modified, y),
            (None, Some(y)) => (Change::Added, y),
            (Some(x), None) => (Change::Removed, x),
            (None, None) => continue,
        };
        let old = a.map(|f| f.contents.as_str()).unwrap_or("");
        let new = b.map(|f| f.contents.as_str()).unwrap_or("");
        let unified = similar::TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .header(&quoted(&format!("a/{path}")), &quoted(&format!("b/{path}")))
            .to_string();
        out.push(FileChange {
            path: path.clone(),
            service: meta.service.clone(),
            environment: meta.environment.clone(),
            kind: meta.kind.clone(),
            change,
            summary: summarize(a, b, change),
            unified,
        });
    }
    out
}

/// A path for a unified diff header, quoted as git quotes it when it holds
/// a character that would break the line or its reading (`"a/x\ny"`).
fn quoted(path: &str) -> String {
    if !path.contains(|c| escape::hidden(c) || c == '"' || c == '\\') {
        return path.to_string();
    }
    format!("\"{}\"", escape::line(&path.replace('\\', "\\\\").replace('"', "\\\"")))
}

fn summarize(a: Option<&OutFile>, b: Option<&OutFile>, change: Change) -> Vec<String> {
    let docs = |f: Option<&OutFile>| f.and_then(|f| f.docs.clone()).unwrap_or_default();
    let (old, new) = (docs(a), docs(b));
    match change {
        Change::Added => new.iter().map(|d| format!("{} added", object(d))).collect(),
        Change::Removed => old.iter().map(|d| format!("{} removed", object(d))).collect(),
        Change::Modified => {
            let mut lines = Vec::new();
            for d in &new {
                match old.iter().find(|o| same_object(o, d)) {
                    Some(o) => {
                        let mut changes = Vec::new();
                        compare(o, d, &mut String::new(), &mut changes);
                        let name = object(d);
                        if is_terraform(d) {
                            lines.extend(terraform_lines(o, d));
                        } else {
                            lines.extend(changes.into_iter().map(|c| format!("{name}: {c}")));
                        }
                    }
                    None => lines.push(format!("{} added", object(d))),
                }
            }
            for o in old.iter().filter(|o| !new.iter().any(|d| same_object(o, d))) {
                lines.push(format!("{} removed", object(o)));
            }
            lines
        }
    }
}

/// `Deployment orders`, `Component orders`, or the file's first key.
fn object(d: &Doc) -> String {
    let name = d.get("metadata").and_then(|m| m.get("name")).and_then(Doc::as_str);
    match (d.kind(), name) {
        (Some(k), Some(n)) => format!("{k} {n}"),
        (Some(k), None) => k.to_string(),
        _ => match d.get("title").and_then(Doc::as_str) {
            Some(t) => format!("dashboard {t:?}"),
            None => "document".into(),
        },
    }
}

fn same_object(a: &Doc, b: &Doc) -> bool {
    a.kind() == b.kind()
        && a.get("metadata").and_then(|m| m.get("name")) == b.get("metadata").and_then(|m| m.get("name"))
}

fn is_terraform(d: &Doc) -> bool {
    d.kind().is_none() && (d.get("resource").is_some() || d.get("terraform").is_some() || d.get("output").is_some())
}

/// `aws_db_instance.main: instance_class "db.t4g.small" → "db.m6g.large"`
fn terraform_lines(old: &Doc, new: &Doc) -> Vec<String> {
    let mut lines = Vec::new();
    let (Some(Doc::Map(nb)), ob) = (new.get("resource"), old.get("resource")) else {
        let mut changes = Vec::new();
        compare(old, new, &mut String::new(), &mut changes);
        return changes;
    };
    for (ty, named) in nb {
        let Doc::Map(named) = named else { continue };
        for (name, body) in named {
            let before = ob.and_then(|o| o.get(ty)).and_then(|t| t.get(name));
            match before {
                Some(b) => {
                    let mut changes = Vec::new();
                    compare(b, body, &mut String::new(), &mut changes);
                    lines.extend(changes.into_iter().map(|c| format!("Terraform {ty}.{name}: {c}")));
                }
                None => lines.push(format!("Terraform {ty}.{name} added")),
            }
        }
    }
    if let Some(Doc::Map(ob)) = ob {
        for (ty, named) in ob {
            let Doc::Map(named) = named else { continue };
            for (name, _) in named {
                if new.get("resource").and_then(|r| r.get(ty)).and_then(|t| t.get(name)).is_none() {
                    lines.push(format!("Terraform {ty}.{name} removed"));
                }
            }
        }
    }
    lines
}

/// Differences between two values, as `path: old → new`, `path + item` and
/// `path - item` lines.
fn compare(a: &Doc, b: &Doc, path: &mut String, out: &mut Vec<String>) {
    match (a, b) {
        (Doc::Map(x), Doc::Map(y)) => {
            for (k, vb) in y {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                match x.iter().find(|(ka, _)| ka == k) {
                    Some((_, va)) => compare(va, vb, path, out),
                    None => out.push(format!("{path} = {}", short(vb))),
                }
                path.truncate(len);
            }
            for (k, va) in x.iter().filter(|(k, _)| !y.iter().any(|(kb, _)| kb == k)) {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                out.push(format!("{p} removed (was {})", short(va)));
            }
        }
        (Doc::List(x), Doc::List(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{}]", item_key(va).unwrap_or_else(|| i.to_string())));
                compare(va, vb, path, out);
                path.truncate(len);
            }
        }
        (Doc::List(x), Doc::List(y)) => {
            for item in y.iter().filter(|i| !x.contains(i)) {
                out.push(format!("{path} + {}", label(item)));
            }
            for item in x.iter().filter(|i| !y.contains(i)) {
                out.push(format!("{path} - {}", label(item)));
            }
        }
        (x, y) if x != y => out.push(format!("{path}: {} → {}", short(x), short(y))),
        _ => {}
    }
}

/// `name=app` for list items that have a name.
fn item_key(d: &Doc) -> Option<String> {
    d.get("name").and_then(Doc::as_str).map(|n| format!("name={n}"))
}

/// A list item in words: its name, the name of the first workload it
/// selects, or a short rendering.
fn label(d: &Doc) -> String {
    fn find(d: &Doc, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        match d {
            Doc::Map(m) => {
                for key in ["name", "app.kubernetes.io/name", "kubernetes.io/metadata.name"] {
                    if let Some(Doc::Str(s)) = d.get(key) {
                        return Some(s.clone());
                    }
                }
                m.iter().find_map(|(_, v)| find(v, depth + 1))
            }
            Doc::List(items) => items.iter().find_map(|i| find(i, depth + 1)),
            _ => None,
        }
    }
    match d {
        Doc::Map(_) | Doc::List(_) => find(d, 0).unwrap_or_else(|| short(d)),
        other => short(other),
    }
}

fn short(d: &Doc) -> String {
    let s = d.text();
    if s.chars().count() > 80 { format!("{}…", s.chars().take(77).collect::<String>()) } else { s }
}

// ---- Reports ------------------------------------------------------------------

/// `orders / production`, `orders` or `workspace` (unescaped).
fn heading(c: &FileChange) -> String {
    match (&c.service, &c.environment) {
        (Some(s), Some(e)) => format!("{s} / {e}"),
        (Some(s), None) => s.clone(),
        _ => "workspace".into(),
    }
}

fn grouped(changes: &[FileChange]) -> Vec<(String, Vec<&FileChange>)> {
    let mut groups: Vec<(String, Vec<&FileChange>)> = Vec::new();
    for c in changes {
        let h = heading(c);
        match groups.iter_mut().find(|(g, _)| *g == h) {
            Some((_, v)) => v.push(c),
            None => groups.push((h, vec![c])),
        }
    }
    groups
}

/// A change's readable lines (unescaped).
fn lines_of(c: &FileChange) -> Vec<String> {
    match c.change {
        Change::Modified if !c.summary.is_empty() => c.summary.clone(),
        Change::Modified => vec![format!("{} changed", c.path)],
        _ => vec![format!("{} {}", c.path, c.change.as_str())],
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

/// For a terminal: a line per group, an indented line per change, then the
/// unified diff. Names and values are printed through [`escape::line`] (a
/// line break or an escape sequence in a value is shown, not obeyed), the
/// diff through [`escape::lines`].
pub fn text(changes: &[FileChange], base: &str) -> String {
    let base = escape::line(base);
    if changes.is_empty() {
        return format!("no change to the generated files since {base}\n");
    }
    let mut s = String::new();
    for (h, cs) in grouped(changes) {
        s.push_str(&format!("{}\n", escape::line(&h)));
        for c in cs {
            for l in lines_of(c) {
                s.push_str(&format!("  {}\n", escape::line(&l)));
            }
        }
    }
    s.push('\n');
    for c in changes {
        s.push_str(&escape::lines(&c.unified));
    }
    s
}

/// For a pull request comment (GitHub-flavoured markdown): a heading, a bold
/// line per group with a list item per change, then the unified diff in a
/// fenced block inside `<details>`. Every name, path and value is inert text
/// where it lands ([`escape::md_inline`], [`escape::md_code`],
/// [`escape::md_fenced`]): the only headings, HTML and blocks are these.
pub fn markdown(changes: &[FileChange], base: &str) -> String {
    let base = escape::md_code(base);
    if changes.is_empty() {
        return format!("**platc diff**: no change to the generated files since {base}.\n");
    }
    let services: std::collections::BTreeSet<_> = changes.iter().filter_map(|c| c.service.as_ref()).collect();
    let mut s = format!(
        "### platc diff against {base}: {} changed in {}\n\n",
        plural(changes.len(), "file"),
        plural(services.len(), "service")
    );
    for (h, cs) in grouped(changes) {
        s.push_str(&format!("**{}**\n\n", escape::md_inline(&h)));
        for c in cs {
            for l in lines_of(c) {
                s.push_str(&format!("- {}\n", escape::md_inline(&l)));
            }
        }
        s.push('\n');
    }
    let unified: String = changes.iter().map(|c| c.unified.as_str()).collect();
    s.push_str("<details><summary>Unified diff</summary>\n\n");
    s.push_str(&escape::md_fenced(&unified, "diff"));
    s.push_str("\n</details>\n");
    s
}

/// For programs: the changes as JSON (serde escapes every string).
pub fn json(changes: &[FileChange], base: &str) -> String {
    let files: Vec<serde_json::Value> = changes
        .iter()
        .map(|c| {
            serde_json::json!({
                "path": c.path, "service": c.service, "environment": c.environment, "kind": c.kind,
                "change": c.change.as_str(), "summary": c.summary, "diff": c.unified,
            })
        })
        .collect();
    format!("{}\n", serde_json::json!({ "base": base, "changed": !changes.is_empty(), "files": files }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::yaml;

    fn out(files: &[(&str, &str)]) -> Output {
        let mut o = Output::default();
        for (p, text) in files {
            o.files.insert(
                p.to_string(),
                std::sync::Arc::new(OutFile::new(
                    text.to_string(),
                    Some("orders".into()),
                    Some("production".into()),
                    "kubernetes/Deployment".into(),
                    Some(yaml::parse(text).unwrap()),
                )),
            );
        }
        o
    }

    #[test]
    fn one_changed_value_is_one_line() {
        let a = out(&[("d.yaml", "kind: Deployment\nmetadata: {name: orders}\nspec: {replicas: 5}\n")]);
        let b = out(&[("d.yaml", "kind: Deployment\nmetadata: {name: orders}\nspec: {replicas: 6}\n")]);
        let d = diff(&a, &b);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].summary, vec!["Deployment orders: spec.replicas: 5 → 6"]);
        assert!(d[0].unified.contains("-spec: {replicas: 5}"));
    }

    #[test]
    fn list_items_added_by_name() {
        let np = |peers: &str| format!("kind: NetworkPolicy\nmetadata: {{name: orders}}\nspec:\n  egress: [{peers}]\n");
        let a = out(&[("n.yaml", &np("{to: [{podSelector: {matchLabels: {app.kubernetes.io/name: users}}}]}"))]);
        let b = out(&[(
            "n.yaml",
            &np(
                "{to: [{podSelector: {matchLabels: {app.kubernetes.io/name: users}}}]}, {to: [{podSelector: {matchLabels: {app.kubernetes.io/name: ledger}}}]}",
            ),
        )]);
        assert_eq!(diff(&a, &b)[0].summary, vec!["NetworkPolicy orders: spec.egress + ledger"]);
    }

    #[test]
    fn no_change_no_report() {
        let a = out(&[("d.yaml", "kind: Deployment\n")]);
        assert!(diff(&a, &a).is_empty());
    }
}
