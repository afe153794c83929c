//! Field lines: the codec's own field pass (`fill_headers`) accepts exactly what httparse,
//! which it replaced on the request path, accepts — byte by byte, in every position of a
//! name and a value — and records the same (trimmed) names and values.

use super::*;

/// Field names and values, owned.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// What httparse makes of a complete head: the fields, or which of the field errors.
fn httparse_fields(buf: &[u8]) -> Result<Fields, httparse::Error> {
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(buf)? {
        httparse::Status::Complete(_) => Ok(req
            .headers
            .iter()
            .map(|h| {
                let v = h.value.trim_ascii();
                (h.name.as_bytes().to_vec(), v.to_vec())
            })
            .collect()),
        httparse::Status::Partial => panic!("partial: {:?}", String::from_utf8_lossy(buf)),
    }
}

#[track_caller]
fn agree(line: &[u8]) {
    agree_where(line, true);
}

/// `line` (a field line) in a head between two fields: the codec and httparse give the
/// same fields or the same field error; any other error is the scan's (CR, LF, obs-fold)
/// and allowed only where `scan_may_refuse`.
#[track_caller]
pub(super) fn agree_where(line: &[u8], scan_may_refuse: bool) {
    let mut buf = b"GET / HTTP/1.1\r\nHost: gw.test\r\n".to_vec();
    buf.extend_from_slice(line);
    buf.extend_from_slice(b"\r\nX-After: 1\r\n\r\n");
    let mut head = RequestHead::with_limits(&limits());
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
            // httparse trims SP and HTAB only; `trim_ascii` above also drops other ASCII
            // whitespace, which a valid value never ends with except SP / HTAB.
            assert_eq!(Ok(got), oracle, "{shown:?}");
        }
        Err(RequestError::BadRequest("invalid field name")) => {
            assert_eq!(oracle.err(), Some(httparse::Error::HeaderName), "{shown:?}")
        }
        Err(RequestError::BadRequest("invalid field value")) => {
            assert_eq!(
                oracle.err(),
                Some(httparse::Error::HeaderValue),
                "{shown:?}"
            )
        }
        // Decided by the scan before the field pass (CR, LF, obs-fold): not this pass's call.
        Err(_) if scan_may_refuse => {}
        other => panic!("{shown:?}: {other:?}"),
    }
}

#[test]
fn every_byte_in_every_position_of_a_field_line_agrees_with_httparse() {
    for b in 0..=255u8 {
        let shapes: [&[&[u8]]; 9] = [
            &[&[b], b"X: v"],
            &[b"X", &[b], b"Y: v"],
            &[b"XY", &[b], b": v"],
            &[b"X:", &[b]],
            &[b"X: ", &[b]],
            &[b"X: a", &[b], b"b"],
            &[b"X: ab", &[b]],
            &[b"X: ", &[b], b" "],
            &[b"X:\t", &[b, b], b"\t"],
        ];
        for parts in shapes {
            agree(&parts.concat());
        }
    }
}

#[test]
fn field_line_shapes_agree_with_httparse() {
    for line in [
        &b"X-Plain: value"[..],
        b"X-Empty:",
        b"X-Blank:   \t ",
        b"X-Tight:v",
        b"X-Colons: a:b::c",
        b"X-Inner:  a  b \t c  ",
        b"NoColon",
        b": no name",
        b"X : space before colon",
        b"X\t: tab before colon",
        b"X-Obs: \x80\xff\xa0",
        b"X-Del: a\x7fb",
        b"X-Nul: a\x00b",
        b"X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\x01",
        b"!#$%&'*+-.^_`|~09azAZ: tchars",
        b"X(: delimiter in a name",
        b"X\"Y: quote in a name",
    ] {
        agree(line);
    }
}
