//! Request coalescing (RELIABILITY C11): one fill per key, waiters woken on fill or abandon.
//!
//! Lifecycle of a fill slot: `owner == 0` (free) → a miss CASes in its key's tag and holds
//! a [`FillPermit`] → the permit completes (stores the response) or is abandoned/dropped →
//! `owner = 0`, then `generation += 1`, then every registered waker is taken and woken.
//! A waiter reads `generation` *before* it sees the owner's tag, so the release that ends
//! the fill it waits for always moves `generation` past what it read (no lost wake-up), and
//! re-checks `generation` after registering its waker (SeqCst fences on both sides).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;

use super::store::{Insert, StageCache};

/// Fill slots per stage cache: at most this many keys fill at once with coalescing; a
/// miss whose slot is taken by another key goes to the backend uncoalesced.
pub const FILL_SLOTS: usize = 256;
/// Waiters per fill; later concurrent misses of the key go to the backend.
pub const FILL_WAITERS: usize = 32;

pub(super) struct FillTable {
    slots: Box<[FillSlot]>,
}

#[repr(align(128))]
struct FillSlot {
    owner: AtomicU64,
    generation: AtomicU64,
    waiters: [ArcSwapOption<Waker>; FILL_WAITERS],
}

impl FillTable {
    pub(super) fn new() -> FillTable {
        FillTable {
            slots: (0..FILL_SLOTS)
                .map(|_| FillSlot {
                    owner: AtomicU64::new(0),
                    generation: AtomicU64::new(0),
                    waiters: std::array::from_fn(|_| ArcSwapOption::empty()),
                })
                .collect(),
        }
    }

    fn index(hash: u64) -> usize {
        ((hash >> 16) as usize) & (FILL_SLOTS - 1)
    }

    fn release(&self, index: usize) {
        let slot = &self.slots[index];
        slot.owner.store(0, Ordering::SeqCst);
        slot.generation.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        for cell in &slot.waiters {
            if let Some(w) = cell.swap(None) {
                w.wake_by_ref();
            }
        }
    }
}

/// The answer to [`StageCache::lookup`] (`T`: what [`StageCache::lookup_with`] made of a hit).
#[derive(Debug)]
pub enum Lookup<T = Bytes> {
    /// A fresh entry: write it to the socket.
    Hit(T),
    /// The first miss of this key: fetch from the backend, then `complete` (or drop the
    /// permit to abandon, which wakes the waiters).
    Fill(FillPermit),
    /// Another request is filling this key: await this (with a timeout of your choosing),
    /// then `get` again; on a miss go to the backend.
    Wait(FillWait),
    /// No coalescing available (fill slot held by another key, or waiter list full): go to
    /// the backend, and `insert` the response if cacheable.
    Bypass,
}

/// The right and duty to fill one key. Dropping it without `complete` abandons the fill.
#[derive(Debug)]
pub struct FillPermit {
    cache: Arc<StageCache>,
    index: usize,
    hash: u64,
    released: bool,
}

/// A wait for another request's fill of the same key. Dropping it deregisters its waker.
#[derive(Debug)]
pub struct FillWait {
    cache: Arc<StageCache>,
    index: usize,
    generation: u64,
    registered: Option<(usize, Option<Arc<Waker>>)>,
}

impl StageCache {
    /// `get`, and on a miss the coalescing decision (module docs: "Coalescing"). Counts
    /// nothing: the caller records a hit for `Hit`, a miss for `Fill` and `Bypass`, and for
    /// `Wait` whatever its later `get` finds (`StageCache::record`).
    pub fn lookup(self: &Arc<Self>, key: &[u8], now: u64) -> Lookup {
        self.lookup_with(key, now, Bytes::clone)
    }

    /// `lookup`, with a hit read in place by `on_hit` (called at most once, while the entry
    /// is held: it must not wait): a hit that copies the response out takes no reference on
    /// the stored `Bytes`, whose count every core's hits of the key would share.
    pub fn lookup_with<T>(
        self: &Arc<Self>,
        key: &[u8],
        now: u64,
        mut on_hit: impl FnMut(&Bytes) -> T,
    ) -> Lookup<T> {
        let hash = self.hash(key);
        if let Some(b) = self.find_with(key, hash, now, &mut on_hit) {
            return Lookup::Hit(b);
        }
        let tag = hash.max(1);
        let index = FillTable::index(hash);
        let slot = &self.fills.slots[index];
        let generation = slot.generation.load(Ordering::SeqCst);
        match slot
            .owner
            .compare_exchange(0, tag, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => {
                let permit = FillPermit {
                    cache: Arc::clone(self),
                    index,
                    hash,
                    released: false,
                };
                // A fill may have completed between our miss and our CAS.
                if let Some(b) = self.find_with(key, hash, now, &mut on_hit) {
                    return Lookup::Hit(b); // dropping the permit releases it
                }
                Lookup::Fill(permit)
            }
            Err(t) if t == tag => Lookup::Wait(FillWait {
                cache: Arc::clone(self),
                index,
                generation,
                registered: None,
            }),
            Err(_) => Lookup::Bypass,
        }
    }
}

impl FillPermit {
    /// Stores the response (as `insert`) and wakes the waiters.
    pub fn complete(mut self, key: &[u8], value: Bytes, ttl: Duration, now: u64) -> Insert {
        debug_assert_eq!(self.cache.hash(key), self.hash, "complete with another key");
        let r = self.cache.insert(key, value, ttl, now);
        self.release();
        r
    }

    /// Gives up the fill (backend error, response not cacheable): the waiters go to the
    /// backend themselves. Same as dropping the permit.
    pub fn abandon(mut self) {
        self.release();
    }

    fn release(&mut self) {
        if !self.released {
            self.released = true;
            self.cache.fills.release(self.index);
        }
    }
}

impl Drop for FillPermit {
    fn drop(&mut self) {
        self.release();
    }
}

impl FillWait {
    /// True once the fill this waits for has completed or been abandoned.
    pub fn is_done(&self) -> bool {
        self.cache.fills.slots[self.index]
            .generation
            .load(Ordering::SeqCst)
            != self.generation
    }

    /// `Ready` once the fill is over; otherwise registers `waker` to be woken when it is.
    /// `Ready` too when all waiter cells are taken: the caller then goes to the backend.
    pub fn poll_done(&mut self, waker: &Waker) -> Poll<()> {
        if self.is_done() {
            self.deregister();
            return Poll::Ready(());
        }
        let same_waker = matches!(&self.registered, Some((_, Some(w))) if w.will_wake(waker));
        if !same_waker {
            self.deregister();
            let w = Some(Arc::new(waker.clone()));
            let slot = &self.cache.fills.slots[self.index];
            let free = slot.waiters.iter().position(|cell| {
                let prev = cell.compare_and_swap(&None::<Arc<Waker>>, w.clone());
                prev.is_none()
            });
            match free {
                Some(i) => self.registered = Some((i, w)),
                None => return Poll::Ready(()),
            }
        }
        fence(Ordering::SeqCst);
        if self.is_done() {
            self.deregister();
            return Poll::Ready(());
        }
        Poll::Pending
    }

    fn deregister(&mut self) {
        if let Some((i, w)) = self.registered.take() {
            let cell = &self.cache.fills.slots[self.index].waiters[i];
            cell.compare_and_swap(&w, None);
        }
    }
}

impl Future for FillWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().poll_done(cx.waker())
    }
}

impl Drop for FillWait {
    fn drop(&mut self) {
        self.deregister();
    }
}
