//! The events a Lambda authorizer receives (SPEC-NOTES §1.4; shapes from the fixtures in
//! `fixtures/events/`): REST TOKEN `{type, authorizationToken, methodArn}`; REST REQUEST and
//! HTTP API payload 1.0, shaped like a proxy event (`headers`, `multiValueHeaders`,
//! `queryStringParameters`, `pathParameters`, `stageVariables`, `requestContext`, and for
//! 1.0 `identitySource` as one comma-joined string); HTTP API payload 2.0 (`routeArn`,
//! `identitySource` as an array, `rawPath`, `rawQueryString`, `cookies`, lower-case
//! `headers`). Built only when the result cache misses.

use serde_json::{Map, Value, json};

use super::Request;
use crate::config::{LambdaKind, PayloadVersion};
use crate::dataplane::clock::CivilTime;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The event for `kind`, as JSON bytes. `identity` holds the identity source values in
/// order; `arn` is the method (route) ARN.
pub fn build(
    kind: LambdaKind,
    req: &Request<'_>,
    identity: &[String],
    arn: &str,
    now_ms: u64,
) -> Vec<u8> {
    let event = match kind {
        LambdaKind::Token => json!({
            "type": "TOKEN",
            "authorizationToken": identity.first().map_or("", String::as_str),
            "methodArn": arn,
        }),
        LambdaKind::Request => proxy_v1(req, arn, now_ms),
        LambdaKind::Http {
            payload: PayloadVersion::V1,
            ..
        } => {
            let mut e = proxy_v1(req, arn, now_ms);
            let joined = Value::String(identity.join(","));
            if let Some(o) = e.as_object_mut() {
                o.insert("version".into(), "1.0".into());
                o.insert("identitySource".into(), joined.clone());
                o.insert("authorizationToken".into(), joined);
            }
            e
        }
        LambdaKind::Http {
            payload: PayloadVersion::V2,
            ..
        } => v2(req, identity, arn, now_ms),
    };
    serde_json::to_vec(&event).unwrap_or_default()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `%XX` decoded (REST decodes request parameters before handing them on).
fn decode(b: &[u8]) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_pairs<'a>(req: &Request<'a>) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
    let q = req.head.query.map(|q| q.get(req.data)).unwrap_or_default();
    q.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &pair[pair.len()..]),
        })
}

fn header<'a>(req: &Request<'a>, name: &[u8]) -> Option<&'a [u8]> {
    req.head
        .headers
        .iter()
        .find(|(n, _)| n.get(req.data).eq_ignore_ascii_case(name))
        .map(|(_, v)| v.get(req.data))
}

fn path_parameters(req: &Request<'_>) -> Map<String, Value> {
    let mut out = Map::new();
    for (i, name) in req.route.params.iter().enumerate().take(req.params.len) {
        let (s, e) = req.params.spans[i];
        let v = req
            .resource_path
            .get(s as usize..e as usize)
            .unwrap_or_default();
        out.insert(name.clone(), decode(v).into());
    }
    out
}

fn stage_variables(req: &Request<'_>) -> Map<String, Value> {
    req.stage
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

fn civil(now_ms: u64) -> String {
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

fn proxy_v1(req: &Request<'_>, arn: &str, now_ms: u64) -> Value {
    let mut headers = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (n, v) in &req.head.headers {
        let (name, value) = (text(n.get(req.data)), text(v.get(req.data)));
        headers.insert(name.clone(), value.clone().into());
        match multi.get_mut(&name).and_then(Value::as_array_mut) {
            Some(list) => list.push(value.into()),
            None => {
                multi.insert(name, json!([value]));
            }
        }
    }
    let mut query = Map::new();
    let mut multi_query: Map<String, Value> = Map::new();
    for (k, v) in query_pairs(req) {
        let (k, v) = (decode(k), decode(v));
        query.insert(k.clone(), v.clone().into());
        match multi_query.get_mut(&k).and_then(Value::as_array_mut) {
            Some(list) => list.push(v.into()),
            None => {
                multi_query.insert(k, json!([v]));
            }
        }
    }
    let method = text(req.head.method.get(req.data));
    let host = text(req.host);
    json!({
        "type": "REQUEST",
        "methodArn": arn,
        "resource": req.route.path,
        "path": text(req.resource_path),
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters(req),
        "stageVariables": stage_variables(req),
        "requestContext": {
            "accountId": req.account_id,
            "apiId": req.api.id,
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or_default(),
            "extendedRequestId": text(req.extended_id),
            "httpMethod": method,
            "identity": {
                "sourceIp": req.peer.to_string(),
                "userAgent": header(req, b"user-agent").map(text),
            },
            "path": text(req.path),
            "protocol": "HTTP/1.1",
            "requestId": text(req.request_id),
            "requestTime": civil(now_ms),
            "requestTimeEpoch": now_ms,
            "resourceId": req.route.route_key,
            "resourcePath": req.route.path,
            "stage": req.stage.name,
        },
    })
}

fn v2(req: &Request<'_>, identity: &[String], arn: &str, now_ms: u64) -> Value {
    let mut headers: Map<String, Value> = Map::new();
    let mut cookies = Vec::new();
    for (n, v) in &req.head.headers {
        let name = text(n.get(req.data)).to_ascii_lowercase();
        let value = text(v.get(req.data));
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
        match headers.get_mut(&name) {
            Some(Value::String(s)) => {
                s.push(',');
                s.push_str(&value);
            }
            _ => {
                headers.insert(name, value.into());
            }
        }
    }
    let mut query: Map<String, Value> = Map::new();
    for (k, v) in query_pairs(req) {
        let (k, v) = (decode(k), decode(v));
        match query.get_mut(&k) {
            Some(Value::String(s)) => {
                s.push(',');
                s.push_str(&v);
            }
            _ => {
                query.insert(k, v.into());
            }
        }
    }
    let method = text(req.head.method.get(req.data));
    let host = text(req.host);
    let raw_query = req
        .head
        .query
        .map(|q| text(q.get(req.data)))
        .unwrap_or_default();
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": arn,
        "identitySource": identity,
        "routeKey": req.route.route_key,
        "rawPath": text(req.path),
        "rawQueryString": raw_query,
        "cookies": cookies,
        "headers": headers,
        "queryStringParameters": query,
        "requestContext": {
            "accountId": req.account_id,
            "apiId": req.api.id,
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or_default(),
            "http": {
                "method": method,
                "path": text(req.path),
                "protocol": "HTTP/1.1",
                "sourceIp": req.peer.to_string(),
                "userAgent": header(req, b"user-agent").map(text).unwrap_or_default(),
            },
            "requestId": text(req.extended_id),
            "routeKey": req.route.route_key,
            "stage": req.stage.name,
            "time": civil(now_ms),
            "timeEpoch": now_ms,
        },
        "pathParameters": path_parameters(req),
        "stageVariables": stage_variables(req),
    })
}
