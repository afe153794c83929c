//! `--tls-*`: the mock's own TLS server, a `rustls::ServerConnection` driven over monoio's
//! `TcpStream` with owned buffers. Written apart from tollgate's `src/dataplane/tls` on
//! purpose: the tool tests that code, so it must not share it.
//!
//! Lifecycle of a `TlsStream`: *Handshaking* (`accept` flushes what rustls wants to send and
//! feeds it what arrives until `is_handshaking()` is false, bounded by `HANDSHAKE_TIMEOUT`) →
//! *Open* (`read` hands out plaintext, feeding ciphertext from `rx` only when rustls has none
//! buffered; `write` queues plaintext and flushes it at once) → *Closed* (`close_notify`, or the
//! peer's close_notify / EOF seen by `read` as `Ok(0)`).

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{HandshakeKind, RootCertStore, ServerConfig, ServerConnection};

use crate::cli::TlsConfig;
use crate::subject;

/// Bound on a handshake, so a silent client cannot hold a connection forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Ciphertext read size: one full TLS record plus header.
const RX_BUF: usize = 18 * 1024;
/// Sessions remembered for resumption (TLS 1.2 session ids, TLS 1.3 stateful tickets).
const SESSION_CACHE: usize = 1024;

/// What the TLS layer saw of one connection, for `echo`'s `x-upstream-tls-*` headers.
#[derive(Clone, Debug)]
pub struct Seen {
    pub sni: Option<String>,
    pub version: String,
    pub client_cn: Option<String>,
    pub resumed: bool,
}

pub struct TlsStream {
    tcp: TcpStream,
    conn: ServerConnection,
    /// Ciphertext read from the socket and not yet fed to rustls: `rx[rx_start..]`.
    rx: Vec<u8>,
    rx_start: usize,
    /// Ciphertext rustls produced, on its way to the socket.
    tx: Vec<u8>,
}

/// Build the shared server configuration from the PEM files. Errors name the file.
pub fn server_config(tls: &TlsConfig) -> io::Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certs(&tls.cert)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| bad(&tls.key, &format!("no usable private key: {e}")))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(io::Error::other)?;
    let builder = match &tls.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in certs(path)? {
                roots
                    .add(cert)
                    .map_err(|e| bad(path, &format!("not a CA certificate: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| bad(path, &e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| bad(&tls.cert, &e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE);
    Ok(Arc::new(config))
}

fn certs(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad(path, &e.to_string()))?;
    if certs.is_empty() {
        return Err(bad(path, "no certificate in the file"));
    }
    Ok(certs)
}

fn bad(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}: {what}", path.display()),
    )
}

impl TlsStream {
    /// Run the server handshake on a freshly accepted connection.
    pub async fn accept(tcp: TcpStream, config: &Arc<ServerConfig>) -> io::Result<TlsStream> {
        let conn = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
        let mut s = TlsStream {
            tcp,
            conn,
            rx: Vec::with_capacity(RX_BUF),
            rx_start: 0,
            tx: Vec::new(),
        };
        match monoio::time::timeout(HANDSHAKE_TIMEOUT, s.handshake()).await {
            Ok(done) => done.map(|()| s),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no complete handshake within 10 s",
            )),
        }
    }

    async fn handshake(&mut self) -> io::Result<()> {
        while self.conn.is_handshaking() {
            self.flush().await?;
            if !self.conn.is_handshaking() {
                break;
            }
            if self.rx_start == self.rx.len() && self.fill().await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the client closed during the handshake",
                ));
            }
            self.feed().await?;
        }
        // TLS 1.3 session tickets (and a TLS 1.2 Finished) go out now, not with the first
        // response: a client that only ever reads would otherwise never get them.
        self.flush().await
    }

    /// What the handshake settled.
    pub fn seen(&self) -> Seen {
        let version = match self.conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1_3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1_2".to_string(),
            other => format!("{other:?}"),
        };
        Seen {
            sni: self.conn.server_name().map(str::to_string),
            version,
            client_cn: self
                .conn
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|leaf| subject::common_name(leaf)),
            resumed: self.conn.handshake_kind() == Some(HandshakeKind::Resumed),
        }
    }

    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Plaintext into `dst`; `Ok(0)` when the peer closed (close_notify or EOF).
    pub async fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        loop {
            match self.conn.reader().read(dst) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // EOF without close_notify: a truncation attack for a browser, a close for
                // a mock.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            // Nothing buffered: anything rustls wants to say (a key update) goes first.
            self.flush().await?;
            if self.rx_start == self.rx.len() && self.fill().await? == 0 {
                // Tell rustls the stream ended; the next `reader()` call reports it.
                self.conn.read_tls(&mut io::empty())?;
                continue;
            }
            self.feed().await?;
        }
    }

    /// Send all of `data` as application data.
    pub async fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = self.conn.writer().write(data)?;
            data = &data[n..];
            self.flush().await?;
        }
        Ok(())
    }

    /// Send close_notify (the graceful end of the TLS session), not yet a FIN.
    pub async fn close_notify(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush().await;
    }

    /// Write out every TLS record rustls has queued.
    async fn flush(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.tx.clear();
            self.conn.write_tls(&mut self.tx)?;
            let (res, tx) = self.tcp.write_all(std::mem::take(&mut self.tx)).await;
            self.tx = tx;
            res?;
        }
        Ok(())
    }

    /// One socket read of ciphertext into the empty `rx`; `Ok(0)` is EOF.
    async fn fill(&mut self) -> io::Result<usize> {
        debug_assert_eq!(self.rx_start, self.rx.len(), "fill only once rx is fed");
        self.rx.clear();
        self.rx_start = 0;
        let buf = std::mem::take(&mut self.rx);
        let (res, slice) = self.tcp.read(buf.slice_mut(0..RX_BUF)).await;
        self.rx = slice.into_inner();
        res
    }

    /// Hand rustls the buffered ciphertext it can take and process it. On a TLS error the
    /// alert rustls queued is sent before the error is returned.
    async fn feed(&mut self) -> io::Result<()> {
        let mut pending = &self.rx[self.rx_start..];
        let before = pending.len();
        let read = self.conn.read_tls(&mut pending);
        self.rx_start += before - pending.len();
        match read {
            Ok(0) if before > 0 => return Err(io::Error::other("rustls took no bytes")),
            Ok(_) => {}
            Err(e) => return Err(e),
        }
        if let Err(e) = self.conn.process_new_packets() {
            let _ = self.flush().await;
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        Ok(())
    }
}
