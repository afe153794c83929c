//! Black-box tests of `--hold`: many idle connections, seen from the server's side.

// Test scaffolding, not the data plane: the mock server is std sockets, threads and a Mutex.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::time::Duration;

use common::tls::Pki;
use common::{Behaviour, Running, Server, loadgen, loadgen_ulimit};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(20);

fn n(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn held_connections_are_open_and_silent_for_the_hold_then_all_close() {
    let server = Server::start(Behaviour::default());
    let mut run = Running::start(&[
        "--hold",
        "1s",
        "-c",
        "200",
        "-t",
        "2",
        "--json",
        &server.url,
    ]);
    let line = run.wait_for_line("holding ", LIMIT);
    assert_eq!(line.as_deref(), Some("holding 200 idle connections for 1s"));
    // Every connection asked exactly once and is still open.
    assert_eq!(server.requests(), 200);
    assert_eq!(server.accepted(), 200);
    assert_eq!(server.open(), 200);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.requests(), 200, "a held connection spoke");
    assert_eq!(server.open(), 200, "a held connection closed early");

    let done = run.finish(LIMIT);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let json = done.json();
    assert_eq!(n(&json["held"]), 200, "{json}");
    assert_eq!(json["status"], json!({"200": 200}));
    assert_eq!(n(&json["errors"]["connect"]), 0);
    assert_eq!(
        done.stderr.matches("holding ").count(),
        1,
        "{}",
        done.stderr
    );
    // Closed promptly: the whole run is the hold and a little.
    assert!(
        done.elapsed < Duration::from_secs(4),
        "took {:?}",
        done.elapsed
    );
    assert_eq!(server.wait_open(0, Duration::from_secs(3)), 0);
    assert_eq!(server.accepted(), 200);
}

#[test]
fn only_connections_answered_and_left_open_are_held() {
    // Every other connection's server closes instead of answering.
    let server = Server::start(Behaviour {
        close_every: 2,
        ..Behaviour::default()
    });
    let run = loadgen(
        &["--hold", "200ms", "-c", "10", "--json", &server.url],
        LIMIT,
    );
    let json = run.json();
    assert_eq!(n(&json["held"]), 5, "{json}");
    assert_eq!(n(&json["requests"]), 5, "{json}");
    assert_eq!(n(&json["errors"]["read"]), 5, "{json}");
    assert!(
        run.stderr.contains("holding 5 idle connections for 200ms"),
        "{}",
        run.stderr
    );
    // Failed connections are not retried in hold mode.
    assert_eq!(server.accepted(), 10);
    let text = loadgen(&["--hold", "100ms", "-c", "2", &server.url], LIMIT);
    assert!(text.stdout.contains("held       "), "{}", text.stdout);
}

#[test]
fn hold_works_over_tls() {
    let pki = Pki::new("hold");
    let server = Server::start_tls(Behaviour::default(), &pki);
    let mut run = Running::start(&[
        "--hold",
        "500ms",
        "-c",
        "20",
        "--cacert",
        pki.ca(),
        "--json",
        &server.url,
    ]);
    assert!(run.wait_for_line("holding 20 ", LIMIT).is_some());
    assert_eq!((server.requests(), server.open()), (20, 20));
    let json = run.finish(LIMIT).json();
    assert_eq!(n(&json["held"]), 20, "{json}");
    assert_eq!(n(&json["tls"]["handshakes"]), 20, "{json}");
    assert_eq!(server.wait_open(0, Duration::from_secs(3)), 0);
}

#[test]
fn hold_refuses_the_options_of_the_other_modes() {
    let url = "http://127.0.0.1:1/";
    for other in [
        &["--rate", "10"][..],
        &["--pipeline", "2"],
        &["-n", "5"],
        &["-d", "1s"],
    ] {
        let run = loadgen(&[&["--hold", "1s"][..], other, &[url]].concat(), LIMIT);
        assert_eq!(run.code, Some(2), "{other:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("--hold") && run.stderr.contains(other[0]),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit_or_the_count_is_refused() {
    let server = Server::start(Behaviour::default());
    // A soft limit of 64 would not hold 200 sockets; loadgen raises it.
    let run = loadgen_ulimit(
        "-Sn 64",
        &["--hold", "100ms", "-c", "200", "--json", &server.url],
        LIMIT,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(n(&run.json()["held"]), 200);
    // A hard limit of 128 cannot be raised by loadgen.
    let run = loadgen_ulimit(
        "-n 128",
        &["--hold", "100ms", "-c", "1000", &server.url],
        LIMIT,
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("-c 1000") && run.stderr.contains("limit is 128"),
        "{}",
        run.stderr
    );
}
