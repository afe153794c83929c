//! Small encoders for the write path, appending into a reused `Vec<u8>`. No `format!`: the
//! digits go through a stack buffer, so the only allocation is the `Vec`'s own growth.

/// `0\r\n\r\n`
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Append `{len:x}\r\n`.
pub fn write_chunk_header(out: &mut Vec<u8>, len: usize) {
    let mut digits = [0u8; 2 * size_of::<usize>()];
    let mut at = digits.len();
    let mut n = len;
    for slot in digits.iter_mut().rev() {
        *slot = HEX[n & 0xf];
        at -= 1;
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(at..).unwrap_or_default());
    out.extend_from_slice(b"\r\n");
}

/// Append `n` in decimal without allocating. Up to three digits (statuses, IP octets, most
/// latencies in ms, short bodies' lengths) are stored in place: the general case's copy of
/// its digits is a call to `memcpy`.
#[inline]
pub fn write_decimal(out: &mut Vec<u8>, n: u64) {
    let digit = |n: u64| b'0' + (n % 10) as u8;
    match n {
        0..=9 => out.push(digit(n)),
        10..=99 => out.extend_from_slice(&[digit(n / 10), digit(n)]),
        100..=999 => out.extend_from_slice(&[digit(n / 100), digit(n / 10), digit(n)]),
        _ => write_long_decimal(out, n),
    }
}

/// `write_decimal` past three digits; out of line, so that the short cases stay small
/// where they are inlined.
#[inline(never)]
fn write_long_decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20]; // u64::MAX has 20 digits
    let mut at = digits.len();
    let mut n = n;
    for slot in digits.iter_mut().rev() {
        // `n % 10` is below 10, so the cast cannot truncate.
        *slot = b'0' + (n % 10) as u8;
        at -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(at..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_header_is_lower_hex_with_crlf() {
        for len in [0usize, 1, 9, 10, 15, 16, 255, 4096, 0xdead_beef, usize::MAX] {
            let mut out = b"x".to_vec();
            write_chunk_header(&mut out, len);
            assert_eq!(out, format!("x{len:x}\r\n").into_bytes());
        }
    }

    #[test]
    fn decimal_matches_display() {
        for n in [
            0u64,
            7,
            9,
            10,
            42,
            99,
            100,
            503,
            999,
            1000,
            12345,
            65_535,
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_decimal(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
