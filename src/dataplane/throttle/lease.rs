//! A core's leases (`Throttle`) and multi-level admission.

use std::hash::Hash;
use std::sync::Arc;
use std::time::Instant;

use super::ledger::{Ledger, LedgerTable, LimitId};

/// Monotonic nanoseconds since an origin. Ledgers compare times from every core, so all
/// cores must share one origin: make one `MonoClock` and copy it to each core.
#[derive(Clone, Copy, Debug)]
pub struct MonoClock {
    origin: Instant,
}

impl MonoClock {
    pub fn new() -> MonoClock {
        MonoClock {
            origin: Instant::now(),
        }
    }

    pub fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// The instant of a reading of [`MonoClock::now_ns`] (no clock read).
    pub fn instant_at(&self, ns: u64) -> Instant {
        self.origin + std::time::Duration::from_nanos(ns)
    }
}

impl Default for MonoClock {
    fn default() -> Self {
        MonoClock::new()
    }
}

/// A request was throttled: `429 Too Many Requests`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    /// Index, in the slice given to `admit`, of the first level that had no token.
    pub level: u8,
    /// When that level will next have a token, from this core's view (other cores may take
    /// it first, and another level may still be empty): `None` for a limit that admits
    /// nothing, ever.
    pub retry_after_ns: Option<u64>,
}

impl Throttled {
    /// For `Retry-After`: whole seconds, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_ns
            .map(|ns| ns.div_ceil(1_000_000_000).max(1))
    }
}

/// One core's lease on one ledger.
#[derive(Clone, Copy, Debug, Default)]
struct Lease {
    /// Taken from the ledger, not yet admitted.
    tokens: u32,
    /// In `Throttle::active` (so the sweep finds it).
    listed: bool,
    /// `tokens` go back to the ledger at this time.
    expires_ns: u64,
    /// With no tokens: the ledger was empty; reject locally until this time...
    recheck_ns: u64,
    /// ...and say the next token comes at this time (`u64::MAX`: never).
    next_token_ns: u64,
}

/// A core's leases, indexed by limit id, in whole 128-byte lines of their own: written on
/// every admit, they must not share a line with another core's heap data (without this,
/// two cores' small lease buffers from one malloc arena measurably slowed each other).
#[derive(Clone, Debug, Default)]
struct Leases {
    lines: Vec<LeaseLine>,
    len: usize,
}

#[repr(C, align(128))]
#[derive(Clone, Copy, Debug, Default)]
struct LeaseLine([Lease; 4]);

impl Leases {
    fn new(len: usize) -> Leases {
        Leases {
            lines: vec![LeaseLine::default(); len.div_ceil(4)],
            len,
        }
    }

    #[inline]
    fn get(&self, idx: usize) -> Option<&Lease> {
        (idx < self.len).then(|| &self.lines[idx / 4].0[idx % 4])
    }

    #[inline]
    fn get_mut(&mut self, idx: usize) -> Option<&mut Lease> {
        (idx < self.len).then(|| &mut self.lines[idx / 4].0[idx % 4])
    }
}

/// A core's handle on every limit: its leases, owned (`&mut self`, no sharing), plus the
/// shared ledgers. Nothing here allocates after construction/`switch`. Aligned so the
/// handle itself (read on every admit) shares no line with another core's data.
#[repr(align(128))]
pub struct Throttle {
    ledgers: Arc<[Arc<Ledger>]>,
    leases: Leases,
    /// Ids whose lease may hold tokens (capacity = number of limits, so no push reallocates).
    active: Vec<u32>,
}

/// A core that saw an empty ledger rejects locally for at most this long before looking at
/// the ledger again (tokens given back by other cores become visible within it).
const RECHECK_MAX_NS: u64 = 1_000_000;

impl Throttle {
    pub fn new<K: Eq + Hash + Clone>(table: &LedgerTable<K>) -> Throttle {
        let n = table.len();
        Throttle {
            ledgers: Arc::clone(table.ledgers()),
            leases: Leases::new(n),
            active: Vec::with_capacity(n),
        }
    }

    /// Move to a reloaded table: every lease goes back to its (old) ledger first, so tokens
    /// leased from a ledger that the new table carried over are not lost. No-op when the
    /// table is the one in use. Allocates (once per reload, not per request).
    pub fn switch<K: Eq + Hash + Clone>(&mut self, table: &LedgerTable<K>, now_ns: u64) {
        if Arc::ptr_eq(&self.ledgers, table.ledgers()) {
            return;
        }
        self.release_all(now_ns);
        let n = table.len();
        self.ledgers = Arc::clone(table.ledgers());
        self.leases = Leases::new(n);
        self.active = Vec::with_capacity(n);
    }

    /// Admit one request on every level of `limits` (in API Gateway's order, most specific
    /// first), or on none. Check, then commit: first every level's lease is made to hold a
    /// token (refilling from its ledger if needed); only if all do is one token taken from
    /// each. A rejected request therefore consumes no token anywhere; a refill it caused on
    /// an earlier level stays in this core's lease for the next request (and goes back to
    /// the ledger when it expires). An id listed twice is charged once. An id not in the
    /// table (a wiring bug) is skipped: like API Gateway, an internal failure of the usage
    /// plan check lets the request through.
    pub fn admit(&mut self, limits: &[LimitId], now_ns: u64) -> Result<(), Throttled> {
        for (level, id) in limits.iter().enumerate() {
            if let Err(retry_after_ns) = self.ensure_token(id.0 as usize, now_ns) {
                return Err(Throttled {
                    level: level.min(u8::MAX as usize) as u8,
                    retry_after_ns,
                });
            }
        }
        for (i, id) in limits.iter().enumerate() {
            if !limits[..i].contains(id)
                && let Some(lease) = self.leases.get_mut(id.0 as usize)
            {
                debug_assert!(lease.tokens > 0 || self.ledgers.len() <= id.0 as usize);
                lease.tokens = lease.tokens.saturating_sub(1);
            }
        }
        Ok(())
    }

    /// Undo an `admit` of `limits` (e.g. the quota then said no and the request should not
    /// count against the rate): the tokens go back to this core's leases, or to the ledger
    /// when a lease is full.
    pub fn refund(&mut self, limits: &[LimitId], now_ns: u64) {
        for (i, id) in limits.iter().enumerate() {
            let idx = id.0 as usize;
            let (Some(ledger), Some(lease)) = (self.ledgers.get(idx), self.leases.get_mut(idx))
            else {
                continue;
            };
            if limits[..i].contains(id) {
                continue;
            }
            if lease.tokens < ledger.lease_size() {
                lease.tokens += 1;
                if !lease.listed {
                    lease.listed = true;
                    self.active.push(id.0);
                }
            } else {
                ledger.give_back(1, now_ns);
            }
        }
    }

    /// Give back the tokens of leases that expired (the core's ticker calls this), so an idle
    /// core holds nothing another core could use.
    pub fn release_expired(&mut self, now_ns: u64) {
        self.release(now_ns, false);
    }

    /// Give back every lease (drain, `switch`).
    pub fn release_all(&mut self, now_ns: u64) {
        self.release(now_ns, true);
    }

    fn release(&mut self, now_ns: u64, all: bool) {
        let (ledgers, leases) = (&self.ledgers, &mut self.leases);
        self.active.retain(|&id| {
            let Some(lease) = leases.get_mut(id as usize) else {
                return false;
            };
            if lease.tokens > 0 && (all || now_ns >= lease.expires_ns) {
                ledgers[id as usize].give_back(lease.tokens, now_ns);
                lease.tokens = 0;
            }
            lease.listed = lease.tokens > 0;
            lease.listed
        });
    }

    /// Tokens this core holds for `id` (tests, admin).
    pub fn leased(&self, id: LimitId) -> u32 {
        self.leases.get(id.0 as usize).map_or(0, |l| l.tokens)
    }

    /// Make `leases[idx]` hold at least one token, or say when it might.
    #[inline]
    fn ensure_token(&mut self, idx: usize, now_ns: u64) -> Result<(), Option<u64>> {
        let (Some(ledger), Some(lease)) = (self.ledgers.get(idx), self.leases.get_mut(idx)) else {
            return Ok(()); // not in this core's table: fail open (see `admit`)
        };
        if lease.tokens > 0 {
            if now_ns < lease.expires_ns {
                return Ok(());
            }
        } else if now_ns < lease.recheck_ns {
            return Err(retry(lease.next_token_ns, now_ns));
        }
        // Refill: one CAS gives back what expired and takes a fresh lease.
        match ledger.exchange(lease.tokens, ledger.lease_size(), now_ns) {
            Ok(took) => {
                lease.tokens = took;
                lease.expires_ns = now_ns.saturating_add(ledger.lease_ttl_ns());
                if !lease.listed {
                    lease.listed = true;
                    self.active.push(idx as u32);
                }
                Ok(())
            }
            Err(wait) => {
                lease.tokens = 0;
                lease.next_token_ns = wait.map_or(u64::MAX, |w| now_ns.saturating_add(w));
                lease.recheck_ns =
                    now_ns.saturating_add(wait.unwrap_or(u64::MAX).min(RECHECK_MAX_NS));
                Err(wait)
            }
        }
    }
}

fn retry(next_token_ns: u64, now_ns: u64) -> Option<u64> {
    (next_token_ns != u64::MAX).then(|| next_token_ns.saturating_sub(now_ns))
}

impl Drop for Throttle {
    fn drop(&mut self) {
        // A core going away hands its leases back; the clock does not matter for a give-back
        // except to cap the bucket, so 0 (the past) never loses a token to the cap early.
        let (ledgers, leases) = (&self.ledgers, &self.leases);
        for &id in &self.active {
            if let (Some(ledger), Some(lease)) = (ledgers.get(id as usize), leases.get(id as usize))
                && lease.tokens > 0
            {
                ledger.give_back(lease.tokens, 0);
            }
        }
    }
}
