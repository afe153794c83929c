//! JWKS parsing: which keys load, which are skipped and why, and what binds them.

use serde_json::json;

use super::*;

fn load(keys: Value) -> (KeySet, Vec<SkipReason>) {
    let (set, warnings) =
        KeySet::from_jwks(json!({ "keys": keys }).to_string().as_bytes()).expect("a JWKS");
    (set, warnings.into_iter().map(|w| w.reason).collect())
}

#[test]
fn documents_that_are_not_a_jwks_are_errors() {
    for doc in [
        "",
        "nope",
        "[]",
        "{}",
        r#"{"keys":{}}"#,
        r#"{"keys":null}"#,
        r#"{"Keys":[]}"#,
    ] {
        let want = if serde_json::from_str::<Value>(doc).is_ok() {
            JwksError::NotJwks
        } else {
            JwksError::NotJson
        };
        assert_eq!(
            KeySet::from_jwks(doc.as_bytes()).map(|_| ()),
            Err(want),
            "{doc}"
        );
    }
    let padded = format!(r#"{{"keys":[]{}}}"#, " ".repeat(MAX_JWKS_BYTES));
    let refused = KeySet::from_jwks(padded.as_bytes()).map(|_| ());
    assert_eq!(refused, Err(JwksError::TooLarge));
    let fits = format!(r#"{{"keys":[]{}}}"#, " ".repeat(MAX_JWKS_BYTES - 12));
    assert!(KeySet::from_jwks(fits.as_bytes()).is_ok());
    let (set, warnings) = KeySet::from_jwks(br#"{"keys":[]}"#).unwrap();
    assert!(set.is_empty() && warnings.is_empty());
}

#[test]
fn unusable_keys_are_skipped_with_a_reason() {
    let rsa = Signer::rsa(RSA_A).jwk("r", None);
    let ec = Signer::p256().jwk("e", None);
    let ed = Signer::ed25519().jwk("d", None);
    let tweak = |base: &Value, name: &str, value: Value| with(base.clone(), name, value);
    let small_n = encode(&[0xc5; 128]); // 1024 bits
    let cases = [
        (json!("not a key"), SkipReason::NotAnObject),
        (
            tweak(&rsa, "use", json!("enc")),
            SkipReason::NotForSignatures,
        ),
        (
            tweak(&rsa, "key_ops", json!(["sign"])),
            SkipReason::NotForSignatures,
        ),
        (
            tweak(&rsa, "key_ops", json!("verify")),
            SkipReason::NotForSignatures,
        ),
        (
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            SkipReason::UnsupportedKty,
        ),
        (tweak(&rsa, "kty", Value::Null), SkipReason::UnsupportedKty),
        (
            tweak(&ec, "crv", json!("P-521")),
            SkipReason::UnsupportedCurve,
        ),
        (
            tweak(&ec, "crv", json!("secp256k1")),
            SkipReason::UnsupportedCurve,
        ),
        (
            tweak(&ed, "crv", json!("X25519")),
            SkipReason::UnsupportedCurve,
        ),
        (
            tweak(&rsa, "alg", json!("HS256")),
            SkipReason::UnsupportedAlg,
        ),
        (
            tweak(&rsa, "alg", json!("none")),
            SkipReason::UnsupportedAlg,
        ),
        (
            tweak(&ec, "alg", json!("ES512")),
            SkipReason::UnsupportedAlg,
        ),
        (tweak(&rsa, "alg", json!(256)), SkipReason::UnsupportedAlg),
        (
            tweak(&rsa, "alg", json!("ES256")),
            SkipReason::IncompatibleAlg,
        ),
        (
            tweak(&ec, "alg", json!("ES384")),
            SkipReason::IncompatibleAlg,
        ),
        (
            tweak(&ec, "alg", json!("RS256")),
            SkipReason::IncompatibleAlg,
        ),
        (
            tweak(&ed, "alg", json!("ES256")),
            SkipReason::IncompatibleAlg,
        ),
        (tweak(&rsa, "n", json!(small_n)), SkipReason::BadKeyMaterial),
        (tweak(&rsa, "e", json!("AQ")), SkipReason::BadKeyMaterial), // e = 1
        (tweak(&rsa, "e", json!("AAE")), SkipReason::BadKeyMaterial), // e = 1, padded
        (tweak(&rsa, "e", json!("AQA")), SkipReason::BadKeyMaterial), // even
        (tweak(&rsa, "n", json!("a+b/")), SkipReason::BadKeyMaterial),
        (tweak(&rsa, "n", Value::Null), SkipReason::BadKeyMaterial),
        (
            tweak(&ec, "x", json!(encode(&[1; 31]))),
            SkipReason::BadKeyMaterial,
        ),
        (
            tweak(&ec, "y", json!(encode(&[1; 48]))),
            SkipReason::BadKeyMaterial,
        ),
        (tweak(&ec, "y", json!(5)), SkipReason::BadKeyMaterial),
        (
            tweak(&ed, "x", json!(encode(&[1; 33]))),
            SkipReason::BadKeyMaterial,
        ),
        (tweak(&ed, "kid", json!(["d"])), SkipReason::BadKid),
    ];
    for (key, reason) in cases {
        let (set, reasons) = load(json!([key.clone(), ec.clone()]));
        assert_eq!(reasons, [reason], "{key}");
        assert_eq!(set.len(), 1, "the good key still loads");
    }
    let (_, warnings) = KeySet::from_jwks(
        json!({"keys": [tweak(&rsa, "use", json!("enc"))]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(warnings[0].index, 0);
    assert_eq!(warnings[0].kid.as_deref(), Some("r"));
    assert!(
        warnings[0].to_string().contains("kid \"r\""),
        "{}",
        warnings[0]
    );
}

#[test]
fn usable_variants_load() {
    let rsa = Signer::rsa(RSA_A);
    let mut padded = rsa.jwk("padded", None);
    let n = b64::decode(padded["n"].as_str().unwrap().as_bytes()).unwrap();
    padded["n"] = json!(encode(&[&[0u8][..], &n].concat()));
    let mut no_use = Signer::p384().jwk("p384", None);
    no_use.as_object_mut().unwrap().remove("use");
    let ops = with(
        Signer::ed25519().jwk("ops", None),
        "key_ops",
        json!(["verify"]),
    );
    let private = with(rsa.jwk("private", Some("PS512")), "d", json!("AQAB"));
    for (key, alg) in [(padded, "RS256"), (private, "PS512")] {
        let kid = key["kid"].as_str().unwrap().to_owned();
        let verifier = Verifier::new(ISS, &[AUD], 0, Arc::new(keyset(&json!({ "keys": [key] }))));
        let header = json!({"alg": alg, "kid": kid}).to_string();
        let token = assemble(&header, &good_claims().to_string(), |m| rsa.sign(alg, m));
        assert!(verifier.verify(&token, &[], NOW).is_ok(), "{kid}");
    }
    let (set, reasons) = load(json!([no_use, ops]));
    assert_eq!((set.len(), reasons), (2, vec![]));
}

#[test]
fn duplicate_kids_pick_the_key_bound_to_the_alg() {
    // Rotation across algorithms under one kid: the ES256 key and an RS256 key both "k".
    let (rsa, ec) = (Signer::rsa(RSA_A), Signer::p256());
    let set = keyset(&json!({"keys": [ec.jwk("k", None), rsa.jwk("k", Some("RS256"))]}));
    let verifier = Verifier::new(ISS, &[AUD], 0, Arc::new(set));
    for (alg, signer) in [("ES256", &ec), ("RS256", &rsa)] {
        let header = json!({"alg": alg, "kid": "k"}).to_string();
        let token = assemble(&header, &good_claims().to_string(), |m| signer.sign(alg, m));
        assert!(verifier.verify(&token, &[], NOW).is_ok(), "{alg}");
    }
    let header = json!({"alg": "PS256", "kid": "k"}).to_string();
    let token = assemble(&header, &good_claims().to_string(), |m| {
        rsa.sign("PS256", m)
    });
    assert_eq!(
        verifier.verify(&token, &[], NOW),
        Err(JwtError::AlgMismatch)
    );
}
