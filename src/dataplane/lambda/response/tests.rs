//! Results read as API Gateway reads them (SPEC-NOTES §1.3, the AWS-recorded table), and
//! what the Rust runtime's response types serialize to; the reader checked against the old
//! `Value` reader (`reference.rs`) on those, the fixtures' results and generated ones
//! (`differential.rs`).

mod differential;

use serde_json::{Value, json};

use super::reference::ProxyResponse as Owned;
use crate::config::PayloadVersion;

/// What a response holds, in the old reader's shape.
fn owned(r: &super::ProxyResponse) -> Owned {
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).expect("UTF-8");
    Owned {
        status: r.status,
        headers: r.headers().map(|(n, v)| (text(n), text(v))).collect(),
        cookies: r.cookies().map(text).collect(),
        body: r.body().to_vec(),
        base64: r.base64,
        no_content_type: r.no_content_type,
    }
}

fn read_bytes(format: PayloadVersion, result: &[u8]) -> Result<Owned, &'static str> {
    super::read(format, result).map(|r| owned(&r))
}

fn read(format: PayloadVersion, result: Value) -> Result<Owned, &'static str> {
    read_bytes(format, result.to_string().as_bytes())
}

#[test]
fn proxy_results_are_validated_as_api_gateway_does() {
    use PayloadVersion::{V1, V2};
    // The AWS-recorded table (SPEC-NOTES §1.3).
    let ok = |v: Value| read(V1, v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"));
    assert_eq!(ok(json!({"statusCode": 200})).status, 200);
    let r =
        ok(json!({"statusCode": 200, "headers": {"test-header": "value", "header-bool": true}}));
    assert_eq!(
        r.headers,
        vec![
            ("test-header".into(), "value".into()),
            ("header-bool".into(), "true".into())
        ]
    );
    assert_eq!(ok(json!({"statusCode": 200, "headers": null})).status, 200);
    assert_eq!(ok(json!({"statusCode": "201"})).status, 201);
    assert_eq!(ok(json!({"headers": {"test-header": "value"}})).status, 200);
    let r = ok(json!({"statusCode": 200,
        "multiValueHeaders": {"tesT-Multi": ["value-multi"]}, "headers": {"test-multi": "value-solo"}}));
    assert_eq!(
        r.headers,
        vec![
            ("tesT-Multi".into(), "value-multi".into()),
            ("tesT-Multi".into(), "value-solo".into())
        ]
    );
    let mut r = super::read(
        V1,
        br#"{"statusCode": 200, "body": "dGVzdC1kYXRh", "isBase64Encoded": true}"#,
    )
    .unwrap();
    r.decode_body(false).unwrap();
    assert_eq!(
        r.body(),
        b"dGVzdC1kYXRh",
        "not decoded without a binary Accept"
    );
    r.decode_body(true).unwrap();
    assert_eq!(r.body(), b"test-data");
    let mut r = super::read(V1, br#"{"body": "!!", "isBase64Encoded": true}"#).unwrap();
    assert!(r.decode_body(true).is_err());
    for bad in [
        json!({"statusCode": 200, "wrongValue": "value"}),
        json!({}),
        json!("justAString"),
        json!({"statusCode": "test"}),
        json!({"statusCode": 200, "multiValueHeaders": {"x": "notAList"}}),
        json!({"statusCode": 99}),
        json!({"statusCode": 200, "body": {"an": "object"}}),
        json!({"statusCode": 200, "headers": {"bad name": "v"}}),
        json!({"statusCode": 200, "headers": {"x": "a\r\nInjected: yes"}}),
        json!({"statusCode": 200, "isBase64Encoded": "yes"}),
    ] {
        assert!(read(V1, bad.clone()).is_err(), "{bad}");
    }
    assert!(read_bytes(V1, b"not json").is_err());
    assert!(ok(json!({"statusCode": 200, "headers": {"Content-Type": null}})).no_content_type);
    assert!(!ok(json!({"statusCode": 200})).no_content_type);
    // Framing headers are the gateway's own.
    let r = ok(json!({"statusCode": 200, "headers": {"Content-Length": "99", "x": "1"}}));
    assert_eq!(r.headers, vec![("x".into(), "1".into())]);

    // 2.0: a structured result with cookies; anything without statusCode is inferred.
    let r = read(
        V2,
        json!({"statusCode": 201, "cookies": ["a=1", "b=2"], "body": "made", "extra": 1}),
    )
    .unwrap();
    assert_eq!(
        (r.status, r.cookies.len(), &r.body[..]),
        (201, 2, &b"made"[..])
    );
    for (result, body) in [
        (json!("Hello"), "Hello"),
        (json!(42), "42"),
        (json!({"message": "hi"}), r#"{"message":"hi"}"#),
    ] {
        let r = read(V2, result).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, body.as_bytes());
        assert_eq!(
            r.headers,
            vec![("content-type".into(), "application/json".into())]
        );
    }
    assert!(read(V2, json!({"statusCode": "abc"})).is_err());
    assert!(read(V2, json!({"statusCode": 200, "cookies": "a=1"})).is_err());

    // What the Rust runtime's response types serialize to is accepted.
    let mut typed = aws_lambda_events::apigw::ApiGatewayProxyResponse::default();
    typed.status_code = 202;
    typed.body = Some(aws_lambda_events::encodings::Body::Text("t".into()));
    let r = read_bytes(V1, &serde_json::to_vec(&typed).unwrap()).unwrap();
    assert_eq!((r.status, &r.body[..]), (202, &b"t"[..]));
    let mut typed = aws_lambda_events::apigw::ApiGatewayV2httpResponse::default();
    typed.status_code = 203;
    typed.cookies = vec!["k=v".into()];
    let r = read_bytes(V2, &serde_json::to_vec(&typed).unwrap()).unwrap();
    assert_eq!((r.status, r.cookies.len()), (203, 1));
}
