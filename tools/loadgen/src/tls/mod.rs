//! HTTP/1.1 over TLS: the rustls client configuration, built once at start from the command
//! line (`Client`), and the stream that drives a `rustls::ClientConnection` over monoio's
//! ownership-passing IO (`stream.rs`).
//!
//! rustls with the *ring* provider (aws-lc-rs would add a C/cmake build), TLS 1.2 and 1.3,
//! ALPN `http/1.1`, rustls' default in-memory session cache (reconnects may resume; the
//! summary counts them) unless `--no-resume` turns resumption off. Trust: `--cacert FILE`, else the system bundle (`SSL_CERT_FILE`, else
//! the first of `defaults::CA_BUNDLES` that exists); `--insecure` accepts any certificate
//! but still checks the handshake signatures, so the key exchange is really with the holder
//! of the certificate's key.

mod stream;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, ProtocolVersion, RootCertStore,
    SignatureScheme,
};

pub use stream::TlsStream;

use crate::cli::{TlsOptions, TlsVersion, Verify, defaults};
use crate::transport::{self, ConnectError, Connector};

/// The one protocol loadgen speaks, offered by ALPN.
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Everything a connection needs to start a TLS session; cloning shares the configuration.
#[derive(Debug, Clone)]
pub struct Client {
    config: Arc<ClientConfig>,
    /// SNI (none for an IP address) and the name the certificate must match.
    server_name: ServerName<'static>,
}

/// What one handshake negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: &'static str,
    /// IANA-style name, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher_suite: &'static str,
    pub resumed: bool,
}

/// `--insecure`: any certificate is accepted, the handshake signatures are still verified.
#[derive(Debug)]
struct AcceptAnyCertificate(WebPkiSupportedAlgorithms);

impl Client {
    /// `host` is the URL's host: the server name unless `--sni` gives one.
    pub fn new(opts: &TlsOptions, host: &str) -> Result<Client, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = match opts.version {
            None => rustls::ALL_VERSIONS,
            Some(TlsVersion::V1_2) => &[&rustls::version::TLS12],
            Some(TlsVersion::V1_3) => &[&rustls::version::TLS13],
        };
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|e| format!("tls: {e}"))?;
        let mut config = match &opts.verify {
            Verify::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(
                    provider.signature_verification_algorithms,
                )))
                .with_no_client_auth(),
            Verify::CaFile(path) => builder
                .with_root_certificates(ca_file(path)?)
                .with_no_client_auth(),
            Verify::System => builder
                .with_root_certificates(system_roots()?)
                .with_no_client_auth(),
        };
        config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
        if opts.no_resume {
            // No session cache: nothing is stored from tickets or session ids, nothing is
            // offered, so every connection is a full handshake (certificate, signature, key
            // exchange) whatever the server would allow.
            config.resumption = rustls::client::Resumption::disabled();
        }
        let name = opts.sni.as_deref().unwrap_or(host);
        let server_name = ServerName::try_from(name.to_owned())
            .map_err(|_| format!("`{name}` is not a valid TLS server name (DNS name or IP)"))?;
        Ok(Client {
            config: Arc::new(config),
            server_name,
        })
    }
}

impl Connector for Client {
    type Stream = TlsStream;

    async fn connect(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<TlsStream, ConnectError> {
        let open = async {
            let tcp = transport::tcp(addr).await?;
            let session = ClientConnection::new(self.config.clone(), self.server_name.clone())
                .map_err(ConnectError::Tls)?;
            TlsStream::handshake(tcp, session).await
        };
        monoio::time::timeout(timeout, open)
            .await
            .map_err(|_| ConnectError::TimedOut)?
    }
}

impl Session {
    pub fn of(conn: &ClientConnection) -> Session {
        let version = match conn.protocol_version() {
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(other) => other.as_str().unwrap_or("unknown"),
            None => "unknown",
        };
        let cipher_suite = conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .unwrap_or("unknown");
        let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        Session {
            version,
            cipher_suite,
            resumed,
        }
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// `--cacert FILE`: every certificate in it must be a usable trust anchor.
fn ca_file(path: &Path) -> Result<RootCertStore, String> {
    let named = |e: &dyn std::fmt::Display| format!("--cacert {}: {e}", path.display());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| named(&e))? {
        let cert = cert.map_err(|e| named(&e))?;
        roots.add(cert).map_err(|e| named(&e))?;
    }
    if roots.is_empty() {
        return Err(named(&"no PEM certificate in the file"));
    }
    Ok(roots)
}

/// The system bundle: `SSL_CERT_FILE`, else the first of `defaults::CA_BUNDLES` that exists.
/// Certificates webpki cannot use as anchors are skipped, as OpenSSL-oriented bundles have some.
fn system_roots() -> Result<RootCertStore, String> {
    let from_env = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty());
    let path = match &from_env {
        Some(p) => Path::new(p),
        None => defaults::CA_BUNDLES
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .ok_or_else(|| {
                format!(
                    "no CA bundle: SSL_CERT_FILE is unset and none of {} exists \
                     (give --cacert FILE, or --insecure)",
                    defaults::CA_BUNDLES.join(", ")
                )
            })?,
    };
    let source = if from_env.is_some() {
        "SSL_CERT_FILE "
    } else {
        "CA bundle "
    };
    let named = |e: &dyn std::fmt::Display| format!("{source}{}: {e}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| named(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| named(&e))?;
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(named(&"no usable CA certificate in the file"));
    }
    Ok(roots)
}
