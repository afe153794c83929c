//! One thread per core, each with its own monoio runtime and its share of the connections.
//! Threads share only the immutable `Plan` (whose one atomic is `--hold`'s release flag) and
//! their own `Progress` line; each keeps its `Stats` to itself and hands them back when its
//! connections are done.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cli::defaults;
use crate::hold::{self, Release};
use crate::report::{Progress, Stats};
use crate::request::Template;
use crate::slots::Slots;
use crate::target::Target;
use crate::{conn, tls};

/// Submission queue entries per runtime.
const RING_ENTRIES: u32 = 1024;

/// Everything the run does, decided before the first connection opens.
#[derive(Debug)]
pub struct Plan {
    pub target: Target,
    /// https://: how to start each TLS session.
    pub tls: Option<tls::Client>,
    /// Pre-rendered, used round-robin by every connection (each starting at its own index).
    pub templates: Vec<Template>,
    pub connections: u32,
    pub pipeline: u32,
    pub timeout: Duration,
    /// Open loop: requests/s in total. `None`: closed loop.
    pub rate: Option<f64>,
    pub start: Instant,
    pub stop_at: Option<Instant>,
    /// `--hold`: one request per connection, then idle until released.
    pub hold: Option<Hold>,
}

#[derive(Debug)]
pub struct Hold {
    pub duration: Duration,
    /// Set by the main thread when the hold is over.
    pub release: AtomicBool,
}

/// A thread's state, shared by its connection tasks (one thread, so `Cell`/`RefCell`).
pub struct Local {
    pub plan: Arc<Plan>,
    /// Requests this thread may still send (`-n`); `u64::MAX` without `-n`.
    pub budget: Cell<u64>,
    pub stats: RefCell<Stats>,
    /// Connects in flight on this thread.
    pub connect_slots: Slots,
    /// `--hold`: fired when the main thread releases the held connections.
    pub release: Release,
    progress: Arc<Progress>,
}

/// A running thread: its live counters and, once joined, its stats and when it finished.
pub struct Worker {
    pub progress: Arc<Progress>,
    pub handle: JoinHandle<Result<(Stats, Instant), String>>,
}

impl Local {
    /// Takes one request from the budget; `false` when it is spent.
    pub fn take_budget(&self) -> bool {
        let left = self.budget.get();
        if left == 0 {
            return false;
        }
        self.budget.set(left - 1);
        true
    }

    pub fn publish_completed(&self, n: u64) {
        if n > 0 {
            self.progress.completed.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn publish_error(&self) {
        self.progress.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// `--hold`: this connection has its answer (or failed); `held` if it stays open.
    pub fn publish_settled(&self, held: bool) {
        if held {
            self.stats.borrow_mut().held += 1;
            self.progress.held.fetch_add(1, Ordering::Relaxed);
        }
        self.progress.settled.fetch_add(1, Ordering::Release);
    }
}

/// Starts `threads` workers. Connection `i` runs on thread `i % threads`; `-n` is split in
/// proportion to each thread's connections.
pub fn start(plan: Arc<Plan>, threads: u32, requests: Option<u64>) -> Result<Vec<Worker>, String> {
    let mut workers = Vec::new();
    let mut budgets = share(requests, plan.connections, threads).into_iter();
    let slots = defaults::CONNECTS_IN_FLIGHT.div_ceil(threads);
    for t in 0..threads {
        let indices: Vec<u32> = (t..plan.connections).step_by(threads as usize).collect();
        let budget = budgets.next().unwrap_or(0);
        let progress = Arc::new(Progress::default());
        let local = (plan.clone(), budget, slots, progress.clone());
        let handle = std::thread::Builder::new()
            .name(format!("loadgen-{t}"))
            .spawn(move || run(local, indices))
            .map_err(|e| format!("cannot start thread {t}: {e}"))?;
        workers.push(Worker { progress, handle });
    }
    Ok(workers)
}

/// Splits `requests` over the threads in proportion to their connections.
fn share(requests: Option<u64>, connections: u32, threads: u32) -> Vec<u64> {
    let conns = |t: u32| u64::from((connections - t).div_ceil(threads));
    let Some(n) = requests else {
        return vec![u64::MAX; threads as usize];
    };
    let mut out: Vec<u64> = (0..threads)
        .map(|t| n * conns(t) / u64::from(connections))
        .collect();
    let mut left = n - out.iter().sum::<u64>();
    for slot in out.iter_mut() {
        if left == 0 {
            break;
        }
        *slot += 1;
        left -= 1;
    }
    out
}

fn run(
    (plan, budget, slots, progress): (Arc<Plan>, u64, u32, Arc<Progress>),
    indices: Vec<u32>,
) -> Result<(Stats, Instant), String> {
    use monoio::{IoUringDriver, LegacyDriver, RuntimeBuilder};
    let local = Rc::new(Local {
        plan,
        budget: Cell::new(budget),
        stats: RefCell::new(Stats::new()),
        connect_slots: Slots::new(slots),
        release: Release::default(),
        progress,
    });
    // The gateway's default ring (SINGLE_ISSUER + DEFER_TASKRUN, Linux >= 6.1, measured
    // cheapest per request in benches/RESULTS.md), else monoio's default ring, else epoll
    // (no io_uring: old kernel, seccomp).
    let mut defer = io_uring::IoUring::builder();
    defer.setup_single_issuer().setup_defer_taskrun();
    for ring in [Some(defer), None] {
        let mut builder = RuntimeBuilder::<IoUringDriver>::new().with_entries(RING_ENTRIES);
        if let Some(ring) = ring {
            builder = builder.uring_builder(ring);
        }
        if let Ok(mut rt) = builder.enable_timer().build() {
            return rt.block_on(drive(local, indices));
        }
    }
    match RuntimeBuilder::<LegacyDriver>::new().enable_timer().build() {
        Ok(mut rt) => rt.block_on(drive(local, indices)),
        Err(e) => Err(format!("cannot start a runtime: {e}")),
    }
}

async fn drive(local: Rc<Local>, indices: Vec<u32>) -> Result<(Stats, Instant), String> {
    if let Some(hold) = &local.plan.hold {
        hold::drive(local.clone(), hold, indices).await;
    } else {
        let tasks: Vec<_> = indices
            .into_iter()
            .map(|i| monoio::spawn(conn::run(local.clone(), i)))
            .collect();
        for task in tasks {
            task.await;
        }
    }
    Ok((local.stats.take(), Instant::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_shared_by_connections() {
        assert_eq!(share(Some(1000), 10, 2), [500, 500]);
        assert_eq!(share(Some(10), 3, 2), [7, 3]);
        assert_eq!(share(Some(1), 4, 4).iter().sum::<u64>(), 1);
        assert_eq!(share(None, 4, 2), [u64::MAX, u64::MAX]);
    }
}
