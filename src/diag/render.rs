//! The forms a diagnostic is shown in: miette's human report, one short line,
//! one JSON object, or a GitHub Actions annotation. Line and column are
//! computed here, when printing, and nowhere else.

use std::fmt::{self, Display};
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

use super::{Diagnostic, Label, Severity};
use crate::span::{FileId, SourceMap};

/// How diagnostics are printed (`--message-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// miette's report with source snippets.
    #[default]
    Human,
    /// `file:line:col: severity[code]: message`
    Short,
    /// One JSON object per line.
    Json,
    /// `::error file=F,line=L,col=C,title=CODE::message`
    Github,
}

/// Renders one diagnostic in the given form, ending with a newline.
pub fn render(d: &Diagnostic, files: &SourceMap, format: Format, color: bool) -> String {
    // The source text is redacted already; a message that quotes a value
    // the checks did not catch is masked here.
    let masked;
    let d = match masked_text(d) {
        Some(m) => {
            masked = m;
            &masked
        }
        None => d,
    };
    match format {
        Format::Human => human(d, files, color),
        Format::Short => short(d, files),
        Format::Json => json(d, files),
        Format::Github => github(d, files),
    }
}

/// `d` with every credential-looking text in its words masked, if it has any.
fn masked_text(d: &Diagnostic) -> Option<Diagnostic> {
    use crate::secrets::redact;
    let texts = std::iter::once(&d.message).chain(d.help.as_ref()).chain(d.labels.iter().map(|l| &l.message));
    if texts.clone().all(|t| matches!(redact(t), std::borrow::Cow::Borrowed(_))) {
        return None;
    }
    let mut m = d.clone();
    m.message = redact(&m.message).into_owned();
    m.help = m.help.map(|h| redact(&h).into_owned());
    for l in &mut m.labels {
        l.message = redact(&l.message).into_owned();
    }
    Some(m)
}

/// Where a diagnostic points: path, 1-based line and column.
fn location(d: &Diagnostic, files: &SourceMap) -> Option<(String, usize, usize)> {
    let span = d.primary()?;
    let file = files.get(span.file)?;
    let (line, col) = file.line_col(span.start as usize);
    Some((file.path.clone(), line, col))
}

fn short(d: &Diagnostic, files: &SourceMap) -> String {
    let mut out = match location(d, files) {
        Some((path, line, col)) => format!("{path}:{line}:{col}: "),
        None => String::new(),
    };
    out.push_str(&format!("{}[{}]: {}", d.severity.as_str(), d.code, d.message));
    if let Some(help) = &d.help {
        out.push_str(&format!(" (help: {help})"));
    }
    out.push('\n');
    out
}

fn json(d: &Diagnostic, files: &SourceMap) -> String {
    let (file, line, column) = match location(d, files) {
        Some((f, l, c)) => (Some(f), Some(l), Some(c)),
        None => (None, None, None),
    };
    let value = serde_json::json!({
        "code": d.code,
        "severity": d.severity.as_str(),
        "message": d.message,
        "file": file,
        "line": line,
        "column": column,
        "help": d.help,
    });
    format!("{value}\n")
}

fn github(d: &Diagnostic, files: &SourceMap) -> String {
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut props = Vec::new();
    if let Some((path, line, col)) = location(d, files) {
        props.push(format!("file={}", gh_property(&path)));
        props.push(format!("line={line}"));
        props.push(format!("col={col}"));
    }
    props.push(format!("title={}", gh_property(d.code)));
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push('\n');
        message.push_str(help);
    }
    format!("::{level} {}::{}\n", props.join(","), gh_data(&message))
}

/// Escaping of a workflow command's message, as the Actions toolkit does it.
fn gh_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escaping of a workflow command's property value.
fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Source lines longer than this are not drawn (miette would draw every
/// character, and cannot at all past 65,535 columns): the report names the
/// place instead.
const MAX_DRAWN_LINE: usize = 2_000;

fn human(d: &Diagnostic, files: &SourceMap, color: bool) -> String {
    if d.labels.iter().any(|l| line_len(files, l.span) > MAX_DRAWN_LINE) {
        let mut out = format!("{}\n\n  × {}\n", d.code, d.message);
        if let Some((path, line, col)) = location(d, files) {
            out.push_str(&format!("  at {path}:{line}:{col} (the line is too long to show)\n"));
        }
        if let Some(help) = &d.help {
            out.push_str(&format!("  help: {help}\n"));
        }
        return out;
    }
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false);
    let report = Report::new(d, files);
    let mut out = String::new();
    if handler.render_report(&mut out, &report).is_err() {
        return short(d, files);
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The length in bytes of the longest source line a span touches.
fn line_len(files: &SourceMap, span: crate::span::Span) -> usize {
    let Some(f) = files.get(span.file) else { return 0 };
    let text = f.text.as_bytes();
    let start = text.get(..span.start as usize).and_then(|t| t.iter().rposition(|b| *b == b'\n')).map_or(0, |i| i + 1);
    let from_end = (span.end as usize).min(text.len());
    let end =
        text.get(from_end..).and_then(|t| t.iter().position(|b| *b == b'\n')).map_or(text.len(), |i| from_end + i);
    let mut longest = 0;
    let mut line_start = start;
    for (i, b) in text.get(start..end).unwrap_or_default().iter().enumerate() {
        if *b == b'\n' {
            longest = longest.max(start + i - line_start);
            line_start = start + i + 1;
        }
    }
    longest.max(end - line_start)
}

/// A [`Diagnostic`] seen through miette: labels in the primary file belong to
/// the report itself; labels in other files become related reports, one per
/// file, so that a cycle across three services shows all three places.
struct Report<'a> {
    diag: &'a Diagnostic,
    message: String,
    help: Option<&'a str>,
    source: Option<NamedSource<Arc<str>>>,
    labels: Vec<&'a Label>,
    related: Vec<Report<'a>>,
}

impl<'a> Report<'a> {
    fn new(diag: &'a Diagnostic, files: &SourceMap) -> Report<'a> {
        let primary_file = diag.primary().map(|s| s.file);
        let mut report = Report::part(diag, diag.message.clone(), diag.help.as_deref(), primary_file, files);
        let mut others: Vec<FileId> =
            diag.labels.iter().map(|l| l.span.file).filter(|f| Some(*f) != primary_file).collect();
        others.sort_by(|a, b| files.path(*a).cmp(files.path(*b)));
        others.dedup();
        for file in others {
            let message = format!("see also {}", files.path(file));
            report.related.push(Report::part(diag, message, None, Some(file), files));
        }
        report
    }

    fn part(
        diag: &'a Diagnostic,
        message: String,
        help: Option<&'a str>,
        file: Option<FileId>,
        files: &SourceMap,
    ) -> Report<'a> {
        let source = file.and_then(|f| files.get(f)).map(|f| NamedSource::new(&f.path, f.text.clone()));
        let labels = diag.labels.iter().filter(|l| Some(l.span.file) == file).collect();
        Report { diag, message, help, source, labels, related: Vec::new() }
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn Display + 'b>> {
        Some(Box::new(self.diag.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn Display + 'b>> {
        self.help.map(|h| Box::new(h) as Box<dyn Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.source.as_ref()?;
        Some(Box::new(self.labels.iter().map(|l| {
            let text = (!l.message.is_empty()).then(|| l.message.clone());
            let span = (l.span.start as usize, l.span.len());
            if l.primary {
                LabeledSpan::new_primary_with_span(text, span)
            } else {
                LabeledSpan::new_with_span(text, span)
            }
        })))
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    fn sample() -> (Diagnostic, SourceMap) {
        let mut files = SourceMap::default();
        let f = files.add("services/a/service.plat".into(), Arc::from("service a {\n  tier = glod\n}\n"));
        let d = Diagnostic::error("platc::check::unknown_symbol", "unknown tier `glod`")
            .label(Span::new(f, 21, 25), "not a tier")
            .help("did you mean `gold`?");
        (d, files)
    }

    #[test]
    fn short_form_is_one_line_with_position() {
        let (d, files) = sample();
        assert_eq!(
            render(&d, &files, Format::Short, false),
            "services/a/service.plat:2:10: error[platc::check::unknown_symbol]: unknown tier `glod` (help: did you mean `gold`?)\n"
        );
    }

    #[test]
    fn github_form_escapes_properties_and_newlines() {
        let (d, files) = sample();
        assert_eq!(
            render(&d, &files, Format::Github, false),
            "::error file=services/a/service.plat,line=2,col=10,title=platc%3A%3Acheck%3A%3Aunknown_symbol::unknown tier `glod`%0Adid you mean `gold`?\n"
        );
    }

    #[test]
    fn json_form_has_every_field() {
        let (d, files) = sample();
        let v: serde_json::Value = serde_json::from_str(&render(&d, &files, Format::Json, false)).unwrap();
        assert_eq!(v["line"], 2);
        assert_eq!(v["column"], 10);
        assert_eq!(v["help"], "did you mean `gold`?");
    }
}
