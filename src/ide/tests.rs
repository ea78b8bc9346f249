use super::*;
use crate::sources::Sources;
use crate::{Options, compile};

#[test]
fn positions_count_utf16_units() {
    // `é` is 2 bytes and 1 unit; `😀` is 4 bytes and 2 units.
    let text = "ab\n# é😀 x\r\nz";
    let x = text.find('x').unwrap();
    assert_eq!(position(text, x), (1, 6));
    assert_eq!(offset(text, 1, 6), x);
    assert_eq!(position(text, 0), (0, 0));
    let z = text.find('z').unwrap();
    assert_eq!(position(text, z), (2, 0));
    assert_eq!(offset(text, 2, 0), z);
    // Inside a character: its start; past a line's end: the end (before CRLF).
    assert_eq!(position(text, text.find('é').unwrap() + 1), (1, 2));
    assert_eq!(offset(text, 1, 99), text.find('\r').unwrap());
    assert_eq!(offset(text, 9, 0), text.len());
    for i in 0..=text.len() {
        if text.is_char_boundary(i) && text.get(i..i + 1) != Some("\n") && text.get(i..i + 1) != Some("\r") {
            let (l, c) = position(text, i);
            assert_eq!(offset(text, l, c), i, "round trip at {i}");
        }
    }
}

#[test]
fn open_blocks_skip_strings_and_comments() {
    let text = "service a from web-api {\n  # a { comment\n  description = \"}{\"\n  environment prod {\n    health { ";
    assert_eq!(enclosing(text), ["service a from web-api", "environment prod", "health"]);
    assert_eq!(enclosing("service a { x { } y = 1\n"), ["service a"]);
}

#[test]
fn list_keys() {
    assert_eq!(list_of("  depends_on = [users, "), Some("depends_on"));
    assert_eq!(list_of("  depends_on += ["), Some("depends_on"));
    assert_eq!(list_of("  tags = [\"a\"]\n  "), None);
}

fn workspace(service: &str) -> Compiled {
    let mut s = Sources::new();
    s.insert(
        "platform.plat",
        "workspace w {\n  registry = \"r.example\"\n  environment staging {}\n  environment production {}\n}\n",
    );
    s.insert("services/a/service.plat", service);
    s.insert(
        "services/b/service.plat",
        "service b from web-api {\n  owner = \"t\"\n  version = \"1\"\n  digest = \"sha256:2a97516c354b68848cdbd8f54a226a0a55b21ed138e207ad6c5cbb9c00aa5aea\"\n  language = go\n}\n",
    );
    compile(&s, &Options { trace: true, ..Options::default() })
}

const A: &str = "# café ☕\nservice a from web-api {\n  owner   = \"t\"\n  version = \"1\"\n  digest  = \"sha256:2a97516c354b68848cdbd8f54a226a0a55b21ed138e207ad6c5cbb9c00aa5aea\"\n  tier    = gold\n  resource postgres db { size = small }\n  env { DB = db.url }\n  depends_on = [b]\n  environment production { replicas = 3 }\n  language = go\n}\n";

fn parsed(text: &str, c: &Compiled) -> ast::File {
    let id = c.files.find("services/a/service.plat").unwrap();
    crate::parse::parse(id, text).0.unwrap()
}

#[test]
fn hits_and_definitions() {
    let c = workspace(A);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let f = parsed(A, &c);
    let at = |needle: &str| A.find(needle).unwrap() + 1;
    let hit = hit_at(&f, at("web-api"), &c).unwrap();
    assert!(matches!(&hit, Hit::GoldenPath(n, _) if n == "web-api"));
    assert_eq!(c.files.path(definition(&c, &hit).unwrap().file), "<stdlib>/golden-paths/web-api.plat");
    let hit = hit_at(&f, at("gold"), &c).unwrap();
    let def = definition(&c, &hit).unwrap();
    assert_eq!(c.files.path(def.file), "<stdlib>/tiers.plat");
    assert_eq!(c.files.slice(def), "gold");
    assert!(matches!(hit_at(&f, at("postgres"), &c), Some(Hit::ResourceType(n, _)) if n == "postgres"));
    let b = A.find("[b]").unwrap() + 1;
    let hit = hit_at(&f, b, &c).unwrap();
    assert!(matches!(&hit, Hit::Service(n, _) if n == "b"));
    assert_eq!(c.files.path(definition(&c, &hit).unwrap().file), "services/b/service.plat");
    let hit = hit_at(&f, at("db.url"), &c).unwrap();
    assert!(matches!(&hit, Hit::Resource { name, .. } if name == "db"));
    let declared = hit_at(&f, A.find("db {").unwrap(), &c).unwrap();
    assert_eq!(declared, Hit::Resource { service: "a".into(), name: "db".into(), span: declared.span() });
    let shown = hover(&c, &hit).unwrap();
    assert!(shown.starts_with("resource `db`, declared at services/a/service.plat:7:21"), "{shown}");
    assert!(shown.contains("`db.url`") && shown.contains("production: ") && shown.contains("size = small"), "{shown}");
    let hit = hit_at(&f, at("replicas"), &c).unwrap();
    assert_eq!(
        hit,
        Hit::Attribute {
            service: "a".into(),
            path: "replicas".into(),
            env: Some("production".into()),
            span: hit.span()
        }
    );
    let field = definition(&c, &hit).unwrap();
    assert_eq!((c.files.path(field.file), c.files.slice(field)), ("<stdlib>/schema.plat", "replicas"));
    let shown = hover(&c, &hit).unwrap();
    assert!(shown.contains("a / production / replicas = 3"), "{shown}");
    assert!(shown.contains("services/a/service.plat:10:"), "{shown}");
    assert!(!shown.contains("a / staging"), "{shown}");
}

#[test]
fn completes_by_context() {
    let c = workspace(A);
    let labels = |text: &str| -> Vec<String> {
        completions(&c, "services/a/service.plat", text, text.len()).into_iter().map(|c| c.label).collect()
    };
    let head = "service a from web-api {\n";
    assert!(labels(&format!("{head}  tier = ")).contains(&"gold".to_string()));
    assert!(labels(&format!("{head}  language = g")).contains(&"go".to_string()));
    let attrs = labels(&format!("{head}  rep"));
    assert!(attrs.contains(&"replicas".to_string()) && attrs.contains(&"resource".to_string()));
    assert!(labels(&format!("{head}  health {{\n    ")).contains(&"liveness".to_string()));
    assert!(labels("service x from ").contains(&"worker".to_string()));
    assert!(labels(&format!("{head}  resource ")).contains(&"redis".to_string()));
    assert!(labels(&format!("{head}  resource postgres db {{ size = ")).contains(&"small".to_string()));
    let deps = labels(&format!("{head}  resource redis cache {{}}\n  depends_on = [cache, "));
    assert!(deps.contains(&"b".to_string()) && deps.contains(&"cache".to_string()) && !deps.contains(&"a".to_string()));
    let outs = labels(&format!("{head}  resource postgres db {{}}\n  env {{ X = db."));
    assert!(outs.contains(&"url".to_string()), "{outs:?}");
    assert!(labels(&format!("{head}  env {{ X = b.")).contains(&"host".to_string()));
    let settings = labels(&format!("{head}  resource postgres db {{}}\n  env {{\n    X = "));
    assert!(settings.contains(&"db".to_string()) && settings.contains(&"b".to_string()), "{settings:?}");
    assert!(labels(&format!("{head}  autoscale {{ enabled = ")).contains(&"true".to_string()));
}

/// Issue 14: in a string after `${`, the services (then their address
/// parts); after `owner.`, the resources the owner grants this service,
/// then their outputs (`owner.resource.output`).
#[test]
fn completes_interpolations_and_granted_resources() {
    let mut s = Sources::new();
    s.insert("platform.plat", "workspace w {\n  registry = \"r.example\"\n  environment staging {}\n}\n");
    let digest = "sha256:2a97516c354b68848cdbd8f54a226a0a55b21ed138e207ad6c5cbb9c00aa5aea";
    s.insert(
        "services/b/service.plat",
        format!("service b from web-api {{\n  owner = \"t\"\n  version = \"1\"\n  digest = \"{digest}\"\n  language = go\n  resource queue events {{\n    grants {{ a = consume }}\n  }}\n  resource queue private {{}}\n}}\n"),
    );
    let a = format!(
        "service a from worker {{\n  owner = \"t\"\n  version = \"1\"\n  digest = \"{digest}\"\n  language = go\n  depends_on = [b]\n}}\n"
    );
    s.insert("services/a/service.plat", a.as_str());
    let c = compile(&s, &Options::default());
    assert!(c.model.is_some(), "{:#?}", c.diagnostics);
    let labels = |text: &str| -> Vec<String> {
        completions(&c, "services/a/service.plat", text, text.len()).into_iter().map(|c| c.label).collect()
    };
    let head = "service a from worker {\n  env {\n    X = ";
    let roots = labels(&format!("{head}\"dns:///${{"));
    assert!(roots.contains(&"b".to_string()) && roots.contains(&"service".to_string()), "{roots:?}");
    assert!(!roots.contains(&"a".to_string()), "{roots:?}");
    let parts = labels(&format!("{head}\"dns:///${{b."));
    for p in ["addr", "host", "port", "url"] {
        assert!(parts.contains(&p.to_string()), "{parts:?}");
    }
    let partial = labels(&format!("{head}\"http://${{b.ho"));
    assert!(partial.contains(&"host".to_string()), "{partial:?}");
    // Outside a string: b's granted queue, not the one it keeps to itself.
    let owned = labels(&format!("{head}b."));
    assert!(owned.contains(&"events".to_string()) && !owned.contains(&"private".to_string()), "{owned:?}");
    assert_eq!(labels(&format!("{head}b.events.")), vec!["url".to_string()]);
    assert!(labels(&format!("{head}b.private.")).is_empty());
}

#[test]
fn completes_names_as_the_scope_reads_them() {
    let c = workspace(A);
    let labels = |text: &str| -> Vec<String> {
        completions(&c, "services/a/service.plat", text, text.len()).into_iter().map(|c| c.label).collect()
    };
    let head = "service a from web-api {\n";
    // In a string, the roots: the service's attributes (nested too), the
    // environment's and the workspace's.
    let svc = labels(&format!("{head}  description = \"${{service."));
    assert!(svc.contains(&"name".to_string()) && svc.contains(&"replicas".to_string()), "{svc:?}");
    let health = labels(&format!("{head}  description = \"${{service.health."));
    assert!(health.contains(&"liveness".to_string()) && !health.contains(&"replicas".to_string()), "{health:?}");
    assert!(labels(&format!("{head}  description = \"${{environment.")).contains(&"name".to_string()));
    assert!(labels(&format!("{head}  description = \"${{workspace.")).contains(&"registry".to_string()));
    // A resource's outputs and another service's address, in a string as in a setting.
    assert!(labels(&format!("{head}  description = \"${{db.")).contains(&"url".to_string()));
    assert!(labels(&format!("{head}  description = \"${{b.")).contains(&"addr".to_string()));
    // A setting has no roots: `service.` names no service.
    assert!(labels(&format!("{head}  env {{ X = service.")).is_empty());
    // `owner.resource.`: the outputs of a resource another service owns.
    let granted = labels(&format!("{head}  env {{ X = a.db."));
    assert!(granted.contains(&"url".to_string()), "{granted:?}");
}

#[test]
fn symbols_nest() {
    let c = workspace(A);
    let f = parsed(A, &c);
    let syms = document_symbols(&f, A);
    let [svc] = syms.as_slice() else { panic!("{syms:?}") };
    assert_eq!((svc.name.as_str(), svc.detail.as_str()), ("a", "service from web-api"));
    let names: Vec<&str> = svc.children.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["owner", "version", "digest", "tier", "db", "env", "depends_on", "production", "language"]);
    let db = &svc.children[4];
    assert_eq!((db.kind, db.detail.as_str()), (SymbolKind::Resource, "resource postgres"));
}

#[test]
fn fixes_from_help() {
    let broken = A.replace("tier    = gold", "tier    = glod");
    let c = workspace(&broken);
    let d = c.diagnostics.iter().find(|d| d.help.as_deref() == Some("did you mean `gold`?")).expect("a did-you-mean");
    let fx = fixes(d, &c.files);
    assert_eq!(fx.len(), 1);
    assert_eq!(c.files.slice(fx[0].span), "glod");
    assert_eq!(fx[0].text, "gold");

    let locked = A.replace("  tier    = gold\n", "  tier    = gold\n  security.run_as_non_root = false\n");
    let c = workspace(&locked);
    let d = c.diagnostics.iter().find(|d| d.code == "platc::merge::locked").expect("locked");
    let fx = fixes(d, &c.files);
    assert_eq!(fx.len(), 1, "{d:?}");
    assert_eq!(fx[0].text, "override security.run_as_non_root = false because \"...\"");
}

#[test]
fn fix_adds_because() {
    let broken = A.replace("  tier    = gold\n", "  tier    = gold\n  override replicas = 1  # \"#\" for now\n");
    let c = workspace(&broken);
    let d = c.diagnostics.iter().find(|d| d.code == "platc::parse::syntax").expect("a syntax error");
    let fx = fixes(d, &c.files);
    assert_eq!(fx.len(), 1, "{d:?}");
    let at = fx[0].span.start as usize;
    assert!(fx[0].span.is_empty());
    let fixed = format!("{}{}{}", &broken[..at], fx[0].text, &broken[at..]);
    assert!(fixed.contains("  override replicas = 1 because \"...\"  # \"#\" for now\n"), "{fixed}");
    let c = workspace(&fixed);
    assert!(!c.diagnostics.iter().any(|d| d.code.starts_with("platc::parse")), "{:?}", c.diagnostics);
}

#[test]
fn comment_ends_code() {
    assert_eq!(code_end("  x = \"a#b\"  # c"), 11);
    assert_eq!(code_end("  x = 1   "), 7);
}
