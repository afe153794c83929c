//! The Lambda Runtime API, one loopback listener per process (`AWS_LAMBDA_RUNTIME_API`), so
//! every request is known to come from that process:
//!
//! - `GET /2018-06-01/runtime/invocation/next` → 200 with the event and the
//!   `Lambda-Runtime-*` headers, waiting as long as it takes (long poll);
//! - `POST /2018-06-01/runtime/invocation/{id}/response` → 202 `{"status":"OK"}`;
//! - `POST /2018-06-01/runtime/invocation/{id}/error` → 202 (the invocation answers with
//!   `X-Amz-Function-Error: Unhandled` and the error JSON);
//! - `POST /2018-06-01/runtime/init/error` → 202 (queued invocations get the error; the
//!   process is replaced, with backoff);
//! - an id that is not this process's current invocation → 400 `InvalidRequestID`; a
//!   process the host has let go → 500 (the documented "runtime should exit").

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::http::{Conn, ReadError, Request};
use super::process::short_name;
use super::state::{Busy, Function, Host, Outcome, Phase, Process, error_json};
use crate::control::log::log;

/// Lambda's limit on a synchronous response.
pub(super) const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// Connections one process may hold open at once.
const MAX_CONNECTIONS: usize = 8;
const ACCEPTED: &[u8] = br#"{"status":"OK"}"#;

/// Bind a process's listener (before the process starts, so its address is in its env).
pub(super) fn bind() -> std::io::Result<(TcpListener, SocketAddr)> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    Ok((l, addr))
}

/// Serve `listener` for process `serial` of function `name` until `stop`.
pub(super) fn spawn_accept(
    host: Arc<Host>,
    listener: TcpListener,
    name: String,
    serial: u64,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("tollgate-fn-runtime".into())
        .stack_size(128 * 1024)
        .spawn(move || {
            let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            for stream in listener.incoming() {
                if stop.load(Ordering::Acquire) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                if open.load(Ordering::Acquire) >= MAX_CONNECTIONS {
                    continue; // dropped: closed
                }
                open.fetch_add(1, Ordering::AcqRel);
                let (host, name, held) = (host.clone(), name.clone(), open.clone());
                let spawned = std::thread::Builder::new()
                    .name("tollgate-fn-runtime".into())
                    // Room for serde_json's 128 levels of nesting in an error body (debug builds).
                    .stack_size(1024 * 1024)
                    .spawn(move || {
                        serve(&host, stream, &name, serial);
                        held.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    open.fetch_sub(1, Ordering::AcqRel);
                }
            }
        })?;
    Ok(())
}

/// Kill a process (the supervisor reaps it) and stop its accept loop. Killed before its
/// pending `next` can see it gone, so a runtime never reports the host's refusal.
pub(super) fn let_go(process: &mut Process) {
    process.phase = Phase::Dead;
    super::process::kill(&process.child);
    stop_accepting(process);
}

/// Stop a process's accept loop (after it exited: never `kill` a reaped child's PID).
pub(super) fn stop_accepting(process: &Process) {
    if !process.stop.swap(true, Ordering::AcqRel) {
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect_timeout(&process.runtime_addr, Duration::from_millis(200));
    }
}

fn serve(host: &Host, stream: TcpStream, name: &str, serial: u64) {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(stream);
    loop {
        let req = match conn.read_request(MAX_PAYLOAD) {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::TooLarge(path)) => {
                // A result over Lambda's limit fails the invocation, as on Lambda.
                let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
                if let ["2018-06-01", "runtime", "invocation", id, "response"] = segments.as_slice()
                {
                    let error = error_json(
                        "Function.ResponseSizeTooLarge",
                        &format!(
                            "Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes)."
                        ),
                    );
                    complete(host, name, serial, id, Outcome::FunctionError(error));
                }
                let body = error_json(
                    "RequestEntityTooLarge",
                    &format!("Exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes)."),
                );
                let _ = conn.json(413, &[], &body, true);
                return;
            }
            Err(ReadError::Bad(status)) => {
                let body = error_json("InvalidRequest", "malformed request");
                let _ = conn.json(status, &[], &body, true);
                return;
            }
        };
        let close = req.close;
        let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        let written = match (req.method.as_str(), segments.as_slice()) {
            ("GET", ["2018-06-01", "runtime", "invocation", "next"]) => {
                next(host, &mut conn, name, serial, close)
            }
            ("POST", ["2018-06-01", "runtime", "invocation", id, "response"]) => {
                let (status, body) = complete(host, name, serial, id, Outcome::Result(req.body));
                conn.json(status, &[], &body, close)
            }
            ("POST", ["2018-06-01", "runtime", "invocation", id, "error"]) => {
                let error = error_body(&req);
                let (status, body) =
                    complete(host, name, serial, id, Outcome::FunctionError(error));
                conn.json(status, &[], &body, close)
            }
            ("POST", ["2018-06-01", "runtime", "init", "error"]) => {
                init_error(host, name, serial, error_body(&req));
                conn.json(202, &[], ACCEPTED, close)
            }
            _ => {
                let body = error_json("InvalidRequest", "unknown Runtime API endpoint");
                conn.json(404, &[], &body, close)
            }
        };
        if written.is_err() || close {
            return;
        }
    }
}

/// The error JSON a runtime posted; anything else wrapped with the error type header.
fn error_body(req: &Request) -> Vec<u8> {
    let is_object =
        serde_json::from_slice::<serde_json::Value>(&req.body).is_ok_and(|v| v.is_object());
    if is_object {
        return req.body.clone();
    }
    let kind = req
        .header("lambda-runtime-function-error-type")
        .unwrap_or("Runtime.Unknown");
    error_json(kind, String::from_utf8_lossy(&req.body).trim())
}

fn find(f: &mut Function, serial: u64) -> Option<&mut Process> {
    f.processes.iter_mut().find(|p| p.serial == serial)
}

/// `next`: wait for an invocation, then hand it to the process.
fn next(host: &Host, conn: &mut Conn, name: &str, serial: u64, close: bool) -> std::io::Result<()> {
    let mut state = host.lock();
    let (pending, arn, timeout) = loop {
        let shutting_down = state.shutting_down;
        let arn = function_arn(&state.region, &state.account, name);
        let Some(f) = state.functions.get_mut(name) else {
            break (None, arn, Duration::ZERO);
        };
        let timeout = f.timeout;
        let Some(p) = find(f, serial) else {
            break (None, arn, timeout);
        };
        if shutting_down
            || matches!(p.phase, Phase::Dead)
            || (p.retire && !matches!(p.phase, Phase::Busy(_)))
        {
            break (None, arn, timeout);
        }
        if let Phase::Busy(busy) = std::mem::replace(&mut p.phase, Phase::Waiting) {
            let error = error_json(
                "Runtime.InvalidResponse",
                &format!(
                    "RequestId: {} Error: the runtime asked for the next invocation without answering this one",
                    busy.id
                ),
            );
            let _ = busy.reply.try_send(Outcome::FunctionError(error));
        }
        if f.init_error.is_some() || f.failures > 0 {
            f.init_error = None;
            f.failures = 0;
        }
        if let Some(pending) = f.queue.pop_front() {
            let Some(p) = find(f, serial) else {
                break (None, arn, timeout);
            };
            p.log.mark(Some(pending.id.clone()));
            p.phase = Phase::Busy(Busy {
                id: pending.id.clone(),
                deadline: Instant::now() + timeout,
                reply: pending.reply.clone(),
            });
            host.changed.notify_all();
            break (Some(pending), arn, timeout);
        }
        state = match host.changed.wait_timeout(state, Duration::from_secs(1)) {
            Ok((s, _)) => s,
            Err(poisoned) => poisoned.into_inner().0,
        };
    };
    drop(state);
    let Some(pending) = pending else {
        let body = error_json(
            "Runtime.ExitError",
            "Container error. Non-recoverable state. Runtime should exit promptly.",
        );
        return conn.json(500, &[], &body, true);
    };
    let deadline_ms = SystemTime::now()
        .checked_add(timeout)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis());
    let deadline_ms = deadline_ms.to_string();
    let mut headers = vec![
        ("Lambda-Runtime-Aws-Request-Id", &*pending.id),
        ("Lambda-Runtime-Deadline-Ms", deadline_ms.as_str()),
        ("Lambda-Runtime-Invoked-Function-Arn", arn.as_str()),
        ("Lambda-Runtime-Trace-Id", pending.trace_id.as_str()),
    ];
    if let Some(c) = &pending.client_context {
        headers.push(("Lambda-Runtime-Client-Context", c.as_str()));
    }
    conn.json(200, &headers, &pending.event, close)
}

/// `response` / `error`: end the process's current invocation with `outcome`.
fn complete(host: &Host, name: &str, serial: u64, id: &str, outcome: Outcome) -> (u16, Vec<u8>) {
    let mut state = host.lock();
    let process = state.functions.get_mut(name).and_then(|f| find(f, serial));
    let Some(p) = process else {
        return (
            500,
            error_json(
                "Runtime.ExitError",
                "Container error. Non-recoverable state.",
            ),
        );
    };
    let current = matches!(&p.phase, Phase::Busy(b) if &*b.id == id);
    if !current {
        return (400, error_json("InvalidRequestID", "Invalid request ID"));
    }
    let Phase::Busy(busy) = std::mem::replace(&mut p.phase, Phase::Ready) else {
        return (400, error_json("InvalidRequestID", "Invalid request ID"));
    };
    p.log.mark(None);
    p.served += 1;
    let _ = busy.reply.try_send(outcome);
    if p.retire {
        let_go(p);
    }
    host.changed.notify_all();
    (202, ACCEPTED.to_vec())
}

/// `init/error`: the function cannot start. Queued invocations get the error; the process
/// is killed and replaced after a backoff.
fn init_error(host: &Host, name: &str, serial: u64, error: Vec<u8>) {
    let mut state = host.lock();
    let Some(f) = state.functions.get_mut(name) else {
        return;
    };
    log(format!(
        "function `{name}`: init error: {}",
        String::from_utf8_lossy(&error)
    ));
    if let Some(p) = find(f, serial) {
        let_go(p);
    }
    f.failures += 1;
    f.not_before = Instant::now() + super::supervisor::backoff(f.failures);
    if !f.healthy() {
        for pending in f.queue.drain(..) {
            let _ = pending
                .reply
                .try_send(Outcome::FunctionError(error.clone()));
        }
    }
    f.init_error = Some(error);
    host.changed.notify_all();
}

/// `arn:aws:lambda:{region}:{account}:function:{name}` (a name that is an ARN stays one).
fn function_arn(region: &str, account: &str, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_string();
    }
    format!(
        "arn:aws:lambda:{region}:{account}:function:{}",
        short_name(name)
    )
}
