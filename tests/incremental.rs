//! `compile_reusing` (what `platc watch` runs) gives exactly what a full
//! compilation gives, whatever the edit: same files, same diagnostics.

mod common;

use platc::Options;
use platc::sources::Sources;

fn full_text(c: &platc::Compiled) -> String {
    let mut s = common::diagnostics_text(c);
    if c.output.is_some() {
        s.push_str(&common::tree_text(c));
    }
    s
}

fn edit(sources: &Sources, path: &str, f: impl Fn(&str) -> String) -> Sources {
    let mut next = Sources::new();
    for (p, t) in sources.files() {
        match t {
            platc::sources::Text::Utf8(text) if p == path => next.insert(p, f(text)),
            platc::sources::Text::Utf8(text) => next.insert(p, text.to_string()),
            platc::sources::Text::Invalid { .. } => unreachable!(),
        }
    }
    if sources.get(path).is_none() {
        next.insert(path, f(""));
    }
    let root = common::examples().join("monorepo");
    next.set_loader(Box::new(move |rel: &str| std::fs::read(root.join(rel)).map_err(|e| e.to_string())));
    next
}

/// An edit of a file's text.
type Edit = Box<dyn Fn(&str) -> String>;

/// Compiles `sources` reusing `previous`, and from scratch: the two give
/// the same files and diagnostics (`what`: after what). The one that reused.
fn reusing(sources: &Sources, options: &Options, previous: &platc::Compiled, what: &str) -> platc::Compiled {
    let reused = platc::compile_reusing(sources, options, previous);
    assert_eq!(full_text(&reused), full_text(&platc::compile(sources, options)), "{what}");
    reused
}

#[test]
fn every_kind_of_edit_gives_the_full_result() {
    let root = common::examples().join("monorepo");
    let base = common::load(&root);
    let options = Options::default();
    let mut previous = platc::compile(&base, &options);
    let orders = "services/orders/service.plat";
    let steps: Vec<(&str, Edit)> = vec![
        (orders, Box::new(|t: &str| t.replace("    replicas  = 4", "    replicas  = 5"))),
        (orders, Box::new(|t: &str| t.replace("tier        = gold", "tier        = glod"))),
        (orders, Box::new(|t: &str| t.replace("tier        = glod", "tier        = gold"))),
        // A credential in a value (the model's scan, kept with the
        // resolution), in a comment (the sources' redaction, kept by text),
        // then both taken out again.
        (orders, Box::new(|t: &str| t.replace("LOG_LEVEL    = \"info\"", "LOG_LEVEL    = \"AKIAIOSFODNN7EXAMPLE\""))),
        (
            orders,
            Box::new(|t: &str| {
                t.replace(
                    "LOG_LEVEL    = \"AKIAIOSFODNN7EXAMPLE\"",
                    "LOG_LEVEL    = \"info\" # glpat-abcdefghijklmnopqrstuv",
                )
            }),
        ),
        (orders, Box::new(|t: &str| t.replace(" # glpat-abcdefghijklmnopqrstuv", ""))),
        ("services/users/service.plat", Box::new(|t: &str| t.replace("size = medium", "size = large"))),
        ("platform.plat", Box::new(|t: &str| t.replace("prod-eu-1", "prod-eu-2"))),
        ("services/inventory/service.plat", Box::new(|t: &str| t.replace("[stock-cache]", "[stock-cache, users]"))),
        (
            "services/zeta/service.plat",
            Box::new(|_: &str| {
                "service zeta from worker {\n  owner = \"t\"\n  version = \"1.0.0\"\n  allow image-pinned because \"new\"\n}\n".to_string()
            }),
        ),
    ];
    let mut sources = base;
    for (path, f) in steps {
        sources = edit(&sources, path, f);
        let reused = reusing(&sources, &options, &previous, &format!("after editing {path}"));
        if path.starts_with("services/") && reused.output.is_some() {
            assert!(reused.stats.reused >= 6, "{path}: other services are reused: {:?}", reused.stats);
        }
        if reused.output.is_some() {
            previous = reused;
        } else {
            // watch keeps the last good compilation; the next one reuses from it
            reusing(&sources, &options, &previous, &format!("from the last good, after editing {path}"));
        }
    }
}

/// A service that uses a resource another service grants it is rebuilt and
/// checked again when the owner changes: the grant taken away is an error
/// at once, a change of the resource reaches the grantee's files.
#[test]
fn an_owners_edit_reaches_the_services_it_grants_a_resource_to() {
    let base = common::load(&common::examples().join("harbor"));
    let options = Options::default();
    let mut previous = platc::compile(&base, &options);
    assert!(previous.output.is_some(), "{}", common::diagnostics_text(&previous));
    let bookings = "services/bookings/service.plat";
    let steps: Vec<Edit> = vec![
        Box::new(|t: &str| {
            t.replace("grants { dispatch = consume }", "fifo = true\n    grants { dispatch = consume }")
        }),
        Box::new(|t: &str| t.replace("grants { dispatch = consume }", "")),
        Box::new(|t: &str| t.replace("fifo = true\n", "fifo = true\n    grants { dispatch = consume }\n")),
    ];
    let mut sources = base;
    for f in steps {
        sources = edit(&sources, bookings, f);
        let reused = reusing(&sources, &options, &previous, "after editing bookings");
        if reused.output.is_some() {
            previous = reused;
        }
    }
    let tf = previous.output.as_ref().unwrap().files.get("dispatch/terraform/staging/grant-bookings-booking-events.tf");
    assert!(tf.unwrap().contents.contains("bookings-booking-events-staging.fifo"));
}

/// The Namespace object a service emits is made of every service in the
/// namespace (one team label, the Pod Security profile): a service joining
/// it, or a member's owner changing, changes what the other members emit
/// though none of them depends on the other.
#[test]
fn a_namespace_members_edit_reaches_the_other_members() {
    let root = common::examples().join("monorepo");
    let base = common::load(&root);
    let options = Options::default();
    let mut previous = platc::compile(&base, &options);
    let worker = |name: &str, owner: &str| {
        format!(
            "service {name} from worker {{\n  owner = \"{owner}\"\n  language = go\n  version = \"1.0.0\"\n  namespace = \"team-x\"\n  allow image-pinned because \"new\"\n}}\n"
        )
    };
    let (alpha, beta) = (worker("alpha", "t1"), worker("beta", "t1"));
    let steps: Vec<(&str, Edit)> = vec![
        ("services/alpha/service.plat", Box::new(move |_: &str| alpha.clone())),
        ("services/beta/service.plat", Box::new(move |_: &str| beta.clone())),
        ("services/beta/service.plat", Box::new(|t: &str| t.replace("\"t1\"", "\"t2\""))),
        ("services/beta/service.plat", Box::new(|t: &str| t.replace("team-x", "team-y"))),
    ];
    let mut sources = base;
    let namespace = |c: &platc::Compiled| {
        let files = &c.output.as_ref().expect("builds").files;
        files.get("alpha/kubernetes/staging/namespace.yaml").map(|f| f.contents.to_string()).unwrap_or_default()
    };
    let mut teams = Vec::new();
    for (path, f) in steps {
        sources = edit(&sources, path, f);
        let reused = reusing(&sources, &options, &previous, &format!("after editing {path}"));
        teams.push(namespace(&reused).contains("platc.dev/team: t1"));
        previous = reused;
    }
    // alpha alone, alpha and beta of one team, of two teams, alpha alone again.
    assert_eq!(teams, [true, true, false, true]);
}

/// A rendering that looked up a namespace's members read each member, not
/// a service of the namespace's name: an edit of a service named like
/// another namespace does not reach that namespace's members.
#[test]
fn the_members_of_a_namespace_are_affected_by_its_members_only() {
    let member =
        |name: &'static str, ns: &str| (name, common::service(name, "worker", &format!("  namespace = \"{ns}\"")));
    let c =
        common::compile_texts(common::SHOP, &[member("shop", "elsewhere"), member("a", "shop"), member("b", "shop")]);
    assert!(c.output.is_some(), "{}", common::diagnostics_text(&c));
    let affected = |file: &str| c.affected_by(&[file.to_string()]).map(|s| s.into_iter().collect::<Vec<_>>());
    assert_eq!(affected("services/shop/service.plat"), Some(vec!["shop".to_string()]));
    assert_eq!(affected("services/a/service.plat"), Some(vec!["a".to_string(), "b".to_string()]));
}

/// A small random workspace, edited step by step.
#[derive(Clone, Debug)]
struct Svc {
    name: String,
    dir: String,
    replicas: u32,
    port: u32,
    tier: &'static str,
    deps: Vec<String>,
    api: bool,
    broken: bool,
}

#[derive(Clone, Debug)]
struct World {
    services: Vec<Svc>,
    /// The production cluster's name, and whether there is a third environment.
    cluster: u32,
    qa: bool,
    /// The stdlib overlay: a policy's threshold and a template's text, or none.
    overlay: Option<(u32, u32)>,
    /// `file()` inputs (API definitions) by workspace path.
    inputs: std::collections::BTreeMap<String, String>,
    /// A policy added to the standard library itself (what an upgrade of
    /// platc ships), with its threshold.
    stdlib_policy: Option<u32>,
    next: u32,
}

/// xorshift64*: deterministic, no crate.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
    }
}

impl World {
    fn new() -> World {
        let mut w = World {
            services: Vec::new(),
            cluster: 1,
            qa: false,
            overlay: None,
            inputs: Default::default(),
            stdlib_policy: None,
            next: 0,
        };
        for _ in 0..4 {
            w.add();
        }
        w
    }

    fn add(&mut self) {
        self.next += 1;
        let name = format!("svc{}", self.next);
        let dir = format!("services/{name}");
        self.inputs
            .insert(format!("{dir}/api.yaml"), format!("openapi: 3.0.0\ninfo: {{title: {name}, version: '1'}}\n"));
        self.services.push(Svc {
            name,
            dir,
            replicas: 2,
            port: 8080,
            tier: "silver",
            deps: Vec::new(),
            api: false,
            broken: false,
        });
    }

    fn sources(&self) -> Sources {
        let mut s = Sources::new();
        let stdlib = if self.overlay.is_some() { "  stdlib = \"./platform\"\n" } else { "" };
        let qa = if self.qa { "  environment qa { cluster = \"qa-1\" }\n" } else { "" };
        s.insert(
            "platform.plat",
            format!(
                "workspace acme {{\n  registry = \"ghcr.io/acme\"\n  repo = \"acme/platform\"\n  cloud = aws {{ region = \"eu-west-1\" }}\n{stdlib}  environment staging {{ cluster = \"stg-1\" }}\n{qa}  environment production {{ cluster = \"prd-{}\"  approval = required }}\n}}\n",
                self.cluster
            ),
        );
        if let Some((threshold, text)) = self.overlay {
            s.insert(
                "platform/policies/cap.plat",
                format!("policy cap {{\n  require  = replicas <= {threshold}\n  severity = warning\n  message  = \"at most {threshold} replicas\"\n}}\n"),
            );
            s.insert(
                "platform/templates/kubernetes/note.yaml.hbs",
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{names.config}}}}-note\n  namespace: {{{{namespace}}}}\ndata:\n  note: \"v{text}\"\n"),
            );
        }
        for svc in &self.services {
            let deps =
                if svc.deps.is_empty() { String::new() } else { format!("  depends_on = [{}]\n", svc.deps.join(", ")) };
            let api = if svc.api {
                "  api main {\n    type = openapi\n    description = \"the API\"\n    definition = file(\"api.yaml\")\n  }\n"
            } else {
                ""
            };
            let broken = if svc.broken { "  replicas = = 3\n" } else { "" };
            s.insert(
                format!("{}/service.plat", svc.dir),
                format!(
                    "service {} from web-api {{\n  owner = \"team-a\"\n  description = \"a service of the test\"\n  language = go\n  tier = {}\n  version = \"1.0.0\"\n  digest = \"sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\"\n  replicas = {}\n  port = {}\n{deps}{api}{broken}}}\n",
                    svc.name, svc.tier, svc.replicas, svc.port
                ),
            );
        }
        if let Some(threshold) = self.stdlib_policy {
            let mut lib = platc::sources::embedded_stdlib();
            lib.insert(
                "policies/upgrade.plat".to_string(),
                format!("policy upgrade {{\n  require  = replicas != {threshold}\n  severity = warning\n  message  = \"not {threshold} replicas\"\n}}\n").into(),
            );
            s.set_stdlib(lib);
        }
        let inputs = std::sync::Arc::new(self.inputs.clone());
        s.set_loader(Box::new(move |rel: &str| {
            inputs.get(rel).map(|t| t.clone().into_bytes()).ok_or_else(|| "no such file".to_string())
        }));
        s
    }

    /// Undoes the edits that make the build fail (most of the time, so
    /// that most steps build).
    fn heal(&mut self) {
        let names: Vec<String> = self.services.iter().map(|s| s.name.clone()).collect();
        for s in &mut self.services {
            s.broken = false;
            s.deps.retain(|d| names.contains(d));
            if s.tier == "platinum" {
                s.tier = "gold";
            }
            if s.replicas < 2 {
                s.replicas = 2;
            }
            let path = format!("{}/api.yaml", s.dir);
            self.inputs
                .entry(path)
                .or_insert_with(|| "openapi: 3.0.0\ninfo: {title: back, version: '1'}\n".to_string());
        }
    }

    /// One random edit; its name, for the failure message.
    fn edit(&mut self, rng: &mut Rng) -> String {
        if rng.below(3) != 0 {
            self.heal();
        }
        let n = self.services.len();
        let i = rng.below(n);
        match rng.below(18) {
            0 | 1 if n > 0 => {
                self.services[i].replicas = 1 + rng.below(5) as u32;
                format!("replicas of {}", self.services[i].name)
            }
            2 if n > 0 => {
                self.services[i].tier = ["bronze", "silver", "gold", "platinum"][rng.below(4)];
                format!("tier of {}", self.services[i].name)
            }
            3 | 4 if n > 0 => {
                // A later service (no cycle), or sometimes one that does not
                // exist (an error).
                let later = self.services.get(i + 1 + rng.below(n)).map(|s| s.name.clone());
                let dep = match later {
                    Some(d) if rng.below(8) != 0 => d,
                    _ => "ghost".to_string(),
                };
                if !self.services[i].deps.contains(&dep) {
                    self.services[i].deps.push(dep.clone());
                }
                format!("{} depends on {dep}", self.services[i].name)
            }
            5 if n > 0 => {
                self.services[i].deps.clear();
                format!("{} depends on nothing", self.services[i].name)
            }
            6 if n > 0 => {
                self.next += 1;
                let old = std::mem::replace(&mut self.services[i].name, format!("svc{}", self.next));
                format!("rename {old} to {}", self.services[i].name)
            }
            7 if n > 0 => {
                self.next += 1;
                let old = self.services[i].dir.clone();
                let dir = format!("services/moved{}", self.next);
                if let Some(t) = self.inputs.remove(&format!("{old}/api.yaml")) {
                    self.inputs.insert(format!("{dir}/api.yaml"), t);
                }
                self.services[i].dir = dir;
                format!("move {old}")
            }
            8 if n > 1 => {
                let gone = self.services.remove(i);
                format!("delete {}", gone.name)
            }
            9 if n < 7 => {
                self.add();
                "add a service".to_string()
            }
            10 => {
                if rng.below(3) == 0 {
                    self.qa = !self.qa;
                } else {
                    self.cluster += 1;
                }
                "edit the workspace".to_string()
            }
            11 => {
                self.overlay = match (self.overlay, rng.below(4)) {
                    (None, _) => Some((2 + rng.below(3) as u32, 1)),
                    (Some(_), 0) => None,
                    (Some((t, x)), 1) => Some((t, x + 1)),
                    (Some((_, x)), _) => Some((1 + rng.below(4) as u32, x)),
                };
                format!("the stdlib overlay: {:?}", self.overlay)
            }
            12 if n > 0 => {
                self.services[i].api = !self.services[i].api;
                format!("api of {}", self.services[i].name)
            }
            13 if n > 0 => {
                let path = format!("{}/api.yaml", self.services[i].dir);
                match self.inputs.get(&path) {
                    Some(_) if rng.below(4) == 0 => {
                        self.inputs.remove(&path);
                    }
                    _ => {
                        self.next += 1;
                        self.inputs.insert(
                            path.clone(),
                            format!("openapi: 3.0.0\ninfo: {{title: t{}, version: '2'}}\n", self.next),
                        );
                    }
                }
                format!("file() input {path}")
            }
            16 => {
                self.stdlib_policy = match rng.below(3) {
                    0 => None,
                    _ => Some(2 + rng.below(3) as u32),
                };
                format!("the standard library itself: {:?}", self.stdlib_policy)
            }
            15 if n > 0 => {
                self.services[i].port = 8080 + rng.below(3) as u32;
                format!("port of {}", self.services[i].name)
            }
            14 if n > 0 => {
                self.services[i].broken = !self.services[i].broken;
                format!("syntax of {}", self.services[i].name)
            }
            _ => "nothing".to_string(),
        }
    }
}

fn everything(c: &platc::Compiled) -> String {
    format!("{}\nread: {:?}", full_text(c), c.read)
}

/// Fails with the first line that differs (the texts are whole output trees).
fn same(incremental: &str, fresh: &str, what: &str) {
    if incremental == fresh {
        return;
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (incremental.lines().collect(), fresh.lines().collect());
    let at = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let around = |l: &[&str]| l[at.saturating_sub(5)..(at + 3).min(l.len())].join("\n");
    panic!("{what}: line {at} differs\nincremental:\n{}\nfrom scratch:\n{}", around(&a), around(&b));
}

#[test]
fn random_edit_sequences_give_the_full_result() {
    let options = Options::default();
    // Not vacuous: many steps build, and many reuse work.
    let (mut built, mut kept, mut reused, mut patched) = (0, 0, 0, 0);
    for seed in [0x9e37_79b9_7f4a_7c15u64, 42] {
        let mut rng = Rng(seed);
        let mut world = World::new();
        let mut latest = platc::compile(&world.sources(), &options);
        // What watch reuses from: the last compilation that built.
        let mut good: Option<platc::Compiled> = None;
        for step in 0..50 {
            let what = world.edit(&mut rng);
            let sources = world.sources();
            let fresh = everything(&platc::compile(&sources, &options));
            let from_latest = platc::compile_reusing(&sources, &options, &latest);
            same(&everything(&from_latest), &fresh, &format!("seed {seed}, step {step}: {what} (from the latest)"));
            patched += usize::from(from_latest.stats.patched);
            if let Some(g) = good.as_ref().filter(|_| step % 3 == 0) {
                let from_good = platc::compile_reusing(&sources, &options, g);
                same(
                    &everything(&from_good),
                    &fresh,
                    &format!("seed {seed}, step {step}: {what} (from the last good)"),
                );
                patched += usize::from(from_good.stats.patched);
            }
            // The same sources again: nothing is resolved or rendered again.
            let s = platc::compile_reusing(&sources, &options, &from_latest).stats;
            assert_eq!((s.resolved, s.rendered), (0, 0), "seed {seed}, step {step}: nothing changed: {s:?}");
            built += usize::from(from_latest.output.is_some());
            kept += from_latest.stats.kept;
            reused += from_latest.stats.reused;
            latest = from_latest;
            if latest.output.is_some() {
                good = Some(platc::compile_reusing(&sources, &options, &latest));
            }
        }
    }
    eprintln!("{built} steps built; {reused} services reused, {kept} renderings kept; {patched} outputs patched");
    assert!(built >= 30 && kept >= 100 && reused >= 150, "{built} built, {kept} kept, {reused} reused");
    assert!(patched >= 20, "{patched} outputs assembled from the last one");
}

/// An output assembled from the last one (the files of the services
/// rendered again replaced) meets what a new file can meet: a path
/// generated twice, a file under a file, in either order. It is then
/// assembled from scratch, with the same diagnostics as a compilation from
/// scratch; an edit that clears it builds from the last good output again.
#[test]
fn a_clash_made_by_an_edit_is_reported_as_from_scratch() {
    let sources = |services: &[&str]| {
        let mut s = Sources::new();
        s.insert(
            "platform.plat",
            "workspace acme {\n  registry = \"ghcr.io/acme\"\n  stdlib = \"./platform\"\n  environment staging {}\n}\n",
        );
        // Workspace files at the paths a service named `late` or `later`
        // would need.
        s.insert("platform/templates/catalog/workspace/late.hbs", "a: 1\n");
        s.insert("platform/templates/workflows/workspace/later-ci.yml.hbs", "name: x\non: push\njobs: {}\n");
        for name in services {
            s.insert(
                format!("services/{name}/service.plat"),
                format!("service {name} from web-api {{\n  owner = \"t\"\n  language = go\n  version = \"1.0.0\"\n  allow image-pinned because \"test\"\n}}\n"),
            );
        }
        s.set_loader(Box::new(|_| Err("no such file".into())));
        s
    };
    let options = Options::default();
    let good = platc::compile(&sources(&["early"]), &options);
    assert!(good.output.is_some(), "{}", common::diagnostics_text(&good));
    let steps: [(&[&str], &str); 4] = [
        (&["early", "late"], "generated inside the generated file `late`"),
        (&["early", "later"], "`.github/workflows/later-ci.yml` is generated twice"),
        (&["early", "fine"], ""),
        (&["fine"], ""),
    ];
    for (services, expected) in steps {
        let s = sources(services);
        let fresh = platc::compile(&s, &options);
        let reused = platc::compile_reusing(&s, &options, &good);
        same(&everything(&reused), &everything(&fresh), &format!("{services:?}"));
        let text = common::diagnostics_text(&reused);
        if expected.is_empty() {
            assert!(reused.output.is_some() && reused.stats.patched, "{services:?}: {text}");
        } else {
            assert!(reused.output.is_none() && text.contains(expected), "{services:?}: {text}");
        }
    }
}

/// Stats say what was done again: one service edited is resolved and
/// rendered again with its neighbours' renderings; a `file()` input changed
/// behind the sources' back (the loader gives new bytes, no file of the
/// sources changed) is seen, because the load was recorded and is checked.
#[test]
fn stats_count_exactly_what_changed_and_file_inputs_are_tracked() {
    let mut world = World::new();
    world.services[0].api = true;
    world.services[1].deps = vec![world.services[0].name.clone()];
    let options = Options::default();
    let first = platc::compile(&world.sources(), &options);
    assert!(first.output.is_some(), "{}", common::diagnostics_text(&first));
    assert_eq!((first.stats.resolved, first.stats.rendered), (4, 4));

    world.services[3].replicas = 3;
    let second = platc::compile_reusing(&world.sources(), &options, &first);
    let s = &second.stats;
    assert_eq!((s.resolved, s.reused, s.rendered, s.kept), (1, 3, 1, 3), "{s:?}");

    // The API definition of svc1 changes: svc1 is resolved again, and its
    // dependent svc2 (which lists svc1's APIs) is rendered again too.
    let path = format!("{}/api.yaml", world.services[0].dir);
    world.inputs.insert(path, "openapi: 3.0.0\ninfo: {title: changed, version: '9'}\n".into());
    let third = platc::compile_reusing(&world.sources(), &options, &second);
    let s = &third.stats;
    assert_eq!((s.resolved, s.reused, s.rendered, s.kept), (1, 3, 2, 2), "{s:?}");
    assert_eq!(full_text(&third), full_text(&platc::compile(&world.sources(), &options)));
    let catalog = |c: &platc::Compiled| c.output.as_ref().unwrap().files["svc1/catalog-info.yaml"].contents.clone();
    assert_ne!(catalog(&second), catalog(&third), "the new definition reaches the output");

    // An error stops the compilation before rendering; the one after the
    // fix (made from the failed one, as the language server does) still
    // renders only what changed since the last rendering.
    world.services[2].broken = true;
    let fourth = platc::compile_reusing(&world.sources(), &options, &third);
    assert!(fourth.output.is_none());
    world.services[2].broken = false;
    world.services[2].replicas = 4;
    let fifth = platc::compile_reusing(&world.sources(), &options, &fourth);
    let s = &fifth.stats;
    assert_eq!((s.resolved, s.reused, s.rendered, s.kept), (1, 3, 1, 3), "{s:?}");
}

/// `Options::checked` is shown the diagnostics before emit renders (sorted,
/// the sources redacted), and only when there is no error; emit's own come
/// with the result.
#[test]
fn checked_is_shown_the_diagnostics_before_emit() {
    use std::sync::{Arc, Mutex};
    let root = common::examples().join("monorepo");
    let base = common::load(&root);
    let orders = "services/orders/service.plat";
    type Seen = Arc<Mutex<Vec<(Vec<String>, bool)>>>;
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    let options = Options {
        checked: Some(platc::Checked(Arc::new(
            move |diags: &[platc::diag::Diagnostic], files: &platc::span::SourceMap| {
                let codes = diags.iter().map(|d| d.code.to_string()).collect();
                let shows = files.iter().any(|(_, f)| f.text.contains("AKIAIOSFODNN7EXAMPLE"));
                sink.lock().unwrap().push((codes, shows));
            },
        ))),
        ..Options::default()
    };
    let step = |f: &dyn Fn(&str) -> String| {
        let sources = edit(&base, orders, f);
        let c = platc::compile(&sources, &options);
        let fresh = platc::compile(&sources, &Options::default());
        assert_eq!(full_text(&c), full_text(&fresh), "the callback changes nothing");
        let codes: Vec<String> = c.diagnostics.iter().map(|d| d.code.to_string()).collect();
        (codes, seen.lock().unwrap().drain(..).collect::<Vec<_>>())
    };
    // No language (emit refuses), and a credential in a comment.
    let (codes, seen_now) = step(&|t: &str| t.replace("  language    = go\n", "  # AKIAIOSFODNN7EXAMPLE\n"));
    assert!(codes.contains(&"platc::emit::needs_language".to_string()), "{codes:?}");
    assert_eq!(seen_now.len(), 1, "{seen_now:?}");
    let (early, shows) = &seen_now[0];
    assert!(!early.contains(&"platc::emit::needs_language".to_string()) && !shows, "{seen_now:?}");
    let before: Vec<&String> = codes.iter().filter(|c| !c.starts_with("platc::emit::")).collect();
    assert_eq!(early.iter().collect::<Vec<_>>(), before);
    // An error before emit: nothing is rendered, and the callback is not called.
    let (codes, seen_now) = step(&|t: &str| t.replace("tier        = gold", "tier        = glod"));
    assert!(codes.contains(&"platc::check::unknown_symbol".to_string()), "{codes:?}");
    assert!(seen_now.is_empty(), "{seen_now:?}");
}
