//! AWS Signature Version 4 verification for `AWS_IAM` methods (issue 8, SPEC-NOTES §10,
//! RELIABILITY A10): pure core, sans-io, on the request path through `dataplane/iam.rs`.
//! Time is an argument (`now_unix`), the credentials are a lookup the caller provides.
//!
//! # Shape
//!
//! [`Verifier::verify`] takes a [`Request`] of borrowed slices — method, raw path, raw query,
//! header lines in arrival order, and the SHA-256 of the body the gateway will forward — and
//! answers a [`Verified`] principal or a [`SigV4Error`]. In order:
//!
//! 1. [`parse`]: the `Authorization` header form (tolerant of spaces and commas between
//!    `Credential=`, `SignedHeaders=`, `Signature=`; strict about a missing or empty part) or
//!    the presigned query form (`X-Amz-Algorithm`, `-Credential`, `-Date`, `-SignedHeaders`,
//!    `-Signature`, `-Expires`, optional `-Security-Token`). Both forms at once, a repeated
//!    `Authorization` or presign parameter, and two `X-Amz-Date` values (A10g) are 400s.
//! 2. The credential scope against configuration: scope date = `X-Amz-Date` date (A10f),
//!    `aws4_request`, service (`execute-api`), region; `host` must be signed (A10d).
//! 3. Time: `X-Amz-Date` within `max_skew_secs` of `now_unix` either way (default 5 min,
//!    A10b); a presigned request also expires at `X-Amz-Date + X-Amz-Expires`.
//! 4. The access key through [`CredentialStore`]; temporary credentials need their
//!    `X-Amz-Security-Token` (compared in constant time), permanent ones must not carry one.
//! 5. Canonical request → string to sign → `kSigning` → signature, compared in constant time.
//!    The payload line is the hex SHA-256 the *caller* computed over the body it forwards,
//!    never the client's `x-amz-content-sha256` claim, so a changed body fails (A10c).
//!
//! # Canonical URI rules
//!
//! [`UriRules`] chooses dot-segment normalisation and single vs double encoding:
//! `EXECUTE_API` (normalise, then encode each raw segment again, `%2F` → `%252F`, as
//! SPEC-NOTES §10 and the AWS suites' default) and `S3` (neither). The raw path is what
//! gets forwarded, so what is verified is what the integration receives (A10e).
//!
//! # Unsigned headers
//!
//! [`Verified::signed_headers`] names the headers the signature covers. Everything else on
//! the request was added or may have been changed after signing: the wiring must strip or at
//! least not trust such headers (e.g. `X-Forwarded-Host`, A10d) before they reach the
//! integration or a policy decision.

use std::borrow::Cow;

mod canonical;
mod error;
mod parse;
mod sign;
#[cfg(test)]
mod tests;

pub use canonical::{
    CanonicalInput, Scratch, canonical_request, hex, payload_sha256, signature, signing_key,
    string_to_sign, unhex32,
};
pub use error::{Missing, SigV4Error};
pub use parse::{Auth, Form, Scope, amz_date_to_unix, parse, scope};
pub use sign::{SignInput, Signer, amz_date};

/// The only algorithm API Gateway accepts (SigV4A is not supported, SPEC-NOTES §10).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The service name in an execute-api credential scope.
pub const EXECUTE_API: &str = "execute-api";
/// Default clock-skew window: "within five minutes" (AWS IAM User Guide,
/// `reference_aws-signing.html`; RELIABILITY A10b). S3 allows 15 minutes.
pub const DEFAULT_MAX_SKEW_SECS: u64 = 300;
/// Longest `X-Amz-Expires` SigV4 allows: 7 days.
pub const MAX_PRESIGN_EXPIRES_SECS: u64 = 604_800;

/// How the canonical URI is formed from the raw path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UriRules {
    /// Remove empty, `.` and `..` segments.
    pub normalize: bool,
    /// Encode the raw segment bytes (so existing escapes are encoded again), as every service
    /// but S3 does; otherwise decode and encode once.
    pub double_encode: bool,
}

impl UriRules {
    /// execute-api and every other non-S3 service.
    pub const EXECUTE_API: UriRules = UriRules {
        normalize: true,
        double_encode: true,
    };
    /// S3: the path as it is, encoded once.
    pub const S3: UriRules = UriRules {
        normalize: false,
        double_encode: false,
    };
}

/// One request to verify, borrowed from the parsed head.
#[derive(Clone, Copy, Debug)]
pub struct Request<'r> {
    pub method: &'r [u8],
    /// Raw path as on the request line (and as it will be forwarded), without the query.
    pub path: &'r [u8],
    /// Raw query string without `?` (empty if none).
    pub query: &'r [u8],
    /// Header lines (name, value) in arrival order, repeated names repeated.
    pub headers: &'r [(&'r [u8], &'r [u8])],
    /// SHA-256 of the body the gateway forwards ([`payload_sha256`] of an empty body if none).
    pub payload_sha256: [u8; 32],
}

/// What the credential store knows about one access key id.
#[derive(Clone, Copy, Debug)]
pub struct Credential<'c> {
    pub secret_access_key: &'c [u8],
    /// `Some` for temporary credentials: the request must carry exactly this
    /// `X-Amz-Security-Token`. `None`: the request must carry none.
    pub session_token: Option<&'c [u8]>,
    /// The IAM principal the later policy evaluation works with.
    pub principal_arn: &'c str,
}

/// Access key id → credentials (configured keys; later a reloadable table).
pub trait CredentialStore {
    fn credential(&self, access_key_id: &[u8]) -> Option<Credential<'_>>;
}

/// The headers a verified signature covers (`SignedHeaders`, lowercase, `;`-separated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders<'r>(Cow<'r, [u8]>);

impl SignedHeaders<'_> {
    /// The names, as listed.
    pub fn names(&self) -> impl Iterator<Item = &[u8]> {
        self.0.split(|&b| b == b';')
    }

    /// Whether a header of this name (any case) is covered by the signature.
    pub fn contains(&self, name: &[u8]) -> bool {
        self.names().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The raw list, e.g. `host;x-amz-date`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The same list, no longer borrowing the request.
    pub fn into_owned(self) -> SignedHeaders<'static> {
        SignedHeaders(Cow::Owned(self.0.into_owned()))
    }
}

/// A request whose signature checked out.
#[derive(Clone, Debug)]
pub struct Verified<'r, 'c> {
    pub access_key_id: Cow<'r, [u8]>,
    pub principal_arn: &'c str,
    pub form: Form,
    pub signed_headers: SignedHeaders<'r>,
}

/// The SigV4 settings of one API (compiled once from config).
#[derive(Clone, Debug)]
pub struct Verifier {
    pub region: Box<str>,
    pub service: Box<str>,
    pub max_skew_secs: u64,
    pub uri: UriRules,
}

impl Verifier {
    /// execute-api in `region`, 5-minute skew window, non-S3 URI rules.
    pub fn execute_api(region: &str) -> Verifier {
        Verifier {
            region: region.into(),
            service: EXECUTE_API.into(),
            max_skew_secs: DEFAULT_MAX_SKEW_SECS,
            uri: UriRules::EXECUTE_API,
        }
    }

    /// Verify `req` at `now_unix` (seconds since the epoch). `scratch` is reused across
    /// calls; after a [`SigV4Error::SignatureMismatch`] it holds the canonical request and
    /// string to sign for the error message.
    pub fn verify<'r, 'c, C: CredentialStore + ?Sized>(
        &self,
        req: &Request<'r>,
        creds: &'c C,
        now_unix: u64,
        scratch: &mut Scratch,
    ) -> Result<Verified<'r, 'c>, SigV4Error> {
        scratch.clear();
        let auth = parse(req)?;
        let signed_at = amz_date_to_unix(&auth.amz_date).ok_or(SigV4Error::MalformedDate)?;
        let scope = scope(&auth.credential)?;
        if auth.amz_date.get(..8) != Some(scope.date) {
            return Err(SigV4Error::ScopeDateMismatch);
        }
        if scope.terminator != b"aws4_request" {
            return Err(SigV4Error::InvalidTerminator);
        }
        if scope.service != self.service.as_bytes() {
            return Err(SigV4Error::WrongService);
        }
        if scope.region != self.region.as_bytes() {
            return Err(SigV4Error::WrongRegion);
        }
        let signed_headers = SignedHeaders(auth.signed_headers.clone());
        if !signed_headers.contains(b"host") {
            return Err(SigV4Error::HostNotSigned);
        }
        self.check_time(&auth, signed_at, now_unix)?;
        let credential = creds
            .credential(scope.access_key_id)
            .ok_or(SigV4Error::UnknownAccessKey)?;
        let token_ok = match (credential.session_token, auth.security_token.as_deref()) {
            (None, None) => true,
            (Some(want), Some(got)) => constant_time_eq(want, got),
            _ => false,
        };
        if !token_ok {
            return Err(SigV4Error::InvalidSecurityToken);
        }

        let payload_hash = hex(&req.payload_sha256);
        let input = CanonicalInput {
            method: req.method,
            path: req.path,
            query: req.query,
            headers: req.headers,
            signed_headers: &auth.signed_headers,
            payload_hash: &payload_hash,
            presigned: auth.form == Form::Presigned,
        };
        canonical_request(scratch, &input, self.uri);
        string_to_sign(scratch, &auth.amz_date, scope.scope);
        let key = signing_key(
            credential.secret_access_key,
            scope.date,
            scope.region,
            scope.service,
        );
        let given = auth.signature.ok_or(SigV4Error::SignatureMismatch)?;
        ring::hmac::verify(&key, scratch.string_to_sign(), &given)
            .map_err(|_| SigV4Error::SignatureMismatch)?;
        Ok(Verified {
            access_key_id: match auth.credential {
                Cow::Borrowed(c) => Cow::Borrowed(scope_key(c)),
                Cow::Owned(ref c) => Cow::Owned(scope_key(c).to_vec()),
            },
            principal_arn: credential.principal_arn,
            form: auth.form,
            signed_headers,
        })
    }

    fn check_time(&self, auth: &Auth<'_>, signed_at: u64, now: u64) -> Result<(), SigV4Error> {
        let max_skew = self.max_skew_secs;
        if signed_at > now.saturating_add(max_skew) {
            return Err(SigV4Error::SignatureNotYetCurrent {
                signed_at,
                now,
                max_skew,
            });
        }
        match &auth.expires {
            None if now.saturating_sub(signed_at) > max_skew => Err(SigV4Error::SignatureExpired {
                signed_at,
                now,
                max_skew,
            }),
            None => Ok(()),
            Some(expires) => {
                let secs = std::str::from_utf8(expires)
                    .ok()
                    .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse::<u64>().ok())
                    .filter(|s| (1..=MAX_PRESIGN_EXPIRES_SECS).contains(s))
                    .ok_or(SigV4Error::InvalidExpires)?;
                if now > signed_at + secs {
                    Err(SigV4Error::PresignedExpired)
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// The access key id part of a credential.
fn scope_key(credential: &[u8]) -> &[u8] {
    credential.split(|&b| b == b'/').next().unwrap_or_default()
}

/// Equality whose time depends on the lengths only (ring's `constant_time` module is
/// deprecated; `hmac::verify` covers the signature itself).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && std::hint::black_box(a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y))) == 0
}
