//! Test functions that need building: the Rust Lambda function on the official
//! `lambda_runtime` crate (`tests/functions/lambda-echo`, its own workspace so the root build
//! never compiles tokio).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

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
