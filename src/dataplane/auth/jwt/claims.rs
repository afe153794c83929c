//! Claim checks after the signature verified (RFC 7519 §4.1, SPEC-NOTES §1.4 "JWT
//! authorizer", RELIABILITY A04): times, issuer, audience or `client_id`, route scopes.

use serde_json::{Map, Value};

use super::JwtError;

/// The verified payload, as parsed: later wiring exposes it as
/// `$context.authorizer.claims.*` (REST) / `requestContext.authorizer.jwt.claims` (HTTP).
pub type Claims = Map<String, Value>;

/// What one authorizer accepts, besides the keys.
pub(crate) struct Policy<'a> {
    pub(crate) issuer: &'a str,
    /// `None`: any audience passes.
    pub(crate) audiences: Option<&'a [Box<str>]>,
    pub(crate) leeway_secs: u64,
}

/// Every check, in this order: `exp` (required), `nbf`, `iat`, `iss`, `aud`/`client_id`,
/// then scopes (the only 403).
pub(crate) fn check<S: AsRef<str>>(
    claims: &Claims,
    policy: &Policy<'_>,
    required_scopes: &[S],
    now: u64,
) -> Result<(), JwtError> {
    let leeway = policy.leeway_secs;
    // RFC 7519 §4.1.4: the current time MUST be before `exp`. A fractional `exp` counts
    // from its whole second (floor), which only ever shortens validity.
    let exp = numeric_date(claims.get("exp"))?.ok_or(JwtError::MissingExp)?;
    if now >= exp.floor.saturating_add(leeway) {
        return Err(JwtError::Expired);
    }
    // `nbf` and `iat` (API Gateway: both "before the current time") round up.
    for name in ["nbf", "iat"] {
        if let Some(t) = numeric_date(claims.get(name))?
            && t.ceil > now.saturating_add(leeway)
        {
            return Err(JwtError::NotYetValid);
        }
    }
    match claims.get("iss") {
        Some(Value::String(iss)) if iss == policy.issuer => {}
        Some(Value::String(_)) | None => return Err(JwtError::WrongIssuer),
        Some(_) => return Err(JwtError::BadClaimType),
    }
    if let Some(audiences) = policy.audiences {
        check_audience(claims, audiences)?;
    }
    check_scopes(claims, required_scopes)
}

/// A NumericDate (RFC 7519 §2): a JSON number of seconds, never a string. Integers in
/// `0..=i64::MAX`, or finite non-negative floats below 2^63; anything else (negative,
/// `18446744073709551616`, which serde_json reads as the float 2^64) is `BadClaimType`.
/// (`1e309` never gets here: serde_json refuses the payload, so it is `Malformed`.)
#[derive(Clone, Copy)]
struct Seconds {
    floor: u64,
    ceil: u64,
}

const MAX_SECONDS: u64 = i64::MAX as u64;

fn numeric_date(value: Option<&Value>) -> Result<Option<Seconds>, JwtError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let Value::Number(n) = value else {
        return Err(JwtError::BadClaimType);
    };
    if let Some(int) = n.as_u64() {
        return if int <= MAX_SECONDS {
            Ok(Some(Seconds {
                floor: int,
                ceil: int,
            }))
        } else {
            Err(JwtError::BadClaimType)
        };
    }
    if n.is_i64() {
        return Err(JwtError::BadClaimType); // negative
    }
    match n.as_f64() {
        // 2^63 as f64 is exact; the casts below are then in range and exact for floor/ceil.
        Some(f) if f.is_finite() && (0.0..9_223_372_036_854_775_808.0).contains(&f) => {
            Ok(Some(Seconds {
                floor: f.floor() as u64,
                ceil: f.ceil() as u64,
            }))
        }
        _ => Err(JwtError::BadClaimType),
    }
}

/// API Gateway (DG http-api-troubleshooting-jwt): "API Gateway validates `client_id` only if
/// `aud` is not present. When both `aud` and `client_id` are present, API Gateway evaluates
/// `aud`." So: `aud` present (a string, or an array of strings) must name a configured
/// audience; only an absent `aud` falls back to a string `client_id` (Cognito access tokens
/// carry `client_id`, not `aud`). No configured audience → nothing matches (fail closed).
fn check_audience(claims: &Claims, audiences: &[Box<str>]) -> Result<(), JwtError> {
    let configured = |s: &str| audiences.iter().any(|a| **a == *s);
    let ok = match claims.get("aud") {
        Some(Value::String(aud)) => configured(aud),
        Some(Value::Array(auds)) => {
            let mut any = false;
            for aud in auds {
                let Value::String(aud) = aud else {
                    return Err(JwtError::BadClaimType);
                };
                any |= configured(aud);
            }
            any
        }
        Some(_) => return Err(JwtError::BadClaimType),
        None => match claims.get("client_id") {
            Some(Value::String(id)) => configured(id),
            Some(_) => return Err(JwtError::BadClaimType),
            None => false,
        },
    };
    if ok {
        Ok(())
    } else {
        Err(JwtError::WrongAudience)
    }
}

/// A route's `authorizationScopes`: the token needs at least one of them (any-of, as API
/// Gateway), found in `scope` (space-separated string, RFC 8693 §4.2) or `scp` (array of
/// strings, or a space-separated string as some providers emit). No required scopes → no
/// check. A wrongly typed `scope`/`scp` is `BadClaimType` when scopes are required.
fn check_scopes<S: AsRef<str>>(claims: &Claims, required: &[S]) -> Result<(), JwtError> {
    if required.is_empty() {
        return Ok(());
    }
    let wanted = |s: &str| required.iter().any(|r| r.as_ref() == s);
    let mut granted = false;
    for name in ["scope", "scp"] {
        match claims.get(name) {
            None => {}
            Some(Value::String(list)) => {
                granted |= list.split(' ').any(|s| !s.is_empty() && wanted(s));
            }
            Some(Value::Array(list)) => {
                for s in list {
                    let Value::String(s) = s else {
                        return Err(JwtError::BadClaimType);
                    };
                    granted |= wanted(s);
                }
            }
            Some(_) => return Err(JwtError::BadClaimType),
        }
    }
    if granted {
        Ok(())
    } else {
        Err(JwtError::InsufficientScope)
    }
}
