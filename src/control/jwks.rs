//! JWT authorizer keys, off the request path (issue 8). One control thread keeps every
//! authorizer of the current snapshot supplied with keys:
//!
//! - `jwksFile` keys were read and parsed at load; `meters.rs` installs them. Nothing here.
//! - `jwksUri`: `GET` it. Discovery (the default, as API Gateway does):
//!   `GET {issuer}/.well-known/openid-configuration` (or `openIdConnectUrl`), then its
//!   `jwks_uri`. A minimal HTTP/1.1 client on `std::net` with timeouts (1500 ms per step, API
//!   Gateway's JWKS timeout) and a size cap (`MAX_JWKS_BYTES`, API Gateway's 150000 bytes).
//!   `https://` goes over rustls with the certificates backends are verified against
//!   (`server.upstreamTls`: its CA bundle or the system's); without any, the authorizer is
//!   logged as "keys unavailable" and its requests keep failing closed with 401.
//! - Fetched keys go to the verifier with `Verifier::set_keys`; a failed fetch keeps the keys
//!   the authorizer had (logged, retried after [`RETRY`]).
//! - Refresh every [`REFRESH`]; and when the data plane saw an unknown `kid`
//!   (`JwtAuth::refresh_wanted`, an atomic flag polled every [`POLL`]), at most once per
//!   [`KID_REFRESH_MIN`] per authorizer. A new authorizer (or a changed key source) is
//!   fetched at once. Nothing is ever fetched from an address a token names (`jku`, `x5u`).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::time::{Duration, Instant};

use super::log::log;
use crate::config::KeySource;
use crate::dataplane::Shared;
use crate::dataplane::auth::jwt::{KeySet, MAX_JWKS_BYTES};
use crate::dataplane::authorize::JwtAuth;

/// Scheduled refresh of every fetched key set.
pub const REFRESH: Duration = Duration::from_secs(300);
/// Unknown-`kid` refreshes per authorizer: at most one per this long.
pub const KID_REFRESH_MIN: Duration = Duration::from_secs(30);
/// After a failed fetch.
pub const RETRY: Duration = Duration::from_secs(10);
/// How often the thread looks at the flags and schedules.
pub const POLL: Duration = Duration::from_millis(200);
/// Connect, write and each read (API Gateway's JWKS timeout).
const STEP_TIMEOUT: Duration = Duration::from_millis(1500);
/// A whole fetch.
const FETCH_DEADLINE: Duration = Duration::from_secs(3);
/// Room for the response head beyond the body cap.
const MAX_HEAD_BYTES: usize = 16 * 1024;

struct State {
    /// The `JwtAuth` this state belongs to (a reload that rebuilt it starts afresh).
    auth: Arc<JwtAuth>,
    source: String,
    next_due: Instant,
    last_kid_refresh: Option<Instant>,
}

pub fn spawn(shared: Arc<Shared>) {
    let _ = std::thread::Builder::new()
        .name("tollgate-jwks".into())
        .spawn(move || {
            let mut states: HashMap<Box<str>, State> = HashMap::new();
            loop {
                if shared.is_draining() {
                    return;
                }
                tick(&shared, &mut states, Instant::now());
                std::thread::sleep(POLL);
            }
        });
}

fn tick(shared: &Shared, states: &mut HashMap<Box<str>, State>, now: Instant) {
    let current = shared.jwt_authorizers();
    states.retain(|id, _| current.iter().any(|(a, _)| a.identity == *id));
    for (auth, source) in current {
        let url = match &source {
            KeySource::File { .. } => continue,
            KeySource::Uri(u) | KeySource::Discovery(u) => u.clone(),
        };
        let fresh = match states.get(&auth.identity) {
            Some(s) => !Arc::ptr_eq(&s.auth, &auth) || s.source != url,
            None => true,
        };
        if fresh {
            states.insert(
                auth.identity.clone(),
                State {
                    auth: auth.clone(),
                    source: url.clone(),
                    next_due: now,
                    last_kid_refresh: None,
                },
            );
        }
        let Some(state) = states.get_mut(&auth.identity) else {
            continue;
        };
        let mut due = now >= state.next_due;
        if auth.refresh_wanted.load(Ordering::Relaxed)
            && state
                .last_kid_refresh
                .is_none_or(|t| now.duration_since(t) >= KID_REFRESH_MIN)
        {
            auth.refresh_wanted.store(false, Ordering::Relaxed);
            state.last_kid_refresh = Some(now);
            due = true;
        }
        if !due {
            continue;
        }
        let tls = shared
            .current()
            .server
            .upstream_tls
            .as_ref()
            .and_then(|t| t.config.clone());
        let tls = tls.as_ref();
        let result = match &source {
            KeySource::Discovery(u) => discover(u, tls).and_then(|jwks| fetch_keys(&jwks, tls)),
            _ => fetch_keys(&url, tls),
        };
        match result {
            Ok((keys, skipped)) => {
                log(format!(
                    "authorizer {}: {} key(s) from {url}{}",
                    auth.identity,
                    keys.len(),
                    if skipped.is_empty() {
                        String::new()
                    } else {
                        format!(" ({} skipped: {})", skipped.len(), skipped.join("; "))
                    }
                ));
                auth.verifier.set_keys(Arc::new(keys));
                state.next_due = now + REFRESH;
            }
            Err(Failure::NeedsCa(u)) => {
                log(format!(
                    "authorizer {}: keys unavailable: {u} needs CA certificates to verify it (`server.upstreamTls.caBundle`, or a system bundle); requests are refused with 401",
                    auth.identity
                ));
                state.next_due = now + REFRESH;
            }
            Err(Failure::Other(e)) => {
                log(format!(
                    "authorizer {}: cannot load keys from {url}: {e}; keeping the previous keys, retrying in {}s",
                    auth.identity,
                    RETRY.as_secs()
                ));
                state.next_due = now + RETRY;
            }
        }
    }
}

enum Failure {
    /// An `https://` address without CA certificates to verify it.
    NeedsCa(String),
    Other(String),
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure::Other(s)
    }
}

/// The discovery document's `jwks_uri`.
fn discover(url: &str, tls: Option<&Arc<ClientConfig>>) -> Result<String, Failure> {
    let body = get(url, tls)?;
    let doc: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| format!("the discovery document at {url} is not JSON"))?;
    let jwks = doc
        .get("jwks_uri")
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("the discovery document at {url} has no string `jwks_uri`"))?;
    Ok(jwks.to_string())
}

fn fetch_keys(
    url: &str,
    tls: Option<&Arc<ClientConfig>>,
) -> Result<(KeySet, Vec<String>), Failure> {
    let body = get(url, tls)?;
    let (keys, warnings) = KeySet::from_jwks(&body).map_err(|e| format!("{url}: {e}"))?;
    Ok((keys, warnings.iter().map(|w| w.to_string()).collect()))
}

/// `GET url`, 200 required; the body, at most `MAX_JWKS_BYTES`. `https://` is verified
/// with `tls`.
fn get(url: &str, tls: Option<&Arc<ClientConfig>>) -> Result<Vec<u8>, Failure> {
    let target = parse_http_url(url).ok_or_else(|| format!("`{url}` is not an http(s):// URL"))?;
    let tls = match (target.https, tls) {
        (false, _) => None,
        (true, Some(config)) => Some(config),
        (true, None) => return Err(Failure::NeedsCa(url.to_string())),
    };
    Ok(http_get(&target, url, tls)?)
}

struct Target {
    https: bool,
    host: String,
    port: u16,
    /// `host` or `host:port` as sent in `Host`.
    authority: String,
    path: String,
}

fn parse_http_url(url: &str) -> Option<Target> {
    let (https, rest) = match url.strip_prefix("https://") {
        Some(rest) => (true, rest),
        None => (false, url.strip_prefix("http://")?),
    };
    let default_port = if https { 443 } else { 80 };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    if authority.is_empty() || authority.contains('@') || path.contains(['\r', '\n', ' ', '#']) {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.to_string(), default_port),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some(Target {
        https,
        host,
        port,
        authority: authority.to_string(),
        path,
    })
}

fn http_get(t: &Target, url: &str, tls: Option<&Arc<ClientConfig>>) -> Result<Vec<u8>, String> {
    let start = Instant::now();
    let addrs: Vec<SocketAddr> = (t.host.as_str(), t.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", t.host))?
        .collect();
    let mut stream = None;
    let mut last_err = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, STEP_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = format!("connect {addr}: {e}"),
        }
    }
    let tcp = stream.ok_or(last_err)?;
    let io = |e: std::io::Error| format!("{url}: {e}");
    tcp.set_read_timeout(Some(STEP_TIMEOUT)).map_err(io)?;
    tcp.set_write_timeout(Some(STEP_TIMEOUT)).map_err(io)?;
    let mut stream: Box<dyn ReadWrite> = match tls {
        None => Box::new(tcp),
        Some(config) => {
            let name = crate::config::upstream_tls::server_name(&t.host)
                .ok_or_else(|| format!("{url}: `{}` cannot be verified", t.host))?;
            let conn =
                ClientConnection::new(config.clone(), name).map_err(|e| format!("{url}: {e}"))?;
            Box::new(StreamOwned::new(conn, tcp))
        }
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: tollgate\r\nConnection: close\r\n\r\n",
        t.path, t.authority
    );
    stream.write_all(request.as_bytes()).map_err(io)?;
    let cap = MAX_JWKS_BYTES + MAX_HEAD_BYTES;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if start.elapsed() > FETCH_DEADLINE {
            return Err(format!("{url}: took longer than {FETCH_DEADLINE:?}"));
        }
        let n = stream.read(&mut chunk).map_err(io)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > cap {
            return Err(format!(
                "{url}: response larger than {MAX_JWKS_BYTES} bytes"
            ));
        }
        if let Some(body) = complete_body(&buf)? {
            return Ok(body);
        }
    }
    complete_body(&buf)?
        .or_else(|| eof_body(&buf))
        .ok_or_else(|| format!("{url}: incomplete response"))
}

/// The body once the response is complete (by `Content-Length` or chunked framing);
/// `Ok(None)` while more bytes are needed. A status other than 200 is an error.
fn complete_body(buf: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "response head is not text")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line `{status_line}`"))?;
    if status != 200 {
        return Err(format!("status {status}"));
    }
    let body = &buf[head_end + 4..];
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| "bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().ends_with("chunked");
        }
    }
    if chunked {
        return dechunk(body);
    }
    match length {
        Some(n) if body.len() >= n => Ok(Some(body[..n].to_vec())),
        _ => Ok(None),
    }
}

/// Neither length nor chunked: the body runs to the end of the connection.
fn eof_body(buf: &[u8]) -> Option<Vec<u8>> {
    find(buf, b"\r\n\r\n").map(|i| buf[i + 4..].to_vec())
}

fn dechunk(mut body: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = find(body, b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&body[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(Some(out));
        }
        if body.len() < size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_to_host_port_and_path() {
        let t = parse_http_url("http://127.0.0.1:9000/jwks.json").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 9000, "/jwks.json")
        );
        let t = parse_http_url("http://idp.example").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("idp.example", 80, "/")
        );
        let t = parse_http_url("http://[::1]:8080/a?b=c").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.authority.as_str()),
            ("::1", 8080, "[::1]:8080")
        );
        let t = parse_http_url("https://idp.example/jwks").unwrap();
        assert_eq!((t.https, t.port, t.path.as_str()), (true, 443, "/jwks"));
        assert!(!parse_http_url("http://idp.example/").unwrap().https);
        for bad in [
            "ftp://x/",
            "https://",
            "http://",
            "http://u@h/",
            "http://h:99999/",
            "http://h/a b",
        ] {
            assert!(parse_http_url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn bodies_by_length_chunks_or_status() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(complete_body(ok).unwrap().unwrap(), b"{}");
        assert_eq!(complete_body(&ok[..ok.len() - 1]).unwrap(), None);
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assert_eq!(complete_body(chunked).unwrap().unwrap(), b"{}");
        assert!(complete_body(b"HTTP/1.1 404 Not Found\r\n\r\n").is_err());
    }
}
