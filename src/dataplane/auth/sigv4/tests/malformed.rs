//! Malformed signatures of every shape, error bodies, and a mutation loop.

use super::*;

#[test]
fn missing_authentication_token() {
    let (err, body) = TestReq::get("/dev/pets").error_body();
    assert_eq!(err, SigV4Error::MissingAuthenticationToken);
    assert_eq!(err.error_type(), "MissingAuthenticationTokenException");
    assert_eq!(
        body,
        serde_json::json!({"message": "Missing Authentication Token"})
    );
}

#[test]
fn malformed_authorization_headers() {
    let sig = "a".repeat(64);
    let cred = format!("Credential={AKID}/{SCOPE}");
    let incomplete = |m: Missing| Err(SigV4Error::IncompleteSignature { missing: m });
    let all3 = Missing::CREDENTIAL
        .with(Missing::SIGNATURE)
        .with(Missing::SIGNED_HEADERS);
    let cases: Vec<(String, Result<String, SigV4Error>)> = vec![
        (String::new(), incomplete(all3)),
        ("AWS4-HMAC-SHA256".into(), incomplete(all3)),
        (
            format!("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature={sig}"),
            incomplete(Missing::CREDENTIAL),
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host;x-amz-date, Signature="),
            incomplete(Missing::SIGNATURE),
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=, Signature={sig}"),
            incomplete(Missing::SIGNED_HEADERS),
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host;x-amz-date, Signature=xyz"),
            Err(SigV4Error::SignatureMismatch),
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 {cred}, SignedHeaders=host;x-amz-date, Signature={}",
                "g".repeat(64)
            ),
            Err(SigV4Error::SignatureMismatch),
        ),
        (
            format!("AWS4-HMAC-SHA512 {cred}, SignedHeaders=host;x-amz-date, Signature={sig}"),
            Err(SigV4Error::UnsupportedAlgorithm),
        ),
        (
            format!(
                "AWS4-ECDSA-P256-SHA256 {cred}, SignedHeaders=host;x-amz-date, Signature={sig}"
            ),
            Err(SigV4Error::UnsupportedAlgorithm),
        ),
        ("Bearer abc".into(), Err(SigV4Error::NotKeyValuePair)),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential={AKID}/20150830/us-east-1/execute-api, SignedHeaders=host, Signature={sig}"
            ),
            Err(SigV4Error::MalformedCredential),
        ),
        (
            format!("AWS4-HMAC-SHA256 Credential=/{SCOPE}, SignedHeaders=host, Signature={sig}"),
            Err(SigV4Error::MalformedCredential),
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, {cred}, SignedHeaders=host, Signature={sig}"),
            Err(SigV4Error::Ambiguous),
        ),
    ];
    for (value, want) in cases {
        assert_eq!(with_auth(&value).verify(), want, "{value:?}");
    }
    let (_, body) = with_auth("Bearer abc").error_body();
    assert_eq!(
        body["message"],
        "'abc' not a valid key=value pair (missing equal-sign) in Authorization header: 'Bearer abc'."
    );
    let mut no_date = with_auth("eyJ0.eyJ1.sig");
    no_date.headers.retain(|(n, _)| n != "X-Amz-Date");
    assert_eq!(
        no_date.error_body().1["message"],
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=eyJ0.eyJ1.sig"
    );
    let mut bad_date = TestReq::get("/p").sign();
    bad_date.headers[1].1 = "2015-08-30T12:36:00Z".into();
    assert_eq!(bad_date.verify(), Err(SigV4Error::MalformedDate));
}

#[test]
fn separators_are_tolerated() {
    let good = TestReq::get("/p").sign();
    let value = good.headers[2].1.clone();
    for variant in [
        value.replace(", ", ","),
        value.replace(", ", " , "),
        value.replace(' ', "  "),
        format!("  {value}  "),
    ] {
        let mut req = good.clone();
        req.headers[2].1 = variant.clone();
        assert!(req.verify().is_ok(), "{variant}");
    }
}

#[test]
fn signature_mismatch_body_quotes_the_canonical_request() {
    let mut req = TestReq::get("/dev/pets").sign();
    req.path = "/dev/cats".into();
    let (err, body) = req.error_body();
    assert_eq!(
        (err, err.status(), err.error_type()),
        (
            SigV4Error::SignatureMismatch,
            403,
            "InvalidSignatureException"
        )
    );
    let msg = body["message"].as_str().unwrap();
    assert!(msg.starts_with("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'GET\n/dev/cats\n"), "{msg}");
    assert!(msg.contains(
        "\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20150830T123600Z\n"
    ));
}

/// Every byte of a valid `Authorization` value replaced or deleted: no panic, and no
/// acceptance unless the change is an equivalent separator.
#[test]
fn mutation_loop_never_panics_or_accepts() {
    let good = TestReq::get("/dev/pets").sign();
    let value = good.headers[2].1.clone().into_bytes();
    let sep = |b: u8| matches!(b, b' ' | b',' | b'\t');
    let mut tried = 0;
    for i in 0..value.len() {
        for repl in [
            None,
            Some(b'0'),
            Some(b'1'),
            Some(b'z'),
            Some(b'='),
            Some(b'/'),
            Some(b';'),
            Some(b','),
            Some(b' '),
            Some(0xff),
            Some(0),
        ] {
            let mut m = value.clone();
            let equivalent = match repl {
                None => {
                    m.remove(i);
                    sep(value[i])
                        && (value.get(i + 1).is_some_and(|&b| sep(b)) || i > 0 && sep(value[i - 1]))
                }
                Some(r) if r == value[i] => continue,
                Some(r) => {
                    m[i] = r;
                    sep(value[i]) && sep(r)
                }
            };
            let mut req = good.clone();
            req.headers[2].1 = String::from_utf8_lossy(&m).into_owned();
            let result = req.verify();
            if !equivalent {
                assert!(result.is_err(), "accepted {:?}", req.headers[2].1);
            }
            tried += 1;
        }
    }
    for cut in 0..value.len() {
        let req = with_auth(&String::from_utf8_lossy(&value[..cut]));
        assert!(
            req.verify().is_err(),
            "accepted a truncated header at {cut}"
        );
    }
    assert!(tried > 1000);
}
