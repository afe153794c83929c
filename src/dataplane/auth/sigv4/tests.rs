//! RELIABILITY A10 cases, malformed signatures of every shape, and a mutation loop. Requests
//! are signed with this module's own canonical functions, which the fixture suites
//! (`tests/sigv4_fixtures.rs`) check against AWS's vectors.

use super::*;

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const DATE: &str = "20150830T123600Z";
const SCOPE: &str = "20150830/us-east-1/execute-api/aws4_request";
const NOW: u64 = 1_440_938_160;
const TOKEN: &str = "FQoGZXIvYXdzEXAMPLE//token+with/slashes==";

struct Store {
    token: Option<&'static str>,
}

impl CredentialStore for Store {
    fn credential(&self, access_key_id: &[u8]) -> Option<Credential<'_>> {
        (access_key_id == AKID.as_bytes()).then_some(Credential {
            secret_access_key: SECRET,
            session_token: self.token.map(str::as_bytes),
            principal_arn: "arn:aws:iam::123456789012:user/alice",
        })
    }
}

const PERMANENT: Store = Store { token: None };

#[derive(Clone)]
struct TestReq {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl TestReq {
    fn get(path: &str) -> TestReq {
        TestReq {
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            headers: vec![
                (
                    "Host".into(),
                    "abc123.execute-api.us-east-1.amazonaws.com".into(),
                ),
                ("X-Amz-Date".into(), DATE.into()),
            ],
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: &str) -> TestReq {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The signature over the current request, `signed` headers, `scope`.
    fn signature(&self, scope: &str, signed: &str, presigned: bool) -> String {
        let hs: Vec<(&[u8], &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        let mut s = Scratch::new();
        let ph = hex(&payload_sha256(&self.body));
        let input = CanonicalInput {
            method: self.method.as_bytes(),
            path: self.path.as_bytes(),
            query: self.query.as_bytes(),
            headers: &hs,
            signed_headers: signed.as_bytes(),
            payload_hash: &ph,
            presigned,
        };
        canonical_request(&mut s, &input, UriRules::EXECUTE_API);
        let date = self.date().unwrap_or(DATE.into());
        string_to_sign(&mut s, date.as_bytes(), scope.as_bytes());
        let p: Vec<&str> = scope.split('/').collect();
        let key = signing_key(SECRET, p[0].as_bytes(), p[1].as_bytes(), p[2].as_bytes());
        String::from_utf8(hex(&super::signature(&key, s.string_to_sign())).to_vec()).unwrap()
    }

    fn date(&self) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-date"))
            .map(|(_, v)| v.clone())
    }

    /// Append `Authorization` signed over `signed` with `scope`.
    fn sign_with(self, scope: &str, signed: &str) -> TestReq {
        let sig = self.signature(scope, signed, false);
        let value = format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders={signed}, Signature={sig}"
        );
        self.header("Authorization", &value)
    }

    fn sign(self) -> TestReq {
        let signed = self.signed_list();
        self.sign_with(SCOPE, &signed)
    }

    /// Every header present, lowercase, sorted (what botocore signs).
    fn signed_list(&self) -> String {
        let mut names: Vec<String> = self
            .headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        names.sort();
        names.dedup();
        names.join(";")
    }

    /// Presign: query form with `expires`, signing `host`.
    fn presign(mut self, expires: &str) -> TestReq {
        self.headers.retain(|(n, _)| n != "X-Amz-Date");
        let cred = format!("{AKID}%2F{}", SCOPE.replace('/', "%2F"));
        self.query = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date={DATE}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
        );
        let sig = {
            let hs: Vec<(&[u8], &[u8])> = self
                .headers
                .iter()
                .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
                .collect();
            let mut s = Scratch::new();
            let ph = hex(&payload_sha256(&self.body));
            let input = CanonicalInput {
                method: self.method.as_bytes(),
                path: self.path.as_bytes(),
                query: self.query.as_bytes(),
                headers: &hs,
                signed_headers: b"host",
                payload_hash: &ph,
                presigned: true,
            };
            canonical_request(&mut s, &input, UriRules::EXECUTE_API);
            string_to_sign(&mut s, DATE.as_bytes(), SCOPE.as_bytes());
            let key = signing_key(SECRET, b"20150830", b"us-east-1", b"execute-api");
            String::from_utf8(hex(&super::signature(&key, s.string_to_sign())).to_vec()).unwrap()
        };
        self.query += &format!("&X-Amz-Signature={sig}");
        self
    }

    fn run<T>(&self, f: impl FnOnce(&Request<'_>) -> T) -> T {
        let hs: Vec<(&[u8], &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        f(&Request {
            method: self.method.as_bytes(),
            path: self.path.as_bytes(),
            query: self.query.as_bytes(),
            headers: &hs,
            payload_sha256: payload_sha256(&self.body),
        })
    }

    fn verify_with(&self, v: &Verifier, store: &Store, now: u64) -> Result<String, SigV4Error> {
        self.run(|req| {
            v.verify(req, store, now, &mut Scratch::new())
                .map(|ok| ok.principal_arn.to_owned())
        })
    }

    fn verify(&self) -> Result<String, SigV4Error> {
        self.verify_with(&Verifier::execute_api("us-east-1"), &PERMANENT, NOW)
    }

    /// The JSON body of the error this request gets.
    fn error_body(&self) -> (SigV4Error, serde_json::Value) {
        self.run(|req| {
            let mut scratch = Scratch::new();
            let v = Verifier::execute_api("us-east-1");
            let err = v
                .verify(req, &PERMANENT, NOW, &mut scratch)
                .expect_err("refused");
            let mut out = Vec::new();
            err.write_body(req, &scratch, &mut out);
            (err, serde_json::from_slice(&out).expect("valid JSON body"))
        })
    }
}

fn with_auth(value: &str) -> TestReq {
    TestReq::get("/dev/pets").header("Authorization", value)
}

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
