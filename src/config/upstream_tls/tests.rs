//! `server.upstreamTls` and `https://` upstreams: the client config alone, then through `load`.

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::ServerName;
use serde_json::{Value, json};

use super::*;
use crate::config::tests::{doc, errors_of, load_files, op, proxy};
use crate::config::{Integration, Scheme, Snapshot};

/// A self-signed certificate (a CA when `ca`) and its key, in PEM.
fn cert(name: &str, ca: bool) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

fn input<'a>(
    roots: Option<(&'a str, bool)>,
    client: Option<(&'a str, &'a str)>,
) -> ClientTlsInput<'a> {
    ClientTlsInput {
        roots: roots.map(|(r, strict)| (r.as_bytes(), strict)),
        client_certificate: client.map(|(c, k)| (c.as_bytes(), k.as_bytes())),
        insecure_skip_verify: false,
    }
}

fn err(r: Result<ClientConfig, (Input, String)>) -> (Input, String) {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn client_config_roots_and_alpn() {
    let (ca, _) = cert("Test CA", true);
    let config = client_config(&input(Some((&ca, true)), None)).unwrap();
    assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    assert!(!config.client_auth_cert_resolver.has_certs());

    let broken = format!("{ca}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    // A configured bundle must be clean; the system bundle skips what it cannot use.
    assert_eq!(
        err(client_config(&input(Some((&broken, true)), None))).0,
        Input::Roots
    );
    assert!(client_config(&input(Some((&broken, false)), None)).is_ok());
    let (input_kind, message) = err(client_config(&input(Some(("", true)), None)));
    assert_eq!(
        (input_kind, message.as_str()),
        (Input::Roots, "no CA certificate in the bundle")
    );
    // insecureSkipVerify needs no roots.
    let mut skip = input(None, None);
    skip.insecure_skip_verify = true;
    assert!(client_config(&skip).is_ok());
    assert_eq!(err(client_config(&input(None, None))).0, Input::Roots);
}

#[test]
fn client_config_client_certificate() {
    let (ca, _) = cert("Test CA", true);
    let (chain, key) = cert("client", false);
    let (_, other_key) = cert("other", false);
    let config = client_config(&input(Some((&ca, true)), Some((&chain, &key)))).unwrap();
    assert!(config.client_auth_cert_resolver.has_certs());
    let (i, m) = err(client_config(&input(
        Some((&ca, true)),
        Some((&chain, &other_key)),
    )));
    assert_eq!(
        (i, m.as_str()),
        (Input::Key, "the private key does not match the certificate")
    );
    assert_eq!(
        err(client_config(&input(Some((&ca, true)), Some((&key, &key))))).0,
        Input::Chain
    );
    assert_eq!(
        err(client_config(&input(
            Some((&ca, true)),
            Some((&chain, &chain))
        )))
        .0,
        Input::Key
    );
}

#[test]
fn server_names() {
    let name = |h: &str| server_name(h).map(|n| n.to_str().into_owned());
    assert!(matches!(
        server_name("api.example.com"),
        Some(ServerName::DnsName(_))
    ));
    assert!(matches!(
        server_name("127.0.0.1"),
        Some(ServerName::IpAddress(_))
    ));
    assert!(matches!(server_name("::1"), Some(ServerName::IpAddress(_))));
    assert_eq!(name("backend.local").as_deref(), Some("backend.local"));
}

fn gateway(upstream_tls: Value, uri: &str) -> Value {
    json!({
        "server": {"upstreamTls": upstream_tls},
        "apis": [{"id": "a", "definition": doc(json!({
            "/s": {"get": op(proxy(uri))},
            "/p": {"get": op(proxy("http://backend.local/p"))}
        }))}],
        "stages": [{"apiId": "a", "stageName": "prod"}]
    })
}

fn upstream_of(s: &Snapshot, route: usize) -> &crate::config::Upstream {
    match &s.stages[0].integrations[route] {
        Integration::HttpProxy(h) => &s.upstreams[h.upstream.0 as usize],
        _ => panic!("not an HTTP proxy"),
    }
}

#[test]
fn https_upstreams_compile() {
    let (ca, _) = cert("Test CA", true);
    let (chain, key) = cert("client", false);
    let files = [
        ("ca.pem", ca.as_str()),
        ("client.pem", chain.as_str()),
        ("client.key", key.as_str()),
    ];
    let tls = json!({"caBundle": "ca.pem", "clientCertificate": {"certificateChain": "client.pem", "privateKey": "client.key"}});
    let s = load_files(&gateway(tls, "https://Backend.Local/s"), &files).unwrap();
    let secure = upstream_of(&s, 0);
    let plain = upstream_of(&s, 1);
    assert_eq!(
        (secure.scheme, secure.host.as_str(), secure.port),
        (Scheme::Https, "backend.local", 443)
    );
    assert_eq!(&*secure.host_header, b"backend.local");
    let target = secure.tls.as_ref().unwrap();
    assert_eq!(target.server_name.to_str(), "backend.local");
    assert!(target.config.client_auth_cert_resolver.has_certs());
    assert!(plain.tls.is_none());
    assert_ne!(secure.key, plain.key);

    // Other TLS settings: another pool key for the same https upstream, the same for plain.
    let s2 = load_files(
        &gateway(json!({"caBundle": "ca.pem"}), "https://backend.local/s"),
        &files,
    )
    .unwrap();
    assert_ne!(upstream_of(&s2, 0).key, secure.key);
    assert_eq!(upstream_of(&s2, 1).key, plain.key);
    assert!(
        !upstream_of(&s2, 0)
            .tls
            .as_ref()
            .unwrap()
            .config
            .client_auth_cert_resolver
            .has_certs()
    );

    // An IP literal: verified as an IP address, no SNI; a non-default port in Host.
    let s3 = load_files(
        &gateway(json!({"caBundle": "ca.pem"}), "https://127.0.0.1:8443/s"),
        &files,
    )
    .unwrap();
    let ip = upstream_of(&s3, 0);
    assert!(matches!(
        ip.tls.as_ref().unwrap().server_name,
        ServerName::IpAddress(_)
    ));
    assert_eq!(&*ip.host_header, b"127.0.0.1:8443");

    let skip = load_files(
        &gateway(json!({"insecureSkipVerify": true}), "https://b/s"),
        &[],
    );
    assert!(skip.is_ok());
}

#[test]
fn upstream_tls_errors_name_the_file() {
    let (ca, _) = cert("Test CA", true);
    let (chain, key) = cert("client", false);
    let (_, other_key) = cert("other", false);
    let tls = json!({"caBundle": "missing.pem", "clientCertificate": {"certificateChain": "client.pem", "privateKey": "other.key"}});
    let files = [
        ("ca.pem", ca.as_str()),
        ("client.pem", chain.as_str()),
        ("client.key", key.as_str()),
        ("other.key", other_key.as_str()),
    ];
    let e = errors_of(load_files(&gateway(tls, "https://b/s"), &files));
    assert_eq!(
        e,
        vec![
            "gateway.json: $.server.upstreamTls.caBundle: cannot read the CA bundle `/cfg/missing.pem`: no such file"
        ]
    );
    let tls = json!({"caBundle": "ca.pem", "clientCertificate": {"certificateChain": "client.pem", "privateKey": "other.key"}});
    let e = errors_of(load_files(&gateway(tls, "https://b/s"), &files));
    assert_eq!(
        e,
        vec![
            "gateway.json: $.server.upstreamTls.clientCertificate.privateKey: `/cfg/other.key`: the private key does not match the certificate"
        ]
    );
    let tls = json!({"caBundle": "client.key", "insecureSkipVerify": "yes", "extra": 1});
    let e = errors_of(load_files(&gateway(tls, "https://b/s"), &files));
    assert_eq!(
        e,
        vec![
            "gateway.json: $.server.upstreamTls.insecureSkipVerify: expected a boolean, found a string",
            "gateway.json: $.server.upstreamTls.extra: unknown property `extra`",
            "gateway.json: $.server.upstreamTls.caBundle: `/cfg/client.key`: no CA certificate in the bundle",
        ]
    );

    // No caBundle and no system bundle (the in-memory loader has none): only an https://
    // integration is refused.
    let e = errors_of(load_files(&gateway(Value::Null, "https://b/s"), &[]));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("stage `prod`: an https:// integration needs CA certificates: set `server.upstreamTls.caBundle`"),
        "{e:?}"
    );
    assert!(load_files(&gateway(Value::Null, "http://b/s"), &[]).is_ok());
}

/// Remembers every path it was asked for.
struct Recording<'a>(&'a dyn Loader, std::cell::RefCell<Vec<std::path::PathBuf>>);

impl Loader for Recording<'_> {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.1.borrow_mut().push(path.to_path_buf());
        self.0.read(path)
    }
}

#[test]
fn the_system_bundle_is_read_only_when_an_integration_may_be_https() {
    let reads = |uri: &str| {
        let gateway = serde_json::to_vec(&gateway(Value::Null, uri)).unwrap();
        let mem = crate::config::tests::MemLoader(vec![("/cfg/gateway.json".into(), gateway)]);
        let loader = Recording(&mem, Default::default());
        let result =
            crate::config::load_with_env(Path::new("/cfg/gateway.json"), &loader, 1, &|_| None);
        let system = loader
            .1
            .borrow()
            .iter()
            .filter(|p| {
                SYSTEM_CA_BUNDLES
                    .iter()
                    .any(|s| Path::new(s) == p.as_path())
            })
            .count();
        (result.map(|s| s.server.upstream_tls.is_some()), system)
    };
    // Plain: not read, nothing kept.
    let (result, system) = reads("http://b/s");
    assert_eq!((result.ok(), system), (Some(false), 0));
    // https:// (or a scheme from a stage variable): every candidate is tried (none exists in
    // memory, so the https integration is refused).
    let (result, system) = reads("https://b/s");
    assert!(result.is_err());
    assert_eq!(system, SYSTEM_CA_BUNDLES.len());
}

/// API Gateway's per-integration `tlsConfig.insecureSkipVerification`: no CA bundle needed,
/// and its own upstream (pool), apart from a verifying integration of the same backend.
#[test]
fn an_integration_may_skip_verification_on_its_own() {
    let mut skip = proxy("https://b/s");
    skip["tlsConfig"] = json!({"insecureSkipVerification": true});
    let config = |routes: Value| {
        json!({
            "apis": [{"id": "a", "definition": doc(routes)}],
            "stages": [{"apiId": "a", "stageName": "prod"}]
        })
    };
    // No bundle anywhere (the in-memory loader has no system bundle): skipping still works.
    let s = load_files(&config(json!({"/s": {"get": op(skip.clone())}})), &[]).unwrap();
    assert!(upstream_of(&s, 0).tls.is_some());

    let (ca, _) = cert("Test CA", true);
    let mut both = config(json!({
        "/s": {"get": op(skip.clone())},
        "/v": {"get": op(proxy("https://b/v"))}
    }));
    both["server"] = json!({"upstreamTls": {"caBundle": "ca.pem"}});
    let s = load_files(&both, &[("ca.pem", ca.as_str())]).unwrap();
    let (skipping, verifying) = (upstream_of(&s, 0), upstream_of(&s, 1));
    assert_eq!(
        (&*skipping.host, skipping.port),
        (&*verifying.host, verifying.port)
    );
    assert_ne!(skipping.key, verifying.key, "separate pools");

    let mut bad = skip;
    bad["tlsConfig"] = json!({"insecureSkipVerification": "yes", "serverNameToVerify": "b"});
    let e = errors_of(load_files(&config(json!({"/s": {"get": op(bad)}})), &[]));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].contains("insecureSkipVerification: expected a boolean"),
        "{e:?}"
    );
    assert!(
        e[1].contains("serverNameToVerify: `serverNameToVerify` applies to private integrations"),
        "{e:?}"
    );
}
