//! Why a domain's TLS material cannot be served: the entry, which of its inputs (so config
//! validation can name the file) and what is wrong.

use std::fmt;

/// Why an entry cannot be served; `entry` and `field` name the file for the config error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertError {
    /// Index into the `DomainTls` list (`None`: the set as a whole).
    pub entry: Option<usize>,
    pub field: CertField,
    pub kind: CertErrorKind,
}

/// Which input of the entry is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertField {
    Names,
    Chain,
    Key,
    Truststore,
    CipherSuites,
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertErrorKind {
    /// No `CERTIFICATE` block (or a broken one) in the PEM.
    NoCertificate(String),
    /// No private key block (or a broken one) in the PEM.
    NoKey(String),
    /// The key is not one rustls can sign with (ring: ECDSA P-256/P-384, Ed25519, RSA ≥ 2048).
    UnsupportedKey(String),
    /// The private key is not the leaf certificate's.
    KeyMismatch,
    /// No usable CA certificate in the truststore.
    EmptyTruststore,
    BadTruststore(String),
    UnknownCipherSuite(String),
    /// The list names no suite, or rustls refused the combination.
    NoCipherSuite(String),
    BadName(String),
    DuplicateName {
        name: String,
        other: usize,
    },
    /// The default index is not an entry.
    NoSuchDefault(usize),
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(i) = self.entry {
            write!(f, "domain entry {i}: ")?;
        }
        let field = match self.field {
            CertField::Names => "names",
            CertField::Chain => "certificate chain",
            CertField::Key => "private key",
            CertField::Truststore => "truststore",
            CertField::CipherSuites => "cipher suites",
            CertField::Default => "default certificate",
        };
        write!(f, "{field}: {}", self.detail())
    }
}

/// What went wrong, without the entry and field (for a report already placed at the field).
pub(crate) struct Detail<'e>(&'e CertErrorKind);

impl CertError {
    pub(crate) fn detail(&self) -> Detail<'_> {
        Detail(&self.kind)
    }
}

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            CertErrorKind::NoCertificate(e) => write!(f, "no usable certificate in the PEM ({e})"),
            CertErrorKind::NoKey(e) => write!(f, "no usable private key in the PEM ({e})"),
            CertErrorKind::UnsupportedKey(e) => write!(f, "unsupported private key ({e})"),
            CertErrorKind::KeyMismatch => {
                f.write_str("the private key does not match the certificate")
            }
            CertErrorKind::EmptyTruststore => f.write_str("no CA certificate in the truststore"),
            CertErrorKind::BadTruststore(e) => write!(f, "unusable truststore ({e})"),
            CertErrorKind::UnknownCipherSuite(s) => write!(f, "unknown cipher suite `{s}`"),
            CertErrorKind::NoCipherSuite(e) => write!(f, "no usable cipher suite ({e})"),
            CertErrorKind::BadName(n) => write!(f, "`{n}` is not a DNS name or `*.` wildcard"),
            CertErrorKind::DuplicateName { name, other } => {
                write!(f, "`{name}` is also a name of entry {other}")
            }
            CertErrorKind::NoSuchDefault(i) => write!(f, "no entry {i}"),
        }
    }
}

impl std::error::Error for CertError {}
