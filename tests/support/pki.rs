//! Throwaway PKI for the TLS tests (rcgen, ring backend): CAs and the certificates they sign,
//! written as PEM files into a `TempDir` that the gateway's config then names.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use serde_json::{Value, json};

use super::TempDir;

pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A directory of PEM files and the CA behind `ca.pem`, the one servers' certificates chain to.
pub struct Pki {
    pub dir: TempDir,
    pub ca: Ca,
}

impl Ca {
    pub fn new(cn: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = p.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(p, key),
        }
    }

    /// (certificate PEM, key PEM): a server certificate for `names` (DNS names, wildcards or
    /// IP literals), or a client one.
    pub fn leaf(&self, names: &[&str], cn: &str, client: bool) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut p = CertificateParams::new(names).unwrap();
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

impl Pki {
    /// A fresh directory holding `ca.pem`, a CA named `ca_cn`.
    pub fn new(tag: &str, ca_cn: &str) -> Pki {
        let dir = TempDir::new(tag);
        let ca = Ca::new(ca_cn);
        dir.write_atomic("ca.pem", ca.pem.as_bytes());
        Pki { dir, ca }
    }

    /// Another CA, its certificate written to `file`.
    pub fn add_ca(&self, file: &str, cn: &str) -> Ca {
        let ca = Ca::new(cn);
        self.dir.write_atomic(file, ca.pem.as_bytes());
        ca
    }

    /// `name.pem` and `name.key`, signed by `ca` (see `Ca::leaf`).
    pub fn issue(&self, name: &str, ca: &Ca, names: &[&str], cn: &str, client: bool) {
        let (c, k) = ca.leaf(names, cn, client);
        self.dir.write_atomic(&format!("{name}.pem"), c.as_bytes());
        self.dir.write_atomic(&format!("{name}.key"), k.as_bytes());
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.file(name).display().to_string()
    }

    /// `{ certificateChain, privateKey }` for `name.pem` and `name.key`.
    pub fn cert(&self, name: &str) -> Value {
        json!({ "certificateChain": self.path(&format!("{name}.pem")),
                "privateKey": self.path(&format!("{name}.key")) })
    }
}
