//! `platc pin SERVICE --digest D [--version V]`: the image a release built,
//! written into the service's `service.plat` (its formatting kept, see
//! `platc::edit`), checked to compile before the file is replaced. The
//! generated CI runs it after pushing an image and opens a pull request with
//! the result, so what deploys is reviewed and nobody copies a digest. A
//! vendor's image (`image_source = vendor`) is pinned the same way, by hand:
//! its new release's tag and digest, with a note that nothing signed it.

use std::path::PathBuf;

use platc::Options;
use platc::diag::render::Format;
use platc::sources::Text;

use super::{EXIT_DIAGNOSTICS, display, print_diagnostics};

pub fn run(
    service: &str,
    digest: &str,
    version: Option<&str>,
    path: Option<PathBuf>,
    format: Format,
) -> Result<u8, String> {
    let (root, _out, mut sources) = super::read(path, None)?;
    let before = platc::compile(&sources, &Options::default());
    let Some(model) = before.model.as_ref() else {
        print_diagnostics(&before.diagnostics, &before.files, format, "nothing was changed");
        return Ok(EXIT_DIAGNOSTICS);
    };
    let Some(found) = model.services.iter().find(|s| s.name == service) else {
        return Err(format!(
            "no service `{service}` in the workspace; {}",
            platc::diag::unknown_help(service, "service", model.services.iter().map(|s| s.name.as_str()))
        ));
    };
    let rel = found.path.clone();
    // A vendor's image (`image_source = vendor`): no CI of the workspace
    // built it, so the digest is one a person took from the vendor's release.
    let vendor = found.instances.iter().any(|i| i.str("image_source") == Some("vendor"));
    let Some(Text::Utf8(text)) = sources.get(&rel).cloned() else {
        return Err(format!("cannot read `{rel}`"));
    };
    let edited = platc::edit::pin(&text, &platc::edit::Pin { digest, version })
        .map_err(|why| format!("cannot pin `{rel}`: {why}"))?;
    sources.insert(rel.clone(), edited.clone());
    let after = platc::compile(&sources, &Options::default());
    if after.has_errors() {
        print_diagnostics(&after.diagnostics, &after.files, format, "nothing was changed");
        return Ok(EXIT_DIAGNOSTICS);
    }
    let target = root.join(&rel);
    if edited != *text {
        super::write::write_atomic(&target, edited.as_bytes())?;
    }
    let what = match version {
        Some(v) => format!("{v}@{digest}"),
        None => digest.to_string(),
    };
    if vendor {
        eprintln!(
            "pinned {service}, a vendor's image, to {what} in {}: the deploy checks this digest, not a signature, so make sure it is the vendor's release you reviewed; run `platc build` to regenerate",
            display(&target)
        );
    } else {
        eprintln!("pinned {service} to {what} in {}; run `platc build` to regenerate", display(&target));
    }
    Ok(0)
}
