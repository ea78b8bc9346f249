//! The registry of targets: the kinds of output platc generates, each
//! declared in the standard library (`stdlib/targets.plat`) by a
//! `target NAME { ... }` block, in one place. Emit renders a target's
//! templates (`templates/<name>/*.hbs`) into the paths it declares, parses
//! and writes them in its format; `--target` names one; patches, policies
//! over generated objects (`generated("<name>/...")`) and `explain` of a
//! generated path find it (and its format) here. Adding a target is one
//! declaration plus its templates: no Rust changes.
//!
//! ```plat
//! target kubernetes {
//!   per       = environment                                # or `service`
//!   path      = "<service>/kubernetes/<environment>/<file>"
//!   format    = yaml                                       # yaml, json or hcl
//!   index     = kinds                                      # or `name` (the default)
//!   resources = "resource-<resource>.yaml"
//! }
//! ```
//!
//! What stays in Rust: which resource-type attribute holds a type's template
//! for a target ([`ResourceType::template_for`](crate::library::ResourceType::template_for):
//! `terraform` and `kubernetes`, whose presence also says whether the
//! resource is made in the cloud or in the cluster), and where the CLI
//! writes `.github/workflows/` paths (at the repository root, `src/cli/github.rs`:
//! GitHub runs workflows from there only; it goes by the path, not the target).

use crate::ast::{self, ExprKind};
use crate::diag::{Diagnostic, one_of, unknown_help};
use crate::emit::Format;
use crate::emit::doc::Doc;
use crate::library::Decl;
use crate::span::Span;

/// How often a target renders for a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Per {
    /// Once per environment (the context of that environment).
    Environment,
    /// Once per service (the context of its last environment).
    Service,
}

/// One declared target.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: String,
    /// Where it is declared (its name).
    pub span: Span,
    pub per: Per,
    /// Where a per-service template's file goes: `<service>`,
    /// `<environment>` and `<file>` (the template's name without `.hbs`).
    pub path: String,
    /// Where a workspace-wide template's (`templates/<name>/workspace/`) file
    /// goes: `<file>`.
    pub workspace_path: String,
    pub format: Format,
    /// The build index's kind of a file: `<name>/<kinds of its documents>`
    /// (`index = kinds`), or the target's name (`index = name`).
    pub kinds: bool,
    /// With `index = kinds`, the kind of a file whose documents have none
    /// (`untyped = "rules"`: `alerts/rules`).
    pub untyped: Option<String>,
    /// Renders only for services whose template context has this boolean
    /// true (`only_if = terraform`: services with cloud infrastructure).
    pub only_if: Option<String>,
    /// The file of each resource whose type has a template for this target
    /// (`<resource>`), or none: resources render nothing here.
    pub resources: Option<String>,
    /// The file of each grant of another service's resource whose type has
    /// a grant template for this target (`<owner>`, `<resource>`).
    pub grants: Option<String>,
}

/// The placeholders each pattern may use.
const PATH_WORDS: &[&str] = &["service", "environment", "file"];
const WORKSPACE_WORDS: &[&str] = &["file"];
const RESOURCE_WORDS: &[&str] = &["resource"];
const GRANT_WORDS: &[&str] = &["owner", "resource"];

const FIELDS: &[&str] =
    &["per", "path", "workspace_path", "format", "index", "untyped", "only_if", "resources", "grants"];

impl Target {
    /// The output path of a per-service template's `file`.
    pub fn path(&self, service: &str, env: &str, file: &str) -> String {
        fill(&self.path, &[("service", service), ("environment", env), ("file", file)])
    }

    /// The output path of a workspace-wide template's `file`.
    pub fn workspace_path(&self, file: &str) -> String {
        fill(&self.workspace_path, &[("file", file)])
    }

    /// The file name of a resource's template output.
    pub fn resource_file(&self, resource: &str) -> Option<String> {
        self.resources.as_deref().map(|p| fill(p, &[("resource", resource)]))
    }

    /// The file name of a grant's template output.
    pub fn grant_file(&self, owner: &str, resource: &str) -> Option<String> {
        self.grants.as_deref().map(|p| fill(p, &[("owner", owner), ("resource", resource)]))
    }

    pub fn per_environment(&self) -> bool {
        self.per == Per::Environment
    }

    /// The build index's kind of a file from its documents.
    pub fn kind(&self, docs: &[Doc]) -> String {
        if !self.kinds {
            return self.name.clone();
        }
        let mut kinds: Vec<&str> = docs.iter().filter_map(Doc::kind).collect();
        kinds.dedup();
        match &self.untyped {
            Some(u) if kinds.is_empty() => format!("{}/{u}", self.name),
            _ => format!("{}/{}", self.name, kinds.join("+")),
        }
    }

    /// How a file of this target is read and written: as its extension
    /// says (`.yaml`/`.yml`, `.json`, `.tf`), else in the target's format.
    pub fn format_of(&self, file: &str) -> Format {
        Format::named(file).unwrap_or(self.format)
    }
}

/// Every declared target, in declaration order (the embedded library's
/// first, then an overlay's).
#[derive(Clone, Debug, Default)]
pub struct Targets(pub Vec<Target>);

impl Targets {
    pub fn get(&self, name: &str) -> Option<&Target> {
        self.0.iter().find(|t| t.name == name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> + Clone {
        self.0.iter().map(|t| t.name.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Target> {
        self.0.iter()
    }

    /// Checks names asked for (`--target`): `Err` says which is unknown,
    /// with a did-you-mean.
    pub fn check_names<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
        for n in names {
            if self.get(n).is_none() {
                return Err(format!("unknown target `{n}`; {}", unknown_help(n, "target", self.names())));
            }
        }
        Ok(())
    }

    /// The target of a build-index kind (`kubernetes/Deployment`).
    pub fn of_kind(&self, kind: &str) -> Option<&Target> {
        self.get(kind.split('/').next().unwrap_or(kind))
    }
}

/// Substitutes `<word>` in a pattern (only the pattern's own text is
/// scanned: a value holding `<file>` stays as it is).
fn fill(pattern: &str, words: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut rest = pattern;
    while let Some(start) = rest.find('<') {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let value =
            from.find('>').and_then(|end| Some((end, words.iter().find(|(w, _)| from.get(1..end) == Some(*w))?.1)));
        match value {
            Some((end, v)) => {
                out.push_str(v);
                rest = from.get(end + 1..).unwrap_or("");
            }
            None => {
                out.push('<');
                rest = from.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `<word>`s of a pattern.
fn words(pattern: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(start) = rest.find('<') {
        let from = rest.get(start + 1..).unwrap_or("");
        match from.find('>') {
            Some(end) => {
                out.push(from.get(..end).unwrap_or(""));
                rest = from.get(end + 1..).unwrap_or("");
            }
            None => break,
        }
    }
    out
}

fn bad(message: impl Into<String>, span: Span, label: &str, help: impl Into<String>) -> Diagnostic {
    Diagnostic::error("platc::library::bad_declaration", message).label(span, label.to_string()).help(help)
}

/// A `target NAME { ... }` declaration.
pub(crate) fn target(decl: &Decl, diags: &mut Vec<Diagnostic>) -> Option<Target> {
    let name = decl.name.name.clone();
    let mut ok = true;
    for item in &decl.body.items {
        let key = match item {
            ast::Item::Attribute(a) => a.path.display(),
            other => {
                diags.push(bad(
                    "a target holds `field = value` lines",
                    other.span(),
                    "not a target field",
                    format!("a target holds {}", FIELDS.join(", ")),
                ));
                ok = false;
                continue;
            }
        };
        if !FIELDS.contains(&key.as_str()) {
            diags.push(bad(
                format!("unknown field `{key}` in a target"),
                item.span(),
                "not a target field",
                unknown_help(&key, "field", FIELDS.iter().copied()),
            ));
            ok = false;
        }
    }
    let symbol = |key: &str, choices: &[&str], diags: &mut Vec<Diagnostic>| -> Option<String> {
        let a = decl.body.get(key)?;
        match a.value.as_symbol().map(|i| i.name.as_str()) {
            Some(s) if choices.contains(&s) => Some(s.to_string()),
            _ => {
                diags.push(bad(
                    format!(
                        "a target's `{key}` is {}",
                        one_of(&choices.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>())
                    ),
                    a.value.span,
                    "not one of them",
                    format!("write `{key} = {}`", choices.first().copied().unwrap_or("")),
                ));
                None
            }
        }
    };
    let pattern = |key: &str, allowed: &[&str], diags: &mut Vec<Diagnostic>| -> Option<(String, Span)> {
        let a = decl.body.get(key)?;
        let text = match &a.value.kind {
            ExprKind::Str(s) => s.as_plain(),
            _ => None,
        };
        let Some(text) = text else {
            diags.push(bad(
                format!("a target's `{key}` is a plain string"),
                a.value.span,
                "not a plain string",
                format!(
                    "write `{key} = \"...\"` with {}",
                    allowed.iter().map(|w| format!("`<{w}>`")).collect::<Vec<_>>().join(", ")
                ),
            ));
            return None;
        };
        if let Some(w) = words(&text).into_iter().find(|w| !allowed.contains(w)) {
            diags.push(bad(
                format!("`<{w}>` is not a placeholder of a target's `{key}`"),
                a.value.span,
                "unknown placeholder",
                format!(
                    "`{key}` may use {}",
                    allowed.iter().map(|w| format!("`<{w}>`")).collect::<Vec<_>>().join(", ")
                ),
            ));
            return None;
        }
        Some((text, a.value.span))
    };
    let per = match symbol("per", &["environment", "service"], diags).as_deref() {
        Some("service") => Per::Service,
        _ => Per::Environment,
    };
    let format = match symbol("format", &["yaml", "json", "hcl"], diags).as_deref() {
        Some("json") => Format::Json,
        Some("hcl") => Format::Hcl,
        _ => Format::Yaml,
    };
    let kinds = symbol("index", &["name", "kinds"], diags).as_deref() == Some("kinds");
    let path = pattern("path", PATH_WORDS, diags);
    let Some((path, path_span)) = path else {
        if decl.body.get("path").is_none() {
            diags.push(bad(
                format!("target `{name}` has no `path`"),
                decl.name.span,
                "where do its files go?",
                format!("add `path = \"<service>/{name}/<environment>/<file>\"`"),
            ));
        }
        return None;
    };
    let needs = |word: &str| words(&path).contains(&word);
    if !needs("file") {
        diags.push(bad(
            format!("target `{name}`'s `path` has no `<file>`: every template would write the same file"),
            path_span,
            "no `<file>`",
            format!("end it with `<file>`: `\"{path}/<file>\"`"),
        ));
        ok = false;
    }
    if per == Per::Service && needs("environment") {
        diags.push(bad(
            format!("target `{name}` renders once per service, and its `path` names `<environment>`"),
            path_span,
            "no environment here",
            "write `per = environment`, or leave `<environment>` out",
        ));
        ok = false;
    }
    if per == Per::Environment && !needs("environment") {
        diags.push(bad(
            format!("target `{name}` renders per environment, and its `path` has no `<environment>`"),
            path_span,
            "the environments' files would have one path",
            "add `<environment>` to the path, or write `per = service`",
        ));
        ok = false;
    }
    let workspace_path = pattern("workspace_path", WORKSPACE_WORDS, diags).map_or("<file>".to_string(), |(p, _)| p);
    let resources = pattern("resources", RESOURCE_WORDS, diags).map(|(p, _)| p);
    let grants = pattern("grants", GRANT_WORDS, diags).map(|(p, _)| p);
    let untyped = pattern("untyped", &[], diags).map(|(p, _)| p);
    let only_if = decl.body.get("only_if").and_then(|a| match a.value.as_symbol() {
        Some(i) => Some(i.name.clone()),
        None => {
            diags.push(bad(
                "a target's `only_if` names a boolean of the template context",
                a.value.span,
                "not a name",
                "write `only_if = terraform`",
            ));
            None
        }
    });
    ok.then_some(Target {
        name,
        span: decl.name.span,
        per,
        path,
        workspace_path,
        format,
        kinds,
        untyped,
        only_if,
        resources,
        grants,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_substitutes_the_patterns_words_only() {
        let words = [("service", "a<file>"), ("environment", "prod"), ("file", "x.yaml")];
        assert_eq!(fill("<service>/k/<environment>/<file>", &words), "a<file>/k/prod/x.yaml");
        assert_eq!(fill("<other>/<file", &words), "<other>/<file");
        assert_eq!(super::words("<a>/b/<c>"), vec!["a", "c"]);
    }
}
