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

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Authorizes one request against `route`'s requirement. Claims on success.
pub fn authorize(
    auth: &JwtAuth,
    authorizer: &Authorizer,
    route: &RouteAuth,
    head: &RequestHead,
    data: &[u8],
    now_unix_secs: u64,
) -> Result<Claims, Refusal> {
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
    match auth
        .verifier
        .verify_scoped(token, &route.scopes, now_unix_secs)
    {
        Ok(claims) => Ok(claims),
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
pub fn stringify_claims(claims: &mut Claims) {
    for v in claims.values_mut() {
        if !v.is_string() {
            *v = serde_json::Value::String(v.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
