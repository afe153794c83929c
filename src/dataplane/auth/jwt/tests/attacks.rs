//! RELIABILITY A01–A05 and the mutation loop: every refusal is asserted with its reason, so a
//! test fails if a check moves or disappears.

use ring::hmac;
use serde_json::json;

use super::*;

fn hs256(secret: &[u8], msg: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), msg)
        .as_ref()
        .to_vec()
}

#[test]
fn a01_alg_none_in_any_case_is_refused() {
    let fx = Fixture::new();
    let literal = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhZG1pbiJ9.";
    assert_eq!(fx.verify(literal), Err(JwtError::UnsupportedAlg));
    for alg in [
        "none", "None", "NONE", "nOnE", "", "rs256", "HS256", "ES512", "EdDSA ",
    ] {
        for header in [json!({"alg": alg}), json!({"alg": alg, "kid": "rsa"})] {
            let claims = good_claims().to_string();
            let unsigned = assemble(&header.to_string(), &claims, |_| Vec::new());
            assert_eq!(fx.verify(&unsigned), Err(JwtError::UnsupportedAlg), "{alg}");
            // Even with a real RS256 signature attached.
            let signed = fx.token_raw(&header.to_string(), &claims, "rsa", "RS256");
            assert_eq!(fx.verify(&signed), Err(JwtError::UnsupportedAlg), "{alg}");
        }
    }
    for header in [
        r#"{"kid":"rsa"}"#,
        r#"{"alg":null}"#,
        r#"{"alg":256}"#,
        "[]",
        "\"RS256\"",
    ] {
        let token = fx.token_raw(header, &good_claims().to_string(), "rsa", "RS256");
        assert_eq!(fx.verify(&token), Err(JwtError::Malformed), "{header}");
    }
}

#[test]
fn a01_tampered_payload_is_refused() {
    let fx = Fixture::new();
    for (alg, kid) in [
        ("RS256", "rsa"),
        ("PS256", "rsa"),
        ("ES256", "es256"),
        ("EdDSA", "ed"),
    ] {
        let token = fx.token(alg, kid, &good_claims());
        let parts: Vec<&str> = token.split('.').collect();
        let evil = encode(
            with(good_claims(), "sub", json!("admin"))
                .to_string()
                .as_bytes(),
        );
        let tampered = format!("{}.{evil}.{}", parts[0], parts[2]);
        assert_eq!(fx.verify(&tampered), Err(JwtError::BadSignature), "{alg}");
        // A header swapped for another accepted one (alg switch within the RSA family).
        if alg == "RS256" {
            let ps = encode(br#"{"alg":"PS256","kid":"rsa"}"#);
            let swapped = format!("{ps}.{}.{}", parts[1], parts[2]);
            assert_eq!(fx.verify(&swapped), Err(JwtError::BadSignature));
        }
    }
}

#[test]
fn a02_hs256_signed_with_the_rsa_public_key_is_refused() {
    let fx = Fixture::new();
    let claims = good_claims().to_string();
    for header in [
        r#"{"alg":"HS256","kid":"rsa"}"#,
        r#"{"alg":"HS256","kid":"rsa-rs256"}"#,
        r#"{"alg":"HS256","kid":"es256"}"#,
        r#"{"alg":"HS256"}"#,
        r#"{"alg":"HS512","kid":"rsa"}"#,
    ] {
        for secret in [RSA_A_PEM, b"".as_slice()] {
            let token = assemble(header, &claims, |m| hs256(secret, m));
            assert_eq!(fx.verify(&token), Err(JwtError::UnsupportedAlg), "{header}");
        }
    }
}

#[test]
fn a02_a_key_verifies_only_its_bound_algorithm() {
    let fx = Fixture::new();
    // An RS256 token (really signed by the RSA key) presented under the ES256 key's kid.
    let header = r#"{"alg":"RS256","kid":"es256"}"#;
    let token = fx.token_raw(header, &good_claims().to_string(), "rsa", "RS256");
    assert_eq!(fx.verify(&token), Err(JwtError::AlgMismatch));
    // The RS256-pinned JWK refuses PS256 and RS512, though the key could verify them.
    for alg in ["PS256", "RS512"] {
        let token = fx.token(alg, "rsa-rs256", &good_claims());
        assert_eq!(fx.verify(&token), Err(JwtError::AlgMismatch), "{alg}");
    }
    // EC and Ed keys are not interchangeable.
    let token = fx.token("ES384", "es256", &good_claims());
    assert_eq!(fx.verify(&token), Err(JwtError::AlgMismatch));
    let token = fx.token("EdDSA", "es384", &good_claims());
    assert_eq!(fx.verify(&token), Err(JwtError::AlgMismatch));
    // The RSA family (an RSA JWK without alg) holds RSA signatures only.
    for alg in [Alg::Es256, Alg::Es384, Alg::EdDsa] {
        assert!(!Binding::RsaFamily.allows(alg));
    }
}

#[test]
fn a03_bad_signatures_are_refused() {
    let fx = Fixture::new();
    let claims = good_claims();
    for (alg, kid) in [
        ("RS256", "rsa"),
        ("PS384", "rsa"),
        ("ES256", "es256"),
        ("EdDSA", "ed"),
    ] {
        let token = fx.token(alg, kid, &claims);
        let signed = &token[..token.rfind('.').unwrap()];
        assert_eq!(
            fx.verify(&format!("{signed}.")),
            Err(JwtError::BadSignature),
            "{alg} empty"
        );
        let sig_len = fx.signer(kid).sign(alg, b"x").len();
        let random: Vec<u8> = (0..sig_len).map(|i| (i * 151 + 7) as u8).collect();
        let forged = format!("{signed}.{}", encode(&random));
        assert_eq!(
            fx.verify(&forged),
            Err(JwtError::BadSignature),
            "{alg} random"
        );
    }
    // A valid signature by another key of the same type, under the trusted kid.
    let header = json!({"alg": "RS256", "kid": "rsa"}).to_string();
    let other = Signer::rsa(RSA_B);
    let token = assemble(&header, &claims.to_string(), |m| other.sign("RS256", m));
    assert_eq!(fx.verify(&token), Err(JwtError::BadSignature));
    let header = json!({"alg": "ES256", "kid": "es256"}).to_string();
    let other = Signer::p256();
    let token = assemble(&header, &claims.to_string(), |m| other.sign("ES256", m));
    assert_eq!(fx.verify(&token), Err(JwtError::BadSignature));
}

#[test]
fn a03_malformed_tokens_are_refused() {
    let fx = Fixture::new();
    let token = fx.token("RS256", "rsa", &good_claims());
    let parts: Vec<&str> = token.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    assert!(fx.verify(&token).is_ok());
    let long = "A".repeat(MAX_TOKEN_BYTES + 1);
    let cases = [
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}.{p}.{s}."),
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}=.{s}"),
        format!("{h}.{p}.{s}="),
        format!("{h}.{p}.{s}=="),
        format!("{h}.+{}.{s}", &p[1..]),
        format!("{h}./{}.{s}", &p[1..]),
        format!("{h}.{p}.+{}", &s[1..]),
        format!("{h}.{p}./{}", &s[1..]),
        format!(" {h}.{p}.{s}"),
        format!("{h}.{p} .{s}"),
        format!("{h}.{p}.{s}\n"),
        format!("{h}.{p}.{s}AAA"),
        format!("{h}.!!!.{s}"),
        format!("{h}.{p}.%%%"),
        format!("%%%.{p}.{s}"),
        format!(".{p}.{s}"),
        String::new(),
        "..".into(),
        "...".into(),
        "a.b.c".into(),
        format!("{long}.{p}.{s}"),
        format!("{}.{p}.{s}", encode(&[b' '; 4096])),
    ];
    for case in &cases {
        assert_eq!(fx.verify(case), Err(JwtError::Malformed), "{case:.80}");
    }
    // Header/payload that verify but are not JSON objects.
    let not_object = fx.token_raw(r#"{"alg":"RS256","kid":"rsa"}"#, "[1]", "rsa", "RS256");
    assert_eq!(fx.verify(&not_object), Err(JwtError::Malformed));
    let dup = fx.token_raw(
        r#"{"alg":"RS256","alg":"none","kid":"rsa"}"#,
        "{}",
        "rsa",
        "RS256",
    );
    assert_eq!(fx.verify(&dup), Err(JwtError::Malformed));
    let dup = fx.token_raw(
        r#"{"alg":"RS256","kid":"x","kid":"rsa"}"#,
        "{}",
        "rsa",
        "RS256",
    );
    assert_eq!(fx.verify(&dup), Err(JwtError::Malformed));
}

#[test]
fn a04_claims_are_checked_and_typed() {
    let fx = Fixture::new();
    let g = good_claims;
    let cases = [
        (with(g(), "exp", Value::Null), JwtError::MissingExp),
        (with(g(), "exp", json!(NOW - 120)), JwtError::Expired),
        (with(g(), "nbf", json!(NOW + 120)), JwtError::NotYetValid),
        (with(g(), "iat", json!(NOW + 120)), JwtError::NotYetValid),
        (with(g(), "aud", Value::Null), JwtError::WrongAudience),
        (with(g(), "aud", json!("other")), JwtError::WrongAudience),
        (with(g(), "aud", json!(["other"])), JwtError::WrongAudience),
        (with(g(), "aud", json!([])), JwtError::WrongAudience),
        (
            with(g(), "aud", json!(["other", 5])),
            JwtError::BadClaimType,
        ),
        (
            with(g(), "aud", json!({"client-a": true})),
            JwtError::BadClaimType,
        ),
        (
            with(g(), "iss", json!("https://evil.test/us-east-1_pool")),
            JwtError::WrongIssuer,
        ),
        (
            with(g(), "iss", json!(format!("{ISS}/"))),
            JwtError::WrongIssuer,
        ),
        (with(g(), "iss", Value::Null), JwtError::WrongIssuer),
        (with(g(), "iss", json!([ISS])), JwtError::BadClaimType),
        (
            with(g(), "exp", json!("9999999999")),
            JwtError::BadClaimType,
        ),
        (with(g(), "exp", json!("never")), JwtError::BadClaimType),
        (with(g(), "exp", json!(true)), JwtError::BadClaimType),
        (with(g(), "exp", json!([NOW + 600])), JwtError::BadClaimType),
        (with(g(), "exp", json!(-1)), JwtError::BadClaimType),
        (with(g(), "exp", json!(1e300)), JwtError::BadClaimType),
        (with(g(), "exp", json!(u64::MAX)), JwtError::BadClaimType),
        (with(g(), "nbf", json!("0")), JwtError::BadClaimType),
        (with(g(), "nbf", json!(-5.5)), JwtError::BadClaimType),
        (with(g(), "iat", json!("yesterday")), JwtError::BadClaimType),
    ];
    for (claims, want) in cases {
        assert_eq!(
            fx.verify(&fx.token("ES256", "es256", &claims)),
            Err(want),
            "{claims}"
        );
        assert_eq!(want.status(), 401);
    }
    // Numbers JSON allows but u64/f64 cannot hold: `1e309` is refused by serde_json itself,
    // `2^64` parses as the float 18446744073709551616.0.
    let exp_text = |exp: &str| format!(r#"{{"iss":"{ISS}","aud":"{AUD}","exp":{exp}}}"#);
    assert_eq!(fx.claims_json(&exp_text("1e309")), Err(JwtError::Malformed));
    assert_eq!(
        fx.claims_json(&exp_text("18446744073709551616")),
        Err(JwtError::BadClaimType)
    );
    assert_eq!(
        fx.claims_json(&exp_text("9223372036854775808")),
        Err(JwtError::BadClaimType)
    );
    assert_eq!(
        fx.claims_json(&exp_text("null")),
        Err(JwtError::BadClaimType)
    );
    assert!(fx.claims_json(&exp_text("1800000600")).is_ok());
    assert!(fx.claims_json(&exp_text("1.8000006e9")).is_ok());
}

#[test]
fn a05_kid_is_only_a_lookup_key() {
    let fx = Fixture::new();
    for kid in [
        "../../../../dev/null",
        "' OR 1=1 --",
        "RSA",
        "rsa ",
        "",
        "rsa\u{0}",
        "*",
    ] {
        let token = fx.token("RS256", kid, &good_claims());
        assert_eq!(fx.verify(&token), Err(JwtError::UnknownKey), "{kid:?}");
    }
    // Escapes in the kid decode to the real kid (JSON says they are the same string).
    let token = fx.token_raw(
        r#"{"alg":"RS256","kid":"rs\u0061"}"#,
        &good_claims().to_string(),
        "rsa",
        "RS256",
    );
    assert!(fx.verify(&token).is_ok());
    let token = fx.token_raw(
        r#"{"alg":"RS256","kid":7}"#,
        &good_claims().to_string(),
        "rsa",
        "RS256",
    );
    assert_eq!(fx.verify(&token), Err(JwtError::Malformed));
}

#[test]
fn a05_key_and_crit_headers_are_refused() {
    let fx = Fixture::new();
    let attacker = Signer::p256().jwk("attacker", None);
    let extra = [
        ("jku", json!("http://127.0.0.1:9999/jwks.json")),
        ("x5u", json!("http://127.0.0.1:9999/c.pem")),
        ("jwk", attacker),
        ("x5c", json!(["MIIB"])),
        ("jku", Value::Null),
        ("crit", json!(["x-unknown"])),
        ("crit", json!(["exp"])),
        ("crit", json!([])),
    ];
    for (name, value) in extra {
        // Properly signed by the trusted key: the refusal is the header's, not the signature's.
        let mut header = json!({"alg": "ES256", "kid": "es256"});
        header[name] = value;
        let token = fx.token_raw(
            &header.to_string(),
            &good_claims().to_string(),
            "es256",
            "ES256",
        );
        assert_eq!(
            fx.verify(&token),
            Err(JwtError::ForbiddenHeader),
            "{header}"
        );
    }
}

/// A token changed in any way is refused, and no change panics: every prefix, every byte
/// replaced by each of a few characters (base64url letters, `.`, `=`, `+`, `/`, space).
#[test]
fn mutated_tokens_never_verify_and_never_panic() {
    let fx = Fixture::new();
    for (alg, kid) in [("RS256", "rsa"), ("ES256", "es256"), ("EdDSA", "ed")] {
        let token = fx.token(alg, kid, &good_claims());
        assert!(fx.verify(&token).is_ok());
        for end in 0..token.len() {
            assert!(fx.verify(&token[..end]).is_err(), "{alg} prefix {end}");
        }
        let mut bytes = token.clone().into_bytes();
        for i in 0..bytes.len() {
            let original = bytes[i];
            for c in *b"AQgw_-.=+/ " {
                if c == original {
                    continue;
                }
                bytes[i] = c;
                let mutated = std::str::from_utf8(&bytes).unwrap();
                assert!(
                    fx.verify(mutated).is_err(),
                    "{alg} byte {i} -> {}",
                    c as char
                );
            }
            bytes[i] = original;
        }
    }
}

/// Random ASCII soup (seeded xorshift, deterministic) shaped like tokens.
#[test]
fn random_tokens_never_panic() {
    let fx = Fixture::new();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let prefix = encode(br#"{"alg":"ES256","kid":"es256"}"#);
    for round in 0..4000 {
        let len = (next() % 400) as usize;
        let mut s: String = (0..len)
            .map(|_| char::from(alphabet[(next() % alphabet.len() as u64) as usize]))
            .collect();
        if round % 2 == 0 {
            s = format!("{prefix}.{s}");
        }
        assert!(fx.verify(&s).is_err());
    }
}
