//! The admin API on its own listener (loopback by default), served by a control thread, one
//! request at a time: `GET /health`, `GET /status`, `POST /reload`, API keys and usage-plan
//! keys (`apikeys`), `GetUsage` (`usage`), stage cache stats and flush (`cache`), metrics,
//! and the live dashboard page (`GET /dashboard`, `dashboard.rs`). Everything but
//! `GET /health` and the dashboard page needs the bearer token when one is configured.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::apikeys::KeyAdmin;
use super::dashboard;
use super::log::{log, now_secs, rfc3339};
use super::reload::{Reloader, error_json};
use super::usage::get_usage;
use crate::config::{
    Admin, DEFAULT_MAX_CHUNK_EXT, DEFAULT_MAX_HEADER_LINE, DEFAULT_MAX_HEADERS, DEFAULT_MAX_TARGET,
    DEFAULT_MAX_TRAILER_BYTES,
};
use crate::dataplane::Shared;
use crate::http1::{self, Framing, Limits, RequestHead, Status, reason_phrase as reason};

const IO_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REQUEST: usize = 64 * 1024;
/// Largest request body (a key CSV to import).
const MAX_BODY: usize = 1024 * 1024;

pub struct AdminServer {
    pub listener: TcpListener,
    pub token: Option<String>,
    pub reloader: Arc<Reloader>,
    pub shared: Arc<Shared>,
    pub metrics: Arc<super::metrics::Metrics>,
    pub started: u64,
}

pub fn bind(admin: &Admin) -> std::io::Result<TcpListener> {
    TcpListener::bind(admin.address)
}

impl AdminServer {
    pub fn spawn(self) {
        let _ = std::thread::Builder::new()
            .name("tollgate-admin".into())
            .spawn(move || {
                for stream in self.listener.incoming() {
                    match stream {
                        Ok(s) => self.serve(s),
                        Err(e) => {
                            log(format!("admin: accept: {e}"));
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
            });
    }

    fn serve(&self, mut stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        let (status, body) = match read_request(&mut stream) {
            // Prometheus text, not JSON.
            Ok(req) if (req.method.as_str(), req.target.as_str()) == ("GET", "/metrics") => {
                if self.authorized(req.auth.as_deref()) {
                    let text = self.metrics.prometheus(&self.shared);
                    return write_response(&mut stream, 200, PROMETHEUS_TEXT, &text);
                }
                (401, json!({"message": "Unauthorized"}))
            }
            // The dashboard page holds no data: no token (its script sends one).
            Ok(req)
                if req.method == "GET" && req.target.split('?').next() == Some("/dashboard") =>
            {
                let csp = [
                    (
                        "content-security-policy",
                        dashboard::content_security_policy(),
                    ),
                    ("cache-control", "no-cache"),
                    ("x-content-type-options", "nosniff"),
                ];
                return write_response_with(
                    &mut stream,
                    200,
                    "text/html; charset=utf-8",
                    &csp,
                    dashboard::PAGE,
                );
            }
            Ok(req) => self.route(&req),
            Err(status) => (status, json!({"message": reason(status)})),
        };
        write_response(&mut stream, status, "application/json", &body.to_string());
    }

    fn route(&self, req: &AdminRequest) -> (u16, Value) {
        let method = req.method.as_str();
        let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
        if (method, path) == ("GET", "/health") {
            return if self.shared.is_draining() {
                (503, json!({"status": "draining"}))
            } else {
                (200, json!({"status": "ok"}))
            };
        }
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let known = matches!(
            segments.as_slice(),
            ["health" | "status" | "reload" | "apikeys" | "metrics.json"]
                | ["apikeys", _]
                | ["usageplans", _, "keys" | "usage"]
                | ["usageplans", _, "keys", _]
                | ["restapis", _, "stages", _, "cache"]
                | ["restapis", _, "stages", _, "cache", "data"]
        );
        if !known {
            return (404, json!({"message": "Not Found"}));
        }
        if !self.authorized(req.auth.as_deref()) {
            return (401, json!({"message": "Unauthorized"}));
        }
        let q = parse_query(query);
        let keys = KeyAdmin {
            reloader: &self.reloader,
            shared: &self.shared,
        };
        let body = req.body.as_slice();
        match (method, segments.as_slice()) {
            ("GET", ["status"]) => (200, self.status()),
            ("GET", ["metrics.json"]) => (200, self.metrics.json(&self.shared)),
            ("POST", ["reload"]) => match self.reloader.reload() {
                Ok(generation) => (200, json!({"generation": generation})),
                Err(errors) => (
                    400,
                    json!({"errors": errors.iter().map(error_json).collect::<Vec<_>>()}),
                ),
            },
            ("GET", ["apikeys"]) => keys.list(&q),
            ("POST", ["apikeys"]) if super::apikeys::param(&q, "mode") == Some("import") => {
                keys.import(&q, body)
            }
            ("POST", ["apikeys"]) => keys.create(body),
            ("GET", ["apikeys", id]) => keys.get(id, &q),
            ("PATCH", ["apikeys", id]) => keys.update(id, body),
            ("DELETE", ["apikeys", id]) => keys.delete(id),
            ("POST", ["usageplans", plan, "keys"]) => keys.attach(plan, body),
            ("DELETE", ["usageplans", plan, "keys", key]) => keys.detach(plan, key),
            ("GET", ["usageplans", plan, "usage"]) => get_usage(&self.shared, plan, &q),
            ("GET", ["restapis", api, "stages", stage, "cache"]) => {
                super::cache::stats(&self.shared, api, stage)
            }
            ("DELETE", ["restapis", api, "stages", stage, "cache", "data"]) => {
                super::cache::flush(&self.shared, api, stage)
            }
            _ => (405, json!({"message": "Method Not Allowed"})),
        }
    }

    fn authorized(&self, auth: Option<&str>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let Some(given) = auth.and_then(|a| a.strip_prefix("Bearer ")) else {
            return false;
        };
        constant_time_eq(given.trim().as_bytes(), token.as_bytes())
    }

    fn status(&self) -> Value {
        let snap = self.shared.current();
        json!({
            "generation": snap.generation,
            "source": snap.source.display().to_string(),
            "startedAt": rfc3339(self.started),
            "uptimeSeconds": now_secs().saturating_sub(self.started),
            "workers": self.shared.in_flight.len(),
            "draining": self.shared.is_draining(),
            "connections": Shared::total(&self.shared.connections),
            "connectionsWaiting": Shared::total(&self.shared.waiting),
            "inFlight": Shared::total(&self.shared.in_flight),
            "requests": Shared::total(&self.shared.requests),
            "apis": snap.apis.len(),
            "stages": snap.stages.len(),
            "lastReload": self.reloader.last().to_json(),
            "functionHost": self.reloader.functions.status(),
        })
    }
}

/// Prometheus text exposition format 0.0.4.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

fn write_response(stream: &mut TcpStream, status: u16, content_type: &str, body: &str) {
    write_response_with(stream, status, content_type, &[], body);
}

fn write_response_with(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &str,
) {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n",
        reason(status),
        body.len()
    );
    if status == 401 {
        out.push_str("www-authenticate: Bearer\r\n");
    }
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    let _ = stream.write_all(out.as_bytes());
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

struct AdminRequest {
    method: String,
    /// Path and query.
    target: String,
    auth: Option<String>,
    body: Vec<u8>,
}

/// `a=1&b=x%20y` → pairs, percent-decoded (`+` is a space).
fn parse_query(q: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = |c: u8| (c as char).to_digit(16);
                    match (hex(b[i + 1]), hex(b[i + 2])) {
                        (Some(h), Some(l)) => {
                            out.push((h * 16 + l) as u8);
                            i += 2;
                        }
                        _ => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Read one request with the gateway's own strict parser, and its body.
fn read_request(stream: &mut TcpStream) -> Result<AdminRequest, u16> {
    // The gateway's own defaults; chunked bodies are refused below, so the chunk limits
    // never come into play.
    let limits = Limits {
        max_headers: DEFAULT_MAX_HEADERS,
        max_header_line: DEFAULT_MAX_HEADER_LINE,
        max_head_bytes: MAX_REQUEST,
        max_target: DEFAULT_MAX_TARGET,
        max_chunk_ext: DEFAULT_MAX_CHUNK_EXT,
        max_trailer_bytes: DEFAULT_MAX_TRAILER_BYTES,
    };
    let mut head = RequestHead::with_limits(&limits);
    let mut buf = Vec::with_capacity(4096);
    let started = Instant::now();
    loop {
        if !buf.is_empty() {
            match http1::parse_request(&buf, &limits, &mut head) {
                Ok(Status::Complete) => break,
                Ok(Status::Partial) => {}
                Err(e) => return Err(e.status()),
            }
        }
        if started.elapsed() > IO_TIMEOUT || buf.len() >= MAX_REQUEST {
            return Err(408);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(400),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let text = |s: http1::Span| String::from_utf8_lossy(s.get(&buf)).into_owned();
    let auth = head
        .headers
        .iter()
        .find(|(n, _)| n.get(&buf).eq_ignore_ascii_case(b"authorization"))
        .map(|(_, v)| text(*v));
    let mut body = buf[head.head_len..].to_vec();
    match head.framing {
        Framing::None => body.clear(),
        Framing::Length(n) if n as usize <= MAX_BODY => {
            let n = n as usize;
            body.truncate(n);
            let mut chunk = [0u8; 4096];
            while body.len() < n {
                if started.elapsed() > IO_TIMEOUT {
                    return Err(408);
                }
                match stream.read(&mut chunk[..(n - body.len()).min(4096)]) {
                    Ok(0) | Err(_) => return Err(400),
                    Ok(k) => body.extend_from_slice(&chunk[..k]),
                }
            }
        }
        _ => return Err(413),
    }
    Ok(AdminRequest {
        method: text(head.method),
        target: text(head.target),
        auth,
        body,
    })
}
