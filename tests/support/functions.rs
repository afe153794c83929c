//! Test functions: the Python scripts in `scripts/` that serve a function (or Lambda's
//! Invoke API) on loopback ([`Script`]), and the Rust Lambda function on the official
//! `lambda_runtime` crate that needs building (`tests/functions/lambda-echo`, its own
//! workspace so the root build never compiles tokio).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

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
