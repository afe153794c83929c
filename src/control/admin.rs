//! The admin API on its own listener (loopback by default), served by a control thread:
//! `GET /health`, `GET /status`, `POST /reload`. Everything but `/health` needs the bearer
//! token when one is configured.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::log::{log, now_secs, rfc3339};
use super::reload::{Reloader, error_json};
use crate::config::{
    Admin, DEFAULT_MAX_CHUNK_EXT, DEFAULT_MAX_HEADER_LINE, DEFAULT_MAX_HEADERS, DEFAULT_MAX_TARGET,
    DEFAULT_MAX_TRAILER_BYTES,
};
use crate::dataplane::Shared;
use crate::http1::{self, Framing, Limits, RequestHead, Status, reason_phrase as reason};

const IO_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REQUEST: usize = 64 * 1024;

pub struct AdminServer {
    pub listener: TcpListener,
    pub token: Option<String>,
    pub reloader: Arc<Reloader>,
    pub shared: Arc<Shared>,
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
            Ok((method, path, auth)) => self.route(&method, &path, auth.as_deref()),
            Err(status) => (status, json!({"message": reason(status)})),
        };
        let body = body.to_string();
        let mut out = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
            reason(status),
            body.len()
        );
        if status == 401 {
            out.push_str("www-authenticate: Bearer\r\n");
        }
        out.push_str("\r\n");
        out.push_str(&body);
        let _ = stream.write_all(out.as_bytes());
    }

    fn route(&self, method: &str, path: &str, auth: Option<&str>) -> (u16, Value) {
        let path = path.split('?').next().unwrap_or("");
        match (method, path) {
            ("GET", "/health") => {
                if self.shared.is_draining() {
                    (503, json!({"status": "draining"}))
                } else {
                    (200, json!({"status": "ok"}))
                }
            }
            (_, "/health") | (_, "/status") | (_, "/reload") => {
                if !self.authorized(auth) {
                    return (401, json!({"message": "Unauthorized"}));
                }
                match (method, path) {
                    ("GET", "/status") => (200, self.status()),
                    ("POST", "/reload") => match self.reloader.reload() {
                        Ok(generation) => (200, json!({"generation": generation})),
                        Err(errors) => (
                            400,
                            json!({"errors": errors.iter().map(error_json).collect::<Vec<_>>()}),
                        ),
                    },
                    _ => (405, json!({"message": "Method Not Allowed"})),
                }
            }
            _ => (404, json!({"message": "Not Found"})),
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
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Read one request with the gateway's own strict parser; the body (if any) is drained.
fn read_request(stream: &mut TcpStream) -> Result<(String, String, Option<String>), u16> {
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
    match head.framing {
        Framing::None => {}
        Framing::Length(n) if n as usize <= MAX_REQUEST => {
            let mut left = (n as usize).saturating_sub(buf.len() - head.head_len);
            let mut chunk = [0u8; 4096];
            while left > 0 {
                match stream.read(&mut chunk[..left.min(4096)]) {
                    Ok(0) | Err(_) => return Err(400),
                    Ok(k) => left -= k,
                }
            }
        }
        _ => return Err(413),
    }
    Ok((text(head.method), text(head.path), auth))
}
