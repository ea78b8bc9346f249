//! Tracing a rendering: which values of the template context land where in
//! the generated output. `platc explain` of a generated path renders the
//! template that wrote the file once more with a *marked* context and reads
//! the marks at the path; a build never traces.
//!
//! **Marks.** Every truthy scalar of the context (a non-empty string, a
//! non-zero number, `true`) becomes a string carrying an invisible marker
//! around its text: `U+F0000 id U+F0001 text U+F0002` (private-use
//! characters, which no template and no parser gives a meaning). Falsy
//! values stay as they are, so `{{#if}}`, `{{#unless}}` and `{{#each}}`
//! take the same branches. `{{value}}` quotes the marked text like any
//! text, `{{json value}}` writes it as a JSON string: the output parses in
//! its format, with the marks inside its strings.
//!
//! **Helpers.** A traced rendering is made with a renderer of its own
//! ([`super::render::Renderer::traced`]; a build's helpers never look at
//! tracing). While a rendering is traced, each of its platc helpers first
//! unmarks its arguments (a string that is exactly one mark is the
//! original value again, marks inside a longer string are dropped),
//! computes what it always computes, and marks a truthy value it returns
//! with every context value its arguments carried: `(bounded 63 (concat
//! name "-config"))` is traced to `service.name`. `json`, `hcl` and `gha`
//! write their arguments' marks into the output as they are.
//!
//! **Templates.** A mark written by an included template (`include`,
//! `slot`) is tagged with that template, so the explanation names the
//! partial that wrote it.

use std::cell::RefCell;

use serde_json::Value as Json;

use super::doc::Doc;
use super::render::text;

const START: char = '\u{F0000}';
const MID: char = '\u{F0001}';
const END: char = '\u{F0002}';

/// A marked value: the context values it carries (leaf ids) and the
/// value itself.
#[derive(Debug, Clone)]
struct Entry {
    /// In the order the values were given, each once.
    leaves: Vec<usize>,
    value: Json,
}

/// The marks of one traced rendering.
#[derive(Debug, Clone, Default)]
pub struct Marks {
    /// The context path of each marked leaf, by leaf id.
    paths: Vec<Vec<String>>,
    /// Every mark, by the id in the marker: the leaves, then what helpers made.
    entries: Vec<Entry>,
    /// The included templates that wrote marks, by tag.
    templates: Vec<String>,
}

impl Marks {
    /// Names the context values under the top-level key `from` as under
    /// `to` instead (`resource`, a copy of `resources[2]`, is `resources.2`).
    pub fn rebase(&mut self, from: &str, to: &[String]) {
        for p in &mut self.paths {
            if p.first().is_some_and(|k| k == from) {
                p.splice(0..1, to.iter().cloned());
            }
        }
    }

    /// Says that the context value at `path` was made from the values at
    /// `from` (a value platc computed by rendering a template, as the
    /// labels): a mark of it then names those instead.
    pub fn made_from(&mut self, path: &[String], from: &[Vec<String>]) {
        let Some(leaf) = self.paths.iter().position(|p| p == path) else { return };
        if from.is_empty() {
            return;
        }
        let first = self.paths.len();
        self.paths.extend(from.iter().cloned());
        let new: Vec<usize> = (first..self.paths.len()).collect();
        for e in &mut self.entries {
            if let Some(at) = e.leaves.iter().position(|l| *l == leaf) {
                e.leaves.splice(at..=at, new.iter().copied().filter(|n| !e.leaves.contains(n)).collect::<Vec<_>>());
            }
        }
    }
}

/// One context value found in the output.
#[derive(Debug, Clone, PartialEq)]
pub struct Landed {
    /// Its context path: object keys, list indices as decimal strings.
    pub path: Vec<String>,
    /// The included template that wrote it; `None`: the template rendered.
    pub template: Option<String>,
}

std::thread_local! {
    /// The marks of the traced rendering on this thread, if one is.
    static ACTIVE: RefCell<Option<Marks>> = const { RefCell::new(None) };
}

/// Whether the rendering on this thread is traced.
pub fn active() -> bool {
    ACTIVE.with(|a| a.borrow().is_some())
}

/// `ctx` with every truthy scalar marked, and the marks.
pub fn mark(ctx: &Json) -> (Json, Marks) {
    let mut marks = Marks::default();
    let marked = mark_into(ctx, &mut Vec::new(), &mut marks);
    (marked, marks)
}

fn mark_into(v: &Json, path: &mut Vec<String>, marks: &mut Marks) -> Json {
    match v {
        Json::Object(o) => Json::Object(
            o.iter()
                .map(|(k, x)| {
                    path.push(k.clone());
                    let x = mark_into(x, path, marks);
                    path.pop();
                    (k.clone(), x)
                })
                .collect(),
        ),
        Json::Array(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    path.push(i.to_string());
                    let x = mark_into(x, path, marks);
                    path.pop();
                    x
                })
                .collect(),
        ),
        scalar if truthy(scalar) && !text(scalar).contains([START, MID, END]) => {
            let leaf = marks.paths.len();
            marks.paths.push(path.clone());
            let id = marks.entries.len();
            marks.entries.push(Entry { leaves: vec![leaf], value: scalar.clone() });
            Json::String(marked(id, None, &text(scalar)))
        }
        other => other.clone(),
    }
}

fn marked(id: usize, tag: Option<usize>, text: &str) -> String {
    match tag {
        Some(t) => format!("{START}{id}:{t}{MID}{text}{END}"),
        None => format!("{START}{id}{MID}{text}{END}"),
    }
}

fn truthy(v: &Json) -> bool {
    match v {
        Json::Null => false,
        Json::Bool(b) => *b,
        // As handlebars' `{{#if}}` has it (a subnormal number is false).
        Json::Number(n) => n.as_f64().is_some_and(f64::is_normal),
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}

/// A piece of a marked string.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Plain(&'a str),
    Mark { id: usize, tag: Option<usize>, text: &'a str },
}

/// A string cut into its plain text and its marks (a malformed mark is
/// plain text).
fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find(START) {
        let (before, from) = rest.split_at(start);
        let after = from.get(START.len_utf8()..).unwrap_or("");
        let parsed = after.split_once(MID).and_then(|(head, tail)| {
            let (text, tail) = tail.split_once(END)?;
            let (id, tag) = match head.split_once(':') {
                Some((id, tag)) => (id.parse().ok()?, Some(tag.parse().ok()?)),
                None => (head.parse().ok()?, None),
            };
            Some((Piece::Mark { id, tag, text }, tail))
        });
        if !before.is_empty() {
            out.push(Piece::Plain(before));
        }
        match parsed {
            Some((piece, tail)) => {
                out.push(piece);
                rest = tail;
            }
            None => {
                out.push(Piece::Plain(from));
                rest = "";
            }
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Plain(rest));
    }
    out
}

/// `s` without its marks (the text the build writes).
pub fn strip(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(START) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(plain(&pieces(s)))
}

/// The text of the pieces of a string, without their marks.
fn plain(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Plain(t) | Piece::Mark { text: t, .. } => *t,
        })
        .collect()
}

/// `s` without its marks while a rendering is traced; else `s` as it is
/// (text that merely looks like a mark is left alone).
pub fn unmarked(s: &str) -> std::borrow::Cow<'_, str> {
    if active() { strip(s) } else { std::borrow::Cow::Borrowed(s) }
}

/// A helper's argument as the helper sees it outside tracing; the context
/// values it carries are added to `leaves`.
pub fn unmark(v: &Json, leaves: &mut Vec<usize>) -> Json {
    ACTIVE.with(|a| match a.borrow().as_ref() {
        Some(marks) => unmark_with(v, marks, leaves),
        None => v.clone(),
    })
}

fn unmark_with(v: &Json, marks: &Marks, leaves: &mut Vec<usize>) -> Json {
    match v {
        Json::String(s) if s.contains(START) => {
            let pieces = pieces(s);
            for p in &pieces {
                let Piece::Mark { id, .. } = p else { continue };
                for leaf in marks.entries.get(*id).map(|e| e.leaves.as_slice()).unwrap_or_default() {
                    if !leaves.contains(leaf) {
                        leaves.push(*leaf);
                    }
                }
            }
            let one = match pieces.as_slice() {
                [Piece::Mark { id, .. }] => marks.entries.get(*id),
                _ => None,
            };
            one.map_or_else(|| Json::String(plain(&pieces)), |e| e.value.clone())
        }
        Json::Array(items) => Json::Array(items.iter().map(|x| unmark_with(x, marks, leaves)).collect()),
        Json::Object(o) => Json::Object(o.iter().map(|(k, x)| (k.clone(), unmark_with(x, marks, leaves))).collect()),
        other => other.clone(),
    }
}

/// A helper's value, marked with the context values its arguments carried
/// (a falsy value stays unmarked: it must stay falsy).
pub fn remark(v: Json, leaves: Vec<usize>) -> Json {
    if leaves.is_empty() || !truthy(&v) || matches!(v, Json::Array(_) | Json::Object(_)) {
        return v;
    }
    ACTIVE.with(|a| match a.borrow_mut().as_mut() {
        Some(marks) => {
            let id = marks.entries.len();
            let shown = text(&v);
            marks.entries.push(Entry { leaves, value: v });
            Json::String(marked(id, None, &shown))
        }
        None => v,
    })
}

/// The text an included template rendered, its untagged marks tagged
/// with the template.
pub fn tag(rendered: &str, template: &str) -> String {
    if !rendered.contains(START) {
        return rendered.to_string();
    }
    ACTIVE.with(|a| {
        let mut a = a.borrow_mut();
        let Some(marks) = a.as_mut() else { return rendered.to_string() };
        let t = match marks.templates.iter().position(|n| n == template) {
            Some(t) => t,
            None => {
                marks.templates.push(template.to_string());
                marks.templates.len() - 1
            }
        };
        let mut out = String::with_capacity(rendered.len() + 16);
        for p in pieces(rendered) {
            match p {
                Piece::Plain(s) => out.push_str(s),
                Piece::Mark { id, tag, text } => out.push_str(&marked(id, tag.or(Some(t)), text)),
            }
        }
        out
    })
}

/// Traces the renderings `f` makes on this thread with `marks`; returns
/// what `f` returned and the marks (with what the helpers added). The
/// tracing ends however `f` ends.
pub fn with<T>(marks: Marks, f: impl FnOnce() -> T) -> (T, Marks) {
    struct Off;
    impl Drop for Off {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.borrow_mut().take());
        }
    }
    ACTIVE.with(|a| *a.borrow_mut() = Some(marks));
    let off = Off;
    let out = f();
    let marks = ACTIVE.with(|a| a.borrow_mut().take()).unwrap_or_default();
    drop(off);
    (out, marks)
}

/// A parsed document of a traced rendering with the marks taken out of its
/// keys (keys are never context values a template marks; the marks of a
/// key written from a value are dropped).
pub fn strip_keys(d: Doc) -> Doc {
    match d {
        Doc::Map(entries) => {
            Doc::Map(entries.into_iter().map(|(k, v)| (strip(&k).into_owned(), strip_keys(v))).collect())
        }
        Doc::List(items) => Doc::List(items.into_iter().map(strip_keys).collect()),
        other => other,
    }
}

/// The context values whose marks are in `d` (all of its strings, at any
/// depth), in the order they are found, each once.
pub fn landed(d: &Doc, marks: &Marks) -> Vec<Landed> {
    let mut out = Vec::new();
    collect(d, marks, &mut out);
    out
}

fn collect(d: &Doc, marks: &Marks, out: &mut Vec<Landed>) {
    match d {
        Doc::Str(s) => {
            for p in pieces(s) {
                let Piece::Mark { id, tag, .. } = p else { continue };
                let Some(e) = marks.entries.get(id) else { continue };
                let template = tag.and_then(|t| marks.templates.get(t)).cloned();
                for leaf in &e.leaves {
                    let Some(path) = marks.paths.get(*leaf) else { continue };
                    let l = Landed { path: path.clone(), template: template.clone() };
                    if !out.contains(&l) {
                        out.push(l);
                    }
                }
            }
        }
        Doc::List(items) => items.iter().for_each(|x| collect(x, marks, out)),
        Doc::Map(entries) => entries.iter().for_each(|(_, x)| collect(x, marks, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marks_truthy_scalars_only_and_unmarks_them() {
        let (m, marks) = mark(&json!({"a": 3, "b": "", "c": [true, false, "x"], "d": 0}));
        assert_eq!(marks.paths, [vec!["a".to_string()], vec!["c".into(), "0".into()], vec!["c".into(), "2".into()]]);
        assert_eq!(m["b"], json!(""));
        assert_eq!(m["d"], json!(0));
        assert_eq!(strip(m["a"].as_str().unwrap()), "3");
        let ((), _) = with(marks, || {
            let mut leaves = Vec::new();
            assert_eq!(unmark(&m["a"], &mut leaves), json!(3), "one mark: the value itself");
            assert_eq!(leaves, [0]);
            let mut leaves = Vec::new();
            let joined =
                format!("{}-{}-{}", m["c"][2].as_str().unwrap(), m["a"].as_str().unwrap(), m["a"].as_str().unwrap());
            assert_eq!(unmark(&json!(joined), &mut leaves), json!("x-3-3"));
            assert_eq!(leaves, [2, 0], "each once, in the order given");
            let out = remark(json!("x-3-3"), leaves);
            let mut again = Vec::new();
            assert_eq!(unmark(&out, &mut again), json!("x-3-3"));
            assert_eq!(again, [2, 0], "a helper's value carries its inputs");
            assert_eq!(remark(json!(false), vec![0]), json!(false), "falsy stays falsy");
        });
        assert!(!active(), "tracing ends with `with`");
    }

    #[test]
    fn a_copy_and_a_computed_value_name_their_origins() {
        let (m, mut marks) = mark(&json!({"resource": {"n": "q"}, "labels": {"team": "t"}, "owner": "t"}));
        marks.rebase("resource", &["resources".into(), "2".into()]);
        marks.made_from(&["labels".into(), "team".into()], &[vec!["service".into(), "owner".into()]]);
        let doc = Doc::List(vec![
            Doc::Str(m["resource"]["n"].as_str().unwrap().to_string()),
            Doc::Str(m["labels"]["team"].as_str().unwrap().to_string()),
        ]);
        let paths: Vec<Vec<String>> = landed(&doc, &marks).into_iter().map(|l| l.path).collect();
        assert_eq!(paths, [vec!["resources", "2", "n"], vec!["service", "owner"]]);
    }

    #[test]
    fn a_malformed_mark_is_text() {
        let s = format!("a{START}x{MID}b");
        assert_eq!(strip(&s), s.as_str());
        assert_eq!(pieces("plain"), [Piece::Plain("plain")]);
    }
}
