//! A `rustls::ClientConnection` driven over a monoio `TcpStream` with ownership-passing IO.
//!
//! Lifecycle: *Handshaking* (write what rustls wants written; otherwise read ciphertext, hand
//! it to rustls, process it; a rustls error is a connect error, after its alert is sent) →
//! *Open*: `send` hands plaintext to rustls and writes the records it makes; `recv` first
//! copies plaintext rustls already decrypted into the caller's buffer, then feeds it the
//! ciphertext kept in `rx`, and reads the socket only when both are empty → *Closed* once the
//! socket says EOF or the server sent `close_notify` (`recv` returns `Ok(0)` after the last
//! plaintext byte; a missing `close_notify` is not an error for a load generator).
//!
//! Our side allocates nothing per request: `rx` and `tx` are sized once and handed to the
//! socket and back; plaintext is copied straight into the caller's buffer. rustls' buffered
//! API itself allocates one `Vec` per record it encrypts and one per record it decrypts
//! (rustls 0.23; see README.md "TLS").
//!
//! Cancellation (`--rate` with `--pipeline` above 1): only socket reads are cancelled. A read
//! cancelled after some bytes arrived returns them; they are kept in `rx`, and the next read
//! with the same (cancelled) handle returns `ECANCELED` at once, so `recv` ends without losing
//! a byte.

use std::io::{self, BufRead, Write};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt, CancelHandle, CancelableAsyncReadRent};
use monoio::net::TcpStream;
use rustls::ClientConnection;

use super::Session;
use crate::transport::{ConnectError, Transport};

/// Ciphertext read from the socket at once: one full record (16 KiB of plaintext, plus the
/// record header and AEAD overhead, with room to spare).
const RX_BUFFER: usize = 17 * 1024;
/// Ciphertext written at once, to start with; grows to the largest write seen.
const TX_BUFFER: usize = 4 * 1024;

pub struct TlsStream {
    tcp: TcpStream,
    conn: ClientConnection,
    /// Ciphertext from the socket; rustls has taken the bytes before `rx_taken`.
    rx: Vec<u8>,
    rx_taken: usize,
    /// Records rustls produced, on their way to the socket.
    tx: Vec<u8>,
    /// The socket said EOF, and rustls has been told.
    eof: bool,
}

/// What `take_plaintext` found.
enum Plaintext {
    Copied(usize),
    /// Nothing decrypted is waiting; rustls needs more ciphertext.
    Empty,
    /// `close_notify`, or EOF, after the last plaintext byte.
    Closed,
}

impl TlsStream {
    /// Runs the handshake on a connected socket. The caller bounds it in time.
    pub async fn handshake(tcp: TcpStream, conn: ClientConnection) -> Result<Self, ConnectError> {
        let mut s = TlsStream {
            tcp,
            conn,
            rx: Vec::with_capacity(RX_BUFFER),
            rx_taken: 0,
            tx: Vec::with_capacity(TX_BUFFER),
            eof: false,
        };
        while s.conn.is_handshaking() {
            if s.conn.wants_write() {
                s.flush().await.map_err(ConnectError::Io)?;
                continue;
            }
            match s.fill(None).await {
                Ok(0) => return Err(ConnectError::ClosedInHandshake),
                Ok(_) => {}
                Err(e) => return Err(ConnectError::Io(e)),
            }
            if let Err(e) = s.feed() {
                // Tell the server why (the alert rustls queued), as far as it still listens.
                let _ = s.flush().await;
                return Err(ConnectError::Tls(e));
            }
        }
        // TLS 1.3: the client's Finished.
        s.flush().await.map_err(ConnectError::Io)?;
        debug_assert!(!s.conn.wants_write());
        Ok(s)
    }

    /// Moves decrypted plaintext into the spare capacity of `buf`.
    fn take_plaintext(&mut self, buf: &mut Vec<u8>) -> io::Result<Plaintext> {
        let mut reader = self.conn.reader();
        let mut copied = 0;
        let mut closed = false;
        while buf.len() < buf.capacity() {
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
                Err(e) => return Err(e),
                Ok(chunk) => {
                    let n = chunk.len().min(buf.capacity() - buf.len());
                    buf.extend_from_slice(&chunk[..n]);
                    n
                }
            };
            reader.consume(n);
            copied += n;
        }
        Ok(match (copied, closed) {
            (0, true) => Plaintext::Closed,
            (0, false) => Plaintext::Empty,
            (n, _) => Plaintext::Copied(n),
        })
    }

    /// Hands rustls the ciphertext in `rx` and processes it. rustls takes a few KiB per call
    /// and refuses more while too much decrypted plaintext waits; what it leaves stays in `rx`.
    /// `Ok(false)`: it took nothing.
    fn feed(&mut self) -> Result<bool, rustls::Error> {
        let before = self.rx_taken;
        while self.rx_taken < self.rx.len() {
            let mut rest = &self.rx[self.rx_taken..];
            match self.conn.read_tls(&mut rest) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.rx_taken += n,
            }
            self.conn.process_new_packets()?;
        }
        let progress = self.rx_taken > before;
        if self.rx_taken == self.rx.len() {
            self.rx.clear();
            self.rx_taken = 0;
        }
        debug_assert!(self.rx_taken <= self.rx.len());
        Ok(progress)
    }

    /// Reads ciphertext from the socket after what `rx` still holds. `Ok(0)` is EOF.
    async fn fill(&mut self, cancel: Option<CancelHandle>) -> io::Result<usize> {
        if self.rx_taken > 0 {
            self.rx.copy_within(self.rx_taken.., 0);
            self.rx.truncate(self.rx.len() - self.rx_taken);
            self.rx_taken = 0;
        }
        if self.rx.len() == self.rx.capacity() {
            // rustls refused input it could not yet use; cannot happen with `recv`'s order
            // (plaintext out before ciphertext in), so growing here is only a safety net.
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

    /// Writes every record rustls has ready.
    async fn flush(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.tx.clear();
            self.conn.write_tls(&mut self.tx)?;
            let (res, buf) = self.tcp.write_all(std::mem::take(&mut self.tx)).await;
            self.tx = buf;
            res?;
        }
        Ok(())
    }

    /// The socket's EOF: rustls is told, and ends the plaintext after what it has.
    fn end_of_stream(&mut self) -> Result<(), rustls::Error> {
        self.eof = true;
        let _ = self.conn.read_tls(&mut io::empty());
        self.conn.process_new_packets().map(|_| ())
    }
}

impl Transport for TlsStream {
    async fn send(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        let mut sent = 0;
        while sent < buf.len() {
            // rustls encrypts what fits its outgoing limit (64 KiB) now; the rest after a flush.
            let n = match self.conn.writer().write(&buf[sent..]) {
                Ok(0) if !self.conn.wants_write() => {
                    return (Err(io::ErrorKind::WriteZero.into()), buf);
                }
                Ok(n) => n,
                Err(e) => return (Err(e), buf),
            };
            sent += n;
            if let Err(e) = self.flush().await {
                return (Err(e), buf);
            }
        }
        (Ok(()), buf)
    }

    async fn recv(
        &mut self,
        mut buf: Vec<u8>,
        cancel: CancelHandle,
    ) -> (io::Result<usize>, Vec<u8>) {
        debug_assert!(buf.len() < buf.capacity());
        loop {
            match self.take_plaintext(&mut buf) {
                Ok(Plaintext::Copied(n)) => return (Ok(n), buf),
                Ok(Plaintext::Closed) => return (Ok(0), buf),
                Ok(Plaintext::Empty) => {}
                Err(e) => return (Err(e), buf),
            }
            if self.rx_taken < self.rx.len() {
                match self.feed() {
                    Ok(true) => continue,
                    // No plaintext waits, so rustls refusing input is a broken stream.
                    Ok(false) => {
                        let e = io::Error::new(io::ErrorKind::InvalidData, "tls: stalled");
                        return (Err(e), buf);
                    }
                    Err(e) => {
                        let _ = self.flush().await;
                        return (Err(io::Error::new(io::ErrorKind::InvalidData, e)), buf);
                    }
                }
            }
            // A key update or an alert to answer.
            if let Err(e) = self.flush().await {
                return (Err(e), buf);
            }
            if self.eof {
                return (Ok(0), buf);
            }
            match self.fill(Some(cancel.clone())).await {
                Ok(0) => {
                    if let Err(e) = self.end_of_stream() {
                        return (Err(io::Error::new(io::ErrorKind::InvalidData, e)), buf);
                    }
                }
                Ok(_) => {}
                Err(e) => return (Err(e), buf),
            }
        }
    }

    fn session(&self) -> Option<Session> {
        Some(Session::of(&self.conn))
    }

    fn park(&mut self) {
        self.rx = Vec::new();
        self.rx_taken = 0;
        self.tx = Vec::new();
    }
}
