//! Addressing and route matching: execute-api hosts with `/{stage}`, HTTP API `$default`,
//! custom domains with multi-level base paths, wildcard domains, `server.defaultApi`, and
//! literal > `{param}` > `{proxy+}`, explicit method > ANY.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use serde_json::{Value, json};
use support::config::{any_proxy, http_api, mock_method, rest_api, stage};
use support::http::request;
use support::*;

fn mock(body: &str) -> Value {
    mock_method(200, &[], body)
}

fn config(up: &Upstream) -> Value {
    let rest1 = rest_api(
        "rest1",
        json!({
            "/pets/dog": { "get": mock("{\"route\":\"literal\"}") },
            "/pets/{id}": { "get": mock("{\"route\":\"param\"}") },
            "/{proxy+}": any_proxy(&up.uri("/{proxy}")),
            "/m": { "get": mock("{\"route\":\"get\"}"), "x-amazon-apigateway-any-method": mock("{\"route\":\"any\"}") }
        }),
    );
    let rest2 = rest_api(
        "rest2",
        json!({ "/only": { "get": mock("{\"api\":\"rest2\"}") } }),
    );
    let http1 = http_api(
        "http1",
        json!({
            "/hello": { "get": { "x-amazon-apigateway-integration": {
                "type": "http_proxy", "httpMethod": "GET", "uri": up.uri("/hello"), "payloadFormatVersion": "1.0"
            } } }
        }),
    );
    json!({
        "server": { "defaultApi": { "apiId": "rest1", "stage": "prod" } },
        "apis": [rest1, rest2, http1],
        "stages": [stage("rest1", "prod"), stage("rest2", "prod"), stage("http1", "$default")],
        "domainNames": [
            { "domainName": "api.example.test", "basePathMappings": [
                { "basePath": "v1/orders", "apiId": "rest1", "stage": "prod" },
                { "basePath": "v2", "apiId": "rest2", "stage": "prod" }
            ] },
            { "domainName": "*.example.test", "basePathMappings": [
                { "basePath": "(none)", "apiId": "rest2", "stage": "prod" }
            ] }
        ]
    })
}

struct Fixture {
    up: Upstream,
    gw: Gateway,
}

impl Fixture {
    fn new() -> Fixture {
        let up = Upstream::echo();
        let gw = Gateway::start(config(&up));
        Fixture { up, gw }
    }

    fn send(&self, method: &str, host: &str, target: &str) -> Response {
        let host = if host.contains(':') || !host.contains("execute-api") {
            host.to_string()
        } else {
            format!("{host}:{}", self.gw.port)
        };
        one_shot(&self.gw, &request(method, target, &[("Host", &host)], None))
    }

    fn route(&self, method: &str, host: &str, target: &str) -> String {
        let r = self.send(method, host, target);
        assert_eq!(r.status, 200, "{method} {host}{target}: {}", r.body_str());
        r.json()["route"].as_str().unwrap_or_default().to_string()
    }
}

#[test]
fn execute_api_host_with_stage_prefix() {
    let f = Fixture::new();
    let h = "rest1.execute-api.localhost";
    assert_eq!(f.route("GET", h, "/prod/pets/dog"), "literal");
    let r = f.send("GET", h, "/prod/anything/here?q=1");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.echoed().target,
        "/anything/here?q=1",
        "the stage prefix is not forwarded"
    );
    assert_rest_ids(&r, "execute-api");
    // Another apiId on the same listener.
    let r = f.send("GET", "rest2.execute-api.localhost", "/prod/only");
    assert_eq!(r.json()["api"], "rest2");
}

#[test]
fn literal_beats_param_beats_greedy() {
    let f = Fixture::new();
    let h = "rest1.execute-api.localhost";
    assert_eq!(f.route("GET", h, "/prod/pets/dog"), "literal");
    assert_eq!(f.route("GET", h, "/prod/pets/cat"), "param");
    let r = f.send("GET", h, "/prod/pets/cat/toy");
    assert_eq!(
        r.echoed().target,
        "/pets/cat/toy",
        "deeper paths fall to {{proxy+}}"
    );
    let r = f.send("GET", h, "/prod/other");
    assert_eq!(r.echoed().target, "/other");
}

#[test]
fn explicit_method_beats_any() {
    let f = Fixture::new();
    let h = "rest1.execute-api.localhost";
    assert_eq!(f.route("GET", h, "/prod/m"), "get");
    assert_eq!(f.route("POST", h, "/prod/m"), "any");
    assert_eq!(f.route("DELETE", h, "/prod/m"), "any");
}

#[test]
fn unknown_stage_on_execute_api_host_is_403_forbidden() {
    let f = Fixture::new();
    let r = f.send("GET", "rest1.execute-api.localhost", "/nostage/pets/dog");
    assert_eq!(r.status, 403);
    assert_eq!(r.message().as_deref(), Some("Forbidden"));
    assert_eq!(f.up.request_count(), 0);
}

#[test]
fn unknown_resource_or_method_is_missing_authentication_token() {
    let f = Fixture::new();
    for (method, target) in [
        ("GET", "/prod/nope"),
        ("DELETE", "/prod/only"),
        ("GET", "/prod/only/deeper"),
    ] {
        let r = f.send(method, "rest2.execute-api.localhost", target);
        assert_gateway_error(
            &r,
            403,
            "Missing Authentication Token",
            Some("MissingAuthenticationTokenException"),
            &format!("{method} {target}"),
        );
    }
}

#[test]
fn http_api_default_stage_serves_without_prefix() {
    let f = Fixture::new();
    let r = f.send("GET", "http1.execute-api.localhost", "/hello");
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.echoed().target, "/hello");
    let id = r
        .header("apigw-requestid")
        .expect("HTTP API responses carry apigw-requestid");
    assert!(!id.is_empty());
    assert!(
        !r.headers.has("x-amzn-RequestId"),
        "HTTP APIs send apigw-requestid instead of x-amzn-RequestId"
    );
    // No route: 404 Not Found (not the REST 403).
    for (m, t) in [("GET", "/nothing"), ("POST", "/hello")] {
        let r = f.send(m, "http1.execute-api.localhost", t);
        assert_eq!(r.status, 404, "{m} {t}");
        assert_eq!(r.message().as_deref(), Some("Not Found"));
        assert!(r.headers.has("apigw-requestid"));
    }
}

#[test]
fn custom_domain_base_path_is_stripped() {
    let f = Fixture::new();
    assert_eq!(
        f.route("GET", "api.example.test", "/v1/orders/pets/dog"),
        "literal"
    );
    let r = f.send("GET", "api.example.test", "/v1/orders/123?x=y");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.echoed().target,
        "/123?x=y",
        "multi-level base path removed"
    );
    let r = f.send("GET", "api.example.test", "/v2/only");
    assert_eq!(r.json()["api"], "rest2");
    // Exact domain wins over the wildcard: no root mapping on api.example.test.
    let r = f.send("GET", "api.example.test", "/only");
    assert_eq!(
        r.status,
        403,
        "exact domain before wildcard: {}",
        r.body_str()
    );
    assert_eq!(r.message().as_deref(), Some("Forbidden"));
    // A base path matches whole segments only.
    let r = f.send("GET", "api.example.test", "/v1/ordersX/pets/dog");
    assert_eq!(r.status, 403, "{}", r.body_str());
}

#[test]
fn wildcard_domain_matches_subdomains() {
    let f = Fixture::new();
    for host in [
        "foo.example.test",
        "BAR.example.test",
        "foo.example.test:8443",
    ] {
        let r = f.send("GET", host, "/only");
        assert_eq!(r.status, 200, "{host}: {}", r.body_str());
        assert_eq!(r.json()["api"], "rest2", "{host}");
    }
}

#[test]
fn default_api_serves_any_other_host() {
    let f = Fixture::new();
    assert_eq!(f.route("GET", "gw.test", "/pets/dog"), "literal");
    assert_eq!(f.route("GET", "127.0.0.1", "/pets/cat"), "param");
    let r = f.send("GET", "whatever.invalid", "/x/y");
    assert_eq!(r.echoed().target, "/x/y");
}

#[test]
fn default_api_without_stage_takes_the_first_segment() {
    let up = Upstream::echo();
    let mut cfg = config(&up);
    cfg["server"]["defaultApi"] = json!({ "apiId": "rest1" });
    let gw = Gateway::start(cfg);
    let r = one_shot(&gw, &support::http::get("/prod/pets/dog"));
    assert_eq!(r.json()["route"], "literal");
    let r = one_shot(&gw, &support::http::get("/nostage/pets/dog"));
    assert_eq!(r.status, 403);
    assert_eq!(r.message().as_deref(), Some("Forbidden"));
}
