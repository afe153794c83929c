//! The supervisor thread: the only thread that starts processes (see `process.rs` on the
//! death signal). Every [`TICK`], or sooner when something changes, it
//! reaps processes that exited (the invocation of one that exited mid-invocation gets
//! `Runtime.ExitError`), kills a process whose invocation passed its deadline (the
//! invocation gets `Sandbox.Timedout`) or that did not reach `next` within 10 s of starting,
//! answers invocations that waited a whole timeout for a process with 429 (or
//! `Sandbox.Timedout` while no process has started yet), starts processes (one kept warm per function, more up to
//! `concurrency` while invocations wait; after a failed start only once the backoff
//! passed), and under `--watch` restarts a function whose files changed.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::process::{self, kill};
use super::runtime_api::{self, let_go, stop_accepting};
use super::state::{Function, Host, Outcome, Phase, Process, State, error_json};
use super::watch;
use crate::control::log::log;

const TICK: Duration = Duration::from_millis(50);
/// How often `--watch` looks at a function's files.
const WATCH_EVERY: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A process must ask for its first invocation within this (Lambda's init phase limit).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

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

fn tick(host: &Arc<Host>, state: &mut State) {
    let now = Instant::now();
    let retired = std::mem::take(&mut state.retired);
    state.retired = retired
        .into_iter()
        .filter_map(|mut p| {
            kill(&p.child);
            match p.child.try_wait() {
                Ok(None) => Some(p),
                _ => None,
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
        reap(name, f);
        let mut init_timeouts = 0;
        for p in &mut f.processes {
            if matches!(p.phase, Phase::Starting) && now.duration_since(p.started) >= INIT_TIMEOUT {
                log(format!(
                    "function `{name}`: process {} did not ask for an invocation within {} s; killing it",
                    p.child.id(),
                    INIT_TIMEOUT.as_secs()
                ));
                let_go(p);
                init_timeouts += 1;
            }
            let late = matches!(&p.phase, Phase::Busy(b) if b.deadline <= now);
            if late && let Phase::Busy(b) = std::mem::replace(&mut p.phase, Phase::Dead) {
                let secs = f.timeout.as_secs_f64();
                log(format!(
                    "function `{name}` [{}]: Task timed out after {secs:.2} seconds; killing process {}",
                    b.id,
                    p.child.id()
                ));
                let error = error_json(
                    "Sandbox.Timedout",
                    &format!(
                        "RequestId: {} Error: Task timed out after {secs:.2} seconds",
                        b.id
                    ),
                );
                let _ = b.reply.try_send(Outcome::FunctionError(error));
                let_go(p);
            }
            if matches!(p.phase, Phase::Dead) {
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
        // Waited a whole timeout: for busy processes, throttled; for one still starting, the
        // cold start ate the invocation's time (as on Lambda, init counts).
        let healthy = f.healthy();
        while let Some(front) = f.queue.front()
            && now.duration_since(front.queued) >= f.timeout
        {
            let Some(p) = f.queue.pop_front() else { break };
            let outcome = match healthy {
                true => Outcome::Throttled,
                false => Outcome::FunctionError(error_json(
                    "Sandbox.Timedout",
                    &format!(
                        "RequestId: {} Error: Task timed out after {:.2} seconds (the function's process was still starting)",
                        p.id,
                        f.timeout.as_secs_f64()
                    ),
                )),
            };
            let _ = p.reply.try_send(outcome);
        }
        if let Some(error) = &f.init_error
            && !f.healthy()
            && now < f.not_before
        {
            for p in f.queue.drain(..) {
                let _ = p.reply.try_send(Outcome::FunctionError(error.clone()));
            }
        }
        if host.watch && !*shutting_down {
            watch_files(name, f, now);
        }
        if *shutting_down || now < f.not_before {
            continue;
        }
        loop {
            let idle = f
                .processes
                .iter()
                .filter(|p| matches!(p.phase, Phase::Starting | Phase::Ready | Phase::Waiting))
                .count();
            let live = f.live();
            let wanted = live == 0 || (f.queue.len() > idle && live < f.spec.concurrency as usize);
            if !wanted {
                break;
            }
            *serial += 1;
            match start(host, name, f, region, *serial) {
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
                    break;
                }
            }
        }
    }
    if *shutting_down {
        for f in functions.values_mut() {
            for p in &f.processes {
                kill(&p.child);
            }
        }
    }
}

/// Remove processes that exited; their invocation (if any) fails.
fn reap(name: &str, f: &mut Function) {
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
        let mut p = f.processes.swap_remove(i);
        let pid = p.child.id();
        let status = describe(status);
        match std::mem::replace(&mut p.phase, Phase::Dead) {
            Phase::Busy(b) => {
                log(format!(
                    "function `{name}` [{}]: process {pid} exited mid-invocation ({status})",
                    b.id
                ));
                let error = error_json(
                    "Runtime.ExitError",
                    &format!(
                        "RequestId: {} Error: Runtime exited with error: {status}",
                        b.id
                    ),
                );
                let _ = b.reply.try_send(Outcome::FunctionError(error));
                f.failures += 1;
            }
            Phase::Starting => {
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
            Phase::Ready | Phase::Waiting => {
                log(format!(
                    "function `{name}`: process {pid} exited ({status})"
                ));
                f.failures += 1;
            }
            Phase::Dead => {}
        }
        f.not_before = Instant::now() + backoff(f.failures);
        stop_accepting(&p);
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

fn start(
    host: &Arc<Host>,
    name: &str,
    f: &Function,
    region: &str,
    serial: u64,
) -> std::io::Result<Process> {
    let (listener, runtime_addr) = runtime_api::bind()?;
    let started = process::spawn(name, &f.spec, runtime_addr, region)?;
    let stop = Arc::new(AtomicBool::new(false));
    let p = Process {
        serial,
        child: started.child,
        phase: Phase::Starting,
        retire: false,
        served: 0,
        started: Instant::now(),
        runtime_addr,
        stop: stop.clone(),
        log: started.log,
    };
    if let Err(e) =
        runtime_api::spawn_accept(host.clone(), listener, name.to_string(), serial, stop)
    {
        kill(&p.child);
        return Err(e);
    }
    log(format!(
        "function `{name}`: started process {}",
        p.child.id()
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
    for p in &mut f.processes {
        if matches!(p.phase, Phase::Busy(_)) {
            p.retire = true;
        } else if !matches!(p.phase, Phase::Dead) {
            let_go(p);
        }
    }
    f.failures = 0;
    f.init_error = None;
    f.not_before = Instant::now();
}

/// A lowered `concurrency`: idle processes beyond it go now (busy ones after their
/// invocation).
pub(super) fn trim(f: &mut Function) {
    let mut extra = f.live().saturating_sub(f.spec.concurrency as usize);
    for p in f.processes.iter_mut().rev() {
        if extra == 0 {
            break;
        }
        match p.phase {
            Phase::Dead => continue,
            Phase::Busy(_) if p.retire => continue,
            Phase::Busy(_) => p.retire = true,
            _ => let_go(p),
        }
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
