//! Loading an example directory the way the CLI does, for tests that call
//! the library directly.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use platc::sources::Sources;
use platc::{Compiled, Options};

pub mod markdown;

pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Every `.plat` and `.hbs` file under `root` (skipping `gen/` and hidden
/// directories), with a loader for `file(...)` that stays inside `root`.
pub fn load(root: &Path) -> Sources {
    let mut files = Vec::new();
    walk(root, root, &mut files);
    let mut sources = Sources::new();
    for (rel, bytes) in files {
        sources.insert_bytes(rel, bytes);
    }
    let base = root.to_path_buf();
    sources.set_loader(Box::new(move |rel: &str| {
        let p = base.join(rel);
        let real = fs::canonicalize(&p).map_err(|_| "no such file in the workspace".to_string())?;
        if !real.starts_with(fs::canonicalize(&base).map_err(|e| e.to_string())?) {
            return Err("outside the workspace".into());
        }
        fs::read(real).map_err(|e| e.to_string())
    }));
    sources
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            if name != "gen" && !name.starts_with('.') {
                walk(root, &p, out);
            }
        } else if name.ends_with(".plat") || name.ends_with(".hbs") {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            out.push((rel, fs::read(&p).unwrap()));
        }
    }
}

/// Copies an example directory (without its `gen/`), for tests that change it.
pub fn copy(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        if name == "gen" {
            continue;
        }
        if p.is_dir() {
            copy(&p, &to.join(name))
        } else {
            fs::copy(&p, to.join(name)).unwrap();
        }
    }
}

pub fn compile(root: &Path) -> Compiled {
    platc::compile(&load(root), &Options::default())
}

/// The whole generated tree as one text: each file under a header line, in
/// path order.
pub fn tree_text(c: &Compiled) -> String {
    let out = c.output.as_ref().expect("the example builds");
    let mut s = String::new();
    for (path, f) in &out.files {
        s.push_str(&format!("=== {path}\n"));
        s.push_str(&f.contents);
        if !f.contents.ends_with('\n') {
            s.push('\n');
        }
    }
    s
}

/// Every diagnostic, human form without colour, then the short forms.
pub fn diagnostics_text(c: &Compiled) -> String {
    use platc::diag::render::{Format, render};
    let mut s = String::new();
    for d in &c.diagnostics {
        s.push_str(&render(d, &c.files, Format::Human, false));
        s.push('\n');
    }
    s.push_str("--- short ---\n");
    for d in &c.diagnostics {
        s.push_str(&render(d, &c.files, Format::Short, false));
    }
    s
}

/// A one-environment AWS workspace whose services are under `services/`.
pub const SHOP: &str = r#"workspace shop {
  registry = "ghcr.io/shop"
  repo     = "shop/platform"
  cloud    = aws { region = "eu-west-1" }
  services = ["services/*"]
  environment staging { cluster = "s1" }
}
"#;

/// A workspace in memory: its `platform.plat` and, for each `(name, text)`,
/// `services/<name>/service.plat`, compiled with the default options.
pub fn compile_texts(platform: &str, services: &[(&str, String)]) -> Compiled {
    let mut sources = Sources::new();
    sources.insert_bytes("platform.plat".to_string(), platform.as_bytes().to_vec());
    for (name, text) in services {
        sources.insert_bytes(format!("services/{name}/service.plat"), text.as_bytes().to_vec());
    }
    platc::compile(&sources, &Options::default())
}

/// A service of the in-memory test workspaces: owned, in go, pinned by a
/// digest, from `from`, with `body` inside its block.
pub fn service(name: &str, from: &str, body: &str) -> String {
    format!(
        r#"service {name} from {from} {{
  owner    = "team-a"
  language = go
  version  = "1.0.0"
  digest   = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
{body}
}}
"#
    )
}

/// The text of a generated file; fails the test with the diagnostics when
/// the build failed, or when there is no such file.
pub fn output_file(c: &Compiled, path: &str) -> String {
    let out = c.output.as_ref().unwrap_or_else(|| panic!("builds: {}", diagnostics_text(c)));
    out.files.get(path).map(|f| f.contents.clone()).unwrap_or_else(|| panic!("no {path}"))
}
