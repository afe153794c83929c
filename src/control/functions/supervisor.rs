//! The supervisor thread: the only thread that starts processes (see `process.rs` on the
//! death signal). Every [`TICK`], or sooner on a reload, it takes the workers' reports
//! (`init/error`), reaps processes that exited (and tells the worker serving them, whose
//! invocation then fails with `Runtime.ExitError` and the exit status), kills a process
//! that did not reach `next` within 10 s of starting, publishes a failing function's init
//! error while it backs off, starts processes (one kept warm per function, on worker 0;
//! more, up to `concurrency` in total, for the worker whose invocations wait; after a
//! failed start only once the backoff passed), and under `--watch` restarts a function
//! whose files changed. Deadlines of invocations are the workers' (their ticker).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::process::{self, kill};
use super::state::{Function, Host, Process, State};
use super::watch;
use crate::control::log::log;
use crate::dataplane::functions::error_json;
use crate::dataplane::functions::mail::{BUSY, DEAD, IDLE, ProcShared, STARTING, ToHost, ToWorker};

const TICK: Duration = Duration::from_millis(50);
/// How often `--watch` looks at a function's files.
const WATCH_EVERY: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A process must ask for its first invocation within this (Lambda's init phase limit).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// A runtime that closed its `next` poll must ask again within this, or its process is
/// killed and replaced: it counts towards `concurrency` while it is away.
pub(super) const AWAY_LIMIT: Duration = Duration::from_secs(5);

/// Wait before the next start after `failures` failed ones in a row.
pub(super) fn backoff(failures: u32) -> Duration {
    match failures {
        0 => Duration::ZERO,
        n => (Duration::from_millis(100) * (1 << (n - 1).min(10))).min(MAX_BACKOFF),
    }
}

pub(super) fn spawn(host: Arc<Host>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("tollgate-fn-host".into())
        .spawn(move || {
            let mut state = host.lock();
            loop {
                take_reports(&host, &mut state);
                tick(&host, &mut state);
                if state.shutting_down {
                    return;
                }
                state = match host.changed.wait_timeout(state, TICK) {
                    Ok((s, _)) => s,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            }
        })?;
    Ok(())
}

/// The workers' reports (under the state lock: also taken by admin `/status`).
pub(super) fn take_reports(host: &Host, state: &mut State) {
    let Ok(reports) = host.reports.lock() else {
        return;
    };
    let Some(reports) = reports.as_ref() else {
        return;
    };
    while let Ok(report) = reports.try_recv() {
        match report {
            ToHost::InitError { name, error } => {
                let Some(f) = state.functions.get_mut(&name) else {
                    continue;
                };
                f.failures += 1;
                f.not_before = Instant::now() + backoff(f.failures);
                f.init_error = Some(error);
            }
        }
    }
}

fn tick(host: &Arc<Host>, state: &mut State) {
    let now = Instant::now();
    let retired = std::mem::take(&mut state.retired);
    state.retired = retired
        .into_iter()
        .filter_map(|mut p| {
            kill(&p.child);
            match p.child.try_wait() {
                Ok(None) => Some(p),
                Ok(Some(status)) => {
                    exited(host, &p.shared, describe(status));
                    None
                }
                Err(_) => None,
            }
        })
        .collect();
    let State {
        functions,
        region,
        shutting_down,
        serial,
        ..
    } = state;
    for (name, f) in functions.iter_mut() {
        reap(host, name, f);
        if f.healthy() && (f.init_error.is_some() || f.failures > 0) {
            f.init_error = None;
            f.failures = 0;
        }
        let mut init_timeouts = 0;
        for p in f.processes.iter_mut() {
            let away = p.shared.away.load(Ordering::Relaxed) && p.shared.state() == IDLE;
            if !away {
                p.away_since = None;
            } else if now.duration_since(*p.away_since.get_or_insert(now)) >= AWAY_LIMIT {
                log(format!(
                    "function `{name}`: process {} closed its `next` poll and did not ask again within {} s; killing it",
                    p.shared.pid,
                    AWAY_LIMIT.as_secs()
                ));
                p.let_go();
            }
            let s = &p.shared;
            if s.state() == STARTING && now.duration_since(p.started) >= INIT_TIMEOUT {
                log(format!(
                    "function `{name}`: process {} did not ask for an invocation within {} s; killing it",
                    s.pid,
                    INIT_TIMEOUT.as_secs()
                ));
                p.let_go();
                init_timeouts += 1;
            }
            // A backstop: its worker lets a retired process go as it turns idle.
            if s.retiring() && s.state() == IDLE {
                p.retire();
            }
            if s.state() == DEAD {
                kill(&p.child);
            }
        }
        if init_timeouts > 0 {
            f.failures += init_timeouts;
            f.not_before = now + backoff(f.failures);
            f.init_error = Some(error_json(
                "Sandbox.Timedout",
                &format!(
                    "Error: the runtime did not ask for an invocation within {} seconds of starting (init phase timed out)",
                    INIT_TIMEOUT.as_secs()
                ),
            ));
        }
        // A function that cannot start fails its invocations with the error while it backs off.
        let failing = match &f.init_error {
            Some(e) if !f.healthy() && now < f.not_before => Some(Arc::new(e.clone())),
            _ => None,
        };
        if failing.is_some() || f.shared.failing.load().is_some() {
            f.shared.failing.store(failing);
        }
        if host.watch && !*shutting_down {
            watch_files(name, f, now);
        }
        if *shutting_down || now < f.not_before {
            continue;
        }
        scale(host, name, f, region, serial, now);
    }
    if *shutting_down {
        for f in functions.values_mut() {
            for p in &f.processes {
                kill(&p.child);
            }
        }
    }
}

/// Start processes: one when there is none (on worker 0), and for each worker whose
/// invocations wait for more processes than it has idle (starting, or between invocations
/// and not `away`), up to `concurrency` in all.
fn scale(
    host: &Arc<Host>,
    name: &str,
    f: &mut Function,
    region: &str,
    serial: &mut u64,
    now: Instant,
) {
    let workers = host.mail.workers();
    let concurrency = f.spec.concurrency as usize;
    let mut live = f.live();
    for w in 0..workers {
        let wants = f.shared.wants[w].swap(false, Ordering::Relaxed);
        let queued = f.shared.queued[w].load(Ordering::Relaxed);
        let on = |p: &&Process| p.shared.worker == w;
        let mut idle = f
            .processes
            .iter()
            .filter(on)
            .filter(|p| matches!(p.shared.state(), STARTING | IDLE))
            .filter(|p| !p.shared.away.load(Ordering::Relaxed))
            .count();
        let mut here = f
            .processes
            .iter()
            .filter(on)
            .filter(|p| p.shared.state() != DEAD)
            .count();
        loop {
            let first = live == 0 && w == 0;
            let more = (queued > idle || (wants && here == 0)) && live < concurrency;
            if !first && !more {
                break;
            }
            *serial += 1;
            match start(host, name, f, region, *serial, w) {
                Ok(p) => f.processes.push(p),
                Err(e) => {
                    log(format!(
                        "function `{name}`: cannot start {:?}: {e}",
                        f.spec.command
                    ));
                    f.failures += 1;
                    f.not_before = now + backoff(f.failures);
                    f.init_error = Some(error_json(
                        "Runtime.InvalidEntrypoint",
                        &format!("cannot start {:?}: {e}", f.spec.command),
                    ));
                    return;
                }
            }
            live += 1;
            idle += 1;
            here += 1;
        }
    }
}

/// Tell the worker serving `p` that it exited.
fn exited(host: &Host, p: &Arc<ProcShared>, status: String) {
    host.mail.post(
        p.worker,
        ToWorker::Exited {
            process: p.clone(),
            status,
        },
    );
}

/// Remove processes that exited; their invocation (if any) fails.
fn reap(host: &Host, name: &str, f: &mut Function) {
    let mut i = 0;
    while i < f.processes.len() {
        let status = match f.processes[i].child.try_wait() {
            Ok(Some(s)) => s,
            Ok(None) => {
                i += 1;
                continue;
            }
            Err(_) => std::process::ExitStatus::default(),
        };
        let p = f.processes.swap_remove(i);
        let pid = p.shared.pid;
        let status = describe(status);
        match p.shared.state.swap(DEAD, Ordering::AcqRel) {
            BUSY => {
                let id = p.shared.request().unwrap_or_default();
                log(format!(
                    "function `{name}` [{id}]: process {pid} exited mid-invocation ({status})"
                ));
                f.failures += 1;
            }
            STARTING => {
                log(format!(
                    "function `{name}`: process {pid} exited before it asked for an invocation ({status})"
                ));
                if f.init_error.is_none() {
                    f.init_error = Some(error_json(
                        "Runtime.ExitError",
                        &format!("Error: Runtime exited with error: {status}"),
                    ));
                }
                f.failures += 1;
            }
            IDLE => {
                log(format!(
                    "function `{name}`: process {pid} exited ({status})"
                ));
                f.failures += 1;
            }
            _ => {}
        }
        f.not_before = Instant::now() + backoff(f.failures);
        exited(host, &p.shared, status);
    }
}

/// `exit status 1`, `signal: killed` (Lambda's wording).
fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(9)) => "signal: killed".into(),
        (None, Some(s)) => format!("signal: {s}"),
        _ => "unknown exit".into(),
    }
}

/// Bind its Runtime API listener, start the process, hand both to `worker`.
fn start(
    host: &Arc<Host>,
    name: &str,
    f: &Function,
    region: &str,
    serial: u64,
    worker: usize,
) -> std::io::Result<Process> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let runtime_addr = listener.local_addr()?;
    let cpu = host.cpus.as_ref().and_then(|c| c.get(worker).copied());
    let started = process::spawn(name, &f.spec, runtime_addr, region, cpu)?;
    let shared = Arc::new(ProcShared::new(serial, started.child.id(), worker));
    let p = Process {
        shared: shared.clone(),
        child: started.child,
        started: Instant::now(),
        away_since: None,
    };
    if let Err(e) = process::pump_logs(name, started.output, shared.clone()) {
        p.let_go();
        return Err(e);
    }
    host.mail.post(
        worker,
        ToWorker::Process {
            function: f.shared.clone(),
            process: shared,
            listener,
        },
    );
    log(format!(
        "function `{name}`: started process {}",
        p.shared.pid
    ));
    Ok(p)
}

/// `--watch`: a change under `cwd` retires every process (busy ones after their invocation).
fn watch_files(name: &str, f: &mut Function, now: Instant) {
    if f.files
        .is_some_and(|(_, at)| now.duration_since(at) < WATCH_EVERY)
    {
        return;
    }
    let print = watch::fingerprint(&f.spec.cwd);
    let before = f.files.replace((print, now)).map(|(p, _)| p);
    if before.is_some_and(|b| b != print) {
        log(format!(
            "function `{name}`: files under {} changed; restarting its processes",
            f.spec.cwd.display()
        ));
        retire_all(f);
    }
}

/// Replace every process: idle ones now, busy ones after their invocation. A new start is
/// allowed at once.
pub(super) fn retire_all(f: &mut Function) {
    for p in &f.processes {
        p.retire();
    }
    f.failures = 0;
    f.init_error = None;
    f.not_before = Instant::now();
}

/// A lowered `concurrency`: idle processes beyond it go now (busy ones after their
/// invocation).
pub(super) fn trim(f: &mut Function) {
    let mut extra = f.live().saturating_sub(f.spec.concurrency as usize);
    for p in f.processes.iter().rev() {
        if extra == 0 {
            break;
        }
        let s = &p.shared;
        if s.state() == DEAD || s.retiring() {
            continue;
        }
        p.retire();
        extra -= 1;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn backoff_doubles_up_to_ten_seconds() {
        let ms = |n| super::backoff(n).as_millis();
        assert_eq!((ms(0), ms(1), ms(2), ms(3)), (0, 100, 200, 400));
        assert_eq!(super::backoff(8), Duration::from_secs(10));
        assert_eq!(super::backoff(1000), Duration::from_secs(10));
    }
}
