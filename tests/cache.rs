//! The stage response cache (issue 5, SPEC-NOTES §6, RELIABILITY C01–C04, C07, C09–C11),
//! black-box: hits and misses are told apart by what the recording upstream receives.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::config::{API, STAGE, merge, method_with, rest_config};
use support::http::request;
use support::*;

/// `GET /cached/{proxy+}` keyed on the proxy path; `GET /items/{id}` with no key parameters
/// (path values not in the key, as on API Gateway); `GET /q` keyed on `x`, `y` and the
/// `X-Tenant` header; `ANY /p` (only its GET requests cached). All proxy to `up`.
fn config(up: &Upstream, method_settings: Value, stage_extra: Value) -> Value {
    let proxy = |uri: String, keys: Value, params: Value| {
        let mut m = method_with(json!({
            "type": "http_proxy", "httpMethod": "ANY", "uri": uri,
            "cacheKeyParameters": keys,
        }));
        if !params.is_null() {
            m["parameters"] = params;
        }
        m
    };
    let mut cached = proxy(
        up.uri("/cached/{proxy}"),
        json!(["method.request.path.proxy"]),
        Value::Null,
    );
    cached["x-amazon-apigateway-integration"]["requestParameters"] =
        json!({ "integration.request.path.proxy": "method.request.path.proxy" });
    let mut c = rest_config(json!({
        "/cached/{proxy+}": { "get": cached },
        "/items/{id}": { "get": proxy(up.uri("/items/{id}"), json!([]), json!([
            { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }
        ])).as_object().cloned().map(|mut m| {
            m["x-amazon-apigateway-integration"]["requestParameters"] =
                json!({ "integration.request.path.id": "method.request.path.id" });
            Value::Object(m)
        }).unwrap() },
        "/q": { "get": proxy(up.uri("/q"), json!([
            "method.request.querystring.x", "method.request.querystring.y",
            "method.request.header.X-Tenant"
        ]), json!([
            { "name": "x", "in": "query", "schema": { "type": "string" } },
            { "name": "y", "in": "query", "schema": { "type": "string" } },
            { "name": "X-Tenant", "in": "header", "schema": { "type": "string" } }
        ])) },
        "/p": { "x-amazon-apigateway-any-method": proxy(up.uri("/p"), json!([]), Value::Null) },
    }));
    let mut stage = json!({
        "cacheClusterEnabled": true,
        "cacheClusterSize": "0.5",
        "methodSettings": method_settings,
    });
    merge(&mut stage, stage_extra);
    merge(&mut c["stages"][0], stage);
    c
}

/// Cache on with API Gateway's defaults, except that any client may invalidate.
fn open_config(up: &Upstream) -> Value {
    config(
        up,
        json!({ "*/*": { "requireAuthorizationForCacheControl": false } }),
        json!({}),
    )
}

fn get_with(c: &mut Client, target: &str, headers: &[(&str, &str)]) -> Response {
    let r = c.roundtrip(&request("GET", target, headers, None));
    assert!(
        r.status < 500,
        "GET {target}: {} {}",
        r.status,
        r.body_str()
    );
    r
}

fn get(c: &mut Client, target: &str) -> Response {
    get_with(c, target, &[])
}

fn cache_stats(gw: &Gateway) -> Value {
    let r = gw.admin("GET", &format!("/restapis/{API}/stages/{STAGE}/cache"));
    assert_eq!(r.status, 200, "cache stats: {}", r.body_str());
    r.json()
}

/// One route's entry in the cache stats' `methods`.
fn route_stats(stats: &Value, route: &str) -> Value {
    stats["methods"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["route"] == route))
        .cloned()
        .unwrap_or_else(|| panic!("no {route} in {stats}"))
}

#[test]
fn a_hit_is_served_without_the_backend_with_fresh_ids() {
    let up = Upstream::start(Mode::static_(
        200,
        &[("Content-Type", "text/plain"), ("X-Origin", "one")],
        b"version one",
    ));
    let gw = Gateway::start(open_config(&up));
    let mut c = gw.client();
    let first = get(&mut c, "/cached/a");
    assert_eq!(first.body_str(), "version one");
    assert_eq!(up.request_count(), 1);
    up.set_mode(Mode::static_(200, &[], b"version two"));
    for _ in 0..3 {
        let r = get(&mut c, "/cached/a");
        assert_eq!(r.status, 200);
        assert_eq!(r.body_str(), "version one", "served from the cache");
        assert_eq!(r.header("content-type").as_deref(), Some("text/plain"));
        assert_eq!(r.header("x-origin").as_deref(), Some("one"));
        assert_eq!(r.header("content-length").as_deref(), Some("11"));
        assert!(r.header("date").is_some());
        assert_eq!(r.headers.count("x-amzn-RequestId"), 1);
        assert_ne!(
            r.header("x-amzn-RequestId"),
            first.header("x-amzn-RequestId"),
            "every response has its own request id"
        );
    }
    assert_eq!(up.request_count(), 1, "hits never reach the backend");
    // Another path under the proxy is another key.
    assert_eq!(get(&mut c, "/cached/b").body_str(), "version two");
    assert_eq!(up.request_count(), 2);
    // An entry is stored once its response has gone to the client: the stats may be read a
    // moment before the second one is in.
    wait_until(Duration::from_secs(5), || cache_stats(&gw)["entries"] == 2);
    let s = cache_stats(&gw);
    let m = route_stats(&s, "GET /cached/{proxy+}");
    assert_eq!(m["CacheHitCount"], 3, "{s}");
    assert_eq!(m["CacheMissCount"], 2, "{s}");
    assert_eq!(s["entries"], 2, "{s}");
    assert!(s["bytes"].as_u64().unwrap() > 0);
}

/// Hits and misses are counted per core and summed for the admin API and the metrics: with
/// two workers and sixteen connections (spread over both by SO_REUSEPORT), the sums are
/// exact.
#[test]
fn hit_and_miss_counts_are_exact_across_two_workers() {
    const CONNECTIONS: usize = 16;
    const ROUNDS: usize = 5;
    let up = Upstream::start(Mode::static_(200, &[], b"counted"));
    let gw = Gateway::start_with(
        open_config(&up),
        Options {
            workers: 2,
            ..Options::default()
        },
    );
    let mut first = gw.client();
    assert_eq!(get(&mut first, "/cached/n").body_str(), "counted");
    wait_until(Duration::from_secs(5), || cache_stats(&gw)["entries"] == 1);
    let mut clients: Vec<Client> = (0..CONNECTIONS).map(|_| gw.client()).collect();
    for _ in 0..ROUNDS {
        for c in clients.iter_mut() {
            assert_eq!(get(c, "/cached/n").body_str(), "counted");
        }
    }
    assert_eq!(up.request_count(), 1, "every later request was a hit");
    let hits = (CONNECTIONS * ROUNDS) as u64;
    let s = cache_stats(&gw);
    let m = route_stats(&s, "GET /cached/{proxy+}");
    assert_eq!(
        (m["CacheHitCount"].as_u64(), m["CacheMissCount"].as_u64()),
        (Some(hits), Some(1)),
        "{s}"
    );
    assert_eq!(
        (s["hits"].as_u64(), s["misses"].as_u64()),
        (Some(hits), Some(1))
    );
    // The metrics count the same requests (merged from each core by the aggregator).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = gw.admin("GET", "/metrics.json");
        assert_eq!(r.status, 200, "{}", r.body_str());
        let m = r.json();
        let series = m["series"].as_array().and_then(|all| {
            all.iter()
                .find(|s| s["resource"] == "/cached/{proxy+}" && s["method"] == "GET")
                .cloned()
        });
        let counts = series
            .as_ref()
            .map(|s| (s["CacheHitCount"].as_u64(), s["CacheMissCount"].as_u64()));
        if counts == Some((Some(hits), Some(1))) {
            break;
        }
        assert!(Instant::now() < deadline, "metrics: {counts:?} in {m}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A hit answers without reading the request's body (RELIABILITY P25): a body all in the
/// buffer is skipped and the connection kept; one still arriving, or a chunked one, makes
/// the hit's response say `Connection: close` and the connection close.
#[test]
fn a_hit_settles_an_unread_request_body_p25() {
    let up = Upstream::start(Mode::static_(200, &[], b"cached"));
    let gw = Gateway::start(open_config(&up));
    let mut c = gw.client();
    get(&mut c, "/cached/body");
    wait_until(Duration::from_secs(5), || cache_stats(&gw)["entries"] == 1);
    // Whole body buffered: skipped, kept alive, the next request is parsed as one.
    let r = c.roundtrip(&request("GET", "/cached/body", &[], Some(b"hello")));
    assert_eq!((r.status, r.body_str()), (200, "cached".into()));
    assert_eq!(r.header("connection"), None, "kept alive");
    assert_eq!(get(&mut c, "/cached/body").body_str(), "cached");
    assert_eq!(up.request_count(), 1, "all hits");
    // Part of the body still to come: answered, then closed.
    let mut partial = request("GET", "/cached/body", &[("Content-Length", "10")], None);
    partial.extend_from_slice(b"hel");
    let r = c.roundtrip(&partial);
    assert_eq!((r.status, r.body_str()), (200, "cached".into()));
    assert_eq!(r.header("connection").as_deref(), Some("close"));
    assert!(
        c.is_closed_within(Duration::from_secs(3)),
        "closed after the hit"
    );
    // A chunked body: the same.
    let mut c = gw.client();
    let mut chunked = request(
        "GET",
        "/cached/body",
        &[("Transfer-Encoding", "chunked")],
        None,
    );
    chunked.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
    let r = c.roundtrip(&chunked);
    assert_eq!((r.status, r.body_str()), (200, "cached".into()));
    assert_eq!(r.header("connection").as_deref(), Some("close"));
    assert!(
        c.is_closed_within(Duration::from_secs(3)),
        "closed after the hit"
    );
    assert_eq!(up.request_count(), 1, "all hits");
}

#[test]
fn entries_expire_after_the_ttl() {
    let up = Upstream::start(Mode::static_(200, &[], b"fresh"));
    let gw = Gateway::start(config(
        &up,
        json!({ "*/*": { "cacheTtlInSeconds": 1 } }),
        json!({}),
    ));
    let mut c = gw.client();
    let stored = Instant::now();
    get(&mut c, "/cached/t");
    get(&mut c, "/cached/t");
    assert_eq!(up.request_count(), 1);
    let refetched = wait_until(Duration::from_secs(5), || {
        get(&mut c, "/cached/t");
        up.request_count() == 2
    });
    assert!(refetched, "the entry never expired");
    assert!(
        stored.elapsed() >= Duration::from_millis(900),
        "expired after {:?}, before its 1 s TTL",
        stored.elapsed()
    );
}

#[test]
fn key_parameters_split_entries_and_path_values_do_not() {
    let up = Upstream::echo();
    let gw = Gateway::start(open_config(&up));
    let mut c = gw.client();
    // No key parameters: every /items/{id} shares one entry, as on API Gateway.
    let one = get(&mut c, "/items/1");
    let two = get(&mut c, "/items/2");
    assert_eq!(up.request_count(), 1);
    assert_eq!(one.body, two.body, "/items/2 got /items/1's entry");
    // Listed query parameters: order does not matter, values do, absent ≠ empty.
    get(&mut c, "/q?x=1&y=2");
    get(&mut c, "/q?y=2&x=1");
    assert_eq!(up.request_count(), 2, "parameter order split the key");
    get(&mut c, "/q?x=1&y=3");
    assert_eq!(up.request_count(), 3);
    get(&mut c, "/q?x=1&y=2&other=9");
    assert_eq!(
        up.request_count(),
        3,
        "an unlisted parameter is not in the key"
    );
    get(&mut c, "/q?x=1");
    get(&mut c, "/q?x=1&y=");
    assert_eq!(up.request_count(), 5, "absent and empty are different keys");
    // A listed header, matched case-insensitively.
    get_with(&mut c, "/q?x=1&y=2", &[("X-Tenant", "a")]);
    assert_eq!(up.request_count(), 6);
    get_with(&mut c, "/q?x=1&y=2", &[("x-tenant", "a")]);
    assert_eq!(up.request_count(), 6);
    get_with(&mut c, "/q?x=1&y=2", &[("X-Tenant", "b")]);
    assert_eq!(up.request_count(), 7);
}

#[test]
fn host_is_in_the_key_c02() {
    let up = Upstream::echo();
    let gw = Gateway::start(open_config(&up));
    let mut c = gw.client();
    get_with(&mut c, "/cached/h", &[("Host", "gw.test")]);
    get_with(&mut c, "/cached/h", &[("Host", "b.test")]);
    assert_eq!(up.request_count(), 2, "two hosts must not share an entry");
    get_with(&mut c, "/cached/h", &[("Host", "GW.TEST.")]);
    get_with(&mut c, "/cached/h", &[("Host", "gw.test:80")]);
    assert_eq!(up.request_count(), 2, "GW.TEST. is gw.test");
}

#[test]
fn a_client_forwarded_host_never_poisons_the_cache_c01() {
    let up = Upstream::start(Mode::echo_with(&[("Cache-Control", "public, max-age=60")]));
    let gw = Gateway::start(open_config(&up));
    let mut attacker = gw.client();
    get_with(
        &mut attacker,
        "/cached/poison",
        &[
            ("X-Forwarded-Host", "evil.test"),
            ("X_Forwarded_Server", "evil.test"),
        ],
    );
    let mut victim = gw.client();
    let r = get(&mut victim, "/cached/poison");
    assert!(
        !contains(&r.body, b"evil.test"),
        "the backend saw the client's X-Forwarded-*: {}",
        r.body_str()
    );
}

#[test]
fn responses_that_must_not_be_stored_are_not_c03() {
    let cases: Vec<(&str, Mode)> = vec![
        (
            "no-store",
            Mode::static_(200, &[("Cache-Control", "no-store")], b"x"),
        ),
        (
            "private",
            Mode::static_(200, &[("Cache-Control", "private, max-age=60")], b"x"),
        ),
        (
            "no-cache",
            Mode::static_(200, &[("Cache-Control", "no-cache")], b"x"),
        ),
        (
            "set-cookie",
            Mode::static_(200, &[("Set-Cookie", "s=1")], b"x"),
        ),
        ("vary-star", Mode::static_(200, &[("Vary", "*")], b"x")),
        (
            "206",
            Mode::static_(206, &[("Content-Range", "bytes 0-0/2")], b"x"),
        ),
        ("404", Mode::static_(404, &[], b"nope")),
        ("500", Mode::static_(500, &[], b"broken")),
    ];
    let up = Upstream::echo();
    let gw = Gateway::start(open_config(&up));
    let mut c = gw.client();
    for (name, mode) in cases {
        up.set_mode(mode);
        let before = up.request_count();
        let target = format!("/cached/{name}");
        let r1 = c.roundtrip(&request("GET", &target, &[], None));
        let r2 = c.roundtrip(&request("GET", &target, &[], None));
        assert_eq!(r1.status, r2.status);
        assert_eq!(
            up.request_count(),
            before + 2,
            "{name}: the second GET was answered from the cache"
        );
    }
    // A request with Authorization: stored only when the response is explicitly shared.
    up.set_mode(Mode::static_(200, &[], b"mine"));
    let auth = [("Authorization", "Bearer t")];
    get_with(&mut c, "/cached/auth", &auth);
    get_with(&mut c, "/cached/auth", &auth);
    assert_eq!(up.request_count(), 18, "an authorized response was shared");
    up.set_mode(Mode::static_(
        200,
        &[("Cache-Control", "public")],
        b"shared",
    ));
    get_with(&mut c, "/cached/auth-public", &auth);
    get_with(&mut c, "/cached/auth-public", &auth);
    assert_eq!(up.request_count(), 19, "`public` makes it storable");
}

#[test]
fn vary_keeps_one_entry_per_variant_c04() {
    let up = Upstream::start(Mode::echo_with(&[("Vary", "Accept-Encoding")]));
    let gw = Gateway::start(open_config(&up));
    let mut c = gw.client();
    let gz = get_with(&mut c, "/cached/v", &[("Accept-Encoding", "gzip")]);
    assert!(contains(&gz.body, b"gzip"));
    let plain = get(&mut c, "/cached/v");
    assert!(
        !contains(&plain.body, b"gzip"),
        "the gzip variant went to a client that did not ask for it"
    );
    assert_eq!(up.request_count(), 2);
    for _ in 0..2 {
        let r = get_with(&mut c, "/cached/v", &[("Accept-Encoding", "gzip")]);
        assert_eq!(r.body, gz.body);
        let r = get(&mut c, "/cached/v");
        assert_eq!(r.body, plain.body);
    }
    assert_eq!(up.request_count(), 2, "both variants are cached");
    let br = get_with(&mut c, "/cached/v", &[("Accept-Encoding", "br")]);
    assert!(contains(&br.body, b"br"));
    assert_eq!(up.request_count(), 3);
}

#[test]
fn the_key_is_the_forwarded_target_c07() {
    let up = Upstream::echo();
    let gw = Gateway::start(open_config(&up));
    let mut c = gw.client();
    for (target, forwarded) in [
        ("/cached/a", "/cached/a"),
        ("/cached/%61", "/cached/%61"),
        ("/cached/a;x", "/cached/a;x"),
    ] {
        let r = get(&mut c, target);
        assert_eq!(r.echoed().path(), forwarded);
    }
    assert_eq!(
        up.request_count(),
        3,
        "raw paths that differ are different entries"
    );
    let r = c.roundtrip(&request("GET", "/cached/../cached/a", &[], None));
    assert_eq!(
        r.status, 400,
        "dot segments are refused, not normalised into a key"
    );
}

#[test]
fn incomplete_responses_and_head_misses_are_never_stored_c09() {
    let up = Upstream::start(Mode::raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part of it",
        After::Close,
    ));
    let gw = Gateway::start(open_config(&up));
    let mut c = gw.client();
    let (bytes, _) = {
        c.send(&request("GET", "/cached/cut", &[], None));
        c.read_until_closed(Duration::from_secs(5))
    };
    assert!(contains(&bytes, b"only part"), "{}", show(&bytes));
    up.set_mode(Mode::static_(200, &[], b"whole"));
    let mut c = gw.client();
    assert_eq!(get(&mut c, "/cached/cut").body_str(), "whole");
    assert_eq!(up.request_count(), 2, "the cut response was stored");
    // A HEAD miss goes to the backend and never creates an (empty) GET entry.
    c.send(&request("HEAD", "/p", &[], None));
    let h = c.read_head_response().unwrap();
    assert_eq!(h.status, 200);
    let g = get(&mut c, "/p");
    assert_eq!(g.body_str(), "whole");
    assert_eq!(up.request_count(), 4);
    get(&mut c, "/p");
    assert_eq!(up.request_count(), 4, "the GET after it is stored");
}

#[test]
fn size_limits_large_and_chunked_bodies() {
    let up = Upstream::start(Mode::static_(200, &[], &pattern(1_048_577)));
    let gw = Gateway::start(open_config(&up));
    let mut c = gw.client();
    for _ in 0..2 {
        assert_eq!(get(&mut c, "/cached/huge").body.len(), 1_048_577);
    }
    assert_eq!(up.request_count(), 2, "a response over 1 MB was stored");
    let big = pattern(900_000);
    up.set_mode(Mode::static_(200, &[], &big));
    for _ in 0..3 {
        let r = get(&mut c, "/cached/big");
        assert!(r.body == big, "a large hit's body differs");
    }
    assert_eq!(up.request_count(), 3);
    let mut raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    raw.extend_from_slice(&support::http::chunked(b"chunked body", 5));
    up.set_mode(Mode::raw(&raw, After::KeepAlive));
    for _ in 0..2 {
        let r = get(&mut c, "/cached/chunked");
        assert_eq!(r.body_str(), "chunked body");
    }
    let r = get(&mut c, "/cached/chunked");
    assert_eq!(r.header("content-length").as_deref(), Some("12"));
    assert_eq!(up.request_count(), 4);
}

#[test]
fn an_accepted_unsafe_method_invalidates_the_get_entry_c10() {
    let up = Upstream::echo();
    let gw = Gateway::start(open_config(&up));
    let mut c = gw.client();
    get(&mut c, "/p");
    get(&mut c, "/p");
    assert_eq!(up.request_count(), 1);
    // POST is not cached (only GET by default) and, accepted, drops the GET entry.
    let r = c.roundtrip(&request("POST", "/p", &[], Some(b"{}")));
    assert_eq!(r.status, 200);
    get(&mut c, "/p");
    assert_eq!(up.request_count(), 3, "GET after POST was served stale");
    get(&mut c, "/p");
    assert_eq!(up.request_count(), 3);
    // A refused DELETE changes nothing.
    up.set_mode(Mode::static_(500, &[], b"no"));
    let r = c.roundtrip(&request("DELETE", "/p", &[], None));
    assert_eq!(r.status, 500);
    up.set_mode(Mode::Echo);
    get(&mut c, "/p");
    assert_eq!(
        up.request_count(),
        4,
        "a failed DELETE invalidated the entry"
    );
}

#[test]
fn a_stampede_reaches_the_backend_once_c11() {
    let up = Upstream::start(Mode::Delay(Duration::from_millis(400)));
    let gw = Gateway::start(open_config(&up));
    let port = gw.port;
    let threads: Vec<_> = (0..100)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                c.roundtrip(&request("GET", "/cached/cold", &[], None))
            })
        })
        .collect();
    let bodies: Vec<Response> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(bodies.iter().all(|r| r.status == 200));
    assert!(
        bodies.iter().all(|r| r.body == bodies[0].body),
        "one response for all"
    );
    assert_eq!(
        up.request_count(),
        1,
        "concurrent misses were not coalesced"
    );
}

#[test]
fn the_byte_bound_holds_under_twice_the_capacity() {
    let up = Upstream::start(Mode::static_(200, &[], &pattern(1000)));
    let capacity = 256 * 1024;
    let gw = Gateway::start(config(
        &up,
        json!({ "*/*": {} }),
        json!({ "cacheClusterSize": null, "cacheCapacityBytes": capacity }),
    ));
    let mut c = gw.client();
    let n = 2 * capacity / 1000;
    for i in 0..n {
        get(&mut c, &format!("/cached/k{i}"));
        if i % 64 == 0 {
            let bytes = cache_stats(&gw)["bytes"].as_u64().unwrap();
            assert!(bytes <= capacity as u64, "{bytes} bytes over {capacity}");
        }
    }
    let s = cache_stats(&gw);
    assert!(s["bytes"].as_u64().unwrap() <= capacity as u64, "{s}");
    assert!(s["evictions"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["capacityBytes"], capacity);
    // The newest key is still there; the oldest were evicted. Not every one of them: a
    // shard (chosen by a hash with a per-process seed) evicts only when its own budget is
    // full, so an old key whose shard took few newer ones survives (k0 did in 2 of 146
    // runs). Here a shard holds 3 entries and takes ~8 of the 524 keys: of the first 32,
    // 0-2 survived in 25 runs. A probe that misses stores its key again and may evict
    // another old one, which can only lower the count of survivors.
    let before = up.request_count();
    get(&mut c, &format!("/cached/k{}", n - 1));
    assert_eq!(up.request_count(), before);
    let survivors = (0..32)
        .filter(|i| {
            let before = up.request_count();
            get(&mut c, &format!("/cached/k{i}"));
            up.request_count() == before
        })
        .count();
    assert!(
        survivors <= 8,
        "{survivors} of the 32 oldest keys still cached"
    );
}

#[test]
fn cache_control_max_age_0_follows_the_stage_policy() {
    let up = Upstream::echo();
    let strategy = |s: &str| {
        json!({ "*/*": {
            "requireAuthorizationForCacheControl": true,
            "unauthorizedCacheControlHeaderStrategy": s
        } })
    };
    let no_cache = [("Cache-Control", "max-age=0")];

    // Anyone may invalidate: the backend is asked again and the entry replaced.
    let gw = Gateway::start(open_config(&up));
    let mut c = gw.client();
    let first = get(&mut c, "/cached/i");
    let again = get_with(&mut c, "/cached/i", &no_cache);
    assert_eq!(up.request_count(), 2);
    assert_ne!(
        first.body, again.body,
        "x-upstream-req differs: a fresh answer"
    );
    assert_eq!(
        get(&mut c, "/cached/i").body,
        again.body,
        "the entry was replaced"
    );
    assert_eq!(up.request_count(), 2);
    drop(gw);

    // FAIL_WITH_403.
    let base = up.request_count();
    let gw = Gateway::start(config(&up, strategy("FAIL_WITH_403"), json!({})));
    let mut c = gw.client();
    get(&mut c, "/cached/i");
    let r = c.roundtrip(&request("GET", "/cached/i", &no_cache, None));
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"Message": "User is not authorized to access this resource"})
    );
    assert_eq!(
        r.header("x-amzn-ErrorType").as_deref(),
        Some("AccessDeniedException")
    );
    assert_eq!(up.request_count(), base + 1);
    drop(gw);

    // SUCCEED_WITH_RESPONSE_HEADER (API Gateway's default): served from the cache, warned.
    let base = up.request_count();
    let gw = Gateway::start(config(&up, json!({}), json!({})));
    let mut c = gw.client();
    let first = get(&mut c, "/cached/i");
    let r = get_with(&mut c, "/cached/i", &no_cache);
    assert_eq!(r.body, first.body);
    assert!(
        r.header("warning").is_some_and(|w| w.starts_with("199 ")),
        "{:?}",
        r.header("warning")
    );
    assert!(first.header("warning").is_none());
    assert_eq!(up.request_count(), base + 1);
    drop(gw);

    // SUCCEED_WITHOUT_RESPONSE_HEADER.
    let base = up.request_count();
    let gw = Gateway::start(config(
        &up,
        strategy("SUCCEED_WITHOUT_RESPONSE_HEADER"),
        json!({}),
    ));
    let mut c = gw.client();
    let first = get(&mut c, "/cached/i");
    let r = get_with(&mut c, "/cached/i", &no_cache);
    assert_eq!(r.body, first.body);
    assert!(r.header("warning").is_none());
    assert_eq!(up.request_count(), base + 1);
}

#[test]
fn flush_empties_the_stage_cache() {
    let up = Upstream::echo();
    let gw = Gateway::start(open_config(&up));
    let mut c = gw.client();
    get(&mut c, "/cached/f");
    get(&mut c, "/q?x=1");
    assert_eq!(up.request_count(), 2);
    let r = gw.admin(
        "DELETE",
        &format!("/restapis/{API}/stages/{STAGE}/cache/data"),
    );
    assert_eq!(r.status, 202, "{}", r.body_str());
    assert_eq!(cache_stats(&gw)["entries"], 0);
    get(&mut c, "/cached/f");
    get(&mut c, "/q?x=1");
    assert_eq!(up.request_count(), 4, "entries survived the flush");
    let r = gw.admin("DELETE", &format!("/restapis/{API}/stages/nope/cache/data"));
    assert_eq!(r.status, 404);
    let r = gw.admin("GET", "/restapis/other/stages/prod/cache");
    assert_eq!(r.status, 404);
}

#[test]
fn a_stage_without_a_cache_is_not_cached() {
    let up = Upstream::echo();
    let mut cfg = open_config(&up);
    cfg["stages"][0]["cacheClusterEnabled"] = json!(false);
    let gw = Gateway::start(cfg);
    let mut c = gw.client();
    get(&mut c, "/cached/n");
    get(&mut c, "/cached/n");
    assert_eq!(up.request_count(), 2);
    let r = gw.admin(
        "DELETE",
        &format!("/restapis/{API}/stages/{STAGE}/cache/data"),
    );
    assert_eq!(r.status, 400, "{}", r.body_str());
}

#[test]
fn entries_survive_a_reload_that_leaves_the_stage_alone() {
    let up = Upstream::echo();
    let other = Upstream::echo();
    let cfg = open_config(&up);
    let mut gw = Gateway::start(cfg.clone());
    let mut c = gw.client();
    get(&mut c, "/cached/r");
    assert_eq!(up.request_count(), 1);

    // Unrelated change (server limits): the entry survives.
    let mut unrelated = cfg.clone();
    merge(
        &mut unrelated,
        json!({ "server": { "limits": { "maxBodyBytes": 2_000_000 } } }),
    );
    let g = gw.generation();
    gw.write_config(unrelated);
    assert_eq!(gw.reload_post().status, 200);
    assert!(gw.generation() > g);
    let mut c = gw.client();
    get(&mut c, "/cached/r");
    assert_eq!(
        up.request_count(),
        1,
        "the reload dropped an unchanged stage's entries"
    );

    // The method's integration changes: nothing stale is served.
    let mut moved = cfg.clone();
    moved["apis"][0]["definition"]["paths"]["/cached/{proxy+}"]["get"]["x-amazon-apigateway-integration"]
        ["uri"] = json!(other.uri("/cached/{proxy}"));
    gw.write_config(moved);
    assert_eq!(gw.reload_post().status, 200);
    let mut c = gw.client();
    get(&mut c, "/cached/r");
    assert_eq!(
        other.request_count(),
        1,
        "a stale entry outlived its integration"
    );

    // The TTL changes: the cache starts clean.
    let mut ttl = cfg;
    ttl["stages"][0]["methodSettings"]["*/*"]["cacheTtlInSeconds"] = json!(60);
    gw.write_config(ttl);
    assert_eq!(gw.reload_post().status, 200);
    let mut c = gw.client();
    get(&mut c, "/cached/r");
    assert_eq!(up.request_count(), 2);
}

#[test]
fn only_get_is_cached_by_default() {
    let up = Upstream::echo();
    let gw = Gateway::start(open_config(&up));
    let mut c = gw.client();
    for _ in 0..2 {
        let r = c.roundtrip(&request("PUT", "/p", &[], Some(b"x")));
        assert_eq!(r.status, 200);
    }
    assert_eq!(up.request_count(), 2);
    // ANY with `*/*` caching enabled still caches only its GET requests.
    for _ in 0..2 {
        c.roundtrip(&request("OPTIONS", "/p", &[], None));
    }
    assert_eq!(up.request_count(), 4);
}

#[test]
fn a_cached_proxy_route_without_the_proxy_key_is_warned_about() {
    let up = Upstream::echo();
    let mut cfg = open_config(&up);
    cfg["apis"][0]["definition"]["paths"]["/cached/{proxy+}"]["get"]["x-amazon-apigateway-integration"]
        ["cacheKeyParameters"] = json!([]);
    let gw = Gateway::start(cfg);
    assert!(
        wait_until(Duration::from_secs(5), || gw.stderr().contains(
            "method.request.path.proxy` is not in its cacheKeyParameters"
        )),
        "{}",
        gw.stderr()
    );
}

/// The send timeout of cache hits still applies while the gateway drains on SIGTERM: a client
/// that pipelines requests for a large cached answer and reads nothing is cut, and the process
/// exits long before `drainTimeoutMs`.
#[test]
fn a_client_that_stops_reading_hits_is_cut_during_a_drain() {
    let body = vec![b'x'; 900 * 1024];
    let up = Upstream::start(Mode::static_(200, &[], &body));
    let config = support::config::with_limits(
        open_config(&up),
        json!({ "sendTimeoutMs": 1000, "drainTimeoutMs": 30000 }),
    );
    let mut gw = Gateway::start(config);
    let mut c = gw.client();
    assert_eq!(get(&mut c, "/cached/big").body.len(), body.len());
    wait_until(Duration::from_secs(5), || cache_stats(&gw)["entries"] == 1);
    // 40 answers of 900 KiB fill every socket buffer long before the end.
    let mut many = Vec::new();
    for _ in 0..40 {
        many.extend_from_slice(&request("GET", "/cached/big", &[], None));
    }
    c.send(&many);
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    gw.sigterm();
    let exited = gw.wait_exit(Duration::from_secs(15));
    assert!(
        exited.is_some(),
        "still draining after 15 s: the stalled write was never timed out\n{}",
        gw.stderr()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "exited after {:?}",
        started.elapsed()
    );
    drop(c);
}

/// A hit's access-log line and metrics carry its real status and body length — small
/// bodies copied into the head's write and large ones written after it alike.
#[test]
fn hits_are_logged_with_their_status_and_length() {
    let big = pattern(900_000);
    let up = Upstream::start(Mode::static_(200, &[], &big));
    let format =
        r#"{"status":"$context.status","len":"$context.responseLength","path":"$context.path"}"#;
    let gw = Gateway::start(config(
        &up,
        json!({ "*/*": { "requireAuthorizationForCacheControl": false } }),
        json!({ "accessLogSettings": { "destinationArn": "access.log", "format": format } }),
    ));
    let mut c = gw.client();
    for _ in 0..2 {
        assert!(get(&mut c, "/cached/big").body == big);
    }
    up.set_mode(Mode::static_(404, &[], b"small"));
    for _ in 0..2 {
        let r = c.roundtrip(&request("GET", "/cached/small", &[], None));
        assert_eq!((r.status, r.body_str()), (404, "small".to_string()));
    }
    assert_eq!(up.request_count(), 3, "only 2xx responses are stored");
    up.set_mode(Mode::static_(200, &[], b"tiny"));
    for _ in 0..3 {
        assert_eq!(get(&mut c, "/cached/tiny").body_str(), "tiny");
    }
    assert_eq!(up.request_count(), 4);
    let file = gw.dir.file("access.log");
    let deadline = Instant::now() + Duration::from_secs(5);
    let lines = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.lines().count() >= 7 || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let got: Vec<(String, String)> = lines
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["status"].as_str().unwrap().into(),
                v["len"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("200", "900000"),
        ("200", "900000"),
        ("404", "5"),
        ("404", "5"),
        ("200", "4"),
        ("200", "4"),
        ("200", "4"),
    ]
    .iter()
    .map(|(s, l)| (s.to_string(), l.to_string()))
    .collect();
    assert_eq!(got, want, "{lines}");
}
