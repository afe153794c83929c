//! Black-box test harness: runs the real `tollgate` binary on loopback against a recording
//! mock upstream and a raw client, and checks RELIABILITY.md's global oracles (G1–G5).
//!
//! Every socket operation has a timeout and every wait is bounded, so no test can hang.
//! Included from each test file with `mod support;`.
#![allow(dead_code, unused_imports)]

pub mod ca;
pub mod client;
pub mod config;
pub mod exchange;
pub mod functions;
pub mod gateway;
pub mod http;
pub mod oracle;
pub mod pki;
pub mod sigv4;
pub mod sigv4_suite;
pub mod upstream;

pub use client::{Client, Closed, WriteMode};
pub use gateway::{Gateway, Options};
pub use http::{Fields, Request, Response};
pub use oracle::*;
pub use upstream::{After, Blackhole, Mode, Upstream};

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Default bound for one socket read or write in the harness.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The Host every test request carries (routed by `server.defaultApi`).
pub const HOST: &str = "gw.test";

/// A free loopback port: bind 127.0.0.1:0, read the port, drop the listener — and claim it
/// for this machine's test processes, so two tests running at once never get the same port.
/// (The gateway binds with SO_REUSEPORT, so two gateways handed one port would both start
/// and share its connections.) A claim is a marker file, honoured for ten minutes.
pub fn free_port() -> u16 {
    let dir = std::env::temp_dir().join("tollgate-test-ports");
    let _ = std::fs::create_dir_all(&dir);
    for _ in 0..64 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().unwrap().port();
        let marker = dir.join(port.to_string());
        let stale = std::fs::metadata(&marker)
            .and_then(|m| m.modified())
            .map(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(600))
            .unwrap_or(false);
        if stale {
            let _ = std::fs::remove_file(&marker);
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
        {
            Ok(_) => return port,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            // No usable temp dir: fall back to the kernel's choice alone.
            Err(_) => return port,
        }
    }
    panic!("no unclaimed loopback port after 64 tries");
}

/// Poll `f` every 10 ms until it returns true or `timeout` passes. Returns the last result.
/// Whether `python3` can import `modules` (none: whether there is a `python3`). If not, says
/// that `test` did not run and why — and under `CI`, where scripts/test.sh installs them,
/// fails instead.
pub fn python_with(test: &str, modules: &[&str]) -> bool {
    let import = format!("import {}", modules.join(", "));
    let mut cmd = std::process::Command::new("python3");
    if modules.is_empty() {
        cmd.arg("--version");
    } else {
        cmd.args(["-c", &import]);
    }
    let ok = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let what = if modules.is_empty() {
            "python3 is not available".to_string()
        } else {
            format!("python3 with {} is not available", modules.join(" and "))
        };
        let why = format!("{test} did not run: {what}");
        if std::env::var_os("CI").is_some() {
            panic!("{why}");
        }
        eprintln!("{why}");
    }
    ok
}

pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A uniquely named directory under the system temp dir, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "tollgate-test-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Write `bytes` to `name` atomically (write a sibling, then rename), so a reload never
    /// reads half a file.
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> PathBuf {
        write_atomic(&self.path.join(name), bytes);
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

pub fn write_atomic(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, bytes).expect("write temp config");
    std::fs::rename(&tmp, path).expect("rename config into place");
}

/// Deterministic, non-repeating-looking payload of `len` bytes (all 256 byte values occur).
pub fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// `a`..`z` repeated: printable filler of `len` bytes.
pub fn filler(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// True when `s` looks like a UUID: 36 chars, 8-4-4-4-12 lower/upper hex digits.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Find `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

/// Bytes shown for a failure message: printable ASCII kept, the rest escaped, truncated.
pub fn show(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes.iter().take(600) {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > 600 {
        s.push_str(&format!("... ({} bytes)", bytes.len()));
    }
    s
}
