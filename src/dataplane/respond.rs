//! The one place that turns an outcome into response bytes: pre-rendered gateway responses
//! (from the snapshot), MOCK responses, and protocol-level rejects. Per request it only adds
//! the request-id headers, `Date`, `Content-Length` and `Connection`.

use std::sync::LazyLock;

use memchr::memmem;

use crate::config::{Api, ErrorKind, GatewayResponses, Protocol, Rendered, Snapshot};
use crate::http1;

/// Per-request facts every response needs.
#[derive(Clone, Copy)]
pub struct Meta {
    pub request_id: [u8; 36],
    pub extended_id: [u8; 16],
    /// `None` before an API is known: REST-style headers.
    pub protocol: Option<Protocol>,
    /// The request was HEAD: send no body.
    pub head_request: bool,
    /// Close the connection after this response.
    pub close: bool,
    /// `Retry-After` seconds on a throttled or quota-exceeded response.
    pub retry_after: Option<u64>,
    /// A `Cache-Control: max-age=0` was ignored (not authorized) under
    /// `SUCCEED_WITH_RESPONSE_HEADER`: the response says so in a `Warning` header.
    pub cache_warning: bool,
    /// HTTP APIs: a JWT authorizer refused the token; the response carries API Gateway's
    /// `www-authenticate` challenge (SPEC-NOTES §1.3 "JWT failure").
    pub bearer: Option<crate::dataplane::auth::jwt::JwtError>,
    /// When the request started (one clock read for the whole request path).
    pub now: crate::dataplane::clock::Now,
    /// What the responders noted for the metrics and the access log.
    pub done: crate::dataplane::metrics::Completion,
    /// The request's `X-Amzn-Trace-Id` (`trace.rs`), made when first needed (`Meta::trace`):
    /// a request answered without an upstream or a function (a cache hit, a refusal) never
    /// pays for it.
    pub trace: Option<crate::dataplane::trace::TraceId>,
}

impl Meta {
    /// The request's trace id: the client's continued or a new one, made on first use.
    pub fn trace(
        &mut self,
        ids: &crate::dataplane::clock::IdGen,
        data: &[u8],
        head: &crate::http1::RequestHead,
    ) -> crate::dataplane::trace::TraceId {
        let unix_secs = self.now.unix_secs;
        *self.trace.get_or_insert_with(|| {
            crate::dataplane::trace::TraceId::for_request(ids, unix_secs, data, &head.headers)
        })
    }
}

/// The header `SUCCEED_WITH_RESPONSE_HEADER` adds. API Gateway's exact header is not on
/// record (SPEC-NOTES §6 marks it unverified); this is RFC 7234's `Warning` with the
/// miscellaneous code 199.
pub const CACHE_WARNING: &[u8] =
    b"Warning: 199 tollgate \"Cache-Control: max-age=0 ignored: not authorized to invalidate the cache\"\r\n";

/// Append the request-id headers API Gateway sends: REST `x-amzn-RequestId` +
/// `x-amz-apigw-id`; HTTP APIs `apigw-requestid`. (And the cache `Warning` when set.)
pub fn id_headers(wb: &mut Vec<u8>, meta: &Meta) {
    if meta.cache_warning {
        wb.extend_from_slice(CACHE_WARNING);
    }
    if let Some(e) = meta.bearer {
        // `Bearer scope="" error="invalid_token" error_description="..."` as recorded
        // (DG http-api-troubleshooting-jwt); the route's scopes are not listed.
        wb.extend_from_slice(b"www-authenticate: Bearer scope=\"\" error=\"");
        wb.extend_from_slice(e.bearer_error().as_bytes());
        wb.extend_from_slice(b"\" error_description=\"");
        wb.extend_from_slice(e.description().as_bytes());
        wb.extend_from_slice(b"\"\r\n");
    }
    match meta.protocol {
        Some(Protocol::Http) => {
            wb.extend_from_slice(b"apigw-requestid: ");
            wb.extend_from_slice(&meta.extended_id);
            wb.extend_from_slice(b"\r\n");
        }
        Some(Protocol::Rest) | None => {
            wb.extend_from_slice(b"x-amzn-RequestId: ");
            wb.extend_from_slice(&meta.request_id);
            wb.extend_from_slice(b"\r\nx-amz-apigw-id: ");
            wb.extend_from_slice(&meta.extended_id);
            wb.extend_from_slice(b"\r\n");
        }
    }
}

/// The status and body length of the complete response in `wb` (one written by this
/// module or a stored cache entry: `HTTP/1.1 NNN ...`, head, blank line, body), plus
/// `extra` body bytes written separately.
pub fn written(wb: &[u8], extra: usize) -> (u16, u64) {
    // Built once: `memmem::find` would build a searcher per call.
    static HEAD_END: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(b"\r\n\r\n"));
    let body = HEAD_END.find(wb).map_or(0, |end| wb.len() - end - 4);
    (http1::status_of(wb), (body + extra) as u64)
}

/// `Date`, optional `Connection: close`, blank line.
pub fn finish_head(wb: &mut Vec<u8>, date: &[u8; 29], close: bool) {
    wb.extend_from_slice(b"Date: ");
    wb.extend_from_slice(date);
    wb.extend_from_slice(b"\r\n");
    if close {
        wb.extend_from_slice(b"Connection: close\r\n");
    }
    wb.extend_from_slice(b"\r\n");
}

/// A complete pre-rendered response (gateway response or MOCK).
pub fn rendered(wb: &mut Vec<u8>, r: &Rendered, meta: &Meta, date: &[u8; 29]) {
    wb.extend_from_slice(&r.head);
    id_headers(wb, meta);
    if let Some(secs) = meta.retry_after {
        wb.extend_from_slice(b"Retry-After: ");
        http1::write_decimal(wb, secs);
        wb.extend_from_slice(b"\r\n");
    }
    if !matches!(r.status, 204 | 304) {
        wb.extend_from_slice(b"Content-Length: ");
        http1::write_decimal(wb, r.body.len() as u64);
        wb.extend_from_slice(b"\r\n");
    }
    finish_head(wb, date, meta.close);
    if !meta.head_request && !matches!(r.status, 204 | 304) {
        wb.extend_from_slice(&r.body);
    }
}

/// The gateway response for `kind` of `api` (or the edge defaults before an API is known).
pub fn gateway_error(
    wb: &mut Vec<u8>,
    snapshot: &Snapshot,
    api: Option<&Api>,
    kind: ErrorKind,
    meta: &Meta,
    date: &[u8; 29],
) {
    let responses: &GatewayResponses = api.map_or(&snapshot.edge_responses, |a| &a.responses);
    rendered(wb, responses.get(kind), meta, date);
}

/// A protocol-level reject (malformed request, limits, timeouts): JSON body, always closes.
pub fn reject(wb: &mut Vec<u8>, status: u16, meta: &Meta, date: &[u8; 29]) {
    let reason = http1::reason_phrase(status);
    wb.extend_from_slice(b"HTTP/1.1 ");
    http1::write_decimal(wb, status as u64);
    wb.push(b' ');
    wb.extend_from_slice(reason.as_bytes());
    wb.extend_from_slice(b"\r\ncontent-type: application/json\r\n");
    id_headers(wb, meta);
    let body_len = br#"{"message":""}"#.len() + reason.len();
    wb.extend_from_slice(b"Content-Length: ");
    http1::write_decimal(wb, body_len as u64);
    wb.extend_from_slice(b"\r\n");
    finish_head(wb, date, true);
    if !meta.head_request {
        wb.extend_from_slice(br#"{"message":""#);
        wb.extend_from_slice(reason.as_bytes());
        wb.extend_from_slice(br#""}"#);
    }
}
