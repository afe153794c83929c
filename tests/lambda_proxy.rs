//! Lambda proxy integrations end to end (issue 9, SPEC-NOTES §1): a Python function
//! (`scripts/lambda_function.py`, ordinary handler code behind a tiny HTTP endpoint that
//! speaks the Lambda JSON) echoes the event it got, or returns what the request's `X-Result`
//! header says; it is started per test on loopback and killed by PID. The gateway reaches it
//! through the gateway file's `functions`.
//!
//! REST payload 1.0 and HTTP API payload 1.0 and 2.0 events as the function sees them
//! (headers, multi-value query strings, cookies, path parameters, stage variables, raw path
//! and query, bodies whole — chunked and larger than one read — and base64 for binary media
//! types); results mapped as API Gateway maps them (malformed → 502/500, missing statusCode,
//! multi-value headers merged, base64 bodies, 2.0's inferred format and cookies); a failing,
//! slow or unreachable function; the function chosen per stage by a stage variable; a Lambda
//! authorizer's output in the event (`scripts/lambda_authorizer.py` as the authorizer).
//!
//! Needs `python3` (standard library only). Without it each test says it did not run and
//! passes — except under `CI`, where it fails.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::config::{API, stage};
use support::functions::Script;
use support::http::request;
use support::upstream::refused_port;
use support::*;

/// The function's process (`scripts/lambda_function.py`, or another script).
type Function = Script;

impl Function {
    /// `scripts/lambda_function.py`; `None` (after saying so) when python3 is missing.
    fn echo(test: &str) -> Option<Function> {
        Function::start(test, "lambda_function.py", &[])
    }

    /// The URL path of the last invocation (which `functions` entry was called).
    fn last_path(&self) -> String {
        let s = self.state();
        s["paths"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    fn calls(&self) -> u64 {
        self.state()["calls"].as_u64().unwrap()
    }

    /// `echo` and `other` (the same process under two paths), and `down` (nothing listens).
    fn functions(&self) -> Value {
        let url = |name: &str| format!("http://127.0.0.1:{}/fn/{name}", self.port);
        json!({
            "echo": { "url": url("echo"), "timeoutMs": 2000 },
            "arn:aws:lambda:us-east-1:123456789012:function:other": { "url": url("other") },
            "down": { "url": format!("http://127.0.0.1:{}/", refused_port()) }
        })
    }
}

fn uri(function: &str) -> String {
    format!(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:{function}/invocations"
    )
}

/// An operation whose integration is Lambda proxy to `function`, with `extra` merged in.
fn op(function: &str, extra: Value) -> Value {
    let mut i = json!({ "type": "AWS_PROXY", "httpMethod": "POST", "uri": uri(function) });
    for (k, v) in extra.as_object().unwrap() {
        i[k] = v.clone();
    }
    json!({ "x-amazon-apigateway-integration": i })
}

/// REST API `tapi` with stages `prod` (fn=echo) and `beta` (fn=other), the first path segment
/// naming the stage.
fn rest_config(f: &Function) -> Value {
    let paths = json!({
        "/pets/{id}": { "get": op("echo", json!({})), "post": op("echo", json!({})) },
        "/{proxy+}": { "x-amazon-apigateway-any-method": op("${stageVariables.fn}", json!({})) },
        "/slow": { "get": op("echo", json!({ "timeoutInMillis": 500 })) },
        "/down": { "get": op("down", json!({})) }
    });
    let mut doc = support::config::openapi(paths);
    doc["x-amazon-apigateway-binary-media-types"] =
        json!(["image/png", "application/octet-stream"]);
    let mut prod = stage(API, "prod");
    prod["variables"] = json!({ "fn": "echo", "color": "blue" });
    let mut beta = stage(API, "beta");
    beta["variables"] = json!({ "fn": "other" });
    json!({
        "server": { "defaultApi": { "apiId": API } },
        "apis": [{ "id": API, "protocolType": "REST", "definition": doc }],
        "stages": [prod, beta],
        "functions": f.functions()
    })
}

/// HTTP API `hapi`, stage `dev` (variables) addressed by its name.
fn http_config(f: &Function) -> Value {
    let v2 = json!({ "payloadFormatVersion": "2.0" });
    let paths = json!({
        "/items/{id}": { "get": op("echo", v2.clone()), "post": op("echo", v2.clone()) },
        "/v1/items/{id}": { "get": op("echo", json!({ "payloadFormatVersion": "1.0" })) },
        "/slow": { "get": op("echo", json!({ "payloadFormatVersion": "2.0", "timeoutInMillis": 500 })) },
        "/down": { "get": op("down", v2) }
    });
    let mut dev = stage("hapi", "dev");
    dev["variables"] = json!({ "color": "green" });
    json!({
        "server": { "defaultApi": { "apiId": "hapi" } },
        "apis": [{ "id": "hapi", "protocolType": "HTTP", "definition": support::config::openapi(paths) }],
        "stages": [dev],
        "functions": f.functions()
    })
}

fn get(c: &mut Client, path: &str, headers: &[(&str, &str)]) -> Response {
    c.roundtrip(&request("GET", path, headers, None))
}

/// The event the function echoed.
fn echoed(r: &Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.body_str());
    r.json()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn rest_events_are_payload_1_0() {
    let Some(f) = Function::echo("rest_events_are_payload_1_0") else {
        return;
    };
    let gw = Gateway::start(rest_config(&f));
    let mut c = gw.client();
    let before = now_ms();
    let r = get(
        &mut c,
        "/prod/pets/7?tag=a&tag=b&q=x+y%2Bz",
        &[
            ("User-Agent", "test-agent/1"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
        ],
    );
    let e = echoed(&r);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(e.get("version"), None, "REST events carry no version");
    assert_eq!(e["resource"], "/pets/{id}");
    assert_eq!(e["path"], "/pets/7", "path is without the stage");
    assert_eq!(e["httpMethod"], "GET");
    assert_eq!(e["headers"]["X-Multi"], "two");
    assert_eq!(e["multiValueHeaders"]["X-Multi"], json!(["one", "two"]));
    assert_eq!(e["headers"]["Host"], HOST);
    assert_eq!(
        e["queryStringParameters"],
        json!({ "tag": "b", "q": "x y+z" })
    );
    assert_eq!(
        e["multiValueQueryStringParameters"],
        json!({ "tag": ["a", "b"], "q": ["x y+z"] })
    );
    assert_eq!(e["pathParameters"], json!({ "id": "7" }));
    assert_eq!(
        e["stageVariables"],
        json!({ "fn": "echo", "color": "blue" })
    );
    assert_eq!(e["body"], Value::Null);
    assert_eq!(e["isBase64Encoded"], false);
    let rc = &e["requestContext"];
    assert_eq!(
        rc["path"], "/prod/pets/7",
        "requestContext.path has the stage"
    );
    assert_eq!(rc["stage"], "prod");
    assert_eq!(rc["resourcePath"], "/pets/{id}");
    assert_eq!(rc["httpMethod"], "GET");
    assert_eq!(rc["apiId"], API);
    assert_eq!(rc["protocol"], "HTTP/1.1");
    assert_eq!(rc["domainName"], HOST);
    assert_eq!(rc["domainPrefix"], "gw");
    assert_eq!(
        rc["requestId"].as_str(),
        r.header("x-amzn-RequestId").as_deref()
    );
    assert_eq!(
        rc["extendedRequestId"].as_str(),
        r.header("x-amz-apigw-id").as_deref()
    );
    assert_eq!(rc["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(rc["identity"]["userAgent"], "test-agent/1");
    assert_eq!(rc["identity"]["caller"], Value::Null);
    assert_eq!(rc.get("authorizer"), None);
    let epoch = rc["requestTimeEpoch"]
        .as_u64()
        .expect("requestTimeEpoch is a number");
    assert!(
        epoch + 1000 >= before && epoch <= now_ms() + 1000,
        "{epoch}"
    );
    assert!(rc["requestTime"].as_str().unwrap().ends_with(" +0000"));
    assert_eq!(f.last_path(), "/fn/echo");
    // API Gateway's X-Ray trace header, in the event and on the response.
    let trace = e["headers"]["X-Amzn-Trace-Id"].as_str().unwrap();
    assert!(trace.starts_with("Root=1-") && trace.len() == 40, "{trace}");
    assert_eq!(r.header("X-Amzn-Trace-Id").as_deref(), Some(trace));
    let sent = "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c";
    let r = get(&mut c, "/prod/pets/7", &[("X-Amzn-Trace-Id", sent)]);
    assert_eq!(echoed(&r)["headers"]["X-Amzn-Trace-Id"], sent);
    assert_eq!(r.header("X-Amzn-Trace-Id").as_deref(), Some(sent));

    // No query, no body: null, not {}.
    let e = echoed(&get(&mut c, "/prod/anything/else", &[]));
    assert_eq!(e["resource"], "/{proxy+}");
    assert_eq!(e["pathParameters"], json!({ "proxy": "anything/else" }));
    assert_eq!(e["queryStringParameters"], Value::Null);
    assert_eq!(e["multiValueQueryStringParameters"], Value::Null);
}

#[test]
fn rest_bodies_arrive_whole_and_binary_types_as_base64() {
    let Some(f) = Function::echo("rest_bodies_arrive_whole_and_binary_types_as_base64") else {
        return;
    };
    let gw = Gateway::start(rest_config(&f));
    let mut c = gw.client();
    let json_body = br#"{"a":1}"#;
    let r = c.roundtrip(&request(
        "POST",
        "/prod/pets/1",
        &[("Content-Type", "application/json")],
        Some(json_body),
    ));
    let e = echoed(&r);
    assert_eq!(e["body"], r#"{"a":1}"#);
    assert_eq!(e["isBase64Encoded"], false);
    assert_eq!(
        e["headers"].get("Content-Length"),
        None,
        "dropped as API Gateway does"
    );

    let png = [0x89u8, b'P', b'N', b'G', 0, 255];
    let r = c.roundtrip(&request(
        "POST",
        "/prod/pets/1",
        &[("Content-Type", "image/png")],
        Some(&png),
    ));
    let e = echoed(&r);
    assert_eq!(e["body"], "iVBORwD/");
    assert_eq!(e["isBase64Encoded"], true);

    // A large chunked body, sent in pieces: read whole before the call.
    let big = "x".repeat(300_000);
    let mut raw = b"POST /prod/pets/2 HTTP/1.1\r\nHost: gw.test\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in big.as_bytes().chunks(70_000) {
        raw.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        raw.extend_from_slice(piece);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let e = echoed(&c.roundtrip(&raw));
    assert_eq!(e["body"].as_str().map(str::len), Some(big.len()));
    assert_eq!(e["headers"].get("Transfer-Encoding"), None);

    // The connection still serves the next request.
    let e = echoed(&get(&mut c, "/prod/pets/3", &[]));
    assert_eq!(e["pathParameters"]["id"], "3");

    // Over maxBodyBytes: 413 without calling the function, announced or found while reading.
    let calls = f.calls();
    let gw = Gateway::start(support::config::with_limits(
        rest_config(&f),
        json!({ "maxBodyBytes": 100_000 }),
    ));
    let r = gw.client().roundtrip(&raw);
    assert_eq!(
        (r.status, r.body_str().as_str()),
        (413, r#"{"message":"Request Too Long"}"#)
    );
    let r = gw
        .client()
        .roundtrip(&request("POST", "/prod/pets/1", &[], Some(big.as_bytes())));
    assert_eq!(r.status, 413);
    assert_eq!(f.calls(), calls, "the function was not called");
}

fn result(c: &mut Client, value: &str, accept: &str) -> Response {
    get(
        c,
        "/prod/pets/1",
        &[("X-Result", value), ("Accept", accept)],
    )
}

const REST_502: &str = r#"{"message": "Internal server error"}"#;

#[test]
fn rest_results_are_mapped_as_api_gateway_does() {
    let Some(f) = Function::echo("rest_results_are_mapped_as_api_gateway_does") else {
        return;
    };
    let gw = Gateway::start(rest_config(&f));
    let mut c = gw.client();
    let json = "application/json";

    let r = result(&mut c, r#"{"statusCode":200}"#, json);
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(
        r.header("Content-Type").as_deref(),
        Some("application/json")
    );
    assert!(r.headers.has("x-amzn-RequestId") && r.headers.has("x-amz-apigw-id"));
    let r = result(
        &mut c,
        r#"{"statusCode":200,"headers":{"test-header":"value","header-bool":true}}"#,
        json,
    );
    assert_eq!(r.header("test-header").as_deref(), Some("value"));
    assert_eq!(r.header("header-bool").as_deref(), Some("true"));
    assert_eq!(result(&mut c, r#"{"statusCode":"201"}"#, json).status, 201);
    assert_eq!(
        result(&mut c, r#"{"headers":{"test-header":"value"}}"#, json).status,
        200
    );
    let r = result(
        &mut c,
        r#"{"statusCode":200,"multiValueHeaders":{"tesT-Multi":["value-multi"]},"headers":{"test-multi":"value-solo"}}"#,
        json,
    );
    assert_eq!(
        r.headers.get_all("test-multi"),
        vec!["value-multi", "value-solo"]
    );
    assert!(
        r.headers.names().iter().all(|n| *n != "test-multi"),
        "the multiValueHeaders spelling"
    );
    let r = result(
        &mut c,
        r#"{"statusCode":404,"body":"nope","headers":{"Content-Type":"text/plain","Content-Length":"99"}}"#,
        json,
    );
    assert_eq!((r.status, r.body_str().as_str()), (404, "nope"));
    assert_eq!(r.header("Content-Type").as_deref(), Some("text/plain"));
    let r = result(
        &mut c,
        r#"{"statusCode":200,"body":"x","headers":{"Content-Type":null}}"#,
        json,
    );
    assert_eq!(
        (r.body_str().as_str(), r.header("Content-Type")),
        ("x", None),
        "null: no default"
    );

    // Base64 bodies are decoded only for a binary first Accept type.
    let b64 = r#"{"statusCode":200,"body":"dGVzdC1kYXRh","isBase64Encoded":true}"#;
    assert_eq!(result(&mut c, b64, json).body_str(), "dGVzdC1kYXRh");
    assert_eq!(
        result(&mut c, b64, "image/png, text/html").body_str(),
        "test-data"
    );
    assert_eq!(
        result(&mut c, b64, "text/html, image/png").body_str(),
        "dGVzdC1kYXRh"
    );
    let r = result(
        &mut c,
        r#"{"statusCode":200,"body":"!!","isBase64Encoded":true}"#,
        "image/png",
    );
    assert_eq!((r.status, r.body_str().as_str()), (500, REST_502));

    for bad in [
        r#"{"statusCode":200,"wrongValue":"value"}"#,
        "{}",
        r#""justAString""#,
        r#"{"statusCode":"test"}"#,
        r#"{"statusCode":200,"multiValueHeaders":{"x":"notAList"}}"#,
    ] {
        let r = result(&mut c, bad, json);
        assert_eq!((r.status, r.body_str().as_str()), (502, REST_502), "{bad}");
        assert_eq!(
            r.header("x-amzn-ErrorType").as_deref(),
            Some("InternalServerErrorException")
        );
    }
    // A function error (Lambda's X-Amz-Function-Error) or a failing endpoint.
    for mode in ["error", "status500"] {
        let r = get(&mut c, "/prod/pets/1", &[("X-Mode", mode)]);
        assert_eq!((r.status, r.body_str().as_str()), (502, REST_502), "{mode}");
    }
    // The connection survives all of it.
    assert_eq!(result(&mut c, r#"{"statusCode":200}"#, json).status, 200);
}

#[test]
fn slow_and_unreachable_functions() {
    let Some(f) = Function::echo("slow_and_unreachable_functions") else {
        return;
    };
    let mut cfg = rest_config(&f);
    // Issue 7: the access log and metrics see the function's latency and the failure.
    cfg["stages"][0]["accessLogSettings"] = json!({ "destinationArn": "access.log",
        "format": "$context.status $context.error.responseType $context.integrationLatency $context.resourcePath" });
    let gw = Gateway::start(cfg);
    let mut c = gw.client();
    let started = Instant::now();
    let r = get(&mut c, "/prod/slow", &[("X-Mode", "slow")]);
    assert_eq!(r.status, 504, "{}", r.body_str());
    assert_eq!(r.body_str(), r#"{"message": "Endpoint request timed out"}"#);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "timeoutInMillis (500) applied"
    );
    let r = get(&mut c, "/prod/down", &[]);
    assert_eq!((r.status, r.body_str().as_str()), (502, REST_502));
    let log = gw.dir.file("access.log");
    assert!(
        wait_until(Duration::from_secs(5), || std::fs::read_to_string(&log)
            .is_ok_and(|t| t.lines().count() == 2)),
        "access log: {:?}",
        std::fs::read_to_string(&log)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!((lines[0][0], lines[0][3]), ("504", "/slow"), "{text}");
    let waited: u64 = lines[0][2].parse().unwrap();
    assert!((450..2500).contains(&waited), "{text}");
    assert_eq!((lines[1][0], lines[1][3]), ("502", "/down"), "{text}");
    assert!(
        lines[1][1].starts_with("INTEGRATION_") || lines[1][1].starts_with("DEFAULT_5XX"),
        "{text}"
    );
    let slow = || {
        let m = gw.admin("GET", "/metrics.json").json();
        m["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["resource"] == "/slow" && s["stage"] == "prod")
            .cloned()
            .unwrap()
    };
    assert!(wait_until(Duration::from_secs(5), || slow()["Count"] == 1));
    let slow = slow();
    assert_eq!(slow["5XXError"], 1, "{slow}");
    assert_eq!(slow["IntegrationLatency"]["count"], 1, "{slow}");

    let gw = Gateway::start(http_config(&f));
    let mut c = gw.client();
    let r = get(&mut c, "/dev/slow", &[("X-Mode", "slow")]);
    assert_eq!(
        (r.status, r.body_str().as_str()),
        (503, r#"{"message":"Service Unavailable"}"#)
    );
    let r = get(&mut c, "/dev/down", &[]);
    assert_eq!(
        (r.status, r.body_str().as_str()),
        (500, r#"{"message":"Internal Server Error"}"#)
    );
}

#[test]
fn a_stage_variable_chooses_the_function() {
    let Some(f) = Function::echo("a_stage_variable_chooses_the_function") else {
        return;
    };
    let gw = Gateway::start(rest_config(&f));
    let mut c = gw.client();
    let e = echoed(&get(&mut c, "/prod/x", &[]));
    assert_eq!(e["stageVariables"]["fn"], "echo");
    assert_eq!(f.last_path(), "/fn/echo");
    let e = echoed(&get(&mut c, "/beta/x", &[]));
    assert_eq!(e["requestContext"]["stage"], "beta");
    assert_eq!(
        f.last_path(),
        "/fn/other",
        "found by `other` inside the full ARN"
    );
    assert_eq!(f.calls(), 2);
}

#[test]
fn http_api_events_2_0_and_1_0() {
    let Some(f) = Function::echo("http_api_events_2_0_and_1_0") else {
        return;
    };
    let gw = Gateway::start(http_config(&f));
    let mut c = gw.client();
    let r = get(
        &mut c,
        "/dev/items/42?a=1&a=2&b=x%20y",
        &[
            ("User-Agent", "ua/2"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("Cookie", "c1=v1; c2=v2"),
            ("Cookie", "c3=v3"),
        ],
    );
    let e = echoed(&r);
    assert!(r.headers.has("apigw-requestid"));
    assert_eq!(e["version"], "2.0");
    assert_eq!(e["routeKey"], "GET /items/{id}");
    assert_eq!(e["rawPath"], "/dev/items/42", "rawPath has the stage");
    assert_eq!(e["rawQueryString"], "a=1&a=2&b=x%20y");
    assert_eq!(e["cookies"], json!(["c1=v1", "c2=v2", "c3=v3"]));
    assert_eq!(e["headers"]["x-multi"], "one,two");
    assert_eq!(e["headers"].get("cookie"), None);
    assert_eq!(
        e["queryStringParameters"],
        json!({ "a": "1,2", "b": "x y" })
    );
    assert_eq!(e["pathParameters"], json!({ "id": "42" }));
    assert_eq!(e["stageVariables"], json!({ "color": "green" }));
    assert_eq!(e.get("body"), None);
    assert_eq!(e["isBase64Encoded"], false);
    let rc = &e["requestContext"];
    assert_eq!(
        rc["requestId"].as_str(),
        r.header("apigw-requestid").as_deref()
    );
    assert_eq!(rc["routeKey"], "GET /items/{id}");
    assert_eq!(rc["stage"], "dev");
    assert_eq!(
        rc["http"],
        json!({ "method": "GET", "path": "/dev/items/42", "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1", "userAgent": "ua/2" })
    );
    assert!(rc["timeEpoch"].is_u64());

    let r = c.roundtrip(&request(
        "POST",
        "/dev/items/1",
        &[("Content-Type", "text/plain")],
        Some(b"hello"),
    ));
    let e = echoed(&r);
    assert_eq!(
        (e["body"].as_str(), e["isBase64Encoded"].as_bool()),
        (Some("hello"), Some(false))
    );
    let r = c.roundtrip(&request(
        "POST",
        "/dev/items/1",
        &[("Content-Type", "application/octet-stream")],
        Some(&[1, 2, 3]),
    ));
    let e = echoed(&r);
    assert_eq!(
        (e["body"].as_str(), e["isBase64Encoded"].as_bool()),
        (Some("AQID"), Some(true))
    );

    let r = get(
        &mut c,
        "/dev/v1/items/9?a=1&a=2",
        &[("X-Multi", "one"), ("X-Multi", "two")],
    );
    let e = echoed(&r);
    assert_eq!(e["version"], "1.0");
    assert_eq!(e["path"], "/v1/items/9");
    assert_eq!(e["requestContext"]["path"], "/dev/v1/items/9");
    assert_eq!(e["multiValueHeaders"]["X-Multi"], json!(["one", "two"]));
    assert_eq!(e["multiValueQueryStringParameters"]["a"], json!(["1", "2"]));
    assert_eq!(
        e["requestContext"]["requestId"].as_str(),
        r.header("apigw-requestid").as_deref()
    );
}

#[test]
fn http_api_results_2_0() {
    let Some(f) = Function::echo("http_api_results_2_0") else {
        return;
    };
    let gw = Gateway::start(http_config(&f));
    let mut c = gw.client();
    let result = |c: &mut Client, v: &str| get(c, "/dev/items/1", &[("X-Result", v)]);
    for (value, body) in [
        (r#""Hello""#, "Hello"),
        ("42", "42"),
        (r#"{"message":"hi"}"#, r#"{"message":"hi"}"#),
    ] {
        let r = result(&mut c, value);
        assert_eq!((r.status, r.body_str().as_str()), (200, body), "{value}");
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/json"),
            "{value}"
        );
    }
    let r = result(
        &mut c,
        r#"{"statusCode":201,"body":"made","cookies":["a=1; Path=/","b=2"],"headers":{"x-h":"v"}}"#,
    );
    assert_eq!((r.status, r.body_str().as_str()), (201, "made"));
    assert_eq!(r.headers.get_all("set-cookie"), vec!["a=1; Path=/", "b=2"]);
    assert_eq!(r.header("x-h").as_deref(), Some("v"));
    let r = result(
        &mut c,
        r#"{"statusCode":200,"body":"dGVzdC1kYXRh","isBase64Encoded":true}"#,
    );
    assert_eq!(r.body_str(), "test-data");
    let r = result(&mut c, r#"{"statusCode":200,"body":"plain"}"#);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    let internal = r#"{"message":"Internal Server Error"}"#;
    let r = result(&mut c, r#"{"statusCode":"abc"}"#);
    assert_eq!((r.status, r.body_str().as_str()), (500, internal));
    let r = get(&mut c, "/dev/items/1", &[("X-Mode", "error")]);
    assert_eq!((r.status, r.body_str().as_str()), (500, internal));
}

#[test]
fn the_authorizer_output_reaches_the_event() {
    let test = "the_authorizer_output_reaches_the_event";
    let Some(f) = Function::echo(test) else {
        return;
    };
    let Some(auth) = Function::start(test, "lambda_authorizer.py", &[]) else {
        return;
    };
    let auth_uri = uri("auth");
    let scheme = |authorizer: Value| {
        json!({ "type": "apiKey", "name": "Authorization", "in": "header",
                "x-amazon-apigateway-authtype": "custom",
                "x-amazon-apigateway-authorizer": authorizer })
    };
    let secured = |extra: Value| {
        let mut m = op("echo", extra);
        m["security"] = json!([{ "lam": [] }]);
        m
    };
    let mut config = rest_config(&f);
    let doc = &mut config["apis"][0]["definition"];
    doc["paths"]["/secure"] = json!({ "get": secured(json!({})) });
    doc["components"] = json!({ "securitySchemes": { "lam": scheme(json!({
        "type": "token", "authorizerUri": auth_uri, "authorizerResultTtlInSeconds": 0 })) } });
    config["functions"]["auth"] = json!({ "url": format!("http://127.0.0.1:{}/", auth.port) });
    let gw = Gateway::start(config);
    let mut c = gw.client();
    let e = echoed(&get(&mut c, "/prod/secure", &[("Authorization", "allow")]));
    assert_eq!(
        e["requestContext"]["authorizer"],
        json!({ "principalId": "user-allow", "tier": "gold", "count": "3", "admin": "true",
                "integrationLatency": 0 })
    );
    let r = get(&mut c, "/prod/secure", &[("Authorization", "deny")]);
    assert_eq!(r.status, 403);

    // HTTP API, payload 2.0 event, simple-response authorizer.
    let mut config = http_config(&f);
    let doc = &mut config["apis"][0]["definition"];
    doc["paths"]["/secure"] = json!({ "get": secured(json!({ "payloadFormatVersion": "2.0" })) });
    doc["components"] = json!({ "securitySchemes": { "lam": scheme(json!({
        "type": "request", "authorizerUri": auth_uri, "authorizerPayloadFormatVersion": "2.0",
        "enableSimpleResponses": true, "identitySource": "$request.header.Authorization",
        "authorizerResultTtlInSeconds": 0 })) } });
    config["functions"]["auth"] = json!({ "url": format!("http://127.0.0.1:{}/", auth.port) });
    let gw = Gateway::start(config);
    let mut c = gw.client();
    let e = echoed(&get(&mut c, "/dev/secure", &[("Authorization", "yes")]));
    assert_eq!(
        e["requestContext"]["authorizer"],
        json!({ "lambda": { "who": "simple-yes" } })
    );
}
