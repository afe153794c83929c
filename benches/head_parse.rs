//! HTTP/1.1 request-head parsing (httparse plus tollgate's strict checks), with the gateway's
//! default limits. `cargo bench --bench head_parse` prints ns per parse and bytes/ns for
//! heads shaped like real traffic, and for a head arriving in two reads (resumed parse).
//! An argument (`cargo bench --bench head_parse -- small`) runs only the heads whose name
//! contains it, e.g. to count one head's instructions under callgrind.

use std::hint::black_box;
use std::time::Instant;

use tollgate::config::default_http_limits;
use tollgate::http1::{Limits, RequestHead, Status, parse_request};

/// What the cache-hit scenario's load generator sends (`tools/loadgen`: one field).
const LOADGEN: &str = "GET /cached/item HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

/// What a load generator or curl sends.
const SMALL: &str =
    "GET /pets HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";

/// An API client call with a key, a JWT and a JSON body announced.
const API: &str = "POST /v1/orders?expand=items&limit=50 HTTP/1.1\r\n\
Host: abc123.execute-api.us-east-1.amazonaws.com\r\n\
User-Agent: okhttp/4.12.0\r\n\
Accept: application/json\r\n\
Content-Type: application/json; charset=utf-8\r\n\
Content-Length: 348\r\n\
x-api-key: 3k2Zx9Qm1Vb7Hn4Tp8Lr5Wd6Yc0Fg2Js1Ae3Ku\r\n\
Authorization: Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiaXNzIjoiaHR0cHM6Ly9pc3N1ZXIuZXhhbXBsZS5jb20iLCJhdWQiOiJhcGkiLCJleHAiOjE3OTk5OTk5OTl9.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtbm90LXJlYWxseS1hLXNpZ25hdHVyZQ\r\n\
X-Request-Id: 7f3e2a1c-9b8d-4e6f-a5b4-c3d2e1f0a9b8\r\n\
X-Amzn-Trace-Id: Root=1-67a2b3c4-5d6e7f8091a2b3c4d5e6f708\r\n\
Accept-Encoding: gzip\r\n\
Connection: keep-alive\r\n\r\n";

/// A browser navigation: many fields, long cookie.
fn browser() -> String {
    let mut h = String::from(
        "GET /app/dashboard?tab=metrics&range=24h HTTP/1.1\r\nHost: portal.example.com\r\n",
    );
    for (n, v) in [
        (
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
        ),
        (
            "Accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
        ),
        ("Accept-Language", "en-GB,en;q=0.9,de;q=0.8"),
        ("Accept-Encoding", "gzip, deflate, br, zstd"),
        ("Referer", "https://portal.example.com/app/home"),
        ("Sec-Fetch-Dest", "document"),
        ("Sec-Fetch-Mode", "navigate"),
        ("Sec-Fetch-Site", "same-origin"),
        ("Sec-Fetch-User", "?1"),
        (
            "Sec-Ch-Ua",
            "\"Chromium\";v=\"156\", \"Not.A/Brand\";v=\"99\"",
        ),
        ("Sec-Ch-Ua-Mobile", "?0"),
        ("Sec-Ch-Ua-Platform", "\"Linux\""),
        ("Upgrade-Insecure-Requests", "1"),
        ("Cache-Control", "max-age=0"),
        ("Priority", "u=0, i"),
    ] {
        h.push_str(&format!("{n}: {v}\r\n"));
    }
    h.push_str("Cookie: ");
    for i in 0..12 {
        h.push_str(&format!("c{i}=v{:032x}; ", i * 7919));
    }
    h.push_str("\r\n\r\n");
    h
}

fn measure(name: &str, head: &[u8], split: Option<usize>) {
    let only = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    if only.is_some_and(|o| !name.contains(o.as_str())) {
        return;
    }
    let limits: Limits = default_http_limits();
    let mut parsed = RequestHead::with_limits(&limits);
    assert_eq!(
        parse_request(head, &limits, &mut parsed),
        Ok(Status::Complete),
        "{name}"
    );
    let iterations = (200_000_000 / head.len()).clamp(20_000, 2_000_000);
    let start = Instant::now();
    for _ in 0..iterations {
        if let Some(at) = split {
            black_box(parse_request(black_box(&head[..at]), &limits, &mut parsed).ok());
        }
        black_box(parse_request(black_box(head), &limits, &mut parsed).ok());
    }
    let ns = start.elapsed().as_nanos() as f64 / iterations as f64;
    println!(
        "{name:<40} {:>5} B {ns:>8.1} ns/head {:>6.2} B/ns",
        head.len(),
        head.len() as f64 / ns
    );
}

fn main() {
    let browser = browser();
    measure("loadgen GET (Host only)", LOADGEN.as_bytes(), None);
    measure("small GET (curl)", SMALL.as_bytes(), None);
    measure("API POST (key, JWT, 12 fields)", API.as_bytes(), None);
    measure("browser GET (17 fields, cookies)", browser.as_bytes(), None);
    let half = browser.len() / 2;
    measure("browser GET in two reads", browser.as_bytes(), Some(half));
}
