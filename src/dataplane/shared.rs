//! State shared between the control plane and the cores: the snapshot behind one `ArcSwap`,
//! the drain flag, and per-core counters (each written only by its own core).

use super::handover::{self, Taker};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use arc_swap::ArcSwap;

use super::access_log::{BatchSender, LogBatch, MAX_BATCHES};
use super::cache::StageCache;
use super::meters::Meters;
use super::metrics::{Delta, DeltaSender};
use super::throttle::{Days, MonoClock, QuotaState};
use crate::config::Snapshot;

/// A counter on its own cache line, so cores never write to a line another core writes.
#[derive(Default)]
#[repr(align(128))]
pub struct PaddedCounter(pub AtomicUsize);

pub struct Shared {
    snapshot: ArcSwap<Snapshot>,
    /// The ledgers and quota counters of the current snapshot (same generation), stored
    /// before the snapshot so a core that sees a generation finds its meters.
    meters: ArcSwap<Meters>,
    /// The one monotonic clock every core's throttle reads (ledgers compare times across
    /// cores).
    pub clock: MonoClock,
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
    /// Client connections accepted, per core.
    pub accepted: Vec<PaddedCounter>,
    /// TLS handshakes completed / failed on HTTPS listeners, per core.
    pub tls_handshakes: Vec<PaddedCounter>,
    pub tls_failures: Vec<PaddedCounter>,
    /// Idle upstream connections in the core's pool (a gauge, set by its ticker).
    pub pool_idle: Vec<PaddedCounter>,
    /// Access log lines a core dropped because the log writer was behind.
    pub log_dropped: Vec<PaddedCounter>,
    /// Reloads published / refused since start (the first load is not counted).
    pub reloads: AtomicU64,
    pub reload_failures: AtomicU64,
    /// Where the cores hand their access log batches (`dataplane/access_log.rs`).
    pub access_logs: BatchSender,
    #[allow(clippy::disallowed_types)]
    access_logs_rx: std::sync::Mutex<Option<Taker<Box<LogBatch>>>>,
    /// Where the cores hand their span batches (`dataplane/otlp.rs`) for the OTLP exporter.
    pub spans: BatchSender,
    #[allow(clippy::disallowed_types)]
    spans_rx: std::sync::Mutex<Option<Taker<Box<LogBatch>>>>,
    /// Spans dropped (a core had no free batch, or the exporter gave up on a batch) and
    /// spans the collector accepted.
    pub spans_dropped: AtomicU64,
    pub spans_exported: AtomicU64,
    /// Where the cores hand their metrics `Delta`s (`dataplane/metrics.rs`).
    pub metrics: DeltaSender,
    /// The aggregator's end, taken once by the control plane (`take_metrics`). A lock only
    /// for that one hand-over, never taken by a core.
    #[allow(clippy::disallowed_types)]
    metrics_rx: std::sync::Mutex<Option<Taker<Box<Delta>>>>,
    /// The function host's mailboxes (set once, when there is a host).
    pub function_mail: std::sync::OnceLock<Arc<super::functions::mail::Mail>>,
}

impl Shared {
    pub fn new(snapshot: Snapshot, workers: usize) -> Shared {
        let generation = snapshot.generation;
        let counters = || (0..workers).map(|_| PaddedCounter::default()).collect();
        let clock = MonoClock::new();
        let meters = Meters::build(&snapshot, None, workers, clock.now_ns(), unix_secs());
        // Two hand-overs per core in flight at most (each core has two `Delta`s).
        let (metrics_tx, metrics_rx) = handover::channel(2 * workers.max(1));
        // Room for every batch of every core (a core owns at most `MAX_BATCHES`, how many its
        // destinations need; a reload may add some, and a channel cannot grow): a hand-over
        // fails only when the writer is behind with all of them.
        let (logs_tx, logs_rx) = handover::channel(MAX_BATCHES * workers.max(1));
        let (spans_tx, spans_rx) = handover::channel(MAX_BATCHES * workers.max(1));
        Shared {
            snapshot: ArcSwap::from_pointee(snapshot),
            meters: ArcSwap::from_pointee(meters),
            clock,
            generation: AtomicU64::new(generation),
            draining: AtomicBool::new(false),
            in_flight: counters(),
            connections: counters(),
            waiting: counters(),
            requests: counters(),
            accepted: counters(),
            tls_handshakes: counters(),
            tls_failures: counters(),
            pool_idle: counters(),
            log_dropped: counters(),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
            access_logs: logs_tx,
            #[allow(clippy::disallowed_types)]
            access_logs_rx: std::sync::Mutex::new(Some(logs_rx)),
            spans: spans_tx,
            #[allow(clippy::disallowed_types)]
            spans_rx: std::sync::Mutex::new(Some(spans_rx)),
            spans_dropped: AtomicU64::new(0),
            spans_exported: AtomicU64::new(0),
            metrics: metrics_tx,
            #[allow(clippy::disallowed_types)]
            metrics_rx: std::sync::Mutex::new(Some(metrics_rx)),
            function_mail: std::sync::OnceLock::new(),
        }
    }

    /// The receiving end of the cores' metrics hand-over, for the one aggregator.
    pub fn take_metrics(&self) -> Option<Taker<Box<Delta>>> {
        match self.metrics_rx.lock() {
            Ok(mut rx) => rx.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }

    /// The receiving end of the cores' access log hand-over, for the one log writer.
    pub fn take_access_logs(&self) -> Option<Taker<Box<LogBatch>>> {
        match self.access_logs_rx.lock() {
            Ok(mut rx) => rx.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }

    /// The receiving end of the cores' span hand-over, for the one OTLP exporter.
    pub fn take_spans(&self) -> Option<Taker<Box<LogBatch>>> {
        match self.spans_rx.lock() {
            Ok(mut rx) => rx.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }

    /// The metrics series names of the current meters (interned: a superset of every
    /// earlier generation's), for the aggregator.
    pub fn series_names(&self) -> (Arc<Vec<super::metrics::SeriesName>>, Arc<Vec<Box<str>>>) {
        let meters = self.meters.load();
        (
            meters.series.names.clone(),
            meters.series.plan_names.clone(),
        )
    }

    /// Make `snapshot` current. Requests in flight finish on the one they began with.
    pub fn publish(&self, snapshot: Snapshot) {
        let generation = snapshot.generation;
        let prev = self.meters.load_full();
        let meters = Meters::build(
            &snapshot,
            Some(&prev),
            self.in_flight.len(),
            self.clock.now_ns(),
            unix_secs(),
        );
        self.meters.store(Arc::new(meters));
        self.snapshot.store(Arc::new(snapshot));
        self.generation.store(generation, Ordering::Release);
    }

    pub fn current(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// The current snapshot and the meters built for it. Retries in the instant between a
    /// publish storing the new meters and the new snapshot.
    pub fn current_with_meters(&self) -> (Arc<Snapshot>, Arc<Meters>) {
        loop {
            let snapshot = self.snapshot.load_full();
            let meters = self.meters.load_full();
            if meters.generation == snapshot.generation {
                return (snapshot, meters);
            }
            std::hint::spin_loop();
        }
    }

    /// Every quota counter of the current meters by stable identity, for the control plane
    /// to persist. A reload carries counters over by identity, so this follows them.
    pub fn export_quotas(&self) -> Vec<(Box<str>, QuotaState)> {
        self.meters.load().quotas.export()
    }

    /// Restore persisted counts into the current meters by identity (others are dropped);
    /// returns how many matched. Call before the cores serve: a concurrent charge may be lost.
    pub fn import_quotas(&self, states: impl IntoIterator<Item = (Box<str>, QuotaState)>) -> usize {
        self.meters.load().quotas.import(states)
    }

    /// Every (plan, key)'s daily counts by stable identity, for the control plane to persist.
    pub fn export_usage(&self) -> Vec<(Box<str>, Days)> {
        self.meters.load().usage.export()
    }

    /// Restore persisted daily counts by identity; returns how many matched.
    pub fn import_usage(&self, states: impl IntoIterator<Item = (Box<str>, Days)>) -> usize {
        self.meters.load().usage.import(states)
    }

    /// The current JWT authorizers with their key sources, for the control plane's key
    /// fetcher (`control/jwks.rs`).
    pub fn jwt_authorizers(
        &self,
    ) -> Vec<(
        Arc<crate::dataplane::authorize::JwtAuth>,
        crate::config::KeySource,
    )> {
        let (snapshot, meters) = self.current_with_meters();
        meters
            .authorizers
            .iter()
            .zip(&snapshot.authorizers)
            .map(|(auth, a)| (auth.clone(), a.keys.clone()))
            .collect()
    }

    /// The current snapshot and the cache of its stage `identity` (`cache:{apiId}/{stage}`),
    /// paired by generation, for the admin API.
    pub fn stage_cache(&self, identity: &str) -> (Arc<Snapshot>, Option<Arc<StageCache>>) {
        let (snapshot, meters) = self.current_with_meters();
        let cache = meters.caches.get(&Box::<str>::from(identity)).cloned();
        (snapshot, cache)
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

/// Wall-clock seconds since the epoch, for quota periods (UTC calendar days, weeks, months).
pub fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
