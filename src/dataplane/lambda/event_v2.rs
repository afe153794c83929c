//! Payload format 2.0 (SPEC-NOTES §1.2): HTTP APIs. Lower-case header names, repeated
//! headers and query keys comma-joined, `Cookie` headers collected into `cookies`, `rawPath`
//! with the stage, `rawQueryString` as sent; empty parts are left out.

use serde_json::{Map, Value, json};

use super::Request;
use super::event::{
    body, civil, claims, client_cert, domain_prefix, forwarded, header, header_texts, headers_v2,
    joined, path_parameters, query_pairs, scopes, stage_variables, text, trace_id,
};

/// The 2.0 event as a JSON value.
pub fn build(req: &Request<'_>) -> Value {
    let (mut headers, cookies) =
        headers_v2(header_texts(req.head, req.data, |n| forwarded(n, false)));
    if header(req, b"x-amzn-trace-id").is_none() {
        headers.insert("x-amzn-trace-id".into(), trace_id(req).into());
    }
    let query = joined(query_pairs(req));
    let raw_query = req
        .head
        .query
        .map(|q| text(q.get(req.data)))
        .unwrap_or_default();
    let (body, base64) = body(req);
    let mut event = Map::new();
    event.insert("version".into(), "2.0".into());
    event.insert("routeKey".into(), req.route.route_key.clone().into());
    event.insert("rawPath".into(), text(req.path).into());
    event.insert("rawQueryString".into(), raw_query.into());
    if !cookies.is_empty() {
        event.insert("cookies".into(), cookies.into());
    }
    event.insert("headers".into(), Value::Object(headers));
    if !query.is_empty() {
        event.insert("queryStringParameters".into(), Value::Object(query));
    }
    if let Some(p) = path_parameters(req) {
        event.insert("pathParameters".into(), Value::Object(p));
    }
    event.insert("requestContext".into(), context(req));
    if let Some(v) = stage_variables(req) {
        event.insert("stageVariables".into(), Value::Object(v));
    }
    if !body.is_null() {
        event.insert("body".into(), body);
    }
    event.insert("isBase64Encoded".into(), base64.into());
    Value::Object(event)
}

fn context(req: &Request<'_>) -> Value {
    let host = text(req.host);
    let mut ctx = Map::new();
    ctx.insert("accountId".into(), req.account_id.into());
    ctx.insert("apiId".into(), req.api.id.clone().into());
    if let Some(cert) = client_cert(req) {
        ctx.insert("authentication".into(), json!({ "clientCert": cert }));
    }
    if let Some(a) = authorizer(req) {
        ctx.insert("authorizer".into(), a);
    }
    ctx.insert("domainName".into(), host.clone().into());
    ctx.insert("domainPrefix".into(), domain_prefix(&host).into());
    ctx.insert(
        "http".into(),
        json!({
            "method": text(req.head.method.get(req.data)),
            "path": text(req.path),
            "protocol": "HTTP/1.1",
            "sourceIp": req.source_ip.to_string(),
            "userAgent": header(req, b"user-agent").map(text).unwrap_or_default(),
        }),
    );
    ctx.insert("requestId".into(), text(req.extended_id).into());
    ctx.insert("routeKey".into(), req.route.route_key.clone().into());
    ctx.insert("stage".into(), req.stage.name.clone().into());
    ctx.insert("time".into(), civil(req.now_ms).into());
    ctx.insert("timeEpoch".into(), req.now_ms.into());
    Value::Object(ctx)
}

/// `jwt {claims, scopes}`, `lambda {context}` or `iam {...}`; absent without an authorizer.
fn authorizer(req: &Request<'_>) -> Option<Value> {
    if let Some(g) = req.grant {
        let lambda: Map<String, Value> = g
            .context
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        return Some(json!({ "lambda": lambda }));
    }
    if let Some(c) = req.claims {
        return Some(json!({ "jwt": { "claims": claims(c), "scopes": scopes(c) } }));
    }
    let c = req.caller.as_ref()?;
    Some(json!({
        "iam": {
            "accessKey": c.access_key,
            "accountId": c.account,
            "callerId": c.user_arn,
            "cognitoIdentity": null,
            "principalOrgId": null,
            "userArn": c.user_arn,
            "userId": c.user_arn,
        }
    }))
}
