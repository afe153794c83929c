//! A strict DER reader for the few X.509 fields `client_cert` shows: single-byte tags,
//! definite lengths in their minimal form, nothing past the input. Every accessor returns
//! `None` on malformed input; nothing indexes without a bound check.

use std::fmt::Write;

pub const INTEGER: u8 = 0x02;
pub const OID: u8 = 0x06;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
pub const UTC_TIME: u8 = 0x17;
pub const GENERALIZED_TIME: u8 = 0x18;
/// `[0]` constructed (the certificate version).
pub const CONTEXT_0: u8 = 0xa0;

const UTF8_STRING: u8 = 0x0c;
const PRINTABLE_STRING: u8 = 0x13;
const TELETEX_STRING: u8 = 0x14;
const IA5_STRING: u8 = 0x16;
const VISIBLE_STRING: u8 = 0x1a;
const UNIVERSAL_STRING: u8 = 0x1c;
const BMP_STRING: u8 = 0x1e;

/// A cursor over a run of DER TLVs.
pub struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    pub fn new(input: &'a [u8]) -> Der<'a> {
        Der { rest: input }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next TLV's tag and content.
    pub fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.rest.split_first()?;
        if tag & 0x1f == 0x1f {
            return None; // multi-byte tag numbers: none in the fields we read
        }
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            // 0x80 is BER's indefinite length; more than 4 bytes is no certificate.
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (bytes, rest) = rest.split_at(count);
            if bytes[0] == 0 {
                return None; // not minimal
            }
            let len = bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
            if len < 0x80 {
                return None; // long form where the short one fits
            }
            (len, rest)
        };
        if rest.len() < len {
            return None;
        }
        let (content, rest) = rest.split_at(len);
        self.rest = rest;
        Some((tag, content))
    }

    /// The next TLV's content, if its tag is `tag`.
    pub fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (t, content) if t == tag => Some(content),
            _ => None,
        }
    }
}

/// The text of a directory string; `Some(None)` if the value is not a string type, `None` if
/// it is one but malformed.
pub fn string(tag: u8, value: &[u8]) -> Option<Option<String>> {
    let text = match tag {
        UTF8_STRING => String::from_utf8(value.to_vec()).ok()?,
        PRINTABLE_STRING | IA5_STRING | VISIBLE_STRING => {
            if !value.is_ascii() {
                return None;
            }
            String::from_utf8(value.to_vec()).ok()?
        }
        // T.61 in practice carries Latin-1.
        TELETEX_STRING => value.iter().map(|&b| char::from(b)).collect(),
        BMP_STRING => {
            if !value.len().is_multiple_of(2) {
                return None;
            }
            let units = value.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()?
        }
        UNIVERSAL_STRING => {
            if !value.len().is_multiple_of(4) {
                return None;
            }
            value
                .chunks(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect::<Option<String>>()?
        }
        _ => return Some(None),
    };
    Some(Some(text))
}

/// Dotted decimal of an OID's content (`2.5.4.3`); `None` if malformed.
pub fn write_oid(out: &mut String, oid: &[u8]) -> Option<()> {
    let mut arcs = Vec::new();
    let mut n: u64 = 0;
    let mut fresh = true;
    for &b in oid {
        if fresh && b == 0x80 {
            return None; // non-minimal
        }
        n = n.checked_mul(128)? | u64::from(b & 0x7f);
        fresh = b & 0x80 == 0;
        if fresh {
            arcs.push(n);
            n = 0;
        }
    }
    if !fresh || arcs.is_empty() {
        return None;
    }
    let first = arcs[0];
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let _ = write!(out, "{a}.{b}");
    for arc in &arcs[1..] {
        let _ = write!(out, ".{arc}");
    }
    Some(())
}

/// The DER length octets of `len`, in hex.
pub fn write_len_hex(out: &mut String, len: usize) {
    if len < 0x80 {
        let _ = write!(out, "{len:02x}");
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let _ = write!(out, "{:02x}", 0x80 | (bytes.len() - skip));
    for b in &bytes[skip..] {
        let _ = write!(out, "{b:02x}");
    }
}
