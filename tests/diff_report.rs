//! `platc diff`'s reports of hostile text (issue 13, item 2): values, paths,
//! service and environment names that try to hide the real changes of a
//! pull request or forge others. The markdown report is read back with a
//! real CommonMark parser, as the reviewer's browser would: every block must
//! be one platc wrote, and every change must be there as text.

mod common;

use common::markdown::{Block, Span, view};
use platc::diff::{self, FileChange};
use platc::emit::{OutFile, Output, yaml};
use platc::escape;

/// The issue's value: ends the list item, claims there is nothing to see,
/// and comments out the rest of the report.
const HIDE: &str = "info\n\nNo production changes.\n<!--";

const HOSTILE: &[&str] = &[
    HIDE,
    "</details>",
    "<!--",
    "# heading",
    "```\n# fenced\n```",
    "````",
    "[x](javascript:alert(1))",
    "![i](https://evil.example/i.png)",
    "<script>alert(1)</script>",
    "https://evil.example/login",
    "**bold** _it_ ~~gone~~ $x$",
    "- [x] approved\n> quote",
    "\u{1b}[2K\r\u{202e}cba\u{2028}",
];

/// The path (and service and environment) of a file added by a service
/// whose directory name holds line breaks and markup.
const EVIL_SERVICE: &str = "evil\n```\n</details>\n# forged";
const EVIL_ENV: &str = "production\n</details>";

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn file(service: &str, env: &str, text: String) -> std::sync::Arc<OutFile> {
    let docs = yaml::parse(&text).unwrap();
    std::sync::Arc::new(OutFile::new(text, Some(service.into()), Some(env.into()), "kubernetes/x".into(), Some(docs)))
}

fn configmap(values: &[(String, &str)]) -> String {
    let data: String = values.iter().map(|(k, v)| format!("  {k}: {}\n", q(v))).collect();
    format!("kind: ConfigMap\nmetadata:\n  name: orders\ndata:\n{data}")
}

fn hpa(min: u32) -> String {
    format!("kind: HorizontalPodAutoscaler\nmetadata:\n  name: orders\nspec:\n  minReplicas: {min}\n")
}

/// Base: LOG_LEVEL `info`, V0.. `x`, 4 replicas. Head: LOG_LEVEL the issue's
/// value and each V a hostile value, 6 replicas, and a file of the evil
/// service.
fn changes() -> Vec<FileChange> {
    let values = |log: &'static str, v: &dyn Fn(&'static str) -> &'static str| {
        let mut all = vec![("LOG_LEVEL".to_string(), log)];
        all.extend(HOSTILE.iter().enumerate().map(|(i, h)| (format!("V{i}"), v(h))));
        all
    };
    let (mut base, mut head) = (Output::default(), Output::default());
    let cm = "orders/kubernetes/production/configmap.yaml";
    let scale = "orders/kubernetes/production/horizontalpodautoscaler.yaml";
    base.files.insert(cm.into(), file("orders", "production", configmap(&values("info", &|_| "x"))));
    head.files.insert(cm.into(), file("orders", "production", configmap(&values(HIDE, &|h| h))));
    base.files.insert(scale.into(), file("orders", "production", hpa(4)));
    head.files.insert(scale.into(), file("orders", "production", hpa(6)));
    let evil = format!("{EVIL_SERVICE}/kubernetes/{EVIL_ENV}/configmap.yaml");
    head.files.insert(evil, file(EVIL_SERVICE, EVIL_ENV, configmap(&[("A".into(), "</details>")])));
    diff::diff(&base, &head)
}

/// The lines a reader must see, hostile text shown with its escapes.
fn expected_items() -> Vec<String> {
    let mut items =
        vec![format!("{} added", escape::line(&format!("{EVIL_SERVICE}/kubernetes/{EVIL_ENV}/configmap.yaml")))];
    items.push("ConfigMap orders: data.LOG_LEVEL: info → info\\n\\nNo production changes.\\n<!--".into());
    items.extend(
        HOSTILE.iter().enumerate().map(|(i, h)| format!("ConfigMap orders: data.V{i}: x → {}", escape::line(h))),
    );
    items.push("HorizontalPodAutoscaler orders: spec.minReplicas: 4 → 6".into());
    items
}

#[test]
fn redteam_02_markdown_shows_every_change_and_only_blocks_platc_wrote() {
    let changes = changes();
    assert_eq!(changes.len(), 3);
    let md = diff::markdown(&changes, "main");
    let items = expected_items();
    let unified: String = changes.iter().map(|c| c.unified.as_str()).collect();
    let mut expected = vec![
        Block::Heading(
            3,
            vec![
                Span::Text("platc diff against ".into()),
                Span::Code("main".into()),
                Span::Text(": 3 files changed in 2 services".into()),
            ],
        ),
        Block::Paragraph(vec![Span::Bold(escape::line(&format!("{EVIL_SERVICE} / {EVIL_ENV}")).into())]),
        Block::Item(items[0].clone()),
        Block::Paragraph(vec![Span::Bold("orders / production".into())]),
    ];
    expected.extend(items[1..].iter().map(|i| Block::Item(i.clone())));
    expected.extend([
        Block::Html("<details><summary>Unified diff</summary>\n".into()),
        Block::Code("diff".into(), escape::lines(&unified).into()),
        Block::Html("</details>\n".into()),
    ]);
    assert_eq!(view(&md), expected, "\n{md}");
}

/// The unified diff keeps one header line per file and every changed line,
/// whatever the path and the values hold.
#[test]
fn redteam_02_the_unified_diff_in_markdown_cannot_be_closed_or_forged() {
    let changes = changes();
    let md = diff::markdown(&changes, "main");
    let code: Vec<String> = view(&md)
        .into_iter()
        .filter_map(|b| match b {
            Block::Code(_, c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(code.len(), 1, "{md}");
    let lines: Vec<&str> = code[0].lines().collect();
    assert_eq!(lines.iter().filter(|l| l.starts_with("+++ ")).count(), 3, "{}", code[0]);
    assert_eq!(lines.iter().filter(|l| l.starts_with("--- ")).count(), 3, "{}", code[0]);
    let quoted = r#"+++ "b/evil\n```\n</details>\n# forged/kubernetes/production\n</details>/configmap.yaml""#;
    assert!(lines.contains(&quoted), "{}", code[0]);
    for line in ["-  minReplicas: 4", "+  minReplicas: 6", r#"+  LOG_LEVEL: "info\n\nNo production changes.\n<!--""#] {
        assert!(lines.contains(&line), "{line} in {}", code[0]);
    }
    // Every line of the diff is a diff line: nothing of a value or a path
    // starts a line of its own.
    assert!(lines.iter().all(|l| l.starts_with([' ', '+', '-', '@', '\\'])), "{}", code[0]);
}

/// The report with no change, and a base revision holding backquotes and a
/// line break: a code span in one line.
#[test]
fn redteam_02_the_base_revision_is_a_code_span() {
    let base = "main`\n# x <!--";
    let shown = Span::Code("main`\\n# x <!--".into());
    assert_eq!(
        view(&diff::markdown(&[], base)),
        vec![Block::Paragraph(vec![
            Span::Bold("platc diff".into()),
            Span::Text(": no change to the generated files since ".into()),
            shown.clone(),
            Span::Text(".".into()),
        ])]
    );
    let md = diff::markdown(&changes(), base);
    let heading =
        vec![Span::Text("platc diff against ".into()), shown, Span::Text(": 3 files changed in 2 services".into())];
    assert_eq!(view(&md)[0], Block::Heading(3, heading));
}

/// The terminal report: one line per group and per change, whatever a value
/// holds, and no control character (ANSI escape, carriage return) reaches
/// the terminal.
#[test]
fn redteam_02_text_report_sends_no_control_character() {
    let changes = changes();
    let text = diff::text(&changes, "main");
    assert!(!text.contains(|c| escape::hidden(c) && c != '\n'), "{text:?}");
    let summary: Vec<&str> = text.split("\n\n").next().unwrap().lines().collect();
    let mut expected = vec![escape::line(&format!("{EVIL_SERVICE} / {EVIL_ENV}")).to_string()];
    let items = expected_items();
    expected.push(format!("  {}", items[0]));
    expected.push("orders / production".into());
    expected.extend(items[1..].iter().map(|i| format!("  {i}")));
    assert_eq!(summary, expected);
}

/// JSON carries the values exactly, every control character escaped by
/// serde.
#[test]
fn redteam_02_json_report_carries_the_values_exactly() {
    let changes = changes();
    let json = diff::json(&changes, "main");
    assert!(!json.trim_end().contains(|c: char| c.is_control()), "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["files"][0]["path"], format!("{EVIL_SERVICE}/kubernetes/{EVIL_ENV}/configmap.yaml"));
    assert_eq!(v["files"][0]["service"], EVIL_SERVICE);
    let summary = v["files"][1]["summary"].as_array().unwrap();
    assert_eq!(summary[0], format!("ConfigMap orders: data.LOG_LEVEL: info → {HIDE}"));
}
