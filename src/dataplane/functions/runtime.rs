//! The Lambda Runtime API of one process, served on the worker it was assigned to (a
//! loopback listener per process, `AWS_LAMBDA_RUNTIME_API`, so every request is known to
//! come from that process):
//!
//! - `GET /2018-06-01/runtime/invocation/next` → 200 with the event and the
//!   `Lambda-Runtime-*` headers, as soon as an invocation is queued (long poll). A read
//!   stays armed while it waits: a poll whose connection the runtime closes (or resets)
//!   takes no invocation (the process is `away` until it asks again, and the host may start
//!   another), and one handed to it in the same turn, or whose event cannot be written,
//!   goes back to the front of the queue — never lost, never run twice. After the 202 to
//!   a result, the process counts as waiting in `next` before it asks, and its connection is
//!   read only once an invocation is handed to it (`presume`: no read armed, no wake-up
//!   when the `GET next` comes);
//! - `POST /2018-06-01/runtime/invocation/{id}/response` → 202 `{"status":"OK"}`;
//! - `POST /2018-06-01/runtime/invocation/{id}/error` → 202 (the invocation answers with
//!   `X-Amz-Function-Error: Unhandled` and the error JSON);
//! - `POST /2018-06-01/runtime/init/error` → 202 (queued invocations get the error; the
//!   process is replaced, with backoff);
//! - an id that is not this process's current invocation → 400 `InvalidRequestID`; a
//!   process the host has let go → 500 (the documented "runtime should exit");
//! - malformed HTTP → the process is killed (and replaced).

use std::borrow::Cow;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use monoio::net::TcpListener;

use super::mail::{BUSY, DEAD, IDLE, STARTING, ToHost};
use super::wire::{Conn, ReadError, Request, Waited, segments};
use super::{Call, LocalFn, MAX_PAYLOAD, Outcome, Proc, error_json};

/// Connections one process may hold open at once.
const MAX_CONNECTIONS: usize = 8;
const ACCEPTED: &[u8] = br#"{"status":"OK"}"#;

pub(super) async fn accept(f: Rc<LocalFn>, p: Rc<Proc>, listener: TcpListener) {
    loop {
        let accepted = listener.accept().await;
        if p.gone.get() {
            return;
        }
        let Ok((stream, _)) = accepted else {
            monoio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        if p.conns.get() >= MAX_CONNECTIONS {
            continue; // dropped: closed
        }
        p.conns.set(p.conns.get() + 1);
        let (f, p) = (f.clone(), p.clone());
        monoio::spawn(async move {
            // Uncounted however the task ends: finished, or dropped while waiting (a task
            // whose last waker is gone is freed without finishing).
            struct Counted(Rc<Proc>);
            impl Drop for Counted {
                fn drop(&mut self) {
                    self.0.conns.set(self.0.conns.get().saturating_sub(1));
                }
            }
            let counted = Counted(p);
            serve(&f, &counted.0, Conn::new(stream)).await;
        });
    }
}

async fn serve(f: &Rc<LocalFn>, p: &Rc<Proc>, mut conn: Conn) {
    // An invocation handed to the process while this connection presumed its `next`.
    let mut presumed: Option<(Rc<Call>, u64)> = None;
    loop {
        if p.gone.get() {
            return;
        }
        let read = conn.read_request(MAX_PAYLOAD).await;
        let asked = matches!(&read, Ok(r) if r.method == "GET"
            && segments(&r.path).as_slice() == ["2018-06-01", "runtime", "invocation", "next"]);
        if let Some((call, seq)) = presumed.take() {
            // Still this connection's to deliver: no newer `next` took it over.
            if p.next_seq.get() == seq && p.presumed.replace(false) {
                if let (true, Ok(req)) = (asked, &read) {
                    let close = req.close;
                    if deliver(f, p, &call, &mut conn, close).await.is_err() || close {
                        return;
                    }
                    if let Ok(req) = read {
                        conn.recycle(req);
                    }
                    continue;
                }
                // Not asked for (the runtime sent something else, or closed): it goes to
                // another process, never lost.
                if read.is_err() {
                    f.withdraw(p);
                }
                f.requeue(p, &call);
            }
        }
        let req = match read {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::TooLarge(path)) => {
                // A result over Lambda's limit fails the invocation, as on Lambda.
                if let ["2018-06-01", "runtime", "invocation", id, "response"] =
                    segments(&path).as_slice()
                {
                    let error = error_json(
                        "Function.ResponseSizeTooLarge",
                        &format!(
                            "Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes)."
                        ),
                    );
                    complete(f, p, id, Outcome::FunctionError(error));
                }
                let body = error_json(
                    "RequestEntityTooLarge",
                    &format!("Exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes)."),
                );
                let _ = conn.json(413, &[], &body, true).await;
                return;
            }
            Err(ReadError::Bad(status)) => {
                if !p.gone.get() && p.shared.state() != DEAD {
                    crate::dataplane::diag::line(format_args!(
                        "function `{}`: process {} sent a malformed Runtime API request; killing it",
                        f.shared.name, p.shared.pid
                    ));
                    // Not marked dead: the host reaps it as a failure (backoff), and its
                    // invocation, if any, ends with the exit status.
                    p.gone.set(true);
                    p.shared.kill();
                }
                let body = error_json("InvalidRequest", "malformed request");
                let _ = conn.json(status, &[], &body, true).await;
                return;
            }
        };
        let mut req = req;
        let close = req.close;
        let mut answered = false;
        let written = match (req.method.as_str(), segments(&req.path).as_slice()) {
            ("GET", ["2018-06-01", "runtime", "invocation", "next"]) => {
                next(f, p, &mut conn, close).await
            }
            ("POST", ["2018-06-01", "runtime", "invocation", id, "response"]) => {
                // The caller gives the buffer back (`Functions::recycle`).
                let result = std::mem::replace(&mut req.body, f.buffers.take());
                let (status, body) = complete(f, p, id, Outcome::Result(result));
                answered = status == 202;
                conn.json(status, &[], &body, close).await
            }
            ("POST", ["2018-06-01", "runtime", "invocation", id, "error"]) => {
                let error = error_body(&req);
                let (status, body) = complete(f, p, id, Outcome::FunctionError(error));
                answered = status == 202;
                conn.json(status, &[], &body, close).await
            }
            ("POST", ["2018-06-01", "runtime", "init", "error"]) => {
                init_error(f, p, error_body(&req));
                conn.json(202, &[], ACCEPTED, close).await
            }
            _ => {
                let body = error_json("InvalidRequest", "unknown Runtime API endpoint");
                conn.json(404, &[], &body, close).await
            }
        };
        if written.is_err() || close {
            return;
        }
        conn.recycle(req);
        if answered {
            presumed = presume(f, p).await;
        }
    }
}

/// After the 202 to an invocation's result, a runtime's next request is `GET next`, on
/// the same connection: that is the Runtime API's loop. Rather than read it at once (a read
/// that finds nothing yet waits, and wakes the worker when the request comes), the process
/// counts as waiting in `next` already, and the connection reads only once an invocation
/// is handed to it: by then the request is usually in the socket, and the worker is woken
/// once less per invocation. An invocation handed over before the runtime asked goes to
/// another process if the runtime sends anything else, closes, exits, or does not ask
/// within `calls::PRESUME_GRACE`; a `next` on another connection of the process takes it
/// over. `None`: nothing was handed over (the process is gone, retiring or superseded).
async fn presume(f: &Rc<LocalFn>, p: &Rc<Proc>) -> Option<(Rc<Call>, u64)> {
    let ready = !p.gone.get()
        && p.shared.state() == IDLE
        && !p.shared.retiring()
        && p.current.borrow().is_none();
    if !ready {
        return None;
    }
    let seq = wait_here(f, p);
    p.presumed.set(true);
    f.dispatch();
    let call = poll_fn(|cx| handed(p, seq, cx)).await;
    if call.is_none() && p.next_seq.get() == seq {
        p.presumed.set(false);
    }
    call.map(|c| (c, seq))
}

/// The invocation handed to `p` while it waits as number `seq`; `None` once it cannot get
/// one there (gone, dead, or a newer wait superseded this one).
fn handed(p: &Proc, seq: u64, cx: &mut Context<'_>) -> Poll<Option<Rc<Call>>> {
    if p.gone.get() || p.shared.state() == DEAD || p.next_seq.get() != seq {
        return Poll::Ready(None);
    }
    if let Some(c) = p.current.borrow().as_ref() {
        return Poll::Ready(Some(c.clone()));
    }
    *p.waiter.borrow_mut() = Some(cx.waker().clone());
    Poll::Pending
}

/// `p` waits for an invocation here from now on: a newer wait supersedes an older one.
/// Returns this wait's number.
fn wait_here(f: &LocalFn, p: &Rc<Proc>) -> u64 {
    p.shared.away.store(false, Ordering::Relaxed);
    let seq = p.next_seq.get() + 1;
    p.next_seq.set(seq);
    p.wake();
    let mut idle = f.idle.borrow_mut();
    if !idle.iter().any(|q| Rc::ptr_eq(q, p)) {
        idle.push_back(p.clone());
    }
    seq
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

/// `next`: wait for an invocation, then hand it to the process.
async fn next(f: &Rc<LocalFn>, p: &Rc<Proc>, conn: &mut Conn, close: bool) -> std::io::Result<()> {
    if p.presumed.replace(false) {
        // Asked on another connection than the one that presumed it: delivered here (the
        // newer number tells that connection the invocation is no longer its own).
        p.next_seq.set(p.next_seq.get() + 1);
        p.wake();
        let call = p.current.borrow().clone();
        if let Some(call) = call {
            return deliver(f, p, &call, conn, close).await;
        }
    }
    if let Some(busy) = p.current.borrow_mut().take() {
        p.deadline.set(None);
        let error = error_json(
            "Runtime.InvalidResponse",
            &format!(
                "RequestId: {} Error: the runtime asked for the next invocation without answering this one",
                busy.id()
            ),
        );
        busy.finish(Outcome::FunctionError(error));
    }
    let usable = !p.gone.get()
        && (p.shared.shift(STARTING, IDLE)
            || p.shared.shift(BUSY, IDLE)
            || p.shared.state() == IDLE);
    // Looked at after the move to IDLE: see `ProcShared::retire`.
    let retire = p.shared.retiring();
    if retire {
        p.let_go();
    }
    if !usable || retire {
        return exit_now(conn).await;
    }
    // A newer `next` from the same process supersedes one still waiting.
    let seq = wait_here(f, p);
    f.dispatch();
    let waited = conn.wait_open(|cx| handed(p, seq, cx)).await;
    let call = match waited {
        Waited::Ready(Some(call)) => call,
        Waited::Ready(None) => return exit_now(conn).await,
        Waited::Closed(call) => {
            // The runtime gave up on this poll: it takes no invocation, and one handed to it
            // in the same turn goes back to the queue (it never reached the runtime).
            if p.next_seq.get() == seq {
                f.withdraw(p);
            }
            if let Some(Some(call)) = call {
                f.requeue(p, &call);
            }
            return Err(std::io::ErrorKind::ConnectionAborted.into());
        }
    };
    deliver(f, p, &call, conn, close).await
}

/// Write `call`'s event, the answer to the runtime's `next`.
async fn deliver(
    f: &LocalFn,
    p: &Rc<Proc>,
    call: &Rc<Call>,
    conn: &mut Conn,
    close: bool,
) -> std::io::Result<()> {
    let sent = send_event(f, call, conn, close).await;
    if sent.is_err() {
        // Not delivered whole (the runtime reset the connection): it cannot have run it.
        // The process is away until its runtime asks again (or `AWAY_LIMIT` replaces it).
        f.withdraw(p);
        f.requeue(p, call);
    }
    sent
}

/// The documented answer to a runtime that should exit (its process was let go).
async fn exit_now(conn: &mut Conn) -> std::io::Result<()> {
    let body = error_json(
        "Runtime.ExitError",
        "Container error. Non-recoverable state. Runtime should exit promptly.",
    );
    conn.json(500, &[], &body, true).await
}

async fn send_event(f: &LocalFn, call: &Call, conn: &mut Conn, close: bool) -> std::io::Result<()> {
    let deadline_ms = SystemTime::now()
        .checked_add(f.shared.timeout())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis());
    let mut digits = [0u8; 40];
    let deadline_ms = {
        use std::io::Write as _;
        let mut w = &mut digits[..];
        let _ = write!(w, "{deadline_ms}");
        let n = 40 - w.len();
        std::str::from_utf8(&digits[..n]).unwrap_or("0")
    };
    let arn = f.shared.arn.load_full();
    let mut headers = [
        ("Lambda-Runtime-Aws-Request-Id", call.id()),
        ("Lambda-Runtime-Deadline-Ms", deadline_ms),
        ("Lambda-Runtime-Invoked-Function-Arn", arn.as_str()),
        ("Lambda-Runtime-Trace-Id", call.trace.as_str()),
        ("Lambda-Runtime-Client-Context", ""),
    ];
    let n = match &call.client_context {
        Some(c) => {
            headers[4].1 = c.as_str();
            5
        }
        None => 4,
    };
    conn.json(200, &headers[..n], &call.event, close).await
}

/// `response` / `error`: end the process's current invocation with `outcome`.
fn complete(f: &LocalFn, p: &Proc, id: &str, outcome: Outcome) -> (u16, Cow<'static, [u8]>) {
    if p.gone.get() {
        return (
            500,
            error_json(
                "Runtime.ExitError",
                "Container error. Non-recoverable state.",
            )
            .into(),
        );
    }
    let current = p.current.borrow().as_ref().is_some_and(|c| c.id() == id);
    let call = match current {
        true => p.current.borrow_mut().take(),
        false => None,
    };
    let Some(call) = call else {
        return (
            400,
            error_json("InvalidRequestID", "Invalid request ID").into(),
        );
    };
    p.deadline.set(None);
    p.shared.served.fetch_add(1, Ordering::Relaxed);
    call.finish(outcome);
    p.shared.shift(BUSY, IDLE);
    // Looked at after the move to IDLE: see `ProcShared::retire`.
    if p.shared.retiring() {
        p.let_go();
    }
    f.publish();
    (202, ACCEPTED.into())
}

/// Largest init error kept: it is copied to every queued invocation and to the host.
const MAX_INIT_ERROR: usize = 64 * 1024;

/// `init/error`: the function cannot start. The process is killed (the host replaces it
/// after a backoff); queued invocations get the error when no process here is healthy.
fn init_error(f: &LocalFn, p: &Proc, error: Vec<u8>) {
    let error = if error.len() > MAX_INIT_ERROR {
        error_json(
            "Runtime.InitError",
            &format!(
                "the runtime reported an init error of {} bytes (over {MAX_INIT_ERROR})",
                error.len()
            ),
        )
    } else {
        error
    };
    crate::dataplane::diag::line(format_args!(
        "function `{}`: init error: {}",
        f.shared.name,
        String::from_utf8_lossy(&error)
    ));
    p.let_go();
    // Reported first: the host shows it by the time an invocation failed with it.
    let _ = f.to_host.send(ToHost::InitError {
        name: f.shared.name.clone(),
        error: error.clone(),
    });
    if !f.healthy() {
        f.fail_queue(|_| Outcome::FunctionError(error.clone()));
    }
}
