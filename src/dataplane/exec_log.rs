//! Execution logs on the core (issue 7): one JSON line per request of a stage whose
//! `loggingLevel` is `INFO`, or per failed request (a gateway error response, or a 5xx) at
//! `ERROR`, written into the core's log batches for `server.executionLog` through the access
//! log machinery (`access_log::CoreLogs`: per-core batches handed to the writer thread,
//! dropped and counted when it is behind — never blocking, no allocation in steady state).
//!
//! The request fields come from `Conn::logged` (`access_log::capture`, made for stages that
//! log executions too); `dataTraceEnabled` adds the headers (credentials redacted) and the
//! first `BODY_MAX` bytes of a `Content-Length` body already read at routing (a Lambda
//! integration's whole body; a streamed HTTP_PROXY body's first read). Response bodies are
//! not logged: they are streamed from the upstream to the client and never held.

use super::access_log::{Captured, Line, append_within, escaped_within};
use crate::config::{ExecLevel, ExecLogging, Protocol};
use crate::http1::{self, Framing, RequestHead};

/// Bytes of request body a data trace keeps.
pub const BODY_MAX: usize = 1024;
/// Bytes of rendered headers a data trace keeps (the rest is cut at a header boundary).
pub const HEADERS_MAX: usize = 4096;

/// Headers whose value is never logged.
const REDACTED: [&[u8]; 4] = [
    b"authorization",
    b"x-api-key",
    b"proxy-authorization",
    b"x-amz-security-token",
];

/// Append the data trace (headers as JSON members, then the body) to `logged` after what
/// `access_log::capture` put there. Headers are expanded (escaped, cookies redacted) within
/// the `HEADERS_MAX` budget: the first header that does not fit is cut off with the rest, and
/// `logged` never grows past the budget whatever a header expands to.
pub fn capture_data(
    logged: &mut Vec<u8>,
    captured: &mut Captured,
    head: &RequestHead,
    data: &[u8],
) {
    let start = logged.len();
    let max = start + HEADERS_MAX;
    for (n, v) in &head.headers {
        let (name, value) = (n.get(data), v.get(data));
        let mark = logged.len();
        if mark != start {
            logged.push(b',');
        }
        logged.push(b'"');
        let fits = escaped_within(logged, name, max)
            && append_within(logged, b"\":\"", max)
            && if REDACTED.iter().any(|r| name.eq_ignore_ascii_case(r)) {
                append_within(logged, b"[REDACTED]", max)
            } else if name.eq_ignore_ascii_case(b"cookie") {
                cookie_names(logged, value, max)
            } else {
                escaped_within(logged, value, max)
            }
            && append_within(logged, b"\"", max);
        if !fits {
            logged.truncate(mark);
            break;
        }
    }
    captured.ends[5] = logged.len() as u16;
    if let Framing::Length(n) = head.framing {
        let body = data.get(head.head_len..).unwrap_or_default();
        let n = body.len().min(n as usize).min(BODY_MAX);
        logged.extend_from_slice(&body[..n]);
    }
    captured.ends[6] = logged.len() as u16;
}

/// `a=x; b=y` → `a=[REDACTED]; b=[REDACTED]`: the cookie names, never their values; false
/// (stopped) once `out` would pass `max` bytes.
fn cookie_names(out: &mut Vec<u8>, value: &[u8], max: usize) -> bool {
    for (i, pair) in value.split(|&b| b == b';').enumerate() {
        let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
        let fits = (i == 0 || append_within(out, b"; ", max))
            && escaped_within(out, name.trim_ascii(), max)
            && append_within(out, b"=[REDACTED]", max);
        if !fits {
            return false;
        }
    }
    true
}

/// The request is logged at `level`: `INFO` always, `ERROR` when it failed.
pub fn wanted(logging: ExecLogging, line: &Line<'_>) -> bool {
    match logging.level {
        ExecLevel::Off => false,
        ExecLevel::Info => true,
        ExecLevel::Error => failed(line),
    }
}

fn failed(line: &Line<'_>) -> bool {
    line.meta.done.error.is_some() || line.meta.done.status >= 500
}

/// Render one JSON line (no newline).
pub fn render(out: &mut Vec<u8>, logging: ExecLogging, line: &Line<'_>) {
    let meta = line.meta;
    let done = &meta.done;
    let stage = done.stage.and_then(|s| line.snap.stages.get(s.0 as usize));
    let api = stage.and_then(|s| line.snap.apis.get(s.api.0 as usize));
    let route = done
        .route
        .and_then(|r| api.and_then(|a| a.routes.get(r.0 as usize)));
    out.extend_from_slice(b"{\"time\":");
    http1::write_decimal(
        out,
        meta.now.unix_secs * 1000 + (meta.now.mono_ns / 1_000_000) % 1000,
    );
    out.extend_from_slice(if failed(line) {
        b",\"level\":\"ERROR\""
    } else {
        b",\"level\":\"INFO\""
    });
    string(out, b"requestId", &meta.request_id);
    string(out, b"extendedRequestId", &meta.extended_id);
    match &meta.trace {
        Some(t) => string(out, b"traceId", t.root()),
        None => out.extend_from_slice(b",\"traceId\":null"),
    }
    string(out, b"apiId", api.map_or(&b""[..], |a| a.id.as_bytes()));
    string(out, b"stage", stage.map_or(&b""[..], |s| s.name.as_bytes()));
    string(out, b"httpMethod", line.field(0));
    string(
        out,
        b"resourcePath",
        route.map_or(&b""[..], |r| r.path.as_bytes()),
    );
    string(out, b"path", line.field(1));
    out.extend_from_slice(b",\"status\":");
    http1::write_decimal(out, u64::from(done.status));
    out.extend_from_slice(b",\"latencyMs\":");
    http1::write_decimal(out, line.latency_ns / 1_000_000);
    match done.integration {
        Some((ns, status)) => {
            out.extend_from_slice(b",\"integrationLatencyMs\":");
            http1::write_decimal(out, ns / 1_000_000);
            out.extend_from_slice(b",\"integrationStatus\":");
            http1::write_decimal(out, u64::from(status));
        }
        None => out.extend_from_slice(b",\"integrationLatencyMs\":null,\"integrationStatus\":null"),
    }
    match done.error {
        Some(kind) => {
            let protocol = meta.protocol.unwrap_or(Protocol::Rest);
            let (message, ty) = crate::config::error_context(kind, protocol);
            string(out, b"errorType", ty.as_bytes());
            string(out, b"errorMessage", message.as_bytes());
        }
        None => out.extend_from_slice(b",\"errorType\":null,\"errorMessage\":null"),
    }
    if logging.data_trace {
        out.extend_from_slice(b",\"request\":{\"headers\":{");
        out.extend_from_slice(line.field(5));
        out.extend_from_slice(b"}");
        string(out, b"body", line.field(6));
        out.extend_from_slice(b"}");
    }
    out.push(b'}');
}

/// `,"key":"value"` (value escaped).
fn string(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key);
    out.extend_from_slice(b"\":\"");
    json_text(out, value);
    out.push(b'"');
}

/// JSON string content: `access_log::escaped` (valid UTF-8 kept, invalid sequences as
/// U+FFFD, `"` and `\` escaped, control characters as `?`), so a line is valid JSON whatever a
/// client sent. The OTLP span writer uses it too.
pub(super) use super::access_log::escaped as json_text;

/// The completion hook's part (`request::complete`): the request's line, when its stage and
/// route log it, into the core's batch for `server.executionLog`.
pub fn complete(worker: &super::worker::Worker, snap: &crate::config::Snapshot, line: &Line<'_>) {
    let Some(destination) = snap.execution_log else {
        return;
    };
    let Some(stage) = line
        .meta
        .done
        .stage
        .and_then(|s| snap.stages.get(s.0 as usize))
    else {
        return;
    };
    let logging = stage.exec_log.for_route(line.meta.done.route);
    if !wanted(logging, line) {
        return;
    }
    let dropped = worker
        .access_logs
        .borrow_mut()
        .line(snap, destination, |out| render(out, logging, line));
    if dropped > 0 {
        worker.shared.log_dropped[worker.id]
            .0
            .fetch_add(dropped, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::{Status, parse_request};

    /// The data trace of a request with `headers`, and how far `logged` grew for it.
    fn trace(headers: &[(&str, &[u8])]) -> (Vec<u8>, usize) {
        let limits = crate::config::default_http_limits();
        let mut data = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
        for (name, value) in headers {
            data.extend_from_slice(name.as_bytes());
            data.extend_from_slice(b": ");
            data.extend_from_slice(value);
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b"\r\n");
        let mut head = RequestHead::with_limits(&limits);
        assert_eq!(
            parse_request(&data, &limits, &mut head),
            Ok(Status::Complete)
        );
        let mut logged = Vec::new();
        let mut captured = Captured::default();
        capture_data(&mut logged, &mut captured, &head, &data);
        let headers = logged[..captured.ends[5] as usize].to_vec();
        (headers, logged.capacity())
    }

    #[test]
    fn cookies_are_redacted_and_text_stays_valid_utf8() {
        let (headers, _) = trace(&[
            ("Cookie", b"session=secret; theme=dark"),
            ("X-Name", b"caf\xc3\xa9 \xff \"q\""),
        ]);
        assert_eq!(
            String::from_utf8(headers).unwrap(),
            "\"Host\":\"h\",\"Cookie\":\"session=[REDACTED]; theme=[REDACTED]\",\"X-Name\":\"caf\u{e9} \u{fffd} \\\"q\\\"\""
        );
    }

    #[test]
    fn a_header_that_expands_is_cut_within_the_budget() {
        // 8 KiB of `;` would expand 13x (`; =[REDACTED]` each), of `"` 2x, of invalid bytes 3x.
        for value in [vec![b';'; 8000], vec![b'"'; 8000], vec![0xff; 8000]] {
            for name in ["Cookie", "X-Other"] {
                let (headers, grown) = trace(&[("X-First", b"kept"), (name, &value)]);
                assert_eq!(headers, b"\"Host\":\"h\",\"X-First\":\"kept\"");
                assert!(grown <= HEADERS_MAX, "{name}: grew to {grown}");
            }
        }
        // Just within the budget: kept whole.
        let value = vec![b'a'; HEADERS_MAX - 40];
        let (headers, _) = trace(&[("X-Long", &value)]);
        assert!(headers.ends_with(b"a\""), "{}", headers.len());
    }
}
