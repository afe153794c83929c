//! HTTP_PROXY: forward the request (head built by `upstream_head`), stream the body, read the
//! upstream's response head within `timeoutInMillis`, rewrite it as API Gateway does, and
//! stream the body back. Upstream connections come from and return to the per-core pool.
//!
//! Lifecycle of the upstream connection: Acquire (pool, or connect and for `https://` the TLS
//! handshake, both within the integration deadline) → SendHead → SendBody →
//! ReadHead (1xx skipped) → ReadBody → back to the pool only when the exchange completed
//! cleanly and both sides allow keep-alive; any error drops it (never reused).

use std::rc::Rc;

use monoio::net::TcpStream;
use monoio::time::Instant;

use super::caching::{Fill, Work};
use super::conn::{self, Conn, Outcome};
use super::pool::UpstreamConn;
use super::readbuf::FillError;
use super::respond::{self, Meta};
use super::stream::ClientStream;
use super::tls::ClientTls;
use super::transfer;
use super::upstream_stream::UpstreamStream;
use super::worker::Worker;
use crate::config::{Api, ErrorKind, HttpProxy, Protocol, ServerLimits, Snapshot, Upstream};
use crate::http1::{self, Framing, ResponseFraming, Status, Version};

/// Bodies up to this size that are already buffered go out with the head in one write.
const COALESCE: usize = 64 * 1024;

/// Why the exchange with the upstream failed before a response reached the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamError {
    /// Connect refused/reset, broken framing, closed early → 502.
    Failure,
    /// `timeoutInMillis` passed → 504.
    Timeout,
    /// The client's body broke the rules (bad chunk, too large, too slow) → status, close.
    ClientBody(u16),
    /// The client went away.
    ClientGone,
    /// The upstream answered (or closed) before the request body was complete.
    EarlyResponse,
}

/// The head is already in `conn.up`. Returns what the client connection does next.
#[allow(clippy::too_many_arguments)]
pub async fn forward<S: ClientStream>(
    worker: &Rc<Worker>,
    client: &mut S,
    conn: &mut Conn,
    snap: &Snapshot,
    api: &Api,
    upstream: &Upstream,
    proxy: &HttpProxy,
    work: Option<Work>,
    meta: &mut Meta,
) -> Outcome {
    let limits = snap.server.limits;
    let framing = conn.head.framing;
    let expect_continue = conn.head.expect_continue;
    let client_version = conn.head.version;
    conn.rb.consume(conn.head.head_len);

    // A small body that is fully buffered travels with the head and can be replayed.
    let mut body_in_head = false;
    if let Framing::Length(n) = framing {
        let n = n as usize;
        if n <= COALESCE && conn.rb.data().len() >= n {
            conn.up.extend_from_slice(&conn.rb.data()[..n]);
            conn.rb.consume(n);
            body_in_head = true;
        }
    }
    let replayable = framing == Framing::None || body_in_head;
    let deadline = Instant::now() + proxy.timeout;
    let started = worker.shared.clock.now_ns();
    let mut progress = Progress {
        sent_continue: false,
        body_complete: true,
        body_read: replayable,
    };

    let mut attempt = 0;
    let mut up = loop {
        attempt += 1;
        let (mut up, reused) = match acquire(worker, upstream, deadline, &limits).await {
            Ok(c) => c,
            Err(e) => {
                let ns = worker.shared.clock.now_ns().saturating_sub(started);
                meta.done.integration = Some((ns, 0));
                return fail(worker, client, conn, snap, api, e, meta, replayable).await;
            }
        };
        // One timer for the whole exchange: head, body, response head share the deadline.
        let exchange = exchange(
            client,
            conn,
            &mut up,
            framing,
            body_in_head,
            expect_continue,
            &limits,
            meta.head_request,
            &mut progress,
        );
        let step = monoio::time::timeout_at(deadline, exchange)
            .await
            .unwrap_or(Err(Failed::Timeout));
        // A stale pooled connection: try once more on a fresh one if the request can be sent again.
        let retry = reused && replayable && attempt == 1;
        let e = match step {
            Ok(()) => {
                let ns = worker.shared.clock.now_ns().saturating_sub(started);
                meta.done.integration = Some((ns, conn.resp.status));
                break up;
            }
            Err(Failed::Send | Failed::ClosedBeforeResponse) if retry => continue,
            Err(Failed::Send | Failed::ClosedBeforeResponse | Failed::Malformed) => {
                UpstreamError::Failure
            }
            Err(Failed::Timeout) => UpstreamError::Timeout,
            Err(Failed::Body(e)) => e,
            Err(Failed::ClientGone) => return Outcome::Close,
        };
        if matches!(e, UpstreamError::Failure | UpstreamError::Timeout) {
            let ns = worker.shared.clock.now_ns().saturating_sub(started);
            meta.done.integration = Some((ns, 0));
        }
        return fail(worker, client, conn, snap, api, e, meta, progress.body_read).await;
    };
    // The upstream answered before the whole body was sent: relay its answer; the rest of
    // the client's body stays unread, so the client connection closes after it and the
    // upstream connection is dropped (RELIABILITY U11).
    let body_complete = progress.body_complete;
    if !body_complete {
        meta.close = true;
    }

    // The stage cache: judge the response for storing, or drop the entry an unsafe method
    // changed.
    let mut fill: Option<Box<Fill>> = match work {
        Some(Work::Fill(mut f)) => {
            (body_complete && f.admit(&conn.resp, up.rb.data())).then_some(f)
        }
        Some(Work::Invalidate { cache, key }) if conn.resp.status < 400 => {
            cache.invalidate(&key);
            None
        }
        _ => None,
    };

    // Response head → client.
    let resp_framing = conn.resp.framing;
    let upstream_close = conn.resp.close;
    let chunk_to_client = matches!(
        resp_framing,
        ResponseFraming::Chunked | ResponseFraming::Close
    ) && client_version == Version::Http11;
    if matches!(
        resp_framing,
        ResponseFraming::Chunked | ResponseFraming::Close
    ) && !chunk_to_client
    {
        meta.close = true; // HTTP/1.0 client: close-delimited
    }
    conn.wb.clear();
    let fields_end = super::response_head::build(
        &mut conn.wb,
        up.rb.data(),
        &conn.resp,
        api.protocol == Protocol::Rest,
        chunk_to_client,
        meta,
        &worker.date.now(),
    );
    if let Some(f) = fill.as_deref_mut() {
        f.head(&conn.wb[..fields_end]);
    }
    let head_len = conn.resp.head_len;
    up.rb.consume(head_len);
    meta.done.status = conn.resp.status;
    // Known up front for a Content-Length body; a chunked or close-delimited one is counted
    // as it is relayed.
    meta.done.response_len = match resp_framing {
        ResponseFraming::Length(n) if !meta.head_request => n,
        _ => 0,
    };

    let body = transfer::response_body(
        client,
        conn,
        &mut up,
        resp_framing,
        chunk_to_client,
        &limits,
        proxy.timeout,
        fill.as_deref_mut(),
        &mut meta.done.response_len,
    )
    .await;
    let clean = match body {
        Ok(()) => true,
        Err(transfer::BodyFailure::Client) => return Outcome::Close,
        // Headers (and maybe part of the body) went out: cut the client connection so the
        // response cannot look complete (RELIABILITY U05).
        Err(transfer::BodyFailure::Upstream) => return Outcome::Close,
    };
    if let Some(f) = fill {
        f.finish(worker.shared.clock.now_ns());
    }
    let poolable = clean
        && body_complete
        && !upstream_close
        && up.rb.is_empty()
        && !up.stream.has_buffered()
        && matches!(
            resp_framing,
            ResponseFraming::Length(_) | ResponseFraming::Chunked | ResponseFraming::None
        );
    if poolable {
        worker
            .pool
            .borrow_mut()
            .put(upstream.key, up, limits.upstream_idle_per_host);
    }
    Outcome::after_response(meta.close, !conn.rb.is_empty() || !body_complete)
}

pub(super) async fn acquire(
    worker: &Worker,
    upstream: &Upstream,
    deadline: Instant,
    limits: &ServerLimits,
) -> Result<(UpstreamConn, bool), UpstreamError> {
    if let Some(c) = worker
        .pool
        .borrow_mut()
        .take(upstream.key, limits.upstream_idle_timeout)
    {
        debug_assert_eq!(c.stream.is_tls(), upstream.tls.is_some());
        return Ok((c, true));
    }
    let addr = {
        let addrs = upstream.addrs.load();
        if addrs.is_empty() {
            return Err(UpstreamError::Failure);
        }
        addrs[worker.next_round_robin() % addrs.len()]
    };
    let tcp = match monoio::time::timeout_at(deadline, TcpStream::connect_addr(addr)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(_)) => return Err(UpstreamError::Failure),
        Err(_) => return Err(UpstreamError::Timeout),
    };
    let _ = tcp.set_nodelay(true);
    let stream = match &upstream.tls {
        None => UpstreamStream::Plain(tcp),
        Some(target) => {
            // An untrusted certificate, a name mismatch or a failed handshake is a 502 like a
            // refused connect; running out of time is a 504.
            let conn =
                rustls::ClientConnection::new(target.config.clone(), target.server_name.clone())
                    .map_err(|_| UpstreamError::Failure)?;
            match monoio::time::timeout_at(deadline, ClientTls::connect(tcp, conn)).await {
                Ok(Ok(tls)) => UpstreamStream::Tls(Box::new(tls)),
                Ok(Err(_)) => return Err(UpstreamError::Failure),
                Err(_) => return Err(UpstreamError::Timeout),
            }
        }
    };
    Ok((UpstreamConn::new(stream), false))
}

/// How far an exchange got, kept by the caller across the timeout that may cut it short.
struct Progress {
    sent_continue: bool,
    /// The whole request body went to the upstream (false after an early response).
    body_complete: bool,
    /// The client's request body has been read completely (the connection may stay open).
    body_read: bool,
}

/// Why an exchange failed before a response head arrived.
enum Failed {
    /// Writing the head failed (a stale pooled connection, or a refused one).
    Send,
    Body(UpstreamError),
    ClientGone,
    /// EOF or reset before any response byte (a stale pooled connection, or U03).
    ClosedBeforeResponse,
    Malformed,
    Timeout,
}

/// Send the head (already in `conn.up`), the body, and read the final response head into
/// `conn.resp`. The caller bounds the whole exchange with the integration deadline.
#[allow(clippy::too_many_arguments)]
async fn exchange<S: ClientStream>(
    client: &mut S,
    conn: &mut Conn,
    up: &mut UpstreamConn,
    framing: Framing,
    body_in_head: bool,
    expect_continue: bool,
    limits: &ServerLimits,
    head_request: bool,
    progress: &mut Progress,
) -> Result<(), Failed> {
    // Not cleared: a stale pooled connection retries with the same head.
    conn::write_vec(&mut up.stream, &mut conn.up)
        .await
        .map_err(|_| Failed::Send)?;
    if !body_in_head && framing != Framing::None {
        if expect_continue && conn.rb.is_empty() && !progress.sent_continue {
            progress.sent_continue = true;
            conn.wb.clear();
            conn.wb.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            if !conn::write_all(client, &mut conn.wb, limits.send_timeout).await {
                return Err(Failed::ClientGone);
            }
        }
        match transfer::request_body(client, conn, up, framing, limits).await {
            Ok(()) => progress.body_read = true,
            Err(UpstreamError::EarlyResponse) => progress.body_complete = false,
            Err(e) => return Err(Failed::Body(e)),
        }
    }
    read_response_head(up, conn, limits, head_request).await
}

/// Read the final response head into `conn.resp` (spans into `up.rb`), skipping 1xx.
async fn read_response_head(
    up: &mut UpstreamConn,
    conn: &mut Conn,
    limits: &ServerLimits,
    head_request: bool,
) -> Result<(), Failed> {
    let mut got_any = false;
    loop {
        if !up.rb.is_empty() {
            match http1::parse_response(up.rb.data(), &limits.http, head_request, &mut conn.resp) {
                Ok(Status::Complete) => {
                    let status = conn.resp.status;
                    if status == 101 {
                        return Err(Failed::Malformed);
                    }
                    if (100..200).contains(&status) {
                        up.rb.consume(conn.resp.head_len);
                        continue;
                    }
                    return Ok(());
                }
                Ok(Status::Partial) => {}
                Err(_) => return Err(Failed::Malformed),
            }
        }
        match up
            .rb
            .fill(&mut up.stream, limits.http.max_head_bytes + 1)
            .await
        {
            Ok(_) => got_any = true,
            Err(FillError::Full) => return Err(Failed::Malformed),
            Err(_) if !got_any && up.rb.is_empty() => return Err(Failed::ClosedBeforeResponse),
            Err(_) => return Err(Failed::Malformed),
        }
    }
}

/// Nothing reached the client yet: answer with the gateway response for the failure.
/// `body_consumed`: the client's request body (if any) has been read completely, so the
/// connection may stay open.
#[allow(clippy::too_many_arguments)]
async fn fail<S: ClientStream>(
    worker: &Worker,
    client: &mut S,
    conn: &mut Conn,
    snap: &Snapshot,
    api: &Api,
    e: UpstreamError,
    meta: &mut Meta,
    body_consumed: bool,
) -> Outcome {
    let date = worker.date.now();
    conn.wb.clear();
    match e {
        UpstreamError::ClientGone => return Outcome::Close,
        // Handled by `forward` (the response is relayed); never reaches here.
        UpstreamError::EarlyResponse => return Outcome::Close,
        UpstreamError::ClientBody(413) => {
            meta.close = true;
            meta.done.error = Some(ErrorKind::RequestTooLarge);
            respond::gateway_error(
                &mut conn.wb,
                snap,
                Some(api),
                ErrorKind::RequestTooLarge,
                meta,
                &date,
            );
        }
        UpstreamError::ClientBody(status) => {
            meta.close = true;
            respond::reject(&mut conn.wb, status, meta, &date);
        }
        UpstreamError::Failure | UpstreamError::Timeout => {
            if !body_consumed {
                meta.close = true;
            }
            let kind = if e == UpstreamError::Timeout {
                ErrorKind::IntegrationTimeout
            } else {
                ErrorKind::IntegrationFailure
            };
            meta.done.error = Some(kind);
            respond::gateway_error(&mut conn.wb, snap, Some(api), kind, meta, &date);
        }
    }
    super::request::finish(client, conn, &snap.server.limits, meta).await
}
