//! RELIABILITY §1.4: reload under load (R01), invalid config (R02), in-flight requests across
//! a reload (R03), reload storms (R06), SIGTERM drain (R09), and the admin API's token.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::config::{any_proxy, mock_method, rest_config, with_limits};
use support::http::get;
use support::*;

/// Config version `n`: `/gen` is a MOCK answering `X-Config-Gen: g<n>`.
fn versioned(n: u64, upstream: Option<&Upstream>) -> Value {
    let mut paths = json!({ "/gen": { "get": mock_method(200, &[("X-Config-Gen", &format!("g{n}"))], &format!("{{\"gen\":{n}}}")) } });
    if let Some(up) = upstream {
        paths["/{proxy+}"] = any_proxy(&up.uri("/{proxy}"));
    }
    rest_config(paths)
}

fn gen_header(gw: &Gateway) -> String {
    let r = one_shot(gw, &get("/gen"));
    assert_eq!(r.status, 200, "/gen: {}", r.body_str());
    r.header("X-Config-Gen").unwrap_or_default()
}

fn wait_generation(gw: &Gateway, g: u64) {
    let ok = wait_until(Duration::from_secs(5), || gw.generation() >= g);
    assert!(ok, "generation never reached {g}; /status: {}", gw.status());
}

#[test]
fn r01_reloads_under_load_drop_nothing() {
    let mut gw = Gateway::start(versioned(0, None));
    let g0 = gw.generation();
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let port = gw.port;
    let load: Vec<_> = (0..4)
        .map(|t| {
            let (stop, ok, failures) = (stop.clone(), ok.clone(), failures.clone());
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                while !stop.load(Ordering::Relaxed) {
                    if c.try_send(&get("/gen")).is_err() {
                        failures.lock().unwrap().push(format!(
                            "thread {t}: write failed on a keep-alive connection"
                        ));
                        c = Client::connect(port);
                        continue;
                    }
                    match c.read_response() {
                        Ok(r) if r.status == 200 => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            if r.closes() {
                                c = Client::connect(port); // announced close: allowed
                            }
                        }
                        Ok(r) => failures
                            .lock()
                            .unwrap()
                            .push(format!("thread {t}: status {}", r.status)),
                        Err(e) => {
                            failures.lock().unwrap().push(format!("thread {t}: {e}"));
                            c = Client::connect(port);
                        }
                    }
                }
            })
        })
        .collect();
    for i in 1..=100u64 {
        gw.write_config(versioned(i, None));
        if i % 2 == 0 {
            gw.sighup();
            wait_generation(&gw, g0 + i);
        } else {
            let r = gw.reload_post();
            assert_eq!(r.status, 200, "POST /reload #{i}: {}", r.body_str());
            assert_eq!(
                r.json()["generation"].as_u64(),
                Some(g0 + i),
                "POST /reload returns the new generation"
            );
        }
        assert_eq!(
            gen_header(&gw),
            format!("g{i}"),
            "after reload {i} a new request sees the new config"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for h in load {
        h.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "R01: {} failed requests, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        ok.load(Ordering::Relaxed) > 100,
        "R01: load generator barely ran"
    );
    gw.assert_healthy();
}

#[test]
fn r02_invalid_config_keeps_the_old_one_serving() {
    let mut gw = Gateway::start(versioned(1, None));
    let g = gw.generation();
    // (a) syntax error via SIGHUP
    let before = gw.status()["lastReload"].clone();
    gw.write_raw_config(b"{ \"server\": ");
    gw.sighup();
    let changed = wait_until(Duration::from_secs(5), || {
        gw.status()["lastReload"] != before
    });
    assert!(
        changed,
        "R02: /status lastReload did not report the failed SIGHUP reload: {}",
        gw.status()
    );
    assert_eq!(
        gw.generation(),
        g,
        "a failed reload does not bump the generation"
    );
    assert_eq!(gen_header(&gw), "g1", "old config keeps serving");
    // (b) two errors via POST /reload: 400 listing every error.
    let mut bad = versioned(2, None);
    bad["bogusProperty"] = json!(1);
    bad["apis"][0]["id"] = json!("Bad Id!");
    gw.write_config(bad);
    let r = gw.reload_post();
    assert_eq!(r.status, 400, "invalid config → 400: {}", r.body_str());
    let errors = r.json()["errors"].as_array().cloned().unwrap_or_default();
    assert!(errors.len() >= 2, "every error is listed: {}", r.body_str());
    let text = r.body_str();
    assert!(
        text.contains("bogusProperty"),
        "error names the unknown property: {text}"
    );
    assert!(
        text.contains("$.apis[0]"),
        "errors carry JSON paths: {text}"
    );
    let status = gw.status();
    assert!(
        status["lastReload"].to_string().contains("bogusProperty"),
        "/status shows the errors: {status}"
    );
    assert_eq!(gw.generation(), g);
    assert_eq!(gen_header(&gw), "g1");
    // Fixed config reloads fine.
    gw.write_config(versioned(3, None));
    assert_eq!(gw.reload_post().status, 200);
    assert_eq!(gen_header(&gw), "g3");
    gw.assert_healthy();
}

#[test]
fn r03_in_flight_requests_finish_across_a_reload() {
    let up = Upstream::start(Mode::drip(2000, 100, Duration::from_millis(100)));
    let mut gw = Gateway::start(versioned(1, Some(&up)));
    let g = gw.generation();
    let port = gw.port;
    let clients: Vec<_> = (0..20)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                c.send(&get(&format!("/drip?i={i}")));
                c.read_response_within(Duration::from_secs(10), false)
            })
        })
        .collect();
    assert!(
        up.wait_requests(20, Duration::from_secs(5)),
        "20 requests in flight:\n{}",
        up.describe()
    );
    gw.write_config(versioned(2, Some(&up)));
    gw.sighup();
    wait_generation(&gw, g + 1);
    for (i, h) in clients.into_iter().enumerate() {
        let r = h
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("R03 request {i}: {e}"));
        assert_eq!(r.status, 200, "R03 request {i}");
        assert!(
            r.body == filler(2000),
            "R03 request {i}: body truncated ({} bytes)",
            r.body.len()
        );
    }
    assert_eq!(gen_header(&gw), "g2");
    gw.assert_healthy();
}

#[test]
fn r06_reload_storm_leaks_nothing() {
    let mut gw = Gateway::start(versioned(0, None));
    for _ in 0..5 {
        assert_eq!(one_shot(&gw, &get("/gen")).status, 200);
    }
    std::thread::sleep(Duration::from_millis(300));
    let threads0 = gw.threads();
    let fds0 = gw.fd_count();
    let rss0 = gw.rss_kb();
    for i in 1..=200u64 {
        gw.write_config(versioned(i, None));
        if i % 4 == 0 {
            assert_eq!(gw.reload_post().status, 200);
        } else {
            gw.sighup();
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    gw.write_config(versioned(1000, None));
    assert_eq!(gw.reload_post().status, 200);
    assert_eq!(gen_header(&gw), "g1000");
    assert!(gw.is_alive(), "R06: process died");
    let settled = wait_until(Duration::from_secs(5), || {
        gw.threads() == threads0 && gw.fd_count() <= fds0 + 5
    });
    assert!(
        settled,
        "R06: threads {threads0} → {}, fds {fds0} → {} after 200 reloads",
        gw.threads(),
        gw.fd_count()
    );
    let rss1 = gw.rss_kb();
    assert!(
        rss1 < rss0 + rss0 / 2 + 8 * 1024,
        "R06: RSS {rss0} KiB → {rss1} KiB"
    );
    gw.assert_healthy();
}

#[test]
fn r09_sigterm_drains_in_flight_and_closes_idle() {
    let up = Upstream::start(Mode::drip(1500, 100, Duration::from_millis(100)));
    let cfg = with_limits(versioned(1, Some(&up)), json!({ "drainTimeoutMs": 5000 }));
    let mut gw = Gateway::start(cfg);
    let port = gw.port;
    // Idle keep-alive connections.
    let mut idle: Vec<Client> = (0..10)
        .map(|_| {
            let mut c = Client::connect(port);
            assert_eq!(c.roundtrip(&get("/gen")).status, 200);
            c
        })
        .collect();
    // In-flight slow requests.
    let inflight: Vec<_> = (0..5)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                c.send(&get(&format!("/drip?i={i}")));
                c.read_response_within(Duration::from_secs(10), false)
            })
        })
        .collect();
    assert!(up.wait_requests(5, Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    gw.sigterm();
    for (i, c) in idle.iter_mut().enumerate() {
        assert!(
            c.is_closed_within(Duration::from_secs(2)),
            "R09: idle keep-alive {i} not closed on SIGTERM"
        );
    }
    for (i, h) in inflight.into_iter().enumerate() {
        let r = h
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("R09 in-flight {i}: {e}"));
        assert_eq!(r.status, 200);
        assert!(r.body == filler(1500), "R09 in-flight {i}: body truncated");
    }
    let status = gw
        .wait_exit(Duration::from_secs(6))
        .expect("R09: not exited within drainTimeoutMs + 1 s");
    assert!(
        status.success(),
        "R09: exit status {status}; stderr:\n{}",
        gw.stderr()
    );
    assert!(t.elapsed() <= Duration::from_secs(6));
    assert!(
        Client::try_connect(port).is_err(),
        "R09: listener still accepting after exit"
    );
}

#[test]
fn admin_api_health_status_and_token() {
    let cfg = {
        let mut c = versioned(1, None);
        let admin_port = free_port();
        c["server"]["admin"] =
            json!({ "address": format!("127.0.0.1:{admin_port}"), "token": "s3cret" });
        c
    };
    let gw = Gateway::start(cfg);
    let h = gw.admin_request("GET", "/health", None, None).unwrap();
    assert_eq!(h.status, 200);
    assert_eq!(h.json(), json!({ "status": "ok" }));
    for (m, p) in [("GET", "/status"), ("POST", "/reload")] {
        let r = gw.admin_request(m, p, None, None).unwrap();
        assert_eq!(r.status, 401, "{m} {p} without a token");
        let r = gw.admin_request(m, p, Some("wrong"), None).unwrap();
        assert_eq!(r.status, 401, "{m} {p} with a wrong token");
    }
    let s = gw.status();
    assert!(s["generation"].as_u64().is_some(), "/status: {s}");
    assert!(s.get("lastReload").is_some(), "/status has lastReload: {s}");
    let r = gw.reload_post();
    assert_eq!(r.status, 200);
}
