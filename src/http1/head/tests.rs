//! Request-head tests: RELIABILITY.md §1.1 P-cases decidable by the codec, L01–L03, and the
//! positive cases. Every input also goes through `parse`'s split check: each prefix, parsed
//! with a fresh head and with one head reused across growing prefixes (the resumed scan),
//! must be `Partial` or exactly the final result.

use super::*;
use crate::http1::host::{normalize_host, parse_authority};

const H: &str = "Host: gw.test\r\n";

fn limits() -> Limits {
    Limits {
        max_headers: 100,
        max_header_line: 8 * 1024,
        max_head_bytes: 64 * 1024,
        max_target: 8 * 1024,
        max_chunk_ext: 16 * 1024,
        max_trailer_bytes: 16 * 1024,
    }
}

/// What a parse produced, owned, so results from different buffers and heads compare.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    method: Vec<u8>,
    target: Vec<u8>,
    form: TargetForm,
    path: Vec<u8>,
    query: Option<Vec<u8>>,
    version: Version,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    head_len: usize,
    framing: Framing,
    host: Option<Vec<u8>>,
    close: bool,
    expect_continue: bool,
    upgrade: bool,
}

fn summarize(buf: &[u8], h: &RequestHead) -> Parsed {
    Parsed {
        method: h.method.get(buf).to_vec(),
        target: h.target.get(buf).to_vec(),
        form: h.form,
        path: h.path.get(buf).to_vec(),
        query: h.query.map(|q| q.get(buf).to_vec()),
        version: h.version,
        headers: h
            .headers
            .iter()
            .map(|(n, v)| (n.get(buf).to_vec(), v.get(buf).to_vec()))
            .collect(),
        head_len: h.head_len,
        framing: h.framing,
        host: h.host.map(|s| s.get(buf).to_vec()),
        close: h.close,
        expect_continue: h.expect_continue,
        upgrade: h.upgrade,
    }
}

fn once(buf: &[u8], lim: &Limits, head: &mut RequestHead) -> Result<Option<Parsed>, RequestError> {
    match parse_request(buf, lim, head)? {
        Status::Partial => Ok(None),
        Status::Complete => Ok(Some(summarize(buf, head))),
    }
}

/// Parse `buf` whole; check every prefix agrees (see the module doc); return the result.
fn parse_lim(buf: &[u8], lim: &Limits) -> Result<Parsed, RequestError> {
    let full = once(buf, lim, &mut RequestHead::with_limits(lim));
    let want = match &full {
        Ok(Some(p)) => Ok(Some(p)),
        Ok(None) => panic!(
            "complete input parsed as Partial: {:?}",
            String::from_utf8_lossy(buf)
        ),
        Err(e) => Err(*e),
    };
    let mut reused = RequestHead::with_limits(lim);
    for n in 0..=buf.len() {
        let prefix = &buf[..n];
        // A fresh head rescans the whole prefix: sample long inputs to keep this linear-ish.
        let fresh = (buf.len() < 4096 || n % 61 == 0 || buf.len() - n < 64)
            .then(|| once(prefix, lim, &mut RequestHead::with_limits(lim)));
        for got in fresh.into_iter().chain([once(prefix, lim, &mut reused)]) {
            match (&got, &want) {
                (Ok(None), _) => {}
                (Ok(Some(p)), Ok(Some(w))) if p == *w => {}
                (Err(e), Err(w)) if e == w => {}
                _ => panic!(
                    "prefix of {n}/{} bytes gave {got:?}, whole input {want:?}: {:?}",
                    buf.len(),
                    String::from_utf8_lossy(buf)
                ),
            }
        }
    }
    full.map(|p| p.unwrap_or_else(|| unreachable!()))
}

fn parse(buf: &[u8]) -> Result<Parsed, RequestError> {
    parse_lim(buf, &limits())
}

fn req(s: &str) -> Vec<u8> {
    s.replace("{H}", H).into_bytes()
}

fn status(buf: &[u8]) -> u16 {
    match parse(buf) {
        Ok(_) => 200,
        Err(e) => e.status(),
    }
}

#[track_caller]
fn expect_status(want: u16, cases: &[&[u8]]) {
    for &case in cases {
        assert_eq!(status(case), want, "{:?}", String::from_utf8_lossy(case));
    }
}

// ---------------------------------------------------------------------------------------------
// Positive cases

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

// ---------------------------------------------------------------------------------------------
// Framing (P01–P06, P22)

#[test]
fn content_length_with_transfer_encoding_is_400_in_any_order() {
    expect_status(
        400,
        &[
            // P01, P02
            &req(
                "POST /echo HTTP/1.1\r\n{H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
            ),
            &req(
                "POST /echo HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
            ),
            &req("POST /echo HTTP/1.1\r\n{H}Transfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\n"),
        ],
    );
}

#[test]
fn differing_content_lengths_are_400() {
    // P03
    expect_status(
        400,
        &[
            &req(
                "POST /echo HTTP/1.1\r\n{H}Content-Length: 0\r\nContent-Length: 31\r\n\r\nGET /evil HTTP/1.1\r\nHost: a\r\n\r\n",
            ),
            &req("POST /echo HTTP/1.1\r\n{H}Content-Length: 5, 6\r\n\r\n"),
            &req("POST /echo HTTP/1.1\r\n{H}Content-Length: 5\r\nContent-Length: 5, 6\r\n\r\n"),
        ],
    );
}

#[test]
fn content_length_syntax_is_1_digit() {
    // P05
    for v in [
        "+5",
        "-1",
        "0x5",
        "5_0",
        "1e3",
        "5.0",
        "",
        "\u{663}",
        "18446744073709551616",
        "99999999999999999999999",
        "5,",
        "5 5",
    ] {
        let buf = req(&format!(
            "POST /echo HTTP/1.1\r\n{{H}}Content-Length: {v}\r\n\r\nhello"
        ));
        assert_eq!(status(&buf), 400, "Content-Length: {v:?}");
    }
}

#[test]
fn transfer_encoding_must_be_exactly_chunked() {
    // P06 as listed (each with Content-Length: 5): all 400 because CL + TE.
    let codings = [
        "xchunked",
        "chunked, identity",
        "identity",
        "gzip",
        "chunked, chunked",
        ",chunked",
        "chunked;",
    ];
    for te in codings {
        let buf = req(&format!(
            "POST / HTTP/1.1\r\n{{H}}Transfer-Encoding: {te}\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"
        ));
        assert_eq!(status(&buf), 400, "{te:?} with CL");
    }
    // Without CL: well-formed unknown codings are 501, malformed lists and repeats 400.
    for (te, want) in [
        ("xchunked", 501),
        ("gzip, chunked", 501),
        ("chunked, identity", 501),
        ("identity", 501),
        ("gzip", 501),
        ("chunked, chunked", 400),
        (",chunked", 400),
        ("chunked;", 400),
        ("chunked;x=1", 400),
        ("", 400),
        ("chunked\r\nTransfer-Encoding: chunked", 400),
        ("gzip\r\nTransfer-Encoding: chunked", 400),
    ] {
        let buf = req(&format!(
            "POST / HTTP/1.1\r\n{{H}}Transfer-Encoding: {te}\r\n\r\n0\r\n\r\n"
        ));
        assert_eq!(status(&buf), want, "{te:?}");
    }
}

#[test]
fn transfer_encoding_on_http10_is_400() {
    // P22 (b)
    expect_status(
        400,
        &[&req(
            "POST /echo HTTP/1.0\r\n{H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        )],
    );
}

// ---------------------------------------------------------------------------------------------
// Line and field syntax (P08, P13–P16)

#[test]
fn bare_lf_and_obs_fold_are_400() {
    // P08 (a), (b); bare LF anywhere in the head.
    expect_status(
        400,
        &[
            &req("GET /echo HTTP/1.1\r\n{H}X: a\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            &req("GET /echo HTTP/1.1\r\n{H}X-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n"),
            &req("GET /echo HTTP/1.1\r\n{H}X-A: 1\r\n\tmore\r\n\r\n"),
            b"GET / HTTP/1.1\nHost: a\n\n",
            &req("GET / HTTP/1.1\r\n{H}\n"),
            &req("GET / HTTP/1.1\r\n{H}X: 1\r\n\n"),
        ],
    );
}

#[test]
fn bare_cr_is_400() {
    // P13
    expect_status(
        400,
        &[
            &req("GET / HTTP/1.1\r\n{H}X: a\rb\r\n\r\n"),
            &req("GET / HTTP/1.1\r\n{H}\rX\r\n\r\n"),
            b"GET /\r HTTP/1.1\r\n\r\n",
            &req("GET / HTTP/1.1\r\r\n{H}\r\n"),
            &req("GET / HTTP/1.1\r\n{H}\r\r\n"),
        ],
    );
}

#[test]
fn invalid_field_names_are_400() {
    // P14
    for line in [
        ": x",
        ":",
        "X\x00: y",
        "X Y: z",
        "(X): y",
        "Content-Length 10",
        "Host : gw.test",
        "Host\t: gw.test",
    ] {
        let buf = req(&format!("GET / HTTP/1.1\r\n{{H}}{line}\r\n\r\n"));
        assert_eq!(status(&buf), 400, "{line:?}");
    }
    expect_status(
        400,
        &[
            &req("GET / HTTP/1.1\r\n{H}X\u{85}: y\r\n\r\n"),
            b"GET / HTTP/1.1\r\nX\x85: y\r\nHost: a\r\n\r\n",
            &req("GET / HTTP/1.1\r\n\tContent-Length: 1\r\n{H}\r\n"),
        ],
    );
}

#[test]
fn control_characters_in_values_are_400() {
    // P15 (a)–(c)
    for v in ["a\x00b", "a\x01b", "a\x7fb", "a\x1bb"] {
        let buf = req(&format!("GET / HTTP/1.1\r\n{{H}}X: {v}\r\n\r\n"));
        assert_eq!(status(&buf), 400, "{v:?}");
    }
    expect_status(
        400,
        &[b"GET / HTTP/1.1\r\nHost: gw.test\x00.evil.test\r\n\r\n"],
    );
}

#[test]
fn request_line_strictness() {
    // P16
    for line in [
        "GET  /echo HTTP/1.1",
        "GET\t/ HTTP/1.1",
        "GET /echo HTTP/1.1 ",
        "GET /echo  HTTP/1.1",
        "GET /a b HTTP/1.1",
        "GET / HTTP/1.2",
        "GET / HTTP/0.9",
        "GET / http/1.1",
        "GET / HTTP/1.10",
        "GET / HTTP/1",
        "GET / HTTP/11",
        "GE(T / HTTP/1.1",
        "G\x00T / HTTP/1.1",
        " GET / HTTP/1.1",
        "GET / HTTP/1.1\t",
    ] {
        let buf = req(&format!("{line}\r\n{{H}}\r\n"));
        assert_eq!(status(&buf), 400, "{line:?}");
    }
    expect_status(
        400,
        &[
            b"GET /\r\n\r\n",
            b"GET\r\n\r\n",
            &req("GET /echo HTTP/1.1\r\n\r\n"),
        ],
    );
    // HTTP/2.0 and other major versions: 505, decided at the end of the request line.
    for v in ["HTTP/2.0", "HTTP/2.1", "HTTP/3.0"] {
        assert_eq!(status(&req(&format!("GET / {v}\r\n{{H}}\r\n"))), 505, "{v}");
    }
    assert_eq!(status(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505);
    assert_eq!(
        parse(b"PRI * HTTP/2.0\r\n"),
        Err(RequestError::VersionNotSupported)
    );
    let long_method = format!("{} / HTTP/1.1\r\n{H}\r\n", "A".repeat(33));
    assert_eq!(status(long_method.as_bytes()), 400);
    assert!(parse(format!("{} / HTTP/1.1\r\n{H}\r\n", "A".repeat(32)).as_bytes()).is_ok());
}

#[test]
fn request_target_charset_and_forms() {
    // P17-style target validation and P18 (a)–(c).
    for t in [
        "/a#b",
        "/a\"b",
        "/a{b}",
        "/a\\b",
        "/a|b",
        "/a^b",
        "/a`b",
        "/a<b>",
        "/a[b]",
        "/%",
        "/%2",
        "/%zz",
        "/a%2",
        "/\u{e9}",
        "/a\x7f",
        "a/b",
        "?x",
        "*",
        "*/x",
        "ftp://gw.test/",
        "http://gw.test",
        "http://gw.test?x",
        "http://",
        "http:///x",
        "http://user@gw.test/",
        "http://gw.test:0/",
        "gw.test:443",
    ] {
        let buf = req(&format!("GET {t} HTTP/1.1\r\n{{H}}\r\n"));
        assert_eq!(status(&buf), 400, "{t:?}");
    }
    expect_status(
        400,
        &[
            &req("GET http://gw.test/echo HTTP/1.1\r\nHost: other.test\r\n\r\n"),
            &req("GET http://gw.test:8080/echo HTTP/1.1\r\nHost: gw.test:81\r\n\r\n"),
            &req("GET http://gw.test:8080/echo HTTP/1.1\r\nHost: gw.test\r\n\r\n"),
            &req("GET https://gw.test/ HTTP/1.1\r\nHost: gw.test:80\r\n\r\n"),
            &req("GET http://127.0.0.1:9999/ HTTP/1.1\r\n{H}\r\n"),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Host (P19)

#[test]
fn host_must_be_single_and_valid_on_http11() {
    expect_status(
        400,
        &[
            b"GET / HTTP/1.1\r\n\r\n",
            &req("GET / HTTP/1.1\r\n{H}{H}\r\n"),
            &req("GET / HTTP/1.1\r\n{H}Host: b.test\r\n\r\n"),
            b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
        ],
    );
    for host in [
        "gw.test\x02",
        "gw.test:99999",
        "1.2.3.4:9000:80",
        "gw.test/../x",
        "evil@gw.test",
        "[::1",
        "..gw.test",
        "",
    ] {
        let buf = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(status(buf.as_bytes()), 400, "Host: {host:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Limits (L02, L03 and the head limit)

#[test]
fn long_field_line_is_431() {
    // L02 (a) 9 KiB line, (c) 64 KiB name
    let line = format!("X: {}\r\n", "v".repeat(9 * 1024));
    assert_eq!(
        status(&req(&format!("GET / HTTP/1.1\r\n{{H}}{line}\r\n"))),
        431
    );
    let name = format!("{}: v\r\n", "N".repeat(64 * 1024));
    assert_eq!(
        status(&req(&format!("GET / HTTP/1.1\r\n{{H}}{name}\r\n"))),
        431
    );
    // A line of exactly max_header_line bytes is fine.
    let exact = format!("X: {}\r\n", "v".repeat(8 * 1024 - 3));
    assert_eq!(
        status(&req(&format!("GET / HTTP/1.1\r\n{{H}}{exact}\r\n"))),
        200
    );
}

#[test]
fn head_over_the_block_limit_is_431() {
    // L02 (b) 10 × 7 KiB lines
    let mut head = String::from("GET / HTTP/1.1\r\nHost: gw.test\r\n");
    for i in 0..10 {
        head.push_str(&format!("X-{i}: {}\r\n", "v".repeat(7 * 1024)));
    }
    head.push_str("\r\n");
    assert_eq!(status(head.as_bytes()), 431);
    // L02 (d) 40 × 1.5 KiB Cookie lines: 60 KiB, accepted.
    let mut head = String::from("GET / HTTP/1.1\r\nHost: gw.test\r\n");
    for _ in 0..40 {
        head.push_str(&format!("Cookie: {}\r\n", "c".repeat(1536)));
    }
    head.push_str("\r\n");
    assert_eq!(parse(head.as_bytes()).unwrap().headers.len(), 41);
}

#[test]
fn head_limit_is_exact_and_checked_on_partial_input() {
    let buf = req("GET / HTTP/1.1\r\n{H}\r\n");
    let exact = Limits {
        max_head_bytes: buf.len(),
        ..limits()
    };
    assert!(parse_lim(&buf, &exact).is_ok());
    let short = Limits {
        max_head_bytes: buf.len() - 1,
        ..limits()
    };
    assert_eq!(parse_lim(&buf, &short), Err(RequestError::HeaderTooLarge));
    // Partial input that already reached the limit is rejected without waiting for the end.
    let mut head = RequestHead::with_limits(&short);
    assert_eq!(
        parse_request(&buf[..buf.len() - 1], &short, &mut head),
        Err(RequestError::HeaderTooLarge)
    );
    assert_eq!(
        parse_request(&buf[..buf.len() - 2], &short, &mut head),
        Ok(Status::Partial)
    );
}

#[test]
fn long_target_is_414_even_before_the_line_ends() {
    // L03
    let target = format!("/{}", "a".repeat(8200));
    assert_eq!(
        status(&req(&format!("GET {target} HTTP/1.1\r\n{{H}}\r\n"))),
        414
    );
    let partial = format!("GET {target}");
    let mut head = RequestHead::with_limits(&limits());
    assert_eq!(
        parse_request(partial.as_bytes(), &limits(), &mut head),
        Err(RequestError::UriTooLong)
    );
    let exact = format!("GET /{} HTTP/1.1\r\n{H}\r\n", "a".repeat(8 * 1024 - 1));
    assert!(parse(exact.as_bytes()).is_ok());
    // Length is checked at each byte, the charset at the end of the line: an early bad byte
    // in an over-long target is still a 414, in every prefix and in the whole input.
    assert_eq!(
        status(&req(&format!("GET /{{{target} HTTP/1.1\r\n{{H}}\r\n"))),
        414
    );
}

#[test]
fn head_reuse_clears_previous_fields() {
    let lim = limits();
    let mut head = RequestHead::with_limits(&lim);
    let a = req(
        "POST /a?q HTTP/1.1\r\n{H}Content-Length: 1\r\nConnection: close\r\nExpect: 100-continue\r\nUpgrade: x\r\n\r\n",
    );
    assert_eq!(parse_request(&a, &lim, &mut head), Ok(Status::Complete));
    let b = b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    assert_eq!(parse_request(b, &lim, &mut head), Ok(Status::Complete));
    let p = summarize(b, &head);
    assert_eq!((p.query, p.host, p.framing), (None, None, Framing::None));
    assert!(!p.close && !p.expect_continue && !p.upgrade);
    assert_eq!(p.headers.len(), 1);
    assert!(head.headers.capacity() >= 100);
}

#[test]
fn a_resumed_scan_rechecks_a_replaced_buffer() {
    // Misuse: a Partial, then a different buffer with the same head. The result must be the
    // one for the new buffer alone.
    let lim = limits();
    let mut head = RequestHead::with_limits(&lim);
    let first = req("GET /ok HTTP/1.1\r\n{H}X-Pad: aaaa");
    assert_eq!(parse_request(&first, &lim, &mut head), Ok(Status::Partial));
    let second = req("GET /a{b} HTTP/1.1\r\n{H}X-Pad: aaaa\r\n\r\n");
    assert_eq!(
        parse_request(&second, &lim, &mut head),
        Err(RequestError::BadRequest(
            "invalid character in request-target"
        ))
    );
}

#[test]
fn errors_are_found_before_the_head_is_complete() {
    let lim = limits();
    for (partial, want) in [
        (
            &b"GET / HTTP/1.1\r\nHost: a\r\n X"[..],
            RequestError::BadRequest("obsolete line folding"),
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\nX",
            RequestError::BadRequest("bare LF"),
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\rX",
            RequestError::BadRequest("bare CR"),
        ),
        (b"GET / HTTP/2.0\r\n", RequestError::VersionNotSupported),
        (
            b"GET /a{ HTTP/1.1\r\n",
            RequestError::BadRequest("invalid character in request-target"),
        ),
        (b"GET\t/", RequestError::BadRequest("invalid method")),
    ] {
        let mut head = RequestHead::with_limits(&lim);
        assert_eq!(
            parse_request(partial, &lim, &mut head),
            Err(want),
            "{:?}",
            String::from_utf8_lossy(partial)
        );
    }
}

#[test]
fn a_trickled_head_is_scanned_once() {
    let lim = limits();
    let buf = req("GET / HTTP/1.1\r\n{H}X-Long: aaaaaaaaaaaaaaaa\r\n\r\n");
    let mut head = RequestHead::with_limits(&lim);
    for n in 1..buf.len() {
        assert_eq!(
            parse_request(&buf[..n], &lim, &mut head),
            Ok(Status::Partial)
        );
        assert_eq!(
            head.resume.pos(),
            n,
            "the next call resumes where this one stopped"
        );
    }
    assert_eq!(parse_request(&buf, &lim, &mut head), Ok(Status::Complete));
    assert_eq!(
        head.resume.pos(),
        0,
        "a complete head leaves nothing to resume"
    );
}
