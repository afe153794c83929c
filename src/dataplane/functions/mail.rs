//! What the function host (control) and the workers share about local functions: the
//! per-worker mailboxes (`std::sync::mpsc`, drained by the worker's ticker with `try_recv`)
//! and, per function and per process, atomics either side reads without a lock.
//!
//! The `Mutex`es here only hand each receiving end over once (to a worker's ticker, or to
//! the host), never on a request; a `std` listener is only carried here (the host binds
//! it, the worker converts it with `from_std`).
#![allow(clippy::disallowed_types)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, ArcSwapOption};

/// Process states (`ProcShared::state`).
pub const STARTING: u8 = 0;
/// Between invocations (in `next`, or about to ask).
pub const IDLE: u8 = 1;
pub const BUSY: u8 = 2;
/// Killed or exited; waiting to be reaped.
pub const DEAD: u8 = 3;

/// One mailbox per worker, and one back to the host.
pub struct Mail {
    senders: Vec<Sender<ToWorker>>,
    receivers: Vec<Mutex<Option<Receiver<ToWorker>>>>,
    to_host: Sender<ToHost>,
    host: Mutex<Option<Receiver<ToHost>>>,
    /// The current config's local functions, by name (published by the host on apply).
    pub registry: ArcSwap<HashMap<String, Arc<FnShared>>>,
}

impl Mail {
    pub fn new(workers: usize) -> Mail {
        let (mut senders, mut receivers) = (Vec::new(), Vec::new());
        for _ in 0..workers.max(1) {
            let (tx, rx) = channel();
            senders.push(tx);
            receivers.push(Mutex::new(Some(rx)));
        }
        let (tx, rx) = channel();
        Mail {
            senders,
            receivers,
            to_host: tx,
            host: Mutex::new(Some(rx)),
            registry: ArcSwap::default(),
        }
    }

    pub fn workers(&self) -> usize {
        self.senders.len()
    }

    pub fn post(&self, worker: usize, message: ToWorker) {
        if let Some(s) = self.senders.get(worker) {
            let _ = s.send(message);
        }
    }

    /// Worker `id`'s end (once), taken at its start.
    pub fn take(&self, id: usize) -> Option<Receiver<ToWorker>> {
        self.receivers.get(id)?.lock().ok()?.take()
    }

    /// The host's end (once).
    pub fn take_host(&self) -> Option<Receiver<ToHost>> {
        self.host.lock().ok()?.take()
    }

    /// A sender for a worker to keep.
    pub fn host_sender(&self) -> Sender<ToHost> {
        self.to_host.clone()
    }
}

pub enum ToWorker {
    /// Serve this new process's Runtime API (its listener, bound before it started).
    Process {
        function: Arc<FnShared>,
        process: Arc<ProcShared>,
        listener: TcpListener,
    },
    /// The host reaped the process: its invocation (if any) ends with this exit status.
    Exited {
        process: Arc<ProcShared>,
        status: String,
    },
    /// The function was removed (or tollgate is stopping): queued invocations get 404.
    Removed { name: String },
    /// Serve the loopback Invoke API on this listener (worker 0).
    InvokeApi(TcpListener),
}

pub enum ToHost {
    /// A process posted `init/error` (the worker has killed it).
    InitError { name: String, error: Vec<u8> },
}

/// One local function, as both sides see it.
pub struct FnShared {
    pub name: String,
    /// `arn:aws:lambda:{region}:{account}:function:{name}` (follows `server.region` and
    /// `server.accountId` across reloads).
    pub arn: ArcSwap<String>,
    pub timeout_ms: AtomicU64,
    pub concurrency: AtomicU32,
    pub queue: AtomicU32,
    /// The init error, while the function backs off with no healthy process: invocations fail
    /// with it at once (published by the host every tick).
    pub failing: ArcSwapOption<Vec<u8>>,
    /// Per worker: invocations waiting for a process there.
    pub queued: Vec<AtomicUsize>,
    /// Per worker: it has waiting invocations and no idle process (the host starts one when
    /// `concurrency` allows).
    pub wants: Vec<AtomicBool>,
}

impl FnShared {
    pub fn new(name: &str, arn: String, workers: usize) -> FnShared {
        FnShared {
            name: name.to_string(),
            arn: ArcSwap::from_pointee(arn),
            timeout_ms: AtomicU64::new(3000),
            concurrency: AtomicU32::new(1),
            queue: AtomicU32::new(0),
            failing: ArcSwapOption::empty(),
            queued: (0..workers).map(|_| AtomicUsize::new(0)).collect(),
            wants: (0..workers).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed))
    }

    pub fn queued_total(&self) -> usize {
        self.queued.iter().map(|q| q.load(Ordering::Relaxed)).sum()
    }
}

/// One process, as both sides see it.
pub struct ProcShared {
    pub serial: u64,
    pub pid: u32,
    /// The worker that serves its Runtime API.
    pub worker: usize,
    /// `STARTING`, `IDLE`, `BUSY`, `DEAD`.
    pub state: AtomicU8,
    /// Replace after the current invocation (its function or files changed, or
    /// `concurrency` was lowered). Set by [`ProcShared::retire`] only.
    retire: AtomicBool,
    /// Its runtime closed its `next` poll and has not asked again: `IDLE`, but not waiting
    /// (the host starts another process for invocations that queue meanwhile).
    pub away: AtomicBool,
    pub served: AtomicU64,
    /// The current (or last) invocation's request id, as a UUID's 128 bits (0: none), for
    /// the log pump's tags.
    request_hi: AtomicU64,
    request_lo: AtomicU64,
}

impl ProcShared {
    pub fn new(serial: u64, pid: u32, worker: usize) -> ProcShared {
        ProcShared {
            serial,
            pid,
            worker,
            state: AtomicU8::new(STARTING),
            retire: AtomicBool::new(false),
            away: AtomicBool::new(false),
            served: AtomicU64::new(0),
            request_hi: AtomicU64::new(0),
            request_lo: AtomicU64::new(0),
        }
    }

    pub fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    /// Move from `from` to `to`; false if the state was another. `SeqCst` (a failed
    /// exchange included) for [`ProcShared::retire`]'s protocol.
    pub fn shift(&self, from: u8, to: u8) -> bool {
        self.state
            .compare_exchange(from, to, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// The host replaces this process: true when it must be killed now (it was starting
    /// or idle, and is now `DEAD`); a busy one is let go by its worker once it is idle.
    ///
    /// The protocol, so that a retire is never missed: the host sets the flag, then tries
    /// to move the state to `DEAD`; a worker moves the state to `IDLE`, then reads the flag
    /// (`retiring`) and lets the process go if it is set. All four steps are `SeqCst`, so
    /// whatever the interleaving, the host sees `IDLE`/`STARTING` or the worker sees the
    /// flag (or both: the kill is idempotent until the host reaps). Looking at the state
    /// first and setting the flag only when it was `BUSY` (as once done here) missed the
    /// retire when the invocation ended in between: the worker read the flag still unset
    /// and went `IDLE`, the host then saw no `BUSY`, and the old process served on.
    pub fn retire(&self) -> bool {
        self.flag_retire();
        self.take_down()
    }

    /// `retire`, step 1.
    fn flag_retire(&self) {
        self.retire.store(true, Ordering::SeqCst);
    }

    /// `retire`, step 2: `STARTING`/`IDLE` → `DEAD`.
    fn take_down(&self) -> bool {
        self.shift(STARTING, DEAD) || self.shift(IDLE, DEAD)
    }

    /// Retired by the host: a worker asks after every move to `IDLE` (see `retire`).
    pub fn retiring(&self) -> bool {
        self.retire.load(Ordering::SeqCst)
    }

    pub fn set_request(&self, id: u128) {
        self.request_hi.store((id >> 64) as u64, Ordering::Relaxed);
        self.request_lo.store(id as u64, Ordering::Relaxed);
    }

    /// The request id to tag its output with.
    pub fn request(&self) -> Option<String> {
        let id = (u128::from(self.request_hi.load(Ordering::Relaxed)) << 64)
            | u128::from(self.request_lo.load(Ordering::Relaxed));
        (id != 0).then(|| uuid(id))
    }

    /// SIGKILL its process group and the process. Only while not reaped (the host sets
    /// `DEAD` before it reaps, and kills again then).
    pub fn kill(&self) {
        let pid = self.pid as libc::pid_t;
        // SAFETY: plain syscalls; the pid is a child the host started and has not reaped
        // (it reaps only after it saw the process exit), so it cannot have been reused.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
pub fn uuid(id: u128) -> String {
    uuid_bytes(id).iter().map(|&b| b as char).collect()
}

/// [`uuid`] on the stack.
pub fn uuid_bytes(id: u128) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 36];
    let mut o = 0;
    for (i, b) in id.to_be_bytes().iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            o += 1;
        }
        out[o] = HEX[(b >> 4) as usize];
        out[o + 1] = HEX[(b & 0xf) as usize];
        o += 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{BUSY, DEAD, IDLE, ProcShared, STARTING};

    /// Every interleaving of the host's two retire steps with a worker's two (move to
    /// `IDLE` from `STARTING` or `BUSY`, then look at the flag): the process is always
    /// taken down by one side — the host kills it, or the worker lets it go.
    #[test]
    fn a_retire_is_never_missed_whatever_the_interleaving() {
        // 0, 1: host steps; 2, 3: worker steps; each order keeps each side's own order.
        let orders = [
            [0, 1, 2, 3],
            [0, 2, 1, 3],
            [0, 2, 3, 1],
            [2, 0, 1, 3],
            [2, 0, 3, 1],
            [2, 3, 0, 1],
        ];
        for from in [STARTING, BUSY] {
            for order in orders {
                let p = ProcShared::new(1, 0, 0);
                p.state.store(from, std::sync::atomic::Ordering::SeqCst);
                let (mut killed, mut idle, mut let_go) = (false, false, false);
                for step in order {
                    match step {
                        0 => p.flag_retire(),
                        1 => killed = p.take_down(),
                        2 => idle = p.shift(from, IDLE),
                        _ => let_go = idle && p.retiring(),
                    }
                }
                assert!(killed || let_go, "from {from}, order {order:?}");
                // The worker's move fails only when the host took it down first.
                assert!(idle || (killed && p.state() == DEAD), "{from} {order:?}");
            }
        }
    }

    #[test]
    fn uuids_are_formatted() {
        let id = 0x0123_4567_89ab_4def_8123_4567_89ab_cdefu128;
        assert_eq!(super::uuid(id), "01234567-89ab-4def-8123-456789abcdef");
    }
}
