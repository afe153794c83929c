//! Local functions whose process misbehaves on the Runtime API (RELIABILITY: hostile peers):
//! a process that sends malformed HTTP is killed and replaced; its invocation fails as a
//! process exit. A `next` poll the runtime closes takes no invocation: it goes to a live
//! poll (of another process, or the same one asking again), once. The function is a raw-socket Runtime API client in plain Python (no
//! packages), so the test can send what no runtime library would.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::functions::{RAW_CALL as CALL, RAW_CONNECT as CONNECT, invoke_api_port, invoked_once};
use support::http::request;
use support::*;

/// A Runtime API client: answers `{"pid": ..}`; an event with `garbage` makes it send bytes
/// that are not HTTP instead, then hang.
const RAW: &str = r#"
import json, time
while True:
    h, event = call("GET", "/2018-06-01/runtime/invocation/next")
    rid = h["lambda-runtime-aws-request-id"]
    if json.loads(event).get("garbage"):
        s.sendall(b"\x00\x01 not http at all\r\n\r\n")
        time.sleep(30)
    call("POST", f"/2018-06-01/runtime/invocation/{rid}/response", json.dumps({"pid": os.getpid()}).encode())
"#;

fn invoke(port: u16, event: Value) -> Response {
    let mut c = Client::connect(port);
    let body = event.to_string();
    c.roundtrip(&request(
        "POST",
        "/2015-03-31/functions/raw/invocations",
        &[("Host", "127.0.0.1"), ("Content-Type", "application/json")],
        Some(body.as_bytes()),
    ))
}

#[test]
fn a_process_sending_malformed_http_is_killed_and_replaced() {
    if !python_with(
        "a_process_sending_malformed_http_is_killed_and_replaced",
        &[],
    ) {
        return;
    }
    let dir = TempDir::new("fn");
    std::fs::write(dir.file("raw.py"), format!("{CALL}{CONNECT}{RAW}")).unwrap();
    let gw = Gateway::start(json!({
        "apis": [], "stages": [],
        "functions": { "raw": { "local": {
            "command": ["python3", "raw.py"], "cwd": dir.path.display().to_string()
        }, "timeoutMs": 5000 } }
    }));
    let port = invoke_api_port(&gw);
    let r = invoke(port, json!({}));
    assert_eq!(r.status, 200, "{}", r.body_str());
    let first = r.json()["pid"].as_u64().unwrap();
    let r = invoke(port, json!({"garbage": true}));
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.header("X-Amz-Function-Error").as_deref(),
        Some("Unhandled")
    );
    let body = r.json();
    assert_eq!(body["errorType"], "Runtime.ExitError", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Runtime exited with error: signal: killed"),
        "{body}"
    );
    assert!(
        gw.stderr()
            .contains("sent a malformed Runtime API request; killing it")
    );
    // Replaced (after the restart backoff): the next invocation runs on a new process.
    let mut next = None;
    wait_until(Duration::from_secs(10), || {
        let r = invoke(port, json!({}));
        next = (r.status == 200)
            .then(|| r.json()["pid"].as_u64())
            .flatten();
        next.is_some()
    });
    assert!(next.is_some_and(|p| p != first), "{next:?} after {first}");
}

/// A runtime that gives up on its `next` long polls (closes the connection, retries on a new
/// one) more often than a process may hold connections, then serves: nothing leaks — the
/// abandoned polls neither keep their connection slots nor receive the event.
const IMPATIENT: &str = r#"
import json, os, socket, time
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
host, port = api.rsplit(":", 1)
head = f"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n".encode()
for _ in range(12):
    s = socket.create_connection((host, int(port)))
    s.sendall(head)
    time.sleep(0.05)
    s.close()
s = socket.create_connection((host, int(port)))
print("patient now", flush=True)
f = s.makefile("rb")
while True:
    h, event = call("GET", "/2018-06-01/runtime/invocation/next")
    rid = h["lambda-runtime-aws-request-id"]
    call("POST", f"/2018-06-01/runtime/invocation/{rid}/response", json.dumps({"pid": os.getpid()}).encode())
"#;

#[test]
fn abandoned_next_polls_do_not_lock_the_process_out() {
    if !python_with("abandoned_next_polls_do_not_lock_the_process_out", &[]) {
        return;
    }
    let dir = TempDir::new("fn");
    std::fs::write(dir.file("raw.py"), format!("{CALL}{IMPATIENT}")).unwrap();
    let gw = Gateway::start(json!({
        "apis": [], "stages": [],
        "functions": { "raw": { "local": {
            "command": ["python3", "raw.py"], "cwd": dir.path.display().to_string()
        }, "timeoutMs": 5000 } }
    }));
    let port = invoke_api_port(&gw);
    // After its impatient phase the process is served on the connection that stays: every
    // invocation answers, on that one process (no crash loop). (An invocation that comes
    // while a poll is abandoned: the tests below.)
    assert!(
        wait_until(Duration::from_secs(10), || gw
            .stderr()
            .contains("patient now")),
        "{}",
        gw.stderr()
    );
    std::thread::sleep(Duration::from_millis(200));
    let mut pids = Vec::new();
    for _ in 0..3 {
        let r = invoke(port, json!({}));
        assert_eq!(r.status, 200, "{}\n{}", r.body_str(), gw.stderr());
        assert_eq!(r.header("X-Amz-Function-Error"), None, "{}", r.body_str());
        pids.push(r.json()["pid"].as_u64().unwrap());
    }
    assert!(pids.windows(2).all(|w| w[0] == w[1]), "{pids:?}");
}

/// A runtime that opens a `next` long poll and closes it. The first process of the function
/// then stops asking (it sleeps); any later one serves. `again`: the first process opens a
/// new poll after a while and serves too.
const ABANDONS: &str = r#"
import json, os, socket, sys, time
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
host, port = api.rsplit(":", 1)
try:
    os.close(os.open("first", os.O_CREAT | os.O_EXCL))
    first = True
except FileExistsError:
    first = False
if first:
    s = socket.create_connection((host, int(port)))
    s.sendall(f"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n".encode())
    time.sleep(0.3)
    s.close()
    time.sleep(0.3)
    print("abandoned", flush=True)
    if sys.argv[1] != "again":
        time.sleep(60)
    time.sleep(1.5)
s = socket.create_connection((host, int(port)))
f = s.makefile("rb")
while True:
    h, event = call("GET", "/2018-06-01/runtime/invocation/next")
    rid = h["lambda-runtime-aws-request-id"]
    print(f"got {rid}", flush=True)
    call("POST", f"/2018-06-01/runtime/invocation/{rid}/response", json.dumps({"pid": os.getpid(), "rid": rid}).encode())
"#;

/// Starts the ABANDONS function (`mode`: "again" or "never") and returns the gateway and its
/// Invoke API port, once its first process has abandoned its poll.
fn abandoning(mode: &str, concurrency: u32, driver: &str) -> (Gateway, TempDir, u16) {
    let dir = TempDir::new("fn");
    std::fs::write(dir.file("raw.py"), format!("{CALL}{ABANDONS}")).unwrap();
    let gw = Gateway::start(json!({
        "server": { "ioDriver": driver },
        "apis": [], "stages": [],
        "functions": { "raw": { "local": {
            "command": ["python3", "raw.py", mode], "cwd": dir.path.display().to_string(),
            "concurrency": concurrency
        }, "timeoutMs": 10000 } }
    }));
    let port = invoke_api_port(&gw);
    assert!(
        wait_until(Duration::from_secs(10), || gw
            .stderr()
            .contains("abandoned")),
        "{}",
        gw.stderr()
    );
    (gw, dir, port)
}

/// An invocation is answered by a live poll, well before the 10 s timeout, and run once.
fn answered_promptly(gw: &Gateway, port: u16) {
    invoked_once(gw, port, &json!({}), Duration::from_secs(5));
}

#[test]
fn an_invocation_skips_a_poll_whose_connection_closed_for_another_process() {
    let test = "an_invocation_skips_a_poll_whose_connection_closed_for_another_process";
    if !python_with(test, &[]) {
        return;
    }
    let (gw, _dir, port) = abandoning("never", 2, "uring-defer-taskrun");
    // The only poll is dead: the invocation waits for a process to ask, and the host starts
    // a second one for it (the first never asks again).
    answered_promptly(&gw, port);
    answered_promptly(&gw, port);
}

/// With `concurrency` 1 and its only runtime gone quiet after closing its poll, the process
/// is killed and replaced once it has been away `AWAY_LIMIT` (5 s): the waiting invocation
/// runs on the new process instead of waiting out its timeout.
#[test]
fn a_process_that_never_polls_again_is_replaced() {
    let test = "a_process_that_never_polls_again_is_replaced";
    if !python_with(test, &[]) {
        return;
    }
    let (gw, _dir, port) = abandoning("never", 1, "uring-defer-taskrun");
    // The 5 s limit, then a new process's start; the function's timeout is 10 s.
    invoked_once(&gw, port, &json!({}), Duration::from_secs(9));
    assert!(
        gw.stderr()
            .contains("closed its `next` poll and did not ask again within 5 s; killing it"),
        "{}",
        gw.stderr()
    );
    answered_promptly(&gw, port);
}

#[test]
fn an_invocation_waits_for_the_runtime_to_poll_again_after_it_closed_its_poll() {
    let test = "an_invocation_waits_for_the_runtime_to_poll_again_after_it_closed_its_poll";
    if !python_with(test, &[]) {
        return;
    }
    // Both kinds of driver: the poll's watching read is cancelled when an invocation comes.
    for driver in ["uring-defer-taskrun", "legacy"] {
        let (gw, _dir, port) = abandoning("again", 1, driver);
        // Queued until the same process polls again (about 1.5 s later), then run there.
        answered_promptly(&gw, port);
        answered_promptly(&gw, port);
    }
}

/// A Runtime API client that sleeps `{"sleep": s}` seconds and answers its pid and `$X`.
const SLOW: &str = r#"
import json, time
while True:
    h, event = call("GET", "/2018-06-01/runtime/invocation/next")
    rid = h["lambda-runtime-aws-request-id"]
    time.sleep(json.loads(event).get("sleep", 0))
    answer = {"pid": os.getpid(), "x": os.environ.get("X")}
    call("POST", f"/2018-06-01/runtime/invocation/{rid}/response", json.dumps(answer).encode())
"#;

/// A reload that changes a function while its process is busy: the invocation finishes on
/// the old process, which is then retired (the worker lets it go as it turns idle,
/// `ProcShared::retire`); the next invocation runs on a new process with the new settings.
#[test]
fn a_reload_during_an_invocation_retires_the_process_after_it() {
    if !python_with(
        "a_reload_during_an_invocation_retires_the_process_after_it",
        &[],
    ) {
        return;
    }
    let dir = TempDir::new("fn");
    std::fs::write(dir.file("slow.py"), format!("{CALL}{CONNECT}{SLOW}")).unwrap();
    let config = |x: &str| {
        json!({
            "apis": [], "stages": [],
            "functions": { "raw": { "local": {
                "command": ["python3", "slow.py"], "cwd": dir.path.display().to_string(),
                "env": { "X": x }
            }, "timeoutMs": 10000 } }
        })
    };
    let mut gw = Gateway::start(config("one"));
    let port = invoke_api_port(&gw);
    let r = invoke(port, json!({}));
    assert_eq!(r.status, 200, "{}", r.body_str());
    let old = r.json()["pid"].as_u64().unwrap();
    let slow = std::thread::spawn(move || invoke(port, json!({"sleep": 1.5})));
    let busy = wait_until(Duration::from_secs(5), || {
        gw.status()["functionHost"]["functions"]["raw"]["processes"][0]["state"] == "busy"
    });
    assert!(busy, "{}", gw.status());
    gw.write_config(config("two"));
    let r = gw.reload_post();
    assert_eq!(r.status, 200, "{}", r.body_str());
    let r = slow.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.header("X-Amz-Function-Error"), None, "{}", r.body_str());
    assert_eq!(r.json(), json!({"pid": old, "x": "one"}));
    let r = invoke(port, json!({}));
    assert_eq!(r.status, 200, "{}\n{}", r.body_str(), gw.stderr());
    assert_eq!(r.json()["x"], "two", "{}", r.body_str());
    assert_ne!(r.json()["pid"].as_u64(), Some(old));
    let gone = wait_until(Duration::from_secs(5), || {
        !std::path::Path::new(&format!("/proc/{old}")).exists()
    });
    assert!(gone, "process {old} still there\n{}", gw.stderr());
}
