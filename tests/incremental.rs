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

#[test]
fn every_kind_of_edit_gives_the_full_result() {
    let root = common::examples().join("monorepo");
    let base = common::load(&root);
    let options = Options::default();
    let mut previous = platc::compile(&base, &options);
    let orders = "services/orders/service.plat";
    type Edit = Box<dyn Fn(&str) -> String>;
    let steps: Vec<(&str, Edit)> = vec![
        (orders, Box::new(|t: &str| t.replace("    replicas  = 4", "    replicas  = 5"))),
        (orders, Box::new(|t: &str| t.replace("tier        = gold", "tier        = glod"))),
        (orders, Box::new(|t: &str| t.replace("tier        = glod", "tier        = gold"))),
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
        let reused = platc::compile_reusing(&sources, &options, &previous);
        let fresh = platc::compile(&sources, &options);
        assert_eq!(full_text(&reused), full_text(&fresh), "after editing {path}");
        if path.starts_with("services/") && reused.output.is_some() {
            assert!(reused.stats.reused >= 6, "{path}: other services are reused: {:?}", reused.stats);
        }
        if reused.output.is_some() {
            previous = reused;
        } else {
            // watch keeps the last good compilation; the next one reuses from it
            let again = platc::compile_reusing(&sources, &options, &previous);
            assert_eq!(full_text(&again), full_text(&fresh));
        }
    }
}
