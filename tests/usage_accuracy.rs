//! Issue 4 accuracy on the wire (DESIGN §5, RELIABILITY RL01, RL04, RL05, RL06): throttles
//! measured black-box — the real binary, 2 workers (SO_REUSEPORT spreads connections over both
//! cores), loopback sockets, the test's own clock — against the bound documented in
//! `src/dataplane/throttle.rs`:
//!
//! > over any interval Δ, all cores together admit at most B + R·Δ + C·L, where
//! > L = clamp(R × 1 ms, 1, max(1, B / (8C)), 4096); leases expire after 10 ms;
//! > and it does not under-admit (a static per-core split would give one busy core R/C).
//!
//! Also API Gateway's order of evaluation (key check, then key+method, key, stage method,
//! account), the 429 body and `Retry-After`, and 403 for missing, unknown and disabled keys.
//!
//! Every test is bounded (a few seconds of load each) and asserts exact or tight counts; the
//! numbers observed are printed (`--nocapture`, or on failure).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::config::{API, STAGE, mock_ok, openapi, stage};
use support::http::{get, request};
use support::*;

/// Worker threads (cores) of every gateway here: C in the bound.
const CORES: u64 = 2;

const KEY: &str = "accuracy-key-0123456789abcdef";
const ALICE: &str = "alice-key-value-0123456789";
const BOB: &str = "bob-key-value-0123456789ab";
const CAROL: &str = "carol-key-value-0123456789"; // disabled
const DAVE: &str = "dave-key-value-0123456789a";
const ERIN: &str = "erin-key-value-0123456789a";
const VICTIM: &str = "victim-key-value-0123456789";
const ATTACKER: &str = "attacker-key-value-01234567";

const TOO_MANY: &str = r#"{"message":"Too Many Requests"}"#;
const FORBIDDEN: &str = r#"{"message":"Forbidden"}"#;

/// The documented lease size, rounded up (so bounds built from it are never too tight):
/// L = clamp(R × 1 ms, 1, max(1, B / (8 C)), 4096).
fn lease(rate: f64, burst: u64) -> u64 {
    let hi = (burst / (8 * CORES)).max(1);
    ((rate / 1000.0).ceil() as u64).clamp(1, hi).min(4096)
}

/// A REST API on stage `prod`: `keyed` paths need an API key (GET, MOCK 200), `/open` needs
/// none. `plans` and `keys` are `usagePlans` and `apiKeys`; the harness lifts the account
/// throttle unless the caller sets `account`.
fn config(keyed: &[&str], plans: Value, keys: Value) -> Value {
    let mut paths = serde_json::Map::new();
    for p in keyed {
        let mut m = mock_ok();
        m["security"] = json!([{ "api_key": [] }]);
        paths.insert(p.to_string(), json!({ "get": m }));
    }
    paths.insert("/open".into(), json!({ "get": mock_ok() }));
    let mut doc = openapi(Value::Object(paths));
    doc["components"] = json!({ "securitySchemes": { "api_key": { "type": "apiKey", "name": "x-api-key", "in": "header" } } });
    json!({
        "server": { "defaultApi": { "apiId": API, "stage": STAGE } },
        "apis": [{ "id": API, "protocolType": "REST", "definition": doc }],
        "stages": [stage(API, STAGE)],
        "usagePlans": plans,
        "apiKeys": keys
    })
}

fn plan(id: &str, throttle: Option<(f64, u64)>) -> Value {
    let mut p = json!({ "id": id, "name": id, "apiStages": [{ "apiId": API, "stage": STAGE }] });
    if let Some((rate, burst)) = throttle {
        p["throttle"] = json!({ "rateLimit": rate, "burstLimit": burst });
    }
    p
}

fn key(id: &str, value: &str, plan: &str) -> Value {
    json!({ "id": id, "name": id, "value": value, "usagePlanIds": [plan] })
}

fn keyed(path: &str, key: &str) -> Vec<u8> {
    request("GET", path, &[("x-api-key", key)], None)
}

/// The checks every throttle 429 passes; returns its `Retry-After` in seconds.
fn check_429(r: &Response, what: &str) -> u64 {
    assert_eq!(r.status, 429, "{what}: {}", r.body_str());
    assert_eq!(r.body_str(), TOO_MANY, "{what}");
    assert_eq!(
        r.header("x-amzn-ErrorType").as_deref(),
        Some("TooManyRequestsException"),
        "{what}"
    );
    let ra = r
        .header("Retry-After")
        .unwrap_or_else(|| panic!("{what}: 429 without Retry-After"));
    ra.parse()
        .unwrap_or_else(|_| panic!("{what}: Retry-After `{ra}` is not delay-seconds"))
}

#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    ok: u64,
    throttled: u64,
    /// When the last request was sent: tokens that accrue after it cannot be asked for.
    last_sent: Option<Instant>,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.ok += o.ok;
        self.throttled += o.throttled;
        self.last_sent = self.last_sent.max(o.last_sent);
    }

    /// From `t0` to the last request sent (to now if none was).
    fn asking(&self, t0: Instant) -> Duration {
        self.last_sent
            .unwrap_or_else(Instant::now)
            .saturating_duration_since(t0)
    }
}

/// Closed loop until `until`: one request at a time, round-robin over `conns` (one
/// connection, or an alternation). Every answer is a 200 or a throttle 429 whose
/// `Retry-After` is within `1..=max_retry`.
fn drive(conns: &mut [Client], req: &[u8], until: Instant, max_retry: u64) -> Tally {
    let mut t = Tally::default();
    let mut i = 0;
    while Instant::now() < until {
        let c = &mut conns[i % conns.len()];
        i += 1;
        t.last_sent = Some(Instant::now());
        let r = c.roundtrip(req);
        match r.status {
            200 => t.ok += 1,
            _ => {
                let ra = check_429(&r, "throttled request");
                assert!((1..=max_retry).contains(&ra), "Retry-After {ra}");
                t.throttled += 1;
            }
        }
    }
    t
}

/// `n` threads, one connection each, all driving `req` until `until`; the sum.
fn drive_threads(gw: &Gateway, n: usize, req: &[u8], until: Instant, max_retry: u64) -> Tally {
    let conns: Vec<Client> = (0..n).map(|_| gw.client()).collect();
    let threads: Vec<_> = conns
        .into_iter()
        .map(|mut c| {
            let req = req.to_vec();
            std::thread::spawn(move || drive(std::slice::from_mut(&mut c), &req, until, max_retry))
        })
        .collect();
    let mut t = Tally::default();
    for th in threads {
        t.add(th.join().expect("load thread"));
    }
    t
}

// --- RL01: accuracy under skew ----------------------------------------------------------

/// RL01's plan throttle: R = 200 rps, B = 50 — small enough that the load is always far
/// above R (so the bucket, not the client, decides), large enough that 2 % of B + R·t is
/// a dozen tokens.
const R: f64 = 200.0;
const B: u64 = 50;
const LOAD: Duration = Duration::from_secs(3);

fn skew_gateway() -> Gateway {
    Gateway::start(config(
        &["/keyed"],
        json!([plan("p", Some((R, B)))]),
        json!([key("k", KEY, "p")]),
    ))
}

/// Admitted since `t0` (the test's clock: taken before the first request is written; `t`
/// runs to now, after the last response was read, so every admission the gateway made for
/// this load lies inside it; `t'` runs to when the last request was sent):
///
/// - upper: B + R·t + C·L — the documented bound over any interval, with Δ ≤ t (our window
///   contains the gateway's). No further allowance: nothing was admitted outside the window.
/// - lower: 0.98 (B + R·t') − C·L — the bucket starts full (B) and the load never lets it
///   fill up again, so it hands out B + R·t' less what accrued between the last request's
///   sending and its arrival (≪ 1 token at 200 rps) and at most C·L tokens left in cores'
///   leases at the end (what accrues while the machine delays the last answer was never
///   asked for: hence t', not t); 2 % of B + R·t' (13 tokens at t' = 3 s) absorbs
///   scheduling stalls on a shared machine. A static per-core split would admit
///   B/2 + R·t/2 ≈ 325 on one connection: far below.
fn assert_accurate(what: &str, admitted: Tally, t0: Instant) {
    let t = t0.elapsed();
    let asked = admitted.asking(t0);
    let l = lease(R, B);
    let ideal = B as f64 + R * t.as_secs_f64();
    let upper = ideal + (CORES * l) as f64;
    let lower = (B as f64 + R * asked.as_secs_f64()) * 0.98 - (CORES * l) as f64;
    eprintln!(
        "{what}: admitted {} of {} in {:.3} s (the last sent at {:.3} s); B + R·t = {ideal:.1}, bounds [{lower:.1}, {upper:.1}] (L = {l})",
        admitted.ok,
        admitted.ok + admitted.throttled,
        t.as_secs_f64(),
        asked.as_secs_f64()
    );
    assert!(
        admitted.throttled > 10 * admitted.ok,
        "{what}: the load did not stay far above the rate ({admitted:?})"
    );
    assert!(
        admitted.ok as f64 <= upper,
        "{what}: over-admitted: {} > B + R·t + C·L = {upper:.1}",
        admitted.ok
    );
    assert!(
        admitted.ok as f64 >= lower,
        "{what}: under-admitted: {} < 0.98 (B + R·t') − C·L = {lower:.1} (a static per-core split would give ~{:.0})",
        admitted.ok,
        ideal / CORES as f64
    );
}

#[test]
fn rl01_one_connection_on_one_core_gets_the_whole_bucket() {
    let gw = skew_gateway();
    let mut c = gw.client();
    let req = keyed("/keyed", KEY);
    let t0 = Instant::now();
    let tally = drive(std::slice::from_mut(&mut c), &req, t0 + LOAD, 1);
    assert_accurate("one connection", tally, t0);
}

#[test]
fn rl01_32_connections_over_both_cores_share_one_bucket() {
    let gw = skew_gateway();
    let req = keyed("/keyed", KEY);
    let t0 = Instant::now();
    let tally = drive_threads(&gw, 32, &req, t0 + LOAD, 1);
    assert_accurate("32 connections", tally, t0);
}

/// The data-plane worker threads of the gateway (named `tollgate-worker-N`; `comm` keeps 15
/// bytes).
fn worker_tids(pid: u32) -> Vec<u32> {
    let mut tids: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("/proc/PID/task")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|tid| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
                .is_ok_and(|c| c.starts_with("tollgate-worke"))
        })
        .collect();
    tids.sort();
    tids
}

/// Context switches of one thread so far: a worker blocks in the kernel between two
/// requests of a sequential client, so the worker serving a connection gets about one per
/// request, the idle one only its 100 ms ticker's.
fn switches(pid: u32, tid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("ctxt_switches:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// Which worker (index into `tids`) serves `c`: 300 sequential unkeyed requests, then the
/// worker whose context switches grew by at least 150 and 4× the other's. None if unclear.
fn serving_worker(gw: &Gateway, tids: &[u32], c: &mut Client) -> Option<usize> {
    let before: Vec<u64> = tids.iter().map(|&t| switches(gw.pid, t)).collect();
    for _ in 0..300 {
        assert_eq!(c.roundtrip(&get("/open")).status, 200);
    }
    let d: Vec<u64> = tids
        .iter()
        .zip(&before)
        .map(|(&t, b)| switches(gw.pid, t) - b)
        .collect();
    let (i, &max) = d.iter().enumerate().max_by_key(|(_, v)| **v)?;
    let other = d
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, v)| *v)
        .max()?;
    (max >= 150 && max >= 4 * other).then_some(i)
}

#[test]
fn rl01_alternating_between_connections_on_different_cores() {
    let gw = skew_gateway();
    let tids = worker_tids(gw.pid);
    assert_eq!(tids.len(), CORES as usize, "worker threads: {tids:?}");
    // Open connections until one is known to be served by each worker.
    let mut on: [Option<Client>; 2] = [None, None];
    for _ in 0..24 {
        let mut c = gw.client();
        if let Some(w) = serving_worker(&gw, &tids, &mut c)
            && on[w].is_none()
        {
            on[w] = Some(c);
        }
        if on.iter().all(Option::is_some) {
            break;
        }
    }
    let [Some(a), Some(b)] = on else {
        panic!("could not find connections on both workers in 24 tries (SO_REUSEPORT spread?)");
    };
    let mut pair = [a, b];
    let req = keyed("/keyed", KEY);
    let t0 = Instant::now();
    let tally = drive(&mut pair, &req, t0 + LOAD, 1);
    assert_accurate("alternating cores", tally, t0);
    // Both connections really were on different cores all along: each still is.
    let mut seen = [false; 2];
    for c in &mut pair {
        if let Some(w) = serving_worker(&gw, &tids, c) {
            seen[w] = true;
        }
    }
    assert_eq!(
        seen,
        [true, true],
        "the two connections stayed on two workers"
    );
}

// --- RL05: token-bucket arithmetic ------------------------------------------------------

#[test]
fn rl05_after_the_burst_the_steady_rate_is_the_configured_rate() {
    const RATE: f64 = 300.0;
    const BURST: u64 = 100;
    let gw = Gateway::start(config(
        &["/keyed"],
        json!([plan("p", Some((RATE, BURST)))]),
        json!([key("k", KEY, "p")]),
    ));
    let req = keyed("/keyed", KEY);
    // Exhaust the burst on one connection; t0 is taken before the request that got the first
    // 429, so when the gateway answered it every token in the system was < 1 (this core's
    // lease and the ledger were empty; the other core never had a lease).
    let mut c = gw.client();
    let start = Instant::now();
    let mut burst = 0u64;
    let t0 = loop {
        let t = Instant::now();
        let r = c.roundtrip(&req);
        if r.status == 429 {
            check_429(&r, "first 429");
            break t;
        }
        assert_eq!(r.status, 200);
        burst += 1;
        assert!(t.elapsed() < Duration::from_secs(2), "no 429 within 2 s");
    };
    let burst_window = t0 - start;
    let l = lease(RATE, BURST);
    assert!(
        burst >= BURST && burst as f64 <= BURST as f64 + RATE * burst_window.as_secs_f64() + 1.0,
        "burst phase admitted {burst} in {burst_window:?} (B = {BURST})"
    );
    // Steady: the first connection and 8 more (both cores) for 3 s after t0.
    let until = t0 + LOAD;
    let first = std::thread::spawn({
        let req = req.clone();
        move || drive(std::slice::from_mut(&mut c), &req, until, 1)
    });
    let mut tally = drive_threads(&gw, 8, &req, until, 1);
    tally.add(first.join().unwrap());
    let dt = t0.elapsed().as_secs_f64();
    let asked = tally.asking(t0).as_secs_f64();
    // Upper: < 1 token at t0, then R·Δ, plus leases (≤ C·L) — so R·Δ + C·L + 1.
    // Lower: R·Δ' (Δ' until the last request was sent) less the leases left at the end and
    // the last round trip's accrual (< 1), within 2 % (RL05: "± 1 token per core per
    // window", and the issue's ±2 %).
    let upper = RATE * dt + (CORES * l) as f64 + 1.0;
    let lower = RATE * asked * 0.98 - (CORES * l) as f64 - 1.0;
    eprintln!(
        "steady: burst phase {burst} in {:.3} s; then {} admitted of {} in {dt:.3} s = {:.1}/s (R = {RATE}); bounds [{lower:.1}, {upper:.1}]",
        burst_window.as_secs_f64(),
        tally.ok,
        tally.ok + tally.throttled,
        tally.ok as f64 / dt
    );
    assert!(tally.ok as f64 <= upper, "steady over-admitted: {tally:?}");
    assert!(tally.ok as f64 >= lower, "steady under-admitted: {tally:?}");
}

#[test]
fn rl05_pipelined_requests_each_take_one_token() {
    // Burst 25 and a negligible rate: three writes of 10 pipelined requests (one write each)
    // get exactly 10, 10 and 5 admitted, in order, then 429s.
    let gw = Gateway::start(config(
        &["/keyed"],
        json!([plan("p", Some((0.01, 25)))]),
        json!([key("k", KEY, "p")]),
    ));
    let mut c = gw.client();
    let one = keyed("/keyed", KEY);
    let batch: Vec<u8> = one.iter().copied().cycle().take(one.len() * 10).collect();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        c.send(&batch);
        for _ in 0..10 {
            let r = c.read_response().unwrap_or_else(|e| panic!("{e}"));
            if r.status == 429 {
                let ra = check_429(&r, "pipelined");
                assert!((1..=100).contains(&ra), "Retry-After {ra}");
            }
            statuses.push(r.status);
        }
    }
    eprintln!("pipelined statuses: {statuses:?}");
    let mut expected = vec![200; 25];
    expected.extend([429; 5]);
    assert_eq!(statuses, expected);
}

// --- Retry-After ------------------------------------------------------------------------

#[test]
fn retry_after_is_the_wait_for_the_next_token() {
    // 0.5 rps, burst 2: after two requests the next token is 2 s away.
    let gw = Gateway::start(config(
        &["/keyed"],
        json!([plan("p", Some((0.5, 2)))]),
        json!([key("k", KEY, "p")]),
    ));
    let mut c = gw.client();
    let req = keyed("/keyed", KEY);
    assert_eq!(c.roundtrip(&req).status, 200);
    assert_eq!(c.roundtrip(&req).status, 200);
    let ra = check_429(&c.roundtrip(&req), "after the burst");
    assert!(
        (1..=2).contains(&ra),
        "Retry-After {ra} (next token in ≤ 2 s)"
    );
    // Waiting that long is enough: the next request is admitted, the one after is not.
    std::thread::sleep(Duration::from_secs(ra) + Duration::from_millis(50));
    let r = c.roundtrip(&req);
    assert_eq!(r.status, 200, "after waiting Retry-After {ra} s");
    let again = check_429(&c.roundtrip(&req), "right after");
    assert!((1..=2).contains(&again), "Retry-After {again}");
    eprintln!("Retry-After {ra} then {again}");
}

// --- Order of evaluation ----------------------------------------------------------------

/// Expected `Retry-After` of a level with rate 1/`period` and burst tokens all taken within
/// the last second: `period` rounded up, maybe one less.
fn assert_level(r: &Response, period: u64, what: &str) {
    let ra = check_429(r, what);
    assert!(
        (period - 1..=period).contains(&ra),
        "{what}: Retry-After {ra}, expected the level with rate 1/{period} s"
    );
}

#[test]
fn order_key_then_key_method_then_key_then_stage_method_then_account() {
    // Each level has its own rate, so a 429's Retry-After names the level that rejected it:
    // key+method 1/10 s (burst 1), key 1/20 s (burst 2), stage method 1/30 s (burst 2 per
    // route), account 1/40 s (burst 5). `/a` has all four, `/b` no key+method limit, `/c`
    // only key and account.
    let (km, k, sm, acct) = (10, 20, 30, 40);
    let mut p = plan("p", Some((1.0 / k as f64, 2)));
    p["apiStages"][0]["throttle"] =
        json!({ "/a/GET": { "rateLimit": 1.0 / km as f64, "burstLimit": 1 } });
    let mut cfg = config(
        &["/a", "/b", "/c"],
        json!([p]),
        json!([
            key("alice", ALICE, "p"),
            key("bob", BOB, "p"),
            { "id": "carol", "name": "carol", "value": CAROL, "enabled": false, "usagePlanIds": ["p"] },
            key("dave", DAVE, "p"),
            key("erin", ERIN, "p")
        ]),
    );
    let sm_setting = json!({ "throttlingRateLimit": 1.0 / sm as f64, "throttlingBurstLimit": 2 });
    cfg["stages"][0]["methodSettings"] = json!({ "/a/GET": sm_setting, "/b/GET": sm_setting });
    cfg["account"] =
        json!({ "throttleSettings": { "rateLimit": 1.0 / acct as f64, "burstLimit": 5 } });
    let gw = Gateway::start(cfg);
    let mut c = gw.client();
    let mut go = |path: &str, key: &str| c.roundtrip(&keyed(path, key));

    // key+method is the tightest on /a: one admitted, then its 429.
    assert_eq!(go("/a", ALICE).status, 200);
    assert_level(&go("/a", ALICE), km, "alice /a: key+method");
    // The key limit is the tightest on /b (no key+method limit, stage /b has a token left).
    assert_eq!(go("/b", ALICE).status, 200);
    assert_level(&go("/b", ALICE), k, "alice /b: key");
    // key+method and key both empty: key+method is checked first.
    assert_level(&go("/a", ALICE), km, "alice /a: key+method before key");
    // Stage /a now runs out (alice 1 + bob 1): dave's own key limits have tokens.
    assert_eq!(go("/a", BOB).status, 200);
    assert_level(&go("/a", DAVE), sm, "dave /a: stage method");
    // alice's key and stage /b both empty: the key is checked first.
    assert_eq!(go("/b", BOB).status, 200);
    assert_level(&go("/b", ALICE), k, "alice /b: key before stage method");
    // The fifth admitted request empties the account: erin has all her own tokens.
    assert_eq!(go("/c", DAVE).status, 200);
    assert_level(&go("/c", ERIN), acct, "erin /c: account");
    // Stage /a and the account both empty, dave's key levels not: stage method first.
    assert_level(&go("/a", DAVE), sm, "dave /a: stage method before account");
    // The key check comes before every throttle: missing, unknown and disabled keys get 403
    // even where every bucket is empty.
    for (what, req) in [
        ("no key", get("/a")),
        ("unknown key", keyed("/c", "nobody-has-this-key-0000")),
        ("disabled key", keyed("/c", CAROL)),
    ] {
        let r = c.roundtrip(&req);
        assert_eq!(r.status, 403, "{what}");
        assert_eq!(r.body_str(), FORBIDDEN, "{what}");
        assert_eq!(
            r.header("x-amzn-ErrorType").as_deref(),
            Some("ForbiddenException"),
            "{what}"
        );
    }
    // The account covers the unkeyed method too.
    assert_level(&c.roundtrip(&get("/open")), acct, "/open: account");
}

// --- RL04: key-cardinality DoS ----------------------------------------------------------

/// xorshift64*: the tests' random numbers (no dependency).
struct Rng(u64);

impl Rng {
    fn seeded(salt: u64) -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng((t ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `n` requests on `/keyed`, each with a distinct random key (`tag` and a counter make them
/// distinct, 64 random bits make them unguessable), `batch` pipelined per write; every answer
/// must be the 403. Returns how many were sent.
fn unknown_keys(gw: &Gateway, tag: u64, n: u64, batch: u64) -> u64 {
    let mut c = gw.client();
    let mut rng = Rng::seeded(tag);
    let mut sent = 0;
    while sent < n {
        let k = batch.min(n - sent);
        let mut bytes = Vec::with_capacity(k as usize * 120);
        for i in 0..k {
            let v = format!("unknown-{tag}-{:08}-{:016x}", sent + i, rng.next());
            bytes.extend_from_slice(&keyed("/keyed", &v));
        }
        c.send(&bytes);
        for _ in 0..k {
            let r = c.read_response().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.status, 403, "unknown key: {}", r.body_str());
            assert_eq!(r.body_str(), FORBIDDEN);
        }
        sent += k;
    }
    sent
}

#[test]
fn rl04_100k_unknown_keys_get_403_allocate_nothing_and_spare_the_legit_key() {
    // The account throttle is tight (1,000 rps, burst 1,000): were unknown keys counted
    // before their rejection, 100,000 of them would empty it and the legit key would see
    // 429s. The legit key has a plan without throttle.
    let mut cfg = config(
        &["/keyed"],
        json!([plan("p", None)]),
        json!([key("k", KEY, "p")]),
    );
    cfg["account"] = json!({ "throttleSettings": { "rateLimit": 1000, "burstLimit": 1000 } });
    let gw = Arc::new(Gateway::start(cfg));
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 25_000;
    // Warm-up with the same connection count, so buffers and allocator arenas exist before
    // the baseline.
    let warm: Vec<_> = (0..THREADS)
        .map(|t| {
            let gw = gw.clone();
            std::thread::spawn(move || unknown_keys(&gw, 100 + t, 2_000, 100))
        })
        .collect();
    warm.into_iter().for_each(|t| {
        t.join().unwrap();
    });
    std::thread::sleep(Duration::from_millis(300));
    let rss0 = gw.rss_kb();

    let stop = Arc::new(AtomicBool::new(false));
    let legit = std::thread::spawn({
        let (gw, stop) = (gw.clone(), stop.clone());
        move || {
            let mut c = gw.client();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let r = c.roundtrip(&keyed("/keyed", KEY));
                assert_eq!(
                    r.status,
                    200,
                    "legit key during the flood: {}",
                    r.body_str()
                );
                n += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            n
        }
    });
    let t0 = Instant::now();
    let flood: Vec<_> = (0..THREADS)
        .map(|t| {
            let gw = gw.clone();
            std::thread::spawn(move || unknown_keys(&gw, t, PER_THREAD, 100))
        })
        .collect();
    let sent: u64 = flood.into_iter().map(|t| t.join().unwrap()).sum();
    let flood_s = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let legit_ok = legit.join().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let rss1 = gw.rss_kb();
    eprintln!(
        "RL04: {sent} distinct unknown keys in {flood_s:.2} s ({:.0}/s), all 403; legit key {legit_ok} × 200; RSS {rss0} → {rss1} KiB",
        sent as f64 / flood_s
    );
    assert_eq!(sent, THREADS * PER_THREAD);
    assert!(
        legit_ok > 50,
        "the legit client got too few turns: {legit_ok}"
    );
    // A bucket (or even just the key string) per unknown key would be ≥ 100,000 × 64 bytes
    // ≈ 6 MiB; 2 MiB of slack is allocator noise.
    assert!(
        rss1 <= rss0 + 2048,
        "RSS grew from {rss0} to {rss1} KiB over 100,000 unknown keys"
    );
    let mut gw = Arc::into_inner(gw).expect("no other owner");
    gw.assert_healthy();
}

// --- RL06: rejects do not drain other keys ----------------------------------------------

/// The victim's numbers: admitted on `/keyed` (stage method burst 30) until its first 429,
/// then admitted on `/open` (account only) until its first 429.
fn victim_counts(gw: &Gateway) -> (u64, u64) {
    let mut c = gw.client();
    let mut count = |req: &[u8]| {
        let mut n = 0;
        loop {
            let r = c.roundtrip(req);
            if r.status != 200 {
                check_429(&r, "victim");
                return n;
            }
            n += 1;
            assert!(n < 1000, "no 429");
        }
    };
    let keyed_ok = count(&keyed("/keyed", VICTIM));
    let open_ok = count(&get("/open"));
    (keyed_ok, open_ok)
}

fn rl06_config() -> Value {
    // Stage method /keyed/GET: burst 30; account: burst 40; rates negligible (one token per
    // 1,000 s). The victim's plan has no throttle; the attacker's key: burst 1.
    let mut cfg = config(
        &["/keyed"],
        json!([plan("victims", None), plan("attackers", Some((0.001, 1)))]),
        json!([
            key("victim", VICTIM, "victims"),
            key("attacker", ATTACKER, "attackers")
        ]),
    );
    cfg["stages"][0]["methodSettings"] =
        json!({ "/keyed/GET": { "throttlingRateLimit": 0.001, "throttlingBurstLimit": 30 } });
    cfg["account"] = json!({ "throttleSettings": { "rateLimit": 0.001, "burstLimit": 40 } });
    cfg
}

#[test]
fn rl06_malformed_wrong_key_and_throttled_floods_do_not_drain_the_victims_buckets() {
    // Control: a fresh gateway, the attacker's one admitted request, no flood.
    let control = {
        let gw = Gateway::start(rl06_config());
        assert_eq!(
            gw.client().roundtrip(&keyed("/keyed", ATTACKER)).status,
            200
        );
        victim_counts(&gw)
    };
    // The attacker's key admits one request (its burst), which counts against stage /keyed
    // (30 → 29) and the account (40 → 39); nothing else the attacker does may count.
    assert_eq!(control, (29, 10), "control run");

    let gw = Arc::new(Gateway::start(rl06_config()));
    assert_eq!(
        gw.client().roundtrip(&keyed("/keyed", ATTACKER)).status,
        200
    );
    let stop = Arc::new(AtomicBool::new(false));
    let counts: [Arc<AtomicU64>; 3] = Default::default();
    let spawn = |kind: usize| {
        let (gw, stop, n) = (gw.clone(), stop.clone(), counts[kind].clone());
        std::thread::spawn(move || {
            let mut rng = Rng::seeded(kind as u64);
            while !stop.load(Ordering::Relaxed) {
                match kind {
                    // Malformed requests (400, connection closed), most carrying the victim's
                    // key, one connection each.
                    0 => {
                        let v = format!("x-api-key: {VICTIM}\r\n");
                        for bad in [
                            "GARBAGE\r\n\r\n".to_string(),
                            format!(
                                "GET /keyed HTTP/1.1\r\nHost: gw.test\r\n{v}Content-Length: 0\r\nContent-Length: 5\r\n\r\n"
                            ),
                            format!(
                                "GET /keyed HTTP/1.1\r\nHost: gw.test\r\n{v}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                            ),
                            format!(
                                "GET /keyed HTTP/1.1\r\nHost: gw.test\r\n{v}Bad Header: x\r\n\r\n"
                            ),
                        ] {
                            let mut c = gw.client();
                            let r = c.roundtrip(bad.as_bytes());
                            assert_eq!(r.status, 400, "malformed: {}", show(bad.as_bytes()));
                            n.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    // Wrong keys (403): unknown, missing, case-changed victim key; pipelined.
                    1 => {
                        let mut c = gw.client();
                        for _ in 0..20 {
                            let mut bytes = Vec::new();
                            for i in 0..50 {
                                bytes.extend_from_slice(&match i % 3 {
                                    0 => {
                                        keyed("/keyed", &format!("guess-{:016x}-0000", rng.next()))
                                    }
                                    1 => get("/keyed"),
                                    _ => keyed("/keyed", &VICTIM.to_uppercase()),
                                });
                            }
                            c.send(&bytes);
                            for _ in 0..50 {
                                let r = c.read_response().unwrap_or_else(|e| panic!("{e}"));
                                assert_eq!(r.status, 403, "wrong key");
                            }
                            n.fetch_add(50, Ordering::Relaxed);
                        }
                    }
                    // The attacker's own, exhausted key (429 at its key level), pipelined.
                    _ => {
                        let mut c = gw.client();
                        for _ in 0..20 {
                            let one = keyed("/keyed", ATTACKER);
                            let bytes: Vec<u8> =
                                one.iter().copied().cycle().take(one.len() * 50).collect();
                            c.send(&bytes);
                            for _ in 0..50 {
                                let r = c.read_response().unwrap_or_else(|e| panic!("{e}"));
                                check_429(&r, "attacker's own key");
                            }
                            n.fetch_add(50, Ordering::Relaxed);
                        }
                    }
                }
            }
        })
    };
    let attackers: Vec<_> = (0..3).map(spawn).collect();
    std::thread::sleep(Duration::from_millis(1500));
    // The victim, while the flood goes on.
    let during = victim_counts(&gw);
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.join().expect("attacker thread");
    }
    let [malformed, wrong, throttled] = counts.map(|c| c.load(Ordering::Relaxed));
    eprintln!(
        "RL06: control {control:?}; under attack ({malformed} × 400, {wrong} × 403, {throttled} × 429) the victim got {during:?}"
    );
    assert!(
        malformed > 100 && wrong > 1000 && throttled > 1000,
        "the flood was too thin to mean anything"
    );
    assert_eq!(
        during, control,
        "the victim's admitted counts (stage /keyed, then account)"
    );
}
