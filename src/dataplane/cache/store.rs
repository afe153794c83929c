//! `StageCache`: the sharded, byte-bounded entry store (module docs: "Shape", "The byte
//! bound", "Eviction: CLOCK").

use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use arc_swap::Guard;
use bytes::Bytes;
use hashbrown::DefaultHashBuilder;

use super::counts::HitCounts;
use super::fill::FillTable;

/// API Gateway's default `cacheTtlInSeconds`.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// API Gateway's maximum `cacheTtlInSeconds`; longer TTLs are clamped to it.
pub const MAX_TTL: Duration = Duration::from_secs(3600);
/// API Gateway does not cache responses larger than 1,048,576 bytes.
pub const MAX_ENTRY_BYTES: u64 = 1_048_576;
/// Shards per stage cache unless the policy says otherwise.
pub const DEFAULT_SHARDS: u32 = 64;
/// Slots per set: a key may live in any of the `WAYS` slots of its set.
pub const WAYS: usize = 4;
/// Bytes an entry accounts beyond its key and value: the `Entry`, its `Arc` and the
/// `Bytes` header, rounded up.
pub const ENTRY_OVERHEAD: u64 = 128;
/// Expected mean entry size, used only to size the slot arrays.
const SLOT_SIZING_BYTES: u64 = 2048;
/// At most this many slots per shard (8 bytes each).
const MAX_SLOTS_PER_SHARD: usize = 1 << 16;
/// Bounded retries when a concurrent writer changed the chosen slot under an insert.
const INSERT_ATTEMPTS: usize = 4;

/// The fixed shape of a stage cache. Changing any field starts an empty cache on reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CachePolicy {
    /// Total bytes the cache may hold (`cacheClusterSize`).
    pub capacity_bytes: u64,
    /// Larger responses are not stored (`MAX_ENTRY_BYTES`).
    pub max_entry_bytes: u64,
    /// A power of two; rounded up to one if not.
    pub shards: u32,
}

impl CachePolicy {
    pub fn with_capacity(capacity_bytes: u64) -> CachePolicy {
        CachePolicy {
            capacity_bytes,
            max_entry_bytes: MAX_ENTRY_BYTES,
            shards: DEFAULT_SHARDS,
        }
    }
}

/// What happened to an insert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    Stored,
    /// TTL 0: caching is off for this method.
    Disabled,
    /// Larger than `max_entry_bytes` or than one shard's budget.
    TooLarge,
    /// Eviction could not free enough of the shard (every slot changed under the sweep),
    /// or other writers kept changing the key's set: not stored, nothing else changed.
    Contended,
}

/// Totals over all shards and cores, read with relaxed loads (each number is exact, the set
/// of them is not one instant).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Hits and misses the wiring recorded (`StageCache::record`), every route and core.
    pub hits: u64,
    pub misses: u64,
    /// Live entries pushed out to make room (not expiries, flushes or invalidations).
    pub evictions: u64,
    pub bytes: u64,
    pub entries: u64,
}

pub(super) struct Entry {
    hash: u64,
    key: Box<[u8]>,
    value: Bytes,
    #[allow(dead_code)] // kept for the admin API's entry listing (age)
    inserted_at: u64,
    expires_at: u64,
    epoch: u64,
    size: u64,
    referenced: AtomicBool,
}

impl Entry {
    fn live(&self, now: u64, epoch: u64) -> bool {
        now < self.expires_at && self.epoch == epoch
    }
}

type Slot = ArcSwapOption<Entry>;
type SlotGuard = Guard<Option<Arc<Entry>>>;

/// One shard, on its own pair of cache lines so shards never share one.
#[repr(align(128))]
struct Shard {
    slots: Box<[Slot]>,
    bytes: AtomicU64,
    entries: AtomicU64,
    hand: AtomicUsize,
    evictions: AtomicU64,
}

/// One stage's cache, shared by all cores (`Arc<StageCache>`).
pub struct StageCache {
    policy: CachePolicy,
    shards: Box<[Shard]>,
    shard_mask: u64,
    set_mask: u64,
    shard_budget: u64,
    epoch: AtomicU64,
    hasher: DefaultHashBuilder,
    pub(super) fills: FillTable,
    /// `CacheHitCount` / `CacheMissCount` per route of the stage and core (none for a
    /// cache made with `new`).
    counts: HitCounts,
}

impl std::fmt::Debug for StageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageCache")
            .field("policy", &self.policy)
            .field("stats", &self.stats())
            .finish()
    }
}

fn same(a: &Option<Arc<Entry>>, b: &Option<Arc<Entry>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

impl StageCache {
    pub fn new(policy: CachePolicy) -> StageCache {
        StageCache::with_counts(policy, 0, 0)
    }

    /// A cache with hit/miss counts for `routes` routes on `cores` cores (`record`).
    pub fn with_counts(policy: CachePolicy, cores: usize, routes: usize) -> StageCache {
        let shards = policy.shards.max(1).next_power_of_two() as usize;
        let shard_budget = policy.capacity_bytes / shards as u64;
        let slots = ((shard_budget / SLOT_SIZING_BYTES) as usize)
            .next_power_of_two()
            .clamp(WAYS, MAX_SLOTS_PER_SHARD);
        let sets = slots / WAYS;
        StageCache {
            policy,
            shards: (0..shards)
                .map(|_| Shard {
                    slots: (0..slots).map(|_| Slot::empty()).collect(),
                    bytes: AtomicU64::new(0),
                    entries: AtomicU64::new(0),
                    hand: AtomicUsize::new(0),
                    evictions: AtomicU64::new(0),
                })
                .collect(),
            shard_mask: shards as u64 - 1,
            set_mask: sets as u64 - 1,
            shard_budget,
            epoch: AtomicU64::new(0),
            hasher: DefaultHashBuilder::default(),
            fills: FillTable::new(),
            counts: HitCounts::new(cores, routes),
        }
    }

    /// Counts a hit or a miss of route `route` on core `core` (API Gateway's
    /// `CacheHitCount` / `CacheMissCount`). Only `core`'s own thread may count for `core`:
    /// a count is a relaxed load and store of that core's cell, not an atomic
    /// read-modify-write (`counts.rs`). Lookups count nothing themselves: the wiring knows
    /// which lookup decided the request (a vary marker's is not a hit).
    pub fn record(&self, core: usize, route: usize, hit: bool) {
        self.counts.record(core, route, hit);
    }

    /// `(CacheHitCount, CacheMissCount)` of route `route`, over every core.
    pub fn route_counts(&self, route: usize) -> (u64, u64) {
        self.counts.route(route)
    }

    /// The routes the cache counts for (`with_counts`).
    pub fn routes(&self) -> usize {
        self.counts.routes()
    }

    /// The cores the cache counts for (`with_counts`).
    pub fn cores(&self) -> usize {
        self.counts.cores()
    }

    pub fn policy(&self) -> CachePolicy {
        self.policy
    }

    /// Bytes one shard may hold: `capacity / shards`.
    pub fn shard_budget(&self) -> u64 {
        self.shard_budget
    }

    /// Bytes an entry with this key and value accounts.
    pub fn entry_size(key: &[u8], value: &Bytes) -> u64 {
        key.len() as u64 + value.len() as u64 + ENTRY_OVERHEAD
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard(&self, hash: u64) -> &Shard {
        &self.shards[(hash & self.shard_mask) as usize]
    }

    fn set<'a>(&self, shard: &'a Shard, hash: u64) -> &'a [Slot] {
        let set = ((hash >> 32) & self.set_mask) as usize;
        &shard.slots[set * WAYS..(set + 1) * WAYS]
    }

    /// The stored response for `key` (not counted: see `record`). Expired and flushed
    /// entries are misses and are removed here.
    pub fn get(&self, key: &[u8], now: u64) -> Option<Bytes> {
        self.find(key, self.hash(key), now)
    }

    /// `get` with the key's hash.
    pub(super) fn find(&self, key: &[u8], hash: u64, now: u64) -> Option<Bytes> {
        self.find_with(key, hash, now, Bytes::clone)
    }

    /// `find`, reading the stored value in place: `f` runs while the entry is held (so it
    /// must not wait), and the value's shared reference count is not touched unless `f`
    /// clones it.
    pub(super) fn find_with<T>(
        &self,
        key: &[u8],
        hash: u64,
        now: u64,
        f: impl FnOnce(&Bytes) -> T,
    ) -> Option<T> {
        let shard = self.shard(hash);
        let epoch = self.epoch.load(Ordering::Acquire);
        for slot in self.set(shard, hash) {
            let g = slot.load();
            let Some(e) = g.as_ref() else { continue };
            if e.hash != hash || *e.key != *key {
                continue;
            }
            if !e.live(now, epoch) {
                shard.remove(slot, &g);
                return None;
            }
            if !e.referenced.load(Ordering::Relaxed) {
                e.referenced.store(true, Ordering::Relaxed);
            }
            return Some(f(&e.value));
        }
        None
    }

    /// Stores `value` for `key` for `ttl` (clamped to `MAX_TTL`; zero stores nothing),
    /// evicting first so the byte bound holds throughout.
    pub fn insert(&self, key: &[u8], value: Bytes, ttl: Duration, now: u64) -> Insert {
        if ttl.is_zero() {
            return Insert::Disabled;
        }
        let size = StageCache::entry_size(key, &value);
        if value.len() as u64 > self.policy.max_entry_bytes || size > self.shard_budget {
            return Insert::TooLarge;
        }
        let hash = self.hash(key);
        let shard = self.shard(hash);
        let epoch = self.epoch.load(Ordering::Acquire);
        if !shard.reserve(size, self.shard_budget, now, epoch) {
            return Insert::Contended;
        }
        let ttl_ns = ttl.min(MAX_TTL).as_nanos() as u64;
        let entry = Some(Arc::new(Entry {
            hash,
            key: key.into(),
            value,
            inserted_at: now,
            expires_at: now.saturating_add(ttl_ns),
            epoch,
            size,
            referenced: AtomicBool::new(false),
        }));
        let set = self.set(shard, hash);
        for _ in 0..INSERT_ATTEMPTS {
            let (slot, current) = pick(set, hash, key, now, epoch);
            let prev = slot.compare_and_swap(&current, entry.clone());
            if same(&prev, &current) {
                shard.entries.fetch_add(1, Ordering::Relaxed);
                if let Some(old) = current.as_ref() {
                    shard.release(old.size);
                    let replaced = old.hash == hash && *old.key == *key;
                    if old.live(now, epoch) && !replaced {
                        shard.evictions.fetch_add(1, Ordering::Relaxed);
                    }
                }
                // Drop a copy a racing insert of the same key put in another way.
                for other in set.iter().filter(|o| !std::ptr::eq(*o, slot)) {
                    let g = other.load();
                    if let Some(e) = g.as_ref()
                        && e.hash == hash
                        && *e.key == *key
                    {
                        shard.remove(other, &g);
                    }
                }
                return Insert::Stored;
            }
        }
        shard.bytes.fetch_sub(size, Ordering::AcqRel);
        Insert::Contended
    }

    /// Removes `key`'s entry; true if there was one. Two racing inserts of one key can
    /// leave it in two ways of its set for a while: every copy goes.
    pub fn invalidate(&self, key: &[u8]) -> bool {
        let hash = self.hash(key);
        let shard = self.shard(hash);
        let mut removed = false;
        for slot in self.set(shard, hash) {
            let g = slot.load();
            if let Some(e) = g.as_ref()
                && e.hash == hash
                && *e.key == *key
            {
                removed |= shard.remove(slot, &g);
            }
        }
        removed
    }

    /// Empties the cache: every entry stored before the call is a miss from now on.
    pub fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for shard in self.shards.iter() {
            for slot in shard.slots.iter() {
                if let Some(old) = slot.swap(None) {
                    shard.release(old.size);
                }
            }
        }
    }

    pub fn stats(&self) -> CacheStats {
        let (hits, misses) = self.counts.total();
        let mut s = CacheStats {
            hits,
            misses,
            ..CacheStats::default()
        };
        for shard in self.shards.iter() {
            s.evictions += shard.evictions.load(Ordering::Relaxed);
            s.bytes += shard.bytes.load(Ordering::Relaxed);
            s.entries += shard.entries.load(Ordering::Relaxed);
        }
        s
    }

    /// The largest byte count any shard holds, and the budget: tests check the bound with it.
    pub fn max_shard_bytes(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.bytes.load(Ordering::Acquire))
            .max()
            .unwrap_or(0)
    }
}

/// The slot of `set` an insert of `key` should take, and what it holds now: the same key,
/// else an empty slot, else a dead entry, else the first unreferenced entry (clearing the
/// referenced bits it passes), else the first slot.
fn pick<'a>(set: &'a [Slot], hash: u64, key: &[u8], now: u64, epoch: u64) -> (&'a Slot, SlotGuard) {
    let mut best: Option<(usize, u8)> = None; // (way, rank): lower rank wins
    for (way, slot) in set.iter().enumerate() {
        let g = slot.load();
        let rank = match g.as_ref() {
            Some(e) if e.hash == hash && *e.key == *key => 0,
            None => 1,
            Some(e) if !e.live(now, epoch) => 2,
            Some(e) if !e.referenced.swap(false, Ordering::Relaxed) => 3,
            Some(_) => 4,
        };
        if best.is_none_or(|(_, r)| rank < r) {
            best = Some((way, rank));
            if rank == 0 {
                return (slot, g);
            }
        }
    }
    let way = best.map_or(0, |(w, _)| w);
    (&set[way], set[way].load())
}

impl Shard {
    /// Removes what `current` holds from `slot` if the slot still holds it.
    fn remove(&self, slot: &Slot, current: &SlotGuard) -> bool {
        let prev = slot.compare_and_swap(current, None);
        if same(&prev, current)
            && let Some(old) = current.as_ref()
        {
            self.release(old.size);
            return true;
        }
        false
    }

    fn release(&self, size: u64) {
        self.bytes.fetch_sub(size, Ordering::AcqRel);
        self.entries.fetch_sub(1, Ordering::Relaxed);
    }

    /// Reserves `size` bytes under `budget`, evicting with the clock hand as needed.
    fn reserve(&self, size: u64, budget: u64, now: u64, epoch: u64) -> bool {
        let mask = self.slots.len() - 1;
        let mut sweep = 0;
        loop {
            let cur = self.bytes.load(Ordering::Acquire);
            if cur + size <= budget {
                if self
                    .bytes
                    .compare_exchange_weak(cur, cur + size, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return true;
                }
                continue;
            }
            // Evict one entry: at most two turns of the clock per reservation.
            loop {
                if sweep >= 2 * self.slots.len() {
                    return false;
                }
                sweep += 1;
                let slot = &self.slots[self.hand.fetch_add(1, Ordering::Relaxed) & mask];
                let g = slot.load();
                let Some(e) = g.as_ref() else { continue };
                let live = e.live(now, epoch);
                if live && e.referenced.swap(false, Ordering::Relaxed) {
                    continue;
                }
                if self.remove(slot, &g) {
                    if live {
                        self.evictions.fetch_add(1, Ordering::Relaxed);
                    }
                    break;
                }
            }
        }
    }
}
