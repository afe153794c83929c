//! Gateway-generated error responses: statuses, `{"message"}` bodies, `x-amzn-ErrorType` and
//! the request-id headers (SPEC-NOTES §2).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::time::Duration;

use serde_json::json;
use support::config::{mock_ok, proxy_config, rest_config, with_limits};
use support::http::{get, request};
use support::*;

#[test]
fn missing_authentication_token_for_unknown_resources_and_methods() {
    let gw = Gateway::start(rest_config(json!({ "/mock": { "get": mock_ok() } })));
    let mut c = gw.client();
    for (m, t) in [
        ("GET", "/nope"),
        ("GET", "/"),
        ("POST", "/mock"),
        ("GET", "/mock/deeper"),
    ] {
        let r = c.roundtrip(&request(m, t, &[], None));
        assert_gateway_error(
            &r,
            403,
            "Missing Authentication Token",
            Some("MissingAuthenticationTokenException"),
            &format!("{m} {t}"),
        );
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/json")
        );
        assert!(!r.closes(), "a routing error keeps the connection");
    }
    // The same connection still works.
    assert_eq!(c.roundtrip(&get("/mock")).status, 200);
}

#[test]
fn unknown_host_without_default_api_is_403_forbidden() {
    let mut cfg = rest_config(json!({ "/mock": { "get": mock_ok() } }));
    cfg["server"].as_object_mut().unwrap().remove("defaultApi");
    let gw = Gateway::start(cfg);
    let r = one_shot(&gw, &get("/mock"));
    assert_eq!(r.status, 403);
    assert_eq!(r.message().as_deref(), Some("Forbidden"));
    let id = r
        .header("x-amzn-RequestId")
        .expect("x-amzn-RequestId on every response");
    assert!(is_uuid(&id));
    // The API is still reachable on its execute-api host.
    let r = one_shot(
        &gw,
        &request(
            "GET",
            "/prod/mock",
            &[("Host", "tapi.execute-api.localhost")],
            None,
        ),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn request_too_long_is_413_with_its_message() {
    let up = Upstream::echo();
    let gw = Gateway::start(with_limits(
        proxy_config(up.port()),
        json!({ "maxBodyBytes": 1000 }),
    ));
    let mut c = gw.client();
    c.send(b"POST /echo HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 1001\r\n\r\n");
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(r.message().as_deref(), Some("Request Too Long"));
    assert!(r.closes());
    assert!(is_uuid(&r.header("x-amzn-RequestId").unwrap_or_default()));
    assert!(c.is_closed_within(Duration::from_secs(1)));
    assert_eq!(up.connection_count(), 0);
}

#[test]
fn integration_errors_are_502_and_504_with_error_types() {
    let port = upstream::refused_port();
    let gw = Gateway::start(proxy_config(port));
    let r = one_shot(&gw, &get("/x"));
    assert_gateway_error(&r, 502, "Internal server error", None, "502");
    let up = Upstream::start(Mode::Stall);
    let gw2 = Gateway::start(support::config::proxy_config_with(
        up.port(),
        json!({ "timeoutInMillis": 300 }),
    ));
    let r = one_shot(&gw2, &get("/x"));
    assert_gateway_error(&r, 504, "Endpoint request timed out", None, "504");
}

#[test]
fn malformed_requests_get_json_400_with_a_request_id() {
    let up = Upstream::echo();
    let gw = Gateway::start(proxy_config(up.port()));
    let r = reject_case(
        &gw,
        &up,
        b"GET /echo HTTP/1.1\r\nHost: gw.test\r\nContent-Length: x\r\n\r\n",
        WriteMode::OneWrite,
        &[400],
        "400",
    );
    assert!(
        is_uuid(&r.header("x-amzn-RequestId").unwrap_or_default()),
        "x-amzn-RequestId on a 400: {:?}",
        r.headers
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
}

#[test]
fn http_api_not_found_is_404() {
    let up = Upstream::echo();
    let api = support::config::http_api(
        "h1",
        json!({
            "/a": { "get": { "x-amazon-apigateway-integration": {
                "type": "http_proxy", "httpMethod": "GET", "uri": up.uri("/a"), "payloadFormatVersion": "1.0"
            } } }
        }),
    );
    let gw = Gateway::start(json!({
        "server": { "defaultApi": { "apiId": "h1", "stage": "$default" } },
        "apis": [api],
        "stages": [support::config::stage("h1", "$default")]
    }));
    let r = one_shot(&gw, &get("/b"));
    assert_eq!(r.status, 404);
    assert_eq!(r.message().as_deref(), Some("Not Found"));
    assert!(r.headers.has("apigw-requestid"));
    assert!(
        !r.headers.has("x-amzn-ErrorType"),
        "HTTP APIs do not send x-amzn-ErrorType"
    );
    let r = one_shot(&gw, &get("/a"));
    assert_eq!(r.status, 200);
}
