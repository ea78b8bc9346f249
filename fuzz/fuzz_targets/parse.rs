//! The parser alone: any bytes, never a panic; every diagnostic's span lies
//! inside the input and on character boundaries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platc::span::FileId;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (_, diags) = platc::parse::parse(FileId(0), text);
    for d in &diags {
        for l in &d.labels {
            assert!(l.span.end as usize <= text.len(), "label past the end: {d:?}");
            assert!(text.is_char_boundary(l.span.start as usize) && text.is_char_boundary(l.span.end as usize));
        }
    }
    // The formatter never changes what a file means, and is idempotent.
    if let Ok(once) = platc::fmt::format_file(FileId(0), text) {
        let twice = platc::fmt::format_file(FileId(0), &once).expect("formatted output parses");
        assert_eq!(once, twice, "fmt is not idempotent");
    }
});
