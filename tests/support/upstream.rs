//! A recording mock upstream on its own threads (std::net). Every connection's exact bytes are
//! kept; complete requests are parsed with the strict reference parser. The answer mode can be
//! changed between requests; it is read when a request arrives.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::http::{self, Request};

/// What the upstream does with each request.
#[derive(Clone, Debug)]
pub enum Mode {
    /// 200; body = the exact request bytes received (head + framed body); headers
    /// `x-upstream-conn: <connection index>` and `x-upstream-req: <request index on it>`.
    Echo,
    /// A fixed response (Content-Length added unless given).
    Static {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Read `n` bytes (or until EOF), then close (FIN) without answering.
    CloseAfterBytes(usize),
    /// Read one complete request, then close (FIN) without answering.
    CloseAfterRequest,
    /// Read one complete request, then reset (SO_LINGER 0) without answering.
    Reset,
    /// Read the request, never answer; keeps reading (recording) until the peer closes.
    Stall,
    /// 200 with `Content-Length: len`, body `filler(len)` written `chunk` bytes every `interval`.
    Drip {
        len: usize,
        chunk: usize,
        interval: Duration,
    },
    /// After reading a request, write these exact bytes, then do `then`.
    Raw { bytes: Vec<u8>, then: After },
    /// Wait, then echo.
    Delay(Duration),
    /// Echo with these extra response header fields (e.g. `Cache-Control`, `Vary`).
    EchoWith(Vec<(String, String)>),
    /// After the head and `n` body bytes: answer 413 with `Connection: close`, stop reading,
    /// hold the socket ~3 s, close.
    EarlyRespond(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Go on reading the next request on this connection.
    KeepAlive,
    /// FIN.
    Close,
    /// RST (SO_LINGER 0).
    Reset,
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Echo => "echo",
            Mode::Static { .. } => "static",
            Mode::CloseAfterBytes(_) => "close_after_bytes",
            Mode::CloseAfterRequest => "close_after_request",
            Mode::Reset => "reset",
            Mode::Stall => "stall",
            Mode::Drip { .. } => "drip",
            Mode::Raw { .. } => "raw",
            Mode::Delay(_) => "delay",
            Mode::EchoWith(_) => "echo_with",
            Mode::EarlyRespond(_) => "early_respond",
        }
    }

    pub fn static_(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Mode {
        Mode::Static {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
        }
    }

    pub fn echo_with(headers: &[(&str, &str)]) -> Mode {
        Mode::EchoWith(
            headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    pub fn raw(bytes: &[u8], then: After) -> Mode {
        Mode::Raw {
            bytes: bytes.to_vec(),
            then,
        }
    }

    pub fn drip(len: usize, chunk: usize, interval: Duration) -> Mode {
        Mode::Drip {
            len,
            chunk,
            interval,
        }
    }
}

/// One upstream connection as the upstream saw it.
#[derive(Clone, Debug)]
pub struct ConnRecord {
    pub index: usize,
    /// Every byte received, in order.
    pub bytes: Vec<u8>,
    /// Complete requests received, with the mode that answered each and a global sequence.
    pub requests: Vec<(usize, &'static str, Request)>,
    /// The strict parser rejected what arrived.
    pub parse_error: Option<String>,
    /// The gateway closed (FIN) or reset this connection.
    pub peer_closed: bool,
    /// We closed it (per mode, or `close_all`).
    pub closed_by_us: bool,
    /// Bytes received that are not (yet) part of a complete request.
    pub partial: usize,
    pub opened: Instant,
    pub ended: Option<Instant>,
    kill: bool,
}

struct Shared {
    mode: Mutex<Mode>,
    conns: Mutex<Vec<ConnRecord>>,
    stop: AtomicBool,
    seq: AtomicUsize,
}

/// A snapshot of upstream activity, to assert "nothing new since" (G1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub connections: usize,
    pub bytes: usize,
    pub requests: usize,
}

pub struct Upstream {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Upstream {
    pub fn start(mode: Mode) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared {
            mode: Mutex::new(mode),
            conns: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            seq: AtomicUsize::new(0),
        });
        let s = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name(format!("upstream-{port}"))
            .spawn(move || accept_loop(listener, s))
            .unwrap();
        Upstream {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn echo() -> Upstream {
        Upstream::start(Mode::Echo)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port><path>`
    pub fn uri(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub fn conns(&self) -> Vec<ConnRecord> {
        self.shared.conns.lock().unwrap().clone()
    }

    pub fn connection_count(&self) -> usize {
        self.shared.conns.lock().unwrap().len()
    }

    /// All complete requests, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        let mut all: Vec<(usize, Request)> = self
            .conns()
            .into_iter()
            .flat_map(|c| c.requests.into_iter().map(|(seq, _, r)| (seq, r)))
            .collect();
        all.sort_by_key(|(s, _)| *s);
        all.into_iter().map(|(_, r)| r).collect()
    }

    pub fn request_count(&self) -> usize {
        self.shared
            .conns
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.requests.len())
            .sum()
    }

    pub fn total_bytes(&self) -> usize {
        self.shared
            .conns
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.bytes.len())
            .sum()
    }

    pub fn mark(&self) -> Mark {
        Mark {
            connections: self.connection_count(),
            bytes: self.total_bytes(),
            requests: self.request_count(),
        }
    }

    /// The only request received (panics with what arrived otherwise).
    pub fn single_request(&self) -> Request {
        let reqs = self.requests();
        assert_eq!(
            reqs.len(),
            1,
            "upstream expected exactly one request, got {}: {:#?}",
            reqs.len(),
            self.describe()
        );
        reqs.into_iter().next().unwrap()
    }

    pub fn wait_requests(&self, n: usize, timeout: Duration) -> bool {
        super::wait_until(timeout, || self.request_count() >= n)
    }

    pub fn wait_connections(&self, n: usize, timeout: Duration) -> bool {
        super::wait_until(timeout, || self.connection_count() >= n)
    }

    /// Wait until every connection was closed by the gateway or by us.
    pub fn wait_all_closed(&self, timeout: Duration) -> bool {
        super::wait_until(timeout, || self.conns().iter().all(|c| c.ended.is_some()))
    }

    /// Close every open connection (as if the upstream closed idle keep-alives) and wait.
    pub fn close_all(&self) {
        for c in self.shared.conns.lock().unwrap().iter_mut() {
            c.kill = true;
        }
        super::wait_until(Duration::from_secs(2), || {
            self.conns().iter().all(|c| c.ended.is_some())
        });
    }

    /// Human-readable summary for failure messages.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for c in self.conns() {
            s.push_str(&format!(
                "conn {}: {} bytes, {} requests, peer_closed={}, closed_by_us={}, error={:?}\n  {}\n",
                c.index,
                c.bytes.len(),
                c.requests.len(),
                c.peer_closed,
                c.closed_by_us,
                c.parse_error,
                super::show(&c.bytes)
            ));
        }
        if s.is_empty() {
            s.push_str("(no upstream connections)");
        }
        s
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let idx = {
                    let mut conns = shared.conns.lock().unwrap();
                    let idx = conns.len();
                    conns.push(ConnRecord {
                        index: idx,
                        bytes: Vec::new(),
                        requests: Vec::new(),
                        parse_error: None,
                        peer_closed: false,
                        closed_by_us: false,
                        partial: 0,
                        opened: Instant::now(),
                        ended: None,
                        kill: false,
                    });
                    idx
                };
                let s = shared.clone();
                let _ = std::thread::Builder::new()
                    .name(format!("upstream-conn-{idx}"))
                    .spawn(move || {
                        let mut conn = Conn {
                            shared: s,
                            stream,
                            idx,
                            pending: Vec::new(),
                        };
                        let how = conn.serve();
                        conn.finish(how);
                    });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// How a connection ended.
enum End {
    PeerClosed,
    WeClosed,
    WeReset,
    Stopped,
}

enum Got {
    Data,
    Closed,
    Idle,
}

struct Conn {
    shared: Arc<Shared>,
    stream: TcpStream,
    idx: usize,
    pending: Vec<u8>,
}

impl Conn {
    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst) || self.shared.conns.lock().unwrap()[self.idx].kill
    }

    /// One read with a 50 ms timeout; bytes go to `pending` and to the record.
    fn read_some(&mut self) -> Got {
        let mut tmp = [0u8; 65536];
        match self.stream.read(&mut tmp) {
            Ok(0) => Got::Closed,
            Ok(n) => {
                self.pending.extend_from_slice(&tmp[..n]);
                let mut conns = self.shared.conns.lock().unwrap();
                conns[self.idx].bytes.extend_from_slice(&tmp[..n]);
                conns[self.idx].partial = self.pending.len();
                Got::Data
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Got::Idle
            }
            Err(_) => Got::Closed,
        }
    }

    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        while Instant::now() < deadline {
            if self.stopping() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5).min(deadline - Instant::now()));
        }
        true
    }

    /// Read until one complete request is parsed. `Err` = how the connection ended.
    fn next_request(&mut self) -> Result<Request, End> {
        loop {
            match http::parse_request(&self.pending) {
                Ok(Some((req, used))) => {
                    self.pending.drain(..used);
                    self.shared.conns.lock().unwrap()[self.idx].partial = self.pending.len();
                    return Ok(req);
                }
                Ok(None) => {}
                Err(e) => {
                    self.shared.conns.lock().unwrap()[self.idx].parse_error = Some(e);
                    let _ = self.stream.write_all(&http::response(
                        400,
                        &[("Connection", "close")],
                        b"upstream parse error",
                    ));
                    return Err(End::WeClosed);
                }
            }
            match self.read_some() {
                Got::Data => {}
                Got::Closed => return Err(End::PeerClosed),
                Got::Idle => {
                    if self.stopping() {
                        return Err(End::Stopped);
                    }
                }
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), End> {
        self.stream.write_all(bytes).map_err(|_| End::PeerClosed)
    }

    fn serve(&mut self) -> End {
        let _ = self.stream.set_nonblocking(false);
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(50)));
        let _ = self.stream.set_write_timeout(Some(Duration::from_secs(5)));
        let _ = self.stream.set_nodelay(true);
        let mut k = 0usize;
        loop {
            let mode = self.shared.mode.lock().unwrap().clone();
            match mode {
                Mode::CloseAfterBytes(n) => {
                    while self.pending.len() < n {
                        match self.read_some() {
                            Got::Data => {}
                            Got::Closed => return End::PeerClosed,
                            Got::Idle if self.stopping() => return End::Stopped,
                            Got::Idle => {}
                        }
                    }
                    return End::WeClosed;
                }
                Mode::EarlyRespond(n) => {
                    loop {
                        if let Some(h) = super::find(&self.pending, b"\r\n\r\n")
                            && self.pending.len() >= h + 4 + n
                        {
                            break;
                        }
                        match self.read_some() {
                            Got::Data => {}
                            Got::Closed => return End::PeerClosed,
                            Got::Idle if self.stopping() => return End::Stopped,
                            Got::Idle => {}
                        }
                    }
                    let body = br#"{"early":true}"#;
                    if let Err(e) = self.write(&http::response(
                        413,
                        &[
                            ("Connection", "close"),
                            ("Content-Type", "application/json"),
                        ],
                        body,
                    )) {
                        return e;
                    }
                    self.sleep(Duration::from_secs(3));
                    return End::WeClosed;
                }
                _ => {}
            }
            let req = match self.next_request() {
                Ok(r) => r,
                Err(end) => return end,
            };
            // The mode that answers is the one current when the request arrived.
            let mode = self.shared.mode.lock().unwrap().clone();
            let seq = self.shared.seq.fetch_add(1, Ordering::SeqCst);
            let closing = req.headers.has_token("connection", "close") || req.version == "HTTP/1.0";
            let is_head = req.method == "HEAD";
            self.shared.conns.lock().unwrap()[self.idx].requests.push((
                seq,
                mode.name(),
                req.clone(),
            ));
            let idx = self.idx.to_string();
            let kk = k.to_string();
            k += 1;
            let echo_with = |this: &mut Conn, extra: &[(String, String)]| -> Result<(), End> {
                let mut head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nx-upstream-conn: {idx}\r\nx-upstream-req: {kk}\r\nContent-Length: {}\r\n",
                    req.raw.len()
                );
                for (n, v) in extra {
                    head.push_str(&format!("{n}: {v}\r\n"));
                }
                if closing {
                    head.push_str("Connection: close\r\n");
                }
                head.push_str("\r\n");
                let mut out = head.into_bytes();
                if !is_head {
                    out.extend_from_slice(&req.raw);
                }
                this.write(&out)
            };
            let echo = |this: &mut Conn| echo_with(this, &[]);
            let r = match &mode {
                Mode::Echo => echo(self),
                Mode::EchoWith(extra) => echo_with(self, extra),
                Mode::Delay(d) => {
                    if !self.sleep(*d) {
                        return End::Stopped;
                    }
                    echo(self)
                }
                Mode::Static {
                    status,
                    headers,
                    body,
                } => {
                    let hs: Vec<(&str, &str)> = headers
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .collect();
                    let mut out = http::response(*status, &hs, body);
                    if is_head {
                        out.truncate(out.len() - body.len());
                    }
                    self.write(&out)
                }
                Mode::CloseAfterRequest => return End::WeClosed,
                Mode::Reset => return End::WeReset,
                Mode::Stall => loop {
                    match self.read_some() {
                        Got::Closed => return End::PeerClosed,
                        Got::Idle if self.stopping() => return End::Stopped,
                        _ => {}
                    }
                },
                Mode::Drip {
                    len,
                    chunk,
                    interval,
                } => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nx-upstream-conn: {idx}\r\n\r\n"
                    );
                    if let Err(e) = self.write(head.as_bytes()) {
                        return e;
                    }
                    let body = super::filler(*len);
                    let mut res = Ok(());
                    for c in body.chunks((*chunk).max(1)) {
                        if !self.sleep(*interval) {
                            return End::Stopped;
                        }
                        if let Err(e) = self.write(c) {
                            res = Err(e);
                            break;
                        }
                    }
                    res
                }
                Mode::Raw { bytes, then } => {
                    if let Err(e) = self.write(bytes) {
                        return e;
                    }
                    match then {
                        After::KeepAlive => Ok(()),
                        After::Close => return End::WeClosed,
                        After::Reset => return End::WeReset,
                    }
                }
                Mode::CloseAfterBytes(_) | Mode::EarlyRespond(_) => unreachable!(),
            };
            if let Err(e) = r {
                return e;
            }
            if closing {
                return End::WeClosed;
            }
        }
    }

    fn finish(self, how: End) {
        {
            let mut conns = self.shared.conns.lock().unwrap();
            let c = &mut conns[self.idx];
            match how {
                End::PeerClosed => c.peer_closed = true,
                End::WeClosed | End::WeReset | End::Stopped => c.closed_by_us = true,
            }
            c.ended = Some(Instant::now());
        }
        if matches!(how, End::WeReset) {
            set_linger_zero(&self.stream);
        }
        drop(self.stream);
    }
}

/// SO_LINGER {1, 0}: closing the socket sends RST.
pub fn set_linger_zero(s: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: valid fd owned by `s`; `l` outlives the call and the length matches its type.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// A port with no listener (connect → ECONNREFUSED).
pub fn refused_port() -> u16 {
    super::free_port()
}

/// A listener whose accept queue is full and which never accepts: further SYNs on loopback are
/// dropped, so connects hang until the client's own timeout (RELIABILITY U02).
pub struct Blackhole {
    pub port: u16,
    _listener: TcpListener,
    _fillers: Vec<TcpStream>,
}

impl Blackhole {
    pub fn start() -> Blackhole {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind blackhole");
        let port = listener.local_addr().unwrap().port();
        // SAFETY: re-listen on our own listening fd to shrink the backlog to 0.
        unsafe {
            libc::listen(listener.as_raw_fd(), 0);
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut fillers = Vec::new();
        for _ in 0..8 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(s) => fillers.push(s),
                Err(_) => break,
            }
        }
        Blackhole {
            port,
            _listener: listener,
            _fillers: fillers,
        }
    }

    pub fn uri(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}
