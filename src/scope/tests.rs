use super::*;
use crate::sources::Sources;
use crate::{Options, compile};

fn p(dotted: &str) -> Vec<String> {
    dotted.split('.').map(str::to_string).collect()
}

fn own(n: &str) -> bool {
    n == "db"
}

#[test]
fn one_classification_for_every_place() {
    use Meaning::*;
    use Place::*;
    let cases: &[(&str, Place, Meaning)] = &[
        ("service.name", String, ServiceName),
        ("service.name", Condition, ServiceName),
        ("environment.name", String, EnvironmentName),
        ("environment", Condition, EnvironmentName),
        ("workspace.registry", Condition, Workspace("registry")),
        ("workspace.registry", String, Workspace("registry")),
        ("workspace.a.b", String, Other),
        ("workspace.a.b", Condition, Other),
        ("workspace", String, Other),
        ("db.url", String, Output { resource: "db", output: "url" }),
        ("db.url", Setting, Output { resource: "db", output: "url" }),
        ("users.addr", String, Address { service: "users", part: "addr" }),
        ("users.addr", Setting, Address { service: "users", part: "addr" }),
        ("orders.cache.addr", String, Granted { owner: "orders", resource: "cache", output: "addr" }),
        // A setting has no roots: `service.name` is a reference to a service named `service`.
        ("service.name", Setting, Address { service: "service", part: "name" }),
        ("a.b.c.d", String, Other),
        ("word", Setting, Other),
    ];
    for (dotted, place, want) in cases {
        let path = p(dotted);
        assert_eq!(classify(&path, *place, own), *want, "{dotted} in {place:?}");
    }
    // In a condition, any other name is an attribute of the service, unprefixed.
    let path = p("autoscale.min");
    assert_eq!(classify(&path, Condition, own), Attribute(&path[..]));
    let path = p("service.autoscale.min");
    assert_eq!(classify(&path, Condition, own), Attribute(&path[1..]));
    let path = p("environment.cluster");
    assert_eq!(classify(&path, String, own), Environment(&path[1..]));
    // `${environment}` alone is an (unset) value of the environment, not its name.
    let path = p("environment");
    assert_eq!(classify(&path, String, own), Environment(&[]));
    assert!(classify(&p("users.addr"), String, own).is_outside());
    assert!(!classify(&p("db.url"), String, own).is_outside());
    assert!(!classify(&p("workspace.x"), String, |_| true).is_outside());
}

#[test]
fn candidates_have_roots_except_in_a_setting() {
    let all: Vec<&str> = candidates(Place::String, ["users"], ["db"]).collect();
    assert_eq!(all, ["service", "workspace", "environment", "users", "db"]);
    let setting: Vec<&str> = candidates(Place::Setting, ["users"], ["db"]).collect();
    assert_eq!(setting, ["users", "db"]);
}

const A: &str = "service a from web-api {\n  owner   = \"t\"\n  version = \"1\"\n  digest  = \"sha256:2a97516c354b68848cdbd8f54a226a0a55b21ed138e207ad6c5cbb9c00aa5aea\"\n  resource postgres db { size = small }\n  env { DB = db.url }\n  depends_on = [b]\n  environment production { replicas = 3 }\n  language = go\n}\n";

const B: &str = "service b from web-api {\n  owner = \"t\"\n  version = \"1\"\n  digest = \"sha256:2a97516c354b68848cdbd8f54a226a0a55b21ed138e207ad6c5cbb9c00aa5aea\"\n  language = go\n  protocol = grpc\n  port = 9000\n}\n";

#[test]
fn a_scope_finds_values_with_their_origin_and_outside_names_in_the_model() {
    let mut s = Sources::new();
    s.insert(
        "platform.plat",
        "workspace w {\n  registry = \"r.example\"\n  environment staging {}\n  environment production { cluster = \"prod-1\" }\n}\n",
    );
    s.insert("services/a/service.plat", A);
    s.insert("services/b/service.plat", B);
    let compiled = compile(&s, &Options::default());
    let model = compiled.model.as_ref().expect("a model");
    let a = model.service("a").expect("a");
    let inst = a.instance("production").expect("production");
    let env = model.workspace.environments.iter().find(|e| e.name == "production").expect("env");
    let scope = Scope {
        service: &a.name,
        values: &inst.values,
        resources: &inst.resources,
        workspace: &model.workspace,
        environment: env,
    };
    let find = |dotted: &str, place: Place| {
        let path = p(dotted);
        let name = scope.classify(&path, place);
        scope.find(name)
    };
    assert_eq!(find("service.name", Place::String), Found::Text("a".into()));
    assert_eq!(find("environment.name", Place::String), Found::Text("production".into()));
    match find("service.replicas", Place::String) {
        Found::Value(v, Some(origin)) => {
            assert_eq!(v.as_i64(), Some(3));
            let text = compiled.files.slice(origin.span);
            assert!(text.contains('3'), "the origin is the assignment in the service: {text}");
        }
        other => panic!("replicas: {other:?}"),
    }
    assert_eq!(find("replicas", Place::Condition), find("service.replicas", Place::String));
    match find("environment.cluster", Place::String) {
        Found::Value(v, Some(_)) => assert_eq!(v.as_str(), Some("prod-1")),
        other => panic!("cluster: {other:?}"),
    }
    match find("workspace.registry", Place::String) {
        Found::Value(v, None) => assert_eq!(v.as_str(), Some("r.example")),
        other => panic!("registry: {other:?}"),
    }
    assert_eq!(find("service.nothing", Place::String), Found::Unset);
    assert!(matches!(find("db.url", Place::Setting), Found::Value(_, None)));
    match find("db.nope", Place::String) {
        Found::NoOutput(known) => assert!(known.contains(&"url"), "{known:?}"),
        other => panic!("db.nope: {other:?}"),
    }
    assert_eq!(find("b.addr", Place::String), Found::Outside);
    assert_eq!(find("a.b.c.d", Place::String), Found::Unknown);

    // Outside the service: the address emit writes, from the other service's values.
    let addr = p("b.addr");
    assert_eq!(
        outside(model, "production", scope.classify(&addr, Place::String)),
        Found::Text("b.b.svc.cluster.local:9000".into())
    );
    let url = p("b.url");
    assert_eq!(
        outside(model, "production", scope.classify(&url, Place::Setting)),
        Found::Text("b.b.svc.cluster.local:9000".into()),
        "a grpc service's url is its address"
    );
    let granted = p("b.cache.addr");
    assert_eq!(outside(model, "production", scope.classify(&granted, Place::String)), Found::Unknown);
    let db = resource_of(model, "a", "production", "db").expect("a's db");
    assert!(!grants(db, "b"));
    assert_eq!(grant_level(db, "b"), None);
}
