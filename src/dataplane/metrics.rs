//! Per-core request metrics (DESIGN §9): API Gateway's `Count`, `4XXError`, `5XXError`,
//! `Latency`, `IntegrationLatency`, `CacheHitCount`, `CacheMissCount` per series (API, stage,
//! resource template, method, canary), and throttled / quota-refused counts per usage plan.
//!
//! Recording is plain integer arithmetic and one or two HDR histogram records into this
//! core's `Delta` (no lock, no atomic, no allocation once a series has been seen on the
//! core). The worker's ticker hands a dirty `Delta` to the control plane's aggregator over a
//! bounded channel and continues with the spare one; the aggregator merges, resets and sends
//! the `Delta` back. If the aggregator is behind (channel full, no spare back yet), the core
//! keeps recording into the same `Delta`: nothing is lost, the numbers are only later.
//!
//! Series ids are interned by identity (`api/stage/method resource`) on the control plane
//! when a snapshot is published and carried over reloads (`Series::build`), so a route whose
//! identity is unchanged keeps its totals, and a record from a request that began on the
//! previous snapshot still indexes the right series. Ids are never reused; a route removed by
//! a reload keeps its (frozen) totals for the life of the process.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use hashbrown::HashMap;
use hdrhistogram::Histogram;

use crate::config::{ErrorKind, RouteIdx, Snapshot, StageIdx};

/// The series of requests that matched no API or stage (unknown host, stage or base path,
/// or a malformed request): one label set, so raw paths never become labels.
pub const EDGE_SERIES: u32 = 0;
/// Latency histograms: microseconds, 1 µs to 10 minutes, 2 significant digits (1 %).
pub const HIST_MAX_US: u64 = 600_000_000;
const HIST_SIGFIG: u8 = 2;

/// An HDR histogram of microseconds as every part of tollgate builds it.
pub fn histogram() -> Histogram<u64> {
    // Bounds are constants within hdrhistogram's limits: cannot fail.
    Histogram::new_with_bounds(1, HIST_MAX_US, HIST_SIGFIG).unwrap_or_else(|_| unreachable!())
}

/// The labels of one series. `resource` is the route's template (`/pets/{id}`), never a raw
/// path; `$unmatched` for requests that reached a stage but no route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesName {
    pub api: Box<str>,
    pub stage: Box<str>,
    pub resource: Box<str>,
    pub method: Box<str>,
    /// `base` or `canary` (canary deployments are not compiled yet: always `base`).
    pub canary: &'static str,
}

/// Dense series ids of one snapshot, interned across reloads.
pub struct Series {
    /// Every series ever interned, by id (a superset of this snapshot's).
    pub names: Arc<Vec<SeriesName>>,
    /// Every usage plan ever interned (`id` labels), by plan metric id.
    pub plan_names: Arc<Vec<Box<str>>>,
    index: HashMap<Box<str>, u32>,
    plan_index: HashMap<Box<str>, u32>,
    /// Per `StageIdx`: the series of each route (by `RouteIdx`), then the stage's
    /// `$unmatched` series last.
    by_stage: Vec<Box<[u32]>>,
    /// Per `PlanIdx`: the plan's metric id.
    by_plan: Box<[u32]>,
}

impl Series {
    /// The series of `snapshot`, keeping every id `prev` interned.
    pub fn build(snapshot: &Snapshot, prev: Option<&Series>) -> Series {
        let (mut names, mut index, mut plan_names, mut plan_index) = match prev {
            Some(p) => (
                (*p.names).clone(),
                p.index.clone(),
                (*p.plan_names).clone(),
                p.plan_index.clone(),
            ),
            None => (Vec::new(), HashMap::new(), Vec::new(), HashMap::new()),
        };
        let mut intern = |name: SeriesName| -> u32 {
            let key: Box<str> = format!(
                "{}/{}/{} {} {}",
                name.api, name.stage, name.method, name.resource, name.canary
            )
            .into();
            *index.entry(key).or_insert_with(|| {
                names.push(name);
                (names.len() - 1) as u32
            })
        };
        let dash = || -> Box<str> { "-".into() };
        let edge = intern(SeriesName {
            api: dash(),
            stage: dash(),
            resource: "$unmatched".into(),
            method: dash(),
            canary: "base",
        });
        debug_assert_eq!(edge, EDGE_SERIES);
        let by_stage = snapshot
            .stages
            .iter()
            .map(|stage| {
                let api = &snapshot.apis[stage.api.0 as usize];
                let mut ids: Vec<u32> = api
                    .routes
                    .iter()
                    .map(|r| {
                        let method = match &r.method {
                            Some(m) => String::from_utf8_lossy(m).into(),
                            None => "ANY".into(),
                        };
                        intern(SeriesName {
                            api: api.id.as_str().into(),
                            stage: stage.name.as_str().into(),
                            resource: r.path.as_str().into(),
                            method,
                            canary: "base",
                        })
                    })
                    .collect();
                ids.push(intern(SeriesName {
                    api: api.id.as_str().into(),
                    stage: stage.name.as_str().into(),
                    resource: "$unmatched".into(),
                    method: dash(),
                    canary: "base",
                }));
                ids.into_boxed_slice()
            })
            .collect();
        let by_plan = snapshot
            .usage
            .plans
            .iter()
            .map(|p| {
                let key: Box<str> = p.id.as_str().into();
                *plan_index.entry(key.clone()).or_insert_with(|| {
                    plan_names.push(key);
                    (plan_names.len() - 1) as u32
                })
            })
            .collect();
        Series {
            names: Arc::new(names),
            plan_names: Arc::new(plan_names),
            index,
            plan_index,
            by_stage,
            by_plan,
        }
    }

    /// The series of `route` on `stage`, or the stage's `$unmatched` series for `None`.
    #[inline]
    pub fn of(&self, stage: StageIdx, route: Option<RouteIdx>) -> u32 {
        let Some(ids) = self.by_stage.get(stage.0 as usize) else {
            return EDGE_SERIES;
        };
        let last = ids.len() - 1;
        match route {
            Some(r) if (r.0 as usize) < last => ids[r.0 as usize],
            _ => ids[last],
        }
    }

    /// The metric id of usage plan `plan` (a `PlanIdx`).
    #[inline]
    pub fn plan(&self, plan: u32) -> Option<u32> {
        self.by_plan.get(plan as usize).copied()
    }
}

/// Whether the stage cache answered (for `CacheHitCount` / `CacheMissCount`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheUse {
    #[default]
    None,
    Hit,
    Miss,
}

/// What a request's responders note as it goes, read once at completion by the metrics and
/// the access log (`request::complete`). Lives in `Meta`; `Copy`, no heap.
#[derive(Clone, Copy, Debug, Default)]
pub struct Completion {
    /// The status sent (0: no response was written, e.g. the client went away).
    pub status: u16,
    /// The metrics series (`EDGE_SERIES` until routed to a stage).
    pub series: u32,
    pub stage: Option<StageIdx>,
    pub route: Option<RouteIdx>,
    /// The integration was called: its latency in ns (to the response head) and status.
    pub integration: Option<(u64, u16)>,
    pub cache: CacheUse,
    /// Body bytes of the response (`$context.responseLength`).
    pub response_len: u64,
    /// The gateway response sent, if the response was one.
    pub error: Option<ErrorKind>,
    /// The usage plan (metric id) and key of a keyed request.
    pub plan: Option<u32>,
    pub key: Option<crate::config::KeyId>,
    /// The request fields an access log line needs (stages that log).
    pub captured: super::access_log::Captured,
}

/// One core's counts for one series since its last hand-over.
#[derive(Default)]
pub struct SeriesDelta {
    pub count: u64,
    pub errors_4xx: u64,
    pub errors_5xx: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Microseconds (Prometheus `_sum`); counts are `count` and `integration_count`.
    pub latency_sum_us: u64,
    pub integration_sum_us: u64,
    pub integration_count: u64,
    /// Allocated the first time the core records the series, reused afterwards.
    pub latency: Option<Box<Histogram<u64>>>,
    pub integration: Option<Box<Histogram<u64>>>,
}

/// One core's throttled and quota-refused counts for one usage plan.
#[derive(Clone, Copy, Default)]
pub struct PlanDelta {
    pub throttled: u64,
    pub quota_exceeded: u64,
}

/// Everything one core recorded since it last handed over; travels to the aggregator and
/// back. Indexed by interned series / plan id.
pub struct Delta {
    pub core: usize,
    pub dirty: bool,
    pub series: Vec<SeriesDelta>,
    /// Index 0: throttled requests without a usage plan (stage or account limits).
    pub plans: Vec<PlanDelta>,
    /// Where the aggregator sends this `Delta` back once merged.
    pub home: SyncSender<Box<Delta>>,
}

impl Delta {
    fn new(core: usize, home: SyncSender<Box<Delta>>) -> Box<Delta> {
        Box::new(Delta {
            core,
            dirty: false,
            series: Vec::new(),
            plans: Vec::new(),
            home,
        })
    }

    /// Zero the counts, keeping every allocation (done by the aggregator).
    pub fn reset(&mut self) {
        for s in &mut self.series {
            let (lat, int) = (s.latency.take(), s.integration.take());
            *s = SeriesDelta::default();
            s.latency = lat.map(|mut h| {
                h.reset();
                h
            });
            s.integration = int.map(|mut h| {
                h.reset();
                h
            });
        }
        self.plans.fill(PlanDelta::default());
        self.dirty = false;
    }
}

/// Where every core hands its `Delta`s (held in `Shared`).
pub type DeltaSender = crate::dataplane::handover::Giver<Box<Delta>>;

/// One core's metrics: the `Delta` being recorded and the spare.
pub struct CoreMetrics {
    active: Box<Delta>,
    spare: Option<Box<Delta>>,
    back: Receiver<Box<Delta>>,
    to_control: DeltaSender,
}

impl CoreMetrics {
    pub fn new(core: usize, to_control: DeltaSender) -> CoreMetrics {
        let (home, back) = sync_channel(2);
        CoreMetrics {
            active: Delta::new(core, home.clone()),
            spare: Some(Delta::new(core, home)),
            back,
            to_control,
        }
    }

    /// Count one completed request. `latency_ns`: from the request's clock reading to now.
    #[inline]
    pub fn record(&mut self, done: &Completion, latency_ns: u64) {
        let d = &mut self.active;
        d.dirty = true;
        let i = done.series as usize;
        if i >= d.series.len() {
            d.series.resize_with(i + 1, SeriesDelta::default);
        }
        let s = &mut d.series[i];
        s.count += 1;
        match done.status {
            400..=499 => s.errors_4xx += 1,
            500..=599 => s.errors_5xx += 1,
            _ => {}
        }
        match done.cache {
            CacheUse::Hit => s.cache_hits += 1,
            CacheUse::Miss => s.cache_misses += 1,
            CacheUse::None => {}
        }
        let us = (latency_ns / 1000).clamp(1, HIST_MAX_US);
        s.latency_sum_us += us;
        s.latency
            .get_or_insert_with(|| Box::new(histogram()))
            .saturating_record(us);
        if let Some((ns, _)) = done.integration {
            let us = (ns / 1000).clamp(1, HIST_MAX_US);
            s.integration_count += 1;
            s.integration_sum_us += us;
            s.integration
                .get_or_insert_with(|| Box::new(histogram()))
                .saturating_record(us);
        }
        let refused = match done.error {
            Some(ErrorKind::Throttled) => Some(true),
            Some(ErrorKind::QuotaExceeded) => Some(false),
            _ => None,
        };
        if let Some(throttled) = refused {
            let p = done.plan.map_or(0, |p| p as usize + 1);
            if p >= d.plans.len() {
                d.plans.resize(p + 1, PlanDelta::default());
            }
            if throttled {
                d.plans[p].throttled += 1;
            } else {
                d.plans[p].quota_exceeded += 1;
            }
        }
    }

    /// Hand the recorded counts to the aggregator if any, and continue on the spare (the
    /// worker's ticker). Never blocks: if the aggregator is behind, recording goes on into
    /// the same `Delta`.
    pub fn hand_over(&mut self) {
        if !self.active.dirty {
            return;
        }
        if self.spare.is_none() {
            self.spare = self.back.try_recv().ok();
        }
        let Some(spare) = self.spare.take() else {
            return;
        };
        let full = std::mem::replace(&mut self.active, spare);
        if let Err(TrySendError::Full(full) | TrySendError::Disconnected(full)) =
            self.to_control.try_send(full)
        {
            self.spare = Some(std::mem::replace(&mut self.active, full));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_core_hands_over_and_gets_its_delta_back() {
        let (tx, rx) = crate::dataplane::handover::channel(4);
        let mut core = CoreMetrics::new(3, tx);
        let done = Completion {
            status: 503,
            series: 2,
            integration: Some((2_000_000, 503)),
            ..Completion::default()
        };
        core.record(&done, 5_000_000);
        core.hand_over();
        let mut d = rx.try_recv().expect("handed over");
        assert_eq!((d.core, d.series.len()), (3, 3));
        assert_eq!((d.series[2].count, d.series[2].errors_5xx), (1, 1));
        let max = d.series[2].latency.as_ref().unwrap().max();
        assert!((4_950..=5_050).contains(&max), "{max}");
        // Nothing recorded since: nothing handed over.
        core.hand_over();
        assert!(rx.try_recv().is_none());
        d.reset();
        assert_eq!(d.series[2].count, 0);
        let home = d.home.clone();
        home.try_send(d).unwrap();
        core.record(&done, 1);
        core.hand_over();
        core.record(&done, 1);
        // The returned `Delta` became the active one as the other went out; with nothing
        // back yet, the next hand-over waits.
        core.hand_over();
        assert_eq!(rx.try_iter().count(), 1);
    }

    #[test]
    fn without_a_spare_recording_continues_in_place() {
        let (tx, rx) = crate::dataplane::handover::channel(1);
        let mut core = CoreMetrics::new(0, tx);
        let done = Completion::default();
        core.record(&done, 1);
        core.hand_over();
        core.record(&done, 1);
        core.hand_over(); // channel full, no spare back: keeps recording in place
        core.record(&done, 1);
        let mut first = rx.try_recv().unwrap();
        assert_eq!(first.series[0].count, 1);
        first.reset();
        first.home.clone().try_send(first).unwrap();
        core.hand_over();
        assert_eq!(rx.try_recv().unwrap().series[0].count, 2);
    }
}
