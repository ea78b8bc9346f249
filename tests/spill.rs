//! `Options::spill` (issue 15): each service's files are handed over as soon
//! as the service is rendered, and the output keeps only the hashes of the
//! files taken, so that a build does not hold the whole workspace's text.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use platc::Options;
use platc::emit::{INDEX_FILE, Spill};

#[test]
fn spilled_files_are_handed_over_whole_and_only_their_hashes_kept() {
    let root = common::examples().join("monorepo");
    let sources = common::load(&root);
    let whole = platc::compile(&sources, &Options::default()).output.expect("the example builds");
    let taken: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let sink = Arc::clone(&taken);
    let options = Options {
        spill: Some(Spill(Arc::new(move |path: &str, file: &platc::emit::OutFile| {
            sink.lock().unwrap().insert(path.to_string(), file.contents.clone());
            // Everything but the catalog files is taken.
            !path.ends_with("catalog-info.yaml")
        }))),
        ..Options::default()
    };
    let spilled = platc::compile(&sources, &options).output.expect("the example builds");
    let taken = taken.lock().unwrap();
    assert_eq!(spilled.files.keys().collect::<Vec<_>>(), whole.files.keys().collect::<Vec<_>>());
    // The index is the same: it lists hashes, which the spilled files keep.
    assert_eq!(spilled.files[INDEX_FILE].contents, whole.files[INDEX_FILE].contents);
    let mut dropped = 0;
    for (path, file) in &whole.files {
        let s = &spilled.files[path];
        assert_eq!(s.sha256, file.sha256, "{path}");
        if file.service.is_none() {
            assert!(!taken.contains_key(path), "a workspace-wide file is not offered: {path}");
            continue;
        }
        assert_eq!(taken.get(path), Some(&file.contents), "{path} was handed over whole");
        if path.ends_with("catalog-info.yaml") {
            assert!(!s.spilled && s.contents == file.contents, "{path} was declined, and kept");
        } else {
            assert!(s.spilled && s.contents.is_empty(), "{path} was taken, and its text dropped");
            dropped += 1;
        }
    }
    assert!(dropped > 50, "{dropped}");
}
