//! Issue 4 on the wire: API keys (403 INVALID_API_KEY), throttles (429 Too Many Requests with
//! `Retry-After`), quotas (429 Limit Exceeded, exact under concurrency), API Gateway's order
//! of evaluation, and quota counts kept across a reload.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use support::config::{API, STAGE, merge, mock_ok, openapi, stage};
use support::http::{get, request};
use support::*;

const ALICE: &str = "alice-key-value-0123456789";
const BOB: &str = "bob-key-value-0123456789ab";
const CAROL: &str = "carol-key-value-0123456789";

/// `/keyed` needs an API key, `/open` does not; plan `basic` (throttle and quota as given)
/// holds alice and the disabled carol; plan `other` (another stage) holds bob.
fn config(throttle: Value, quota: Value) -> Value {
    let mut doc = openapi(json!({
        "/keyed": { "get": mock_ok() },
        "/open": { "get": mock_ok() }
    }));
    doc["paths"]["/keyed"]["get"]["security"] = json!([{ "api_key": [] }]);
    doc["components"] = json!({ "securitySchemes": { "api_key": { "type": "apiKey", "name": "x-api-key", "in": "header" } } });
    let mut plan = json!({ "id": "basic", "name": "Basic",
                           "apiStages": [{ "apiId": API, "stage": STAGE }] });
    if !throttle.is_null() {
        plan["throttle"] = throttle;
    }
    if !quota.is_null() {
        plan["quota"] = quota;
    }
    json!({
        "server": { "defaultApi": { "apiId": API, "stage": STAGE } },
        "apis": [{ "id": API, "protocolType": "REST", "definition": doc }],
        "stages": [stage(API, STAGE), stage(API, "beta")],
        "usagePlans": [
            plan,
            { "id": "other", "name": "Other", "apiStages": [{ "apiId": API, "stage": "beta" }] }
        ],
        "apiKeys": [
            { "id": "alice", "name": "Alice", "value": ALICE, "usagePlanIds": ["basic"] },
            { "id": "bob", "name": "Bob", "value": BOB, "usagePlanIds": ["other"] },
            { "id": "carol", "name": "Carol", "value": CAROL, "enabled": false, "usagePlanIds": ["basic"] }
        ]
    })
}

fn keyed(key: &str) -> Vec<u8> {
    request("GET", "/keyed", &[("x-api-key", key)], None)
}

#[test]
fn a_method_that_needs_a_key_refuses_missing_unknown_disabled_and_other_stage_keys() {
    let gw = Gateway::start(config(Value::Null, Value::Null));
    let mut c = gw.client();
    for (what, req) in [
        ("no key", get("/keyed")),
        ("unknown key", keyed("nobody-has-this-key-0000")),
        ("disabled key", keyed(CAROL)),
        ("key of a plan on another stage", keyed(BOB)),
        (
            "key in another header",
            request("GET", "/keyed", &[("x-api-key-2", ALICE)], None),
        ),
    ] {
        let r = c.roundtrip(&req);
        assert_eq!(r.status, 403, "{what}");
        assert_eq!(r.body_str(), r#"{"message":"Forbidden"}"#, "{what}");
        assert_eq!(
            r.header("x-amzn-ErrorType").as_deref(),
            Some("ForbiddenException"),
            "{what}"
        );
    }
    assert_eq!(c.roundtrip(&keyed(ALICE)).status, 200);
    // The header name is case-insensitive; a method without the requirement needs no key.
    let r = c.roundtrip(&request("GET", "/keyed", &[("X-API-Key", ALICE)], None));
    assert_eq!(r.status, 200);
    assert_eq!(c.roundtrip(&get("/open")).status, 200);
}

#[test]
fn a_plan_throttle_answers_429_with_retry_after_and_spares_other_keys() {
    // Burst 3, then one request per 10 s: the fourth request in quick succession is throttled.
    let mut cfg = config(json!({ "rateLimit": 0.1, "burstLimit": 3 }), Value::Null);
    cfg["apiKeys"][1]["usagePlanIds"] = json!(["basic"]); // bob in the same plan, own bucket
    let gw = Gateway::start_one_worker(cfg);
    let mut c = gw.client();
    for i in 0..3 {
        assert_eq!(
            c.roundtrip(&keyed(ALICE)).status,
            200,
            "request {i} within the burst"
        );
    }
    let r = c.roundtrip(&keyed(ALICE));
    assert_eq!(r.status, 429);
    assert_eq!(r.body_str(), r#"{"message":"Too Many Requests"}"#);
    assert_eq!(
        r.header("x-amzn-ErrorType").as_deref(),
        Some("TooManyRequestsException")
    );
    let retry: u64 = r
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry), "Retry-After {retry}");
    // Per client: bob's bucket is his own; the unkeyed method is not throttled by alice's plan.
    assert_eq!(c.roundtrip(&keyed(BOB)).status, 200);
    assert_eq!(c.roundtrip(&get("/open")).status, 200);
    // A refused key does not spend alice's tokens elsewhere, and she stays throttled.
    assert_eq!(c.roundtrip(&keyed("nobody-has-this-key-0000")).status, 403);
    assert_eq!(c.roundtrip(&keyed(ALICE)).status, 429);
}

#[test]
fn stage_method_settings_throttle_a_method_without_keys() {
    let mut cfg = config(Value::Null, Value::Null);
    merge(
        &mut cfg["stages"][0],
        json!({ "methodSettings": { "/open/GET": { "throttlingRateLimit": 0.1, "throttlingBurstLimit": 2 } } }),
    );
    let gw = Gateway::start_one_worker(cfg);
    let mut c = gw.client();
    assert_eq!(c.roundtrip(&get("/open")).status, 200);
    assert_eq!(c.roundtrip(&get("/open")).status, 200);
    let r = c.roundtrip(&get("/open"));
    assert_eq!(r.status, 429, "{}", r.body_str());
    assert_eq!(r.body_str(), r#"{"message":"Too Many Requests"}"#);
    // Another method of the stage is not covered by that setting.
    assert_eq!(c.roundtrip(&keyed(ALICE)).status, 200);
}

#[test]
fn the_account_throttle_applies_to_every_method() {
    let mut cfg = config(Value::Null, Value::Null);
    cfg["account"] = json!({ "throttleSettings": { "rateLimit": 0.1, "burstLimit": 2 } });
    let gw = Gateway::start_one_worker(cfg);
    let mut c = gw.client();
    assert_eq!(c.roundtrip(&get("/open")).status, 200);
    assert_eq!(c.roundtrip(&keyed(ALICE)).status, 200);
    assert_eq!(c.roundtrip(&get("/open")).status, 429);
    assert_eq!(c.roundtrip(&keyed(ALICE)).status, 429);
}

#[test]
fn a_quota_is_exact_under_64_concurrent_connections_and_answers_limit_exceeded() {
    const LIMIT: u64 = 150;
    let gw = Arc::new(Gateway::start(config(
        Value::Null,
        json!({ "limit": LIMIT, "period": "DAY" }),
    )));
    let ok = Arc::new(AtomicU64::new(0));
    let exceeded = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let (gw, ok, exceeded) = (gw.clone(), ok.clone(), exceeded.clone());
            std::thread::spawn(move || {
                let mut c = gw.client();
                for _ in 0..5 {
                    let r = c.roundtrip(&keyed(ALICE));
                    match r.status {
                        200 => ok.fetch_add(1, Ordering::Relaxed),
                        429 => {
                            assert_eq!(r.body_str(), r#"{"message":"Limit Exceeded"}"#);
                            assert_eq!(
                                r.header("x-amzn-ErrorType").as_deref(),
                                Some("LimitExceededException")
                            );
                            assert!(r.header("Retry-After").is_some());
                            exceeded.fetch_add(1, Ordering::Relaxed)
                        }
                        s => panic!("unexpected {s}: {}", r.body_str()),
                    };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        ok.load(Ordering::Relaxed),
        LIMIT,
        "exactly the quota is admitted"
    );
    assert_eq!(exceeded.load(Ordering::Relaxed), 64 * 5 - LIMIT);
}

#[test]
fn a_reload_keeps_the_quota_count_and_a_quota_429_spends_no_throttle_token() {
    let quota = json!({ "limit": 3, "period": "MONTH" });
    let mut gw = Gateway::start_one_worker(config(
        json!({ "rateLimit": 0.1, "burstLimit": 5 }),
        quota.clone(),
    ));
    let mut c = gw.client();
    for _ in 0..3 {
        assert_eq!(c.roundtrip(&keyed(ALICE)).status, 200);
    }
    assert_eq!(
        c.roundtrip(&keyed(ALICE)).body_str(),
        r#"{"message":"Limit Exceeded"}"#
    );
    // A reload that changes something else keeps the counter: still exhausted.
    let mut next = config(json!({ "rateLimit": 0.1, "burstLimit": 5 }), quota);
    next["stages"][0]["description"] = json!("reloaded");
    gw.write_config(next);
    assert_eq!(gw.reload_post().status, 200);
    let mut c = gw.client();
    assert_eq!(
        c.roundtrip(&keyed(ALICE)).body_str(),
        r#"{"message":"Limit Exceeded"}"#
    );
    // Raising the quota lets the key through again; the two 429s above took no throttle
    // tokens, so the burst of 5 still has 2 left.
    let next = config(
        json!({ "rateLimit": 0.1, "burstLimit": 5 }),
        json!({ "limit": 10, "period": "MONTH" }),
    );
    gw.write_config(next);
    assert_eq!(gw.reload_post().status, 200);
    let mut c = gw.client();
    assert_eq!(c.roundtrip(&keyed(ALICE)).status, 200);
    assert_eq!(c.roundtrip(&keyed(ALICE)).status, 200);
    let r = c.roundtrip(&keyed(ALICE));
    assert_eq!(r.body_str(), r#"{"message":"Too Many Requests"}"#);
}
