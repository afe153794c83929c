//! HTTPS listeners (issue 6) with a real client: curl, against certificates this test makes
//! with its own CA (rcgen). Custom domains by SNI (exact and wildcard), the listener's default
//! certificate, TLS 1.2 and 1.3, mutual TLS, 421 Misdirected Request, a certificate reload
//! while a keep-alive client stays connected, and a bad certificate file refused by name.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::config::{API, STAGE, any_proxy, rest_config};
use support::pki::{Ca, Pki};
use support::*;

/// The test's files: CA, the default certificate (`gw.test`), `a.test`, `*.b.test` (with
/// mutual TLS against the client CA), client certificates from the client CA and another.
fn pki() -> Pki {
    let pki = Pki::new("tls", "Tollgate TLS Test CA");
    let client_ca = pki.add_ca("client-ca.pem", "Tollgate Client CA");
    let other_ca = Ca::new("Someone Else");
    for (name, names, cn) in [
        ("default", "gw.test", "gw.test"),
        ("a", "a.test", "a.test"),
        ("b", "*.b.test", "wildcard b.test"),
    ] {
        pki.issue(name, &pki.ca, &[names], cn, false);
    }
    pki.issue("client", &client_ca, &[], "good client", true);
    pki.issue("stranger", &other_ca, &[], "stranger", true);
    pki
}

fn config(pki: &Pki, up: &Upstream, port: u16) -> Value {
    let mut c = rest_config(json!({ "/{proxy+}": any_proxy(&up.uri("/{proxy}")) }));
    // The client certificate reaches the backend through the request context.
    let params = &mut c["apis"][0]["definition"]["paths"]["/{proxy+}"]["x-amazon-apigateway-any-method"]
        ["x-amazon-apigateway-integration"]["requestParameters"];
    params["integration.request.header.X-Client-Subject"] =
        json!("context.identity.clientCert.subjectDN");
    params["integration.request.header.X-Client-Issuer"] =
        json!("context.identity.clientCert.issuerDN");
    params["integration.request.header.X-Client-Not-After"] =
        json!("context.identity.clientCert.validity.notAfter");
    c["server"]["listeners"] = json!([{
        "address": format!("127.0.0.1:{port}"),
        "tls": { "certificate": pki.cert("default") }
    }]);
    let mapping = json!([{ "basePath": "", "apiId": API, "stage": STAGE }]);
    c["domainNames"] = json!([
        { "domainName": "a.test", "certificate": pki.cert("a"), "basePathMappings": mapping },
        { "domainName": "*.b.test", "certificate": pki.cert("b"),
          "mutualTlsAuthentication": { "truststoreUri": pki.path("client-ca.pem") },
          "basePathMappings": mapping },
    ]);
    c
}

#[derive(Debug)]
struct Curl {
    status: u16,
    /// curl's `-v` output: the TLS version, the certificate it was shown.
    verbose: String,
}

/// `curl -v` to `https://{name}:{port}{path}` resolved to loopback, trusting the test CA.
fn curl(pki: &Pki, port: u16, name: &str, path: &str, extra: &[&str]) -> Result<Curl, String> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-v", "--max-time", "10", "-o", "/dev/null"])
        .args(["-w", "%{http_code}"])
        .args(["--cacert", &pki.path("ca.pem")])
        .args(["--resolve", &format!("{name}:{port}:127.0.0.1")])
        .args(extra)
        .arg(format!("https://{name}:{port}{path}"));
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("`curl` is needed (scripts/test.sh installs it): {e}"));
    let verbose = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(verbose);
    }
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    Ok(Curl { status, verbose })
}

fn subject_cn(verbose: &str) -> String {
    verbose
        .lines()
        .find_map(|l| l.trim_start_matches(['*', ' ']).strip_prefix("subject: "))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("curl shows no subject:\n{verbose}"))
}

fn start(pki: &Pki, up: &Upstream) -> (Gateway, u16) {
    let port = free_port();
    (Gateway::start(config(pki, up, port)), port)
}

#[test]
fn sni_chooses_the_domain_certificate_and_unknown_names_get_the_default() {
    let pki = pki();
    let up = Upstream::echo();
    let (_gw, port) = start(&pki, &up);
    for (name, cn) in [
        ("a.test", "a.test"),
        ("x.b.test", "wildcard b.test"),
        ("gw.test", "gw.test"),
    ] {
        let extra: &[&str] = if name.ends_with(".b.test") {
            &[
                "--cert",
                &pki.path("client.pem"),
                "--key",
                &pki.path("client.key"),
            ]
        } else {
            &[]
        };
        let r = curl(&pki, port, name, "/hello", extra).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.status, 200, "{name}: {}", r.verbose);
        assert!(subject_cn(&r.verbose).contains(cn), "{name}: {}", r.verbose);
    }
    // A name no certificate covers gets the default one (curl then refuses it by name).
    let err = curl(&pki, port, "other.test", "/hello", &[]).unwrap_err();
    assert!(err.contains("gw.test"), "{err}");
    assert!(up.request_count() >= 3);
}

#[test]
fn tls_1_2_and_1_3_both_negotiate() {
    let pki = pki();
    let up = Upstream::echo();
    let (_gw, port) = start(&pki, &up);
    let r13 = curl(&pki, port, "a.test", "/v", &["--tlsv1.3"]).unwrap();
    assert!(r13.verbose.contains("TLSv1.3"), "{}", r13.verbose);
    let r12 = curl(
        &pki,
        port,
        "a.test",
        "/v",
        &["--tlsv1.2", "--tls-max", "1.2"],
    )
    .unwrap();
    assert!(r12.verbose.contains("TLSv1.2"), "{}", r12.verbose);
    assert_eq!((r13.status, r12.status), (200, 200));
    // rustls has no TLS 1.1 (API Gateway's TLS_1_0 policy is served as TLS 1.2 minimum).
    assert!(
        curl(
            &pki,
            port,
            "a.test",
            "/v",
            &["--tlsv1.1", "--tls-max", "1.1"]
        )
        .is_err()
    );
}

#[test]
fn mutual_tls_requires_a_client_certificate_from_the_truststore() {
    let pki = pki();
    let up = Upstream::echo();
    let (gw, port) = start(&pki, &up);
    let good = [
        "--cert",
        &pki.path("client.pem"),
        "--key",
        &pki.path("client.key"),
    ];
    assert_eq!(
        curl(&pki, port, "api.b.test", "/m", &good).unwrap().status,
        200
    );
    // The certificate reaches the backend through the request context.
    let seen = up.requests().pop().unwrap();
    assert_eq!(
        seen.header("x-client-subject").as_deref(),
        Some("CN=good client")
    );
    assert_eq!(
        seen.header("x-client-issuer").as_deref(),
        Some("CN=Tollgate Client CA")
    );
    assert!(
        seen.header("x-client-not-after")
            .is_some_and(|v| v.ends_with(" GMT")),
        "{seen:?}"
    );
    // Without mutual TLS there is no certificate, and no header.
    assert_eq!(curl(&pki, port, "a.test", "/n", &[]).unwrap().status, 200);
    assert_eq!(
        up.requests().pop().unwrap().header("x-client-subject"),
        None
    );
    let before = up.request_count();
    assert!(
        curl(&pki, port, "api.b.test", "/m", &[]).is_err(),
        "no client certificate was accepted"
    );
    let stranger = [
        "--cert",
        &pki.path("stranger.pem"),
        "--key",
        &pki.path("stranger.key"),
    ];
    assert!(
        curl(&pki, port, "api.b.test", "/m", &stranger).is_err(),
        "a certificate from another CA was accepted"
    );
    assert_eq!(up.request_count(), before);
    // The handshakes are counted (issue 7 metrics): two completed, the refused ones (and the
    // harness's readiness probe, a bare TCP connect) failed; every accepted connection is one.
    let g = gw.admin("GET", "/metrics.json").json()["gateway"].clone();
    let n = |k: &str| g[k].as_u64().unwrap();
    assert_eq!(n("tls_handshakes_total"), 2, "{g}");
    assert!(n("tls_handshake_failures_total") >= 2, "{g}");
    assert_eq!(
        n("connections_accepted_total"),
        n("tls_handshakes_total") + n("tls_handshake_failures_total"),
        "{g}"
    );
}

#[test]
fn a_host_of_another_certificate_is_misdirected_421() {
    let pki = pki();
    let up = Upstream::echo();
    let (_gw, port) = start(&pki, &up);
    // TLS for a.test, then a request for the mTLS domain: 421, never forwarded.
    let r = curl(&pki, port, "a.test", "/x", &["-H", "Host: api.b.test"]).unwrap();
    assert_eq!(r.status, 421);
    // The default certificate cannot be used to reach a.test either.
    let r = curl(&pki, port, "gw.test", "/x", &["-H", "Host: a.test"]).unwrap();
    assert_eq!(r.status, 421);
    // A Host no certificate names is served under the SNI's.
    let r = curl(&pki, port, "a.test", "/x", &["-H", "Host: elsewhere.test"]).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(up.request_count(), 1);
}

#[test]
fn a_reload_serves_a_renewed_certificate_to_new_connections() {
    let pki = pki();
    let up = Upstream::echo();
    let port = free_port();
    let mut gw = Gateway::start(config(&pki, &up, port));
    let before = curl(&pki, port, "a.test", "/one", &[]).unwrap();
    assert!(subject_cn(&before.verbose).contains("a.test"));
    // A new certificate for a.test with another subject, then SIGHUP.
    let (c, k) = pki.ca.leaf(&["a.test"], "a.test renewed", false);
    pki.dir.write_atomic("a.pem", c.as_bytes());
    pki.dir.write_atomic("a.key", k.as_bytes());
    let g = gw.generation();
    gw.sighup();
    assert!(wait_until(Duration::from_secs(10), || gw.generation() > g));
    let after = curl(&pki, port, "a.test", "/two", &[]).unwrap();
    assert_eq!(after.status, 200);
    assert!(
        subject_cn(&after.verbose).contains("renewed"),
        "{}",
        after.verbose
    );
    gw.assert_healthy();
}

/// One TLS connection from Python's `ssl`: a request, then (after a line on stdin) another
/// on the same connection; prints both status lines, the TLS version and the certificate's
/// CN.
const KEEP_ALIVE_CLIENT: &str = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10),
                    server_hostname="a.test")
def get(path):
    s.sendall(("GET %s HTTP/1.1\r\nHost: a.test\r\n\r\n" % path).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return "closed"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
    while len(body) < n:
        body += s.recv(65536)
    return head.split(b"\r\n")[0].decode()
print(get("/first"), flush=True)
sys.stdin.readline()
print(get("/second"), flush=True)
print(s.version(), dict(x[0] for x in s.getpeercert()["subject"])["commonName"], flush=True)
"#;

#[test]
fn a_keep_alive_connection_survives_a_certificate_reload() {
    use std::io::{BufRead, BufReader, Write};
    let pki = pki();
    let up = Upstream::echo();
    let port = free_port();
    let gw = Gateway::start(config(&pki, &up, port));
    let mut child = Command::new("python3")
        .args([
            "-c",
            KEEP_ALIVE_CLIENT,
            &pki.path("ca.pem"),
            &port.to_string(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, "HTTP/1.1 200 OK");
    let (c, k) = pki.ca.leaf(&["a.test"], "a.test renewed", false);
    pki.dir.write_atomic("a.pem", c.as_bytes());
    pki.dir.write_atomic("a.key", k.as_bytes());
    let g = gw.generation();
    gw.sighup();
    assert!(wait_until(Duration::from_secs(10), || gw.generation() > g));
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let second = lines.next().unwrap().unwrap();
    let session = lines.next().unwrap().unwrap();
    let _ = child.wait();
    assert_eq!(
        second, "HTTP/1.1 200 OK",
        "the connection did not survive the reload"
    );
    assert_eq!(up.request_count(), 2);
    assert_eq!(
        session, "TLSv1.3 a.test",
        "the open connection keeps the certificate it was made with"
    );
    // New connections get the new certificate.
    let after = curl(&pki, port, "a.test", "/third", &[]).unwrap();
    assert!(
        subject_cn(&after.verbose).contains("renewed"),
        "{}",
        after.verbose
    );
}

#[test]
fn a_bad_certificate_file_is_an_error_naming_it() {
    let pki = pki();
    let up = Upstream::echo();
    let port = free_port();
    let gw = Gateway::start(config(&pki, &up, port));
    // A key that is not the certificate's: the reload is refused, the old config serves.
    std::fs::copy(pki.dir.file("b.key"), pki.dir.file("a.key")).unwrap();
    let r = gw.reload_post();
    assert_eq!(r.status, 400);
    let body = r.body_str();
    assert!(body.contains("a.key") || body.contains("a.pem"), "{body}");
    assert_eq!(
        curl(&pki, port, "a.test", "/still", &[]).unwrap().status,
        200
    );
    // A missing file at start: `tollgate check` names it.
    let mut cfg = config(&pki, &up, port);
    cfg["domainNames"][0]["certificate"]["certificateChain"] = json!("nope.pem");
    let dir = TempDir::new("tls-check");
    let file = dir.write_atomic("gw.json", cfg.to_string().as_bytes());
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["check", &file.display().to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nope.pem"), "{text}");
}

/// RELIABILITY T01: a ClientHello trickled byte by byte is cut by the header timeout, half-open
/// handshakes all end by it, a malformed ClientHello gets an alert and a close — and none of
/// it disturbs a real client meanwhile.
#[test]
fn handshake_abuse_is_bounded_t01() {
    let pki = pki();
    let up = Upstream::echo();
    let port = free_port();
    let cfg =
        support::config::with_limits(config(&pki, &up, port), json!({ "headerTimeoutMs": 1000 }));
    let mut gw = Gateway::start(cfg);
    // (a) A record header announcing a ClientHello, then one byte every 200 ms.
    let started = std::time::Instant::now();
    let mut slow = Client::connect(port);
    slow.send(&[0x16, 0x03, 0x01, 0x01, 0x00]);
    while !slow.is_closed_within(Duration::from_millis(200)) {
        let _ = slow.try_send(&[0x01]);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "a trickled ClientHello outlived the 1 s handshake deadline"
        );
    }
    assert!(started.elapsed() >= Duration::from_millis(800));
    // (c) Half-open handshakes: all closed by the deadline, while curl is served.
    let started = std::time::Instant::now();
    let mut idle: Vec<Client> = (0..50).map(|_| Client::connect(port)).collect();
    assert_eq!(curl(&pki, port, "a.test", "/ok", &[]).unwrap().status, 200);
    for c in &mut idle {
        assert!(c.is_closed_within(Duration::from_secs(4)));
    }
    assert!(started.elapsed() < Duration::from_secs(4));
    // (d) A record and handshake header for a 12-byte ClientHello whose body is garbage: an
    // alert (content type 21), then a close.
    let mut bad = Client::connect(port);
    bad.send(&[
        0x16, 0x03, 0x01, 0x00, 0x10, 0x01, 0x00, 0x00, 0x0c, 0xde, 0xad, 0xbe, 0xef, 0x00, 0xff,
        0x13, 0x37, 0x42, 0x99, 0x88, 0x77,
    ]);
    let (bytes, how) = bad.read_until_closed(Duration::from_secs(4));
    assert_ne!(
        how,
        Closed::TimedOut,
        "a malformed ClientHello was left open"
    );
    assert_eq!(bytes.first(), Some(&21), "no alert: {bytes:?}");
    assert_eq!(curl(&pki, port, "a.test", "/ok", &[]).unwrap().status, 200);
    gw.assert_healthy();
}

/// RELIABILITY C02 across schemes: one host over http and over https are two cache entries.
#[test]
fn http_and_https_never_share_a_cache_entry() {
    let pki = pki();
    let up = Upstream::echo();
    let (tls_port, plain_port) = (free_port(), free_port());
    let mut cfg = config(&pki, &up, tls_port);
    let https = cfg["server"]["listeners"][0].clone();
    cfg["server"]["listeners"] = json!([{ "address": format!("127.0.0.1:{plain_port}") }, https]);
    cfg["stages"][0]["cacheClusterEnabled"] = json!(true);
    let gw = Gateway::start(cfg);
    assert_eq!(gw.port, plain_port);
    let plain = |c: &mut Client| {
        let r = c.roundtrip(&support::http::request(
            "GET",
            "/cached",
            &[("Host", "a.test")],
            None,
        ));
        assert_eq!(r.status, 200);
    };
    let mut c = gw.client();
    plain(&mut c);
    assert_eq!(
        curl(&pki, tls_port, "a.test", "/cached", &[])
            .unwrap()
            .status,
        200
    );
    assert_eq!(up.request_count(), 2, "http and https shared an entry");
    plain(&mut c);
    assert_eq!(
        curl(&pki, tls_port, "a.test", "/cached", &[])
            .unwrap()
            .status,
        200
    );
    assert_eq!(up.request_count(), 2, "each scheme's entry is a hit");
}
