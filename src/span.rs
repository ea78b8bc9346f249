//! Source positions.
//!
//! Every AST node and every resolved value carries a [`Span`]: a file and a
//! byte range. Line and column are computed only when a diagnostic is printed
//! (through [`SourceFile::line_col`]), never while compiling.

use std::sync::{Arc, OnceLock};

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start: clamp(start), end: clamp(end.max(start)) }
    }

    /// The smallest span covering both (same file assumed; otherwise `self`).
    pub fn to(self, other: Span) -> Span {
        if self.file != other.file {
            return self;
        }
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One source file: its display path (workspace-relative, `/`-separated, or
/// `<stdlib>/...` for the embedded standard library) and its text.
#[derive(Debug)]
pub struct SourceFile {
    pub path: String,
    pub text: Arc<str>,
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    pub fn new(path: String, text: Arc<str>) -> SourceFile {
        SourceFile { path, text, line_starts: OnceLock::new() }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts
            .get_or_init(|| std::iter::once(0).chain(self.text.match_indices('\n').map(|(i, _)| i + 1)).collect())
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let starts = self.line_starts();
        let line = starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = starts.get(line).copied().unwrap_or(0);
        let col = self.text.get(start..offset).map(|s| s.chars().count()).unwrap_or(offset - start);
        (line + 1, col + 1)
    }

    /// The text of a span, or "" when it does not fall on this file's
    /// character boundaries.
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }
}

/// Every file a compilation parsed, addressed by [`FileId`].
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, path: String, text: Arc<str>) -> FileId {
        let id = FileId(clamp(self.files.len()));
        self.files.push(SourceFile::new(path, text));
        id
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn path(&self, id: FileId) -> &str {
        self.get(id).map(|f| f.path.as_str()).unwrap_or("<unknown>")
    }

    pub fn find(&self, path: &str) -> Option<FileId> {
        self.files.iter().position(|f| f.path == path).map(|i| FileId(clamp(i)))
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(clamp(i)), f))
    }

    /// Replaces the text of a span by `*` (byte for byte, so that every
    /// other span stays valid): a secret found in a file never shows in a
    /// diagnostic. The quotes of a string literal are kept.
    pub fn redact(&mut self, span: Span) {
        self.redact_all(&[span]);
    }

    /// [`redact`](Self::redact) for many spans: each file is rewritten once,
    /// however many spans it has.
    pub fn redact_all(&mut self, spans: &[Span]) {
        let mut by_file: std::collections::BTreeMap<usize, Vec<(usize, usize)>> = Default::default();
        for span in spans {
            let Some(file) = self.files.get(span.file.0 as usize) else { continue };
            let text = &file.text;
            let (mut start, mut end) = (span.start as usize, (span.end as usize).min(text.len()));
            if text.get(start..start + 1) == Some("\"") && end > start + 1 && text.get(end - 1..end) == Some("\"") {
                start += 1;
                end -= 1;
            }
            if start < end {
                by_file.entry(span.file.0 as usize).or_default().push((start, end));
            }
        }
        for (id, mut ranges) in by_file {
            let Some(file) = self.files.get_mut(id) else { continue };
            ranges.sort_unstable();
            let mut redacted = String::with_capacity(file.text.len());
            let mut ranges = ranges.into_iter().peekable();
            let mut until = 0; // the end of the range being masked
            for (at, c) in file.text.char_indices() {
                while let Some(&(start, end)) = ranges.peek() {
                    if start > at {
                        break;
                    }
                    until = until.max(end);
                    ranges.next();
                }
                if at < until && c != '\n' {
                    for _ in 0..c.len_utf8() {
                        redacted.push('*');
                    }
                } else {
                    redacted.push(c);
                }
            }
            *file = SourceFile::new(file.path.clone(), Arc::from(redacted));
        }
    }

    /// The text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        self.get(span.file).map(|f| f.slice(span)).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacting_many_spans_at_once_is_redacting_each() {
        let text = "a = \"secret\"\nb = xé-key\nc = \"ok\" \"two\"\n";
        let spans = [
            Span::new(FileId(0), 4, 12),
            Span::new(FileId(0), 17, 23),
            Span::new(FileId(0), 33, 38),
            Span::new(FileId(0), 18, 20),
        ];
        let mut one = SourceMap::default();
        one.add("f".into(), Arc::from(text));
        for s in spans {
            one.redact(s);
        }
        let mut all = SourceMap::default();
        all.add("f".into(), Arc::from(text));
        all.redact_all(&spans);
        assert_eq!(all.get(FileId(0)).unwrap().text, one.get(FileId(0)).unwrap().text);
        let masked = &all.get(FileId(0)).unwrap().text;
        assert!(masked.starts_with("a = \"******\"\n") && !masked.contains("key"), "{masked}");
        assert_eq!(masked.len(), text.len());
    }

    #[test]
    fn line_col_counts_characters_from_one() {
        let f = SourceFile::new("a".into(), Arc::from("ab\ncdé\nx"));
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        assert_eq!(f.line_col(7), (2, 4));
        assert_eq!(f.line_col(8), (3, 1));
        assert_eq!(f.line_col(100), (3, 2));
    }
}
