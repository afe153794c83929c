//! Limits (L01–L03, head size), early rejection of partial input, the resumed scan.

use super::*;

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

#[test]
fn limits_falling_inside_a_long_value_or_target_are_exact() {
    // The scan skips ordinary bytes of field values and targets in one search; the head, line
    // and target limits must still apply at exactly the same byte.
    let value = "v".repeat(3000);
    let buf = req(&format!("GET /t HTTP/1.1\r\n{{H}}X-Long: {value}\r\n\r\n"));
    let at = buf.len() - 500; // inside the long value
    let lim = Limits {
        max_head_bytes: at,
        ..limits()
    };
    let mut head = RequestHead::with_limits(&lim);
    assert_eq!(
        parse_request(&buf[..at - 1], &lim, &mut head),
        Ok(Status::Partial)
    );
    let mut head = RequestHead::with_limits(&lim);
    assert_eq!(
        parse_request(&buf[..at], &lim, &mut head),
        Err(RequestError::HeaderTooLarge)
    );
    assert_eq!(parse_lim(&buf, &lim), Err(RequestError::HeaderTooLarge));

    let line = Limits {
        max_header_line: "X-Long: ".len() + 2999,
        ..limits()
    };
    assert_eq!(parse_lim(&buf, &line), Err(RequestError::HeaderTooLarge));
    let line = Limits {
        max_header_line: "X-Long: ".len() + 3000,
        ..limits()
    };
    assert!(parse_lim(&buf, &line).is_ok());

    let target = format!("/{}", "t".repeat(2000));
    let buf = req(&format!("GET {target} HTTP/1.1\r\n{{H}}\r\n"));
    for (max_target, ok) in [(2000, false), (2001, true)] {
        let lim = Limits {
            max_target,
            ..limits()
        };
        assert_eq!(parse_lim(&buf, &lim).is_ok(), ok, "max_target {max_target}");
    }
}
