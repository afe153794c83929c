//! What the request's header fields mean for the codec: framing (RFC 9112 §6.3; RELIABILITY
//! P01–P06, P22), Host (P18, P19), Connection, Upgrade and Expect (P24).
//!
//! Precedence when several problems coexist, so the status does not depend on field order:
//! framing 400s, then Host 400s, then 501 (unsupported coding), then 417.

use super::target::{RequestLine, is_https};
use super::{Framing, RequestError, RequestHead, Span, TargetForm, Version};
use crate::http1::fields::{TransferCoding, content_length, has_token, transfer_coding};
use crate::http1::host::{Authority, normalize_host, parse_authority};

const fn bad(reason: &'static str) -> RequestError {
    RequestError::BadRequest(reason)
}

/// Set `framing`, `host`, `close`, `upgrade` and `expect_continue` from `head.headers`.
pub(super) fn interpret(
    buf: &[u8],
    line: &RequestLine,
    head: &mut RequestHead,
) -> Result<(), RequestError> {
    let http11 = line.version == Version::Http11;
    let mut length: Option<u64> = None;
    let mut te: Option<Span> = None;
    let mut te_fields = 0usize;
    let mut host: Option<Span> = None;
    let mut host_fields = 0usize;
    let mut keep_alive = false;
    let mut expect_failed = false;
    for &(name, value) in &head.headers {
        let name = name.get(buf);
        let v = value.get(buf);
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => {
                host_fields += 1;
                host = Some(value);
            }
            6 if name.eq_ignore_ascii_case(b"expect") && http11 => {
                if v.eq_ignore_ascii_case(b"100-continue") {
                    head.expect_continue = true;
                } else {
                    expect_failed = true;
                }
            }
            7 if name.eq_ignore_ascii_case(b"upgrade") => head.upgrade = true,
            10 if name.eq_ignore_ascii_case(b"connection") => {
                head.close |= has_token(v, b"close");
                keep_alive |= has_token(v, b"keep-alive");
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                let n = content_length(v).map_err(|()| bad("invalid Content-Length"))?;
                if length.is_some_and(|prev| prev != n) {
                    return Err(bad("conflicting Content-Length fields"));
                }
                length = Some(n);
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                te_fields += 1;
                te = Some(value);
            }
            _ => {}
        }
    }

    // Framing. A request is never close-delimited: no CL and no TE means no body.
    let mut unsupported_coding = false;
    head.framing = match (te, length) {
        (None, None) => Framing::None,
        (None, Some(n)) => Framing::Length(n),
        (Some(_), Some(_)) => return Err(bad("both Content-Length and Transfer-Encoding")),
        (Some(_), None) if !http11 => return Err(bad("Transfer-Encoding in an HTTP/1.0 request")),
        (Some(_), None) if te_fields > 1 => return Err(bad("multiple Transfer-Encoding fields")),
        (Some(te), None) => match transfer_coding(te.get(buf)) {
            TransferCoding::Chunked => Framing::Chunked,
            TransferCoding::Malformed => return Err(bad("invalid Transfer-Encoding")),
            TransferCoding::Unsupported => {
                unsupported_coding = true;
                Framing::None
            }
        },
    };

    // Host: exactly one on HTTP/1.1, valid, and equal to an absolute-form authority.
    if host_fields > 1 {
        return Err(bad("multiple Host fields"));
    }
    if http11 && host.is_none() {
        return Err(bad("missing Host"));
    }
    let mut authority_host = None;
    if let Some(value) = host {
        let sent = parse_authority(value.get(buf)).map_err(|()| bad("invalid Host"))?;
        authority_host = Some(prefix(value, sent.host));
        if let TargetForm::Absolute { authority } = line.form {
            let https = is_https(line.target.get(buf));
            let in_target =
                parse_authority(authority.get(buf)).map_err(|()| bad("invalid authority"))?;
            if !same_authority(&in_target, &sent, https) {
                return Err(bad("Host differs from the request-target authority"));
            }
            authority_host = Some(prefix(authority, in_target.host));
        }
    } else if let TargetForm::Absolute { authority } = line.form {
        // HTTP/1.0 without Host: the target's authority (checked with the request line).
        let in_target =
            parse_authority(authority.get(buf)).map_err(|()| bad("invalid authority"))?;
        authority_host = Some(prefix(authority, in_target.host));
    }
    head.host = host;
    head.authority_host = authority_host;

    if unsupported_coding {
        return Err(RequestError::NotImplemented);
    }
    if expect_failed {
        return Err(RequestError::ExpectationFailed);
    }
    if !http11 && !keep_alive {
        head.close = true;
    }
    Ok(())
}

/// The first `part.len()` bytes of `whole`: an authority's host, which starts it.
fn prefix(whole: Span, part: &[u8]) -> Span {
    Span {
        start: whole.start,
        end: whole.start + (part.len() as u32).min(whole.end - whole.start),
    }
}

/// Equal after lower-casing, dropping a trailing dot and filling in the scheme's default port.
fn same_authority(a: &Authority<'_>, b: &Authority<'_>, https: bool) -> bool {
    let default_port = if https { 443 } else { 80 };
    if a.port.unwrap_or(default_port) != b.port.unwrap_or(default_port) {
        return false;
    }
    let (mut a_buf, mut b_buf) = ([0u8; 256], [0u8; 256]);
    match (
        normalize_host(a.host, &mut a_buf),
        normalize_host(b.host, &mut b_buf),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
