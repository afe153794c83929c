//! Lambda authorizers end to end (issue 8): a Python function implements the Lambda
//! authorizer (`scripts/lambda_authorizer.py`, ordinary handler code behind a tiny HTTP
//! endpoint that speaks the Lambda JSON), started per test on loopback and killed by PID.
//! The gateway reaches it through the gateway file's `functions`.
//!
//! REST TOKEN (allow, explicit deny, no matching Allow, `Unauthorized`, failures → 500, no
//! call for a missing token or one the validation expression refuses), REST REQUEST (header
//! and query sources), the result cache (one call for many requests, the cached policy
//! reused for another method, TTL 0, a reload that keeps it), `principalId` and `context`
//! reaching the backend through `requestParameters`, `apiKeySource: AUTHORIZER`, HTTP API
//! payload 2.0 simple responses, a function that is down or too slow.
//!
//! Needs `python3` (standard library only). Without it each test says it did not run and
//! passes — except under `CI`, where it fails.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::config::{API, STAGE, merge, openapi, stage};
use support::functions::Script;
use support::http::request;
use support::upstream::refused_port;
use support::*;

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:auth";
const AUTH_KEY: &str = "lambda-authorizer-key-0001";

/// The function's process (`scripts/lambda_authorizer.py`).
type Function = Script;

impl Function {
    /// `None` (after saying so) when python3 is missing.
    fn authorizer() -> Option<Function> {
        Function::start("lambda_authorizers", "lambda_authorizer.py", &[])
    }

    /// How many times the function ran.
    fn calls(&self) -> u64 {
        self.state()["calls"].as_u64().unwrap()
    }

    fn last_event(&self) -> Value {
        self.state()["events"]
            .as_array()
            .and_then(|e| e.last().cloned())
            .expect("the function got an event")
    }

    fn functions(&self, timeout_ms: u64) -> Value {
        json!({ "auth": {
            "url": format!("http://127.0.0.1:{}/2015-03-31/functions/auth/invocations", self.port),
            "timeoutMs": timeout_ms
        } })
    }
}

fn authorizer_uri() -> String {
    format!(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION_ARN}/invocations"
    )
}

fn scheme(authorizer: Value) -> Value {
    json!({ "type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authtype": "custom",
            "x-amazon-apigateway-authorizer": authorizer })
}

/// An HTTP_PROXY operation to the echo backend, with the authorizer's `principalId` and
/// `context` mapped to headers.
fn op(up: &Upstream, security: Value) -> Value {
    let mut m = json!({ "x-amazon-apigateway-integration": {
        "type": "http_proxy", "httpMethod": "ANY", "uri": up.uri("/backend"),
        "requestParameters": {
            "integration.request.header.X-Principal": "context.authorizer.principalId",
            "integration.request.header.X-Tier": "context.authorizer.tier",
            "integration.request.header.X-Count": "context.authorizer.count",
            "integration.request.header.X-Admin": "context.authorizer.admin"
        }
    } });
    if !security.is_null() {
        m["security"] = security;
    }
    m
}

/// REST API `tapi` (stage `prod`): `/pets` GET and POST use `tok` (TTL 300), `/fresh` uses
/// `tok0` (TTL 0), `/req` uses the REQUEST authorizer `req`, `/open` nothing.
fn rest_config(f: &Function, up: &Upstream, timeout_ms: u64) -> Value {
    let token = |ttl: u64| {
        json!({ "type": "token", "authorizerUri": authorizer_uri(),
                "identitySource": "method.request.header.Authorization",
                "identityValidationExpression": "[a-z]+",
                "authorizerResultTtlInSeconds": ttl })
    };
    let mut doc = openapi(json!({
        "/pets": { "get": op(up, json!([{ "tok": [] }])), "post": op(up, json!([{ "tok": [] }])) },
        "/fresh": { "get": op(up, json!([{ "tok0": [] }])) },
        "/req": { "get": op(up, json!([{ "req": [] }])) },
        "/open": { "get": op(up, Value::Null) }
    }));
    doc["components"] = json!({ "securitySchemes": {
        "tok": scheme(token(300)),
        "tok0": scheme(token(0)),
        "req": scheme(json!({ "type": "request", "authorizerUri": authorizer_uri(),
            "identitySource": "method.request.header.X-Key, method.request.querystring.user",
            "authorizerResultTtlInSeconds": 300 }))
    } });
    json!({
        "server": { "defaultApi": { "apiId": API, "stage": STAGE } },
        "apis": [{ "id": API, "protocolType": "REST", "definition": doc }],
        "stages": [stage(API, STAGE)],
        "functions": f.functions(timeout_ms)
    })
}

fn send(c: &mut Client, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    c.roundtrip(&request(method, path, headers, None))
}

fn with_token(c: &mut Client, method: &str, path: &str, token: &str) -> Response {
    send(c, method, path, &[("Authorization", token)])
}

fn assert_error(r: &Response, status: u16, body: &str, error_type: Option<&str>, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body_str());
    assert_eq!(r.body_str(), body, "{what}");
    assert_eq!(
        r.header("x-amzn-ErrorType").as_deref(),
        error_type,
        "{what}"
    );
}

const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;
const EXPLICIT_DENY: &str =
    r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#;
const NO_ALLOW: &str = r#"{"Message":"User is not authorized to access this resource"}"#;
const CONFIGURATION: &str = r#"{"message": null}"#;

#[test]
fn token_authorizer_allows_denies_and_fails_as_api_gateway_does() {
    let Some(f) = Function::authorizer() else {
        return;
    };
    let up = Upstream::echo();
    let gw = Gateway::start(rest_config(&f, &up, 2000));
    let mut c = gw.client();

    // Allow: the backend gets principalId and the stringified context.
    let r = with_token(&mut c, "GET", "/fresh", "allow");
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = up.requests();
    let req = seen.last().expect("the backend got the request");
    assert_eq!(req.header("X-Principal").as_deref(), Some("user-allow"));
    assert_eq!(req.header("X-Tier").as_deref(), Some("gold"));
    assert_eq!(req.header("X-Count").as_deref(), Some("3"));
    assert_eq!(req.header("X-Admin").as_deref(), Some("true"));
    let event = f.last_event();
    assert_eq!(
        event,
        json!({ "type": "TOKEN", "authorizationToken": "allow",
                "methodArn": "arn:aws:execute-api:us-east-1:123456789012:tapi/prod/GET/fresh" })
    );

    let backend = up.request_count();
    let cases = [
        ("deny", 403, EXPLICIT_DENY, Some("AccessDeniedException")),
        ("nomatch", 403, NO_ALLOW, Some("AccessDeniedException")),
        (
            "unauthorized",
            401,
            UNAUTHORIZED,
            Some("UnauthorizedException"),
        ),
        (
            "boom",
            500,
            CONFIGURATION,
            Some("AuthorizerConfigurationException"),
        ),
        (
            "badjson",
            500,
            CONFIGURATION,
            Some("AuthorizerConfigurationException"),
        ),
        (
            "nested",
            500,
            CONFIGURATION,
            Some("AuthorizerConfigurationException"),
        ),
    ];
    for (token, status, body, error_type) in cases {
        let before = f.calls();
        let r = with_token(&mut c, "GET", "/fresh", token);
        assert_error(&r, status, body, error_type, token);
        assert!(r.headers.has("x-amzn-RequestId"), "{token}");
        assert_eq!(f.calls(), before + 1, "{token}: the function ran once");
    }
    assert_eq!(
        up.request_count(),
        backend,
        "no refused request reached the backend"
    );

    // No call at all: a missing or empty token, or one the validation expression refuses.
    let before = f.calls();
    let r = send(&mut c, "GET", "/fresh", &[]);
    assert_error(
        &r,
        401,
        UNAUTHORIZED,
        Some("UnauthorizedException"),
        "no token",
    );
    let r = send(&mut c, "GET", "/fresh", &[("Authorization", "")]);
    assert_error(
        &r,
        401,
        UNAUTHORIZED,
        Some("UnauthorizedException"),
        "empty token",
    );
    let r = with_token(&mut c, "GET", "/fresh", "Allow");
    assert_error(
        &r,
        401,
        UNAUTHORIZED,
        Some("UnauthorizedException"),
        "validation",
    );
    let r = with_token(&mut c, "GET", "/fresh", "allow-1");
    assert_error(
        &r,
        401,
        UNAUTHORIZED,
        Some("UnauthorizedException"),
        "partial match",
    );
    assert_eq!(f.calls(), before, "the function was not called");
    assert_eq!(up.request_count(), backend);

    // A route without an authorizer.
    assert_eq!(send(&mut c, "GET", "/open", &[]).status, 200);
    assert_eq!(f.calls(), before);
}

#[test]
fn results_are_cached_per_token_and_reused_for_other_methods() {
    let Some(f) = Function::authorizer() else {
        return;
    };
    let up = Upstream::echo();
    // One worker: the result cache is per core.
    let mut gw = Gateway::start_one_worker(rest_config(&f, &up, 2000));
    let mut c = gw.client();

    for i in 0..5 {
        let r = with_token(&mut c, "GET", "/pets", "allow");
        assert_eq!(r.status, 200, "request {i}: {}", r.body_str());
    }
    assert_eq!(f.calls(), 1, "one call for five requests");
    // Another connection, another method: the cached wildcard policy allows it.
    let mut c2 = gw.client();
    let r = with_token(&mut c2, "POST", "/pets", "allow");
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = up.requests();
    assert_eq!(
        seen.last().unwrap().header("X-Principal").as_deref(),
        Some("user-allow"),
        "a cached result still maps its context"
    );
    assert_eq!(f.calls(), 1);

    // A policy for GET /pets only, cached, then evaluated for POST: no matching Allow.
    assert_eq!(with_token(&mut c, "GET", "/pets", "method").status, 200);
    assert_eq!(f.calls(), 2);
    let r = with_token(&mut c, "POST", "/pets", "method");
    assert_error(
        &r,
        403,
        NO_ALLOW,
        Some("AccessDeniedException"),
        "other method",
    );
    assert_eq!(f.calls(), 2, "the cached policy was reused");

    // A Deny is cached too.
    for _ in 0..3 {
        let r = with_token(&mut c, "GET", "/pets", "deny");
        assert_error(
            &r,
            403,
            EXPLICIT_DENY,
            Some("AccessDeniedException"),
            "deny",
        );
    }
    assert_eq!(f.calls(), 3);

    // TTL 0: every request calls the function.
    for _ in 0..3 {
        assert_eq!(with_token(&mut c, "GET", "/fresh", "allow").status, 200);
    }
    assert_eq!(f.calls(), 6);

    // A reload that leaves the authorizer unchanged keeps its results; one that changes it
    // (here its TTL) does not.
    let generation = gw.generation();
    let mut config = rest_config(&f, &up, 2000);
    config["apis"][0]["definition"]["paths"]["/other"] = json!({ "get": op(&up, Value::Null) });
    gw.write_config(config.clone());
    assert_eq!(gw.reload_post().status, 200);
    assert!(wait_until(Duration::from_secs(5), || gw.generation() > generation));
    let mut c = gw.client();
    assert_eq!(send(&mut c, "GET", "/other", &[]).status, 200);
    assert_eq!(with_token(&mut c, "GET", "/pets", "allow").status, 200);
    assert_eq!(f.calls(), 6, "kept over a reload");
    let generation = gw.generation();
    config["apis"][0]["definition"]["components"]["securitySchemes"]["tok"]["x-amazon-apigateway-authorizer"]
        ["authorizerResultTtlInSeconds"] = json!(60);
    gw.write_config(config);
    assert_eq!(gw.reload_post().status, 200);
    assert!(wait_until(Duration::from_secs(5), || gw.generation() > generation));
    let mut c = gw.client();
    assert_eq!(with_token(&mut c, "GET", "/pets", "allow").status, 200);
    assert_eq!(f.calls(), 7, "a changed authorizer starts afresh");
}

#[test]
fn request_authorizer_reads_headers_and_query_and_caches_by_both() {
    let Some(f) = Function::authorizer() else {
        return;
    };
    let up = Upstream::echo();
    let gw = Gateway::start_one_worker(rest_config(&f, &up, 2000));
    let mut c = gw.client();

    let unix_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    let before = unix_ms();
    let r = send(&mut c, "GET", "/req?user=ann&x=1", &[("X-Key", "allow")]);
    let after = unix_ms();
    assert_eq!(r.status, 200, "{}", r.body_str());
    let event = f.last_event();
    assert_eq!(event["type"], "REQUEST");
    // The request's time, in Unix milliseconds (a few ms of clock granularity either side).
    let epoch = event["requestContext"]["requestTimeEpoch"]
        .as_u64()
        .unwrap();
    assert!(
        (before.saturating_sub(5)..=after + 5).contains(&epoch),
        "{before} <= {epoch} <= {after}"
    );
    assert_eq!(
        event["methodArn"],
        "arn:aws:execute-api:us-east-1:123456789012:tapi/prod/GET/req"
    );
    assert_eq!(event["resource"], "/req");
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["headers"]["X-Key"], "allow");
    assert_eq!(event["multiValueHeaders"]["X-Key"], json!(["allow"]));
    assert_eq!(
        event["queryStringParameters"],
        json!({ "user": "ann", "x": "1" })
    );
    assert_eq!(event["requestContext"]["stage"], "prod");
    assert_eq!(event["requestContext"]["apiId"], "tapi");
    assert_eq!(event["requestContext"]["resourcePath"], "/req");
    assert_eq!(event["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(f.calls(), 1);

    // Same sources (other parameters may differ): cached. Another user: a new call.
    assert_eq!(
        send(&mut c, "GET", "/req?x=2&user=ann", &[("X-Key", "allow")]).status,
        200
    );
    assert_eq!(f.calls(), 1);
    assert_eq!(
        send(&mut c, "GET", "/req?user=bob", &[("X-Key", "allow")]).status,
        200
    );
    assert_eq!(f.calls(), 2);

    // Any source missing: 401 without a call.
    let r = send(&mut c, "GET", "/req", &[("X-Key", "allow")]);
    assert_error(
        &r,
        401,
        UNAUTHORIZED,
        Some("UnauthorizedException"),
        "no query",
    );
    let r = send(&mut c, "GET", "/req?user=", &[("X-Key", "allow")]);
    assert_error(
        &r,
        401,
        UNAUTHORIZED,
        Some("UnauthorizedException"),
        "empty query",
    );
    let r = send(&mut c, "GET", "/req?user=ann", &[]);
    assert_error(
        &r,
        401,
        UNAUTHORIZED,
        Some("UnauthorizedException"),
        "no header",
    );
    assert_eq!(f.calls(), 2);
}

#[test]
fn a_function_that_is_down_or_too_slow_is_a_configuration_error() {
    let Some(f) = Function::authorizer() else {
        return;
    };
    let up = Upstream::echo();

    // Too slow: the call is cut at `timeoutMs` (the function sleeps 3 s).
    let gw = Gateway::start(rest_config(&f, &up, 1000));
    let mut c = gw.client();
    let start = Instant::now();
    let r = with_token(&mut c, "GET", "/fresh", "slow");
    let took = start.elapsed();
    assert_error(
        &r,
        500,
        CONFIGURATION,
        Some("AuthorizerConfigurationException"),
        "slow",
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2800),
        "answered after {took:?}"
    );
    // The gateway still serves.
    assert_eq!(with_token(&mut c, "GET", "/fresh", "allow").status, 200);
    drop(gw);

    // Down: nothing listens where the function should be.
    let mut config = rest_config(&f, &up, 1000);
    config["functions"]["auth"]["url"] = json!(format!("http://127.0.0.1:{}/", refused_port()));
    let gw = Gateway::start(config);
    let r = with_token(&mut gw.client(), "GET", "/pets", "allow");
    assert_error(
        &r,
        500,
        CONFIGURATION,
        Some("AuthorizerConfigurationException"),
        "down",
    );
    assert_eq!(
        up.request_count(),
        1,
        "only the allowed request reached the backend"
    );
}

#[test]
fn the_api_key_can_come_from_the_authorizer() {
    let Some(f) = Function::authorizer() else {
        return;
    };
    let up = Upstream::echo();
    let mut config = rest_config(&f, &up, 2000);
    let doc = &mut config["apis"][0]["definition"];
    doc["x-amazon-apigateway-api-key-source"] = json!("AUTHORIZER");
    doc["components"]["securitySchemes"]["api_key"] =
        json!({ "type": "apiKey", "name": "x-api-key", "in": "header" });
    doc["paths"]["/pets"]["get"]["security"] = json!([{ "tok": [], "api_key": [] }]);
    merge(
        &mut config,
        json!({
            "usagePlans": [{ "id": "basic", "name": "Basic", "apiStages": [{ "apiId": API, "stage": STAGE }] }],
            "apiKeys": [{ "id": "k", "name": "K", "value": AUTH_KEY, "usagePlanIds": ["basic"] }]
        }),
    );
    let gw = Gateway::start(config);
    let mut c = gw.client();
    // `allow` answers with usageIdentifierKey = the plan's key.
    assert_eq!(with_token(&mut c, "GET", "/pets", "allow").status, 200);
    // `method` allows but names no key: the method needs one.
    let r = with_token(&mut c, "GET", "/pets", "method");
    assert_error(
        &r,
        403,
        r#"{"message":"Forbidden"}"#,
        Some("ForbiddenException"),
        "no key",
    );
    // The header does not count under AUTHORIZER.
    let r = send(
        &mut c,
        "GET",
        "/pets",
        &[("Authorization", "method"), ("x-api-key", AUTH_KEY)],
    );
    assert_eq!(r.status, 403, "{}", r.body_str());
}

#[test]
fn http_api_simple_responses_and_payload_1_0() {
    let Some(f) = Function::authorizer() else {
        return;
    };
    let up = Upstream::echo();
    let integration = json!({
        "type": "http_proxy", "httpMethod": "ANY", "uri": up.uri("/backend"),
        "payloadFormatVersion": "1.0",
        "requestParameters": { "overwrite:header.X-Who": "$context.authorizer.who" }
    });
    let mut doc = openapi(json!({
        "/items/{id}": { "get": { "x-amazon-apigateway-integration": integration } },
        "/v1": { "get": { "security": [{ "v1": [] }],
                          "x-amazon-apigateway-integration": integration } }
    }));
    doc["security"] = json!([{ "simple": [] }]);
    doc["components"] = json!({ "securitySchemes": {
        "simple": scheme(json!({
            "type": "request", "authorizerUri": authorizer_uri(),
            "authorizerPayloadFormatVersion": "2.0", "enableSimpleResponses": true,
            "identitySource": "$request.header.Authorization", "authorizerResultTtlInSeconds": 0
        })),
        "v1": scheme(json!({
            "type": "request", "authorizerUri": authorizer_uri(),
            "authorizerPayloadFormatVersion": "1.0",
            "identitySource": "$request.header.Authorization", "authorizerResultTtlInSeconds": 0
        }))
    } });
    let gw = Gateway::start(json!({
        "server": { "defaultApi": { "apiId": "h" } },
        "apis": [{ "id": "h", "protocolType": "HTTP", "definition": doc }],
        "stages": [stage("h", "$default")],
        "functions": f.functions(2000)
    }));
    let mut c = gw.client();

    let r = send(
        &mut c,
        "GET",
        "/items/7?a=1&a=2",
        &[("Authorization", "yes"), ("Cookie", "c1=x; c2=y")],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        up.requests().last().unwrap().header("X-Who").as_deref(),
        Some("simple-yes")
    );
    let event = f.last_event();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["type"], "REQUEST");
    assert_eq!(
        event["routeArn"],
        "arn:aws:execute-api:us-east-1:123456789012:h/$default/GET/items/7"
    );
    assert_eq!(event["identitySource"], json!(["yes"]));
    assert_eq!(event["routeKey"], "GET /items/{id}");
    assert_eq!(event["rawPath"], "/items/7");
    assert_eq!(event["rawQueryString"], "a=1&a=2");
    assert_eq!(event["queryStringParameters"], json!({ "a": "1,2" }));
    assert_eq!(event["cookies"], json!(["c1=x", "c2=y"]));
    assert_eq!(event["headers"]["authorization"], "yes");
    assert_eq!(event["pathParameters"], json!({ "id": "7" }));
    assert_eq!(event["requestContext"]["http"]["method"], "GET");

    let backend = up.request_count();
    let r = with_token(&mut c, "GET", "/items/7", "no");
    assert_error(
        &r,
        403,
        r#"{"message":"Forbidden"}"#,
        None,
        "isAuthorized false",
    );
    assert!(r.headers.has("apigw-requestid"));
    let calls = f.calls();
    let r = send(&mut c, "GET", "/items/7", &[]);
    assert_error(&r, 401, UNAUTHORIZED, None, "no identity source");
    assert_eq!(f.calls(), calls, "not called without its identity source");
    assert_eq!(up.request_count(), backend);

    // Payload 1.0: the policy output; a Deny is 403 Forbidden on HTTP APIs.
    let r = with_token(&mut c, "GET", "/v1?q=1", "allow");
    assert_eq!(r.status, 200, "{}", r.body_str());
    let event = f.last_event();
    assert_eq!(event["version"], "1.0");
    assert_eq!(event["type"], "REQUEST");
    assert_eq!(event["identitySource"], "allow");
    assert_eq!(
        event["methodArn"],
        "arn:aws:execute-api:us-east-1:123456789012:h/$default/GET/v1"
    );
    assert_eq!(event["queryStringParameters"], json!({ "q": "1" }));
    let r = with_token(&mut c, "GET", "/v1", "deny");
    assert_error(
        &r,
        403,
        r#"{"message":"Forbidden"}"#,
        None,
        "payload 1.0 deny",
    );
    let r = with_token(&mut c, "GET", "/v1", "boom");
    assert_error(
        &r,
        500,
        r#"{"message":"Internal Server Error"}"#,
        None,
        "payload 1.0 error",
    );
}

/// With a resource policy (API Gateway's "Lambda authorizer and resource policy" flow): an
/// explicit deny of the policy refuses before the function is called; otherwise the
/// authorizer's policy and the resource policy combine by Table A — an Allow in either lets
/// the request through, a Deny in either refuses it.
#[test]
fn a_resource_policy_combines_with_the_authorizer() {
    let Some(f) = Function::authorizer() else {
        return;
    };
    let up = Upstream::echo();
    let mut config = rest_config(&f, &up, 5000);
    config["apis"][0]["definition"]["x-amazon-apigateway-policy"] = json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
              "Resource": "execute-api:/*/GET/pets" },
            { "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
              "Resource": "execute-api:/*/POST/*",
              "Condition": { "IpAddress": { "aws:SourceIp": "127.0.0.0/8" } } }
        ]
    });
    let gw = Gateway::start(config);
    let mut c = gw.client();

    // The resource policy's explicit deny: 403 and the function is never called.
    let r = with_token(&mut c, "POST", "/pets", "allow");
    assert_eq!(r.status, 403, "{}", r.body_str());
    assert!(r.body_str().contains("explicit deny"), "{}", r.body_str());
    assert_eq!(f.calls(), 0, "denied before the authorizer");

    // The authorizer allows nothing here, the resource policy allows GET /pets: allowed.
    let r = with_token(&mut c, "GET", "/pets", "nomatch");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(f.calls(), 1);
    // Neither allows GET /fresh.
    assert_error(
        &with_token(&mut c, "GET", "/fresh", "nomatch"),
        403,
        NO_ALLOW,
        Some("AccessDeniedException"),
        "no Allow anywhere",
    );
    // The authorizer's explicit deny wins over the resource policy's Allow.
    assert_error(
        &with_token(&mut c, "GET", "/pets", "deny"),
        403,
        EXPLICIT_DENY,
        Some("AccessDeniedException"),
        "the authorizer denies",
    );
    assert_eq!(
        up.request_count(),
        1,
        "only the allowed request reached the backend"
    );
}
