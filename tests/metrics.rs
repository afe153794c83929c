//! Issue 7 "Metrics", black-box: after known traffic, admin `GET /metrics` (Prometheus text)
//! and `GET /metrics.json` show API Gateway's counts per API/stage/resource/method, cache
//! hits and misses, throttled and quota-refused counts per usage plan, latency histograms and
//! percentiles, and the gateway's health counters.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::config::{API, STAGE, method_with, mock_method, openapi, stage};
use support::http::{get, request};
use support::*;

const THROTTLED_KEY: &str = "throttled-key-value-0123456789";
const CAPPED_KEY: &str = "capped-key-value-0123456789ab";

fn config(up: &Upstream) -> Value {
    let proxy =
        |uri: String| method_with(json!({ "type": "http_proxy", "httpMethod": "GET", "uri": uri }));
    let mut items = proxy(up.uri("/items/{id}"));
    items["parameters"] =
        json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
    items["x-amazon-apigateway-integration"]["requestParameters"] =
        json!({ "integration.request.path.id": "method.request.path.id" });
    let mut doc = openapi(json!({
        "/items/{id}": { "get": items },
        "/cached": { "get": proxy(up.uri("/cached")) },
        "/gone": { "get": mock_method(404, &[], "{}") },
        "/broken": { "post": mock_method(500, &[], "{}") },
        "/keyed": { "get": mock_method(200, &[], "{}") },
    }));
    doc["paths"]["/keyed"]["get"]["security"] = json!([{ "api_key": [] }]);
    doc["components"] = json!({ "securitySchemes": { "api_key": {
        "type": "apiKey", "name": "x-api-key", "in": "header" } } });
    let mut st = stage(API, STAGE);
    st["cacheClusterEnabled"] = json!(true);
    st["methodSettings"] = json!({
        "*/*": { "cachingEnabled": false },
        "/cached/GET": { "cachingEnabled": true, "cacheTtlInSeconds": 300 }
    });
    json!({
        "server": { "defaultApi": { "apiId": API, "stage": STAGE } },
        "apis": [{ "id": API, "protocolType": "REST", "definition": doc }],
        "stages": [st],
        "usagePlans": [
            { "id": "slow", "name": "Slow", "apiStages": [{ "apiId": API, "stage": STAGE }],
              "throttle": { "rateLimit": 0.001, "burstLimit": 1 } },
            { "id": "capped", "name": "Capped", "apiStages": [{ "apiId": API, "stage": STAGE }],
              "quota": { "limit": 1, "period": "DAY" } }
        ],
        "apiKeys": [
            { "id": "k1", "name": "K1", "value": THROTTLED_KEY, "usagePlanIds": ["slow"] },
            { "id": "k2", "name": "K2", "value": CAPPED_KEY, "usagePlanIds": ["capped"] }
        ]
    })
}

fn metrics_json(gw: &Gateway) -> Value {
    let r = gw.admin("GET", "/metrics.json");
    assert_eq!(r.status, 200, "{}", r.body_str());
    r.json()
}

fn series<'a>(m: &'a Value, resource: &str, method: &str) -> &'a Value {
    m["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["resource"] == resource && s["method"] == method && s["stage"] == STAGE)
        .unwrap_or_else(|| panic!("no series {method} {resource} in {m}"))
}

/// The aggregator merges every ~100 ms: wait until `done` holds.
fn wait_for(gw: &Gateway, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let m = metrics_json(gw);
        if done(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "metrics never settled: {m:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn metrics_count_known_traffic_per_series_and_plan() {
    let up = Upstream::start(Mode::static_(200, &[], b"hello"));
    let gw = Gateway::start(config(&up));
    let mut c = gw.client();
    for id in ["1", "2", "3"] {
        assert_eq!(c.roundtrip(&get(&format!("/items/{id}"))).status, 200);
    }
    for _ in 0..3 {
        assert_eq!(c.roundtrip(&get("/cached")).status, 200);
    }
    for _ in 0..2 {
        assert_eq!(c.roundtrip(&get("/gone")).status, 404);
    }
    assert_eq!(
        c.roundtrip(&request("POST", "/broken", &[], Some(b"x")))
            .status,
        500
    );
    assert_eq!(c.roundtrip(&get("/no/such/route")).status, 403);
    let throttled: Vec<u16> = (0..3)
        .map(|_| {
            let r = c.roundtrip(&request(
                "GET",
                "/keyed",
                &[("x-api-key", THROTTLED_KEY)],
                None,
            ));
            r.status
        })
        .collect();
    assert_eq!(throttled, [200, 429, 429]);
    let capped: Vec<u16> = (0..2)
        .map(|_| {
            let r = c.roundtrip(&request(
                "GET",
                "/keyed",
                &[("x-api-key", CAPPED_KEY)],
                None,
            ));
            r.status
        })
        .collect();
    assert_eq!(capped, [200, 429]);

    let m = wait_for(&gw, |m| {
        m["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Count"].as_u64().unwrap())
            .sum::<u64>()
            == 15
    });
    let items = series(&m, "/items/{id}", "GET");
    assert_eq!(
        (items["api"].as_str(), items["stage"].as_str()),
        (Some(API), Some(STAGE))
    );
    assert_eq!(items["canary"], "base");
    assert_eq!(items["Count"], 3);
    assert_eq!(
        (items["4XXError"].as_u64(), items["5XXError"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(items["IntegrationLatency"]["count"], 3);
    for p in ["p50", "p90", "p99", "max"] {
        let l = items["Latency"][p]
            .as_f64()
            .unwrap_or_else(|| panic!("{p}: {items}"));
        let i = items["IntegrationLatency"][p].as_f64().unwrap();
        assert!(
            l > 0.0 && i > 0.0 && i <= l * 1.05,
            "{p}: latency {l} ms, integration {i} ms"
        );
    }
    let cached = series(&m, "/cached", "GET");
    assert_eq!(
        (
            cached["Count"].as_u64(),
            cached["CacheHitCount"].as_u64(),
            cached["CacheMissCount"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(
        cached["IntegrationLatency"]["count"], 1,
        "hits do not call the integration"
    );
    let gone = series(&m, "/gone", "GET");
    assert_eq!(
        (gone["Count"].as_u64(), gone["4XXError"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(gone["IntegrationLatency"]["p50"], Value::Null);
    let broken = series(&m, "/broken", "POST");
    assert_eq!(
        (broken["Count"].as_u64(), broken["5XXError"].as_u64()),
        (Some(1), Some(1))
    );
    let unmatched = series(&m, "$unmatched", "-");
    assert_eq!(
        (unmatched["stage"].as_str(), unmatched["Count"].as_u64()),
        (Some(STAGE), Some(1))
    );
    assert_eq!(unmatched["4XXError"], 1);
    let keyed = series(&m, "/keyed", "GET");
    assert_eq!(
        (keyed["Count"].as_u64(), keyed["4XXError"].as_u64()),
        (Some(5), Some(3))
    );
    let plan = |id: &str| {
        m["usagePlans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["usagePlanId"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no plan {id}: {m}"))
    };
    assert_eq!(
        (
            plan("slow")["throttled"].as_u64(),
            plan("slow")["quotaExceeded"].as_u64()
        ),
        (Some(2), Some(0))
    );
    assert_eq!(
        (
            plan("capped")["throttled"].as_u64(),
            plan("capped")["quotaExceeded"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(plan("-")["throttled"], 0);
    let g = &m["gateway"];
    assert!(
        g["connections_accepted_total"].as_u64().unwrap() >= 1,
        "{g}"
    );
    assert_eq!(g["connections_open"], 1, "{g}");
    assert_eq!(g["reloads_total"], 0);
    assert!(m["time"].as_f64().unwrap() > 1.7e9);

    // The same numbers in Prometheus text.
    let r = gw.admin("GET", "/metrics");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.body_str();
    let labels = |resource: &str, method: &str| {
        format!(
            "api=\"{API}\",stage=\"{STAGE}\",resource=\"{resource}\",method=\"{method}\",canary=\"base\""
        )
    };
    for line in [
        format!("tollgate_requests_total{{{}}} 3", labels("/items/{id}", "GET")),
        format!("tollgate_4xx_errors_total{{{}}} 2", labels("/gone", "GET")),
        format!("tollgate_5xx_errors_total{{{}}} 1", labels("/broken", "POST")),
        format!("tollgate_cache_hits_total{{{}}} 2", labels("/cached", "GET")),
        format!("tollgate_cache_misses_total{{{}}} 1", labels("/cached", "GET")),
        format!("tollgate_requests_total{{{}}} 1", labels("$unmatched", "-")),
        format!("tollgate_latency_seconds_count{{{}}} 3", labels("/items/{id}", "GET")),
        format!("tollgate_latency_seconds_bucket{{{},le=\"+Inf\"}} 3", labels("/items/{id}", "GET")),
        format!("tollgate_integration_latency_seconds_count{{{}}} 1", labels("/cached", "GET")),
        "tollgate_throttled_total{usage_plan=\"slow\"} 2".to_string(),
        "tollgate_quota_exceeded_total{usage_plan=\"capped\"} 1".to_string(),
        "tollgate_throttled_total{usage_plan=\"-\"} 0".to_string(),
        "tollgate_connections_open 1".to_string(),
        "tollgate_reloads_total 0".to_string(),
        "tollgate_access_log_lines_dropped_total 0".to_string(),
        "tollgate_requests_total{api=\"-\",stage=\"-\",resource=\"$unmatched\",method=\"-\",canary=\"base\"} 0".to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
    }
    for name in [
        "tollgate_connections_accepted_total",
        "tollgate_tls_handshakes_total",
        "tollgate_tls_handshake_failures_total",
        "tollgate_upstream_pool_idle_connections",
        "tollgate_requests_in_flight",
        "tollgate_reload_failures_total",
    ] {
        assert!(text.contains(&format!("# TYPE {name} ")), "no {name}");
    }
    // Every histogram is cumulative and ends at its count.
    let bucket_1s = format!(
        "tollgate_latency_seconds_bucket{{{},le=\"1\"}} 3",
        labels("/items/{id}", "GET")
    );
    assert!(text.lines().any(|l| l == bucket_1s), "{bucket_1s}");
}

#[test]
fn metrics_need_the_admin_token_and_survive_a_reload() {
    let up = Upstream::start(Mode::static_(200, &[], b"hello"));
    let mut cfg = config(&up);
    cfg["server"]["admin"] =
        json!({ "address": format!("127.0.0.1:{}", free_port()), "token": "s3cret" });
    let mut gw = Gateway::start(cfg.clone());
    gw.token = Some("s3cret".into());
    for path in ["/metrics", "/metrics.json"] {
        let r = gw.admin_request("GET", path, None, None).unwrap();
        assert_eq!(r.status, 401, "{path}");
    }
    let mut c = gw.client();
    assert_eq!(c.roundtrip(&get("/items/1")).status, 200);
    wait_for(&gw, |m| series(m, "/items/{id}", "GET")["Count"] == 1);
    // A reload that keeps the route keeps its totals; a new route starts at zero.
    cfg["apis"][0]["definition"]["paths"]["/new"] = json!({ "get": mock_method(200, &[], "{}") });
    gw.write_config(cfg);
    assert_eq!(gw.reload_post().status, 200);
    assert_eq!(c.roundtrip(&get("/items/2")).status, 200);
    assert_eq!(c.roundtrip(&get("/new")).status, 200);
    let m = wait_for(&gw, |m| series(m, "/items/{id}", "GET")["Count"] == 2);
    assert_eq!(series(&m, "/new", "GET")["Count"], 1);
    assert_eq!(m["gateway"]["reloads_total"], 1);
}

/// `server.metrics: false` (for measuring what metrics cost): requests are served but not
/// counted in any series or usage plan; the gateway's health gauges still work.
#[test]
fn metrics_off_leaves_series_empty_but_keeps_gateway_gauges() {
    let up = Upstream::start(Mode::static_(200, &[], b"hello"));
    let mut cfg = config(&up);
    cfg["server"]["metrics"] = json!(false);
    let gw = Gateway::start(cfg);
    let mut c = gw.client();
    for id in ["1", "2", "3"] {
        assert_eq!(c.roundtrip(&get(&format!("/items/{id}"))).status, 200);
    }
    assert_eq!(c.roundtrip(&get("/gone")).status, 404);
    let statuses: Vec<u16> = (0..2)
        .map(|_| {
            let h = [("x-api-key", THROTTLED_KEY)];
            c.roundtrip(&request("GET", "/keyed", &h, None)).status
        })
        .collect();
    assert_eq!(statuses, [200, 429], "throttling still works");
    // The gauges come from elsewhere: once they show the traffic, the aggregator has merged.
    let m = wait_for(&gw, |m| {
        m["gateway"]["connections_accepted_total"].as_u64() >= Some(1)
            && m["gateway"]["connections_open"] == 1
    });
    std::thread::sleep(Duration::from_millis(300)); // a few more merges
    let m2 = metrics_json(&gw);
    for m in [&m, &m2] {
        let series = m["series"].as_array().unwrap();
        assert!(!series.is_empty(), "series are listed: {m:#}");
        for s in series {
            assert_eq!(s["Count"], 0, "{s}");
            assert_eq!(s["Latency"]["count"], 0, "{s}");
        }
        for p in m["usagePlans"].as_array().unwrap() {
            assert_eq!(
                (&p["throttled"], &p["quotaExceeded"]),
                (&json!(0), &json!(0))
            );
        }
    }
    let text = gw.admin("GET", "/metrics").body_str();
    assert!(
        text.lines().any(|l| l == "tollgate_connections_open 1"),
        "{text}"
    );
}
