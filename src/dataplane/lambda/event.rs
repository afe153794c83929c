//! What the 1.0 and 2.0 events share: which headers are forwarded, query decoding, header
//! lookup, the body's encoding, the trace header, JWT claims and scopes. The proxy events are
//! written as bytes (`event_v1.rs`, `event_v2.rs`, `fields.rs`); the pieces here that build
//! `serde_json` values from the request head and data (headers and query in the 1.0 and 2.0
//! shapes, path parameter values, stage variables, the request time) build the Lambda
//! authorizers' events (`lambda_auth/event.rs`, built only on a cache miss).

use serde_json::{Map, Value, json};

use super::Request;
use crate::config::{Params, Protocol, Route, Stage};
use crate::dataplane::clock::CivilTime;
use crate::http1::RequestHead;

pub(super) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Request headers API Gateway drops before the integration (SPEC-NOTES §1.1, from
/// LocalStack's `header_utils.py`): hop-by-hop and framing headers.
const DROPPED: [&str; 11] = [
    "connection",
    "content-md5",
    "expect",
    "max-forwards",
    "proxy-authenticate",
    "server",
    "te",
    "transfer-encoding",
    "trailer",
    "upgrade",
    "www-authenticate",
];

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether a request header reaches the event. 1.0 events also lose `Content-Length`
/// (SPEC-NOTES §1.1 [AWS-REC]); 2.0 events keep it (fixture
/// `example-apigw-v2-request-no-authorizer.json`).
pub(super) fn forwarded(name: &[u8], v1: bool) -> bool {
    let dropped = DROPPED
        .iter()
        .any(|d| name.eq_ignore_ascii_case(d.as_bytes()));
    !(dropped || v1 && name.eq_ignore_ascii_case(b"content-length"))
}

/// Form-style decoding of a query key or value onto `out`: `+` is a space, `%XX` a byte
/// (SPEC-NOTES §1.1); then, as `String::from_utf8_lossy`, invalid UTF-8 becomes U+FFFD.
pub(super) fn form_decode_into(b: &[u8], out: &mut Vec<u8>) {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let start = out.len();
    let mut i = 0;
    while i < b.len() {
        let pair = (
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        );
        match (b[i], pair) {
            (b'+', _) => out.push(b' '),
            (b'%', (Some(h), Some(l))) => {
                out.push(h << 4 | l);
                i += 2;
            }
            (c, _) => out.push(c),
        }
        i += 1;
    }
    if std::str::from_utf8(&out[start..]).is_err() {
        let lossy = String::from_utf8_lossy(&out[start..]).into_owned();
        out.truncate(start);
        out.extend_from_slice(lossy.as_bytes());
    }
}

/// The query's `key=value` pairs as sent, in order.
pub(crate) fn raw_query_pairs<'a>(
    head: &RequestHead,
    data: &'a [u8],
) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
    let q = head.query.map(|q| q.get(data)).unwrap_or_default();
    q.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &pair[pair.len()..]),
        })
}

/// The first value of header `name`.
pub(crate) fn find_header<'a>(head: &RequestHead, data: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    head.headers
        .iter()
        .find(|(n, _)| n.get(data).eq_ignore_ascii_case(name))
        .map(|(_, v)| v.get(data))
}

pub(super) fn header<'a>(req: &Request<'a>, name: &[u8]) -> Option<&'a [u8]> {
    find_header(req.head, req.data, name)
}

/// 1.0 shape: the last value per name, and every value per name in order
/// (`headers`/`multiValueHeaders`, `queryStringParameters`/`multiValueQueryStringParameters`).
pub(crate) fn last_and_all(
    pairs: impl Iterator<Item = (String, String)>,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut last = Map::new();
    let mut all: Map<String, Value> = Map::new();
    for (name, value) in pairs {
        last.insert(name.clone(), value.clone().into());
        match all.get_mut(&name).and_then(Value::as_array_mut) {
            Some(list) => list.push(value.into()),
            None => {
                all.insert(name, json!([value]));
            }
        }
    }
    (last, all)
}

/// The request headers whose names pass `keep`, as text, in order.
pub(crate) fn header_texts<'a>(
    head: &'a RequestHead,
    data: &'a [u8],
    keep: impl Fn(&[u8]) -> bool + 'a,
) -> impl Iterator<Item = (String, String)> + 'a {
    head.headers
        .iter()
        .filter(move |(n, _)| keep(n.get(data)))
        .map(move |(n, v)| (text(n.get(data)), text(v.get(data))))
}

/// 2.0 shape: lower-case header names, repeated ones comma-joined, `Cookie` headers split
/// into `cookies`.
pub(crate) fn headers_v2(
    pairs: impl Iterator<Item = (String, String)>,
) -> (Map<String, Value>, Vec<Value>) {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in pairs {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| Value::String(c.to_string())),
            );
            continue;
        }
        join(&mut headers, name, value);
    }
    (headers, cookies)
}

/// 2.0 shape: repeated names' values comma-joined (`queryStringParameters`).
pub(crate) fn joined(pairs: impl Iterator<Item = (String, String)>) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in pairs {
        join(&mut map, name, value);
    }
    map
}

/// A repeated name's values are joined with commas (2.0).
fn join(map: &mut Map<String, Value>, name: String, value: String) {
    match map.get_mut(&name) {
        Some(Value::String(s)) => {
            s.push(',');
            s.push_str(&value);
        }
        _ => {
            map.insert(name, value.into());
        }
    }
}

/// The route's path parameters: each name and its value as sent.
pub(crate) fn path_values<'a>(
    route: &'a Route,
    params: &'a Params,
    resource_path: &'a [u8],
) -> impl Iterator<Item = (&'a String, &'a [u8])> {
    route
        .params
        .iter()
        .zip(&params.spans)
        .take(params.len)
        .map(|(name, &(s, e))| {
            let v = resource_path
                .get(s as usize..e as usize)
                .unwrap_or_default();
            (name, v)
        })
}

/// The stage's variables as a JSON object.
pub(crate) fn stage_map(stage: &Stage) -> Map<String, Value> {
    stage
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

/// `dd/MMM/yyyy:HH:mm:ss +0000`.
pub(crate) fn civil(now_ms: u64) -> String {
    let t = CivilTime::from_unix(now_ms / 1000);
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day,
        MONTHS[(t.month as usize).saturating_sub(1) % 12],
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}

/// The media type of a `Content-Type` or one `Accept` entry: before `;`, trimmed.
pub(super) fn media_type(v: &[u8]) -> &[u8] {
    let end = v.iter().position(|&b| b == b';').unwrap_or(v.len());
    v[..end].trim_ascii()
}

/// `media` matches one of `binaryMediaTypes` (lower-case; `type/*` and `*/*` wildcards).
pub fn is_binary(types: &[Box<str>], media: &[u8]) -> bool {
    if media.is_empty() {
        return types.iter().any(|t| &**t == "*/*");
    }
    let slash = media.iter().position(|&b| b == b'/');
    types.iter().any(|t| {
        let t = t.as_bytes();
        t == b"*/*"
            || t.eq_ignore_ascii_case(media)
            || t.strip_suffix(b"/*")
                .is_some_and(|major| slash.is_some_and(|s| media[..s].eq_ignore_ascii_case(major)))
    })
}

/// Text media types HTTP APIs pass as text; any other body (or one that is not UTF-8) is
/// base64-encoded. API Gateway's exact rule for HTTP APIs is not on record (SPEC-NOTES §1.3
/// marks it unverified): this is the documented "binary or not text" behaviour.
fn is_text(media: &[u8]) -> bool {
    let ends = |suffix: &[u8]| {
        media.len() >= suffix.len()
            && media[media.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    media
        .get(..5)
        .is_some_and(|m| m.eq_ignore_ascii_case(b"text/"))
        || ends(b"+json")
        || ends(b"+xml")
        || [
            &b"application/json"[..],
            b"application/xml",
            b"application/javascript",
            b"application/graphql",
        ]
        .iter()
        .any(|t| media.eq_ignore_ascii_case(t))
}

/// The body's `isBase64Encoded`, `None` without a body (`body` null, or left out in 2.0):
/// base64 when the `Content-Type` matches the API's `binaryMediaTypes` (SPEC-NOTES §1.1);
/// HTTP APIs also for non-text bodies.
pub(super) fn body_base64(req: &Request<'_>) -> Option<bool> {
    if req.body.is_empty() {
        return None;
    }
    let media = header(req, b"content-type")
        .map(media_type)
        .unwrap_or_default();
    Some(
        is_binary(&req.api.binary_media_types, media)
            || req.api.protocol == Protocol::Http
                && (!is_text(media) || std::str::from_utf8(req.body).is_err()),
    )
}

/// The request's X-Ray trace header as the event and the response show it: the client's
/// `X-Amzn-Trace-Id` as sent, else `Root=` and the root of the trace tollgate started for the
/// request (`Meta::trace`), as API Gateway adds to the integration request and the response
/// (SPEC-NOTES §1.1, §2 [AWS-REC]).
#[cfg(test)]
pub fn trace_id(req: &Request<'_>) -> String {
    let mut out = String::new();
    trace_id_into(req, &mut out);
    out
}

/// [`trace_id`] onto `out`.
pub fn trace_id_into(req: &Request<'_>, out: &mut String) {
    match header(req, b"x-amzn-trace-id") {
        Some(v) => out.push_str(&String::from_utf8_lossy(v)),
        None => {
            out.push_str("Root=");
            out.push_str(&String::from_utf8_lossy(req.trace.root()));
        }
    }
}

/// The host's first label (`domainPrefix`).
pub(crate) fn domain_prefix(host: &str) -> &str {
    host.split('.').next().unwrap_or_default()
}

/// JWT claims as API Gateway passes them: every value a string (JSON text for the rest).
pub(super) fn claims(c: &Map<String, Value>) -> Map<String, Value> {
    c.iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), Value::String(s))
        })
        .collect()
}

/// The token's scopes (`scope`, space-separated, or `scp`, an array or string).
pub(super) fn scopes(c: &Map<String, Value>) -> Option<Vec<Value>> {
    let v = c.get("scope").or_else(|| c.get("scp"))?;
    Some(match v {
        Value::String(s) => s.split_whitespace().map(|s| s.into()).collect(),
        Value::Array(a) => a.clone(),
        _ => return None,
    })
}
