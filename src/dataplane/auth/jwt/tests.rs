//! The JWT core against real signatures: ring generates the EC and Ed25519 keys, the RSA
//! keys are committed test fixtures (`testdata/`, ring cannot generate RSA keys), and every
//! token is assembled here with the module's own base64url encoder. Attack cases follow
//! RELIABILITY A01–A05; `attacks.rs`, `claims.rs` and `jwks.rs` hold the longer groups.

use std::sync::Arc;

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

use super::b64::encode;
use super::*;

mod attacks;
mod claims;
mod jwks;

pub(crate) const NOW: u64 = 1_800_000_000;
pub(crate) const ISS: &str = "https://issuer.test/us-east-1_pool";
pub(crate) const AUD: &str = "client-a";

pub(crate) const RSA_A: &[u8] = include_bytes!("testdata/rsa2048-a.pk8.der");
pub(crate) const RSA_B: &[u8] = include_bytes!("testdata/rsa2048-b.pk8.der");
pub(crate) const RSA_A_PEM: &[u8] = include_bytes!("testdata/rsa2048-a.pub.pem");

/// A private key that signs test tokens, and its public JWK.
pub(crate) enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Signer {
    pub(crate) fn rsa(pkcs8: &[u8]) -> Signer {
        Signer::Rsa(RsaKeyPair::from_pkcs8(pkcs8).expect("test RSA key"))
    }

    pub(crate) fn p256() -> Signer {
        Signer::ec(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
    }

    pub(crate) fn p384() -> Signer {
        Signer::ec(&signature::ECDSA_P384_SHA384_FIXED_SIGNING)
    }

    fn ec(alg: &'static signature::EcdsaSigningAlgorithm) -> Signer {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("generate EC key");
        Signer::Ec(EcdsaKeyPair::from_pkcs8(alg, doc.as_ref(), &rng).expect("EC key"))
    }

    pub(crate) fn ed25519() -> Signer {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("generate Ed25519");
        Signer::Ed(Ed25519KeyPair::from_pkcs8(doc.as_ref()).expect("Ed25519 key"))
    }

    /// The public JWK, with `kid` and (when given) `alg`.
    pub(crate) fn jwk(&self, kid: &str, alg: Option<&str>) -> Value {
        let mut jwk = match self {
            Signer::Rsa(kp) => {
                let c = signature::RsaPublicKeyComponents::<Vec<u8>>::from(kp.public());
                json!({"kty": "RSA", "n": encode(&c.n), "e": encode(&c.e)})
            }
            Signer::Ec(kp) => {
                let point = kp.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                let crv = if half == 32 { "P-256" } else { "P-384" };
                json!({"kty": "EC", "crv": crv, "x": encode(&point[1..=half]),
                       "y": encode(&point[1 + half..])})
            }
            Signer::Ed(kp) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": encode(kp.public_key().as_ref())})
            }
        };
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        if let Some(alg) = alg {
            jwk["alg"] = json!(alg);
        }
        jwk
    }

    pub(crate) fn sign(&self, alg: &str, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Signer::Rsa(kp) => {
                let padding: &'static dyn signature::RsaEncoding = match alg {
                    "RS256" => &signature::RSA_PKCS1_SHA256,
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    _ => &signature::RSA_PSS_SHA512,
                };
                let mut sig = vec![0; kp.public().modulus_len()];
                kp.sign(padding, &rng, msg, &mut sig).expect("RSA sign");
                sig
            }
            Signer::Ec(kp) => kp.sign(&rng, msg).expect("EC sign").as_ref().to_vec(),
            Signer::Ed(kp) => kp.sign(msg).as_ref().to_vec(),
        }
    }
}

/// `b64(header).b64(claims).b64(sig)` with the signature made by `sign` over the first two.
pub(crate) fn assemble(header: &str, claims: &str, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let signed = format!(
        "{}.{}",
        encode(header.as_bytes()),
        encode(claims.as_bytes())
    );
    let sig = sign(signed.as_bytes());
    format!("{signed}.{}", encode(&sig))
}

/// The keys of most tests: one RSA key without `alg` (the RSA family) as `rsa`, the same key
/// pinned to RS256 as `rsa-rs256`, and one key per other algorithm.
pub(crate) struct Fixture {
    pub(crate) rsa: Signer,
    pub(crate) es256: Signer,
    pub(crate) es384: Signer,
    pub(crate) ed: Signer,
    pub(crate) verifier: Verifier,
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        let (rsa, es256, es384, ed) = (
            Signer::rsa(RSA_A),
            Signer::p256(),
            Signer::p384(),
            Signer::ed25519(),
        );
        let jwks = json!({"keys": [
            rsa.jwk("rsa", None),
            rsa.jwk("rsa-rs256", Some("RS256")),
            es256.jwk("es256", None),
            es384.jwk("es384", Some("ES384")),
            ed.jwk("ed", None),
        ]});
        let verifier = Verifier::new(ISS, &[AUD, "client-b"], 0, Arc::new(keyset(&jwks)));
        Fixture {
            rsa,
            es256,
            es384,
            ed,
            verifier,
        }
    }

    pub(crate) fn signer(&self, kid: &str) -> &Signer {
        match kid {
            "es256" => &self.es256,
            "es384" => &self.es384,
            "ed" => &self.ed,
            _ => &self.rsa,
        }
    }

    /// A token with header `{"alg","kid"}` and these claims, signed by `kid`'s key.
    pub(crate) fn token(&self, alg: &str, kid: &str, claims: &Value) -> String {
        let header = json!({"alg": alg, "kid": kid, "typ": "JWT"}).to_string();
        self.token_raw(&header, &claims.to_string(), kid, alg)
    }

    pub(crate) fn token_raw(&self, header: &str, claims: &str, kid: &str, alg: &str) -> String {
        assemble(header, claims, |m| self.signer(kid).sign(alg, m))
    }

    pub(crate) fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        self.verifier.verify(token, &[], NOW)
    }

    /// An RS256 token with `claims`' JSON text as the payload, verified at `NOW`.
    pub(crate) fn claims_json(&self, claims: &str) -> Result<Claims, JwtError> {
        let header = r#"{"alg":"RS256","kid":"rsa"}"#;
        self.verify(&self.token_raw(header, claims, "rsa", "RS256"))
    }
}

pub(crate) fn keyset(jwks: &Value) -> KeySet {
    let (set, warnings) = KeySet::from_jwks(jwks.to_string().as_bytes()).expect("a JWKS");
    assert_eq!(warnings, [], "fixture keys all load");
    set
}

pub(crate) fn good_claims() -> Value {
    json!({"iss": ISS, "aud": AUD, "sub": "bob", "exp": NOW + 600, "iat": NOW - 10})
}

pub(crate) fn with(mut claims: Value, name: &str, value: Value) -> Value {
    if value.is_null() {
        claims.as_object_mut().unwrap().remove(name);
    } else {
        claims[name] = value;
    }
    claims
}

#[test]
fn b64_round_trips_and_is_strict() {
    for len in 0..40 {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        let text = encode(&bytes);
        assert!(!text.contains(['=', '+', '/']));
        assert_eq!(b64::decode(text.as_bytes()), Some(bytes));
    }
    for bad in [
        "A", "AAAAA", "AA==", "AA=", "a+bc", "a/bc", "ab c", "ab\n", "AB", "AAB",
    ] {
        assert_eq!(b64::decode(bad.as_bytes()), None, "{bad:?}");
    }
    // Canonical only: `AQ`, `AR` ... `Af` would all be 0x01 to a lenient decoder.
    assert_eq!(b64::decode(b"AQ"), Some(vec![1]));
    assert_eq!(b64::decode(b"AR"), None);
    assert_eq!(b64::decode(b"Af"), None);
    assert_eq!(b64::decode(b"AAE"), Some(vec![0, 1]));
    assert_eq!(b64::decode(b"AAF"), None);
}

#[test]
fn every_supported_alg_verifies() {
    let fx = Fixture::new();
    let cases = [
        ("RS256", "rsa"),
        ("RS384", "rsa"),
        ("RS512", "rsa"),
        ("PS256", "rsa"),
        ("PS384", "rsa"),
        ("PS512", "rsa"),
        ("RS256", "rsa-rs256"),
        ("ES256", "es256"),
        ("ES384", "es384"),
        ("EdDSA", "ed"),
    ];
    for (alg, kid) in cases {
        let claims = fx.verify(&fx.token(alg, kid, &good_claims()));
        assert_eq!(
            claims.map(|c| c["sub"].clone()),
            Ok(json!("bob")),
            "{alg} {kid}"
        );
    }
}

#[test]
fn token_without_kid_needs_exactly_one_fitting_key() {
    let fx = Fixture::new();
    let no_kid = |alg: &str, kid: &str| {
        let header = json!({"alg": alg}).to_string();
        fx.verify(&fx.token_raw(&header, &good_claims().to_string(), kid, alg))
    };
    assert!(no_kid("ES256", "es256").is_ok());
    assert!(no_kid("EdDSA", "ed").is_ok());
    // `rsa` and `rsa-rs256` both allow RS256: ambiguous.
    assert_eq!(no_kid("RS256", "rsa"), Err(JwtError::UnknownKey));
    // Only `rsa` (the family) allows PS256.
    assert!(no_kid("PS256", "rsa").is_ok());
}

#[test]
fn rotated_keys_verify_new_tokens_and_drop_old_ones() {
    let (old, new) = (Signer::p256(), Signer::p256());
    let set =
        |signer: &Signer, kid: &str| Arc::new(keyset(&json!({"keys": [signer.jwk(kid, None)]})));
    let verifier = Verifier::new(ISS, &[AUD], 0, set(&old, "k1"));
    let token = |signer: &Signer, kid: &str| {
        let header = json!({"alg": "ES256", "kid": kid}).to_string();
        assemble(&header, &good_claims().to_string(), |m| {
            signer.sign("ES256", m)
        })
    };
    let (old_token, new_token) = (token(&old, "k1"), token(&new, "k2"));
    assert!(verifier.verify(&old_token, &[], NOW).is_ok());
    assert_eq!(
        verifier.verify(&new_token, &[], NOW),
        Err(JwtError::UnknownKey)
    );
    verifier.set_keys(set(&new, "k2"));
    assert!(verifier.verify(&new_token, &[], NOW).is_ok());
    assert_eq!(
        verifier.verify(&old_token, &[], NOW),
        Err(JwtError::UnknownKey)
    );
    // A new key reusing the old kid: old signatures no longer verify.
    verifier.set_keys(set(&new, "k1"));
    assert_eq!(
        verifier.verify(&old_token, &[], NOW),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn bearer_token_takes_the_prefixed_or_the_raw_token() {
    assert_eq!(bearer_token(b"Bearer a.b.c"), Some("a.b.c"));
    assert_eq!(bearer_token(b"bearer a.b.c"), Some("a.b.c"));
    assert_eq!(bearer_token(b"  BEARER   a.b.c \t"), Some("a.b.c"));
    assert_eq!(bearer_token(b"a.b.c"), Some("a.b.c"));
    assert_eq!(bearer_token(b"Basic abc"), Some("Basic abc"));
    for none in [
        &b""[..],
        b"   ",
        b"Bearer",
        b"Bearer   ",
        b"bearer\t",
        b"Bearer a\xff",
    ] {
        assert_eq!(bearer_token(none), None, "{none:?}");
    }
}

#[test]
fn only_insufficient_scope_is_403() {
    use JwtError::*;
    let all = [
        Malformed,
        UnsupportedAlg,
        ForbiddenHeader,
        UnknownKey,
        AlgMismatch,
        BadSignature,
        Expired,
        NotYetValid,
        MissingExp,
        BadClaimType,
        WrongIssuer,
        WrongAudience,
        InsufficientScope,
    ];
    for e in all {
        let forbidden = e == InsufficientScope;
        assert_eq!(e.status(), if forbidden { 403 } else { 401 }, "{e:?}");
        let error = if forbidden {
            "insufficient_scope"
        } else {
            "invalid_token"
        };
        assert_eq!(e.bearer_error(), error);
        assert!(!e.description().is_empty());
    }
}
