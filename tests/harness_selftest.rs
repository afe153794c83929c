//! Self-test of the black-box harness (tests/support): the reference parser, the recording
//! upstream's modes, the raw client and the oracles. Runs without a working gateway.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::time::{Duration, Instant};

use support::http::{self, BodyFraming, parse_request, parse_response};
use support::*;

#[test]
fn parser_accepts_well_formed_requests() {
    let raw = b"POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let (r, used) = parse_request(raw).unwrap().unwrap();
    assert_eq!(r.request_line(), "POST /a?b=1 HTTP/1.1");
    assert_eq!(r.body, b"hello");
    assert_eq!(r.path(), "/a");
    assert_eq!(r.query(), Some("b=1"));
    let (r2, used2) = parse_request(&raw[used..]).unwrap().unwrap();
    assert_eq!(r2.method, "GET");
    assert_eq!(used + used2, raw.len());

    let chunked = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nX-T: a\r\n\r\n";
    let (r, used) = parse_request(chunked).unwrap().unwrap();
    assert_eq!(used, chunked.len());
    assert_eq!(r.body, b"helloabc");
    assert!(r.chunk_extensions);
    assert_eq!(r.trailers.get("x-t").as_deref(), Some("a"));
    assert_eq!(r.framing, BodyFraming::Chunked);

    // obs-text in values is kept byte-exact
    let (r, _) = parse_request(b"GET / HTTP/1.1\r\nHost: x\r\nX-User: \xa0admin\xa0\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(r.headers.get_raw("x-user").unwrap(), b"\xa0admin\xa0");
}

#[test]
fn parser_reports_incomplete_input() {
    assert!(
        parse_request(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .unwrap()
            .is_none()
    );
    assert!(
        parse_request(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel")
            .unwrap()
            .is_none()
    );
    assert!(
        parse_request(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        )
        .unwrap()
        .is_none()
    );
}

#[test]
fn parser_rejects_malformed_requests() {
    let bad: &[&[u8]] = &[
        b"GET / HTTP/1.1\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: 1\r\n folded\r\n\r\n",
        b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.2\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX Y: z\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\nhello\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nZ0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n",
    ];
    for b in bad {
        assert!(parse_request(b).is_err(), "should reject: {}", show(b));
    }
}

#[test]
fn parser_reads_responses() {
    let (r, _) = parse_response(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        false,
        false,
    )
    .unwrap()
    .unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
    // close-delimited needs EOF
    assert!(
        parse_response(b"HTTP/1.1 200 OK\r\n\r\nabc", false, false)
            .unwrap()
            .is_none()
    );
    let (r, _) = parse_response(b"HTTP/1.1 200 OK\r\n\r\nabc", false, true)
        .unwrap()
        .unwrap();
    assert_eq!(r.body, b"abc");
    // HEAD: no body despite CL
    let (r, used) = parse_response(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
        true,
        false,
    )
    .unwrap()
    .unwrap();
    assert!(r.body.is_empty() && used > 0);
    let (r, _) = parse_response(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        false,
        false,
    )
    .unwrap()
    .unwrap();
    assert_eq!(r.body, b"ok");
    assert!(parse_response(b"HTTP/1.1 2000 OK\r\n\r\n", false, true).is_err());
    assert!(
        parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            false,
            true
        )
        .is_err()
    );
    let (r, _) = parse_response(b"HTTP/1.1 204 No Content\r\n\r\n", false, false)
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 204);
    let j = parse_response(
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 16\r\n\r\n{\"message\":\"x\"}\n",
        false,
        false,
    )
    .unwrap()
    .unwrap()
    .0;
    assert_eq!(j.message().as_deref(), Some("x"));
}

#[test]
fn echo_upstream_records_exact_bytes_and_reflects_them() {
    let up = Upstream::echo();
    let mut c = Client::connect(up.port());
    let r1 = http::request("POST", "/one?x=1", &[("X-A", "b")], Some(b"hello"));
    let r2 = http::get("/two");
    let mut both = r1.clone();
    both.extend_from_slice(&r2);
    c.send(&both);
    let a = c.read_response().unwrap();
    let b = c.read_response().unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(a.body, r1);
    assert_eq!(b.body, r2);
    assert_eq!(a.header("x-upstream-conn").as_deref(), Some("0"));
    assert_eq!(b.header("x-upstream-req").as_deref(), Some("1"));
    assert_eq!(a.echoed().body, b"hello");
    assert!(up.wait_requests(2, Duration::from_secs(2)));
    let conns = up.conns();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].bytes, both);
    assert_eq!(up.requests()[1].target, "/two");
    drop(c);
    assert!(wait_until(Duration::from_secs(2), || up.conns()[0].peer_closed));
    // HEAD gets headers only
    let mut c = Client::connect(up.port());
    c.send(&http::request("HEAD", "/h", &[], None));
    let h = c.read_head_response().unwrap();
    assert!(h.body.is_empty());
    assert!(c.silent_for(Duration::from_millis(100)));
    // Connection: close is honoured
    c.send(&http::request(
        "GET",
        "/c",
        &[("Connection", "close")],
        None,
    ));
    let r = c.read_response().unwrap();
    assert!(r.closes());
    assert!(c.is_closed_within(Duration::from_secs(1)));
}

#[test]
fn bytewise_writes_reach_the_upstream_intact() {
    let up = Upstream::echo();
    let mut c = Client::connect(up.port());
    let req = http::request("POST", "/slow", &[], Some(b"abc"));
    c.send_mode(&req, WriteMode::Bytewise).unwrap();
    let r = c.read_response().unwrap();
    assert_eq!(r.body, req);
}

#[test]
fn static_and_raw_modes() {
    let up = Upstream::start(Mode::static_(201, &[("Server", "mock/1.0")], b"made"));
    let mut c = Client::connect(up.port());
    let r = c.roundtrip(&http::get("/"));
    assert_eq!((r.status, r.body_str().as_str()), (201, "made"));
    assert_eq!(r.header("server").as_deref(), Some("mock/1.0"));

    up.set_mode(Mode::raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nraw",
        After::Close,
    ));
    let r = c.roundtrip(&http::get("/"));
    assert_eq!(r.body, b"raw");
    assert!(c.is_closed_within(Duration::from_secs(1)));
    let modes: Vec<&str> = up.conns()[0].requests.iter().map(|(_, m, _)| *m).collect();
    assert_eq!(modes, ["static", "raw"]);
}

#[test]
fn reset_and_close_modes_answer_nothing() {
    let up = Upstream::start(Mode::Reset);
    let mut c = Client::connect(up.port());
    c.send(&http::get("/"));
    let (bytes, how) = c.read_until_closed(Duration::from_secs(2));
    assert!(bytes.is_empty());
    assert_eq!(how, Closed::Reset);

    up.set_mode(Mode::CloseAfterRequest);
    let mut c = Client::connect(up.port());
    c.send(&http::get("/"));
    let (bytes, how) = c.read_until_closed(Duration::from_secs(2));
    assert!(bytes.is_empty());
    assert_eq!(how, Closed::Eof);

    up.set_mode(Mode::CloseAfterBytes(4));
    let mut c = Client::connect(up.port());
    c.send(b"GET ");
    assert!(c.is_closed_within(Duration::from_secs(2)));
    assert_eq!(up.conns()[2].bytes, b"GET ");
    assert_eq!(up.request_count(), 2);
}

#[test]
fn stall_mode_never_answers_and_notices_the_peer_closing() {
    let up = Upstream::start(Mode::Stall);
    let mut c = Client::connect(up.port());
    c.send(&http::get("/"));
    assert!(c.silent_for(Duration::from_millis(300)));
    assert_eq!(up.request_count(), 1);
    drop(c);
    assert!(wait_until(Duration::from_secs(2), || up.conns()[0].peer_closed));
}

#[test]
fn drip_and_delay_take_their_time() {
    let up = Upstream::start(Mode::drip(10, 2, Duration::from_millis(60)));
    let mut c = Client::connect(up.port());
    let t = Instant::now();
    let r = c.roundtrip(&http::get("/"));
    assert!(
        t.elapsed() >= Duration::from_millis(280),
        "drip too fast: {:?}",
        t.elapsed()
    );
    assert_eq!(r.body, filler(10));

    up.set_mode(Mode::Delay(Duration::from_millis(300)));
    let t = Instant::now();
    let r = c.roundtrip(&http::get("/d"));
    assert!(t.elapsed() >= Duration::from_millis(290));
    assert_eq!(r.echoed().target, "/d");
}

#[test]
fn early_respond_answers_before_the_body_is_complete() {
    let up = Upstream::start(Mode::EarlyRespond(1024));
    let mut c = Client::connect(up.port());
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    c.send(&vec![b'a'; 2048]);
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 413);
    assert!(r.closes());
    assert_eq!(up.request_count(), 0);
}

#[test]
fn close_all_closes_idle_keepalive_connections() {
    let up = Upstream::echo();
    let mut c = Client::connect(up.port());
    c.roundtrip(&http::get("/"));
    up.close_all();
    assert!(c.is_closed_within(Duration::from_secs(1)));
    assert!(up.conns()[0].closed_by_us);
}

#[test]
fn refused_and_blackholed_ports() {
    let p = upstream::refused_port();
    assert!(Client::try_connect(p).is_err());
    let bh = Blackhole::start();
    let t = Instant::now();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], bh.port));
    let r = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500));
    assert!(r.is_err(), "blackhole accepted a connection");
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "blackhole connect failed fast: {:?}",
        r
    );
}

#[test]
fn client_detects_close_and_silence() {
    let up = Upstream::start(Mode::raw(b"", After::Close));
    let mut c = Client::connect(up.port());
    c.send(&http::get("/"));
    assert!(c.is_closed_within(Duration::from_secs(1)));
    let up2 = Upstream::start(Mode::Stall);
    let mut c = Client::connect(up2.port());
    let t = Instant::now();
    assert!(!c.is_closed_within(Duration::from_millis(200)));
    assert!(t.elapsed() < Duration::from_secs(1));
    let (_, how) = c.read_until_closed(Duration::from_millis(100));
    assert_eq!(how, Closed::TimedOut);
    let e = c
        .read_response_within(Duration::from_millis(100), false)
        .unwrap_err();
    assert!(e.contains("timed out"), "{e}");
}

#[test]
fn forwarded_form_oracle() {
    let (good, _) = parse_request(
        b"GET /x HTTP/1.1\r\nHost: 127.0.0.1:1\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n",
    )
    .unwrap()
    .unwrap();
    assert_forwarded_form(&good, "good");
    for bad in [
        &b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"[..],
        b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /x HTTP/1.0\r\nHost: a\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;e\r\na\r\n0\r\n\r\n",
    ] {
        let (r, _) = parse_request(bad).unwrap().unwrap();
        let res = std::panic::catch_unwind(|| assert_forwarded_form(&r, "bad"));
        assert!(res.is_err(), "oracle accepted {}", show(bad));
    }
}

#[test]
fn reject_oracle_on_a_fake_gateway() {
    // A one-shot "gateway" that rejects like tollgate should; the oracle must accept it, and
    // must refuse the same reply without `Connection: close`.
    for (reply, ok) in [
        (&b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 25\r\n\r\n{\"message\":\"Bad Request\"}"[..], true),
        (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 25\r\n\r\n{\"message\":\"Bad Request\"}", false),
    ] {
        let fake = Upstream::start(Mode::raw(reply, After::Close));
        let up = Upstream::echo();
        let mark = up.mark();
        let mut c = Client::connect(fake.port());
        c.send(&http::get("/"));
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert_reject(&mut c, &up, mark, &[400], "fake");
        }));
        assert_eq!(res.is_ok(), ok);
    }
}

#[test]
fn misc_helpers() {
    assert!(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
    assert!(!is_uuid("123e4567e89b12d3a456426614174000"));
    let p = free_port();
    assert!(p > 0);
    let path = {
        let d = TempDir::new("selftest");
        let f = d.write_atomic("a.json", b"{}");
        assert_eq!(std::fs::read(&f).unwrap(), b"{}");
        d.path.clone()
    };
    assert!(!path.exists());
    let c = support::gateway::complete_config(support::config::proxy_config(1234));
    assert!(
        c["server"]["listeners"][0]["address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(c["server"]["admin"]["address"].is_string());
    let i = &c["apis"][0]["definition"]["paths"]["/{proxy+}"]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"];
    assert_eq!(i["uri"], "http://127.0.0.1:1234/{proxy}");
    let c2 = support::config::with_limits(c, serde_json::json!({"maxBodyBytes": 5}));
    assert_eq!(c2["server"]["limits"]["maxBodyBytes"], 5);
    assert_eq!(c2["server"]["defaultApi"]["apiId"], "tapi");
    assert_eq!(pattern(1000).len(), 1000);
    assert_eq!(
        http::chunked(b"hello", 2),
        b"2\r\nhe\r\n2\r\nll\r\n1\r\no\r\n0\r\n\r\n"
    );
}

#[test]
fn gateway_start_failure_is_reported_not_hung() {
    // An invalid config: a working gateway refuses it; the current stub exits at once. Either
    // way the harness must report the exit with the log instead of waiting forever.
    let t = Instant::now();
    let opts = Options {
        ready_timeout: Duration::from_secs(5),
        ..Options::default()
    };
    let r = Gateway::try_start_with(serde_json::json!({"bogusProperty": 1}), opts);
    let err = r.err().expect("an invalid config must not start");
    assert!(
        err.contains("exited") || err.contains("did not answer"),
        "{err}"
    );
    assert!(t.elapsed() < Duration::from_secs(7));
}
