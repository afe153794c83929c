//! Test functions: the Python scripts in `scripts/` that serve a function (or Lambda's
//! Invoke API) on loopback ([`Script`]), and the Rust Lambda function on the official
//! `lambda_runtime` crate that needs building (`tests/functions/lambda-echo`, its own
//! workspace so the root build never compiles tokio).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// For raw Runtime API clients in plain Python (no packages), which put it first: `call`
/// sends one request on their connection (`s`, its reader `f`; `api` is
/// `AWS_LAMBDA_RUNTIME_API`) and returns the answer's headers and body.
pub const RAW_CALL: &str = r#"
def call(method, path, body=b""):
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: {api}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    f.readline()
    headers = {}
    while True:
        line = f.readline().strip()
        if not line:
            break
        k, v = line.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return headers, f.read(int(headers.get("content-length", "0")))
"#;

/// For raw Runtime API clients with one connection, after [`RAW_CALL`]: opens it (`s`, its
/// reader `f`) to `AWS_LAMBDA_RUNTIME_API` (`api`, split into `host` and `port`).
pub const RAW_CONNECT: &str = r#"
import os, socket
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
host, port = api.rsplit(":", 1)
s = socket.create_connection((host, int(port)))
f = s.makefile("rb")
"#;

/// A script from `scripts/` run with `python3`: it prints its port on its first line, serves
/// on loopback, answers `GET /calls` with what it recorded, and exits when its stdin closes.
/// Killed by its PID on drop.
pub struct Script {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
}

impl Script {
    /// `scripts/{script}`; `None` (after saying so) when python3 or one of `modules` is
    /// missing (a failure under `CI`, see [`super::python_with`]).
    pub fn start(test: &str, script: &str, modules: &[&str]) -> Option<Script> {
        Script::start_with(test, script, modules, |_| {})
    }

    /// As [`Script::start`], with `configure` adding arguments or environment.
    pub fn start_with(
        test: &str,
        script: &str,
        modules: &[&str],
        configure: impl FnOnce(&mut Command),
    ) -> Option<Script> {
        if !super::python_with(test, modules) {
            return None;
        }
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts")
            .join(script);
        let mut cmd = Command::new("python3");
        cmd.arg(&path);
        configure(&mut cmd);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {script}: {e}"));
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the script's port");
        let port = line.trim().parse().expect("the script prints its port");
        Some(Script {
            child,
            _stdin: stdin,
            port,
        })
    }

    /// What the script recorded (`GET /calls`).
    pub fn state(&self) -> Value {
        let mut c = super::Client::connect(self.port);
        let r = c.roundtrip(&super::http::request(
            "GET",
            "/calls",
            &[("Connection", "close")],
            None,
        ));
        assert_eq!(r.status, 200);
        r.json()
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Build `tests/functions/lambda-echo` (at most 15 minutes) into `target/lambda-echo` and
/// return its binary; `None` (after saying so) when cargo cannot build it, e.g. offline — a
/// failure under `CI`.
pub fn lambda_echo(test: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target/lambda-echo");
    let mut child = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args(["build", "--quiet", "--locked", "--manifest-path"])
        .arg(root.join("tests/functions/lambda-echo/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .stdin(Stdio::null())
        .spawn()
        .expect("run cargo");
    let finished = super::wait_until(Duration::from_secs(900), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let built = finished && child.wait().is_ok_and(|s| s.success());
    if !built {
        let _ = child.kill();
        let _ = child.wait();
        let why = format!("{test} did not run: cannot build tests/functions/lambda-echo");
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("{why}");
        return None;
    }
    Some(target.join("debug/lambda-echo"))
}

/// The port of the gateway's Invoke API (its function host), from admin `/status`.
pub fn invoke_api_port(gw: &super::Gateway) -> u16 {
    let s = gw.status();
    let url = s["functionHost"]["invokeApi"]
        .as_str()
        .unwrap_or_else(|| panic!("no function host in /status: {s}"));
    url.rsplit(':').next().unwrap().parse().unwrap()
}

/// Invoke the raw client `raw` (a [`RAW_CALL`] script that prints `got {request id}` for
/// each event it takes and answers `{"rid": ..}` among its fields) with `event`, waiting up
/// to 15 s (longer than the client's default read timeout): the answer's body, which must
/// be successful, come within `limit` and come from one run of the invocation.
pub fn invoked_once(
    gw: &super::Gateway,
    port: u16,
    event: &serde_json::Value,
    limit: Duration,
) -> Value {
    let started = std::time::Instant::now();
    let mut c = super::Client::connect(port);
    c.send(&super::http::request(
        "POST",
        "/2015-03-31/functions/raw/invocations",
        &[("Host", "127.0.0.1"), ("Content-Type", "application/json")],
        Some(event.to_string().as_bytes()),
    ));
    let r = c
        .read_response_within(Duration::from_secs(15), false)
        .unwrap_or_else(|e| panic!("{e}\n{}", gw.stderr()));
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}\n{}", r.body_str(), gw.stderr());
    assert_eq!(r.header("X-Amz-Function-Error"), None, "{}", r.body_str());
    assert!(took < limit, "{event} took {took:?}\n{}", gw.stderr());
    let body = r.json();
    // The runtime's log line may come after its answer.
    let got = format!("got {}", body["rid"].as_str().unwrap());
    super::wait_until(Duration::from_secs(5), || gw.stderr().contains(&got));
    assert_eq!(gw.stderr().matches(&got).count(), 1, "{}", gw.stderr());
    body
}
