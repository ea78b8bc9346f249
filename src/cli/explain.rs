//! `platc explain SERVICE PATH [--env ENV]`: where a value came from.

use std::path::Path;

use platc::Options;
use platc::diag::render::Format;

use super::{EXIT_DIAGNOSTICS, EXIT_USAGE, compile, report};

pub fn run(workspace: &Path, service: &str, path: &str, env: Option<&str>, format: Format) -> Result<u8, String> {
    let options = Options { trace: true, keep_docs: true, ..Options::default() };
    let loaded = compile(Some(workspace.to_path_buf()), None, &options)?;
    let c = &loaded.compiled;
    if c.diagnostics.iter().any(|d| d.is_error()) && (c.model.is_none() || path.contains(':')) {
        report(c, format);
        return Ok(EXIT_DIAGNOSTICS);
    }
    match platc::explain::explain(c, service, path, env) {
        Ok(e) => {
            print!("{}", platc::explain::render(&e));
            Ok(0)
        }
        Err(message) => {
            eprintln!("error: {message}");
            Ok(EXIT_USAGE)
        }
    }
}
