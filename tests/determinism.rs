//! Same input, same bytes: whatever order the sources come in, however many
//! threads render them, and however often.

mod common;

use platc::Options;
use platc::sources::Sources;

#[test]
fn same_bytes_whatever_the_order_of_the_sources() {
    let root = common::examples().join("monorepo");
    let forward = common::compile(&root);
    let reference = common::tree_text(&forward);

    // The same files inserted in reverse order.
    let sources = common::load(&root);
    let mut files: Vec<(String, platc::sources::Text)> =
        sources.files().map(|(p, t)| (p.to_string(), t.clone())).collect();
    files.reverse();
    let mut reversed = Sources::new();
    for (p, t) in files {
        match t {
            platc::sources::Text::Utf8(s) => reversed.insert(p, s.to_string()),
            platc::sources::Text::Invalid { .. } => panic!("examples are UTF-8"),
        }
    }
    let base = root.clone();
    reversed.set_loader(Box::new(move |rel: &str| std::fs::read(base.join(rel)).map_err(|e| e.to_string())));
    let again = platc::compile(&reversed, &Options::default());
    assert_eq!(common::tree_text(&again), reference);
}

#[test]
fn same_bytes_from_concurrent_compilations() {
    let root = common::examples().join("monorepo");
    let reference = common::tree_text(&common::compile(&root));
    let results: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| common::tree_text(&common::compile(&root)))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in results {
        assert_eq!(r, reference);
    }
}

#[test]
fn the_index_hashes_every_file() {
    let c = common::compile(&common::examples().join("monorepo"));
    let out = c.output.unwrap();
    let index: serde_json::Value = serde_json::from_str(&out.files["platc-index.json"].contents).unwrap();
    let listed: Vec<&str> = index["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    let generated: Vec<&str> = out.files.keys().map(String::as_str).filter(|p| *p != "platc-index.json").collect();
    assert_eq!(listed, generated);
    for f in index["files"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        assert_eq!(f["sha256"].as_str().unwrap(), platc::emit::sha256(&out.files[path].contents));
    }
}
