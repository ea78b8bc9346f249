//! `platc fmt [PATH] [--check]`: canonical formatting of .plat files, in
//! place; with `--check`, list the files that would change and exit 1.

use std::fs;
use std::path::{Path, PathBuf};

use platc::diag::render::Format;
use platc::span::SourceMap;

use super::{EXIT_DIAGNOSTICS, display, load, print_diagnostics};

pub fn run(path: Option<PathBuf>, check: bool, format: Format) -> Result<u8, String> {
    let path = path.unwrap_or_else(|| PathBuf::from("."));
    let files = if path.is_file() {
        vec![path.clone()]
    } else {
        let root = load::find(&path).map(|f| f.root).unwrap_or_else(|_| path.clone());
        let mut v = Vec::new();
        collect(&root, &root.join("gen"), &mut v);
        v.sort();
        v
    };
    let mut changed = Vec::new();
    let mut broken = false;
    for f in &files {
        let bytes = fs::read(f).map_err(|e| format!("cannot read `{}`: {e}", display(f)))?;
        let Ok(text) = String::from_utf8(bytes) else {
            eprintln!("{}: not UTF-8, left alone", display(f));
            broken = true;
            continue;
        };
        let mut map = SourceMap::default();
        let id = map.add(display(f), text.clone().into());
        match platc::fmt::format_file(id, &text) {
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => {
                if !check {
                    write_atomic(f, &formatted)?;
                }
                changed.push(f.clone());
            }
            Err(diags) => {
                platc::secrets::redact_sources(&mut map);
                print_diagnostics(&diags, &map, format, "this file was left alone");
                broken = true;
            }
        }
    }
    for f in &changed {
        if check {
            println!("{}", display(f));
        } else {
            eprintln!("formatted {}", display(f));
        }
    }
    if check && !changed.is_empty() {
        eprintln!("{} not formatted; run `platc fmt`", super::plural(changed.len(), "file"));
    }
    Ok(if broken || (check && !changed.is_empty()) { EXIT_DIAGNOSTICS } else { 0 })
}

fn collect(dir: &Path, skip: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() && !name.starts_with('.') && name != "target" && name != "node_modules" && p != skip {
            collect(&p, skip, out);
        } else if kind.is_file() && name.ends_with(".plat") {
            out.push(p);
        }
    }
}

fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension(format!("plat.platc-fmt-{}", std::process::id()));
    fs::write(&tmp, text).map_err(|e| format!("cannot write `{}`: {e}", display(&tmp)))?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write `{}`: {e}", display(path))
    })
}
