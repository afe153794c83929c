//! Usage-plan quotas: exact per-(plan, key) request counters over UTC calendar periods.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::HashMap;

use crate::dataplane::CivilTime;
use crate::dataplane::clock::days_from_civil;

// The config's `QuotaSpec` (`limit`, `offset`: subtracted in the counter's initial period,
// `period`) and `QuotaPeriod`. Periods are UTC calendar periods: a DAY starts at 00:00:00 UTC
// (as observed on API Gateway), a WEEK on Monday 00:00:00 UTC, a MONTH on the 1st at
// 00:00:00 UTC (API Gateway does not document WEEK/MONTH boundaries; SPEC-NOTES §5
// [UNVERIFIED]).
pub use crate::config::{QuotaPeriod, QuotaSpec};

/// The quota is used up: `429 Limit Exceeded` until the period ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaExceeded {
    pub retry_after_secs: u64,
}

/// A counter's state, for the control plane to persist and restore (times are UNIX seconds
/// of period starts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaState {
    pub period: QuotaPeriod,
    pub period_start: u64,
    pub used: u64,
    /// Start of the period the offset applies in.
    pub initial_period_start: u64,
}

/// Dense id of a quota: its index in the `QuotaTable` — the config's `QuotaId`.
pub use crate::config::QuotaId;

/// One (plan, key)'s count, shared by every core: one `AtomicU64` packing (period kind,
/// period number, used) so a CAS moves to a new period and counts in one step — exact under
/// any concurrency (`used` never passes the limit). It holds no spec: a reload that changes
/// the limit keeps counting in the same counter.
#[repr(align(128))]
#[derive(Debug)]
pub struct QuotaCounter {
    state: AtomicU64,
    /// `pack(kind, period, 0)` of the initial period.
    initial: AtomicU64,
}

/// Largest count a counter holds (2^40 − 1, far above API Gateway's int32 `limit`).
pub const MAX_QUOTA: u64 = (1 << USED_BITS) - 1;
const USED_BITS: u32 = 40;
const PERIOD_BITS: u32 = 22;

impl QuotaCounter {
    /// A counter whose initial period is the `period` containing `now_unix_secs`.
    pub fn new(period: QuotaPeriod, now_unix_secs: u64) -> QuotaCounter {
        QuotaCounter {
            state: AtomicU64::new(0),
            initial: AtomicU64::new(pack(period, period_number(period, now_unix_secs), 0)),
        }
    }

    /// Count one request at `now_unix_secs` (UTC wall clock: quotas follow the calendar), or
    /// refuse it. Returns the requests left in this period. A clock that steps back never
    /// returns to an earlier period: counting stays in the latest period seen.
    pub fn charge(&self, spec: &QuotaSpec, now_unix_secs: u64) -> Result<u64, QuotaExceeded> {
        let now_period = period_number(spec.period, now_unix_secs);
        let initial = self.initial.load(Ordering::Relaxed);
        // Relaxed: a single location updated only by CAS; nothing else is published with it.
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let (p, used) = current(cur, spec.period, now_period);
            let limit = limit_in(spec, p, initial);
            if used >= limit {
                let end = period_start(spec.period, p + 1);
                return Err(QuotaExceeded {
                    retry_after_secs: end.saturating_sub(now_unix_secs).max(1),
                });
            }
            match self.state.compare_exchange_weak(
                cur,
                pack(spec.period, p, used + 1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(limit - used - 1),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Requests left in the period containing `now_unix_secs`.
    pub fn remaining(&self, spec: &QuotaSpec, now_unix_secs: u64) -> u64 {
        let now_period = period_number(spec.period, now_unix_secs);
        let (p, used) = current(self.state.load(Ordering::Relaxed), spec.period, now_period);
        limit_in(spec, p, self.initial.load(Ordering::Relaxed)).saturating_sub(used)
    }

    /// The count as of now, for persistence. A counter never charged reports its initial
    /// period with 0 used.
    pub fn export(&self) -> QuotaState {
        let initial = self.initial.load(Ordering::Relaxed);
        let (ik, ip, _) = unpack(initial);
        let (kind, p, used) = match unpack(self.state.load(Ordering::Relaxed)) {
            (Some(kind), p, used) => (kind, p, used),
            (None, ..) => (ik.unwrap_or(QuotaPeriod::Day), ip, 0),
        };
        QuotaState {
            period: kind,
            period_start: period_start(kind, p),
            used,
            initial_period_start: ik.map_or(0, |k| period_start(k, ip)),
        }
    }

    /// Restore a persisted count (before the core serves; a concurrent `charge` may be lost).
    pub fn import(&self, state: QuotaState) {
        let p = period_number(state.period, state.period_start);
        let ip = period_number(state.period, state.initial_period_start);
        self.initial
            .store(pack(state.period, ip, 0), Ordering::Relaxed);
        self.state.store(
            pack(state.period, p, state.used.min(MAX_QUOTA)),
            Ordering::Relaxed,
        );
    }
}

/// Every (plan, key) quota, indexed by `QuotaId`, with the stable keys they were built from.
pub struct QuotaTable<K> {
    entries: Box<[(K, QuotaSpec, Arc<QuotaCounter>)]>,
}

impl<K: Eq + Hash + Clone> QuotaTable<K> {
    /// Ids in order: the n-th spec is `QuotaId(n)`. Initial periods contain `now_unix_secs`.
    pub fn new(
        specs: impl IntoIterator<Item = (K, QuotaSpec)>,
        now_unix_secs: u64,
    ) -> QuotaTable<K> {
        QuotaTable {
            entries: specs
                .into_iter()
                .map(|(k, spec)| {
                    (
                        k,
                        spec,
                        Arc::new(QuotaCounter::new(spec.period, now_unix_secs)),
                    )
                })
                .collect(),
        }
    }

    /// The table for a reloaded config: a key that stays keeps its counter whatever its spec
    /// (a changed limit applies to the count so far; a changed period starts counting afresh
    /// in the new kind of period). A key listed twice carries over once.
    pub fn rebuild(
        &self,
        specs: impl IntoIterator<Item = (K, QuotaSpec)>,
        now_unix_secs: u64,
    ) -> QuotaTable<K> {
        let mut old: HashMap<&K, &Arc<QuotaCounter>> =
            self.entries.iter().map(|(k, _, c)| (k, c)).collect();
        QuotaTable {
            entries: specs
                .into_iter()
                .map(|(k, spec)| {
                    let counter = match old.remove(&k) {
                        Some(c) => Arc::clone(c),
                        None => Arc::new(QuotaCounter::new(spec.period, now_unix_secs)),
                    };
                    (k, spec, counter)
                })
                .collect(),
        }
    }

    /// `QuotaCounter::charge` with the spec of `id`. An unknown id (a wiring bug) lets the
    /// request through, as API Gateway does when the usage plan check fails internally.
    #[inline]
    pub fn charge(&self, id: QuotaId, now_unix_secs: u64) -> Result<u64, QuotaExceeded> {
        match self.entries.get(id.0 as usize) {
            Some((_, spec, counter)) => counter.charge(spec, now_unix_secs),
            None => Ok(u64::MAX),
        }
    }

    pub fn get(&self, id: QuotaId) -> Option<(&K, &QuotaSpec, &Arc<QuotaCounter>)> {
        self.entries.get(id.0 as usize).map(|(k, s, c)| (k, s, c))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every counter's state, for the control plane to persist.
    pub fn export(&self) -> Vec<(K, QuotaState)> {
        self.entries
            .iter()
            .map(|(k, _, c)| (k.clone(), c.export()))
            .collect()
    }

    /// Restore persisted states by key; returns how many keys matched (others are ignored:
    /// their plan or key is gone).
    pub fn import(&self, states: impl IntoIterator<Item = (K, QuotaState)>) -> usize {
        let by_key: HashMap<&K, &Arc<QuotaCounter>> =
            self.entries.iter().map(|(k, _, c)| (k, c)).collect();
        let mut matched = 0;
        for (k, state) in states {
            if let Some(c) = by_key.get(&k) {
                c.import(state);
                matched += 1;
            }
        }
        matched
    }
}

/// The period and count to charge in: the stored period if it is of this kind and not older
/// than now's, else now's period with nothing used.
fn current(state: u64, kind: QuotaPeriod, now_period: u64) -> (u64, u64) {
    match unpack(state) {
        (Some(k), p, used) if k == kind && p >= now_period => (p, used),
        _ => (now_period, 0),
    }
}

fn limit_in(spec: &QuotaSpec, period: u64, initial: u64) -> u64 {
    let limit = spec.limit.min(MAX_QUOTA);
    if pack(spec.period, period, 0) == initial {
        limit.saturating_sub(spec.offset)
    } else {
        limit
    }
}

fn pack(kind: QuotaPeriod, period: u64, used: u64) -> u64 {
    let k = match kind {
        QuotaPeriod::Day => 1,
        QuotaPeriod::Week => 2,
        QuotaPeriod::Month => 3,
    };
    let period = period.min((1 << PERIOD_BITS) - 1);
    k << (PERIOD_BITS + USED_BITS) | period << USED_BITS | used
}

fn unpack(v: u64) -> (Option<QuotaPeriod>, u64, u64) {
    let kind = match v >> (PERIOD_BITS + USED_BITS) {
        1 => Some(QuotaPeriod::Day),
        2 => Some(QuotaPeriod::Week),
        3 => Some(QuotaPeriod::Month),
        _ => None,
    };
    (
        kind,
        (v >> USED_BITS) & ((1 << PERIOD_BITS) - 1),
        v & MAX_QUOTA,
    )
}

const DAY: u64 = 86_400;

/// The number of the period containing `secs`: days since 1970-01-01, weeks since Monday
/// 1969-12-29, or months since January 1970.
pub fn period_number(kind: QuotaPeriod, secs: u64) -> u64 {
    let days = secs / DAY;
    match kind {
        QuotaPeriod::Day => days,
        // 1970-01-01 was a Thursday: day −3 is the Monday that starts week 0.
        QuotaPeriod::Week => (days + 3) / 7,
        QuotaPeriod::Month => {
            let t = CivilTime::from_unix(secs);
            (t.year - 1970) as u64 * 12 + u64::from(t.month - 1)
        }
    }
}

/// UNIX seconds at which period `n` starts (week 0 is clamped to the epoch).
pub fn period_start(kind: QuotaPeriod, n: u64) -> u64 {
    match kind {
        QuotaPeriod::Day => n * DAY,
        QuotaPeriod::Week => (n * 7).saturating_sub(3) * DAY,
        QuotaPeriod::Month => {
            let year = 1970 + (n / 12) as i64;
            let month = (n % 12) as u32 + 1;
            days_from_civil(year, month, 1).max(0) as u64 * DAY
        }
    }
}

#[cfg(test)]
mod tests;
