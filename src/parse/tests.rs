use super::*;

fn ok(src: &str) -> File {
    let (f, diags) = parse(FileId(0), src);
    assert!(diags.is_empty(), "{diags:#?}");
    f.expect("parsed")
}

fn err(src: &str) -> Diagnostic {
    let (_, diags) = parse(FileId(0), src);
    diags.into_iter().next().expect("an error")
}

#[test]
fn parses_the_service_of_the_language_reference() {
    let f = ok(include_str!("../../examples/monorepo/services/payments/service.plat"));
    let service = f.body.blocks().next().expect("a block");
    assert_eq!(service.kind.name, "service");
    assert_eq!(service.labels[0].name, "payments");
    assert_eq!(service.from.as_ref().map(|f| f.name.as_str()), Some("web-api"));
}

#[test]
fn blocks_labels_from_and_keywords() {
    let f = ok(r#"
        service a from web-api {
          tags += ["x", "y"]
          locked security.run_as_non_root = true
          override security.run_as_non_root = false because "vendor image"
          allow min-replicas-staging because "smoke only"
          patch kubernetes Deployment { spec.template.spec.containers[name=app].image = "x" }
          environment production { replicas = 4 }
        }"#);
    let b = f.body.blocks().next().unwrap();
    let kinds: Vec<&str> = b
        .body
        .items
        .iter()
        .map(|i| match i {
            Item::Attribute(_) => "attr",
            Item::Locked(_) => "locked",
            Item::Override(_) => "override",
            Item::Allow(_) => "allow",
            Item::Patch(_) => "patch",
            Item::Block(_) => "block",
        })
        .collect();
    assert_eq!(kinds, ["attr", "locked", "override", "allow", "patch", "block"]);
    let Item::Patch(p) = &b.body.items[4] else { panic!() };
    assert_eq!(p.sets[0].path.display(), "spec.template.spec.containers[name=app].image");
    assert!(p.reason.is_none());
    let f = ok("patch kubernetes Deployment because \"ssd\" { spec.x = 1 }");
    let Item::Patch(p) = &f.body.items[0] else { panic!() };
    assert_eq!(p.reason.as_ref().and_then(|r| r.as_plain()).as_deref(), Some("ssd"));
    assert_eq!(p.sets.len(), 1);
}

#[test]
fn quantities_keep_number_and_unit() {
    let f = ok("cpu = 500m\nslo = 99.95%\nn = -2.5");
    let v: Vec<&ExprKind> = f.body.attributes().map(|a| &a.value.kind).collect();
    assert!(matches!(v[0], ExprKind::Quantity { unit, number, .. } if unit == "m" && number == "500"));
    assert!(matches!(v[1], ExprKind::Quantity { unit, value, .. } if unit == "%" && (*value - 99.95).abs() < 1e-9));
    assert!(matches!(v[2], ExprKind::Number { value, .. } if *value == -2.5));
}

#[test]
fn strings_decode_escapes_and_interpolation() {
    let f = ok(r#"s = "a\"b\n${service.name}-$${x}\u{e9}""#);
    let ExprKind::Str(s) = &f.body.attributes().next().unwrap().value.kind else { panic!() };
    assert_eq!(
        s.parts,
        vec![
            StrPart::Lit("a\"b\n".into()),
            StrPart::Interp(vec!["service".into(), "name".into()], Span::new(FileId(0), 13, 25)),
            StrPart::Lit("-${x}é".into()),
        ]
    );
}

#[test]
fn multi_line_strings_are_dedented() {
    let f = ok("s = \"\"\"\n    line one\n      two\n    \"\"\"\n");
    let ExprKind::Str(s) = &f.body.attributes().next().unwrap().value.kind else { panic!() };
    assert_eq!(s.as_plain().unwrap(), "line one\n  two");
}

#[test]
fn policy_expressions_have_precedence() {
    let f = ok("when = environment == production and not (replicas < 2 or tier in [gold, silver])");
    let ExprKind::Binary { op, rhs, .. } = &f.body.attributes().next().unwrap().value.kind else { panic!() };
    assert_eq!(*op, BinOp::And);
    assert!(matches!(rhs.kind, ExprKind::Not(_)));
}

#[test]
fn tagged_maps_and_calls() {
    let f = ok(r#"cloud = aws { region = "eu-west-1" }
    key = secret("payments/stripe-key")"#);
    let v: Vec<&ExprKind> = f.body.attributes().map(|a| &a.value.kind).collect();
    assert!(matches!(v[0], ExprKind::Tagged { tag, .. } if tag.name == "aws"));
    assert!(matches!(v[1], ExprKind::Call { name, args } if name.name == "secret" && args.len() == 1));
}

#[test]
fn syntax_errors_speak_plain_words() {
    let d = err("service a {\n  port: 8080\n}");
    assert_eq!(d.code, "platc::parse::syntax");
    assert!(!d.message.contains("Rule"), "{}", d.message);
    assert!(d.message.contains("`=`"), "{}", d.message);
    assert_eq!(d.help.as_deref(), Some("attributes are set with `=`, as in `port = 8080`"));
}

#[test]
fn unclosed_brace_points_at_the_opener() {
    let d = err("service a {\n  port = 1\n");
    assert_eq!(d.code, "platc::parse::unbalanced");
    assert_eq!(d.primary().unwrap().start, 10);
}

#[test]
fn unterminated_string_is_named() {
    let d = err("a = \"abc\nb = 1\n");
    assert_eq!(d.code, "platc::parse::unterminated_string");
}

#[test]
fn deep_nesting_is_refused_not_recursed() {
    let src = format!("a = {}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(err(&src).code, "platc::parse::too_deep");
}

#[test]
fn unknown_escape_is_reported_with_span() {
    let (_, diags) = parse(FileId(0), r#"a = "x\qy""#);
    assert_eq!(diags[0].code, "platc::parse::bad_escape");
    assert_eq!(diags[0].primary().unwrap().range(), 6..8);
}

#[test]
fn spans_end_at_the_last_token_not_at_trailing_comments() {
    let f = ok("a = 1   # c\n\nb { x = [1, 2]  # d\n}\n");
    let a = f.body.attributes().next().unwrap();
    assert_eq!(a.span.range(), 0..5);
    assert_eq!(a.value.span.range(), 4..5);
    let b = f.body.blocks().next().unwrap();
    let x = b.body.attributes().next().unwrap();
    assert_eq!(&"a = 1   # c\n\nb { x = [1, 2]  # d\n}\n"[x.span.range()], "x = [1, 2]");
}

#[test]
fn simple_values_and_operators_parse_alike() {
    // Literals and names take the grammar's short path unless an operator,
    // a call or a map follows; the result must be what the long path gives.
    let f = ok(r#"
        a = "x"
        b = "x" == "y"
        c = tier.name != gold
        d = not ready
        e = f(1)
        g = aws { region = "eu" }
        h = 3 in [1, 3]
        i = x not in [y]
        j = true or false
        k = null
        or = 1
    "#);
    let kinds: Vec<String> = f
        .body
        .attributes()
        .map(|a| match &a.value.kind {
            ExprKind::Str(_) => "str".to_string(),
            ExprKind::Binary { op, .. } => format!("{op:?}"),
            ExprKind::Not(_) => "not".to_string(),
            ExprKind::Call { name, .. } => format!("call {}", name.name),
            ExprKind::Tagged { tag, .. } => format!("tagged {}", tag.name),
            ExprKind::Null => "null".to_string(),
            ExprKind::Number { .. } => "number".to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["str", "Eq", "Ne", "not", "call f", "tagged aws", "In", "NotIn", "Or", "null", "number"]);
}

/// Issue 13, item 16: a chain of `not`s followed by a long comment took time
/// in (nots) x (comment): every enclosing pair's span scanned the comment
/// again. The work of finding span ends (bytes looked at, plus one step per
/// halving of a look-up) must grow in proportion to the input.
#[test]
fn redteam_16_not_chain_before_a_comment_is_linear() {
    let regression = include_str!("../../tests/regressions/redteam-16-not-chain-comment.plat");
    let work = |text: &str| {
        let (_, _, work) = parse_counting(FileId(0), text);
        work
    };
    assert!(work(regression) <= 4 * regression.len(), "{} for {} bytes", work(regression), regression.len());
    let input = |n: usize, l: usize| format!("x = {}y #{}\n", "not ".repeat(n), "a ".repeat(l));
    let (small, large) = (input(500, 5_000), input(2_000, 20_000));
    let (w1, w2) = (work(&small), work(&large));
    // Four times the input: at most about four times the work (it was sixteen).
    assert!(w2 * small.len() <= w1 * large.len() * 5 / 4, "{w1} for {} bytes, {w2} for {}", small.len(), large.len());
}

/// Span ends are the old definition's: the end of the pair's last token,
/// before the whitespace and comments after it.
#[test]
fn span_ends_agree_with_walking_down_to_the_last_token() {
    fn reference(p: &Node<'_>) -> usize {
        let span = p.as_span();
        let Some(last) = p.clone().into_inner().last() else { return span.end() };
        let base = span.start();
        let mut end = reference(&last);
        let text = span.as_str().as_bytes();
        let mut i = end.saturating_sub(base);
        while let Some(&b) = text.get(i) {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => i += 1,
                b'#' => {
                    while text.get(i).is_some_and(|c| *c != b'\n') {
                        i += 1;
                    }
                }
                _ => {
                    i += 1;
                    end = base + i;
                }
            }
        }
        end
    }
    fn walk(p: Node<'_>, trivia: &[(usize, usize)], n: &mut usize) {
        let s = p.as_span();
        // (The whole file ends at its end-of-input marker, and `=` with its
        // look-ahead past the blanks after it, where the walk stopped at
        // the pair; no span is taken of either.)
        if !matches!(p.as_rule(), Rule::file | Rule::EOI | Rule::assign_op | Rule::eq) {
            assert_eq!(tight_end(trivia, s.start(), s.end()), reference(&p), "{:?} {:?}", p.as_rule(), s.as_str());
            *n += 1;
        }
        for c in p.into_inner() {
            walk(c, trivia, n);
        }
    }
    let mut pairs = 0;
    let texts = [
        include_str!("../../examples/monorepo/services/payments/service.plat"),
        include_str!("../../examples/hostile-strings/service.plat"),
        "a = 1   # c\n\nb { x = [1, 2]  # d\n}\n",
        "a = \"# not a comment\" # one\nb = \"\"\"\n  x # y\n  \"\"\"  # two\n",
        "p { require = not not (x == \"a\\\"b\")  ,  # c\n }\n",
    ];
    for text in texts {
        let file = syntax::parse(text.into()).expect("parses");
        let trivia = trivia_runs(text);
        walk(file.root(), &trivia, &mut pairs);
    }
    assert!(pairs > 400, "{pairs}");
}
