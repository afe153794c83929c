//! Rewrites an upstream response head for the client as API Gateway does: `Connection`,
//! `Content-Length`, `Date` and `Server` come back as `x-amzn-Remapped-*` (REST), hop-by-hop
//! fields are dropped, the gateway sets its own `Date`, framing and request-id headers.

use super::respond::{self, Meta};
use crate::http1::{self, ResponseFraming, ResponseHead, Span};

enum Disposition {
    Pass,
    Drop,
    /// Renamed to `x-amzn-Remapped-<canonical>` on REST APIs, dropped on HTTP APIs except
    /// `Server`, which HTTP APIs pass through.
    Remap(&'static [u8]),
}

fn classify(name: &[u8]) -> Disposition {
    const REMAPPED: [&[u8]; 4] = [b"Connection", b"Content-Length", b"Date", b"Server"];
    const HOP_BY_HOP: [&[u8]; 6] = [
        b"keep-alive",
        b"transfer-encoding",
        b"trailer",
        b"upgrade",
        b"proxy-connection",
        b"te",
    ];
    if let Some(canonical) = REMAPPED.iter().find(|r| r.eq_ignore_ascii_case(name)) {
        return Disposition::Remap(canonical);
    }
    if HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name)) {
        return Disposition::Drop;
    }
    Disposition::Pass
}

/// Append the client response head to `wb`. `data` is the upstream buffer `resp` points into.
/// Returns where the per-response part begins: `wb[start..returned]` is the status line and
/// the header fields without the request-id headers, framing, `Date` and `Connection` (what
/// the stage cache stores).
pub fn build(
    wb: &mut Vec<u8>,
    data: &[u8],
    resp: &ResponseHead,
    rest: bool,
    chunk: bool,
    meta: &Meta,
    date: &[u8; 29],
) -> usize {
    wb.extend_from_slice(b"HTTP/1.1 ");
    http1::write_decimal(wb, resp.status as u64);
    wb.push(b' ');
    let reason = resp.reason.get(data);
    if reason.is_empty() {
        wb.extend_from_slice(http1::reason_phrase(resp.status).as_bytes());
    } else {
        wb.extend_from_slice(reason);
    }
    wb.extend_from_slice(b"\r\n");
    let mut has_content_type = false;
    let mut upstream_length: Option<Span> = None;
    for &(name_span, value_span) in &resp.headers {
        let name = name_span.get(data);
        let value = value_span.get(data);
        match classify(name) {
            Disposition::Drop => continue,
            Disposition::Remap(canonical) => {
                if canonical == b"Content-Length" && upstream_length.is_none() {
                    upstream_length = Some(value_span);
                }
                if rest {
                    wb.extend_from_slice(b"x-amzn-Remapped-");
                    wb.extend_from_slice(canonical);
                } else if canonical == b"Server" {
                    wb.extend_from_slice(name);
                } else {
                    continue;
                }
            }
            Disposition::Pass => {
                has_content_type |= name.eq_ignore_ascii_case(b"content-type");
                wb.extend_from_slice(name);
            }
        }
        wb.extend_from_slice(b": ");
        wb.extend_from_slice(value);
        wb.extend_from_slice(b"\r\n");
    }
    // API Gateway always includes a Content-Type on REST integration responses.
    if rest && !has_content_type {
        wb.extend_from_slice(b"Content-Type: application/json\r\n");
    }
    let fields_end = wb.len();
    respond::id_headers(wb, meta);
    match resp.framing {
        // HEAD and 304 carry the length the body would have had.
        ResponseFraming::None => {
            if let Some(len) = upstream_length.filter(|_| resp.status != 204) {
                wb.extend_from_slice(b"Content-Length: ");
                wb.extend_from_slice(len.get(data));
                wb.extend_from_slice(b"\r\n");
            }
        }
        ResponseFraming::Length(n) => {
            wb.extend_from_slice(b"Content-Length: ");
            http1::write_decimal(wb, n);
            wb.extend_from_slice(b"\r\n");
        }
        ResponseFraming::Chunked | ResponseFraming::Close => {
            if chunk {
                wb.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
            }
        }
    }
    respond::finish_head(wb, date, meta.close);
    fields_end
}
