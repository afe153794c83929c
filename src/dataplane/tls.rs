//! TLS with rustls (issue 6): the certificates of a listener chosen by SNI (`certs`), the
//! stream the connection code reads and writes through (`stream`: server side; `connect`: the
//! client side's handshake, for `https://` upstreams), and the verified client certificate as
//! API Gateway shows it (`client_cert`).
//!
//! rustls with the *ring* provider, TLS 1.2 and 1.3 (rustls has no TLS 1.0 or 1.1: API
//! Gateway's `TLS_1_0` policy is served as TLS 1.2 minimum), ALPN `http/1.1` only (a client
//! that offers ALPN without it is refused with `no_application_protocol`, as RFC 7301 asks;
//! one that offers no ALPN is served HTTP/1.1).
//!
//! How the connection layer uses it:
//! - `TlsStream::accept(tcp, &certs, Instant::now() + header_deadline)` right after accept;
//!   on `Err` the socket is already closed (count the error, nothing to answer).
//! - The stream is `AsyncReadRent + AsyncWriteRent + CancelableAsyncReadRent`, so the
//!   connection loop, `ReadBuf` and the proxy are generic over it. Writes return once the
//!   records are on the socket; `shutdown` sends `close_notify` first.
//! - Parking: after the idle read is cancelled and awaited, `park()` releases the ciphertext
//!   buffers, and `readable(false)` replaces `TcpStream::readable` (it is ready at once when
//!   rustls still holds plaintext, so parked bytes are never stranded).
//! - 421 Misdirected Request: `certs.names_of(host) != Some(stream.entry())`.
//! - Upstreams: `ClientTls::connect(tcp, ClientConnection::new(config, name))` after the
//!   connect, bounded by the integration deadline; then the same reads and writes (the
//!   proxy sees it through `UpstreamStream`).
//!
//! **Architecture Invariant:** no `unsafe` except `buf.rs` (copies into monoio's raw buffers);
//! no panic on any bytes from the network (malformed ClientHello, records, certificates).

mod buf;
pub mod client_cert;
mod connect;
mod der;
mod handshake;
pub mod stream;

pub use crate::config::certs::{
    ALPN_HTTP1, CertError, CertErrorKind, CertField, CertSet, DomainTls, SecurityPolicy, UnknownSni,
};
pub use client_cert::ClientCertInfo;
pub use connect::ClientTls;
pub use handshake::HandshakeError;
pub use stream::TlsStream;

#[cfg(test)]
mod tests;
