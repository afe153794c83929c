//! SigV4 *signing* (issue 9: remote Lambda invocations), on the same canonical request,
//! string to sign and signing key as the verifier ([`super::canonical`]), so both sides share
//! one implementation that the fixture suites check (`tests/sigv4_sign_fixtures.rs`).
//!
//! Pure: the time (`X-Amz-Date`), the derived key and the headers to sign are arguments. The
//! caller derives `kSigning` once per day and credential ([`super::signing_key`]) and keeps
//! it; [`Signer`] keeps its buffers, so a warm signer does not allocate.

use ring::hmac;

use super::canonical::{CanonicalInput, Scratch, canonical_request, hex, string_to_sign};
use super::{ALGORITHM, UriRules};

/// What is signed: a request as it will be sent.
#[derive(Clone, Copy, Debug)]
pub struct SignInput<'a> {
    pub method: &'a [u8],
    /// Raw path as on the request line (no query).
    pub path: &'a [u8],
    /// Raw query without `?`.
    pub query: &'a [u8],
    /// The headers to sign (any case, any order; `host` and `x-amz-date` among them).
    pub headers: &'a [(&'a [u8], &'a [u8])],
    /// Lowercase hex SHA-256 of the body.
    pub payload_hash: &'a [u8],
    /// `yyyyMMddTHHmmssZ`.
    pub amz_date: &'a [u8],
    /// `yyyyMMdd/region/service/aws4_request`.
    pub scope: &'a [u8],
    pub rules: UriRules,
}

/// Reusable buffers for signing.
#[derive(Debug, Default)]
pub struct Signer {
    scratch: Scratch,
    names: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Signer {
    pub fn new() -> Signer {
        Signer::default()
    }

    /// Appends the `Authorization` value, `AWS4-HMAC-SHA256 Credential={akid}/{scope},
    /// SignedHeaders={names}, Signature={hex}`, to `out`.
    pub fn authorization(
        &mut self,
        out: &mut Vec<u8>,
        key: &hmac::Key,
        access_key_id: &[u8],
        input: &SignInput<'_>,
    ) {
        self.signed_headers(input.headers);
        let canonical = CanonicalInput {
            method: input.method,
            path: input.path,
            query: input.query,
            headers: input.headers,
            signed_headers: &self.names,
            payload_hash: input.payload_hash,
            presigned: false,
        };
        canonical_request(&mut self.scratch, &canonical, input.rules);
        string_to_sign(&mut self.scratch, input.amz_date, input.scope);
        let sig = super::canonical::signature(key, self.scratch.string_to_sign());
        out.extend_from_slice(ALGORITHM.as_bytes());
        out.extend_from_slice(b" Credential=");
        out.extend_from_slice(access_key_id);
        out.push(b'/');
        out.extend_from_slice(input.scope);
        out.extend_from_slice(b", SignedHeaders=");
        out.extend_from_slice(&self.names);
        out.extend_from_slice(b", Signature=");
        out.extend_from_slice(&hex(&sig));
    }

    /// The canonical request of the last signature (for tests and diagnostics).
    pub fn canonical_request(&self) -> &[u8] {
        self.scratch.canonical_request()
    }

    /// The string to sign of the last signature.
    pub fn string_to_sign(&self) -> &[u8] {
        self.scratch.string_to_sign()
    }

    /// `self.names` = the lowercase header names, sorted, without repeats, `;`-joined.
    fn signed_headers(&mut self, headers: &[(&[u8], &[u8])]) {
        let mut lower = std::mem::take(&mut self.names);
        lower.clear();
        self.spans.clear();
        for (name, _) in headers {
            let start = lower.len();
            lower.extend(name.iter().map(u8::to_ascii_lowercase));
            self.spans.push((start, lower.len()));
        }
        let l = &lower;
        self.spans
            .sort_unstable_by(|a, b| l[a.0..a.1].cmp(&l[b.0..b.1]));
        self.spans.dedup_by(|a, b| l[a.0..a.1] == l[b.0..b.1]);
        let joined = lower.len();
        for (i, &(s, e)) in self.spans.iter().enumerate() {
            if i > 0 {
                lower.push(b';');
            }
            lower.extend_from_within(s..e);
        }
        lower.drain(..joined);
        self.names = lower;
    }
}

/// `yyyyMMddTHHmmssZ` for Unix seconds.
pub fn amz_date(unix_secs: u64) -> [u8; 16] {
    let t = crate::dataplane::clock::CivilTime::from_unix(unix_secs);
    let mut out = *b"00000000T000000Z";
    let year = t.year.clamp(0, 9999) as u64;
    let digits = |out: &mut [u8], mut n: u64| {
        for slot in out.iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    digits(&mut out[0..4], year);
    digits(&mut out[4..6], u64::from(t.month));
    digits(&mut out[6..8], u64::from(t.day));
    digits(&mut out[9..11], u64::from(t.hour));
    digits(&mut out[11..13], u64::from(t.minute));
    digits(&mut out[13..15], u64::from(t.second));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates() {
        assert_eq!(&amz_date(1_440_938_160), b"20150830T123600Z");
        assert_eq!(&amz_date(0), b"19700101T000000Z");
    }

    #[test]
    fn signed_header_names_are_lowercase_sorted_and_unique() {
        let mut s = Signer::new();
        s.signed_headers(&[
            (b"X-Amz-Date", b"1"),
            (b"Host", b"h"),
            (b"content-type", b"x"),
            (b"host", b"again"),
        ]);
        assert_eq!(s.names, b"content-type;host;x-amz-date");
    }
}
