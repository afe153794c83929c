//! TLS for the test server: a throwaway CA and server certificate (rcgen, ring), and a rustls
//! server on std threads in front of the same `serve` loop.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::{Behaviour, Seen, Server, Wire, serve};

/// Names in every server certificate made here.
pub const NAMES: [&str; 3] = ["localhost", "api.test", "127.0.0.1"];

/// A CA, its PEM file, and a server configuration with a certificate it signed.
pub struct Pki {
    pub ca_pem: PathBuf,
    config: Arc<ServerConfig>,
    dir: PathBuf,
}

/// What the server saw of one handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// `TLSv1_2`, `TLSv1_3`; or `failed: <rustls error>`.
    pub outcome: String,
    pub sni: Option<String>,
    pub alpn: Option<String>,
}

impl Pki {
    /// A fresh CA (named by `tag`) and server certificate for `NAMES`.
    pub fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("loadgen-pki-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, format!("loadgen test CA {tag}"));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut leaf = CertificateParams::new(NAMES.map(String::from).to_vec()).unwrap();
        leaf.distinguished_name.push(DnType::CommonName, "api.test");
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        let ca_pem = dir.join("ca.pem");
        std::fs::write(&ca_pem, ca_cert.pem()).unwrap();

        let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Pki {
            ca_pem,
            config: Arc::new(config),
            dir,
        }
    }

    pub fn ca(&self) -> &str {
        self.ca_pem.to_str().unwrap()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    /// The same server over TLS, with `pki`'s certificate; `https://127.0.0.1:port`.
    pub fn start_tls(behaviour: Behaviour, pki: &Pki) -> Server {
        let config = pki.config.clone();
        Server::listen("https", move |tcp, seen| {
            if let Some(stream) = accept(tcp, config.clone(), seen) {
                serve(stream, behaviour, seen);
            }
        })
    }
}

/// Runs the handshake and records what it negotiated (or why it failed).
fn accept(
    mut tcp: TcpStream,
    config: Arc<ServerConfig>,
    seen: &Seen,
) -> Option<StreamOwned<ServerConnection, TcpStream>> {
    let mut conn = ServerConnection::new(config).unwrap();
    let mut failed = None;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut tcp) {
            failed = Some(e);
            break;
        }
    }
    let outcome = match &failed {
        Some(e) => format!("failed: {e}"),
        None => format!("{:?}", conn.protocol_version()?),
    };
    let seen_handshake = Handshake {
        outcome,
        sni: conn.server_name().map(String::from),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    };
    seen.handshakes.lock().unwrap().push(seen_handshake);
    failed.is_none().then(|| StreamOwned::new(conn, tcp))
}

impl Wire for StreamOwned<ServerConnection, TcpStream> {
    fn close(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
        let _ = self.sock.shutdown(Shutdown::Both);
    }
}
