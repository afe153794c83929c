//! One token bucket shared by every core (`Ledger`), and the table of them (`LedgerTable`).

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::HashMap;

/// A limit as API Gateway states it: `rateLimit` (requests per second, a double, may be
/// fractional) and `burstLimit` (the bucket's capacity, an integer).
#[derive(Clone, Copy, Debug)]
pub struct LimitSpec {
    pub rate: f64,
    pub burst: u32,
}

/// Compared bit for bit, so a reload that keeps `rateLimit: 0.5` keeps the ledger.
impl PartialEq for LimitSpec {
    fn eq(&self, other: &LimitSpec) -> bool {
        self.rate.to_bits() == other.rate.to_bits() && self.burst == other.burst
    }
}

impl Eq for LimitSpec {}

/// Dense id of a limit: its index in the `LedgerTable` it was built with — the config's
/// `LimitId` (`Usage::limits` and the table are built in the same order).
pub use crate::config::LimitId;

/// How leases are sized and how long they live (module docs: "Leases").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeasePolicy {
    /// A lease holds what the configured rate refills in this long (1 ms).
    pub window_ns: u64,
    /// ... but at most `burst / (burst_divisor × cores)` tokens (8: all cores' leases
    /// together hold at most an eighth of the burst) ...
    pub burst_divisor: u32,
    /// ... and at most this many; and always at least 1.
    pub max_lease: u32,
    /// Unused lease tokens go back to the ledger after this long (10 ms).
    pub ttl_ns: u64,
}

impl Default for LeasePolicy {
    fn default() -> LeasePolicy {
        LeasePolicy {
            window_ns: 1_000_000,
            burst_divisor: 8,
            max_lease: 4096,
            ttl_ns: 10_000_000,
        }
    }
}

/// The shared bucket of one limit. Atomics only; on its own cache line pair so that two
/// ledgers never share a line (the adjacent-line prefetcher pairs 64-byte lines).
///
/// The bucket is held as GCRA's *theoretical arrival time* `tat` (ns on the `MonoClock`)
/// in one `AtomicU64`: tokens(now) = min(burst, (now + burst·T − tat) / T) with T = 1/rate.
/// That is the lazily refilled bucket `tokens = min(burst, tokens + rate·elapsed)`, but
/// tokens and "last refill" live in one word, so one CAS updates both consistently, and no
/// fraction of a token is lost however often it is read (two atomics could not be updated
/// together without a lock).
#[repr(align(128))]
#[derive(Debug)]
pub struct Ledger {
    tat: AtomicU64,
    /// T: ns per token, ceil(1e9 / rate) so the effective rate never exceeds `rate`.
    /// 0 marks a ledger that admits nothing (`rate` ≤ 0 or NaN, or `burst` 0).
    interval_ns: u64,
    /// τ = burst · T (saturating).
    tolerance_ns: u64,
    lease: u32,
    ttl_ns: u64,
    spec: LimitSpec,
}

impl Ledger {
    /// A full bucket.
    pub fn new(spec: LimitSpec, cores: usize, policy: LeasePolicy) -> Ledger {
        let blocked = spec.rate.is_nan() || spec.rate <= 0.0 || spec.burst == 0;
        let interval_ns = if blocked {
            0
        } else {
            // `as` saturates: a tiny rate gives u64::MAX, a huge one 0 → 1.
            ((1e9 / spec.rate).ceil() as u64).max(1)
        };
        let per_window = (spec.rate * policy.window_ns as f64 / 1e9) as u64;
        let share =
            u64::from(spec.burst) / (u64::from(policy.burst_divisor.max(1)) * cores.max(1) as u64);
        let lease = per_window
            .min(share)
            .min(u64::from(policy.max_lease))
            .max(1) as u32;
        Ledger {
            tat: AtomicU64::new(0),
            interval_ns,
            tolerance_ns: u64::from(spec.burst).saturating_mul(interval_ns),
            lease,
            ttl_ns: policy.ttl_ns,
            spec,
        }
    }

    /// A bucket holding `tokens` (at most `burst`) at `now_ns`.
    pub fn with_tokens(
        spec: LimitSpec,
        cores: usize,
        policy: LeasePolicy,
        tokens: u64,
        now_ns: u64,
    ) -> Ledger {
        let ledger = Ledger::new(spec, cores, policy);
        let tokens = tokens.min(u64::from(spec.burst));
        let missing = (u64::from(spec.burst) - tokens).saturating_mul(ledger.interval_ns);
        ledger
            .tat
            .store(now_ns.saturating_add(missing), Ordering::Relaxed);
        ledger
    }

    pub fn spec(&self) -> LimitSpec {
        self.spec
    }

    /// Tokens a core takes per lease refill.
    pub fn lease_size(&self) -> u32 {
        self.lease
    }

    pub(super) fn lease_ttl_ns(&self) -> u64 {
        self.ttl_ns
    }

    /// Whether this ledger admits nothing, ever (`burst` 0, or `rate` 0).
    pub fn is_blocked(&self) -> bool {
        self.interval_ns == 0
    }

    /// Tokens in the bucket at `now_ns` (not counting what cores hold in leases).
    pub fn available(&self, now_ns: u64) -> u64 {
        if self.is_blocked() {
            return 0;
        }
        let tat = self.tat.load(Ordering::Relaxed);
        let base = tat.max(now_ns);
        now_ns
            .saturating_add(self.tolerance_ns)
            .saturating_sub(base)
            / self.interval_ns
    }

    /// Take up to `want` tokens (as many as there are, if fewer). `Err` when there is not
    /// one: the ns until there will be (from this ledger's view), or `None` for never.
    pub fn try_take(&self, want: u32, now_ns: u64) -> Result<u32, Option<u64>> {
        self.exchange(0, want, now_ns)
    }

    /// Put back `tokens` taken earlier and not used (a full bucket stays full).
    pub fn give_back(&self, tokens: u32, now_ns: u64) {
        if tokens > 0 {
            let _ = self.exchange(tokens, 0, now_ns);
        }
    }

    /// Give back `back` tokens and take up to `want`, in one CAS.
    pub(super) fn exchange(&self, back: u32, want: u32, now_ns: u64) -> Result<u32, Option<u64>> {
        let t = self.interval_ns;
        if t == 0 {
            return Err(None);
        }
        let limit = now_ns.saturating_add(self.tolerance_ns);
        // Relaxed is enough: one location, every update a CAS; nothing else is published.
        let mut cur = self.tat.load(Ordering::Relaxed);
        loop {
            let returned = cur.saturating_sub(u64::from(back).saturating_mul(t));
            let base = returned.max(now_ns);
            let avail = limit.saturating_sub(base) / t;
            let took = avail.min(u64::from(want));
            let new = if took > 0 { base + took * t } else { returned };
            if new != cur
                && let Err(actual) =
                    self.tat
                        .compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                cur = actual;
                continue;
            }
            return if took > 0 || want == 0 {
                Ok(took as u32)
            } else {
                // One token is there when `limit` has moved past `base + t`.
                Err(Some((base + t).saturating_sub(limit)))
            };
        }
    }
}

/// Every limit's ledger, indexed by `LimitId`, with the stable keys they were built from so a
/// reload can carry unchanged ledgers over. Built on the control plane; cores only index it.
pub struct LedgerTable<K> {
    keys: Box<[K]>,
    ledgers: Arc<[Arc<Ledger>]>,
    cores: usize,
    policy: LeasePolicy,
}

impl<K: Eq + Hash + Clone> LedgerTable<K> {
    /// Ids are assigned in order: the n-th spec is `LimitId(n)`. Every bucket starts full.
    pub fn new(
        specs: impl IntoIterator<Item = (K, LimitSpec)>,
        cores: usize,
        policy: LeasePolicy,
    ) -> LedgerTable<K> {
        let (keys, ledgers): (Vec<K>, Vec<Arc<Ledger>>) = specs
            .into_iter()
            .map(|(k, spec)| (k, Arc::new(Ledger::new(spec, cores, policy))))
            .unzip();
        LedgerTable {
            keys: keys.into(),
            ledgers: ledgers.into(),
            cores,
            policy,
        }
    }

    /// The table for a reloaded config. A key whose spec is unchanged keeps its very ledger
    /// (`Arc`), so cores still on the old table and cores on the new one share one bucket. A
    /// key whose spec changed gets a new ledger holding min(new burst, what the old bucket
    /// held at `now_ns`), so a reload never hands out a fresh burst. A new key starts full.
    /// A key listed twice carries over once; the second gets its own full bucket.
    pub fn rebuild(
        &self,
        specs: impl IntoIterator<Item = (K, LimitSpec)>,
        now_ns: u64,
    ) -> LedgerTable<K> {
        let mut old: HashMap<&K, &Arc<Ledger>> =
            self.keys.iter().zip(self.ledgers.iter()).collect();
        let (cores, policy) = (self.cores, self.policy);
        let (keys, ledgers): (Vec<K>, Vec<Arc<Ledger>>) = specs
            .into_iter()
            .map(|(k, spec)| {
                let ledger = match old.remove(&k) {
                    Some(prev) if prev.spec() == spec => Arc::clone(prev),
                    Some(prev) => Arc::new(Ledger::with_tokens(
                        spec,
                        cores,
                        policy,
                        prev.available(now_ns),
                        now_ns,
                    )),
                    None => Arc::new(Ledger::new(spec, cores, policy)),
                };
                (k, ledger)
            })
            .collect();
        LedgerTable {
            keys: keys.into(),
            ledgers: ledgers.into(),
            cores,
            policy,
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn key(&self, id: LimitId) -> Option<&K> {
        self.keys.get(id.0 as usize)
    }

    pub fn ledger(&self, id: LimitId) -> Option<&Arc<Ledger>> {
        self.ledgers.get(id.0 as usize)
    }

    /// What a core's `Throttle` holds.
    pub(super) fn ledgers(&self) -> &Arc<[Arc<Ledger>]> {
        &self.ledgers
    }
}
