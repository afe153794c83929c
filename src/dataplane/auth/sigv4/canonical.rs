//! The canonical request, the string to sign, the signing key and the signature
//! (SPEC-NOTES §10 steps 1–3). Pure byte functions: nothing here can fail or panic, whatever
//! the input; a malformed escape is taken literally (`%zz` → `%25zz`).

use ring::{digest, hmac};

use super::{ALGORITHM, UriRules};

/// Reusable buffers for one verification. After [`Verifier::verify`](super::Verifier::verify)
/// returns, [`Scratch::canonical_request`] and [`Scratch::string_to_sign`] hold what the
/// verifier computed (empty if it stopped before), which is what API Gateway's
/// signature-mismatch message quotes.
#[derive(Debug, Default)]
pub struct Scratch {
    pub(super) canonical: Vec<u8>,
    pub(super) string_to_sign: Vec<u8>,
    segments: Vec<(usize, usize)>,
    params: Vec<(usize, usize, usize)>,
    encoded: Vec<u8>,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch::default()
    }

    /// The canonical request of the last verification.
    pub fn canonical_request(&self) -> &[u8] {
        &self.canonical
    }

    /// The string to sign of the last verification.
    pub fn string_to_sign(&self) -> &[u8] {
        &self.string_to_sign
    }

    pub(super) fn clear(&mut self) {
        self.canonical.clear();
        self.string_to_sign.clear();
    }
}

/// The parts of a request the canonical request is built from, as they arrived.
#[derive(Clone, Copy, Debug)]
pub struct CanonicalInput<'a> {
    pub method: &'a [u8],
    /// The raw path (no query), exactly as on the request line.
    pub path: &'a [u8],
    /// The raw query string without `?`.
    pub query: &'a [u8],
    /// Header lines in arrival order.
    pub headers: &'a [(&'a [u8], &'a [u8])],
    /// The `SignedHeaders` list, e.g. `host;x-amz-date`.
    pub signed_headers: &'a [u8],
    /// Lowercase hex SHA-256 of the payload (or whatever the signer put on the last line).
    pub payload_hash: &'a [u8],
    /// Presigned (query) form: `X-Amz-Signature` is left out of the canonical query.
    pub presigned: bool,
}

/// Write the canonical request for `input` into `scratch.canonical` (replacing it).
pub fn canonical_request(scratch: &mut Scratch, input: &CanonicalInput<'_>, rules: UriRules) {
    let mut out = std::mem::take(&mut scratch.canonical);
    out.clear();
    out.extend_from_slice(input.method);
    out.push(b'\n');
    canonical_uri(&mut out, &mut scratch.segments, input.path, rules);
    out.push(b'\n');
    canonical_query(
        &mut out,
        &mut scratch.encoded,
        &mut scratch.params,
        input.query,
        input.presigned,
    );
    out.push(b'\n');
    for name in input.signed_headers.split(|&b| b == b';') {
        out.extend_from_slice(name);
        out.push(b':');
        let mut first = true;
        for (n, v) in input.headers {
            if n.eq_ignore_ascii_case(name) {
                if !first {
                    out.push(b',');
                }
                first = false;
                push_trimmed_collapsed(&mut out, v);
            }
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(input.signed_headers);
    out.push(b'\n');
    out.extend_from_slice(input.payload_hash);
    scratch.canonical = out;
}

/// Write the string to sign into `scratch.string_to_sign` from `scratch.canonical`.
/// `scope` is `yyyyMMdd/region/service/aws4_request`.
pub fn string_to_sign(scratch: &mut Scratch, amz_date: &[u8], scope: &[u8]) {
    let hash = digest::digest(&digest::SHA256, &scratch.canonical);
    let out = &mut scratch.string_to_sign;
    out.clear();
    out.extend_from_slice(ALGORITHM.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(amz_date);
    out.push(b'\n');
    out.extend_from_slice(scope);
    out.push(b'\n');
    out.extend_from_slice(&hex(hash.as_ref()));
}

/// `kSigning` from the secret and the scope parts (SPEC-NOTES §10 step 3).
pub fn signing_key(secret: &[u8], date: &[u8], region: &[u8], service: &[u8]) -> hmac::Key {
    let mut k_secret = Vec::with_capacity(4 + secret.len());
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret);
    let mut key = hmac::Key::new(hmac::HMAC_SHA256, &k_secret);
    for part in [date, region, service, b"aws4_request".as_slice()] {
        let tag = hmac::sign(&key, part);
        key = hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref());
    }
    key
}

/// The signature bytes: HMAC-SHA256 of the string to sign under `kSigning`.
pub fn signature(key: &hmac::Key, string_to_sign: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(key, string_to_sign);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// SHA-256 of a payload, for [`Request::payload_sha256`](super::Request::payload_sha256).
pub fn payload_sha256(body: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, body).as_ref());
    out
}

/// Lowercase hex of 32 bytes.
pub fn hex(bytes: &[u8]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'0'; 64];
    for (i, b) in bytes.iter().take(32).enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 15)];
    }
    out
}

/// Decode 64 hex digits (either case) into 32 bytes.
pub fn unhex32(s: &[u8]) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
    }
    Some(out)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 3986 unreserved: `A-Za-z0-9-_.~`.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn push_encoded_byte(out: &mut Vec<u8>, b: u8) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    if unreserved(b) {
        out.push(b);
    } else {
        out.extend_from_slice(&[
            b'%',
            DIGITS[usize::from(b >> 4)],
            DIGITS[usize::from(b & 15)],
        ]);
    }
}

/// Percent-encode every byte of `s` but the unreserved ones (so `%` becomes `%25`).
fn encode(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        push_encoded_byte(out, b);
    }
}

/// Decode `%XX` escapes (anything else, including a malformed escape, is literal), then
/// percent-encode: the one normal form of an already-encoded component.
fn reencode(out: &mut Vec<u8>, s: &[u8]) {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%'
            && let (Some(h), Some(l)) = (
                s.get(i + 1).copied().and_then(hex_val),
                s.get(i + 2).copied().and_then(hex_val),
            )
        {
            push_encoded_byte(out, (h << 4) | l);
            i += 3;
            continue;
        }
        push_encoded_byte(out, b);
        i += 1;
    }
}

/// Canonical URI. Segments are split on `/`; with `normalize`, empty and `.` segments are
/// dropped and `..` removes the one before (never above the root), and a trailing `/` is kept
/// if the raw path had one (botocore's and aws-c-auth's rule). Each segment is then encoded:
/// `double_encode` encodes the raw bytes again (execute-api: `%2F` → `%252F`), otherwise the
/// segment is decoded and encoded once (S3).
fn canonical_uri(out: &mut Vec<u8>, segs: &mut Vec<(usize, usize)>, path: &[u8], rules: UriRules) {
    if path.is_empty() {
        out.push(b'/');
        return;
    }
    segs.clear();
    let mut start = 0;
    for (i, &b) in path
        .iter()
        .enumerate()
        .chain(std::iter::once((path.len(), &b'/')))
    {
        if b != b'/' {
            continue;
        }
        let seg = (start, i);
        start = i + 1;
        if rules.normalize {
            match &path[seg.0..seg.1] {
                b"" | b"." => {}
                b".." => {
                    segs.pop();
                }
                _ => segs.push(seg),
            }
        } else {
            segs.push(seg);
        }
    }
    let push_seg = |out: &mut Vec<u8>, (a, b): (usize, usize)| {
        if rules.double_encode {
            encode(out, &path[a..b]);
        } else {
            reencode(out, &path[a..b]);
        }
    };
    if rules.normalize {
        for &seg in segs.iter() {
            out.push(b'/');
            push_seg(out, seg);
        }
        if segs.is_empty() || path.ends_with(b"/") {
            out.push(b'/');
        }
    } else {
        for (i, &seg) in segs.iter().enumerate() {
            if i > 0 {
                out.push(b'/');
            }
            push_seg(out, seg);
        }
    }
}

/// Canonical query: `&`-separated parameters (empty ones dropped), each name and value
/// brought to one encoding, `=` always present, sorted by encoded name then value.
fn canonical_query(
    out: &mut Vec<u8>,
    buf: &mut Vec<u8>,
    params: &mut Vec<(usize, usize, usize)>,
    query: &[u8],
    presigned: bool,
) {
    buf.clear();
    params.clear();
    for piece in query.split(|&b| b == b'&') {
        if piece.is_empty() {
            continue;
        }
        let (name, value) = match piece.iter().position(|&b| b == b'=') {
            Some(eq) => (&piece[..eq], &piece[eq + 1..]),
            None => (piece, &b""[..]),
        };
        let start = buf.len();
        reencode(buf, name);
        let mid = buf.len();
        if presigned && &buf[start..mid] == b"X-Amz-Signature" {
            buf.truncate(start);
            continue;
        }
        reencode(buf, value);
        params.push((start, mid, buf.len()));
    }
    let b = &*buf;
    params.sort_unstable_by(|x, y| (&b[x.0..x.1], &b[x.1..x.2]).cmp(&(&b[y.0..y.1], &b[y.1..y.2])));
    for (i, &(s, m, e)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(&b[s..m]);
        out.push(b'=');
        out.extend_from_slice(&b[m..e]);
    }
}

/// A header value with leading/trailing whitespace removed and inner runs of spaces and tabs
/// collapsed to one space (SPEC-NOTES §10; botocore's `' '.join(value.split())`).
fn push_trimmed_collapsed(out: &mut Vec<u8>, v: &[u8]) {
    let mut pending_space = false;
    let mut any = false;
    for &b in v {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            pending_space = any;
            continue;
        }
        if pending_space {
            out.push(b' ');
            pending_space = false;
        }
        out.push(b);
        any = true;
    }
}
