//! The client side of a connection, plain TCP or TLS, behind one trait: the connection loop,
//! the pipeline and the proxy are generic over it, so each listener's kind is chosen once per
//! connection and the plain path is exactly monoio's `TcpStream` calls.

use std::future::Future;
use std::io;

use monoio::io::{AsyncReadRent, AsyncWriteRent, CancelableAsyncReadRent};
use monoio::net::TcpStream;

use super::tls::{ClientCertInfo, TlsStream};

/// What the data plane needs of a client stream beyond monoio's ownership-passing reads and
/// writes.
pub trait ClientStream: AsyncReadRent + AsyncWriteRent + CancelableAsyncReadRent {
    /// Completes when a read would make progress (bytes or EOF): how a parked connection
    /// waits without lending a buffer.
    fn readable(&self) -> impl Future<Output = io::Result<()>>;

    /// The connection parks: give back memory that only traffic needs.
    fn park(&mut self) {}

    /// For TLS: the listener's certificate entry the handshake chose (by SNI).
    fn tls_entry(&self) -> Option<usize> {
        None
    }

    /// For mutual TLS: the verified client certificate (parsed on each call).
    fn client_cert(&self) -> Option<ClientCertInfo> {
        None
    }
}

impl ClientStream for TcpStream {
    fn readable(&self) -> impl Future<Output = io::Result<()>> {
        TcpStream::readable(self, false)
    }
}

impl ClientStream for TlsStream {
    async fn readable(&self) -> io::Result<()> {
        TlsStream::readable(self, false).await.map(|_| ())
    }

    fn park(&mut self) {
        TlsStream::park(self);
    }

    fn tls_entry(&self) -> Option<usize> {
        Some(self.entry())
    }

    fn client_cert(&self) -> Option<ClientCertInfo> {
        TlsStream::client_cert(self)
    }
}
