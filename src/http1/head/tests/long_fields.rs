//! Field values and names past the word-at-a-time part of the field pass (`swar::SHORT`
//! bytes, then `memchr`): every byte class at every position of lines up to 80 bytes,
//! against httparse as in `fields_oracle.rs`.

use super::fields_oracle::agree_where;

#[test]
fn every_byte_class_at_every_position_of_long_lines_agrees_with_httparse() {
    for len in 1..80 {
        for at in 0..len {
            for b in [
                0x00u8, b'\t', 0x0b, 0x1f, b' ', b':', b'a', 0x7f, 0x80, 0xff,
            ] {
                let mut line = b"X-Name: ".to_vec();
                line.resize(8 + len, b'v');
                line[8 + at] = b;
                let mut name = vec![b'N'; len];
                name[at] = b;
                name.extend_from_slice(b": v");
                for line in [&line, &name] {
                    // An error of the scan's own is allowed only where the byte comes first.
                    agree_where(line, at == 0);
                }
            }
        }
    }
}
