use std::net::IpAddr;

use super::body::chunked_end;
use super::*;
use crate::config::Cidr;
use crate::http1::{Status, parse_request};

fn head(raw: &str) -> (RequestHead, Vec<u8>) {
    let limits = crate::config::default_http_limits();
    let mut head = RequestHead::with_limits(&limits);
    let data = raw.as_bytes().to_vec();
    assert_eq!(
        parse_request(&data, &limits, &mut head),
        Ok(Status::Complete)
    );
    (head, data)
}

fn cidr(s: &str) -> Cidr {
    crate::config::cidr::parse_cidr(s).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn the_client_address_comes_from_forwarded_for_only_behind_a_trusted_proxy() {
    let (h, d) = head(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6, 9.9.9.9\r\nX-Forwarded-For: 10.0.0.2\r\n\r\n",
    );
    let trusted = [cidr("10.0.0.0/8"), cidr("127.0.0.0/8")];
    // An untrusted peer: its own address, whatever it claims.
    assert_eq!(
        client_ip(ip("192.0.2.1"), &trusted, &h, &d),
        ip("192.0.2.1")
    );
    // A trusted peer: the right-most address that is not a trusted proxy.
    assert_eq!(client_ip(ip("127.0.0.1"), &trusted, &h, &d), ip("9.9.9.9"));
    assert_eq!(client_ip(ip("127.0.0.1"), &[], &h, &d), ip("127.0.0.1"));
    let (h, d) =
        head("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 5.5.5.5, junk, 10.0.0.3\r\n\r\n");
    assert_eq!(client_ip(ip("127.0.0.1"), &trusted, &h, &d), ip("10.0.0.3"));
}

#[test]
fn the_payload_hash_needs_the_whole_body() {
    let mut limits = crate::config::default_server().limits;
    limits.max_body_bytes = 1024;
    let (h, d) = head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab");
    assert_eq!(payload_sha256(&h, &d, &limits), None);
    let mut full = d.clone();
    full.extend_from_slice(b"cde");
    assert_eq!(
        payload_sha256(&h, &full, &limits),
        Some(sigv4::payload_sha256(b"abcde"))
    );
    let raw = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (h, d) = head(raw);
    let mut part = d.clone();
    part.extend_from_slice(b"3\r\nabc\r\n");
    assert_eq!(payload_sha256(&h, &part, &limits), None);
    part.extend_from_slice(b"2\r\nde\r\n0\r\n\r\n");
    assert_eq!(
        payload_sha256(&h, &part, &limits),
        Some(sigv4::payload_sha256(b"abcde"))
    );
    let body = &part[h.head_len..];
    assert_eq!(chunked_end(body, &limits, |_| {}), Ok(Some(body.len())));
    assert_eq!(chunked_end(b"zz\r\n", &limits, |_| {}), Err(400));
    assert_eq!(chunked_end(b"800\r\n", &limits, |_| {}), Err(413));
}

#[test]
fn access_denied_names_the_caller_and_the_method_arn() {
    let arn = "arn:aws:execute-api:us-east-1:123456789012:abc/dev/GET/pets";
    assert_eq!(
        access_denied_message(Some("arn:aws:iam::123456789012:user/alice"), arn, false),
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:123456789012:abc/dev/GET/pets"
    );
    assert!(access_denied_message(None, arn, true).starts_with("User: anonymous is not"));
    assert!(access_denied_message(None, arn, true).ends_with("/GET/pets with an explicit deny"));
}

/// One REST API `test` (stage `test`, account 123456789012, us-east-1) with `GET /pets` and
/// this resource policy.
fn snapshot(policy: serde_json::Value) -> Snapshot {
    struct One(Vec<u8>);
    impl crate::config::Loader for One {
        fn read(&self, _: &std::path::Path) -> std::io::Result<Vec<u8>> {
            Ok(self.0.clone())
        }
    }
    let doc = serde_json::json!({
        "openapi": "3.0.1", "info": {"title": "t", "version": "1"},
        "x-amazon-apigateway-policy": policy,
        "paths": {"/pets": {"get": {"x-amazon-apigateway-integration": {
            "type": "http_proxy", "httpMethod": "GET", "uri": "http://127.0.0.1:9/pets"}}}}
    });
    crate::config::load_definition(
        std::path::Path::new("/api.json"),
        &One(serde_json::to_vec(&doc).unwrap()),
    )
    .unwrap()
}

fn with_target<T>(snap: &Snapshot, peer: &str, f: impl FnOnce(&Target<'_>) -> T) -> T {
    let (h, d) = head("GET /test/pets HTTP/1.1\r\nHost: a\r\n\r\n");
    let api = &snap.apis[0];
    let t = Target {
        api,
        stage: &snap.stages[0],
        route: &api.routes[0],
        head: &h,
        data: &d,
        path: b"/test/pets",
        resource_path: b"/pets",
        peer: ip(peer),
    };
    f(&t)
}

fn status(r: Result<(), Refusal>) -> Result<(), String> {
    r.map_err(|e| match e {
        Refusal::Response { status, body, .. } => {
            format!("{status} {}", String::from_utf8_lossy(&body))
        }
        other => format!("{other:?}"),
    })
}

const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:test/test/GET/pets";

#[test]
fn the_method_arn_has_the_stage_the_method_and_the_resource_path() {
    let snap = snapshot(serde_json::json!({"Statement": []}));
    assert_eq!(
        with_target(&snap, "127.0.0.1", |t| method_arn(&snap, t)),
        ARN
    );
}

/// Before a Lambda authorizer is called, the resource policy's explicit deny refuses (Table A
/// afterwards is `lambda_auth`'s, tested black-box in tests/lambda_authorizers.rs).
#[test]
fn an_explicit_deny_refuses_before_a_lambda_authorizer() {
    let snap = snapshot(serde_json::json!({"Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*/GET/pets",
         "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}
    ]}));
    // Denied before the authorizer is called.
    let pre = with_target(&snap, "10.1.2.3", |t| status(pre_authorizer(&snap, t)));
    assert_eq!(
        pre,
        Err(format!(
            r#"403 {{"Message":"User: anonymous is not authorized to perform: execute-api:Invoke on resource: {ARN} with an explicit deny"}}"#
        ))
    );
    assert_eq!(
        with_target(&snap, "127.0.0.1", |t| status(pre_authorizer(&snap, t))),
        Ok(())
    );
}

/// JWT/Cognito: after the authorizer, the resource policy alone must allow.
#[test]
fn after_a_jwt_authorizer_the_resource_policy_must_allow() {
    let snap = snapshot(serde_json::json!({"Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}
    ]}));
    assert_eq!(
        with_target(&snap, "127.0.0.1", |t| status(after_authorizer(&snap, t))),
        Ok(())
    );
    assert!(with_target(&snap, "192.0.2.1", |t| status(after_authorizer(&snap, t))).is_err());
}
