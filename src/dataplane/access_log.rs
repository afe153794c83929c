//! Access logs on the core (issue 7): a stage's compiled `$context` format is rendered into
//! this core's batch for the stage's destination once the request is complete; full batches
//! (and, on every tick, non-empty ones) go to the log writer thread (`control/access_log.rs`)
//! over a bounded hand-over (`handover.rs`), which writes them and sends the emptied batch back.
//!
//! Never blocks and never allocates in steady state: the batches are `batches::CoreLogs`;
//! when none is free (the writer is behind or stuck) the line is dropped and counted.
//!
//! The request fields a line needs (method, path, `User-Agent`, API key, host) are copied
//! into the connection's `Conn::logged` when the stage is known, since a streamed request
//! body may overwrite the head's bytes before the request completes.

use std::cell::Cell;
use std::io::Write as _;
use std::net::IpAddr;
use std::rc::Rc;

use super::auth::jwt::Claims;
use super::clock::CivilTime;
use super::lambda_auth::Grant;
use super::respond::Meta;
use crate::config::{Api, LogPiece, LogVar, Protocol, Route, Snapshot, Stage};
use crate::http1::{self, RequestHead};

mod batches;
mod escape;

pub use batches::{BatchSender, CoreLogs, LogBatch, MAX_BATCHES};
pub(super) use escape::{append_within, escaped, escaped_within};

/// The request fields a line needs, as ends of the fields in `Conn::logged`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Captured {
    /// End offsets of method, path, user agent, API key, host in `Conn::logged`, then of the
    /// execution log's data trace (headers, body; `exec_log::capture_data`) and of the
    /// client's valid `traceparent` (`otlp::capture_traceparent`).
    pub(super) ends: [u16; 8],
    pub source_ip: Option<IpAddr>,
    pub http10: bool,
}

/// Copy what the access log will need from the request head into `logged`.
pub fn capture(
    logged: &mut Vec<u8>,
    head: &RequestHead,
    data: &[u8],
    path: &[u8],
    host: &[u8],
    source_ip: IpAddr,
) -> Captured {
    const FIELD_MAX: usize = 2048;
    logged.clear();
    let mut ends = [0u16; 8];
    let header = |name: &[u8]| {
        head.headers
            .iter()
            .find(|(n, _)| n.get(data).eq_ignore_ascii_case(name))
            .map_or(&b""[..], |(_, v)| v.get(data))
    };
    let fields = [
        head.method.get(data),
        path,
        header(b"user-agent"),
        header(b"x-api-key"),
        host,
    ];
    for (end, field) in ends.iter_mut().zip(fields) {
        logged.extend_from_slice(&field[..field.len().min(FIELD_MAX)]);
        *end = logged.len() as u16;
    }
    let last = ends[4];
    ends[5..].fill(last);
    Captured {
        ends,
        source_ip: Some(source_ip),
        http10: head.version == http1::Version::Http10,
    }
}

/// What the route's authorizers granted, kept for the line when its format names
/// `authorizer.*` (`Conn::log_auth`; reference counts, no copies).
#[derive(Default)]
pub struct Authorized {
    pub claims: Option<Rc<Claims>>,
    pub grant: Option<Rc<Grant>>,
}

/// Everything a line is rendered from.
pub struct Line<'a> {
    pub snap: &'a Snapshot,
    pub meta: &'a Meta,
    pub logged: &'a [u8],
    pub authorized: &'a Authorized,
    pub latency_ns: u64,
}

/// Writes through `escaped`, so JSON text of a claim is escaped as it is formatted.
struct Escaping<'a>(&'a mut Vec<u8>);

impl std::io::Write for Escaping<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        escaped(self.0, buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Line<'_> {
    /// Captured field `i` (see `Captured::ends`).
    pub(super) fn field(&self, i: usize) -> &[u8] {
        let c = &self.meta.done.captured;
        let start = if i == 0 { 0 } else { c.ends[i - 1] as usize };
        self.logged
            .get(start..c.ends[i] as usize)
            .unwrap_or_default()
    }
}

/// Render one line of `format` (no newline).
pub fn render(out: &mut Vec<u8>, format: &[LogPiece], line: &Line<'_>) {
    let done = &line.meta.done;
    let stage = done.stage.and_then(|s| line.snap.stages.get(s.0 as usize));
    let api = stage.and_then(|s| line.snap.apis.get(s.api.0 as usize));
    let route = done
        .route
        .and_then(|r| api.and_then(|a| a.routes.get(r.0 as usize)));
    let found = Found { stage, api, route };
    for piece in format {
        match piece {
            LogPiece::Literal(text) => out.extend_from_slice(text),
            LogPiece::Var(var) => value(out, var, line, &found),
        }
    }
}

/// The request's stage, API and route, looked up once per line.
struct Found<'a> {
    stage: Option<&'a Stage>,
    api: Option<&'a Api>,
    route: Option<&'a Route>,
}

fn value(out: &mut Vec<u8>, var: &LogVar, line: &Line<'_>, found: &Found<'_>) {
    let meta = line.meta;
    let done = &meta.done;
    let Found { stage, api, route } = *found;
    let ms = |out: &mut Vec<u8>, ns: u64| http1::write_decimal(out, ns / 1_000_000);
    let protocol = meta.protocol.unwrap_or(Protocol::Rest);
    match var {
        LogVar::AccountId => text(out, line.snap.server.account_id.as_bytes()),
        LogVar::ApiId => text(out, api.map_or(&b""[..], |a| a.id.as_bytes())),
        LogVar::DomainName => text(out, line.field(4)),
        LogVar::DomainPrefix => {
            let host = line.field(4);
            text(out, host.split(|&b| b == b'.').next().unwrap_or_default())
        }
        LogVar::ErrorMessage | LogVar::ErrorMessageString | LogVar::ErrorResponseType => {
            match done.error {
                None => out.push(b'-'),
                Some(kind) => {
                    let (message, ty) = crate::config::error_context(kind, protocol);
                    match var {
                        LogVar::ErrorMessage => text(out, message.as_bytes()),
                        LogVar::ErrorMessageString => {
                            out.push(b'"');
                            escaped(out, message.as_bytes());
                            out.push(b'"');
                        }
                        _ => out.extend_from_slice(ty.as_bytes()),
                    }
                }
            }
        }
        LogVar::ExtendedRequestId => out.extend_from_slice(&meta.extended_id),
        LogVar::HttpMethod => text(out, line.field(0)),
        LogVar::SourceIp => match done.captured.source_ip {
            Some(IpAddr::V4(ip)) => {
                for (i, octet) in ip.octets().into_iter().enumerate() {
                    if i > 0 {
                        out.push(b'.');
                    }
                    http1::write_decimal(out, u64::from(octet));
                }
            }
            Some(ip) => {
                let _ = write!(out, "{ip}");
            }
            None => out.push(b'-'),
        },
        LogVar::UserAgent => text(out, line.field(2)),
        LogVar::ApiKey => match done.key {
            Some(_) => text(out, line.field(3)),
            None => out.push(b'-'),
        },
        LogVar::ApiKeyId => match done
            .key
            .and_then(|k| line.snap.usage.keys.get(k.0 as usize))
        {
            Some(k) => text(out, k.id.as_bytes()),
            None => out.push(b'-'),
        },
        LogVar::IsCanaryRequest => out.extend_from_slice(b"false"),
        LogVar::Path => text(out, line.field(1)),
        LogVar::Protocol => out.extend_from_slice(if done.captured.http10 {
            b"HTTP/1.0"
        } else {
            b"HTTP/1.1"
        }),
        LogVar::RequestId => out.extend_from_slice(&meta.request_id),
        LogVar::RequestTime => clf_time_cached(out, meta.now.unix_secs),
        LogVar::RequestTimeEpoch => {
            // Milliseconds, as API Gateway writes it; the request's clock reading is in
            // seconds of wall time plus the monotonic sub-second part.
            http1::write_decimal(
                out,
                meta.now.unix_secs * 1000 + (meta.now.mono_ns / 1_000_000) % 1000,
            )
        }
        LogVar::ResourcePath => text(out, route.map_or(&b""[..], |r| r.path.as_bytes())),
        LogVar::RouteKey => text(out, route.map_or(&b""[..], |r| r.route_key.as_bytes())),
        LogVar::Stage => text(out, stage.map_or(&b""[..], |s| s.name.as_bytes())),
        LogVar::Status => number(out, done.status as u64),
        LogVar::ResponseLength => http1::write_decimal(out, done.response_len),
        LogVar::ResponseLatency => ms(out, line.latency_ns),
        LogVar::IntegrationLatency => match done.integration {
            Some((ns, _)) => ms(out, ns),
            None => out.push(b'-'),
        },
        LogVar::IntegrationStatus => match done.integration {
            Some((_, status)) => number(out, status as u64),
            None => out.push(b'-'),
        },
        LogVar::AuthorizerPrincipalId => {
            let v = line.authorized.grant.as_ref().map(|g| &*g.principal_id);
            text(out, v.unwrap_or_default().as_bytes());
        }
        LogVar::AuthorizerValue(key) => {
            let v = line.authorized.grant.as_ref().and_then(|g| g.value(key));
            text(out, v.unwrap_or_default().as_bytes());
        }
        LogVar::AuthorizerClaim(name) => {
            match line.authorized.claims.as_ref().and_then(|c| c.get(&**name)) {
                Some(serde_json::Value::String(s)) => text(out, s.as_bytes()),
                // A number, boolean, array or object: its JSON text, escaped like a value.
                Some(v) => {
                    let _ = write!(Escaping(out), "{v}");
                }
                None => out.push(b'-'),
            }
        }
        LogVar::TraceId => match &meta.trace {
            Some(t) => out.extend_from_slice(t.root()),
            None => out.push(b'-'),
        },
        LogVar::Dash => out.push(b'-'),
    }
}

/// A value, or `-` when empty (as API Gateway logs a missing value), `escaped`: it cannot
/// end a quoted field of a JSON, XML or CLF format, and the line stays valid UTF-8.
fn text(out: &mut Vec<u8>, value: &[u8]) {
    if value.is_empty() {
        out.push(b'-');
    } else {
        escaped(out, value);
    }
}

fn number(out: &mut Vec<u8>, n: u64) {
    if n == 0 {
        out.push(b'-');
    } else {
        http1::write_decimal(out, n);
    }
}

/// Length of `clf_time` for years 1000 to 9999.
const CLF_LEN: usize = 26;

thread_local! {
    /// This core's last `clf_time`: (Unix second, text), rendered at most once a second.
    static CLF: Cell<(u64, [u8; CLF_LEN])> = const { Cell::new((u64::MAX, [0; CLF_LEN])) };
}

/// `clf_time`, from this core's copy when the second is the last one rendered.
fn clf_time_cached(out: &mut Vec<u8>, secs: u64) {
    let (second, text) = CLF.get();
    if second == secs {
        out.extend_from_slice(&text);
        return;
    }
    let start = out.len();
    clf_time(out, secs);
    if let Ok(text) = <[u8; CLF_LEN]>::try_from(&out[start..]) {
        CLF.set((secs, text));
    }
}

/// `$context.requestTime`: CLF's `dd/MMM/yyyy:HH:mm:ss +0000`.
pub fn clf_time(out: &mut Vec<u8>, secs: u64) {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let t = CivilTime::from_unix(secs);
    let two = |out: &mut Vec<u8>, n: u32| {
        out.extend_from_slice(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8])
    };
    two(out, t.day);
    out.push(b'/');
    out.extend_from_slice(MONTHS[(t.month - 1) as usize]);
    out.push(b'/');
    http1::write_decimal(out, t.year.max(0) as u64);
    out.push(b':');
    two(out, t.hour);
    out.push(b':');
    two(out, t.minute);
    out.push(b':');
    two(out, t.second);
    out.extend_from_slice(b" +0000");
}

#[cfg(test)]
mod tests;
