//! After answering a runtime's result with 202, the worker counts the process as waiting in
//! `next` before the runtime has asked, and reads its `GET next` only once it has an
//! invocation for it (`runtime::presume`). An invocation handed over that way must still
//! reach a runtime exactly once, promptly, whatever the runtime does instead of asking on the
//! same connection: ask on another connection, exit, or take its time. The function is a
//! raw-socket Runtime API client in plain Python (no packages).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::time::Duration;

use serde_json::json;
use support::functions::{RAW_CALL as CALL, invoke_api_port, invoked_once};
use support::*;

/// A Runtime API client. By the event: `{"sleep": s}` sleeps in the handler; after the 202, `{"nap": s}`
/// sleeps before asking again, `{"die": true}` exits (`"orphan"`: leaving a child that holds
/// the connection open for 3 s). With argument `split`, every `next`
/// goes on a new connection, 0.3 s after the result (the old one stays open, unused).
const RUNTIME: &str = r#"
import json, os, socket, sys, time
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
host, port = api.rsplit(":", 1)

def connect():
    s = socket.create_connection((host, int(port)))
    return s, s.makefile("rb")

split = sys.argv[1:] == ["split"]
(s, f), old = connect(), None
while True:
    h, event = call("GET", "/2018-06-01/runtime/invocation/next")
    rid = h["lambda-runtime-aws-request-id"]
    print(f"got {rid}", flush=True)
    event = json.loads(event)
    time.sleep(event.get("sleep", 0))
    answer = json.dumps({"pid": os.getpid(), "rid": rid}).encode()
    call("POST", f"/2018-06-01/runtime/invocation/{rid}/response", answer)
    if event.get("die") == "orphan" and os.fork() == 0:
        time.sleep(3)  # holds the connection open after its parent exited
        os._exit(0)
    if event.get("die"):
        os._exit(0)
    time.sleep(event.get("nap", 0))
    if split:
        time.sleep(0.3)
        if old is not None:
            old.close()
        old, (s, f) = s, connect()
"#;

fn start(args: &[&str], concurrency: u32) -> (Gateway, TempDir, u16) {
    let dir = TempDir::new("fn");
    std::fs::write(dir.file("runtime.py"), format!("{CALL}{RUNTIME}")).unwrap();
    let mut command = vec!["python3", "runtime.py"];
    command.extend_from_slice(args);
    let gw = Gateway::start(json!({
        "apis": [], "stages": [],
        "functions": { "raw": { "local": {
            "command": command, "cwd": dir.path.display().to_string(),
            "concurrency": concurrency
        }, "timeoutMs": 10000 } }
    }));
    let port = invoke_api_port(&gw);
    (gw, dir, port)
}

/// The invocation that comes while the runtime is between its result and its `next` is
/// handed to the process before it asks; the runtime then asks on a new connection (the
/// old one open and silent), and gets it there — not after `PRESUME_GRACE` (1 s).
#[test]
fn a_next_on_another_connection_takes_the_invocation_handed_over_before_it_asked() {
    let test = "a_next_on_another_connection_takes_the_invocation_handed_over_before_it_asked";
    if !python_with(test, &[]) {
        return;
    }
    let (gw, _dir, port) = start(&["split"], 1);
    let first = invoked_once(&gw, port, &json!({}), Duration::from_secs(10));
    for _ in 0..5 {
        // Sent at once: the runtime asks 0.3 s later.
        let body = invoked_once(&gw, port, &json!({}), Duration::from_millis(900));
        assert_eq!(body["pid"], first["pid"], "one process throughout");
    }
    assert!(!gw.stderr().contains("did not ask"), "{}", gw.stderr());
}

/// A runtime that exits right after its result's 202: the invocation handed to it before it
/// would have asked goes to its replacement, and succeeds (it never reached the runtime) —
/// whether the worker learns of the exit from the connection's end or, the connection held
/// open by an orphan, from the host.
#[test]
fn an_invocation_handed_to_a_runtime_that_exits_after_its_result_runs_on_the_next_process() {
    let test =
        "an_invocation_handed_to_a_runtime_that_exits_after_its_result_runs_on_the_next_process";
    if !python_with(test, &[]) {
        return;
    }
    let (gw, _dir, port) = start(&[], 1);
    for die in ["exit", "orphan", "exit", "orphan"] {
        let dying = invoked_once(&gw, port, &json!({ "die": die }), Duration::from_secs(10));
        // Sent at once, while the process exits: run by the process started after it.
        let next = invoked_once(&gw, port, &json!({}), Duration::from_secs(10));
        assert_ne!(next["pid"], dying["pid"]);
    }
}

/// A runtime that takes 3 s to ask again after its result does not hold the invocation
/// handed to it meanwhile: after `PRESUME_GRACE` (1 s) it runs on the other process.
#[test]
fn a_runtime_slow_to_ask_again_does_not_hold_an_invocation() {
    let test = "a_runtime_slow_to_ask_again_does_not_hold_an_invocation";
    if !python_with(test, &[]) {
        return;
    }
    let (gw, _dir, port) = start(&[], 2);
    // Both processes up: two invocations at once, each 0.5 s long.
    std::thread::scope(|s| {
        let a =
            s.spawn(|| invoked_once(&gw, port, &json!({"sleep": 0.5}), Duration::from_secs(10)));
        let b =
            s.spawn(|| invoked_once(&gw, port, &json!({"sleep": 0.5}), Duration::from_secs(10)));
        assert_ne!(a.join().unwrap()["pid"], b.join().unwrap()["pid"]);
    });
    let napping = invoked_once(&gw, port, &json!({"nap": 3}), Duration::from_secs(5));
    // Two at once: one of them is handed to the napping process first (the other process
    // takes the other), and goes to the other process after the grace.
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let event = json!({"sleep": 0.2});
                    invoked_once(&gw, port, &event, Duration::from_millis(2500))
                })
            })
            .collect();
        for r in runs {
            assert_ne!(r.join().unwrap()["pid"], napping["pid"]);
        }
    });
    assert!(
        gw.stderr()
            .contains("did not ask for its next invocation within 1000 ms of its last"),
        "{}",
        gw.stderr()
    );
}
