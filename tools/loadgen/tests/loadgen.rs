//! Black-box tests: the built `loadgen` against an in-test server on loopback.

// Test scaffolding, not the data plane: the mock server is std sockets, threads and a Mutex.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::time::Duration;

use common::{Behaviour, Server, closed_port, loadgen};

const LIMIT: Duration = Duration::from_secs(20);

fn n(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn every_request_sent_is_counted_once_by_both_sides() {
    let server = Server::start(Behaviour::default());
    let run = loadgen(
        &["-n", "1000", "-c", "8", "-t", "2", "--json", &server.url],
        LIMIT,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let json = run.json();
    assert_eq!(n(&json["requests"]), 1000);
    assert_eq!(server.requests(), 1000);
    assert_eq!(json["status"], serde_json::json!({"200": 1000}));
    assert_eq!(
        json["errors"],
        serde_json::json!({"connect": 0, "read": 0, "write": 0, "timeout": 0, "protocol": 0})
    );
    let lat = &json["latency_ms"];
    for p in ["p50", "p90", "p99", "p99.9", "max"] {
        assert!(lat[p].as_f64().unwrap() > 0.0, "{p}: {lat}");
    }
    assert!(
        lat["p50"].as_f64() <= lat["p99"].as_f64() && lat["p99"].as_f64() <= lat["max"].as_f64()
    );
}

#[test]
fn status_codes_are_counted_apart() {
    let server = Server::start(Behaviour {
        fail_every: 4,
        chunked_every: 3,
        ..Behaviour::default()
    });
    let run = loadgen(
        &["--requests", "1000", "-c", "4", "--json", &server.url],
        LIMIT,
    );
    let json = run.json();
    assert_eq!(json["status"], serde_json::json!({"200": 750, "500": 250}));
    assert_eq!(server.requests(), 1000);
}

#[test]
fn duration_bounds_the_run_and_in_flight_requests_are_finished() {
    let server = Server::start(Behaviour::default());
    let run = loadgen(
        &["--duration", "1s", "-c", "4", "--json", &server.url],
        LIMIT,
    );
    assert!(
        run.elapsed < Duration::from_secs(3),
        "took {:?}",
        run.elapsed
    );
    let json = run.json();
    assert!(n(&json["requests"]) > 100, "{json}");
    assert_eq!(n(&json["requests"]), server.requests());
    let secs = json["duration_s"].as_f64().unwrap();
    assert!((0.95..1.5).contains(&secs), "{secs}");
}

#[test]
fn open_loop_sends_at_the_requested_rate() {
    let server = Server::start(Behaviour::default());
    let run = loadgen(
        &[
            "--rate",
            "200",
            "--duration",
            "2s",
            "-c",
            "4",
            "--json",
            &server.url,
        ],
        LIMIT,
    );
    let json = run.json();
    let sent = n(&json["requests"]);
    assert!(
        (300..=500).contains(&sent),
        "{sent} requests, expected about 400"
    );
    assert_eq!(sent, server.requests());
}

#[test]
fn open_loop_latency_counts_from_the_intended_send_time() {
    // The server answers 20/s on one connection; asked for 100/s, requests queue up and each
    // one's latency includes its wait. Closed loop only ever sees the 50 ms service time.
    let slow = Behaviour {
        delay: Duration::from_millis(50),
        ..Behaviour::default()
    };
    let server = Server::start(slow);
    let args = ["-c", "1", "--duration", "1s", "--json", &server.url];
    let closed = loadgen(&args, LIMIT).json();
    let open = loadgen(&[&["--rate", "100"], &args[..]].concat(), LIMIT).json();
    let ms = |j: &serde_json::Value, p: &str| j["latency_ms"][p].as_f64().unwrap();
    assert!(ms(&closed, "p50") < 150.0, "{closed}");
    assert!(ms(&open, "p90") > 250.0, "{open}");
    assert!(n(&open["requests"]) < 40, "{open}");
}

#[test]
fn request_templates_are_used_round_robin() {
    let server = Server::start(Behaviour::default());
    let dir = std::env::temp_dir().join(format!("loadgen-templates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("requests.jsonl");
    std::fs::write(
        &file,
        concat!(
            "{\"path\": \"/a\"}\n",
            "# comments and blank lines are skipped\n\n",
            "{\"method\": \"GET\", \"path\": \"/b?key=1\", \"headers\": {\"x-api-key\": \"k1\"}}\n",
            "{\"method\": \"POST\", \"path\": \"/c\", \"body\": \"{\\\"n\\\":1}\"}\n",
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let run = loadgen(
        &[
            "--requests",
            file,
            "-n",
            "30",
            "-c",
            "1",
            "--json",
            &server.url,
        ],
        LIMIT,
    );
    assert_eq!(n(&run.json()["requests"]), 30, "{}", run.stderr);
    let want = [
        ("/a".to_string(), 10),
        ("/b?key=1".to_string(), 10),
        ("/c".to_string(), 10),
    ];
    assert_eq!(server.paths(), want.into_iter().collect());
    assert_eq!(
        server.bodies(),
        [("{\"n\":1}".to_string(), 10)].into_iter().collect()
    );
    let key = [("x-api-key: k1".to_string(), 10)];
    assert_eq!(server.x_headers(), key.into_iter().collect());

    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"path\": \"/ok\"}\n{\"paht\": \"/typo\"}\n").unwrap();
    let run = loadgen(
        &["--requests", bad.to_str().unwrap(), "-n", "1", &server.url],
        LIMIT,
    );
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("bad.jsonl:2"), "{}", run.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn method_headers_and_body_are_sent_as_given() {
    let server = Server::start(Behaviour::default());
    let args = [
        "-X",
        "POST",
        "-H",
        "X-Api-Key: k1",
        "-H",
        "x-trace:  t ",
        "--body",
        "hello",
    ];
    let run = loadgen(
        &[&args[..], &["-n", "20", "--json", &server.url]].concat(),
        LIMIT,
    );
    assert_eq!(n(&run.json()["requests"]), 20, "{}", run.stderr);
    assert_eq!(
        server.bodies(),
        [("hello".to_string(), 20)].into_iter().collect()
    );
    let want = [
        ("x-api-key: k1".to_string(), 20),
        ("x-trace: t".to_string(), 20),
    ];
    assert_eq!(server.x_headers(), want.into_iter().collect());
}

#[test]
fn pipelining_keeps_several_requests_in_flight() {
    let server = Server::start(Behaviour {
        chunked_every: 2,
        ..Behaviour::default()
    });
    let run = loadgen(
        &[
            "-n",
            "1000",
            "-c",
            "2",
            "--pipeline",
            "4",
            "--json",
            &server.url,
        ],
        LIMIT,
    );
    let json = run.json();
    assert_eq!(n(&json["requests"]), 1000);
    assert_eq!(server.requests(), 1000);
    assert_eq!(n(&json["status"]["200"]), 1000);
    assert!(
        server.max_batch() > 1,
        "the server never saw two requests in one read"
    );
    assert!(
        server.max_batch() <= 4,
        "more than --pipeline requests in flight"
    );
}

#[test]
fn a_server_closing_connections_shows_as_read_errors() {
    let server = Server::start(Behaviour {
        close_every: 10,
        ..Behaviour::default()
    });
    let run = loadgen(&["-n", "500", "-c", "4", "--json", &server.url], LIMIT);
    let json = run.json();
    // Pipeline 1: each close loses exactly the one request it was sent.
    assert_eq!(n(&json["errors"]["read"]), 50, "{json}");
    assert_eq!(n(&json["requests"]), 450);
    assert_eq!(server.requests(), 500);
}

#[test]
fn large_heads_are_read_and_oversized_ones_are_protocol_errors() {
    let big = Server::start(Behaviour {
        pad_head: 40_000,
        ..Behaviour::default()
    });
    let json = loadgen(
        &["-n", "50", "-c", "2", "--pipeline", "2", "--json", &big.url],
        LIMIT,
    )
    .json();
    assert_eq!(n(&json["status"]["200"]), 50, "{json}");
    let huge = Server::start(Behaviour {
        pad_head: 70_000,
        ..Behaviour::default()
    });
    let json = loadgen(&["-n", "5", "-c", "1", "--json", &huge.url], LIMIT).json();
    assert_eq!(n(&json["errors"]["protocol"]), 5, "{json}");
    assert_eq!(n(&json["requests"]), 0);
}

#[test]
fn a_server_that_stops_answering_shows_as_timeouts() {
    let server = Server::start(Behaviour {
        hang_every: 1,
        ..Behaviour::default()
    });
    let run = loadgen(
        &[
            "-n",
            "4",
            "-c",
            "2",
            "--timeout",
            "200ms",
            "--json",
            &server.url,
        ],
        LIMIT,
    );
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
    let json = run.json();
    assert_eq!(n(&json["errors"]["timeout"]), 4, "{json}");
    assert_eq!(n(&json["requests"]), 0);
}

#[test]
fn an_unreachable_server_shows_as_connect_errors_and_the_run_still_ends() {
    let url = format!("http://{}", closed_port());
    let run = loadgen(&["-n", "20", "-c", "2", "--json", &url], LIMIT);
    let json = run.json();
    assert_eq!(n(&json["errors"]["connect"]), 20, "{json}");
    assert_eq!(n(&json["requests"]), 0);
}

#[test]
fn text_summary_and_usage_errors() {
    let server = Server::start(Behaviour::default());
    let run = loadgen(&["-n", "10", "-c", "1", &server.url], LIMIT);
    assert_eq!(run.code, Some(0));
    for word in ["requests", "10 in", "200: 10", "p99.9"] {
        assert!(
            run.stdout.contains(word),
            "{word} missing from {}",
            run.stdout
        );
    }
    let run = loadgen(&["--pipeline", "0", &server.url], LIMIT);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("--pipeline"), "{}", run.stderr);
}
