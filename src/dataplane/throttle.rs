//! Throttling and quotas (DESIGN §5): token buckets that are exact in aggregate across
//! cores, leased to cores in small pieces, and exact quota counters. Pure: time is an
//! argument (`now_ns` from one shared `MonoClock` for buckets; UTC UNIX seconds for quotas).
//!
//! # Ledgers
//!
//! Each limit (account, stage, stage+method, plan+key, plan+key+method) has one [`Ledger`],
//! shared by all cores: a token bucket of capacity `burstLimit` refilled at `rateLimit`
//! tokens/s, kept as one `AtomicU64` (GCRA's theoretical arrival time, see [`Ledger`]) and
//! updated lock-free by CAS, lazily, only when a core refills a lease. A [`LedgerTable`]
//! holds the ledgers of a config, indexed by dense [`LimitId`]; `rebuild` carries over the
//! very ledger (`Arc`) of every limit whose key and spec a reload kept.
//!
//! Edge cases: `burstLimit` 0 admits nothing (a bucket that can never hold a whole token;
//! "rate and burst 0 blocks the method" is the usual reading of API Gateway, [UNVERIFIED]).
//! `rateLimit` 0 (or NaN, or negative) also admits nothing: a bucket that never refills would
//! hand out one burst per process or reload, which is no limit anyone means. Both answer with
//! no `Retry-After` (`retry_after_ns: None`). `burstLimit` below `rateLimit` is honoured as
//! is (at most `burst` at once). A rate is applied as T = ceil(1e9 / rate) ns per token, so
//! the effective rate is at most the configured one (10,000 rps: exact; 3 rps: 1 part in
//! 10⁹ less).
//!
//! # Leases
//!
//! A core's [`Throttle`] admits from its own **lease** of each ledger with plain integer
//! arithmetic, and touches the ledger's atomic only to refill a lease that is empty or
//! expired (one CAS both gives back the expired rest and takes a fresh lease). The lease
//! size is `L = clamp(rate × 1 ms, 1, max(1, burst / (8 × cores)), 4096)` tokens
//! ([`LeasePolicy`]): used within about a millisecond at the configured rate, and all cores'
//! leases together hold at most an eighth of the burst (or one token per core for small
//! bursts). Account default (10,000 rps, burst 5,000) on 2 cores: L = 10.
//!
//! Unused lease tokens go back to the ledger after 10 ms (on the core's next use of that
//! limit, or `release_expired` from the core's ticker), on `switch` to a reloaded table, and
//! when the `Throttle` is dropped. After an empty ledger, a core rejects locally (no atomic)
//! until the next token is due, at most 1 ms, so a flood of rejects does not hammer the line.
//!
//! # The bound
//!
//! For one limit with rate R, burst B, C cores (`Throttle`s) and lease size L:
//!
//! 1. From the ledger's creation to time t, all cores together admit at most **B + R·t**.
//!    Leases are paid for when taken, so what cores admit never exceeds what the bucket
//!    gave out, and a bucket never gives out more than B + R·t.
//! 2. Over any interval of length Δ, all cores together admit at most **B + R·Δ + C·L**:
//!    the bucket's B + R·Δ plus tokens leased before the interval (at most L per core; a
//!    lease that was just refilled holds L − 1 after the request that refilled it, or L
//!    when a later level rejected that request).
//! 3. It does not under-admit: demand on any subset of cores, even one, is served from the
//!    whole bucket (a static split would give one busy core R/C). What is not admitted
//!    while there is demand is at most the C·L tokens sitting in other cores' leases (back
//!    within 10 ms) and tokens given back during a core's ≤ 1 ms local-reject window.
//!
//! # Multi-level admission
//!
//! [`Throttle::admit`] checks up to five limits (per key+method, key, stage+method, stage,
//! account — in API Gateway's order) and admits only if every one has a token: check, then
//! commit, so a request rejected at one level consumes no token at any level (RELIABILITY
//! RL06). [`Throttled`] names the rejecting level and when it next has a token.
//!
//! # Quotas
//!
//! [`QuotaCounter`]: an exact count per (plan, key) and UTC calendar period (DAY, WEEK from
//! Monday, MONTH from the 1st), one packed `AtomicU64` updated by CAS, so the number
//! admitted in a period never exceeds the limit; `offset` is subtracted from the limit in
//! the counter's initial period. [`QuotaTable`] carries counters over a reload by key and
//! exports/imports their state for persistence.
//!
//! [`DailyUsage`]: per (plan, key), the requests admitted on each of the last 90 UTC days,
//! for the admin API's `GetUsage`; [`DailyTable`] carries them over a reload by key.
//!
//! Nothing on the request path allocates: `admit`, `refund`, `release_expired` and
//! `QuotaTable::charge` index pre-sized tables; only construction, `rebuild`, `switch` and
//! export/import (control plane or reload) allocate.
//!
//! Memory: a ledger is 128 bytes (256 with its `Arc`), a lease 32 bytes per core per limit.

mod daily;
mod lease;
mod ledger;
mod quota;

pub use daily::{DailyTable, DailyUsage, Days, USAGE_DAYS};
pub use lease::{MonoClock, Throttle, Throttled};
pub use ledger::{LeasePolicy, Ledger, LedgerTable, LimitId, LimitSpec};
pub use quota::{
    MAX_QUOTA, QuotaCounter, QuotaExceeded, QuotaId, QuotaPeriod, QuotaSpec, QuotaState,
    QuotaTable, period_number, period_start,
};

#[cfg(test)]
mod tests;
