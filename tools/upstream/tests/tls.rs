//! `--tls-*`: what a TLS client sees — curl and a rustls client against certificates made by
//! the test (rcgen). Handshake with SNI and version reported by `echo`, TLS 1.2 and 1.3, a
//! required client certificate, keep-alive on one TLS connection, session resumption, the HTTP
//! modes over TLS, and the plain-only modes refused.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::pki::Pki;
use common::tls::{self, TLS12, TLS13, get, roundtrip};
use common::*;
use upstream::{Config, Mode, TlsConfig};

fn tls_config(pki: &Pki, client_ca: bool) -> TlsConfig {
    TlsConfig {
        cert: pki.path("server.pem"),
        key: pki.path("server.key"),
        client_ca: client_ca.then(|| pki.path("client-ca.pem")),
    }
}

fn start(pki: &Pki, mode: Mode, client_ca: bool) -> upstream::Workers {
    let mut config = Config::new(([127, 0, 0, 1], 0).into(), mode);
    config.body = b"fixed".to_vec();
    config.tls = Some(tls_config(pki, client_ca));
    upstream::start(config).expect("start")
}

#[test]
fn curl_gets_the_echo_with_the_sni_and_version_the_tls_layer_saw() {
    let pki = Pki::new("tls-curl");
    let up = Backend::start(&[
        "--mode",
        "echo",
        "--tls-cert",
        &pki.arg("server.pem"),
        "--tls-key",
        &pki.arg("server.key"),
    ]);
    let port = up.addr.port();
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10", "--tlsv1.3"])
        .args(["--cacert", &pki.arg("ca.pem")])
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .arg(format!("https://localhost:{port}/hello?x=1"))
        .output()
        .expect("curl is needed (scripts/test.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("http/1.1 200"), "{text}");
    for line in [
        "x-echo-request-line: get /hello?x=1 http/1.1",
        "x-upstream-tls-sni: localhost",
        "x-upstream-tls-version: tlsv1_3",
        "x-upstream-tls-client-cn: -",
        "x-upstream-tls-resumed: false",
        "x-upstream-conn: 1",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
}

#[test]
fn tls_1_2_and_1_3_are_reported_and_an_ip_literal_sends_no_sni() {
    let pki = Pki::new("tls-versions");
    let up = start(&pki, Mode::Echo, false);
    for (version, name, want, sni) in [
        (TLS12, "localhost", "TLSv1_2", "localhost"),
        (TLS13, "localhost", "TLSv1_3", "localhost"),
        (TLS13, "127.0.0.1", "TLSv1_3", "-"),
    ] {
        let config = tls::client(&pki.path("ca.pem"), version, None);
        let mut s = tls::connect(up.addr(), name, &config).expect("handshake");
        let r = roundtrip(&mut s, &get("/v")).expect("response");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-upstream-tls-version"), Some(want));
        assert_eq!(r.header("x-upstream-tls-sni"), Some(sni));
        assert_eq!(
            s.conn.alpn_protocol(),
            Some(&b"http/1.1"[..]),
            "ALPN http/1.1"
        );
        assert!(r.body.starts_with(b"GET /v HTTP/1.1\r\n"));
    }
    assert_eq!(up.tls_handshake_failures(), 0);
}

#[test]
fn with_a_client_ca_a_client_certificate_is_required_and_its_cn_reported() {
    let pki = Pki::new("tls-mtls");
    let up = start(&pki, Mode::Echo, true);
    let ca = pki.path("ca.pem");

    let with = tls::client(
        &ca,
        TLS13,
        Some((&pki.path("client.pem"), &pki.path("client.key"))),
    );
    let mut s = tls::connect(up.addr(), "localhost", &with).expect("handshake");
    let r = roundtrip(&mut s, &get("/mtls")).expect("response");
    assert_eq!(r.header("x-upstream-tls-client-cn"), Some("test client"));

    // No certificate, or one from a CA the backend does not trust: no response. (With TLS 1.3
    // the client learns of the refusal on its first read.)
    let stranger = tls::client(
        &ca,
        TLS12,
        Some((&pki.path("stranger.pem"), &pki.path("stranger.key"))),
    );
    for config in [tls::client(&ca, TLS13, None), stranger] {
        let answered = tls::connect(up.addr(), "localhost", &config)
            .and_then(|mut s| roundtrip(&mut s, &get("/no")));
        assert!(answered.is_err(), "{answered:?}");
    }
    assert!(
        eventually(|| up.tls_handshake_failures() == 2),
        "{} failures counted",
        up.tls_handshake_failures()
    );
}

#[test]
fn keep_alive_serves_several_requests_on_one_tls_connection_until_told_to_close() {
    let pki = Pki::new("tls-keepalive");
    let up = start(&pki, Mode::Echo, false);
    let config = tls::client(&pki.path("ca.pem"), TLS13, None);
    let mut s = tls::connect(up.addr(), "localhost", &config).expect("handshake");
    let mut conns = Vec::new();
    for i in 0..3 {
        let body = format!("body {i}");
        let req = format!(
            "POST /k/{i} HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let r = roundtrip(&mut s, req.as_bytes()).expect("response");
        assert!(r.body.ends_with(body.as_bytes()));
        conns.push(r.header("x-upstream-conn").unwrap().to_string());
    }
    assert_eq!(conns, ["1", "1", "1"]);

    // `x-upstream-then-close: 1`: answered without `Connection: close`, then closed.
    let r = roundtrip(
        &mut s,
        b"GET /last HTTP/1.1\r\nHost: a\r\nx-upstream-then-close: 1\r\n\r\n",
    )
    .expect("response");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), None);
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).expect("close_notify, then EOF"), 0);
}

#[test]
fn a_second_connection_resumes_the_session_with_tls_1_2_and_1_3() {
    let pki = Pki::new("tls-resume");
    let up = start(&pki, Mode::Echo, false);
    for version in [TLS12, TLS13] {
        let config = tls::client(&pki.path("ca.pem"), version, None);
        let mut seen = Vec::new();
        for _ in 0..2 {
            let mut s = tls::connect(up.addr(), "localhost", &config).expect("handshake");
            let r = roundtrip(&mut s, &get("/r")).expect("response");
            seen.push((
                r.header("x-upstream-tls-resumed").unwrap().to_string(),
                r.header("x-upstream-conn").unwrap().to_string(),
            ));
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        assert_eq!(seen[0].0, "false", "{version:?}: {seen:?}");
        assert_eq!(seen[1].0, "true", "{version:?}: {seen:?}");
        assert_ne!(seen[0].1, seen[1].1);
    }
}

#[test]
fn fixed_delay_drip_early_close_after_and_stall_work_over_tls() {
    let pki = Pki::new("tls-modes");
    let config = tls::client(&pki.path("ca.pem"), TLS13, None);

    let drip = Mode::Drip {
        chunk: 7.try_into().unwrap(),
        interval: Duration::from_millis(1),
    };
    for mode in [Mode::Fixed, Mode::Delay(Duration::from_millis(20)), drip] {
        let up = start(&pki, mode.clone(), false);
        let mut s = tls::connect(up.addr(), "localhost", &config).expect("handshake");
        for _ in 0..2 {
            let r = roundtrip(&mut s, &get("/f")).expect("response");
            assert_eq!(
                (r.status, r.body.as_slice()),
                (200, &b"fixed"[..]),
                "{mode:?}"
            );
        }
    }

    // early: 413 with `connection: close` before the body, then the connection ends.
    let up = start(&pki, Mode::Early { after: 0 }, false);
    let mut s = tls::connect(up.addr(), "localhost", &config).expect("handshake");
    let r = roundtrip(
        &mut s,
        b"POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n",
    )
    .expect("response");
    assert_eq!((r.status, r.header("connection")), (413, Some("close")));
    assert_eq!(s.read(&mut [0u8; 16]).expect("close_notify"), 0);

    // close-after: the plaintext bytes are counted, then the connection ends unanswered.
    let up = start(&pki, Mode::CloseAfter(5), false);
    let mut s = tls::connect(up.addr(), "localhost", &config).expect("handshake");
    s.write_all(b"GET /").unwrap();
    s.flush().unwrap();
    let mut got = Vec::new();
    assert_eq!(s.read_to_end(&mut got).expect("closed"), 0);

    // stall: the request is read, nothing comes back.
    let up = start(&pki, Mode::Stall, false);
    let mut s = tls::connect(up.addr(), "localhost", &config).expect("handshake");
    s.sock
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.write_all(&get("/s")).unwrap();
    s.flush().unwrap();
    let err = s.read(&mut [0u8; 16]).expect_err("no answer");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
}

#[test]
fn the_binary_logs_a_failed_handshake_and_refuses_plain_only_modes() {
    let pki = Pki::new("tls-binary");
    let (cert, key) = (pki.arg("server.pem"), pki.arg("server.key"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_upstream"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn upstream");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();
    // Plain HTTP to a TLS port: not a ClientHello.
    let mut plain = std::net::TcpStream::connect(addr).unwrap();
    plain.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    plain.write_all(&get("/plain")).unwrap();
    let _ = plain.read_to_end(&mut Vec::new());
    let _ = child.kill();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let _ = child.wait();
    assert!(
        stderr.contains("TLS handshake failed on connection 1"),
        "{stderr}"
    );

    for mode in [&["reset-after", "3"][..], &["refuse"], &["blackhole"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_upstream"))
            .arg("--mode")
            .args(mode)
            .args(["--tls-cert", &cert, "--tls-key", &key])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{mode:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot be combined with --tls-*"), "{err}");
    }
    // A key file that holds no key is refused by name.
    let out = Command::new(env!("CARGO_BIN_EXE_upstream"))
        .args(["--tls-cert", &cert, "--tls-key", &cert])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.pem"));
}
