//! JWT authorizers on the request path (issue 8): after routing, before API keys and
//! throttles (DESIGN §3). The route's authorizer reads its identity source header, takes the
//! bearer token and verifies it with the authorizer's [`Verifier`] at the current Unix time.
//!
//! The verifiers live in [`JwtAuth`]s that `meters.rs` builds per snapshot and carries over a
//! reload by identity and fingerprint (issuer, audiences, leeway), so a reload keeps the keys.
//! Keys arrive from the control plane (`control/jwks.rs`); a token whose `kid` is unknown
//! raises [`JwtAuth::refresh_wanted`], which the control thread polls (at most one such
//! refresh per 30 s per authorizer). The request itself is refused: nothing here waits for a
//! fetch, and nothing a token says is ever fetched.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hashbrown::HashMap;

use crate::config::{Authorizer, KeySource, RouteAuth};
use crate::http1::{RequestHead, Span};

use super::auth::jwt::{Claims, JwtError, KeySet, Verifier, bearer_token};

/// The runtime side of one `config::Authorizer`.
pub struct JwtAuth {
    /// `jwt:{apiId}/{name}`.
    pub identity: Box<str>,
    /// The config fingerprint it was built from (issuer, audiences, leeway).
    pub fingerprint: u64,
    pub verifier: Verifier,
    /// A token named a `kid` the keys do not have: the control thread may fetch again.
    pub refresh_wanted: AtomicBool,
}

impl JwtAuth {
    pub fn new(a: &Authorizer) -> JwtAuth {
        let keys = Arc::new(KeySet::default());
        let verifier = match &a.audiences {
            Some(list) => {
                let list: Vec<&str> = list.iter().map(String::as_str).collect();
                Verifier::new(&a.issuer, &list, a.leeway_secs, keys)
            }
            None => Verifier::any_audience(&a.issuer, a.leeway_secs, keys),
        };
        JwtAuth {
            identity: a.identity.clone(),
            fingerprint: a.fingerprint,
            verifier,
            refresh_wanted: AtomicBool::new(false),
        }
    }

    /// The `JwtAuth` for `a` in the next meters: `prev`'s when identity and fingerprint
    /// match (same verifier, same keys), else a new one. File keys are (re)installed.
    pub fn carry(a: &Authorizer, prev: &[Arc<JwtAuth>]) -> Arc<JwtAuth> {
        let auth = prev
            .iter()
            .find(|p| p.identity == a.identity && p.fingerprint == a.fingerprint)
            .cloned()
            .unwrap_or_else(|| Arc::new(JwtAuth::new(a)));
        if let KeySource::File { keys, .. } = &a.keys {
            auth.verifier.set_keys(keys.clone());
        }
        auth
    }
}

/// Why the authorizer refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No identity source header, or an empty one / a bare `Bearer`.
    Missing,
    Token(JwtError),
}

/// Tokens whose signature this core verified, by their exact bytes: a token seen again is not
/// verified again (an ES256 verification costs some 60 µs, the proxy path around 11). An
/// entry counts only while its authorizer still uses the key set it verified under (a
/// rotation, a reload with other keys: verified afresh); the claim checks — times, issuer,
/// audience, the route's scopes — run on every request. Per core, so no lock; at most
/// [`TOKEN_CACHE_ENTRIES`] tokens, then it starts empty again.
#[derive(Default)]
pub struct TokenCache {
    map: HashMap<Box<[u8]>, Verified>,
}

struct Verified {
    keys: Arc<KeySet>,
    /// As parsed, for the claim checks.
    claims: Claims,
    /// Stringified, for `context.authorizer.claims.*`.
    shown: Rc<Claims>,
}

/// Tokens kept per core (each some hundreds of bytes plus its claims twice).
pub const TOKEN_CACHE_ENTRIES: usize = 4096;

/// Authorizes one request against `route`'s requirement: the claims (stringified) on success.
pub fn authorize(
    auth: &JwtAuth,
    authorizer: &Authorizer,
    route: &RouteAuth,
    head: &RequestHead,
    data: &[u8],
    now_unix_secs: u64,
    cache: &mut TokenCache,
) -> Result<Rc<Claims>, Refusal> {
    let mut value: Option<Span> = None;
    for &(n, v) in &head.headers {
        if n.get(data).eq_ignore_ascii_case(&authorizer.header) {
            if value.is_some() {
                // Two identity sources: which one counts would be ambiguous.
                return Err(Refusal::Token(JwtError::Malformed));
            }
            value = Some(v);
        }
    }
    let value = value.ok_or(Refusal::Missing)?;
    let token = bearer_token(value.get(data)).ok_or(Refusal::Missing)?;
    if let Some(v) = cache.map.get(token.as_bytes())
        && auth.verifier.uses_keys(&v.keys)
    {
        auth.verifier
            .check_claims(&v.claims, &route.scopes, now_unix_secs)
            .map_err(Refusal::Token)?;
        return Ok(v.shown.clone());
    }
    match auth
        .verifier
        .verify_keyed(token, &route.scopes, now_unix_secs)
    {
        Ok((claims, keys)) => {
            let mut shown = claims.clone();
            stringify_claims(&mut shown);
            let shown = Rc::new(shown);
            if cache.map.len() >= TOKEN_CACHE_ENTRIES {
                cache.map.clear();
            }
            let entry = Verified {
                keys,
                claims,
                shown: shown.clone(),
            };
            cache.map.insert(token.as_bytes().into(), entry);
            Ok(shown)
        }
        Err(e) => {
            if e == JwtError::UnknownKey {
                auth.refresh_wanted.store(true, Ordering::Relaxed);
            }
            Err(Refusal::Token(e))
        }
    }
}

/// Claims as `requestParameters` values (`context.authorizer.claims.NAME`): strings as they
/// are, other JSON values as their JSON text (API Gateway stringifies claims).
fn stringify_claims(claims: &mut Claims) {
    for v in claims.values_mut() {
        if !v.is_string() {
            *v = serde_json::Value::String(v.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthorizerIdx;
    use crate::dataplane::auth::jwt::tests::{
        AUD, ISS, NOW, Signer, assemble, good_claims, keyset, with,
    };
    use crate::http1::{RequestHead, Status, parse_request};
    use serde_json::json;

    fn head(token: &str) -> (RequestHead, Vec<u8>) {
        let limits = crate::config::default_http_limits();
        let data = format!("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {token}\r\n\r\n")
            .into_bytes();
        let mut head = RequestHead::with_limits(&limits);
        assert_eq!(
            parse_request(&data, &limits, &mut head),
            Ok(Status::Complete)
        );
        (head, data)
    }

    fn route(scopes: &[&str]) -> RouteAuth {
        RouteAuth {
            authorizer: AuthorizerIdx(0),
            scopes: scopes.iter().map(|s| (*s).into()).collect(),
        }
    }

    /// A token is verified once per core; what depends on the time, the route or the keys is
    /// still decided on every request.
    #[test]
    fn verified_tokens_are_cached_but_never_outlive_their_keys_or_claims() {
        let mut a = authorizer("jwt:a/x", 1);
        a.issuer = ISS.into();
        a.audiences = Some(vec![AUD.into()]);
        let auth = JwtAuth::new(&a);
        let signer = Signer::p256();
        let set = |kid: &str| Arc::new(keyset(&json!({"keys": [signer.jwk(kid, None)]})));
        auth.verifier.set_keys(set("k1"));
        let claims = with(good_claims(), "scope", json!("read"));
        let token = assemble(
            &json!({"alg": "ES256", "kid": "k1"}).to_string(),
            &claims.to_string(),
            |m| signer.sign("ES256", m),
        );
        let (h, data) = head(&token);
        let mut cache = TokenCache::default();
        let run = |cache: &mut TokenCache, r: &RouteAuth, now| {
            authorize(&auth, &a, r, &h, &data, now, cache)
        };
        let first = run(&mut cache, &route(&[]), NOW).unwrap();
        assert_eq!(first.get("sub"), Some(&json!("bob")));
        assert_eq!(
            first.get("exp"),
            Some(&json!((NOW + 600).to_string())),
            "stringified"
        );
        let again = run(&mut cache, &route(&["read"]), NOW).unwrap();
        assert!(
            Rc::ptr_eq(&first, &again),
            "the second request is served from the cache"
        );
        // Scopes are the route's, times are now's.
        assert_eq!(
            run(&mut cache, &route(&["admin"]), NOW).unwrap_err(),
            Refusal::Token(JwtError::InsufficientScope)
        );
        assert_eq!(
            run(&mut cache, &route(&[]), NOW + 600).unwrap_err(),
            Refusal::Token(JwtError::Expired)
        );
        // Other keys (a rotation that drops k1): verified afresh, and refused.
        auth.verifier.set_keys(set("k2"));
        assert_eq!(
            run(&mut cache, &route(&[]), NOW).unwrap_err(),
            Refusal::Token(JwtError::UnknownKey)
        );
        // The same key again, in a new set: verified afresh (not the old entry), accepted.
        auth.verifier.set_keys(set("k1"));
        let fresh = run(&mut cache, &route(&[]), NOW).unwrap();
        assert!(!Rc::ptr_eq(&first, &fresh));
    }

    fn authorizer(identity: &str, fingerprint: u64) -> Authorizer {
        Authorizer {
            identity: identity.into(),
            fingerprint,
            issuer: "https://idp".into(),
            audiences: Some(vec!["a".into()]),
            leeway_secs: 0,
            header: (*b"authorization").into(),
            keys: KeySource::Uri("http://127.0.0.1:1/jwks.json".into()),
        }
    }

    #[test]
    fn a_reload_keeps_the_verifier_and_its_keys_by_identity_and_fingerprint() {
        let first = JwtAuth::carry(&authorizer("jwt:a/x", 1), &[]);
        let keys = Arc::new(KeySet::default());
        first.verifier.set_keys(keys.clone());
        let prev = [first.clone()];
        let same = JwtAuth::carry(&authorizer("jwt:a/x", 1), &prev);
        assert!(Arc::ptr_eq(&same, &first));
        assert!(Arc::ptr_eq(&same.verifier.keys(), &keys));
        assert!(!Arc::ptr_eq(
            &JwtAuth::carry(&authorizer("jwt:a/x", 2), &prev),
            &first
        ));
        assert!(!Arc::ptr_eq(
            &JwtAuth::carry(&authorizer("jwt:a/y", 1), &prev),
            &first
        ));
    }
}
