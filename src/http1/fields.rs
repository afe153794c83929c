//! Field-value grammar shared by requests and responses: lists, Content-Length,
//! Transfer-Encoding, Connection (RFC 9110 §5.6, §8.6; RFC 9112 §6.1, §9.6). Allocation-free.

use super::scan::is_tchar;

/// What a single Transfer-Encoding field value asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TransferCoding {
    /// Exactly one coding, `chunked`, without parameters.
    Chunked,
    /// Well-formed codings, but not just `chunked` (`gzip`, `identity`, `gzip, chunked`, ...).
    Unsupported,
    /// Not a valid list of codings, or `chunked` twice or with parameters.
    Malformed,
}

/// Strip optional whitespace (SP / HTAB) at both ends.
pub(super) fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// The elements of a comma-separated list, OWS-trimmed; empty elements are yielded too.
pub(super) fn list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',').map(trim_ows)
}

/// `Content-Length = 1*DIGIT`, also as a list of equal values (`5, 5`, RFC 9110 §8.6).
/// Not `str::parse`: that accepts `+5`. Overflow of u64 is an error.
pub(super) fn content_length(v: &[u8]) -> Result<u64, ()> {
    let mut value = None;
    for element in list(v) {
        let n = decimal(element)?;
        if value.is_some_and(|prev| prev != n) {
            return Err(());
        }
        value = Some(n);
    }
    value.ok_or(())
}

/// `1*DIGIT` → u64, with overflow check.
pub(super) fn decimal(digits: &[u8]) -> Result<u64, ()> {
    if digits.is_empty() {
        return Err(());
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if !d.is_ascii_digit() {
            return Err(());
        }
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(())
    })
}

/// Classify one Transfer-Encoding field value (RFC 9112 §6.1, §7).
pub(super) fn transfer_coding(v: &[u8]) -> TransferCoding {
    let mut elements = 0usize;
    let mut chunked = 0usize;
    for element in list(v) {
        let Ok((name, has_params)) = coding(element) else {
            return TransferCoding::Malformed;
        };
        elements += 1;
        if name.eq_ignore_ascii_case(b"chunked") {
            if has_params {
                return TransferCoding::Malformed;
            }
            chunked += 1;
        }
    }
    match (elements, chunked) {
        (_, 2..) => TransferCoding::Malformed,
        (1, 1) => TransferCoding::Chunked,
        _ => TransferCoding::Unsupported,
    }
}

/// Does a `Connection` value list `token` (case-insensitive)?
pub(super) fn has_token(v: &[u8], token: &[u8]) -> bool {
    list(v).any(|t| t.eq_ignore_ascii_case(token))
}

/// `transfer-coding = token *( OWS ";" OWS token BWS "=" BWS ( token / quoted-string ) )`;
/// returns the coding name and whether it had parameters.
fn coding(element: &[u8]) -> Result<(&[u8], bool), ()> {
    let (name, mut rest) = split_token(element);
    if name.is_empty() {
        return Err(());
    }
    let mut has_params = false;
    loop {
        rest = trim_ows(rest);
        let Some((&b';', after)) = rest.split_first() else {
            return if rest.is_empty() {
                Ok((name, has_params))
            } else {
                Err(())
            };
        };
        let (param, after) = split_token(trim_ows(after));
        let Some((&b'=', after)) = trim_ows(after).split_first() else {
            return Err(());
        };
        let after = trim_ows(after);
        rest = match after.first() {
            Some(b'"') => skip_quoted(after)?,
            _ => {
                let (value, after) = split_token(after);
                if value.is_empty() {
                    return Err(());
                }
                after
            }
        };
        if param.is_empty() {
            return Err(());
        }
        has_params = true;
    }
}

/// Split off the leading run of `tchar`s.
fn split_token(v: &[u8]) -> (&[u8], &[u8]) {
    let end = v.iter().position(|&b| !is_tchar(b)).unwrap_or(v.len());
    v.split_at(end)
}

/// `v` starts with `"`; return what follows the closing quote of a valid quoted-string.
pub(super) fn skip_quoted(v: &[u8]) -> Result<&[u8], ()> {
    let mut rest = v.strip_prefix(b"\"").ok_or(())?;
    loop {
        match rest {
            [b'"', after @ ..] => return Ok(after),
            [b'\\', c, after @ ..] if is_quoted_pair_char(*c) => rest = after,
            [c, after @ ..] if is_qdtext(*c) => rest = after,
            _ => return Err(()),
        }
    }
}

/// `qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text`
pub(super) fn is_qdtext(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff)
}

/// `quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )`
pub(super) fn is_quoted_pair_char(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_digits_only_with_equal_list_values() {
        assert_eq!(content_length(b"0"), Ok(0));
        assert_eq!(content_length(b"05"), Ok(5));
        assert_eq!(content_length(b"5, 5"), Ok(5));
        assert_eq!(content_length(b"5,5 ,\t5"), Ok(5));
        assert_eq!(content_length(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [
            &b""[..],
            b" ",
            b"+5",
            b"-1",
            b"0x5",
            b"5_0",
            b"1e3",
            b"5.0",
            b"5, 6",
            b"5,",
            b",5",
            b"5,,5",
            "\u{663}".as_bytes(),
            b"18446744073709551616",
            b"99999999999999999999999",
            b"5 5",
        ] {
            assert_eq!(
                content_length(bad),
                Err(()),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn transfer_coding_classes() {
        use TransferCoding::*;
        for (v, want) in [
            (&b"chunked"[..], Chunked),
            (b"Chunked", Chunked),
            (b"CHUNKED", Chunked),
            (b"gzip, chunked", Unsupported),
            (b"chunked, identity", Unsupported),
            (b"identity", Unsupported),
            (b"gzip", Unsupported),
            (b"xchunked", Unsupported),
            (b"gzip;q=1", Unsupported),
            (b"foo ; a = \"b\\\"c\"", Unsupported),
            (b"chunked, chunked", Malformed),
            (b",chunked", Malformed),
            (b"chunked,", Malformed),
            (b"chunked;", Malformed),
            (b"chunked;a=b", Malformed),
            (b"", Malformed),
            (b"gzip;q", Malformed),
            (b"gzip;=1", Malformed),
            (b"gzip;a=\"x", Malformed),
            (b"chun ked", Malformed),
            (b"chunked\x0b", Malformed),
        ] {
            assert_eq!(transfer_coding(v), want, "{:?}", String::from_utf8_lossy(v));
        }
    }

    #[test]
    fn connection_tokens() {
        assert!(has_token(b"keep-alive, Close", b"close"));
        assert!(!has_token(b"closed", b"close"));
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"  "), b"");
    }
}
