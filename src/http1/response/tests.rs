//! Response-head tests: RELIABILITY U06, U08, U10 and limits. Each input is also parsed at
//! every prefix (fresh and resumed), which must be `Partial` or the final result.

use super::*;

fn limits() -> Limits {
    crate::http1::test_limits()
}

#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    version: Version,
    status: u16,
    reason: Vec<u8>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    head_len: usize,
    framing: ResponseFraming,
    close: bool,
}

fn once(
    buf: &[u8],
    lim: &Limits,
    was_head: bool,
    h: &mut ResponseHead,
) -> Result<Option<Parsed>, ResponseError> {
    Ok(match parse_response(buf, lim, was_head, h)? {
        Status::Partial => None,
        Status::Complete => Some(Parsed {
            version: h.version,
            status: h.status,
            reason: h.reason.get(buf).to_vec(),
            headers: h
                .headers
                .iter()
                .map(|(n, v)| (n.get(buf).to_vec(), v.get(buf).to_vec()))
                .collect(),
            head_len: h.head_len,
            framing: h.framing,
            close: h.close,
        }),
    })
}

fn parse_opts(buf: &[u8], lim: &Limits, was_head: bool) -> Result<Parsed, ResponseError> {
    let full = once(buf, lim, was_head, &mut ResponseHead::with_limits(lim));
    let mut reused = ResponseHead::with_limits(lim);
    for n in 0..=buf.len() {
        for got in [
            once(
                &buf[..n],
                lim,
                was_head,
                &mut ResponseHead::with_limits(lim),
            ),
            once(&buf[..n], lim, was_head, &mut reused),
        ] {
            let agrees = match (&got, &full) {
                (Ok(None), _) => true,
                (Ok(Some(p)), Ok(Some(f))) => p == f,
                (Err(e), Err(f)) => e == f,
                _ => false,
            };
            assert!(
                agrees,
                "prefix {n}: {got:?} vs {full:?}: {:?}",
                String::from_utf8_lossy(buf)
            );
        }
    }
    full.map(|p| p.unwrap_or_else(|| panic!("complete response parsed as Partial")))
}

fn parse(buf: &[u8]) -> Result<Parsed, ResponseError> {
    parse_opts(buf, &limits(), false)
}

fn framing(buf: &[u8]) -> ResponseFraming {
    parse(buf)
        .unwrap_or_else(|e| panic!("{e:?}: {:?}", String::from_utf8_lossy(buf)))
        .framing
}

#[track_caller]
fn rejected(cases: &[&[u8]]) {
    for case in cases {
        assert!(
            matches!(parse(case), Err(ResponseError::Malformed(_))),
            "{:?}",
            String::from_utf8_lossy(case)
        );
    }
}

#[test]
fn normal_responses_and_their_framing() {
    let buf = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
    let p = parse(buf).unwrap();
    assert_eq!(
        (p.version, p.status, p.reason.as_slice()),
        (Version::Http11, 200, &b"OK"[..])
    );
    assert_eq!(
        (p.framing, p.close, p.head_len),
        (ResponseFraming::Length(5), false, buf.len() - 5)
    );
    assert_eq!(
        p.headers[0],
        (b"Content-Type".to_vec(), b"text/plain".to_vec())
    );

    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        ResponseFraming::Chunked
    );
    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\nContent-Length: 05\r\nContent-Length: 5, 5\r\n\r\n"),
        ResponseFraming::Length(5)
    );
    let p = parse(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n").unwrap();
    assert_eq!((p.framing, p.close), (ResponseFraming::Close, false));
    let p = parse(b"HTTP/1.1 404 Not  Found \xff\r\n\r\n").unwrap();
    assert_eq!(
        (p.status, p.reason.as_slice()),
        (404, &b"Not  Found \xff"[..])
    );
    let p = parse(b"HTTP/1.1 200\r\n\r\n").unwrap();
    assert_eq!((p.status, p.reason.as_slice()), (200, &b""[..]));
}

#[test]
fn bodiless_responses_ignore_length() {
    // U10: HEAD, 1xx, 204, 304 have no body whatever CL says.
    let lim = limits();
    let head = parse_opts(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
        &lim,
        true,
    )
    .unwrap();
    assert_eq!(head.framing, ResponseFraming::None);
    for status in [
        "100 Continue",
        "101 Switching Protocols",
        "204 No Content",
        "304 Not Modified",
    ] {
        let buf = format!("HTTP/1.1 {status}\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(framing(buf.as_bytes()), ResponseFraming::None, "{status}");
    }
    assert_eq!(
        framing(b"HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n"),
        ResponseFraming::Length(0)
    );
}

#[test]
fn close_from_connection_or_http10() {
    assert!(
        parse(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .close
    );
    assert!(
        parse(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .close
    );
    let p =
        parse(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").unwrap();
    assert_eq!((p.version, p.close), (Version::Http10, false));
}

#[test]
fn invalid_framing_is_rejected() {
    // U06 (a)–(f)
    rejected(&[
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\nContent-Length: -1\r\n\r\n",
    ]);
}

#[test]
fn status_line_strictness() {
    // U06 (f) and friends
    rejected(&[
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 099 X\r\n\r\n",
        b"HTTP/1.1 600 X\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
        b"HTTP/2.0 200 OK\r\n\r\n",
        b"HTTP/1.2 200 OK\r\n\r\n",
        b"http/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200 O\x00K\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
    ]);
}

#[test]
fn malformed_fields_are_rejected() {
    // U08
    rejected(&[
        b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
        b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
        b"HTTP/1.1 200 OK\r\nX: a\nY: b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a\rb\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n: a\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX a\r\n\r\n",
    ]);
    let p = parse(b"HTTP/1.1 200 OK\r\nX: \xa0v\xa0\r\n\r\n").unwrap();
    assert_eq!(p.headers[0].1, b"\xa0v\xa0");
}

#[test]
fn limits_are_too_large() {
    let mut many = String::from("HTTP/1.1 200 OK\r\n");
    for i in 0..100 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    assert_eq!(
        parse(format!("{many}\r\n").as_bytes())
            .unwrap()
            .headers
            .len(),
        100
    );
    assert_eq!(
        parse(format!("{many}X: v\r\n\r\n").as_bytes()),
        Err(ResponseError::TooLarge)
    );

    let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let exact = Limits {
        max_head_bytes: buf.len(),
        ..limits()
    };
    assert!(parse_opts(buf, &exact, false).is_ok());
    let short = Limits {
        max_head_bytes: buf.len() - 1,
        ..limits()
    };
    assert_eq!(parse_opts(buf, &short, false), Err(ResponseError::TooLarge));
    // Long field lines are fine for responses as long as the head fits.
    let long = format!(
        "HTTP/1.1 200 OK\r\nSet-Cookie: {}\r\n\r\n",
        "c".repeat(20 * 1024)
    );
    assert!(parse(long.as_bytes()).is_ok());
}

#[test]
fn interim_then_final_response_in_one_buffer() {
    let buf = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let lim = limits();
    let mut head = ResponseHead::with_limits(&lim);
    assert_eq!(
        parse_response(buf, &lim, false, &mut head),
        Ok(Status::Complete)
    );
    assert_eq!((head.status, head.framing), (100, ResponseFraming::None));
    let rest = &buf[head.head_len..];
    assert_eq!(
        parse_response(rest, &lim, false, &mut head),
        Ok(Status::Complete)
    );
    assert_eq!(
        (head.status, head.framing),
        (200, ResponseFraming::Length(2))
    );
    assert_eq!(&rest[head.head_len..], b"ok");
}
