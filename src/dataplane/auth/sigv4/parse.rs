//! Reading the signature parts out of a request: the `Authorization` header form and the
//! presigned query form, the credential scope and the `X-Amz-Date` timestamp.

use std::borrow::Cow;

use super::canonical::unhex32;
use super::error::{Missing, SigV4Error};
use super::{ALGORITHM, Request};

/// Which form carried the signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    Header,
    /// `?X-Amz-Algorithm=…&X-Amz-Credential=…&…&X-Amz-Signature=…`.
    Presigned,
}

/// The signature parts of a request, before any check against configuration or time.
/// Borrowed from the request in the header form; the presigned form's values are
/// percent-decoded copies.
#[derive(Clone, Debug)]
pub struct Auth<'r> {
    pub form: Form,
    /// `AKID/20150830/us-east-1/execute-api/aws4_request`.
    pub credential: Cow<'r, [u8]>,
    /// `host;x-amz-date`.
    pub signed_headers: Cow<'r, [u8]>,
    /// The signature, if it was 64 hex digits (otherwise it cannot match).
    pub signature: Option<[u8; 32]>,
    /// The `X-Amz-Date` value, `yyyyMMddTHHmmssZ`.
    pub amz_date: Cow<'r, [u8]>,
    /// `X-Amz-Expires` (presigned form only).
    pub expires: Option<Cow<'r, [u8]>>,
    /// `X-Amz-Security-Token`, from the query (presigned) or the header.
    pub security_token: Option<Cow<'r, [u8]>>,
}

/// The five parts of a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope<'a> {
    pub access_key_id: &'a [u8],
    pub date: &'a [u8],
    pub region: &'a [u8],
    pub service: &'a [u8],
    pub terminator: &'a [u8],
    /// `date/region/service/terminator`, as it goes into the string to sign.
    pub scope: &'a [u8],
}

/// Parse the signature parts of `req`. Header and query forms together, or a repeated
/// `Authorization`/`X-Amz-Security-Token` header or presign parameter, is
/// [`SigV4Error::Ambiguous`]; two `X-Amz-Date` values are [`SigV4Error::DuplicateDate`].
pub fn parse<'r>(req: &Request<'r>) -> Result<Auth<'r>, SigV4Error> {
    let authorization = single_header(req.headers, b"authorization", SigV4Error::Ambiguous)?;
    let token_header = single_header(req.headers, b"x-amz-security-token", SigV4Error::Ambiguous)?;
    let presigned = query_param(req.query, b"X-Amz-Algorithm")?.is_some();
    match (authorization, presigned) {
        (Some(_), true) => Err(SigV4Error::Ambiguous),
        (None, false) => Err(SigV4Error::MissingAuthenticationToken),
        (Some(value), false) => parse_header(req, value, token_header),
        (None, true) => parse_query(req, token_header),
    }
}

fn parse_header<'r>(
    req: &Request<'r>,
    value: &'r [u8],
    token: Option<&'r [u8]>,
) -> Result<Auth<'r>, SigV4Error> {
    let value = trim(value);
    let split = value
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(value.len());
    let (algorithm, rest) = value.split_at(split);
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for piece in rest.split(|&b| matches!(b, b',' | b' ' | b'\t')) {
        if piece.is_empty() {
            continue;
        }
        let Some(eq) = piece.iter().position(|&b| b == b'=') else {
            return Err(SigV4Error::NotKeyValuePair);
        };
        let slot = match &piece[..eq] {
            b"Credential" => &mut credential,
            b"SignedHeaders" => &mut signed,
            b"Signature" => &mut signature,
            _ => continue,
        };
        if slot.is_some() {
            return Err(SigV4Error::Ambiguous);
        }
        *slot = Some(&piece[eq + 1..]).filter(|v| !v.is_empty());
    }
    let amz_date = single_header(req.headers, b"x-amz-date", SigV4Error::DuplicateDate)?;
    let mut missing = Missing::NONE;
    for (absent, bit) in [
        (credential.is_none(), Missing::CREDENTIAL),
        (signature.is_none(), Missing::SIGNATURE),
        (signed.is_none(), Missing::SIGNED_HEADERS),
        (amz_date.is_none(), Missing::DATE),
    ] {
        if absent {
            missing = missing.with(bit);
        }
    }
    let (Some(credential), Some(signed), Some(signature), Some(amz_date)) =
        (credential, signed, signature, amz_date)
    else {
        return Err(SigV4Error::IncompleteSignature { missing });
    };
    if algorithm != ALGORITHM.as_bytes() {
        return Err(SigV4Error::UnsupportedAlgorithm);
    }
    Ok(Auth {
        form: Form::Header,
        credential: Cow::Borrowed(credential),
        signed_headers: Cow::Borrowed(signed),
        signature: unhex32(signature),
        amz_date: Cow::Borrowed(trim(amz_date)),
        expires: None,
        security_token: token.map(|t| Cow::Borrowed(trim(t))),
    })
}

fn parse_query<'r>(req: &Request<'r>, token: Option<&'r [u8]>) -> Result<Auth<'r>, SigV4Error> {
    let algorithm = query_param(req.query, b"X-Amz-Algorithm")?;
    let credential = query_param(req.query, b"X-Amz-Credential")?;
    let signed = query_param(req.query, b"X-Amz-SignedHeaders")?;
    let signature = query_param(req.query, b"X-Amz-Signature")?;
    let expires = query_param(req.query, b"X-Amz-Expires")?;
    let amz_date = match query_param(req.query, b"X-Amz-Date") {
        Err(SigV4Error::Ambiguous) => return Err(SigV4Error::DuplicateDate),
        other => other?,
    };
    let query_token = query_param(req.query, b"X-Amz-Security-Token")?;
    let nonempty = |v: Option<&'r [u8]>| v.filter(|v| !v.is_empty());
    let (Some(algorithm), Some(credential), Some(signed), Some(signature), Some(date), Some(exp)) = (
        nonempty(algorithm),
        nonempty(credential),
        nonempty(signed),
        nonempty(signature),
        nonempty(amz_date),
        nonempty(expires),
    ) else {
        return Err(SigV4Error::IncompletePresigned);
    };
    if decode(algorithm).as_ref() != ALGORITHM.as_bytes() {
        return Err(SigV4Error::UnsupportedAlgorithm);
    }
    Ok(Auth {
        form: Form::Presigned,
        credential: decode(credential),
        signed_headers: decode(signed),
        signature: unhex32(signature),
        amz_date: decode(date),
        expires: Some(decode(exp)),
        security_token: match query_token {
            Some(t) => Some(decode(t)),
            None => token.map(|t| Cow::Borrowed(trim(t))),
        },
    })
}

/// Split `AKID/date/region/service/aws4_request` into its five parts.
pub fn scope(credential: &[u8]) -> Result<Scope<'_>, SigV4Error> {
    let mut parts = credential.splitn(2, |&b| b == b'/');
    let access_key_id = parts.next().unwrap_or_default();
    let scope = parts.next().unwrap_or_default();
    let mut it = scope.split(|&b| b == b'/');
    let (Some(date), Some(region), Some(service), Some(terminator), None) =
        (it.next(), it.next(), it.next(), it.next(), it.next())
    else {
        return Err(SigV4Error::MalformedCredential);
    };
    if access_key_id.is_empty() {
        return Err(SigV4Error::MalformedCredential);
    }
    Ok(Scope {
        access_key_id,
        date,
        region,
        service,
        terminator,
        scope,
    })
}

/// `yyyyMMddTHHmmssZ` → seconds since the Unix epoch (UTC), checked field by field.
pub fn amz_date_to_unix(d: &[u8]) -> Option<u64> {
    if d.len() != 16 || d[8] != b'T' || d[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        d.get(r)?.iter().try_fold(0u64, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
        })
    };
    let (y, mo, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(9..11)?, num(11..13)?, num(13..15)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if y < 1970 || day == 0 || day > days_in_month || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    // Days from civil (Howard Hinnant), for years ≥ 1970.
    let (y, m) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

/// The one header named `name` (ASCII case-insensitive); a second one is `dup`.
pub(super) fn single_header<'r>(
    headers: &[(&'r [u8], &'r [u8])],
    name: &[u8],
    dup: SigV4Error,
) -> Result<Option<&'r [u8]>, SigV4Error> {
    let mut found = None;
    for (n, v) in headers {
        if n.eq_ignore_ascii_case(name) {
            if found.is_some() {
                return Err(dup);
            }
            found = Some(*v);
        }
    }
    Ok(found)
}

/// The raw value of the one query parameter whose raw name is `name`; a repeat is
/// [`SigV4Error::Ambiguous`]. A name without `=` has an empty value.
fn query_param<'r>(query: &'r [u8], name: &[u8]) -> Result<Option<&'r [u8]>, SigV4Error> {
    let mut found = None;
    for piece in query.split(|&b| b == b'&') {
        let (n, v) = match piece.iter().position(|&b| b == b'=') {
            Some(eq) => (&piece[..eq], &piece[eq + 1..]),
            None => (piece, &b""[..]),
        };
        if n == name {
            if found.is_some() {
                return Err(SigV4Error::Ambiguous);
            }
            found = Some(v);
        }
    }
    Ok(found)
}

/// Percent-decode a query value (`+` stays `+`: SigV4 signers encode a space as `%20`).
pub(super) fn decode(s: &[u8]) -> Cow<'_, [u8]> {
    if !s.contains(&b'%') {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let hex = |j: usize| s.get(j).and_then(|&b| (b as char).to_digit(16));
        match (s[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

fn trim(v: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = v.iter().position(|b| !is_ws(b)).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !is_ws(b)).map_or(start, |e| e + 1);
    &v[start..end]
}
