//! TLS to backends (issue 6): `https://` integration URIs against a real TLS server —
//! `tools/upstream` in `echo` mode with `--tls-*`, started in-process on loopback (its own
//! rustls server, not tollgate's TLS code) — with certificates the test makes with its own CA
//! (rcgen). A CA bundle, an untrusted backend, mutual TLS to the backend, keep-alive reuse of
//! the TLS connection, a stale pooled TLS connection retried, and the SNI the backend saw.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO

mod support;

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use support::config::{any_proxy, rest_config};
use support::pki::{Ca, Pki};
use support::*;

/// The test's files: `ca.pem` (tollgate trusts it), `backend.*` (signed by it), `rogue.*`
/// (signed by another CA), `client-ca.pem` and `client.*` (tollgate's client certificate).
fn pki() -> Pki {
    let pki = Pki::new("uptls", "Backend CA");
    let other = Ca::new("Someone Else");
    let client_ca = pki.add_ca("client-ca.pem", "Gateway Client CA");
    let server = ["localhost", "127.0.0.1", "::1"];
    pki.issue("backend", &pki.ca, &server, "backend", false);
    pki.issue("rogue", &other, &server, "rogue", false);
    pki.issue("client", &client_ca, &[], "tollgate client", true);
    pki
}

/// The HTTPS backend: `upstream` in `echo` mode, recording what it receives (the plaintext);
/// stopped when dropped.
struct Backend {
    running: ::upstream::Workers,
    recordings: PathBuf,
}

impl Backend {
    /// Serves `cert` (`backend` or `rogue`); `client_ca`: require a client certificate.
    fn start(pki: &Pki, cert: &str, client_ca: Option<&str>, tag: &str) -> Backend {
        // Whatever `localhost` resolves to: both loopbacks if it has an IPv6 address.
        let v6 = ("localhost", 0)
            .to_socket_addrs()
            .is_ok_and(|mut a| a.any(|a| a.is_ipv6()));
        let listen = if v6 { "[::]:0" } else { "127.0.0.1:0" };
        let mut config = ::upstream::Config::new(listen.parse().unwrap(), ::upstream::Mode::Echo);
        let recordings = pki.dir.file(tag);
        config.record_dir = Some(recordings.clone());
        config.tls = Some(::upstream::TlsConfig {
            cert: pki.dir.file(&format!("{cert}.pem")),
            key: pki.dir.file(&format!("{cert}.key")),
            client_ca: client_ca.map(|c| pki.dir.file(c)),
        });
        let running = ::upstream::start(config).expect("start the TLS backend");
        Backend {
            running,
            recordings,
        }
    }

    fn port(&self) -> u16 {
        self.running.addr().port()
    }

    /// Requests that reached the backend through TLS: request lines in its recordings.
    fn requests(&self) -> usize {
        let Ok(dir) = std::fs::read_dir(&self.recordings) else {
            return 0;
        };
        dir.filter_map(|e| std::fs::read(e.ok()?.path()).ok())
            .map(|bytes| count(&bytes, b" HTTP/1.1\r\n"))
            .sum()
    }

    /// The plaintext connection `conn` received.
    fn recording(&self, conn: u64) -> Vec<u8> {
        std::fs::read(self.recordings.join(format!("conn-{conn}.bin"))).unwrap_or_default()
    }

    /// Waits (bounded) for the backend to count a failed handshake.
    fn saw_failed_handshake(&self) -> bool {
        wait_until(Duration::from_secs(5), || {
            self.running.tls_handshake_failures() > 0
        })
    }
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// `/{proxy+}` → `https://{host}:{port}/{proxy}` with `upstreamTls`.
fn config(host: &str, port: u16, upstream_tls: Value) -> Value {
    let mut c = rest_config(json!({
        "/{proxy+}": any_proxy(&format!("https://{host}:{port}/{{proxy}}"))
    }));
    c["server"]["upstreamTls"] = upstream_tls;
    c
}

fn get(gw: &Gateway, path: &str) -> Response {
    gw.client()
        .roundtrip(format!("GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes())
}

/// What the backend saw, from its echo: the request it received (the body is its exact
/// bytes) and the `x-upstream-*` headers its TLS layer added.
#[derive(Debug)]
struct Seen {
    method: String,
    path: String,
    host: Option<String>,
    body: String,
    sni: String,
    client: String,
    resumed: bool,
    conn: u64,
}

fn seen(r: &Response) -> Seen {
    let raw = || String::from_utf8_lossy(&r.raw).into_owned();
    let tls = |name: &str| {
        r.header(name)
            .unwrap_or_else(|| panic!("not the backend's echo (no {name}): {}", raw()))
    };
    let echoed = String::from_utf8_lossy(&r.body).into_owned();
    let (head, body) = echoed
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an echoed request: {}", raw()));
    let mut lines = head.split("\r\n");
    let mut line = lines.next().unwrap_or_default().split(' ');
    let (method, path) = (
        line.next().unwrap_or_default(),
        line.next().unwrap_or_default(),
    );
    let host = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.trim().to_string());
    Seen {
        method: method.to_string(),
        path: path.to_string(),
        host,
        body: body.to_string(),
        sni: tls("x-upstream-tls-sni"),
        client: tls("x-upstream-tls-client-cn"),
        resumed: tls("x-upstream-tls-resumed") == "true",
        conn: tls("x-upstream-conn").parse().unwrap(),
    }
}

#[test]
fn get_and_post_through_https_with_a_ca_bundle_and_sni() {
    let pki = pki();
    let backend = Backend::start(&pki, "backend", None, "plain");
    let gw = Gateway::start(config(
        "localhost",
        backend.port(),
        json!({ "caBundle": pki.path("ca.pem") }),
    ));
    let r = get(&gw, "/pets/7?x=1");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.raw));
    let s = seen(&r);
    assert_eq!(s.method, "GET");
    assert_eq!(s.path, "/pets/7?x=1");
    assert_eq!(s.sni, "localhost", "the SNI is the URI's host");
    assert_eq!(s.host, Some(format!("localhost:{}", backend.port())));

    let mut c = gw.client();
    let body = "{\"name\":\"rex\"}";
    let r = c.roundtrip(
        format!(
            "POST /pets HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.raw));
    let s = seen(&r);
    assert_eq!((s.method.as_str(), s.body.as_str()), ("POST", body));

    // An IP literal is verified against the certificate's IP address and sends no SNI.
    let gw = Gateway::start(config(
        "127.0.0.1",
        backend.port(),
        json!({ "caBundle": pki.path("ca.pem") }),
    ));
    let r = get(&gw, "/ip");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.raw));
    assert_eq!(seen(&r).sni, "-");
}

#[test]
fn an_untrusted_backend_certificate_is_a_502_and_no_request() {
    let pki = pki();
    let backend = Backend::start(&pki, "rogue", None, "rogue");
    let gw = Gateway::start(config(
        "localhost",
        backend.port(),
        json!({ "caBundle": pki.path("ca.pem") }),
    ));
    let r = get(&gw, "/secret");
    assert_eq!(r.status, 502, "{}", String::from_utf8_lossy(&r.raw));
    assert!(backend.saw_failed_handshake());
    assert_eq!(backend.requests(), 0);

    // insecureSkipVerify accepts it (tollgate's own escape hatch).
    let gw = Gateway::start(config(
        "localhost",
        backend.port(),
        json!({ "insecureSkipVerify": true }),
    ));
    assert_eq!(get(&gw, "/anyway").status, 200);
    assert_eq!(backend.requests(), 1);

    // So does API Gateway's per-integration switch, with the CA bundle still configured.
    let mut c = config(
        "localhost",
        backend.port(),
        json!({ "caBundle": pki.path("ca.pem") }),
    );
    let defs = &mut c["apis"][0]["definition"]["paths"]["/{proxy+}"];
    defs["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]["tlsConfig"] =
        json!({ "insecureSkipVerification": true });
    let gw = Gateway::start(c);
    assert_eq!(get(&gw, "/per-integration").status, 200);
    assert_eq!(backend.requests(), 2);
}

#[test]
fn mutual_tls_to_the_backend_with_the_configured_client_certificate() {
    let pki = pki();
    let backend = Backend::start(&pki, "backend", Some("client-ca.pem"), "mtls");
    let with_cert = json!({
        "caBundle": pki.path("ca.pem"),
        "clientCertificate": pki.cert("client"),
    });
    let gw = Gateway::start(config("localhost", backend.port(), with_cert));
    let r = get(&gw, "/mtls");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.raw));
    assert_eq!(seen(&r).client, "tollgate client");
    drop(gw);
    assert_eq!(backend.running.tls_handshake_failures(), 0);

    let gw = Gateway::start(config(
        "localhost",
        backend.port(),
        json!({ "caBundle": pki.path("ca.pem") }),
    ));
    let r = get(&gw, "/no-cert");
    assert_eq!(r.status, 502, "{}", String::from_utf8_lossy(&r.raw));
    assert!(backend.saw_failed_handshake());
    assert_eq!(backend.requests(), 1, "only the request with a certificate");
}

#[test]
fn tls_upstream_connections_are_kept_alive_and_a_stale_one_is_retried() {
    let pki = pki();
    let backend = Backend::start(&pki, "backend", None, "keepalive");
    let gw = Gateway::start_one_worker(config(
        "localhost",
        backend.port(),
        json!({ "caBundle": pki.path("ca.pem") }),
    ));
    let conns: Vec<u64> = (0..4)
        .map(|i| {
            let r = get(&gw, &format!("/n/{i}"));
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.raw));
            seen(&r).conn
        })
        .collect();
    assert!(
        conns.iter().all(|&c| c == conns[0]),
        "one TLS connection for every request: {conns:?}"
    );

    let first = seen(&get(&gw, "/n/first"));
    assert!(!first.resumed, "{first:?}");

    // The backend closes the pooled connection after answering, without saying so
    // (`x-upstream-then-close`): the next request finds it stale and is sent again on a fresh
    // connection, which resumes the TLS session.
    let r = gw.client().roundtrip(
        format!("GET /then-drop HTTP/1.1\r\nHost: {HOST}\r\nx-upstream-then-close: 1\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.raw));
    let dropped = seen(&r);
    assert_eq!(dropped.conn, first.conn, "the pooled connection carried it");
    std::thread::sleep(Duration::from_millis(200));
    let r = get(&gw, "/after");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.raw));
    let after = seen(&r);
    assert_ne!(after.conn, dropped.conn);
    assert!(after.resumed, "the session is resumed: {after:?}");
    // Seven requests answered. A gateway that wrote `/after` on the stale connection before
    // seeing the close had it read there unanswered (the backend drains after closing): it
    // then follows `/then-drop` in that connection's recording, and nothing else does.
    let rec = backend.recording(dropped.conn);
    let at = find(&rec, b"GET /then-drop ").expect("recorded");
    let unanswered = count(&rec[at..], b" HTTP/1.1\r\n") - 1;
    assert!(
        unanswered == 0 || (unanswered == 1 && contains(&rec[at..], b"GET /after ")),
        "{}",
        show(&rec[at..])
    );
    assert_eq!(backend.requests(), 7 + unanswered);
}
