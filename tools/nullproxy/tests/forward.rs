//! Black-box tests of the `nullproxy` binary in front of an in-process `upstream`.
// Tests are blocking std code by design.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use upstream::{Config, Mode};

const IO_TIMEOUT: Duration = Duration::from_secs(5);
const FIXED: &[u8] = b"HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 5\r\n\r\nhello";

struct Proxy {
    child: Child,
    addr: SocketAddr,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nullproxy"))
            .args(["--listen", "127.0.0.1:0", "--workers", "2"])
            .args(["--upstream", &upstream.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn nullproxy");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(IO_TIMEOUT).unwrap_or_default();
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            panic!("nullproxy did not print its address: {line:?}");
        };
        let addr = addr.parse().expect("address");
        Proxy { child, addr }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn backend(mode: Mode, record: Option<PathBuf>) -> upstream::Workers {
    let mut c = Config::new(([127, 0, 0, 1], 0).into(), mode);
    c.body = b"hello".to_vec();
    c.headers = vec!["x-a: 1".into()];
    c.record_dir = record;
    upstream::start(c).expect("start upstream in-process")
}

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "nullproxy-test-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_to_eof(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read to EOF");
    out
}

#[test]
fn forwards_requests_and_responses_byte_exactly_on_keep_alive() {
    let dir = temp_dir("exact");
    let up = backend(Mode::Fixed, Some(dir.clone()));
    let proxy = Proxy::start(up.addr());
    let mut s = proxy.connect();
    let req1: &[u8] = b"POST /a HTTP/1.1\r\nhOsT: x\r\nContent-Length: 3\r\n\r\n\x00\r\n";
    let req2: &[u8] = b"GET /b HTTP/1.1\r\n\r\n";
    s.write_all(req1).unwrap();
    let mut got = vec![0; FIXED.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, FIXED);
    s.write_all(req2).unwrap();
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, FIXED);
    let file = dir.join("conn-1.bin");
    let want = [req1, req2].concat();
    let deadline = Instant::now() + IO_TIMEOUT;
    while std::fs::read(&file).ok() != Some(want.clone()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        std::fs::read(&file).unwrap(),
        want,
        "one upstream connection, exact bytes"
    );
    assert!(!dir.join("conn-2.bin").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn closes_the_client_when_the_upstream_closes() {
    // Connection: close → the upstream answers and closes; so does the proxy.
    let up = backend(Mode::Fixed, None);
    let proxy = Proxy::start(up.addr());
    let mut s = proxy.connect();
    s.write_all(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_to_eof(&mut s), FIXED);
    // close-after: the upstream closes without a byte; the client sees a bare EOF.
    let up = backend(Mode::CloseAfter(4), None);
    let proxy = Proxy::start(up.addr());
    let mut s = proxy.connect();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(read_to_eof(&mut s), b"");
}

#[test]
fn a_client_half_close_still_gets_the_response() {
    let up = backend(Mode::Fixed, None);
    let proxy = Proxy::start(up.addr());
    let mut s = proxy.connect();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_eof(&mut s), FIXED);
}

#[test]
fn an_unreachable_upstream_closes_the_client() {
    let up = backend(Mode::Refuse, None);
    let proxy = Proxy::start(up.addr());
    let mut s = proxy.connect();
    let _ = s.write_all(b"GET / HTTP/1.1\r\n\r\n");
    let mut buf = Vec::new();
    // EOF, or a reset if the request arrived after the close: never a response.
    let _ = s.read_to_end(&mut buf);
    assert!(buf.is_empty());
}
