//! Strict base64url without padding (RFC 7515 §2, RFC 4648 §5), the only encoding a compact
//! JWS uses.
//!
//! Strict means: only `A–Z a–z 0–9 - _`; no `=` padding, no `+` `/`, no whitespace; a length
//! of 1 mod 4 is impossible; and the unused low bits of the last character must be zero.
//! The last rule makes the encoding canonical: every byte string has exactly one accepted
//! spelling, so flipping a character of a token can never decode to the same bytes (a
//! lenient decoder lets `...Q` and `...R` both stand for the same signature).

/// Decoded length of `len` base64url characters, or `None` if no valid input has that length.
pub(crate) fn decoded_len(len: usize) -> Option<usize> {
    match len % 4 {
        1 => None,
        r => Some(len / 4 * 3 + r.saturating_sub(1)),
    }
}

/// Decodes `input` into `out`, which must be exactly [`decoded_len`] long. `None` on any
/// character, length or trailing-bit error.
pub(crate) fn decode_into(input: &[u8], out: &mut [u8]) -> Option<()> {
    if decoded_len(input.len())? != out.len() {
        return None;
    }
    let mut chunks = input.chunks_exact(4);
    let mut o = 0;
    for c in &mut chunks {
        let n = sextet(c[0])? << 18 | sextet(c[1])? << 12 | sextet(c[2])? << 6 | sextet(c[3])?;
        out[o] = (n >> 16) as u8;
        out[o + 1] = (n >> 8) as u8;
        out[o + 2] = n as u8;
        o += 3;
    }
    match *chunks.remainder() {
        [] => {}
        [a, b] => {
            let n = sextet(a)? << 18 | sextet(b)? << 12;
            if n & 0xffff != 0 {
                return None;
            }
            out[o] = (n >> 16) as u8;
        }
        [a, b, c] => {
            let n = sextet(a)? << 18 | sextet(b)? << 12 | sextet(c)? << 6;
            if n & 0xff != 0 {
                return None;
            }
            out[o] = (n >> 16) as u8;
            out[o + 1] = (n >> 8) as u8;
        }
        _ => return None,
    }
    Some(())
}

/// Decodes `input` into a new vector (for the payload and for JWKS members).
pub(crate) fn decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0; decoded_len(input.len())?];
    decode_into(input, &mut out)?;
    Some(out)
}

fn sextet(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Encodes without padding; used by the tests to build tokens.
#[cfg(test)]
pub(crate) fn encode(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}
