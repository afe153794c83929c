//! Claim checks on verified tokens: the clock argument, leeway, fractional times, scopes,
//! and the `aud`/`client_id` rule (RELIABILITY A04 cases are in `attacks.rs`).

use serde_json::json;

use super::*;

#[test]
fn verification_uses_the_time_it_is_given() {
    let fx = Fixture::new();
    let token = fx.token("ES256", "es256", &good_claims());
    assert!(fx.verifier.verify(&token, &[], NOW + 599).is_ok());
    assert_eq!(
        fx.verifier.verify(&token, &[], NOW + 600),
        Err(JwtError::Expired)
    );
    assert_eq!(
        fx.verifier.verify(&token, &[], NOW - 11),
        Err(JwtError::NotYetValid)
    );
}

#[test]
fn leeway_is_honoured() {
    let fx = Fixture::new();
    let keys = fx.verifier.keys();
    let lenient = Verifier::new(ISS, &[AUD], 60, keys);
    let check = |name: &str, at: u64| {
        let token = fx.token("EdDSA", "ed", &with(good_claims(), name, json!(at)));
        lenient.verify(&token, &[], NOW)
    };
    assert!(check("exp", NOW - 30).is_ok());
    assert!(check("exp", NOW - 59).is_ok());
    assert_eq!(check("exp", NOW - 60), Err(JwtError::Expired));
    assert!(check("nbf", NOW + 60).is_ok());
    assert_eq!(check("nbf", NOW + 61), Err(JwtError::NotYetValid));
    assert!(check("iat", NOW + 60).is_ok());
    assert_eq!(check("iat", NOW + 61), Err(JwtError::NotYetValid));
    // Without leeway the edges are exact.
    let strict = |name: &str, at: u64| {
        fx.verify(&fx.token("EdDSA", "ed", &with(good_claims(), name, json!(at))))
    };
    assert_eq!(strict("exp", NOW), Err(JwtError::Expired));
    assert!(strict("exp", NOW + 1).is_ok());
    assert!(strict("nbf", NOW).is_ok());
    assert_eq!(strict("nbf", NOW + 1), Err(JwtError::NotYetValid));
}

#[test]
fn fractional_times_round_towards_invalid() {
    let fx = Fixture::new();
    let at = |name: &str, t: f64| fx.claims_json(&with(good_claims(), name, json!(t)).to_string());
    assert!(at("exp", (NOW + 1) as f64 + 0.5).is_ok());
    assert_eq!(at("exp", NOW as f64 + 0.5), Err(JwtError::Expired));
    assert!(at("nbf", NOW as f64 - 0.5).is_ok());
    assert_eq!(at("nbf", NOW as f64 + 0.5), Err(JwtError::NotYetValid));
}

#[test]
fn scopes_are_any_of_from_scope_or_scp() {
    let fx = Fixture::new();
    let verify = |extra: Option<(&str, Value)>, required: &[&str]| {
        let claims = match extra {
            Some((name, value)) => with(good_claims(), name, value),
            None => good_claims(),
        };
        fx.verifier
            .verify(&fx.token("ES256", "es256", &claims), required, NOW)
    };
    assert!(verify(None, &[]).is_ok());
    assert!(verify(Some(("scope", json!("openid read"))), &["read"]).is_ok());
    assert!(verify(Some(("scope", json!("read"))), &["write", "read"]).is_ok());
    assert!(verify(Some(("scp", json!(["a", "read"]))), &["read"]).is_ok());
    assert!(verify(Some(("scp", json!("a read"))), &["read"]).is_ok());
    let denied = [
        verify(None, &["read"]),
        verify(Some(("scope", json!("write"))), &["read"]),
        verify(Some(("scope", json!("reader"))), &["read"]),
        verify(Some(("scope", json!(""))), &["read"]),
        verify(Some(("scp", json!([]))), &["read"]),
    ];
    for got in denied {
        assert_eq!(got, Err(JwtError::InsufficientScope));
        assert_eq!(JwtError::InsufficientScope.status(), 403);
    }
    assert_eq!(
        verify(Some(("scope", json!(7))), &["read"]),
        Err(JwtError::BadClaimType)
    );
    assert_eq!(
        verify(Some(("scp", json!([1]))), &["read"]),
        Err(JwtError::BadClaimType)
    );
}

#[test]
fn audience_or_else_client_id() {
    let fx = Fixture::new();
    let verify = |claims: Value| fx.verify(&fx.token("ES384", "es384", &claims));
    let no_aud = with(good_claims(), "aud", Value::Null);
    assert!(verify(with(no_aud.clone(), "client_id", json!(AUD))).is_ok());
    assert!(verify(with(no_aud.clone(), "client_id", json!("client-b"))).is_ok());
    assert_eq!(
        verify(with(no_aud.clone(), "client_id", json!("other"))),
        Err(JwtError::WrongAudience)
    );
    assert_eq!(verify(no_aud), Err(JwtError::WrongAudience));
    // `aud` present wins over `client_id`, either way.
    let other_aud = with(good_claims(), "aud", json!("other"));
    assert_eq!(
        verify(with(other_aud, "client_id", json!(AUD))),
        Err(JwtError::WrongAudience)
    );
    assert!(verify(with(good_claims(), "client_id", json!("other"))).is_ok());
    assert!(verify(with(good_claims(), "aud", json!(["x", "client-b"]))).is_ok());
    // No configured audience: nothing passes.
    let closed = Verifier::new(ISS, &[], 0, fx.verifier.keys());
    let token = fx.token("ES384", "es384", &good_claims());
    assert_eq!(
        closed.verify(&token, &[], NOW),
        Err(JwtError::WrongAudience)
    );
}
