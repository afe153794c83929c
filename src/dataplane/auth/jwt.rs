//! JWT authorizer core (issue 8; on the request path through `dataplane/authorize.rs`): verifies a compact JWS
//! against a JWKS-derived [`KeySet`] and checks its claims as API Gateway's JWT authorizer
//! does (SPEC-NOTES §1.4), hardened per RELIABILITY A01–A05. Pure and sans-io: time is an
//! argument (`now_unix_secs`), keys arrive as JWKS bytes that someone else fetched.
//!
//! # Verification, in order
//!
//! 1. **Shape** — at most [`MAX_TOKEN_BYTES`], exactly three `.`-separated segments. Every
//!    segment is strict base64url (no `=`, no `+`/`/`, canonical trailing bits: see `b64`),
//!    the header decoded first. Else `Malformed`.
//! 2. **Header** — a JSON object with one string `alg` among RS256/384/512, PS256/384/512,
//!    ES256, ES384, EdDSA (exact case). `none`, `HS*`, anything else → `UnsupportedAlg`.
//!    `jku`, `x5u`, `jwk`, `x5c` or `crit` present → `ForbiddenHeader`: keys come only from
//!    the configured JWKS, and no `crit` extension is understood (an empty `crit` is invalid
//!    per RFC 7515 §4.1.11, so it is refused too). Then the signature and payload segments
//!    are decoded (`Malformed`).
//! 3. **Key** — by `kid` in the [`KeySet`] (see there for how a key binds to algorithms);
//!    unknown → `UnknownKey`; known but bound to another algorithm (RS/HS confusion, an ES256
//!    key given an RS256 token) → `AlgMismatch`.
//! 4. **Signature** — ring verifies the ASCII bytes `header.payload`. Else `BadSignature`.
//! 5. **Claims**, only now parsed (a JSON object, else `Malformed`): `exp` required, `nbf`
//!    and `iat` optional, all JSON numbers, with `leeway_secs`; `iss` exactly the issuer;
//!    `aud` (or, without `aud`, `client_id`) one of the audiences; then the route's scopes.
//!
//! # Status codes
//!
//! [`JwtError::status`]: 401 for everything but `InsufficientScope`, which is 403. API
//! Gateway answers a JWT failure with 401 `{"message":"Unauthorized"}` and
//! `www-authenticate: Bearer scope="" error="invalid_token" error_description="..."`
//! (SPEC-NOTES §1.2). SPEC-NOTES does not record the missing-scope answer; 403 follows RFC
//! 6750 §3.1 (`insufficient_scope`: "SHOULD respond with the HTTP 403 (Forbidden) status
//! code"); the exact body API Gateway sends then is unverified. [`JwtError::bearer_error`] and
//! [`JwtError::description`] give the `www-authenticate` parts.
//!
//! # Cost
//!
//! The header and the signature are decoded into stack buffers and `kid` borrows from the
//! header; the allocations are the decoded payload (decoded before the signature check, so
//! garbage is refused before any public-key arithmetic) and, on a valid signature, the claims
//! map that is returned. ring 0.17 has no pre-parsed RSA public key, so every RSA
//! verification re-reads `n`/`e` (Montgomery setup included); EC and Ed25519 points are
//! re-read too, which is cheap. No input panics (the tests feed every
//! prefix and byte flip of valid tokens).

mod b64;
mod claims;
mod header;
mod jwks;

use std::sync::Arc;

use arc_swap::ArcSwap;

pub use claims::Claims;
pub use jwks::{Alg, Binding, JwksError, JwksWarning, KeySet, MAX_JWKS_BYTES, SkipReason};

use jwks::Miss;

/// Longest accepted token, in bytes. Real tokens are 1–3 KiB; API Gateway's own header
/// limit is 10 KiB.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Longest decoded header accepted (the header is decoded on the stack). Real headers are
/// under 200 bytes; the long ones (`x5c`) are refused anyway.
const MAX_HEADER_BYTES: usize = 2048;

/// Longest signature: RSA-8192 (1024 bytes); ES384 is 96, Ed25519 64.
const MAX_SIGNATURE_BYTES: usize = 1024;

/// Why a token was refused. Small and `Copy`: the hot path maps it to a pre-rendered
/// response with [`JwtError::status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtError {
    /// Length, segment count, base64url, or header/payload JSON shape.
    Malformed,
    /// `alg` is `none`, `HS*`, or anything not verified here.
    UnsupportedAlg,
    /// `jku`, `x5u`, `jwk`, `x5c` or `crit` in the header.
    ForbiddenHeader,
    /// No key for the token's `kid` (or, without `kid`, not exactly one key for its `alg`).
    UnknownKey,
    /// The `kid`'s key is bound to another algorithm than the token's `alg`.
    AlgMismatch,
    BadSignature,
    Expired,
    /// `nbf` or `iat` after now + leeway.
    NotYetValid,
    MissingExp,
    /// A claim tollgate checks has the wrong JSON type (`exp: "9999999999"`, `aud: 5`, ...)
    /// or an out-of-range time.
    BadClaimType,
    WrongIssuer,
    WrongAudience,
    /// Valid token without any of the route's `authorizationScopes`: 403, not 401.
    InsufficientScope,
}

/// One JWT authorizer: issuer, audiences, leeway and the current keys. Built by config
/// compile; the keys can be replaced while running (JWKS refresh, key rotation) without
/// rebuilding it.
#[derive(Debug)]
pub struct Verifier {
    issuer: Box<str>,
    audiences: Box<[Box<str>]>,
    /// Any `aud`/`client_id` passes (REST Cognito user pool authorizers: API Gateway takes
    /// tokens of every app client of the pool).
    any_audience: bool,
    leeway_secs: u64,
    keys: ArcSwap<KeySet>,
}

impl JwtError {
    /// The HTTP status API Gateway answers with (see the module docs).
    pub fn status(&self) -> u16 {
        match self {
            JwtError::InsufficientScope => 403,
            _ => 401,
        }
    }

    /// The RFC 6750 `error` of the `www-authenticate` challenge.
    pub fn bearer_error(&self) -> &'static str {
        match self {
            JwtError::InsufficientScope => "insufficient_scope",
            _ => "invalid_token",
        }
    }

    /// A short `error_description`, in API Gateway's style.
    pub fn description(&self) -> &'static str {
        match self {
            JwtError::Malformed => "the token is malformed",
            JwtError::UnsupportedAlg => "the token's algorithm is not supported",
            JwtError::ForbiddenHeader => "the token has an unsupported header",
            JwtError::UnknownKey => "the token's key is unknown",
            JwtError::AlgMismatch => "the token's algorithm does not match its key",
            JwtError::BadSignature => "the token has an invalid signature",
            JwtError::Expired => "the token has expired",
            JwtError::NotYetValid => "the token is not valid yet",
            JwtError::MissingExp => "the token has no expiry",
            JwtError::BadClaimType => "the token has a claim of the wrong type",
            JwtError::WrongIssuer => "the token does not have a valid issuer",
            JwtError::WrongAudience => "the token does not have a valid audience",
            JwtError::InsufficientScope => "the token does not have a required scope",
        }
    }
}

impl Verifier {
    /// `audiences` empty means no token passes the audience check (fail closed).
    pub fn new(issuer: &str, audiences: &[&str], leeway_secs: u64, keys: Arc<KeySet>) -> Verifier {
        Verifier {
            issuer: issuer.into(),
            audiences: audiences.iter().map(|a| Box::from(*a)).collect(),
            any_audience: false,
            leeway_secs,
            keys: ArcSwap::new(keys),
        }
    }

    /// A verifier that checks everything but the audience (REST Cognito user pools: the
    /// token's `aud`/`client_id` may name any app client of the pool).
    pub fn any_audience(issuer: &str, leeway_secs: u64, keys: Arc<KeySet>) -> Verifier {
        Verifier {
            any_audience: true,
            ..Verifier::new(issuer, &[], leeway_secs, keys)
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Replaces the keys (a refreshed JWKS); tokens verified afterwards use the new set.
    pub fn set_keys(&self, keys: Arc<KeySet>) {
        self.keys.store(keys);
    }

    pub fn keys(&self) -> Arc<KeySet> {
        self.keys.load_full()
    }

    /// Whether `keys` is the key set in use now (no reference count is taken).
    pub fn uses_keys(&self, keys: &Arc<KeySet>) -> bool {
        Arc::ptr_eq(&self.keys.load(), keys)
    }

    /// The claim checks of [`Verifier::verify_scoped`] alone (times, issuer, audience,
    /// scopes), for claims whose signature was verified earlier under the same keys.
    pub fn check_claims<S: AsRef<str>>(
        &self,
        claims: &Claims,
        required_scopes: &[S],
        now_unix_secs: u64,
    ) -> Result<(), JwtError> {
        claims::check(claims, &self.policy(), required_scopes, now_unix_secs)
    }

    fn policy(&self) -> claims::Policy<'_> {
        claims::Policy {
            issuer: &self.issuer,
            audiences: (!self.any_audience).then_some(&self.audiences[..]),
            leeway_secs: self.leeway_secs,
        }
    }

    /// Verifies `token` (already taken out of the header, see [`bearer_token`]) at
    /// `now_unix_secs` for a route that requires any one of `required_scopes` (empty: none).
    pub fn verify(
        &self,
        token: &str,
        required_scopes: &[&str],
        now_unix_secs: u64,
    ) -> Result<Claims, JwtError> {
        self.verify_scoped(token, required_scopes, now_unix_secs)
    }

    /// [`Verifier::verify`] with the scopes in any string form (a compiled route keeps
    /// `Box<str>`s; no per-request `Vec<&str>`).
    pub fn verify_scoped<S: AsRef<str>>(
        &self,
        token: &str,
        required_scopes: &[S],
        now_unix_secs: u64,
    ) -> Result<Claims, JwtError> {
        self.verify_with(&self.keys.load(), token, required_scopes, now_unix_secs)
    }

    /// [`Verifier::verify_scoped`], also giving the key set the signature verified under
    /// (for a cache of verified tokens: see [`Verifier::uses_keys`]).
    pub fn verify_keyed<S: AsRef<str>>(
        &self,
        token: &str,
        required_scopes: &[S],
        now_unix_secs: u64,
    ) -> Result<(Claims, Arc<KeySet>), JwtError> {
        let keys = self.keys.load_full();
        let claims = self.verify_with(&keys, token, required_scopes, now_unix_secs)?;
        Ok((claims, keys))
    }

    fn verify_with<S: AsRef<str>>(
        &self,
        keys: &KeySet,
        token: &str,
        required_scopes: &[S],
        now_unix_secs: u64,
    ) -> Result<Claims, JwtError> {
        let token = token.as_bytes();
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(JwtError::Malformed);
        }
        let mut parts = token.splitn(4, |&b| b == b'.');
        let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let signed = &token[..header_b64.len() + 1 + payload_b64.len()];

        let mut header_buf = [0u8; MAX_HEADER_BYTES];
        let header_bytes = decode_to(header_b64, &mut header_buf)?;
        let header = header::parse(header_bytes)?;
        let mut sig_buf = [0u8; MAX_SIGNATURE_BYTES];
        let sig = decode_to(sig_b64, &mut sig_buf)?;
        let payload = b64::decode(payload_b64).ok_or(JwtError::Malformed)?;

        let key = keys
            .find(header.kid.as_deref(), header.alg)
            .map_err(|miss| match miss {
                Miss::Unknown => JwtError::UnknownKey,
                Miss::AlgMismatch => JwtError::AlgMismatch,
            })?;
        if sig.is_empty() || !key.verify(header.alg, signed, sig) {
            return Err(JwtError::BadSignature);
        }

        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| JwtError::Malformed)?;
        claims::check(&claims, &self.policy(), required_scopes, now_unix_secs)?;
        Ok(claims)
    }
}

/// Decodes one base64url segment into the front of `buf`; too long for `buf` is malformed.
fn decode_to<'b>(b64: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], JwtError> {
    let len = b64::decoded_len(b64.len()).ok_or(JwtError::Malformed)?;
    let out = buf.get_mut(..len).ok_or(JwtError::Malformed)?;
    b64::decode_into(b64, out).ok_or(JwtError::Malformed)?;
    Ok(out)
}

/// The token in an `Authorization` header value, as API Gateway's identity source
/// `$request.header.Authorization` takes it: "the token, or the token prefixed with Bearer"
/// (DG http-api-jwt-authorizer). The scheme is case-insensitive (RFC 9110 §11.1) and
/// followed by one or more spaces; surrounding spaces and tabs are trimmed. `None` for an
/// empty value, a bare `Bearer`, or bytes that are not ASCII (a JWS is ASCII). A value
/// with another scheme (`Basic ...`) comes back whole and then fails as `Malformed`.
pub fn bearer_token(value: &[u8]) -> Option<&str> {
    let value = value.trim_ascii();
    let token = match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => value[7..].trim_ascii_start(),
        _ if value.eq_ignore_ascii_case(b"bearer") => return None,
        _ => value,
    };
    if token.is_empty() || !token.is_ascii() {
        return None;
    }
    std::str::from_utf8(token).ok()
}

#[cfg(test)]
pub(crate) mod tests;
