//! Sans-io HTTP/1.1 codec: request/response heads on httparse with tollgate's own strict
//! checks (RELIABILITY.md P-cases), body framing (length, chunked, close) and encoding.
//!
//! Architecture Invariant: this layer does no IO, reads no clock, never panics on input and
//! does not allocate per request once its reusable structures are warm.

mod body;
mod encode;
mod fields;
mod head;
mod host;
mod response;
mod scan;
mod status;
mod swar;

pub use body::{BodyError, ChunkedDecoder, Decoded};
pub use encode::{LAST_CHUNK, write_chunk_header, write_decimal};
pub use head::{
    Framing, Limits, RequestError, RequestHead, Span, Status, TargetForm, Version, parse_request,
};
pub use host::{Authority, normalize_host, parse_authority};
pub use response::{ResponseError, ResponseFraming, ResponseHead, parse_response};
pub use status::{reason_phrase, status_of};

/// ASCII case-insensitive comparison of a header name.
#[inline]
pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The limits the codec's tests run with (the gateway's defaults).
#[cfg(test)]
pub(crate) fn test_limits() -> Limits {
    Limits {
        max_headers: 100,
        max_header_line: 8 * 1024,
        max_head_bytes: 64 * 1024,
        max_target: 8 * 1024,
        max_chunk_ext: 16 * 1024,
        max_trailer_bytes: 16 * 1024,
    }
}
