//! A tiny keep-alive HTTP/1.1 server on std threads, and a runner for the built binary.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
    requests: AtomicU64,
    /// Most requests found complete in one read: above 1 means the client pipelined.
    max_batch: AtomicU64,
    paths: Mutex<BTreeMap<String, u64>>,
    bodies: Mutex<BTreeMap<String, u64>>,
    /// `x-*` header fields received, as lowercase `name: value`.
    x_headers: Mutex<BTreeMap<String, u64>>,
}

pub struct Server {
    pub url: String,
    seen: Arc<Seen>,
}

impl Server {
    pub fn start(behaviour: Behaviour) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let s = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || serve(stream, behaviour, &s));
            }
        });
        Server {
            url: format!("http://{addr}"),
            seen,
        }
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

fn serve(mut stream: TcpStream, b: Behaviour, seen: &Seen) {
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
            if every(b.close_every) {
                let _ = stream.write_all(&out);
                let _ = stream.shutdown(Shutdown::Both);
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
        if stream.write_all(&out).is_err() {
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
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "loadgen {args:?} still running after {limit:?}; killed pid {}",
                child.id()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let elapsed = started.elapsed();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed,
    }
}
