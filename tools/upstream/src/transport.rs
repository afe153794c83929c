//! A connection's byte stream: the socket itself, or the mock's TLS over it. One enum, so the
//! HTTP modes in `conn.rs` are written once; the plain path keeps monoio's owned-buffer IO
//! (no copy, `fixed`'s zero-allocation invariant holds).

use std::io;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use crate::tls::TlsStream;

pub enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Transport {
    /// The socket under it all (for `shutdown` and `SO_LINGER`).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(tcp) => tcp,
            Transport::Tls(tls) => tls.tcp(),
        }
    }

    /// Write all of `b` and hand the buffer back.
    pub async fn write_all<B: IoBuf + AsRef<[u8]> + 'static>(
        &mut self,
        b: B,
    ) -> (io::Result<()>, B) {
        match self {
            Transport::Plain(tcp) => {
                let (res, b) = tcp.write_all(b).await;
                (res.map(drop), b)
            }
            Transport::Tls(tls) => (tls.write(b.as_ref()).await, b),
        }
    }

    /// One read into `buf[len..end]` (`len` is `buf.len()`, `end` at most its capacity);
    /// the bytes read are appended to `buf`. `Ok(0)` is EOF.
    pub async fn read_into(&mut self, buf: &mut Vec<u8>, end: usize) -> io::Result<usize> {
        let len = buf.len();
        debug_assert!(len <= end && end <= buf.capacity());
        match self {
            Transport::Plain(tcp) => {
                let (res, slice) = tcp.read(std::mem::take(buf).slice_mut(len..end)).await;
                *buf = slice.into_inner();
                res
            }
            // rustls copies plaintext out of its own buffer into an initialized slice.
            Transport::Tls(tls) => {
                buf.resize(end, 0);
                let res = tls.read(&mut buf[len..end]).await;
                buf.truncate(len + *res.as_ref().unwrap_or(&0));
                res
            }
        }
    }

    /// TLS: send close_notify (before the caller's FIN). Plain: nothing.
    pub async fn close_notify(&mut self) {
        if let Transport::Tls(tls) = self {
            tls.close_notify().await;
        }
    }
}
