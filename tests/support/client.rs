//! A raw HTTP/1.1 client: exact bytes out (optionally one byte per write, RELIABILITY L12),
//! strict parsing in, every read bounded by a deadline.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use super::IO_TIMEOUT;
use super::http::{self, Response};

/// How a request is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// One `write` call.
    OneWrite,
    /// One byte per `write`, TCP_NODELAY, ~1 ms gaps; stops early once the peer answered.
    Bytewise,
}

pub const BOTH: [WriteMode; 2] = [WriteMode::OneWrite, WriteMode::Bytewise];

/// How a read-until-close ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// Orderly FIN.
    Eof,
    /// ECONNRESET / EPIPE.
    Reset,
    /// Still open at the deadline.
    TimedOut,
}

impl Closed {
    pub fn is_closed(self) -> bool {
        self != Closed::TimedOut
    }
}

pub struct Client {
    pub stream: TcpStream,
    /// Received bytes not yet consumed by a parsed response.
    pub buf: Vec<u8>,
    pub eof: bool,
    pub reset: bool,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        Client::try_connect(port).unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"))
    }

    pub fn try_connect(port: u16) -> io::Result<Client> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Client {
            stream,
            buf: Vec::new(),
            eof: false,
            reset: false,
        })
    }

    /// Write all bytes in one call (panics on error).
    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes)
            .unwrap_or_else(|e| panic!("client write failed: {e}"));
    }

    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// One byte per write with `gap` between writes. Stops (returning `Ok(false)`) as soon as
    /// the peer has closed, so an early reject is not turned into an RST. Bytes the peer sends
    /// meanwhile are kept in `buf`.
    pub fn send_bytewise(&mut self, bytes: &[u8], gap: Duration) -> io::Result<bool> {
        for (i, b) in bytes.iter().enumerate() {
            if i % 4 == 0 {
                self.peer_spoke()?;
                if self.eof || self.reset {
                    return Ok(false);
                }
            }
            self.stream.write_all(std::slice::from_ref(b))?;
            std::thread::sleep(gap);
        }
        Ok(true)
    }

    /// Write per `mode`; write errors after an early answer are not failures (the response
    /// is what the test checks), so they are returned, not raised.
    pub fn send_mode(&mut self, bytes: &[u8], mode: WriteMode) -> io::Result<()> {
        match mode {
            WriteMode::OneWrite => self.try_send(bytes),
            WriteMode::Bytewise => self
                .send_bytewise(bytes, Duration::from_millis(1))
                .map(|_| ()),
        }
    }

    /// Non-blocking check: has the peer sent bytes (kept in `buf`) or closed?
    pub fn peer_spoke(&mut self) -> io::Result<bool> {
        if self.eof || self.reset {
            return Ok(true);
        }
        self.stream.set_nonblocking(true)?;
        let mut tmp = [0u8; 16384];
        let r = self.stream.read(&mut tmp);
        self.stream.set_nonblocking(false)?;
        match r {
            Ok(0) => {
                self.eof = true;
                Ok(true)
            }
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(!self.buf.is_empty()),
            Err(_) => {
                self.reset = true;
                Ok(true)
            }
        }
    }

    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Read more bytes into `buf` until `deadline`. Returns the number read; 0 on EOF/reset or
    /// when the deadline passed (check `eof`/`reset`).
    fn fill(&mut self, deadline: Instant) -> usize {
        if self.eof || self.reset {
            return 0;
        }
        let mut tmp = [0u8; 65536];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return 0;
            }
            let _ = self
                .stream
                .set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))));
            match self.stream.read(&mut tmp) {
                Ok(0) => {
                    self.eof = true;
                    return 0;
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return n;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.reset = true;
                    return 0;
                }
            }
        }
    }

    /// Read one response (1xx included) within the default timeout.
    pub fn read_response(&mut self) -> Result<Response, String> {
        self.read_response_within(IO_TIMEOUT, false)
    }

    /// Read one response to a HEAD request.
    pub fn read_head_response(&mut self) -> Result<Response, String> {
        self.read_response_within(IO_TIMEOUT, true)
    }

    pub fn read_response_within(
        &mut self,
        timeout: Duration,
        request_was_head: bool,
    ) -> Result<Response, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let closed = self.eof || self.reset;
            match http::parse_response(&self.buf, request_was_head, closed) {
                Ok(Some((resp, used))) => {
                    self.buf.drain(..used);
                    return Ok(resp);
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(format!(
                        "invalid response ({e}): {}",
                        super::show(&self.buf)
                    ));
                }
            }
            if closed {
                return Err(format!(
                    "connection {} before a complete response; received: {}",
                    if self.reset { "reset" } else { "closed" },
                    super::show(&self.buf)
                ));
            }
            if self.fill(deadline) == 0 && !(self.eof || self.reset) {
                return Err(format!(
                    "timed out after {timeout:?} waiting for a response; received: {}",
                    super::show(&self.buf)
                ));
            }
        }
    }

    /// Read 1xx responses and then the final one.
    pub fn read_final(&mut self) -> Result<(Vec<Response>, Response), String> {
        let mut interim = Vec::new();
        loop {
            let r = self.read_response()?;
            if (100..200).contains(&r.status) {
                interim.push(r);
            } else {
                return Ok((interim, r));
            }
        }
    }

    /// Send a request and read its (final) response; panics with context on failure.
    pub fn roundtrip(&mut self, bytes: &[u8]) -> Response {
        self.send(bytes);
        self.read_final().unwrap_or_else(|e| panic!("{e}")).1
    }

    /// Read everything until the peer closes or `timeout` passes (bytes are also drained from
    /// `buf`).
    pub fn read_until_closed(&mut self, timeout: Duration) -> (Vec<u8>, Closed) {
        let deadline = Instant::now() + timeout;
        while !(self.eof || self.reset) && Instant::now() < deadline {
            self.fill(deadline);
        }
        let bytes = std::mem::take(&mut self.buf);
        let how = if self.reset {
            Closed::Reset
        } else if self.eof {
            Closed::Eof
        } else {
            Closed::TimedOut
        };
        (bytes, how)
    }

    /// True when the peer closes (FIN or RST) within `d`; any bytes received are kept in `buf`.
    pub fn is_closed_within(&mut self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        while !(self.eof || self.reset) && Instant::now() < deadline {
            self.fill(deadline);
        }
        self.eof || self.reset
    }

    /// True when nothing at all arrives (and no close) within `d`.
    pub fn silent_for(&mut self, d: Duration) -> bool {
        let before = self.buf.len();
        let deadline = Instant::now() + d;
        while Instant::now() < deadline && !(self.eof || self.reset) {
            if self.fill(deadline) > 0 {
                break;
            }
        }
        self.buf.len() == before && !(self.eof || self.reset)
    }
}
