//! Runs the real `tollgate serve` binary with a generated config file; the process is killed
//! by PID and reaped on drop. Signals, admin API calls and /proc measurements (G4, G5).

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::Client;
use super::http::Response;
use super::{TempDir, free_port};

pub const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

#[derive(Clone, Debug)]
pub struct Options {
    pub workers: usize,
    pub env: Vec<(String, String)>,
    /// How long to wait for admin `/health`.
    pub ready_timeout: Duration,
    /// More arguments for `tollgate serve` (e.g. `--watch`).
    pub args: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            workers: 2,
            env: Vec::new(),
            ready_timeout: Duration::from_secs(10),
            args: Vec::new(),
        }
    }
}

pub struct Gateway {
    child: Option<Child>,
    pub pid: u32,
    /// The first data-plane listener's port.
    pub port: u16,
    pub admin_port: u16,
    pub token: Option<String>,
    pub dir: TempDir,
    pub config_path: PathBuf,
    pub stderr_path: PathBuf,
    pub stdout_path: PathBuf,
    /// The config as last written.
    pub config: Value,
}

/// Fill in `server.listeners` and `server.admin` with free loopback ports when absent, and
/// lift the account throttle (API Gateway's default, 10,000 rps with a 5,000 burst, which load
/// tests can exceed) unless the test sets one.
pub fn complete_config(mut config: Value) -> Value {
    if !config.is_object() {
        panic!("config must be a JSON object");
    }
    config
        .as_object_mut()
        .unwrap()
        .entry("account")
        .or_insert_with(
            || json!({ "throttleSettings": { "rateLimit": 1e9, "burstLimit": 1_000_000_000u64 } }),
        );
    let server = config
        .as_object_mut()
        .unwrap()
        .entry("server")
        .or_insert_with(|| json!({}));
    let server = server.as_object_mut().expect("server must be an object");
    if !server.contains_key("listeners") {
        server.insert(
            "listeners".into(),
            json!([{ "address": format!("127.0.0.1:{}", free_port()) }]),
        );
    }
    if !server.contains_key("admin") {
        server.insert(
            "admin".into(),
            json!({ "address": format!("127.0.0.1:{}", free_port()) }),
        );
    }
    config
}

fn port_of(address: &str) -> u16 {
    address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {address}"))
}

impl Gateway {
    pub fn start(config: Value) -> Gateway {
        Gateway::start_with(config, Options::default())
    }

    /// One worker: connection counts, limits and memory per connection are per core.
    pub fn start_one_worker(config: Value) -> Gateway {
        Gateway::start_with(
            config,
            Options {
                workers: 1,
                ..Options::default()
            },
        )
    }

    pub fn start_with(config: Value, opts: Options) -> Gateway {
        match Gateway::try_start_with(config, opts) {
            Ok(g) => g,
            Err(e) => panic!("{e}"),
        }
    }

    /// Start and wait for admin `/health` → 200; on failure the process is killed and the
    /// error carries its stderr.
    pub fn try_start_with(config: Value, opts: Options) -> Result<Gateway, String> {
        let config = complete_config(config);
        let dir = TempDir::new("gw");
        let config_path = dir.write_atomic(
            "tollgate.json",
            serde_json::to_string_pretty(&config).unwrap().as_bytes(),
        );
        let stderr_path = dir.file("stderr.log");
        let stdout_path = dir.file("stdout.log");
        let port = port_of(
            config["server"]["listeners"][0]["address"]
                .as_str()
                .expect("listener address"),
        );
        let admin_port = port_of(
            config["server"]["admin"]["address"]
                .as_str()
                .expect("admin address"),
        );
        let token = config["server"]["admin"]["token"]
            .as_str()
            .map(str::to_owned);
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("-c")
            .arg(&config_path)
            .arg("--workers")
            .arg(opts.workers.to_string())
            .args(&opts.args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).unwrap())
            .stderr(std::fs::File::create(&stderr_path).unwrap());
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().map_err(|e| format!("spawn {BIN}: {e}"))?;
        let pid = child.id();
        let mut gw = Gateway {
            child: Some(child),
            pid,
            port,
            admin_port,
            token,
            dir,
            config_path,
            stderr_path,
            stdout_path,
            config,
        };
        let deadline = Instant::now() + opts.ready_timeout;
        loop {
            if let Some(status) = gw.child.as_mut().unwrap().try_wait().ok().flatten() {
                gw.child = None;
                return Err(format!(
                    "tollgate exited during startup ({status}); stderr:\n{}\nstdout:\n{}",
                    gw.stderr(),
                    std::fs::read_to_string(&gw.stdout_path).unwrap_or_default()
                ));
            }
            // Admin /health answers and the data-plane listener accepts.
            if let Ok(r) = gw.admin_request("GET", "/health", None, None)
                && r.status == 200
                && Client::try_connect(port).is_ok()
            {
                return Ok(gw);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "tollgate did not answer admin /health on 127.0.0.1:{admin_port} within {:?}; stderr:\n{}",
                    opts.ready_timeout,
                    gw.stderr()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(self.port)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// One request to the admin listener (own connection, `Connection: close`). `token`:
    /// `Some(t)` sends `Authorization: Bearer t`; `None` sends none.
    pub fn admin_request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<Response, String> {
        let mut c =
            Client::try_connect(self.admin_port).map_err(|e| format!("admin connect: {e}"))?;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.admin_port
        );
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        let body = body.unwrap_or(b"");
        if method != "GET" {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        c.try_send(&bytes)
            .map_err(|e| format!("admin write: {e}"))?;
        c.read_response_within(Duration::from_secs(10), false)
    }

    /// Admin call with the configured token (if any).
    pub fn admin(&self, method: &str, path: &str) -> Response {
        let token = self.token.clone();
        self.admin_request(method, path, token.as_deref(), None)
            .unwrap_or_else(|e| panic!("admin {method} {path}: {e}\nstderr:\n{}", self.stderr()))
    }

    /// `GET /status` as JSON.
    pub fn status(&self) -> Value {
        let r = self.admin("GET", "/status");
        assert_eq!(r.status, 200, "admin /status: {}", r.body_str());
        r.json()
    }

    pub fn generation(&self) -> u64 {
        let s = self.status();
        s["generation"]
            .as_u64()
            .unwrap_or_else(|| panic!("/status has no numeric generation: {s}"))
    }

    /// `POST /reload`.
    pub fn reload_post(&self) -> Response {
        self.admin("POST", "/reload")
    }

    /// Replace the config file (atomically). Listener/admin addresses are kept from the
    /// running config when `config` has none.
    pub fn write_config(&mut self, mut config: Value) {
        {
            let server = config
                .as_object_mut()
                .unwrap()
                .entry("server")
                .or_insert_with(|| json!({}));
            let server = server.as_object_mut().unwrap();
            if !server.contains_key("listeners") {
                server.insert(
                    "listeners".into(),
                    self.config["server"]["listeners"].clone(),
                );
            }
            if !server.contains_key("admin") {
                server.insert("admin".into(), self.config["server"]["admin"].clone());
            }
        }
        if config.get("account").is_none() && !self.config["account"].is_null() {
            config["account"] = self.config["account"].clone();
        }
        super::write_atomic(
            &self.config_path,
            serde_json::to_string_pretty(&config).unwrap().as_bytes(),
        );
        self.config = config;
    }

    /// Replace the config file with arbitrary bytes (e.g. a syntax error).
    pub fn write_raw_config(&self, bytes: &[u8]) {
        super::write_atomic(&self.config_path, bytes);
    }

    pub fn signal(&self, sig: i32) {
        assert!(self.child.is_some(), "gateway already exited");
        // SAFETY: plain kill(2) on the PID of our own child, which has not been reaped.
        let rc = unsafe { libc::kill(self.pid as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid);
    }

    pub fn sighup(&self) {
        self.signal(libc::SIGHUP);
    }

    pub fn sigterm(&self) {
        self.signal(libc::SIGTERM);
    }

    /// Wait for the process to exit; `None` if still running at the deadline.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut()?;
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn is_alive(&mut self) -> bool {
        match self.child.as_mut() {
            None => false,
            Some(c) => matches!(c.try_wait(), Ok(None)),
        }
    }

    /// Open file descriptors (`/proc/<pid>/fd`).
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    fn proc_status_field(&self, field: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        s.lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Resident set size in KiB.
    pub fn rss_kb(&self) -> u64 {
        self.proc_status_field("VmRSS:")
    }

    pub fn threads(&self) -> u64 {
        self.proc_status_field("Threads:")
    }

    /// G4: process alive, no panic in its log, `/health` 200.
    pub fn assert_healthy(&mut self) {
        assert!(
            self.is_alive(),
            "gateway process died; stderr:\n{}",
            self.stderr()
        );
        let log = self.stderr();
        assert!(
            !log.contains("panicked"),
            "gateway log shows a panic:\n{log}"
        );
        let r = self
            .admin_request("GET", "/health", None, None)
            .unwrap_or_else(|e| panic!("/health: {e}"));
        assert_eq!(r.status, 200, "/health status");
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL to this PID only
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let log = self.stderr();
            let tail: String = log
                .chars()
                .rev()
                .take(4000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            eprintln!("---- tollgate stderr (pid {}) ----\n{tail}\n----", self.pid);
        }
    }
}
