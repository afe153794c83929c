//! Scope, time, token and presigned checks (RELIABILITY A10 a–g).

use super::*;

#[test]
fn amz_dates() {
    assert_eq!(amz_date_to_unix(DATE.as_bytes()), Some(NOW));
    assert_eq!(amz_date_to_unix(b"19700101T000000Z"), Some(0));
    assert_eq!(amz_date_to_unix(b"20240229T235959Z"), Some(1_709_251_199));
    for bad in [
        "20230229T000000Z",
        "20151330T000000Z",
        "20150830T240000Z",
        "2015-08-30T12:36:00Z",
        "20150830T123600",
        "2015083OT123600Z",
        "",
    ] {
        assert_eq!(amz_date_to_unix(bad.as_bytes()), None, "{bad}");
    }
}

#[test]
fn a10a_valid_request_is_accepted_with_its_principal_and_signed_headers() {
    let req = TestReq::get("/dev/pets")
        .sign()
        .header("X-Forwarded-Host", "evil.example");
    assert_eq!(
        req.verify().as_deref(),
        Ok("arn:aws:iam::123456789012:user/alice")
    );
    req.run(|r| {
        let ok = Verifier::execute_api("us-east-1")
            .verify(r, &PERMANENT, NOW, &mut Scratch::new())
            .unwrap();
        assert_eq!(ok.access_key_id.as_ref(), AKID.as_bytes());
        assert_eq!(ok.form, Form::Header);
        assert!(ok.signed_headers.contains(b"Host") && ok.signed_headers.contains(b"x-amz-date"));
        // (d) the header added after signing is not covered: the wiring strips it.
        assert!(!ok.signed_headers.contains(b"x-forwarded-host"));
    });
}

#[test]
fn a10b_clock_skew_window() {
    let at = |offset: i64| {
        let t = NOW as i64 + offset;
        TestReq::get("/dev/pets").sign().verify_with(
            &Verifier::execute_api("us-east-1"),
            &PERMANENT,
            t as u64,
        )
    };
    assert!(at(4 * 60).is_ok() && at(-4 * 60).is_ok() && at(300).is_ok());
    let old = at(16 * 60).unwrap_err();
    assert!(
        matches!(old, SigV4Error::SignatureExpired { .. }),
        "{old:?}"
    );
    assert_eq!(old.status(), 403);
    assert!(matches!(
        at(-6 * 60),
        Err(SigV4Error::SignatureNotYetCurrent { .. })
    ));
    let (_, body) = TestReq::get("/dev/pets").sign().run(|r| {
        let err = Verifier::execute_api("us-east-1")
            .verify(r, &PERMANENT, NOW + 960, &mut Scratch::new())
            .unwrap_err();
        let mut out = Vec::new();
        err.write_body(r, &Scratch::new(), &mut out);
        (err, String::from_utf8(out).unwrap())
    });
    assert_eq!(
        body,
        r#"{"message":"Signature expired: 20150830T123600Z is now earlier than 20150830T124700Z (20150830T125200Z - 5 min.)"}"#
    );
    // Configurable: a 15-minute window admits 14 minutes, still refuses 16.
    let wide = Verifier {
        max_skew_secs: 900,
        ..Verifier::execute_api("us-east-1")
    };
    let req = TestReq::get("/dev/pets").sign();
    assert!(req.verify_with(&wide, &PERMANENT, NOW + 14 * 60).is_ok());
    assert!(req.verify_with(&wide, &PERMANENT, NOW + 16 * 60).is_err());
}

#[test]
fn a10c_changed_body_with_unchanged_content_sha256_is_refused() {
    let mut req = TestReq::get("/dev/pets");
    req.method = "POST".into();
    req.body = b"{\"amount\":1}".to_vec();
    let claimed = String::from_utf8(hex(&payload_sha256(&req.body)).to_vec()).unwrap();
    let req = req.header("x-amz-content-sha256", &claimed).sign();
    assert!(req.verify().is_ok());
    let mut changed = req.clone();
    changed.body = b"{\"amount\":1000}".to_vec();
    assert_eq!(changed.verify(), Err(SigV4Error::SignatureMismatch));
}

#[test]
fn a10d_host_must_be_signed() {
    let req = TestReq::get("/dev/pets").sign_with(SCOPE, "x-amz-date");
    let (err, body) = req.error_body();
    assert_eq!(err, SigV4Error::HostNotSigned);
    assert_eq!(
        body["message"],
        "'Host' must be a 'SignedHeader' in the AWS Authorization."
    );
}

#[test]
fn a10e_canonical_uri_is_computed_from_the_raw_path() {
    // Dot segments: the client signed the normalized form of what it sends.
    assert!(TestReq::get("/dev/a/../b").sign().verify().is_ok());
    let canon = |path: &str, rules| {
        let mut s = Scratch::new();
        let input = CanonicalInput {
            method: b"GET",
            path: path.as_bytes(),
            query: b"",
            headers: &[],
            signed_headers: b"",
            payload_hash: b"",
            presigned: false,
        };
        canonical_request(&mut s, &input, rules);
        String::from_utf8(s.canonical_request().to_vec())
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .to_owned()
    };
    // SPEC-NOTES §10: `/dev/mypath%2Fnext` canonicalizes to `/dev/mypath%252Fnext`.
    assert_eq!(
        canon("/dev/mypath%2Fnext", UriRules::EXECUTE_API),
        "/dev/mypath%252Fnext"
    );
    assert_eq!(
        canon("/dev/mypath%2Fnext", UriRules::S3),
        "/dev/mypath%2Fnext"
    );
    assert_eq!(
        canon("/dev/a/./b/../c//", UriRules::EXECUTE_API),
        "/dev/a/c/"
    );
    assert_eq!(canon("/../..", UriRules::EXECUTE_API), "/");
    assert_eq!(canon("", UriRules::EXECUTE_API), "/");
    // A double-encoded path is not the single-encoded one.
    let signed = TestReq::get("/dev/a%2Fb").sign();
    let mut other = signed.clone();
    other.path = "/dev/a%252Fb".into();
    assert!(signed.verify().is_ok());
    assert_eq!(other.verify(), Err(SigV4Error::SignatureMismatch));
}

#[test]
fn a10f_scope_date_must_be_the_request_date() {
    let req = TestReq::get("/dev/pets").sign_with(
        "20150829/us-east-1/execute-api/aws4_request",
        "host;x-amz-date",
    );
    let (err, body) = req.error_body();
    assert_eq!(err, SigV4Error::ScopeDateMismatch);
    assert_eq!(err.status(), 403);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("'20150829' != '20150830'")
    );
}

#[test]
fn a10g_two_date_headers_are_a_400() {
    let req = TestReq::get("/dev/pets").header("x-amz-date", DATE).sign();
    assert_eq!(req.verify(), Err(SigV4Error::DuplicateDate));
    assert_eq!(SigV4Error::DuplicateDate.status(), 400);
    let mut pre = TestReq::get("/dev/pets").presign("60");
    pre.query += &format!("&X-Amz-Date={DATE}");
    assert_eq!(pre.verify(), Err(SigV4Error::DuplicateDate));
}

#[test]
fn scope_region_service_and_keys() {
    let region = TestReq::get("/p").sign_with(
        "20150830/eu-north-1/execute-api/aws4_request",
        "host;x-amz-date",
    );
    let (err, body) = region.error_body();
    assert_eq!(err, SigV4Error::WrongRegion);
    assert_eq!(
        body["message"],
        "Credential should be scoped to a valid region, not 'eu-north-1'. "
    );
    let service =
        TestReq::get("/p").sign_with("20150830/us-east-1/s3/aws4_request", "host;x-amz-date");
    assert_eq!(service.verify(), Err(SigV4Error::WrongService));
    let term = TestReq::get("/p").sign_with(
        "20150830/us-east-1/execute-api/aws5_request",
        "host;x-amz-date",
    );
    assert_eq!(term.verify(), Err(SigV4Error::InvalidTerminator));
    let unknown = with_auth(&format!(
        "AWS4-HMAC-SHA256 Credential=AKIDOTHER/{SCOPE}, SignedHeaders=host;x-amz-date, Signature={}",
        "0".repeat(64)
    ));
    let (err, body) = unknown.error_body();
    assert_eq!(
        (err, err.error_type()),
        (SigV4Error::UnknownAccessKey, "UnrecognizedClientException")
    );
    assert_eq!(
        body["message"],
        "The security token included in the request is invalid."
    );
}

#[test]
fn temporary_credentials_need_their_token() {
    let v = Verifier::execute_api("us-east-1");
    let temp = Store { token: Some(TOKEN) };
    let with_token = TestReq::get("/p")
        .header("X-Amz-Security-Token", TOKEN)
        .sign();
    assert!(with_token.verify_with(&v, &temp, NOW).is_ok());
    assert_eq!(
        with_token.verify_with(&v, &PERMANENT, NOW),
        Err(SigV4Error::InvalidSecurityToken)
    );
    let without = TestReq::get("/p").sign();
    assert_eq!(
        without.verify_with(&v, &temp, NOW),
        Err(SigV4Error::InvalidSecurityToken)
    );
    let wrong = TestReq::get("/p")
        .header("X-Amz-Security-Token", "other")
        .sign();
    assert_eq!(
        wrong.verify_with(&v, &temp, NOW),
        Err(SigV4Error::InvalidSecurityToken)
    );
    let twice = with_token.clone().header("x-amz-security-token", TOKEN);
    assert_eq!(
        twice.verify_with(&v, &temp, NOW),
        Err(SigV4Error::Ambiguous)
    );
}

#[test]
fn presigned_form() {
    let pre = TestReq::get("/dev/pets").presign("300");
    assert!(pre.verify().is_ok());
    let v = Verifier::execute_api("us-east-1");
    assert_eq!(
        pre.verify_with(&v, &PERMANENT, NOW + 301),
        Err(SigV4Error::PresignedExpired)
    );
    for bad in ["0", "604801", "abc", "-1"] {
        assert_eq!(
            TestReq::get("/p").presign(bad).verify(),
            Err(SigV4Error::InvalidExpires),
            "{bad}"
        );
    }
    let both = pre
        .clone()
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=x");
    assert_eq!(both.verify(), Err(SigV4Error::Ambiguous));
    let mut unsigned = pre.clone();
    unsigned.query = unsigned
        .query
        .split("&X-Amz-Signature")
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(unsigned.verify(), Err(SigV4Error::IncompletePresigned));
}
