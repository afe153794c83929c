//! Payload format 1.0 (SPEC-NOTES §1.1): REST APIs' proxy event, and HTTP APIs' with
//! `"version": "1.0"`. Header names keep the client's casing; `headers`/`queryStringParameters`
//! hold the last value, `multiValue*` every value in order; absent parts are `null`.
//! Written straight into the event's bytes ([`Json`]).

use serde_json::{Map, Value, json};

use super::event::{claims, forwarded, header, scopes};
use super::fields::{self, Headers, Scratch};
use super::json::Json;
use super::{Caller, Request};
use crate::config::Protocol;

/// Writes the 1.0 event.
pub fn write(req: &Request<'_>, j: &mut Json) {
    fields::with_scratch(|s| write_with(req, j, s));
}

fn write_with(req: &Request<'_>, j: &mut Json, s: &mut Scratch) {
    let rest = req.api.protocol == Protocol::Rest;
    let Scratch {
        headers,
        names,
        keys,
        query,
        order,
    } = s;
    let headers = Headers::of(req, headers, |n| forwarded(n, true));
    let names = names.regroup(headers.len(), |i| headers.at(i).0, order);
    let add_trace = header(req, b"x-amzn-trace-id").is_none();
    let query = query.decode(req);
    let keys = keys.regroup(query.len(), |i| query.key(i), order);
    let method = req.head.method.get(req.data);
    j.obj();
    if !rest {
        j.key("version").str("1.0");
    }
    j.key("resource").str(&req.route.path);
    j.key("path");
    event_path(j, req.resource_path);
    j.key("httpMethod").text(method);
    for multi in [false, true] {
        j.key(if multi {
            "multiValueHeaders"
        } else {
            "headers"
        });
        if headers.is_empty() && !add_trace {
            j.null();
            continue;
        }
        j.obj();
        for g in names.iter() {
            let first = g.clone().next().unwrap_or_default();
            j.key_text(headers.at(first).0);
            if multi {
                j.arr();
                g.for_each(|i| {
                    j.text(headers.at(i).1);
                });
                j.end_arr();
            } else {
                j.text(headers.at(g.last().unwrap_or(first)).1);
            }
        }
        if add_trace {
            j.key("X-Amzn-Trace-Id");
            if multi {
                j.arr();
                fields::started_trace(j, req);
                j.end_arr();
            } else {
                fields::started_trace(j, req);
            }
        }
        j.end_obj();
    }
    for multi in [false, true] {
        j.key(if multi {
            "multiValueQueryStringParameters"
        } else {
            "queryStringParameters"
        });
        if query.len() == 0 {
            j.null();
            continue;
        }
        j.obj();
        for g in keys.iter() {
            let first = g.clone().next().unwrap_or_default();
            j.key_text(query.key(first));
            if multi {
                j.arr();
                g.for_each(|i| {
                    j.text(query.value(i));
                });
                j.end_arr();
            } else {
                j.text(query.value(g.last().unwrap_or(first)));
            }
        }
        j.end_obj();
    }
    if !fields::path_parameters(j, "pathParameters", req) {
        j.key("pathParameters").null();
    }
    if !fields::stage_variables(j, "stageVariables", req) {
        j.key("stageVariables").null();
    }
    j.key("requestContext");
    context(req, method, j);
    let base64 = fields::body(j, req);
    if base64.is_none() {
        j.key("body").null();
    }
    j.key("isBase64Encoded").bool(base64 == Some(true));
    j.end_obj();
}

/// `path` is the resource path without the stage; a run of leading slashes becomes one
/// (`//proxy-value` → `/proxy-value`, SPEC-NOTES §1.1), later double slashes stay.
fn event_path(j: &mut Json, resource_path: &[u8]) {
    let trimmed = resource_path
        .iter()
        .position(|&b| b != b'/')
        .map_or(&b""[..], |i| &resource_path[i..]);
    j.open_str().push_text(b"/").push_text(trimmed).close_str();
}

fn context(req: &Request<'_>, method: &[u8], j: &mut Json) {
    let rest = req.api.protocol == Protocol::Rest;
    j.obj();
    j.key("accountId").str(req.account_id);
    j.key("apiId").str(&req.api.id);
    if let Some(a) = authorizer(req) {
        j.key("authorizer").value(&a);
    }
    if rest {
        // A REST stage's deployment; tollgate has none, so a stable id per API and stage.
        j.key("deploymentId");
        let parts = [req.api.id.as_bytes(), b"/", req.stage.name.as_bytes()];
        j.text(&resource_id(&parts));
    }
    j.key("domainName").text(req.host);
    j.key("domainPrefix").text(fields::domain_prefix(req.host));
    j.key("extendedRequestId").text(req.extended_id);
    j.key("httpMethod").text(method);
    j.key("identity");
    identity(req, j);
    j.key("path").text(req.path);
    j.key("protocol").str("HTTP/1.1");
    // HTTP APIs' request id is the `apigw-requestid` (the extended id).
    let request_id = if rest {
        req.request_id
    } else {
        req.extended_id
    };
    j.key("requestId").text(request_id);
    j.key("requestTime");
    fields::civil(j, req.now_ms);
    j.key("requestTimeEpoch").u64(req.now_ms);
    j.key("resourceId");
    if rest {
        j.text(&resource_id(&[req.route.path.as_bytes()]));
    } else {
        j.str(&req.route.route_key);
    }
    j.key("resourcePath").str(&req.route.path);
    j.key("stage").str(&req.stage.name);
    j.end_obj();
}

fn identity(req: &Request<'_>, j: &mut Json) {
    let ident = |j: &mut Json, k: &str, f: for<'c> fn(&Caller<'c>) -> &'c str| {
        j.key(k);
        match &req.caller {
            Some(c) => j.str(f(c)),
            None => j.null(),
        };
    };
    j.obj();
    ident(j, "accessKey", |c| c.access_key);
    ident(j, "accountId", |c| c.account);
    ident(j, "caller", |c| c.user_arn);
    for k in [
        "cognitoAuthenticationProvider",
        "cognitoAuthenticationType",
        "cognitoIdentityId",
        "cognitoIdentityPoolId",
        "principalOrgId",
    ] {
        j.key(k).null();
    }
    j.key("sourceIp");
    fields::ip(j, req.source_ip);
    ident(j, "user", |c| c.user_arn);
    j.key("userAgent");
    match header(req, b"user-agent") {
        Some(v) => j.text(v),
        None => j.null(),
    };
    ident(j, "userArn", |c| c.user_arn);
    if let Some(c) = req.client_cert {
        j.key("clientCert");
        fields::client_cert(j, c);
    }
    j.end_obj();
}

/// `requestContext.authorizer`: a Lambda authorizer's `principalId` and context (strings), or
/// a JWT's `claims` and `scopes`; absent without an authorizer. Built as a value: a context
/// key may repeat `principalId` or `integrationLatency`, and the map settles which wins.
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
/// one from the path (`parts` concatenated).
fn resource_id(parts: &[&[u8]]) -> [u8; 6] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.iter()) {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    std::array::from_fn(|i| ALPHABET[((h >> (i * 6)) % 36) as usize])
}
