//! Reading rendered YAML back into [`Doc`]s.
//!
//! Templates produce a small, regular subset of YAML: block maps and lists,
//! quoted strings, simple plain words, and inline JSON from `{{json x}}`.
//! [`fast`] reads exactly that subset (keys keep their order) and gives up,
//! returning `None`, on anything else: anchors, tags, block scalars, plain
//! scalars YAML could read as something other than a string, tabs, and so
//! on. Then serde_yaml reads the text, the one place it is used (serde_yaml
//! is archived upstream; a maintained fork replaces it here and nowhere
//! else). In debug builds every fast read is checked against serde_yaml.
//! Writing YAML is `doc::to_yaml`'s job.

use serde::Deserialize;

use super::doc::Doc;

/// Parses a YAML stream; empty documents are dropped.
pub fn parse(text: &str) -> Result<Vec<Doc>, String> {
    if let Some(docs) = fast::parse(text) {
        debug_assert_eq!(
            Ok::<&Vec<Doc>, &String>(&docs),
            full(text).as_ref(),
            "the fast YAML reader disagrees with serde_yaml on:\n{text}"
        );
        return Ok(docs);
    }
    full(text)
}

/// serde_yaml: the whole of YAML.
fn full(text: &str) -> Result<Vec<Doc>, String> {
    let mut docs = Vec::new();
    for de in serde_yaml::Deserializer::from_str(text) {
        let value = serde_yaml::Value::deserialize(de).map_err(|e| e.to_string())?;
        if value != serde_yaml::Value::Null {
            docs.push(convert(value));
        }
    }
    Ok(docs)
}

/// `None` if two entries of a map have the same key (serde_yaml reports
/// them). One sort of the keys, not a look-up through the entries before
/// each new key: a service with a thousand dependencies has a thousand keys
/// in its ConfigMap, and that look-up made dense graphs quadratic per map
/// (issue 13, item 23).
fn distinct_keys(entries: &[(String, Doc)]) -> Option<()> {
    let mut keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable_by(|a, b| {
        count_comparison();
        a.cmp(b)
    });
    keys.windows(2).all(|w| w.first() != w.last()).then_some(())
}

#[cfg(test)]
std::thread_local! {
    /// Key comparisons made by [`distinct_keys`] on this thread (for the test
    /// that they grow as n log n).
    static COMPARISONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn count_comparison() {
    #[cfg(test)]
    COMPARISONS.with(|c| c.set(c.get() + 1));
}

fn convert(v: serde_yaml::Value) -> Doc {
    match v {
        serde_yaml::Value::Null => Doc::Null,
        serde_yaml::Value::Bool(b) => Doc::Bool(b),
        serde_yaml::Value::Number(n) => match n.as_i64() {
            Some(i) => Doc::Int(i),
            None => Doc::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_yaml::Value::String(s) => Doc::Str(s),
        serde_yaml::Value::Sequence(items) => Doc::List(items.into_iter().map(convert).collect()),
        serde_yaml::Value::Mapping(m) => Doc::Map(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        serde_yaml::Value::String(s) => s,
                        other => serde_yaml::to_string(&other).unwrap_or_default().trim_end().to_string(),
                    };
                    (key, convert(v))
                })
                .collect(),
        ),
        serde_yaml::Value::Tagged(t) => convert(t.value),
    }
}

/// The subset reader. Every function returns `None` to mean "not in the
/// subset: let serde_yaml decide", never "invalid".
mod fast {
    use super::{Doc, distinct_keys};

    struct Line<'a> {
        indent: usize,
        text: &'a str,
    }

    pub fn parse(text: &str) -> Option<Vec<Doc>> {
        let mut docs = Vec::new();
        let mut lines: Vec<Line> = Vec::new();
        for raw in text.split('\n') {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if raw == "---" {
                flush(&mut lines, &mut docs)?;
                continue;
            }
            let body = raw.trim_start_matches(' ');
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            if body.starts_with('\t') || raw.starts_with("...") || raw.starts_with('%') || raw.ends_with(' ') {
                return None;
            }
            lines.push(Line { indent: raw.len() - body.len(), text: body });
        }
        flush(&mut lines, &mut docs)?;
        Some(docs)
    }

    fn flush(lines: &mut Vec<Line>, docs: &mut Vec<Doc>) -> Option<()> {
        if lines.is_empty() {
            return Some(());
        }
        let first = lines.first()?.indent;
        let mut pos = 0;
        let doc = node(lines, &mut pos, first)?;
        if pos != lines.len() {
            return None;
        }
        if doc != Doc::Null {
            docs.push(doc);
        }
        lines.clear();
        Some(())
    }

    /// A block node whose lines start at `indent`.
    fn node(lines: &[Line], pos: &mut usize, indent: usize) -> Option<Doc> {
        let line = lines.get(*pos)?;
        if line.indent != indent {
            return None;
        }
        if is_item(line.text) { list(lines, pos, indent) } else { map(lines, pos, indent) }
    }

    fn is_item(t: &str) -> bool {
        t == "-" || t.starts_with("- ")
    }

    fn list(lines: &[Line], pos: &mut usize, indent: usize) -> Option<Doc> {
        let mut items = Vec::new();
        while let Some(line) = lines.get(*pos) {
            if line.indent < indent {
                break;
            }
            if line.indent > indent || !is_item(line.text) {
                return None;
            }
            let rest = line.text.get(1..)?.trim_start_matches(' ');
            let inner = indent + (line.text.len() - rest.len());
            *pos += 1;
            if rest.is_empty() {
                // `-` alone: the item is the block below.
                match lines.get(*pos) {
                    Some(next) if next.indent > indent => items.push(node(lines, pos, next.indent)?),
                    _ => items.push(Doc::Null),
                }
            } else if is_item(rest) || key_value(rest).is_some() {
                // `- key: value` continues as a map (or list) at the column of `key`.
                items.push(inline_block(rest, inner, lines, pos)?);
            } else {
                items.push(scalar(rest)?);
            }
        }
        Some(Doc::List(items))
    }

    /// A block whose first line is `first` (already consumed) at `indent`,
    /// continued by the following lines at that indent.
    fn inline_block(first: &str, indent: usize, lines: &[Line], pos: &mut usize) -> Option<Doc> {
        if is_item(first) {
            return None; // `- - x`: rare, let serde_yaml read it
        }
        let mut entries = Vec::new();
        entry(first, indent, lines, pos, &mut entries)?;
        while let Some(line) = lines.get(*pos) {
            if line.indent != indent || is_item(line.text) {
                if line.indent > indent {
                    return None;
                }
                break;
            }
            *pos += 1;
            entry(line.text, indent, lines, pos, &mut entries)?;
        }
        distinct_keys(&entries)?; // duplicate keys: serde_yaml reports them
        Some(Doc::Map(entries))
    }

    fn map(lines: &[Line], pos: &mut usize, indent: usize) -> Option<Doc> {
        let mut entries = Vec::new();
        while let Some(line) = lines.get(*pos) {
            if line.indent < indent {
                break;
            }
            if line.indent > indent || is_item(line.text) {
                return None;
            }
            *pos += 1;
            entry(line.text, indent, lines, pos, &mut entries)?;
        }
        distinct_keys(&entries)?;
        Some(Doc::Map(entries))
    }

    /// `key: value` or `key:` with its block below.
    fn entry(
        text: &str,
        indent: usize,
        lines: &[Line],
        pos: &mut usize,
        entries: &mut Vec<(String, Doc)>,
    ) -> Option<()> {
        let (key, rest) = key_value(text)?;
        let value = if rest.is_empty() {
            match lines.get(*pos) {
                Some(next) if next.indent > indent => node(lines, pos, next.indent)?,
                // `key:` followed by `- item` at the same indent.
                Some(next) if next.indent == indent && is_item(next.text) => list(lines, pos, indent)?,
                _ => Doc::Null,
            }
        } else {
            scalar(rest)?
        };
        entries.push((key, value));
        Some(())
    }

    /// Splits `key: rest`; the key is a simple word or a JSON string.
    fn key_value(text: &str) -> Option<(String, &str)> {
        let (key, after) = if text.starts_with('"') {
            let end = quoted_end(text)?;
            let key: String = serde_json::from_str(text.get(..end)?).ok()?;
            (key, text.get(end..)?)
        } else {
            let end = text.find(':')?;
            let key = text.get(..end)?;
            if !simple_key(key) {
                return None;
            }
            (key.to_string(), text.get(end..)?)
        };
        let rest = after.strip_prefix(':')?;
        if rest.is_empty() {
            return Some((key, ""));
        }
        Some((key, rest.strip_prefix(' ')?.trim_start_matches(' ')))
    }

    /// A key YAML reads as this very string, unquoted: a word (`$map` too:
    /// `$` is no indicator), not one YAML reads as a boolean or null.
    fn simple_key(key: &str) -> bool {
        key.bytes().next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_' || c == b'$')
            && key.bytes().all(key_byte)
            && !matches!(key, "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE")
    }

    /// A plain scalar in block context: as [`plain`], and a string that
    /// starts with a letter, `/`, `$` or `_` may hold any printable ASCII
    /// (`slo:sli_error:ratio_rate5m`, `${{ github.ref }}`, `Redis (TLS)`)
    /// but `: ` and ` #`, which end it, and a final `:` or space; words YAML
    /// reads as something else (`true`, `null`, `nan`) are left to serde_yaml.
    fn plain_block(t: &str) -> Option<Doc> {
        let first = *t.as_bytes().first()?;
        if !(first.is_ascii_alphabetic() || matches!(first, b'/' | b'$' | b'_')) {
            return plain(t);
        }
        if let Some(d) = plain(t) {
            return Some(d);
        }
        let printable = t.bytes().all(|b| (0x20..0x7f).contains(&b));
        let ends = t.contains(": ") || t.contains(" #") || t.ends_with(':') || t.ends_with(' ');
        let special = ["nan", "inf", "infinity", "~"].iter().any(|w| t.eq_ignore_ascii_case(w));
        (printable && !ends && !special).then(|| Doc::Str(t.to_string()))
    }

    /// The bytes of a [`simple_key`].
    fn key_byte(b: u8) -> bool {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'$')
    }

    /// The byte just past the closing quote of a JSON string at the start.
    fn quoted_end(text: &str) -> Option<usize> {
        let mut escaped = false;
        for (i, c) in text.char_indices().skip(1) {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => return Some(i + 1),
                _ => {}
            }
        }
        None
    }

    fn scalar(text: &str) -> Option<Doc> {
        match text.as_bytes().first()? {
            b'"' => {
                if quoted_end(text)? != text.len() {
                    return None;
                }
                Some(Doc::Str(json_string(text)?))
            }
            b'{' | b'[' => {
                let mut p = Json { text: text.as_bytes(), pos: 0, depth: 0 };
                let v = p.value()?;
                p.ws();
                (p.pos == text.len()).then_some(v)
            }
            _ => plain_block(text),
        }
    }

    /// A JSON string whose escapes YAML reads the same way.
    fn json_string(text: &str) -> Option<String> {
        let inner = text.strip_prefix('"')?.strip_suffix('"')?;
        // Most strings have no escape at all: they read as they are written.
        if !inner.bytes().any(|b| b == b'\\' || b == b'"' || b < 0x20) {
            return Some(inner.to_string());
        }
        // Escapes that YAML has and JSON lacks (or reads otherwise).
        let yaml_only = |w: &[u8]| matches!(w, [b'\\', b'x' | b'U' | b'N' | b'_']);
        if text.as_bytes().windows(2).any(yaml_only) {
            return None;
        }
        serde_json::from_str(text).ok()
    }

    /// Plain scalars that read the same under every YAML resolution: words,
    /// paths, booleans, null and plain integers/decimals.
    fn plain(t: &str) -> Option<Doc> {
        let first = t.as_bytes().first()?;
        if first.is_ascii_digit() {
            let digits = t.bytes().all(|b| b.is_ascii_digit());
            if digits && (t == "0" || !t.starts_with('0')) {
                return t.parse::<i64>().ok().map(Doc::Int);
            }
            let decimal = t.split_once('.').is_some_and(|(int, frac)| {
                !int.is_empty()
                    && !frac.is_empty()
                    && int.bytes().all(|b| b.is_ascii_digit())
                    && frac.bytes().all(|b| b.is_ascii_digit())
                    && (int == "0" || !int.starts_with('0'))
            });
            if decimal {
                return t.parse::<f64>().ok().map(Doc::Float);
            }
            // A number with a unit (`15m`, `512Mi`) is a string: no YAML
            // number ends in letters, but for an exponent (`1e3`) or after
            // a `0` prefix (`0x1f`).
            let unit = t.trim_start_matches(|c: char| c.is_ascii_digit());
            let is_unit = !t.starts_with('0')
                && !unit.is_empty()
                && unit.bytes().all(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E'));
            return is_unit.then(|| Doc::Str(t.to_string()));
        }
        // `.github/...` is a word; `.5`, `.inf` and `.nan` are numbers.
        let dotted = *first == b'.' && t.as_bytes().get(1).is_some_and(|b| b.is_ascii_alphabetic() || *b == b'/');
        if !(first.is_ascii_alphabetic() || *first == b'/' || dotted) {
            return None;
        }
        if !t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b' '))
            || t.contains("  ")
        {
            return None;
        }
        match t {
            "null" | "Null" | "NULL" => Some(Doc::Null),
            "true" | "True" | "TRUE" => Some(Doc::Bool(true)),
            "false" | "False" | "FALSE" => Some(Doc::Bool(false)),
            _ if t.eq_ignore_ascii_case(".nan") || t.eq_ignore_ascii_case(".inf") => None,
            _ => Some(Doc::Str(t.to_string())),
        }
    }

    /// Inline JSON (`{{json x}}`), keys in order, and the flow style that
    /// templates write by hand (`{service: "x", slo: availability}`): keys
    /// and values may be plain words.
    struct Json<'a> {
        text: &'a [u8],
        pos: usize,
        depth: usize,
    }

    impl Json<'_> {
        fn ws(&mut self) {
            while self.text.get(self.pos).is_some_and(|b| *b == b' ') {
                self.pos += 1;
            }
        }

        fn eat(&mut self, b: u8) -> bool {
            self.ws();
            if self.text.get(self.pos) == Some(&b) {
                self.pos += 1;
                true
            } else {
                false
            }
        }

        fn value(&mut self) -> Option<Doc> {
            self.ws();
            self.depth += 1;
            if self.depth > 64 {
                return None;
            }
            let v = match self.text.get(self.pos)? {
                b'{' => {
                    self.pos += 1;
                    let mut entries: Vec<(String, Doc)> = Vec::new();
                    if !self.eat(b'}') {
                        loop {
                            self.ws();
                            let key = match self.text.get(self.pos) {
                                Some(b'"') => self.string()?,
                                _ => self.plain_key()?,
                            };
                            if !self.eat(b':') {
                                return None;
                            }
                            let v = self.value()?;
                            entries.push((key, v));
                            if self.eat(b'}') {
                                break;
                            }
                            if !self.eat(b',') {
                                return None;
                            }
                        }
                    }
                    distinct_keys(&entries)?;
                    Doc::Map(entries)
                }
                b'[' => {
                    self.pos += 1;
                    let mut items = Vec::new();
                    if !self.eat(b']') {
                        loop {
                            items.push(self.value()?);
                            if self.eat(b']') {
                                break;
                            }
                            if !self.eat(b',') {
                                return None;
                            }
                        }
                    }
                    Doc::List(items)
                }
                b'"' => Doc::Str(self.string()?),
                _ => {
                    let start = self.pos;
                    while self.text.get(self.pos).is_some_and(|b| !matches!(b, b',' | b']' | b'}' | b' ')) {
                        self.pos += 1;
                    }
                    let word = std::str::from_utf8(self.text.get(start..self.pos)?).ok()?;
                    match (word, plain(word)?) {
                        ("true", d) | ("false", d) | ("null", d) => d,
                        (_, d @ (Doc::Int(_) | Doc::Float(_) | Doc::Str(_))) => d,
                        _ => return None,
                    }
                }
            };
            self.depth -= 1;
            Some(v)
        }

        /// A plain key, which YAML ends at `: ` in a flow map.
        fn plain_key(&mut self) -> Option<String> {
            let start = self.pos;
            while self.text.get(self.pos).is_some_and(|b| key_byte(*b)) {
                self.pos += 1;
            }
            let key = std::str::from_utf8(self.text.get(start..self.pos)?).ok()?;
            let colon_space = self.text.get(self.pos..self.pos + 2) == Some(b": ".as_slice());
            (colon_space && simple_key(key)).then(|| key.to_string())
        }

        fn string(&mut self) -> Option<String> {
            let rest = std::str::from_utf8(self.text.get(self.pos..)?).ok()?;
            if !rest.starts_with('"') {
                return None;
            }
            let end = quoted_end(rest)?;
            let s = json_string(rest.get(..end)?)?;
            self.pos += end;
            Some(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13, item 23: a map's duplicate-key check compared each key with
    /// every key before it (n^2/2 for a ConfigMap of n settings, which a
    /// service depending on n services has). Now n log n comparisons.
    #[test]
    fn redteam_23_map_keys_are_checked_in_n_log_n() {
        let comparisons = |n: usize, flow: bool| {
            let text = if flow {
                let pairs: Vec<String> = (0..n).map(|i| format!("K{i}: \"v\"")).collect();
                format!("data: {{{}}}\n", pairs.join(", "))
            } else {
                (0..n).map(|i| format!("K{i}: v\n")).collect()
            };
            COMPARISONS.with(|c| c.set(0));
            let docs = parse(&text).unwrap();
            assert_eq!(docs.len(), 1);
            COMPARISONS.with(std::cell::Cell::get)
        };
        for flow in [true, false] {
            let (small, large) = (comparisons(1_000, flow), comparisons(8_000, flow));
            assert!(small > 0);
            // 8 times the keys: 8 x log(8,000)/log(1,000) = 10.4 times the work at most;
            // a look-up per key was 64 times.
            assert!(large <= small * 11, "{small} -> {large}");
        }
        // Duplicates are still refused.
        assert!(parse("a: 1\na: 2\n").is_err());
        assert!(parse("x: {a: 1, a: 2}\n").is_err());
    }

    #[test]
    fn multi_document_streams_keep_key_order() {
        let docs = parse("b: 1\na: [x, 2]\n---\n---\nc: null\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0],
            Doc::Map(vec![("b".into(), Doc::Int(1)), ("a".into(), Doc::List(vec![Doc::Str("x".into()), Doc::Int(2)]))])
        );
    }

    #[test]
    fn writer_output_reads_back_identically() {
        let tricky = [
            "a: b",
            "#x",
            "true",
            "1.0",
            "line\nline\n",
            "  lead",
            "tab\tin",
            "${{ x }}",
            "$(rm -rf /)",
            "é ✓",
            "\u{1}",
            "x\n",
        ];
        for s in tricky {
            let d = Doc::Map(vec![("k".into(), Doc::Str(s.into()))]);
            let mut out = String::new();
            super::super::doc::to_yaml(std::slice::from_ref(&d), &mut out);
            assert_eq!(parse(&out).unwrap(), vec![d], "{out}");
        }
    }

    /// The fast reader either agrees with serde_yaml or declines.
    #[test]
    fn fast_reader_agrees_or_declines() {
        let cases = [
            "kind: Deployment\nspec:\n  replicas: 3\n  labels: {\"b\": \"x\", \"a\": [1, 2.5, true, null]}\n",
            "a:\n- x\n- y\nb: 2\n",
            "containers:\n  - name: app\n    ports:\n      - name: http\n        containerPort: 8080\n  - name: side\n",
            "x: 0755\n",
            "x: 1e3\n",
            "x: yes\n",
            "x: ~\n",
            "x: 12:30\n",
            "x: 'it''s'\n",
            "x: a # b\n",
            "x: &a 1\ny: *a\n",
            "x: |\n  text\n",
            "x: -1\n",
            "x: .5\n",
            "x: 0.5\n",
            "x: 00\n",
            "x: \"\\x41\"\n",
            "- - a\n",
            "x:\n  -\n    y: 1\n",
            "k: v\nk: w\n",
            "x: {a: 1}\n",
            "x: [\"a\",]\n",
            "\"quoted key\": 1\n",
            "x: /healthz\n",
            "x: \"a\\u00e9\"\n",
            "x: 0x1f\n",
            "x: 1e3\n",
            "x: 15E\n",
            "x: 0755m\n",
            "x: nan\n",
            "x: NaN\n",
            "x: Infinity\n",
            "x: .inf\n",
            "x: .NaN\n",
            "x: .5\n",
            "x: a:\n",
            "x: a: b\n",
            "x: a #b\n",
            "x: a  b\n",
            "x: {true: 1}\n",
            "x: {a: b:c}\n",
            "x: {a: 1, a: 2}\n",
            "x: {a: b c}\n",
            "x: {null: 1}\n",
            "true:\n  a: 1\n",
            "x: ~\n",
            "x: $\n",
            "x: a line\n  that goes on\ny: 1\n",
            "x: it's [a] {b}, c!\n",
            "x: a\tb\n",
            "- a:b\n",
            "x: é\n",
        ];
        for c in cases {
            if let Some(fast) = fast::parse(c) {
                assert_eq!(Ok(fast), full(c), "on {c:?}");
            }
        }
    }

    /// What the standard library's templates write is read by the fast
    /// reader (serde_yaml is several times slower), and read the same.
    #[test]
    fn fast_reader_takes_what_templates_write() {
        let taken = [
            "for: 15m\nmemory: 512Mi\n",
            "record: slo:sli_error:ratio_rate5m\n",
            "policy_arn: arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole\n",
            "group: ${{ github.workflow }}-${{ github.ref }}\n",
            "description: Redis (TLS) from the VPC; it's here\n",
            "paths:\n  - .github/workflows/platc-image.yml\n",
            "labels: {service: \"x\", slo: availability}\n",
            "aws: {$map: {source: hashicorp/aws, version: \"~> 5.80\"}}\n",
            "tags:\n  $map:\n    a: b\n",
            "values: [{$expr: data.aws_vpc.main.id}]\n",
        ];
        for c in taken {
            let fast = fast::parse(c).unwrap_or_else(|| panic!("declined {c:?}"));
            assert_eq!(Ok(fast), full(c), "on {c:?}");
        }
    }
}
