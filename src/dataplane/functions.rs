//! Local functions on the worker: each worker serves the Lambda Runtime API of the
//! processes the function host (control/functions) assigned to it, and runs its own
//! invocations on them: no thread handoff, no HTTP between the worker and itself.
//!
//! ```text
//! FunctionTarget::Local call ─▶ invoke(): queue (bounded) per function per worker
//! process ◀── GET /2018-06-01/runtime/invocation/next ── answered from the queue (runtime.rs)
//! process ─── POST .../invocation/{id}/response|error ─▶ completes the caller's `Call`
//! ```
//!
//! The host binds a process's Runtime API listener, starts the process and posts
//! (process, listener) to a worker's mailbox (`mail.rs`), which the worker's ticker drains.
//! A worker that has no process of a function yet (only workers other than 0: the host
//! starts a function's first process on worker 0) asks for one (`FnShared::wants`) and
//! meanwhile forwards to the loopback Invoke API, which worker 0 serves (`invoke_api.rs`).
//!
//! The ticker (every 100 ms) also ends invocations past their deadline (the process is
//! killed: `Sandbox.Timedout`), answers invocations that waited a whole timeout for a
//! process (429, or `Sandbox.Timedout` while none has started), and fails queued ones while
//! the function backs off after an init error.

mod calls;
mod invoke_api;
pub mod mail;
mod runtime;
mod wire;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::task::Waker;
use std::time::Duration;

use monoio::time::Instant;
use serde_json::json;

use super::clock::IdGen;
use super::worker::Worker;
use calls::sweep;
pub(crate) use calls::{call, invoke};
use mail::{BUSY, DEAD, FnShared, IDLE, Mail, ProcShared, ToHost, ToWorker};

/// Lambda's limit on a synchronous request and response.
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

/// How an invocation ends, as the Invoke API answers it.
pub enum Outcome {
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
pub fn error_json(error_type: &str, message: &str) -> Vec<u8> {
    json!({"errorType": error_type, "errorMessage": message})
        .to_string()
        .into_bytes()
}

/// A worker's local functions.
pub struct Functions {
    id: usize,
    buffers: Rc<Buffers>,
    /// The ticker's list of functions to sweep (empty between ticks).
    sweeping: RefCell<Vec<Rc<LocalFn>>>,
    mail: RefCell<Option<(Receiver<ToWorker>, Arc<Mail>)>>,
    fns: RefCell<HashMap<String, Rc<LocalFn>>>,
}

pub(crate) struct LocalFn {
    shared: Arc<FnShared>,
    /// Request and trace ids.
    ids: IdGen,
    worker: usize,
    to_host: Sender<ToHost>,
    queue: RefCell<VecDeque<Rc<Call>>>,
    /// Processes waiting in `next`.
    idle: RefCell<VecDeque<Rc<Proc>>>,
    procs: RefCell<Vec<Rc<Proc>>>,
    /// Finished calls, for the next invocations (at most [`SPARE_CALLS`]).
    spare: RefCell<Vec<Rc<Call>>>,
    /// The worker's spare buffers (`Functions::buffers`).
    buffers: Rc<Buffers>,
}

/// Finished calls a function keeps for reuse.
const SPARE_CALLS: usize = 16;

/// A worker's spare byte buffers, so that a result read from a runtime's connection and
/// handed to the caller comes back for the next one (`Functions::recycle`). Bounded in count
/// and in the capacity a buffer may keep.
#[derive(Default)]
pub struct Buffers(RefCell<Vec<Vec<u8>>>);

impl Buffers {
    const COUNT: usize = 16;
    /// The capacity a kept buffer may have.
    pub(crate) const KEEP: usize = 64 * 1024;

    pub const fn new() -> Buffers {
        Buffers(RefCell::new(Vec::new()))
    }

    pub fn take(&self) -> Vec<u8> {
        self.0.borrow_mut().pop().unwrap_or_default()
    }

    pub fn give(&self, mut buf: Vec<u8>) {
        let mut spare = self.0.borrow_mut();
        if buf.capacity() == 0 || buf.capacity() > Self::KEEP || spare.len() >= Self::COUNT {
            return;
        }
        buf.clear();
        spare.push(buf);
    }
}

pub(crate) struct Proc {
    shared: Arc<ProcShared>,
    addr: SocketAddr,
    current: RefCell<Option<Rc<Call>>>,
    deadline: Cell<Option<Instant>>,
    /// Its pending `next`.
    waiter: RefCell<Option<Waker>>,
    /// Counts `next` requests: only the newest may receive an event (an older one still
    /// waiting, e.g. on a connection the runtime gave up on, ends without one).
    next_seq: Cell<u64>,
    /// Counted as waiting in `next` before its runtime asked (`runtime::presume`): an
    /// invocation handed to it meanwhile has not reached the runtime yet.
    presumed: Cell<bool>,
    /// Reaped or let go: stop serving it.
    gone: Cell<bool>,
    conns: Cell<usize>,
}

/// An invocation. Recycled (`LocalFn::spare`) once its caller has its outcome: its buffers
/// keep their capacity.
pub(crate) struct Call {
    /// The request id (a UUID).
    id: [u8; 36],
    uuid: u128,
    event: Vec<u8>,
    trace: String,
    client_context: Option<String>,
    queued: Instant,
    outcome: RefCell<Option<Outcome>>,
    waker: RefCell<Option<Waker>>,
}

impl Call {
    fn new() -> Call {
        Call {
            id: [b'0'; 36],
            uuid: 0,
            event: Vec::new(),
            trace: String::new(),
            client_context: None,
            queued: Instant::now(),
            outcome: RefCell::new(None),
            waker: RefCell::new(None),
        }
    }

    /// The request id.
    fn id(&self) -> &str {
        std::str::from_utf8(&self.id).unwrap_or_default()
    }

    fn finish(&self, outcome: Outcome) {
        let mut o = self.outcome.borrow_mut();
        if o.is_none() {
            *o = Some(outcome);
            if let Some(w) = self.waker.borrow_mut().take() {
                w.wake();
            }
        }
    }
}

impl Proc {
    /// Kill it (once) and stop handing it invocations.
    fn let_go(&self) {
        if self.shared.state.swap(DEAD, Ordering::AcqRel) != DEAD {
            self.shared.kill();
        }
    }

    fn wake(&self) {
        if let Some(w) = self.waiter.borrow_mut().take() {
            w.wake();
        }
    }
}

impl LocalFn {
    fn healthy(&self) -> bool {
        self.procs
            .borrow()
            .iter()
            .any(|p| matches!(p.shared.state(), IDLE | BUSY))
    }

    /// Hand queued invocations to processes waiting in `next`.
    fn dispatch(&self) {
        let timeout = self.shared.timeout();
        loop {
            let call = {
                let mut q = self.queue.borrow_mut();
                // An invocation whose caller is gone (only the queue holds it) is dropped.
                while q.front().is_some_and(|c| Rc::strong_count(c) == 1) {
                    q.pop_front();
                }
                if q.is_empty() {
                    break;
                }
                let Some(p) = self.take_idle() else { break };
                let Some(call) = q.pop_front() else { break };
                (call, p)
            };
            let (call, p) = call;
            p.deadline.set(Some(Instant::now() + timeout));
            p.shared.set_request(call.uuid);
            *p.current.borrow_mut() = Some(call);
            p.wake();
        }
        self.publish();
    }

    fn take_idle(&self) -> Option<Rc<Proc>> {
        let mut idle = self.idle.borrow_mut();
        while let Some(p) = idle.pop_front() {
            if !p.gone.get() && p.current.borrow().is_none() && p.shared.shift(IDLE, BUSY) {
                return Some(p);
            }
        }
        None
    }

    /// `p`'s runtime gave up on its `next` poll: hand it nothing until it asks again.
    fn withdraw(&self, p: &Rc<Proc>) {
        self.idle.borrow_mut().retain(|q| !Rc::ptr_eq(q, p));
        p.shared.away.store(true, Ordering::Relaxed);
        self.publish();
    }

    /// `call` was handed to `p` but never reached its runtime (the poll's connection closed,
    /// or the event could not be written): it goes back to the front of the queue, for
    /// another poll. Nothing if it has ended meanwhile (deadline, process exit).
    fn requeue(&self, p: &Proc, call: &Rc<Call>) {
        let mine = p
            .current
            .borrow()
            .as_ref()
            .is_some_and(|c| Rc::ptr_eq(c, call));
        if !mine {
            return;
        }
        p.current.borrow_mut().take();
        p.deadline.set(None);
        p.shared.shift(BUSY, IDLE);
        // Looked at after the move to IDLE: see `ProcShared::retire`.
        if p.shared.retiring() {
            p.let_go();
        }
        self.queue.borrow_mut().push_front(call.clone());
        self.dispatch();
    }

    /// Queue length for admin `/status`; ask the host for a process when invocations wait.
    fn publish(&self) {
        let queued = self.queue.borrow().len();
        self.shared.queued[self.worker].store(queued, Ordering::Relaxed);
        if queued > 0 && self.idle.borrow().is_empty() {
            self.shared.wants[self.worker].store(true, Ordering::Relaxed);
        }
    }

    fn fail_queue(&self, outcome: impl Fn(&Call) -> Outcome) {
        let drained: Vec<Rc<Call>> = self.queue.borrow_mut().drain(..).collect();
        for c in drained {
            c.finish(outcome(&c));
        }
        self.publish();
    }
}

impl Functions {
    pub fn new(id: usize) -> Functions {
        Functions {
            id,
            buffers: Rc::default(),
            sweeping: RefCell::default(),
            mail: RefCell::new(None),
            fns: RefCell::new(HashMap::new()),
        }
    }

    /// A result's buffer (`Outcome::Result`, a `Reply`'s body) the caller is done with, for
    /// the next result.
    pub fn recycle(&self, buf: Vec<u8>) {
        self.buffers.give(buf);
    }

    /// The function to run `name` on here; `None`: forward to the Invoke API (this worker
    /// has no process of it yet, and has asked for one) or not a local function here.
    pub(crate) fn local(&self, name: &str) -> Option<Rc<LocalFn>> {
        let f = self.get(name)?;
        if self.id != 0 && f.procs.borrow().is_empty() {
            f.shared.wants[self.id].store(true, Ordering::Relaxed);
            return None;
        }
        Some(f)
    }

    /// `name`'s state on this worker, made on first use from the host's registry.
    pub(crate) fn get(&self, name: &str) -> Option<Rc<LocalFn>> {
        if let Some(f) = self.fns.borrow().get(name) {
            return Some(f.clone());
        }
        let mail = self.mail.borrow();
        let (_, mail) = mail.as_ref()?;
        let shared = mail.registry.load().get(name)?.clone();
        let f = Rc::new(LocalFn {
            shared,
            ids: IdGen::new(),
            worker: self.id,
            to_host: mail.host_sender(),
            queue: RefCell::new(VecDeque::new()),
            idle: RefCell::new(VecDeque::new()),
            procs: RefCell::new(Vec::new()),
            spare: RefCell::new(Vec::new()),
            buffers: self.buffers.clone(),
        });
        self.fns.borrow_mut().insert(name.to_string(), f.clone());
        Some(f)
    }

    /// The ticker's turn: take the mailbox when the host exists, drain it, sweep deadlines.
    pub fn tick(&self, worker: &Rc<Worker>) {
        if self.mail.borrow().is_none() {
            let Some(mail) = worker.shared.function_mail.get() else {
                return;
            };
            let Some(rx) = mail.take(self.id) else {
                return;
            };
            *self.mail.borrow_mut() = Some((rx, mail.clone()));
        }
        loop {
            let message = match self.mail.borrow().as_ref().map(|(rx, _)| rx.try_recv()) {
                Some(Ok(m)) => m,
                _ => break,
            };
            self.receive(worker, message);
        }
        let now = Instant::now();
        // A list kept from tick to tick: sweeping allocates nothing.
        let mut fns = std::mem::take(&mut *self.sweeping.borrow_mut());
        fns.extend(self.fns.borrow().values().cloned());
        for f in fns.drain(..) {
            sweep(&f, now);
        }
        *self.sweeping.borrow_mut() = fns;
    }

    fn receive(&self, worker: &Rc<Worker>, message: ToWorker) {
        match message {
            ToWorker::Process {
                function,
                process,
                listener,
            } => {
                let Some(f) = self.get(&function.name) else {
                    process.kill();
                    return;
                };
                let Ok(addr) = listener.local_addr() else {
                    process.kill();
                    return;
                };
                let _ = listener.set_nonblocking(true);
                let Ok(listener) = monoio::net::TcpListener::from_std(listener) else {
                    process.kill();
                    return;
                };
                let p = Rc::new(Proc {
                    shared: process,
                    addr,
                    current: RefCell::new(None),
                    deadline: Cell::new(None),
                    waiter: RefCell::new(None),
                    next_seq: Cell::new(0),
                    presumed: Cell::new(false),
                    gone: Cell::new(false),
                    conns: Cell::new(0),
                });
                f.procs.borrow_mut().push(p.clone());
                monoio::spawn(runtime::accept(f, p, listener));
            }
            ToWorker::Exited { process, status } => {
                let fns: Vec<Rc<LocalFn>> = self.fns.borrow().values().cloned().collect();
                for f in fns {
                    let found = {
                        let mut procs = f.procs.borrow_mut();
                        let i = procs.iter().position(|p| Arc::ptr_eq(&p.shared, &process));
                        i.map(|i| procs.swap_remove(i))
                    };
                    if let Some(p) = found {
                        // Handed to it but never asked for: another process runs it.
                        if p.presumed.replace(false) {
                            p.gone.set(true);
                            let call = p.current.borrow().clone();
                            if let Some(call) = call {
                                f.requeue(&p, &call);
                            }
                        }
                        let why = format!("Runtime exited with error: {status}");
                        end_process(&p, &why);
                        f.dispatch();
                    }
                }
            }
            ToWorker::Removed { name } => {
                let Some(f) = self.fns.borrow_mut().remove(&name) else {
                    return;
                };
                f.fail_queue(|_| Outcome::NotFound);
                for p in f.procs.borrow_mut().drain(..) {
                    end_process(&p, "the function was removed by a reload");
                }
                f.shared.queued[self.id].store(0, Ordering::Relaxed);
            }
            ToWorker::InvokeApi(listener) => {
                let _ = listener.set_nonblocking(true);
                if let Ok(l) = monoio::net::TcpListener::from_std(listener) {
                    monoio::spawn(invoke_api::accept(worker.clone(), l));
                }
            }
        }
    }
}

/// A process is gone: its invocation fails with `why`, its `next` and accept loop end.
fn end_process(p: &Rc<Proc>, why: &str) {
    if let Some(c) = p.current.borrow_mut().take() {
        let error = error_json(
            "Runtime.ExitError",
            &format!("RequestId: {} Error: {why}", c.id()),
        );
        c.finish(Outcome::FunctionError(error));
    }
    p.gone.set(true);
    p.wake();
    // Wake the accept loop so it sees `gone`.
    let addr = p.addr;
    monoio::spawn(async move {
        let _ = monoio::time::timeout(
            Duration::from_millis(200),
            monoio::net::TcpStream::connect(addr),
        )
        .await;
    });
}
