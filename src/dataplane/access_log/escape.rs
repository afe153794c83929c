//! The one escaping of a client's bytes into a log line (access log values, execution log and
//! OTLP span strings): the result is valid UTF-8, cannot end a quoted field of a JSON, XML,
//! CLF or CSV format, and holds no control character.

/// U+FFFD REPLACEMENT CHARACTER, for each invalid UTF-8 sequence.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// Append `value` escaped: `"` and `\` as `\"` and `\\`; control characters (C0, DEL and
/// C1) as `?`; valid UTF-8 as it is; each invalid UTF-8 sequence (its maximal subpart, as
/// `String::from_utf8_lossy` counts them) as U+FFFD.
pub fn escaped(out: &mut Vec<u8>, value: &[u8]) {
    // Most values (methods, paths, user agents, ids) are printable ASCII without a quote or
    // a backslash: one pass the compiler can run many bytes at a time, then one copy.
    let plain = value.iter().fold(true, |ok, &c| {
        ok & (0x20..0x7f).contains(&c) & (c != b'"') & (c != b'\\')
    });
    if plain {
        out.extend_from_slice(value);
        return;
    }
    escaped_within(out, value, usize::MAX);
}

/// `escaped`, unless `out` would grow past `max` bytes: then it stops there (having added
/// part of the value) and returns false. The growth of `out` is bounded by `max` whatever
/// the value expands to.
pub fn escaped_within(out: &mut Vec<u8>, value: &[u8], max: usize) -> bool {
    if value.is_ascii() {
        // Most values: valid as they are, checked a word at a time.
        return escape_valid(out, value, max);
    }
    for chunk in value.utf8_chunks() {
        if !escape_valid(out, chunk.valid().as_bytes(), max) {
            return false;
        }
        if !chunk.invalid().is_empty() && !append_within(out, REPLACEMENT, max) {
            return false;
        }
    }
    true
}

/// Escape valid UTF-8 text: runs that need nothing are copied whole.
fn escape_valid(out: &mut Vec<u8>, text: &[u8], max: usize) -> bool {
    // Most values (paths, user agents, ids) have nothing to replace: one pass the compiler
    // can run many bytes at a time, then one copy. `0xc2` may start a C1 control.
    let plain = text.iter().fold(true, |ok, &c| {
        ok & (c >= 0x20) & (c != 0x7f) & (c != b'"') & (c != b'\\') & (c != 0xc2)
    });
    if plain {
        return append_within(out, text, max);
    }
    let mut run = 0;
    let mut i = 0;
    while i < text.len() {
        let (replacement, len): (&[u8], usize) = match text[i] {
            b'"' => (b"\\\"", 1),
            b'\\' => (b"\\\\", 1),
            0..=0x1f | 0x7f => (b"?", 1),
            // C1 controls, U+0080..=U+009F: 0xC2 0x80..=0x9F (the text is valid UTF-8).
            0xc2 if matches!(text.get(i + 1), Some(0x80..=0x9f)) => (b"?", 2),
            _ => {
                i += 1;
                continue;
            }
        };
        if !append_within(out, &text[run..i], max) || !append_within(out, replacement, max) {
            return false;
        }
        i += len;
        run = i;
    }
    append_within(out, &text[run..], max)
}

/// Append `bytes` when `out` stays within `max` bytes; false (nothing added) otherwise.
pub fn append_within(out: &mut Vec<u8>, bytes: &[u8], max: usize) -> bool {
    if out.len().saturating_add(bytes.len()) > max {
        return false;
    }
    out.extend_from_slice(bytes);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        escaped(&mut out, value);
        out
    }

    #[test]
    fn quotes_backslashes_and_controls() {
        assert_eq!(esc(b"a\"b\\c\x01d\x7fe\r\n"), b"a\\\"b\\\\c?d?e??");
        assert_eq!(esc("x\u{85}y\u{9b}z".as_bytes()), b"x?y?z");
    }

    #[test]
    fn valid_utf8_is_kept_and_invalid_sequences_replaced() {
        let valid = "caf\u{e9} \u{1F600} \u{4e2d}\u{a0}";
        assert_eq!(esc(valid.as_bytes()), valid.as_bytes());
        for bad in [
            &b"a\xffb"[..],
            b"a\xc3",
            b"\xe4\xb8",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\x80\x80x\xc0\xaf",
        ] {
            let out = esc(bad);
            let text = std::str::from_utf8(&out).expect("valid UTF-8");
            assert_eq!(text, String::from_utf8_lossy(bad), "{bad:?}");
        }
    }

    #[test]
    fn within_a_bound_growth_stops_there() {
        let mut out = b"ab".to_vec();
        assert!(!escaped_within(&mut out, &[b'"'; 1000], 11));
        assert!(out.len() <= 11, "{}", out.len());
        out.clear();
        assert!(!escaped_within(&mut out, &[0xff; 1000], 10));
        assert!(out.len() <= 10);
        out.clear();
        assert!(escaped_within(&mut out, b"a\"b", 4));
        assert_eq!(out, b"a\\\"b");
    }
}
