//! The request of a remote function (`FunctionTarget::Remote`, issue 9): Lambda's Invoke API,
//! `POST {path}?Qualifier=... HTTP/1.1` with the event as the body, signed with SigV4 for
//! service `lambda` on every call. [`invoke::call`](super::invoke) sends it over the core's
//! upstream pool like any other function call.
//!
//! Signed: `content-type`, `host`, `x-amz-date`, `x-amz-invocation-type` and, for temporary
//! credentials, `x-amz-security-token` (what botocore signs of the same request).
//! `X-Amzn-Trace-Id` and `Content-Length` are sent unsigned (botocore leaves the trace header
//! out: X-Ray may rewrite it on the way). The canonical URI is Lambda's, the non-S3 rule:
//! each segment encoded again, so an ARN's `%3A` is signed as `%253A` (botocore does the
//! same; AWS checks it that way).
//!
//! `kSigning` is derived once per UTC day per function's credentials and kept per core
//! ([`Signing`], by the credentials' `Arc` identity), so a call costs one SHA-256 of the
//! event, one of the canonical request and one HMAC.

use std::sync::Arc;

use ring::hmac;

use super::super::auth::sigv4::{self, SignInput, Signer, UriRules};
use crate::config::{AwsCredentials, RemoteFunction, Upstream};
use crate::http1;

/// Per-core signing state: buffers and the day's signing keys.
#[derive(Default)]
pub struct Signing {
    signer: Signer,
    keys: Vec<DayKey>,
    scope: Vec<u8>,
    authorization: Vec<u8>,
}

struct DayKey {
    /// Held so the pointer cannot be reused by other credentials while cached.
    credentials: Arc<AwsCredentials>,
    day: [u8; 8],
    key: hmac::Key,
}

/// Kept keys above this are pruned of credentials no snapshot holds any more.
const MAX_KEYS: usize = 64;

impl Signing {
    /// `kSigning` for `remote`'s credentials on `day` (`yyyyMMdd`), derived on first use.
    fn key(&mut self, remote: &RemoteFunction, day: [u8; 8]) -> usize {
        let found = self
            .keys
            .iter()
            .position(|k| Arc::ptr_eq(&k.credentials, &remote.credentials));
        if let Some(i) = found
            && self.keys[i].day == day
        {
            return i;
        }
        let key = sigv4::signing_key(
            &remote.credentials.secret_access_key,
            &day,
            remote.region.as_bytes(),
            b"lambda",
        );
        if let Some(i) = found {
            self.keys[i].day = day;
            self.keys[i].key = key;
            return i;
        }
        if self.keys.len() >= MAX_KEYS {
            self.keys.retain(|k| Arc::strong_count(&k.credentials) > 1);
            if self.keys.len() >= MAX_KEYS {
                self.keys.clear();
            }
        }
        self.keys.push(DayKey {
            credentials: remote.credentials.clone(),
            day,
            key,
        });
        self.keys.len() - 1
    }
}

/// Writes the whole signed request (head and `event`) into `out`, signed at `unix_secs`.
pub fn write_request(
    signing: &mut Signing,
    upstream: &Upstream,
    remote: &RemoteFunction,
    event: &[u8],
    trace: Option<&[u8]>,
    unix_secs: u64,
    out: &mut Vec<u8>,
) {
    let amz_date = sigv4::amz_date(unix_secs);
    let mut day = [0u8; 8];
    day.copy_from_slice(&amz_date[..8]);
    let k = signing.key(remote, day);
    let Signing {
        signer,
        keys,
        scope,
        authorization,
    } = signing;
    scope.clear();
    scope.extend_from_slice(&day);
    scope.push(b'/');
    scope.extend_from_slice(remote.region.as_bytes());
    scope.extend_from_slice(b"/lambda/aws4_request");
    let payload_hash = sigv4::hex(&sigv4::payload_sha256(event));
    let creds = &remote.credentials;
    let token = creds.session_token.as_deref().map(str::as_bytes);
    let mut headers: [(&[u8], &[u8]); 5] = [
        (b"content-type", b"application/json"),
        (b"host", &upstream.host_header),
        (b"x-amz-date", &amz_date),
        (b"x-amz-invocation-type", b"RequestResponse"),
        (b"x-amz-security-token", b""),
    ];
    let signed = match token {
        Some(t) => {
            headers[4].1 = t;
            &headers[..]
        }
        None => &headers[..4],
    };
    authorization.clear();
    signer.authorization(
        authorization,
        &keys[k].key,
        creds.access_key_id.as_bytes(),
        &SignInput {
            method: b"POST",
            path: &remote.path,
            query: &remote.query,
            headers: signed,
            payload_hash: &payload_hash,
            amz_date: &amz_date,
            scope,
            rules: UriRules::EXECUTE_API,
        },
    );
    out.reserve(event.len() + 512 + authorization.len());
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(&remote.path);
    if !remote.query.is_empty() {
        out.push(b'?');
        out.extend_from_slice(&remote.query);
    }
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(&upstream.host_header);
    out.extend_from_slice(
        b"\r\nContent-Type: application/json\r\nX-Amz-Invocation-Type: RequestResponse\r\nX-Amz-Date: ",
    );
    out.extend_from_slice(&amz_date);
    if let Some(t) = token {
        out.extend_from_slice(b"\r\nX-Amz-Security-Token: ");
        out.extend_from_slice(t);
    }
    if let Some(t) = trace {
        out.extend_from_slice(b"\r\nX-Amzn-Trace-Id: ");
        out.extend_from_slice(t);
    }
    out.extend_from_slice(b"\r\nAuthorization: ");
    out.extend_from_slice(authorization);
    out.extend_from_slice(b"\r\nContent-Length: ");
    http1::write_decimal(out, event.len() as u64);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(event);
}
