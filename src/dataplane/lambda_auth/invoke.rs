//! Calling a function reached as an HTTP endpoint that speaks the Lambda JSON: `POST` the
//! event, read the whole answer. The connection comes from (and goes back to) the core's
//! upstream pool through `proxy::acquire`, the same connect, TLS and pool code as
//! HTTP_PROXY; the answer head is parsed by the same strict `http1::parse_response`.
//!
//! Lifecycle: Acquire (pool or connect, within the function's `timeoutMs`) → Send (head and
//! body in one write) → ReadHead → ReadBody (bounded by [`MAX_RESULT_BYTES`]) → back to the
//! pool when the exchange completed cleanly and keep-alive holds. The whole call shares one
//! deadline. A stale pooled connection (closed before any answer byte) is retried once on
//! a fresh one: the event is always replayable.

use monoio::time::Instant;

use super::super::conn;
use super::super::pool::UpstreamConn;
use super::super::proxy::{UpstreamError, acquire};
use super::super::readbuf::FillError;
use super::super::worker::Worker;
use crate::config::{Function, FunctionTarget, ServerLimits, Snapshot};
use crate::http1::{self, ChunkedDecoder, ResponseFraming, ResponseHead, Status};

/// Larger answers are refused: Lambda's own synchronous response limit (6 MB). An
/// authorizer's output is at most a few KB; a proxy integration's may be a whole page.
pub const MAX_RESULT_BYTES: usize = 6 * 1024 * 1024;

/// Why a call gave no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// Refused, reset, closed early, malformed or oversized answer.
    Failed,
    /// `timeoutMs` passed.
    Timeout,
}

/// What the endpoint answered.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// The answer carried `X-Amz-Function-Error` (Lambda's Invoke API and runtime emulators:
    /// the function raised, or timed out; the body is the error object, not a result).
    pub function_error: bool,
}

enum Step {
    Done(Reply, bool),
    Stale,
    Failed,
}

/// `POST`s `event` to `function` and reads the answer, the whole call bounded by `timeout`
/// (the function's own, or a Lambda proxy integration's, which is never longer), with the
/// request's `X-Amzn-Trace-Id` value sent along when there is one.
pub async fn call(
    worker: &Worker,
    snap: &Snapshot,
    function: &Function,
    event: &[u8],
    trace: Option<&[u8]>,
    timeout: std::time::Duration,
) -> Result<Reply, CallError> {
    if let FunctionTarget::Local { .. } = &function.target
        && let Some(f) = worker.functions.local(&function.name)
    {
        return super::super::functions::call(&f, event, trace, timeout).await;
    }
    let limits = snap.server.limits;
    let deadline = Instant::now() + timeout;
    let mut request = Vec::with_capacity(event.len() + 160);
    let upstream = match &function.target {
        FunctionTarget::Http { upstream, path } | FunctionTarget::Local { upstream, path, .. } => {
            let upstream = &snap.upstreams[upstream.0 as usize];
            request.extend_from_slice(b"POST ");
            request.extend_from_slice(path);
            request.extend_from_slice(b" HTTP/1.1\r\nHost: ");
            request.extend_from_slice(&upstream.host_header);
            if let Some(t) = trace {
                request.extend_from_slice(b"\r\nX-Amzn-Trace-Id: ");
                request.extend_from_slice(t);
            }
            request.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
            http1::write_decimal(&mut request, event.len() as u64);
            request.extend_from_slice(b"\r\n\r\n");
            request.extend_from_slice(event);
            upstream
        }
        FunctionTarget::Remote(remote) => {
            let upstream = &snap.upstreams[remote.upstream.0 as usize];
            let secs = worker.now().unix_secs;
            let mut signing = worker.invoke_signing.borrow_mut();
            super::remote::write_request(
                &mut signing,
                upstream,
                remote,
                event,
                trace,
                secs,
                &mut request,
            );
            upstream
        }
    };
    for attempt in 0..2 {
        let (mut up, reused) = match acquire(worker, upstream, deadline, &limits).await {
            Ok(c) => c,
            Err(UpstreamError::Timeout) => return Err(CallError::Timeout),
            Err(_) => return Err(CallError::Failed),
        };
        let step = monoio::time::timeout_at(deadline, exchange(&mut up, &mut request, &limits))
            .await
            .map_err(|_| CallError::Timeout)?;
        match step {
            Step::Done(reply, keep) => {
                if keep {
                    worker
                        .pool
                        .borrow_mut()
                        .put(upstream.key, up, limits.upstream_idle_per_host);
                }
                return Ok(reply);
            }
            Step::Stale if reused && attempt == 0 => continue,
            Step::Stale | Step::Failed => return Err(CallError::Failed),
        }
    }
    Err(CallError::Failed)
}

/// Send the request (kept for a retry) and read the whole answer.
async fn exchange(up: &mut UpstreamConn, request: &mut Vec<u8>, limits: &ServerLimits) -> Step {
    if conn::write_vec(&mut up.stream, request).await.is_err() {
        return Step::Stale;
    }
    let mut head = ResponseHead::with_limits(&limits.http);
    let mut got_any = false;
    loop {
        if !up.rb.is_empty() {
            match http1::parse_response(up.rb.data(), &limits.http, false, &mut head) {
                Ok(Status::Complete) if (100..200).contains(&head.status) => {
                    up.rb.consume(head.head_len);
                    continue;
                }
                Ok(Status::Complete) => break,
                Ok(Status::Partial) => {}
                Err(_) => return Step::Failed,
            }
        }
        match up
            .rb
            .fill(&mut up.stream, limits.http.max_head_bytes + 1)
            .await
        {
            Ok(_) => got_any = true,
            Err(FillError::Eof | FillError::Io) if !got_any && up.rb.is_empty() => {
                return Step::Stale;
            }
            Err(_) => return Step::Failed,
        }
    }
    let function_error = head.headers.iter().any(|(n, _)| {
        n.get(up.rb.data())
            .eq_ignore_ascii_case(b"x-amz-function-error")
    });
    up.rb.consume(head.head_len);
    let mut body = Vec::new();
    let keep = match head.framing {
        ResponseFraming::None => true,
        ResponseFraming::Length(n) => {
            if n > MAX_RESULT_BYTES as u64 {
                return Step::Failed;
            }
            let n = n as usize;
            while up.rb.data().len() < n {
                if up.rb.fill(&mut up.stream, n).await.is_err() {
                    return Step::Failed;
                }
            }
            body.extend_from_slice(&up.rb.data()[..n]);
            up.rb.consume(n);
            true
        }
        ResponseFraming::Chunked => {
            let mut decoder =
                ChunkedDecoder::new(limits.http.max_chunk_ext, limits.http.max_trailer_bytes);
            loop {
                if !up.rb.is_empty() {
                    let Ok(d) = decoder.decode(up.rb.data()) else {
                        return Step::Failed;
                    };
                    if let Some((s, e)) = d.data {
                        body.extend_from_slice(&up.rb.data()[s..e]);
                    }
                    up.rb.consume(d.consumed);
                    if body.len() > MAX_RESULT_BYTES {
                        return Step::Failed;
                    }
                    if d.done {
                        break;
                    }
                    if d.consumed > 0 {
                        continue;
                    }
                }
                if up.rb.fill(&mut up.stream, 64 * 1024).await.is_err() {
                    return Step::Failed;
                }
            }
            true
        }
        ResponseFraming::Close => {
            loop {
                body.extend_from_slice(up.rb.data());
                up.rb.clear();
                if body.len() > MAX_RESULT_BYTES {
                    return Step::Failed;
                }
                match up.rb.fill(&mut up.stream, 64 * 1024).await {
                    Ok(_) => {}
                    Err(FillError::Eof) => break,
                    Err(_) => return Step::Failed,
                }
            }
            false
        }
    };
    let keep = keep && !head.close && up.rb.is_empty() && !up.stream.has_buffered();
    Step::Done(
        Reply {
            status: head.status,
            body,
            function_error,
        },
        keep,
    )
}
