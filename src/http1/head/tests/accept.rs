//! Requests the codec accepts, and what it reports for them.

use super::*;
use crate::http1::host::{normalize_host, parse_authority};

#[test]
fn plain_get() {
    let buf = req("GET /pets/1?limit=10&x=%2F HTTP/1.1\r\n{H}Accept: */*\r\nX-Empty:\r\n\r\n");
    let p = parse(&buf).unwrap();
    assert_eq!(p.method, b"GET");
    assert_eq!(p.target, b"/pets/1?limit=10&x=%2F");
    assert_eq!(p.form, TargetForm::Origin);
    assert_eq!(p.path, b"/pets/1");
    assert_eq!(p.query.as_deref(), Some(&b"limit=10&x=%2F"[..]));
    assert_eq!(p.version, Version::Http11);
    assert_eq!(p.host.as_deref(), Some(&b"gw.test"[..]));
    assert_eq!(p.framing, Framing::None);
    assert_eq!(p.head_len, buf.len());
    assert!(!p.close && !p.expect_continue && !p.upgrade);
    let names: Vec<&[u8]> = p.headers.iter().map(|(n, _)| n.as_slice()).collect();
    assert_eq!(names, [&b"Host"[..], b"Accept", b"X-Empty"]);
    assert_eq!(p.headers[2].1, b"");
}

#[test]
fn post_with_content_length_leaves_the_body() {
    let buf = req("POST /echo HTTP/1.1\r\n{H}Content-Length: 5\r\n\r\nhello");
    let p = parse(&buf).unwrap();
    assert_eq!(p.framing, Framing::Length(5));
    assert_eq!(&buf[p.head_len..], b"hello");
}

#[test]
fn chunked_post() {
    let buf = req(
        "POST /echo HTTP/1.1\r\n{H}Transfer-Encoding: \tChunked \r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    let p = parse(&buf).unwrap();
    assert_eq!(p.framing, Framing::Chunked);
    assert_eq!(&buf[p.head_len..], b"5\r\nhello\r\n0\r\n\r\n");
}

#[test]
fn content_length_leading_zero_and_equal_duplicates_are_one_length() {
    // P04 (accepted as a single value), P05 `05`.
    for cl in [
        "Content-Length: 05\r\n",
        "Content-Length: 5\r\nContent-Length: 5\r\n",
        "Content-Length: 5, 5\r\n",
    ] {
        let p = parse(&req(&format!("POST / HTTP/1.1\r\n{H}{cl}\r\nhello"))).unwrap();
        assert_eq!(p.framing, Framing::Length(5), "{cl:?}");
    }
    let p = parse(&req(
        "POST / HTTP/1.1\r\n{H}Content-Length: 18446744073709551615\r\n\r\n",
    ))
    .unwrap();
    assert_eq!(p.framing, Framing::Length(u64::MAX)); // the caller answers 413
}

#[test]
fn field_values_are_trimmed_and_obs_text_is_kept_byte_exact() {
    // P15 (d)
    let buf = b"GET / HTTP/1.1\r\nHost:gw.test\r\nX-User: \t\xa0admin\xa0 \x85z \t\r\n\r\n";
    let p = parse(buf).unwrap();
    assert_eq!(p.headers[0].1, b"gw.test");
    assert_eq!(p.headers[1].1, b"\xa0admin\xa0 \x85z");
}

#[test]
fn host_is_validated_and_normalizes() {
    // P19 last case
    let p = parse(&req("GET / HTTP/1.1\r\nHost: GW.TEST.:8080\r\n\r\n")).unwrap();
    let host = p.host.unwrap();
    assert_eq!(host, b"GW.TEST.:8080");
    assert_eq!(p.authority_host.as_deref(), Some(&b"GW.TEST."[..]));
    let auth = parse_authority(&host).unwrap();
    assert_eq!(auth.port, Some(8080));
    assert_eq!(
        normalize_host(auth.host, &mut [0; 256]).unwrap(),
        b"gw.test"
    );
}

#[test]
fn one_hundred_fields_pass_one_more_is_431() {
    // L01
    let mut ok = String::from("GET / HTTP/1.1\r\nHost: gw.test\r\n");
    for i in 1..100 {
        ok.push_str(&format!("X-N-{i}: v\r\n"));
    }
    let too_many = format!("{ok}X-N-100: v\r\n\r\n");
    ok.push_str("\r\n");
    assert_eq!(parse(ok.as_bytes()).unwrap().headers.len(), 100);
    assert_eq!(
        parse(too_many.as_bytes()),
        Err(RequestError::HeaderTooLarge)
    );
    // The limit also holds when it is above the parser's 256 slots.
    let lim = Limits {
        max_headers: 1000,
        ..limits()
    };
    let mut many = String::from("GET / HTTP/1.1\r\nHost: gw.test\r\n");
    for i in 1..256 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    assert_eq!(
        parse_lim(format!("{many}\r\n").as_bytes(), &lim)
            .unwrap()
            .headers
            .len(),
        256
    );
    assert_eq!(
        parse_lim(format!("{many}X: v\r\n\r\n").as_bytes(), &lim),
        Err(RequestError::HeaderTooLarge)
    );
}

#[test]
fn connection_upgrade_and_expect() {
    let p = parse(&req(
        "GET / HTTP/1.1\r\n{H}Connection: keep-alive, Close\r\n\r\n",
    ))
    .unwrap();
    assert!(p.close);
    let p = parse(&req(
        "GET / HTTP/1.1\r\n{H}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    ))
    .unwrap();
    assert!(p.upgrade && !p.close);
    // P24 (a)
    let p = parse(&req(
        "POST / HTTP/1.1\r\n{H}Expect: 100-Continue\r\nContent-Length: 5\r\n\r\n",
    ))
    .unwrap();
    assert!(p.expect_continue);
    // P24 (b): ignored on HTTP/1.0, whatever its value
    for e in ["100-continue", "foo"] {
        let p = parse(&req(&format!(
            "POST / HTTP/1.0\r\nExpect: {e}\r\nContent-Length: 5\r\n\r\n"
        )))
        .unwrap();
        assert!(!p.expect_continue);
    }
    // P24 (c)
    expect_status(
        417,
        &[
            &req("POST / HTTP/1.1\r\n{H}Expect: foo\r\nContent-Length: 5\r\n\r\n"),
            &req("POST / HTTP/1.1\r\n{H}Expect: 100-continue, foo\r\n\r\n"),
            &req("POST / HTTP/1.1\r\n{H}Expect:\r\n\r\n"),
        ],
    );
}

#[test]
fn http10_closes_unless_keep_alive_and_may_omit_host() {
    let p = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!((p.version, p.close, p.host), (Version::Http10, true, None));
    let p = parse(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: gw.test\r\n\r\n").unwrap();
    assert!(!p.close);
    assert_eq!(p.host.as_deref(), Some(&b"gw.test"[..]));
    // P22 (a): no CL/TE on 1.0 is an empty body, never close-delimited.
    let buf = req("POST /echo HTTP/1.0\r\n{H}\r\nGET /smuggled HTTP/1.1\r\n{H}\r\n");
    let p = parse(&buf).unwrap();
    assert_eq!(p.framing, Framing::None);
    assert!(buf[p.head_len..].starts_with(b"GET /smuggled"));
}

#[test]
fn methods_are_case_sensitive_tokens() {
    // P16 last case: `get` is its own method.
    assert_eq!(
        parse(&req("get /echo HTTP/1.1\r\n{H}\r\n")).unwrap().method,
        b"get"
    );
    assert_eq!(
        parse(&req("M-SEARCH! / HTTP/1.1\r\n{H}\r\n"))
            .unwrap()
            .method,
        b"M-SEARCH!"
    );
}

#[test]
fn target_forms() {
    let p = parse(&req("OPTIONS * HTTP/1.1\r\n{H}\r\n")).unwrap();
    assert_eq!(
        (p.form, p.path.as_slice(), p.query),
        (TargetForm::Asterisk, &b"*"[..], None)
    );

    let buf = req("GET HTTP://GW.test:80/a/b?x=1 HTTP/1.1\r\n{H}\r\n");
    let p = parse(&buf).unwrap();
    let TargetForm::Absolute { authority } = p.form else {
        panic!("{:?}", p.form)
    };
    assert_eq!(authority.get(&buf), b"GW.test:80");
    // The target's authority, not Host, names the host the request is routed by.
    assert_eq!(p.authority_host.as_deref(), Some(&b"GW.test"[..]));
    for (request, host) in [
        (
            "GET http://gw.test/ HTTP/1.0\r\n\r\n",
            Some(&b"gw.test"[..]),
        ),
        ("GET / HTTP/1.0\r\n\r\n", None),
        ("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", Some(b"[::1]")),
        (
            "GET http://[::1]/ HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
            Some(b"[::1]"),
        ),
    ] {
        let p = parse(request.as_bytes()).unwrap();
        assert_eq!(p.authority_host.as_deref(), host, "{request:?}");
    }
    assert_eq!(
        (p.path.as_slice(), p.query.as_deref()),
        (&b"/a/b"[..], Some(&b"x=1"[..]))
    );

    for ok in [
        "GET https://gw.test:443/ HTTP/1.1\r\nHost: gw.test\r\n\r\n",
        "GET https://gw.test/ HTTP/1.1\r\nHost: GW.TEST.:443\r\n\r\n",
        "GET http://[::1]:8080/x HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        "GET http://gw.test/ HTTP/1.0\r\n\r\n",
        "GET /?a=b?c/d:@!$&'()*+,;=-._~ HTTP/1.1\r\n{H}\r\n",
    ] {
        assert!(parse(&req(ok)).is_ok(), "{ok:?}");
    }
    let p = parse(&req("GET /? HTTP/1.1\r\n{H}\r\n")).unwrap();
    assert_eq!(
        (p.path.as_slice(), p.query.as_deref()),
        (&b"/"[..], Some(&b""[..]))
    );
}

#[test]
fn leading_empty_lines_are_skipped() {
    let buf = req("\r\n\r\nGET / HTTP/1.1\r\n{H}\r\n");
    let p = parse(&buf).unwrap();
    assert_eq!((p.method.as_slice(), p.head_len), (&b"GET"[..], buf.len()));
    expect_status(
        400,
        &[
            b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"\r\rGET / HTTP/1.1\r\n\r\n",
        ],
    );
}

#[test]
fn pipelined_requests_start_after_head_and_body() {
    // P20 (a), (b); P21: a GET's body is framed like any other.
    let buf = req("GET /echo?n=1 HTTP/1.1\r\n{H}\r\n\
         POST /echo HTTP/1.1\r\n{H}Content-Length: 5\r\n\r\nhello\
         GET /echo HTTP/1.1\r\n{H}Content-Length: 10\r\n\r\n1234567890\
         GET /echo?canary=1 HTTP/1.1\r\n{H}\r\n");
    let mut head = RequestHead::with_limits(&limits());
    let mut at = 0;
    let mut seen = Vec::new();
    while at < buf.len() {
        let rest = &buf[at..];
        assert_eq!(
            parse_request(rest, &limits(), &mut head),
            Ok(Status::Complete)
        );
        let body = match head.framing {
            Framing::Length(n) => n as usize,
            Framing::None => 0,
            Framing::Chunked => unreachable!(),
        };
        seen.push((head.target.get(rest).to_vec(), body));
        at += head.head_len + body;
    }
    assert_eq!(
        seen,
        [
            (b"/echo?n=1".to_vec(), 0),
            (b"/echo".to_vec(), 5),
            (b"/echo".to_vec(), 10),
            (b"/echo?canary=1".to_vec(), 0),
        ]
    );
    // P20 (c): a malformed first request is rejected before anything after it is looked at.
    assert_eq!(
        status(&req(
            "GET /a b HTTP/1.1\r\n{H}\r\nGET / HTTP/1.1\r\n{H}\r\n"
        )),
        400
    );
}
