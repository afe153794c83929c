//! TLS to backends (issue 6): `https://` integration URIs against a real TLS server — Python's
//! `ssl` + `http.server`, started and killed by this test on loopback — with certificates the
//! test makes with its own CA (rcgen). A CA bundle, an untrusted backend, mutual TLS to the
//! backend, keep-alive reuse of the TLS connection, a stale pooled TLS connection retried, and
//! the SNI the backend saw.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use serde_json::{Value, json};
use support::config::{any_proxy, rest_config};
use support::*;

/// An HTTP/1.1 keep-alive server over TLS. Args: port file... see `Backend::start`. Every
/// connection gets a number; every handshake failure and request is a JSON line in the log,
/// with the SNI the client sent, the client certificate's CN and whether the TLS session was
/// resumed. `/then-drop` answers and
/// then closes the connection without saying so (a stale pooled connection for the gateway).
/// It exits by itself after two minutes, should the test die without killing it.
const BACKEND: &str = r#"
import http.server, itertools, json, os, socket, ssl, sys, threading
cert, key, client_ca, log_path = sys.argv[1:5]
threading.Timer(120, lambda: os._exit(0)).start()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
if client_ca != "-":
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(client_ca)
snis = {}
def on_sni(sock, name, _ctx):
    snis[id(sock)] = name
ctx.sni_callback = on_sni
lock = threading.Lock()
log = open(log_path, "a", buffering=1)
def record(**kw):
    with lock:
        log.write(json.dumps(kw) + "\n")
ids = itertools.count(1)

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        self.conn_id = next(ids)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError) as e:
            record(event="handshake_failed", conn=self.conn_id, error=str(e))
            raise
        self.sni = snis.pop(id(self.request), None)
        self.resumed = self.request.session_reused
        peer = self.request.getpeercert() or {}
        self.client = dict(x[0] for x in peer.get("subject", ())).get("commonName")
        super().setup()
    def reply(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        seen = dict(conn=self.conn_id, sni=self.sni, client=self.client, resumed=self.resumed,
                    method=self.command, path=self.path, host=self.headers.get("Host"), body=body)
        record(event="request", **seen)
        out = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
        self.wfile.flush()
        if self.path == "/then-drop":
            self.close_connection = True
    do_GET = do_POST = reply
    def log_message(self, *args):
        pass

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
    def get_request(self):
        sock, addr = self.socket.accept()
        return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

# Both loopbacks (whatever `localhost` resolves to), else IPv4 alone.
try:
    Server.address_family = socket.AF_INET6
    server = Server(("::", 0), Handler)
except OSError:
    Server.address_family = socket.AF_INET
    server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(cn: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = p.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(p, key),
        }
    }

    /// (certificate PEM, key PEM): a server certificate for `localhost` and 127.0.0.1, or a
    /// client one.
    fn leaf(&self, cn: &str, client: bool) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        if client {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        } else {
            p.subject_alt_names = vec![
                SanType::DnsName("localhost".try_into().unwrap()),
                SanType::IpAddress([127, 0, 0, 1].into()),
                SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
            ];
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        }
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// The test's files: `ca.pem` (tollgate trusts it), `backend.*` (signed by it), `rogue.*`
/// (signed by another CA), `client-ca.pem` and `client.*` (tollgate's client certificate).
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = TempDir::new("uptls");
        let ca = Ca::new("Backend CA");
        let other = Ca::new("Someone Else");
        let client_ca = Ca::new("Gateway Client CA");
        dir.write_atomic("ca.pem", ca.pem.as_bytes());
        dir.write_atomic("client-ca.pem", client_ca.pem.as_bytes());
        for (name, ca, cn, client) in [
            ("backend", &ca, "backend", false),
            ("rogue", &other, "rogue", false),
            ("client", &client_ca, "tollgate client", true),
        ] {
            let (c, k) = ca.leaf(cn, client);
            dir.write_atomic(&format!("{name}.pem"), c.as_bytes());
            dir.write_atomic(&format!("{name}.key"), k.as_bytes());
        }
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.file(name).display().to_string()
    }
}

/// The Python TLS backend, killed (by its PID, through `Child`) when dropped.
struct Backend {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Backend {
    /// Serves `cert` (`backend` or `rogue`); `client_ca`: require a client certificate.
    fn start(pki: &Pki, cert: &str, client_ca: Option<&str>, tag: &str) -> Backend {
        let log = pki.dir.file(&format!("{tag}.log"));
        let mut child = Command::new("python3")
            .args([
                "-c",
                BACKEND,
                &pki.path(&format!("{cert}.pem")),
                &pki.path(&format!("{cert}.key")),
                &client_ca.map_or("-".to_string(), |c| pki.path(c)),
                &log.display().to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 is needed (scripts/test.sh installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("backend did not start: {line:?}"));
        Backend { child, port, log }
    }

    /// Every event logged so far.
    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn requests(&self) -> Vec<Value> {
        let mut r = self.events();
        r.retain(|e| e["event"] == "request");
        r
    }

    /// Waits (bounded) for the backend to log a failed handshake.
    fn saw_failed_handshake(&self) -> bool {
        wait_until(Duration::from_secs(5), || {
            self.events()
                .iter()
                .any(|e| e["event"] == "handshake_failed")
        })
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

fn seen(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|_| {
        panic!(
            "not the backend's answer: {}",
            String::from_utf8_lossy(&r.raw)
        )
    })
}

#[test]
fn get_and_post_through_https_with_a_ca_bundle_and_sni() {
    let pki = Pki::new();
    let backend = Backend::start(&pki, "backend", None, "plain");
    let gw = Gateway::start(config(
        "localhost",
        backend.port,
        json!({ "caBundle": pki.path("ca.pem") }),
    ));
    let r = get(&gw, "/pets/7?x=1");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.raw));
    let s = seen(&r);
    assert_eq!(s["method"], "GET");
    assert_eq!(s["path"], "/pets/7?x=1");
    assert_eq!(s["sni"], "localhost", "the SNI is the URI's host");
    assert_eq!(s["host"], format!("localhost:{}", backend.port));

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
    assert_eq!(
        (s["method"].as_str(), s["body"].as_str()),
        (Some("POST"), Some(body))
    );

    // An IP literal is verified against the certificate's IP address and sends no SNI.
    let gw = Gateway::start(config(
        "127.0.0.1",
        backend.port,
        json!({ "caBundle": pki.path("ca.pem") }),
    ));
    let r = get(&gw, "/ip");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.raw));
    assert_eq!(seen(&r)["sni"], Value::Null);
}

#[test]
fn an_untrusted_backend_certificate_is_a_502_and_no_request() {
    let pki = Pki::new();
    let backend = Backend::start(&pki, "rogue", None, "rogue");
    let gw = Gateway::start(config(
        "localhost",
        backend.port,
        json!({ "caBundle": pki.path("ca.pem") }),
    ));
    let r = get(&gw, "/secret");
    assert_eq!(r.status, 502, "{}", String::from_utf8_lossy(&r.raw));
    assert!(backend.saw_failed_handshake(), "{:?}", backend.events());
    assert!(backend.requests().is_empty(), "{:?}", backend.events());

    // insecureSkipVerify accepts it (tollgate's own escape hatch).
    let gw = Gateway::start(config(
        "localhost",
        backend.port,
        json!({ "insecureSkipVerify": true }),
    ));
    assert_eq!(get(&gw, "/anyway").status, 200);
}

#[test]
fn mutual_tls_to_the_backend_with_the_configured_client_certificate() {
    let pki = Pki::new();
    let backend = Backend::start(&pki, "backend", Some("client-ca.pem"), "mtls");
    let with_cert = json!({
        "caBundle": pki.path("ca.pem"),
        "clientCertificate": {
            "certificateChain": pki.path("client.pem"),
            "privateKey": pki.path("client.key")
        }
    });
    let gw = Gateway::start(config("localhost", backend.port, with_cert));
    let r = get(&gw, "/mtls");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.raw));
    assert_eq!(seen(&r)["client"], "tollgate client");
    drop(gw);

    let gw = Gateway::start(config(
        "localhost",
        backend.port,
        json!({ "caBundle": pki.path("ca.pem") }),
    ));
    let r = get(&gw, "/no-cert");
    assert_eq!(r.status, 502, "{}", String::from_utf8_lossy(&r.raw));
    assert!(backend.saw_failed_handshake(), "{:?}", backend.events());
    assert_eq!(backend.requests().len(), 1, "{:?}", backend.events());
}

#[test]
fn tls_upstream_connections_are_kept_alive_and_a_stale_one_is_retried() {
    let pki = Pki::new();
    let backend = Backend::start(&pki, "backend", None, "keepalive");
    let gw = Gateway::start_one_worker(config(
        "localhost",
        backend.port,
        json!({ "caBundle": pki.path("ca.pem") }),
    ));
    let conns: Vec<u64> = (0..4)
        .map(|i| {
            let r = get(&gw, &format!("/n/{i}"));
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.raw));
            seen(&r)["conn"].as_u64().unwrap()
        })
        .collect();
    assert!(
        conns.iter().all(|&c| c == conns[0]),
        "one TLS connection for every request: {conns:?}"
    );

    let first = seen(&get(&gw, "/n/first"));
    assert_eq!(first["resumed"], false);

    // The backend closes the pooled connection after answering: the next request finds it
    // stale and is sent again on a fresh connection, which resumes the TLS session.
    let r = get(&gw, "/then-drop");
    assert_eq!(r.status, 200);
    let dropped = seen(&r)["conn"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let r = get(&gw, "/after");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.raw));
    let after = seen(&r);
    assert_ne!(after["conn"].as_u64().unwrap(), dropped);
    assert_eq!(after["resumed"], true, "the session is resumed: {after}");
    assert_eq!(backend.requests().len(), 7, "{:?}", backend.events());
}
