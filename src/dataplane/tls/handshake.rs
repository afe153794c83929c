//! Hello and Handshaking, the first two states of a `TlsStream` (lifecycle in `stream.rs`):
//! the ClientHello through a `rustls::server::Acceptor`, the `CertSet` entry its SNI selects,
//! then the handshake on that entry's `ServerConfig`. Every failure sends the alert rustls made
//! (as far as the client still listens); EOF and `close_notify` end it at once; the caller
//! bounds it with the deadline.

use std::fmt;
use std::io;

use rustls::server::Acceptor;

use super::stream::{Io, Served, TlsStream};
use crate::config::certs::CertSet;

/// Why `accept` gave up; the socket is closed when it returns (dropped).
#[derive(Debug)]
pub enum HandshakeError {
    /// The deadline passed first (slow or half-open handshake).
    TimedOut,
    /// EOF or `close_notify` before the handshake finished.
    Closed,
    /// The SNI names no entry and the set refuses unknown names (an alert was sent).
    RefusedSni,
    /// A protocol error, a bad or missing client certificate, ... (its alert was sent).
    Tls(rustls::Error),
    Io(io::Error),
}

/// Hello, then Handshaking (module docs).
pub(super) async fn handshake(mut io: Io, certs: &CertSet) -> Result<TlsStream, HandshakeError> {
    let mut acceptor = Acceptor::default();
    let accepted = 'hello: loop {
        match io.fill(None).await {
            Ok(0) => return Err(HandshakeError::Closed),
            Ok(_) => {}
            Err(e) => return Err(HandshakeError::Io(e)),
        }
        while io.rx_taken < io.rx.len() {
            let mut rest = &io.rx[io.rx_taken..];
            match acceptor.read_tls(&mut rest) {
                Ok(0) => break,
                Ok(n) => io.rx_taken += n,
                Err(e) => return Err(HandshakeError::Io(e)),
            }
            match acceptor.accept() {
                Ok(None) => {}
                Ok(Some(accepted)) => break 'hello accepted,
                Err((e, mut alert)) => {
                    io.tx.clear();
                    let _ = alert.write_all(&mut io.tx);
                    let _ = io.write_tx().await;
                    return Err(HandshakeError::Tls(e));
                }
            }
        }
        if io.rx_taken < io.rx.len() {
            // The acceptor refused bytes without a whole ClientHello: never going to finish.
            let e = rustls::Error::General("ClientHello does not fit".into());
            return Err(HandshakeError::Tls(e));
        }
    };
    let entry = certs.entry_for_sni(accepted.client_hello().server_name());
    let config = match entry {
        Some(i) => certs.config(i).clone(),
        None => certs.refusing().clone(),
    };
    let (conn, entry) = match (accepted.into_connection(config), entry) {
        (Ok(conn), Some(entry)) => (conn, entry),
        // The refusing configuration has no certificate, so this cannot be; refuse anyway.
        (Ok(_), None) => return Err(HandshakeError::RefusedSni),
        (Err((e, mut alert)), entry) => {
            io.tx.clear();
            let _ = alert.write_all(&mut io.tx);
            let _ = io.write_tx().await;
            return Err(match entry {
                None => HandshakeError::RefusedSni,
                Some(_) => HandshakeError::Tls(e),
            });
        }
    };
    let mut s = TlsStream {
        io,
        conn: Served { conn, entry },
        pending: false,
    };
    loop {
        if s.io.rx_taken < s.io.rx.len() {
            match s.feed() {
                Ok(_) => {}
                Err(e) => {
                    let _ = s.write_records().await;
                    return Err(HandshakeError::Tls(e));
                }
            }
        }
        s.write_records().await.map_err(HandshakeError::Io)?;
        if !s.conn.is_handshaking() {
            break;
        }
        if s.io.rx_taken < s.io.rx.len() {
            // rustls refused input mid-handshake: it will never take it.
            let e = rustls::Error::General("handshake stalled".into());
            return Err(HandshakeError::Tls(e));
        }
        // `close_notify` (or an alert) processed by `into_connection` or the last `feed`.
        let closed = s
            .conn
            .process_new_packets()
            .map_or(true, |state| state.peer_has_closed());
        if closed {
            return Err(HandshakeError::Closed);
        }
        match s.io.fill(None).await {
            Ok(0) => return Err(HandshakeError::Closed),
            Ok(_) => {}
            Err(e) => return Err(HandshakeError::Io(e)),
        }
    }
    debug_assert!(!s.conn.wants_write());
    // A client's first request often comes with its Finished: `readable` must see it.
    s.pending = s.conn.process_new_packets().map_or(true, |st| {
        st.plaintext_bytes_to_read() > 0 || st.peer_has_closed()
    });
    Ok(s)
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::TimedOut => f.write_str("tls handshake: deadline passed"),
            HandshakeError::Closed => f.write_str("tls handshake: peer closed"),
            HandshakeError::RefusedSni => f.write_str("tls handshake: unknown server name"),
            HandshakeError::Tls(e) => write!(f, "tls handshake: {e}"),
            HandshakeError::Io(e) => write!(f, "tls handshake: {e}"),
        }
    }
}

impl std::error::Error for HandshakeError {}
