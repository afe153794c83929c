//! Connection-level limits beyond the head/body limits: RELIABILITY L08 (connection cap per
//! worker: extra connections wait in the kernel backlog and are served once one closes), L10
//! (a client that stops reading a big response is cut after the send timeout, and the
//! gateway's memory stays bounded meanwhile) and L11 (idle keep-alive connections are cheap).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::json;
use support::config::{mock_ok, proxy_config, rest_config, with_limits};
use support::http::get;
use support::*;

#[test]
fn l08_connections_over_the_cap_wait_and_are_served_when_one_closes() {
    let config = with_limits(
        rest_config(json!({ "/hello": { "get": mock_ok() } })),
        json!({ "maxConnectionsPerWorker": 2 }),
    );
    let gw = Gateway::start_one_worker(config);
    let mut first = gw.client();
    let mut second = gw.client();
    assert_eq!(first.roundtrip(&get("/hello")).status, 200);
    assert_eq!(second.roundtrip(&get("/hello")).status, 200);
    // The third connection completes its handshake in the kernel backlog but is not
    // accepted, so its request is not answered while two connections are open.
    let mut third = gw.client();
    third.send(&get("/hello"));
    assert!(
        third.silent_for(Duration::from_millis(600)),
        "L08: a connection over the cap was served"
    );
    // Existing connections keep working.
    assert_eq!(second.roundtrip(&get("/hello")).status, 200);
    drop(first);
    let r = third
        .read_response_within(Duration::from_secs(3), false)
        .unwrap_or_else(|e| panic!("L08: the waiting connection is served once one closes: {e}"));
    assert_eq!(r.status, 200);
}

#[test]
fn l10_a_client_that_stops_reading_is_cut_and_memory_stays_bounded() {
    const BODY: usize = 64 * 1024 * 1024;
    let up = Upstream::start(Mode::static_(200, &[], &vec![b'x'; BODY]));
    let config = with_limits(proxy_config(up.port()), json!({ "sendTimeoutMs": 1000 }));
    let gw = Gateway::start(config);
    let rss_before = gw.rss_kb();
    let mut c = gw.client();
    c.send(&get("/big"));
    // Read nothing for a while: the gateway must not buffer the upstream's 64 MiB.
    std::thread::sleep(Duration::from_millis(2500));
    let rss_grown_mb = gw.rss_kb().saturating_sub(rss_before) / 1024;
    assert!(
        rss_grown_mb < 16,
        "L10: RSS grew by {rss_grown_mb} MiB while the client did not read"
    );
    // Then read as fast as possible: the connection was cut after the send timeout, so the
    // client sees the end well before the full body.
    c.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    let mut total = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match c.stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "L10: the stalled connection was never closed"
        );
    }
    assert!(
        total < BODY,
        "L10: the whole body arrived ({total} bytes): the send timeout did not apply"
    );
    gw.client().roundtrip(&get("/after"));
}

#[test]
fn l11_idle_keep_alive_connections_cost_little_memory() {
    const N: usize = 1000;
    let config = rest_config(json!({ "/hello": { "get": mock_ok() } }));
    let gw = Gateway::start_one_worker(config);
    let rss_before = gw.rss_kb();
    let mut clients: Vec<Client> = (0..N).map(|_| gw.client()).collect();
    for c in &mut clients {
        assert_eq!(c.roundtrip(&get("/hello")).status, 200);
    }
    // Idle connections park (give back their buffers) after about 100 ms; the worker's next
    // tick frees the surplus buffers and returns the pages to the OS. Measuring the moment the
    // last one parks would race that tick (and lose it on a loaded machine), so allow a few.
    wait_until_waiting(&gw, N);
    // RELIABILITY L11 suggests ≤ 8 KiB per idle connection, and issue 3 aims at 4 KiB: that is
    // measured on the release build by `benches/run --scenario idle-10k`. Tests run the debug
    // build, whose futures are several times larger, so the budget here is looser.
    const BUDGET: u64 = 24 * 1024;
    let deadline = Instant::now() + Duration::from_secs(3);
    let per_conn = loop {
        let per_conn = gw.rss_kb().saturating_sub(rss_before) * 1024 / N as u64;
        if per_conn <= BUDGET || Instant::now() >= deadline {
            break per_conn;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!("{per_conn} bytes RSS per idle keep-alive connection ({N} connections)");
    assert!(
        per_conn <= BUDGET,
        "L11: {per_conn} bytes per idle keep-alive connection, 3 s after all {N} parked"
    );
    for c in clients.iter_mut().step_by(97) {
        assert_eq!(c.roundtrip(&get("/hello")).status, 200);
    }
}

#[test]
fn l11_connections_holding_a_partial_header_cost_their_bytes_plus_a_bounded_budget() {
    const N: usize = 1000;
    let config = rest_config(json!({ "/hello": { "get": mock_ok() } }));
    let gw = Gateway::start_one_worker(config);
    let rss_before = gw.rss_kb();
    let partial = format!(
        "GET /hello HTTP/1.1\r\nHost: x\r\nX-Pad: {}",
        "p".repeat(7 * 1024)
    );
    let mut clients: Vec<Client> = (0..N).map(|_| gw.client()).collect();
    for c in &mut clients {
        c.send(partial.as_bytes());
    }
    // Let the gateway read them all (a partial head is never parked: it holds its bytes).
    std::thread::sleep(Duration::from_millis(500));
    let per_conn = gw.rss_kb().saturating_sub(rss_before) * 1024 / N as u64;
    println!("{per_conn} bytes RSS per connection holding a 7 KiB partial header");
    // L11 suggests ≤ 16 KiB + the partial bytes; as above, this is the debug build's budget.
    assert!(
        per_conn <= 32 * 1024 + partial.len() as u64,
        "L11: {per_conn} bytes per connection with a 7 KiB partial header"
    );
    // Each completes and is answered.
    for c in clients.iter_mut().step_by(97) {
        assert_eq!(c.roundtrip(b"\r\n\r\n").status, 200);
    }
}

/// Wait (bounded) until the admin status shows `n` parked connections.
fn wait_until_waiting(gw: &Gateway, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting = gw.status()["connectionsWaiting"].as_u64().unwrap_or(0);
        if waiting as usize >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {waiting} of {n} idle connections parked within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn with_driver(mut config: serde_json::Value, driver: &str) -> serde_json::Value {
    config["server"]["ioDriver"] = json!(driver);
    config
}

/// A keep-alive connection idle past the park delay gives back its buffers (admin
/// `connectionsWaiting`) and serves its next request as before, on every IO driver: the
/// cancelled read loses nothing.
#[test]
fn parked_connections_serve_their_next_request_on_every_driver() {
    for driver in ["uring", "uring-coop", "uring-defer-taskrun", "legacy"] {
        let config = with_driver(
            rest_config(json!({ "/hello": { "get": mock_ok() } })),
            driver,
        );
        let gw = Gateway::start_one_worker(config);
        let mut clients: Vec<Client> = (0..4).map(|_| gw.client()).collect();
        for c in &mut clients {
            assert_eq!(c.roundtrip(&get("/hello")).status, 200, "{driver}");
        }
        wait_until_waiting(&gw, 4);
        // One request, two pipelined, one sent a byte at a time: all answered.
        assert_eq!(clients[0].roundtrip(&get("/hello")).status, 200, "{driver}");
        let mut two = get("/hello");
        two.extend_from_slice(&get("/hello"));
        clients[1].send(&two);
        assert_eq!(clients[1].read_response().unwrap().status, 200, "{driver}");
        assert_eq!(clients[1].read_response().unwrap().status, 200, "{driver}");
        assert!(
            clients[2]
                .send_bytewise(&get("/hello"), Duration::from_millis(1))
                .unwrap()
        );
        assert_eq!(clients[2].read_response().unwrap().status, 200, "{driver}");
        assert_eq!(
            gw.status()["connectionsWaiting"],
            1,
            "{driver}: only one still idle"
        );
        // A parked connection that the client closes is closed and uncounted.
        drop(clients);
        let deadline = Instant::now() + Duration::from_secs(5);
        while gw.status()["connections"] != 0 {
            assert!(
                Instant::now() < deadline,
                "{driver}: closed connections still counted"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(gw.status()["connectionsWaiting"], 0, "{driver}");
    }
}

/// Requests that arrive while a connection is parking (the read is being cancelled) are
/// never lost: many connections send their second request around the park delay.
#[test]
fn requests_racing_the_park_are_not_lost() {
    let config = rest_config(json!({ "/hello": { "get": mock_ok() } }));
    let gw = Gateway::start_one_worker(config);
    let mut clients: Vec<Client> = (0..60).map(|_| gw.client()).collect();
    for round in 0..3 {
        for c in &mut clients {
            assert_eq!(c.roundtrip(&get("/hello")).status, 200);
        }
        let sent_at = Instant::now();
        for (i, c) in clients.iter_mut().enumerate() {
            // Spread the second requests over 80–120 ms after the first responses.
            let at = sent_at + Duration::from_micros(80_000 + (i as u64 * 40_000 / 60));
            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            c.send(&get("/hello"));
        }
        for (i, c) in clients.iter_mut().enumerate() {
            let r = c
                .read_response_within(Duration::from_secs(5), false)
                .unwrap_or_else(|e| panic!("round {round}, connection {i}: {e}"));
            assert_eq!(r.status, 200);
        }
    }
}

/// Parking never extends the idle timeout: a parked connection is closed silently once the
/// timeout passes (within one worker tick).
#[test]
fn l05_parked_connections_still_close_at_the_idle_timeout() {
    let config = with_limits(
        rest_config(json!({ "/hello": { "get": mock_ok() } })),
        json!({ "idleTimeoutMs": 600 }),
    );
    let gw = Gateway::start_one_worker(config);
    let mut c = gw.client();
    assert_eq!(c.roundtrip(&get("/hello")).status, 200);
    let idle_from = Instant::now();
    wait_until_waiting(&gw, 1);
    let closed_after = closes_silently(&mut c, idle_from);
    assert!(
        closed_after >= Duration::from_millis(550) && closed_after < Duration::from_millis(2500),
        "L05: closed {closed_after:?} after the last response (idle timeout 600 ms)"
    );
}

/// Reads until the gateway closes `c` (within 5 s): a silent close (no bytes, a FIN), and
/// how long after `from` it came.
fn closes_silently(c: &mut support::client::Client, from: Instant) -> Duration {
    let (bytes, how) = c.read_until_closed(Duration::from_secs(5));
    let closed_after = from.elapsed();
    assert!(
        bytes.is_empty() && matches!(how, support::client::Closed::Eof),
        "L05: a silent close, got {how:?} after {bytes:?}"
    );
    closed_after
}

/// The idle timeout runs from the end of the last response, not from the start of its
/// request: a response slower than the idle timeout still leaves the whole timeout for the
/// next request (the idle wait reuses the request's completion time instead of its own
/// clock read).
#[test]
fn l05_the_idle_timeout_starts_when_a_slow_response_ends() {
    let up = Upstream::start(Mode::Delay(Duration::from_millis(1000)));
    let config = with_limits(proxy_config(up.port()), json!({ "idleTimeoutMs": 600 }));
    let gw = Gateway::start_one_worker(config);
    let mut c = gw.client();
    assert_eq!(c.roundtrip(&get("/slow")).status, 200);
    let closed_after = closes_silently(&mut c, Instant::now());
    assert!(
        closed_after >= Duration::from_millis(500) && closed_after < Duration::from_millis(2500),
        "L05: closed {closed_after:?} after a 1 s response (idle timeout 600 ms)"
    );
}
