//! The Lambda function host's control half: starts the gateway file's `local` functions as
//! processes, supervises them, and hands each to a worker, which serves its Runtime API and
//! runs invocations on it (`dataplane/functions.rs`, the hot path).
//!
//! ```text
//! supervisor ──bind listener, spawn, post (process, listener)──▶ worker's mailbox
//! worker ◀── GET /2018-06-01/runtime/invocation/next ── process   (the worker's queue)
//! supervisor ──reap: Exited(status)──▶ worker;  worker ──init/error──▶ supervisor
//! ```
//!
//! Std threads: the supervisor (`supervisor.rs`, the one thread that starts and reaps
//! processes) and a log pump per process. The host's state sits behind one `Mutex`
//! (`state.rs`) that the workers never take: they see `FnShared`/`ProcShared` atomics and
//! the per-worker mailboxes (`dataplane/functions/mail.rs`).
//!
//! Lifecycle of a process: *Starting* (spawned with `AWS_LAMBDA_RUNTIME_API` set to its
//! own listener, bound here and served by its worker) → *Idle* (in `next`; reaching it
//! clears the function's init error and backoff) → *Busy* (an invocation with its deadline)
//! → *Idle* … → *Dead* (killed: timeout or `init/error` by the worker; retired by a reload
//! or `--watch`, init limit, shutdown by the host; or exited) → reaped by the supervisor.
//! Processes start eagerly: one per function on worker 0 as soon as the config is applied
//! (so the first request is warm and an init error shows at once), more for a worker whose
//! invocations wait, up to `concurrency` in all. A process that exits is replaced, after a
//! backoff (100 ms doubling, at most 10 s) when processes keep failing before or during an
//! invocation.
//!
//! Reload ([`FunctionHost::apply`], before the snapshot is published): an unchanged
//! function keeps its processes (`concurrency`, `queue`, `timeoutMs` change in place); one
//! whose `command`, `cwd`, `env`, `handler` or `memoryMb` changed gets new processes (busy
//! ones finish their invocation first); a removed one is stopped. Shutdown kills every
//! process by PID (and its process group) and reaps it; if tollgate dies without a
//! shutdown, the kernel kills them (`PR_SET_PDEATHSIG`).

mod process;
mod state;
mod supervisor;
mod watch;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::{FunctionTarget, LocalFunction, Snapshot};
use crate::dataplane::functions::mail::{BUSY, DEAD, FnShared, IDLE, Mail, STARTING, ToWorker};
use state::{Function, Host, State};

/// The host, started on the first config with a `local` function.
pub struct FunctionHost {
    watch: bool,
    mail: Arc<Mail>,
    cpus: Option<Vec<usize>>,
    host: OnceLock<Arc<Host>>,
}

impl FunctionHost {
    /// `watch`: `tollgate serve --watch`; `workers`: how many workers serve processes;
    /// `cpus`: each worker's CPU, which the processes it serves are pinned to (`None`: not
    /// pinned).
    pub fn new(watch: bool, workers: usize, cpus: Option<Vec<usize>>) -> FunctionHost {
        FunctionHost {
            watch,
            mail: Arc::new(Mail::new(workers)),
            cpus,
            host: OnceLock::new(),
        }
    }

    /// The workers' mailboxes (`Shared::function_mail`).
    pub fn mail(&self) -> Arc<Mail> {
        self.mail.clone()
    }

    /// Make `snapshot`'s local functions run here and point their upstream at the host.
    /// Call before publishing it. Errs only when the host cannot start.
    pub fn apply(&self, snapshot: &Snapshot) -> std::io::Result<()> {
        let locals: Vec<_> = snapshot
            .functions
            .iter()
            .filter_map(|f| match &f.target {
                FunctionTarget::Local {
                    upstream, process, ..
                } => Some((f.name.as_str(), *upstream, process, f.timeout)),
                _ => None,
            })
            .collect();
        let host = match self.host.get() {
            Some(h) => h,
            None if locals.is_empty() => return Ok(()),
            None => self.start()?,
        };
        for (_, upstream, _, _) in &locals {
            snapshot.upstreams[upstream.0 as usize]
                .addrs
                .store(Arc::new(vec![host.invoke_addr]));
        }
        let mut state = host.lock();
        state.region = snapshot.server.region.clone();
        state.account = snapshot.server.account_id.clone();
        let mut keep: HashMap<String, Function> = HashMap::new();
        for (name, _, spec, timeout) in locals {
            let f = match state.functions.remove(name) {
                Some(mut f) => {
                    if !same_process(&f.spec, spec) {
                        supervisor::retire_all(&mut f);
                    }
                    f.spec = spec.clone();
                    f.timeout = timeout;
                    let arn = function_arn(&state.region, &state.account, name);
                    if **f.shared.arn.load() != arn {
                        f.shared.arn.store(Arc::new(arn));
                    }
                    f.publish();
                    supervisor::trim(&mut f);
                    f
                }
                None => {
                    let arn = function_arn(&state.region, &state.account, name);
                    let shared = FnShared::new(name, arn, self.mail.workers());
                    Function::new(spec.clone(), timeout, Arc::new(shared))
                }
            };
            keep.insert(name.to_string(), f);
        }
        let registry = keep
            .iter()
            .map(|(name, f)| (name.clone(), f.shared.clone()))
            .collect();
        self.mail.registry.store(Arc::new(registry));
        for (name, mut f) in std::mem::replace(&mut state.functions, keep) {
            self.stop_function(&name, &mut f, "the function was removed by a reload");
            state.retired.append(&mut f.processes);
        }
        host.changed.notify_all();
        Ok(())
    }

    fn start(&self) -> std::io::Result<&Arc<Host>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let invoke_addr: SocketAddr = listener.local_addr()?;
        let host = Arc::new(Host {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            invoke_addr,
            watch: self.watch,
            mail: self.mail.clone(),
            cpus: self.cpus.clone(),
            reports: Mutex::new(self.mail.take_host()),
        });
        self.mail.post(0, ToWorker::InvokeApi(listener));
        supervisor::spawn(host.clone())?;
        super::log::log(format!(
            "function host: Invoke API on http://{invoke_addr}{}",
            if self.watch {
                " (watching function files)"
            } else {
                ""
            }
        ));
        Ok(self.host.get_or_init(|| host))
    }

    /// Kill every process (by PID and process group) and reap it, waiting up to 2 s.
    pub fn shutdown(&self) {
        let Some(host) = self.host.get() else { return };
        let mut state = host.lock();
        state.shutting_down = true;
        let mut all = std::mem::take(&mut state.retired);
        let mut functions = std::mem::take(&mut state.functions);
        for (name, f) in functions.iter_mut() {
            self.stop_function(name, f, "tollgate is shutting down");
            all.append(&mut f.processes);
        }
        host.changed.notify_all();
        drop(state);
        let deadline = Instant::now() + Duration::from_secs(2);
        for p in &all {
            process::kill(&p.child);
        }
        for mut p in all {
            while matches!(p.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if matches!(p.child.try_wait(), Ok(None)) {
                let _ = p.child.wait();
            }
        }
    }

    /// For admin `/status`: the Invoke API's address and each function's processes.
    pub fn status(&self) -> Value {
        let Some(host) = self.host.get() else {
            return Value::Null;
        };
        let mut state = host.lock();
        supervisor::take_reports(host, &mut state);
        let mut functions = serde_json::Map::new();
        let mut names: Vec<&String> = state.functions.keys().collect();
        names.sort();
        for name in names {
            let f = &state.functions[name];
            let processes: Vec<Value> = f
                .processes
                .iter()
                .map(|p| {
                    let s = &p.shared;
                    let phase = match s.state() {
                        STARTING => "starting",
                        IDLE => "idle",
                        BUSY => "busy",
                        DEAD => "stopping",
                        _ => "unknown",
                    };
                    let served = s.served.load(Ordering::Relaxed);
                    json!({"pid": s.pid, "state": phase, "invocations": served, "worker": s.worker})
                })
                .collect();
            let init_error = f
                .init_error
                .as_ref()
                .and_then(|e| serde_json::from_slice::<Value>(e).ok());
            functions.insert(
                name.clone(),
                json!({"processes": processes, "queued": f.shared.queued_total(), "initError": init_error}),
            );
        }
        json!({"invokeApi": format!("http://{}", host.invoke_addr), "functions": functions})
    }

    /// Let every process go; the workers fail what is queued (404) and in flight (an exit
    /// error).
    fn stop_function(&self, name: &str, f: &mut Function, why: &str) {
        for p in &f.processes {
            p.let_go();
        }
        for w in 0..self.mail.workers() {
            self.mail.post(
                w,
                ToWorker::Removed {
                    name: name.to_string(),
                },
            );
        }
        if !f.processes.is_empty() {
            super::log::log(format!("function `{name}`: stopping its processes: {why}"));
        }
    }
}

/// The settings a process is started with (the rest change in place).
fn same_process(a: &LocalFunction, b: &LocalFunction) -> bool {
    (&a.command, &a.cwd, &a.env, &a.handler, a.memory_mb)
        == (&b.command, &b.cwd, &b.env, &b.handler, b.memory_mb)
}

/// `arn:aws:lambda:{region}:{account}:function:{name}` (a name that is an ARN stays one).
fn function_arn(region: &str, account: &str, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_string();
    }
    format!(
        "arn:aws:lambda:{region}:{account}:function:{}",
        process::short_name(name)
    )
}
