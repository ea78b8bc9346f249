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

fn workspace(a: &str) -> Compiled {
    let mut s = Sources::new();
    s.insert(
        "platform.plat",
        "workspace w {\n  registry = \"r.example\"\n  environment staging {}\n  environment production {}\n}\n",
    );
    s.insert("services/a/service.plat", a);
    s.insert("services/b/service.plat", service("b", "web-api", ""));
    compile(&s, &Options { trace: true, ..Options::default() })
}

/// A service of these tests: owned, versioned, pinned by a digest, in go,
/// from `from`, with `body` (whole lines) inside its block.
fn service(name: &str, from: &str, body: &str) -> String {
    let digest = "sha256:2a97516c354b68848cdbd8f54a226a0a55b21ed138e207ad6c5cbb9c00aa5aea";
    format!(
        "service {name} from {from} {{\n  owner = \"t\"\n  version = \"1\"\n  digest = \"{digest}\"\n  language = go\n{body}}}\n"
    )
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
    s.insert(
        "services/b/service.plat",
        service(
            "b",
            "web-api",
            "  resource queue events {\n    grants { a = consume }\n  }\n  resource queue private {}\n",
        ),
    );
    let a = service("a", "worker", "  depends_on = [b]\n");
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

/// Issue 15: hover and definition read the whole name under the cursor as
/// the compiler reads it at its place (a setting, a `${...}`, a policy's
/// condition), and the segment the cursor is on says what is meant.
fn names_workspace() -> (Compiled, String) {
    let mut s = Sources::new();
    s.insert(
        "platform.plat",
        "workspace w {\n  registry = \"r.example\"\n  environment staging { cluster = \"stg-1\" }\n  environment production { cluster = \"prd-1\" }\n}\n",
    );
    s.insert(
        "services/b/service.plat",
        service("b", "web-api", "  resource queue events {\n    grants { a = consume }\n  }\n"),
    );
    let a = service(
        "a",
        "web-api",
        "  description = \"${service.name} on ${environment.cluster} from ${workspace.registry}, ${service.health.liveness}\"\n  resource postgres db {}\n  env {\n    DB     = db.url\n    B      = b.url\n    EVENTS = b.events.url\n    NOPE   = nope.url\n    PORT   = \"${b.port}\"\n  }\n  depends_on = [b]\n  environment production {\n    replicas = 3\n    env { WHERE = \"${environment.cluster}\" }\n  }\n",
    );
    s.insert("services/a/service.plat", a.as_str());
    let c = compile(&s, &Options { trace: true, ..Options::default() });
    // `nope.url` names nothing: the one error, and the model is there.
    let errors: Vec<&str> =
        c.diagnostics.iter().filter(|d| d.is_error()).map(|d| c.files.slice(d.primary().unwrap())).collect();
    assert_eq!(errors, ["nope.url"], "{:#?}", c.diagnostics);
    assert!(c.model.is_some());
    (c, a)
}

#[test]
fn names_resolve_through_the_scope() {
    let (c, a) = names_workspace();
    let f = parsed(&a, &c);
    // The offset `k` bytes into the first `needle` after `after`.
    let at = |after: &str, needle: &str, k: usize| {
        let from = a.find(after).unwrap();
        from + a[from..].find(needle).unwrap() + k
    };
    let hit = |o: usize| hit_at(&f, o, &c);
    let def = |h: &Hit| definition(&c, h).map(|s| (c.files.path(s.file).to_string(), c.files.slice(s).to_string()));
    let b_decl = Some(("services/b/service.plat".to_string(), "b".to_string()));

    // `db.url`: the resource on `db`, its output on `url`.
    let on_db = hit(at("DB ", "db.url", 1)).unwrap();
    assert!(matches!(&on_db, Hit::Resource { name, .. } if name == "db"), "{on_db:?}");
    let on_url = hit(at("DB ", "url", 1)).unwrap();
    assert!(matches!(&on_url, Hit::Output { resource, output, .. } if resource == "db" && output == "url"));
    assert_eq!(c.files.slice(on_url.span()), "url");
    assert_eq!(def(&on_url), Some(("services/a/service.plat".into(), "db".into())));
    let shown = hover(&c, &on_url).unwrap();
    assert!(
        shown.starts_with("output `url` of postgres `db` of service `a`, declared at services/a/service.plat:7:21"),
        "{shown}"
    );
    assert!(shown.contains("secret(\"db/url\")"), "{shown}");

    // `b.url`: the service on `b`, its address on `url` (declared where b is).
    let on_b = hit(at("\n    B ", "b.url", 0)).unwrap();
    assert_eq!(on_b, Hit::Service("b".into(), on_b.span()));
    let addr = hit(at("\n    B ", "url", 2)).unwrap();
    assert!(matches!(&addr, Hit::Address { service, part, .. } if service == "b" && part == "url"), "{addr:?}");
    assert_eq!(def(&addr), b_decl);
    let shown = hover(&c, &addr).unwrap();
    assert!(shown.contains("http://b.b.svc.cluster.local"), "{shown}");
    // In a string too, and a port is a port.
    let port = hit(at("PORT", "port", 0)).unwrap();
    assert!(matches!(&port, Hit::Address { part, .. } if part == "port"), "{port:?}");
    assert_eq!(c.files.slice(port.span()), "port");
    assert!(hover(&c, &port).unwrap().contains("\n80\n"));

    // `b.events.url`: a resource b grants a, in b's file.
    let owner = hit(at("EVENTS", "b.events", 0)).unwrap();
    assert_eq!(def(&owner), b_decl);
    let events = hit(at("EVENTS", "events", 1)).unwrap();
    assert!(matches!(&events, Hit::Resource { service, name, .. } if service == "b" && name == "events"));
    assert_eq!(def(&events), Some(("services/b/service.plat".into(), "events".into())));
    let out = hit(at("EVENTS", "url", 0)).unwrap();
    assert_eq!(def(&out), def(&events));
    assert!(hover(&c, &out).unwrap().contains("output `url` of queue `events` of service `b`"));

    // An unknown name: nothing, never an error.
    for o in [at("NOPE", "nope", 1), at("NOPE", "url", 1)] {
        let h = hit(o);
        assert_eq!(h.as_ref().and_then(|h| definition(&c, h)), None, "{h:?}");
        assert_eq!(h.as_ref().and_then(|h| hover(&c, h)), None, "{h:?}");
    }

    // `${service.name}`: the service's name, declared with the service.
    let name = hit(at("description", "name}", 0)).unwrap();
    assert!(matches!(&name, Hit::Value { name: Named::ServiceName, .. }), "{name:?}");
    assert_eq!(def(&name), Some(("services/a/service.plat".into(), "a".into())));
    assert!(hover(&c, &name).unwrap().contains("\"a\""));
    let root = hit(at("description", "service.name", 2)).unwrap();
    assert_eq!(root, Hit::Service("a".into(), root.span()));
    assert_eq!(c.files.slice(root.span()), "service");

    // `${environment.cluster}`: set in each environment's declaration.
    let cluster = hit(at("description", "cluster}", 3)).unwrap();
    assert_eq!(def(&cluster), Some(("platform.plat".into(), "cluster".into())));
    let shown = hover(&c, &cluster).unwrap();
    assert!(shown.contains("staging: \"stg-1\", set at platform.plat:3:") && shown.contains("production: \"prd-1\""));
    // Inside `environment production`, that environment's only.
    let prod = hit(at("WHERE", "cluster", 0)).unwrap();
    let span = definition(&c, &prod).unwrap();
    assert_eq!(crate::explain::place(&c.files, span), "platform.plat:4:28");
    let shown = hover(&c, &prod).unwrap();
    assert!(shown.contains("\"prd-1\"") && !shown.contains("stg-1"), "{shown}");
    let env = hit(at("WHERE", "environment", 1)).unwrap();
    assert_eq!(def(&env), Some(("platform.plat".into(), "production".into())));

    // `${workspace.registry}`: the workspace's assignment; the root, the workspace.
    let reg = hit(at("description", "registry}", 0)).unwrap();
    let span = definition(&c, &reg).unwrap();
    assert_eq!(crate::explain::place(&c.files, span), "platform.plat:2:14");
    assert!(hover(&c, &reg).unwrap().contains("\"r.example\", set at platform.plat:2:14"));
    let ws = hit(at("description", "workspace", 0)).unwrap();
    assert_eq!(def(&ws), Some(("platform.plat".into(), "w".into())));

    // `${service.health.liveness}`: where the value is set (a standard-library
    // default), and on `health` the attribute `health`.
    let live = hit(at("description", "liveness", 0)).unwrap();
    let (file, _) = def(&live).unwrap();
    assert!(file.starts_with("<stdlib>/"), "{file}");
    assert!(hover(&c, &live).unwrap().contains("a / staging / health.liveness"));
    let health = hit(at("description", "health", 0)).unwrap();
    assert!(matches!(&health, Hit::Value { name: Named::Attribute(p), .. } if p == &["health"]), "{health:?}");
}

#[test]
fn names_in_conditions() {
    let (c, _) = names_workspace();
    let policy = "policy p {\n  when    = workspace.registry != null and environment == production\n  require = replicas >= 2 and environment.cluster != \"x\" and starts_with(image, \"${workspace.registry}/\") and vendor == production\n}\n";
    let f = crate::parse::parse(crate::span::FileId(u32::MAX), policy).0.unwrap();
    let at = |needle: &str, k: usize| policy.find(needle).unwrap() + k;
    let def = |h: &Hit| definition(&c, h).map(|s| (c.files.path(s.file).to_string(), c.files.slice(s).to_string()));

    let reg = hit_at(&f, at("registry", 1), &c).unwrap();
    assert!(matches!(&reg, Hit::Value { service: None, name: Named::Workspace(k), .. } if k == "registry"));
    assert_eq!(def(&reg), Some(("platform.plat".into(), "\"r.example\"".into())));
    let interpolated = hit_at(&f, at("registry}", 1), &c).unwrap();
    assert_eq!(def(&interpolated), def(&reg));
    // `environment` alone is the environment's name in a condition.
    let env = hit_at(&f, at("environment ==", 1), &c).unwrap();
    assert!(matches!(env, Hit::Environment { env: None, .. }));
    assert_eq!(def(&env), Some(("platform.plat".into(), "staging".into())));
    assert!(hover(&c, &env).unwrap().contains("environment `production`, declared at platform.plat:4:"));
    let cluster = hit_at(&f, at("cluster", 0), &c).unwrap();
    let shown = hover(&c, &cluster).unwrap();
    assert!(shown.contains("staging: \"stg-1\"") && shown.contains("production: \"prd-1\""), "{shown}");
    // An unprefixed attribute: its schema field, and its type.
    let replicas = hit_at(&f, at("replicas", 0), &c).unwrap();
    assert_eq!(def(&replicas), Some(("<stdlib>/schema.plat".into(), "replicas".into())));
    assert!(hover(&c, &replicas).unwrap().starts_with("`replicas`: "));
    // A symbol, and a word that is no attribute: nothing.
    for o in [at("production\n", 1), at("vendor", 1)] {
        let h = hit_at(&f, o, &c);
        assert_eq!(h.as_ref().and_then(|h| hover(&c, h)), None, "{h:?}");
        assert_eq!(h.as_ref().and_then(|h| definition(&c, h)), None, "{h:?}");
    }
}
