//! The client side's handshake, for `https://` upstreams: a `rustls::ClientConnection` over a
//! connected socket (the same approach as `tools/loadgen/src/tls/stream.rs`). After it, the
//! stream reads and writes exactly as the server side does (`stream.rs`).
//!
//! *Handshaking*: write what rustls wants written, else read ciphertext and process it. A
//! rustls error (an untrusted or expired certificate, a name mismatch, a protocol error) ends
//! it after the alert rustls made is sent; EOF or `close_notify` ends it at once; the caller
//! bounds it with the integration deadline. With TLS 1.3 a server that refuses our client
//! certificate says so after our Finished: the first read then fails.

use rustls::ClientConnection;

use super::handshake::HandshakeError;
use super::stream::{Io, TlsStream};

/// The stream of an `https://` upstream.
pub type ClientTls = TlsStream<ClientConnection>;

impl TlsStream<ClientConnection> {
    /// Runs the client handshake of `conn` (config, server name) on a connected socket.
    pub async fn connect(
        tcp: monoio::net::TcpStream,
        conn: ClientConnection,
    ) -> Result<ClientTls, HandshakeError> {
        let mut s = TlsStream {
            io: Io::new(tcp),
            conn,
            pending: false,
        };
        loop {
            s.write_records().await.map_err(HandshakeError::Io)?;
            if !s.conn.is_handshaking() {
                break;
            }
            match s.io.fill(None).await {
                Ok(0) => return Err(HandshakeError::Closed),
                Ok(_) => {}
                Err(e) => return Err(HandshakeError::Io(e)),
            }
            if let Err(e) = s.feed() {
                // Tell the server why (the alert rustls queued), as far as it still listens.
                let _ = s.write_records().await;
                return Err(HandshakeError::Tls(e));
            }
            if s.io.rx_taken < s.io.rx.len() && s.conn.is_handshaking() {
                // rustls refused input mid-handshake: it will never take it.
                let e = rustls::Error::General("handshake stalled".into());
                return Err(HandshakeError::Tls(e));
            }
        }
        debug_assert!(!s.conn.wants_write());
        // Anything that came with the server's last flight (a response cannot, before we send
        // a request; an alert or `close_notify` can) is for the first read.
        s.pending = s.conn.process_new_packets().map_or(true, |st| {
            st.plaintext_bytes_to_read() > 0 || st.peer_has_closed()
        }) || s.io.rx_taken < s.io.rx.len();
        Ok(s)
    }
}
