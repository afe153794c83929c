//! RELIABILITY §1.1: request parsing and smuggling (P-cases), each sent in one write and, for
//! the head-level cases, one byte per write (L12). Oracles: G1 (reject), G2 (forwarded form),
//! G3 (canary). Behaviour decided for tollgate: every reject is the listed status with
//! `Connection: close`, a `{"message"}` body and a closed socket; the upstream sees nothing.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::time::Duration;

use serde_json::json;
use support::client::BOTH;
use support::config::{proxy_config, with_limits};
use support::http::get;
use support::*;

const H: &str = "Host: gw.test\r\n";

fn setup() -> (Upstream, Gateway) {
    let up = Upstream::echo();
    let gw = Gateway::start(with_limits(
        proxy_config(up.port()),
        json!({ "headerTimeoutMs": 5000 }),
    ));
    (up, gw)
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// `POST /echo` with `H` and the given extra head lines, then `body`.
fn post(extra: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!("POST /echo HTTP/1.1\r\n{H}{extra}\r\n").into_bytes();
    v.extend_from_slice(body);
    v
}

fn rejects_all(cases: &[(&str, Vec<u8>, &[u16])], modes: &[WriteMode]) {
    let (up, gw) = setup();
    for (name, bytes, statuses) in cases {
        for &m in modes {
            reject_case(&gw, &up, bytes, m, statuses, name);
        }
    }
    gw_ok(gw);
}

fn gw_ok(mut gw: Gateway) {
    gw.assert_healthy();
}

#[test]
fn p01_cl_te_smuggling_is_rejected() {
    let bytes = post(
        "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
        b"0\r\n\r\nX",
    );
    rejects_all(&[("P01", bytes, &[400])], &BOTH);
}

#[test]
fn p02_te_cl_order_swapped_is_rejected() {
    let bytes = post(
        "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
        b"8\r\nSMUGGLED\r\n0\r\n\r\n",
    );
    rejects_all(&[("P02", bytes, &[400])], &BOTH);
}

#[test]
fn p03_duplicate_content_length_with_different_values_is_rejected() {
    let bytes = post(
        "Content-Length: 0\r\nContent-Length: 31\r\n",
        b"GET /evil HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    rejects_all(&[("P03", bytes, &[400])], &BOTH);
}

#[test]
fn p04_duplicate_content_length_same_value_is_rejected_or_forwarded_once() {
    let (up, gw) = setup();
    let check = |r: &Request| {
        assert_eq!(
            r.headers.get_all("content-length"),
            ["5"],
            "P04: upstream must see exactly one `Content-Length: 5`"
        );
        assert_eq!(r.body, b"hello");
    };
    for (name, extra) in [
        ("P04a", "Content-Length: 5\r\nContent-Length: 5\r\n"),
        ("P04b", "Content-Length: 5, 5\r\n"),
    ] {
        for m in BOTH {
            reject_or_forward(&gw, &up, &post(extra, b"hello"), m, &[400], &check, name);
        }
    }
    gw_ok(gw);
}

#[test]
fn p05_content_length_syntax_is_strict() {
    let values: &[&[u8]] = &[
        b"+5",
        b"-1",
        b"0x5",
        b"5_0",
        b"1e3",
        b"5.0",
        b"",
        "\u{663}".as_bytes(),
        b"18446744073709551616",
        b"99999999999999999999999",
        b" 5 5",
    ];
    let (up, gw) = setup();
    for v in values {
        let mut extra = b"Content-Length: ".to_vec();
        extra.extend_from_slice(v);
        extra.extend_from_slice(b"\r\n");
        let mut bytes = format!("POST /echo HTTP/1.1\r\n{H}").into_bytes();
        bytes.extend_from_slice(&extra);
        bytes.extend_from_slice(b"\r\nhello");
        for m in BOTH {
            reject_case(&gw, &up, &bytes, m, &[400], &format!("P05 CL={}", show(v)));
        }
    }
    // `05` is valid 1*DIGIT: forwarded with the canonical value.
    for m in BOTH {
        let (_, req, _) = forward_case(
            &gw,
            &post("Content-Length: 05\r\n", b"hello"),
            m,
            "P05 CL=05",
        );
        assert_eq!(
            req.headers.get_all("content-length"),
            ["5"],
            "P05: `05` must be forwarded as `Content-Length: 5`"
        );
        assert_eq!(req.body, b"hello");
    }
    gw_ok(gw);
}

#[test]
fn p06_transfer_encoding_obfuscation_is_rejected() {
    let te: &[(&str, &[u16])] = &[
        ("Transfer-Encoding: xchunked\r\n", &[400, 501]),
        ("Transfer-Encoding: chunked, identity\r\n", &[400, 501]),
        ("Transfer-Encoding: identity\r\n", &[400, 501]),
        ("Transfer-Encoding: gzip\r\n", &[400, 501]),
        ("Transfer-Encoding: gzip, chunked\r\n", &[400, 422, 501]),
        ("Transfer-Encoding: chunked, chunked\r\n", &[400]),
        ("Transfer-Encoding: ,chunked\r\n", &[400]),
        ("Transfer-Encoding: chunked;\r\n", &[400]),
        (
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            &[400],
        ),
        ("Transfer-Encoding : chunked\r\n", &[400]),
    ];
    let (up, gw) = setup();
    for (line, statuses) in te {
        for with_cl in [true, false] {
            let extra = if with_cl {
                format!("Content-Length: 5\r\n{line}")
            } else {
                line.to_string()
            };
            let bytes = post(&extra, b"0\r\n\r\n");
            for m in BOTH {
                reject_case(
                    &gw,
                    &up,
                    &bytes,
                    m,
                    statuses,
                    &format!("P06 {} cl={with_cl}", line.trim_end()),
                );
            }
        }
    }
    // Case-insensitive, OWS-trimmed single `chunked` is the one accepted coding.
    let (_, req, _) = forward_case(
        &gw,
        &post(
            "Transfer-Encoding:  Chunked \r\n",
            b"5\r\nhello\r\n0\r\n\r\n",
        ),
        WriteMode::OneWrite,
        "P06 Chunked",
    );
    assert_eq!(req.body, b"hello");
    gw_ok(gw);
}

#[test]
fn p08_bare_lf_and_obs_fold() {
    let (up, gw) = setup();
    let bare_lf = b(&format!(
        "GET /echo HTTP/1.1\r\n{H}X: a\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ));
    let bare_lf_end = b(&format!("GET /echo HTTP/1.1\n{H}\n"));
    for m in BOTH {
        reject_case(&gw, &up, &bare_lf, m, &[400], "P08a");
        reject_case(&gw, &up, &bare_lf_end, m, &[400], "P08a line ends");
    }
    let fold = b(&format!(
        "GET /echo HTTP/1.1\r\n{H}X-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n"
    ));
    let check = |r: &Request| {
        assert!(
            !r.headers.has("transfer-encoding"),
            "P08b: a folded line must not become a TE field"
        );
        assert_eq!(
            r.header("x-a").as_deref(),
            Some("1 Transfer-Encoding: chunked"),
            "P08b: fold replaced by SP"
        );
    };
    for m in BOTH {
        reject_or_forward(&gw, &up, &fold, m, &[400], &check, "P08b");
    }
    gw_ok(gw);
}

#[test]
fn p09_chunk_size_grammar_is_strict() {
    let (up, gw) = setup();
    let lines: &[(&str, &[u16])] = &[
        ("\r\n", &[400]),
        (";ext\r\n", &[400]),
        ("0x5\r\n", &[400]),
        ("+5\r\n", &[400]),
        ("-0\r\n", &[400]),
        (" 5\r\n", &[400]),
        ("5\n", &[400]),
        ("5\r\r;x\r\n", &[400]),
        ("ffffffffffffffff\r\n", &[400, 413]),
        ("f0000000000000003\r\n", &[400, 413]),
    ];
    let mut failures = Vec::new();
    for (line, statuses) in lines {
        let bytes = post(
            "Transfer-Encoding: chunked\r\n",
            format!("{line}hello\r\n0\r\n\r\n").as_bytes(),
        );
        for m in BOTH {
            let ctx = format!("P09 size line {} {m:?}", show(line.as_bytes()));
            soft(&mut failures, &ctx.clone(), || {
                let mark = up.mark();
                let mut c = gw.client();
                let _ = c.send_mode(&bytes, m);
                assert_streaming_reject(&mut c, &up, mark, statuses, false, &ctx);
            });
        }
    }
    assert_no_failures(&failures);
    // Leading zeros are legal hex digits; a parser may cap the line, but never misread it.
    let bytes = post(
        "Transfer-Encoding: chunked\r\n",
        b"00000000000000000000001\r\nZ\r\n0\r\n\r\n",
    );
    let check = |r: &Request| assert_eq!(r.body, b"Z", "P09 leading zeros: body");
    reject_or_forward(
        &gw,
        &up,
        &bytes,
        WriteMode::OneWrite,
        &[400],
        &check,
        "P09 leading zeros",
    );
    gw_ok(gw);
}

#[test]
fn p11_chunk_data_framing_errors_abort_the_upstream_request() {
    let (up, gw) = setup();
    let te = "Transfer-Encoding: chunked\r\n";
    for (name, body) in [
        ("P11a runaway chunk", &b"4\r\nSEE-THIS\r\n0\r\n\r\n"[..]),
        ("P11b missing CRLF after data", b"1\r\nZ0\r\n\r\n"),
        ("P11c bare LF after data", b"1\r\nZ\n0\r\n\r\n"),
    ] {
        for m in BOTH {
            let mark = up.mark();
            let mut c = gw.client();
            let _ = c.send_mode(&post(te, body), m);
            assert_streaming_reject(&mut c, &up, mark, &[400], false, &format!("{name} {m:?}"));
        }
    }
    // (d) no last chunk, then the client half-closes.
    let mark = up.mark();
    let mut c = gw.client();
    c.send(&post(te, b"1\r\nZ\r\n"));
    std::thread::sleep(Duration::from_millis(100));
    c.shutdown_write();
    assert_streaming_reject(&mut c, &up, mark, &[400], true, "P11d");
    gw_ok(gw);
}

#[test]
fn p12_trailers_are_dropped_and_large_trailers_rejected() {
    let (up, gw) = setup();
    let body = b"5\r\nhello\r\n0\r\nX-T: a\r\nContent-Length: 99\r\nHost: evil\r\nTransfer-Encoding: x\r\n\r\n";
    for m in BOTH {
        let (_, req, mut c) =
            forward_case(&gw, &post("Transfer-Encoding: chunked\r\n", body), m, "P12");
        assert_eq!(req.body, b"hello");
        assert!(
            req.trailers.0.is_empty(),
            "P12: trailers must be dropped, upstream got {:?}",
            req.trailers
        );
        assert_eq!(req.headers.count("host"), 1);
        assert_ne!(req.header("host").as_deref(), Some("evil"));
        canary(&mut c, "P12");
    }
    let mut big = b"5\r\nhello\r\n0\r\n".to_vec();
    for i in 0..20 {
        big.extend_from_slice(format!("X-T{i}: {}\r\n", "t".repeat(1020)).as_bytes());
    }
    big.extend_from_slice(b"\r\n");
    let mark = up.mark();
    let mut c = gw.client();
    let _ = c.send_mode(
        &post("Transfer-Encoding: chunked\r\n", &big),
        WriteMode::OneWrite,
    );
    assert_streaming_reject(&mut c, &up, mark, &[400, 431], false, "P12 20 KiB trailer");
    gw_ok(gw);
}

#[test]
fn p13_bare_cr_is_rejected() {
    rejects_all(
        &[
            (
                "P13a",
                b(&format!("GET /echo HTTP/1.1\r\n{H}X: a\rb\r\n\r\n")),
                &[400],
            ),
            (
                "P13b",
                b("GET /echo HTTP/1.1\r\nHost: gw.test\rX\r\n\r\n"),
                &[400],
            ),
            ("P13c", b(&format!("GET /\r HTTP/1.1\r\n{H}\r\n")), &[400]),
        ],
        &BOTH,
    );
}

#[test]
fn p14_invalid_field_names_are_rejected() {
    let names: &[&[u8]] = &[
        b": x",
        b":",
        b"X\x00: y",
        b"X\x85: y",
        b"X Y: z",
        b"(X): y",
        b"Content-Length 10",
        b"Host\t: gw.test",
    ];
    let mut cases: Vec<(String, Vec<u8>)> = names
        .iter()
        .map(|n| {
            let mut v = format!("GET /echo HTTP/1.1\r\n{H}").into_bytes();
            v.extend_from_slice(n);
            v.extend_from_slice(b"\r\n\r\n");
            (format!("P14 {}", show(n)), v)
        })
        .collect();
    cases.push((
        "P14 indented first line".into(),
        b("GET /echo HTTP/1.1\r\n\tContent-Length: 1\r\nHost: gw.test\r\n\r\nx"),
    ));
    let (up, gw) = setup();
    for (name, bytes) in &cases {
        for m in BOTH {
            reject_case(&gw, &up, bytes, m, &[400], name);
        }
    }
    gw_ok(gw);
}

#[test]
fn p15_control_bytes_in_values_rejected_obs_text_forwarded_exactly() {
    let (up, gw) = setup();
    let cases: &[(&str, &[u8])] = &[
        (
            "P15a NUL",
            b"GET /echo HTTP/1.1\r\nHost: gw.test\r\nX: a\x00b\r\n\r\n",
        ),
        (
            "P15b NUL in Host",
            b"GET /echo HTTP/1.1\r\nHost: gw.test\x00.evil.test\r\n\r\n",
        ),
        (
            "P15c SOH",
            b"GET /echo HTTP/1.1\r\nHost: gw.test\r\nX: a\x01b\r\n\r\n",
        ),
        (
            "P15c DEL",
            b"GET /echo HTTP/1.1\r\nHost: gw.test\r\nX: a\x7fb\r\n\r\n",
        ),
    ];
    for (name, bytes) in cases {
        for m in BOTH {
            reject_case(&gw, &up, bytes, m, &[400], name);
        }
    }
    for m in BOTH {
        let (_, req, _) = forward_case(
            &gw,
            b"GET /echo HTTP/1.1\r\nHost: gw.test\r\nX-User: \xa0admin\xa0\r\n\r\n",
            m,
            "P15d",
        );
        assert_eq!(
            req.headers.get_raw("x-user"),
            Some(&b"\xa0admin\xa0"[..]),
            "P15d: obs-text forwarded byte-exact"
        );
    }
    gw_ok(gw);
}

#[test]
fn p16_request_line_strictness() {
    let (up, gw) = setup();
    let lines: &[(&str, &[u8], &[u16])] = &[
        (
            "double SP",
            b"GET  /echo HTTP/1.1\r\nHost: gw.test\r\n\r\n",
            &[400],
        ),
        (
            "tab",
            b"GET\t/echo HTTP/1.1\r\nHost: gw.test\r\n\r\n",
            &[400],
        ),
        (
            "trailing SP",
            b"GET /echo HTTP/1.1 \r\nHost: gw.test\r\n\r\n",
            &[400],
        ),
        (
            "SP in target",
            b"GET /a b HTTP/1.1\r\nHost: gw.test\r\n\r\n",
            &[400],
        ),
        ("HTTP/0.9", b"GET /\r\n\r\n", &[400]),
        (
            "lower-case version",
            b"GET / http/1.1\r\nHost: gw.test\r\n\r\n",
            &[400],
        ),
        (
            "( in method",
            b"GE(T / HTTP/1.1\r\nHost: gw.test\r\n\r\n",
            &[400],
        ),
        (
            "NUL in method",
            b"G\x00T / HTTP/1.1\r\nHost: gw.test\r\n\r\n",
            &[400],
        ),
        (
            "HTTP/2.0",
            b"GET / HTTP/2.0\r\nHost: gw.test\r\n\r\n",
            &[505],
        ),
    ];
    for (name, bytes, statuses) in lines {
        for m in BOTH {
            reject_case(&gw, &up, bytes, m, statuses, &format!("P16 {name}"));
        }
    }
    // HTTP/1.2: 400/505 (documented choice) or treated as 1.1.
    let check = |r: &Request| assert_eq!(r.version, "HTTP/1.1");
    reject_or_forward(
        &gw,
        &up,
        b"GET /echo HTTP/1.2\r\nHost: gw.test\r\n\r\n",
        WriteMode::OneWrite,
        &[400, 505],
        &check,
        "P16 HTTP/1.2",
    );
    // Lower-case `get` is another method: never normalised to GET.
    let before = up.request_count();
    let mut c = gw.client();
    c.send(b"get /echo HTTP/1.1\r\nHost: gw.test\r\n\r\n");
    let resp = c.read_response().unwrap_or_else(|e| panic!("P16 get: {e}"));
    let after: Vec<Request> = up.requests().into_iter().skip(before).collect();
    for r in &after {
        assert_eq!(r.method, "get", "P16: method `get` must not be normalised");
    }
    assert!(resp.status == 200 || (400..600).contains(&resp.status));
    if resp.status != 200 {
        assert!(after.is_empty(), "P16 get: rejected but forwarded");
    }
    gw_ok(gw);
}

#[test]
fn p18_absolute_form_never_opens_a_proxy() {
    let (up, gw) = setup();
    let attacker = Upstream::echo();
    let origin = |r: &Request| assert_eq!(r.target, "/echo", "P18: upstream must get origin-form");
    reject_or_forward(
        &gw,
        &up,
        b"GET http://gw.test/echo HTTP/1.1\r\nHost: other.test\r\n\r\n",
        WriteMode::OneWrite,
        &[400],
        &origin,
        "P18a",
    );
    reject_or_forward(
        &gw,
        &up,
        b"GET http://gw.test:8080/echo HTTP/1.1\r\nHost: gw.test:81\r\n\r\n",
        WriteMode::OneWrite,
        &[400],
        &origin,
        "P18c",
    );
    for target in ["/", "/echo"] {
        let bytes = format!(
            "GET http://127.0.0.1:{}{target} HTTP/1.1\r\n{H}\r\n",
            attacker.port()
        );
        let mut c = gw.client();
        c.send(bytes.as_bytes());
        let r = c.read_final().unwrap_or_else(|e| panic!("P18b: {e}")).1;
        if r.status == 200 {
            let req = r.echoed();
            assert!(req.target.starts_with('/'), "P18b: origin-form upstream");
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        attacker.connection_count(),
        0,
        "P18b: the authority in the target must never be dialled"
    );
    gw_ok(gw);
}

#[test]
fn p19_host_validation() {
    let up = Upstream::echo();
    let mut cfg = proxy_config(up.port());
    cfg["server"].as_object_mut().unwrap().remove("defaultApi");
    cfg["domainNames"] = json!([{ "domainName": "gw.test", "basePathMappings": [{ "basePath": "(none)", "apiId": "tapi", "stage": "prod" }] }]);
    let gw = Gateway::start(with_limits(cfg, json!({ "headerTimeoutMs": 5000 })));
    let hosts: &[(&str, &[u8])] = &[
        ("missing Host", b"GET /echo HTTP/1.1\r\n\r\n"),
        (
            "two Host same",
            b"GET /echo HTTP/1.1\r\nHost: gw.test\r\nHost: gw.test\r\n\r\n",
        ),
        (
            "two Host different",
            b"GET /echo HTTP/1.1\r\nHost: gw.test\r\nHost: other.test\r\n\r\n",
        ),
        (
            "control char",
            b"GET /echo HTTP/1.1\r\nHost: gw.test\x02\r\n\r\n",
        ),
        (
            "port out of range",
            b"GET /echo HTTP/1.1\r\nHost: gw.test:99999\r\n\r\n",
        ),
        (
            "two ports",
            b"GET /echo HTTP/1.1\r\nHost: 1.2.3.4:9000:80\r\n\r\n",
        ),
        (
            "path in Host",
            b"GET /echo HTTP/1.1\r\nHost: gw.test/../x\r\n\r\n",
        ),
        (
            "userinfo",
            b"GET /echo HTTP/1.1\r\nHost: evil@gw.test\r\n\r\n",
        ),
        ("open bracket", b"GET /echo HTTP/1.1\r\nHost: [::1\r\n\r\n"),
        (
            "empty label",
            b"GET /echo HTTP/1.1\r\nHost: ..gw.test\r\n\r\n",
        ),
        ("empty Host", b"GET /echo HTTP/1.1\r\nHost: \r\n\r\n"),
    ];
    for (name, bytes) in hosts {
        for m in BOTH {
            reject_case(&gw, &up, bytes, m, &[400], &format!("P19 {name}"));
        }
    }
    // Case, trailing dot and port are normalised for matching.
    for m in BOTH {
        let (_, req, _) = forward_case(
            &gw,
            b"GET /echo HTTP/1.1\r\nHost: GW.TEST.:8080\r\n\r\n",
            m,
            "P19 GW.TEST.:8080",
        );
        assert_eq!(req.target, "/echo");
    }
    // An unknown host is not this API (sanity: routing really is by Host here).
    let r = one_shot(&gw, b"GET /echo HTTP/1.1\r\nHost: other.test\r\n\r\n");
    assert_eq!(r.status, 403, "unknown host: {}", r.body_str());
    // HTTP/1.0 without Host: served or 400 (documented), then closed.
    let mut c = gw.client();
    c.send(b"GET /echo HTTP/1.0\r\n\r\n");
    let r = c
        .read_response()
        .unwrap_or_else(|e| panic!("P19 1.0 no Host: {e}"));
    assert!(
        [200, 400, 403].contains(&r.status),
        "P19 HTTP/1.0 without Host: {}",
        r.status
    );
    assert!(
        c.is_closed_within(Duration::from_secs(1)),
        "HTTP/1.0: closed after the response"
    );
    gw_ok(gw);
}

#[test]
fn p20_pipelining() {
    let (up, gw) = setup();
    for m in BOTH {
        // (a) three GETs in one write: three responses in order.
        let base = up.request_count();
        let mut c = gw.client();
        let mut bytes = Vec::new();
        for i in 0..3 {
            bytes.extend_from_slice(&get(&format!("/echo?n={i}")));
        }
        c.send_mode(&bytes, m).unwrap();
        for i in 0..3 {
            let r = c
                .read_response()
                .unwrap_or_else(|e| panic!("P20a {m:?} response {i}: {e}"));
            assert_eq!(r.status, 200);
            assert_eq!(
                r.echoed().target,
                format!("/echo?n={i}"),
                "P20a {m:?}: responses out of order"
            );
        }
        assert_eq!(
            up.request_count() - base,
            3,
            "P20a: upstream must see exactly 3 requests"
        );
        // (b) a POST body boundary followed by a GET.
        let mut bytes = post("Content-Length: 5\r\n", b"hello");
        bytes.extend_from_slice(&get("/echo?n=2"));
        c.send_mode(&bytes, m).unwrap();
        let r1 = c.read_response().unwrap();
        let r2 = c.read_response().unwrap();
        assert_eq!(r1.echoed().body, b"hello");
        assert_eq!(r2.echoed().target, "/echo?n=2");
        canary(&mut c, "P20b");
    }
    // (c) malformed then valid: rejected, the second never reaches the upstream.
    let mut bytes = post("Content-Length: 1\r\nContent-Length: 2\r\n", b"ab");
    bytes.extend_from_slice(&get("/echo?second"));
    reject_case(&gw, &up, &bytes, WriteMode::OneWrite, &[400], "P20c");
    // (d) a valid request with Connection: close, then garbage: answered, then closed.
    let mut c = gw.client();
    let mut bytes = support::http::request("GET", "/echo?d", &[("Connection", "close")], None);
    bytes.extend_from_slice(b"Invalid\r\n\r\n");
    c.send(&bytes);
    let r = c.read_response().unwrap_or_else(|e| panic!("P20d: {e}"));
    assert_eq!(
        r.status, 200,
        "P20d: the first request gets its full response"
    );
    assert_eq!(r.echoed().target, "/echo?d");
    let (rest, how) = c.read_until_closed(Duration::from_secs(2));
    assert!(how.is_closed(), "P20d: closed after the response");
    assert!(
        rest.is_empty(),
        "P20d: nothing after the response: {}",
        show(&rest)
    );
    gw_ok(gw);
}

#[test]
fn p21_get_with_body_never_desyncs() {
    let (up, gw) = setup();
    let mut bytes = b(&format!(
        "GET /echo HTTP/1.1\r\n{H}Content-Length: 10\r\n\r\n1234567890"
    ));
    bytes.extend_from_slice(&get("/echo?canary=p21"));
    let mark = up.mark();
    let mut c = gw.client();
    c.send(&bytes);
    let r = c.read_response().unwrap_or_else(|e| panic!("P21: {e}"));
    if r.status == 200 {
        let req = r.echoed();
        assert_forwarded_form(&req, "P21");
        assert_eq!(req.body, b"1234567890", "P21: body forwarded with its CL");
        assert_eq!(req.header("content-length").as_deref(), Some("10"));
        let r2 = c
            .read_response()
            .unwrap_or_else(|e| panic!("P21 canary: {e}"));
        assert_eq!(r2.echoed().target, "/echo?canary=p21");
        canary(&mut c, "P21");
    } else {
        check_reject(r, &mut c, &up, mark, &[400], "P21");
    }
    for req in up.requests() {
        assert!(
            !req.target.starts_with("1234567890"),
            "P21: body bytes parsed as a request"
        );
    }
    gw_ok(gw);
}

#[test]
fn p22_http10_framing() {
    let (up, gw) = setup();
    // (a) HTTP/1.0 request without CL has an empty body; never close-delimited.
    let mut c = gw.client();
    c.send(b"POST /echo HTTP/1.0\r\nHost: gw.test\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: gw.test\r\n\r\n");
    let r = c.read_response().unwrap_or_else(|e| panic!("P22a: {e}"));
    assert_eq!(r.status, 200);
    let req = r.echoed();
    assert_eq!(req.method, "POST");
    assert!(req.body.is_empty(), "P22a: empty body upstream");
    assert!(
        c.is_closed_within(Duration::from_secs(1)),
        "P22a: HTTP/1.0 client closed after the response"
    );
    std::thread::sleep(Duration::from_millis(100));
    let reqs = up.requests();
    assert_eq!(
        reqs.len(),
        1,
        "P22a: exactly one request upstream:\n{}",
        up.describe()
    );
    assert!(reqs.iter().all(|r| !r.target.contains("smuggled")));
    // (b) HTTP/1.0 with Transfer-Encoding: faulty framing.
    for m in BOTH {
        reject_case(
            &gw,
            &up,
            b"POST /echo HTTP/1.0\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            m,
            &[400],
            "P22b",
        );
    }
    gw_ok(gw);
}

#[test]
fn p24_expect_100_continue() {
    let (up, gw) = setup();
    // (a) 100 Continue, then the body, then exactly one final 200.
    let mut c = gw.client();
    c.send(
        b(&format!(
            "POST /echo HTTP/1.1\r\n{H}Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        ))
        .as_slice(),
    );
    let r = c
        .read_response_within(Duration::from_secs(2), false)
        .unwrap_or_else(|e| panic!("P24a: no 100 Continue: {e}"));
    assert_eq!(r.status, 100, "P24a: interim response first");
    assert_eq!(r.version, "HTTP/1.1");
    c.send(b"hello");
    let (interim, fin) = c.read_final().unwrap_or_else(|e| panic!("P24a final: {e}"));
    assert!(interim.is_empty(), "P24a: one 100 only");
    assert_eq!(fin.status, 200);
    assert_eq!(fin.echoed().body, b"hello");
    canary(&mut c, "P24a");
    // (b) HTTP/1.0: no 100.
    let mut c = gw.client();
    c.send(
        b(&format!(
            "POST /echo HTTP/1.0\r\n{H}Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        ))
        .as_slice(),
    );
    assert!(
        c.silent_for(Duration::from_millis(500)),
        "P24b: no 100 Continue to an HTTP/1.0 client: {}",
        show(&c.buf)
    );
    c.send(b"hello");
    let r = c.read_response().unwrap_or_else(|e| panic!("P24b: {e}"));
    assert_eq!(r.status, 200);
    // (c) unknown expectation.
    for m in BOTH {
        reject_case(
            &gw,
            &up,
            b(&format!("GET /echo HTTP/1.1\r\n{H}Expect: foo\r\n\r\n")).as_slice(),
            m,
            &[417],
            "P24c",
        );
    }
    // (d) the upstream sends two 100s then a 200: 1xx(s), then exactly one final response.
    up.set_mode(Mode::raw(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", After::KeepAlive));
    let mut c = gw.client();
    c.send(&get("/echo?p24d"));
    let (interim, fin) = c.read_final().unwrap_or_else(|e| panic!("P24d: {e}"));
    assert!(interim.iter().all(|r| r.status == 100));
    assert_eq!((fin.status, fin.body.as_slice()), (200, &b"ok"[..]));
    up.set_mode(Mode::Echo);
    canary(&mut c, "P24d");
    gw_ok(gw);
}

#[test]
fn p25_early_rejection_never_runs_the_body_as_a_request() {
    let (up, gw) = setup();
    let smuggled = b"GET /echo?xy HTTP/1.1\r\nHost: gw.test\r\n\r\n";
    // 403 (no route at `/`) and 413 (CL over the 1 MiB limit) before the body was sent.
    let cases = [
        (
            "P25 403",
            format!(
                "POST / HTTP/1.1\r\n{H}Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
                smuggled.len()
            ),
            403u16,
        ),
        (
            "P25 413",
            format!(
                "POST /echo HTTP/1.1\r\n{H}Expect: 100-continue\r\nContent-Length: 20000000\r\n\r\n"
            ),
            413u16,
        ),
    ];
    for (name, head, status) in cases {
        let mut c = gw.client();
        c.send(head.as_bytes());
        let r = c
            .read_response_within(Duration::from_secs(2), false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.status, status, "{name}: final status without a 100 first");
        let _ = c.try_send(smuggled);
        let _ = c.try_send(&get("/echo?canary=p25"));
        if r.closes() {
            assert!(
                c.is_closed_within(Duration::from_secs(1)),
                "{name}: Connection: close but still open"
            );
        } else {
            // Read-and-discard the declared body, then the canary is answered.
            let r2 = c
                .read_response()
                .unwrap_or_else(|e| panic!("{name} canary: {e}"));
            assert_eq!(r2.echoed().target, "/echo?canary=p25");
        }
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            up.requests().iter().all(|r| r.target != "/echo?xy"),
            "{name}: the body ran as a request:\n{}",
            up.describe()
        );
    }
    gw_ok(gw);
}

#[test]
fn p27_connection_header_cannot_strip_gateway_headers() {
    let (up, gw) = setup();
    let bytes = b(&format!(
        "GET /echo HTTP/1.1\r\n{H}Connection: close, X-Forwarded-For, X-Auth-User, Authorization, Host, Content-Length\r\n\
         X-Forwarded-For: 6.6.6.6\r\nX-Auth-User: admin\r\nAuthorization: Bearer x\r\nKeep-Alive: timeout=5\r\n\
         Proxy-Connection: keep-alive\r\nTE: gzip\r\nTrailer: X-T\r\nUpgrade: h2c\r\nX-Keep: yes\r\n\r\n"
    ));
    let check = |r: &Request| {
        assert_eq!(
            r.headers.get_all("x-forwarded-for"),
            ["127.0.0.1"],
            "P27: gateway's own XFF only"
        );
        assert!(
            !r.headers.has("x-auth-user"),
            "P27: X-Auth-User named in Connection must be dropped"
        );
        assert!(
            !r.headers.has("authorization"),
            "P27: Authorization named in Connection must be dropped"
        );
        assert!(!r.headers.has("te"), "P27: TE: gzip is hop-by-hop");
        assert_eq!(r.header("x-keep").as_deref(), Some("yes"));
        assert_eq!(r.headers.count("host"), 1, "P27: Host never dropped");
    };
    for m in BOTH {
        reject_or_forward(&gw, &up, &bytes, m, &[400], &check, "P27");
    }
    gw_ok(gw);
}
