//! HTTP/1.1 for the Runtime and Invoke APIs on a worker, parsed with the gateway's own
//! strict `http1` codec: one request at a time per connection, keep-alive, bodies framed by
//! `Content-Length` or chunked, every size bounded.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::{Context, Poll};

use monoio::io::Canceller;
use monoio::net::TcpStream;

use super::super::conn::write_vec;
use super::super::readbuf::{FillError, ReadBuf};
use crate::config::{
    DEFAULT_MAX_CHUNK_EXT, DEFAULT_MAX_HEADER_LINE, DEFAULT_MAX_HEADERS, DEFAULT_MAX_TARGET,
    DEFAULT_MAX_TRAILER_BYTES,
};
use crate::http1::{self, ChunkedDecoder, Framing, Limits, RequestHead, Status, reason_phrase};

const MAX_HEAD: usize = 64 * 1024;
/// The request headers the Runtime and Invoke APIs read.
const READ: &[&str] = &[
    "lambda-runtime-function-error-type",
    "x-amzn-trace-id",
    "x-amz-client-context",
];

/// One parsed request. A connection recycles it ([`Conn::recycle`]): its buffers keep their
/// capacity.
#[derive(Default)]
pub struct Request {
    pub method: String,
    /// The path as sent (no query).
    pub path: String,
    /// The headers the two APIs read (names lower-case), the rest are skipped.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    pub close: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why no request was read.
pub enum ReadError {
    /// The peer closed between requests.
    Closed,
    /// Malformed or cut short: answer with this status, then close.
    Bad(u16),
    /// The body of a request to this path is over the limit: 413, then close.
    TooLarge(String),
}

/// How [`Conn::wait_open`] ended.
pub enum Waited<T> {
    Ready(T),
    /// The peer closed (or reset) the connection first; `Some` when the value came in the
    /// same turn, before the read was over.
    Closed(Option<T>),
}

pub struct Conn {
    pub stream: TcpStream,
    rb: ReadBuf,
    out: Vec<u8>,
    limits: Limits,
    /// Cancels the read `wait_open` keeps armed.
    canceller: Option<Canceller>,
    /// The last request, for the next.
    spare: Request,
    /// The last request's head, for the next (its header table keeps its capacity).
    head: Option<RequestHead>,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        let _ = stream.set_nodelay(true);
        Conn {
            stream,
            rb: ReadBuf::with_capacity(4096),
            out: Vec::with_capacity(1024),
            limits: Limits {
                max_headers: DEFAULT_MAX_HEADERS,
                max_header_line: DEFAULT_MAX_HEADER_LINE,
                max_head_bytes: MAX_HEAD,
                max_target: DEFAULT_MAX_TARGET,
                max_chunk_ext: DEFAULT_MAX_CHUNK_EXT,
                max_trailer_bytes: DEFAULT_MAX_TRAILER_BYTES,
            },
            canceller: Some(Canceller::new()),
            spare: Request::default(),
            head: None,
        }
    }

    /// `req` is done with: the next request is read into its buffers.
    pub fn recycle(&mut self, req: Request) {
        if req.body.capacity() <= 64 * 1024 {
            self.spare = req;
        }
    }

    /// Wait for `ready` with a read armed on the connection, so that a peer that closes or
    /// resets it meanwhile is noticed at once (a long poll the client gave up on). Bytes
    /// that arrive meanwhile (a pipelined request) are kept for `read_request`; once the
    /// buffer holds a whole head's worth, it waits without watching. When `ready` comes
    /// first, the read is cancelled and awaited, so no byte that raced the cancel is lost.
    pub async fn wait_open<T>(
        &mut self,
        mut ready: impl FnMut(&mut Context<'_>) -> Poll<T>,
    ) -> Waited<T> {
        // Ready at once (an invocation was queued): no read to arm and cancel.
        if let Poll::Ready(v) = poll_fn(|cx| Poll::Ready(ready(cx))).await {
            return Waited::Ready(v);
        }
        let mut got = None;
        loop {
            let Conn {
                stream,
                rb,
                canceller,
                ..
            } = self;
            let Some(c) = canceller.as_ref() else {
                return Waited::Closed(got); // not reached: the canceller is put back below
            };
            let handle = c.handle();
            let mut read = pin!(rb.fill_cancelable(stream, MAX_HEAD + 1, handle));
            let r = poll_fn(|cx| {
                if got.is_none()
                    && let Poll::Ready(v) = ready(cx)
                {
                    got = Some(v);
                    // A fresh canceller (monoio allocates it) for the next wait.
                    *canceller = canceller.take().map(Canceller::cancel);
                }
                read.as_mut().poll(cx)
            })
            .await;
            match r {
                Err(FillError::Eof | FillError::Io) => return Waited::Closed(got),
                Err(FillError::Full) => break,
                // Bytes (kept), or a cancel: ours once `ready` came.
                Ok(_) | Err(FillError::Canceled) => {}
            }
            if let Some(v) = got {
                return Waited::Ready(v);
            }
        }
        Waited::Ready(match got {
            Some(v) => v,
            None => poll_fn(ready).await,
        })
    }

    async fn fill(&mut self, max: usize) -> bool {
        self.rb.fill(&mut self.stream, max).await.is_ok()
    }

    /// The next request; a body over `max_body` is refused with 413.
    pub async fn read_request(&mut self, max_body: usize) -> Result<Request, ReadError> {
        let mut head = self
            .head
            .take()
            .unwrap_or_else(|| RequestHead::with_limits(&self.limits));
        let r = self.read_into(max_body, &mut head).await;
        self.head = Some(head);
        r
    }

    async fn read_into(
        &mut self,
        max_body: usize,
        head: &mut RequestHead,
    ) -> Result<Request, ReadError> {
        loop {
            if !self.rb.is_empty() {
                match http1::parse_request(self.rb.data(), &self.limits, head) {
                    Ok(Status::Complete) => break,
                    Ok(Status::Partial) => {}
                    Err(e) => return Err(ReadError::Bad(e.status())),
                }
            }
            let had = !self.rb.is_empty();
            if !self.fill(MAX_HEAD + 1).await {
                return Err(if had {
                    ReadError::Bad(400)
                } else {
                    ReadError::Closed
                });
            }
        }
        let mut req = std::mem::take(&mut self.spare);
        let buf = self.rb.data();
        let text = |s: http1::Span, out: &mut String| {
            out.clear();
            out.push_str(&String::from_utf8_lossy(s.get(buf)));
        };
        text(head.method, &mut req.method);
        text(head.path, &mut req.path);
        req.headers.clear();
        for (n, v) in head.headers.iter() {
            let n = n.get(buf);
            if let Some(&known) = READ.iter().find(|k| n.eq_ignore_ascii_case(k.as_bytes())) {
                let mut value = String::new();
                text(*v, &mut value);
                req.headers.push((known, value));
            }
        }
        req.close = head.close;
        req.body.clear();
        self.rb.consume(head.head_len);
        let refused = matches!(head.framing, Framing::Length(n) if n as usize > max_body);
        // curl (and libcurl-based runtime clients) wait for it before sending a large body.
        if head.expect_continue && head.framing != Framing::None && !refused && self.rb.is_empty() {
            self.out.clear();
            self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            if write_vec(&mut self.stream, &mut self.out).await.is_err() {
                return Err(ReadError::Closed);
            }
        }
        match head.framing {
            Framing::None => {}
            Framing::Length(_) if refused => return Err(ReadError::TooLarge(req.path)),
            Framing::Length(n) => {
                let n = n as usize;
                while self.rb.data().len() < n {
                    if !self.fill(n).await {
                        return Err(ReadError::Bad(400));
                    }
                }
                req.body.extend_from_slice(&self.rb.data()[..n]);
                self.rb.consume(n);
            }
            Framing::Chunked => match self.read_chunked(max_body, &mut req.body).await {
                Err(ReadError::Bad(413)) => return Err(ReadError::TooLarge(req.path)),
                r => r?,
            },
        }
        // A large body made the buffer grow: give it back between requests.
        self.rb.shrink_if_idle(16 * 1024);
        Ok(req)
    }

    async fn read_chunked(&mut self, max_body: usize, body: &mut Vec<u8>) -> Result<(), ReadError> {
        let mut decoder =
            ChunkedDecoder::new(self.limits.max_chunk_ext, self.limits.max_trailer_bytes);
        loop {
            if !self.rb.is_empty() {
                let d = decoder
                    .decode(self.rb.data())
                    .map_err(|_| ReadError::Bad(400))?;
                if let Some((s, e)) = d.data {
                    body.extend_from_slice(&self.rb.data()[s..e]);
                }
                self.rb.consume(d.consumed);
                if body.len() > max_body {
                    return Err(ReadError::Bad(413));
                }
                if d.done {
                    return Ok(());
                }
                if d.consumed > 0 {
                    continue;
                }
            }
            if !self.fill(64 * 1024).await {
                return Err(ReadError::Bad(400));
            }
        }
    }

    /// Write one JSON response (`Content-Length` framed).
    pub async fn json(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        close: bool,
    ) -> std::io::Result<()> {
        let out = &mut self.out;
        out.clear();
        out.extend_from_slice(b"HTTP/1.1 ");
        http1::write_decimal(out, u64::from(status));
        out.push(b' ');
        out.extend_from_slice(reason_phrase(status).as_bytes());
        out.extend_from_slice(b"\r\nContent-Type: application/json\r\n");
        for (n, v) in headers {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Content-Length: ");
        http1::write_decimal(out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        let r = write_vec(&mut self.stream, &mut self.out).await;
        if self.out.capacity() > 64 * 1024 {
            self.out = Vec::with_capacity(1024);
        }
        r
    }
}

/// The path's `/`-separated segments (no leading empty one), up to [`SEGMENTS`] (a longer
/// path shows its first `SEGMENTS`, which no endpoint has).
pub fn segments(path: &str) -> Segments<'_> {
    let mut s = Segments {
        parts: [""; SEGMENTS],
        n: 0,
    };
    for part in path.trim_start_matches('/').split('/').take(SEGMENTS) {
        s.parts[s.n] = part;
        s.n += 1;
    }
    s
}

/// More than any endpoint's.
const SEGMENTS: usize = 6;

/// A path's segments, on the stack.
pub struct Segments<'a> {
    parts: [&'a str; SEGMENTS],
    n: usize,
}

impl<'a> Segments<'a> {
    pub fn as_slice(&self) -> &[&'a str] {
        &self.parts[..self.n]
    }
}
