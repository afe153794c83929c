//! The `serde_json::Value` reader of a function's result, as it was before results were
//! scanned in place (`response.rs`, `scan.rs`): the reference the new reader is checked
//! against (`tests.rs`, the differential test). Kept as it was; do not improve it.
//!
//! Payload 1.0 (REST, and HTTP APIs with 1.0): exactly `{statusCode, headers,
//! multiValueHeaders, body, isBase64Encoded}`. An unknown key, a wrong type, `{}` or anything
//! but an object is malformed; a missing `statusCode` is 200; a numeric string is a status;
//! header values may be strings, numbers or booleans; `multiValueHeaders` come first, then
//! `headers`, merged case-insensitively under the `multiValueHeaders` spelling.
//!
//! Payload 2.0: an object with `statusCode` is read as `{statusCode, headers, cookies, body,
//! isBase64Encoded}` (other keys are ignored); anything else is the *inferred* format:
//! status 200, `content-type: application/json`, the value as the body (a JSON string is the
//! body itself, any other value its JSON text).

use base64::Engine as _;
use serde_json::Value;

use super::{NotBase64, OWN_HEADERS};
use crate::config::PayloadVersion;

/// A function's result, ready to write.
#[derive(Debug, PartialEq, Eq)]
pub struct ProxyResponse {
    pub status: u16,
    /// In order; a name may repeat (each is one header line).
    pub headers: Vec<(String, String)>,
    /// 2.0 `cookies`: one `Set-Cookie` each.
    pub cookies: Vec<String>,
    pub body: Vec<u8>,
    /// `isBase64Encoded`: `body` is base64 text, decoded by [`ProxyResponse::decode_body`]
    /// when the request allows it.
    pub base64: bool,
    /// `"Content-Type": null` in `headers`: no default `Content-Type` is added (what API
    /// Gateway does, aws/aws-sam-cli#1218 [OBS]).
    pub no_content_type: bool,
}

/// Reads `result`; `Err` names what is malformed (for the log).
pub fn read(format: PayloadVersion, result: &[u8]) -> Result<ProxyResponse, &'static str> {
    let value: Value = serde_json::from_slice(result).map_err(|_| "the result is not JSON")?;
    match format {
        PayloadVersion::V1 => v1(value),
        PayloadVersion::V2 => v2(value),
    }
}

impl ProxyResponse {
    /// Decodes a base64 body when `allowed` (REST: the request's first `Accept` type is a
    /// binary media type; HTTP APIs: always). `Err` when it is not valid base64.
    pub fn decode_body(&mut self, allowed: bool) -> Result<(), NotBase64> {
        if !self.base64 || !allowed {
            return Ok(());
        }
        let engine = &base64::engine::general_purpose::STANDARD;
        self.body = engine
            .decode(self.body.trim_ascii())
            .map_err(|_| NotBase64)?;
        self.base64 = false;
        Ok(())
    }

    #[allow(dead_code)] // kept as it was
    pub fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

fn v1(value: Value) -> Result<ProxyResponse, &'static str> {
    let Value::Object(obj) = value else {
        return Err("the result is not a JSON object");
    };
    if obj.is_empty() {
        return Err("the result is an empty object");
    }
    const KEYS: [&str; 5] = [
        "statusCode",
        "headers",
        "multiValueHeaders",
        "body",
        "isBase64Encoded",
    ];
    if obj.keys().any(|k| !KEYS.contains(&k.as_str())) {
        return Err(
            "the result has a key other than statusCode, headers, multiValueHeaders, body and isBase64Encoded",
        );
    }
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    match obj.get("multiValueHeaders") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (name, values) in m {
                let values = match values {
                    Value::Null => continue,
                    Value::Array(a) => a
                        .iter()
                        .map(scalar)
                        .collect::<Option<Vec<_>>>()
                        .ok_or("a multiValueHeaders value is not a string")?,
                    _ => return Err("a multiValueHeaders entry is not a list"),
                };
                add(&mut groups, name, values);
            }
        }
        Some(_) => return Err("multiValueHeaders is not an object"),
    }
    for (name, value) in single_headers(obj.get("headers"))? {
        add(&mut groups, &name, vec![value]);
    }
    let headers = flatten(groups)?;
    Ok(ProxyResponse {
        status: status(obj.get("statusCode"))?,
        headers,
        cookies: Vec::new(),
        body: body(obj.get("body"))?,
        base64: base64_flag(obj.get("isBase64Encoded"))?,
        no_content_type: null_content_type(obj.get("headers")),
    })
}

fn v2(value: Value) -> Result<ProxyResponse, &'static str> {
    let obj = match value {
        Value::Object(o) if o.contains_key("statusCode") => o,
        other => {
            let body = match other {
                Value::String(s) => s.into_bytes(),
                v => v.to_string().into_bytes(),
            };
            return Ok(ProxyResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                cookies: Vec::new(),
                body,
                base64: false,
                no_content_type: false,
            });
        }
    };
    let mut groups = Vec::new();
    for (name, value) in single_headers(obj.get("headers"))? {
        add(&mut groups, &name, vec![value]);
    }
    let cookies = match obj.get("cookies") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|c| c.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or("a cookie is not a string")?,
        Some(_) => return Err("cookies is not a list"),
    };
    if cookies.iter().any(|c| !value_ok(c)) {
        return Err("a cookie has a control character");
    }
    Ok(ProxyResponse {
        status: status(obj.get("statusCode"))?,
        headers: flatten(groups)?,
        cookies,
        body: body(obj.get("body"))?,
        base64: base64_flag(obj.get("isBase64Encoded"))?,
        no_content_type: null_content_type(obj.get("headers")),
    })
}

fn null_content_type(headers: Option<&Value>) -> bool {
    headers.and_then(Value::as_object).is_some_and(|m| {
        m.iter()
            .any(|(k, v)| v.is_null() && k.eq_ignore_ascii_case("content-type"))
    })
}

/// A header value: a string, a number or a boolean (rendered `true`/`false`).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn single_headers(v: Option<&Value>) -> Result<Vec<(String, String)>, &'static str> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    scalar(v).ok_or("a header value is not a string")?,
                ))
            })
            .collect(),
        Some(_) => Err("headers is not an object"),
    }
}

/// Appends to the group of `name` (case-insensitive; the first spelling wins).
fn add(groups: &mut Vec<(String, Vec<String>)>, name: &str, values: Vec<String>) {
    match groups
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some((_, list)) => list.extend(values),
        None => groups.push((name.to_string(), values)),
    }
}

fn flatten(groups: Vec<(String, Vec<String>)>) -> Result<Vec<(String, String)>, &'static str> {
    let mut out = Vec::new();
    for (name, values) in groups {
        if !name_ok(&name) {
            return Err("a header name is not a valid HTTP token");
        }
        if OWN_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            continue;
        }
        for v in values {
            if !value_ok(&v) {
                return Err("a header value has a control character");
            }
            out.push((name.clone(), v));
        }
    }
    Ok(out)
}

fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn value_ok(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// `statusCode`: absent or null → 200; an integer or a numeric string, 200–599 (a 1xx is not
/// a final answer).
fn status(v: Option<&Value>) -> Result<u16, &'static str> {
    let n = match v {
        None | Some(Value::Null) => return Ok(200),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    n.filter(|n| (200..=599).contains(n))
        .map(|n| n as u16)
        .ok_or("statusCode is not a status code")
}

fn body(v: Option<&Value>) -> Result<Vec<u8>, &'static str> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(_) => Err("body is not a string"),
    }
}

fn base64_flag(v: Option<&Value>) -> Result<bool, &'static str> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err("isBase64Encoded is not a boolean"),
    }
}
