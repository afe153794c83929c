//! Lambda proxy integrations (AWS_PROXY) to local functions (issue 9): the function is
//! unmodified Lambda code that tollgate's function host runs on the Lambda Runtime API —
//! Python on `awslambdaric` (PyPI) and Rust on the `lambda_runtime` crate
//! (`tests/functions/lambda-echo`) — and the client sees API Gateway's answers: the function's
//! proxy result; 504 (REST) / 503 (HTTP APIs) when it runs past its timeout, after which the
//! process is replaced; 502 when it raises or its process dies mid-request, after which the
//! next request is served by a fresh process.
//!
//! Needs `python3` with `awslambdaric` (scripts/test.sh installs it) and cargo to build the
//! Rust function: without them a test says it did not run, except under `CI`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::config::{API, openapi, stage};
use support::functions::lambda_echo;
use support::http::get;
use support::*;

/// A proxy-integration handler: what it does is chosen by the request path.
const APP: &str = r#"
import json, os, time

def handler(event, context):
    path = event.get("path") or event.get("rawPath")
    if path.endswith("/sleep"):
        time.sleep(5)
    elif path.endswith("/crash"):
        os._exit(3)
    elif path.endswith("/fail"):
        raise ValueError("failed on purpose")
    print("serving", path, flush=True)
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-pid": str(os.getpid())},
        "multiValueHeaders": {"x-multi": ["a", "b"]},
        "body": json.dumps({
            "path": path,
            "resource": event.get("resource"),
            "stage": event["requestContext"]["stage"],
            "requestId": event["requestContext"]["requestId"],
            "lambdaRequestId": context.aws_request_id,
            "query": event.get("queryStringParameters"),
        }),
    }
"#;

fn uri(function: &str) -> String {
    format!(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:{function}/invocations"
    )
}

fn proxy(function: &str, extra: Value) -> Value {
    let mut i = json!({ "type": "AWS_PROXY", "httpMethod": "POST", "uri": uri(function) });
    for (k, v) in extra.as_object().unwrap() {
        i[k] = v.clone();
    }
    json!({ "x-amazon-apigateway-any-method": { "x-amazon-apigateway-integration": i } })
}

/// REST API with `/{proxy+}` → `function`, stage `prod`.
fn rest(function: &str, functions: Value) -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert("/{proxy+}".into(), proxy(function, json!({})));
    json!({
        "server": { "defaultApi": { "apiId": API } },
        "apis": [{ "id": API, "protocolType": "REST", "definition": openapi(Value::Object(paths)) }],
        "stages": [stage(API, "prod")],
        "functions": functions
    })
}

/// Wait (bounded) until `name` has a warm process: a Python runtime can take longer to start
/// on a loaded machine than the short timeouts these tests use, and a cold start counts
/// against the timeout as on Lambda.
fn wait_warm(gw: &Gateway, name: &str) {
    let warm = wait_until(Duration::from_secs(30), || {
        gw.status()["functionHost"]["functions"][name]["processes"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["state"] == "idle"))
    });
    assert!(warm, "no warm process of `{name}`: {}", gw.status());
}

fn python_function(dir: &TempDir, timeout_ms: u64) -> Value {
    json!({
        "local": {
            "command": ["python3", "-m", "awslambdaric", "app.handler"],
            "cwd": dir.path.display().to_string(),
        },
        "timeoutMs": timeout_ms
    })
}

#[test]
fn a_python_function_serves_rest_requests_and_failures_are_api_gateways() {
    if !python_with("the local Lambda proxy test", &["awslambdaric"]) {
        return;
    }
    let dir = TempDir::new("proxy-fn");
    std::fs::write(dir.file("app.py"), APP).unwrap();
    let gw = Gateway::start(rest("app", json!({ "app": python_function(&dir, 1500) })));
    wait_warm(&gw, "app");
    let mut c = gw.client();

    let r = c.roundtrip(&get("/prod/pets/7?kind=cat"));
    assert_eq!(r.status, 201, "{}\n{}", r.body_str(), gw.stderr());
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(r.header("x-multi").as_deref(), Some("a"), "{:?}", r.headers);
    let out = r.json();
    assert_eq!(out["path"], "/pets/7");
    assert_eq!(out["resource"], "/{proxy+}");
    assert_eq!(out["stage"], "prod");
    assert_eq!(out["query"], json!({ "kind": "cat" }));
    assert_eq!(
        Some(out["requestId"].as_str().unwrap().to_string()),
        r.header("x-amzn-RequestId"),
        "the event carries the request id the client sees"
    );
    // The function's print reaches tollgate's log, tagged with the invocation's request id.
    let line = format!(
        "function `app` [{}]: serving /pets/7",
        out["lambdaRequestId"].as_str().unwrap()
    );
    assert!(
        wait_until(Duration::from_secs(5), || gw.stderr().contains(&line)),
        "no `{line}` in:\n{}",
        gw.stderr()
    );
    let first_pid = r.header("x-pid").unwrap();

    // A handler error is a function error: 502 Internal server error.
    let r = c.roundtrip(&get("/prod/fail"));
    assert_eq!(r.status, 502, "{}", r.body_str());
    assert_eq!(r.json(), json!({ "message": "Internal server error" }));

    // Past the function's timeout: 504, and the process is killed and replaced.
    let started = Instant::now();
    let r = c.roundtrip(&get("/prod/sleep"));
    assert_eq!(r.status, 504, "{}", r.body_str());
    assert_eq!(r.json(), json!({ "message": "Endpoint request timed out" }));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "answered at the timeout"
    );
    wait_warm(&gw, "app");
    let r = gw.client().roundtrip(&get("/prod/again"));
    assert_eq!(r.status, 201, "a new process serves: {}", r.body_str());
    let after_timeout = r.header("x-pid").unwrap();
    assert_ne!(
        after_timeout, first_pid,
        "the timed-out process was replaced"
    );

    // A process that dies mid-request: 502, then a fresh process serves.
    let r = gw.client().roundtrip(&get("/prod/crash"));
    assert_eq!(r.status, 502, "{}", r.body_str());
    wait_warm(&gw, "app");
    let r = gw.client().roundtrip(&get("/prod/after-crash"));
    assert_eq!(r.status, 201, "{}", r.body_str());
    assert_ne!(r.header("x-pid").unwrap(), after_timeout);
}

#[test]
fn an_http_api_answers_503_when_the_function_times_out() {
    if !python_with("the local Lambda proxy test", &["awslambdaric"]) {
        return;
    }
    let dir = TempDir::new("proxy-fn-http");
    std::fs::write(dir.file("app.py"), APP).unwrap();
    let mut paths = serde_json::Map::new();
    paths.insert(
        "/{proxy+}".into(),
        proxy("app", json!({ "payloadFormatVersion": "2.0" })),
    );
    let config = json!({
        "server": { "defaultApi": { "apiId": "hapi" } },
        "apis": [{ "id": "hapi", "protocolType": "HTTP", "definition": openapi(Value::Object(paths)) }],
        "stages": [stage("hapi", "$default")],
        "functions": { "app": python_function(&dir, 1000) }
    });
    let gw = Gateway::start(config);
    wait_warm(&gw, "app");
    let r = gw.client().roundtrip(&get("/items/1"));
    assert_eq!(r.status, 201, "{}\n{}", r.body_str(), gw.stderr());
    assert_eq!(r.json()["path"], "/items/1");
    let r = gw.client().roundtrip(&get("/sleep"));
    assert_eq!(r.status, 503, "{}", r.body_str());
    assert_eq!(r.json(), json!({ "message": "Service Unavailable" }));
}

#[test]
fn a_rust_function_on_lambda_runtime_serves_rest_and_http_apis() {
    let Some(bin) = lambda_echo("a_rust_function_on_lambda_runtime_serves_rest_and_http_apis")
    else {
        return;
    };
    let function = json!({ "local": { "command": [bin.display().to_string()], "concurrency": 2 } });
    let gw = Gateway::start(rest("echo", json!({ "echo": function.clone() })));
    for i in 0..20 {
        let r = gw.client().roundtrip(&get(&format!("/prod/r/{i}")));
        assert_eq!(r.status, 200, "{}\n{}", r.body_str(), gw.stderr());
        assert_eq!(r.body_str(), "hello world\n");
        assert_eq!(r.header("x-path"), Some(format!("/r/{i}")));
        assert!(r.header("x-request-id").is_some_and(|id| id.len() == 36));
    }

    let mut paths = serde_json::Map::new();
    paths.insert(
        "/{proxy+}".into(),
        proxy("echo", json!({ "payloadFormatVersion": "2.0" })),
    );
    let gw = Gateway::start(json!({
        "server": { "defaultApi": { "apiId": "hapi" } },
        "apis": [{ "id": "hapi", "protocolType": "HTTP", "definition": openapi(Value::Object(paths)) }],
        "stages": [stage("hapi", "$default")],
        "functions": { "echo": function }
    }));
    let r = gw.client().roundtrip(&get("/v2/path"));
    assert_eq!(r.status, 200, "{}\n{}", r.body_str(), gw.stderr());
    assert_eq!(r.body_str(), "hello world\n");
    assert_eq!(r.header("x-path").as_deref(), Some("/v2/path"));
}
