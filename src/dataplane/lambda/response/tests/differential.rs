//! The reader against the old `Value` reader (`reference.rs`): on the hand-made cases, the
//! fixtures' results, and generated results (and their mutations, cut, with bytes inserted
//! or removed), both give the same status, headers, cookies, body and flags, and the same
//! base64 decoding — or both fail with the same reason. One response is reused throughout,
//! as the core reuses its own.

use std::path::{Path, PathBuf};

use super::super::reference;
use super::super::{ProxyResponse, read};
use super::owned;
use crate::config::PayloadVersion::{self, V1, V2};
use crate::dataplane::lambda::tests::rng::Rng;

fn same(r: &mut ProxyResponse, format: PayloadVersion, doc: &[u8]) {
    let old = reference::read(format, doc);
    let new = r.read(format, doc);
    let shown = String::from_utf8_lossy(doc);
    match (old, new) {
        (Ok(mut old), Ok(())) => {
            assert_eq!(owned(r), old, "{format:?} {shown}");
            let decoded = (old.decode_body(true).is_ok(), r.decode_body(true).is_ok());
            assert_eq!(decoded.0, decoded.1, "decoding {shown}");
            assert_eq!(r.body(), &old.body[..], "decoded {shown}");
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "{format:?} {shown}"),
        (old, new) => panic!("{format:?} {shown}: old {old:?}, new {new:?}"),
    }
}

fn both(r: &mut ProxyResponse, doc: &[u8]) {
    same(r, V1, doc);
    same(r, V2, doc);
}

const CASES: &[&str] = &[
    r#"{"statusCode": 200}"#,
    r#"  {"statusCode": 200}  "#,
    r#"{"statusCode": 200} x"#,
    r#"{"statusCode": 200, "headers": {"test-header": "value", "header-bool": true}}"#,
    r#"{"statusCode": 200, "headers": null}"#,
    r#"{"statusCode": "201"}"#,
    r#"{"statusCode": " 201\n"}"#,
    r#"{"statusCode": "+201"}"#,
    r#"{"statusCode": "2\u00301"}"#,
    r#"{"statusCode": 201.0}"#,
    r#"{"statusCode": -200}"#,
    r#"{"statusCode": 2e2}"#,
    r#"{"statusCode": 18446744073709551616}"#,
    r#"{"statusCode": 99}"#,
    r#"{"statusCode": 600}"#,
    r#"{"statusCode": null, "body": "x"}"#,
    r#"{"statusCode": true}"#,
    r#"{"headers": {"test-header": "value"}}"#,
    r#"{"statusCode": 200, "multiValueHeaders": {"tesT-Multi": ["value-multi"]}, "headers": {"test-multi": "value-solo"}}"#,
    r#"{"statusCode": 200, "multiValueHeaders": {"a": [], "b": ["1", 2, false], "A": ["3"]}, "headers": {"B": "4", "c": null}}"#,
    r#"{"statusCode": 200, "multiValueHeaders": {"bad name": []}}"#,
    r#"{"statusCode": 200, "multiValueHeaders": {"x": [null]}}"#,
    r#"{"statusCode": 200, "multiValueHeaders": {"x": [["a"]]}}"#,
    r#"{"statusCode": 200, "multiValueHeaders": {"x": null, "y": "no"}}"#,
    r#"{"statusCode": 200, "multiValueHeaders": ["x"]}"#,
    r#"{"statusCode": 200, "body": "dGVzdC1kYXRh", "isBase64Encoded": true}"#,
    r#"{"body": "!!", "isBase64Encoded": true}"#,
    r#"{"body": " dGVzdA== ", "isBase64Encoded": true}"#,
    r#"{"statusCode": 200, "wrongValue": "value"}"#,
    r#"{}"#,
    r#""justAString""#,
    r#"{"statusCode": "test"}"#,
    r#"{"statusCode": 200, "multiValueHeaders": {"x": "notAList"}}"#,
    r#"{"statusCode": 200, "body": {"an": "object"}}"#,
    r#"{"statusCode": 200, "headers": {"bad name": "v"}}"#,
    r#"{"statusCode": 200, "headers": {"": "v"}}"#,
    r#"{"statusCode": 200, "headers": {"x": "a\r\nInjected: yes"}}"#,
    r#"{"statusCode": 200, "headers": {"x": "tab\tok", "y": "del\u007f"}}"#,
    r#"{"statusCode": 200, "headers": {"x": ["a"]}}"#,
    r#"{"statusCode": 200, "headers": {"x": {}}}"#,
    r#"{"statusCode": 200, "headers": "x"}"#,
    r#"{"statusCode": 200, "isBase64Encoded": "yes"}"#,
    r#"{"statusCode": 200, "isBase64Encoded": null}"#,
    r#"{"statusCode": 200, "headers": {"Content-Type": null}}"#,
    r#"{"statusCode": 200, "headers": {"Content-Type": null, "content-type": "text/html"}}"#,
    r#"{"statusCode": 200, "headers": {"Content-Type": null, "Content-Type": "x"}}"#,
    r#"{"statusCode": 200, "headers": {"Content-Type": "x", "Content-Type": null}}"#,
    r#"{"statusCode": 200, "headers": {"a": "1", "b": "2", "a": "3"}}"#,
    r#"{"statusCode": 200, "headers": {"a": "1"}, "headers": {"b": "2"}}"#,
    r#"{"statusCode": 200, "body": "a", "body": null}"#,
    r#"{"statusCode": 200, "statusCode": 404}"#,
    r#"{"statusC\u006fde": 201, "h\u0065aders": {"\u0041": "\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t"}}"#,
    r#"{"statusCode": 200, "headers": {"Content-Length": "99", "x": "1", "Transfer-Encoding": "chunked", "DATE": "d"}}"#,
    r#"{"statusCode": 200, "headers": {"x-num": 1.5, "x-big": 1e300, "x-neg": -0, "x-int": 12345678901234567890, "x-f": false}}"#,
    r#"{"statusCode": 201, "cookies": ["a=1", "b=2"], "body": "made", "extra": 1}"#,
    r#"{"statusCode": 201, "cookies": ["a=1\n"]}"#,
    r#"{"statusCode": 201, "cookies": [1]}"#,
    r#"{"statusCode": 201, "cookies": "a=1"}"#,
    r#"{"statusCode": 201, "cookies": null, "multiValueHeaders": {"x": ["y"]}}"#,
    r#""Hello""#,
    r#""caf\u00e9\n""#,
    "42",
    " -0 ",
    "1.50",
    "1E+2",
    "null",
    "true",
    "false",
    "[]",
    r#"[1, "a", {"b": null}]"#,
    r#"{"message": "hi"}"#,
    r#"{"message": "hi", "n": 1.0, "message": "bye", "o": {"k": 1, "k": 2}}"#,
    "",
    " ",
    "not json",
    "{",
    r#"{"statusCode": 200,}"#,
    r#"{"statusCode": 200 "body": "x"}"#,
    r#"{"statusCode" 200}"#,
    r#"{statusCode: 200}"#,
    r#"{"statusCode": 01}"#,
    r#"{"statusCode": 1.}"#,
    r#"{"statusCode": -}"#,
    r#"{"statusCode": 1e400}"#,
    r#"{"statusCode": 200, "x": 1e400}"#,
    r#"{"statusCode": 200, "x": 1e-400}"#,
    r#"{"statusCode": 200, "x": "\ud83d"}"#,
    r#"{"statusCode": 200, "x": "\ude00"}"#,
    r#"{"statusCode": 200, "x": "\ud83d\u0041"}"#,
    r#"{"statusCode": 200, "x": "\x"}"#,
    r#"{"statusCode": 200, "x": "\u00g0"}"#,
    r#"{"statusCode": 200, "x": tru}"#,
    r#"{"statusCode": 200, "x": [1,]}"#,
    r#"{"statusCode": 200, "x": NaN}"#,
    "{\"statusCode\": 200, \"body\": \"a\u{1}b\"}",
    "{\"statusCode\": 200, \"body\": \"\u{7f}\"}",
    "\u{feff}{\"statusCode\": 200}",
    "{\"statusCode\": 200}\u{c}",
];

#[test]
fn the_reader_reads_as_the_value_reader_did() {
    let mut r = ProxyResponse::default();
    for doc in CASES {
        both(&mut r, doc.as_bytes());
    }
    // Not UTF-8 inside and outside strings.
    for doc in [
        &b"{\"statusCode\": 200, \"body\": \"\xff\"}"[..],
        b"{\"statusCode\": 200, \"body\": \"\xc3\"}",
        b"{\"statusCode\": 200, \"body\": \"\xc3\xa9\"}",
        b"{\"statusCode\": 200, \"body\": \"\xed\xa0\x80\"}",
        b"\xff",
    ] {
        both(&mut r, doc);
    }
    // Nesting: 127 levels are JSON to serde_json, 128 are not.
    for depth in [126, 127, 128, 129, 500] {
        let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        both(
            &mut r,
            format!(r#"{{"statusCode": 200, "x": {nested}}}"#).as_bytes(),
        );
        both(&mut r, nested.as_bytes());
        let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        both(&mut r, objects.as_bytes());
    }
}

#[allow(clippy::disallowed_methods)] // a test reading its fixtures, not a core
fn fixtures() -> PathBuf {
    match std::env::var_os("TOLLGATE_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
    }
}

#[test]
#[allow(clippy::disallowed_methods)] // a test reading its fixtures, not a core
fn the_fixtures_results_read_as_the_value_reader_did() {
    let mut r = ProxyResponse::default();
    for name in [
        "events/aws-lambda-go/apigw-response.json",
        "events/aws-lambda-rust-runtime/lambda-events/example-apigw-response.json",
    ] {
        let doc = match std::fs::read(fixtures().join(name)) {
            Ok(d) => d,
            Err(e) if std::env::var_os("CI").is_some() => panic!("fixture {name}: {e}"),
            Err(e) => {
                eprintln!("fixture comparison did not run: {name}: {e}");
                continue;
            }
        };
        both(&mut r, &doc);
        assert!(read(V1, &doc).is_ok(), "{name}");
    }
}

const NAMES: &[&str] = &[
    "\"x-a\"",
    "\"X-A\"",
    "\"x-b\"",
    "\"Content-Type\"",
    "\"content-type\"",
    "\"Set-Cookie\"",
    "\"content-length\"",
    "\"Connection\"",
    "\"x-\\u0041\"",
];
const BAD_NAMES: &[&str] = &["\"bad name\"", "\"\"", "\"caf\u{e9}\""];
const SCALARS: &[&str] = &[
    "\"v\"",
    "\"\"",
    "\"a b\"",
    "\"\\u00e9\\ud83d\\ude00\"",
    "\"tab\\t\"",
    "1",
    "-2",
    "1.25",
    "3e5",
    "true",
    "false",
    "null",
];
const BAD_SCALARS: &[&str] = &["\"line\\nbreak\"", "[]", "{}", "[\"v\"]"];
const STATUSES: &[&str] = &[
    "200",
    "201",
    "\"204\"",
    "\" 302 \"",
    "404",
    "599",
    "600",
    "99",
    "200.5",
    "null",
    "\"x\"",
    "true",
    "-1",
];
const BODIES: &[&str] = &[
    "\"hello\"",
    "\"{\\\"ok\\\": true}\"",
    "\"aGVsbG8=\"",
    "\"!!\"",
    "\"\"",
    "null",
    "1",
    "{}",
];
const TOP_KEYS: &[&str] = &[
    "statusCode",
    "headers",
    "multiValueHeaders",
    "body",
    "isBase64Encoded",
    "cookies",
    "extra",
];

fn headers(rng: &mut Rng, multi: bool) -> String {
    let n = rng.below(6);
    let members: Vec<String> = (0..n)
        .map(|_| {
            let name = rng.mostly(NAMES, BAD_NAMES, 20);
            let value = if multi && rng.below(6) > 0 {
                let k = rng.below(4);
                let items: Vec<&str> = (0..k)
                    .map(|_| rng.mostly(SCALARS, BAD_SCALARS, 30))
                    .collect();
                format!("[{}]", items.join(", "))
            } else {
                rng.mostly(SCALARS, BAD_SCALARS, 30).to_string()
            };
            format!("{name}: {value}")
        })
        .collect();
    format!("{{{}}}", members.join(", "))
}

fn result(rng: &mut Rng) -> String {
    let n = rng.below(7);
    let members: Vec<String> = (0..n)
        .map(|_| {
            let key = TOP_KEYS[rng.below(TOP_KEYS.len())];
            let value = match key {
                "statusCode" => rng.pick(STATUSES).to_string(),
                "headers" if rng.below(8) > 0 => headers(rng, false),
                "multiValueHeaders" if rng.below(8) > 0 => headers(rng, true),
                "body" => rng.pick(BODIES).to_string(),
                "isBase64Encoded" => rng.pick(&["true", "false", "null", "\"yes\""]).to_string(),
                "cookies" if rng.below(4) > 0 => {
                    let k = rng.below(3);
                    let items: Vec<&str> = (0..k)
                        .map(|_| rng.mostly(SCALARS, BAD_SCALARS, 3))
                        .collect();
                    format!("[{}]", items.join(", "))
                }
                _ => rng.mostly(SCALARS, BAD_SCALARS, 3).to_string(),
            };
            format!("\"{key}\": {value}")
        })
        .collect();
    format!("{{{}}}", members.join(", "))
}

/// Cut, a byte inserted, a byte removed.
fn mutate(rng: &mut Rng, doc: &[u8]) -> Vec<u8> {
    const BYTES: &[u8] = b"\"\\,:{}[]\x01\xff\xc3 u0123456789eE.-+nt";
    let mut d = doc.to_vec();
    if d.is_empty() {
        return d;
    }
    let at = rng.below(d.len());
    match rng.below(3) {
        0 => d.truncate(at),
        1 => d.insert(at, BYTES[rng.below(BYTES.len())]),
        _ => {
            d.remove(at);
        }
    }
    d
}

#[test]
fn generated_results_read_as_the_value_reader_did() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut r = ProxyResponse::default();
    for _ in 0..20_000 {
        let doc = result(&mut rng);
        both(&mut r, doc.as_bytes());
        let bad = mutate(&mut rng, doc.as_bytes());
        both(&mut r, &bad);
    }
}
