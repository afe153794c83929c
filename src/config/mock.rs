//! MOCK integrations with literal templates: the request template gives the status code, the
//! integration response selected for it (selection patterns are regexes over the status code
//! string, `default` the fallback) gives status, static headers and body, all fixed at compile.

use serde_json::Value;

use super::reader::{Errors, Node, Obj};
use super::regex::Regex;
use super::responses::{header_name_ok, header_value_ok, quoted_literal, status_code};
use super::templates::{check_literal_template, pick_template};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MockResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub content_type: String,
    pub body: String,
}

/// `None`: no integration response matches the mock status and there is no `default`, which
/// API Gateway answers with 500 "Internal server error".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MockSpec {
    pub response: Option<MockResponse>,
}

pub(crate) fn validate_mock(obj: &mut Obj<'_>, errors: &mut Errors) -> Option<MockSpec> {
    let status = match obj.opt_non_null("requestTemplates") {
        Some(t) => request_status(&t, errors),
        None => {
            obj.node.err(
                errors,
                "a MOCK integration needs a request template like `{\"statusCode\": 200}` in `requestTemplates`",
            );
            None
        }
    };
    let responses = match obj.opt_non_null("responses") {
        Some(r) => integration_responses(&r, errors)?,
        None => Vec::new(),
    };
    let status = status?;
    let text = status.to_string();
    let chosen = responses
        .iter()
        .find(|(p, _)| p.as_ref().is_some_and(|re| re.matches(&text)))
        .or_else(|| responses.iter().find(|(p, _)| p.is_none()));
    let response = chosen.map(|(_, r)| MockResponse {
        status: r.status.unwrap_or(status),
        headers: r.headers.clone(),
        content_type: r.content_type.clone(),
        body: r.body.clone(),
    });
    Some(MockSpec { response })
}

/// The request template's `statusCode`.
fn request_status(t: &Node<'_>, errors: &mut Errors) -> Option<u16> {
    let Some((_, text, tn)) = pick_template(t, errors) else {
        t.err(
            errors,
            "a MOCK integration needs a request template like `{\"statusCode\": 200}`",
        );
        return None;
    };
    if !check_literal_template(&tn, text, &[], errors) {
        return None;
    }
    let Some(value) = lenient_json(text) else {
        tn.err(
            errors,
            "the MOCK request template is not JSON like `{\"statusCode\": 200}`",
        );
        return None;
    };
    match value.get("statusCode").and_then(Value::as_u64) {
        Some(s) if (100..=599).contains(&s) => Some(s as u16),
        _ => {
            tn.err(
                errors,
                "the MOCK request template must set an integer `statusCode` (100 to 599)",
            );
            None
        }
    }
}

struct IntegrationResponse {
    status: Option<u16>,
    headers: Vec<(String, String)>,
    content_type: String,
    body: String,
}

/// Pattern (`None` for `default`) → response, in document order.
fn integration_responses(
    r: &Node<'_>,
    errors: &mut Errors,
) -> Option<Vec<(Option<Regex>, IntegrationResponse)>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (pattern, n) in r.entries(errors)? {
        let regex = if pattern == "default" {
            None
        } else {
            match Regex::parse(pattern) {
                Ok(re) => Some(re),
                Err(why) => {
                    n.err(
                        errors,
                        format!("selection pattern `{pattern}` is not supported ({why})"),
                    );
                    ok = false;
                    continue;
                }
            }
        };
        let Some(mut obj) = n.obj(errors) else {
            ok = false;
            continue;
        };
        let before = errors.len();
        let mut resp = IntegrationResponse {
            status: None,
            headers: Vec::new(),
            content_type: "application/json".into(),
            body: String::new(),
        };
        if let Some(s) = obj.opt_non_null("statusCode") {
            resp.status = status_code(&s, errors);
        }
        if let Some(p) = obj.opt_non_null("responseParameters") {
            resp.headers = response_parameters(&p, errors);
        }
        if let Some(t) = obj.opt_non_null("responseTemplates")
            && let Some((ct, text, tn)) = pick_template(&t, errors)
            && check_literal_template(&tn, text, &[], errors)
        {
            resp.content_type = ct.to_string();
            resp.body = text.to_string();
        }
        obj.unsupported(&["contentHandling"], errors);
        obj.finish(errors);
        ok &= errors.len() == before;
        out.push((regex, resp));
    }
    ok.then_some(out)
}

fn response_parameters(p: &Node<'_>, errors: &mut Errors) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, value, vn) in p.string_map(errors).unwrap_or_default() {
        let Some(name) = key.strip_prefix("method.response.header.") else {
            vn.err(
                errors,
                format!(
                    "unknown response parameter `{key}`: expected `method.response.header.NAME`"
                ),
            );
            continue;
        };
        if !header_name_ok(name) {
            vn.err(errors, format!("invalid header name `{name}`"));
            continue;
        }
        match quoted_literal(value) {
            Some(v) if header_value_ok(v) => out.push((name.to_string(), v.to_string())),
            Some(_) => vn.err(errors, "header values cannot contain control characters"),
            None => vn.err(errors, format!("response parameter value `{value}` is not supported yet (only static '...' values are)")),
        }
    }
    out
}

/// Strict JSON, or the relaxed form API Gateway also accepts for MOCK templates:
/// unquoted keys and single-quoted strings (`{statusCode: 200}`).
pub(crate) fn lenient_json(text: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str(text) {
        return Some(v);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                out.push('"');
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            out.push('\\');
                            out.push(chars.next()?);
                        }
                        '"' if c == '\'' => out.push_str("\\\""),
                        d if d == c => break,
                        d => out.push(d),
                    }
                }
                out.push('"');
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == '$' => {
                let mut word = String::from(c);
                while let Some(&d) = chars.peek() {
                    if !(d.is_ascii_alphanumeric() || d == '_' || d == '$') {
                        break;
                    }
                    word.push(d);
                    chars.next();
                }
                if matches!(word.as_str(), "true" | "false" | "null") {
                    out.push_str(&word);
                } else {
                    out.push('"');
                    out.push_str(&word);
                    out.push('"');
                }
            }
            c => out.push(c),
        }
    }
    serde_json::from_str(&out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn mock(v: Value) -> (Option<MockSpec>, Vec<String>) {
        let mut errors = Vec::new();
        let node = Node::root(&v, Path::new("api.json"), "$.i");
        let mut obj = node.obj(&mut errors).unwrap();
        let spec = validate_mock(&mut obj, &mut errors);
        (
            spec,
            errors
                .iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect(),
        )
    }

    #[test]
    fn lenient() {
        assert_eq!(
            lenient_json("{statusCode: 200}"),
            Some(json!({"statusCode": 200}))
        );
        assert_eq!(
            lenient_json("{'statusCode': 201, ok: true}"),
            Some(json!({"statusCode": 201, "ok": true}))
        );
        assert_eq!(
            lenient_json("{\"statusCode\": 200}"),
            Some(json!({"statusCode": 200}))
        );
        assert_eq!(lenient_json("statusCode 200"), None);
    }

    #[test]
    fn selection() {
        let v = json!({
            "requestTemplates": {"application/json": "{statusCode: 204}"},
            "responses": {
                "4\\d{2}": {"statusCode": "400"},
                "2\\d{2}": {"statusCode": 200, "responseParameters": {"method.response.header.X-A": "'b'"},
                            "responseTemplates": {"text/plain": "hi"}},
                "default": {"statusCode": "500"}
            }
        });
        let (spec, errs) = mock(v);
        assert_eq!(errs, Vec::<String>::new());
        let r = spec.unwrap().response.unwrap();
        assert_eq!(
            r,
            MockResponse {
                status: 200,
                headers: vec![("X-A".into(), "b".into())],
                content_type: "text/plain".into(),
                body: "hi".into()
            }
        );

        let (spec, _) = mock(
            json!({"requestTemplates": {"application/json": "{\"statusCode\": 302}"},
                                    "responses": {"2\\d{2}": {}, "default": {"responseTemplates": {"application/json": "{}"}}}}),
        );
        assert_eq!(spec.unwrap().response.unwrap().status, 302);
        let (spec, _) = mock(
            json!({"requestTemplates": {"application/json": "{\"statusCode\": 302}"},
                                    "responses": {"2\\d{2}": {}}}),
        );
        assert_eq!(spec.unwrap().response, None);
        let (spec, _) =
            mock(json!({"requestTemplates": {"application/json": "{\"statusCode\": 200}"}}));
        assert_eq!(spec.unwrap().response, None);
    }

    #[test]
    fn errors() {
        let (_, errs) = mock(json!({
            "requestTemplates": {"application/json": "#set($x = 1){\"statusCode\": 200}"},
            "responses": {
                "(?=x)": {},
                "default": {"responseParameters": {"method.response.header.A": "integration.response.header.B"},
                            "responseTemplates": {"application/json": "$input.json('$')"}, "contentHandling": "CONVERT_TO_TEXT", "foo": 1}
            }
        }));
        assert_eq!(
            errs,
            vec![
                "$.i.requestTemplates.application/json: VTL mapping templates are not supported yet (found `#set`)",
                "$.i.responses.(?=x): selection pattern `(?=x)` is not supported (lookaround and inline flags)",
                "$.i.responses.default.responseParameters.method.response.header.A: response parameter value `integration.response.header.B` is not supported yet (only static '...' values are)",
                "$.i.responses.default.responseTemplates.application/json: VTL mapping templates are not supported yet (found `$input.json(`)",
                "$.i.responses.default.contentHandling: `contentHandling` is not supported yet",
                "$.i.responses.default.foo: unknown property `foo`",
            ]
        );
        let (_, errs) =
            mock(json!({"requestTemplates": {"application/json": "{\"statusCode\": \"200\"}"}}));
        assert_eq!(
            errs,
            vec![
                "$.i.requestTemplates.application/json: the MOCK request template must set an integer `statusCode` (100 to 599)"
            ]
        );
        let (_, errs) = mock(json!({}));
        assert_eq!(
            errs,
            vec![
                "$.i: a MOCK integration needs a request template like `{\"statusCode\": 200}` in `requestTemplates`"
            ]
        );
    }
}
