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

pub use body::{BodyError, ChunkedDecoder, Decoded};
pub use encode::{write_chunk_header, write_decimal, LAST_CHUNK};
pub use head::{
    parse_request, Framing, Limits, RequestError, RequestHead, Span, Status, TargetForm, Version,
};
pub use host::{normalize_host, parse_authority, Authority};
pub use response::{parse_response, ResponseError, ResponseFraming, ResponseHead};

/// ASCII case-insensitive comparison of a header name.
#[inline]
pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}
