//! The server side of a `TlsStream`: `Served` (rustls' `ServerConnection` and the `CertSet`
//! entry it was served from), `accept`, and what only a server has (SNI, entry, client
//! certificate). Hello and Handshaking, the first two states (lifecycle in `stream.rs`):
//! the ClientHello through a `rustls::server::Acceptor`, the `CertSet` entry its SNI selects,
//! then the handshake on that entry's `ServerConfig`. Every failure sends the alert rustls made
//! (as far as the client still listens); EOF and `close_notify` end it at once; the caller
//! bounds it with the deadline.

use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};

use monoio::net::TcpStream;
use monoio::time::Instant;
use rustls::server::{Acceptor, ServerConnectionData};
use rustls::{ConnectionCommon, ServerConnection};

use super::client_cert::ClientCertInfo;
use super::stream::{Io, TlsStream};
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

/// The server side: rustls' connection and the `CertSet` entry the handshake was served from.
pub struct Served {
    pub(super) conn: ServerConnection,
    pub(super) entry: usize,
}

impl TlsStream<Served> {
    /// Runs the server handshake on an accepted socket, with the certificate the ClientHello's
    /// SNI selects from `certs`, and gives up at `deadline`.
    pub async fn accept(
        tcp: TcpStream,
        certs: &CertSet,
        deadline: Instant,
    ) -> Result<TlsStream, HandshakeError> {
        match monoio::time::timeout_at(deadline, handshake(Io::new(tcp), certs)).await {
            Ok(r) => r,
            Err(_) => Err(HandshakeError::TimedOut),
        }
    }

    /// The SNI the client sent.
    pub fn sni(&self) -> Option<&str> {
        self.conn.conn.server_name()
    }

    /// The `CertSet` entry whose certificate was served (for 421: compare with
    /// `CertSet::names_of(host)`).
    pub fn entry(&self) -> usize {
        self.conn.entry
    }

    /// The verified client certificate (mutual TLS), parsed for the request context. Parses
    /// on every call: call it once per request that needs it.
    pub fn client_cert(&self) -> Option<ClientCertInfo> {
        let leaf = self.conn.peer_certificates()?.first()?;
        ClientCertInfo::from_der(leaf)
    }
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

impl Deref for Served {
    type Target = ConnectionCommon<ServerConnectionData>;

    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl DerefMut for Served {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
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
