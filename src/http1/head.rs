//! Request head parsing: httparse plus the strict checks httparse does not make.
//! CONTRACT (implemented by the http1 work): signatures are fixed; bodies are to be written.

/// A byte range into the buffer the head was parsed from. `u32` keeps the header table small.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    #[inline]
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start as usize..self.end as usize]
    }
    #[inline]
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// How the request body is delimited (RFC 9112 §6.3). A request is never close-delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`
    Origin,
    /// `http://authority/path?query`; `authority` spans the authority.
    Absolute { authority: Span },
    /// `*` (OPTIONS only)
    Asterisk,
}

/// Parsing limits; a breach has a defined status (RELIABILITY L01–L03, P12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum header fields (L01). Capped at 256 by the parser.
    pub max_headers: usize,
    /// Maximum bytes of one header field line, name + value (L02).
    pub max_header_line: usize,
    /// Maximum bytes of the whole head, request line to the blank line (L02).
    pub max_head_bytes: usize,
    /// Maximum bytes of the request-target (L03 → 414).
    pub max_target: usize,
    /// Maximum chunk-extension bytes per message (P10).
    pub max_chunk_ext: usize,
    /// Maximum trailer block bytes (P12).
    pub max_trailer_bytes: usize,
}

/// Outcome of a parse attempt on the bytes read so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// More bytes are needed; nothing in the buffer is invalid yet.
    Partial,
    /// The head is complete and valid; it is `head_len` bytes long.
    Complete,
}

/// Why a request head was rejected. Small and `Copy`: the hot path carries no strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// 400: malformed request line, header, framing, Host, or target.
    BadRequest(&'static str),
    /// 413: Content-Length above the body limit (decided by the caller) — not produced here.
    PayloadTooLarge,
    /// 414: request-target longer than `max_target`.
    UriTooLong,
    /// 417: an `Expect` other than `100-continue` on HTTP/1.1.
    ExpectationFailed,
    /// 431: too many fields, a field line or the head too large.
    HeaderTooLarge,
    /// 501: a transfer coding other than a single final `chunked`.
    NotImplemented,
    /// 505: HTTP/2.0 or another major version on this HTTP/1.1 listener.
    VersionNotSupported,
}

impl RequestError {
    pub fn status(self) -> u16 {
        match self {
            RequestError::BadRequest(_) => 400,
            RequestError::PayloadTooLarge => 413,
            RequestError::UriTooLong => 414,
            RequestError::ExpectationFailed => 417,
            RequestError::HeaderTooLarge => 431,
            RequestError::NotImplemented => 501,
            RequestError::VersionNotSupported => 505,
        }
    }
}

/// A parsed, validated request head. Reused per connection: `parse_request` clears it.
/// All spans point into the buffer passed to `parse_request`.
#[derive(Debug)]
pub struct RequestHead {
    pub method: Span,
    /// The whole request-target as sent.
    pub target: Span,
    pub form: TargetForm,
    /// Path part of the target (starts with `/`; for asterisk-form it spans `*`).
    pub path: Span,
    /// Query after `?` (without the `?`), if any.
    pub query: Option<Span>,
    pub version: Version,
    /// Header fields in order, (name, value) with value OWS-trimmed. Capacity reserved once.
    pub headers: Vec<(Span, Span)>,
    /// Bytes of the head including the final CRLFCRLF.
    pub head_len: usize,
    pub framing: Framing,
    /// The single Host field value (validated, as sent), if present.
    pub host: Option<Span>,
    /// `Connection: close` was sent (or HTTP/1.0 without `keep-alive`).
    pub close: bool,
    /// `Expect: 100-continue` on HTTP/1.1.
    pub expect_continue: bool,
    /// `Upgrade` header present (WebSocket later; proxied requests drop it now).
    pub upgrade: bool,
}

impl RequestHead {
    pub fn with_limits(limits: &Limits) -> RequestHead {
        RequestHead {
            method: Span::default(),
            target: Span::default(),
            form: TargetForm::Origin,
            path: Span::default(),
            query: None,
            version: Version::Http11,
            headers: Vec::with_capacity(limits.max_headers.min(256)),
            head_len: 0,
            framing: Framing::None,
            host: None,
            close: false,
            expect_continue: false,
            upgrade: false,
        }
    }
}

/// Parse and validate a request head from `buf` (the bytes read so far; the head starts at 0).
///
/// Strict rules (RELIABILITY.md §1.1, §1.2, §2): bare LF, bare CR, obs-fold, invalid names,
/// CTL/NUL in values → 400; CL syntax digits-only with overflow check; CL+TE, duplicate
/// differing CL, non-`chunked` TE, TE on HTTP/1.0 → 400/501; missing/duplicate/invalid Host on
/// HTTP/1.1 → 400; absolute-form whose authority differs from Host → 400; request-target
/// charset; HTTP/2.0 → 505; other versions → 400; limits → 414/431.
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
    head: &mut RequestHead,
) -> Result<Status, RequestError> {
    let _ = (buf, limits, head);
    todo!("http1::parse_request")
}
