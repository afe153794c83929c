//! `tollgate serve`: first load → the function host starts the local functions → restore
//! quota counts → start the cores and the persister → admin API → signal loop (reload on
//! SIGHUP; on SIGTERM/SIGINT drain, stop the functions' processes, then a final write of the
//! quota counts).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

use super::admin::{self, AdminServer};
use super::functions::FunctionHost;
use super::log::{log, now_secs};
use super::reload::{LastReload, Reloader};
use super::resolve;
use super::state::QuotaStore;
use crate::config::{self, CpuAffinity, FsLoader};
use crate::dataplane::{self, Shared};

/// How long the span exporter may take to send its last spans at shutdown (one POST; its
/// timeouts are 5 s).
const OTLP_FINISH: Duration = Duration::from_secs(6);
/// How long after the drain flag the workers take to close their listeners.
const LISTENER_CLOSE: Duration = Duration::from_millis(250);

pub fn run(path: &Path, workers_override: Option<usize>, watch: bool) -> i32 {
    let mut snapshot = match config::load(path, &FsLoader, 1) {
        Ok(s) => s,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "tollgate: {} error(s) in {}; not starting",
                errors.len(),
                path.display()
            );
            return 1;
        }
    };
    if let Some(n) = workers_override {
        snapshot.server.workers = n;
    }
    let workers = snapshot.server.workers.max(1);
    let cpus = match snapshot.server.cpu_affinity {
        CpuAffinity::None => None,
        CpuAffinity::Workers => match dataplane::affinity::allowed() {
            Ok(allowed) => Some(dataplane::affinity::plan(workers, &allowed)),
            Err(e) => {
                eprintln!("tollgate: server.cpuAffinity: cannot read the CPUs allowed: {e}");
                return 1;
            }
        },
    };
    let functions = Arc::new(FunctionHost::new(watch, workers, cpus.clone()));
    if let Err(e) = functions.apply(&snapshot) {
        eprintln!("tollgate: function host: {e}");
        return 1;
    }
    let mut warnings: Vec<String> = snapshot.warnings.iter().map(|w| w.to_string()).collect();
    warnings.extend(resolve::resolve_all(&snapshot));
    for w in &warnings {
        log(format!("warning: {w}"));
    }
    let admin_cfg = snapshot.server.admin.clone();
    let listeners: Vec<String> = snapshot
        .server
        .listeners
        .iter()
        .map(|l| match l.tls {
            Some(_) => format!("https://{}", l.address),
            None => format!("http://{}", l.address),
        })
        .collect();
    let driver = snapshot.server.io_driver;
    let drain_timeout = snapshot.server.limits.drain_timeout;
    let state_dir = snapshot.server.state_dir.clone();
    let shared = Shared::new(snapshot, workers);
    let _ = shared.function_mail.set(functions.mail());
    let shared = Arc::new(shared);
    // Counts from the last run, before any core serves a request.
    let store = state_dir.map(|dir| Arc::new(QuotaStore::new(dir)));
    if let Some(store) = &store {
        store.restore(&shared);
    }

    // Signals first, so a SIGTERM during start-up is not lost.
    let mut signals = match Signals::new([SIGHUP, SIGTERM, SIGINT, SIGUSR1]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tollgate: cannot install signal handlers: {e}");
            return 1;
        }
    };
    let admin_listener = match admin_cfg.as_ref().map(admin::bind).transpose() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tollgate: admin listener: {e}");
            return 1;
        }
    };
    if let Err(e) = dataplane::start(shared.clone(), workers, cpus.as_deref()) {
        eprintln!("tollgate: {e}");
        return 1;
    }
    let first = LastReload {
        ok: true,
        at: now_secs(),
        generation: 1,
        errors: vec![],
        warnings,
    };
    let reloader = Arc::new(Reloader::new(
        path.to_path_buf(),
        shared.clone(),
        functions.clone(),
        first,
    ));
    let metrics = super::metrics::Metrics::spawn(&shared);
    let access_logs = super::access_log::LogWriter::spawn(&shared);
    let otlp = super::otlp::OtlpExporter::spawn(&shared);
    if let (Some(listener), Some(cfg)) = (admin_listener, admin_cfg) {
        log(format!("admin API on http://{}", cfg.address));
        AdminServer {
            listener,
            token: cfg.token,
            reloader: reloader.clone(),
            shared: shared.clone(),
            metrics,
            started: now_secs(),
        }
        .spawn();
    }
    resolve::spawn_refresher(shared.clone());
    super::jwks::spawn(shared.clone());
    if let Some(store) = &store {
        store.spawn(shared.clone());
    }
    let pinned = match &cpus {
        Some(cpus) => {
            let list: Vec<String> = cpus.iter().map(|c| c.to_string()).collect();
            format!(", on CPUs {}", list.join(","))
        }
        None => String::new(),
    };
    log(format!(
        "serving {} on {} with {workers} worker(s) ({driver:?} driver{pinned})",
        path.display(),
        listeners.join(", ")
    ));

    for signal in signals.forever() {
        match signal {
            SIGHUP => {
                log("SIGHUP: reloading");
                let _ = reloader.reload();
            }
            SIGUSR1 => {
                log("SIGUSR1: reopening access log files");
                access_logs.reopen();
            }
            _ => {
                log("shutting down: draining in-flight requests");
                drain(&shared, drain_timeout);
                if !shared.current().log_destinations.is_empty() {
                    // The cores hand over their last access log lines within a tick; give
                    // the writer that long to write them.
                    std::thread::sleep(Duration::from_millis(300));
                }
                if let Some(otlp) = &otlp {
                    otlp.finish(OTLP_FINISH);
                }
                functions.shutdown();
                if let Some(store) = &store {
                    let file = store.file();
                    match store.close(&shared) {
                        Some(true) => log(format!("quota counts saved to {}", file.display())),
                        Some(false) => log(format!(
                            "warning: quota counts not saved to {}: see above",
                            file.display()
                        )),
                        None => {}
                    }
                }
                log("exiting");
                return 0;
            }
        }
    }
    0
}

/// Stop accepting and wait for in-flight requests (up to `limit`). Idle keep-alive
/// connections are closed by the exit that follows; a request that arrives on one meanwhile
/// is served with `Connection: close`.
fn drain(shared: &Shared, limit: Duration) {
    shared.start_draining();
    let started = Instant::now();
    std::thread::sleep(LISTENER_CLOSE);
    while Shared::total(&shared.in_flight) > 0 {
        if started.elapsed() >= limit {
            log(format!(
                "drain deadline passed with {} request(s) in flight",
                Shared::total(&shared.in_flight)
            ));
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    log("drained");
}
