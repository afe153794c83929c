//! Issue 7 "Execution logs", black-box: a stage's `methodSettings` `loggingLevel` (`*/*` and
//! per-method keys) and `dataTraceEnabled` write JSON lines to `server.executionLog`: every
//! request at INFO, failed ones at ERROR, none at OFF; a data trace has the headers with
//! credentials redacted and at most 1 KiB of the request body.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::config::{API, http_proxy, method_with, mock_method, openapi, stage};
use support::http::request;
use support::*;

fn logging_stage(name: &str, settings: Value) -> Value {
    let mut s = stage(API, name);
    s["methodSettings"] = settings;
    s
}

fn config(up: &Upstream, stages: Vec<Value>) -> Value {
    let mut items = mock_method(200, &[], r#"{"ok":true}"#);
    items["parameters"] =
        json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
    let closed = free_port();
    json!({
        "server": { "executionLog": "exec.log" },
        "apis": [{ "id": API, "protocolType": "REST", "definition": openapi(json!({
            "/items/{id}": { "get": items },
            "/echo": { "post": method_with(http_proxy(&up.uri("/echo"))) },
            "/down": { "get": method_with(http_proxy(&format!("http://127.0.0.1:{closed}/"))) }
        })) }],
        "stages": stages
    })
}

/// The JSON lines of `file` once it has at least `n`, after a pause that would let more arrive.
fn lines(file: &Path, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.lines().count() >= n {
            std::thread::sleep(Duration::from_millis(400));
            let text = std::fs::read_to_string(file).unwrap_or_default();
            return text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} lines: {text}",
            text.lines().count()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn send(
    c: &mut Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut all = vec![("Host", "tapi.execute-api.localhost")];
    all.extend_from_slice(headers);
    c.roundtrip(&request(method, path, &all, body))
}

#[test]
fn levels_choose_the_requests_and_lines_carry_the_fields() {
    let up = Upstream::echo();
    let gw = Gateway::start_one_worker(config(
        &up,
        vec![
            logging_stage("info", json!({ "*/*": { "loggingLevel": "INFO" } })),
            logging_stage("error", json!({ "*/*": { "loggingLevel": "ERROR" } })),
            stage(API, "off"),
            logging_stage(
                "mixed",
                json!({ "*/*": { "loggingLevel": "INFO" }, "~1items~1{id}/GET": { "loggingLevel": "OFF" } }),
            ),
        ],
    ));
    let mut c = gw.client();
    let ok = send(
        &mut c,
        "GET",
        "/info/items/7",
        &[(
            "X-Amzn-Trace-Id",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
        )],
        None,
    );
    assert_eq!(ok.status, 200);
    assert_eq!(send(&mut c, "GET", "/info/nothing", &[], None).status, 403);
    assert_eq!(
        send(&mut c, "POST", "/info/echo", &[], Some(b"hi")).status,
        200
    );
    assert_eq!(send(&mut c, "GET", "/error/items/7", &[], None).status, 200);
    let down = send(&mut c, "GET", "/error/down", &[], None);
    assert!(down.status >= 500, "{}", down.status);
    assert_eq!(send(&mut c, "GET", "/off/items/7", &[], None).status, 200);
    assert_eq!(
        send(&mut c, "GET", "/off/down", &[], None).status,
        down.status
    );
    assert_eq!(send(&mut c, "GET", "/mixed/items/7", &[], None).status, 200);
    assert_eq!(
        send(&mut c, "POST", "/mixed/echo", &[], Some(b"x")).status,
        200
    );

    let got = lines(&gw.dir.file("exec.log"), 5);
    let summary: Vec<(String, String, String, u64)> = got
        .iter()
        .map(|l| {
            (
                l["stage"].as_str().unwrap().to_string(),
                l["level"].as_str().unwrap().to_string(),
                l["path"].as_str().unwrap().to_string(),
                l["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c: &str, d: u64| (a.to_string(), b.to_string(), c.to_string(), d);
    assert_eq!(
        summary,
        vec![
            s("info", "INFO", "/info/items/7", 200),
            s("info", "ERROR", "/info/nothing", 403),
            s("info", "INFO", "/info/echo", 200),
            s("error", "ERROR", "/error/down", u64::from(down.status)),
            s("mixed", "INFO", "/mixed/echo", 200),
        ]
    );
    let first = &got[0];
    assert_eq!(first["apiId"], API);
    assert_eq!(first["httpMethod"], "GET");
    assert_eq!(first["resourcePath"], "/items/{id}");
    assert_eq!(first["traceId"], "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(
        first["requestId"].as_str(),
        ok.header("x-amzn-RequestId").as_deref()
    );
    assert_eq!(first["extendedRequestId"].as_str().map(str::len), Some(16));
    assert!(first["time"].as_u64().is_some() && first["latencyMs"].as_u64().is_some());
    assert_eq!(first["errorType"], Value::Null);
    assert!(first.get("request").is_none(), "no data trace: {first}");
    assert_eq!(got[1]["errorType"], "MISSING_AUTHENTICATION_TOKEN");
    assert_eq!(got[1]["errorMessage"], "Missing Authentication Token");
    assert_eq!(got[2]["integrationStatus"], 200);
    assert!(got[2]["integrationLatencyMs"].as_u64().is_some());
    assert!(got[3]["errorType"].as_str().is_some(), "{}", got[3]);
    assert!(
        got.iter()
            .all(|l| l["traceId"].as_str().is_some_and(|t| t.starts_with("1-")))
    );
}

/// One worker, stage `traced` with `INFO` and `dataTraceEnabled` on every method.
fn data_traced(up: &Upstream) -> Gateway {
    Gateway::start_one_worker(config(
        up,
        vec![logging_stage(
            "traced",
            json!({ "*/*": { "loggingLevel": "INFO", "dataTraceEnabled": true } }),
        )],
    ))
}

#[test]
fn data_trace_redacts_credentials_and_bounds_the_body() {
    let up = Upstream::echo();
    let gw = data_traced(&up);
    let mut c = gw.client();
    let body = vec![b'b'; 3000];
    let r = send(
        &mut c,
        "POST",
        "/traced/echo",
        &[
            ("Authorization", "Bearer secret-token"),
            ("X-Api-Key", "secret-key"),
            ("Cookie", "session=secret-cookie; theme=dark"),
            ("X-Custom", "visible \"value\""),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 200);
    let got = lines(&gw.dir.file("exec.log"), 1);
    assert_eq!(got.len(), 1);
    let line = &got[0];
    let text = line.to_string();
    assert!(!text.contains("secret"), "{text}");
    let headers = &line["request"]["headers"];
    assert_eq!(headers["Authorization"], "[REDACTED]");
    assert_eq!(headers["X-Api-Key"], "[REDACTED]");
    assert_eq!(headers["Cookie"], "session=[REDACTED]; theme=[REDACTED]");
    assert_eq!(headers["X-Custom"], "visible \"value\"");
    assert_eq!(line["httpMethod"], "POST");
    assert_eq!(line["path"], "/traced/echo");
    let logged = line["request"]["body"].as_str().unwrap();
    assert!(
        logged.len() <= 1024 && !logged.is_empty(),
        "{}",
        logged.len()
    );
    assert!(logged.bytes().all(|b| b == b'b'));
}

#[test]
fn raw_client_bytes_keep_the_line_valid_json() {
    let up = Upstream::echo();
    let gw = data_traced(&up);
    let mut c = gw.client();
    let mut req = request(
        "GET",
        "/traced/items/1",
        &[
            ("Host", "tapi.execute-api.localhost"),
            ("X-Bytes", "@RAW@"),
            ("Cookie", "@RAW@"),
        ],
        None,
    );
    // An invalid byte, a cut sequence and valid multi-byte text, in a header and a cookie name.
    for raw in [&b"caf\xc3\xa9 \xff \xe4\xb8"[..], b"n\xfe\xc3\xa9=v"] {
        let at = req.windows(5).position(|w| w == b"@RAW@").unwrap();
        req.splice(at..at + 5, raw.iter().copied());
    }
    assert_eq!(c.roundtrip(&req).status, 200);
    let got = lines(&gw.dir.file("exec.log"), 1);
    let headers = &got[0]["request"]["headers"];
    assert_eq!(headers["X-Bytes"], "caf\u{e9} \u{fffd} \u{fffd}");
    assert_eq!(headers["Cookie"], "n\u{fffd}\u{e9}=[REDACTED]");
}

#[test]
fn bad_settings_are_named() {
    let up = Upstream::echo();
    let mut cfg = config(
        &up,
        vec![logging_stage(
            "s",
            json!({ "*/*": { "loggingLevel": "DEBUG", "dataTraceEnabled": "yes" } }),
        )],
    );
    cfg["server"]["executionLog"] = json!("");
    let err = Gateway::try_start_with(cfg, Default::default())
        .err()
        .expect("refused");
    for want in [
        "unknown loggingLevel `DEBUG`: expected OFF, ERROR or INFO",
        "$.stages[0].methodSettings.*/*.dataTraceEnabled",
        "$.server.executionLog",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn http_api_route_settings_override_the_default() {
    let up = Upstream::echo();
    let closed = free_port();
    let mut s = stage("hapi", "s");
    s["defaultRouteSettings"] = json!({ "loggingLevel": "ERROR" });
    s["routeSettings"] = json!({ "GET /items": { "loggingLevel": "INFO" } });
    let gw = Gateway::start_one_worker(json!({
        "server": { "executionLog": "exec.log" },
        "apis": [{ "id": "hapi", "protocolType": "HTTP", "definition": openapi(json!({
            "/items": { "get": method_with(http_proxy(&up.uri("/items"))) },
            "/down": { "get": method_with(http_proxy(&format!("http://127.0.0.1:{closed}/"))) },
            "/quiet": { "get": method_with(http_proxy(&up.uri("/quiet"))) }
        })) }],
        "stages": [s]
    }));
    let mut c = gw.client();
    let host = [("Host", "hapi.execute-api.localhost")];
    for (path, status) in [
        ("/s/items", 200),
        ("/s/quiet", 200),
        ("/s/down", 0),
        ("/s/nothing", 404),
    ] {
        let r = c.roundtrip(&request("GET", path, &host, None));
        if status > 0 {
            assert_eq!(r.status, status, "{path}");
        } else {
            assert!(r.status >= 500, "{path}: {}", r.status);
        }
    }
    let got = lines(&gw.dir.file("exec.log"), 3);
    let paths: Vec<(&str, &str)> = got
        .iter()
        .map(|l| (l["path"].as_str().unwrap(), l["level"].as_str().unwrap()))
        .collect();
    assert_eq!(
        paths,
        vec![
            ("/s/items", "INFO"),
            ("/s/down", "ERROR"),
            ("/s/nothing", "ERROR")
        ]
    );
    assert_eq!(got[0]["resourcePath"], "/items");
    assert_eq!(got[2]["errorType"], "RESOURCE_NOT_FOUND");
}
