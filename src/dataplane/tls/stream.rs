//! A rustls connection driven over a monoio `TcpStream` with ownership-passing IO: the server
//! side (`TlsStream<Served>`, the default) for HTTPS listeners, and the client side
//! (`TlsStream<ClientConnection>`, handshake in `connect.rs`) for `https://` upstreams. What
//! follows is the server's lifecycle; reads, writes, cancellation and memory are the same for
//! both sides.
//!
//! Lifecycle: *Hello* (`accept`: ciphertext into a `rustls::server::Acceptor` until it holds a
//! whole ClientHello; SNI → `CertSet` entry → its `ServerConfig`) → *Handshaking* (write what
//! rustls wants written, else read ciphertext and process it) → *Open* (`read`/`write`) →
//! *Closed* once the socket says EOF or the client sent `close_notify` (`read` returns `Ok(0)`
//! after the last plaintext byte). A rustls error in Hello or Handshaking ends `accept` after
//! the alert rustls made is sent; EOF or `close_notify` during the handshake ends it at once
//! (RELIABILITY T01 b: no loop on a closed peer); the whole of it is bounded by the deadline
//! (T01 a/c). Hello and Handshaking, and what only the server side has (`Served`: its
//! `CertSet` entry, SNI, client certificate), live in `handshake.rs`.
//!
//! Reads copy plaintext rustls already decrypted first, then hand rustls the ciphertext kept
//! in `rx`, and read the socket only when both are empty. rustls takes every byte it is given
//! (partial records wait in its own deframer) unless too much decrypted plaintext is waiting;
//! so outside a read, `rx` holds bytes only when a cancelled socket read returned some, or
//! rustls refused them — either way a read can make progress without the socket, which is
//! what `readable` reports. Writes hand plaintext to rustls and write every record it makes
//! before returning.
//!
//! Cancellation: only socket reads are cancelled. A read cancelled after some bytes arrived
//! returns them; they stay in `rx` (no byte is lost) and the read returns what they decrypt to,
//! or `ECANCELED` if that is nothing yet. Dropping a read or write future instead (a timeout)
//! loses the ciphertext it had lent to the kernel: the stream must then be closed.
//!
//! Memory: `rx` (17 KiB, one full record) and `tx` (grows to the largest flight written) are
//! released by `park` and taken again by the next read or write; `park` also makes rustls
//! shrink its deframer buffer back to 4 KiB (it keeps the size of the largest record it held,
//! up to ~18 KiB, until its next read). What rustls keeps for an idle connection is outside
//! our control: that 4 KiB deframer buffer, the record layer keys and session state, and
//! empty plaintext/ciphertext queues. Measured (`tests/tls_idle_memory.rs`, TLS 1.3, ECDSA
//! P-256, after a 16 KiB request): 1.3 KB inline (`size_of::<TlsStream>()`) plus about 6.5 KB
//! of heap parked (socket, rustls state, the config's session-cache entries for the tickets
//! sent), against about 56 KB while active. rustls allocates one `Vec` per record it
//! encrypts.

use std::io::{self, BufRead, Write};
use std::ops::DerefMut;

use monoio::BufResult;
use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, CancelHandle, CancelableAsyncReadRent,
};
use monoio::net::TcpStream;
use rustls::{ConnectionCommon, ProtocolVersion, SupportedCipherSuite};

use super::buf;
pub use super::handshake::Served;

/// Ciphertext read from the socket at once: one full record (16 KiB of plaintext, plus the
/// record header and AEAD overhead, with room to spare).
const RX_BUFFER: usize = 17 * 1024;
/// Ciphertext written at once, to start with; grows to the largest flight written.
const TX_BUFFER: usize = 4 * 1024;

/// A TLS connection over a monoio socket: `C` is rustls' connection of one side, `Served`
/// (server) or `rustls::ClientConnection`.
pub struct TlsStream<C = Served> {
    pub(super) io: Io,
    pub(super) conn: C,
    /// A read can return without the socket: plaintext, its end, or an error is waiting in
    /// rustls.
    pub(super) pending: bool,
}

/// The socket and our ciphertext buffers.
pub(super) struct Io {
    pub(super) tcp: TcpStream,
    /// Ciphertext from the socket; rustls has taken the bytes before `rx_taken`.
    pub(super) rx: Vec<u8>,
    pub(super) rx_taken: usize,
    /// Records rustls produced, on their way to the socket.
    pub(super) tx: Vec<u8>,
    /// The socket said EOF, and rustls has been told.
    pub(super) eof: bool,
}

/// A reader with nothing yet (`park`).
struct WouldBlock;

/// What `take_plaintext` found.
enum Plaintext {
    Copied(usize),
    /// Nothing decrypted is waiting; rustls needs more ciphertext.
    Empty,
    /// `close_notify`, or EOF, after the last plaintext byte.
    Closed,
}

impl<C, D: 'static> TlsStream<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
{
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.conn.protocol_version()
    }

    pub fn negotiated_cipher_suite(&self) -> Option<SupportedCipherSuite> {
        self.conn.negotiated_cipher_suite()
    }

    /// The ALPN protocol agreed on: `http/1.1`, or none if the peer offered (server: or
    /// chose) no ALPN.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// Waits until a read can make progress: `Ok(true)` at once when decrypted plaintext,
    /// buffered ciphertext or the end of the stream is waiting, else `Ok(false)` once the
    /// socket is readable. Holds no buffer (for parking, and for an upstream that answers
    /// before the request body is sent).
    pub async fn readable(&self, relaxed: bool) -> io::Result<bool> {
        if self.pending || self.io.rx_taken < self.io.rx.len() || self.io.eof {
            return Ok(true);
        }
        self.io.tcp.readable(relaxed).await.map(|()| false)
    }

    /// A read would return without the socket: decrypted plaintext, buffered ciphertext, or
    /// the end of the stream is waiting (an upstream connection with stray bytes after its
    /// response is not pooled).
    pub fn has_buffered(&self) -> bool {
        self.pending || self.io.rx_taken < self.io.rx.len()
    }

    /// Releases our ciphertext buffers while they are empty (an idle connection); the next
    /// read or write takes them again. What rustls itself keeps: see the module docs.
    pub fn park(&mut self) {
        if self.io.rx_taken == self.io.rx.len() {
            self.io.rx = Vec::new();
            self.io.rx_taken = 0;
        }
        if self.io.tx.is_empty() {
            self.io.tx = Vec::new();
        }
        // rustls' deframer keeps the capacity of the largest record it last held (up to
        // ~18 KiB) until its next read, which shrinks it to 4 KiB when it holds no partial
        // record. A read that would block does exactly that and nothing else (only a
        // 0-byte read means EOF to rustls).
        let _ = self.conn.read_tls(&mut WouldBlock);
    }

    /// Bytes of buffer capacity we hold (not counting rustls').
    pub fn buffered_capacity(&self) -> usize {
        self.io.rx.capacity() + self.io.tx.capacity()
    }

    /// Moves decrypted plaintext into `buf` (from its start, as monoio reads do).
    fn take_plaintext<T: IoBufMut>(&mut self, buf: &mut T) -> io::Result<Plaintext> {
        let total = buf.bytes_total();
        let mut reader = self.conn.reader();
        let mut copied = 0;
        let mut closed = false;
        let mut result = Ok(());
        while copied < total {
            let n = match reader.fill_buf() {
                // `close_notify`, or EOF without it, after the last plaintext byte.
                Ok([]) => {
                    closed = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    closed = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
                Ok(chunk) => buf::copy_at(buf, copied, chunk),
            };
            reader.consume(n);
            copied += n;
        }
        // Whether the next read can return without the socket.
        self.pending = closed
            || result.is_err()
            || (copied == total
                && !matches!(reader.fill_buf(), Err(e) if e.kind() == io::ErrorKind::WouldBlock));
        if copied > 0 {
            buf::set_filled(buf, copied);
            return Ok(Plaintext::Copied(copied));
        }
        result?;
        Ok(if closed {
            Plaintext::Closed
        } else {
            Plaintext::Empty
        })
    }

    /// Hands rustls the ciphertext in `rx` and processes it. `Ok(false)`: it took nothing.
    pub(super) fn feed(&mut self) -> Result<bool, rustls::Error> {
        let before = self.io.rx_taken;
        while self.io.rx_taken < self.io.rx.len() {
            let mut rest = &self.io.rx[self.io.rx_taken..];
            match self.conn.read_tls(&mut rest) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.io.rx_taken += n,
            }
            self.conn.process_new_packets()?;
        }
        let progress = self.io.rx_taken > before;
        if self.io.rx_taken == self.io.rx.len() {
            self.io.rx.clear();
            self.io.rx_taken = 0;
        }
        Ok(progress)
    }

    /// Writes every record rustls has ready.
    pub(super) async fn write_records(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.io.tx.clear();
            self.conn.write_tls(&mut self.io.tx)?;
            self.io.write_tx().await?;
        }
        Ok(())
    }

    /// The socket's EOF: rustls is told, and ends the plaintext after what it has.
    fn end_of_stream(&mut self) -> Result<(), rustls::Error> {
        self.io.eof = true;
        let _ = self.conn.read_tls(&mut io::empty());
        self.conn.process_new_packets().map(|_| ())
    }

    /// Sends the alert rustls queued (as far as the peer still listens) and passes `e` on.
    async fn fail(&mut self, e: rustls::Error) -> io::Error {
        let _ = self.write_records().await;
        io::Error::new(io::ErrorKind::InvalidData, e)
    }

    async fn read_inner<T: IoBufMut>(
        &mut self,
        mut buf: T,
        cancel: Option<CancelHandle>,
    ) -> BufResult<usize, T> {
        if buf.bytes_total() == 0 {
            return (Ok(0), buf);
        }
        loop {
            match self.take_plaintext(&mut buf) {
                Ok(Plaintext::Copied(n)) => return (Ok(n), buf),
                Ok(Plaintext::Closed) => return (Ok(0), buf),
                Ok(Plaintext::Empty) => {}
                Err(e) => return (Err(e), buf),
            }
            if self.io.rx_taken < self.io.rx.len() {
                match self.feed() {
                    Ok(true) => continue,
                    // No plaintext waits, so rustls refusing input is a broken stream.
                    Ok(false) => {
                        let e = io::Error::new(io::ErrorKind::InvalidData, "tls: stalled");
                        return (Err(e), buf);
                    }
                    Err(e) => return (Err(self.fail(e).await), buf),
                }
            }
            // A key update or an alert to answer.
            if let Err(e) = self.write_records().await {
                return (Err(e), buf);
            }
            if self.io.eof {
                return (Ok(0), buf);
            }
            match self.io.fill(cancel.clone()).await {
                Ok(0) => {
                    if let Err(e) = self.end_of_stream() {
                        return (Err(self.fail(e).await), buf);
                    }
                }
                Ok(_) => {}
                Err(e) => return (Err(e), buf),
            }
        }
    }

    /// Encrypts all of `plaintext` and writes the records.
    async fn write_plaintext(&mut self, plaintext: &[u8]) -> io::Result<usize> {
        let mut sent = 0;
        while sent < plaintext.len() {
            // rustls encrypts what fits its outgoing limit now; the rest after a flush.
            let n = self.conn.writer().write(&plaintext[sent..])?;
            if n == 0 && !self.conn.wants_write() {
                return Err(io::ErrorKind::WriteZero.into());
            }
            sent += n;
            self.write_records().await?;
        }
        Ok(sent)
    }
}

impl Io {
    pub(super) fn new(tcp: TcpStream) -> Io {
        Io {
            tcp,
            rx: Vec::with_capacity(RX_BUFFER),
            rx_taken: 0,
            tx: Vec::with_capacity(TX_BUFFER),
            eof: false,
        }
    }

    /// Reads ciphertext from the socket after what `rx` still holds. `Ok(0)` is EOF.
    pub(super) async fn fill(&mut self, cancel: Option<CancelHandle>) -> io::Result<usize> {
        if self.rx_taken > 0 {
            self.rx.copy_within(self.rx_taken.., 0);
            self.rx.truncate(self.rx.len() - self.rx_taken);
            self.rx_taken = 0;
        }
        if self.rx.len() == self.rx.capacity() {
            // After `park` (no capacity); else a safety net: reads feed rustls everything
            // before they fill again, so `rx` is empty here.
            self.rx.reserve(RX_BUFFER);
        }
        let buf = std::mem::take(&mut self.rx);
        let (filled, capacity) = (buf.len(), buf.capacity());
        let into = buf.slice_mut(filled..capacity);
        let (res, into) = match cancel {
            Some(cancel) => self.tcp.cancelable_read(into, cancel).await,
            None => self.tcp.read(into).await,
        };
        self.rx = into.into_inner();
        res
    }

    /// Writes all of `tx`.
    pub(super) async fn write_tx(&mut self) -> io::Result<()> {
        let (res, buf) = self.tcp.write_all(std::mem::take(&mut self.tx)).await;
        self.tx = buf;
        self.tx.clear();
        res.map(|_| ())
    }
}

impl io::Read for WouldBlock {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl<C, D: 'static> AsyncReadRent for TlsStream<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
{
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        self.read_inner(buf, None).await
    }

    async fn readv<T: IoVecBufMut>(&mut self, mut buf: T) -> BufResult<usize, T> {
        let Some(first) = buf::first_mut(&mut buf) else {
            return (Ok(0), buf);
        };
        let (res, _) = self.read_inner(first, None).await;
        if let Ok(n) = res {
            buf::set_filled_vec(&mut buf, n);
        }
        (res, buf)
    }
}

impl<C, D: 'static> CancelableAsyncReadRent for TlsStream<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
{
    async fn cancelable_read<T: IoBufMut>(
        &mut self,
        buf: T,
        c: CancelHandle,
    ) -> BufResult<usize, T> {
        self.read_inner(buf, Some(c)).await
    }

    async fn cancelable_readv<T: IoVecBufMut>(
        &mut self,
        mut buf: T,
        c: CancelHandle,
    ) -> BufResult<usize, T> {
        let Some(first) = buf::first_mut(&mut buf) else {
            return (Ok(0), buf);
        };
        let (res, _) = self.read_inner(first, Some(c)).await;
        if let Ok(n) = res {
            buf::set_filled_vec(&mut buf, n);
        }
        (res, buf)
    }
}

impl<C, D: 'static> AsyncWriteRent for TlsStream<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
{
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        let res = self.write_plaintext(buf::as_slice(&buf)).await;
        (res, buf)
    }

    async fn writev<T: IoVecBuf>(&mut self, buf_vec: T) -> BufResult<usize, T> {
        let res = match buf::first(&buf_vec) {
            Some(first) => self.write_plaintext(buf::as_slice(&first)).await,
            None => Ok(0),
        };
        (res, buf_vec)
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.write_records().await
    }

    /// `close_notify`, then the socket's write side.
    async fn shutdown(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.write_records().await?;
        self.io.tcp.shutdown().await
    }
}
