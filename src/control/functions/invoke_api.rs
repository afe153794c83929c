//! The Lambda Invoke API for the workers: `POST /2015-03-31/functions/{name}/invocations`
//! on one loopback listener (`FunctionTarget::Local` points here). Answers as Lambda does:
//!
//! - 200 with the function's result;
//! - 200, `X-Amz-Function-Error: Unhandled` and the error JSON (`errorType`,
//!   `errorMessage`, ...) for a function error, an init error, a timeout
//!   (`Sandbox.Timedout`) or a process that exited mid-invocation (`Runtime.ExitError`);
//! - 429 `TooManyRequestsException` when the queue is full, or an invocation waited a whole
//!   `timeoutMs` for a busy process (for one still starting: `Sandbox.Timedout`);
//! - 404 `ResourceNotFoundException` for a function the current config has no `local`
//!   entry for; 413 `RequestTooLargeException` over 6 MB.
//!
//! Thread per connection, at most [`MAX_CONNECTIONS`]; an idle connection closes after
//! [`IDLE`] (the workers' pools retry a stale one once).

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::http::{Conn, ReadError};
use super::runtime_api::MAX_PAYLOAD;
use super::state::{Host, Outcome, Pending};

const MAX_CONNECTIONS: usize = 1024;
const IDLE: Duration = Duration::from_secs(60);

pub(super) fn spawn_accept(host: Arc<Host>, listener: TcpListener) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("tollgate-fn-invoke".into())
        .spawn(move || {
            let open = Arc::new(AtomicUsize::new(0));
            for stream in listener.incoming() {
                let Ok(stream) = stream else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                if open.load(Ordering::Acquire) >= MAX_CONNECTIONS {
                    continue;
                }
                open.fetch_add(1, Ordering::AcqRel);
                let (host, held) = (host.clone(), open.clone());
                let spawned = std::thread::Builder::new()
                    .name("tollgate-fn-invoke".into())
                    .stack_size(256 * 1024)
                    .spawn(move || {
                        serve(&host, stream);
                        held.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    open.fetch_sub(1, Ordering::AcqRel);
                }
            }
        })?;
    Ok(())
}

fn serve(host: &Host, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE));
    let mut conn = Conn::new(stream);
    loop {
        let req = match conn.read_request(MAX_PAYLOAD) {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::TooLarge(_)) => {
                let body = json!({"Type": "User", "message": format!("Request must be smaller than {MAX_PAYLOAD} bytes for the InvokeFunction operation")});
                let _ = conn.json(
                    413,
                    &[("x-amzn-ErrorType", "RequestTooLargeException")],
                    body.to_string().as_bytes(),
                    true,
                );
                return;
            }
            Err(ReadError::Bad(status)) => {
                let _ = conn.json(status, &[], br#"{"message":"malformed request"}"#, true);
                return;
            }
        };
        let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        let name = match (req.method.as_str(), segments.as_slice()) {
            ("POST", ["2015-03-31", "functions", name, "invocations"]) => percent_decode(name),
            _ => {
                let body = json!({"Type": "User", "message": "Unknown operation"});
                let _ = conn.json(
                    404,
                    &[("x-amzn-ErrorType", "UnknownOperationException")],
                    body.to_string().as_bytes(),
                    req.close,
                );
                if req.close {
                    return;
                }
                continue;
            }
        };
        let trace = req.header("x-amzn-trace-id").map(str::to_string);
        // Base64 on the Invoke API, the JSON itself on the Runtime API (as Lambda does).
        let context = req.header("x-amz-client-context").and_then(base64_text);
        let outcome = invoke(host, &name, req.body, trace, context);
        let written = answer(&mut conn, &name, outcome, req.close);
        if written.is_err() || req.close {
            return;
        }
    }
}

fn answer(conn: &mut Conn, name: &str, outcome: Outcome, close: bool) -> std::io::Result<()> {
    let version = ("X-Amz-Executed-Version", "$LATEST");
    match outcome {
        Outcome::Result(body) => conn.json(200, &[version], &body, close),
        Outcome::FunctionError(body) => conn.json(
            200,
            &[version, ("X-Amz-Function-Error", "Unhandled")],
            &body,
            close,
        ),
        Outcome::Throttled => {
            let body = json!({"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User", "message": "Rate Exceeded."});
            conn.json(
                429,
                &[("x-amzn-ErrorType", "TooManyRequestsException")],
                body.to_string().as_bytes(),
                close,
            )
        }
        Outcome::NotFound => {
            let body = json!({"Type": "User", "message": format!("Function not found: {name}")});
            conn.json(
                404,
                &[("x-amzn-ErrorType", "ResourceNotFoundException")],
                body.to_string().as_bytes(),
                close,
            )
        }
    }
}

/// Queue the event for function `name` and wait for its outcome.
fn invoke(
    host: &Host,
    name: &str,
    event: Vec<u8>,
    trace: Option<String>,
    client_context: Option<String>,
) -> Outcome {
    let (tx, rx) = sync_channel(1);
    let limit = {
        let mut state = host.lock();
        if state.shutting_down {
            return Outcome::Throttled;
        }
        let Some(f) = state.functions.get_mut(name) else {
            return Outcome::NotFound;
        };
        // A function that cannot start answers with its init error while it backs off.
        if let Some(error) = &f.init_error
            && !f.healthy()
            && Instant::now() < f.not_before
        {
            return Outcome::FunctionError(error.clone());
        }
        let free = (f.spec.concurrency as usize).saturating_sub(f.busy());
        if f.queue.len() >= free + f.spec.queue as usize {
            return Outcome::Throttled;
        }
        let id: Arc<str> = request_id().into();
        f.queue.push_back(Pending {
            trace_id: trace.unwrap_or_else(trace_id),
            id,
            event,
            client_context,
            reply: tx,
            queued: Instant::now(),
        });
        host.changed.notify_all();
        // Queued at most one timeout, then run at most one: the supervisor answers by then.
        f.timeout * 2 + Duration::from_secs(5)
    };
    match rx.recv_timeout(limit) {
        Ok(outcome) => outcome,
        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => Outcome::Throttled,
    }
}

/// `%XX` escapes decoded (the worker encodes names with characters outside `[A-Za-z0-9-._~:]`).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 (padding optional) that decodes to UTF-8 text.
fn base64_text(s: &str) -> Option<String> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    String::from_utf8(LENIENT.decode(s).ok()?).ok()
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    bytes
}

/// A UUID v4, as Lambda's request ids are.
fn request_id() -> String {
    let mut b = random::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `Root=1-{epoch hex}-{24 hex};Parent={16 hex};Sampled=0`, X-Ray's format.
fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0",
        hex(&random::<12>()),
        hex(&random::<8>())
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn client_context_is_decoded() {
        assert_eq!(
            super::base64_text("eyJjdXN0b20iOnsiYSI6MX19").as_deref(),
            Some(r#"{"custom":{"a":1}}"#)
        );
        assert_eq!(super::base64_text("aGk=").as_deref(), Some("hi"));
        assert_eq!(
            super::base64_text("aGk").as_deref(),
            Some("hi"),
            "padding optional"
        );
        assert_eq!(super::base64_text("not base64!"), None);
    }

    #[test]
    fn names_are_percent_decoded() {
        assert_eq!(super::percent_decode("a%20b%3A"), "a b:");
        assert_eq!(super::percent_decode("100%"), "100%");
    }
}
