use std::path::{Path, PathBuf};

use super::*;

/// What [`format_file`] does, telling whether it fell back to the original.
struct Outcome {
    text: String,
    fell_back: bool,
}

fn format_outcome(file: FileId, text: &str) -> Result<Outcome, Vec<Diagnostic>> {
    let ast = parse(file, text)?;
    Ok(match format_checked(file, text, &ast) {
        Some(text) => Outcome { text, fell_back: false },
        None => Outcome { text: text.to_string(), fell_back: true },
    })
}

/// Formats text that parses; fails the test if the formatter fell back to
/// the original or is not idempotent.
fn fmt(src: &str) -> String {
    let out = format_outcome(FileId(0), src).expect("the input parses");
    assert!(!out.fell_back, "the formatter fell back on:\n{src}");
    let again = format_outcome(FileId(0), &out.text).expect("the output parses");
    assert!(!again.fell_back, "the formatter fell back on its own output:\n{}", out.text);
    assert_eq!(again.text, out.text, "not idempotent; input:\n{src}");
    out.text
}

/// Asserts that `src` formats to `want`.
#[track_caller]
fn check(src: &str, want: &str) {
    let got = fmt(src);
    assert_eq!(got, want, "\n--- got:\n{got}\n--- want:\n{want}");
}

fn plat_files() -> Vec<PathBuf> {
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
    let mut out = Vec::new();
    walk(Path::new(env!("CARGO_MANIFEST_DIR")), &mut out);
    out.sort();
    out
}

/// Every .plat file of the repository that parses, with its text.
fn corpus() -> Vec<(PathBuf, String)> {
    let files: Vec<(PathBuf, String)> = plat_files()
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            let (ast, diags) = crate::parse::parse(FileId(0), &text);
            (ast.is_some() && !diags.iter().any(Diagnostic::is_error)).then_some((p, text))
        })
        .collect();
    assert!(files.len() > 50, "only {} .plat files found", files.len());
    files
}

fn ast_of(text: &str) -> ast::File {
    let (ast, diags) = crate::parse::parse(FileId(0), text);
    assert!(!diags.iter().any(Diagnostic::is_error), "{diags:?}\n{text}");
    ast.expect("parses")
}

fn comments_of(text: &str) -> Vec<String> {
    let root = tree::parse_file(text).expect("parses");
    tree::comments(text, &root)
}

/// The output means the same as the input, keeps its comments, and has the
/// shape every formatted file has.
#[track_caller]
fn assert_faithful(src: &str, out: &str) {
    assert!(same::file(&ast_of(src), &ast_of(out)), "meaning changed:\n{src}\n---\n{out}");
    assert_eq!(comments_of(src), comments_of(out), "comments changed:\n{src}\n---\n{out}");
    assert!(out.is_empty() || (out.ends_with('\n') && !out.ends_with("\n\n")), "bad end:\n{out}");
    for line in out.lines() {
        assert!(!line.ends_with(' ') || src.contains("\"\"\""), "trailing space in {line:?}");
    }
}

// --- the repository's own files ----------------------------------------------

#[test]
fn every_file_of_the_repository_is_formatted_idempotently_and_faithfully() {
    for (path, text) in corpus() {
        let out = format_outcome(FileId(0), &text).unwrap_or_else(|_| panic!("{}", path.display()));
        assert!(!out.fell_back, "fell back on {}", path.display());
        assert_faithful(&text, &out.text);
        let again = format_file(FileId(0), &out.text).expect("output parses");
        assert_eq!(again, out.text, "not idempotent on {}", path.display());
    }
}

/// Files in the house style these rules were written from (copies of the
/// repository's examples and standard library as they were): formatting
/// leaves them as they are.
#[test]
fn the_house_style_is_a_fixed_point() {
    for text in [HOUSE_SERVICE, HOUSE_DEFAULTS, HOUSE_WORKSPACE, HOUSE_SCHEMA] {
        assert_eq!(fmt(text), text);
    }
}

const HOUSE_SERVICE: &str = r#"# The payments service: the language reference's example, as a team would write it.
service payments from web-api {
  owner       = "team-payments"
  system      = "checkout"
  description = "Handles payment processing and billing"
  lifecycle   = production
  tier        = gold
  language    = go
  tags       += ["payments", "grpc"]

  version = "2.14.0"
  digest  = "sha256:df384ae97c77ad3001626aab01f2eb2aad176448109165df1d64c57b7091cd1c"

  port   = 8080
  cpu    = 500m
  memory = 512Mi

  env {
    LOG_LEVEL    = "info"
    STRIPE_KEY   = secret("payments/stripe-key")
    DATABASE_URL = payments-db.url
  }

  resource postgres payments-db {
    size    = small
    backups = daily
  }
  resource redis cache { size = small }

  depends_on = [users, cache]

  api payment-api {
    type       = grpc
    definition = file("proto/payment.proto")
  }

  expose { host = "payments.acme.example"  path = "/" }

  environment staging    { replicas = 1 }
  environment production { replicas = 4 }

  # escape hatches: explicit, justified, listed in every build report
  override security.run_as_non_root = false because "vendor image runs as root until PAY-112"
  allow min-replicas-staging because "staging is a single-replica smoke environment"
  patch kubernetes Deployment {
    spec.template.spec.nodeSelector = { disktype = "ssd" }
  }
}
"#;

const HOUSE_DEFAULTS: &str = r#"# Where every service starts. Golden paths, tiers, the service itself, its
# environment blocks and overrides are layered on top, in that order.
defaults {
  lifecycle = production
  tier      = bronze
  workload  = service
  tags      = []

  image    = "${workspace.registry}/${service.name}"
  version  = "latest"
  port     = 8080
  replicas = 2
  cpu      = 250m
  memory   = 256Mi
  limits {
    cpu    = 1000m
    memory = 512Mi
  }

  health {
    liveness      = "/healthz"
    readiness     = "/readyz"
    initial_delay = 10s
    period        = 10s
  }
  autoscale {
    enabled    = false
    max        = 10
    cpu_target = 70%
  }

  # Restricted pod security. Changing one of these takes an explicit,
  # justified `override ... because "..."`.
  locked security.run_as_non_root            = true
  locked security.allow_privilege_escalation = false
  security {
    run_as_user               = 10001
    read_only_root_filesystem = true
  }
}
"#;

const HOUSE_WORKSPACE: &str = r#"# The acme platform: one monorepo, seven services, two environments.
workspace acme {
  registry       = "ghcr.io/acme"
  repo           = "acme/platform"          # for CI and catalog links
  cloud          = aws { region = "eu-west-1" }
  services       = ["services/*"]
  dashboards_url = "https://grafana.acme.example"
  runbooks_url   = "https://runbooks.acme.example"

  environment staging    { cluster = "staging-eu-1" }
  environment production {
    cluster  = "prod-eu-1"
    approval = required
  }
}
"#;

const HOUSE_SCHEMA: &str = r#"schema service {
  owner       = required(string)   # the owning team, a Backstage group
  system      = name               # the Backstage system this belongs to
  description = string
  lifecycle   = enum(experimental, production, deprecated)
  tier        = tier
  language    = language
  workload    = enum(service, worker, cron)
  tags        = list(tag)
  links       = map(url)           # extra links for the catalog entry

  image    = string                # repository, without tag or digest
  version  = string                # image tag
  digest   = digest                # sha256:... — what runs is what was reviewed
  schedule = string                # cron workloads: a cron expression
  command  = list(string)
  args     = list(string)

  port     = port
  replicas = int
  cpu      = cpu
  memory   = memory
  limits {
    cpu    = cpu
    memory = memory
  }

  env        = map(setting)
  depends_on = list(dependency)

  health {
    liveness      = string         # HTTP path
    readiness     = string
    initial_delay = duration
    period        = duration
  }
  autoscale {                       # `replicas` is the floor, `max` the ceiling
    enabled    = bool
    max        = int
    cpu_target = percent
  }
  slo {
    availability = percent
    latency_p99  = duration
  }
  pdb {
    min_available = int
  }
  security {
    run_as_non_root            = bool
    run_as_user                = int
    read_only_root_filesystem  = bool
    allow_privilege_escalation = bool
  }
  expose {
    host = host
    path = string
  }
}
"#;

/// Rebuilds `text` with every gap between tokens rewritten by `f` (given the
/// gap's index and text); the tokens themselves are untouched.
fn rewrite_gaps(text: &str, mut f: impl FnMut(usize, &str) -> String) -> String {
    let root = tree::parse_file(text).expect("parses");
    let mut out = String::new();
    let mut at = 0;
    for (i, leaf) in tree::leaves(&root).iter().enumerate() {
        let (s, e) = (leaf.as_span().start(), tree::token_end(leaf));
        out.push_str(&f(i, &text[at..s]));
        out.push_str(&text[s..e]);
        at = e;
    }
    out.push_str(&f(usize::MAX, &text[at..]));
    out
}

/// A comment in every gap between two tokens: every one is kept (the items
/// with a comment where the layout has no place are copied as written), and
/// the result is stable.
#[test]
fn a_comment_in_every_gap_is_kept() {
    for (path, text) in corpus() {
        let noisy =
            rewrite_gaps(&text, |i, gap| if i == usize::MAX { gap.to_string() } else { format!(" # c{i}\n{gap}") });
        if tree::parse_file(&noisy).is_none() {
            continue;
        }
        let out = fmt(&noisy);
        assert_faithful(&noisy, &out);
        let _ = path;
    }
}

/// Formatted files with their indentation taken away and CRLF line ends
/// format back to themselves.
#[test]
fn indentation_and_line_ends_are_restored() {
    // Indentation inside a `"""` string is its content, not layout: such
    // files are not flattened here.
    for (path, text) in corpus().into_iter().filter(|(_, t)| !t.contains("\"\"\"")) {
        let formatted = fmt(&text);
        let flat: String = formatted.lines().map(|l| format!("{}\r\n", l.trim_start())).collect();
        assert_eq!(fmt(&flat), formatted, "{}", path.display());
    }
}

/// Whitespace between tokens mangled (tabs, extra spaces, extra blank lines,
/// CRLF, a byte-order mark): still the same meaning, and stable.
#[test]
fn mangled_whitespace_formats_back() {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (_, text) in corpus() {
        let mangled = rewrite_gaps(&text, |_, gap| {
            let mut g = String::new();
            for c in gap.chars() {
                match c {
                    ' ' => g.push_str(["", " ", "   ", "\t"][(next() % 4) as usize].max(if g.is_empty() {
                        " "
                    } else {
                        ""
                    })),
                    '\n' => g.push_str(["\n", "\r\n", "\n\n\n", " \t\n"][(next() % 4) as usize]),
                    c => g.push(c),
                }
            }
            if g.is_empty() || g.starts_with(',') { format!(" {g}") } else { g }
        });
        let mangled = format!("\u{FEFF}{mangled}");
        let out = fmt(&mangled);
        assert_faithful(&mangled, &out);
        assert!(!out.contains(['\r', '\u{FEFF}']), "{out}");
    }
}

/// No panic on broken input, whatever it is; and what formats is stable.
#[test]
fn random_edits_never_panic() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pieces =
        ["{", "}", "[", "]", "(", ")", "\"", "\"\"\"", "#", "\n", ",", "=", "+=", " not in ", "\r", "\u{FEFF}", "é"];
    for (_, text) in corpus().into_iter().take(30) {
        for _ in 0..20 {
            let mut t: Vec<char> = text.chars().collect();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() as usize) % (t.len() + 1);
                if next() % 2 == 0 && at < t.len() {
                    t.remove(at);
                } else {
                    let piece = pieces[(next() as usize) % pieces.len()];
                    for (k, c) in piece.chars().enumerate() {
                        t.insert(at + k, c);
                    }
                }
            }
            let t: String = t.into_iter().collect();
            if let Ok(out) = format_outcome(FileId(0), &t) {
                if !out.fell_back {
                    assert_faithful(&t, &out.text);
                }
                assert_eq!(format_file(FileId(0), &out.text).ok().as_deref(), Some(out.text.as_str()), "{t}");
            }
        }
    }
}

// --- errors ------------------------------------------------------------------

#[test]
fn a_file_that_does_not_parse_is_an_error() {
    let diags = format_file(FileId(0), "service x {\n  port: 8080\n}\n").expect_err("does not parse");
    assert!(diags.iter().any(Diagnostic::is_error));
    assert!(format_file(FileId(0), "a = [1, 2\n").is_err());
    assert!(format_file(FileId(0), "a = \"C:\\qfiles\"\n").is_err(), "a bad escape is an error too");
}

// --- layout ------------------------------------------------------------------

#[test]
fn indentation_spacing_and_line_ends() {
    check(
        "\u{FEFF}service   x from   web-api{\r\n\towner=\"team\"   \r\n   port =8080\r\n\r\n\r\n\r\n  tags+=[ \"a\" ,\"b\" , ]\r\n}",
        "service x from web-api {\n  owner = \"team\"\n  port  = 8080\n\n  tags += [\"a\", \"b\"]\n}\n",
    );
    check("\n\n\na = 1\n\n\n", "a = 1\n");
    check("", "");
    check("\n  \n", "");
    check("# only a comment   ", "# only a comment\n");
}

#[test]
fn equals_signs_align_in_runs() {
    check(
        "service p {\nowner = \"t\"\ndescription = \"d\"\ntags += [\"x\"]\nlocked security.run_as_non_root = true\n\nport = 1\nreplicas = 2 # two\n# a comment line\ncpu = 1\nmemory = 2\nlimits { cpu = 1 }\nenv = {\nA = 1\n}\nx = 1\n}\n",
        "service p {
  owner                           = \"t\"
  description                     = \"d\"
  tags                           += [\"x\"]
  locked security.run_as_non_root = true

  port     = 1
  replicas = 2 # two
  # a comment line
  cpu    = 1
  memory = 2
  limits { cpu = 1 }
  env = {
    A = 1
  }
  x = 1
}
",
    );
}

#[test]
fn the_whole_syntax() {
    check(
        r#"service payments from web-api {
override security.run_as_non_root=false because "vendor image"
allow   min-replicas-staging   because "smoke"
patch kubernetes Deployment { spec.template.spec.containers[name=app].image = "x" }
patch kubernetes  Deployment   because "ssd only" {spec.x = 1}
patch kubernetes Service {
metadata.labels."app.kubernetes.io/name" = "y"
spec.ports[0].port = 80
}
cloud = aws{region="eu-west-1"}
env { A = "1", B = secret("a/b") }
resource "quoted label" x {}
}
policy p {
when = environment==production and not(workload in [cron,worker])
require = not not a and b not
  in [1] or c>=1 and d!=null
}
"#,
        r#"service payments from web-api {
  override security.run_as_non_root = false because "vendor image"
  allow min-replicas-staging because "smoke"
  patch kubernetes Deployment { spec.template.spec.containers[name=app].image = "x" }
  patch kubernetes Deployment because "ssd only" { spec.x = 1 }
  patch kubernetes Service {
    metadata.labels."app.kubernetes.io/name" = "y"
    spec.ports[0].port                       = 80
  }
  cloud = aws { region = "eu-west-1" }
  env { A = "1", B = secret("a/b") }
  resource "quoted label" x {}
}
policy p {
  when    = environment == production and not (workload in [cron, worker])
  require = not not a and b not in [1] or c >= 1 and d != null
}
"#,
    );
}

#[test]
fn one_line_bodies_stay_while_they_fit() {
    check(
        "x {\n  expose { host = \"payments.acme.example\"   path = \"/\" }\n  resource redis cache {size=small}\n  a = { k = 1 }\n  e {   }\n  f {\n  }\n}\n",
        "x {\n  expose { host = \"payments.acme.example\"  path = \"/\" }\n  resource redis cache { size = small }\n  a = { k = 1 }\n  e {}\n  f {}\n}\n",
    );
    // 101 columns: broken up, one item per line, and the items aligned.
    let long = format!("x {{\n  block {{ a = \"{}\"  bb = 2 }}\n}}\n", "v".repeat(75));
    check(&long, &format!("x {{\n  block {{\n    a  = \"{}\"\n    bb = 2\n  }}\n}}\n", "v".repeat(75)));
    let fits = format!("x {{\n  block {{ a = \"{}\"  bb = 2 }}\n}}\n", "v".repeat(74));
    check(&fits, &fits);
    check(
        &format!("cloud = aws {{ region = \"{}\" }}\n", "r".repeat(80)),
        &format!("cloud = aws {{\n  region = \"{}\"\n}}\n", "r".repeat(80)),
    );
}

#[test]
fn lists_and_calls_over_several_lines_get_one_element_per_line() {
    check(
        "a = [1,\n  2, 3]\nb = f(x,\n\n  y)\nc = [\n]\nd = [[1, 2], [\n3]]\n",
        "a = [\n  1,\n  2,\n  3,\n]\nb = f(\n  x,\n\n  y,\n)\nc = []\nd = [\n  [1, 2],\n  [\n    3,\n  ],\n]\n",
    );
}

#[test]
fn conditions_keep_their_line_breaks_before_and_or() {
    check(
        "policy p {\n  require = a != null and\n      b != null or c\n  when = x\n}\n",
        "policy p {\n  require = a != null\n    and b != null or c\n  when = x\n}\n",
    );
}

#[test]
fn hand_alignment_of_one_line_blocks_is_kept_not_created() {
    // Kept: the `{` and the columns of a table (two spaces after the widest).
    check(
        "sizes {\n  small  { class = \"db.small\"  gb = 20 }\n  medium { class = \"db.medium\" gb = 100 }\n  large  { class = \"db.l\"      gb = 500 }\n}\n",
        "sizes {\n  small  { class = \"db.small\"   gb = 20 }\n  medium { class = \"db.medium\"  gb = 100 }\n  large  { class = \"db.l\"       gb = 500 }\n}\n",
    );
    // Kept across a multi-line block's header.
    check(
        "w {\n  environment staging    { cluster = \"s\" }\n  environment production {\n    cluster = \"p\"\n  }\n}\n",
        "w {\n  environment staging    { cluster = \"s\" }\n  environment production {\n    cluster = \"p\"\n  }\n}\n",
    );
    // Not created.
    check(
        "w {\n  environment staging {}\n  environment production {}\n  environment   dev   { a = 1 }\n}\n",
        "w {\n  environment staging {}\n  environment production {}\n  environment dev { a = 1 }\n}\n",
    );
}

// --- comments ------------------------------------------------------------------

#[test]
fn comments_keep_their_place() {
    check(
        "# file header\n\n\n\nservice x {   # after the brace\n\n  # leading\n  a = 1 # trailing\n  bb = 2     # aligned\n  ccc = 3    # aligned\n\n  list = [ # open\n    1, # one\n\n    # before two\n    2\n    # dangling\n  ]\n  # last\n\n}\n# end\n",
        "# file header

service x {   # after the brace
  # leading
  a   = 1 # trailing
  bb  = 2    # aligned
  ccc = 3    # aligned

  list = [ # open
    1, # one

    # before two
    2,
    # dangling
  ]
  # last
}
# end
",
    );
}

#[test]
fn a_comment_where_the_layout_has_no_place_keeps_its_item_as_written() {
    // Between a block's kind and its label: the block is copied, re-indented.
    check(
        "x {\n    block # why\n      label { a=1 }\n    b=2\n}\n",
        "x {\n  block # why\n    label { a=1 }\n  b = 2\n}\n",
    );
    // Between `=` and the value.
    check("a = # why\n  1\n", "a = # why\n  1\n");
}

// --- strings -------------------------------------------------------------------

#[test]
fn strings_are_copied_byte_for_byte() {
    let src = "x {\n        a = \"\\u{e9} \\\"q\\\" ${service.name} $${x} # no comment\"\n  b = \"\"\"\n      keep   \n        this # too\n\n    \"\"\"  # after\n    c = \"\"\"one line\"\"\"\n}\n";
    check(
        src,
        "x {\n  a = \"\\u{e9} \\\"q\\\" ${service.name} $${x} # no comment\"\n  b = \"\"\"\n      keep   \n        this # too\n\n    \"\"\"  # after\n  c = \"\"\"one line\"\"\"\n}\n",
    );
    // CRLF inside a multi-line string becomes LF (the string's value is the same).
    check("a = \"\"\"\r\n  x\r\n  \"\"\"\r\n", "a = \"\"\"\n  x\n  \"\"\"\n");
    // A `"""` string as the last thing on a line keeps the spaces after it.
    check("a = \"\"\"  \n  x\n\"\"\"\n", "a = \"\"\"  \n  x\n\"\"\"\n");
}

#[test]
fn a_large_file_is_quick() {
    let service = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/monorepo/services/payments/service.plat"
    ))
    .expect("example");
    let big = service.repeat(200);
    let t = std::time::Instant::now();
    let out = format_file(FileId(0), &big).expect("parses");
    assert_eq!(out, big);
    assert!(t.elapsed() < std::time::Duration::from_secs(20), "{:?}", t.elapsed());
}

#[test]
fn deep_nesting_is_fine() {
    let depth = crate::parse::MAX_DEPTH;
    let src = format!("a = {}1{}\n", "[".repeat(depth), "]".repeat(depth));
    check(&src, &src);
    let src = format!("{}x = 1{}\n", "b {\n".repeat(depth), "\n}".repeat(depth));
    let out = fmt(&src);
    assert_faithful(&src, &out);
    assert!(out.contains(&format!("{}x = 1", " ".repeat(2 * depth))));
}

#[test]
fn long_chains_are_fine() {
    // Up to the parser's limit of operators per condition (see parse.rs).
    let ands = vec!["a != null"; 120].join(" and ");
    let src = format!("policy p {{\n  require = {ands}\n}}\n");
    check(&src, &src);
    let too_long = format!("policy p {{\n  require = {}\n}}\n", vec!["a"; 5000].join(" and "));
    assert!(format_file(FileId(0), &too_long).is_err(), "a condition past the limit does not parse");
    let src = format!("policy p {{\n  require = {}x\n}}\n", "not ".repeat(200));
    check(&src, &src);
}
