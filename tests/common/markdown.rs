//! What a reviewer sees of a markdown report: its blocks in order, as a real
//! CommonMark parser (pulldown-cmark, with the GitHub extensions it has)
//! reads them. Anything that is not plain text, bold text or a code span in
//! a heading or a paragraph, plain text in a list item, a fenced code block
//! or an HTML block (a link, an image, emphasis, inline HTML, a quote, a
//! table, a nested list, math, a rule, a line break...) comes out as
//! [`Block::Other`].

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

#[derive(Clone, Debug, PartialEq)]
pub enum Span {
    Text(String),
    Bold(String),
    Code(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    Heading(u8, Vec<Span>),
    Paragraph(Vec<Span>),
    /// A list item of plain text.
    Item(String),
    /// Info string and content.
    Code(String, String),
    /// An HTML block, raw.
    Html(String),
    /// Anything else, as the parser's event.
    Other(String),
}

pub fn gfm() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_GFM
        | Options::ENABLE_MATH
}

#[derive(PartialEq)]
enum In {
    Top,
    Inline,
    Bold,
    Item,
    Raw,
}

pub fn view(md: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let (mut spans, mut text, mut info) = (Vec::new(), String::new(), String::new());
    let mut at = In::Top;
    for event in Parser::new_ext(md, gfm()) {
        match (event, &at) {
            (Event::Start(Tag::Heading { .. } | Tag::Paragraph), In::Top) => at = In::Inline,
            (Event::Start(Tag::List(None)) | Event::End(TagEnd::List(false)), In::Top) => {}
            (Event::Start(Tag::Item), In::Top) => at = In::Item,
            (Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(i))), In::Top) => {
                info = i.to_string();
                at = In::Raw;
            }
            (Event::Start(Tag::HtmlBlock), In::Top) => at = In::Raw,
            (Event::Text(t), In::Inline) => match spans.last_mut() {
                Some(Span::Text(s)) => s.push_str(&t),
                _ => spans.push(Span::Text(t.to_string())),
            },
            (Event::Code(t), In::Inline) => spans.push(Span::Code(t.to_string())),
            (Event::Start(Tag::Strong), In::Inline) => at = In::Bold,
            (Event::Text(t), In::Bold) | (Event::Text(t), In::Item) | (Event::Text(t) | Event::Html(t), In::Raw) => {
                text.push_str(&t)
            }
            (Event::End(TagEnd::Strong), In::Bold) => {
                spans.push(Span::Bold(std::mem::take(&mut text)));
                at = In::Inline;
            }
            (Event::End(TagEnd::Heading(level)), In::Inline) => {
                blocks.push(Block::Heading(level as u8, std::mem::take(&mut spans)));
                at = In::Top;
            }
            (Event::End(TagEnd::Paragraph), In::Inline) => {
                blocks.push(Block::Paragraph(std::mem::take(&mut spans)));
                at = In::Top;
            }
            (Event::End(TagEnd::Item), In::Item) => {
                blocks.push(Block::Item(std::mem::take(&mut text)));
                at = In::Top;
            }
            (Event::End(TagEnd::CodeBlock), In::Raw) => {
                blocks.push(Block::Code(std::mem::take(&mut info), std::mem::take(&mut text)));
                at = In::Top;
            }
            (Event::End(TagEnd::HtmlBlock), In::Raw) => {
                blocks.push(Block::Html(std::mem::take(&mut text)));
                at = In::Top;
            }
            (other, _) => blocks.push(Block::Other(format!("{other:?}"))),
        }
    }
    blocks
}
