//! Upstream response head parsing with strict checks (RELIABILITY U06, U08, U10).
//!
//! Same passes as requests: `scan` (CRLF-only lines, no obs-fold, head size and field count),
//! then httparse with its response leniencies off (status line, names, values), then framing.
//! Accepted leniencies, as httparse has them: a missing reason phrase (`HTTP/1.1 200\r\n`)
//! and empty lines before the status line. Framing fields are validated even when the status
//! or a HEAD request means no body follows: a broken `Content-Length` is a broken upstream.
//! Transfer-Encoding on an HTTP/1.0 response is faulty framing (RFC 9112 §6.1) → error.

#[cfg(test)]
mod tests;

use std::mem::MaybeUninit;

use super::fields::{TransferCoding, content_length, has_token, transfer_coding};
use super::head::{Limits, Span, Status, Version, sub_span, trim_span};
use super::scan::{Mode, Scan, ScanError, ScanLimits, Step};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body: 1xx, 204, 304, or a response to HEAD.
    None,
    Length(u64),
    Chunked,
    /// Read until the upstream closes.
    Close,
}

/// Why an upstream response head was rejected: every variant means 502 and do not pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseError {
    Malformed(&'static str),
    TooLarge,
}

#[derive(Debug)]
pub struct ResponseHead {
    pub version: Version,
    pub status: u16,
    pub reason: Span,
    /// Header fields in order (name, OWS-trimmed value).
    pub headers: Vec<(Span, Span)>,
    pub head_len: usize,
    pub framing: ResponseFraming,
    /// The upstream asked to close (`Connection: close`, or HTTP/1.0 without keep-alive).
    pub close: bool,
    /// Where the scan of a `Partial` head stopped (see `RequestHead`'s field of that name).
    resume: Scan,
}

impl ResponseHead {
    pub fn with_limits(limits: &Limits) -> ResponseHead {
        ResponseHead {
            version: Version::Http11,
            status: 0,
            reason: Span::default(),
            headers: Vec::with_capacity(limits.max_headers.min(256)),
            head_len: 0,
            framing: ResponseFraming::None,
            close: false,
            resume: Scan::default(),
        }
    }
}

/// Parse a response head. `request_was_head` makes the framing `None`. Strict: status must be
/// three digits 100–599; duplicate differing CL, CL+TE, any TE other than a single `chunked`,
/// CL syntax other than 1*DIGIT, obs-fold, bare LF, NUL/CR in values → error.
pub fn parse_response(
    buf: &[u8],
    limits: &Limits,
    request_was_head: bool,
    head: &mut ResponseHead,
) -> Result<Status, ResponseError> {
    head.version = Version::Http11;
    head.status = 0;
    head.reason = Span::default();
    head.headers.clear();
    head.head_len = 0;
    head.framing = ResponseFraming::None;
    head.close = false;
    let lim = ScanLimits {
        mode: Mode::Response,
        max_head: limits.max_head_bytes.min(u32::MAX as usize),
        max_fields: limits.max_headers.min(MAX_FIELDS),
        max_line: usize::MAX,
        max_target: 0,
    };
    let mut scan = Scan::resume(&mut head.resume, buf.len());
    let resumed = scan.pos() > 0;
    let Some(mut head_len) = scan_head(&mut scan, buf, &lim)? else {
        head.resume = scan;
        return Ok(Status::Partial);
    };
    if resumed {
        // Check the bytes an earlier call scanned again rather than trust they are the same.
        scan = Scan::default();
        head_len =
            scan_head(&mut scan, buf, &lim)?.ok_or(malformed("head changed between reads"))?;
    }
    let buf = buf.get(..head_len).unwrap_or_default();
    head.head_len = head_len;

    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
    let slots = slots.get_mut(..lim.max_fields).unwrap_or_default();
    let mut resp = httparse::Response::new(&mut []);
    match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, buf, slots)
    {
        Ok(httparse::Status::Complete(len)) if len == buf.len() => {}
        Ok(_) => return Err(malformed("malformed head")),
        Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooLarge),
        Err(httparse::Error::Version) => return Err(malformed("invalid HTTP version")),
        Err(httparse::Error::Status) => return Err(malformed("invalid status line")),
        Err(_) => return Err(malformed("invalid field")),
    }
    head.version = match resp.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(malformed("invalid HTTP version")),
    };
    head.status = match resp.code {
        Some(code @ 100..=599) => code,
        _ => return Err(malformed("status code out of range")),
    };
    // `HTTP/1.x NNN` is 12 bytes; an optional SP and the reason follow up to the CR.
    let reason_start = (scan.line.start + 13).min(scan.line.end);
    head.reason = Span {
        start: reason_start as u32,
        end: scan.line.end as u32,
    };
    for h in resp.headers.iter() {
        let (Some(name), Some(value)) = (sub_span(buf, h.name.as_bytes()), sub_span(buf, h.value))
        else {
            return Err(malformed("malformed head"));
        };
        head.headers.push((name, trim_span(buf, value)));
    }
    interpret(buf, request_was_head, head)?;
    Ok(Status::Complete)
}

/// httparse never sees more slots than this, whatever `Limits::max_headers` says.
const MAX_FIELDS: usize = 256;

const fn malformed(reason: &'static str) -> ResponseError {
    ResponseError::Malformed(reason)
}

fn scan_head(
    scan: &mut Scan,
    buf: &[u8],
    lim: &ScanLimits,
) -> Result<Option<usize>, ResponseError> {
    loop {
        match scan.run(buf, lim) {
            Ok(Step::Partial) => return Ok(None),
            Ok(Step::StartLine) => {}
            Ok(Step::Complete(len)) => return Ok(Some(len)),
            Err(ScanError::Bad(reason)) => return Err(ResponseError::Malformed(reason)),
            Err(ScanError::TooLarge | ScanError::UriTooLong) => {
                return Err(ResponseError::TooLarge);
            }
        }
    }
}

/// Framing (RFC 9112 §6.3) and `close` from the fields.
fn interpret(
    buf: &[u8],
    request_was_head: bool,
    head: &mut ResponseHead,
) -> Result<(), ResponseError> {
    let mut length: Option<u64> = None;
    let mut te: Option<Span> = None;
    let mut te_fields = 0usize;
    let mut keep_alive = false;
    for &(name, value) in &head.headers {
        let name = name.get(buf);
        let v = value.get(buf);
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = content_length(v).map_err(|()| malformed("invalid Content-Length"))?;
            if length.is_some_and(|prev| prev != n) {
                return Err(malformed("conflicting Content-Length fields"));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            te_fields += 1;
            te = Some(value);
        } else if name.eq_ignore_ascii_case(b"connection") {
            head.close |= has_token(v, b"close");
            keep_alive |= has_token(v, b"keep-alive");
        }
    }
    let http10 = head.version == Version::Http10;
    let framing = match (te, length) {
        (None, None) => ResponseFraming::Close,
        (None, Some(n)) => ResponseFraming::Length(n),
        (Some(_), Some(_)) => return Err(malformed("both Content-Length and Transfer-Encoding")),
        (Some(_), None) if http10 => return Err(malformed("Transfer-Encoding in HTTP/1.0")),
        (Some(_), None) if te_fields > 1 => {
            return Err(malformed("multiple Transfer-Encoding fields"));
        }
        (Some(te), None) => match transfer_coding(te.get(buf)) {
            TransferCoding::Chunked => ResponseFraming::Chunked,
            TransferCoding::Unsupported | TransferCoding::Malformed => {
                return Err(malformed("Transfer-Encoding other than chunked"));
            }
        },
    };
    let no_body = request_was_head || matches!(head.status, 100..=199 | 204 | 304);
    head.framing = if no_body {
        ResponseFraming::None
    } else {
        framing
    };
    if http10 && !keep_alive {
        head.close = true;
    }
    Ok(())
}
