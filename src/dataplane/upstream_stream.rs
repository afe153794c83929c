//! The upstream side of a connection: plain TCP, or TLS for `https://` integrations. An enum
//! rather than a generic, so one per-core pool holds both and the proxy code stays one
//! instantiation; a plain upstream costs one branch per IO call and nothing else (no box, no
//! allocation, no indirection). The TLS stream is boxed once per connection (rustls' state is
//! over a kilobyte) so a pooled plain connection stays small.

use std::io;

use monoio::BufResult;
use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;

use super::tls::ClientTls;

pub enum UpstreamStream {
    Plain(TcpStream),
    Tls(Box<ClientTls>),
}

impl UpstreamStream {
    /// Completes when a read would make progress (bytes, EOF, or for TLS plaintext rustls
    /// already holds). Holds no buffer.
    pub async fn readable(&self) -> io::Result<()> {
        match self {
            UpstreamStream::Plain(s) => s.readable(false).await,
            UpstreamStream::Tls(s) => s.readable(false).await.map(|_| ()),
        }
    }

    /// Bytes (or the end) already received past what was read: for TLS, what rustls or our
    /// ciphertext buffer holds. A plain socket's kernel buffer is not looked at.
    pub fn has_buffered(&self) -> bool {
        match self {
            UpstreamStream::Plain(_) => false,
            UpstreamStream::Tls(s) => s.has_buffered(),
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, UpstreamStream::Tls(_))
    }
}

impl AsyncReadRent for UpstreamStream {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            UpstreamStream::Plain(s) => s.read(buf).await,
            UpstreamStream::Tls(s) => s.read(buf).await,
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            UpstreamStream::Plain(s) => s.readv(buf).await,
            UpstreamStream::Tls(s) => s.readv(buf).await,
        }
    }
}

impl AsyncWriteRent for UpstreamStream {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            UpstreamStream::Plain(s) => s.write(buf).await,
            UpstreamStream::Tls(s) => s.write(buf).await,
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            UpstreamStream::Plain(s) => s.writev(buf).await,
            UpstreamStream::Tls(s) => s.writev(buf).await,
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match self {
            UpstreamStream::Plain(s) => s.flush().await,
            UpstreamStream::Tls(s) => s.flush().await,
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            UpstreamStream::Plain(s) => s.shutdown().await,
            UpstreamStream::Tls(s) => s.shutdown().await,
        }
    }
}
