//! The one place serde_yaml is used: reading rendered YAML back into
//! [`Doc`]s. (serde_yaml is archived upstream; a maintained fork replaces it
//! here and nowhere else.) Writing YAML is `doc::to_yaml`'s job.

use serde::Deserialize;

use super::doc::Doc;

/// Parses a YAML stream; empty documents are dropped.
pub fn parse(text: &str) -> Result<Vec<Doc>, String> {
    let mut docs = Vec::new();
    for de in serde_yaml::Deserializer::from_str(text) {
        let value = serde_yaml::Value::deserialize(de).map_err(|e| e.to_string())?;
        if value != serde_yaml::Value::Null {
            docs.push(convert(value));
        }
    }
    Ok(docs)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
