use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::diag::Diagnostic;
use crate::sources::Sources;
use crate::span::FileId;

fn tree(text: &str) -> SyntaxTree {
    parse(text.into()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Every `.plat` file of the repository (examples, the standard library,
/// error examples and regressions), with its text.
fn plat_files() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if p.is_dir() && !name.starts_with('.') && name != "target" {
                walk(&p, out);
            } else if name.ends_with(".plat") {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    walk(Path::new(env!("CARGO_MANIFEST_DIR")), &mut paths);
    paths.sort();
    paths.into_iter().filter_map(|p| Some((p.clone(), std::fs::read_to_string(&p).ok()?))).collect()
}

/// The tokens of a tree cover its text byte for byte, in order, with no
/// stray character between two leaves; the leaves among them are the
/// tree's leaves.
#[track_caller]
fn assert_lossless(t: &SyntaxTree, what: &str) {
    let tokens = t.tokens();
    let mut at = 0;
    let mut joined = String::new();
    for tok in &tokens {
        assert_eq!(tok.start, at, "gap or overlap before {tok:?} in {what}");
        assert!(tok.end > tok.start, "empty token {tok:?} in {what}");
        assert_eq!(t.text().get(tok.start..tok.end), Some(tok.text), "{what}");
        assert_ne!(tok.kind, TokenKind::Other, "a character no rule accounts for: {tok:?} in {what}");
        joined.push_str(tok.text);
        at = tok.end;
    }
    assert_eq!(joined, t.text(), "the tokens do not reproduce {what}");
    let leaves: Vec<(usize, usize)> = t.leaves().iter().map(|l| (l.as_span().start(), token_end(l))).collect();
    let leaf_tokens: Vec<(usize, usize)> =
        tokens.iter().filter(|k| matches!(k.kind, TokenKind::Leaf(_))).map(|k| (k.start, k.end)).collect();
    assert_eq!(leaves, leaf_tokens, "{what}");
}

/// The property the formatter and the editor rely on: for every file of
/// the repository that parses, the one tree's tokens reproduce the file byte
/// for byte (comments, blank lines, CRs and all).
#[test]
fn every_file_of_the_repository_is_reproduced_by_its_tree() {
    let mut parsed = 0;
    for (path, text) in plat_files() {
        let Ok(t) = parse(text.as_str().into()) else { continue };
        assert_eq!(t.text(), text);
        assert_lossless(&t, &path.display().to_string());
        parsed += 1;
    }
    assert!(parsed > 50, "only {parsed} files parsed");
}

#[test]
fn trivia_of_every_kind_is_kept() {
    let texts = [
        "",
        "# only a comment",
        "\u{FEFF}a = 1\r\n\r\n\r\n# c \"not a string\"\r\nb = [1 , 2 ,]  # t\n",
        "a = \"# not a comment\" # one\nb = \"\"\"\n  x # y\n  \"\"\"  # two\n",
        "p { require = not not (x == \"a\\\"b\") and y not   in [1] or f(a, b,)  ,  # c\n }\n",
        "x.\"a.b\"[name=app][0] += { k = v, }\noverride a.b = 1 because \"r\"\nallow p because \"r\"\n",
        "patch web Deployment because \"why\" { spec.replicas = 1 }\nlocked a = t { x = 1 }\nb \"l\" from c {}\n",
        "\t a\t=\t-1.5Gi\t# x\t\n\n\n",
    ];
    for text in texts {
        let t = tree(text);
        assert_lossless(&t, text);
    }
    // Comments and blank lines are tokens of their own.
    let t = tree("a = 1 # one\n\n# two\nb = 2\n");
    let kinds: Vec<TokenKind> = t.tokens().iter().map(|k| k.kind).collect();
    assert_eq!(kinds.iter().filter(|k| **k == TokenKind::Comment).count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == TokenKind::Newline).count(), 4);
}

/// The node a cursor is on, and what encloses it: the editor's question.
#[test]
fn covering_finds_the_nodes_under_a_position() {
    let text = "service a {\n  env { DB = db.url }\n  port = 8080 # c\n}\n";
    let t = tree(text);
    let rules = |offset: usize| t.covering(offset).iter().map(Node::as_rule).collect::<Vec<_>>();
    let at = |s: &str| text.find(s).expect("in the text");
    let on_url = rules(at("db.url") + 4);
    assert_eq!(on_url.first(), Some(&Rule::file));
    assert_eq!(on_url.last(), Some(&Rule::reference));
    assert_eq!(on_url.iter().filter(|r| **r == Rule::block).count(), 2, "{on_url:?}");
    assert_eq!(t.covering(at("db.url")).last().map(Node::as_str), Some("db.url"));
    // At the end of a word: on that word.
    assert_eq!(t.covering(at("8080") + 4).last().map(Node::as_str), Some("8080"));
    // In a comment after the body's last item: no token, the block around it.
    assert_eq!(rules(at("# c") + 1).last(), Some(&Rule::block));
    assert_eq!(rules(text.len()), [Rule::file]);
    // Between the braces of an empty block: its body.
    let t = tree("a {}\n");
    assert_eq!(
        t.covering(3).iter().map(Node::as_rule).collect::<Vec<_>>(),
        [Rule::file, Rule::body, Rule::block, Rule::body]
    );
}

#[test]
fn children_and_their_ends() {
    let t = tree("a = [1, 2]  # c\nb { }\n");
    let body = t.root().into_inner().next().expect("a body");
    assert_eq!(body.as_rule(), Rule::body);
    let items: Vec<Rule> = body.clone().into_inner().map(|n| n.as_rule()).collect();
    assert_eq!(items, [Rule::attribute, Rule::block]);
    assert_eq!(body.clone().into_inner().last().map(|n| n.as_rule()), Some(Rule::block));
    let attr = body.into_inner().next().expect("an attribute");
    assert_eq!(&t.text()[attr.as_span().start()..tight_end(&attr)], "a = [1, 2]");
    let rules: Vec<Rule> = attr.into_inner().map(|n| n.as_rule()).collect();
    assert_eq!(rules, [Rule::path, Rule::assign_op, Rule::expr]);
    // The last child of the root is the end of input.
    assert_eq!(t.root().into_inner().last().map(|n| n.as_rule()), Some(Rule::EOI));
}

/// The compiler's parse keeps its tree in the memo store, and the formatter
/// formats that very tree: what it gives is what formatting the text from
/// scratch gives, for every file of a workspace (services and the standard
/// library).
#[test]
fn the_formatter_reads_the_tree_the_compiler_parsed() {
    let mut s = Sources::new();
    s.insert("platform.plat", "workspace w {\n  registry   = \"r.example\" # where\n\n  environment staging {}\n}\n");
    s.insert(
        "services/a/service.plat",
        "service a from web-api {\n  owner = \"t\"   # who\n  version=\"1\"\n  digest = \"sha256:2a97516c354b68848cdbd8f54a226a0a55b21ed138e207ad6c5cbb9c00aa5aea\"\n  language = go\n}\n",
    );
    let c = crate::compile(&s, &crate::Options::default());
    let mut checked = 0;
    for path in ["platform.plat", "services/a/service.plat"].into_iter().map(str::to_string).chain(
        crate::sources::embedded_stdlib().keys().filter(|p| p.ends_with(".plat")).map(|p| format!("<stdlib>/{p}")),
    ) {
        let Some(p) = c.memo.parsed(&path) else { continue };
        let tree = p.syntax.as_ref().unwrap_or_else(|| panic!("{path} has no tree"));
        assert_eq!(tree.text(), &*p.text, "{path}");
        assert_lossless(tree, &path);
        let fresh = crate::fmt::format_file(FileId(0), &p.text).expect("parses");
        assert_eq!(crate::fmt::format_parsed(p).as_deref(), Some(fresh.as_str()), "{path}");
        checked += 1;
    }
    assert!(checked > 5, "only {checked} files in the memo");
    let formatted = c.memo.parsed("services/a/service.plat").and_then(crate::fmt::format_parsed).expect("formats");
    assert!(formatted.contains("  owner    = \"t\"   # who\n  version  = \"1\"\n"), "{formatted}");
    // A later compilation over the same text reuses the tree, not a copy.
    let again = crate::compile_reusing(&s, &crate::Options::default(), &c);
    let (one, two) = (c.memo.parsed("services/a/service.plat"), again.memo.parsed("services/a/service.plat"));
    let tree = |p: Option<&crate::cache::Parsed>| p.and_then(|p| p.syntax.clone());
    assert!(matches!((tree(one), tree(two)), (Some(x), Some(y)) if Arc::ptr_eq(&x, &y)));
}

/// A file that does not parse has no tree, and the compiler says why.
#[test]
fn a_syntax_error_keeps_no_tree() {
    let p = crate::parse::parse_shared(FileId(0), &Arc::from("a = = 1\n"));
    assert!(p.syntax.is_none() && p.file.is_none());
    assert!(p.diags.iter().any(Diagnostic::is_error));
    assert!(crate::fmt::format_parsed(&p).is_none());
}
