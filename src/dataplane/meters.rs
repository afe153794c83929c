//! The runtime side of a snapshot's usage config: the token-bucket ledgers of its limits and
//! the counters of its quotas, built on the control plane whenever a snapshot is published.
//! Ledgers and counters whose stable identity (and, for ledgers, spec) a reload kept are
//! carried over, so a reload neither resets a quota nor hands out a fresh burst.
//!
//! A core pairs its snapshot with the `Meters` of the same generation (`Worker::snapshot`),
//! so the dense ids of one always index the other.

use crate::config::Snapshot;

use super::throttle::{DailyTable, LeasePolicy, LedgerTable, LimitSpec, QuotaTable};

pub struct Meters {
    /// The snapshot generation these tables were built for.
    pub generation: u64,
    pub limits: LedgerTable<Box<str>>,
    pub quotas: QuotaTable<Box<str>>,
    /// Daily usage per (plan, key), indexed by `PlanKeyId`.
    pub usage: DailyTable<Box<str>>,
}

impl Meters {
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
        match prev {
            Some(p) => Meters {
                generation: snapshot.generation,
                limits: p.limits.rebuild(limits, now_ns),
                quotas: p.quotas.rebuild(quotas, now_unix_secs),
                usage: p.usage.rebuild(usage),
            },
            None => Meters {
                generation: snapshot.generation,
                limits: LedgerTable::new(limits, cores, LeasePolicy::default()),
                quotas: QuotaTable::new(quotas, now_unix_secs),
                usage: DailyTable::new(usage),
            },
        }
    }
}
