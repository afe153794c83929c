//! A client connection: read a head (header deadline, idle timeout), hand the request to the
//! pipeline, keep alive or close.
//!
//! Lifecycle: Idle (no bytes of the next request; idle timeout → silent close) → Head
//! (bytes seen; total header deadline → 408) → Request (pipeline owns the connection until
//! the response is written) → Idle again, or Closed. Pipelined bytes stay in `rb` and are
//! parsed before the next read.
//!
//! Memory: the connection's task holds only the socket and its deadlines (under 500 bytes).
//! Its buffers (`Conn`) come from the core's pool and the future that serves requests is
//! boxed, both only while the connection is active. Idle for `PARK_AFTER`, it *parks*: the
//! in-flight read is cancelled (and awaited, so bytes that won the race are kept), the buffers
//! go back to the pool, the box is freed, and the task waits for readability with no buffer
//! lent to the kernel and a coarse deadline (`deadlines`) instead of a timer.

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use monoio::io::{AsyncWriteRent, AsyncWriteRentExt, Canceller};
use monoio::time::Instant;

use super::deadlines::{self, Coarse};
use super::readbuf::{FillError, ReadBuf};
use super::request;
use super::respond::{self, Meta};
use super::stream::ClientStream;
use super::tls::{ClientCertInfo, TlsStream};
use super::worker::Worker;
use crate::config::certs::CertSet;
use crate::config::{Params, ServerLimits};
use crate::http1::{self, ChunkedDecoder, RequestHead, ResponseHead, Status};

/// Initial client read buffer; grows for large heads and shrinks back when recycled.
pub const CLIENT_BUF: usize = 8 * 1024;
/// How long a connection waits for its next request with a read buffer lent to the kernel
/// before it parks (see the module docs). Under load requests arrive far sooner, so the hot
/// path never parks; a connection idle this long pays one cancel and one poll to resume.
pub const PARK_AFTER: Duration = Duration::from_millis(100);
/// How long to keep reading (and discarding) after a reject before closing, so the client
/// sees the response instead of a reset.
const LINGER: Duration = Duration::from_millis(500);

/// Per-request reusable state, borrowed from the core's pool while a connection is active.
/// Nothing here is reallocated per request in steady state.
pub struct Conn {
    pub rb: ReadBuf,
    /// Client response bytes.
    pub wb: Vec<u8>,
    /// Upstream request head, then re-encoded request body chunks.
    pub up: Vec<u8>,
    pub head: RequestHead,
    pub resp: ResponseHead,
    pub params: Params,
    pub decoder: ChunkedDecoder,
    pub peer: SocketAddr,
    pub port: u16,
    /// HTTPS: the listener's certificates and the entry the handshake chose by SNI (for
    /// 421 Misdirected Request when the Host belongs to another entry).
    pub tls: Option<(Arc<CertSet>, usize)>,
    /// Mutual TLS: the client certificate the handshake verified (`context.identity.clientCert`).
    pub client_cert: Option<Rc<ClientCertInfo>>,
    /// The request fields the access log needs, copied when the stage is known
    /// (`access_log::capture`); empty unless the stage logs.
    pub logged: Vec<u8>,
    /// The authorizers' claims and grant, kept for a line that names `authorizer.*`.
    pub log_auth: super::access_log::Authorized,
    /// Cancels the idle read when the connection parks.
    canceller: Canceller,
}

impl Conn {
    pub fn new(limits: &ServerLimits, peer: SocketAddr, port: u16) -> Conn {
        Conn {
            rb: ReadBuf::with_capacity(CLIENT_BUF),
            wb: Vec::with_capacity(CLIENT_BUF),
            up: Vec::with_capacity(4096),
            head: RequestHead::with_limits(&limits.http),
            resp: ResponseHead::with_limits(&limits.http),
            params: Params::default(),
            decoder: ChunkedDecoder::new(limits.http.max_chunk_ext, limits.http.max_trailer_bytes),
            peer,
            port,
            tls: None,
            client_cert: None,
            logged: Vec::new(),
            log_auth: Default::default(),
            canceller: Canceller::new(),
        }
    }

    /// Ready a recycled `Conn` for another connection under the current limits.
    pub fn reuse(&mut self, limits: &ServerLimits, peer: SocketAddr, port: u16) {
        self.decoder =
            ChunkedDecoder::new(limits.http.max_chunk_ext, limits.http.max_trailer_bytes);
        self.peer = peer;
        self.port = port;
        self.tls = None;
        self.client_cert = None;
    }

    /// Clear it for the pool, dropping buffers a large message grew; returns the bytes freed.
    pub fn recycle(&mut self) -> usize {
        let mut freed = 0;
        self.tls = None;
        self.client_cert = None;
        self.rb.clear();
        if self.rb.capacity() > CLIENT_BUF {
            freed += self.rb.capacity();
            self.rb = ReadBuf::with_capacity(CLIENT_BUF);
        }
        self.wb.clear();
        if self.wb.capacity() > 4 * CLIENT_BUF {
            freed += self.wb.capacity();
            self.wb = Vec::with_capacity(CLIENT_BUF);
        }
        self.logged.clear();
        self.log_auth = Default::default();
        self.up.clear();
        if self.up.capacity() > 4 * CLIENT_BUF {
            freed += self.up.capacity();
            self.up = Vec::with_capacity(4096);
        }
        freed
    }

    /// Bytes this `Conn` holds on the heap (an estimate for release accounting).
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<Conn>() + self.rb.capacity() + self.wb.capacity() + self.up.capacity()
    }
}

enum Head {
    Ready,
    Closed,
    Reject(u16),
    /// Idle past `PARK_AFTER` with nothing buffered: wait without buffers until the deadline.
    Park(Instant),
}

/// What an active stretch of a connection ended with.
enum Active {
    Closed,
    Parked(Instant),
}

/// Where a connection is between active stretches.
struct Progress {
    /// No request has been read yet (the header timeout applies to the first wait).
    first: Cell<bool>,
    /// While waiting for the next request's first byte: when the wait times out. Kept across
    /// a park so parking never extends the idle timeout.
    wait_deadline: Cell<Option<Instant>>,
}

/// Handshake on an HTTPS listener's connection (within the header timeout: RELIABILITY T01),
/// then serve it. A failed handshake just closes (rustls has sent its alert).
pub async fn serve_tls(
    worker: Rc<Worker>,
    stream: monoio::net::TcpStream,
    peer: SocketAddr,
    port: u16,
    certs: Arc<CertSet>,
) {
    let deadline = Instant::now() + worker.snapshot().server.limits.header_timeout;
    match TlsStream::accept(stream, &certs, deadline).await {
        Ok(tls) => {
            worker.count(&worker.shared.tls_handshakes);
            serve(worker, tls, peer, port, Some(certs)).await
        }
        Err(_) => {
            worker.count(&worker.shared.tls_failures);
            worker.connection_closed()
        }
    }
}

/// Serve one accepted connection (already counted by the accept loop) until it closes.
pub async fn serve<S: ClientStream>(
    worker: Rc<Worker>,
    mut stream: S,
    peer: SocketAddr,
    port: u16,
    certs: Option<Arc<CertSet>>,
) {
    let progress = Progress {
        first: Cell::new(true),
        wait_deadline: Cell::new(None),
    };
    let client_cert = stream.client_cert().map(Rc::new);
    loop {
        let mut conn = worker.take_conn(peer, port);
        conn.tls = certs.clone().zip(stream.tls_entry());
        conn.client_cert = client_cert.clone();
        // Boxed, so the task of a parked connection does not carry the request future's
        // space; one allocation per active stretch, none per keep-alive request.
        let ended = Box::pin(active(&worker, &mut stream, &mut conn, &progress)).await;
        worker.give_conn(conn);
        let Active::Parked(deadline) = ended else {
            break;
        };
        worker.connection_parked();
        stream.park();
        let woke = wait_parked(&stream, deadline).await;
        worker.connection_unparked();
        // Idle timeout: a silent close (RELIABILITY L05). Readable includes EOF, which the
        // next read reports.
        if !woke {
            break;
        }
    }
    worker.connection_closed();
}

/// Wait, holding no buffer, until `stream` is readable (true) or `deadline` passes (false),
/// give or take one worker tick (`deadlines`).
async fn wait_parked<S: ClientStream>(stream: &S, deadline: Instant) -> bool {
    let timer = Coarse::new(deadline);
    let mut readable = pin!(stream.readable());
    poll_fn(|cx| {
        if let Poll::Ready(r) = readable.as_mut().poll(cx) {
            return Poll::Ready(r.is_ok());
        }
        timer.poll_expired(cx).map(|()| false)
    })
    .await
}

/// Requests on one connection until it closes or parks.
async fn active<S: ClientStream>(
    worker: &Rc<Worker>,
    stream: &mut S,
    conn: &mut Conn,
    progress: &Progress,
) -> Active {
    // When the last response was done (from its request's completion time): the idle wait
    // for the next request starts there without another clock read.
    let mut idle_from = None;
    loop {
        let limits = worker.snapshot().server.limits;
        match read_head(stream, conn, &limits, progress, idle_from.take()).await {
            Head::Ready => {}
            Head::Closed => return Active::Closed,
            Head::Park(deadline) => return Active::Parked(deadline),
            Head::Reject(status) => {
                let now = worker.now();
                let meta = Meta {
                    trace: None,
                    request_id: worker.ids.request_id(),
                    extended_id: worker.ids.extended_id(),
                    protocol: None,
                    head_request: false,
                    close: true,
                    retry_after: None,
                    cache_warning: false,
                    bearer: None,
                    now,
                    done: Default::default(),
                };
                conn.wb.clear();
                respond::reject(&mut conn.wb, status, &meta, &worker.date.now());
                // A malformed request: counted under the edge series (no API is known).
                let (status, len) = respond::written(&conn.wb, 0);
                let done = crate::dataplane::metrics::Completion {
                    status,
                    response_len: len,
                    ..Default::default()
                };
                worker.metrics.borrow_mut().record(&done, 0);
                if write_all(stream, &mut conn.wb, limits.send_timeout).await {
                    linger_close(stream).await;
                }
                return Active::Closed;
            }
        }
        progress.first.set(false);
        // The request's snapshot, taken once its head is in (a reload while it was read
        // applies to it); a non-atomic `Rc` increment.
        let snap = worker.snapshot();
        let mut meta = request::begin(worker, conn);
        let outcome = request::dispatch(worker, stream, conn, &snap, &mut meta).await;
        let ended = request::complete(worker, conn, &snap, &meta);
        drop(snap);
        match outcome {
            Outcome::KeepAlive => {}
            Outcome::Close => return Active::Closed,
            Outcome::LingerClose => {
                linger_close(stream).await;
                return Active::Closed;
            }
        }
        conn.rb.shrink_if_idle(CLIENT_BUF);
        idle_from = Some(Instant::from_std(worker.shared.clock.instant_at(ended)));
    }
}

/// What the connection does after a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    KeepAlive,
    /// Close now (the response is complete, or was cut off and must not look complete).
    Close,
    /// Close after unread request bytes: half-close and drain briefly so the client reads
    /// the response instead of a reset.
    LingerClose,
}

impl Outcome {
    /// After a complete response: keep alive unless `close`; when closing with request bytes
    /// possibly still unread (`unread`), linger so the client sees the response, not a reset.
    pub fn after_response(close: bool, unread: bool) -> Outcome {
        match (close, unread) {
            (false, _) => Outcome::KeepAlive,
            (true, false) => Outcome::Close,
            (true, true) => Outcome::LingerClose,
        }
    }
}

/// Read the next request's head. `idle_from`: when the previous response on this
/// connection was complete (a reading µs old), so the idle wait needs no clock read of its
/// own; `None` reads the clock.
async fn read_head<S: ClientStream>(
    stream: &mut S,
    conn: &mut Conn,
    limits: &ServerLimits,
    progress: &Progress,
    idle_from: Option<Instant>,
) -> Head {
    let mut header_deadline = None;
    loop {
        if !conn.rb.is_empty() {
            progress.wait_deadline.set(None);
            match http1::parse_request(conn.rb.data(), &limits.http, &mut conn.head) {
                Ok(Status::Complete) => return Head::Ready,
                Ok(Status::Partial) => {}
                Err(e) => return Head::Reject(e.status()),
            }
            if header_deadline.is_none() {
                header_deadline = Some(Instant::now() + limits.header_timeout);
            }
        }
        let max = limits.http.max_head_bytes + 1;
        let read = match header_deadline {
            Some(deadline) => {
                match monoio::time::timeout_at(deadline, conn.rb.fill(stream, max)).await {
                    Ok(r) => r,
                    Err(_) => return Head::Reject(408), // RELIABILITY L04
                }
            }
            None => {
                let now = idle_from.unwrap_or_else(Instant::now);
                let deadline = match progress.wait_deadline.get() {
                    Some(d) => d,
                    None => {
                        let wait = if progress.first.get() {
                            limits.header_timeout
                        } else {
                            limits.idle_timeout
                        };
                        let d = now + wait;
                        progress.wait_deadline.set(Some(d));
                        d
                    }
                };
                match wait_for_request(stream, conn, max, now, deadline).await {
                    Some(r) => r,
                    // No byte of a request yet: a silent close (RELIABILITY L05).
                    None if Instant::now() >= deadline => return Head::Closed,
                    None => return Head::Park(deadline),
                }
            }
        };
        match read {
            Ok(_) => {}
            Err(FillError::Full) => return Head::Reject(431),
            Err(_) => return Head::Closed,
        }
    }
}

/// Read the first bytes of the next request, keeping the buffer lent to the kernel for at
/// most `PARK_AFTER`. `None`: nothing arrived by then (or by `deadline`), and the read is over
/// — cancelled and awaited, so no byte that raced the cancel is lost.
async fn wait_for_request<S: ClientStream>(
    stream: &mut S,
    conn: &mut Conn,
    max: usize,
    now: Instant,
    deadline: Instant,
) -> Option<Result<usize, FillError>> {
    let park_at = (now + PARK_AFTER).min(deadline);
    let handle = conn.canceller.handle();
    let mut read = pin!(conn.rb.fill_cancelable(stream, max, handle));
    // Coarse: the park happens one to two ticks after the last request, and the idle deadline
    // fires up to a tick late; no timer-wheel work per request.
    let timer = Coarse::new(park_at);
    let mut canceled = false;
    poll_fn(|cx| {
        if let Poll::Ready(r) = read.as_mut().poll(cx) {
            return Poll::Ready(match r {
                Err(FillError::Canceled) => None,
                r => Some(r),
            });
        }
        if timer.poll_expired(cx).is_pending() {
            return Poll::Pending;
        }
        if canceled || park_at >= deadline {
            // Timed out: the connection closes, so the read can simply be dropped.
            return Poll::Ready(None);
        }
        // Park: cancel the read and wait for it to end (by the idle deadline at the latest,
        // should a driver not cancel), keeping any bytes that won the race.
        canceled = true;
        conn.canceller = std::mem::take(&mut conn.canceller).cancel();
        timer.reset(deadline);
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// Write all of `buf` (lent to the kernel and given back, contents kept). If the future is
/// dropped mid-write, `buf` is left empty — callers rebuild it per message anyway.
pub async fn write_vec<S: AsyncWriteRent>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> std::io::Result<()> {
    let (res, owned) = stream.write_all(std::mem::take(buf)).await;
    *buf = owned;
    res.map(|_| ())
}

/// Write all of `buf` within `limit`, then clear it; false if the client is gone or too slow.
pub async fn write_all<S: AsyncWriteRent>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    limit: Duration,
) -> bool {
    write_all_by(stream, buf, Instant::now() + limit).await
}

/// [`write_all`] by a deadline the caller has (from its request's [`Meta::now`]).
pub async fn write_all_by<S: AsyncWriteRent>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> bool {
    let ok = matches!(
        deadlines::within(deadline, write_vec(stream, buf)).await,
        Some(Ok(()))
    );
    buf.clear();
    ok
}

/// Half-close, then read and discard for a moment so the peer sees our response and a FIN
/// rather than a reset caused by its unread bytes.
pub async fn linger_close<S: ClientStream>(stream: &mut S) {
    let _ = stream.shutdown().await;
    let deadline = Instant::now() + LINGER;
    let mut scratch = Vec::with_capacity(4096);
    for _ in 0..64 {
        let buf = std::mem::take(&mut scratch);
        match monoio::time::timeout_at(deadline, stream.read(buf)).await {
            Ok((Ok(n), buf)) if n > 0 => {
                scratch = buf;
                scratch.clear();
            }
            _ => return,
        }
    }
}
