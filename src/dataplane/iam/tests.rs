use std::net::IpAddr;

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
