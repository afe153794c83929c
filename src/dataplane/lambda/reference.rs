//! The events as the `Value` builders made them before events were written straight into
//! bytes (`json.rs`): the reference the writers are checked against (`tests/equivalence.rs`,
//! and every event the other tests build). Kept as they were; do not improve them.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::Request;
use super::event::{
    civil, claims, domain_prefix, forwarded, header, header_texts, headers_v2, is_binary, joined,
    last_and_all, media_type, path_values, raw_query_pairs, scopes, stage_map, text, trace_id,
};
use crate::config::Protocol;

/// Form-style decoding of a query key or value: `+` is a space, `%XX` a byte (SPEC-NOTES §1.1).
pub fn form_decode(b: &[u8]) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
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
    String::from_utf8_lossy(&out).into_owned()
}

/// The query's `key=value` pairs, decoded, in order.
pub fn query_pairs<'a>(req: &Request<'a>) -> impl Iterator<Item = (String, String)> + 'a {
    raw_query_pairs(req.head, req.data).map(|(k, v)| (form_decode(k), form_decode(v)))
}

/// `pathParameters`, as sent (API Gateway does not percent-decode the path, SPEC-NOTES §1.1);
/// `None` for a route without parameters.
pub fn path_parameters(req: &Request<'_>) -> Option<Map<String, Value>> {
    let out: Map<String, Value> = path_values(req.route, req.params, req.resource_path)
        .map(|(name, v)| (name.clone(), text(v).into()))
        .collect();
    (!out.is_empty()).then_some(out)
}

pub fn stage_variables(req: &Request<'_>) -> Option<Map<String, Value>> {
    let out = stage_map(req.stage);
    (!out.is_empty()).then_some(out)
}

/// Text media types HTTP APIs pass as text; any other body (or one that is not UTF-8) is
/// base64-encoded. API Gateway's exact rule for HTTP APIs is not on record (SPEC-NOTES §1.3
/// marks it unverified): this is the documented "binary or not text" behaviour.
fn is_text(media: &[u8]) -> bool {
    let m = text(media).to_ascii_lowercase();
    m.starts_with("text/")
        || m.ends_with("+json")
        || m.ends_with("+xml")
        || [
            "application/json",
            "application/xml",
            "application/javascript",
            "application/graphql",
        ]
        .contains(&m.as_str())
}

/// `body` (string or null) and `isBase64Encoded`: base64 when the `Content-Type` matches
/// the API's `binaryMediaTypes` (SPEC-NOTES §1.1); HTTP APIs also for non-text bodies.
pub fn body(req: &Request<'_>) -> (Value, bool) {
    if req.body.is_empty() {
        return (Value::Null, false);
    }
    let media = header(req, b"content-type")
        .map(media_type)
        .unwrap_or_default();
    let binary = is_binary(&req.api.binary_media_types, media)
        || req.api.protocol == Protocol::Http
            && (!is_text(media) || std::str::from_utf8(req.body).is_err());
    if binary {
        let b64 = base64::engine::general_purpose::STANDARD.encode(req.body);
        (Value::String(b64), true)
    } else {
        (Value::String(text(req.body)), false)
    }
}

/// `identity.clientCert` (1.0) / `authentication.clientCert` (2.0), with mutual TLS.
pub fn client_cert(req: &Request<'_>) -> Option<Value> {
    let c = req.client_cert?;
    Some(json!({
        "clientCertPem": c.client_cert_pem,
        "subjectDN": c.subject_dn,
        "issuerDN": c.issuer_dn,
        "serialNumber": c.serial_number,
        "validity": {"notBefore": c.not_before, "notAfter": c.not_after},
    }))
}

/// Payload format 1.0, as a value.
pub mod v1 {
    use serde_json::{Map, Value, json};

    use super::super::Request;
    use super::*;

    /// The 1.0 event as a JSON value.
    pub fn build(req: &Request<'_>) -> Value {
        let rest = req.api.protocol == Protocol::Rest;
        let (mut headers, mut multi) =
            last_and_all(header_texts(req.head, req.data, |n| forwarded(n, true)));
        if header(req, b"x-amzn-trace-id").is_none() {
            let trace = trace_id(req);
            headers.insert("X-Amzn-Trace-Id".into(), trace.clone().into());
            multi.insert("X-Amzn-Trace-Id".into(), json!([trace]));
        }
        let (query, multi_query) = last_and_all(query_pairs(req));
        let or_null = |m: Map<String, Value>| {
            if m.is_empty() {
                Value::Null
            } else {
                Value::Object(m)
            }
        };
        let method = text(req.head.method.get(req.data));
        let (body, base64) = body(req);
        let mut event = Map::new();
        if !rest {
            event.insert("version".into(), "1.0".into());
        }
        event.insert("resource".into(), req.route.path.clone().into());
        event.insert("path".into(), event_path(req.resource_path).into());
        event.insert("httpMethod".into(), method.clone().into());
        event.insert("headers".into(), or_null(headers));
        event.insert("multiValueHeaders".into(), or_null(multi));
        event.insert("queryStringParameters".into(), or_null(query));
        event.insert(
            "multiValueQueryStringParameters".into(),
            or_null(multi_query),
        );
        event.insert(
            "pathParameters".into(),
            path_parameters(req).map_or(Value::Null, Value::Object),
        );
        event.insert(
            "stageVariables".into(),
            stage_variables(req).map_or(Value::Null, Value::Object),
        );
        event.insert("requestContext".into(), context(req, &method));
        event.insert("body".into(), body);
        event.insert("isBase64Encoded".into(), base64.into());
        Value::Object(event)
    }

    /// `path` is the resource path without the stage; a run of leading slashes becomes one
    /// (`//proxy-value` → `/proxy-value`, SPEC-NOTES §1.1), later double slashes stay.
    fn event_path(resource_path: &[u8]) -> String {
        let trimmed = resource_path
            .iter()
            .position(|&b| b != b'/')
            .map_or(&b""[..], |i| &resource_path[i..]);
        format!("/{}", text(trimmed))
    }

    fn context(req: &Request<'_>, method: &str) -> Value {
        let rest = req.api.protocol == Protocol::Rest;
        let host = text(req.host);
        let ident = |f: for<'c> fn(&super::super::Caller<'c>) -> &'c str| {
            req.caller.as_ref().map_or(Value::Null, |c| f(c).into())
        };
        let mut identity = Map::new();
        identity.insert("accessKey".into(), ident(|c| c.access_key));
        identity.insert("accountId".into(), ident(|c| c.account));
        identity.insert("caller".into(), ident(|c| c.user_arn));
        for k in [
            "cognitoAuthenticationProvider",
            "cognitoAuthenticationType",
            "cognitoIdentityId",
            "cognitoIdentityPoolId",
            "principalOrgId",
        ] {
            identity.insert(k.into(), Value::Null);
        }
        identity.insert("sourceIp".into(), req.source_ip.to_string().into());
        identity.insert("user".into(), ident(|c| c.user_arn));
        identity.insert(
            "userAgent".into(),
            header(req, b"user-agent").map_or(Value::Null, |v| text(v).into()),
        );
        identity.insert("userArn".into(), ident(|c| c.user_arn));
        if let Some(cert) = client_cert(req) {
            identity.insert("clientCert".into(), cert);
        }
        let mut ctx = Map::new();
        ctx.insert("accountId".into(), req.account_id.into());
        ctx.insert("apiId".into(), req.api.id.clone().into());
        if let Some(a) = authorizer(req) {
            ctx.insert("authorizer".into(), a);
        }
        if rest {
            // A REST stage's deployment; tollgate has none, so a stable id per API and stage.
            let deployment = resource_id(&format!("{}/{}", req.api.id, req.stage.name));
            ctx.insert("deploymentId".into(), deployment.into());
        }
        ctx.insert("domainName".into(), host.clone().into());
        ctx.insert("domainPrefix".into(), domain_prefix(&host).into());
        ctx.insert("extendedRequestId".into(), text(req.extended_id).into());
        ctx.insert("httpMethod".into(), method.into());
        ctx.insert("identity".into(), Value::Object(identity));
        ctx.insert("path".into(), text(req.path).into());
        ctx.insert("protocol".into(), "HTTP/1.1".into());
        // HTTP APIs' request id is the `apigw-requestid` (the extended id).
        let request_id = if rest {
            req.request_id
        } else {
            req.extended_id
        };
        ctx.insert("requestId".into(), text(request_id).into());
        ctx.insert("requestTime".into(), civil(req.now_ms).into());
        ctx.insert("requestTimeEpoch".into(), req.now_ms.into());
        let resource_id = if rest {
            resource_id(&req.route.path)
        } else {
            req.route.route_key.clone()
        };
        ctx.insert("resourceId".into(), resource_id.into());
        ctx.insert("resourcePath".into(), req.route.path.clone().into());
        ctx.insert("stage".into(), req.stage.name.clone().into());
        Value::Object(ctx)
    }

    /// `requestContext.authorizer`: a Lambda authorizer's `principalId` and context (strings), or
    /// a JWT's `claims` and `scopes`; absent without an authorizer.
    fn authorizer(req: &Request<'_>) -> Option<Value> {
        if let Some(g) = req.grant {
            let mut a = Map::new();
            if !g.principal_id.is_empty() {
                a.insert("principalId".into(), g.principal_id.to_string().into());
            }
            for (k, v) in g.context.iter() {
                a.insert(k.to_string(), v.to_string().into());
            }
            if req.api.protocol == Protocol::Rest {
                a.insert("integrationLatency".into(), 0.into());
            }
            return Some(Value::Object(a));
        }
        let c = req.claims?;
        Some(json!({
            "claims": claims(c),
            "scopes": scopes(c),
        }))
    }

    /// REST resources (and deployments) have a short id (`roq9wj`); tollgate derives a stable
    /// one from the path.
    fn resource_id(path: &str) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in path.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        (0..6)
            .map(|i| ALPHABET[((h >> (i * 6)) % 36) as usize] as char)
            .collect()
    }
}

/// Payload format 2.0, as a value.
pub mod v2 {
    use serde_json::{Map, Value, json};

    use super::super::Request;
    use super::*;

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
}
