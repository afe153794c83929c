//! The SigV4 *signer* (`sigv4::Signer`, what remote Lambda calls are signed with) against the
//! aws-c-auth suite's header-form vectors, read in place: each case's unsigned `request.txt`
//! is signed with the case's credentials, time, region and service, adding what aws-c-auth
//! adds (`X-Amz-Date`, `X-Amz-Security-Token` unless the case adds it after signing,
//! `X-Amz-Content-Sha256` when it signs the body); the canonical request, string to sign,
//! signature and `Authorization` value must equal the suite's files. The query (presigned)
//! form does not apply: tollgate signs only with headers.
//!
//! Fixtures: `$TOLLGATE_FIXTURES` (default `<crate>/../shared/fixtures`), `sigv4/aws-c-auth-v4/`.
//! Without them the test passes with a notice, except under `CI`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

use std::path::Path;

use support::sigv4_suite::{Fold, HttpFile, fixtures_dir, parse_http, read, sorted_dirs, trimmed};

use tollgate::dataplane::auth::sigv4::{self, SignInput, Signer, UriRules};

fn sign_case(case_dir: &Path) -> Result<(), String> {
    let ctx: serde_json::Value =
        serde_json::from_slice(&read(&case_dir.join("context.json"))).map_err(|e| e.to_string())?;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let stamp: String = text(&ctx["timestamp"])
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let unix = sigv4::amz_date_to_unix(stamp.as_bytes()).ok_or("context timestamp")?;
    let amz_date = sigv4::amz_date(unix);
    assert_eq!(amz_date.as_slice(), stamp.as_bytes());
    let (region, service) = (text(&ctx["region"]), text(&ctx["service"]));
    let akid = text(&ctx["credentials"]["access_key_id"]);
    let secret = text(&ctx["credentials"]["secret_access_key"]);
    let token = ctx["credentials"]["token"].as_str();
    let omit_token = ctx["omit_session_token"].as_bool().unwrap_or(false);
    let sign_body = ctx["sign_body"].as_bool().unwrap_or(false);

    let http = parse_http(&read(&case_dir.join("request.txt")), Fold::Space)
        .ok_or("unreadable request.txt")?;
    let HttpFile {
        method,
        path,
        query,
        mut headers,
        body,
    } = http;
    let payload_hash = sigv4::hex(&sigv4::payload_sha256(&body));
    headers.push((b"X-Amz-Date".to_vec(), amz_date.to_vec()));
    if let (Some(t), false) = (token, omit_token) {
        headers.push((b"X-Amz-Security-Token".to_vec(), t.as_bytes().to_vec()));
    }
    if sign_body {
        headers.push((b"X-Amz-Content-Sha256".to_vec(), payload_hash.to_vec()));
    }
    let hs: Vec<(&[u8], &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_slice(), v.as_slice()))
        .collect();
    let day = &stamp.as_bytes()[..8];
    let scope = format!(
        "{}/{region}/{service}/aws4_request",
        std::str::from_utf8(day).unwrap()
    );
    let key = sigv4::signing_key(
        secret.as_bytes(),
        day,
        region.as_bytes(),
        service.as_bytes(),
    );
    let mut signer = Signer::new();
    let mut out = Vec::new();
    signer.authorization(
        &mut out,
        &key,
        akid.as_bytes(),
        &SignInput {
            method: &method,
            path: &path,
            query: &query,
            headers: &hs,
            payload_hash: &payload_hash,
            amz_date: &amz_date,
            scope: scope.as_bytes(),
            rules: UriRules {
                normalize: ctx["normalize"].as_bool().unwrap_or(true),
                double_encode: true,
            },
        },
    );
    let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let expect = |what: &str, got: &[u8], file: &str| -> Result<(), String> {
        let want = trimmed(&case_dir.join(file));
        if got == want.as_slice() {
            Ok(())
        } else {
            Err(format!(
                "{what}:\n{}\n--- expected ---\n{}",
                show(got),
                show(&want)
            ))
        }
    };
    expect(
        "canonical request",
        signer.canonical_request(),
        "header-canonical-request.txt",
    )?;
    expect(
        "string to sign",
        signer.string_to_sign(),
        "header-string-to-sign.txt",
    )?;
    let sig = out.rsplit(|&b| b == b'=').next().unwrap_or_default();
    expect("signature", sig, "header-signature.txt")?;
    let signed = read(&case_dir.join("header-signed-request.txt"));
    let line = signed
        .split(|&b| b == b'\n')
        .find(|l| l.starts_with(b"Authorization:"))
        .ok_or("no Authorization line")?;
    let want = &line[b"Authorization:".len()..];
    let want = want.strip_suffix(b"\r").unwrap_or(want);
    if out != want {
        return Err(format!("Authorization {} != {}", show(&out), show(want)));
    }
    Ok(())
}

#[test]
fn the_signer_reproduces_every_aws_c_auth_header_vector() {
    let dir = fixtures_dir().join("sigv4/aws-c-auth-v4");
    if !dir.is_dir() {
        let why = format!("sigv4 fixtures not found at {}", dir.display());
        if std::env::var_os("CI").is_some() {
            panic!("{why}");
        }
        eprintln!("{why}: signer vectors did not run");
        return;
    }
    let cases = sorted_dirs(&dir);
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(why) = sign_case(case) {
            failures.push(format!("{}: {why}", case.display()));
        }
    }
    assert!(cases.len() >= 38, "only {} cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
