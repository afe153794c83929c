//! Body framing: Content-Length and Transfer-Encoding (P01–P06, P22).

use super::*;

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
