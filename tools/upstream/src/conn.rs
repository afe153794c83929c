//! One accepted connection, start to end, in the configured mode.
//!
//! Lifecycle of the HTTP modes: *Read* (bytes appended to the buffer and the recording) →
//! *Frame* (every complete unit in the buffer is consumed by the `Framer`, in order, and the
//! mode reacts at head, body and end of each message) → *Read* again, or *Closed* on EOF,
//! a malformed head, or a request that asked for `Connection: close`. The byte-count modes
//! (`close-after`, `reset-after`) and `stall` never frame.
//!
//! With `--tls-*` the same lifecycle runs on plaintext after a *Handshake* step (`tls.rs`);
//! a failed handshake is counted and the connection dropped.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use monoio::buf::IoBuf;
use monoio::net::TcpStream;

use crate::cli::Mode;
use crate::framing::{BodyKind, Framer, HeadInfo, Step};
use crate::record::{Recorder, Recording};
use crate::response::{self, Fixed};
use crate::sock;
use crate::tls::{Seen, TlsStream};
use crate::transport::Transport;

const READ_BUF: usize = 16 * 1024;
/// Largest unconsumed request data (a head) the mock buffers before giving up.
const MAX_BUF: usize = 1024 * 1024;
/// After a FIN (`close-after`, `Connection: close`, a malformed head), how long the mock
/// drains what the peer still sends before closing.
const DRAIN: Duration = Duration::from_secs(2);
/// After `early` answered, how long it holds the connection open without reading.
const EARLY_HOLD: Duration = Duration::from_secs(10);

/// Everything a connection needs, built once at start and shared by the workers.
pub struct Server {
    pub mode: Mode,
    pub fixed: Fixed,
    pub headers: Vec<String>,
    pub too_large: Bytes,
    pub raw: Bytes,
    pub recorder: Arc<Recorder>,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Failed TLS handshakes, shared by every worker and the `Workers` handle.
    pub tls_failures: Arc<AtomicU64>,
}

struct Conn {
    stream: Transport,
    buf: Vec<u8>,
    start: usize,
    rec: Recording,
    /// `echo` over TLS: the `x-upstream-*` header lines for this connection.
    tls_headers: Vec<String>,
}

pub async fn serve(tcp: TcpStream, server: &Server) {
    let (number, rec) = server.recorder.connection();
    let (stream, tls_headers) = match &server.tls {
        None => (Transport::Plain(tcp), Vec::new()),
        Some(config) => match TlsStream::accept(tcp, config).await {
            Ok(tls) => {
                let headers = tls_headers(&tls.seen(), number);
                (Transport::Tls(Box::new(tls)), headers)
            }
            Err(e) => {
                server.tls_failures.fetch_add(1, Ordering::Relaxed);
                eprintln!("upstream: TLS handshake failed on connection {number}: {e}");
                return;
            }
        },
    };
    let mut c = Conn {
        stream,
        buf: Vec::with_capacity(READ_BUF),
        start: 0,
        rec,
        tls_headers,
    };
    match &server.mode {
        Mode::Fixed => {
            fixed(&mut c, server).await;
            c.lingering_close().await;
        }
        Mode::CloseAfter(n) => {
            c.read_exactly(*n).await;
            c.lingering_close().await;
        }
        Mode::ResetAfter(n) => {
            c.read_exactly(*n).await;
            let _ = sock::reset_on_close(c.tcp());
        }
        Mode::Stall => c.drain().await,
        // `refuse` and `blackhole` never accept, so never get here.
        _ => {
            if http(&mut c, server).await {
                c.lingering_close().await;
            }
        }
    }
}

/// The benchmark path: batch the responses to every complete request in one read into one
/// write; a single response is the pre-rendered `Bytes` itself (no copy, no allocation).
async fn fixed(c: &mut Conn, s: &Server) {
    let mut framer = Framer::default();
    let mut batch: Vec<u8> = Vec::new();
    let (mut head_method, mut last) = (false, false);
    loop {
        if !matches!(c.read_more().await, Ok(n) if n > 0) {
            return;
        }
        let mut single: Option<Bytes> = None;
        let mut close = false;
        while !close {
            let step = framer.step(c.data());
            match step {
                Step::NeedMore => break,
                // Answer what came before it, then close.
                Step::Malformed => close = true,
                Step::Head { len, info } => {
                    head_method = info.head_method;
                    last = info.close;
                    c.consume(len);
                }
                Step::Body { len } => c.consume(len),
                Step::End { len } => {
                    c.consume(len);
                    queue(&mut single, &mut batch, s.fixed.for_request(head_method));
                    // `Connection: close`: answer this one, frame nothing after it.
                    close = last;
                }
            }
        }
        let written = if batch.is_empty() {
            match single {
                Some(r) => c.write(r).await,
                None => Ok(()),
            }
        } else {
            let (res, b) = c.stream.write_all(std::mem::take(&mut batch)).await;
            batch = b;
            batch.clear();
            res
        };
        if written.is_err() || close {
            return;
        }
    }
}

fn queue(single: &mut Option<Bytes>, batch: &mut Vec<u8>, r: Bytes) {
    if let Some(first) = single.take() {
        batch.extend_from_slice(&first);
    }
    if batch.is_empty() {
        *single = Some(r);
    } else {
        batch.extend_from_slice(&r);
    }
}

/// `echo`, `delay`, `drip`, `raw`, `early`: one message at a time, in order. Returns whether
/// the connection should end with a lingering close.
async fn http(c: &mut Conn, s: &Server) -> bool {
    let mut framer = Framer::default();
    let mut request = Vec::new();
    let mut head = HeadInfo {
        line_len: 0,
        head_method: false,
        close: false,
        then_close: false,
        body: BodyKind::None,
    };
    let mut body_seen = 0u64;
    loop {
        if !matches!(c.read_more().await, Ok(n) if n > 0) {
            return true;
        }
        loop {
            let step = framer.step(c.data());
            let len = match step {
                Step::NeedMore => break,
                Step::Malformed => return true,
                Step::Head { len, .. } | Step::Body { len } | Step::End { len } => len,
            };
            if matches!(s.mode, Mode::Echo) {
                request.extend_from_slice(&c.data()[..len]);
            }
            c.consume(len);
            let ok = match (step, &s.mode) {
                (Step::Head { info, .. }, mode) => {
                    head = info;
                    body_seen = 0;
                    match mode {
                        Mode::Raw(_) => c.write(s.raw.clone()).await,
                        Mode::Early { after: 0 } if info.body != BodyKind::None => {
                            return early(c, s).await;
                        }
                        _ => Ok(()),
                    }
                }
                (Step::Body { len }, Mode::Early { after }) => {
                    body_seen += len as u64;
                    if body_seen >= *after {
                        return early(c, s).await;
                    }
                    Ok(())
                }
                (Step::Body { .. }, _) => Ok(()),
                (Step::End { .. }, Mode::Early { .. }) => return early(c, s).await,
                (Step::End { .. }, mode) => respond(c, s, mode, &head, &mut request).await,
                (Step::NeedMore | Step::Malformed, _) => Ok(()),
            };
            // `then_close`: the response said nothing, the close comes unannounced.
            if ok.is_err() || ((head.close || head.then_close) && framer.at_head()) {
                return true;
            }
        }
    }
}

async fn respond(
    c: &mut Conn,
    s: &Server,
    mode: &Mode,
    head: &HeadInfo,
    request: &mut Vec<u8>,
) -> io::Result<()> {
    match mode {
        Mode::Echo => {
            let mut r = response::echo(&c.tls_headers, &s.headers, request, head.line_len);
            if head.head_method {
                r.truncate(r.len() - request.len());
            }
            request.clear();
            c.write(r).await
        }
        Mode::Delay(d) => {
            monoio::time::sleep(*d).await;
            c.write(s.fixed.for_request(head.head_method)).await
        }
        Mode::Drip { chunk, interval } => {
            let r = s.fixed.for_request(head.head_method);
            let mut at = 0;
            while at < r.len() {
                if at > 0 {
                    monoio::time::sleep(*interval).await;
                }
                let end = (at + chunk.get()).min(r.len());
                c.write(Bytes::slice(&r, at..end)).await?;
                at = end;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Answer 413, send FIN, and hold the connection without reading any more. Returns `false`:
/// no lingering close (that would read).
async fn early(c: &mut Conn, s: &Server) -> bool {
    if c.write(s.too_large.clone()).await.is_ok() {
        c.close_notify().await;
        sock::shutdown_write(c.tcp());
        monoio::time::sleep(EARLY_HOLD).await;
    }
    false
}

impl Conn {
    #[inline]
    fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    fn tcp(&self) -> &TcpStream {
        self.stream.tcp()
    }

    async fn write<B: IoBuf + AsRef<[u8]> + 'static>(&mut self, b: B) -> io::Result<()> {
        self.stream.write_all(b).await.0
    }

    async fn close_notify(&mut self) {
        self.stream.close_notify().await;
    }

    /// One read appended to the unconsumed bytes (and to the recording); `Ok(0)` is EOF.
    async fn read_more(&mut self) -> io::Result<usize> {
        self.read_at_most(usize::MAX).await
    }

    async fn read_at_most(&mut self, limit: usize) -> io::Result<usize> {
        if self.start > 0 && self.buf.capacity() - self.buf.len() < READ_BUF / 4 {
            self.buf.copy_within(self.start.., 0);
            self.buf.truncate(self.buf.len() - self.start);
            self.start = 0;
        }
        if self.buf.len() == self.buf.capacity() {
            if self.buf.len() >= MAX_BUF {
                return Err(io::Error::other("request head too large"));
            }
            self.buf.reserve(self.buf.len().max(READ_BUF));
        }
        let (len, cap) = (self.buf.len(), self.buf.capacity());
        let n = self
            .stream
            .read_into(&mut self.buf, len + (cap - len).min(limit))
            .await?;
        self.rec.bytes(&self.buf[len..len + n]);
        Ok(n)
    }

    /// Read (and record) until `n` bytes have arrived or the peer stops sending.
    async fn read_exactly(&mut self, n: u64) {
        let mut left = n;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX);
            match self.read_at_most(want).await {
                Ok(got) if got > 0 => {
                    left -= got as u64;
                    self.buf.clear();
                    self.start = 0;
                }
                _ => return,
            }
        }
    }

    /// FIN, then drain (and record) what the peer still sends for up to `DRAIN`, so that
    /// unread bytes never turn the close into a reset that could destroy the last response.
    async fn lingering_close(&mut self) {
        self.close_notify().await;
        sock::shutdown_write(self.tcp());
        let _ = monoio::time::timeout(DRAIN, self.drain()).await;
    }

    /// Read (and record) until EOF or an error, answering nothing.
    async fn drain(&mut self) {
        while matches!(self.read_more().await, Ok(n) if n > 0) {
            self.buf.clear();
            self.start = 0;
        }
    }
}

/// `echo` over TLS: what the handshake settled, and which connection this is.
fn tls_headers(seen: &Seen, number: u64) -> Vec<String> {
    vec![
        format!("x-upstream-tls-sni: {}", seen.sni.as_deref().unwrap_or("-")),
        format!("x-upstream-tls-version: {}", seen.version),
        format!(
            "x-upstream-tls-client-cn: {}",
            seen.client_cn.as_deref().unwrap_or("-")
        ),
        format!("x-upstream-tls-resumed: {}", seen.resumed),
        format!("x-upstream-conn: {number}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_keeps_a_single_response_uncopied_and_batches_the_rest_in_order() {
        let (mut single, mut batch) = (None, Vec::new());
        queue(&mut single, &mut batch, Bytes::from_static(b"a"));
        assert!(batch.is_empty() && single.as_deref() == Some(&b"a"[..]));
        queue(&mut single, &mut batch, Bytes::from_static(b"b"));
        queue(&mut single, &mut batch, Bytes::from_static(b"c"));
        assert_eq!((single, batch.as_slice()), (None, &b"abc"[..]));
    }
}
