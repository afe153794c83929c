//! The certificates of a listener: one rustls `ServerConfig` per custom domain entry, chosen by
//! SNI (exact name first, then a one-label wildcard), with a default entry for a ClientHello
//! without SNI or with an unknown name.
//!
//! Built from bytes the caller has already read (config validation reads the files and maps a
//! `CertError`'s `field` back to the file name), once per snapshot; the per-entry
//! `Arc<ServerConfig>` is then shared by every handshake on every core.

use std::fmt;
use std::sync::Arc;

use hashbrown::HashMap;

pub use super::cert_error::{CertError, CertErrorKind, CertField};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};

/// The one protocol the gateway speaks, offered by ALPN.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Longest DNS name (RFC 1035); longer SNI or Host values match no entry.
const MAX_NAME: usize = 253;

/// One custom domain's TLS material, as read from its files.
#[derive(Debug, Clone)]
pub struct DomainTls {
    /// Exact names (`api.example.com`) or one-label wildcards (`*.example.com`).
    pub names: Vec<String>,
    /// Leaf certificate first, then intermediates (PEM).
    pub chain_pem: Vec<u8>,
    /// PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key (PEM).
    pub key_pem: Vec<u8>,
    /// Mutual TLS: the CA bundle client certificates must chain to. `Some` *requires* a client
    /// certificate.
    pub truststore_pem: Option<Vec<u8>>,
    pub policy: SecurityPolicy,
    /// rustls suite names (`TLS13_AES_128_GCM_SHA256`,
    /// `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`, ...), in the server's order of preference.
    /// `None`: rustls' defaults.
    pub cipher_suites: Option<Vec<String>>,
}

/// API Gateway's `securityPolicy`. rustls implements neither TLS 1.0 nor TLS 1.1, so both map
/// to the closest configuration it has: TLS 1.2 minimum, TLS 1.3 allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityPolicy {
    /// `TLS_1_0`: served as TLS 1.2 and 1.3 (a TLS 1.0/1.1-only client cannot connect).
    Tls10,
    /// `TLS_1_2`: TLS 1.2 and 1.3.
    Tls12,
}

/// What a ClientHello whose SNI matches no entry (or that has no SNI) gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownSni {
    /// The default entry's certificate and policy.
    ServeDefault,
    /// A failed handshake (rustls sends a fatal alert: no certificate resolved).
    Refuse,
}

/// The certificates of one listener.
pub struct CertSet {
    entries: Vec<Entry>,
    default: usize,
    unknown: UnknownSni,
    /// Lowercased exact names → entry.
    exact: HashMap<Box<str>, usize>,
    /// `*.example.com` stored as `example.com` → entry.
    wildcard: HashMap<Box<str>, usize>,
    /// Used to fail handshakes under `UnknownSni::Refuse`.
    refuse: Arc<ServerConfig>,
}

struct Entry {
    config: Arc<ServerConfig>,
    mtls: bool,
}

/// Fails every handshake it is asked for (`UnknownSni::Refuse`).
#[derive(Debug)]
struct NoCertificate;

impl CertSet {
    /// One `ServerConfig` per entry; every problem of every entry is reported.
    pub fn new(
        domains: &[DomainTls],
        default: usize,
        unknown: UnknownSni,
    ) -> Result<CertSet, Vec<CertError>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut errors = Vec::new();
        let mut entries = Vec::with_capacity(domains.len());
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        for (i, d) in domains.iter().enumerate() {
            let err = |field, kind| CertError {
                entry: Some(i),
                field,
                kind,
            };
            for name in &d.names {
                let (table, key) = match parse_name(name) {
                    Some(NamePattern::Exact(n)) => (&mut exact, n),
                    Some(NamePattern::Wildcard(n)) => (&mut wildcard, n),
                    None => {
                        errors.push(err(CertField::Names, CertErrorKind::BadName(name.clone())));
                        continue;
                    }
                };
                if let Some(&other) = table.get(key.as_str()) {
                    let kind = CertErrorKind::DuplicateName {
                        name: name.clone(),
                        other,
                    };
                    errors.push(err(CertField::Names, kind));
                } else {
                    table.insert(key.into_boxed_str(), i);
                }
            }
            match server_config(d, &provider) {
                Ok(config) => entries.push(Entry {
                    config,
                    mtls: d.truststore_pem.is_some(),
                }),
                Err(e) => errors.push(err(e.0, e.1)),
            }
        }
        if default >= domains.len() {
            errors.push(CertError {
                entry: None,
                field: CertField::Default,
                kind: CertErrorKind::NoSuchDefault(default),
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut refuse = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| {
                vec![CertError {
                    entry: None,
                    field: CertField::Default,
                    kind: CertErrorKind::NoCipherSuite(e.to_string()),
                }]
            })?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(NoCertificate));
        refuse.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
        Ok(CertSet {
            entries,
            default,
            unknown,
            exact,
            wildcard,
            refuse: Arc::new(refuse),
        })
    }

    /// The entry a name (SNI or Host, without port) belongs to: an exact name first, then the
    /// wildcard for its parent (`*.example.com` matches `a.example.com` only: one label).
    /// Case-insensitive; a trailing dot is ignored. `None`: no entry names it.
    ///
    /// 421 Misdirected Request: the request path compares `names_of(host)` with the entry the
    /// connection's handshake chose (`TlsStream::entry`).
    pub fn names_of(&self, name: &str) -> Option<usize> {
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() || name.len() > MAX_NAME || !name.is_ascii() {
            return None;
        }
        let mut lower = [0u8; MAX_NAME];
        let lower = &mut lower[..name.len()];
        lower.copy_from_slice(name.as_bytes());
        lower.make_ascii_lowercase();
        let lower = std::str::from_utf8(lower).ok()?;
        if let Some(&i) = self.exact.get(lower) {
            return Some(i);
        }
        let (_, parent) = lower.split_once('.')?;
        self.wildcard.get(parent).copied()
    }

    /// The entry a handshake with this SNI is served from; `None`: refuse it.
    pub fn entry_for_sni(&self, sni: Option<&str>) -> Option<usize> {
        match sni.and_then(|s| self.names_of(s)) {
            Some(i) => Some(i),
            None => match self.unknown {
                UnknownSni::ServeDefault => Some(self.default),
                UnknownSni::Refuse => None,
            },
        }
    }

    /// The rustls configuration of an entry (panics on an index `entry_for_sni` did not give).
    pub fn config(&self, entry: usize) -> &Arc<ServerConfig> {
        &self.entries[entry].config
    }

    /// Whether the entry requires a client certificate.
    pub fn is_mtls(&self, entry: usize) -> bool {
        self.entries.get(entry).is_some_and(|e| e.mtls)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A configuration whose handshakes all fail with an alert (refused SNI).
    pub fn refusing(&self) -> &Arc<ServerConfig> {
        &self.refuse
    }
}

enum NamePattern {
    Exact(String),
    /// The parent of the wildcard label.
    Wildcard(String),
}

/// Lowercased, without a trailing dot; `*` only as the whole first label.
fn parse_name(name: &str) -> Option<NamePattern> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= MAX_NAME
            && s.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    };
    match name.strip_prefix("*.") {
        Some(parent) if valid(parent) => Some(NamePattern::Wildcard(parent.to_owned())),
        Some(_) => None,
        None if valid(&name) => Some(NamePattern::Exact(name)),
        None => None,
    }
}

fn server_config(
    d: &DomainTls,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<ServerConfig>, (CertField, CertErrorKind)> {
    let chain = CertificateDer::pem_slice_iter(&d.chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            (
                CertField::Chain,
                CertErrorKind::NoCertificate(e.to_string()),
            )
        })?;
    if chain.is_empty() {
        let kind = CertErrorKind::NoCertificate("no CERTIFICATE block in the PEM".into());
        return Err((CertField::Chain, kind));
    }
    let key = PrivateKeyDer::from_pem_slice(&d.key_pem)
        .map_err(|e| (CertField::Key, CertErrorKind::NoKey(e.to_string())))?;

    let provider = Arc::new(with_suites(provider, d.cipher_suites.as_deref())?);
    let certified = CertifiedKey::from_der(chain, key, &provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => (CertField::Key, CertErrorKind::KeyMismatch),
        e => (CertField::Key, CertErrorKind::UnsupportedKey(e.to_string())),
    })?;

    let versions = versions_for(&provider, d.policy);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| {
            (
                CertField::CipherSuites,
                CertErrorKind::NoCipherSuite(e.to_string()),
            )
        })?;
    let builder = match &d.truststore_pem {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let roots = truststore(pem)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| {
                    (
                        CertField::Truststore,
                        CertErrorKind::BadTruststore(e.to_string()),
                    )
                })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// The ring provider with only the named suites, in the given order.
fn with_suites(
    base: &CryptoProvider,
    names: Option<&[String]>,
) -> Result<CryptoProvider, (CertField, CertErrorKind)> {
    let mut provider = base.clone();
    let Some(names) = names else {
        return Ok(provider);
    };
    let mut suites: Vec<SupportedCipherSuite> = Vec::with_capacity(names.len());
    for name in names {
        let found = base
            .cipher_suites
            .iter()
            .find(|s| s.suite().as_str() == Some(name.as_str()));
        match found {
            Some(s) if !suites.contains(s) => suites.push(*s),
            Some(_) => {}
            None => {
                let kind = CertErrorKind::UnknownCipherSuite(name.clone());
                return Err((CertField::CipherSuites, kind));
            }
        }
    }
    if suites.is_empty() {
        let kind = CertErrorKind::NoCipherSuite("the list is empty".into());
        return Err((CertField::CipherSuites, kind));
    }
    provider.cipher_suites = suites;
    Ok(provider)
}

/// TLS 1.2 and 1.3 for both policies, restricted to the versions the suites allow.
fn versions_for(
    provider: &CryptoProvider,
    _policy: SecurityPolicy,
) -> Vec<&'static SupportedProtocolVersion> {
    let has = |v: &SupportedProtocolVersion| {
        provider
            .cipher_suites
            .iter()
            .any(|s| s.version().version == v.version)
    };
    [&rustls::version::TLS13, &rustls::version::TLS12]
        .into_iter()
        .filter(|v| has(v))
        .collect()
}

fn truststore(pem: &[u8]) -> Result<RootCertStore, (CertField, CertErrorKind)> {
    let bad = |e: &dyn fmt::Display| {
        (
            CertField::Truststore,
            CertErrorKind::BadTruststore(e.to_string()),
        )
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err((CertField::Truststore, CertErrorKind::EmptyTruststore));
    }
    Ok(roots)
}

impl ResolvesServerCert for NoCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        None
    }
}
