//! TLS tests: a throwaway PKI made with rcgen, the server `TlsStream` on a monoio runtime in
//! its own thread, and a plain rustls client (`StreamOwned` over a std socket) in the test
//! thread.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod abuse;
mod certs;
mod client_cert;
mod handshake;
mod io;
mod upstream;

use std::future::Future;
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use monoio::time::Instant;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, StreamOwned, SupportedProtocolVersion,
};

use crate::config::upstream_tls::SkipVerify;

use super::{CertSet, DomainTls, HandshakeError, SecurityPolicy, TlsStream, UnknownSni};

/// A 2048-bit RSA key made once with `openssl genpkey` (ring cannot generate RSA keys).
const RSA_KEY: &str = include_str!("tests/rsa2048.key.pem");

/// How long a test waits for anything before it fails rather than hangs.
const PATIENCE: Duration = Duration::from_secs(10);

/// Entry 0: `default.test` (ECDSA P-256); 1: `api.example.com` (ECDSA); 2: `*.example.net`
/// (RSA).
pub const DEFAULT: usize = 0;
pub const API: usize = 1;
pub const WILD: usize = 2;

/// A certificate authority that signs test certificates.
pub struct Ca {
    pub cert: CertificateDer<'static>,
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A leaf certificate with its key.
pub struct Leaf {
    pub cert: CertificateDer<'static>,
    pub cert_pem: String,
    pub key_pem: String,
}

/// The test PKI: the CA the servers and mTLS trust, another CA, three server certificates.
pub struct Pki {
    pub ca: Ca,
    pub other_ca: Ca,
    pub servers: [Leaf; 3],
}

impl Ca {
    pub fn new(cn: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Tollgate Tests");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            cert: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names` (server) or none (client), adjusted by `edit`.
    pub fn leaf(
        &self,
        names: &[&str],
        key: KeyPair,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Leaf {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params.distinguished_name = DistinguishedName::new();
        if let Some(name) = names.first() {
            params
                .distinguished_name
                .push(DnType::CommonName, name.as_str());
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        } else {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        edit(&mut params);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A client certificate `C=US,O=Example,CN=<cn>`, valid 2020-08-29 → 2120-08-05.
    pub fn client(&self, cn: &str, edit: impl FnOnce(&mut CertificateParams)) -> Leaf {
        self.leaf(&[], KeyPair::generate().unwrap(), |p| {
            p.distinguished_name.push(DnType::CountryName, "US");
            p.distinguished_name
                .push(DnType::OrganizationName, "Example");
            p.distinguished_name.push(DnType::CommonName, cn);
            p.not_before = rcgen::date_time_ymd(2020, 8, 29);
            p.not_after = rcgen::date_time_ymd(2120, 8, 5);
            edit(p);
        })
    }
}

impl Pki {
    pub fn new() -> Pki {
        let ca = Ca::new("Tollgate Test CA");
        let rsa = KeyPair::from_pem_and_sign_algo(RSA_KEY, &PKCS_RSA_SHA256).unwrap();
        let servers = [
            ca.leaf(&["default.test"], KeyPair::generate().unwrap(), |_| {}),
            ca.leaf(&["api.example.com"], KeyPair::generate().unwrap(), |_| {}),
            ca.leaf(&["*.example.net"], rsa, |_| {}),
        ];
        Pki {
            ca,
            other_ca: Ca::new("Other CA"),
            servers,
        }
    }

    /// The three entries, no mTLS, default policy and suites.
    pub fn domains(&self) -> Vec<DomainTls> {
        let names: [&[&str]; 3] = [&["default.test"], &["api.example.com"], &["*.example.net"]];
        self.servers
            .iter()
            .zip(names)
            .map(|(leaf, names)| DomainTls {
                names: names.iter().map(|s| s.to_string()).collect(),
                chain_pem: leaf.cert_pem.clone().into_bytes(),
                key_pem: leaf.key_pem.clone().into_bytes(),
                truststore_pem: None,
                policy: SecurityPolicy::Tls12,
                cipher_suites: None,
            })
            .collect()
    }

    pub fn cert_set(&self, unknown: UnknownSni) -> CertSet {
        CertSet::new(&self.domains(), DEFAULT, unknown).unwrap()
    }
}

/// A server on its own thread: accepts `conns` connections, runs the handshake on each
/// (concurrently) and sends what `handler` makes of the result.
pub struct Server<R> {
    pub addr: SocketAddr,
    results: mpsc::Receiver<R>,
}

impl<R: Send + 'static> Server<R> {
    pub fn start<F, Fut>(certs: CertSet, conns: usize, deadline: Duration, handler: F) -> Self
    where
        F: Fn(Result<TlsStream, HandshakeError>) -> Fut + Send + 'static,
        Fut: Future<Output = R> + 'static,
    {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (tx, results) = mpsc::channel();
        std::thread::spawn(move || {
            let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                .enable_timer()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = monoio::net::TcpListener::bind("127.0.0.1:0").unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let certs = Rc::new(certs);
                let handler = Rc::new(handler);
                let mut tasks = Vec::new();
                for _ in 0..conns {
                    let (tcp, _) = listener.accept().await.unwrap();
                    let (certs, handler, tx) = (certs.clone(), handler.clone(), tx.clone());
                    tasks.push(monoio::spawn(async move {
                        let r = TlsStream::accept(tcp, &certs, Instant::now() + deadline).await;
                        let _ = tx.send(handler(r).await);
                    }));
                }
                for t in tasks {
                    t.await;
                }
            });
        });
        Server {
            addr: addr_rx.recv_timeout(PATIENCE).unwrap(),
            results,
        }
    }

    /// The next connection's result.
    pub fn next(&self) -> R {
        self.results
            .recv_timeout(PATIENCE)
            .expect("a server result")
    }
}

/// A client trusting `ca`, offering `versions` and ALPN `http/1.1`, with a client
/// certificate if given.
pub fn client_config(
    ca: &CertificateDer<'static>,
    versions: &[&'static SupportedProtocolVersion],
    auth: Option<&Leaf>,
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match auth {
        None => builder.with_no_client_auth(),
        Some(leaf) => builder
            .with_client_auth_cert(
                vec![leaf.cert.clone()],
                PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A client that accepts any server certificate (handshake signatures are still checked), to
/// see which certificate an unknown name gets.
pub fn insecure_config(versions: &[&'static SupportedProtocolVersion]) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SkipVerify(provider.clone())))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

pub type Client = StreamOwned<ClientConnection, TcpStream>;

/// Connects and completes the client side of the handshake.
pub fn connect(addr: SocketAddr, config: Arc<ClientConfig>, sni: &str) -> std::io::Result<Client> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(PATIENCE))?;
    tcp.set_write_timeout(Some(PATIENCE))?;
    let name = ServerName::try_from(sni.to_owned()).unwrap();
    let conn = ClientConnection::new(config, name).map_err(std::io::Error::other)?;
    let mut s = StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock)?;
    }
    Ok(s)
}

/// The leaf certificate the client was served.
pub fn served(client: &Client) -> CertificateDer<'static> {
    client.conn.peer_certificates().unwrap()[0].clone()
}

/// A small deterministic generator for "random" bytes.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u8(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 24) as u8
    }
}
