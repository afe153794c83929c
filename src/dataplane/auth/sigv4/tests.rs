//! RELIABILITY A10 cases, malformed signatures of every shape, and a mutation loop. Requests
//! are signed with this module's own canonical functions, which the fixture suites
//! (`tests/sigv4_fixtures.rs`) check against AWS's vectors.

use super::*;

mod checks;
mod malformed;

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
