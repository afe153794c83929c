//! The stage response cache (DESIGN §6, SPEC-NOTES §6, RELIABILITY C11): pure core, no
//! request-path wiring. Time is an argument (`now_ns` on the shared `MonoClock`).
//!
//! # Shape
//!
//! One [`StageCache`] per stage, shared by every core behind an `Arc`. It is split into
//! `shards` (a power of two, default 64: more than 4 × cores on the machines we target)
//! chosen by the low bits of a 64-bit key hash (foldhash with a per-process random seed, so
//! a client cannot aim every key at one shard). Each shard is a fixed array of **slots**,
//! grouped in sets of [`WAYS`]; a key lives only in the set picked by the high bits of its
//! hash. A slot is an `ArcSwapOption<Entry>`: lookups are lock-free loads (no lock, no spin,
//! nothing a core waits on), writes are one compare-and-swap on one slot. An entry holds the
//! full key bytes (compared on every hit, so a hash collision is a miss, never a wrong
//! response), the serialized response as `Bytes` (a hit is a refcount clone), its expiry
//! and flush epoch, and its accounted size. A shard has `budget / 2 KiB` slots (a power of
//! two, 4 to 65,536; 8 bytes each), so the entry count is bounded too: many tiny responses
//! are limited by slots, large ones by bytes.
//!
//! Counters of what the cache holds (evictions, bytes, entries) are per-shard atomics summed
//! by [`StageCache::stats`]. Hits and misses are not counted by the lookups (a lookup that
//! finds a vary marker is not a hit): the wiring records each request's outcome per route
//! (`CacheHitCount`/`CacheMissCount`) with [`StageCache::record`], into cells of its own
//! core (`counts.rs`), so a hit does no atomic read-modify-write on shared memory.
//!
//! Why not a lock per shard: the crate has no `unsafe`, so a hand-made spin lock cannot
//! guard data (it needs an `UnsafeCell`), and std `Mutex` is banned on the data plane.
//! arc-swap is already a data-plane dependency, and per-slot CAS needs neither.
//!
//! # The byte bound
//!
//! `capacity` bytes in all; each shard's budget is `capacity / shards` (rounded down, so
//! the shards together never exceed `capacity`). An entry accounts `key + value +`
//! [`ENTRY_OVERHEAD`] bytes. Before publishing an entry, an insert *reserves* its size on
//! the shard's byte counter with a CAS that fails if the counter would pass the budget, and
//! evicts (CLOCK, below) until the reservation fits; an entry's size is given back only
//! after it has left its slot. So the counter never exceeds the budget, and what the slots
//! hold never exceeds the counter: the bound holds at every instant, under any interleaving.
//! An entry larger than `max_entry_bytes` (1 MiB as API Gateway: "responses larger than
//! 1,048,576 bytes are not cached") or than one shard's budget is refused.
//! (Responses already handed to a socket keep their `Bytes` alive after eviction; the bound
//! is on what the cache holds.)
//!
//! # Eviction: CLOCK
//!
//! A hit sets the entry's `referenced` bit (only if clear, so a hot key does not bounce
//! the line with stores). To make room, a shard's clock hand sweeps its slots: an expired or
//! flushed entry is removed, a referenced one loses its bit, the first unreferenced one is
//! evicted. CLOCK rather than LRU because LRU needs a shared list reordered on every hit,
//! i.e. a lock or a write per hit; CLOCK's hit costs one relaxed load. Within a set, an
//! insert replaces the same key, else an empty slot, else a dead one, else the set's first
//! unreferenced entry (set conflicts are evictions too).
//!
//! # Expiry, flush, invalidate
//!
//! An expired entry is a miss and is removed by the lookup that finds it. [`StageCache::flush`]
//! bumps the cache's epoch first (every older entry is a miss from that instant) and then
//! empties every slot; an insert that raced the flush is stored with the old epoch and is
//! dead on arrival. [`StageCache::invalidate`] removes one key (`Cache-Control: max-age=0`).
//!
//! # Coalescing (C11)
//!
//! [`StageCache::lookup`] answers a miss with a [`FillPermit`] for the first caller of a key,
//! a [`FillWait`] for concurrent callers of the same key, or `Bypass` when the key's fill
//! slot is held by another key (a bounded table of [`FILL_SLOTS`]) or its waiter list is
//! full ([`FILL_WAITERS`]): the caller then simply goes to the backend. A `FillWait` is a
//! `Future` (and `poll_done` for any executor or a thread) that completes when the fill
//! completes *or is abandoned* (error, non-cacheable response, permit dropped); the caller
//! bounds the wait with its own timeout, then calls `get` again and, on a miss, goes to the
//! backend itself.
//!
//! The request path (`dataplane::caching`) does not await the `FillWait` as a future: the
//! fill may complete on another core, and a monoio waker woken from another thread panics
//! unless monoio's `sync` feature is on. It polls `is_done` with a short backoff instead, so
//! its waiters take no waiter cell and are not limited by `FILL_WAITERS`.
//!
//! # Reload
//!
//! [`CacheSet::rebuild`] carries a stage's very `StageCache` (entries and all) over when its
//! identity and policy fingerprint are unchanged, and starts an empty one otherwise.
//!
//! # Allocation
//!
//! `get` and a hit from `lookup` do not allocate; [`KeyBuilder`] reuses its buffers. An insert
//! allocates the entry (one `Arc` and the key copy): it is on the miss path, next to a
//! backend round trip. A waiter allocates its `Arc<Waker>` once.

mod counts;
mod fill;
mod key;
mod set;
mod store;
#[cfg(test)]
mod tests;

pub use fill::{FILL_SLOTS, FILL_WAITERS, FillPermit, FillWait, Lookup};
pub use key::{KeyBuilder, KeyParam, ParamKind};
pub use set::CacheSet;
pub use store::{
    CachePolicy, CacheStats, DEFAULT_SHARDS, DEFAULT_TTL, ENTRY_OVERHEAD, Insert, MAX_ENTRY_BYTES,
    MAX_TTL, StageCache, WAYS,
};
