//! Certificate selection by SNI, protocol versions, cipher suites, ALPN and mutual TLS.

use std::io::Read;
use std::time::Duration;

use monoio::io::{AsyncWriteRent, AsyncWriteRentExt};
use rustls::pki_types::CertificateDer;
use rustls::{CipherSuite, ProtocolVersion};

use super::*;
use crate::dataplane::tls::ClientCertInfo;

const DEADLINE: Duration = Duration::from_secs(5);
const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// What the server side saw of a handshake.
#[derive(Debug)]
struct Seen {
    entry: usize,
    sni: Option<String>,
    version: Option<ProtocolVersion>,
    suite: Option<CipherSuite>,
    alpn: Option<Vec<u8>>,
    client_cert: Option<ClientCertInfo>,
}

/// Records the session, answers `ok` and closes with `close_notify`.
async fn summarize(r: Result<TlsStream, HandshakeError>) -> Result<Seen, String> {
    let mut s = r.map_err(|e| format!("{e:?}"))?;
    let seen = Seen {
        entry: s.entry(),
        sni: s.sni().map(str::to_owned),
        version: s.protocol_version(),
        suite: s.negotiated_cipher_suite().map(|c| c.suite()),
        alpn: s.alpn().map(<[u8]>::to_vec),
        client_cert: s.client_cert(),
    };
    let (res, _) = s.write_all(b"ok".to_vec()).await;
    res.map_err(|e| e.to_string())?;
    s.shutdown().await.map_err(|e| e.to_string())?;
    Ok(seen)
}

/// Handshake, then read the server's `ok` to its `close_notify`.
fn fetch(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    sni: &str,
) -> std::io::Result<(CertificateDer<'static>, Vec<u8>)> {
    let mut c = connect(addr, config, sni)?;
    let mut body = Vec::new();
    c.read_to_end(&mut body)?;
    Ok((served(&c), body))
}

#[test]
fn sni_selects_exact_wildcard_and_default_certificates() {
    let pki = Pki::new();
    let server = Server::start(
        pki.cert_set(UnknownSni::ServeDefault),
        9,
        DEADLINE,
        summarize,
    );
    let config = client_config(&pki.ca.cert, BOTH, None);
    for (sni, entry) in [
        ("api.example.com", API),
        ("a.example.net", WILD),
        ("API.Example.COM", API),
        ("default.test", DEFAULT),
    ] {
        let (cert, body) = fetch(server.addr, config.clone(), sni).unwrap();
        assert_eq!(cert, pki.servers[entry].cert, "{sni}");
        assert_eq!(body, b"ok");
        let seen = server.next().unwrap();
        assert_eq!(seen.entry, entry, "{sni}");
        assert_eq!(seen.sni.as_deref(), Some(sni.to_ascii_lowercase().as_str()));
    }
    // Two labels under the wildcard, the wildcard's apex, an unknown name: the default
    // certificate (a client that checks names would then refuse it).
    let any = insecure_config(BOTH);
    for sni in ["a.b.example.net", "example.net", "unknown.test"] {
        let (cert, body) = fetch(server.addr, any.clone(), sni).unwrap();
        assert_eq!(cert, pki.servers[DEFAULT].cert, "{sni}");
        assert_eq!(body, b"ok");
        let seen = server.next().unwrap();
        assert_eq!((seen.entry, seen.sni.as_deref()), (DEFAULT, Some(sni)));
    }
    assert!(fetch(server.addr, config.clone(), "unknown.test").is_err());
    server.next().unwrap_err();
    // No SNI at all.
    let mut no_sni = (*config).clone();
    no_sni.enable_sni = false;
    let (cert, _) = fetch(server.addr, Arc::new(no_sni), "default.test").unwrap();
    assert_eq!(cert, pki.servers[DEFAULT].cert);
    let seen = server.next().unwrap();
    assert_eq!((seen.entry, seen.sni), (DEFAULT, None));
}

#[test]
fn refused_unknown_sni_fails_the_handshake() {
    let pki = Pki::new();
    let server = Server::start(pki.cert_set(UnknownSni::Refuse), 3, DEADLINE, summarize);
    let config = client_config(&pki.ca.cert, BOTH, None);
    let err = fetch(server.addr, config.clone(), "unknown.test").unwrap_err();
    assert!(
        err.to_string().contains("alert"),
        "the client got an alert: {err}"
    );
    assert_eq!(server.next().unwrap_err(), "RefusedSni");

    let mut no_sni = (*config).clone();
    no_sni.enable_sni = false;
    assert!(fetch(server.addr, Arc::new(no_sni), "default.test").is_err());
    assert_eq!(server.next().unwrap_err(), "RefusedSni");

    // Known names are still served.
    let (cert, _) = fetch(server.addr, config, "x.example.net").unwrap();
    assert_eq!(cert, pki.servers[WILD].cert);
    assert_eq!(server.next().unwrap().entry, WILD);
}

#[test]
fn tls13_and_tls12_negotiate_with_alpn_http1() {
    let pki = Pki::new();
    let server = Server::start(
        pki.cert_set(UnknownSni::ServeDefault),
        4,
        DEADLINE,
        summarize,
    );
    for (versions, want) in [
        (TLS13, ProtocolVersion::TLSv1_3),
        (TLS12, ProtocolVersion::TLSv1_2),
    ] {
        // ECDSA and RSA certificates alike.
        for sni in ["api.example.com", "rsa.example.net"] {
            let config = client_config(&pki.ca.cert, versions, None);
            let mut c = connect(server.addr, config, sni).unwrap();
            assert_eq!(c.conn.protocol_version(), Some(want));
            let mut body = Vec::new();
            c.read_to_end(&mut body).unwrap();
            assert_eq!(body, b"ok");
            let seen = server.next().unwrap();
            assert_eq!(seen.version, Some(want), "{sni}");
            assert_eq!(seen.alpn.as_deref(), Some(&b"http/1.1"[..]));
        }
    }
}

#[test]
fn explicit_cipher_suite_list_is_honoured() {
    let pki = Pki::new();
    let mut domains = pki.domains();
    domains[API].cipher_suites = Some(vec![
        "TLS13_CHACHA20_POLY1305_SHA256".into(),
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256".into(),
    ]);
    let certs = CertSet::new(&domains, DEFAULT, UnknownSni::ServeDefault).unwrap();
    let server = Server::start(certs, 5, DEADLINE, summarize);
    // rustls clients prefer AES-GCM; the server's list leaves only ChaCha20.
    for (versions, want) in [
        (TLS13, CipherSuite::TLS13_CHACHA20_POLY1305_SHA256),
        (
            TLS12,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
    ] {
        fetch(
            server.addr,
            client_config(&pki.ca.cert, versions, None),
            "api.example.com",
        )
        .unwrap();
        assert_eq!(server.next().unwrap().suite, Some(want));
    }
    // Other entries keep the defaults (AES-GCM first).
    fetch(
        server.addr,
        client_config(&pki.ca.cert, TLS13, None),
        "default.test",
    )
    .unwrap();
    assert_eq!(
        server.next().unwrap().suite,
        Some(CipherSuite::TLS13_AES_256_GCM_SHA384)
    );
    // A client offering only suites outside the list cannot connect.
    for versions in [TLS13, TLS12] {
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites.retain(|s| {
            !matches!(
                s.suite(),
                CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
                    | CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            )
        });
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca.cert.clone()).unwrap();
        let config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        assert!(fetch(server.addr, Arc::new(config), "api.example.com").is_err());
        assert!(server.next().unwrap_err().contains("Tls("));
    }
}

fn mtls_set(pki: &Pki) -> CertSet {
    let mut domains = pki.domains();
    domains[API].truststore_pem = Some(pki.ca.pem.clone().into_bytes());
    CertSet::new(&domains, DEFAULT, UnknownSni::ServeDefault).unwrap()
}

#[test]
fn mtls_accepts_a_ca_signed_client_certificate() {
    let pki = Pki::new();
    let certs = mtls_set(&pki);
    assert!(certs.is_mtls(API) && !certs.is_mtls(DEFAULT));
    let server = Server::start(certs, 2, DEADLINE, summarize);
    let client = pki.ca.client("client.example.com", |p| {
        p.serial_number = Some(rcgen::SerialNumber::from_slice(&[1]));
    });
    for versions in [TLS13, TLS12] {
        let config = client_config(&pki.ca.cert, versions, Some(&client));
        let (_, body) = fetch(server.addr, config, "api.example.com").unwrap();
        assert_eq!(body, b"ok");
        let info = server.next().unwrap().client_cert.expect("clientCert");
        assert_eq!(info.subject_dn, "C=US,O=Example,CN=client.example.com");
        assert_eq!(info.issuer_dn, "O=Tollgate Tests,CN=Tollgate Test CA");
        assert_eq!(info.serial_number, "1");
        assert_eq!(info.not_before, "Aug 29 00:00:00 2020 GMT");
        assert_eq!(info.not_after, "Aug  5 00:00:00 2120 GMT");
        assert_eq!(info.client_cert_pem, client.cert_pem.replace('\r', ""));
    }
}

#[test]
fn mtls_rejects_missing_untrusted_and_expired_client_certificates() {
    let pki = Pki::new();
    let server = Server::start(mtls_set(&pki), 8, DEADLINE, summarize);
    let untrusted = pki.other_ca.client("client.example.com", |_| {});
    let expired = pki.ca.client("client.example.com", |p| {
        p.not_before = rcgen::date_time_ymd(2019, 1, 1);
        p.not_after = rcgen::date_time_ymd(2020, 1, 1);
    });
    let cases: [(Option<&Leaf>, &str); 3] = [
        (None, "NoCertificatesPresented"),
        (Some(&untrusted), "UnknownIssuer"),
        (Some(&expired), "Expired"),
    ];
    for versions in [TLS13, TLS12] {
        for (auth, why) in cases {
            let config = client_config(&pki.ca.cert, versions, auth);
            assert!(
                fetch(server.addr, config, "api.example.com").is_err(),
                "{why}"
            );
            let err = server.next().unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
    }
    // The same untrusted certificate is fine where no truststore is configured.
    let config = client_config(&pki.ca.cert, TLS13, Some(&untrusted));
    let (_, body) = fetch(server.addr, config, "x.example.net").unwrap();
    assert_eq!(body, b"ok");
    assert!(server.next().unwrap().client_cert.is_none());
}
