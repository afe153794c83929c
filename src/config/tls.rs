//! HTTPS (issue 6): a listener's `tls` object and the custom domains' `certificate`,
//! `securityPolicy` and `mutualTlsAuthentication`, compiled into one `CertSet` per HTTPS
//! listener (its default certificate, then every custom domain that has one). Files are read
//! through the `Loader`; a missing or unusable file is a validation error naming it, so a
//! reload with a bad certificate keeps the old config serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Loader;
use super::certs::{CertError, CertField, CertSet, DomainTls, SecurityPolicy, UnknownSni};
use super::reader::{Errors, Loc, Node, Obj};

/// A file named in the config, and where it was named.
#[derive(Clone)]
pub(crate) struct FileRef {
    pub path: PathBuf,
    pub loc: Loc,
}

/// `{"certificateChain": FILE, "privateKey": FILE}` (tollgate's file-based stand-in for an
/// ACM certificate ARN).
#[derive(Clone)]
pub(crate) struct CertFiles {
    pub chain: FileRef,
    pub key: FileRef,
}

/// A listener's `tls`: it serves HTTPS.
#[derive(Clone)]
pub(crate) struct ListenerTlsSpec {
    pub certificate: Option<CertFiles>,
    pub unknown_sni: UnknownSni,
    pub policy: SecurityPolicy,
    pub cipher_suites: Option<(Vec<String>, Loc)>,
    pub loc: Loc,
}

/// A custom domain's certificate and TLS settings.
#[derive(Clone)]
pub(crate) struct DomainTlsSpec {
    pub certificate: CertFiles,
    pub policy: SecurityPolicy,
    pub truststore: Option<FileRef>,
}

pub(crate) fn file_ref(
    node: Option<Node<'_>>,
    base_dir: &Path,
    errors: &mut Errors,
) -> Option<FileRef> {
    let node = node?;
    let s = node.str(errors)?;
    if s.is_empty() {
        node.err(errors, "a file path is needed");
        return None;
    }
    Some(FileRef {
        path: base_dir.join(s),
        loc: node.loc(),
    })
}

pub(crate) fn cert_files(
    node: &Node<'_>,
    base_dir: &Path,
    errors: &mut Errors,
) -> Option<CertFiles> {
    let mut obj = node.obj(errors)?;
    let chain = file_ref(obj.req("certificateChain", errors), base_dir, errors);
    let key = file_ref(obj.req("privateKey", errors), base_dir, errors);
    obj.finish(errors);
    Some(CertFiles {
        chain: chain?,
        key: key?,
    })
}

fn policy(node: Option<Node<'_>>, errors: &mut Errors) -> SecurityPolicy {
    match node.as_ref().and_then(|n| n.str(errors)) {
        None | Some("TLS_1_2") => SecurityPolicy::Tls12,
        Some("TLS_1_0") => SecurityPolicy::Tls10,
        Some(other) => {
            if let Some(n) = node {
                n.err(
                    errors,
                    format!("unknown securityPolicy `{other}`: expected TLS_1_0 or TLS_1_2"),
                );
            }
            SecurityPolicy::Tls12
        }
    }
}

/// A listener's `tls` object.
pub(crate) fn listener_tls(
    node: &Node<'_>,
    base_dir: &Path,
    errors: &mut Errors,
) -> Option<ListenerTlsSpec> {
    let mut obj = node.obj(errors)?;
    let certificate = obj
        .opt("certificate")
        .and_then(|n| cert_files(&n, base_dir, errors));
    let unknown_node = obj.opt("unknownSni");
    let policy = policy(obj.opt("securityPolicy"), errors);
    let cipher_suites = obj.opt("cipherSuites").and_then(|n| {
        let items = n.arr(errors)?;
        let names: Vec<String> = items
            .iter()
            .filter_map(|i| i.str(errors).map(str::to_string))
            .collect();
        Some((names, n.loc()))
    });
    obj.finish(errors);
    let unknown_sni = match unknown_node.as_ref().and_then(|n| n.str(errors)) {
        None if certificate.is_some() => UnknownSni::ServeDefault,
        None => UnknownSni::Refuse,
        Some("DEFAULT") if certificate.is_some() => UnknownSni::ServeDefault,
        Some("DEFAULT") => {
            if let Some(n) = &unknown_node {
                n.err(
                    errors,
                    "`unknownSni: DEFAULT` needs the listener's own `certificate`",
                );
            }
            UnknownSni::Refuse
        }
        Some("REFUSE") => UnknownSni::Refuse,
        Some(other) => {
            if let Some(n) = &unknown_node {
                n.err(
                    errors,
                    format!("unknown unknownSni `{other}`: expected DEFAULT or REFUSE"),
                );
            }
            UnknownSni::Refuse
        }
    };
    Some(ListenerTlsSpec {
        certificate,
        unknown_sni,
        policy,
        cipher_suites,
        loc: node.loc(),
    })
}

/// A custom domain's `certificate`, `securityPolicy` and `mutualTlsAuthentication`;
/// `None` when it has no certificate (it is then served only on plain HTTP listeners, or
/// under an HTTPS listener's default certificate).
pub(crate) fn domain_tls(
    obj: &mut Obj<'_>,
    base_dir: &Path,
    errors: &mut Errors,
) -> Option<DomainTlsSpec> {
    let cert_node = obj.opt("certificate");
    let policy_node = obj.opt("securityPolicy");
    let mtls_node = obj.opt_non_null("mutualTlsAuthentication");
    for arn in [
        "certificateArn",
        "regionalCertificateArn",
        "certificateName",
        "regionalCertificateName",
    ] {
        if let Some(n) = obj.opt(arn) {
            n.err(
                errors,
                format!("`{arn}` names an ACM certificate, which tollgate cannot fetch: give `certificate: {{certificateChain, privateKey}}` files instead"),
            );
        }
    }
    let policy = policy(policy_node, errors);
    let truststore = mtls_node.and_then(|n| {
        let mut m = n.obj(errors)?;
        let uri = m.req("truststoreUri", errors);
        if let Some(v) = m.opt("truststoreVersion") {
            v.str(errors);
        }
        m.finish(errors);
        let uri = uri?;
        if uri.v.as_str().is_some_and(|s| s.starts_with("s3://")) {
            uri.err(
                errors,
                "an `s3://` truststore cannot be fetched: give the PEM bundle's file path",
            );
            return None;
        }
        file_ref(Some(uri), base_dir, errors)
    });
    let certificate = cert_node.and_then(|n| cert_files(&n, base_dir, errors));
    match certificate {
        Some(certificate) => Some(DomainTlsSpec {
            certificate,
            policy,
            truststore,
        }),
        None => {
            if truststore.is_some() {
                obj_err(
                    obj,
                    errors,
                    "`mutualTlsAuthentication` needs the domain's `certificate`",
                );
            }
            None
        }
    }
}

fn obj_err(obj: &Obj<'_>, errors: &mut Errors, message: &str) {
    obj.node.loc().err(errors, message);
}

/// The bytes of a file the config names, or an error at the place that named it.
pub(crate) fn read(
    file: &FileRef,
    loader: &dyn Loader,
    what: &str,
    errors: &mut Errors,
) -> Option<Vec<u8>> {
    match loader.read(&file.path) {
        Ok(b) => Some(b),
        Err(e) => {
            file.loc.err(
                errors,
                format!("cannot read the {what} `{}`: {e}", file.path.display()),
            );
            None
        }
    }
}

/// The `CertSet` of one HTTPS listener: its own certificate (the default, for no SNI or an
/// unknown one) and every custom domain with a certificate (`domains`: names and spec).
/// Every unreadable file and every unusable certificate, key or truststore is an error
/// naming the file.
pub(crate) fn build(
    listener: &ListenerTlsSpec,
    domains: &[(String, &DomainTlsSpec)],
    loader: &dyn Loader,
    errors: &mut Errors,
) -> Option<Arc<CertSet>> {
    let before = errors.len();
    // (spec entry → its files, for naming them in errors)
    let mut files: Vec<(CertFiles, Option<FileRef>)> = Vec::new();
    let mut entries: Vec<DomainTls> = Vec::new();
    let suites = listener.cipher_suites.as_ref().map(|(s, _)| s.clone());
    if let Some(c) = &listener.certificate {
        let chain = read(&c.chain, loader, "certificate chain", errors);
        let key = read(&c.key, loader, "private key", errors);
        if let (Some(chain_pem), Some(key_pem)) = (chain, key) {
            entries.push(DomainTls {
                names: Vec::new(),
                chain_pem,
                key_pem,
                truststore_pem: None,
                policy: listener.policy,
                cipher_suites: suites.clone(),
            });
            files.push((c.clone(), None));
        }
    }
    for (name, d) in domains {
        let chain = read(&d.certificate.chain, loader, "certificate chain", errors);
        let key = read(&d.certificate.key, loader, "private key", errors);
        let trust = match &d.truststore {
            Some(t) => read(t, loader, "truststore", errors).map(Some),
            None => Some(None),
        };
        if let (Some(chain_pem), Some(key_pem), Some(truststore_pem)) = (chain, key, trust) {
            entries.push(DomainTls {
                names: vec![name.clone()],
                chain_pem,
                key_pem,
                truststore_pem,
                policy: d.policy,
                cipher_suites: suites.clone(),
            });
            files.push((d.certificate.clone(), d.truststore.clone()));
        }
    }
    if errors.len() > before {
        return None;
    }
    if entries.is_empty() {
        listener.loc.err(
            errors,
            "an HTTPS listener needs a certificate: its own `certificate`, or a custom domain's",
        );
        return None;
    }
    match CertSet::new(&entries, 0, listener.unknown_sni) {
        Ok(set) => Some(Arc::new(set)),
        Err(list) => {
            for e in list {
                report(&e, listener, &files, errors);
            }
            None
        }
    }
}

fn report(
    e: &CertError,
    listener: &ListenerTlsSpec,
    files: &[(CertFiles, Option<FileRef>)],
    errors: &mut Errors,
) {
    let entry = e.entry.and_then(|i| files.get(i));
    let (loc, file) = match (e.field, entry) {
        (CertField::Chain, Some((c, _))) => (&c.chain.loc, Some(&c.chain.path)),
        (CertField::Key, Some((c, _))) => (&c.key.loc, Some(&c.key.path)),
        (CertField::Truststore, Some((_, Some(t)))) => (&t.loc, Some(&t.path)),
        (CertField::CipherSuites, _) => (
            listener
                .cipher_suites
                .as_ref()
                .map_or(&listener.loc, |(_, l)| l),
            None,
        ),
        _ => (&listener.loc, None),
    };
    // At the field itself, the entry and field prefixes would only repeat the location.
    let message = match file {
        Some(f) => format!("`{}`: {}", f.display(), e.detail()),
        None if e.field == CertField::CipherSuites => e.detail().to_string(),
        None => e.to_string(),
    };
    loc.err(errors, message);
}
