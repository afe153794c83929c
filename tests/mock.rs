//! MOCK integrations: status and body from the integration's templates, static response
//! parameters, and the identity headers every REST response carries.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::time::Duration;

use serde_json::json;
use support::config::{mock_method, mock_ok, rest_config};
use support::http::{get, request};
use support::*;

fn gw() -> Gateway {
    Gateway::start(rest_config(json!({
        "/mock": { "get": mock_ok() },
        "/created": { "post": mock_method(201, &[("Location", "/things/1"), ("X-Two", "2")], "{\"id\":1}") }
    })))
}

#[test]
fn mock_returns_the_template_status_headers_and_body() {
    let gw = gw();
    let r = one_shot(&gw, &get("/mock"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Mock").as_deref(), Some("yes"));
    assert_eq!(r.body, br#"{"ok":true}"#);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(r.header("content-length").as_deref(), Some("11"));
    assert_rest_ids(&r, "mock");
    assert!(!r.headers.has("x-amzn-ErrorType"), "not an error");
}

#[test]
fn mock_status_and_several_headers() {
    let gw = gw();
    let r = one_shot(
        &gw,
        &request(
            "POST",
            "/created",
            &[("Content-Type", "application/json")],
            Some(b"{\"name\":\"x\"}"),
        ),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.header("location").as_deref(), Some("/things/1"));
    assert_eq!(r.header("x-two").as_deref(), Some("2"));
    assert_eq!(r.json(), json!({ "id": 1 }));
}

#[test]
fn mock_connections_stay_usable_with_bodies_and_pipelining() {
    let gw = gw();
    let mut c = gw.client();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = c.roundtrip(&request("POST", "/created", &[], Some(b"ignored body")));
        assert_eq!(r.status, 201);
        ids.push(r.header("x-amzn-RequestId").unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "request ids are unique");
    let mut bytes = get("/mock");
    bytes.extend_from_slice(&request("POST", "/created", &[], Some(b"x")));
    bytes.extend_from_slice(&get("/mock"));
    c.send(&bytes);
    let statuses: Vec<u16> = (0..3).map(|_| c.read_response().unwrap().status).collect();
    assert_eq!(statuses, [200, 201, 200]);
    assert!(c.silent_for(Duration::from_millis(100)));
}

#[test]
fn mock_head_request_has_no_body() {
    let gw = gw();
    let mut c = gw.client();
    c.send(&request("HEAD", "/mock", &[], None));
    let r = c.read_head_response().unwrap();
    // HEAD is not GET: either a 403 (no HEAD method) or the GET answer without a body.
    assert!(r.status == 200 || r.status == 403, "HEAD: {}", r.status);
    assert!(r.body.is_empty());
    assert!(
        c.silent_for(Duration::from_millis(200)),
        "HEAD response must not carry body bytes: {}",
        show(&c.buf)
    );
    assert_eq!(c.roundtrip(&get("/mock")).status, 200);
}
