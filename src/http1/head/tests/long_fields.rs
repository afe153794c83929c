//! Field values and names past the word-at-a-time part of the field pass (`swar::SHORT`
//! bytes, then `memchr`): every byte class at every position of lines up to 80 bytes,
//! against httparse as in `fields_oracle.rs`.

use super::*;

/// Field names and values, owned.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// httparse's fields of a complete head (trimmed values), or its error.
fn httparse_fields(buf: &[u8]) -> Result<Fields, httparse::Error> {
    let mut slots = [httparse::EMPTY_HEADER; 8];
    let mut req = httparse::Request::new(&mut slots);
    req.parse(buf)?;
    Ok(req
        .headers
        .iter()
        .map(|h| (h.name.as_bytes().to_vec(), h.value.trim_ascii().to_vec()))
        .collect())
}

#[test]
fn every_byte_class_at_every_position_of_long_lines_agrees_with_httparse() {
    let mut head = RequestHead::with_limits(&limits());
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
                    let mut buf = b"GET / HTTP/1.1\r\nHost: gw.test\r\n".to_vec();
                    buf.extend_from_slice(line);
                    buf.extend_from_slice(b"\r\nX-After: 1\r\n\r\n");
                    let ours = parse_request(&buf, &limits(), &mut head);
                    let oracle = httparse_fields(&buf);
                    let shown = String::from_utf8_lossy(line);
                    match ours {
                        Ok(Status::Complete) => {
                            let got: Fields = head
                                .headers
                                .iter()
                                .map(|(n, v)| (n.get(&buf).to_vec(), v.get(&buf).to_vec()))
                                .collect();
                            assert_eq!(Ok(got), oracle, "{shown:?}");
                        }
                        Err(RequestError::BadRequest("invalid field name")) => {
                            assert_eq!(oracle.err(), Some(httparse::Error::HeaderName), "{shown:?}")
                        }
                        Err(RequestError::BadRequest("invalid field value")) => assert_eq!(
                            oracle.err(),
                            Some(httparse::Error::HeaderValue),
                            "{shown:?}"
                        ),
                        // Decided by the scan (obs-fold at a line start).
                        Err(_) if at == 0 => {}
                        other => panic!("{shown:?}: {other:?}"),
                    }
                }
            }
        }
    }
}
