//! The README's 5-minute tour, driven by real `curl`: a GET through HTTP_PROXY, a MOCK route,
//! a 403 Missing Authentication Token, and `curl -v` showing `x-amzn-RequestId`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::process::Command;

use serde_json::json;
use support::config::{any_proxy, mock_ok, rest_api, stage};
use support::*;

fn curl(args: &[&str]) -> (String, String) {
    let out = match Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .args(args)
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!(
            "`curl` is needed for the tour test ({e}); the test scripts install it (apt-get install curl)"
        ),
    };
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn five_minute_tour_with_curl() {
    let up = Upstream::echo();
    let gw = Gateway::start(json!({
        "server": { "defaultApi": { "apiId": "tour", "stage": "prod" } },
        "apis": [rest_api("tour", json!({
            "/hello": { "get": mock_ok() },
            "/{proxy+}": any_proxy(&up.uri("/{proxy}"))
        }))],
        "stages": [stage("tour", "prod")]
    }));
    let base = format!("http://127.0.0.1:{}", gw.port);

    // 1. A GET through HTTP_PROXY.
    let (body, _) = curl(&[&format!("{base}/pets?limit=2")]);
    assert!(
        body.starts_with("GET /pets?limit=2 HTTP/1.1\r\n"),
        "proxied request line: {body:?}"
    );
    assert!(
        body.contains(&format!("Host: {}", up.addr()))
            || body.contains(&format!("host: {}", up.addr()))
    );

    // 2. A MOCK route.
    let (out, _) = curl(&["-i", &format!("{base}/hello")]);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.to_ascii_lowercase().contains("x-mock: yes"), "{out}");
    assert!(out.ends_with(r#"{"ok":true}"#), "{out}");

    // The same through the execute-api host with the stage prefix.
    let host = format!("tour.execute-api.localhost:{}", gw.port);
    let (out, _) = curl(&[
        "--resolve",
        &format!("{host}:127.0.0.1"),
        &format!("http://{host}/prod/hello"),
    ]);
    assert_eq!(out, r#"{"ok":true}"#);

    // 3. 403 Missing Authentication Token.
    let (out, _) = curl(&["-i", "-X", "DELETE", &format!("{base}/hello")]);
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");
    assert!(
        out.contains("x-amzn-ErrorType: MissingAuthenticationTokenException")
            || out
                .to_ascii_lowercase()
                .contains("x-amzn-errortype: missingauthenticationtokenexception"),
        "{out}"
    );
    assert!(
        out.ends_with(r#"{"message":"Missing Authentication Token"}"#),
        "{out}"
    );

    // 4. curl -v shows the request id.
    let (_, verbose) = curl(&["-v", "-o", "/dev/null", &format!("{base}/hello")]);
    let line = verbose
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("< x-amzn-requestid:"))
        .unwrap_or_else(|| panic!("curl -v shows no x-amzn-RequestId:\n{verbose}"));
    let id = line.split(':').nth(1).unwrap().trim();
    assert!(is_uuid(id), "{line}");

    // A POST with a body through the proxy, curl choosing its own framing.
    let (body, _) = curl(&[
        "-X",
        "POST",
        "--data-binary",
        "tour-body",
        &format!("{base}/orders"),
    ]);
    assert!(body.starts_with("POST /orders HTTP/1.1\r\n"), "{body:?}");
    assert!(body.ends_with("\r\n\r\ntour-body"), "{body:?}");
}
