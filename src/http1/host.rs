//! Host / authority validation and normalization (RELIABILITY P18, P19).
//!
//! Accepted `host`: a reg-name of `A-Z a-z 0-9 - . _` with no empty label except one trailing
//! dot (this covers IPv4 literals), or a bracketed IPv6 literal that `std` parses as one
//! (no zone id). No userinfo, no path, no percent-encoding. Optional `:port`, 1*DIGIT in
//! 1..=65535 (leading zeros allowed, empty port rejected).

use std::net::Ipv6Addr;

/// A validated authority: host (reg-name, IPv4 or bracketed IPv6) and optional port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authority<'a> {
    /// As sent: a reg-name (maybe with its trailing dot) or `[v6]` including the brackets.
    pub host: &'a [u8],
    pub port: Option<u16>,
}

/// Longest reg-name accepted, without its optional trailing dot (a DNS name's limit).
const MAX_HOST: usize = 253;

/// Validate `host[:port]` as sent in `Host` or an absolute-form target. No userinfo, no path,
/// reg-name characters only, port 1*DIGIT ≤ 65535, IPv6 only bracketed, no empty labels
/// except one trailing dot.
// The contract fixes `()` as the error: every failure means the same 400.
#[allow(clippy::result_unit_err)]
pub fn parse_authority(bytes: &[u8]) -> Result<Authority<'_>, ()> {
    let (host, rest) = if bytes.first() == Some(&b'[') {
        let close = bytes.iter().position(|&b| b == b']').ok_or(())?;
        let (host, rest) = bytes.split_at(close + 1);
        check_ipv6(host)?;
        (host, rest)
    } else {
        // The host ends at the first byte a reg-name cannot hold: then `rest` must be the
        // port (a `:`) or nothing.
        bytes.split_at(reg_name_len(bytes)?)
    };
    let port = match rest.split_first() {
        None => None,
        Some((b':', digits)) => Some(parse_port(digits)?),
        Some(_) => return Err(()),
    };
    Ok(Authority { host, port })
}

/// Lower-case `host` and drop one trailing dot into `out`; returns the normalized bytes.
/// Hosts longer than `out` are an error (DNS names are at most 253 bytes).
#[allow(clippy::result_unit_err)]
pub fn normalize_host<'o>(host: &[u8], out: &'o mut [u8; 256]) -> Result<&'o [u8], ()> {
    let host = host.strip_suffix(b".").unwrap_or(host);
    let dst = out.get_mut(..host.len()).ok_or(())?;
    for (d, s) in dst.iter_mut().zip(host) {
        *d = s.to_ascii_lowercase();
    }
    Ok(dst)
}

/// The length of the reg-name that starts `bytes`: letters, digits, `-`, `.`, `_` up to
/// the first other byte (or the end), in one pass; labels non-empty except a single
/// trailing dot, at most `MAX_HOST` bytes without it.
fn reg_name_len(bytes: &[u8]) -> Result<usize, ()> {
    let mut prev_dot = true; // a leading dot is an empty label
    let mut end = bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        match HOST_BYTE[usize::from(b)] {
            NAME => prev_dot = false,
            DOT if prev_dot => return Err(()),
            DOT => prev_dot = true,
            _ => {
                end = i;
                break;
            }
        }
    }
    // Ending on a dot: one trailing dot (two in a row failed above), or an empty host.
    let name = if prev_dot {
        end.checked_sub(1).ok_or(())?
    } else {
        end
    };
    if name == 0 || name > MAX_HOST {
        return Err(());
    }
    Ok(end)
}

const OTHER: u8 = 0;
const NAME: u8 = 1;
const DOT: u8 = 2;

/// What each byte is to a reg-name: `NAME`, `DOT` or `OTHER`.
static HOST_BYTE: [u8; 256] = host_bytes();

const fn host_bytes() -> [u8; 256] {
    let mut table = [OTHER; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => NAME,
            b'.' => DOT,
            _ => OTHER,
        };
        b += 1;
    }
    table
}

/// `[` IPv6address `]` as `std` understands it (hex, colons, an embedded IPv4 tail).
fn check_ipv6(bracketed: &[u8]) -> Result<(), ()> {
    let inner = bracketed
        .strip_prefix(b"[")
        .and_then(|b| b.strip_suffix(b"]"))
        .ok_or(())?;
    if !inner
        .iter()
        .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    {
        return Err(());
    }
    let text = std::str::from_utf8(inner).map_err(|_| ())?;
    text.parse::<Ipv6Addr>().map(|_| ()).map_err(|_| ())
}

/// 1*DIGIT in 1..=65535.
fn parse_port(digits: &[u8]) -> Result<u16, ()> {
    if digits.is_empty() {
        return Err(());
    }
    let mut port: u32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(());
        }
        port = port * 10 + u32::from(d - b'0');
        if port > u32::from(u16::MAX) {
            return Err(());
        }
    }
    match u16::try_from(port) {
        Ok(0) | Err(_) => Err(()),
        Ok(p) => Ok(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (String, Option<u16>) {
        let a = parse_authority(s.as_bytes()).unwrap_or_else(|()| panic!("rejected {s:?}"));
        (String::from_utf8_lossy(a.host).into_owned(), a.port)
    }

    #[test]
    fn accepts_names_ips_and_ports() {
        assert_eq!(ok("gw.test"), ("gw.test".into(), None));
        assert_eq!(ok("GW.TEST.:8080"), ("GW.TEST.".into(), Some(8080)));
        assert_eq!(ok("a_b-c.d"), ("a_b-c.d".into(), None));
        assert_eq!(ok("127.0.0.1:80"), ("127.0.0.1".into(), Some(80)));
        assert_eq!(ok("[::1]"), ("[::1]".into(), None));
        assert_eq!(ok("[2001:db8::1]:443"), ("[2001:db8::1]".into(), Some(443)));
        assert_eq!(ok("[::ffff:1.2.3.4]"), ("[::ffff:1.2.3.4]".into(), None));
        assert_eq!(ok("h:65535").1, Some(65535));
        assert_eq!(ok("h:00080").1, Some(80));
        assert!(parse_authority(&[b'a'; 253]).is_ok());
    }

    #[test]
    fn rejects_malformed_authorities() {
        for bad in [
            "",
            ".",
            "..gw.test",
            "gw..test",
            ".gw.test",
            "gw.test..",
            "gw.test:",
            "gw.test:0",
            "gw.test:65536",
            "gw.test:+80",
            "gw.test:8a",
            "gw.test:80:80",
            "user@gw.test",
            "gw.test/x",
            "gw test",
            "gw%2etest",
            "[::1",
            "::1",
            "[::g]",
            "[1.2.3.4]",
            "[::1]x",
            "[::1]:",
            "[fe80::1%25eth0]",
            "gw.test\0",
            "g\u{e9}.test",
            ":80",
        ] {
            assert_eq!(parse_authority(bad.as_bytes()), Err(()), "accepted {bad:?}");
        }
        assert!(parse_authority(&[b'a'; 254]).is_err());
        assert!(parse_authority(b"gw.test:99999999999999999999").is_err());
    }

    /// The two-pass reading `parse_authority` had before its one-pass reg-name: the host is
    /// everything before the first `:`, then checked.
    fn two_pass(bytes: &[u8]) -> Result<Authority<'_>, ()> {
        let end = bytes.iter().position(|&b| b == b':').unwrap_or(bytes.len());
        let (host, rest) = bytes.split_at(end);
        let name = host.strip_suffix(b".").unwrap_or(host);
        if name.is_empty() || name.len() > MAX_HOST {
            return Err(());
        }
        let mut prev_dot = true;
        for &b in name {
            match b {
                b'.' if prev_dot => return Err(()),
                b'.' => prev_dot = true,
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => prev_dot = false,
                _ => return Err(()),
            }
        }
        if prev_dot {
            return Err(());
        }
        let port = match rest.split_first() {
            None => None,
            Some((b':', digits)) => Some(parse_port(digits)?),
            Some(_) => return Err(()),
        };
        Ok(Authority { host, port })
    }

    #[test]
    fn one_pass_reg_names_agree_with_two_passes() {
        // Every string of up to 5 bytes over an alphabet with each byte class, then the
        // length limit around 253.
        const ALPHABET: &[u8] = b"a.:-_9Z/ @\x80";
        let mut s = Vec::new();
        let mut checked = 0;
        for len in 0..=5u32 {
            for mut n in 0..ALPHABET.len().pow(len) {
                s.clear();
                for _ in 0..len {
                    s.push(ALPHABET[n % ALPHABET.len()]);
                    n /= ALPHABET.len();
                }
                assert_eq!(
                    parse_authority(&s),
                    two_pass(&s),
                    "{:?}",
                    String::from_utf8_lossy(&s)
                );
                checked += 1;
            }
        }
        assert!(checked > 100_000);
        for n in 250..257 {
            for tail in [&b""[..], b".", b":80", b".:80", b"..", b"x"] {
                let mut s = vec![b'a'; n];
                s.extend_from_slice(tail);
                assert_eq!(parse_authority(&s), two_pass(&s), "{n} + {tail:?}");
            }
        }
    }

    #[test]
    fn normalizes_case_and_one_trailing_dot() {
        let mut out = [0u8; 256];
        assert_eq!(normalize_host(b"GW.TEST.", &mut out), Ok(&b"gw.test"[..]));
        assert_eq!(normalize_host(b"gw.test", &mut out), Ok(&b"gw.test"[..]));
        assert_eq!(normalize_host(&[b'A'; 256], &mut out), Ok(&[b'a'; 256][..]));
        assert_eq!(normalize_host(&[b'a'; 257], &mut out), Err(()));
    }
}
