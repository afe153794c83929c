//! Word-at-a-time searches for the short runs of a request head (a field line, a value, a
//! target): eight bytes per step in plain integer arithmetic, for the first [`SHORT`] bytes,
//! then `memchr`'s vector code, which wins once a run is long (a cookie, a JWT) but costs a
//! call and a setup that a 20-byte `Host` line does not repay.
//!
//! A word is read as a `u64`; a cheap test on it says whether any of its bytes *may* stop
//! the search, and only such a word is looked at byte by byte, with the exact predicate. So
//! the answer is always the byte-by-byte answer.

/// `0x01` in every byte.
const ONES: u64 = 0x0101_0101_0101_0101;
/// `0x80` in every byte.
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bytes searched a word at a time before handing over to `memchr`.
pub(super) const SHORT: usize = 32;

/// True if some byte of `w` is below `n`, for `n <= 128` (exact for "some": the
/// `hasless` of Bit Twiddling Hacks).
#[inline]
pub(super) const fn has_less(w: u64, n: u8) -> bool {
    w.wrapping_sub(ONES * n as u64) & !w & HIGHS != 0
}

/// True if some byte of `w` is `b`.
#[inline]
pub(super) const fn has_byte(w: u64, b: u8) -> bool {
    has_less(w ^ (ONES * b as u64), 1)
}

/// The first position among the first `SHORT` bytes of `bytes` where `stop` holds, looking
/// byte by byte only into words for which `maybe` holds (`maybe` must hold for every word
/// with such a byte). `Err(n)`: none in the first `n` bytes (`n = min(len, SHORT)`).
#[inline]
pub(super) fn find_short(
    bytes: &[u8],
    maybe: impl Fn(u64) -> bool,
    stop: impl Fn(u8) -> bool,
) -> Result<usize, usize> {
    let head = bytes.get(..SHORT).unwrap_or(bytes);
    let mut at = 0;
    let mut words = head.chunks_exact(8);
    for word in &mut words {
        // `chunks_exact` gives 8 bytes; the fallback word would only send it byte by byte.
        let w = u64::from_le_bytes(<[u8; 8]>::try_from(word).unwrap_or([0; 8]));
        if maybe(w)
            && let Some(i) = word.iter().position(|&b| stop(b))
        {
            return Ok(at + i);
        }
        at += 8;
    }
    match words.remainder().iter().position(|&b| stop(b)) {
        Some(i) => Ok(at + i),
        None => Err(head.len()),
    }
}

/// The first CR or LF in `bytes` (a field line's end, or a bare LF the scan rejects).
#[inline]
pub(super) fn find_cr_lf(bytes: &[u8]) -> Option<usize> {
    match find_short(
        bytes,
        |w| has_less(w, b'\r' + 1),
        |b| matches!(b, b'\r' | b'\n'),
    ) {
        Ok(i) => Some(i),
        Err(n) => memchr::memchr2(b'\r', b'\n', bytes.get(n..)?).map(|i| n + i),
    }
}

/// The first SP, CR or LF in `bytes` (the end of a request-target).
#[inline]
pub(super) fn find_sp_cr_lf(bytes: &[u8]) -> Option<usize> {
    match find_short(
        bytes,
        |w| has_less(w, b' ' + 1),
        |b| matches!(b, b' ' | b'\r' | b'\n'),
    ) {
        Ok(i) => Some(i),
        Err(n) => memchr::memchr3(b' ', b'\r', b'\n', bytes.get(n..)?).map(|i| n + i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_less(w: u64, n: u8) -> bool {
        w.to_le_bytes().iter().any(|&b| b < n)
    }

    #[test]
    fn word_tests_agree_with_bytes() {
        // Every byte value in every position, among neighbours that are low, high, or the
        // value itself (borrows run upwards through a word).
        for fill in [0x00u8, 0x0d, 0x20, 0x41, 0x7f, 0x80, 0xff] {
            for pos in 0..8 {
                for v in 0..=255u8 {
                    let mut bytes = [fill; 8];
                    bytes[pos] = v;
                    let w = u64::from_le_bytes(bytes);
                    for n in [1u8, b'\r' + 1, b' ', b' ' + 1, 128] {
                        assert_eq!(has_less(w, n), naive_less(w, n), "{bytes:?} < {n}");
                    }
                    for b in [b'\r', b'\n', 0x7f, b' '] {
                        assert_eq!(has_byte(w, b), bytes.contains(&b), "{bytes:?} has {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn searches_agree_with_bytes_at_every_length_and_position() {
        for len in 0..80 {
            for at in 0..=len {
                for stop in [b'\r', b'\n', b' ', b'\t', 0x7f, 0x80, 0x00] {
                    let mut s = vec![b'a'; len];
                    if at < len {
                        s[at] = stop;
                    }
                    let cr_lf = s.iter().position(|&b| matches!(b, b'\r' | b'\n'));
                    let sp = s.iter().position(|&b| matches!(b, b' ' | b'\r' | b'\n'));
                    assert_eq!(find_cr_lf(&s), cr_lf, "{len} {at} {stop}");
                    assert_eq!(find_sp_cr_lf(&s), sp, "{len} {at} {stop}");
                }
            }
        }
    }
}
