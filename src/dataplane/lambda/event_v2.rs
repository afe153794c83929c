//! Payload format 2.0 (SPEC-NOTES §1.2): HTTP APIs. Lower-case header names, repeated
//! headers and query keys comma-joined, `Cookie` headers collected into `cookies`, `rawPath`
//! with the stage, `rawQueryString` as sent; empty parts are left out. Written straight into
//! the event's bytes ([`Json`]).

use serde_json::{Map, Value, json};

use super::Request;
use super::event::{claims, forwarded, header, scopes};
use super::fields::{self, Headers, NoCase, Scratch};
use super::json::Json;

/// Writes the 2.0 event.
pub fn write(req: &Request<'_>, j: &mut Json) {
    fields::with_scratch(|s| write_with(req, j, s));
}

fn write_with(req: &Request<'_>, j: &mut Json, s: &mut Scratch) {
    let Scratch {
        headers,
        names,
        keys,
        query,
        order,
    } = s;
    let headers = Headers::of(req, headers, |n| forwarded(n, false));
    let is_cookie = |n: &[u8]| n.eq_ignore_ascii_case(b"cookie");
    let names = names.regroup(headers.len(), |i| NoCase(headers.at(i).0), order);
    let query = query.decode(req);
    let keys = keys.regroup(query.len(), |i| query.key(i), order);
    j.obj();
    j.key("version").str("2.0");
    j.key("routeKey").str(&req.route.route_key);
    j.key("rawPath").text(req.path);
    let raw_query = req.head.query.map(|q| q.get(req.data));
    j.key("rawQueryString").text(raw_query.unwrap_or_default());
    let mut cookies = false;
    for (_, v) in headers.iter().filter(|(n, _)| is_cookie(n)) {
        let v = String::from_utf8_lossy(v);
        for c in v.split(';').map(str::trim).filter(|c| !c.is_empty()) {
            if !cookies {
                j.key("cookies").arr();
                cookies = true;
            }
            j.str(c);
        }
    }
    if cookies {
        j.end_arr();
    }
    j.key("headers").obj();
    for g in names.iter() {
        let first = g.clone().next().unwrap_or_default();
        if is_cookie(headers.at(first).0) {
            continue;
        }
        let start = j.mark();
        j.key_text(headers.at(first).0);
        j.since(start).make_ascii_lowercase();
        joined(j, g.map(|i| headers.at(i).1));
    }
    if header(req, b"x-amzn-trace-id").is_none() {
        j.key("x-amzn-trace-id");
        fields::started_trace(j, req);
    }
    j.end_obj();
    if query.len() > 0 {
        j.key("queryStringParameters").obj();
        for g in keys.iter() {
            let first = g.clone().next().unwrap_or_default();
            j.key_text(query.key(first));
            joined(j, g.map(|i| query.value(i)));
        }
        j.end_obj();
    }
    fields::path_parameters(j, "pathParameters", req);
    j.key("requestContext");
    context(req, j);
    fields::stage_variables(j, "stageVariables", req);
    let base64 = fields::body(j, req);
    j.key("isBase64Encoded").bool(base64 == Some(true));
    j.end_obj();
}

/// A repeated name's values, joined with commas.
fn joined<'a>(j: &mut Json, values: impl Iterator<Item = &'a [u8]>) {
    j.open_str();
    for (n, v) in values.enumerate() {
        if n > 0 {
            j.push_text(b",");
        }
        j.push_text(v);
    }
    j.close_str();
}

fn context(req: &Request<'_>, j: &mut Json) {
    j.obj();
    j.key("accountId").str(req.account_id);
    j.key("apiId").str(&req.api.id);
    if let Some(c) = req.client_cert {
        j.key("authentication").obj().key("clientCert");
        fields::client_cert(j, c);
        j.end_obj();
    }
    authorizer(req, j);
    j.key("domainName").text(req.host);
    j.key("domainPrefix").text(fields::domain_prefix(req.host));
    j.key("http").obj();
    j.key("method").text(req.head.method.get(req.data));
    j.key("path").text(req.path);
    j.key("protocol").str("HTTP/1.1");
    j.key("sourceIp");
    fields::ip(j, req.source_ip);
    j.key("userAgent")
        .text(header(req, b"user-agent").unwrap_or_default());
    j.end_obj();
    j.key("requestId").text(req.extended_id);
    j.key("routeKey").str(&req.route.route_key);
    j.key("stage").str(&req.stage.name);
    j.key("time");
    fields::civil(j, req.now_ms);
    j.key("timeEpoch").u64(req.now_ms);
    j.end_obj();
}

/// `authorizer`: `jwt {claims, scopes}`, `lambda {context}` or `iam {...}`; absent without
/// an authorizer. A Lambda authorizer's context and a JWT's claims are built as values
/// (cold: the map settles repeated context keys).
fn authorizer(req: &Request<'_>, j: &mut Json) {
    if let Some(g) = req.grant {
        let lambda: Map<String, Value> = g
            .context
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        j.key("authorizer").value(&json!({ "lambda": lambda }));
        return;
    }
    if let Some(c) = req.claims {
        let jwt = json!({ "jwt": { "claims": claims(c), "scopes": scopes(c) } });
        j.key("authorizer").value(&jwt);
        return;
    }
    let Some(c) = req.caller.as_ref() else {
        return;
    };
    j.key("authorizer").obj().key("iam").obj();
    j.key("accessKey").str(c.access_key);
    j.key("accountId").str(c.account);
    j.key("callerId").str(c.user_arn);
    j.key("cognitoIdentity").null();
    j.key("principalOrgId").null();
    j.key("userArn").str(c.user_arn);
    j.key("userId").str(c.user_arn);
    j.end_obj().end_obj();
}
