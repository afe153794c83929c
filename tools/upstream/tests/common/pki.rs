//! Throwaway certificates for the TLS tests (rcgen): a CA, server certificates for loopback
//! names, client certificates, written as PEM files into a fresh directory.

use std::path::PathBuf;

// The gateway's test CA, by path: one implementation for both crates' tests.
#[path = "../../../../tests/support/ca.rs"]
mod ca;
pub use ca::Ca;

/// `ca.pem`, `server.{pem,key}` (localhost, 127.0.0.1), `client-ca.pem`, `client.{pem,key}`
/// (CN `test client`, from the client CA) and `stranger.{pem,key}` (from another CA).
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    pub fn new(tag: &str) -> Pki {
        let dir = super::temp_dir(tag);
        let ca = Ca::new("Upstream Test CA");
        let client_ca = Ca::new("Upstream Client CA");
        let other = Ca::new("Someone Else");
        std::fs::write(dir.join("ca.pem"), &ca.pem).unwrap();
        std::fs::write(dir.join("client-ca.pem"), &client_ca.pem).unwrap();
        for (name, ca, names, cn, client) in [
            (
                "server",
                &ca,
                &["localhost", "127.0.0.1"][..],
                "upstream",
                false,
            ),
            ("client", &client_ca, &[][..], "test client", true),
            ("stranger", &other, &[][..], "stranger", true),
        ] {
            let (c, k) = ca.leaf(names, cn, client);
            std::fs::write(dir.join(format!("{name}.pem")), c).unwrap();
            std::fs::write(dir.join(format!("{name}.key")), k).unwrap();
        }
        Pki { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
