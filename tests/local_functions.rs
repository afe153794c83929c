//! Local functions on the Lambda Runtime API (issue 9): the gateway file's `functions` entry
//! `{"local": {...}}` makes tollgate start the function's process and serve it the Runtime
//! API. The functions are unmodified Lambda code on Python's official runtime interface
//! client, `awslambdaric` (PyPI): the authorizer of `scripts/lambda_authorizer.py`, and a
//! small test function written per test (`APP` below).
//!
//! Through the gateway: TOKEN and REQUEST Lambda authorizers. Directly on the function host's
//! Invoke API (its address is in admin `/status`): results, the Lambda environment, function
//! errors, timeouts and crashes (the process is replaced), a full queue, an init error, log
//! lines tagged with the request id, reload (unchanged functions keep their processes),
//! `--watch`, and no process left behind when tollgate exits or is killed.
//!
//! The Rust function `tests/functions/lambda-echo` (the official `lambda_runtime` crate; its own
//! workspace, built on demand into `target/lambda-echo`) runs as an authorizer and on the
//! Invoke API too.
//!
//! Needs `python3` with `awslambdaric` (scripts/test.sh installs it): without it each test
//! says it did not run and passes, except under `CI`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::config::{API, STAGE, openapi, stage};
use support::functions::{invoke_api_port, lambda_echo};
use support::http::request;
use support::*;

const MODULES: &[&str] = &["awslambdaric"];

/// The test function: ordinary Lambda handler code.
const APP: &str = r#"
import json, os, sys, time

if os.environ.get("FAIL_INIT"):
    raise RuntimeError("cannot start: " + os.environ["FAIL_INIT"])

def handler(event, context):
    print("event", json.dumps(event, sort_keys=True), flush=True)
    action = event.get("action")
    if action == "sleep":
        time.sleep(event["seconds"])
    elif action == "crash":
        os._exit(7)
    elif action == "fail":
        raise ValueError("failed on purpose")
    elif action == "big":
        return "x" * (7 * 1024 * 1024)
    names = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
             "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION", "LAMBDA_TASK_ROOT",
             "AWS_LAMBDA_LOG_STREAM_NAME", "_HANDLER", "GREETING"]
    return {"pid": os.getpid(), "requestId": context.aws_request_id,
            "function": context.function_name, "memory": context.memory_limit_in_mb,
            "remainingMs": context.get_remaining_time_in_millis(),
            "arn": context.invoked_function_arn, "cwd": os.getcwd(),
            "env": {k: os.environ.get(k) for k in names}, "event": event}
"#;

/// A directory with the test function's `app.py`.
fn function_dir() -> TempDir {
    let dir = TempDir::new("fn");
    std::fs::write(dir.file("app.py"), APP).unwrap();
    dir
}

fn local(dir: &Path, extra: Value) -> Value {
    let mut l = json!({
        "command": ["python3", "-m", "awslambdaric", "app.handler"],
        "cwd": dir.display().to_string(),
    });
    for (k, v) in extra.as_object().unwrap() {
        l[k] = v.clone();
    }
    l
}

/// A gateway with no API, only `functions`.
fn functions_only(functions: Value) -> Value {
    json!({ "apis": [], "stages": [], "functions": functions })
}

/// `POST /2015-03-31/functions/{name}/invocations` on the host.
fn invoke(gw: &Gateway, name: &str, event: Value) -> Response {
    let mut c = Client::connect(invoke_api_port(gw));
    let body = event.to_string();
    c.roundtrip(&request(
        "POST",
        &format!("/2015-03-31/functions/{name}/invocations"),
        &[("Host", "127.0.0.1"), ("Content-Type", "application/json")],
        Some(body.as_bytes()),
    ))
}

/// The PIDs of `name`'s processes, by state.
fn processes(gw: &Gateway, name: &str) -> Vec<(u32, String)> {
    let s = gw.status();
    s["functionHost"]["functions"][name]["processes"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        p["pid"].as_u64().unwrap() as u32,
                        p["state"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Wait until `name` has exactly one idle process; its PID.
fn one_idle(gw: &Gateway, name: &str) -> u32 {
    let mut last = Vec::new();
    let ok = wait_until(Duration::from_secs(15), || {
        last = processes(gw, name);
        last.len() == 1 && last[0].1 == "idle"
    });
    assert!(ok, "`{name}`: processes {last:?}\n{}", gw.stderr());
    last[0].0
}

/// Alive and not a zombie.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.to_string()))
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

fn assert_function_error(r: &Response, error_type: &str) -> Value {
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.header("X-Amz-Function-Error").as_deref(),
        Some("Unhandled"),
        "{}",
        r.body_str()
    );
    let body = r.json();
    assert_eq!(body["errorType"], error_type, "{body}");
    body
}

#[test]
fn invoke_api_runs_the_function_with_the_lambda_environment() {
    if !python_with(
        "invoke_api_runs_the_function_with_the_lambda_environment",
        MODULES,
    ) {
        return;
    }
    let dir = function_dir();
    let gw = Gateway::start(functions_only(json!({
        "hello": { "local": local(&dir.path, json!({
            "env": {"GREETING": "hi"}, "handler": "app.handler", "memoryMb": 256
        })), "timeoutMs": 5000 }
    })));
    let r = invoke(&gw, "hello", json!({"n": 1}));
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.header("X-Amz-Function-Error"), None);
    let out = r.json();
    assert_eq!(out["event"], json!({"n": 1}));
    assert_eq!(out["function"], "hello");
    assert_eq!(out["memory"], "256");
    assert_eq!(
        out["arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:hello"
    );
    let remaining = out["remainingMs"].as_u64().unwrap();
    assert!(remaining > 0 && remaining <= 5000, "{remaining}");
    assert!(is_uuid(out["requestId"].as_str().unwrap()), "{out}");
    let env = &out["env"];
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "hello");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["_HANDLER"], "app.handler");
    assert_eq!(env["GREETING"], "hi");
    let root = std::fs::canonicalize(&dir.path).unwrap();
    assert_eq!(
        std::fs::canonicalize(env["LAMBDA_TASK_ROOT"].as_str().unwrap()).unwrap(),
        root
    );
    assert_eq!(
        std::fs::canonicalize(out["cwd"].as_str().unwrap()).unwrap(),
        root
    );
    assert!(
        env["AWS_LAMBDA_LOG_STREAM_NAME"]
            .as_str()
            .unwrap()
            .contains("[$LATEST]")
    );

    // The function's output is in tollgate's log, tagged with the request id.
    let id = out["requestId"].as_str().unwrap().to_string();
    let line = format!("function `hello` [{id}]: event {{\"n\": 1}}");
    assert!(
        wait_until(Duration::from_secs(5), || gw.stderr().contains(&line)),
        "no `{line}` in:\n{}",
        gw.stderr()
    );

    // A handler that raises: Lambda's function error.
    let r = invoke(&gw, "hello", json!({"action": "fail"}));
    let body = assert_function_error(&r, "ValueError");
    assert_eq!(body["errorMessage"], "failed on purpose");

    // Warm: the same process served every call.
    let again = invoke(&gw, "hello", json!({})).json();
    assert_eq!(again["pid"], out["pid"]);

    let r = invoke(&gw, "nobody", json!({}));
    assert_eq!(r.status, 404, "{}", r.body_str());
    assert_eq!(
        r.header("x-amzn-ErrorType").as_deref(),
        Some("ResourceNotFoundException")
    );
}

#[test]
fn a_timeout_kills_the_process_and_the_next_invocation_runs_on_a_new_one() {
    if !python_with("a_timeout_kills_the_process", MODULES) {
        return;
    }
    let dir = function_dir();
    let gw = Gateway::start(functions_only(json!({
        "slow": { "local": local(&dir.path, json!({})), "timeoutMs": 1000 }
    })));
    let first = one_idle(&gw, "slow");
    let t = Instant::now();
    let r = invoke(&gw, "slow", json!({"action": "sleep", "seconds": 4}));
    let body = assert_function_error(&r, "Sandbox.Timedout");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Task timed out after 1.00 seconds"),
        "{body}"
    );
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(
        wait_until(Duration::from_secs(5), || !running(first)),
        "the timed-out process {first} was not killed"
    );
    // Replaced (a cold start can take longer than this function's 1 s timeout on a busy
    // machine, so wait for the new process before invoking it).
    let second = one_idle(&gw, "slow");
    assert_ne!(second, first);
    let r = invoke(&gw, "slow", json!({}));
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.json()["pid"].as_u64().unwrap() as u32, second);
    assert!(gw.stderr().contains("Task timed out after 1.00 seconds"));
}

#[test]
fn a_crash_mid_invocation_is_an_exit_error_and_the_process_is_replaced() {
    if !python_with("a_crash_mid_invocation", MODULES) {
        return;
    }
    let dir = function_dir();
    let gw = Gateway::start(functions_only(json!({
        "crashy": { "local": local(&dir.path, json!({})), "timeoutMs": 5000 }
    })));
    let first = one_idle(&gw, "crashy");
    let r = invoke(&gw, "crashy", json!({"action": "crash"}));
    let body = assert_function_error(&r, "Runtime.ExitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Runtime exited with error: exit status 7"),
        "{body}"
    );
    let r = invoke(&gw, "crashy", json!({}));
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_ne!(r.json()["pid"].as_u64().unwrap() as u32, first);
}

#[test]
fn a_full_queue_is_refused_at_once() {
    if !python_with("a_full_queue_is_refused_at_once", MODULES) {
        return;
    }
    let dir = function_dir();
    let gw = Gateway::start(functions_only(json!({
        "one": { "local": local(&dir.path, json!({"concurrency": 1, "queue": 1})), "timeoutMs": 5000 }
    })));
    one_idle(&gw, "one");
    // One runs, one waits; the third finds the queue full.
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let port = invoke_api_port(&gw);
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                let body = json!({"action": "sleep", "seconds": 1}).to_string();
                c.roundtrip(&request(
                    "POST",
                    "/2015-03-31/functions/one/invocations",
                    &[("Host", "127.0.0.1")],
                    Some(body.as_bytes()),
                ))
                .status
            })
        })
        .collect();
    assert!(wait_until(Duration::from_secs(5), || {
        let f = &gw.status()["functionHost"]["functions"]["one"];
        f["queued"] == 1 && f["processes"][0]["state"] == "busy"
    }));
    let t = Instant::now();
    let r = invoke(&gw, "one", json!({}));
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(r.status, 429, "{}", r.body_str());
    assert_eq!(
        r.header("x-amzn-ErrorType").as_deref(),
        Some("TooManyRequestsException")
    );
    assert_eq!(
        r.json()["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    for b in busy {
        assert_eq!(b.join().unwrap(), 200);
    }
}

#[test]
fn processes_start_up_to_the_concurrency_and_oversized_results_fail() {
    if !python_with("processes_start_up_to_the_concurrency", MODULES) {
        return;
    }
    let dir = function_dir();
    let gw = Gateway::start(functions_only(json!({
        "two": { "local": local(&dir.path, json!({"concurrency": 2, "queue": 0})), "timeoutMs": 5000 }
    })));
    one_idle(&gw, "two");
    let port = invoke_api_port(&gw);
    let calls: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                let body = json!({"action": "sleep", "seconds": 3}).to_string();
                c.roundtrip(&request(
                    "POST",
                    "/2015-03-31/functions/two/invocations",
                    &[("Host", "127.0.0.1")],
                    Some(body.as_bytes()),
                ))
            })
        })
        .collect();
    let pids: Vec<u64> = calls
        .into_iter()
        .map(|c| {
            let r = c.join().unwrap();
            assert_eq!(r.status, 200, "{}", r.body_str());
            r.json()["pid"].as_u64().unwrap()
        })
        .collect();
    // (The first runs 3 s: time enough for the second process to start on a busy machine.)
    assert_ne!(
        pids[0], pids[1],
        "the second invocation got a second process"
    );
    assert_eq!(processes(&gw, "two").len(), 2);

    // A result over Lambda's 6 MB: the invocation fails as on Lambda.
    let r = invoke(&gw, "two", json!({"action": "big"}));
    assert_function_error(&r, "Function.ResponseSizeTooLarge");
}

#[test]
fn an_init_error_fails_invocations_with_the_error() {
    if !python_with("an_init_error_fails_invocations_with_the_error", MODULES) {
        return;
    }
    let dir = function_dir();
    let gw = Gateway::start(functions_only(json!({
        "broken": { "local": local(&dir.path, json!({"env": {"FAIL_INIT": "no database"}})), "timeoutMs": 5000 }
    })));
    let r = invoke(&gw, "broken", json!({}));
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.header("X-Amz-Function-Error").as_deref(),
        Some("Unhandled")
    );
    // As Lambda: the init error the runtime reported (awslambdaric: the exception's type).
    let body = r.json();
    assert_eq!(body["errorType"], "RuntimeError", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("cannot start: no database"),
        "{body}"
    );
    let s = gw.status();
    assert!(
        s["functionHost"]["functions"]["broken"]["initError"]["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("no database")),
        "{s}"
    );
    assert!(gw.stderr().contains("function `broken`: init error"));
}

#[test]
fn a_reload_keeps_unchanged_functions_and_restarts_changed_ones() {
    if !python_with("a_reload_keeps_unchanged_functions", MODULES) {
        return;
    }
    let dir = function_dir();
    let config = |b_greeting: &str, with_c: bool| {
        let mut f = json!({
            "a": { "local": local(&dir.path, json!({})) },
            "b": { "local": local(&dir.path, json!({"env": {"GREETING": b_greeting}})) }
        });
        if with_c {
            f["c"] = json!({ "local": local(&dir.path, json!({})) });
        }
        functions_only(f)
    };
    let mut gw = Gateway::start(config("one", true));
    let (a, b, c) = (one_idle(&gw, "a"), one_idle(&gw, "b"), one_idle(&gw, "c"));
    gw.write_config(config("two", false));
    let r = gw.reload_post();
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(one_idle(&gw, "a"), a, "unchanged: same process");
    let b2 = one_idle(&gw, "b");
    assert_ne!(b2, b, "changed: a new process");
    assert_eq!(invoke(&gw, "b", json!({})).json()["env"]["GREETING"], "two");
    assert!(
        wait_until(Duration::from_secs(5), || !running(b) && !running(c)),
        "old processes still running"
    );
    assert_eq!(invoke(&gw, "c", json!({})).status, 404);
    assert!(running(a));
}

#[test]
fn watch_restarts_a_function_when_its_files_change() {
    if !python_with("watch_restarts_a_function", MODULES) {
        return;
    }
    let dir = function_dir();
    let gw = Gateway::start_with(
        functions_only(json!({ "w": { "local": local(&dir.path, json!({})) } })),
        Options {
            args: vec!["--watch".into()],
            ..Options::default()
        },
    );
    let first = one_idle(&gw, "w");
    // Let the watcher take its first look, then change the code.
    std::thread::sleep(Duration::from_millis(800));
    let changed = APP.replace("\"event\": event}", "\"event\": event, \"version\": 2}");
    std::fs::write(dir.file("app.py"), changed).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || {
            let p = processes(&gw, "w");
            p.len() == 1 && p[0].0 != first && p[0].1 == "idle"
        }),
        "no restart:\n{}",
        gw.stderr()
    );
    assert_eq!(invoke(&gw, "w", json!({})).json()["version"], 2);
    assert!(!running(first));
}

#[test]
fn no_process_outlives_tollgate() {
    if !python_with("no_process_outlives_tollgate", MODULES) {
        return;
    }
    let dir = function_dir();
    let functions = json!({ "f": { "local": local(&dir.path, json!({"concurrency": 2})) } });
    // SIGTERM: the host stops its processes.
    let mut gw = Gateway::start(functions_only(functions.clone()));
    let pid = one_idle(&gw, "f");
    gw.sigterm();
    assert!(gw.wait_exit(Duration::from_secs(10)).is_some());
    assert!(
        wait_until(Duration::from_secs(5), || !running(pid)),
        "process {pid} outlived a clean exit"
    );
    // SIGKILL: the kernel kills them (PR_SET_PDEATHSIG).
    let mut gw = Gateway::start(functions_only(functions));
    let pid = one_idle(&gw, "f");
    gw.signal(libc::SIGKILL);
    assert!(gw.wait_exit(Duration::from_secs(10)).is_some());
    assert!(
        wait_until(Duration::from_secs(5), || !running(pid)),
        "process {pid} outlived tollgate"
    );
}

// ---------------------------------------------------------------------------------------------
// Through the gateway: Lambda authorizers on local functions.

const AUTHORIZER_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:auth";

fn authorizer(kind: &str, source: &str) -> Value {
    json!({ "type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authtype": "custom",
            "x-amazon-apigateway-authorizer": {
                "type": kind,
                "authorizerUri": format!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{AUTHORIZER_ARN}/invocations"),
                "identitySource": source,
                "authorizerResultTtlInSeconds": 0 } })
}

/// REST API: `/pets` behind the TOKEN authorizer `tok`, `/req` behind the REQUEST one; the
/// authorizer's `principalId` reaches the backend as `X-Principal`.
pub fn authorizer_gateway(up: &Upstream, function: Value) -> Value {
    let op = |scheme: &str| {
        json!({ "security": [{ scheme: [] }], "x-amazon-apigateway-integration": {
            "type": "http_proxy", "httpMethod": "ANY", "uri": up.uri("/backend"),
            "requestParameters": {
                "integration.request.header.X-Principal": "context.authorizer.principalId"
            } } })
    };
    let mut doc = openapi(json!({
        "/pets": { "get": op("tok") },
        "/req": { "get": op("req") }
    }));
    doc["components"] = json!({ "securitySchemes": {
        "tok": authorizer("token", "method.request.header.Authorization"),
        "req": authorizer("request", "method.request.header.X-Key")
    } });
    json!({
        "server": { "defaultApi": { "apiId": API, "stage": STAGE } },
        "apis": [{ "id": API, "protocolType": "REST", "definition": doc }],
        "stages": [stage(API, STAGE)],
        "functions": { "auth": function }
    })
}

/// Allow, explicit deny and `Unauthorized` through TOKEN, allow and deny through REQUEST;
/// `principal`: what the function's Allow names.
pub fn check_authorizer(gw: &Gateway, up: &Upstream, principal: &str) {
    let mut c = gw.client();
    let get = |c: &mut Client, path: &str, h: (&str, &str)| {
        c.roundtrip(&request("GET", path, &[h], None))
    };
    let r = get(&mut c, "/pets", ("Authorization", "allow"));
    assert_eq!(r.status, 200, "{}\n{}", r.body_str(), gw.stderr());
    let seen = up.requests();
    assert_eq!(
        seen.last().unwrap().header("X-Principal").as_deref(),
        Some(principal)
    );
    let r = get(&mut c, "/pets", ("Authorization", "deny"));
    assert_eq!(r.status, 403, "{}", r.body_str());
    let r = get(&mut c, "/pets", ("Authorization", "unauthorized"));
    assert_eq!(r.status, 401, "{}", r.body_str());
    assert_eq!(r.body_str(), r#"{"message":"Unauthorized"}"#);
    let r = get(&mut c, "/req", ("X-Key", "allow"));
    assert_eq!(r.status, 200, "{}", r.body_str());
    let r = get(&mut c, "/req", ("X-Key", "deny"));
    assert_eq!(r.status, 403, "{}", r.body_str());
}

#[test]
fn a_python_function_on_awslambdaric_is_a_token_and_request_authorizer() {
    if !python_with(
        "a_python_function_on_awslambdaric_is_an_authorizer",
        MODULES,
    ) {
        return;
    }
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let up = Upstream::echo();
    let gw = Gateway::start(authorizer_gateway(
        &up,
        json!({ "local": {
            "command": ["python3", "-m", "awslambdaric", "lambda_authorizer.handler"],
            "cwd": scripts.display().to_string()
        }, "timeoutMs": 5000 }),
    ));
    check_authorizer(&gw, &up, "user-allow");
}

// ---------------------------------------------------------------------------------------------
// A Rust function on the `lambda_runtime` crate.

#[test]
fn a_rust_function_on_lambda_runtime_is_a_token_and_request_authorizer() {
    let Some(bin) = lambda_echo("a_rust_function_on_lambda_runtime_is_an_authorizer") else {
        return;
    };
    let up = Upstream::echo();
    let gw = Gateway::start(authorizer_gateway(
        &up,
        json!({ "local": { "command": [bin.display().to_string()] }, "timeoutMs": 5000 }),
    ));
    check_authorizer(&gw, &up, "rust-allow");
}

#[test]
fn a_rust_function_on_lambda_runtime_answers_the_invoke_api() {
    let Some(bin) = lambda_echo("a_rust_function_on_lambda_runtime_answers_the_invoke_api") else {
        return;
    };
    let gw = Gateway::start(functions_only(json!({
        "echo": { "local": { "command": [bin.display().to_string()], "memoryMb": 512 } }
    })));
    let r = invoke(&gw, "echo", json!({"hello": "rust"}));
    assert_eq!(r.status, 200, "{}\n{}", r.body_str(), gw.stderr());
    let out = r.json();
    assert_eq!(out["event"], json!({"hello": "rust"}));
    assert_eq!(out["function"], "echo");
    assert_eq!(out["memory"], 512);
    assert_eq!(
        out["arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:echo"
    );
    let id = out["requestId"].as_str().unwrap();
    let line = format!("function `echo` [{id}]: rust echo {id}");
    assert!(
        wait_until(Duration::from_secs(5), || gw.stderr().contains(&line)),
        "no `{line}` in:\n{}",
        gw.stderr()
    );
}

#[test]
fn the_example_config_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(support::gateway::BIN)
        .arg("check")
        .arg(root.join("conf/examples/local-functions.json"))
        .output()
        .expect("run tollgate check");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
