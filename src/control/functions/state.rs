//! What the function host knows, behind one `Mutex` (`Host::state`) and one `Condvar`
//! (`Host::changed`, notified on every change: waiting `next` calls and the supervisor
//! recheck their conditions).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::process::Child;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::json;

use super::process::LogTag;
use crate::config::LocalFunction;

pub(super) struct Host {
    pub state: Mutex<State>,
    pub changed: Condvar,
    /// The Invoke API's address (workers' `FunctionTarget::Local` upstream).
    pub invoke_addr: SocketAddr,
    /// `--watch`: restart a function's processes when files under its `cwd` change.
    pub watch: bool,
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
    /// Numbers processes (a process's runtime API listener knows its own).
    pub serial: u64,
}

pub(super) struct Function {
    pub spec: Arc<LocalFunction>,
    pub timeout: Duration,
    /// Invocations no process has taken yet, oldest first.
    pub queue: VecDeque<Pending>,
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
    pub fn new(spec: Arc<LocalFunction>, timeout: Duration) -> Function {
        Function {
            spec,
            timeout,
            queue: VecDeque::new(),
            processes: Vec::new(),
            init_error: None,
            failures: 0,
            not_before: Instant::now(),
            files: None,
        }
    }

    pub fn busy(&self) -> usize {
        self.processes
            .iter()
            .filter(|p| matches!(p.phase, Phase::Busy(_)))
            .count()
    }

    /// Alive and not (being) killed.
    pub fn live(&self) -> usize {
        self.processes
            .iter()
            .filter(|p| !matches!(p.phase, Phase::Dead))
            .count()
    }

    /// A process has reached `next` and none has failed since.
    pub fn healthy(&self) -> bool {
        self.processes
            .iter()
            .any(|p| matches!(p.phase, Phase::Ready | Phase::Waiting | Phase::Busy(_)))
    }
}

/// An invocation waiting for a process.
pub(super) struct Pending {
    pub id: Arc<str>,
    pub event: Vec<u8>,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub reply: SyncSender<Outcome>,
    pub queued: Instant,
}

pub(super) struct Process {
    pub serial: u64,
    pub child: Child,
    pub phase: Phase,
    /// Replace after the current invocation (its function changed, or its files did).
    pub retire: bool,
    pub served: u64,
    pub started: Instant,
    /// Its Runtime API listener, and the flag that stops its accept loop.
    pub runtime_addr: SocketAddr,
    pub stop: Arc<AtomicBool>,
    pub log: Arc<LogTag>,
}

pub(super) enum Phase {
    /// Started; not yet asked for an invocation.
    Starting,
    /// Between invocations, not in `next`.
    Ready,
    /// In `next`, waiting for an invocation.
    Waiting,
    Busy(Busy),
    /// Killed (or exited); waiting to be reaped.
    Dead,
}

pub(super) struct Busy {
    pub id: Arc<str>,
    pub deadline: Instant,
    pub reply: SyncSender<Outcome>,
}

/// How an invocation ends, as the Invoke API answers it.
pub(super) enum Outcome {
    /// 200 with the function's result.
    Result(Vec<u8>),
    /// 200, `X-Amz-Function-Error: Unhandled`, the error JSON.
    FunctionError(Vec<u8>),
    /// 429 `TooManyRequestsException`.
    Throttled,
    /// 404 `ResourceNotFoundException`.
    NotFound,
}

/// `{"errorType": .., "errorMessage": ..}`.
pub(super) fn error_json(error_type: &str, message: &str) -> Vec<u8> {
    json!({"errorType": error_type, "errorMessage": message})
        .to_string()
        .into_bytes()
}
