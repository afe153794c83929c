//! Running an invocation on a worker's processes (`invoke`, and `call` for
//! `FunctionTarget::Local` calls from the request path), and the ticker's deadline sweep.

use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use monoio::time::Instant;

use super::super::clock::IdGen;
use super::super::deadlines;
use super::super::lambda_auth::invoke::{CallError, Reply};
use super::mail::{self, BUSY};
use super::{Buffers, Call, LocalFn, Outcome, SPARE_CALLS, error_json, invoke_api};

/// Deadlines: a busy process past its invocation's deadline is killed; an invocation that
/// waited a whole timeout for a process is refused.
pub(super) fn sweep(f: &LocalFn, now: Instant) {
    let timeout = f.shared.timeout();
    let secs = timeout.as_secs_f64();
    unasked(f, now, timeout);
    for p in f.procs.borrow().iter() {
        if !p.presumed.get()
            && p.deadline.get().is_some_and(|d| d <= now)
            && let Some(c) = p.current.borrow_mut().take()
        {
            p.deadline.set(None);
            crate::dataplane::diag::line(format_args!(
                "function `{}` [{}]: Task timed out after {secs:.2} seconds; killing process {}",
                f.shared.name,
                c.id(),
                p.shared.pid
            ));
            let error = error_json(
                "Sandbox.Timedout",
                &format!(
                    "RequestId: {} Error: Task timed out after {secs:.2} seconds",
                    c.id()
                ),
            );
            c.finish(Outcome::FunctionError(error));
            p.let_go();
        }
    }
    let healthy = f.healthy();
    if let Some(error) = f.shared.failing.load_full()
        && !healthy
    {
        f.fail_queue(|_| Outcome::FunctionError(error.to_vec()));
        return;
    }
    loop {
        let expired = {
            let mut q = f.queue.borrow_mut();
            match q.front() {
                Some(c) if now.duration_since(c.queued) >= timeout => q.pop_front(),
                _ => None,
            }
        };
        let Some(c) = expired else { break };
        let outcome = match healthy {
            true => Outcome::Throttled,
            false => Outcome::FunctionError(error_json(
                "Sandbox.Timedout",
                &format!(
                    "RequestId: {} Error: Task timed out after {secs:.2} seconds (the function's process was still starting)",
                    c.id()
                ),
            )),
        };
        c.finish(outcome);
    }
    f.publish();
}

/// How long a runtime handed an invocation before it asked (`runtime::presume`) may take to
/// ask (or the function's timeout, if shorter).
const PRESUME_GRACE: Duration = Duration::from_secs(1);

/// An invocation handed to a process whose runtime has not asked for it within
/// [`PRESUME_GRACE`] goes to another process (it never reached this one's runtime), and the
/// process gets nothing more until its runtime asks (it is `away`, as after a closed poll).
fn unasked(f: &LocalFn, now: Instant, timeout: Duration) {
    let grace = PRESUME_GRACE.min(timeout);
    let late: Vec<_> = f
        .procs
        .borrow()
        .iter()
        .filter(|p| {
            p.presumed.get()
                && p.deadline
                    .get()
                    .and_then(|d| d.checked_sub(timeout))
                    .is_some_and(|handed| now.duration_since(handed) >= grace)
        })
        .cloned()
        .collect();
    for p in late {
        p.presumed.set(false);
        let call = p.current.borrow().clone();
        if let Some(call) = call {
            crate::dataplane::diag::line(format_args!(
                "function `{}` [{}]: process {} did not ask for its next invocation within {} ms of its last; handing it to another",
                f.shared.name,
                call.id(),
                p.shared.pid,
                grace.as_millis()
            ));
            f.withdraw(&p);
            f.requeue(&p, &call);
        }
    }
}

/// Queue `event` for `f` and wait for its outcome; `trace`: the `X-Amzn-Trace-Id` to pass
/// on (one is made without).
pub(crate) async fn invoke(
    f: &Rc<LocalFn>,
    event: &[u8],
    trace: Option<&[u8]>,
    client_context: Option<String>,
) -> Outcome {
    if let Some(error) = f.shared.failing.load_full()
        && !f.healthy()
    {
        return Outcome::FunctionError(error.to_vec());
    }
    let busy = f
        .procs
        .borrow()
        .iter()
        .filter(|p| p.shared.state() == BUSY)
        .count();
    let free = (f.shared.concurrency.load(Ordering::Relaxed) as usize).saturating_sub(busy);
    if f.queue.borrow().len() >= free + f.shared.queue.load(Ordering::Relaxed) as usize {
        return Outcome::Throttled;
    }
    let mut call = f
        .spare
        .borrow_mut()
        .pop()
        .unwrap_or_else(|| Rc::new(Call::new()));
    let Some(c) = Rc::get_mut(&mut call) else {
        return Outcome::Throttled; // not reached: a spare call is only ever ours
    };
    let uuid = request_id(&f.ids);
    c.id = mail::uuid_bytes(uuid);
    c.uuid = uuid;
    c.event.clear();
    c.event.extend_from_slice(event);
    c.trace.clear();
    match trace {
        Some(t) => c.trace.push_str(&String::from_utf8_lossy(t)),
        None => trace_id(&f.ids, &mut c.trace),
    }
    c.client_context = client_context;
    c.queued = Instant::now();
    *c.outcome.get_mut() = None;
    *c.waker.get_mut() = None;
    f.queue.borrow_mut().push_back(call.clone());
    f.dispatch();
    // Queued at most one timeout, then run at most one: the ticker answers by then.
    let limit = f.shared.timeout() * 2 + Duration::from_secs(5);
    let wait = poll_fn(|cx| match call.outcome.borrow_mut().take() {
        Some(o) => Poll::Ready(o),
        None => {
            *call.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    });
    // Coarse (the ticker's table): no timer-wheel work per invocation.
    let outcome = deadlines::within(Instant::now() + limit, wait)
        .await
        .unwrap_or(Outcome::Throttled);
    // Nobody else holds it once it ended (a queue or a process lets go as it ends it).
    let mut spare = f.spare.borrow_mut();
    if Rc::strong_count(&call) == 1 && spare.len() < SPARE_CALLS {
        if call.event.capacity() > Buffers::KEEP
            && let Some(c) = Rc::get_mut(&mut call)
        {
            c.event = Vec::new();
        }
        spare.push(call);
    }
    outcome
}

/// A UUID v4, as Lambda's request ids are.
fn request_id(ids: &IdGen) -> u128 {
    let id = (u128::from(ids.random_u64()) << 64) | u128::from(ids.random_u64());
    (id & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62)
}

/// `Root=1-{epoch hex}-{24 hex};Parent={16 hex};Sampled=0`, X-Ray's format, onto `out`.
fn trace_id(ids: &IdGen, out: &mut String) {
    use std::fmt::Write as _;
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (a, b, c) = (ids.random_u64(), ids.random_u64(), ids.random_u64());
    let _ = write!(
        out,
        "Root=1-{secs:08x}-{:08x}{a:016x};Parent={c:016x};Sampled=0",
        b as u32
    );
}

/// A `FunctionTarget::Local` call on this worker's processes, answered as the Invoke API
/// would answer it over HTTP (`lambda_auth::invoke::call`'s contract).
pub(crate) async fn call(
    f: &Rc<LocalFn>,
    event: &[u8],
    trace: Option<&[u8]>,
    timeout: Duration,
) -> Result<Reply, CallError> {
    // Coarse, as the process deadlines the ticker sweeps: up to a tick late.
    let outcome = deadlines::within(Instant::now() + timeout, invoke(f, event, trace, None))
        .await
        .ok_or(CallError::Timeout)?;
    let (status, body, function_error) = match outcome {
        Outcome::Result(body) => (200, body, false),
        Outcome::FunctionError(body) => (200, body, true),
        Outcome::Throttled => (429, invoke_api::throttled_body(), false),
        Outcome::NotFound => (404, invoke_api::not_found_body(&f.shared.name), false),
    };
    Ok(Reply {
        status,
        body,
        function_error,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_uuid_v4() {
        let ids = super::IdGen::new();
        for _ in 0..100 {
            let id = super::mail::uuid(super::request_id(&ids));
            let b = id.as_bytes();
            assert_eq!(
                (id.len(), b[14], b[8], b[13]),
                (36, b'4', b'-', b'-'),
                "{id}"
            );
            assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'), "{id}");
        }
        let mut trace = String::new();
        super::trace_id(&ids, &mut trace);
        assert!(
            trace.starts_with("Root=1-") && trace.len() == 7 + 8 + 1 + 24 + 8 + 16 + 10,
            "{trace}"
        );
    }
}
