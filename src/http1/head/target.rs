//! The request line once its shape is known (see `scan.rs`): version, request-target form and
//! character set, path and query (RFC 9112 §3, RFC 3986 §3.3–3.4; RELIABILITY P16–P18).

use super::{RequestError, Span, TargetForm, Version};
use crate::http1::host::parse_authority;
use crate::http1::scan::StartLine;

/// A checked request line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RequestLine {
    pub method: Span,
    pub target: Span,
    pub version: Version,
    pub form: TargetForm,
    pub path: Span,
    pub query: Option<Span>,
    /// Where the field lines start: just after the request line's CRLF.
    pub fields: usize,
}

const fn bad(reason: &'static str) -> RequestError {
    RequestError::BadRequest(reason)
}

/// Offsets are below `u32::MAX`: the parser caps the head length there.
pub(super) fn span(start: usize, end: usize) -> Span {
    debug_assert!(start <= end && end <= u32::MAX as usize);
    Span {
        start: start as u32,
        end: end as u32,
    }
}

/// Check a request line whose parts `scan` delimited: method (tchars, done by the scan),
/// target, version (exactly 8 bytes at most, done by the scan).
pub(super) fn check_request_line(
    buf: &[u8],
    line: &StartLine,
) -> Result<RequestLine, RequestError> {
    let version = buf.get(line.version..line.end).unwrap_or_default();
    let version = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        [b'H', b'T', b'T', b'P', b'/', b'2'..=b'9', b'.', b'0'..=b'9'] => {
            return Err(RequestError::VersionNotSupported);
        }
        _ => return Err(bad("invalid HTTP version")),
    };
    let method = span(line.start, line.target.saturating_sub(1));
    let target = span(line.target, line.version.saturating_sub(1));
    let is_options = method.get(buf) == b"OPTIONS";
    let (form, path, query) = parse_target(buf, target, is_options)?;
    Ok(RequestLine {
        method,
        target,
        version,
        form,
        path,
        query,
        fields: line.end + 2,
    })
}

/// Form, path and query of a request-target. Absolute-form must have a path: `http://a` is
/// rejected rather than read as `http://a/`, so `path` always starts with `/` (or is `*`).
fn parse_target(
    buf: &[u8],
    target: Span,
    is_options: bool,
) -> Result<(TargetForm, Span, Option<Span>), RequestError> {
    let t = target.get(buf);
    let start = target.start as usize;
    match t.first() {
        Some(b'/') => {
            let (path, query) = path_and_query(t, start)?;
            Ok((TargetForm::Origin, path, query))
        }
        Some(b'*') if t.len() == 1 && is_options => Ok((TargetForm::Asterisk, target, None)),
        Some(b'*') => Err(bad("asterisk-form is only allowed for OPTIONS")),
        _ => {
            let scheme = if has_prefix_ignore_case(t, b"http://") {
                7
            } else if has_prefix_ignore_case(t, b"https://") {
                8
            } else {
                return Err(bad("unsupported request-target form"));
            };
            let rest = t.get(scheme..).unwrap_or_default();
            let auth_len = rest
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .unwrap_or(rest.len());
            let (authority, rest) = rest.split_at(auth_len);
            if parse_authority(authority).is_err() {
                return Err(bad("invalid authority in request-target"));
            }
            if rest.first() != Some(&b'/') {
                return Err(bad("absolute-form request-target without a path"));
            }
            let auth_start = start + scheme;
            let (path, query) = path_and_query(rest, auth_start + auth_len)?;
            let authority = span(auth_start, auth_start + auth_len);
            Ok((TargetForm::Absolute { authority }, path, query))
        }
    }
}

/// `true` if an absolute-form target uses `https`.
pub(super) fn is_https(target: &[u8]) -> bool {
    has_prefix_ignore_case(target, b"https://")
}

fn has_prefix_ignore_case(t: &[u8], prefix: &[u8]) -> bool {
    t.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Validate the characters of `/path?query` (at `offset` in the buffer) and split it.
fn path_and_query(pq: &[u8], offset: usize) -> Result<(Span, Option<Span>), RequestError> {
    check_chars(pq)?;
    let end = offset + pq.len();
    Ok(match pq.iter().position(|&b| b == b'?') {
        Some(q) => (span(offset, offset + q), Some(span(offset + q + 1, end))),
        None => (span(offset, end), None),
    })
}

/// `pchar / "/" / "?"` with `%` followed by two hex digits. Everything else (`#`, `"`, `{`,
/// `}`, `\`, `|`, `^`, backtick, `<`, `>`, `[`, `]`, SP, CTL, bytes ≥ 0x80) is rejected.
fn check_chars(pq: &[u8]) -> Result<(), RequestError> {
    let mut rest = pq;
    while let Some((&b, after)) = rest.split_first() {
        rest = after;
        if b == b'%' {
            match rest {
                [h, l, after @ ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    rest = after;
                }
                _ => return Err(bad("invalid percent-encoding in request-target")),
            }
        } else if !TARGET_BYTE[usize::from(b)] {
            return Err(bad("invalid character in request-target"));
        }
    }
    Ok(())
}

static TARGET_BYTE: [bool; 256] = target_bytes();

const fn target_bytes() -> [bool; 256] {
    const ALLOWED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789\
                             -._~!$&'()*+,;=:@/?";
    let mut table = [false; 256];
    let mut i = 0;
    while i < ALLOWED.len() {
        table[ALLOWED[i] as usize] = true;
        i += 1;
    }
    table
}
