//! Remote functions end to end (issue 9): a Lambda authorizer whose function is a `remote`
//! entry, called over Lambda's Invoke API with SigV4. The function side is
//! `scripts/lambda_invoke_api.py`: it recomputes each call's signature with botocore's
//! `SigV4Auth` from the request it received, answers 403 when it does not match (as Lambda
//! does), and otherwise runs the authorizer handler of `scripts/lambda_authorizer.py`.
//!
//! Also an `https://` endpoint (the development CA via `server.upstreamTls`, state read with
//! `curl`).
//!
//! Needs `python3` with `botocore`. Without them each test says it did not run and passes —
//! except under `CI`, where it fails.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use support::config::{API, STAGE, openapi, stage};
use support::functions::Script;
use support::http::request;
use support::*;

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:auth";
const KEY: &str = "AKIDREMOTEEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "FQoGZXIvYXdzEXAMPLE//session+token/with==";

/// The Invoke API endpoint's process (`scripts/lambda_invoke_api.py`).
type InvokeApi = Script;

impl InvokeApi {
    /// `None` (after saying so) when python3 or botocore is missing. `tls`: HTTPS with
    /// `conf/certs/localhost.pem` (issued by the development CA).
    fn invoke_api(test: &str, session_token: Option<&str>, tls: bool) -> Option<InvokeApi> {
        Script::start_with(test, "lambda_invoke_api.py", &["botocore"], |cmd| {
            cmd.args([KEY, SECRET]);
            if let Some(t) = session_token {
                cmd.arg(t);
            }
            if tls {
                let certs = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/certs");
                cmd.env("TLS_CERT", certs.join("localhost.pem"))
                    .env("TLS_KEY", certs.join("localhost.key"));
            }
        })
    }

    /// `state` of an HTTPS endpoint (curl with the development CA).
    fn state_tls(&self) -> Value {
        let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/certs/dev-ca.pem");
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "5", "--cacert"])
            .arg(ca)
            .arg(format!("https://localhost:{}/calls", self.port))
            .output()
            .expect("curl");
        serde_json::from_slice(&out.stdout).expect("the endpoint's state")
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// REST API with `/pets` behind a TOKEN authorizer (TTL 0) whose function is `function`.
fn config(up: &Upstream, function: Value, credentials: Value) -> Value {
    let uri = format!(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION_ARN}/invocations"
    );
    let mut doc = openapi(json!({ "/pets": { "get": {
        "security": [{ "tok": [] }],
        "x-amazon-apigateway-integration": {
            "type": "http_proxy", "httpMethod": "ANY", "uri": up.uri("/backend"),
            "requestParameters": {
                "integration.request.header.X-Principal": "context.authorizer.principalId"
            }
        }
    } } }));
    doc["components"] = json!({ "securitySchemes": { "tok": {
        "type": "apiKey", "name": "Authorization", "in": "header",
        "x-amazon-apigateway-authtype": "custom",
        "x-amazon-apigateway-authorizer": {
            "type": "token", "authorizerUri": uri, "authorizerResultTtlInSeconds": 0 }
    } } });
    json!({
        "server": { "defaultApi": { "apiId": API, "stage": STAGE } },
        "apis": [{ "id": API, "protocolType": "REST", "definition": doc }],
        "stages": [stage(API, STAGE)],
        "functions": { FUNCTION_ARN: function },
        "awsCredentials": credentials
    })
}

fn get(c: &mut Client, token: &str) -> Response {
    c.roundtrip(&request("GET", "/pets", &[("Authorization", token)], None))
}

#[test]
fn a_remote_function_is_invoked_with_a_valid_sigv4_signature() {
    let Some(api) = InvokeApi::invoke_api("lambda_remote", None, false) else {
        return;
    };
    let up = Upstream::echo();
    let gw = Gateway::start(config(
        &up,
        json!({ "remote": { "endpoint": api.endpoint(), "credentials": "deploy",
                            "qualifier": "live" }, "timeoutMs": 5000 }),
        json!({ "deploy": { "accessKeyId": KEY, "secretAccessKey": SECRET } }),
    ));
    let mut c = gw.client();

    let r = get(&mut c, "allow");
    assert_eq!(r.status, 200, "{}", r.body_str());
    let state = api.state();
    assert_eq!(state["refused"], 0, "{state}");
    assert_eq!(state["calls"], 1);
    let last = &state["last"];
    assert_eq!(
        last["path"],
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aauth/invocations"
    );
    assert_eq!(last["query"], "Qualifier=live");
    let headers = &last["headers"];
    assert_eq!(headers["x-amz-invocation-type"], "RequestResponse");
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers.get("x-amz-security-token").is_none());
    let auth = headers["authorization"].as_str().unwrap();
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={KEY}/"))
            && auth.contains("/us-east-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-invocation-type, Signature="),
        "{auth}"
    );
    let seen = up.requests();
    let backend = seen.last().expect("the backend got the request");
    assert_eq!(backend.header("X-Principal").as_deref(), Some("user-allow"));
    // The invocation carries the request's trace (unsigned, as botocore leaves it).
    let trace = backend.header("X-Amzn-Trace-Id").expect("a trace id");
    assert!(trace.starts_with("Root=1-"), "{trace}");
    assert_eq!(headers["x-amzn-trace-id"], trace.as_str());

    // Every call is signed afresh (the day's key is cached per core): more calls verify.
    for _ in 0..4 {
        assert_eq!(get(&mut c, "method").status, 200);
    }
    // A function error: `Unauthorized` is the authorizer's 401, anything else is a failure.
    let r = get(&mut c, "unauthorized");
    assert_eq!(r.status, 401, "{}", r.body_str());
    let r = get(&mut c, "boom");
    assert_eq!(r.status, 500, "{}", r.body_str());
    assert_eq!(
        r.header("x-amzn-ErrorType").as_deref(),
        Some("AuthorizerConfigurationException")
    );
    let state = api.state();
    assert_eq!(
        (state["calls"].as_u64(), state["refused"].as_u64()),
        (Some(7), Some(0))
    );
}

#[test]
fn temporary_credentials_send_and_sign_their_session_token() {
    let Some(api) = InvokeApi::invoke_api("lambda_remote", Some(TOKEN), false) else {
        return;
    };
    let up = Upstream::echo();
    // Credentials from the environment, as the AWS SDKs read them.
    let gw = Gateway::start_with(
        config(
            &up,
            json!({ "remote": { "endpoint": api.endpoint() } }),
            json!({}),
        ),
        Options {
            env: vec![
                ("AWS_ACCESS_KEY_ID".into(), KEY.into()),
                ("AWS_SECRET_ACCESS_KEY".into(), SECRET.into()),
                ("AWS_SESSION_TOKEN".into(), TOKEN.into()),
            ],
            ..Options::default()
        },
    );
    let r = get(&mut gw.client(), "allow");
    assert_eq!(r.status, 200, "{}", r.body_str());
    let state = api.state();
    assert_eq!(state["refused"], 0, "{state}");
    let headers = &state["last"]["headers"];
    assert_eq!(headers["x-amz-security-token"], TOKEN);
    assert!(
        headers["authorization"].as_str().unwrap().contains(
            "SignedHeaders=content-type;host;x-amz-date;x-amz-invocation-type;x-amz-security-token,"
        ),
        "{headers}"
    );
    assert!(state["last"]["query"].as_str().unwrap().is_empty());
}

#[test]
fn wrong_credentials_are_refused_and_the_authorizer_answers_500() {
    let Some(api) = InvokeApi::invoke_api("lambda_remote", None, false) else {
        return;
    };
    let up = Upstream::echo();
    let gw = Gateway::start(config(
        &up,
        json!({ "remote": { "endpoint": api.endpoint(), "credentials": "wrong" } }),
        json!({ "wrong": { "accessKeyId": KEY, "secretAccessKey": "not-the-secret" } }),
    ));
    let r = get(&mut gw.client(), "allow");
    assert_eq!(r.status, 500, "{}", r.body_str());
    assert_eq!(r.body_str(), r#"{"message": null}"#);
    assert_eq!(
        r.header("x-amzn-ErrorType").as_deref(),
        Some("AuthorizerConfigurationException")
    );
    let state = api.state();
    assert_eq!(
        (state["calls"].as_u64(), state["refused"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(up.request_count(), 0, "nothing reached the backend");
}

#[test]
fn an_https_endpoint_is_reached_through_the_upstream_tls_settings() {
    let Some(api) = InvokeApi::invoke_api("lambda_remote", None, true) else {
        return;
    };
    let up = Upstream::echo();
    let mut cfg = config(
        &up,
        json!({ "remote": { "endpoint": format!("https://localhost:{}", api.port),
                            "credentials": "deploy" } }),
        json!({ "deploy": { "accessKeyId": KEY, "secretAccessKey": SECRET } }),
    );
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/certs/dev-ca.pem");
    cfg["server"]["upstreamTls"] = json!({ "caBundle": ca });
    let gw = Gateway::start(cfg);
    let mut c = gw.client();
    for _ in 0..3 {
        let r = get(&mut c, "allow");
        assert_eq!(r.status, 200, "{}", r.body_str());
    }
    let state = api.state_tls();
    assert_eq!(
        (state["calls"].as_u64(), state["refused"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(
        state["last"]["headers"]["host"],
        format!("localhost:{}", api.port)
    );
}
