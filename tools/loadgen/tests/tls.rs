//! Black-box tests over TLS: the built `loadgen` against an in-test rustls server on loopback,
//! with a throwaway CA made for each test.

// Test scaffolding, not the data plane: the mock server is std sockets, threads and a Mutex.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::time::Duration;

use common::tls::{Handshake, Pki};
use common::{Behaviour, Server, loadgen, loadgen_env};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(20);

fn n(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn accepted(version: &str, sni: Option<&str>) -> Handshake {
    Handshake {
        outcome: version.into(),
        sni: sni.map(String::from),
        alpn: Some("http/1.1".into()),
    }
}

#[test]
fn https_requests_are_counted_once_by_both_sides_and_the_session_is_reported() {
    let pki = Pki::new("count");
    let server = Server::start_tls(Behaviour::default(), &pki);
    let run = loadgen(
        &[
            "-n",
            "200",
            "-c",
            "4",
            "-t",
            "2",
            "--cacert",
            pki.ca(),
            "--json",
            &server.url,
        ],
        LIMIT,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["status"], json!({"200": 200}), "{json}");
    assert_eq!(n(&json["errors"]["connect"]), 0, "{json}");
    assert_eq!(server.requests(), 200);
    let tls = &json["tls"];
    assert_eq!(tls["version"], "TLSv1.3", "{json}");
    assert!(
        tls["cipher_suite"].as_str().unwrap().starts_with("TLS13_"),
        "{json}"
    );
    assert_eq!(n(&tls["handshakes"]), 4, "{json}");
    // An IP address in the URL sends no SNI; ALPN offers http/1.1.
    assert_eq!(server.handshakes(), vec![accepted("TLSv1_3", None); 4]);

    let text = loadgen(
        &["-n", "10", "-c", "1", "--cacert", pki.ca(), &server.url],
        LIMIT,
    );
    assert!(
        text.stdout.contains("tls        TLSv1.3 TLS13_"),
        "{}",
        text.stdout
    );
}

#[test]
fn pipelining_over_tls_keeps_several_requests_in_flight() {
    let pki = Pki::new("pipeline");
    let server = Server::start_tls(
        Behaviour {
            chunked_every: 2,
            ..Behaviour::default()
        },
        &pki,
    );
    let run = loadgen(
        &[
            "-n",
            "1000",
            "-c",
            "2",
            "--pipeline",
            "4",
            "--cacert",
            pki.ca(),
            "--json",
            &server.url,
        ],
        LIMIT,
    );
    let json = run.json();
    assert_eq!(json["status"], json!({"200": 1000}), "{json}");
    assert_eq!(server.requests(), 1000);
    assert!(server.max_batch() > 1, "never two requests in one read");
    assert!(server.max_batch() <= 4, "more than --pipeline in flight");
}

#[test]
fn closes_timeouts_and_open_loop_behave_as_over_tcp() {
    let pki = Pki::new("closes");
    let closing = Server::start_tls(
        Behaviour {
            close_every: 10,
            ..Behaviour::default()
        },
        &pki,
    );
    let args = ["--cacert", pki.ca(), "--json"];
    let json = loadgen(
        &[&args[..], &["-n", "200", "-c", "2", &closing.url]].concat(),
        LIMIT,
    )
    .json();
    assert_eq!(n(&json["errors"]["read"]), 20, "{json}");
    assert_eq!(n(&json["requests"]), 180, "{json}");
    // A handshake per connection the server accepted; reconnects resume the session.
    let handshakes = n(&json["tls"]["handshakes"]);
    assert_eq!(handshakes, closing.accepted(), "{json}");
    assert!(handshakes >= 20, "{json}");
    assert!(n(&json["tls"]["resumed"]) > 0, "{json}");

    let hanging = Server::start_tls(
        Behaviour {
            hang_every: 1,
            ..Behaviour::default()
        },
        &pki,
    );
    let json = loadgen(
        &[
            &args[..],
            &["-n", "2", "-c", "2", "--timeout", "200ms", &hanging.url],
        ]
        .concat(),
        LIMIT,
    )
    .json();
    assert_eq!(n(&json["errors"]["timeout"]), 2, "{json}");

    // Open loop with pipelining: the cancelled reads lose no TLS bytes.
    let ok = Server::start_tls(Behaviour::default(), &pki);
    let open = [
        "--rate",
        "400",
        "-d",
        "1s",
        "-c",
        "2",
        "--pipeline",
        "2",
        &ok.url,
    ];
    let json = loadgen(&[&args[..], &open[..]].concat(), LIMIT).json();
    let sent = n(&json["requests"]);
    assert!((300..=500).contains(&sent), "{json}");
    assert_eq!(sent, ok.requests());
    assert_eq!(
        json["errors"],
        json!({"connect": 0, "read": 0, "write": 0, "timeout": 0, "protocol": 0})
    );
}

#[test]
fn connection_close_with_no_resume_makes_every_request_a_full_handshake() {
    let pki = Pki::new("noresume");
    let server = Server::start_tls(Behaviour::default(), &pki);
    let run = |extra: &[&str]| {
        let base = [
            "-n",
            "40",
            "-c",
            "2",
            "-H",
            "Connection: close",
            "--cacert",
            pki.ca(),
            "--json",
        ];
        let out = loadgen(&[&base[..], extra, &[&server.url]].concat(), LIMIT);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        out.json()
    };
    // Without it, reconnects resume from rustls' session cache.
    let json = run(&[]);
    assert_eq!(json["status"], json!({"200": 40}), "{json}");
    assert_eq!(n(&json["tls"]["handshakes"]), 40, "{json}");
    assert!(n(&json["tls"]["resumed"]) > 0, "{json}");
    // With it: one full handshake per request, none resumed.
    let json = run(&["--no-resume"]);
    assert_eq!(json["status"], json!({"200": 40}), "{json}");
    assert_eq!(n(&json["errors"]["read"]), 0, "{json}");
    assert_eq!(n(&json["tls"]["handshakes"]), 40, "{json}");
    assert_eq!(n(&json["tls"]["resumed"]), 0, "{json}");
}

#[test]
fn insecure_accepts_a_certificate_nothing_vouches_for() {
    let pki = Pki::new("insecure");
    let server = Server::start_tls(Behaviour::default(), &pki);
    let run = loadgen(
        &["-n", "50", "-c", "2", "--insecure", "--json", &server.url],
        LIMIT,
    );
    let json = run.json();
    assert_eq!(json["status"], json!({"200": 50}), "{json}");
    assert_eq!(n(&json["tls"]["handshakes"]), 2);
}

#[test]
fn an_untrusted_certificate_is_a_connect_error_that_names_the_reason() {
    let pki = Pki::new("untrusted");
    let other = Pki::new("other");
    let server = Server::start_tls(Behaviour::default(), &pki);
    let run = loadgen(
        &[
            "-n",
            "6",
            "-c",
            "2",
            "--cacert",
            other.ca(),
            "--json",
            &server.url,
        ],
        LIMIT,
    );
    let json = run.json();
    assert_eq!(n(&json["errors"]["connect"]), 6, "{json}");
    assert_eq!(n(&json["requests"]), 0);
    assert_eq!(
        json["connect_error"],
        "tls: invalid peer certificate: UnknownIssuer"
    );
    assert_eq!(n(&json["tls"]["handshakes"]), 0);
    assert_eq!(server.requests(), 0);
    // The server was told why: loadgen sent the alert.
    let outcomes: Vec<String> = server.handshakes().into_iter().map(|h| h.outcome).collect();
    assert_eq!(outcomes.len(), 6);
    assert!(
        outcomes.iter().all(|o| o.contains("UnknownCA")),
        "{outcomes:?}"
    );

    let text = loadgen(
        &["-n", "1", "-c", "1", "--cacert", other.ca(), &server.url],
        LIMIT,
    );
    assert!(
        text.stdout
            .contains("connect 1 (tls: invalid peer certificate: UnknownIssuer)"),
        "{}",
        text.stdout
    );
}

#[test]
fn without_cacert_the_system_bundle_is_used_starting_with_ssl_cert_file() {
    let pki = Pki::new("system");
    let other = Pki::new("system-other");
    let server = Server::start_tls(Behaviour::default(), &pki);
    let args = ["-n", "10", "-c", "1", "--json", &server.url];
    let trusted = loadgen_env(&args, &[("SSL_CERT_FILE", pki.ca())], LIMIT).json();
    assert_eq!(trusted["status"], json!({"200": 10}), "{trusted}");
    let untrusted = loadgen_env(&args, &[("SSL_CERT_FILE", other.ca())], LIMIT).json();
    assert_eq!(n(&untrusted["errors"]["connect"]), 10, "{untrusted}");
    let missing = loadgen_env(&args, &[("SSL_CERT_FILE", "/nonexistent/ca.pem")], LIMIT);
    assert_eq!(missing.code, Some(2), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("SSL_CERT_FILE /nonexistent/ca.pem"),
        "{}",
        missing.stderr
    );
}

#[test]
fn tls_version_1_2_is_negotiated_and_reported() {
    let pki = Pki::new("v12");
    let server = Server::start_tls(Behaviour::default(), &pki);
    let json = loadgen(
        &[
            "-n",
            "20",
            "-c",
            "2",
            "--tls-version",
            "1.2",
            "--cacert",
            pki.ca(),
            "--json",
            &server.url,
        ],
        LIMIT,
    )
    .json();
    assert_eq!(json["status"], json!({"200": 20}), "{json}");
    assert_eq!(json["tls"]["version"], "TLSv1.2", "{json}");
    let suite = json["tls"]["cipher_suite"].as_str().unwrap();
    assert!(suite.starts_with("TLS_ECDHE_ECDSA_WITH_"), "{suite}");
    assert_eq!(server.handshakes(), vec![accepted("TLSv1_2", None); 2]);
}

#[test]
fn sni_is_the_url_host_unless_overridden_and_is_what_the_certificate_must_match() {
    let pki = Pki::new("sni");
    let server = Server::start_tls(Behaviour::default(), &pki);
    let base = ["-n", "1", "-c", "1", "--cacert", pki.ca(), "--json"];
    let json = loadgen(
        &[&base[..], &["--sni", "api.test", &server.url]].concat(),
        LIMIT,
    )
    .json();
    assert_eq!(json["status"], json!({"200": 1}), "{json}");
    assert_eq!(
        server.handshakes(),
        vec![accepted("TLSv1_3", Some("api.test"))]
    );
    let json = loadgen(
        &[&base[..], &["--sni", "other.test", &server.url]].concat(),
        LIMIT,
    )
    .json();
    assert_eq!(n(&json["errors"]["connect"]), 1, "{json}");
    let why = json["connect_error"].as_str().unwrap();
    assert!(why.starts_with("tls: invalid peer certificate: "), "{why}");
    assert!(why.contains("not valid for name \"other.test\""), "{why}");
}

#[test]
fn bad_tls_arguments_exit_2_and_say_what_is_wrong() {
    let pki = Pki::new("args");
    let server = Server::start_tls(Behaviour::default(), &pki);
    let missing = loadgen(&["--cacert", "/nonexistent/ca.pem", &server.url], LIMIT);
    assert_eq!(missing.code, Some(2), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("--cacert /nonexistent/ca.pem"),
        "{}",
        missing.stderr
    );
    let not_pem = pki.ca_pem.with_file_name("not-a-cert.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    let run = loadgen(&["--cacert", not_pem.to_str().unwrap(), &server.url], LIMIT);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("not-a-cert.pem") && run.stderr.contains("no PEM certificate"),
        "{}",
        run.stderr
    );
    for bad in [
        &["--tls-version", "1.1", &server.url][..],
        &["--insecure", "--cacert", pki.ca(), &server.url],
        &["--insecure", "http://127.0.0.1:1/"],
    ] {
        let run = loadgen(bad, LIMIT);
        assert_eq!(run.code, Some(2), "{bad:?}: {}", run.stderr);
    }
    assert_eq!(server.accepted(), 0);
}
