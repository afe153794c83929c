//! TLS to backends (issue 6): `server.upstreamTls` (tollgate's own; API Gateway has no such
//! setting) compiled into the one `rustls::ClientConfig` every `https://` integration uses.
//!
//! - Roots: `caBundle` (PEM), else the system bundle from the first readable of
//!   `SYSTEM_CA_BUNDLES`. Both are read through the `Loader` at load, so a missing or broken
//!   `caBundle` is a validation error naming it. No usable system bundle is an error only when
//!   an `https://` integration needs it (compile reports it there).
//! - `clientCertificate`: the certificate tollgate presents to backends that ask for one
//!   (API Gateway's "client certificate" for backend authentication).
//! - `insecureSkipVerify`: accept any backend certificate (signatures are still checked).
//!
//! TLS 1.2 and 1.3, ring provider, ALPN `http/1.1`. Sessions are resumed across the pooled
//! connections of every core: the config keeps rustls' default client session store (an
//! in-memory cache of 256 server names, behind its own lock, touched once per handshake).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::Loader;
use super::cache::Fnv;
use super::certs::ALPN_HTTP1;
use super::defaults::SYSTEM_CA_BUNDLES;
use super::reader::{Errors, Node};
use super::tls::{CertFiles, FileRef, cert_files, file_ref, read};

/// `server.upstreamTls` as written.
#[derive(Clone)]
pub(crate) struct UpstreamTlsSpec {
    pub ca_bundle: Option<FileRef>,
    pub client_certificate: Option<CertFiles>,
    pub insecure_skip_verify: bool,
}

/// The compiled client side of TLS to backends, shared by every `https://` upstream.
pub struct UpstreamTls {
    /// Verifies backends against the CA bundle (or the system's); `None` when there is none
    /// (an `https://` integration that verifies is then a config error).
    pub config: Option<Arc<ClientConfig>>,
    /// For integrations with API Gateway's `tlsConfig.insecureSkipVerification`: any
    /// certificate (signatures still checked), the same client certificate.
    pub insecure: Arc<ClientConfig>,
    /// Identity of the inputs (roots, client certificate, verification): part of an https
    /// upstream's pool key, so a reload that changes them never reuses a connection made
    /// under the old ones.
    pub fingerprint: u64,
}

/// What an `https://` upstream connects with: the shared config and the name it verifies
/// (and sends as SNI; rustls sends none for an IP address).
#[derive(Clone)]
pub struct TlsTarget {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

/// The inputs of `client_config`, as read.
pub(crate) struct ClientTlsInput<'a> {
    /// PEM roots; `strict`: every block must be a usable CA certificate (a configured
    /// bundle), else unusable ones are skipped (the system bundle).
    pub roots: Option<(&'a [u8], bool)>,
    /// PEM chain and key.
    pub client_certificate: Option<(&'a [u8], &'a [u8])>,
    pub insecure_skip_verify: bool,
}

/// Which input of `client_config` is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Input {
    Roots,
    Chain,
    Key,
}

/// Accepts any server certificate; signatures are still verified with the provider's
/// algorithms.
#[derive(Debug)]
pub(crate) struct SkipVerify(pub(crate) Arc<CryptoProvider>);

/// `server.upstreamTls`.
pub(crate) fn upstream_tls_spec(
    node: &Node<'_>,
    base_dir: &Path,
    errors: &mut Errors,
) -> Option<UpstreamTlsSpec> {
    let mut obj = node.obj(errors)?;
    let ca_bundle = file_ref(obj.opt_non_null("caBundle"), base_dir, errors);
    let client_certificate = obj
        .opt_non_null("clientCertificate")
        .and_then(|n| cert_files(&n, base_dir, errors));
    let insecure_skip_verify = obj
        .opt("insecureSkipVerify")
        .and_then(|n| n.bool(errors))
        .unwrap_or(false);
    obj.finish(errors);
    Some(UpstreamTlsSpec {
        ca_bundle,
        client_certificate,
        insecure_skip_verify,
    })
}

/// Reads the files of `spec` (or the system bundle) and compiles them; `None` after an error.
/// Without a `caBundle` and a usable system bundle, `config` is `None` (an `https://`
/// integration that verifies is then an error, reported by compile).
pub(crate) fn build(
    spec: Option<&UpstreamTlsSpec>,
    loader: &dyn Loader,
    errors: &mut Errors,
) -> Option<UpstreamTls> {
    let before = errors.len();
    let insecure = spec.is_some_and(|s| s.insecure_skip_verify);
    let roots: Option<(Vec<u8>, Option<&FileRef>)> = match spec.and_then(|s| s.ca_bundle.as_ref()) {
        Some(f) => read(f, loader, "CA bundle", errors).map(|b| (b, Some(f))),
        None if insecure => None,
        None => SYSTEM_CA_BUNDLES
            .iter()
            .find_map(|p| loader.read(Path::new(p)).ok())
            .map(|b| (b, None)),
    };
    let client = spec.and_then(|s| s.client_certificate.as_ref());
    let client_pem = client.map(|c| {
        (
            read(&c.chain, loader, "client certificate chain", errors),
            read(&c.key, loader, "client private key", errors),
        )
    });
    if errors.len() > before {
        return None;
    }
    let client_certificate = match &client_pem {
        Some((Some(chain), Some(key))) => Some((chain.as_slice(), key.as_slice())),
        _ => None,
    };
    let input = ClientTlsInput {
        roots: roots.as_ref().map(|(b, f)| (b.as_slice(), f.is_some())),
        client_certificate,
        insecure_skip_verify: insecure,
    };
    let skipping = ClientTlsInput {
        roots: None,
        client_certificate,
        insecure_skip_verify: true,
    };
    // An error names the file at fault; `None` (the system bundle) matters only to an
    // https:// integration that verifies, which compile reports.
    let report = |(field, message): (Input, String), errors: &mut Errors| {
        let file = match (field, client) {
            (Input::Roots, _) => roots.as_ref().and_then(|(_, f)| *f),
            (Input::Chain, Some(c)) => Some(&c.chain),
            (Input::Key, Some(c)) => Some(&c.key),
            _ => None,
        };
        if let Some(f) = file {
            f.loc
                .err(errors, format!("`{}`: {message}", f.path.display()));
        }
        file.is_some()
    };
    let config = if roots.is_some() || insecure {
        match client_config(&input) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                if report(e, errors) {
                    return None;
                }
                None
            }
        }
    } else {
        None
    };
    let insecure_config = match client_config(&skipping) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            report(e, errors);
            return None;
        }
    };
    Some(UpstreamTls {
        config,
        insecure: insecure_config,
        fingerprint: fingerprint(&input),
    })
}

/// The rustls client configuration for `input`; the error names the input at fault.
pub(crate) fn client_config(input: &ClientTlsInput<'_>) -> Result<ClientConfig, (Input, String)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| (Input::Roots, e.to_string()))?;
    let builder = if input.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipVerify(provider)))
    } else {
        let (pem, strict) = input
            .roots
            .ok_or((Input::Roots, "no CA bundle".to_string()))?;
        builder.with_root_certificates(roots(pem, strict)?)
    };
    let mut config = match input.client_certificate {
        None => builder.with_no_client_auth(),
        Some((chain_pem, key_pem)) => {
            let chain = CertificateDer::pem_slice_iter(chain_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    (
                        Input::Chain,
                        format!("no usable certificate in the PEM ({e})"),
                    )
                })?;
            if chain.is_empty() {
                let message = "no CERTIFICATE block in the PEM".to_string();
                return Err((Input::Chain, message));
            }
            let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
                (
                    Input::Key,
                    format!("no usable private key in the PEM ({e})"),
                )
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| match e {
                    rustls::Error::InconsistentKeys(_) => (
                        Input::Key,
                        "the private key does not match the certificate".to_string(),
                    ),
                    e => (Input::Key, format!("unsupported private key ({e})")),
                })?
        }
    };
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    // `config.resumption` stays rustls' default: an in-memory session cache (module docs).
    Ok(config)
}

/// The name an upstream host is verified against: a DNS name, or an IP address (no SNI).
pub(crate) fn server_name(host: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(host.to_string()).ok()
}

fn roots(pem: &[u8], strict: bool) -> Result<RootCertStore, (Input, String)> {
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        match cert.map_err(|e| e.to_string()).and_then(|c| {
            store
                .add(c)
                .map_err(|e| format!("unusable CA certificate ({e})"))
        }) {
            Ok(()) => {}
            Err(e) if strict => return Err((Input::Roots, e)),
            Err(_) => {}
        }
    }
    if store.is_empty() {
        return Err((Input::Roots, "no CA certificate in the bundle".into()));
    }
    Ok(store)
}

fn fingerprint(input: &ClientTlsInput<'_>) -> u64 {
    let mut h = Fnv::new();
    let mut part = |b: &[u8]| {
        h.u64(b.len() as u64);
        h.bytes(b);
    };
    part(input.roots.map_or(&[][..], |(b, _)| b));
    let (chain, key) = input.client_certificate.unwrap_or((&[], &[]));
    part(chain);
    part(key);
    part(&[u8::from(input.insecure_skip_verify)]);
    h.finish()
}

impl ServerCertVerifier for SkipVerify {
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl fmt::Debug for UpstreamTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamTls")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

#[cfg(test)]
mod tests;
