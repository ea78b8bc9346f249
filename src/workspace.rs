//! Stage 2b, the workspace: `platform.plat` (or the built-in workspace of a
//! lone service) → [`Workspace`], and which files hold its services.
//!
//! Services come from the `services` globs (matched against each
//! `service.plat`'s path and its directory) or, without globs, from every
//! `**/service.plat` outside the standard-library overlay.

use crate::ast::{self, ExprKind};
use crate::diag::{Diagnostic, unknown_help};
use crate::schema::is_dns_label;
use crate::span::Span;
use crate::value::{self, Layer, Map, Value};

pub const WORKSPACE_FILE: &str = "platform.plat";
pub const SERVICE_FILE: &str = "service.plat";

/// The clouds a workspace may be on: `aws` (the standard library's managed
/// resource types), `gcp` (the resource types that run in the cluster; a
/// platform overlay adds the types and Terraform it offers there).
pub const CLOUDS: &[&str] = &["aws", "gcp"];

#[derive(Clone, Debug)]
pub struct Environment {
    pub name: String,
    pub span: Span,
    /// `cluster`, `approval`, `domain`: checked against `schema environment`.
    pub values: Map,
}

#[derive(Clone, Debug)]
pub struct Workspace {
    pub name: String,
    pub span: Span,
    /// Whether this came from a `platform.plat` (not the built-in default).
    pub declared: bool,
    pub registry: Option<String>,
    pub repo: Option<String>,
    pub cloud: String,
    pub region: String,
    pub stdlib: Option<(String, Span)>,
    pub services: Vec<(String, Span)>,
    pub environments: Vec<Environment>,
    /// Every attribute as written, for templates (`workspace.*`).
    pub values: Map,
    /// How many directories above the workspace the repository root is
    /// (`repository_root = "../.."` is 2), and where that puts it.
    pub repo_up: (usize, Span),
    /// The workspace's directory relative to the repository root, with a
    /// trailing `/` (`""` when the workspace is the root): what workflows'
    /// paths start with. Set by [`Workspace::locate`].
    pub repo_dir: String,
}

const ATTRIBUTES: &[&str] = &[
    "registry",
    "repo",
    "cloud",
    "stdlib",
    "services",
    "catalog_url",
    "dashboards_url",
    "runbooks_url",
    "secret_store",
    "secret_delivery",
    "tls_issuer",
    "repository_root",
    "platc_image",
    "vendor_registries",
    "environment",
];

/// Where a vendor's image (`image_source = vendor`, an init container's
/// `image`) may come from when the workspace does not say: Docker's official
/// images and the Kubernetes project's registry. Each ends with `/`, so that
/// a prefix never matches a longer name (`docker.io/library-x`).
pub const VENDOR_REGISTRIES: &[&str] = &["docker.io/library/", "registry.k8s.io/"];

/// The cluster add-ons' object names a workspace that says nothing gets:
/// the External Secrets `ClusterSecretStore` and the cert-manager
/// `ClusterIssuer` the platform installs once, and secrets as files.
const DEFAULTS: &[(&str, &str)] = &[("secret_store", "platc"), ("secret_delivery", "files"), ("tls_issuer", "platc")];

impl Workspace {
    /// Reads a `workspace NAME { ... }` block.
    pub fn from_block(b: &ast::Block, declared: bool, diags: &mut Vec<Diagnostic>) -> Workspace {
        let name = b.labels.first().map(|l| l.name.clone()).unwrap_or_else(|| "default".into());
        if !is_dns_label(&name) {
            diags.push(dns_error("workspace", &name, b.labels.first().map(|l| l.span).unwrap_or(b.span)));
        }
        let mut ws = Workspace {
            name,
            span: b.labels.first().map(|l| l.span).unwrap_or(b.span),
            declared,
            registry: None,
            repo: None,
            cloud: "aws".into(),
            region: "us-east-1".into(),
            stdlib: None,
            services: Vec::new(),
            environments: Vec::new(),
            values: Map::new(),
            repo_up: (0, Span::default()),
            repo_dir: String::new(),
        };
        for item in &b.body.items {
            match item {
                ast::Item::Attribute(a) => ws.attribute(a, diags),
                ast::Item::Block(env) if env.kind.name == "environment" => ws.environment(env, diags),
                other => diags.push(
                    Diagnostic::error("platc::workspace::unknown_attribute", "this does not belong in a workspace")
                        .label(other.span(), "not a workspace attribute")
                        .help(format!("a workspace holds {}", ATTRIBUTES.join(", "))),
                ),
            }
        }
        if ws.environments.is_empty() {
            diags.push(
                Diagnostic::error("platc::workspace::no_environments", "the workspace declares no environment")
                    .label(ws.span, "no `environment` block")
                    .help("add `environment staging { }` and `environment production { }`"),
            );
        }
        ws
    }

    fn attribute(&mut self, a: &ast::Attribute, diags: &mut Vec<Diagnostic>) {
        let key = a.path.display();
        let string = |diags: &mut Vec<Diagnostic>| match &a.value.kind {
            ExprKind::Str(s) if s.as_plain().is_some() => s.as_plain(),
            _ => {
                diags.push(
                    Diagnostic::error("platc::workspace::bad_value", format!("`{key}` is a plain string"))
                        .label(a.value.span, format!("found {}", a.value.describe()))
                        .help(format!("write `{key} = \"...\"`")),
                );
                None
            }
        };
        match key.as_str() {
            "registry" => {
                self.registry = string(diags).map(|s| s.trim_end_matches('/').to_string());
                if let Some(r) = &self.registry
                    && (r.is_empty() || r.contains(char::is_whitespace) || r.contains("://"))
                {
                    diags.push(
                        Diagnostic::error("platc::workspace::bad_value", "`registry` is an image registry path")
                            .label(a.value.span, "not a registry")
                            .help("write it as images are named, without a scheme: `registry = \"ghcr.io/acme\"`"),
                    );
                }
            }
            "repo" => {
                self.repo = string(diags);
                if let Some(r) = &self.repo {
                    let ok = r.split('/').count() == 2
                        && r.split('/').all(|p| {
                            !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                        });
                    if !ok {
                        diags.push(
                            Diagnostic::error("platc::workspace::bad_value", "`repo` is a GitHub `owner/name`")
                                .label(a.value.span, "not owner/name")
                                .help("write `repo = \"acme/platform\"`"),
                        );
                    }
                }
            }
            "stdlib" => self.stdlib = string(diags).map(|s| (s, a.value.span)),
            "secret_store" | "tls_issuer" => {
                if let Some(s) = string(diags)
                    && !crate::schema::is_dns_subdomain(&s)
                {
                    let what = if key == "secret_store" {
                        "an External Secrets ClusterSecretStore"
                    } else {
                        "a cert-manager ClusterIssuer"
                    };
                    diags.push(
                        Diagnostic::error("platc::workspace::bad_value", format!("`{key}` names {what}"))
                            .label(a.value.span, "not a Kubernetes object name")
                            .help(format!("write `{key} = \"platc\"` (lowercase letters, digits, `-` and `.`)")),
                    );
                }
            }
            "repository_root" => {
                let Some(s) = string(diags) else { return };
                let up = s.trim_end_matches('/').split('/').filter(|p| *p != ".").collect::<Vec<_>>();
                if up.iter().any(|p| *p != "..") {
                    diags.push(
                        Diagnostic::error(
                            "platc::workspace::bad_value",
                            "`repository_root` is the workspace's directory or one above it",
                        )
                        .label(a.value.span, "not `.`, `..`, `../..`, ...")
                        .help("GitHub reads workflows from the repository root's `.github/workflows/`: write `repository_root = \"..\"` when platform.plat is one directory below it"),
                    );
                    return;
                }
                self.repo_up = (up.len(), a.value.span);
            }
            "platc_image" => {
                if let Some(s) = string(diags)
                    && !s.split_once('@').is_some_and(|(repo, digest)| {
                        !repo.is_empty() && !repo.contains(char::is_whitespace) && crate::schema::is_digest(digest)
                    })
                {
                    diags.push(
                        Diagnostic::error("platc::workspace::bad_value", "`platc_image` is an image pinned by digest")
                            .label(a.value.span, "not `repository@sha256:...`")
                            .help("write the image of platc that CI runs to pin releases, such as `platc_image = \"ghcr.io/acme/platc:0.4.0@sha256:...\"`"),
                    );
                }
            }
            "secret_delivery" => {
                let word = match &a.value.kind {
                    ExprKind::Ref(p) if p.len() == 1 => p.first().map(|i| i.name.clone()),
                    _ => None,
                };
                if !matches!(word.as_deref(), Some("files" | "env")) {
                    diags.push(
                        Diagnostic::error("platc::workspace::bad_value", "`secret_delivery` is `files` or `env`")
                            .label(a.value.span, "not `files` or `env`")
                            .help("`files` mounts each secret and sets `NAME_FILE`; `env` sets `NAME` from the Secret"),
                    );
                    return;
                }
            }
            "catalog_url" | "dashboards_url" | "runbooks_url" => {
                if let Some(s) = string(diags)
                    && (!s.starts_with("https://") || s.contains(char::is_whitespace))
                {
                    diags.push(
                        Diagnostic::error("platc::workspace::bad_value", format!("`{key}` is an https URL"))
                            .label(a.value.span, "not an https URL")
                            .help(format!("write `{key} = \"https://...\"`")),
                    );
                }
            }
            "vendor_registries" => {
                let ExprKind::List(items) = &a.value.kind else {
                    diags.push(
                        Diagnostic::error(
                            "platc::workspace::bad_value",
                            "`vendor_registries` is a list of registry paths",
                        )
                        .label(a.value.span, "not a list")
                        .help("write `vendor_registries = [\"docker.io/library\", \"quay.io/prometheus\"]`"),
                    );
                    return;
                };
                let mut list = Vec::new();
                for item in items {
                    match &item.kind {
                        ExprKind::Str(s) if s.as_plain().is_some_and(|r| is_registry_path(&r)) =>
                        {
                            let r = s.as_plain().unwrap_or_default();
                            list.push(crate::value::Node::new(
                                Value::Str(format!("{}/", r.trim_end_matches('/'))),
                                Layer::Builtin,
                                item.span,
                            ));
                        }
                        _ => diags.push(
                            Diagnostic::error("platc::workspace::bad_value", "`vendor_registries` lists registry paths")
                                .label(item.span, "not a registry path")
                                .help("write each as images are named, without a scheme, tag or digest: `\"quay.io/prometheus\"`"),
                        ),
                    }
                }
                self.values.insert(key, crate::value::Node::new(Value::List(list), Layer::Builtin, a.value.span));
                return;
            }
            "services" => match &a.value.kind {
                ExprKind::List(items) => {
                    for item in items {
                        match &item.kind {
                            ExprKind::Str(s) if s.as_plain().is_some() => {
                                self.services.push((s.as_plain().unwrap_or_default(), item.span))
                            }
                            _ => diags.push(
                                Diagnostic::error("platc::workspace::bad_value", "`services` lists glob strings")
                                    .label(item.span, "not a string")
                                    .help("write `services = [\"services/*\"]`"),
                            ),
                        }
                    }
                }
                _ => diags.push(
                    Diagnostic::error("platc::workspace::bad_value", "`services` is a list of globs")
                        .label(a.value.span, "not a list")
                        .help("write `services = [\"services/*\"]`"),
                ),
            },
            "cloud" => match &a.value.kind {
                ExprKind::Tagged { tag, body } => {
                    self.cloud = tag.name.clone();
                    if !CLOUDS.contains(&tag.name.as_str()) {
                        diags.push(
                            Diagnostic::error("platc::workspace::bad_value", format!("unknown cloud `{}`", tag.name))
                                .label(tag.span, "not a supported cloud")
                                .help(unknown_help(&tag.name, "cloud", CLOUDS.iter().copied())),
                        );
                    }
                    if let Some(r) = body.get("region") {
                        match &r.value.kind {
                            ExprKind::Str(s)
                                if s.as_plain().is_some_and(|r| {
                                    !r.is_empty()
                                        && r.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                                }) =>
                            {
                                self.region = s.as_plain().unwrap_or_default()
                            }
                            _ => diags.push(
                                Diagnostic::error("platc::workspace::bad_value", "`region` is a cloud region name")
                                    .label(r.value.span, "not a region")
                                    .help("write `region = \"eu-west-1\"`"),
                            ),
                        }
                    }
                }
                ExprKind::Ref(p) if p.len() == 1 => self.cloud = p.first().map(|i| i.name.clone()).unwrap_or_default(),
                _ => diags.push(
                    Diagnostic::error("platc::workspace::bad_value", "`cloud` names a provider and its settings")
                        .label(a.value.span, "not a cloud")
                        .help("write `cloud = aws { region = \"eu-west-1\" }`"),
                ),
            },
            _ => {
                diags.push(
                    Diagnostic::error(
                        "platc::workspace::unknown_attribute",
                        format!("unknown workspace attribute `{key}`"),
                    )
                    .label(a.path.span, "not a workspace attribute")
                    .help(unknown_help(&key, "attribute", ATTRIBUTES.iter().copied())),
                );
                return;
            }
        }
        let node = value::from_expr(&a.value, &Layer::Builtin, diags);
        self.values.insert(key, node);
    }

    fn environment(&mut self, b: &ast::Block, diags: &mut Vec<Diagnostic>) {
        let Some(label) = b.labels.first() else {
            diags.push(
                Diagnostic::error("platc::workspace::bad_value", "an environment has a name")
                    .label(b.span, "no name")
                    .help("write `environment production { ... }`"),
            );
            return;
        };
        if !is_dns_label(&label.name) {
            diags.push(dns_error("environment", &label.name, label.span));
        }
        if let Some(prev) = self.environments.iter().find(|e| e.name == label.name) {
            diags.push(
                Diagnostic::error(
                    "platc::workspace::duplicate",
                    format!("environment `{}` is declared twice", label.name),
                )
                .label(label.span, "declared again")
                .also(prev.span, "first declared here"),
            );
            return;
        }
        let values = value::map_from_body(&b.body, &Layer::Builtin, diags);
        self.environments.push(Environment { name: label.name.clone(), span: label.span, values });
    }

    /// Works out [`Workspace::repo_dir`] from the names of the workspace's
    /// directory and its parents (innermost first; given by the caller,
    /// which knows the file system).
    pub fn locate(&mut self, dirs: &[String], diags: &mut Vec<Diagnostic>) {
        let (up, span) = self.repo_up;
        if up == 0 {
            return;
        }
        let Some(names) = dirs.get(..up) else {
            diags.push(
                Diagnostic::error("platc::workspace::bad_value", "`repository_root` is above the file system's root")
                    .label(span, format!("{up} directories up"))
                    .help("point it at the directory that holds `.git`"),
            );
            return;
        };
        let mut dir: String = names.iter().rev().map(|n| format!("{n}/")).collect();
        if names.iter().any(|n| n.is_empty() || n.contains(|c: char| c.is_control() || c == '\\')) {
            dir.clear();
        }
        self.repo_dir = dir;
    }

    /// Names of the environments, in the workspace's order.
    pub fn environment_names(&self) -> impl Iterator<Item = &str> + Clone {
        self.environments.iter().map(|e| e.name.as_str())
    }

    /// `workspace.*` as JSON, for templates and policies.
    pub fn to_json(&self) -> serde_json::Value {
        let mut obj = match value::map_json(&self.values) {
            serde_json::Value::Object(o) => o,
            _ => serde_json::Map::new(),
        };
        for (key, default) in DEFAULTS {
            obj.entry(key.to_string()).or_insert_with(|| (*default).into());
        }
        obj.entry("vendor_registries".to_string()).or_insert_with(|| VENDOR_REGISTRIES.iter().copied().collect());
        for key in ATTRIBUTES.iter().filter(|k| **k != "environment") {
            obj.entry(key.to_string()).or_insert(serde_json::Value::Null);
        }
        obj.insert("name".into(), self.name.clone().into());
        obj.insert("cloud".into(), serde_json::json!({ "provider": self.cloud, "region": self.region }));
        obj.insert("environments".into(), self.environments.iter().map(|e| e.name.clone()).collect());
        obj.insert("repo_dir".into(), self.repo_dir.clone().into());
        serde_json::Value::Object(obj)
    }

    /// The keys [`Workspace::get`] answers (for completion).
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> =
            ["name", "registry", "repo", "region", "vendor_registries"].iter().map(|k| k.to_string()).collect();
        keys.extend(self.values.keys().filter(|k| self.get(k).is_some()).cloned());
        keys.sort();
        keys.dedup();
        keys
    }

    /// A workspace value for policies and interpolation (`workspace.registry`).
    pub fn get(&self, key: &str) -> Option<Value> {
        match key {
            "name" => Some(Value::Str(self.name.clone())),
            "registry" => self.registry.clone().map(Value::Str),
            "repo" => self.repo.clone().map(Value::Str),
            "region" => Some(Value::Str(self.region.clone())),
            "vendor_registries" => Some(self.values.get(key).map(|n| n.value.clone()).unwrap_or_else(|| {
                Value::List(
                    VENDOR_REGISTRIES
                        .iter()
                        .map(|r| crate::value::Node::new(Value::Str((*r).to_string()), Layer::Builtin, Span::default()))
                        .collect(),
                )
            })),
            _ => self.values.get(key).map(|n| n.value.clone()),
        }
    }
}

/// A registry path as images are named: `quay.io/prometheus`,
/// `localhost:5000` (no scheme, tag or digest).
fn is_registry_path(r: &str) -> bool {
    let r = r.trim_end_matches('/');
    !r.is_empty()
        && !r.contains(char::is_whitespace)
        && !r.contains("://")
        && !r.contains('@')
        && (!r.contains('/') || r.rsplit('/').next().is_some_and(|last| !last.contains(':')))
}

pub fn dns_error(what: &str, name: &str, span: Span) -> Diagnostic {
    let fixed: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .chars()
        .take(63)
        .collect();
    let help = if fixed.is_empty() || fixed == name {
        "use lowercase letters, digits and `-`, at most 63 characters, starting and ending with a letter or digit"
            .to_string()
    } else {
        format!("names are DNS labels (lowercase letters, digits, `-`); try `{fixed}`")
    };
    Diagnostic::error("platc::check::bad_name", format!("{what} name `{name}` is not a DNS label"))
        .label(span, "not a DNS label")
        .help(help)
}

/// Matches a `/`-separated path against a glob: `*` within one segment,
/// `**` across segments, `?` one character. Linear-time backtracking (the
/// classic two-pointer wildcard match, at both levels), so no pattern can
/// make it slow.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.trim_start_matches("./").trim_end_matches('/').split('/').collect();
    let segs: Vec<&str> = path.split('/').collect();
    wildcard(&pat, &segs, |p| *p == "**", |p, s| match_one(p.as_bytes(), s.as_bytes()))
}

/// Two-pointer wildcard matching over any items: `is_star` items match any
/// run of items, `eq` matches one against one.
fn wildcard<P, S>(pat: &[P], text: &[S], is_star: impl Fn(&P) -> bool, eq: impl Fn(&P, &S) -> bool) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match (pat.get(p), text.get(t)) {
            (Some(pi), _) if is_star(pi) => {
                star = Some((p, t));
                p += 1;
            }
            (Some(pi), Some(ti)) if eq(pi, ti) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat.get(p..).is_some_and(|rest| rest.iter().all(&is_star))
}

fn match_one(p: &[u8], s: &[u8]) -> bool {
    wildcard(p, s, |c| *c == b'*', |pc, sc| *pc == b'?' || pc == sc)
}

/// Whether a service file is selected by the workspace's globs.
pub fn selects(globs: &[(String, Span)], path: &str) -> bool {
    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    globs.iter().any(|(g, _)| glob_match(g, path) || glob_match(g, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("services/*", "services/payments"));
        assert!(!glob_match("services/*", "services/payments/service.plat"));
        assert!(glob_match("services/**", "services/a/b/service.plat"));
        assert!(glob_match("**/service.plat", "service.plat"));
        assert!(glob_match("svc-?", "svc-1"));
        assert!(glob_match("a/**/b/*", "a/x/y/b/c"));
        assert!(!glob_match("a/**/b/*", "a/x/y/c"));
        // No exponential blow-up on many stars.
        let many = "*a".repeat(40) + "b";
        assert!(!glob_match(&many, &"a".repeat(200)));
        assert!(selects(&[("services/*".into(), Span::default())], "services/payments/service.plat"));
        assert!(!selects(&[("apps/*".into(), Span::default())], "services/payments/service.plat"));
    }

    #[test]
    fn dns_error_suggests_a_fixed_name() {
        let d = dns_error("service", "Payments_API", Span::default());
        assert_eq!(
            d.help.as_deref(),
            Some("names are DNS labels (lowercase letters, digits, `-`); try `payments-api`")
        );
    }
}
