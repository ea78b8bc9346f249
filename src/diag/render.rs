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

/// The places a report applies to, in words (`` `a` in staging, `b` in
/// production ``), at most a dozen then a count.
fn places(d: &Diagnostic) -> Option<String> {
    if d.places.is_empty() {
        return None;
    }
    let shown: Vec<&str> = d.places.iter().take(12).map(String::as_str).collect();
    let more = d.places.len().saturating_sub(shown.len());
    let mut text = shown.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    Some(text)
}

/// The message with the places it applies to, on one line.
fn one_line_message(d: &Diagnostic) -> String {
    match places(d) {
        Some(p) => format!("{} (applies to {p})", d.message),
        None => d.message.clone(),
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
    Some((super::escape_unprintable(&file.path).into_owned(), line, col))
}

fn short(d: &Diagnostic, files: &SourceMap) -> String {
    let mut out = match location(d, files) {
        Some((path, line, col)) => format!("{path}:{line}:{col}: "),
        None => String::new(),
    };
    out.push_str(&format!("{}[{}]: {}", d.severity.as_str(), d.code, one_line_message(d)));
    if let Some(help) = &d.help {
        out.push_str(&format!(" (help: {help})"));
    }
    // One line per diagnostic, whatever a message quotes.
    let mut out = super::escape_unprintable(&out).into_owned();
    out.push('\n');
    out
}

/// A span as positions: path, 1-based start line and column, end line and
/// column (the column after the last character).
fn positions(span: crate::span::Span, files: &SourceMap) -> Option<(String, usize, usize, usize, usize)> {
    let file = files.get(span.file)?;
    let (line, col) = file.line_col(span.start as usize);
    let (end_line, end_col) = file.line_col(span.end as usize);
    Some((file.path.clone(), line, col, end_line, end_col))
}

fn json(d: &Diagnostic, files: &SourceMap) -> String {
    let at = d.primary().and_then(|s| positions(s, files));
    let labels: Vec<serde_json::Value> = d
        .labels
        .iter()
        .filter_map(|l| {
            let (file, line, column, end_line, end_column) = positions(l.span, files)?;
            Some(serde_json::json!({
                "file": file,
                "line": line,
                "column": column,
                "end_line": end_line,
                "end_column": end_column,
                "message": l.message,
                "primary": l.primary,
            }))
        })
        .collect();
    let value = serde_json::json!({
        "code": d.code,
        "severity": d.severity.as_str(),
        "message": d.message,
        "file": at.as_ref().map(|a| &a.0),
        "line": at.as_ref().map(|a| a.1),
        "column": at.as_ref().map(|a| a.2),
        "end_line": at.as_ref().map(|a| a.3),
        "end_column": at.as_ref().map(|a| a.4),
        "help": d.help,
        "places": d.places,
        "labels": labels,
    });
    format!("{value}\n")
}

fn github(d: &Diagnostic, files: &SourceMap) -> String {
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut props = Vec::new();
    if let Some((path, line, col, end_line, end_col)) = d.primary().and_then(|s| positions(s, files)) {
        props.push(format!("file={}", gh_property(&path)));
        props.push(format!("line={line}"));
        props.push(format!("col={col}"));
        props.push(format!("endLine={end_line}"));
        props.push(format!("endColumn={end_col}"));
    }
    props.push(format!("title={}", gh_property(d.code)));
    let mut message = one_line_message(d);
    if let Some(help) = &d.help {
        message.push('\n');
        message.push_str(help);
    }
    format!("::{level} {}::{}\n", props.join(","), gh_data(&message))
}

/// Escaping of a workflow command's message, as the Actions toolkit does it.
pub fn gh_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escaping of a workflow command's property value.
pub fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Source lines longer than this are not drawn (miette would draw every
/// character, and cannot at all past 65,535 columns): the report names the
/// place instead.
const MAX_DRAWN_LINE: usize = 2_000;

fn human(d: &Diagnostic, files: &SourceMap, color: bool) -> String {
    if d.labels.iter().any(|l| line_len(files, l.span) > MAX_DRAWN_LINE) {
        let mut out = format!("{}\n\n  × {}\n", d.code, one_line_message(d));
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
    // Labels in other files are more snippets of the same report (before
    // its help), not reports of their own.
    let mut snippets = String::new();
    for part in &report.related {
        let mut text = String::new();
        if handler.render_report(&mut text, part).is_err() {
            continue;
        }
        if let Some(start) = text.find("╭─[") {
            let line_start = text.get(..start).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
            snippets.push_str(text.get(line_start..).unwrap_or_default().trim_end());
            snippets.push('\n');
        }
    }
    if !snippets.is_empty() {
        match out.find("\n  help: ") {
            Some(i) => out.insert_str(i + 1, &snippets),
            None => out.push_str(&snippets),
        }
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
/// the report itself; labels in other files are rendered as more snippets of
/// the same report (`related`, one per file, drawn by [`human`]), so that a
/// cycle across three services shows all three places in one report.
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
        let message = match places(diag) {
            Some(p) => format!("{}\napplies to {p}", diag.message),
            None => diag.message.clone(),
        };
        let mut report = Report::part(diag, message, diag.help.as_deref(), primary_file, files);
        let mut others: Vec<FileId> =
            diag.labels.iter().map(|l| l.span.file).filter(|f| Some(*f) != primary_file).collect();
        others.sort_by(|a, b| files.path(*a).cmp(files.path(*b)));
        others.dedup();
        for file in others {
            let message = format!("see also {}", super::escape_unprintable(files.path(file)));
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
        let source = file
            .and_then(|f| files.get(f))
            .map(|f| NamedSource::new(super::escape_unprintable(&f.path), f.text.clone()));
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
            "::error file=services/a/service.plat,line=2,col=10,endLine=2,endColumn=14,title=platc%3A%3Acheck%3A%3Aunknown_symbol::unknown tier `glod`%0Adid you mean `gold`?\n"
        );
    }

    #[test]
    fn paths_print_escaped_in_every_form() {
        let mut files = SourceMap::default();
        let f = files.add("x\n::stop-commands::pwn\ny/service.plat".into(), Arc::from("service a {}\n"));
        let d = Diagnostic::error("platc::check::unknown_symbol", "bad").label(Span::new(f, 0, 7), "here");
        let short = render(&d, &files, Format::Short, false);
        assert_eq!(short.lines().count(), 1, "{short}");
        assert!(short.starts_with("x\\n::stop-commands::pwn\\ny/service.plat:1:1: "), "{short}");
        let gh = render(&d, &files, Format::Github, false);
        assert_eq!(gh.lines().count(), 1, "{gh}");
        assert!(!gh.contains("\n::stop-commands"), "{gh}");
        let human = render(&d, &files, Format::Human, false);
        assert!(!human.contains("\n::stop-commands"), "{human}");
    }

    #[test]
    fn json_form_has_every_field() {
        let (d, files) = sample();
        let v: serde_json::Value = serde_json::from_str(&render(&d, &files, Format::Json, false)).unwrap();
        assert_eq!(v["line"], 2);
        assert_eq!(v["column"], 10);
        assert_eq!(v["help"], "did you mean `gold`?");
        assert_eq!(v["end_line"], 2);
        assert_eq!(v["end_column"], 14);
        assert_eq!(v["labels"][0]["message"], "not a tier");
        assert_eq!(v["labels"][0]["primary"], true);
    }

    #[test]
    fn labels_in_other_files_are_snippets_of_one_report() {
        let (d, mut files) = sample();
        let g = files.add("stdlib/tiers.plat".into(), Arc::from("tier gold {}\n"));
        let d = d.also(Span::new(g, 5, 9), "declared here");
        let text = render(&d, &files, Format::Human, false);
        assert_eq!(text.matches("platc::check::unknown_symbol").count(), 1, "{text}");
        assert!(!text.contains("Error:") && !text.contains("see also"), "{text}");
        assert!(text.contains("declared here"), "{text}");
        // The help comes last, after every snippet.
        assert!(text.find("declared here") < text.find("help:"), "{text}");
    }

    #[test]
    fn one_problem_in_several_places_is_one_report_listing_them() {
        let (d, files) = sample();
        let mut all = vec![d.clone().at("`a` in staging"), d.clone().at("`a` in production"), d.at("`a` in staging")];
        crate::diag::sort(&mut all, &files);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].places, ["`a` in staging", "`a` in production"]);
        assert!(
            render(&all[0], &files, Format::Short, false).contains("(applies to `a` in staging, `a` in production)")
        );
    }
}
