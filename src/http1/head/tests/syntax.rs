//! Line, field, request-line, target and Host syntax (P08, P13–P19).

use super::*;

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
