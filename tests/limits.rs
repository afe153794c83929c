//! RELIABILITY §1.2 L01–L07 with small configured limits so every case is quick:
//! headerTimeoutMs 1000, bodyTimeoutMs 1000, idleTimeoutMs 1500, maxBodyBytes 1 MiB.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;
use support::config::{proxy_config, quick_limits, with_limits};
use support::http::{get, request};
use support::*;

const MIB: usize = 1024 * 1024;

fn setup() -> (Upstream, Gateway) {
    let up = Upstream::echo();
    let cfg = with_limits(
        with_limits(proxy_config(up.port()), quick_limits()),
        json!({
            "maxHeaders": 100,
            "maxHeaderLineBytes": 8192,
            "maxHeadBytes": 65536,
            "maxTargetBytes": 8192
        }),
    );
    (up, Gateway::start(cfg))
}

fn with_headers(n: usize) -> Vec<u8> {
    let mut v = b"GET /echo HTTP/1.1\r\nHost: gw.test\r\n".to_vec();
    for i in 0..n {
        v.extend_from_slice(format!("X-N-{i}: v\r\n").as_bytes());
    }
    v.extend_from_slice(b"\r\n");
    v
}

#[test]
fn l01_header_count_limit_is_431() {
    let (up, mut gw) = setup();
    // Host + 99 = 100 fields: forwarded.
    let (_, req, _) = forward_case(
        &gw,
        &with_headers(99),
        WriteMode::OneWrite,
        "L01 100 fields",
    );
    assert_eq!(req.headers.count("x-n-98"), 1);
    // 101 fields: 431 + close, nothing upstream.
    reject_case(
        &gw,
        &up,
        &with_headers(100),
        WriteMode::OneWrite,
        &[431],
        "L01 101 fields",
    );
    gw.assert_healthy();
}

#[test]
fn l02_header_size_limits_are_431() {
    let (up, mut gw) = setup();
    let line = |name: &str, len: usize| format!("{name}: {}\r\n", "a".repeat(len));
    let head =
        |lines: &str| format!("GET /echo HTTP/1.1\r\nHost: gw.test\r\n{lines}\r\n").into_bytes();
    reject_case(
        &gw,
        &up,
        &head(&line("X-Big", 9 * 1024)),
        WriteMode::OneWrite,
        &[431],
        "L02a 9 KiB line",
    );
    let seven: String = (0..10)
        .map(|i| line(&format!("X-S{i}"), 7 * 1024))
        .collect();
    reject_case(
        &gw,
        &up,
        &head(&seven),
        WriteMode::OneWrite,
        &[431],
        "L02b 70 KiB head",
    );
    let long_name = format!("{}: v\r\n", "N".repeat(64 * 1024));
    reject_case(
        &gw,
        &up,
        &head(&long_name),
        WriteMode::OneWrite,
        &[431],
        "L02c 64 KiB name",
    );
    // (d) 40 Cookie lines of 1.5 KiB (60 KiB total) stay under every limit: forwarded.
    let cookies: String = (0..40)
        .map(|i| format!("Cookie: c{i:02}={}\r\n", "v".repeat(1500)))
        .collect();
    let (_, req, _) = forward_case(&gw, &head(&cookies), WriteMode::OneWrite, "L02d cookies");
    let all = req.headers.get_all("cookie").join("; ");
    for i in 0..40 {
        assert!(
            all.contains(&format!("c{i:02}=")),
            "L02d: cookie c{i:02} lost upstream"
        );
    }
    // Repeating (c) does not grow memory.
    let rss0 = gw.rss_kb();
    for _ in 0..20 {
        let mut c = gw.client();
        let _ = c.try_send(&head(&long_name));
        let _ = c.read_until_closed(Duration::from_secs(2));
    }
    let rss1 = gw.rss_kb();
    assert!(
        rss1 < rss0 + 16 * 1024,
        "L02: RSS grew from {rss0} KiB to {rss1} KiB over 20 oversized heads"
    );
    gw.assert_healthy();
}

#[test]
fn l03_request_target_too_long_is_414() {
    let (up, mut gw) = setup();
    let bytes = format!(
        "GET /{} HTTP/1.1\r\nHost: gw.test\r\n\r\n",
        "a".repeat(8200)
    )
    .into_bytes();
    reject_case(&gw, &up, &bytes, WriteMode::OneWrite, &[414], "L03");
    // A target just under the limit is served.
    let ok = get(&format!("/{}", "a".repeat(8000)));
    let (_, req, _) = forward_case(&gw, &ok, WriteMode::OneWrite, "L03 8001-byte target");
    assert_eq!(req.target.len(), 8001);
    gw.assert_healthy();
}

/// Trickle one byte every `every` after a partial head; returns when the gateway closed (time
/// since the first byte) and what it sent, or `None` if still open after `max`.
fn slowloris(port: u16, every: Duration, max: Duration) -> Option<(Duration, Vec<u8>)> {
    let mut c = Client::connect(port);
    let start = Instant::now();
    let _ = c.try_send(b"GET /echo HTTP/1.1\r\nHost: gw.test\r\n");
    while start.elapsed() < max {
        std::thread::sleep(every);
        let _ = c.peer_spoke();
        if c.eof || c.reset {
            break;
        }
        if c.try_send(b"x").is_err() {
            break;
        }
    }
    let (bytes, how) = c.read_until_closed(Duration::from_millis(300));
    how.is_closed().then(|| (start.elapsed(), bytes))
}

#[test]
fn l04_slowloris_header_deadline_is_total() {
    let (_up, mut gw) = setup();
    let port = gw.port;
    let loris: Vec<_> = (0..10)
        .map(|_| {
            std::thread::spawn(move || {
                slowloris(port, Duration::from_millis(200), Duration::from_secs(5))
            })
        })
        .collect();
    // A normal client is served meanwhile.
    let t = Instant::now();
    let mut c = gw.client();
    while t.elapsed() < Duration::from_millis(1500) {
        let r = c.roundtrip(&get("/echo?normal"));
        assert_eq!(r.status, 200, "L04: normal client during slowloris");
        std::thread::sleep(Duration::from_millis(50));
    }
    for h in loris {
        let (after, bytes) = h
            .join()
            .unwrap()
            .expect("L04: a trickling client was never closed (deadline extended by the trickle)");
        assert!(
            after >= Duration::from_millis(800),
            "L04: closed too early ({after:?})"
        );
        assert!(
            after <= Duration::from_millis(2500),
            "L04: header deadline 1 s not enforced ({after:?})"
        );
        if !bytes.is_empty() {
            assert!(
                bytes.starts_with(b"HTTP/1.1 408"),
                "L04: only a 408 may be sent: {}",
                show(&bytes)
            );
        }
    }
    gw.assert_healthy();
}

#[test]
fn l05_idle_connections_close_silently() {
    let (_up, mut gw) = setup();
    // (a) connect, send nothing.
    let mut a = gw.client();
    let t = Instant::now();
    let (bytes, how) = a.read_until_closed(Duration::from_secs(4));
    assert!(how.is_closed(), "L05a: idle fresh connection never closed");
    assert!(
        bytes.is_empty(),
        "L05a: close must be silent, got {}",
        show(&bytes)
    );
    assert!(
        t.elapsed() >= Duration::from_millis(700),
        "L05a: closed too early ({:?})",
        t.elapsed()
    );
    // (b) one request, then idle past idleTimeoutMs (1.5 s).
    let mut b = gw.client();
    assert_eq!(b.roundtrip(&get("/echo")).status, 200);
    let t = Instant::now();
    assert!(
        !b.is_closed_within(Duration::from_millis(800)),
        "L05b: keep-alive closed before the idle timeout"
    );
    b.send(&get("/echo?again"));
    assert_eq!(
        b.read_response().unwrap().status,
        200,
        "L05b: keep-alive reuse before the idle timeout"
    );
    let t2 = Instant::now();
    let (bytes, how) = b.read_until_closed(Duration::from_secs(4));
    assert!(how.is_closed(), "L05b: idle keep-alive never closed");
    assert!(bytes.is_empty(), "L05b: silent close, got {}", show(&bytes));
    let idle = t2.elapsed();
    assert!(
        idle >= Duration::from_millis(1200) && idle <= Duration::from_millis(3000),
        "L05b: idle close after {idle:?} (limit 1.5 s); first at {:?}",
        t.elapsed()
    );
    // (c) a request right at the deadline: served, or closed before any byte is read.
    let mut c = gw.client();
    assert_eq!(c.roundtrip(&get("/echo")).status, 200);
    std::thread::sleep(Duration::from_millis(1450));
    let _ = c.try_send(&get("/echo?edge"));
    match c.read_response() {
        Ok(r) => assert_eq!(r.status, 200, "L05c: served at the edge"),
        Err(_) => assert!(
            c.buf.is_empty() && (c.eof || c.reset),
            "L05c: closed with bytes: {}",
            show(&c.buf)
        ),
    }
    gw.assert_healthy();
}

#[test]
fn l06_slow_body_gets_408_and_aborts_the_upstream() {
    let (up, mut gw) = setup();
    let mark = up.mark();
    let mut c = gw.client();
    c.send(b"POST /echo HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 1000000\r\n\r\n");
    c.send(&[b'a'; 100]);
    let t = Instant::now();
    let r = c
        .read_response_within(Duration::from_secs(4), false)
        .unwrap_or_else(|e| panic!("L06: no 408: {e}"));
    let after = t.elapsed();
    assert_eq!(r.status, 408, "L06: body {}", r.body_str());
    assert!(r.closes(), "L06: 408 with Connection: close");
    assert!(
        after >= Duration::from_millis(700) && after <= Duration::from_millis(2500),
        "L06: 408 after {after:?} (bodyTimeoutMs 1000)"
    );
    assert!(c.is_closed_within(Duration::from_secs(1)));
    assert_no_complete_request_since(&up, mark, "L06");
    gw.assert_healthy();
}

#[test]
fn l07_body_too_large_is_413() {
    let (up, mut gw) = setup();
    // (a) declared length over the limit: 413 before reading the body, then close.
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: gw.test\r\nContent-Length: {}\r\n\r\n",
        MIB + 1
    );
    let r = reject_case(
        &gw,
        &up,
        head.as_bytes(),
        WriteMode::OneWrite,
        &[413],
        "L07a",
    );
    assert_eq!(r.message().as_deref(), Some("Request Too Long"));
    // Exactly the limit is fine.
    let body = pattern(MIB);
    let mut c = gw.client();
    let r = c.roundtrip(&request("POST", "/echo", &[], Some(&body)));
    assert_eq!(
        r.status, 200,
        "L07: a body of exactly maxBodyBytes is accepted"
    );
    assert_eq!(r.echoed().body.len(), MIB);
    // (b) a chunked stream crossing the limit: 413 (or abort) when crossing, then close.
    let mark = up.mark();
    let mut c = gw.client();
    c.send(b"POST /echo HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n");
    let mut w = c.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'z'; 64 * 1024];
        for _ in 0..20 {
            let mut v = format!("{:x}\r\n", chunk.len()).into_bytes();
            v.extend_from_slice(&chunk);
            v.extend_from_slice(b"\r\n");
            if w.write_all(&v).is_err() {
                return;
            }
        }
        let _ = w.write_all(b"0\r\n\r\n");
    });
    assert_streaming_reject(&mut c, &up, mark, &[413], true, "L07b");
    writer.join().unwrap();
    gw.assert_healthy();
}
