//! HTTP_PROXY integration behaviour and RELIABILITY §1.3 upstream faults (U01–U06, U08,
//! U10–U12), against the recording upstream.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;
use support::config::{any_proxy, proxy_config, proxy_config_with, rest_config, with_limits};
use support::http::{chunked, get, request};
use support::*;

fn gw_for(up: &Upstream) -> Gateway {
    Gateway::start(proxy_config(up.port()))
}

fn gw_timeout(port: u16, ms: u64) -> Gateway {
    Gateway::start(proxy_config_with(port, json!({ "timeoutInMillis": ms })))
}

#[test]
fn request_line_host_and_gateway_headers() {
    let up = Upstream::echo();
    let gw = Gateway::start(rest_config(
        json!({ "/{proxy+}": any_proxy(&up.uri("/base/{proxy}")) }),
    ));
    let mut c = gw.client();
    let r = c.roundtrip(&request(
        "GET",
        "/a/b%20c/d?x=1&y=%2F",
        &[("X-Custom", "v")],
        None,
    ));
    assert_eq!(r.status, 200, "body {}", r.body_str());
    assert_rest_ids(&r, "proxy");
    let req = r.echoed();
    assert_forwarded_form(&req, "proxy");
    assert_eq!(req.request_line(), "GET /base/a/b%20c/d?x=1&y=%2F HTTP/1.1");
    assert_eq!(
        req.headers.get_all("host"),
        [up.addr()],
        "Host is the upstream's host:port"
    );
    assert_eq!(req.header("x-custom").as_deref(), Some("v"));
    assert_eq!(
        req.header("x-amzn-apigateway-api-id").as_deref(),
        Some("tapi")
    );
    assert_eq!(req.headers.get_all("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(req.header("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(req.header("x-forwarded-port"), Some(gw.port.to_string()));
    // Each response has its own request id.
    let r2 = c.roundtrip(&get("/x"));
    assert_ne!(r.header("x-amzn-RequestId"), r2.header("x-amzn-RequestId"));
}

#[test]
fn hop_by_hop_fields_are_dropped() {
    let up = Upstream::echo();
    let gw = gw_for(&up);
    let mut c = gw.client();
    let r = c.roundtrip(&request(
        "POST",
        "/echo",
        &[
            ("Connection", "keep-alive, X-Foo, Host, Content-Length"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "trailers"),
            ("Trailer", "X-T"),
            ("Upgrade", "websocket"),
            ("X-Foo", "drop-me"),
            ("X-Bar", "keep-me"),
        ],
        Some(b"hello"),
    ));
    assert_eq!(r.status, 200);
    let req = r.echoed();
    assert_forwarded_form(&req, "hop-by-hop");
    for h in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "trailer",
        "upgrade",
        "x-foo",
    ] {
        assert!(
            !req.headers.has(h),
            "{h} must not be forwarded: {:?}",
            req.headers
        );
    }
    assert_eq!(req.header("x-bar").as_deref(), Some("keep-me"));
    assert_eq!(
        req.headers.count("host"),
        1,
        "Host named in Connection is kept"
    );
    assert_eq!(
        req.header("content-length").as_deref(),
        Some("5"),
        "Content-Length named in Connection is kept"
    );
    assert_eq!(req.body, b"hello");
    canary(&mut c, "hop-by-hop");
}

#[test]
fn forwarded_headers_from_untrusted_peers_are_replaced() {
    let up = Upstream::echo();
    let gw = gw_for(&up);
    let r = one_shot(
        &gw,
        &request(
            "GET",
            "/echo",
            &[
                ("X-Forwarded-For", "6.6.6.6"),
                ("X-Forwarded-For", "7.7.7.7"),
                ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Port", "1"),
            ],
            None,
        ),
    );
    let req = r.echoed();
    assert_eq!(req.headers.get_all("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(req.headers.get_all("x-forwarded-proto"), ["http"]);
    assert_eq!(
        req.headers.get_all("x-forwarded-port"),
        [gw.port.to_string()]
    );
}

#[test]
fn forwarded_for_from_a_trusted_proxy_is_appended_to() {
    let up = Upstream::echo();
    let mut cfg = proxy_config(up.port());
    cfg["server"]["trustedProxies"] = json!(["127.0.0.1/32"]);
    let gw = Gateway::start(cfg);
    let r = one_shot(
        &gw,
        &request("GET", "/echo", &[("X-Forwarded-For", "6.6.6.6")], None),
    );
    let req = r.echoed();
    assert_eq!(
        req.headers.get_all("x-forwarded-for").join(", "),
        "6.6.6.6, 127.0.0.1"
    );
}

#[test]
fn request_parameter_mappings() {
    let up = Upstream::echo();
    let mut cfg = proxy_config_with(
        up.port(),
        json!({ "requestParameters": {
            "integration.request.header.X-Static": "'v'",
            "integration.request.header.X-From-Header": "method.request.header.Y",
            "integration.request.header.X-From-Query": "method.request.querystring.q"
        }}),
    );
    let m =
        &mut cfg["apis"][0]["definition"]["paths"]["/{proxy+}"]["x-amazon-apigateway-any-method"];
    m["parameters"].as_array_mut().unwrap().extend([
        json!({ "name": "Y", "in": "header", "required": false, "schema": { "type": "string" } }),
        json!({ "name": "q", "in": "query", "required": false, "schema": { "type": "string" } }),
    ]);
    let gw = Gateway::start(cfg);
    let r = one_shot(&gw, &request("GET", "/echo?q=qv", &[("Y", "yv")], None));
    assert_eq!(r.status, 200, "body {}", r.body_str());
    let req = r.echoed();
    assert_eq!(req.header("x-static").as_deref(), Some("v"));
    assert_eq!(req.header("x-from-header").as_deref(), Some("yv"));
    assert_eq!(req.header("x-from-query").as_deref(), Some("qv"));
    assert_eq!(req.target, "/echo?q=qv");
}

#[test]
fn request_bodies_keep_their_framing() {
    let up = Upstream::echo();
    let gw = gw_for(&up);
    let mut c = gw.client();
    let r = c.roundtrip(&request("PUT", "/echo", &[], Some(b"length-framed")));
    let req = r.echoed();
    assert_eq!(req.header("content-length").as_deref(), Some("13"));
    assert!(!req.headers.has("transfer-encoding"));
    assert_eq!(req.body, b"length-framed");
    let mut bytes =
        b"POST /echo HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    bytes.extend_from_slice(b"5;name=value\r\nhello\r\n6;x\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
    let r = c.roundtrip(&bytes);
    let req = r.echoed();
    assert_forwarded_form(&req, "chunked upload");
    assert_eq!(
        req.header("transfer-encoding").as_deref(),
        Some("chunked"),
        "chunked stays chunked"
    );
    assert!(!req.headers.has("content-length"));
    assert!(!req.chunk_extensions, "extensions stripped");
    assert!(
        req.trailers.0.is_empty(),
        "trailers dropped: {:?}",
        req.trailers
    );
    assert_eq!(req.body, b"hello world");
}

#[test]
fn response_framing_headers_are_remapped() {
    let up = Upstream::start(Mode::static_(
        200,
        &[
            ("Server", "mock/1.0"),
            ("Date", "Mon, 01 Jan 2001 00:00:00 GMT"),
            ("Connection", "keep-alive"),
            ("X-Up", "1"),
            ("Content-Type", "text/plain"),
        ],
        b"remapped",
    ));
    let gw = gw_for(&up);
    let r = one_shot(&gw, &get("/echo"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"remapped");
    assert_eq!(
        r.header("x-amzn-Remapped-Server").as_deref(),
        Some("mock/1.0")
    );
    assert_eq!(
        r.header("x-amzn-Remapped-Date").as_deref(),
        Some("Mon, 01 Jan 2001 00:00:00 GMT")
    );
    assert_eq!(
        r.header("x-amzn-Remapped-Content-Length").as_deref(),
        Some("8")
    );
    assert_eq!(
        r.header("x-amzn-Remapped-Connection").as_deref(),
        Some("keep-alive")
    );
    let date = r.header("date").expect("the gateway sets its own Date");
    assert_ne!(date, "Mon, 01 Jan 2001 00:00:00 GMT");
    assert!(date.ends_with(" GMT"), "Date {date:?}");
    assert_ne!(r.header("server").as_deref(), Some("mock/1.0"));
    assert_eq!(r.header("x-up").as_deref(), Some("1"));
    assert_eq!(r.header("content-type").as_deref(), Some("text/plain"));
    assert_rest_ids(&r, "remap");
}

#[test]
fn five_megabyte_bodies_both_ways_are_byte_exact() {
    let up = Upstream::echo();
    let gw = gw_for(&up);
    let body = pattern(5 * 1000 * 1000);
    let mut c = gw.client();
    c.send(&request(
        "POST",
        "/big",
        &[("Content-Type", "application/octet-stream")],
        Some(&body),
    ));
    let r = c
        .read_response_within(Duration::from_secs(20), false)
        .unwrap_or_else(|e| panic!("5 MB: {e}"));
    assert_eq!(r.status, 200);
    let got = up.requests().pop().unwrap();
    assert!(
        got.body == body,
        "upstream body differs ({} bytes)",
        got.body.len()
    );
    assert!(
        r.body == got.raw,
        "response body differs from what the upstream sent back"
    );
    // chunked upload of the same bytes
    let mut bytes =
        b"POST /big HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    bytes.extend_from_slice(&chunked(&body, 100_000));
    c.send(&bytes);
    let r = c
        .read_response_within(Duration::from_secs(20), false)
        .unwrap_or_else(|e| panic!("5 MB chunked: {e}"));
    assert!(r.echoed().body == body, "chunked 5 MB body differs");
}

#[test]
fn upstream_connections_are_kept_alive() {
    let up = Upstream::echo();
    let gw = gw_for(&up);
    let mut c = gw.client();
    let mut conns = Vec::new();
    for i in 0..5 {
        let r = c.roundtrip(&get(&format!("/echo?i={i}")));
        assert_eq!(r.status, 200);
        conns.push(r.header("x-upstream-conn").unwrap());
    }
    assert_eq!(
        up.connection_count(),
        1,
        "5 sequential requests must use 1 upstream connection:\n{}",
        up.describe()
    );
    assert!(conns.iter().all(|x| x == &conns[0]));
    // Fresh client connections (possibly on the other worker) reuse the per-worker pools.
    for _ in 0..6 {
        assert_eq!(one_shot(&gw, &get("/echo")).status, 200);
    }
    assert!(
        up.connection_count() <= 2,
        "one pool per worker at most:\n{}",
        up.describe()
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let up = Upstream::echo();
    let gw = gw_for(&up);
    let mut c = gw.client();
    let mut bytes = Vec::new();
    for i in 0..5 {
        bytes.extend_from_slice(&request(
            "POST",
            &format!("/echo?i={i}"),
            &[],
            Some(format!("body-{i}").as_bytes()),
        ));
    }
    c.send(&bytes);
    for i in 0..5 {
        let r = c
            .read_response()
            .unwrap_or_else(|e| panic!("pipelined {i}: {e}"));
        let req = r.echoed();
        assert_eq!(req.target, format!("/echo?i={i}"));
        assert_eq!(req.body, format!("body-{i}").as_bytes());
    }
}

#[test]
fn http10_client_gets_the_response_then_close() {
    let up = Upstream::echo();
    let gw = gw_for(&up);
    let mut c = gw.client();
    c.send(b"GET /echo HTTP/1.0\r\nHost: gw.test\r\nConnection: keep-alive\r\n\r\n");
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 200);
    let req = r.echoed();
    assert_eq!(
        req.version, "HTTP/1.1",
        "the gateway speaks HTTP/1.1 upstream"
    );
    assert!(!req.headers.has("connection"));
    assert!(
        c.is_closed_within(Duration::from_secs(1)),
        "HTTP/1.0 client connection closed after the response (P23)"
    );
}

#[test]
fn expect_100_continue_gets_100_then_the_final_response() {
    let up = Upstream::echo();
    let gw = gw_for(&up);
    let mut c = gw.client();
    c.send(
        b"PUT /echo HTTP/1.1\r\nHost: gw.test\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    );
    let r = c
        .read_response_within(Duration::from_secs(2), false)
        .unwrap();
    assert_eq!(r.status, 100);
    c.send(b"data");
    let (_, fin) = c.read_final().unwrap();
    assert_eq!(fin.status, 200);
    assert_eq!(fin.echoed().body, b"data");
}

#[test]
fn integration_timeout_is_504() {
    let up = Upstream::start(Mode::Delay(Duration::from_secs(3)));
    let gw = gw_timeout(up.port(), 500);
    let t = Instant::now();
    let r = one_shot(&gw, &get("/slow"));
    let took = t.elapsed();
    assert_gateway_error(&r, 504, "Endpoint request timed out", None, "timeout");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(2000),
        "504 after {took:?} (timeoutInMillis 500)"
    );
}

#[test]
fn u01_connect_refused_is_502() {
    let port = upstream::refused_port();
    let gw = Gateway::start(proxy_config(port));
    let t = Instant::now();
    let r = one_shot(&gw, &get("/x"));
    assert_gateway_error(&r, 502, "Internal server error", None, "U01 GET");
    assert!(t.elapsed() < Duration::from_secs(2));
    let body = pattern(100 * 1024);
    let r = one_shot(&gw, &request("POST", "/x", &[], Some(&body)));
    assert_gateway_error(&r, 502, "Internal server error", None, "U01 POST");
}

#[test]
fn u02_connect_blackhole_times_out_as_504() {
    let bh = Blackhole::start();
    let gw = gw_timeout(bh.port, 500);
    let t = Instant::now();
    let r = one_shot(&gw, &get("/x"));
    let took = t.elapsed();
    assert_gateway_error(&r, 504, "Endpoint request timed out", None, "U02");
    assert!(took < Duration::from_millis(2500), "U02: took {took:?}");
}

#[test]
fn u03_upstream_closes_or_resets_before_responding() {
    let up = Upstream::start(Mode::CloseAfterRequest);
    let mut gw = gw_for(&up);
    let r = one_shot(&gw, &get("/fin"));
    assert_gateway_error(&r, 502, "Internal server error", None, "U03a FIN");
    up.set_mode(Mode::Reset);
    let r = one_shot(&gw, &get("/rst"));
    assert_gateway_error(&r, 502, "Internal server error", None, "U03b RST");
    // A pooled connection the upstream closed while idle.
    up.set_mode(Mode::Echo);
    let mut c = gw.client();
    assert_eq!(c.roundtrip(&get("/warm")).status, 200);
    up.close_all();
    std::thread::sleep(Duration::from_millis(100));
    let r = c.roundtrip(&get("/after-idle-close"));
    assert!(
        r.status == 200 || r.status == 502,
        "U03 pooled GET: {}",
        r.status
    );
    let r = c.roundtrip(&request("POST", "/post-once", &[], Some(b"x")));
    assert_eq!(r.status, 200);
    up.close_all();
    std::thread::sleep(Duration::from_millis(100));
    let _ = c.roundtrip(&request("POST", "/post-once-2", &[], Some(b"y")));
    let posts = up
        .requests()
        .iter()
        .filter(|r| r.target == "/post-once-2")
        .count();
    assert!(posts <= 1, "U03: a POST was replayed upstream");
    assert_eq!(c.roundtrip(&get("/fine")).status, 200);
    gw.assert_healthy();
}

#[test]
fn u04_stalled_upstream_is_504_and_the_connection_dropped() {
    let up = Upstream::start(Mode::Stall);
    let mut gw = gw_timeout(up.port(), 500);
    let r = one_shot(&gw, &get("/stall"));
    assert_gateway_error(&r, 504, "Endpoint request timed out", None, "U04");
    assert!(
        up.wait_all_closed(Duration::from_secs(2)),
        "U04: stalled upstream connection not closed:\n{}",
        up.describe()
    );
    assert!(up.conns()[0].peer_closed);
    // Partial response head, then silence.
    up.set_mode(Mode::raw(b"HTTP/1.1 200 OK\r\n", After::KeepAlive));
    let n = up.connection_count();
    let r = one_shot(&gw, &get("/partial"));
    assert!(
        r.status == 504 || r.status == 502,
        "U04 partial head: {}",
        r.status
    );
    assert!(
        super_wait(|| up.conns().iter().skip(n).all(|c| c.ended.is_some())),
        "U04: partial-head connection not closed"
    );
    gw.assert_healthy();
}

fn super_wait(f: impl FnMut() -> bool) -> bool {
    wait_until(Duration::from_secs(2), f)
}

/// Data bytes in a possibly truncated chunked body (lenient: stops at the first incomplete
/// piece).
fn chunked_data_len(mut b: &[u8]) -> usize {
    let mut n = 0;
    while let Some(eol) = find(b, b"\r\n") {
        let size = usize::from_str_radix(
            std::str::from_utf8(&b[..eol])
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or(""),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        b = &b[eol + 2..];
        n += size.min(b.len());
        if b.len() < size + 2 {
            break;
        }
        b = &b[size + 2..];
    }
    n
}

/// Read whatever the gateway sends for a broken response: either a complete 502, or a
/// truncated 200 (at most `max_body` data bytes) followed by a close. Never a complete 200.
fn truncated_or_502(c: &mut Client, max_body: usize, ctx: &str) {
    let (bytes, how) = c.read_until_closed(Duration::from_secs(3));
    assert!(
        how.is_closed(),
        "[{ctx}] client connection must be closed after a broken upstream response"
    );
    if bytes.starts_with(b"HTTP/1.1 502") {
        return;
    }
    assert!(
        bytes.starts_with(b"HTTP/1.1 200"),
        "[{ctx}] got {}",
        show(&bytes)
    );
    match support::http::parse_response(&bytes, false, false) {
        Ok(Some((r, _))) => panic!(
            "[{ctx}] a truncated upstream response was completed: {} body bytes",
            r.body.len()
        ),
        Ok(None) => {}
        Err(e) => panic!("[{ctx}] invalid bytes ({e}): {}", show(&bytes)),
    }
    let head_end = find(&bytes, b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
    let data = if head.contains("transfer-encoding: chunked") {
        chunked_data_len(&bytes[head_end..])
    } else {
        bytes.len() - head_end
    };
    assert!(
        data <= max_body,
        "[{ctx}] padded body: {data} data bytes, upstream sent {max_body}"
    );
    assert!(
        !bytes.ends_with(b"0\r\n\r\n"),
        "[{ctx}] chunked terminator added to a truncated body"
    );
}

#[test]
fn u05_reset_mid_response_truncates_and_closes() {
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
    resp.extend_from_slice(&filler(300));
    let up = Upstream::start(Mode::raw(&resp, After::Reset));
    let mut gw = gw_for(&up);
    let mut c = gw.client();
    c.send(&get("/cl"));
    truncated_or_502(&mut c, 300, "U05 CL");
    up.set_mode(Mode::raw(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n",
        After::Reset,
    ));
    let mut c = gw.client();
    c.send(&get("/chunked"));
    truncated_or_502(&mut c, 10, "U05 chunked");
    gw.assert_healthy();
}

#[test]
fn u06_invalid_response_framing_is_502() {
    let up = Upstream::echo();
    let mut gw = gw_for(&up);
    let cases: &[(&str, &[u8])] = &[
        (
            "a two CLs",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        ),
        (
            "c chunked, gzip",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ),
        (
            "d gzip",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello",
        ),
        (
            "e CL +5",
            b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
        ),
        (
            "f status 2000",
            b"HTTP/1.1 2000 OK\r\nContent-Length: 5\r\n\r\nhello",
        ),
    ];
    for (name, raw) in cases {
        up.set_mode(Mode::raw(raw, After::KeepAlive));
        let n = up.connection_count();
        let r = one_shot(&gw, &get("/bad"));
        assert_gateway_error(
            &r,
            502,
            "Internal server error",
            None,
            &format!("U06{name}"),
        );
        assert!(
            super_wait(|| up
                .conns()
                .iter()
                .skip(n.saturating_sub(1))
                .all(|c| c.ended.is_some())),
            "U06{name}: upstream connection not closed:\n{}",
            up.describe()
        );
    }
    // (b) CL + TE: 502, or TE wins (forwarded chunked/re-framed, CL removed).
    up.set_mode(Mode::raw(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", After::KeepAlive));
    let r = one_shot(&gw, &get("/clte"));
    if r.status == 200 {
        assert_eq!(r.body, b"hello", "U06b: TE wins");
    } else {
        assert_eq!(r.status, 502, "U06b");
    }
    gw.assert_healthy();
}

#[test]
fn u08_malformed_response_fields_are_never_forwarded() {
    let up = Upstream::echo();
    let gw = gw_for(&up);
    let cases: &[(&str, &[u8], bool)] = &[
        (
            "obs-fold",
            b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 2\r\n\r\nok",
            true,
        ),
        (
            "bare LF",
            b"HTTP/1.1 200 OK\nX-A: 1\nContent-Length: 2\n\nok",
            true,
        ),
        (
            "NUL",
            b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok",
            false,
        ),
        (
            "CR in Set-Cookie",
            b"HTTP/1.1 200 OK\r\nSet-Cookie: a=b\rX-Injected: 1\r\nContent-Length: 2\r\n\r\nok",
            false,
        ),
    ];
    for (name, raw, may_normalise) in cases {
        up.set_mode(Mode::raw(raw, After::KeepAlive));
        let r = one_shot(&gw, &get("/bad")); // the strict client parser rejects any CR/LF/NUL leak
        if r.status == 200 {
            assert!(*may_normalise, "U08 {name}: must be 502");
            assert!(!r.headers.has("x-injected"));
            if let Some(v) = r.header("x-a") {
                assert!(!v.contains('\r') && !v.contains('\n'), "U08 {name}");
            }
        } else {
            assert_gateway_error(
                &r,
                502,
                "Internal server error",
                None,
                &format!("U08 {name}"),
            );
        }
    }
}

#[test]
fn u10_bodiless_responses() {
    let up = Upstream::start(Mode::static_(200, &[], &[b'x'; 1000]));
    let gw = gw_for(&up);
    // (a) HEAD: headers at once, connection reusable.
    let mut c = gw.client();
    c.send(&request("HEAD", "/h", &[], None));
    let t = Instant::now();
    let r = c
        .read_response_within(Duration::from_secs(2), true)
        .unwrap_or_else(|e| panic!("U10a: {e}"));
    assert_eq!(r.status, 200);
    assert!(t.elapsed() < Duration::from_secs(1));
    up.set_mode(Mode::Echo);
    canary(&mut c, "U10a");
    // (b) 204 with 5 stray body bytes: discarded; the next exchange is clean.
    up.set_mode(Mode::raw(
        b"HTTP/1.1 204 No Content\r\n\r\nhello",
        After::KeepAlive,
    ));
    let r = c.roundtrip(&get("/nocontent"));
    assert_eq!(r.status, 204);
    up.set_mode(Mode::Echo);
    canary(&mut c, "U10b");
    canary(&mut c, "U10b again");
}

#[test]
fn u11_early_upstream_response_stops_the_upload() {
    let up = Upstream::start(Mode::EarlyRespond(1024));
    let gw = gw_for(&up);
    let mut c = gw.client();
    let total = 4 * 1024 * 1024;
    c.send(
        format!("POST /upload HTTP/1.1\r\nHost: gw.test\r\nContent-Length: {total}\r\n\r\n")
            .as_bytes(),
    );
    let mut w = c.stream.try_clone().unwrap();
    let start = Instant::now();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'u'; 16 * 1024];
        for _ in 0..(total / chunk.len()) {
            if w.write_all(&chunk).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let r = c
        .read_response_within(Duration::from_secs(5), false)
        .unwrap_or_else(|e| panic!("U11: {e}"));
    let took = start.elapsed();
    assert_eq!(
        r.status,
        413,
        "U11: the upstream's early answer is relayed (after {took:?}): {}",
        r.body_str()
    );
    assert!(
        took < Duration::from_millis(2000),
        "U11: early response took {took:?} (upload lasts ~2.6 s)"
    );
    if r.closes() {
        assert!(
            c.is_closed_within(Duration::from_secs(2)),
            "U11: Connection: close but still open"
        );
    }
    writer.join().unwrap();
    assert_eq!(up.request_count(), 0);
}

#[test]
fn u12_no_request_is_written_to_a_connection_that_had_an_error() {
    let up = Upstream::echo();
    let mut gw = gw_for(&up);
    let mut bad5 = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
    bad5.extend_from_slice(&filler(300));
    let bad: Vec<Mode> = vec![
        Mode::raw(&bad5, After::Reset),
        Mode::raw(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            After::KeepAlive,
        ),
        Mode::raw(b"HTTP/1.1 204 No Content\r\n\r\nhello", After::KeepAlive),
        Mode::raw(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
            After::KeepAlive,
        ),
    ];
    for m in bad {
        up.set_mode(m);
        let mut c = gw.client();
        c.send(&get("/bad"));
        let _ = c.read_until_closed(Duration::from_millis(500));
    }
    up.set_mode(Mode::Echo);
    let port = gw.port;
    let workers: Vec<_> = (0..3)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                for i in 0..30 {
                    let r = c.roundtrip(&get(&format!("/echo?t={t}&i={i}")));
                    assert_eq!(r.status, 200, "U12: request after upstream errors");
                    assert_eq!(r.echoed().target, format!("/echo?t={t}&i={i}"));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    for conn in up.conns() {
        if let Some(pos) = conn.requests.iter().position(|(_, m, _)| *m == "raw") {
            assert_eq!(
                pos + 1,
                conn.requests.len(),
                "U12: conn {} reused after a broken exchange:\n{}",
                conn.index,
                up.describe()
            );
        }
    }
    gw.assert_healthy();
}

fn edge_config(up: &Upstream, edge: bool) -> serde_json::Value {
    let mut cfg = proxy_config(up.port());
    cfg["apis"][0]["endpointConfiguration"] =
        json!({ "types": [if edge { "EDGE" } else { "REGIONAL" }] });
    cfg
}

#[test]
fn edge_endpoints_capitalize_names_and_sort_cookies() {
    let up = Upstream::echo();
    let gw = Gateway::start(edge_config(&up, true));
    let r = one_shot(
        &gw,
        &request(
            "GET",
            "/echo",
            &[("x-custom-thing", "1"), ("Cookie", "b=2; a=1; c=3")],
            None,
        ),
    );
    let req = r.echoed();
    assert!(
        req.headers.names().contains(&"X-Custom-Thing"),
        "EDGE: names capitalized: {:?}",
        req.headers.names()
    );
    assert_eq!(
        req.header("cookie").as_deref(),
        Some("a=1; b=2; c=3"),
        "EDGE: cookies sorted by name"
    );
}

#[test]
fn regional_endpoints_keep_names_as_sent() {
    let up = Upstream::echo();
    let gw = Gateway::start(edge_config(&up, false));
    let r = one_shot(
        &gw,
        &request(
            "GET",
            "/echo",
            &[("x-custom-thing", "1"), ("Cookie", "b=2; a=1")],
            None,
        ),
    );
    let req = r.echoed();
    assert!(
        req.headers.names().contains(&"x-custom-thing"),
        "REGIONAL: names as sent: {:?}",
        req.headers.names()
    );
    assert_eq!(req.header("cookie").as_deref(), Some("b=2; a=1"));
}

#[test]
fn proxied_request_limits_apply_per_request_not_per_connection() {
    // 3 × 600 KiB bodies on one connection with maxBodyBytes 1 MiB: all accepted.
    let up = Upstream::echo();
    let gw = Gateway::start(with_limits(
        proxy_config(up.port()),
        json!({ "maxBodyBytes": 1048576 }),
    ));
    let mut c = gw.client();
    for _ in 0..3 {
        let r = c.roundtrip(&request(
            "POST",
            "/echo",
            &[],
            Some(&vec![b'p'; 600 * 1024]),
        ));
        assert_eq!(r.status, 200);
    }
}
