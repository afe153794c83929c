//! Why a signature was refused, and what API Gateway answers for it: status,
//! `x-amzn-ErrorType` and the `{"message":…}` body.
//!
//! Sources, per variant: SPEC-NOTES §2 (gateway responses, `[OBS]`/`[AWS-REC]`) where it has
//! the text; otherwise the public observation named on the variant. A variant marked
//! **unverified** has no recorded API Gateway text: the wording is AWS's generic SigV4 wording
//! as remembered, or tollgate's own, and must be checked against a real account.

use super::parse;
use super::{Request, Scratch};

/// Parts an `Authorization` header lacked (a set; see [`SigV4Error::IncompleteSignature`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Missing(u8);

impl Missing {
    pub const NONE: Missing = Missing(0);
    pub const CREDENTIAL: Missing = Missing(1);
    pub const SIGNATURE: Missing = Missing(2);
    pub const SIGNED_HEADERS: Missing = Missing(4);
    pub const DATE: Missing = Missing(8);

    pub fn with(self, other: Missing) -> Missing {
        Missing(self.0 | other.0)
    }

    pub fn contains(self, other: Missing) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
}

/// A refused signature. Small and `Copy`; [`SigV4Error::write_body`] renders the message
/// (some messages quote the request, so the request is passed again there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor `X-Amz-Algorithm` in the query. 403
    /// `Missing Authentication Token`, MissingAuthenticationTokenException (SPEC-NOTES §2,
    /// `[AWS-REC]`).
    MissingAuthenticationToken,
    /// An `Authorization` piece without `=` (e.g. `Bearer <tok>`). 403
    /// `'<tok>' not a valid key=value pair (missing equal-sign) in Authorization header: '<header>'.`
    /// (SPEC-NOTES §2 `[OBS]`). Error type IncompleteSignatureException: **unverified**.
    NotKeyValuePair,
    /// `Credential`, `Signature`, `SignedHeaders` or the `X-Amz-Date` header missing or empty.
    /// 403 `Authorization header requires 'Credential' parameter. …` one sentence per missing
    /// part, then `Authorization=<header>` (SPEC-NOTES §2 `[OBS]`; the full shape, with the
    /// date sentence, as API Gateway sent it in aws/chalice#828). Error type
    /// IncompleteSignatureException: **unverified**. tollgate does not accept a `Date` header
    /// in place of `X-Amz-Date` although the message names it.
    IncompleteSignature { missing: Missing },
    /// A presigned query lacks one of the six `X-Amz-*` parameters. 403, **unverified**
    /// (AWS's generic "AWS query-string parameters must include …" wording).
    IncompletePresigned,
    /// An algorithm other than `AWS4-HMAC-SHA256` (SigV4A is not supported by API Gateway,
    /// SPEC-NOTES §10). 403, **unverified** wording.
    UnsupportedAlgorithm,
    /// `Credential` is not five `/`-separated parts. 403, **unverified** (AWS's generic
    /// "Credential must have exactly 5 slash-delimited elements" wording).
    MalformedCredential,
    /// `X-Amz-Date` is not `yyyyMMddTHHmmssZ`. 403, **unverified** wording.
    MalformedDate,
    /// `X-Amz-Expires` is not an integer in 1..=604800. 403, **unverified** wording.
    InvalidExpires,
    /// Two `X-Amz-Date` headers (or query parameters). 400 (RELIABILITY A10g). Body and type
    /// are **unverified** (tollgate's wording, BadRequestException as SPEC-NOTES §2 gives for
    /// the other 400s).
    DuplicateDate,
    /// Both the header and the query form, or a repeated `Authorization`,
    /// `X-Amz-Security-Token` or signature parameter. 400, **unverified** (tollgate's wording).
    Ambiguous,
    /// The credential scope's date is not the date of `X-Amz-Date` (A10f). 403, **unverified**
    /// (AWS's generic "Date in Credential scope does not match …" wording).
    ScopeDateMismatch,
    /// The scope does not end in `aws4_request`. 403, **unverified** wording.
    InvalidTerminator,
    /// The scope's service is not the configured one (`execute-api`). 403, **unverified**
    /// (AWS's generic "Credential should be scoped to correct service" wording).
    WrongService,
    /// The scope's region is not the configured one. 403
    /// `Credential should be scoped to a valid region, not '<region>'. ` as API Gateway sent it
    /// (aws-amplify/amplify-js#4991). Error type InvalidSignatureException: **unverified**.
    WrongRegion,
    /// `host` is not in `SignedHeaders` (A10d). 403
    /// `'Host' must be a 'SignedHeader' in the AWS Authorization.` (babbel/okhttp-aws-signer#10,
    /// NetSPI/AWSSigner#3, both API Gateway). Error type: **unverified**.
    HostNotSigned,
    /// `X-Amz-Date` older than the skew window (A10b). 403
    /// `Signature expired: <date> is now earlier than <now - skew> (<now> - 5 min.)`
    /// (mhart/aws4#118, API Gateway). Error type InvalidSignatureException: **unverified**.
    SignatureExpired {
        signed_at: u64,
        now: u64,
        max_skew: u64,
    },
    /// `X-Amz-Date` later than the skew window. 403
    /// `Signature not yet current: <date> is still later than <now + skew> (<now> + 5 min.)`
    /// (NickWaterton/Roomba980-Python#118). Error type: **unverified**.
    SignatureNotYetCurrent {
        signed_at: u64,
        now: u64,
        max_skew: u64,
    },
    /// A presigned request past `X-Amz-Date + X-Amz-Expires`. 403, **unverified** wording.
    PresignedExpired,
    /// No credentials for the access key id. 403 `The security token included in the request
    /// is invalid.`, UnrecognizedClientException: **unverified** (AWS's generic wording).
    UnknownAccessKey,
    /// Temporary credentials without their `X-Amz-Security-Token`, a wrong token, or a token
    /// with permanent credentials. Same answer as [`SigV4Error::UnknownAccessKey`],
    /// **unverified**.
    InvalidSecurityToken,
    /// The signature does not match (A10a–c, e). 403 INVALID_SIGNATURE's message with the
    /// canonical request and string to sign this verifier computed (SPEC-NOTES §2 `[OBS]`,
    /// mhart/aws4#33). Error type InvalidSignatureException (SPEC-NOTES: **unverified**).
    SignatureMismatch,
}

const MISMATCH_PREFIX: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

impl SigV4Error {
    /// The HTTP status API Gateway answers with.
    pub fn status(self) -> u16 {
        match self {
            SigV4Error::DuplicateDate | SigV4Error::Ambiguous => 400,
            _ => 403,
        }
    }

    /// The `x-amzn-ErrorType` header value.
    pub fn error_type(self) -> &'static str {
        match self {
            SigV4Error::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            SigV4Error::NotKeyValuePair
            | SigV4Error::IncompleteSignature { .. }
            | SigV4Error::IncompletePresigned
            | SigV4Error::UnsupportedAlgorithm
            | SigV4Error::MalformedCredential
            | SigV4Error::MalformedDate
            | SigV4Error::InvalidExpires
            | SigV4Error::HostNotSigned => "IncompleteSignatureException",
            SigV4Error::DuplicateDate | SigV4Error::Ambiguous => "BadRequestException",
            SigV4Error::UnknownAccessKey | SigV4Error::InvalidSecurityToken => {
                "UnrecognizedClientException"
            }
            SigV4Error::ScopeDateMismatch
            | SigV4Error::InvalidTerminator
            | SigV4Error::WrongService
            | SigV4Error::WrongRegion
            | SigV4Error::SignatureExpired { .. }
            | SigV4Error::SignatureNotYetCurrent { .. }
            | SigV4Error::PresignedExpired
            | SigV4Error::SignatureMismatch => "InvalidSignatureException",
        }
    }

    /// Append the JSON body `{"message":"…"}` for this error to `out`. `req` is the refused
    /// request and `scratch` the buffers of its verification (for the mismatch message).
    pub fn write_body(self, req: &Request<'_>, scratch: &Scratch, out: &mut Vec<u8>) {
        let message = self.message(req, scratch);
        out.extend_from_slice(b"{\"message\":\"");
        for c in message.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                c if (c as u32) < 0x20 => {
                    out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                }
                c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        out.extend_from_slice(b"\"}");
    }

    /// The message text (unescaped).
    pub fn message(self, req: &Request<'_>, scratch: &Scratch) -> String {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let authorization = parse::single_header(req.headers, b"authorization", self)
            .ok()
            .flatten()
            .map(text)
            .unwrap_or_default();
        let auth = parse::parse(req).ok();
        let scope_part = |pick: for<'a> fn(&'a parse::Scope<'a>) -> &'a [u8]| {
            auth.as_ref()
                .and_then(|a| parse::scope(&a.credential).ok().map(|s| text(pick(&s))))
                .unwrap_or_default()
        };
        let amz_date = auth.as_ref().map(|a| text(&a.amz_date)).unwrap_or_default();
        match self {
            SigV4Error::MissingAuthenticationToken => "Missing Authentication Token".into(),
            SigV4Error::NotKeyValuePair => {
                let tok = authorization
                    .split_once([' ', '\t'])
                    .map_or("", |(_, rest)| rest)
                    .split([',', ' ', '\t'])
                    .find(|p| !p.is_empty() && !p.contains('='))
                    .unwrap_or_default();
                format!(
                    "'{tok}' not a valid key=value pair (missing equal-sign) in Authorization header: '{authorization}'."
                )
            }
            SigV4Error::IncompleteSignature { missing } => {
                let mut m = String::new();
                for (bit, name) in [
                    (Missing::CREDENTIAL, "Credential"),
                    (Missing::SIGNATURE, "Signature"),
                    (Missing::SIGNED_HEADERS, "SignedHeaders"),
                ] {
                    if missing.contains(bit) {
                        m += &format!("Authorization header requires '{name}' parameter. ");
                    }
                }
                if missing.contains(Missing::DATE) {
                    m += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ";
                }
                m + "Authorization=" + &authorization
            }
            SigV4Error::IncompletePresigned => "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires'. Re-examine the query-string parameters.".into(),
            SigV4Error::UnsupportedAlgorithm => "Unsupported AWS 'algorithm': only 'AWS4-HMAC-SHA256' is supported.".into(),
            SigV4Error::MalformedCredential => {
                let credential = auth.as_ref().map(|a| text(&a.credential)).unwrap_or_default();
                format!("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'")
            }
            SigV4Error::MalformedDate => format!("Invalid X-Amz-Date '{amz_date}': expected the ISO 8601 basic format yyyyMMdd'T'HHmmss'Z'."),
            SigV4Error::InvalidExpires => "X-Amz-Expires must be an integer between 1 and 604800 (seconds).".into(),
            SigV4Error::DuplicateDate => "Multiple X-Amz-Date values in the request.".into(),
            SigV4Error::Ambiguous => "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified, each once.".into(),
            SigV4Error::ScopeDateMismatch => {
                let date = scope_part(|s| s.date);
                let head = amz_date.get(..8).unwrap_or_default();
                format!("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{head}', from '{amz_date}'.")
            }
            SigV4Error::InvalidTerminator => format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
                scope_part(|s| s.terminator)
            ),
            SigV4Error::WrongService => format!(
                "Credential should be scoped to correct service: '{}'. ",
                scope_part(|s| s.service)
            ),
            SigV4Error::WrongRegion => format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                scope_part(|s| s.region)
            ),
            SigV4Error::HostNotSigned => "'Host' must be a 'SignedHeader' in the AWS Authorization.".into(),
            SigV4Error::SignatureExpired { signed_at, now, max_skew } => format!(
                "Signature expired: {} is now earlier than {} ({} - {} min.)",
                basic(signed_at),
                basic(now.saturating_sub(max_skew)),
                basic(now),
                max_skew / 60
            ),
            SigV4Error::SignatureNotYetCurrent { signed_at, now, max_skew } => format!(
                "Signature not yet current: {} is still later than {} ({} + {} min.)",
                basic(signed_at),
                basic(now.saturating_add(max_skew)),
                basic(now),
                max_skew / 60
            ),
            SigV4Error::PresignedExpired => "Signature expired: the presigned request is past X-Amz-Date + X-Amz-Expires.".into(),
            SigV4Error::UnknownAccessKey | SigV4Error::InvalidSecurityToken => {
                "The security token included in the request is invalid.".into()
            }
            SigV4Error::SignatureMismatch => format!(
                "{MISMATCH_PREFIX}\n\nThe Canonical String for this request should have been\n'{}'\n\nThe String-to-Sign should have been\n'{}'\n",
                text(scratch.canonical_request()),
                text(scratch.string_to_sign())
            ),
        }
    }

    /// Whether the form of the request could be read (for logging: a parse failure vs. a
    /// refused, well-formed signature).
    pub fn is_malformed(self) -> bool {
        matches!(
            self,
            SigV4Error::NotKeyValuePair
                | SigV4Error::IncompleteSignature { .. }
                | SigV4Error::IncompletePresigned
                | SigV4Error::MalformedCredential
                | SigV4Error::MalformedDate
                | SigV4Error::InvalidExpires
                | SigV4Error::DuplicateDate
                | SigV4Error::Ambiguous
        )
    }
}

/// Seconds since the epoch as `yyyyMMddTHHmmssZ`.
fn basic(secs: u64) -> String {
    let t = crate::dataplane::CivilTime::from_unix(secs);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}
