//! Step one: bytes → `serde_json::Value`. JSON is read as JSON; anything else as YAML,
//! converted to the same `Value` so validation has one input shape. CloudFormation short
//! tags become the long form (`!Sub x` → `{"Fn::Sub": x}`, `!Ref x` → `{"Ref": x}`,
//! `!GetAtt a.b` → `{"Fn::GetAtt": ["a", "b"]}`), which validation then reports by name.

use serde_json::{Map, Number, Value};
use serde_norway::Value as Yaml;

/// Parse a document. The error is a human-readable message (the caller adds file and path).
pub(crate) fn parse_document(bytes: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.trim_start().chars().next();
    if matches!(first, Some('{') | Some('[')) {
        // JSON is also YAML, but a JSON mistake must not turn into a different YAML value.
        return serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"));
    }
    parse_yaml(text).map_err(|e| format!("invalid YAML: {e}"))
}

fn parse_yaml(text: &str) -> Result<Value, String> {
    let mut yaml: Yaml = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    yaml.apply_merge().map_err(|e| e.to_string())?;
    Ok(convert(yaml))
}

fn convert(y: Yaml) -> Value {
    match y {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => number(&n),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(convert).collect()),
        Yaml::Mapping(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                out.insert(key_text(k), convert(v));
            }
            Value::Object(out)
        }
        Yaml::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = convert(t.value);
            let (key, value) = match name {
                "Ref" => ("Ref".to_string(), value),
                "Condition" => ("Condition".to_string(), value),
                "GetAtt" => {
                    let value = match value {
                        Value::String(s) => match s.split_once('.') {
                            Some((a, b)) => Value::Array(vec![a.into(), b.into()]),
                            None => Value::String(s),
                        },
                        other => other,
                    };
                    ("Fn::GetAtt".to_string(), value)
                }
                other => (format!("Fn::{other}"), value),
            };
            let mut m = Map::with_capacity(1);
            m.insert(key, value);
            Value::Object(m)
        }
    }
}

fn number(n: &serde_norway::Number) -> Value {
    if let Some(u) = n.as_u64() {
        Value::Number(u.into())
    } else if let Some(i) = n.as_i64() {
        Value::Number(i.into())
    } else {
        n.as_f64()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// YAML allows any scalar as a key (`200:` in responses); JSON keys are text.
fn key_text(k: Yaml) -> String {
    match k {
        Yaml::String(s) => s,
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Null => "null".to_string(),
        other => serde_json::to_string(&convert(other)).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_tags_become_long_form_intrinsics() {
        let v = parse_document(
            b"a: !Sub arn:${AWS::Region}\nb: !Ref Thing\nc: !GetAtt Fn.Arn\nd: !Join [':', [a, b]]\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({
                "a": {"Fn::Sub": "arn:${AWS::Region}"},
                "b": {"Ref": "Thing"},
                "c": {"Fn::GetAtt": ["Fn", "Arn"]},
                "d": {"Fn::Join": [":", ["a", "b"]]}
            })
        );
    }

    #[test]
    fn yaml_integer_keys_and_order() {
        let v = parse_document(b"responses:\n  200: {description: ok}\n  default: x\nz: 1.5\n")
            .unwrap();
        assert_eq!(v["responses"]["200"]["description"], "ok");
        let keys: Vec<_> = v["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["200", "default"]);
        assert_eq!(v["z"], json!(1.5));
    }

    #[test]
    fn json_and_errors() {
        assert_eq!(parse_document(b" {\"a\": [1]}").unwrap(), json!({"a": [1]}));
        assert!(
            parse_document(b"{a: 1}")
                .unwrap_err()
                .starts_with("invalid JSON")
        );
        assert_eq!(parse_document(b"---\n{a: 1}").unwrap(), json!({"a": 1}));
        assert!(
            parse_document(b"{\"a\": }")
                .unwrap_err()
                .starts_with("invalid JSON")
        );
        assert!(
            parse_document(b"a: [")
                .unwrap_err()
                .starts_with("invalid YAML")
        );
        assert!(
            parse_document(&[0xff, 0xfe])
                .unwrap_err()
                .starts_with("not UTF-8")
        );
    }
}
