//! Text from a workspace (values, paths, service and environment names,
//! keys) made inert where platc prints it for a person to read: one function
//! per place the text lands. The text is shown, never obeyed: a value cannot
//! start a line, move the cursor, reorder what is around it, or become
//! markup.
//!
//! | where it lands                                          | function       |
//! |---------------------------------------------------------|----------------|
//! | a terminal, inside one line                             | [`line`]       |
//! | a terminal, whole lines (a unified diff)                | [`lines`]      |
//! | markdown inline text: a list item, a table cell, bold   | [`md_inline`]  |
//! | a markdown code span                                    | [`md_code`]    |
//! | a markdown fenced code block                            | [`md_fenced`]  |
//!
//! Markdown means GitHub-flavoured markdown (CommonMark with tables,
//! strikethrough, task lists, extended autolinks, footnotes and math).
//! Inside raw HTML (`<summary>…</summary>`) markdown escapes do not apply;
//! platc writes only text of its own there.

use std::borrow::Cow;
use std::fmt::Write;

/// Characters a reader cannot see, or that act on the text around them:
/// control characters (line breaks, carriage returns, ESC of ANSI escape
/// sequences, NUL, C1 controls such as NEL), the Unicode line and paragraph
/// separators, and the bidirectional formatting characters that reorder
/// what is displayed ("Trojan Source").
pub fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{61c}' | '\u{200e}' | '\u{200f}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// A hidden character as its escape: `\n`, `\r`, `\t`, `\u{1b}`.
fn show(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

fn showing(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| hidden(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c) && !keep(c) { show(c, &mut out) } else { out.push(c) }
    }
    Cow::Owned(out)
}

/// Text inside one line of terminal output: every [`hidden`] character is
/// shown as its escape (`\n`, `\u{1b}`), so the text stays on its line and
/// sends nothing to the terminal. A backslash is left as it is.
pub fn line(s: &str) -> Cow<'_, str> {
    showing(s, |_| false)
}

/// Whole lines of terminal output: as [`line`], but line breaks and tabs are
/// kept (a carriage return is shown: it would let a line overwrite itself).
pub fn lines(s: &str) -> Cow<'_, str> {
    showing(s, |c| c == '\n' || c == '\t')
}

/// ASCII punctuation that has no meaning in GitHub-flavoured markdown inline
/// text and cannot begin a block: left as it is for readability. Every other
/// ASCII punctuation character is escaped.
const INERT: &str = ",;=?%/'\"";

/// Text inline in markdown (a list item after `- `, a table cell, between
/// `**`): renders as exactly the text, one line, with no markup. [`hidden`]
/// characters are shown as escapes (so a line break cannot end the item and
/// start a block of its own); `<`, `>` and `&` become entities (no HTML, no
/// comment, no autolink, no entity of the text's own); every other ASCII
/// punctuation character that markdown gives a meaning (`# * _ [ ] ( ) ! \`
/// `` ` `` `| ~ $ : . @ -` and the rest, save [`INERT`]) is backslash-escaped,
/// which CommonMark defines as the literal character: no heading, list,
/// quote, emphasis, link, image, code, math, table cell or autolink can
/// start. Leading spaces become `&#32;` (four of them would start indented
/// code).
pub fn md_inline(s: &str) -> String {
    let shown = line(s);
    let mut out = String::with_capacity(shown.len() + shown.len() / 4);
    let mut leading = true;
    for c in shown.chars() {
        if leading && c == ' ' {
            out.push_str("&#32;");
            continue;
        }
        leading = false;
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_ascii_punctuation() && !INERT.contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The longest run of backticks in `s`.
fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// A markdown code span holding exactly `s` (with [`hidden`] characters
/// shown as escapes): delimited by one backtick more than the longest run
/// inside, and padded with a space on each side, which CommonMark strips.
/// Not for a table cell (a `|` there ends the cell even inside code).
pub fn md_code(s: &str) -> String {
    let shown = line(s);
    let ticks = "`".repeat(longest_backtick_run(&shown) + 1);
    if shown.chars().all(|c| c == ' ') {
        // Nothing to pad: CommonMark keeps a span of only spaces as it is.
        return format!("{ticks}{}{ticks}", if shown.is_empty() { " " } else { &*shown });
    }
    format!("{ticks} {shown} {ticks}")
}

/// A markdown fenced code block holding exactly `content` (line breaks and
/// tabs kept, other [`hidden`] characters shown as escapes, so a carriage
/// return cannot end a line either): the fence is one backtick longer than
/// the longest run inside (at least three), so no line of the content can
/// close it. `info` is platc's own word (`diff`).
pub fn md_fenced(content: &str, info: &str) -> String {
    let shown = lines(content);
    let fence = "`".repeat((longest_backtick_run(&shown) + 1).max(3));
    let info: String = info.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let newline = if shown.is_empty() || shown.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{info}\n{shown}{newline}{fence}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

    /// GitHub's extensions, as far as pulldown-cmark has them.
    fn gfm() -> Options {
        Options::ENABLE_TABLES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_TASKLISTS
            | Options::ENABLE_FOOTNOTES
            | Options::ENABLE_GFM
            | Options::ENABLE_MATH
    }

    const HOSTILE: &[&str] = &[
        "info\n\nNo production changes.\n<!--",
        "</details>",
        "<!-- x -->",
        "<script>alert(1)</script>",
        "# heading",
        "## x\n# y",
        "```\ncode\n```",
        "````",
        "`` ` ``",
        "[x](javascript:alert(1))",
        "![i](https://evil.example/i.png)",
        "<https://evil.example>",
        "https://evil.example www.evil.example a@evil.example",
        "*a* _b_ **c** ~~d~~ $x$ $$y$$",
        "> quote",
        "- item",
        "1. item",
        "    indented",
        "| a | b |\n|---|---|",
        "[^1]\n\n[^1]: note",
        "[x]: https://evil.example",
        "&lt;b&gt; &#10; &amp;",
        "a\\\nb\\",
        "line\r\n---\r\n",
        "x\u{1b}[2J\u{1b}]0;t\u{7}\u{85}\u{2028}\u{202e}cba\u{2066}",
        "- [ ] task",
        "---",
        "===",
        "",
        " ",
        "\\",
        "`",
    ];

    /// The text a reader sees, or `Err` with the first event that is not
    /// plain text.
    fn plain(md: &str) -> Result<String, String> {
        let mut text = String::new();
        for e in Parser::new_ext(md, gfm()) {
            match e {
                Event::Start(Tag::Paragraph) | Event::End(TagEnd::Paragraph) => {}
                Event::Text(t) => text.push_str(&t),
                other => return Err(format!("{other:?} in {md:?}")),
            }
        }
        Ok(text)
    }

    #[test]
    fn inline_text_is_exactly_the_text() {
        for s in HOSTILE {
            let md = md_inline(s);
            assert!(!md.contains('\n') && !md.contains('\r'), "{md:?}");
            // Alone, after a list marker, in bold and as a table cell.
            assert_eq!(plain(&format!("x{md}")).map(|t| t[1..].to_string()), Ok(line(s).to_string()), "{s:?}");
            let list = format!("- {md}\n- next\n");
            let item: Vec<Event> = Parser::new_ext(&list, gfm()).collect();
            let items = item.iter().filter(|e| matches!(e, Event::Start(Tag::Item))).count();
            assert_eq!(items, 2, "{s:?}: {item:?}");
            assert!(
                item.iter().all(|e| matches!(
                    e,
                    Event::Text(_)
                        | Event::Start(Tag::Item | Tag::List(_))
                        | Event::End(TagEnd::Item | TagEnd::List(_))
                )),
                "{s:?}: {item:?}"
            );
            let table = format!("| a | b |\n|---|---|\n| {md} | y |\n");
            let cells = Parser::new_ext(&table, gfm()).filter(|e| matches!(e, Event::Start(Tag::TableCell))).count();
            assert_eq!(cells, 4, "{s:?}");
            // No GFM extended autolink can start (pulldown-cmark has none):
            // every `:` (of a scheme), `.` (of `www.`) and `@` is escaped.
            let unescaped = md.replace("\\:", "").replace("\\.", "").replace("\\@", "");
            assert!(!unescaped.contains([':', '.', '@']), "{md}");
        }
    }

    #[test]
    fn a_code_span_holds_exactly_the_text() {
        for s in HOSTILE.iter().filter(|s| !s.is_empty() && !s.chars().all(|c| c == ' ')) {
            let md = md_code(s);
            let events: Vec<Event> = Parser::new_ext(&md, gfm()).collect();
            let code: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::Code(_))).collect();
            assert_eq!(code.len(), 1, "{s:?}: {events:?}");
            assert_eq!(events.len(), 3, "{s:?}: {events:?}");
            assert!(matches!(code[0], Event::Code(c) if **c == *line(s)), "{s:?}: {events:?}");
        }
    }

    #[test]
    fn a_fenced_block_holds_exactly_the_content() {
        for s in HOSTILE {
            let content = format!("{s}\n{s}\n");
            let md = format!("{}\nafter\n", md_fenced(&content, "diff"));
            let events: Vec<Event> = Parser::new_ext(&md, gfm()).collect();
            let mut code = String::new();
            let mut rest = Vec::new();
            let mut inside = false;
            for e in &events {
                match e {
                    Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                        assert_eq!(&**info, "diff");
                        inside = true;
                    }
                    Event::End(TagEnd::CodeBlock) => inside = false,
                    Event::Text(t) if inside => code.push_str(t),
                    other => rest.push(other.clone()),
                }
            }
            assert_eq!(code, lines(&content), "{s:?}");
            assert_eq!(
                rest,
                vec![Event::Start(Tag::Paragraph), Event::Text("after".into()), Event::End(TagEnd::Paragraph)],
                "{s:?}"
            );
        }
    }

    #[test]
    fn terminal_text_sends_no_control_character() {
        let s = "a\nb\tc\r\u{1b}[31m\u{9b}\u{202e}\u{0}";
        assert_eq!(line(s), "a\\nb\\tc\\r\\u{1b}[31m\\u{9b}\\u{202e}\\u{0}");
        assert_eq!(lines(s), "a\nb\tc\\r\\u{1b}[31m\\u{9b}\\u{202e}\\u{0}");
        assert!(matches!(line("plain → text"), Cow::Borrowed(_)));
    }
}
