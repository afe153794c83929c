//! Upstream response head parsing with strict checks (RELIABILITY U06, U08, U10).
//! CONTRACT: signatures fixed; bodies to be written.

use super::head::{Limits, Span, Status, Version};

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
    let _ = (buf, limits, request_was_head, head);
    todo!("http1::parse_response")
}
