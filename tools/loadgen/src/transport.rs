//! The byte stream a connection talks over: plain TCP here, TLS in `tls/`.
//!
//! `conn.rs` and `hold.rs` are generic over a `Connector` (how to open a stream) and its
//! `Transport` (the two calls the connection loop makes), so the plain path is exactly the
//! monoio `TcpStream` calls it always was and the TLS path is one more type, chosen once per
//! connection task. Both calls pass buffer ownership like monoio's own: the caller's `Vec` goes
//! in and comes back, so nothing allocates per call.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncWriteRentExt, CancelHandle, CancelableAsyncReadRent};
use monoio::net::TcpStream;

use crate::tls;

/// Opens streams to the target.
pub trait Connector {
    type Stream: Transport;

    /// One connection (and handshake), all of it within `timeout`.
    async fn connect(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<Self::Stream, ConnectError>;
}

/// What the connection loop needs from a stream.
pub trait Transport {
    /// Writes all of `buf`.
    async fn send(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>);

    /// Appends what arrives to `buf`, within its spare capacity (which must not be zero).
    /// `Ok(0)` is the end of the stream; an `ECANCELED` error means `cancel` fired before
    /// anything arrived.
    async fn recv(&mut self, buf: Vec<u8>, cancel: CancelHandle) -> (io::Result<usize>, Vec<u8>);

    /// What the TLS handshake negotiated; `None` for plain TCP.
    fn session(&self) -> Option<tls::Session> {
        None
    }

    /// The stream will stay open and silent (`--hold`): give back what only traffic needs.
    fn park(&mut self) {}
}

/// Plain TCP.
#[derive(Debug, Clone, Copy)]
pub struct Plain;

/// Why a connection could not be opened; its text is the reason the summary prints.
#[derive(Debug)]
pub enum ConnectError {
    Io(io::Error),
    TimedOut,
    Tls(rustls::Error),
    /// The server closed the connection during the TLS handshake.
    ClosedInHandshake,
}

impl Connector for Plain {
    type Stream = TcpStream;

    async fn connect(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<TcpStream, ConnectError> {
        monoio::time::timeout(timeout, tcp(addr))
            .await
            .map_err(|_| ConnectError::TimedOut)?
    }
}

impl Transport for TcpStream {
    async fn send(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        let (res, buf) = self.write_all(buf).await;
        (res.map(|_| ()), buf)
    }

    async fn recv(&mut self, buf: Vec<u8>, cancel: CancelHandle) -> (io::Result<usize>, Vec<u8>) {
        debug_assert!(buf.len() < buf.capacity());
        // Read after the bytes already in `buf`.
        let (filled, capacity) = (buf.len(), buf.capacity());
        let (res, slice) = self
            .cancelable_read(buf.slice_mut(filled..capacity), cancel)
            .await;
        (res, slice.into_inner())
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Io(e) => write!(f, "connect: {e}"),
            ConnectError::TimedOut => f.write_str("connect timed out"),
            ConnectError::Tls(e) => write!(f, "tls: {e}"),
            ConnectError::ClosedInHandshake => {
                f.write_str("tls: the server closed the connection during the handshake")
            }
        }
    }
}

/// A TCP connection with Nagle off (requests are written whole).
pub async fn tcp(addr: SocketAddr) -> Result<TcpStream, ConnectError> {
    let stream = TcpStream::connect(addr).await.map_err(ConnectError::Io)?;
    stream.set_nodelay(true).map_err(ConnectError::Io)?;
    Ok(stream)
}
