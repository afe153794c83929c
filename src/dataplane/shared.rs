//! State shared between the control plane and the cores: the snapshot behind one `ArcSwap`,
//! the drain flag, and per-core counters (each written only by its own core).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use arc_swap::ArcSwap;

use crate::config::Snapshot;

/// A counter on its own cache line, so cores never write to a line another core writes.
#[derive(Default)]
#[repr(align(128))]
pub struct PaddedCounter(pub AtomicUsize);

pub struct Shared {
    snapshot: ArcSwap<Snapshot>,
    /// Mirrors `snapshot.generation`; a core compares it with its cached copy per request
    /// (one relaxed load of a line that is written only on reload).
    generation: AtomicU64,
    draining: AtomicBool,
    /// Requests being served, per core.
    pub in_flight: Vec<PaddedCounter>,
    /// Open client connections, per core.
    pub connections: Vec<PaddedCounter>,
    /// Of those, idle keep-alive connections parked without buffers, per core.
    pub waiting: Vec<PaddedCounter>,
    /// Requests served, per core (a health signal; metrics proper come with observability).
    pub requests: Vec<PaddedCounter>,
}

impl Shared {
    pub fn new(snapshot: Snapshot, workers: usize) -> Shared {
        let generation = snapshot.generation;
        let counters = || (0..workers).map(|_| PaddedCounter::default()).collect();
        Shared {
            snapshot: ArcSwap::from_pointee(snapshot),
            generation: AtomicU64::new(generation),
            draining: AtomicBool::new(false),
            in_flight: counters(),
            connections: counters(),
            waiting: counters(),
            requests: counters(),
        }
    }

    /// Make `snapshot` current. Requests in flight finish on the one they began with.
    pub fn publish(&self, snapshot: Snapshot) {
        let generation = snapshot.generation;
        self.snapshot.store(Arc::new(snapshot));
        self.generation.store(generation, Ordering::Release);
    }

    pub fn current(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    #[inline]
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    pub fn total(counters: &[PaddedCounter]) -> usize {
        counters.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }
}
