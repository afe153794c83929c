//! A client connection: read a head (header deadline, idle timeout), hand the request to the
//! pipeline, keep alive or close.
//!
//! Lifecycle: Idle (no bytes of the next request; idle timeout → silent close) → Head
//! (bytes seen; total header deadline → 408) → Request (pipeline owns the connection until
//! the response is written) → Idle again, or Closed. Pipelined bytes stay in `rb` and are
//! parsed before the next read.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use monoio::time::Instant;

use super::readbuf::{FillError, ReadBuf};
use super::respond::{self, Meta};
use super::worker::Worker;
use crate::config::{Params, ServerLimits};
use crate::http1::{self, ChunkedDecoder, RequestHead, ResponseHead, Status};

/// Initial client read buffer; grows for large heads and shrinks back when idle.
pub const CLIENT_BUF: usize = 8 * 1024;
/// How long to keep reading (and discarding) after a reject before closing, so the client
/// sees the response instead of a reset.
const LINGER: Duration = Duration::from_millis(500);

/// Per-connection reusable state. Nothing here is reallocated per request in steady state.
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
}

impl Conn {
    fn new(limits: &ServerLimits, peer: SocketAddr, port: u16) -> Conn {
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
        }
    }
}

enum Head {
    Ready,
    Closed,
    Reject(u16),
}

/// Serve one accepted connection (already counted by the accept loop) until it closes.
pub async fn serve(worker: Rc<Worker>, mut stream: TcpStream, peer: SocketAddr, port: u16) {
    let limits = worker.snapshot().server.limits;
    let mut conn = Conn::new(&limits, peer, port);
    let mut first = true;
    loop {
        let limits = worker.snapshot().server.limits;
        match read_head(&mut stream, &mut conn, &limits, first).await {
            Head::Ready => {}
            Head::Closed => break,
            Head::Reject(status) => {
                let meta = Meta {
                    request_id: worker.ids.request_id(),
                    extended_id: worker.ids.extended_id(),
                    protocol: None,
                    head_request: false,
                    close: true,
                };
                conn.wb.clear();
                respond::reject(&mut conn.wb, status, &meta, &worker.date.now());
                if write_all(&mut stream, &mut conn.wb, limits.send_timeout).await {
                    linger_close(&mut stream).await;
                }
                break;
            }
        }
        first = false;
        let outcome = super::request::handle(&worker, &mut stream, &mut conn).await;
        match outcome {
            Outcome::KeepAlive => {}
            Outcome::Close => break,
            Outcome::LingerClose => {
                linger_close(&mut stream).await;
                break;
            }
        }
        conn.rb.shrink_if_idle(CLIENT_BUF);
    }
    worker.connection_closed();
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

async fn read_head(
    stream: &mut TcpStream,
    conn: &mut Conn,
    limits: &ServerLimits,
    first: bool,
) -> Head {
    let mut header_deadline = None;
    loop {
        if !conn.rb.is_empty() {
            match http1::parse_request(conn.rb.data(), &limits.http, &mut conn.head) {
                Ok(Status::Complete) => return Head::Ready,
                Ok(Status::Partial) => {}
                Err(e) => return Head::Reject(e.status()),
            }
            if header_deadline.is_none() {
                header_deadline = Some(Instant::now() + limits.header_timeout);
            }
        }
        let deadline = header_deadline.unwrap_or_else(|| {
            Instant::now()
                + if first {
                    limits.header_timeout
                } else {
                    limits.idle_timeout
                }
        });
        let max = limits.http.max_head_bytes + 1;
        match monoio::time::timeout_at(deadline, conn.rb.fill(stream, max)).await {
            Ok(Ok(_)) => {}
            Ok(Err(FillError::Full)) => return Head::Reject(431),
            Ok(Err(_)) => return Head::Closed,
            // No byte of a request yet: a silent close (RELIABILITY L05). Otherwise 408 (L04).
            Err(_) if header_deadline.is_none() => return Head::Closed,
            Err(_) => return Head::Reject(408),
        }
    }
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
    let ok = matches!(
        monoio::time::timeout(limit, write_vec(stream, buf)).await,
        Ok(Ok(()))
    );
    buf.clear();
    ok
}

/// Half-close, then read and discard for a moment so the peer sees our response and a FIN
/// rather than a reset caused by its unread bytes.
pub async fn linger_close(stream: &mut TcpStream) {
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
