//! A small JSON writer for the proxy events: values go straight into one output buffer, with
//! no `Value`, map or `String` per field. Strings are escaped as `serde_json` escapes them
//! (RFC 8259: `"` and `\`, control characters as `\b \t \n \f \r` or `\u00xx`), and request
//! bytes that are not UTF-8 become U+FFFD exactly as `String::from_utf8_lossy` replaces
//! them — so an event is byte for byte what serializing the old `Value` gave.
//!
//! Commas are the writer's business: every value or key after the first in its object or
//! array gets one.

use std::fmt;

use serde_json::Value;

/// The event being written.
pub struct Json {
    out: Vec<u8>,
    /// A value was written in the current object or array (the next one needs a comma).
    comma: bool,
}

impl Json {
    pub fn with_capacity(n: usize) -> Json {
        Json {
            out: Vec::with_capacity(n),
            comma: false,
        }
    }

    /// Written into `buf` (emptied), with room for `n` bytes.
    pub fn reuse(mut buf: Vec<u8>, n: usize) -> Json {
        buf.clear();
        buf.reserve(n);
        Json {
            out: buf,
            comma: false,
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    fn sep(&mut self) {
        if self.comma {
            self.out.push(b',');
        }
    }

    fn open(&mut self, bracket: u8) -> &mut Json {
        self.sep();
        self.out.push(bracket);
        self.comma = false;
        self
    }

    fn close(&mut self, bracket: u8) -> &mut Json {
        self.out.push(bracket);
        self.comma = true;
        self
    }

    pub fn obj(&mut self) -> &mut Json {
        self.open(b'{')
    }

    pub fn end_obj(&mut self) -> &mut Json {
        self.close(b'}')
    }

    pub fn arr(&mut self) -> &mut Json {
        self.open(b'[')
    }

    pub fn end_arr(&mut self) -> &mut Json {
        self.close(b']')
    }

    /// An object key; its value follows.
    pub fn key(&mut self, k: &str) -> &mut Json {
        self.str(k);
        self.out.push(b':');
        self.comma = false;
        self
    }

    /// An object key from request bytes (lossy UTF-8).
    pub fn key_text(&mut self, k: &[u8]) -> &mut Json {
        self.text(k);
        self.out.push(b':');
        self.comma = false;
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Json {
        self.open_str();
        escape(&mut self.out, s.as_bytes());
        self.close_str()
    }

    /// A string from request bytes (lossy UTF-8).
    pub fn text(&mut self, b: &[u8]) -> &mut Json {
        self.open_str();
        self.push_text(b);
        self.close_str()
    }

    /// A string written in pieces: [`Json::push_text`], [`Json::push_fmt`], then
    /// [`Json::close_str`].
    pub fn open_str(&mut self) -> &mut Json {
        self.sep();
        self.out.push(b'"');
        self
    }

    /// More of an open string, from request bytes (lossy UTF-8).
    pub fn push_text(&mut self, b: &[u8]) -> &mut Json {
        if b.is_ascii() {
            // Most request text: no UTF-8 chunking needed (checked a word at a time).
            escape(&mut self.out, b);
            return self;
        }
        for chunk in b.utf8_chunks() {
            escape(&mut self.out, chunk.valid().as_bytes());
            if !chunk.invalid().is_empty() {
                self.out.extend_from_slice(
                    char::REPLACEMENT_CHARACTER
                        .encode_utf8(&mut [0; 4])
                        .as_bytes(),
                );
            }
        }
        self
    }

    /// More of an open string, formatted (and escaped).
    pub fn push_fmt(&mut self, args: fmt::Arguments<'_>) -> &mut Json {
        // Writing to a Vec cannot fail; a `Display` that fails leaves its text cut short.
        let _ = fmt::Write::write_fmt(&mut Escaping(&mut self.out), args);
        self
    }

    pub fn close_str(&mut self) -> &mut Json {
        self.close(b'"')
    }

    /// The bytes written since `start` (a [`Json::mark`]), to adjust in place.
    pub fn since(&mut self, start: usize) -> &mut [u8] {
        &mut self.out[start..]
    }

    /// Where the next byte goes.
    pub fn mark(&self) -> usize {
        self.out.len()
    }

    pub fn null(&mut self) -> &mut Json {
        self.sep();
        self.out.extend_from_slice(b"null");
        self.comma = true;
        self
    }

    pub fn bool(&mut self, b: bool) -> &mut Json {
        self.sep();
        self.out
            .extend_from_slice(if b { &b"true"[..] } else { b"false" });
        self.comma = true;
        self
    }

    pub fn u64(&mut self, n: u64) -> &mut Json {
        self.sep();
        crate::http1::write_decimal(&mut self.out, n);
        self.comma = true;
        self
    }

    /// A `Value` (authorizer output: cold, so built as a value first).
    pub fn value(&mut self, v: &Value) -> &mut Json {
        self.sep();
        // Serializing a `Value` into a Vec cannot fail (its keys are strings).
        let _ = serde_json::to_writer(&mut self.out, v);
        self.comma = true;
        self
    }

    /// Standard base64 of `b` as a string (nothing in it to escape).
    pub fn base64(&mut self, b: &[u8]) -> &mut Json {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::STANDARD;
        self.open_str();
        let start = self.out.len();
        match base64::encoded_len(b.len(), true) {
            Some(n) => {
                self.out.resize(start + n, 0);
                let written = engine.encode_slice(b, &mut self.out[start..]).unwrap_or(0);
                self.out.truncate(start + written);
            }
            None => {
                self.out.extend_from_slice(engine.encode(b).as_bytes());
            }
        }
        self.close_str()
    }
}

/// `fmt` output escaped into a buffer.
struct Escaping<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape(self.0, s.as_bytes());
        Ok(())
    }
}

/// `b` (UTF-8) escaped as a JSON string's contents, as `serde_json` does.
fn escape(out: &mut Vec<u8>, b: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    /// The bytes JSON escapes: controls, `"` and `\`.
    const ESCAPED: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 0x20 {
            t[c] = true;
            c += 1;
        }
        t[b'"' as usize] = true;
        t[b'\\' as usize] = true;
        t
    };
    // Most strings (keys, paths, header values) have nothing to escape: one pass the
    // compiler can run many bytes at a time, then one copy.
    let plain = b
        .iter()
        .fold(true, |ok, &c| ok & (c >= 0x20) & (c != b'"') & (c != b'\\'));
    if plain {
        out.extend_from_slice(b);
        return;
    }
    out.reserve(b.len());
    let mut rest = b;
    while let Some(i) = rest.iter().position(|&c| ESCAPED[usize::from(c)]) {
        out.extend_from_slice(&rest[..i]);
        let c = rest[i];
        match c {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', c]),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xf)],
            ]),
        }
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
}

#[cfg(test)]
mod tests {
    use super::Json;
    use serde_json::json;

    #[test]
    fn strings_are_escaped_and_made_utf8_as_serde_json_and_from_utf8_lossy_do() {
        let mut all: Vec<u8> = (0u8..=0xff).collect();
        all.extend_from_slice("é\u{2028}\u{fffd}".as_bytes());
        all.extend_from_slice(b"\xe2\x82 \xf0\x9f\x98 \xed\xa0\x80 \xc0\xaf\xff");
        let mut j = Json::with_capacity(0);
        j.arr().text(&all).str("\"\\/").key_text(b"\x01k\xff");
        let lossy = String::from_utf8_lossy(&all).into_owned();
        let mut want = serde_json::to_vec(&json!([lossy, "\"\\/"])).unwrap();
        want.pop();
        want.extend_from_slice(br#","\u0001k"#);
        want.extend_from_slice("\u{fffd}\":".as_bytes());
        assert_eq!(
            String::from_utf8_lossy(&j.into_bytes()),
            String::from_utf8_lossy(&want)
        );
    }

    #[test]
    fn commas_separate_values_and_members_but_not_keys_from_values() {
        let mut j = Json::with_capacity(0);
        j.obj()
            .key("a")
            .null()
            .key("b")
            .arr()
            .u64(0)
            .bool(true)
            .obj()
            .end_obj();
        j.end_arr()
            .key("c")
            .open_str()
            .push_text(b"x")
            .push_fmt(format_args!("{}\n", 7));
        j.close_str()
            .key("d")
            .base64(b"\x01\x02")
            .key("e")
            .value(&json!({"k": [1]}));
        j.end_obj();
        assert_eq!(
            j.into_bytes(),
            br#"{"a":null,"b":[0,true,{}],"c":"x7\n","d":"AQI=","e":{"k":[1]}}"#
        );
    }
}
