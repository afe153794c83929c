//! Issue 7 "Tracing", black-box: stages with `tracingEnabled: true` export one span per
//! request as OTLP/HTTP JSON to `server.otlp.endpoint` (recorded by `scripts/otlp_receiver.py`)
//! with the request's trace id (the client's `traceparent`'s, else the `X-Amzn-Trace-Id`
//! Root's), parent, name, status and attributes; other stages export none; with the
//! collector down the spans are dropped and counted, and the failure is logged once.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::config::{API, http_proxy, method_with, mock_method, openapi, stage};
use support::http::request;
use support::*;

/// The receiver process; killed by its PID on drop.
struct Receiver {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Receiver {
    fn start(dir: &Path) -> Option<Receiver> {
        if !python_with("otlp", &[]) {
            return None;
        }
        let out = dir.join("otlp.jsonl");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/otlp_receiver.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start otlp_receiver.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("receiver port");
        let port = line.trim().parse().expect("receiver prints its port");
        Some(Receiver { child, port, out })
    }

    /// Every span posted so far, with the request it came in.
    fn spans(&self) -> Vec<(Value, Value)> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        let mut out = Vec::new();
        for l in text.lines() {
            let post: Value = serde_json::from_str(l).unwrap();
            for rs in post["body"]["resourceSpans"].as_array().unwrap() {
                for ss in rs["scopeSpans"].as_array().unwrap() {
                    for span in ss["spans"].as_array().unwrap() {
                        out.push((post.clone(), span.clone()));
                    }
                }
            }
        }
        out
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(otlp: Value, closed: u16, echo: u16) -> Value {
    let mut items = mock_method(200, &[], r#"{"ok":true}"#);
    items["parameters"] =
        json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
    let mut traced = stage(API, "traced");
    traced["tracingEnabled"] = json!(true);
    json!({
        "server": { "otlp": otlp },
        "apis": [{ "id": API, "protocolType": "REST", "definition": openapi(json!({
            "/items/{id}": { "get": items },
            "/down": { "get": method_with(http_proxy(&format!("http://127.0.0.1:{closed}/"))) },
            "/echo": { "get": method_with(http_proxy(&format!("http://127.0.0.1:{echo}/echo"))) }
        })) }],
        "stages": [traced, stage(API, "plain")]
    })
}

fn get(c: &mut Client, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut all = vec![("Host", "tapi.execute-api.localhost")];
    all.extend_from_slice(headers);
    c.roundtrip(&request("GET", path, &all, None))
}

fn attr(span: &Value, key: &str) -> Value {
    let a = span["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == key)
        .unwrap_or_else(|| panic!("no {key}: {span}"));
    let v = &a["value"];
    v.get("stringValue")
        .or_else(|| v.get("intValue"))
        .cloned()
        .unwrap()
}

#[test]
fn traced_stages_export_one_span_per_request() {
    let dir = TempDir::new("otlp");
    let Some(rx) = Receiver::start(&dir.path) else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", rx.port);
    let up = Upstream::echo();
    let gw = Gateway::start(config(
        json!({ "endpoint": endpoint, "batchSize": 10, "intervalMs": 100 }),
        free_port(),
        up.port(),
    ));
    let mut c = gw.client();
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let a = get(&mut c, "/traced/items/7", &[("traceparent", parent)]);
    assert_eq!(a.status, 200);
    let b = get(
        &mut c,
        "/traced/items/8",
        &[(
            "X-Amzn-Trace-Id",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
        )],
    );
    assert_eq!(b.status, 200);
    let down = get(&mut c, "/traced/down", &[]);
    assert!(down.status >= 500);
    assert_eq!(get(&mut c, "/traced/echo", &[]).status, 200);
    let sent = up.requests().pop().expect("the upstream got the request");
    let upstream_parent = sent.header("traceparent").expect("a started traceparent");
    for _ in 0..3 {
        assert_eq!(get(&mut c, "/plain/items/7", &[]).status, 200);
    }

    let deadline = Instant::now() + Duration::from_secs(10);
    while rx.spans().len() < 4 {
        assert!(Instant::now() < deadline, "spans: {:?}", rx.spans());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let spans = rx.spans();
    assert_eq!(spans.len(), 4, "none for the untraced stage: {spans:?}");
    for (post, _) in &spans {
        assert_eq!(post["path"], "/v1/traces");
        assert_eq!(post["contentType"], "application/json");
    }
    let by_path = |p: &str| {
        spans
            .iter()
            .map(|(_, s)| s)
            .find(|s| attr(s, "url.path") == p)
            .unwrap_or_else(|| panic!("no span for {p}: {spans:?}"))
            .clone()
    };
    let first = by_path("/traced/items/7");
    assert_eq!(first["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(first["parentSpanId"], "00f067aa0ba902b7");
    let span_id = first["spanId"].as_str().unwrap();
    assert!(span_id.len() == 16 && span_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(first["name"], "GET /items/{id}");
    assert_eq!(first["kind"], 2);
    assert_eq!(first["status"]["code"], 0);
    assert_eq!(attr(&first, "http.request.method"), "GET");
    assert_eq!(attr(&first, "http.route"), "/items/{id}");
    assert_eq!(attr(&first, "http.response.status_code"), "200");
    assert_eq!(attr(&first, "aws.api_gateway.api_id"), API);
    assert_eq!(attr(&first, "aws.api_gateway.stage"), "traced");
    assert_eq!(
        attr(&first, "aws.request_id").as_str(),
        a.header("x-amzn-RequestId").as_deref()
    );
    let start: u64 = first["startTimeUnixNano"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let end: u64 = first["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(
        start <= end && now - end < 60_000_000_000,
        "{start} {end} {now}"
    );

    let second = by_path("/traced/items/8");
    assert_eq!(second["traceId"], "5759e988bd862e3fe1be46a994272793");
    assert!(second.get("parentSpanId").is_none(), "{second}");
    let third = by_path("/traced/down");
    assert_eq!(third["status"]["code"], 2);
    assert_eq!(
        attr(&third, "http.response.status_code"),
        down.status.to_string()
    );
    assert_ne!(third["spanId"], second["spanId"]);
    // The upstream's traceparent names this span: same trace, tollgate's span as parent.
    let proxied = by_path("/traced/echo");
    assert_eq!(
        upstream_parent,
        format!(
            "00-{}-{}-00",
            proxied["traceId"].as_str().unwrap(),
            proxied["spanId"].as_str().unwrap()
        )
    );
}

#[test]
fn a_down_collector_costs_dropped_spans_not_waiting() {
    let closed = free_port();
    let gw = Gateway::start_one_worker(config(
        json!({ "endpoint": format!("http://127.0.0.1:{closed}"), "batchSize": 50, "intervalMs": 50 }),
        free_port(),
        free_port(),
    ));
    let mut c = gw.client();
    let started = Instant::now();
    for i in 0..2000 {
        assert_eq!(get(&mut c, &format!("/traced/items/{i}"), &[]).status, 200);
    }
    let elapsed = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(10);
    let dropped = loop {
        let text = gw.admin("GET", "/metrics").body_str().to_string();
        let dropped: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("tollgate_otlp_spans_dropped_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if dropped > 0 || Instant::now() > deadline {
            break dropped;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(dropped > 0, "no span counted as dropped");
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    let failures = gw.stderr().matches("OTLP: export to").count();
    assert_eq!(failures, 1, "{}", gw.stderr());
}

/// SIGTERM sends the spans gathered so far instead of losing them with the interval that
/// had not ended yet.
#[test]
fn spans_gathered_at_shutdown_are_sent() {
    let dir = TempDir::new("otlp-shutdown");
    let Some(rx) = Receiver::start(&dir.path) else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", rx.port);
    let mut gw = Gateway::start(config(
        json!({ "endpoint": endpoint, "batchSize": 10000, "intervalMs": 60000 }),
        free_port(),
        free_port(),
    ));
    let mut c = gw.client();
    for i in 0..5 {
        assert_eq!(get(&mut c, &format!("/traced/items/{i}"), &[]).status, 200);
    }
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    assert!(rx.spans().is_empty(), "sent before the interval ended");
    gw.sigterm();
    let status = gw.wait_exit(Duration::from_secs(15)).expect("exits");
    assert!(status.success(), "{status:?}");
    let mut paths: Vec<String> = rx
        .spans()
        .iter()
        .map(|(_, s)| attr(s, "url.path").as_str().unwrap_or_default().to_string())
        .collect();
    paths.sort();
    let want: Vec<String> = (0..5).map(|i| format!("/traced/items/{i}")).collect();
    assert_eq!(paths, want);
}
