//! Throwaway PKI for the TLS tests (rcgen, ring backend): CAs and the certificates they sign,
//! written as PEM files into a `TempDir` that the gateway's config then names.

pub use super::ca::Ca;
use serde_json::{Value, json};

use super::TempDir;

/// A directory of PEM files and the CA behind `ca.pem`, the one servers' certificates chain to.
pub struct Pki {
    pub dir: TempDir,
    pub ca: Ca,
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
