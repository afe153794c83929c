//! Request head parsing: tollgate's own strict parser (responses use httparse, `response.rs`).
//!
//! Three passes over the head, each deciding what it can see:
//! 1. `scan` (byte by byte, resumable): line ends, obs-fold, request-line shape, every limit;
//!    at the end of the request line `target::check_request_line` (version, target);
//! 2. `fill_headers`, once the whole head is there: each field line's name and value
//!    (accepting exactly what httparse accepts), recorded as spans;
//! 3. `fields::interpret`: framing, Host, Connection, Upgrade, Expect.
//!
//! Choices where the RFCs leave one (each has a test):
//! - Empty lines (CRLF only) before the request line are skipped and counted in `head_len`.
//! - `HTTP/1.2`, `HTTP/0.9`, `http/1.1` → 400; `HTTP/2.0` … `HTTP/9.x` → 505.
//! - Methods are tokens of at most 32 bytes (400 beyond), kept as sent (`get` ≠ `GET`).
//! - Absolute-form needs a path: `http://a` and `http://a?q` → 400 (so `path` always starts
//!   with `/`). Authority-form (`CONNECT host:443`) → 400.
//! - `Host:` with an empty value → 400 (the gateway routes on it).
//! - Transfer-Encoding: a single `chunked` is the only accepted value; well-formed other
//!   codings (`gzip`, `identity`, `gzip, chunked`, `xchunked`) → 501; malformed lists,
//!   `chunked` twice or with parameters, or two TE fields → 400. CL + TE → 400 whatever the
//!   coding, and TE on HTTP/1.0 → 400.
//! - `Content-Length: 5, 5` and repeated equal fields are one length; differing → 400.

mod fields;
mod target;
#[cfg(test)]
mod tests;

use super::scan::{Mode, Scan, ScanError, ScanLimits, Step, tchar_run};
use super::swar;
use target::{RequestLine, check_request_line, span};

/// A byte range into the buffer the head was parsed from. `u32` keeps the header table small.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// The bytes of `buf` in this span; empty if the span does not fit in `buf` (never
    /// panics, so a span applied to the wrong buffer is a logic bug, not a crash).
    #[inline]
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start) as usize
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
    /// The host part (no port) of the request's authority, as sent: the absolute-form
    /// target's authority, else `Host`'s; `None` without either. Validated like them, so a
    /// router only lower-cases it (`normalize_host`), without parsing the authority again.
    pub authority_host: Option<Span>,
    /// `Connection: close` was sent (or HTTP/1.0 without `keep-alive`).
    pub close: bool,
    /// `Expect: 100-continue` on HTTP/1.1.
    pub expect_continue: bool,
    /// `Upgrade` header present (WebSocket later; proxied requests drop it now).
    pub upgrade: bool,
    /// Where the scan of a `Partial` head stopped, so a trickled head is not rescanned from
    /// the start on every read. Only used for early rejection: a completed head is always
    /// checked whole, so a stale value (the buffer replaced without a `Complete`/error in
    /// between) can never make a bad head pass.
    resume: Scan,
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
            authority_host: None,
            close: false,
            expect_continue: false,
            upgrade: false,
            resume: Scan::default(),
        }
    }

    /// Reset every parsed field (the header table keeps its capacity).
    fn clear(&mut self) {
        self.method = Span::default();
        self.target = Span::default();
        self.form = TargetForm::Origin;
        self.path = Span::default();
        self.query = None;
        self.version = Version::Http11;
        self.headers.clear();
        self.head_len = 0;
        self.framing = Framing::None;
        self.host = None;
        self.authority_host = None;
        self.close = false;
        self.expect_continue = false;
        self.upgrade = false;
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
    head.clear();
    let lim = ScanLimits {
        mode: Mode::Request,
        // Spans are u32 offsets: no head may reach 4 GiB.
        max_head: limits.max_head_bytes.min(u32::MAX as usize),
        max_fields: limits.max_headers.min(MAX_FIELDS),
        max_line: limits.max_header_line,
        max_target: limits.max_target,
    };
    let mut scan = Scan::resume(&mut head.resume, buf.len());
    let resumed = scan.pos() > 0;
    let (head_len, line) = match scan_head(&mut scan, buf, &lim)? {
        None => {
            head.resume = scan;
            return Ok(Status::Partial);
        }
        Some((len, Some(line))) if !resumed => (len, line),
        // Resumed: the bytes before the resume point were checked by an earlier call on what
        // should be the same buffer. Check them again rather than trust that.
        Some(_) => match scan_head(&mut Scan::default(), buf, &lim)? {
            Some((len, Some(line))) => (len, line),
            _ => return Err(RequestError::BadRequest("head changed between reads")),
        },
    };
    head.method = line.method;
    head.target = line.target;
    head.form = line.form;
    head.path = line.path;
    head.query = line.query;
    head.version = line.version;
    head.head_len = head_len;
    fill_headers(
        buf.get(..head_len).unwrap_or_default(),
        line.fields,
        lim.max_fields,
        head,
    )?;
    fields::interpret(buf, &line, head)?;
    Ok(Status::Complete)
}

/// At most this many field lines, whatever `Limits::max_headers` says.
const MAX_FIELDS: usize = 256;

/// Run the scan to the end of the head, checking the request line when it ends. `None`:
/// partial. The line is `None` only if the scan was resumed after the request line.
fn scan_head(
    scan: &mut Scan,
    buf: &[u8],
    lim: &ScanLimits,
) -> Result<Option<(usize, Option<RequestLine>)>, RequestError> {
    let mut line = None;
    loop {
        match scan.run(buf, lim) {
            Ok(Step::Partial) => return Ok(None),
            Ok(Step::StartLine) => line = Some(check_request_line(buf, &scan.line)?),
            Ok(Step::Complete(len)) => return Ok(Some((len, line))),
            Err(ScanError::Bad(reason)) => return Err(RequestError::BadRequest(reason)),
            Err(ScanError::TooLarge) => return Err(RequestError::HeaderTooLarge),
            Err(ScanError::UriTooLong) => return Err(RequestError::UriTooLong),
        }
    }
}

/// Record the field lines of a complete head `buf` (the scan has delimited it) as spans,
/// checking each: `name ":" OWS value OWS` with a name of tchars and a value of HTAB, SP,
/// VCHAR and obs-text — exactly what httparse accepts. The scan already guarantees every
/// line ends in CRLF (no bare CR or LF), no obs-fold, at most `max_fields` lines, and the
/// request line before `fields` is checked; so one pass over each line, with no second parse
/// of the request line, decides the rest.
fn fill_headers(
    buf: &[u8],
    fields: usize,
    max_fields: usize,
    head: &mut RequestHead,
) -> Result<(), RequestError> {
    // The head ends with the field lines' last CRLF, then the empty line's.
    let end = buf.len().saturating_sub(2);
    let mut pos = fields;
    while pos < end {
        let rest = buf.get(pos..end).unwrap_or_default();
        // The name is the tchars before the first `:`; one pass finds its end and checks
        // it (a non-tchar before the `:`, or no `:`, stops the run elsewhere; CR is not a
        // tchar, so the run never leaves the line).
        let colon = tchar_run(rest);
        if colon == 0 || rest.get(colon) != Some(&b':') {
            return Err(RequestError::BadRequest("invalid field name"));
        }
        // The value runs to the first byte a value cannot hold: the line's CR, or an
        // invalid byte before it.
        let len = match value_end(rest.get(colon + 1..).unwrap_or_default()) {
            Some(i) if rest.get(colon + 1 + i) == Some(&b'\r') => colon + 1 + i,
            Some(_) => return Err(RequestError::BadRequest("invalid field value")),
            None => return Err(RequestError::BadRequest("malformed head")),
        };
        // The scan counted the lines already; checked again so the table (its capacity
        // reserved once) can never grow, whatever the scan did.
        if head.headers.len() >= max_fields {
            return Err(RequestError::HeaderTooLarge);
        }
        let name_span = span(pos, pos + colon);
        let value_span = span(pos + colon + 1, pos + len);
        head.headers.push((name_span, trim_span(buf, value_span)));
        pos += len + 2;
    }
    Ok(())
}

/// HTAB, SP, VCHAR or obs-text (RFC 9110 §5.5; no CTL, no DEL).
#[inline]
fn is_value_byte(b: u8) -> bool {
    (b >= 0x20 && b != 0x7f) | (b == b'\t')
}

/// Every byte is a value byte. Written without an early exit so the compiler can check
/// many bytes at once.
fn is_field_value(v: &[u8]) -> bool {
    v.iter().fold(true, |ok, &b| ok & is_value_byte(b))
}

/// The first byte of `v` (the rest of a head from a value's start) that a field value
/// cannot hold: the line's CR, or an invalid byte before it; `None` without a CR. A word at
/// a time over a short value; a long one is searched for its CR and then checked whole,
/// both with vector code.
fn value_end(v: &[u8]) -> Option<usize> {
    let maybe = |w| swar::has_less(w, b' ') || swar::has_byte(w, 0x7f);
    match swar::find_short(v, maybe, |b| !is_value_byte(b)) {
        Ok(i) => Some(i),
        Err(n) => {
            let tail = v.get(n..)?;
            let cr = memchr::memchr(b'\r', tail)?;
            let line = tail.get(..cr)?;
            let end = if is_field_value(line) {
                cr
            } else {
                line.iter().position(|&b| !is_value_byte(b)).unwrap_or(cr)
            };
            Some(n + end)
        }
    }
}

/// The span of `part`, a sub-slice of `buf` (as httparse returns them; responses).
pub(super) fn sub_span(buf: &[u8], part: &[u8]) -> Option<Span> {
    let start = (part.as_ptr() as usize).checked_sub(buf.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= buf.len()).then(|| span(start, end))
}

/// Narrow `s` to exclude optional whitespace (SP / HTAB) at both ends.
pub(super) fn trim_span(buf: &[u8], s: Span) -> Span {
    let ows = |b: &&u8| matches!(**b, b' ' | b'\t');
    let v = s.get(buf);
    let lead = v.iter().take_while(ows).count();
    let trail = v.iter().skip(lead).rev().take_while(ows).count();
    // Both counts are at most `s.len()`, which fits in u32.
    Span {
        start: s.start + lead as u32,
        end: s.end - trail as u32,
    }
}
