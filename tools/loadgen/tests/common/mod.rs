//! A tiny keep-alive HTTP/1.1 server on std threads (over TCP, or TLS: `tls.rs`), and
//! runners for the built binary.

// Each test binary uses its part of this module.
#![allow(dead_code)]

pub mod tls;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// What the server does with request number `n` (counted from 1 across connections):
/// each rule applies when `n` is a multiple of it (0 = never), the first that matches wins.
#[derive(Debug, Default, Clone, Copy)]
pub struct Behaviour {
    /// Close the connection without answering.
    pub close_every: u64,
    /// Never answer; keep the connection open until the client goes.
    pub hang_every: u64,
    /// Answer 500.
    pub fail_every: u64,
    /// Answer 200 with a chunked body.
    pub chunked_every: u64,
    /// Wait this long before answering each request.
    pub delay: Duration,
    /// Pad every plain 200 response's head with a header of this many bytes.
    pub pad_head: usize,
}

#[derive(Default)]
struct Seen {
    /// Connections accepted, and of those still open (their thread still serving).
    accepted: AtomicU64,
    open: AtomicU64,
    requests: AtomicU64,
    /// Most requests found complete in one read: above 1 means the client pipelined.
    max_batch: AtomicU64,
    paths: Mutex<BTreeMap<String, u64>>,
    bodies: Mutex<BTreeMap<String, u64>>,
    /// `x-*` header fields received, as lowercase `name: value`.
    x_headers: Mutex<BTreeMap<String, u64>>,
    /// TLS only: what each handshake negotiated, or why it failed.
    handshakes: Mutex<Vec<tls::Handshake>>,
}

pub struct Server {
    pub url: String,
    seen: Arc<Seen>,
}

/// A byte stream the server answers on: TCP, or TLS over it.
pub trait Wire: Read + Write {
    /// Closes the connection now (both directions).
    fn close(&mut self);
}

/// Counts a connection open until its thread ends.
struct OpenGuard(Arc<Seen>);

impl Server {
    pub fn start(behaviour: Behaviour) -> Server {
        Server::listen("http", move |stream, seen| serve(stream, behaviour, seen))
    }

    /// Accepts on a loopback port; each connection on its own thread, counted open until
    /// `handle` returns.
    fn listen(scheme: &str, handle: impl Fn(TcpStream, &Seen) + Send + Clone + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let s = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                s.accepted.fetch_add(1, Ordering::SeqCst);
                s.open.fetch_add(1, Ordering::SeqCst);
                let guard = OpenGuard(s.clone());
                let handle = handle.clone();
                std::thread::spawn(move || handle(stream, &guard.0));
            }
        });
        Server {
            url: format!("{scheme}://{addr}"),
            seen,
        }
    }

    pub fn accepted(&self) -> u64 {
        self.seen.accepted.load(Ordering::SeqCst)
    }

    /// Connections open right now.
    pub fn open(&self) -> u64 {
        self.seen.open.load(Ordering::SeqCst)
    }

    /// Waits up to `limit` for `open()` to reach `n`; returns what it last was.
    pub fn wait_open(&self, n: u64, limit: Duration) -> u64 {
        let started = Instant::now();
        while self.open() != n && started.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.open()
    }

    pub fn handshakes(&self) -> Vec<tls::Handshake> {
        self.seen.handshakes.lock().unwrap().clone()
    }

    pub fn requests(&self) -> u64 {
        self.seen.requests.load(Ordering::SeqCst)
    }

    pub fn max_batch(&self) -> u64 {
        self.seen.max_batch.load(Ordering::SeqCst)
    }

    pub fn paths(&self) -> BTreeMap<String, u64> {
        self.seen.paths.lock().unwrap().clone()
    }

    /// `x-*` header fields received, as lowercase `name: value`.
    pub fn x_headers(&self) -> BTreeMap<String, u64> {
        self.seen.x_headers.lock().unwrap().clone()
    }

    /// Request bodies received, by body text.
    pub fn bodies(&self) -> BTreeMap<String, u64> {
        self.seen.bodies.lock().unwrap().clone()
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Wire for TcpStream {
    fn close(&mut self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

fn serve(mut stream: impl Wire, b: Behaviour, seen: &Seen) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut out = Vec::new();
        let mut batch = 0;
        while let Some((len, path, body)) = parse(&buf) {
            let head = String::from_utf8_lossy(&buf[..len - body.len()]).to_lowercase();
            for line in head.lines().filter(|l| l.starts_with("x-")) {
                *seen
                    .x_headers
                    .lock()
                    .unwrap()
                    .entry(line.to_owned())
                    .or_default() += 1;
            }
            buf.drain(..len);
            batch += 1;
            let n = seen.requests.fetch_add(1, Ordering::SeqCst) + 1;
            *seen.paths.lock().unwrap().entry(path).or_default() += 1;
            if !body.is_empty() {
                *seen.bodies.lock().unwrap().entry(body).or_default() += 1;
            }
            std::thread::sleep(b.delay);
            let every = |k: u64| k > 0 && n.is_multiple_of(k);
            if head.contains("\r\nconnection: close\r\n") {
                // As a real server does: answer with `Connection: close`, then close.
                out.extend_from_slice(
                    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
                );
                let _ = stream.write_all(&out).and_then(|()| stream.flush());
                stream.close();
                return;
            } else if every(b.close_every) {
                let _ = stream.write_all(&out);
                stream.close();
                return;
            } else if every(b.hang_every) {
                let _ = stream.write_all(&out);
                while matches!(stream.read(&mut chunk), Ok(n) if n > 0) {}
                return;
            } else if every(b.fail_every) {
                out.extend_from_slice(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nfail",
                );
            } else if every(b.chunked_every) {
                out.extend_from_slice(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                );
            } else if b.pad_head > 0 {
                let pad = "a".repeat(b.pad_head);
                let resp =
                    format!("HTTP/1.1 200 OK\r\nX-Pad: {pad}\r\nContent-Length: 2\r\n\r\nok");
                out.extend_from_slice(resp.as_bytes());
            } else {
                out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            }
        }
        seen.max_batch.fetch_max(batch, Ordering::SeqCst);
        if stream
            .write_all(&out)
            .and_then(|()| stream.flush())
            .is_err()
        {
            return;
        }
    }
}

/// One complete request at the front of `buf`: its length, path and body.
fn parse(buf: &[u8]) -> Option<(usize, String, String)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).unwrap();
    let path = head.split(' ').nth(1).unwrap().to_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let body = buf.get(end..end + length)?;
    Some((
        end + length,
        path,
        String::from_utf8_lossy(body).into_owned(),
    ))
}

/// A loopback port with nothing listening on it.
pub fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: stdout {:?} stderr {:?}", self.stdout, self.stderr))
    }
}

/// Runs the built binary; kills it (by its PID) and fails if it is still running after `limit`.
pub fn loadgen(args: &[&str], limit: Duration) -> Run {
    loadgen_env(args, &[], limit)
}

/// `loadgen` with extra environment variables.
pub fn loadgen_env(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgen"));
    cmd.args(args).envs(env.iter().copied());
    Running::spawn(cmd).finish(limit)
}

/// Runs the built binary under `sh -c 'ulimit ...; exec loadgen ...'`.
pub fn loadgen_ulimit(ulimit: &str, args: &[&str], limit: Duration) -> Run {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit {ulimit} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_loadgen"))
        .args(args);
    Running::spawn(cmd).finish(limit)
}

/// A started loadgen whose stderr can be watched line by line while it runs. Dropping it
/// kills the process (by its PID) if it is still running.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: String,
    started: Instant,
}

impl Running {
    pub fn start(args: &[&str]) -> Running {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgen"));
        cmd.args(args);
        Running::spawn(cmd)
    }

    fn spawn(mut cmd: Command) -> Running {
        let started = Instant::now();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            stderr: String::new(),
            started,
        }
    }

    /// Waits up to `limit` for a stderr line starting with `prefix`.
    pub fn wait_for_line(&mut self, prefix: &str, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).ok()?;
            self.stderr.push_str(&line);
            self.stderr.push('\n');
            if line.starts_with(prefix) {
                return Some(line);
            }
        }
    }

    /// Waits for the exit; kills the process and fails if it runs past `limit` from its start.
    pub fn finish(mut self, limit: Duration) -> Run {
        while self.child.try_wait().unwrap().is_none() {
            if self.started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "loadgen still running after {limit:?}; killed pid {}",
                    self.child.id()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let elapsed = self.started.elapsed();
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        // The reader thread ends at EOF, which the exit has caused.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.stderr.push_str(&line);
            self.stderr.push('\n');
        }
        Run {
            code: self.child.wait().unwrap().code(),
            stdout,
            stderr: std::mem::take(&mut self.stderr),
            elapsed,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
