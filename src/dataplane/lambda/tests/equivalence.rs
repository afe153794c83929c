//! The event writers against the old `Value` builders (`reference.rs`) on many requests:
//! hand-picked edge cases, then generated ones (a fixed-seed generator, so a failure
//! repeats) with repeated and mixed-case headers, cookies, repeated, encoded, empty and
//! malformed query pairs, binary and text bodies, invalid UTF-8, control characters, quotes
//! and backslashes, path parameters, stages with and without variables, JWT claims, a Lambda
//! authorizer's context, an IAM caller and a client certificate. [`both`] asserts each event
//! is byte for byte what serializing the old builder's value gave.

use serde_json::{Map, Value, json};

use super::rng::Rng;
use super::{Extras, both, cert, grant, snapshot, with_request};
use crate::config::PayloadVersion;
use crate::dataplane::lambda::Caller;
use crate::dataplane::lambda_auth::{Grant, Verdict};

/// Header value pieces: quotes, backslashes, tabs, commas and semicolons, UTF-8 (NBSP,
/// U+2028, é), lone and truncated non-UTF-8 bytes, and a replacement character as sent.
const VALUE_PIECES: &[&[u8]] = &[
    b"a",
    b"Z",
    b" ",
    b"\t",
    b",",
    b";",
    b"=",
    b"\"",
    b"\\",
    b"/",
    b"{}",
    b"\xc2\xa0",
    b"\xe2\x80\xa8",
    b"\xc3\xa9",
    b"\xff",
    b"\xfe",
    b"\xe2\x82",
    b"\xef\xbf\xbd",
    b"c1=v1",
    b"; c2=v2",
];

/// Query pieces: `+`, escapes of control characters, quotes, backslashes, invalid and
/// valid UTF-8, `=` and `&` (the request-target takes nothing else: http1/head/target.rs).
const QUERY_PIECES: &[&[u8]] = &[
    b"a", b"B", b"+", b"%20", b"%2B", b"%00", b"%01", b"%1f", b"%7F", b"%22", b"%5C", b"%5c",
    b"%FF", b"%fe", b"%C3%A9", b"%E2%82", b"=", b"&", b"&&", b"/", b"?", b"~",
];

/// Body pieces: every kind of byte a JSON string must escape or replace.
const BODY_PIECES: &[&[u8]] = &[
    b"x",
    b"{\"a\":1}",
    b"\x00",
    b"\x01",
    b"\x08",
    b"\t",
    b"\n",
    b"\x0b",
    b"\x0c",
    b"\r",
    b"\x1f",
    b"\x7f",
    b"\"",
    b"\\",
    b"\xff",
    b"\xc3\xa9",
    b"\xed\xa0\x80",
    b"\xf0\x9f\x98\x80",
    b"\xf0\x9f\x98",
    b" ",
];

const CONTENT_TYPES: &[&str] = &[
    "text/plain",
    "Text/Plain; charset=utf-8",
    "application/json",
    "application/vnd.api+json",
    "APPLICATION/XML",
    "image/png",
    "application/octet-stream",
    "text/",
    "weird",
];

/// One generated request: `(api id, raw bytes)`.
fn request(rng: &mut Rng) -> (&'static str, Vec<u8>) {
    let api = rng.pick(&["r", "h"]);
    let stage = match api {
        "r" => rng.pick(&["/prod", "/bare"]),
        _ => rng.pick(&["/dev", ""]),
    };
    let n = 1 + rng.below(4);
    let id = rng.bytes(&[b"7", b"x", b"%2F", b"+", b"@", b"%FF", b"~"], n);
    let (method, path): (&str, Vec<u8>) = match rng.below(4) {
        0 => (rng.pick(&["GET", "POST"]), [&b"/items/"[..], &id].concat()),
        1 => ("GET", b"/plain".to_vec()),
        2 => ("POST", [&b"/v1/items/"[..], &id].concat()),
        _ => (
            rng.pick(&["PUT", "DELETE", "PATCH", "GET"]),
            [&b"/"[..], &id, b"//", &id, b"/", &id].concat(),
        ),
    };
    let mut raw = format!("{method} {stage}").into_bytes();
    raw.extend_from_slice(&path);
    if rng.chance(70) {
        raw.push(b'?');
        let n = rng.below(8);
        raw.extend(rng.bytes(QUERY_PIECES, n));
    }
    raw.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n");
    let names: &[&str] = &[
        "X-Multi",
        "x-multi",
        "X-MULTI",
        "User-Agent",
        "Cookie",
        "cookie",
        "Accept",
        "X-Amzn-Trace-Id",
        "Content-MD5",
        "Connection",
        "X-Other",
        "Authorization",
        "Te",
        "Upgrade",
    ];
    for _ in 0..rng.below(9) {
        raw.extend_from_slice(rng.pick(names).as_bytes());
        raw.extend_from_slice(b": ");
        let n = rng.below(6);
        raw.extend(rng.bytes(VALUE_PIECES, n));
        raw.extend_from_slice(b"\r\n");
    }
    let body = if rng.chance(60) {
        let n = rng.below(12);
        rng.bytes(BODY_PIECES, n)
    } else {
        Vec::new()
    };
    if rng.chance(80) {
        raw.extend_from_slice(b"Content-Type: ");
        raw.extend_from_slice(rng.pick(CONTENT_TYPES).as_bytes());
        raw.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() && rng.chance(20) {
        raw.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        raw.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        raw.extend_from_slice(&body);
        raw.extend_from_slice(b"\r\n0\r\n\r\n");
    } else {
        raw.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        raw.extend_from_slice(&body);
    }
    (api, raw)
}

/// Claims of every JSON type, with quotes and control characters, `scope` or `scp`.
fn claims(rng: &mut Rng) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("sub".into(), "u-1 \"q\" \\ \u{1}".into());
    c.insert("exp".into(), 1_900_000_000u64.into());
    c.insert("nested".into(), json!({"a": [1, null, true], "b": "é"}));
    c.insert("ratio".into(), json!(0.5));
    match rng.below(4) {
        0 => c.insert("scope".into(), " read  write ".into()),
        1 => c.insert("scp".into(), json!(["a", "b"])),
        2 => c.insert("scp".into(), json!(7)),
        _ => None,
    };
    c
}

/// A Lambda authorizer's grant whose context repeats the keys the event adds.
fn grant_with_collisions() -> Grant {
    Grant {
        principal_id: "p \"1\"".into(),
        context: vec![
            ("principalId".into(), "from-context".into()),
            ("integrationLatency".into(), "9".into()),
            ("quote\"d".into(), "line\nbreak".into()),
        ]
        .into(),
        usage_key: None,
        verdict: Verdict::Simple(true),
        cost: 0,
    }
}

const FIXED: &[(&str, &[u8])] = &[
    // `%FF` and `%FE` both decode to U+FFFD: one key, as the old map made it.
    ("r", b"GET /prod/plain?%FF=1&%FE=2&a=3&%ff=4&&=5&k&k= HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("h", b"GET /dev/plain?%FF=1&%FE=2&a=3&a=%C3%A9&&=5&k HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("r", b"GET /prod/plain? HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("h", b"GET /plain?&& HTTP/1.1\r\nHost: x\r\n\r\n"),
    (
        "h",
        b"GET /plain HTTP/1.1\r\nHost: x\r\nCookie: a=1;\xc2\xa0b=2 ; ;\r\nCOOKIE: \xff=\xfe\r\nX-A: 1\r\nx-a: 2\r\nX-Amzn-Trace-Id: Root=1-5e5ffe45-0123456789abcdef01234567\r\n\r\n",
    ),
    (
        "r",
        b"POST /prod/items/%22q%5C HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\nX-A: 3\r\nContent-Length: 4\r\n\r\n\x00\"\\\xff",
    ),
];

#[test]
fn written_events_are_the_old_builders_events_byte_for_byte() {
    let snap = snapshot();
    let (c, g, collide) = (cert(), grant(), grant_with_collisions());
    let caller = Caller {
        user_arn: "arn:aws:iam::123456789012:user/a\"b",
        access_key: "AKIDEXAMPLE",
        account: "123456789012",
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut built = [0usize; 2];
    let generated: Vec<(&str, Vec<u8>)> = (0..3000).map(|_| request(&mut rng)).collect();
    let fixed = FIXED.iter().map(|&(api, raw)| (api, raw.to_vec()));
    for (n, (api, raw)) in fixed.chain(generated).enumerate() {
        let claims = claims(&mut rng);
        let mut x = Extras::default();
        if rng.chance(30) {
            x.cert = Some(&c);
        }
        match rng.below(5) {
            0 => x.grant = Some(if rng.chance(50) { &g } else { &collide }),
            1 => x.claims = Some(&claims),
            2 => x.caller = Some(caller),
            _ => {}
        }
        let ok = with_request(&snap, api, &raw, x, |req, payload| {
            both(req, payload);
            payload
        });
        match ok {
            Some(PayloadVersion::V1) => built[0] += 1,
            Some(PayloadVersion::V2) => built[1] += 1,
            None if n < FIXED.len() => panic!("fixed case {n} is not a request"),
            None => {}
        }
    }
    // The generator makes only well-formed requests to Lambda routes, of both payloads.
    assert!(built[0] > 1000 && built[1] > 1000, "{built:?}");
    assert_eq!(built[0] + built[1], FIXED.len() + 3000);
}
