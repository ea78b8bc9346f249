//! Diagnostics: the one model every stage reports problems in.
//!
//! A [`Diagnostic`] has a stable code (`platc::resolve::unknown_name`), a
//! severity, a message, labelled spans and a `help` line that says what to
//! write. Stages collect them and keep going; [`sort`] orders them by file,
//! position and code before they leave `compile()`. The forms a user sees
//! (miette's report, one-line, JSON, GitHub annotations) live in
//! [`render`](crate::diag::render).

pub mod render;

use crate::span::{SourceMap, Span};

/// How bad a diagnostic is. Only errors fail a build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A span with a message; the primary label is where the problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

/// One problem found in the user's input (or, for `platc::internal`, in platc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    /// Where the same problem applies (`` `payments` in production ``):
    /// identical reports from several services or environments become one
    /// report listing them (see [`sort`]).
    pub places: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            places: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, message) }
    }

    /// Adds the primary label (the first one added is primary).
    pub fn label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        let primary = !self.labels.iter().any(|l| l.primary);
        self.labels.push(Label { span, message: message.into(), primary });
        self
    }

    /// Adds a secondary label (another place that explains the problem).
    pub fn also(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into(), primary: false });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Says where the problem applies (a service, an environment), so that
    /// the same problem in several places is reported once.
    pub fn at(mut self, place: impl Into<String>) -> Diagnostic {
        self.places.push(place.into());
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Diagnostic {
        self.severity = severity;
        self
    }

    /// The span of the primary label, if the problem has a place.
    pub fn primary(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `unknown {what} `{name}``, pointing at `span`, with "did you mean" or
    /// the list of what exists.
    pub fn unknown<'a>(
        code: &'static str,
        what: &str,
        name: &str,
        span: Span,
        known: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Diagnostic {
        Diagnostic::error(code, format!("unknown {what} `{name}`"))
            .label(span, format!("no {what} of this name"))
            .help(unknown_help(name, what, known))
    }

    /// A bug in platc, reported instead of a panic.
    pub fn internal(message: impl Into<String>) -> Diagnostic {
        Diagnostic::error("platc::internal", message)
            .help("this is a bug in platc; please report it with the input that caused it")
    }
}

/// Sorts by file path, position, code and message, drops exact repeats, and
/// merges reports that differ only in where they apply into one that lists
/// every place (a policy failing in both environments, a template failing
/// for every service).
pub fn sort(diags: &mut Vec<Diagnostic>, files: &SourceMap) {
    diags.sort_by(|a, b| key(a, files).cmp(&key(b, files)));
    diags.dedup();
    let mut out: Vec<Diagnostic> = Vec::with_capacity(diags.len());
    // Reports that may merge are adjacent once sorted, but for labels, help
    // and places, which the key does not order: look back over the reports
    // with the same key.
    for d in diags.drain(..) {
        let same = out
            .iter_mut()
            .rev()
            .take_while(|o| key(o, files) == key(&d, files))
            .find(|o| o.severity == d.severity && o.labels == d.labels && o.help == d.help && !o.places.is_empty());
        match same {
            Some(o) if !d.places.is_empty() => {
                for p in d.places {
                    if !o.places.contains(&p) {
                        o.places.push(p);
                    }
                }
            }
            _ => out.push(d),
        }
    }
    *diags = out;
}

fn key<'a>(d: &'a Diagnostic, files: &'a SourceMap) -> (&'a str, u32, u32, &'a str, &'a str) {
    match d.primary() {
        Some(s) => (files.path(s.file), s.start, s.end, d.code, &d.message),
        None => ("", 0, 0, d.code, &d.message),
    }
}

/// Whether a character could break out of the line or the comment a name is
/// printed in, or reorder how it reads: C0 and C1 controls, DEL, the
/// Unicode line and paragraph separators, and the bidirectional overrides.
pub fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A name from the file system (or any text) as it is printed into a
/// message, a comment or a header: every [`is_unprintable`] character
/// written as an escape (`\n`, `\t`, `\u{1b}`), so that it stays one
/// line and reads as what it is.
pub fn escape_unprintable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(is_unprintable) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unprintable(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// "did you mean `x`?" for the closest candidate within a small edit distance.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // As rustc: a third of the name (at least one edit), so that a word
    // sharing half its letters with a candidate is not "meant" as it.
    let limit = (name.chars().count() / 3).max(1);
    candidates.into_iter().map(|c| (distance(name, c), c)).filter(|(d, _)| *d <= limit).min().map(|(_, c)| c)
}

/// Edit distance, by characters, case-insensitive: insertions, deletions,
/// substitutions and transpositions of neighbours (`glod` is one edit from
/// `gold`), each one edit (optimal string alignment).
#[allow(clippy::indexing_slicing)] // every index is bounded by the loop ranges
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && *ca == b[j - 1] && a[i - 1] == *cb {
                cur[j + 1] = cur[j + 1].min(before[j - 1] + 1);
            }
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// "a, b or c" — for messages that list what was expected.
pub fn one_of<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::from("nothing"),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} or {}", init.join(", "), last.as_ref())
        }
    }
}

/// The help line for an unknown name: "did you mean" when something is close,
/// otherwise the list of what exists (or a fallback).
pub fn unknown_help<'a>(name: &str, what: &str, known: impl IntoIterator<Item = &'a str> + Clone) -> String {
    if let Some(close) = did_you_mean(name, known.clone()) {
        return format!("did you mean `{close}`?");
    }
    let mut all: Vec<&str> = known.into_iter().collect();
    all.sort_unstable();
    all.dedup();
    if all.is_empty() {
        return format!("no {what} is defined here");
    }
    if all.len() > 12 {
        let shown: Vec<String> = all.iter().take(12).map(|s| format!("`{s}`")).collect();
        return format!("expected one of {}, ... ({} in all)", shown.join(", "), all.len());
    }
    let shown: Vec<String> = all.iter().map(|s| format!("`{s}`")).collect();
    format!("expected {}", one_of(&shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("glod", ["bronze", "silver", "gold"]), Some("gold"));
        assert_eq!(did_you_mean("payments-bd", ["payments-db", "cache"]), Some("payments-db"));
        assert_eq!(did_you_mean("zzz", ["gold"]), None);
        // A swap of neighbours is one edit; half the letters is no likeness.
        assert_eq!(did_you_mean("cahce", ["cache", "demo"]), Some("cache"));
        assert_eq!(did_you_mean("widget", ["target", "tier", "template"]), None);
        assert_eq!(distance("ab", "ba"), 1);
        assert_eq!(distance("kubernets", "kubernetes"), 1);
    }

    #[test]
    fn escapes_what_would_break_a_line() {
        assert_eq!(escape_unprintable("services/a"), "services/a");
        assert_eq!(escape_unprintable("x\n---\r\t\u{1b}[31m\u{202e}y"), "x\\n---\\r\\t\\u{1b}[31m\\u{202e}y");
    }

    #[test]
    fn lists_alternatives_in_words() {
        assert_eq!(one_of(&["a", "b", "c"]), "a, b or c");
        assert_eq!(unknown_help("x", "tier", ["gold", "bronze"]), "expected `bronze` or `gold`");
    }
}
