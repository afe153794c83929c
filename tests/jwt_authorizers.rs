//! JWT authorizers end to end (issue 8): real tokens from PyJWT (PyPI, with `cryptography`)
//! made by `scripts/jwt_issuer.py`, a local OpenID provider that also serves the discovery
//! document and the JWKS the gateway fetches (started per test on loopback, killed by PID).
//! HTTP APIs' `jwt` authorizers (discovery, ES256 and RS256, scopes, refusals with API
//! Gateway's bodies and `www-authenticate`), key rotation while running, RELIABILITY A01,
//! A05 (`jku` is never fetched) and A07 (claim headers replace the client's), REST Cognito user
//! pools (with `jwksUri`), `jwksFile` with the provider gone, a reload keeping the keys of an
//! unchanged authorizer, and an `https://` JWKS verified with the upstream CA bundle (an
//! untrusted one fails closed).
//!
//! Needs `python3` with `PyJWT` and `cryptography`, which `scripts/test.sh` installs. Without
//! them each test says it did not run and passes — except under `CI`, where it fails.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::http::request;
use support::pki::Pki;
use support::*;

const AUDIENCE: &str = "tollgate-test";
const POOL_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test";

/// The provider process; killed by its PID on drop.
struct Issuer {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
}

impl Issuer {
    /// `None` (after saying so) when python3, PyJWT or cryptography is missing.
    fn start() -> Option<Issuer> {
        if !python_with("jwt_authorizers", &["jwt", "cryptography"]) {
            return None;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/jwt_issuer.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start jwt_issuer.py");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("issuer port");
        let port = line.trim().parse().expect("issuer prints its port");
        Some(Issuer {
            child,
            _stdin: stdin,
            port,
        })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let mut c = Client::connect(self.port);
        let r = c.roundtrip(&request(
            method,
            path,
            &[("Connection", "close")],
            body.as_deref().map(str::as_bytes),
        ));
        assert_eq!(r.status, 200, "issuer {path}: {}", r.body_str());
        r.json()
    }

    fn sign(&self, kid: &str, claims: Value) -> String {
        self.sign_with(kid, claims, json!({}))
    }

    fn sign_with(&self, kid: &str, claims: Value, headers: Value) -> String {
        let v = self.call(
            "POST",
            "/sign",
            Some(json!({ "kid": kid, "claims": claims, "headers": headers })),
        );
        v["token"].as_str().unwrap().to_string()
    }

    fn fetches(&self) -> u64 {
        self.call("GET", "/fetches", None)["fetches"]
            .as_u64()
            .unwrap()
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(iss: &str, sub: &str) -> Value {
    json!({
        "iss": iss, "aud": AUDIENCE, "sub": sub, "email": format!("{sub}@example.com"),
        "iat": now() - 10, "exp": now() + 600, "scope": "read"
    })
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn proxy(up: &Upstream, params: Value) -> Value {
    json!({
        "type": "http_proxy", "httpMethod": "ANY", "uri": up.uri("/backend"),
        "payloadFormatVersion": "1.0", "requestParameters": params
    })
}

/// HTTP API `japi` (`$default` stage): `/pets` needs `myJwt`, `/admin` needs scope `admin`,
/// `/open` needs nothing. The backend gets `sub` and `email` as headers.
fn http_config(iss: &str, up: &Upstream, extra: Value) -> Value {
    let mapped = json!({
        "overwrite:header.X-Auth-User": "$context.authorizer.claims.sub",
        "overwrite:header.X-Email": "$context.authorizer.claims.email"
    });
    let op = |security: Value| {
        let mut m = json!({ "x-amazon-apigateway-integration": proxy(up, mapped.clone()) });
        if !security.is_null() {
            m["security"] = security;
        }
        m
    };
    let mut config = json!({
        "server": { "defaultApi": { "apiId": "japi" } },
        "apis": [{ "id": "japi", "protocolType": "HTTP", "definition": {
            "openapi": "3.0.1",
            "info": { "title": "jwt", "version": "1" },
            "components": { "securitySchemes": { "myJwt": {
                "type": "oauth2", "flows": {},
                "x-amazon-apigateway-authorizer": {
                    "type": "jwt",
                    "identitySource": "$request.header.Authorization",
                    "jwtConfiguration": { "issuer": iss, "audience": [AUDIENCE] }
                }
            } } },
            "paths": {
                "/pets": { "get": op(json!([{ "myJwt": [] }])) },
                "/admin": { "get": op(json!([{ "myJwt": ["admin", "root"] }])) },
                "/open": { "get": op(Value::Null) }
            }
        } }],
        "stages": [{ "apiId": "japi", "stageName": "$default" }]
    });
    support::config::merge(&mut config, extra);
    config
}

fn get(gw: &Gateway, path: &str, headers: &[(&str, &str)]) -> Response {
    one_shot(gw, &request("GET", path, headers, None))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Polls until a request with `token` is let through (keys arrive off the request path).
fn wait_accepted(gw: &Gateway, path: &str, token: &str) -> Response {
    let auth = bearer(token);
    let mut last = None;
    let ok = wait_until(Duration::from_secs(10), || {
        let r = get(gw, path, &[("Authorization", &auth)]);
        let done = r.status == 200;
        last = Some(r);
        done
    });
    let r = last.unwrap();
    assert!(
        ok,
        "never accepted: {} {}\n{}",
        r.status,
        r.body_str(),
        gw.stderr()
    );
    r
}

fn assert_unauthorized_http(r: &Response, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.body_str());
    assert_eq!(r.body, br#"{"message":"Unauthorized"}"#, "{what}");
    assert!(r.headers.has("apigw-requestid"), "{what}");
}

#[test]
fn http_api_jwt_authorizer_accepts_valid_tokens_and_refuses_the_rest() {
    let Some(idp) = Issuer::start() else { return };
    let iss = idp.url();
    let up = Upstream::echo();
    let gw = Gateway::start(http_config(&iss, &up, json!({})));

    // ES256 via discovery ({issuer}/.well-known/openid-configuration → jwks_uri).
    let r = wait_accepted(&gw, "/pets", &idp.sign("ec1", claims(&iss, "alice")));
    assert_eq!(r.status, 200);
    let seen = up.requests();
    let req = seen.last().expect("the backend got the request");
    assert_eq!(req.headers.get("X-Auth-User").as_deref(), Some("alice"));
    assert_eq!(
        req.headers.get("X-Email").as_deref(),
        Some("alice@example.com")
    );

    // RS256.
    let r = get(
        &gw,
        "/pets",
        &[(
            "Authorization",
            &bearer(&idp.sign("rsa1", claims(&iss, "rita"))),
        )],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        up.requests()
            .last()
            .unwrap()
            .headers
            .get("X-Auth-User")
            .as_deref(),
        Some("rita")
    );

    // A route without an authorizer needs no token.
    assert_eq!(get(&gw, "/open", &[]).status, 200);

    let before = up.request_count();
    // No identity source: 401, no challenge recorded for it.
    let r = get(&gw, "/pets", &[]);
    assert_unauthorized_http(&r, "missing header");
    let r = get(&gw, "/pets", &[("Authorization", "Bearer ")]);
    assert_unauthorized_http(&r, "empty bearer");

    // A01: alg none in every spelling, with and without a signature segment.
    let payload = b64(claims(&iss, "admin").to_string().as_bytes());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes());
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
        ] {
            let r = get(&gw, "/pets", &[("Authorization", &bearer(&token))]);
            assert_unauthorized_http(&r, &format!("alg {alg}"));
        }
    }

    // Expired, wrong audience, wrong issuer, unknown kid: 401 with the challenge.
    let mut expired = claims(&iss, "bob");
    expired["exp"] = json!(now() - 120);
    let mut foreign_aud = claims(&iss, "bob");
    foreign_aud["aud"] = json!("someone-else");
    let cases = [
        ("expired", idp.sign("ec1", expired), "the token has expired"),
        ("wrong audience", idp.sign("ec1", foreign_aud), "audience"),
        (
            "wrong issuer",
            idp.sign("ec1", claims("http://127.0.0.1:1", "bob")),
            "issuer",
        ),
        ("unknown kid", idp.sign("ghost", claims(&iss, "bob")), "key"),
    ];
    for (what, token, description) in cases {
        let r = get(&gw, "/pets", &[("Authorization", &bearer(&token))]);
        assert_unauthorized_http(&r, what);
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with(r#"Bearer scope="" error="invalid_token" error_description=""#)
                && challenge.contains(description),
            "{what}: {challenge}"
        );
    }

    // Scopes: any one of the route's; none of them → 403.
    let r = get(
        &gw,
        "/admin",
        &[(
            "Authorization",
            &bearer(&idp.sign("ec1", claims(&iss, "bob"))),
        )],
    );
    assert_eq!(r.status, 403, "{}", r.body_str());
    assert_eq!(r.body, br#"{"message":"Forbidden"}"#);
    assert!(
        r.header("www-authenticate")
            .is_some_and(|c| c.contains(r#"error="insufficient_scope""#)),
        "{:?}",
        r.headers
    );
    assert_eq!(
        up.request_count(),
        before,
        "no refused request reached the backend"
    );
    let mut admin = claims(&iss, "root-user");
    admin["scope"] = json!("read root");
    let r = get(
        &gw,
        "/admin",
        &[("Authorization", &bearer(&idp.sign("ec1", admin)))],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
}

#[test]
fn a05_jku_and_x5u_are_never_fetched() {
    let Some(idp) = Issuer::start() else { return };
    let iss = idp.url();
    let up = Upstream::echo();
    let gw = Gateway::start(http_config(&iss, &up, json!({})));
    wait_accepted(&gw, "/pets", &idp.sign("ec1", claims(&iss, "alice")));

    let attacker = TcpListener::bind("127.0.0.1:0").unwrap();
    attacker.set_nonblocking(true).unwrap();
    let evil = format!("http://{}", attacker.local_addr().unwrap());
    for (kid, headers) in [
        ("ghost", json!({ "jku": format!("{evil}/jwks.json") })),
        ("ec1", json!({ "jku": format!("{evil}/jwks.json") })),
        ("ghost", json!({ "x5u": format!("{evil}/c.pem") })),
    ] {
        let token = idp.sign_with(kid, claims(&iss, "mallory"), headers.clone());
        let r = get(&gw, "/pets", &[("Authorization", &bearer(&token))]);
        assert_unauthorized_http(&r, &format!("{kid} {headers}"));
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        attacker.accept().is_err(),
        "the attacker's listener received a connection"
    );
}

#[test]
fn a07_claim_headers_replace_the_clients_copies() {
    let Some(idp) = Issuer::start() else { return };
    let iss = idp.url();
    let up = Upstream::echo();
    let gw = Gateway::start(http_config(&iss, &up, json!({})));
    let token = bearer(&idp.sign("ec1", claims(&iss, "bob")));
    wait_accepted(&gw, "/pets", &idp.sign("ec1", claims(&iss, "bob")));
    let r = get(
        &gw,
        "/pets",
        &[
            ("Authorization", &token),
            ("X-Auth-User", "admin"),
            ("x-auth-user", "admin"),
            ("X_Auth_User", "admin"),
            ("Connection", "X-Auth-User"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let req = up.requests().last().cloned().unwrap();
    let users: Vec<String> = req
        .headers
        .0
        .iter()
        .filter(|(n, _)| n.replace('_', "-").eq_ignore_ascii_case("x-auth-user"))
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert_eq!(users, ["bob"], "{:?}", req.headers);
}

#[test]
fn rotated_keys_are_picked_up_after_an_unknown_kid() {
    let Some(idp) = Issuer::start() else { return };
    let iss = idp.url();
    let up = Upstream::echo();
    let gw = Gateway::start(http_config(&iss, &up, json!({})));
    wait_accepted(&gw, "/pets", &idp.sign("ec1", claims(&iss, "alice")));
    let fetched = idp.fetches();

    // The provider publishes a new key; a token signed with it is refused until the
    // gateway's refresh (triggered by the unknown kid, off the request path) brings it in.
    idp.call("POST", "/rotate", Some(json!({})));
    let token = idp.sign("ec2", claims(&iss, "carol"));
    let r = get(&gw, "/pets", &[("Authorization", &bearer(&token))]);
    assert_unauthorized_http(&r, "before the refresh");
    let r = wait_accepted(&gw, "/pets", &token);
    assert_eq!(r.status, 200);
    assert!(idp.fetches() > fetched);
    assert_eq!(
        up.requests()
            .last()
            .unwrap()
            .headers
            .get("X-Auth-User")
            .as_deref(),
        Some("carol")
    );
    // The old key still works (both are published).
    let r = get(
        &gw,
        "/pets",
        &[(
            "Authorization",
            &bearer(&idp.sign("ec1", claims(&iss, "alice"))),
        )],
    );
    assert_eq!(r.status, 200);
}

#[test]
fn jwks_file_needs_no_network() {
    let Some(idp) = Issuer::start() else { return };
    let iss = idp.url();
    let jwks = idp.call("GET", "/jwks.json", None);
    let good = idp.sign("rsa1", claims(&iss, "dora"));
    let ghost = idp.sign("ghost", claims(&iss, "dora"));
    drop(idp); // the provider is gone: keys come from the file only
    let dir = TempDir::new("jwks");
    let file = dir.write_atomic("jwks.json", jwks.to_string().as_bytes());
    let up = Upstream::echo();
    let gw = Gateway::start(http_config(
        &iss,
        &up,
        json!({ "authorizers": [{
            "apiId": "japi", "name": "myJwt",
            "jwksFile": file.to_str().unwrap(), "leewaySeconds": 5
        }] }),
    ));
    let r = get(&gw, "/pets", &[("Authorization", &bearer(&good))]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        up.requests()
            .last()
            .unwrap()
            .headers
            .get("X-Auth-User")
            .as_deref(),
        Some("dora")
    );
    assert_unauthorized_http(
        &get(&gw, "/pets", &[("Authorization", &bearer(&ghost))]),
        "key not in the file",
    );
}

#[test]
fn rest_cognito_user_pool_authorizer() {
    let Some(idp) = Issuer::start() else { return };
    let up = Upstream::echo();
    let integration = json!({
        "type": "http_proxy", "httpMethod": "ANY", "uri": up.uri("/backend"),
        "requestParameters": {
            "integration.request.header.X-Auth-User": "context.authorizer.claims.sub"
        }
    });
    let config = json!({
        "server": { "defaultApi": { "apiId": "rapi", "stage": "prod" } },
        "apis": [{ "id": "rapi", "protocolType": "REST", "definition": {
            "swagger": "2.0",
            "info": { "title": "cognito", "version": "1" },
            "securityDefinitions": { "pool": {
                "type": "apiKey", "name": "Authorization", "in": "header",
                "x-amazon-apigateway-authtype": "cognito_user_pools",
                "x-amazon-apigateway-authorizer": {
                    "type": "cognito_user_pools",
                    "providerARNs": ["arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Test"]
                }
            } },
            "paths": {
                "/me": { "get": {
                    "security": [{ "pool": [] }],
                    "x-amazon-apigateway-integration": integration
                } }
            }
        } }],
        "stages": [{ "apiId": "rapi", "stageName": "prod" }],
        "authorizers": [{ "apiId": "rapi", "name": "pool", "jwksUri": format!("{}/jwks.json", idp.url()) }]
    });
    let gw = Gateway::start(config);
    // Any app client of the pool: `aud` is not checked against a list.
    let mut id_token = claims(POOL_ISSUER, "erin");
    id_token["aud"] = json!("some-app-client");
    let r = wait_accepted(&gw, "/me", &idp.sign("ec1", id_token));
    assert_eq!(r.status, 200);
    assert_eq!(
        up.requests()
            .last()
            .unwrap()
            .headers
            .get("X-Auth-User")
            .as_deref(),
        Some("erin")
    );
    // Another pool's token, and none at all: REST's 401.
    for (what, headers) in [
        (
            "wrong pool",
            vec![bearer(&idp.sign("ec1", claims(&idp.url(), "erin")))],
        ),
        ("missing", vec![]),
    ] {
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|v| ("Authorization", v.as_str()))
            .collect();
        let r = get(&gw, "/me", &h);
        assert_eq!(r.status, 401, "{what}");
        assert_eq!(r.body, br#"{"message":"Unauthorized"}"#, "{what}");
        assert_eq!(
            r.header("x-amzn-ErrorType").as_deref(),
            Some("UnauthorizedException"),
            "{what}"
        );
        assert!(!r.headers.has("www-authenticate"), "{what}");
    }
}

/// A reload that keeps an authorizer's issuer, audiences and leeway keeps its keys: with the
/// provider gone, tokens still pass after the reload. Changing the audience builds a new
/// verifier, which has no keys until a fetch succeeds: requests fail closed with 401.
#[test]
fn a_reload_keeps_the_keys_of_an_unchanged_authorizer() {
    let Some(idp) = Issuer::start() else { return };
    let iss = idp.url();
    let up = Upstream::echo();
    let config = http_config(&iss, &up, json!({}));
    let mut gw = Gateway::start(config.clone());
    let token = idp.sign("ec1", claims(&iss, "alice"));
    wait_accepted(&gw, "/pets", &token);
    drop(idp);

    // Unchanged authorizer, another route added: same verifier, same keys.
    let mut changed = config.clone();
    changed["apis"][0]["definition"]["paths"]["/extra"] =
        changed["apis"][0]["definition"]["paths"]["/open"].clone();
    let generation = gw.generation();
    gw.write_config(changed.clone());
    assert_eq!(gw.reload_post().status, 200);
    assert!(gw.generation() > generation);
    let r = get(&gw, "/pets", &[("Authorization", &bearer(&token))]);
    assert_eq!(r.status, 200, "{}", r.body_str());

    // Another audience: a new verifier without keys (the provider is gone) → 401.
    let jwt = &mut changed["apis"][0]["definition"]["components"]["securitySchemes"]["myJwt"];
    jwt["x-amazon-apigateway-authorizer"]["jwtConfiguration"]["audience"] =
        json!([AUDIENCE, "another"]);
    gw.write_config(changed);
    assert_eq!(gw.reload_post().status, 200);
    assert_unauthorized_http(
        &get(&gw, "/pets", &[("Authorization", &bearer(&token))]),
        "new verifier, no keys",
    );
}

/// An `https://` JWKS (as every real issuer serves it) is fetched over TLS and verified with
/// the certificates backends are verified against (`server.upstreamTls.caBundle`): the
/// backend here is `tools/upstream` with TLS, serving the provider's JWKS. One the CA does
/// not vouch for gives no keys: the route fails closed and the log says why.
#[test]
fn https_jwks_is_verified_with_the_upstream_ca_bundle() {
    let Some(idp) = Issuer::start() else { return };
    let iss = idp.url();
    let jwks = idp.call("GET", "/jwks.json", None);
    let token = idp.sign("rsa1", claims(&iss, "erin"));
    let pki = Pki::new("jwks-tls", "JWKS Test CA");
    pki.issue("idp", &pki.ca, &["localhost", "127.0.0.1"], "idp", false);
    pki.add_ca("other-ca.pem", "Some Other CA");
    let mut backend =
        ::upstream::Config::new("127.0.0.1:0".parse().unwrap(), ::upstream::Mode::Fixed);
    backend.body = jwks.to_string().into_bytes();
    backend.headers = vec!["Content-Type: application/json".into()];
    backend.tls = Some(::upstream::TlsConfig {
        cert: pki.dir.file("idp.pem"),
        key: pki.dir.file("idp.key"),
        client_ca: None,
    });
    let server = ::upstream::start(backend).expect("start the TLS JWKS server");
    let uri = format!("https://localhost:{}/jwks.json", server.addr().port());
    let config = |ca: &str| {
        json!({
            "server": { "upstreamTls": { "caBundle": pki.path(ca) } },
            "authorizers": [{ "apiId": "japi", "name": "myJwt", "jwksUri": uri }]
        })
    };
    let up = Upstream::echo();
    let gw = Gateway::start(http_config(&iss, &up, config("ca.pem")));
    let r = wait_accepted(&gw, "/pets", &token);
    assert_eq!(
        up.requests()
            .last()
            .unwrap()
            .headers
            .get("X-Auth-User")
            .as_deref(),
        Some("erin"),
        "{}",
        r.body_str()
    );

    let gw = Gateway::start(http_config(&iss, &up, config("other-ca.pem")));
    let logged = wait_until(Duration::from_secs(10), || {
        gw.stderr()
            .contains(&format!("cannot load keys from {uri}"))
    });
    assert!(logged, "{}", gw.stderr());
    assert_unauthorized_http(
        &get(&gw, "/pets", &[("Authorization", &bearer(&token))]),
        "untrusted JWKS server",
    );
    // The server counts the refused handshake when it reads the client's alert, which can
    // be a moment after the gateway has logged it.
    assert!(
        wait_until(Duration::from_secs(5), || server.tls_handshake_failures()
            > 0),
        "the JWKS server saw no failed handshake"
    );
}
