//! Payload format 1.0 (SPEC-NOTES §1.1): REST APIs' proxy event, and HTTP APIs' with
//! `"version": "1.0"`. Header names keep the client's casing; `headers`/`queryStringParameters`
//! hold the last value, `multiValue*` every value in order; absent parts are `null`.

use serde_json::{Map, Value, json};

use super::Request;
use super::event::{
    body, civil, claims, client_cert, domain_prefix, forwarded, header, header_texts, last_and_all,
    path_parameters, query_pairs, scopes, stage_variables, text, trace_id,
};
use crate::config::Protocol;

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
    let ident = |f: for<'c> fn(&super::Caller<'c>) -> &'c str| {
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
