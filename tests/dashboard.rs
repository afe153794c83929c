//! The admin dashboard (issue 7), in a real browser: headless Chromium driven by Playwright
//! (scripts/dashboard_check.py) loads `/dashboard` while traffic flows, and what the page shows
//! must match `/metrics.json`. The screenshot is kept as a test artifact.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::config::{mock_method, mock_ok, rest_config};
use support::*;

const TOKEN: &str = "dash-secret";

fn config() -> Value {
    let mut config = rest_config(json!({
        "/hello": { "get": mock_ok() },
        "/boom": { "get": mock_method(500, &[], "{\"oops\":true}") },
    }));
    config["server"]["admin"] = json!({
        "address": format!("127.0.0.1:{}", free_port()),
        "token": TOKEN,
    });
    config
}

#[test]
fn the_page_needs_no_token_and_carries_a_strict_policy() {
    let gw = Gateway::start(config());
    let r = gw
        .admin_request("GET", "/dashboard", None, None)
        .expect("GET /dashboard");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|v| v.starts_with("text/html")),
        "{:?}",
        r.headers
    );
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(r.body_str().contains("metrics.json"));
    // The data behind it still needs the token.
    let m = gw
        .admin_request("GET", "/metrics.json", None, None)
        .expect("GET /metrics.json");
    assert_eq!(m.status, 401);
}

#[test]
fn the_dashboard_shows_what_the_metrics_endpoint_says() {
    if !python_with("the dashboard test", &["playwright"]) {
        return;
    }
    let chromium = ["chromium", "chromium-browser"].iter().any(|c| {
        Command::new("which")
            .arg(c)
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !chromium {
        let why = "the dashboard test did not run: no chromium (scripts/test.sh installs it)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("{why}");
        return;
    }
    let gw = Gateway::start(config());
    let shot = format!("{}/dashboard.png", env!("CARGO_TARGET_TMPDIR"));
    let out = Command::new("timeout")
        .args(["90", "python3", "scripts/dashboard_check.py"])
        .arg(format!("http://127.0.0.1:{}", gw.admin_port))
        .arg(TOKEN)
        .arg(format!("http://127.0.0.1:{}", gw.port))
        .arg(&shot)
        .output()
        .expect("run scripts/dashboard_check.py");
    assert!(
        out.status.success(),
        "dashboard_check.py failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        gw.stderr()
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    println!("screenshot: {shot}");
    assert_eq!(report["errors"], json!([]), "the page had errors");
    assert_eq!(report["state_while_flowing"], "live");
    let rps = report["rps_while_flowing"].as_f64().unwrap_or(0.0);
    assert!(
        rps > 0.0,
        "no request rate shown while traffic flowed: {report}"
    );
    let sent = report["sent"].as_u64().unwrap();
    assert!(sent > 50, "the traffic thread sent only {sent} requests");

    // After the traffic stopped: every route row on the page equals the endpoint's series.
    let metrics = &report["metrics"];
    let series = metrics["series"].as_array().expect("series");
    let rows = report["page"]["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), series.len(), "one row per series: {report}");
    let mut total = 0;
    for s in series {
        let row = rows
            .iter()
            .find(|r| {
                ["api", "stage", "resource", "method"]
                    .iter()
                    .all(|k| r[k] == s[k])
            })
            .unwrap_or_else(|| panic!("no row on the page for {s}"));
        for field in ["Count", "4XXError", "5XXError"] {
            assert_eq!(row[field].as_f64(), s[field].as_f64(), "{field} of {}", row);
        }
        total += s["Count"].as_u64().unwrap();
    }
    assert_eq!(report["page"]["total"].as_f64(), Some(total as f64));
    // And the endpoint counted the traffic: every request the thread sent, by class.
    assert_eq!(total, sent, "{metrics}");
    let hello = series
        .iter()
        .find(|s| s["resource"] == "/hello")
        .expect("/hello series");
    assert!(hello["Count"].as_u64().unwrap() > 0);
    let boom = series
        .iter()
        .find(|s| s["resource"] == "/boom")
        .expect("/boom series");
    assert_eq!(boom["5XXError"], boom["Count"]);
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000),
        "no screenshot at {shot}"
    );
}
