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
use crate::dataplane::lambda::event::{
    civil, domain_prefix, find_header, header_texts, headers_v2, joined, last_and_all, path_values,
    raw_query_pairs, stage_map, text,
};

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

fn header<'a>(req: &Request<'a>, name: &[u8]) -> Option<&'a [u8]> {
    find_header(req.head, req.data, name)
}

/// The query's pairs, `%XX`-decoded.
fn query_pairs<'a>(req: &Request<'a>) -> impl Iterator<Item = (String, String)> + 'a {
    raw_query_pairs(req.head, req.data).map(|(k, v)| (decode(k), decode(v)))
}

fn path_parameters(req: &Request<'_>) -> Map<String, Value> {
    path_values(req.route, req.params, req.resource_path)
        .map(|(name, v)| (name.clone(), decode(v).into()))
        .collect()
}

fn proxy_v1(req: &Request<'_>, arn: &str, now_ms: u64) -> Value {
    let (headers, multi) = last_and_all(header_texts(req.head, req.data, |_| true));
    let (query, multi_query) = last_and_all(query_pairs(req));
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
        "stageVariables": stage_map(req.stage),
        "requestContext": {
            "accountId": req.account_id,
            "apiId": req.api.id,
            "domainName": host,
            "domainPrefix": domain_prefix(&host),
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
    let (headers, cookies) = headers_v2(header_texts(req.head, req.data, |_| true));
    let query = joined(query_pairs(req));
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
            "domainPrefix": domain_prefix(&host),
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
        "stageVariables": stage_map(req.stage),
    })
}
