//! Blocking HTTP/1.1 for the function host's two APIs, parsed with the gateway's own strict
//! `http1` codec: one request at a time per connection, keep-alive, bodies framed by
//! `Content-Length` or chunked.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::config::{
    DEFAULT_MAX_CHUNK_EXT, DEFAULT_MAX_HEADER_LINE, DEFAULT_MAX_HEADERS, DEFAULT_MAX_TARGET,
    DEFAULT_MAX_TRAILER_BYTES,
};
use crate::http1::{self, ChunkedDecoder, Framing, Limits, RequestHead, Status, reason_phrase};

const MAX_HEAD: usize = 64 * 1024;

/// One parsed request.
pub(super) struct Request {
    pub method: String,
    /// The path as sent (no query).
    pub path: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub close: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why no request was read.
pub(super) enum ReadError {
    /// The peer closed (or went idle past the read timeout) between requests.
    Closed,
    /// Answer with this status, then close.
    Bad(u16),
    /// The body of a request to this path is over the limit: 413, then close.
    TooLarge(String),
}

pub(super) struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    limits: Limits,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: Vec::with_capacity(4096),
            limits: Limits {
                max_headers: DEFAULT_MAX_HEADERS,
                max_header_line: DEFAULT_MAX_HEADER_LINE,
                max_head_bytes: MAX_HEAD,
                max_target: DEFAULT_MAX_TARGET,
                max_chunk_ext: DEFAULT_MAX_CHUNK_EXT,
                max_trailer_bytes: DEFAULT_MAX_TRAILER_BYTES,
            },
        }
    }

    fn fill(&mut self) -> Result<(), ReadError> {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) | Err(_) => Err(ReadError::Closed),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    }

    /// The next request; a body over `max_body` is refused with 413.
    pub fn read_request(&mut self, max_body: usize) -> Result<Request, ReadError> {
        let mut head = RequestHead::with_limits(&self.limits);
        loop {
            if !self.buf.is_empty() {
                match http1::parse_request(&self.buf, &self.limits, &mut head) {
                    Ok(Status::Complete) => break,
                    Ok(Status::Partial) => {}
                    Err(e) => return Err(ReadError::Bad(e.status())),
                }
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadError::Bad(431));
            }
            let had = self.buf.len();
            self.fill().map_err(|e| match (had, e) {
                (0, e) => e,
                _ => ReadError::Bad(400),
            })?;
        }
        let text = |s: http1::Span, buf: &[u8]| String::from_utf8_lossy(s.get(buf)).into_owned();
        let method = text(head.method, &self.buf);
        let path = text(head.path, &self.buf);
        let headers = head
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    text(*n, &self.buf).to_ascii_lowercase(),
                    text(*v, &self.buf),
                )
            })
            .collect();
        let close = head.close;
        self.buf.drain(..head.head_len);
        // curl (and libcurl-based runtime clients) wait for it before sending a large body.
        let refused = matches!(head.framing, Framing::Length(n) if n as usize > max_body);
        if head.expect_continue
            && head.framing != Framing::None
            && !refused
            && self.buf.is_empty()
            && self
                .stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .is_err()
        {
            return Err(ReadError::Closed);
        }
        let body = match head.framing {
            Framing::None => Vec::new(),
            Framing::Length(n) if n as usize > max_body => return Err(ReadError::TooLarge(path)),
            Framing::Length(n) => {
                let n = n as usize;
                while self.buf.len() < n {
                    self.fill().map_err(|_| ReadError::Bad(400))?;
                }
                self.buf.drain(..n).collect()
            }
            Framing::Chunked => self.read_chunked(max_body).map_err(|e| match e {
                ReadError::Bad(413) => ReadError::TooLarge(path.clone()),
                e => e,
            })?,
        };
        Ok(Request {
            method,
            path,
            headers,
            body,
            close,
        })
    }

    fn read_chunked(&mut self, max_body: usize) -> Result<Vec<u8>, ReadError> {
        let mut decoder =
            ChunkedDecoder::new(self.limits.max_chunk_ext, self.limits.max_trailer_bytes);
        let mut body = Vec::new();
        loop {
            if !self.buf.is_empty() {
                let d = decoder.decode(&self.buf).map_err(|_| ReadError::Bad(400))?;
                if let Some((s, e)) = d.data {
                    body.extend_from_slice(&self.buf[s..e]);
                }
                self.buf.drain(..d.consumed);
                if body.len() > max_body {
                    return Err(ReadError::Bad(413));
                }
                if d.done {
                    return Ok(body);
                }
                if d.consumed > 0 {
                    continue;
                }
            }
            self.fill().map_err(|_| ReadError::Bad(400))?;
        }
    }

    /// Write one response (`Content-Length` framed).
    pub fn respond(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        close: bool,
    ) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(body.len() + 256);
        out.extend_from_slice(
            format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).as_bytes(),
        );
        for (n, v) in headers {
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        self.stream.write_all(&out)
    }

    /// A JSON answer.
    pub fn json(
        &mut self,
        status: u16,
        extra: &[(&str, &str)],
        body: &[u8],
        close: bool,
    ) -> std::io::Result<()> {
        let mut headers = vec![("Content-Type", "application/json")];
        headers.extend_from_slice(extra);
        self.respond(status, &headers, body, close)
    }
}
