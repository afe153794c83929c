//! One connection's loop: connect, then send and read on one task until the run ends.
//!
//! Generic over the `Connector` (plain TCP or TLS, `transport.rs`), chosen once per task.
//!
//! Lifecycle: *Connecting* (waits for one of the thread's connect slots; failure → connect
//! error, uses one request of `-n`, retry after `RETRY`) → *Exchanging*: write every due
//! request the pipeline has room for in one write, then read until the oldest request's
//! deadline or the next due send, whichever is first, and account every response that ended
//! → *Exchanging* again; an EOF, a read/write error, a protocol error or a timeout drops the
//! connection (requests in flight on it are lost) → *Connecting*; the server's
//! `Connection: close` after the last request in flight is a clean reconnect. When the
//! schedule or the budget says stop, in-flight responses are still read (each bounded by
//! `--timeout`), then *Finished*.
//!
//! Nothing here allocates per request: the write buffer, read buffer and in-flight ring are
//! sized once per connection (the read buffer grows only for a response head above 12 KiB)
//! and handed back after every ownership-passing call; the timer is one pinned `Sleep` that
//! is reset. (A cancelled read makes a fresh `Canceller`, which
//! only happens on a timeout or in open loop with `--pipeline` above 1. Over TLS, rustls
//! allocates per record: see `tls/stream.rs`.)

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use monoio::io::Canceller;
use monoio::time::Sleep;

use crate::response::{MAX_HEAD, ResponseReader};
use crate::schedule::{Due, Schedule};
use crate::transport::{ConnectError, Connector, Plain, Transport};
use crate::worker::{Local, Plan};

/// Pause after a failed connect, so a dead server is not hammered in a tight loop.
const RETRY: Duration = Duration::from_millis(10);
/// Linux's ECANCELED: the read was cancelled before any byte arrived.
const ECANCELED: i32 = 125;
/// Read buffer to start with: bodies are read (and dropped) in pieces of about this size.
const READ_BUFFER: usize = 16 * 1024;
/// Less room than this after the unparsed bytes (a large partial head) doubles the buffer.
/// The reader refuses a head of `MAX_HEAD`, so it never grows past about twice that.
const MIN_SPARE: usize = 4 * 1024;

/// Drives connection `index` of this thread's share until the run ends.
pub async fn run(local: Rc<Local>, index: u32) {
    match &local.plan.tls {
        None => run_with(&Plain, &local, index).await,
        Some(tls) => run_with(tls, &local, index).await,
    }
}

/// Opens one connection and counts the outcome: a handshake, or a connect error and its
/// reason.
pub async fn open<C: Connector>(
    connector: &C,
    local: &Local,
    limit: Duration,
) -> Option<C::Stream> {
    counted(
        connector.connect(local.plan.target.addr, limit).await,
        local,
    )
}

/// Counts a connect's outcome: a handshake, or a connect error and its reason.
fn counted<S: Transport>(result: Result<S, ConnectError>, local: &Local) -> Option<S> {
    match result {
        Ok(stream) => {
            if let Some(session) = stream.session() {
                local.stats.borrow_mut().handshake(session);
            }
            Some(stream)
        }
        Err(e) => {
            local.stats.borrow_mut().connect_failed(&e);
            local.publish_error();
            None
        }
    }
}

async fn run_with<C: Connector>(connector: &C, local: &Local, index: u32) {
    let plan = &local.plan;
    let mut schedule = match plan.rate {
        Some(rate) => Schedule::open(plan.start, rate, index, plan.connections, plan.stop_at),
        None => Schedule::closed(plan.stop_at),
    };
    let mut conn = Conn::new(plan, index);
    let mut sleep = pin!(monoio::time::sleep(Duration::ZERO));
    loop {
        let now = Instant::now();
        if local.budget.get() == 0 || schedule.poll(now) == Due::Finished {
            return;
        }
        // A connect that cannot finish before `-d` ends would only keep the run alive.
        let limit = plan.stop_at.map_or(plan.timeout, |stop| {
            plan.timeout.min(stop.saturating_duration_since(now))
        });
        let opened = {
            let _slot = local.connect_slots.take().await;
            if limit < plan.timeout {
                // Cut short by the end of `-d`, not by `--timeout`: a connect (or handshake)
                // still under way when the run ends is no error, as a request not yet sent is
                // none. Without keep-alive (`Connection: close`) one is under way on almost
                // every connection at the end.
                match connector.connect(plan.target.addr, limit).await {
                    Err(ConnectError::TimedOut) => return,
                    result => counted(result, local),
                }
            } else {
                open(connector, local, limit).await
            }
        };
        let Some(mut stream) = opened else {
            let _ = local.take_budget();
            sleep_until(sleep.as_mut(), Instant::now() + RETRY).await;
            continue;
        };
        match conn
            .exchange(&mut stream, &mut schedule, local, sleep.as_mut())
            .await
        {
            Outcome::Finished => return,
            Outcome::Reconnect => continue,
        }
    }
}

/// A request written and not yet answered.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    /// Latency counts from here: the actual send (closed loop) or the intended one (open).
    start: Instant,
    /// `--timeout` after it was written.
    deadline: Instant,
    head: bool,
}

pub enum Outcome {
    /// Every request sent was answered and the schedule has nothing more to send.
    Finished,
    /// The connection was dropped (an error, or the server's `Connection: close`).
    Reconnect,
}

/// One connection's buffers and in-flight requests, kept across reconnects.
pub struct Conn {
    wbuf: Vec<u8>,
    /// Unparsed bytes only, always at the front.
    rbuf: Vec<u8>,
    inflight: VecDeque<InFlight>,
    reader: ResponseReader,
    next_template: usize,
    canceller: Canceller,
}

impl Conn {
    /// Connection `index`'s: it starts at template `index mod T`.
    pub fn new(plan: &Plan, index: u32) -> Conn {
        let depth = plan.pipeline as usize;
        let largest = plan
            .templates
            .iter()
            .map(|t| t.bytes.len())
            .max()
            .unwrap_or(0);
        Conn {
            wbuf: Vec::with_capacity(largest * depth),
            rbuf: Vec::with_capacity(READ_BUFFER),
            inflight: VecDeque::with_capacity(depth),
            reader: ResponseReader::default(),
            next_template: index as usize % plan.templates.len(),
            canceller: Canceller::new(),
        }
    }

    /// Sends what `schedule` says on `stream` and reads the answers, until the schedule is
    /// done and nothing is in flight, or the connection must be dropped.
    pub async fn exchange<S: Transport>(
        &mut self,
        stream: &mut S,
        schedule: &mut Schedule,
        local: &Local,
        mut sleep: Pin<&mut Sleep>,
    ) -> Outcome {
        let plan = &local.plan;
        self.inflight.clear();
        self.rbuf.clear();
        self.reader.reset();
        loop {
            // Send every due request the pipeline has room for, in one write.
            let now = Instant::now();
            let mut next_due = None;
            let mut finished = false;
            while self.inflight.len() < plan.pipeline as usize {
                match schedule.poll(now) {
                    Due::Now(start) => {
                        if !local.take_budget() {
                            finished = true;
                            break;
                        }
                        schedule.commit();
                        let template = &plan.templates[self.next_template];
                        self.next_template = (self.next_template + 1) % plan.templates.len();
                        self.wbuf.extend_from_slice(&template.bytes);
                        let deadline = now + plan.timeout;
                        let head = template.head;
                        self.inflight.push_back(InFlight {
                            start,
                            deadline,
                            head,
                        });
                    }
                    Due::At(t) => {
                        next_due = Some(t);
                        break;
                    }
                    Due::Finished => {
                        finished = true;
                        break;
                    }
                }
            }
            debug_assert!(self.inflight.len() <= plan.pipeline as usize);
            debug_assert!(
                finished || next_due.is_some() || self.inflight.len() == plan.pipeline as usize
            );
            if !self.wbuf.is_empty() {
                let (res, mut buf) = stream.send(std::mem::take(&mut self.wbuf)).await;
                buf.clear();
                self.wbuf = buf;
                if res.is_err() {
                    local.stats.borrow_mut().errors.write += 1;
                    local.publish_error();
                    return Outcome::Reconnect;
                }
            }
            let Some(oldest) = self.inflight.front() else {
                match next_due {
                    Some(t) if !finished => {
                        sleep_until(sleep.as_mut(), t).await;
                        continue;
                    }
                    _ => return Outcome::Finished,
                }
            };

            // Read until something arrives, the oldest request times out, or (pipeline room
            // left, open loop) the next request is due.
            let wake = next_due.map_or(oldest.deadline, |t| t.min(oldest.deadline));
            sleep.as_mut().reset(monoio::time::Instant::from_std(wake));
            let handle = self.canceller.handle();
            if self.rbuf.capacity() - self.rbuf.len() < MIN_SPARE {
                debug_assert!(self.rbuf.len() < MAX_HEAD);
                self.rbuf.reserve(self.rbuf.capacity());
            }
            let (res, buf) = {
                // Read after the unparsed bytes kept at the front.
                let mut read = pin!(stream.recv(std::mem::take(&mut self.rbuf), handle));
                let raced = poll_fn(|cx| match read.as_mut().poll(cx) {
                    Poll::Ready(r) => Poll::Ready(Some(r)),
                    Poll::Pending => sleep.as_mut().poll(cx).map(|()| None),
                })
                .await;
                match raced {
                    Some(r) => r,
                    None => {
                        // The cancelled read still completes, with any bytes it got.
                        self.canceller = std::mem::take(&mut self.canceller).cancel();
                        read.await
                    }
                }
            };
            self.rbuf = buf;
            let now = Instant::now();
            match res {
                Ok(0) => return self.closed_by_server(local, now),
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(ECANCELED) => {}
                Err(_) => {
                    local.stats.borrow_mut().errors.read += 1;
                    local.publish_error();
                    return Outcome::Reconnect;
                }
            }
            match self.account(local, now) {
                Ok(false) => {}
                Ok(true) => {
                    // `Connection: close`: anything still in flight is lost.
                    if !self.inflight.is_empty() {
                        local.stats.borrow_mut().errors.read += 1;
                        local.publish_error();
                    }
                    return Outcome::Reconnect;
                }
                Err(()) => {
                    local.stats.borrow_mut().errors.protocol += 1;
                    local.publish_error();
                    return Outcome::Reconnect;
                }
            }
            if self.inflight.front().is_some_and(|f| now >= f.deadline) {
                local.stats.borrow_mut().errors.timeout += 1;
                local.publish_error();
                return Outcome::Reconnect;
            }
        }
    }

    /// Parses what the read buffer holds and records every response that ended.
    /// `Ok(true)`: the server asked to close the connection.
    fn account(&mut self, local: &Local, now: Instant) -> Result<bool, ()> {
        let mut pos = 0;
        let mut ended = 0;
        let mut close = false;
        let mut stats = local.stats.borrow_mut();
        while pos < self.rbuf.len() {
            let head = self.inflight.front().ok_or(())?.head;
            let (used, done) = self
                .reader
                .advance(&self.rbuf[pos..], head)
                .map_err(|_| ())?;
            pos += used;
            match done {
                Some(done) => {
                    let sent = self.inflight.pop_front().ok_or(())?;
                    stats.record(done.status, now.saturating_duration_since(sent.start));
                    ended += 1;
                    if done.close {
                        close = true;
                        break;
                    }
                }
                None if used == 0 => break,
                None => {}
            }
        }
        drop(stats);
        debug_assert!(pos <= self.rbuf.len());
        self.rbuf.copy_within(pos.., 0);
        self.rbuf.truncate(self.rbuf.len() - pos);
        local.publish_completed(ended);
        Ok(close)
    }

    /// EOF: a body delimited by the close ends; requests still in flight are a read error.
    fn closed_by_server(&mut self, local: &Local, now: Instant) -> Outcome {
        if let Some(done) = self.reader.eof()
            && let Some(sent) = self.inflight.pop_front()
        {
            local
                .stats
                .borrow_mut()
                .record(done.status, now.saturating_duration_since(sent.start));
            local.publish_completed(1);
        }
        if !self.inflight.is_empty() {
            local.stats.borrow_mut().errors.read += 1;
            local.publish_error();
        }
        Outcome::Reconnect
    }
}

async fn sleep_until(mut sleep: Pin<&mut Sleep>, t: Instant) {
    sleep.as_mut().reset(monoio::time::Instant::from_std(t));
    sleep.await;
}
