//! The OTLP span exporter: one control thread takes the cores' span batches
//! (`dataplane/otlp.rs`: one OTLP/JSON span object per line), gathers up to
//! `server.otlp.batchSize` spans or `intervalMs` worth, and POSTs them to
//! `{endpoint}/v1/traces` as OTLP/HTTP JSON (`Content-Type: application/json`), one
//! connection per POST. A failed POST is reported once (until one succeeds again) and
//! retried with backoff (250 ms doubling, at most 30 s); after `ATTEMPTS` tries the batch is
//! dropped and counted. While it waits it takes no new batches, so the cores run out of
//! theirs and drop (and count) spans: memory stays bounded and no core ever waits. At
//! shutdown (`OtlpExporter::finish`, after the cores handed over their last batches) what is
//! gathered is sent at once with one try, whatever the interval.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use super::log::log;
use crate::config::OtlpSettings;
use crate::dataplane::Shared;
use crate::dataplane::access_log::LogBatch;
use crate::dataplane::handover::{Nothing, Taker};

/// Tries per batch before it is dropped.
const ATTEMPTS: u32 = 4;
/// Connect, write and read timeout of one POST.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle exporter waits for a batch.
const IDLE: Duration = Duration::from_millis(200);

const PREFIX: &[u8] = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"tollgate"}}]},"scopeSpans":[{"scope":{"name":"tollgate"},"spans":["#;
const SUFFIX: &[u8] = b"]}]}]}";

/// The running exporter, to flush at shutdown.
pub struct OtlpExporter {
    finish: Arc<AtomicBool>,
    finished: Receiver<()>,
}

impl OtlpExporter {
    /// Start the exporter on the cores' span channel (once per process).
    pub fn spawn(shared: &Arc<Shared>) -> Option<OtlpExporter> {
        let rx = shared.take_spans()?;
        let shared = shared.clone();
        let finish = Arc::new(AtomicBool::new(false));
        let (done, finished) = sync_channel(1);
        let flag = finish.clone();
        let spawned = std::thread::Builder::new()
            .name("tollgate-otlp".into())
            .spawn(move || Exporter::default().run(&rx, &shared, &flag, &done));
        match spawned {
            Ok(_) => Some(OtlpExporter { finish, finished }),
            Err(e) => {
                log(format!("OTLP: cannot start the exporter: {e}"));
                None
            }
        }
    }

    /// At shutdown, once the cores have handed over their last spans: send what is
    /// gathered (one try, whatever the interval) and wait for it, at most `limit`.
    pub fn finish(&self, limit: Duration) {
        self.finish.store(true, Release);
        if self.finished.recv_timeout(limit).is_err() {
            log("OTLP: the last spans were not sent before shutdown");
        }
    }
}

#[derive(Default)]
struct Exporter {
    /// The request body being gathered (starts with `PREFIX` once a span is in).
    body: Vec<u8>,
    spans: usize,
    oldest: Option<Instant>,
    /// Failed tries of the current body, and of the current failure streak (for backoff).
    attempts: u32,
    streak: u32,
    retry_at: Option<Instant>,
}

impl Exporter {
    fn run(
        mut self,
        rx: &Taker<Box<LogBatch>>,
        shared: &Shared,
        finish: &AtomicBool,
        done: &SyncSender<()>,
    ) {
        loop {
            let settings = shared.current().server.otlp.clone();
            if finish.load(Acquire) {
                while let Some(batch) = rx.try_recv() {
                    self.take(&batch.lines);
                }
                if let Some(s) = &settings {
                    self.send(s, shared);
                }
                if self.spans > 0 {
                    shared.spans_dropped.fetch_add(self.spans as u64, Relaxed);
                }
                let _ = done.try_send(());
                return;
            }
            let now = Instant::now();
            let waiting = self.retry_at.is_some_and(|t| t > now);
            let full = settings
                .as_ref()
                .is_some_and(|s| self.spans >= s.batch_size);
            if waiting {
                let until = self.retry_at.unwrap_or(now);
                std::thread::sleep((until - now).min(IDLE));
                continue;
            }
            if !full {
                // At most IDLE, so a shutdown's `finish` is seen promptly.
                let wait = match (&settings, self.oldest) {
                    (Some(s), Some(t)) => s.interval.saturating_sub(t.elapsed()).min(IDLE),
                    _ => IDLE,
                };
                match rx.recv_timeout(wait.max(Duration::from_millis(1))) {
                    Ok(mut batch) => {
                        self.take(&batch.lines);
                        batch.lines.clear();
                        let home = batch.home.clone();
                        let _ = home.try_send(batch);
                    }
                    Err(Nothing::Timeout) => {}
                    Err(Nothing::Disconnected) => {
                        if let Some(s) = &settings {
                            self.send(s, shared);
                        }
                        return;
                    }
                }
            }
            let Some(s) = settings else {
                // `server.otlp` was removed by a reload: what is left cannot go anywhere.
                shared.spans_dropped.fetch_add(self.spans as u64, Relaxed);
                self.clear();
                continue;
            };
            let due = self.spans >= s.batch_size
                || self.oldest.is_some_and(|t| t.elapsed() >= s.interval);
            if due {
                self.send(&s, shared);
            }
        }
    }

    fn take(&mut self, lines: &[u8]) {
        for span in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if self.spans == 0 {
                self.body.clear();
                self.body.extend_from_slice(PREFIX);
                self.oldest = Some(Instant::now());
            } else {
                self.body.push(b',');
            }
            self.body.extend_from_slice(span);
            self.spans += 1;
        }
    }

    fn clear(&mut self) {
        self.body.clear();
        self.spans = 0;
        self.oldest = None;
        self.attempts = 0;
        self.retry_at = None;
    }

    fn send(&mut self, s: &OtlpSettings, shared: &Shared) {
        if self.spans == 0 {
            return;
        }
        let len = self.body.len();
        self.body.extend_from_slice(SUFFIX);
        let result = post(s, &self.body);
        self.body.truncate(len);
        match result {
            Ok(()) => {
                if self.streak > 0 {
                    log("OTLP: export to the collector works again");
                }
                shared.spans_exported.fetch_add(self.spans as u64, Relaxed);
                self.streak = 0;
                self.clear();
            }
            Err(e) => {
                if self.streak == 0 {
                    log(format!(
                        "OTLP: export to http://{}:{}{} failed: {e}; retrying with backoff, spans are dropped (and counted) while it fails",
                        s.host, s.port, s.path
                    ));
                }
                self.streak += 1;
                self.attempts += 1;
                if self.attempts >= ATTEMPTS {
                    shared.spans_dropped.fetch_add(self.spans as u64, Relaxed);
                    self.clear();
                }
                let backoff = Duration::from_millis(250 << (self.streak - 1).min(7));
                self.retry_at = Some(Instant::now() + backoff.min(Duration::from_secs(30)));
            }
        }
    }
}

/// One POST; `Ok` on a 2xx answer.
fn post(s: &OtlpSettings, body: &[u8]) -> Result<(), String> {
    let addr = (s.host.as_str(), s.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", s.host))?
        .next()
        .ok_or_else(|| format!("{} has no address", s.host))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let host = if s.host.contains(':') {
        format!("[{}]", s.host)
    } else {
        s.host.clone()
    };
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {host}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        s.path,
        s.port,
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .map_err(|e| format!("write: {e}"))?;
    let mut answer = [0u8; 64];
    let mut got = 0;
    while got < 12 {
        match stream.read(&mut answer[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    let line = &answer[..got];
    match line.get(9..12) {
        Some(code) if line.starts_with(b"HTTP/1.") && code[0] == b'2' => Ok(()),
        Some(code) if line.starts_with(b"HTTP/1.") => Err(format!(
            "the collector answered {}",
            String::from_utf8_lossy(code)
        )),
        _ => Err("no HTTP response".into()),
    }
}
