//! HTTP APIs: parameter mapping (`overwrite|append|remove:header.X`,
//! `…:querystring.X`, `overwrite:path`, mixed values) and the `$default` route sending the
//! whole request path (SPEC-NOTES §4, DG:http-api-parameter-mapping), seen at the upstream.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use serde_json::{Value, json};
use support::config::{http_api, stage};
use support::http::request;
use support::*;

fn proxy(uri: String, params: Value) -> Value {
    json!({ "x-amazon-apigateway-integration": {
        "type": "http_proxy", "httpMethod": "ANY", "uri": uri,
        "payloadFormatVersion": "1.0", "requestParameters": params
    } })
}

fn config(up: &Upstream) -> Value {
    let api = http_api(
        "hapi",
        json!({
            "/items/{id}": { "x-amazon-apigateway-any-method": proxy(up.uri("/backend/items"), json!({
                "overwrite:header.X-Item": "item-$request.path.id",
                "append:header.X-Tag": "from-gateway",
                "remove:header.X-Secret": "''",
                "overwrite:querystring.limit": "10",
                "append:querystring.stage": "$context.stage",
                "remove:querystring.debug": "''",
                "overwrite:header.X-Agent": "${request.header.User-Agent}/via-$context.apiId"
            })) },
            "/v1/{proxy+}": { "x-amazon-apigateway-any-method": proxy(up.uri("/ignored"), json!({
                "overwrite:path": "/api/$request.path.proxy"
            })) },
            "/$default": { "x-amazon-apigateway-any-method": {
                "isDefaultRoute": true,
                "x-amazon-apigateway-integration": {
                    "type": "http_proxy", "httpMethod": "ANY", "uri": up.uri("/base/"),
                    "payloadFormatVersion": "1.0"
                }
            } }
        }),
    );
    json!({
        "server": { "defaultApi": { "apiId": "hapi" } },
        "apis": [api],
        "stages": [stage("hapi", "$default")]
    })
}

fn send(gw: &Gateway, target: &str, headers: &[(&str, &str)]) -> Response {
    one_shot(gw, &request("GET", target, headers, None))
}

#[test]
fn header_and_query_mappings_reach_the_upstream() {
    let up = Upstream::echo();
    let gw = Gateway::start(config(&up));
    let r = send(
        &gw,
        "/items/42?limit=500&debug=1&q=x",
        &[
            ("X-Tag", "from-client"),
            ("X-Secret", "s3cret"),
            ("X-Item", "spoofed"),
            ("User-Agent", "curl/8"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert!(r.header("apigw-requestid").is_some());
    let seen = up.single_request();
    assert_eq!(seen.method, "GET");
    // overwrite:querystring drops the client's value; remove drops the parameter; others stay;
    // append adds one.
    assert_eq!(
        seen.target,
        "/backend/items?q=x&limit=10&stage=$default",
        "{}",
        show(&seen.head)
    );
    assert_eq!(
        seen.headers.get_all("X-Item"),
        ["item-42"],
        "overwrite replaces the client's value"
    );
    assert_eq!(
        seen.headers.get_all("X-Tag"),
        ["from-client", "from-gateway"],
        "append keeps the client's value"
    );
    assert!(
        seen.headers.get("X-Secret").is_none(),
        "remove drops the header: {}",
        show(&seen.head)
    );
    assert_eq!(
        seen.headers.get("X-Agent").as_deref(),
        Some("curl/8/via-hapi")
    );
}

#[test]
fn a_mapping_with_a_missing_value_is_not_applied() {
    let up = Upstream::echo();
    let gw = Gateway::start(config(&up));
    // No User-Agent: `overwrite:header.X-Agent` refers to it, so it is left out.
    let r = send(&gw, "/items/7", &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = up.single_request();
    assert!(
        seen.headers.get("X-Agent").is_none(),
        "{}",
        show(&seen.head)
    );
    assert_eq!(seen.headers.get("X-Item").as_deref(), Some("item-7"));
}

#[test]
fn overwrite_path_replaces_the_integration_path() {
    let up = Upstream::echo();
    let gw = Gateway::start(config(&up));
    let r = send(&gw, "/v1/a/b%20c?x=1", &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(up.single_request().target, "/api/a/b%20c?x=1");
}

#[test]
fn default_route_sends_the_whole_request_path() {
    let up = Upstream::echo();
    let gw = Gateway::start(config(&up));
    let r = send(&gw, "/anything/at/all?y=2", &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    // The URI's path `/base/` comes first, then the request path.
    assert_eq!(up.single_request().target, "/base/anything/at/all?y=2");
}

#[test]
fn mapping_errors_are_reported_by_path() {
    let dir = TempDir::new("http-mapping-errors");
    let bad = json!({
        "apis": [http_api("hapi", json!({
            "/a": { "get": proxy("http://127.0.0.1:9/a".into(), json!({
                "overwrite:header.Authorization": "x",
                "append:path": "/x",
                "overwrite:header.X-Body": "$request.body.name",
                "overwrite:header.X-Id": "$request.path.nope"
            })) }
        }))],
        "stages": [stage("hapi", "$default")]
    });
    let file = dir.write_atomic("gateway.json", bad.to_string().as_bytes());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("check")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let prefix =
        "$.apis[0].definition.paths./a.get.x-amazon-apigateway-integration.requestParameters";
    for expected in [
        format!(
            "{prefix}.overwrite:header.Authorization: `overwrite:header.Authorization`: header `Authorization` is reserved and cannot be mapped"
        ),
        format!(
            "{prefix}.append:path: `append:path`: the path can only be overwritten (`overwrite:path`)"
        ),
        format!(
            "{prefix}.overwrite:header.X-Body: mapping value `$request.body.name` is not supported yet"
        ),
        format!(
            "{prefix}.overwrite:header.X-Id: `$request.path.nope`: `nope` is not a path parameter of `GET /a`"
        ),
    ] {
        assert!(text.contains(&expected), "missing `{expected}` in:\n{text}");
    }
}
