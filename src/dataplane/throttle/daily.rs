//! Daily usage for `GetUsage`: per (plan, key), how many requests were admitted on each of
//! the last `USAGE_DAYS` UTC days. A ring of packed `AtomicU64` slots (day number, count),
//! one slot per day modulo the ring's length; counting is one CAS and allocates nothing.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::HashMap;

/// Days of usage kept per (plan, key): the widest `GetUsage` range.
pub const USAGE_DAYS: usize = 90;
const COUNT_BITS: u32 = 40;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;
const DAY_SECS: u64 = 86_400;

/// `(day number, requests)` of one (plan, key)'s days, oldest first.
pub type Days = Vec<(u64, u64)>;

/// One (plan, key)'s daily counts.
#[derive(Debug)]
pub struct DailyUsage {
    /// Slot `day % USAGE_DAYS`: `(day + 1) << COUNT_BITS | count`; 0 is an empty slot.
    slots: Box<[AtomicU64]>,
}

impl Default for DailyUsage {
    fn default() -> DailyUsage {
        DailyUsage {
            slots: (0..USAGE_DAYS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl DailyUsage {
    /// Count one request on the UTC day containing `now_unix_secs`.
    #[inline]
    pub fn count(&self, now_unix_secs: u64) {
        let day = now_unix_secs / DAY_SECS;
        let slot = &self.slots[(day % USAGE_DAYS as u64) as usize];
        let tag = (day + 1) << COUNT_BITS;
        // Relaxed: a single location updated only by CAS.
        let mut cur = slot.load(Ordering::Relaxed);
        loop {
            let next = if cur & !COUNT_MAX == tag {
                tag | ((cur & COUNT_MAX) + 1).min(COUNT_MAX)
            } else if cur >> COUNT_BITS > day + 1 {
                // The slot holds a later day (the clock stepped back): count there.
                cur + u64::from(cur & COUNT_MAX < COUNT_MAX)
            } else {
                tag | 1
            };
            match slot.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Requests counted on `day` (days since 1970-01-01); 0 for a day outside the ring.
    pub fn get(&self, day: u64) -> u64 {
        let v = self.slots[(day % USAGE_DAYS as u64) as usize].load(Ordering::Relaxed);
        if v >> COUNT_BITS == day + 1 {
            v & COUNT_MAX
        } else {
            0
        }
    }

    /// `(day, count)` of every non-empty slot, for persistence.
    pub fn export(&self) -> Days {
        let mut out: Vec<(u64, u64)> = self
            .slots
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .filter(|v| *v != 0)
            .map(|v| ((v >> COUNT_BITS) - 1, v & COUNT_MAX))
            .collect();
        out.sort_unstable();
        out
    }

    /// Restore persisted counts; a later day wins a slot.
    pub fn import(&self, days: &[(u64, u64)]) {
        for &(day, count) in days {
            let slot = &self.slots[(day % USAGE_DAYS as u64) as usize];
            let v = (day + 1) << COUNT_BITS | count.min(COUNT_MAX);
            if slot.load(Ordering::Relaxed) >> COUNT_BITS <= day + 1 {
                slot.store(v, Ordering::Relaxed);
            }
        }
    }
}

/// Every (plan, key)'s daily usage, indexed by `PlanKeyId`, with the stable keys they were
/// built from; carried over a reload by key like `QuotaTable`.
pub struct DailyTable<K> {
    entries: Box<[(K, Arc<DailyUsage>)]>,
}

impl<K: Eq + Hash + Clone> DailyTable<K> {
    pub fn new(keys: impl IntoIterator<Item = K>) -> DailyTable<K> {
        DailyTable {
            entries: keys.into_iter().map(|k| (k, Arc::default())).collect(),
        }
    }

    /// The table for a reloaded config: a key that stays keeps its counts.
    pub fn rebuild(&self, keys: impl IntoIterator<Item = K>) -> DailyTable<K> {
        let mut old: HashMap<&K, &Arc<DailyUsage>> =
            self.entries.iter().map(|(k, c)| (k, c)).collect();
        DailyTable {
            entries: keys
                .into_iter()
                .map(|k| {
                    let c = old.remove(&k).map_or_else(Arc::default, Arc::clone);
                    (k, c)
                })
                .collect(),
        }
    }

    /// Count one request for entry `id` (an unknown id is ignored).
    #[inline]
    pub fn count(&self, id: u32, now_unix_secs: u64) {
        if let Some((_, c)) = self.entries.get(id as usize) {
            c.count(now_unix_secs);
        }
    }

    pub fn get(&self, id: u32) -> Option<&DailyUsage> {
        self.entries.get(id as usize).map(|(_, c)| &**c)
    }

    pub fn export(&self) -> Vec<(K, Days)> {
        self.entries
            .iter()
            .map(|(k, c)| (k.clone(), c.export()))
            .filter(|(_, d)| !d.is_empty())
            .collect()
    }

    /// Restore by key; returns how many keys matched.
    pub fn import(&self, states: impl IntoIterator<Item = (K, Days)>) -> usize {
        let by_key: HashMap<&K, &Arc<DailyUsage>> =
            self.entries.iter().map(|(k, c)| (k, c)).collect();
        let mut matched = 0;
        for (k, days) in states {
            if let Some(c) = by_key.get(&k) {
                c.import(&days);
                matched += 1;
            }
        }
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_day_and_forgets_days_older_than_the_ring() {
        let d = DailyUsage::default();
        let day = 20_000u64;
        d.count(day * DAY_SECS + 5);
        d.count(day * DAY_SECS + 86_399);
        d.count((day + 1) * DAY_SECS);
        assert_eq!((d.get(day), d.get(day + 1), d.get(day - 1)), (2, 1, 0));
        // The same slot, USAGE_DAYS later: the old day is gone.
        d.count((day + USAGE_DAYS as u64) * DAY_SECS);
        assert_eq!(d.get(day), 0);
        assert_eq!(d.get(day + USAGE_DAYS as u64), 1);
        // A clock stepped back never overwrites a later day.
        d.count(day * DAY_SECS);
        assert_eq!(d.get(day + USAGE_DAYS as u64), 2);
        let e = DailyUsage::default();
        e.import(&d.export());
        assert_eq!(e.export(), d.export());
    }
}
