//! What the function host knows, behind one `Mutex` (`Host::state`): the supervisor and
//! reloads use it; the workers never do (they see `FnShared` and `ProcShared`, lock-free).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Child;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::LocalFunction;
use crate::dataplane::functions::mail::{BUSY, DEAD, FnShared, IDLE, Mail, ProcShared, ToHost};

pub(super) struct Host {
    pub state: Mutex<State>,
    pub changed: Condvar,
    /// The Invoke API's address (workers' `FunctionTarget::Local` upstream).
    pub invoke_addr: SocketAddr,
    /// `--watch`: restart a function's processes when files under its `cwd` change.
    pub watch: bool,
    pub mail: Arc<Mail>,
    /// Each worker's CPU (`server.cpuAffinity: "workers"`): a process started for worker
    /// *i* runs on `cpus[i]`. `None`: processes keep tollgate's affinity.
    pub cpus: Option<Vec<usize>>,
    /// The workers' reports to the host (`init/error`).
    pub reports: Mutex<Option<Receiver<ToHost>>>,
}

impl Host {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

#[derive(Default)]
pub(super) struct State {
    pub functions: HashMap<String, Function>,
    /// Processes of removed functions, to be killed and reaped by the supervisor.
    pub retired: Vec<Process>,
    pub region: String,
    pub account: String,
    pub shutting_down: bool,
    /// Numbers processes.
    pub serial: u64,
}

pub(super) struct Function {
    pub spec: Arc<LocalFunction>,
    pub timeout: Duration,
    /// What the workers see of it.
    pub shared: Arc<FnShared>,
    pub processes: Vec<Process>,
    /// The last `init/error` (or a start failure) as the error JSON, until a process reaches
    /// `next`.
    pub init_error: Option<Vec<u8>>,
    /// Processes in a row that ended before reaching `next`: the restart backoff.
    pub failures: u32,
    /// No process starts before this.
    pub not_before: Instant,
    /// `--watch`: the fingerprint of the files under `cwd`, and when it was taken.
    pub files: Option<(u64, Instant)>,
}

impl Function {
    pub fn new(spec: Arc<LocalFunction>, timeout: Duration, shared: Arc<FnShared>) -> Function {
        let f = Function {
            spec,
            timeout,
            shared,
            processes: Vec::new(),
            init_error: None,
            failures: 0,
            not_before: Instant::now(),
            files: None,
        };
        f.publish();
        f
    }

    /// The settings the workers read (they change in place on reload).
    pub fn publish(&self) {
        let s = &self.shared;
        s.timeout_ms
            .store(self.timeout.as_millis() as u64, Ordering::Relaxed);
        s.concurrency
            .store(self.spec.concurrency, Ordering::Relaxed);
        s.queue.store(self.spec.queue, Ordering::Relaxed);
    }

    /// Alive and not (being) killed.
    pub fn live(&self) -> usize {
        self.processes
            .iter()
            .filter(|p| p.shared.state() != DEAD)
            .count()
    }

    /// A process has reached `next` and none has failed since.
    pub fn healthy(&self) -> bool {
        self.processes
            .iter()
            .any(|p| matches!(p.shared.state(), IDLE | BUSY))
    }
}

pub(super) struct Process {
    pub shared: Arc<ProcShared>,
    pub child: Child,
    pub started: Instant,
    /// When the host first saw it `away` (its runtime closed its `next` poll and has not
    /// asked again), for `supervisor::AWAY_LIMIT`.
    pub away_since: Option<Instant>,
}

impl Process {
    /// Kill it now unless it is busy; a busy one is replaced after its invocation (its
    /// worker lets it go: `ProcShared::retire` has the protocol).
    pub fn retire(&self) {
        if self.shared.retire() {
            super::process::kill(&self.child);
        }
    }

    /// Kill it, busy or not.
    pub fn let_go(&self) {
        self.shared.state.store(DEAD, Ordering::Release);
        super::process::kill(&self.child);
    }
}
