//! Requests signed by botocore (PyPI), the SigV4 signer the AWS CLI and boto3 use, verify
//! with tollgate's SigV4 core; each one with a signature digit changed does not.
//! `scripts/sigv4_botocore_sign.py` signs them (header and presigned forms, query order,
//! encoded and dot-segment paths, a body, temporary credentials) at the current time; the
//! test verifies at the time each request carries.
//!
//! Needs `python3` with `botocore`, which `scripts/test.sh` installs. Without them the test
//! says it did not run and passes — except under `CI`, where it fails.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::Path;
use std::process::Command;

use tollgate::dataplane::auth::sigv4::{
    self, Credential, CredentialStore, Request, Scratch, SigV4Error, Verifier,
};

struct Keys(Vec<(String, String, Option<String>)>);

impl CredentialStore for Keys {
    fn credential(&self, access_key_id: &[u8]) -> Option<Credential<'_>> {
        let (_, secret, token) = self
            .0
            .iter()
            .find(|(k, _, _)| k.as_bytes() == access_key_id)?;
        Some(Credential {
            secret_access_key: secret.as_bytes(),
            session_token: token.as_deref().map(str::as_bytes),
            principal_arn: "arn:aws:iam::123456789012:user/botocore",
        })
    }
}

fn did_not_run(why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("sigv4_botocore did not run: {why}");
    }
    eprintln!("sigv4_botocore did not run: {why}");
}

#[test]
fn botocore_signed_requests_verify() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/sigv4_botocore_sign.py");
    let out = match Command::new("python3").arg(&script).output() {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            return did_not_run(&format!(
                "the signer failed (is botocore installed?): {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Err(e) => return did_not_run(&format!("no python3: {e}")),
    };
    let cases: serde_json::Value = serde_json::from_slice(&out.stdout).expect("signer JSON");
    let cases = cases.as_array().expect("a list");
    let keys = Keys(
        cases
            .iter()
            .map(|c| {
                (
                    c["access_key_id"].as_str().unwrap().to_owned(),
                    c["secret"].as_str().unwrap().to_owned(),
                    c["token"].as_str().map(str::to_owned),
                )
            })
            .collect(),
    );
    let verifier = Verifier::execute_api("us-east-1");
    let mut passed = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let url = case["url"].as_str().unwrap();
        let rest = url.strip_prefix("https://").expect("https URL");
        let (host, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers: Vec<(String, String)> = vec![("Host".into(), host.into())];
        for h in case["headers"].as_array().unwrap() {
            headers.push((h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()));
        }
        let body: Vec<u8> = case["body"]
            .as_str()
            .unwrap()
            .chars()
            .map(|c| c as u8)
            .collect();
        let check = |query: &str, headers: &[(String, String)]| -> Result<(), SigV4Error> {
            let hs: Vec<(&[u8], &[u8])> = headers
                .iter()
                .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
                .collect();
            let req = Request {
                method: case["method"].as_str().unwrap().as_bytes(),
                path: path.as_bytes(),
                query: query.as_bytes(),
                headers: &hs,
                payload_sha256: sigv4::payload_sha256(&body),
            };
            let auth = sigv4::parse(&req)?;
            let now = sigv4::amz_date_to_unix(&auth.amz_date).expect("botocore's X-Amz-Date");
            verifier
                .verify(&req, &keys, now, &mut Scratch::new())
                .map(|_| ())
        };
        if let Err(e) = check(query, &headers) {
            panic!("{name}: botocore's request was refused: {e:?}\n{case:#}");
        }
        // Change one signature digit, wherever the signature is.
        let flip = |s: &str| -> String {
            let at = s.find("Signature=").expect("a signature") + "Signature=".len();
            let mut b = s.as_bytes().to_vec();
            b[at] = if b[at] == b'0' { b'1' } else { b'0' };
            String::from_utf8(b).unwrap()
        };
        let tampered = if query.contains("X-Amz-Signature=") {
            check(&flip(query), &headers)
        } else {
            let mut hs = headers.clone();
            let auth = hs.iter_mut().find(|(n, _)| n == "Authorization").unwrap();
            auth.1 = flip(&auth.1);
            check(query, &hs)
        };
        assert_eq!(tampered, Err(SigV4Error::SignatureMismatch), "{name}");
        passed += 1;
    }
    println!(
        "botocore: {passed} of {} signed requests verified",
        cases.len()
    );
    assert!(passed >= 8, "expected every botocore case to run");
}
