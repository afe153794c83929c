//! `CertSet`: name lookup and the errors config validation reports.

use super::*;
use crate::dataplane::tls::{CertError, CertErrorKind, CertField};

fn errors(domains: &[DomainTls]) -> Vec<CertError> {
    match CertSet::new(domains, DEFAULT, UnknownSni::ServeDefault) {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    }
}

#[test]
fn names_exact_first_then_one_label_wildcards() {
    let pki = Pki::new();
    let mut domains = pki.domains();
    domains[DEFAULT].names.push("exact.example.net".into());
    let set = CertSet::new(&domains, DEFAULT, UnknownSni::ServeDefault).unwrap();
    assert_eq!(set.names_of("api.example.com"), Some(API));
    assert_eq!(set.names_of("API.EXAMPLE.COM."), Some(API));
    assert_eq!(set.names_of("a.example.net"), Some(WILD));
    assert_eq!(set.names_of("A-1.Example.Net"), Some(WILD));
    // An exact name beats the wildcard that also matches it.
    assert_eq!(set.names_of("exact.example.net"), Some(DEFAULT));
    assert_eq!(set.names_of("a.b.example.net"), None);
    assert_eq!(set.names_of("example.net"), None);
    assert_eq!(set.names_of("other.test"), None);
    assert_eq!(set.names_of(""), None);
    assert_eq!(set.names_of("."), None);
    assert_eq!(set.names_of("ä.example.net"), None);
    assert_eq!(set.names_of(&"a".repeat(300)), None);
    assert_eq!(set.entry_for_sni(Some("nope.test")), Some(DEFAULT));
    assert_eq!(set.entry_for_sni(None), Some(DEFAULT));
    let refusing = CertSet::new(&domains, DEFAULT, UnknownSni::Refuse).unwrap();
    assert_eq!(refusing.entry_for_sni(Some("nope.test")), None);
    assert_eq!(refusing.entry_for_sni(None), None);
    assert_eq!(refusing.entry_for_sni(Some("x.example.net")), Some(WILD));
}

#[test]
fn bad_pem_mismatched_key_and_unknown_suite_name_the_entry_and_field() {
    let pki = Pki::new();
    let mut domains = pki.domains();
    domains[DEFAULT].chain_pem = b"-----BEGIN CERTIFICATE-----\nnot base64!\n".to_vec();
    domains[API].key_pem = pki.servers[DEFAULT].key_pem.clone().into_bytes();
    domains[WILD].cipher_suites = Some(vec![
        "TLS13_AES_128_GCM_SHA256".into(),
        "TLS_RSA_WITH_RC4_128_MD5".into(),
    ]);
    let errs = errors(&domains);
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert_eq!(
        (errs[0].entry, errs[0].field),
        (Some(DEFAULT), CertField::Chain)
    );
    assert!(matches!(errs[0].kind, CertErrorKind::NoCertificate(_)));
    assert_eq!(
        (errs[1].entry, errs[1].field, &errs[1].kind),
        (Some(API), CertField::Key, &CertErrorKind::KeyMismatch)
    );
    assert_eq!(
        errs[2].kind,
        CertErrorKind::UnknownCipherSuite("TLS_RSA_WITH_RC4_128_MD5".into())
    );
    assert_eq!(
        errs[1].to_string(),
        "domain entry 1: private key: the private key does not match the certificate"
    );
    assert!(errs[2].to_string().contains("`TLS_RSA_WITH_RC4_128_MD5`"));
}

#[test]
fn other_input_errors() {
    let pki = Pki::new();
    let kind = |edit: &dyn Fn(&mut Vec<DomainTls>)| {
        let mut domains = pki.domains();
        edit(&mut domains);
        let errs = errors(&domains);
        assert_eq!(errs.len(), 1, "{errs:?}");
        (errs[0].field, errs[0].kind.clone())
    };
    let (field, k) = kind(&|d| d[API].chain_pem = b"no pem here".to_vec());
    assert_eq!(field, CertField::Chain);
    assert!(matches!(k, CertErrorKind::NoCertificate(_)), "{k:?}");
    let (field, k) = kind(&|d| d[API].key_pem = pki.servers[API].cert_pem.clone().into_bytes());
    assert_eq!(field, CertField::Key);
    assert!(matches!(k, CertErrorKind::NoKey(_)), "{k:?}");
    let (_, k) = kind(&|d| d[API].truststore_pem = Some(b"nothing".to_vec()));
    assert_eq!(k, CertErrorKind::EmptyTruststore);
    let (_, k) = kind(&|d| d[API].cipher_suites = Some(vec![]));
    assert!(matches!(k, CertErrorKind::NoCipherSuite(_)), "{k:?}");
    let (_, k) = kind(&|d| d[API].names.push("a.*.example.com".into()));
    assert_eq!(k, CertErrorKind::BadName("a.*.example.com".into()));
    let (_, k) = kind(&|d| d[WILD].names.push("API.example.com.".into()));
    assert!(
        matches!(k, CertErrorKind::DuplicateName { other: API, .. }),
        "{k:?}"
    );
    let errs = CertSet::new(&pki.domains(), 3, UnknownSni::Refuse)
        .err()
        .unwrap();
    assert_eq!(errs[0].kind, CertErrorKind::NoSuchDefault(3));
}

#[test]
fn tls12_only_suites_still_build_both_policies() {
    let pki = Pki::new();
    let mut domains = pki.domains();
    domains[API].policy = SecurityPolicy::Tls10;
    domains[API].cipher_suites = Some(vec!["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into()]);
    let set = CertSet::new(&domains, DEFAULT, UnknownSni::ServeDefault).unwrap();
    assert_eq!(set.len(), 3);
    let versions: Vec<_> = set
        .config(API)
        .crypto_provider()
        .cipher_suites
        .iter()
        .map(|s| s.version().version)
        .collect();
    assert_eq!(versions, [rustls::ProtocolVersion::TLSv1_2]);
}
