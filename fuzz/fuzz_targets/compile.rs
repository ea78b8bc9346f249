//! The whole pipeline, in memory: sources in, a tree or diagnostics out.
//! The input is split on 0xFF bytes into a service file, a workspace file,
//! a second service and a template of the workspace's own standard library
//! (any of them may be empty or absent). Never a panic; a build with errors
//! produces no output; every diagnostic renders in every format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platc::diag::render::{Format, render};
use platc::sources::Sources;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0xFF);
    let mut sources = Sources::new();
    let names = ["services/a/service.plat", "platform.plat", "services/b/service.plat", "platform/templates/kubernetes/x.yaml.hbs"];
    for name in names {
        if let Some(p) = parts.next() {
            sources.insert_bytes(name, p.to_vec());
        }
    }
    sources.set_loader(Box::new(|_| Err("no files in the fuzzer".into())));
    let c = platc::compile(&sources, &platc::Options::default());
    if c.has_errors() {
        assert!(c.output.is_none(), "a failed build produced output");
    }
    for d in &c.diagnostics {
        for f in [Format::Human, Format::Short, Format::Json, Format::Github] {
            let _ = render(d, &c.files, f, false);
        }
    }
});
