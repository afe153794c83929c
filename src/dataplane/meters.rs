//! The runtime side of a snapshot's usage config: the token-bucket ledgers of its limits and
//! the counters of its quotas, built on the control plane whenever a snapshot is published.
//! Ledgers and counters whose stable identity (and, for ledgers, spec) a reload kept are
//! carried over, so a reload neither resets a quota nor hands out a fresh burst.
//!
//! The stage response caches live here too, for the same reason: a reload keeps a stage's
//! cache (entries and counters) when its identity and policy fingerprint are unchanged.
//!
//! A core pairs its snapshot with the `Meters` of the same generation (`Worker::snapshot`),
//! so the dense ids of one always index the other.

use std::sync::Arc;

use crate::config::Snapshot;

use super::authorize::JwtAuth;
use super::cache::{CachePolicy, CacheSet, StageCache};
use super::metrics::Series;
use super::throttle::{DailyTable, LeasePolicy, LedgerTable, LimitSpec, QuotaTable};

pub struct Meters {
    /// The snapshot generation these tables were built for.
    pub generation: u64,
    pub limits: LedgerTable<Box<str>>,
    pub quotas: QuotaTable<Box<str>>,
    /// Daily usage per (plan, key), indexed by `PlanKeyId`.
    pub usage: DailyTable<Box<str>>,
    /// Every stage cache by identity (`cache:{apiId}/{stage}`), for the admin API.
    pub caches: CacheSet<Box<str>>,
    /// The cache of each stage, indexed by `StageIdx`; `None` where the stage has none.
    pub stage_caches: Vec<Option<Arc<StageCache>>>,
    /// The JWT authorizers, indexed by `AuthorizerIdx`: kept across a reload (verifier and
    /// keys) when identity and fingerprint are unchanged.
    pub authorizers: Vec<Arc<JwtAuth>>,
    /// Metrics series ids (interned across reloads by identity).
    pub series: Series,
}

impl Meters {
    /// The stage's cache, when it has one (borrowed: a hit does not touch the shared count).
    pub fn stage_cache(&self, stage: crate::config::StageIdx) -> Option<&Arc<StageCache>> {
        self.stage_caches.get(stage.0 as usize)?.as_ref()
    }

    /// Tables for `snapshot`, carrying over from `prev` where identities (and specs) match.
    pub fn build(
        snapshot: &Snapshot,
        prev: Option<&Meters>,
        cores: usize,
        now_ns: u64,
        now_unix_secs: u64,
    ) -> Meters {
        let limits = snapshot.usage.limits.iter().map(|l| {
            (
                l.identity.clone(),
                LimitSpec {
                    rate: l.spec.rate_per_sec,
                    burst: u32::try_from(l.spec.burst).unwrap_or(u32::MAX),
                },
            )
        });
        let quotas = snapshot
            .usage
            .quotas
            .iter()
            .map(|q| (q.identity.clone(), q.spec));
        let usage = snapshot
            .usage
            .plan_keys
            .iter()
            .map(|pk| pk.identity.clone());
        let stage_caches = snapshot.stages.iter().filter_map(|s| {
            s.cache.as_ref().map(|c| {
                (
                    c.identity.clone(),
                    CachePolicy::with_capacity(c.capacity_bytes),
                    c.fingerprint,
                    c.routes.len(),
                )
            })
        });
        let caches = match prev {
            Some(p) => p.caches.rebuild(cores, stage_caches),
            None => CacheSet::new().rebuild(cores, stage_caches),
        };
        let by_stage = snapshot
            .stages
            .iter()
            .map(|s| {
                s.cache
                    .as_ref()
                    .and_then(|c| caches.get(&c.identity).cloned())
            })
            .collect();
        let (limits, quotas, usage) = match prev {
            Some(p) => (
                p.limits.rebuild(limits, now_ns),
                p.quotas.rebuild(quotas, now_unix_secs),
                p.usage.rebuild(usage),
            ),
            None => (
                LedgerTable::new(limits, cores, LeasePolicy::default()),
                QuotaTable::new(quotas, now_unix_secs),
                DailyTable::new(usage),
            ),
        };
        let prev_auth = prev.map_or(&[][..], |p| &p.authorizers[..]);
        let authorizers = snapshot
            .authorizers
            .iter()
            .map(|a| JwtAuth::carry(a, prev_auth))
            .collect();
        let series = Series::build(snapshot, prev.map(|p| &p.series));
        Meters {
            generation: snapshot.generation,
            series,
            authorizers,
            limits,
            quotas,
            usage,
            caches,
            stage_caches: by_stage,
        }
    }
}
