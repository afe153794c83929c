//! The verified client certificate as API Gateway shows it (`$context.identity.clientCert`,
//! the Lambda event's `requestContext.identity.clientCert`).
//!
//! Formats follow the recorded events in `../shared/fixtures/events/`:
//! - `subjectDN`/`issuerDN`: the RDNs in the order the certificate encodes them, joined by `,`
//!   without spaces, multi-valued RDNs by `+`, values escaped as RFC 4514 does
//!   (`C=US,ST=Washington,L=Seattle,O=Amazon Web Services,OU=Security,CN=My Client`); an
//!   attribute without a short name is its dotted OID, a value that is no string `#` + hex.
//! - `serialNumber`: decimal when it fits in 64 bits (`1`), else lowercase hex bytes joined by
//!   `:` (`a1:a1:...`), as OpenSSL prints serials.
//! - `validity.notBefore`/`notAfter`: `Aug 29 00:28:21 2020 GMT`, the day padded with a space
//!   (`Aug  5 00:28:21 2120 GMT`).
//!
//! A small strict DER reader (definite lengths in minimal form, single-byte tags) takes just
//! these fields; anything malformed gives `None`, never a panic.

use std::fmt::Write;

use super::der::{self, Der};

/// What the request context carries about a verified client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertInfo {
    /// `clientCertPem`: the leaf certificate, PEM with 64-character lines.
    pub client_cert_pem: String,
    /// `subjectDN`
    pub subject_dn: String,
    /// `issuerDN`
    pub issuer_dn: String,
    /// `serialNumber`
    pub serial_number: String,
    /// `validity.notBefore`
    pub not_before: String,
    /// `validity.notAfter`
    pub not_after: String,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl ClientCertInfo {
    /// From the DER of the leaf certificate; `None` if it is not a well-formed X.509
    /// certificate as far as these fields go.
    pub fn from_der(cert: &[u8]) -> Option<ClientCertInfo> {
        let mut outer = Der::new(cert);
        let certificate = outer.expect(der::SEQUENCE)?;
        if !outer.is_empty() {
            return None;
        }
        let mut certificate = Der::new(certificate);
        let mut tbs = Der::new(certificate.expect(der::SEQUENCE)?);
        // version [0] EXPLICIT, optional (v1 certificates have none).
        if tbs.peek_tag() == Some(der::CONTEXT_0) {
            tbs.expect(der::CONTEXT_0)?;
        }
        let serial = tbs.expect(der::INTEGER)?;
        tbs.expect(der::SEQUENCE)?; // signature algorithm
        let issuer = tbs.expect(der::SEQUENCE)?;
        let mut validity = Der::new(tbs.expect(der::SEQUENCE)?);
        let not_before = time(&mut validity)?;
        let not_after = time(&mut validity)?;
        if !validity.is_empty() {
            return None;
        }
        let subject = tbs.expect(der::SEQUENCE)?;
        Some(ClientCertInfo {
            client_cert_pem: pem(cert),
            subject_dn: distinguished_name(subject)?,
            issuer_dn: distinguished_name(issuer)?,
            serial_number: serial_number(serial)?,
            not_before,
            not_after,
        })
    }
}

/// `CERTIFICATE` PEM of `der`.
fn pem(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        // Base64 is ASCII, so every chunk is a whole str.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn serial_number(content: &[u8]) -> Option<String> {
    if content.is_empty() {
        return None;
    }
    // Minimal two's complement: a leading zero only before a byte with the high bit set.
    let magnitude = match content {
        [0, next, ..] if next & 0x80 == 0 => return None,
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => content,
    };
    if magnitude.len() <= 8 {
        let n = magnitude.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
        return Some(n.to_string());
    }
    let mut out = String::with_capacity(magnitude.len() * 3);
    for (i, b) in magnitude.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02x}");
    }
    Some(out)
}

/// UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ` → `Aug  5 00:28:21 2120 GMT`.
fn time(der: &mut Der<'_>) -> Option<String> {
    let (tag, value) = der.next()?;
    let (year, rest) = match (tag, value.len()) {
        (der::UTC_TIME, 13) => {
            let yy = digits(&value[..2])?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &value[2..])
        }
        (der::GENERALIZED_TIME, 15) => (digits(&value[..4])?, &value[4..]),
        _ => return None,
    };
    if rest[10] != b'Z' {
        return None;
    }
    let month = digits(&rest[0..2])?;
    let day = digits(&rest[2..4])?;
    let (hour, minute, second) = (
        digits(&rest[4..6])?,
        digits(&rest[6..8])?,
        digits(&rest[8..10])?,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let month = MONTHS[month as usize - 1];
    Some(format!(
        "{month} {day:>2} {hour:02}:{minute:02}:{second:02} {year} GMT"
    ))
}

fn digits(s: &[u8]) -> Option<u32> {
    s.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// `Name` (the content of its SEQUENCE) → `C=US,O=Example,CN=client`.
fn distinguished_name(name: &[u8]) -> Option<String> {
    let mut out = String::new();
    let mut rdns = Der::new(name);
    while !rdns.is_empty() {
        let mut attributes = Der::new(rdns.expect(der::SET)?);
        if attributes.is_empty() {
            return None;
        }
        if !out.is_empty() {
            out.push(',');
        }
        let mut first = true;
        while !attributes.is_empty() {
            let mut atv = Der::new(attributes.expect(der::SEQUENCE)?);
            let oid = atv.expect(der::OID)?;
            let (tag, value) = atv.next()?;
            if !atv.is_empty() {
                return None;
            }
            if !first {
                out.push('+');
            }
            first = false;
            match short_name(oid) {
                Some(name) => out.push_str(name),
                None => der::write_oid(&mut out, oid)?,
            }
            out.push('=');
            match der::string(tag, value)? {
                Some(text) => escape(&mut out, &text),
                None => {
                    // Not a string: RFC 4514's `#` + hex of the whole encoded value.
                    out.push('#');
                    let _ = write!(out, "{tag:02x}");
                    der::write_len_hex(&mut out, value.len());
                    for b in value {
                        let _ = write!(out, "{b:02x}");
                    }
                }
            }
        }
    }
    Some(out)
}

/// Attribute short names (RFC 4514 §3, plus those OpenSSL and Java print).
fn short_name(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x04] => "SN",
        [0x55, 0x04, 0x05] => "SERIALNUMBER",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "STREET",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x0c] => "T",
        [0x55, 0x04, 0x2a] => "GIVENNAME",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "EMAILADDRESS",
        _ => return None,
    })
}

/// RFC 4514 §2.4: `,+"\<>;` and control characters escaped; a leading `#` or space and a
/// trailing space too.
fn escape(out: &mut String, value: &str) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
}
