//! The stage cache, driven by an injected clock; the concurrency tests use plain threads
//! and hand-made wakers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;

use super::*;

const SEC: u64 = 1_000_000_000;

fn policy(capacity: u64, shards: u32) -> CachePolicy {
    CachePolicy {
        capacity_bytes: capacity,
        max_entry_bytes: MAX_ENTRY_BYTES,
        shards,
    }
}

fn body(n: usize, fill: u8) -> Bytes {
    Bytes::from(vec![fill; n])
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn cache_hit_miss_and_expiry_with_injected_clock() {
    let c = StageCache::new(policy(1 << 20, 4));
    assert_eq!(c.get(b"GET /a", 0), None);
    assert_eq!(
        c.insert(b"GET /a", body(10, 1), Duration::from_secs(300), 0),
        Insert::Stored
    );
    assert_eq!(c.get(b"GET /a", 299 * SEC), Some(body(10, 1)));
    assert_eq!(c.get(b"GET /b", 299 * SEC), None);
    assert_eq!(c.get(b"GET /a", 300 * SEC), None, "expired at exactly ttl");
    let s = c.stats();
    assert_eq!((s.entries, s.bytes), (0, 0), "expired entry removed");
    assert_eq!(
        (s.hits, s.misses),
        (0, 0),
        "lookups count nothing themselves"
    );
}

#[test]
fn cache_ttl_zero_never_stores_and_ttl_clamps_to_max() {
    let c = StageCache::new(policy(1 << 20, 4));
    assert_eq!(
        c.insert(b"k", body(1, 0), Duration::ZERO, 0),
        Insert::Disabled
    );
    assert_eq!(c.get(b"k", 0), None);
    assert_eq!(c.stats().entries, 0);
    c.insert(b"k", body(1, 0), Duration::from_secs(86_400), 0);
    assert!(c.get(b"k", 3599 * SEC).is_some());
    assert_eq!(c.get(b"k", 3600 * SEC), None, "TTL clamped to 3600 s");
}

#[test]
fn cache_oversize_refused() {
    let c = StageCache::new(policy(64 << 20, 4));
    let max = MAX_ENTRY_BYTES as usize;
    assert_eq!(
        c.insert(b"big", body(max + 1, 0), DEFAULT_TTL, 0),
        Insert::TooLarge
    );
    assert_eq!(
        c.insert(b"max", body(max, 0), DEFAULT_TTL, 0),
        Insert::Stored
    );
    // Larger than one shard's budget (4 KiB / 4 shards = 1 KiB).
    let small = StageCache::new(policy(4096, 4));
    assert_eq!(small.shard_budget(), 1024);
    assert_eq!(
        small.insert(b"k", body(1000, 0), DEFAULT_TTL, 0),
        Insert::TooLarge
    );
    assert_eq!(small.stats().entries, 0);
}

#[test]
fn cache_bound_holds_under_twice_capacity_of_distinct_keys() {
    let cap = 256 * 1024;
    let c = StageCache::new(policy(cap, 16));
    let size = 1000;
    let per = StageCache::entry_size(b"GET /item/00000", &body(size, 0));
    let n = 2 * cap / per;
    let mut stored = 0;
    for i in 0..n {
        let key = format!("GET /item/{i:05}");
        if c.insert(key.as_bytes(), body(size, 0), DEFAULT_TTL, 0) == Insert::Stored {
            stored += 1;
        }
        assert!(c.max_shard_bytes() <= c.shard_budget());
        assert!(c.stats().bytes <= cap);
    }
    let s = c.stats();
    assert_eq!(stored, n, "eviction made room for every insert");
    assert!(s.evictions > 0);
    assert_eq!(
        s.bytes,
        s.entries * per,
        "accounting matches the entries held"
    );
    assert!(s.bytes > cap / 2, "cache is not left mostly empty: {s:?}");
}

#[test]
fn cache_bound_holds_with_random_sizes() {
    let cap = 512 * 1024;
    let c = StageCache::new(policy(cap, 8));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..5000 {
        let size = (rng.next() % 20_000) as usize;
        let key = format!("GET /r/{}", rng.next() % 3000);
        c.insert(key.as_bytes(), body(size, i as u8), DEFAULT_TTL, i * 1000);
        if i % 3 == 0 {
            c.get(key.as_bytes(), i * 1000);
        }
        assert!(c.max_shard_bytes() <= c.shard_budget(), "at insert {i}");
    }
    assert!(c.stats().bytes <= cap);
}

#[test]
fn cache_key_query_order_does_not_split() {
    let q = |n: &'static str, v: &'static str| KeyParam {
        kind: ParamKind::Query,
        name: n.as_bytes(),
        value: Some(v.as_bytes()),
    };
    let h = |n: &'static str, v: &'static str| KeyParam {
        kind: ParamKind::Header,
        name: n.as_bytes(),
        value: Some(v.as_bytes()),
    };
    let mut kb = KeyBuilder::new();
    let a = kb
        .build(
            b"GET",
            b"/pets",
            &[q("a", "1"), q("b", "2"), h("X-Tenant", "t")],
        )
        .to_vec();
    let b = kb
        .build(
            b"GET",
            b"/pets",
            &[h("x-tenant", "t"), q("b", "2"), q("a", "1")],
        )
        .to_vec();
    assert_eq!(a, b, "order and header-name case do not split the key");
    let c = kb
        .build(b"GET", b"/pets", &[q("a", "2"), q("b", "1")])
        .to_vec();
    assert_ne!(a, c);
    let absent = kb
        .build(
            b"GET",
            b"/pets",
            &[KeyParam {
                kind: ParamKind::Query,
                name: b"a",
                value: None,
            }],
        )
        .to_vec();
    let empty = kb.build(b"GET", b"/pets", &[q("a", "")]).to_vec();
    assert_ne!(absent, empty, "absent and empty values are different keys");
    // A value cannot forge another parameter.
    let forged = kb.build(b"GET", b"/pets", &[q("a", "1\0\x01b")]).to_vec();
    assert_ne!(
        forged,
        kb.build(b"GET", b"/pets", &[q("a", "1"), q("b", "")])
            .to_vec()
    );
    assert_ne!(
        kb.build(b"GET", b"/pets", &[]).to_vec(),
        kb.build(b"HEAD", b"/pets", &[]).to_vec()
    );
}

#[test]
fn cache_key_builder_reuses_its_buffer() {
    let mut kb = KeyBuilder::new();
    let params = [KeyParam {
        kind: ParamKind::Query,
        name: b"id",
        value: Some(b"42"),
    }];
    let p1 = kb.build(b"GET", b"/a/b", &params).as_ptr();
    let p2 = kb.build(b"GET", b"/a/c", &params).as_ptr();
    assert_eq!(p1, p2, "no reallocation for a key of the same size");
}

#[test]
fn cache_flush_and_invalidate() {
    let c = StageCache::new(policy(1 << 20, 4));
    for i in 0..50 {
        c.insert(format!("k{i}").as_bytes(), body(100, 0), DEFAULT_TTL, 0);
    }
    assert!(c.invalidate(b"k7"));
    assert!(!c.invalidate(b"k7"));
    assert_eq!(c.get(b"k7", 1), None);
    assert!(c.get(b"k8", 1).is_some());
    c.flush();
    assert_eq!(c.stats().bytes, 0);
    assert_eq!(c.stats().entries, 0);
    for i in 0..50 {
        assert_eq!(c.get(format!("k{i}").as_bytes(), 1), None);
    }
    assert_eq!(c.insert(b"k1", body(1, 0), DEFAULT_TTL, 2), Insert::Stored);
    assert!(c.get(b"k1", 3).is_some(), "usable after a flush");
}

#[test]
fn cache_replacing_a_key_keeps_one_entry() {
    let c = StageCache::new(policy(1 << 20, 4));
    c.insert(b"k", body(100, 1), DEFAULT_TTL, 0);
    c.insert(b"k", body(200, 2), DEFAULT_TTL, 0);
    assert_eq!(c.get(b"k", 1), Some(body(200, 2)));
    let s = c.stats();
    assert_eq!((s.entries, s.evictions), (1, 0));
    assert_eq!(s.bytes, StageCache::entry_size(b"k", &body(200, 2)));
}

#[test]
fn cache_coalescing_one_filler_waiters_woken_on_fill() {
    let c = Arc::new(StageCache::new(policy(1 << 20, 4)));
    let Lookup::Fill(permit) = c.lookup(b"GET /cold", 0) else {
        panic!("first miss fills")
    };
    let mut waits: Vec<FillWait> = (0..5)
        .map(|_| match c.lookup(b"GET /cold", 0) {
            Lookup::Wait(w) => w,
            other => panic!("concurrent miss waits, got {other:?}"),
        })
        .collect();
    let flags: Vec<Arc<Flag>> = (0..5).map(|_| Arc::new(Flag::default())).collect();
    for (w, f) in waits.iter_mut().zip(&flags) {
        assert_eq!(w.poll_done(&Waker::from(Arc::clone(f))), Poll::Pending);
    }
    assert_eq!(
        permit.complete(b"GET /cold", body(10, 7), DEFAULT_TTL, 0),
        Insert::Stored
    );
    for (w, f) in waits.iter_mut().zip(&flags) {
        assert!(f.0.load(Ordering::SeqCst), "woken on fill");
        assert!(w.is_done());
        assert_eq!(w.poll_done(&Waker::from(Arc::clone(f))), Poll::Ready(()));
        assert_eq!(c.get(b"GET /cold", 0), Some(body(10, 7)));
    }
    assert!(matches!(c.lookup(b"GET /cold", 0), Lookup::Hit(_)));
}

#[test]
fn cache_coalescing_waiters_woken_on_abandon_and_drop() {
    let c = Arc::new(StageCache::new(policy(1 << 20, 4)));
    for abandon in [true, false] {
        let Lookup::Fill(permit) = c.lookup(b"k", 0) else {
            panic!()
        };
        let Lookup::Wait(mut w) = c.lookup(b"k", 0) else {
            panic!()
        };
        let f = Arc::new(Flag::default());
        assert_eq!(w.poll_done(&Waker::from(Arc::clone(&f))), Poll::Pending);
        if abandon {
            permit.abandon();
        } else {
            drop(permit);
        }
        assert!(f.0.load(Ordering::SeqCst));
        assert_eq!(w.poll_done(&Waker::from(Arc::clone(&f))), Poll::Ready(()));
        assert_eq!(
            c.get(b"k", 0),
            None,
            "nothing stored: the waiter goes to the backend"
        );
        assert!(
            matches!(c.lookup(b"k", 0), Lookup::Fill(_)),
            "slot free again"
        );
    }
}

#[test]
fn cache_coalescing_waiter_overflow_and_other_key_bypass() {
    let c = Arc::new(StageCache::new(policy(1 << 20, 4)));
    let Lookup::Fill(_permit) = c.lookup(b"k", 0) else {
        panic!()
    };
    let mut waits = Vec::new();
    for _ in 0..FILL_WAITERS {
        let Lookup::Wait(mut w) = c.lookup(b"k", 0) else {
            panic!()
        };
        assert_eq!(
            w.poll_done(&Waker::from(Arc::new(Flag::default()))),
            Poll::Pending
        );
        waits.push(w);
    }
    let Lookup::Wait(mut extra) = c.lookup(b"k", 0) else {
        panic!()
    };
    assert_eq!(
        extra.poll_done(&Waker::from(Arc::new(Flag::default()))),
        Poll::Ready(()),
        "no waiter cell left: fall through to the backend"
    );
    drop(waits); // deregisters: cells free again
    let Lookup::Wait(mut again) = c.lookup(b"k", 0) else {
        panic!()
    };
    assert_eq!(
        again.poll_done(&Waker::from(Arc::new(Flag::default()))),
        Poll::Pending
    );
    // Another key whose fill slot collides bypasses instead of waiting on the wrong fill.
    let collide = (0u32..)
        .map(|i| format!("other{i}"))
        .find(|k| {
            (c.hash(k.as_bytes()) >> 16) as usize % FILL_SLOTS
                == (c.hash(b"k") >> 16) as usize % FILL_SLOTS
        })
        .unwrap_or_default();
    assert!(matches!(c.lookup(collide.as_bytes(), 0), Lookup::Bypass));
}

#[test]
fn cache_coalescing_with_threads_one_backend_request() {
    let c = Arc::new(StageCache::new(policy(1 << 20, 4)));
    let backend = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (c, backend) = (Arc::clone(&c), Arc::clone(&backend));
            std::thread::spawn(move || {
                match c.lookup(b"GET /hot", 0) {
                    Lookup::Hit(b) => b,
                    Lookup::Fill(p) => {
                        backend.fetch_add(1, Ordering::SeqCst);
                        std::thread::yield_now();
                        p.complete(b"GET /hot", body(5, 9), DEFAULT_TTL, 0);
                        body(5, 9)
                    }
                    Lookup::Wait(mut w) => {
                        struct Unpark(std::thread::Thread);
                        impl Wake for Unpark {
                            fn wake(self: Arc<Self>) {
                                self.0.unpark();
                            }
                        }
                        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
                        // Bounded wait: the caller's timeout (here 5 s).
                        let deadline = std::time::Instant::now() + Duration::from_secs(5);
                        while w.poll_done(&waker).is_pending()
                            && std::time::Instant::now() < deadline
                        {
                            std::thread::park_timeout(Duration::from_millis(50));
                        }
                        c.get(b"GET /hot", 0).unwrap_or_else(|| {
                            backend.fetch_add(1, Ordering::SeqCst);
                            body(5, 9)
                        })
                    }
                    Lookup::Bypass => panic!("no other key in play"),
                }
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().expect("thread"), body(5, 9));
    }
    assert_eq!(
        backend.load(Ordering::SeqCst),
        1,
        "coalesced into one backend request"
    );
}

#[test]
fn cache_hammered_by_threads_keeps_the_bound() {
    let cap = 128 * 1024;
    let c = Arc::new(StageCache::with_counts(policy(cap, 8), 4, 3));
    let stop = Arc::new(AtomicBool::new(false));
    let max_seen = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (c, stop, max_seen) = (Arc::clone(&c), Arc::clone(&stop), Arc::clone(&max_seen));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                assert!(c.max_shard_bytes() <= c.shard_budget());
                max_seen.fetch_max(c.stats().bytes, Ordering::Relaxed);
            }
        })
    };
    // Each thread is a core: it counts its own hits and misses (`record`) and tallies them
    // itself, and the cache's sums must match exactly.
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || {
                let mut rng = Rng(0x1234_5678 + t);
                let mut mine = [[0u64; 2]; 3];
                for i in 0..20_000u64 {
                    let k = rng.next() % 200; // shared keys across threads
                    let key = format!("GET /h/{k}");
                    let now = i * 1000;
                    let route = (k % 3) as usize;
                    let found = c.get(key.as_bytes(), now);
                    c.record(t as usize, route, found.is_some());
                    mine[route][usize::from(found.is_none())] += 1;
                    match found {
                        Some(b) => assert!(b.iter().all(|&x| x == k as u8), "value of another key"),
                        None => {
                            let size = (rng.next() % 4000) as usize;
                            c.insert(key.as_bytes(), body(size, k as u8), DEFAULT_TTL, now);
                        }
                    }
                    if i % 5000 == 0 {
                        c.invalidate(key.as_bytes());
                    }
                }
                mine
            })
        })
        .collect();
    let mut tally = [[0u64; 2]; 3];
    for w in workers {
        let mine = w.join().expect("worker");
        for (t, m) in tally.iter_mut().zip(mine) {
            t[0] += m[0];
            t[1] += m[1];
        }
    }
    stop.store(true, Ordering::Relaxed);
    watcher.join().expect("watcher");
    assert!(max_seen.load(Ordering::Relaxed) <= cap);
    let s = c.stats();
    assert!(s.bytes <= cap && s.hits > 0 && s.misses > 0, "{s:?}");
    for (route, t) in tally.iter().enumerate() {
        assert_eq!(c.route_counts(route), (t[0], t[1]), "route {route}: exact");
    }
    assert_eq!(
        (s.hits, s.misses),
        tally.iter().fold((0, 0), |(h, m), t| (h + t[0], m + t[1])),
        "stage totals: exact"
    );
    c.flush();
    assert_eq!(
        (c.stats().bytes, c.stats().entries),
        (0, 0),
        "accounting returns to zero"
    );
}

#[test]
fn cache_set_rebuild_carries_over_unchanged_stages() {
    let p = policy(1 << 20, 4);
    let empty: CacheSet<&str> = CacheSet::new();
    let v1 = empty.rebuild(
        2,
        [
            ("api/prod", p, 1, 2),
            ("api/dev", p, 1, 2),
            ("api/test", p, 1, 2),
        ],
    );
    for id in ["api/prod", "api/dev", "api/test"] {
        v1.get(&id)
            .map(|c| c.insert(b"k", body(3, 0), DEFAULT_TTL, 0));
    }
    let bigger = policy(2 << 20, 4);
    let v2 = v1.rebuild(
        2,
        [
            ("api/prod", p, 1, 2),
            ("api/dev", p, 2, 2),
            ("api/test", bigger, 1, 2),
            ("api/new", p, 1, 2),
        ],
    );
    assert!(Arc::ptr_eq(
        v1.get(&"api/prod").unwrap(),
        v2.get(&"api/prod").unwrap()
    ));
    assert!(
        v2.get(&"api/prod").unwrap().get(b"k", 1).is_some(),
        "entries survive"
    );
    v1.get(&"api/prod").unwrap().record(1, 1, true);
    assert_eq!(
        v2.get(&"api/prod").unwrap().route_counts(1),
        (1, 0),
        "per-route counters survive with the entries"
    );
    assert!(
        v2.get(&"api/dev").unwrap().get(b"k", 1).is_none(),
        "changed fingerprint: clean"
    );
    assert!(
        v2.get(&"api/test").unwrap().get(b"k", 1).is_none(),
        "changed policy: clean"
    );
    assert!(v2.get(&"api/new").unwrap().get(b"k", 1).is_none());
    assert_eq!(v2.len(), 4);
    assert!(v2.rebuild(2, std::iter::empty()).is_empty());
    let v3 = v2.rebuild(3, [("api/prod", p, 1, 2)]);
    let prod = v3.get(&"api/prod").unwrap();
    assert!(
        prod.get(b"k", 1).is_none() && prod.cores() == 3,
        "another core count: clean"
    );
}

#[test]
fn hit_counts_are_exact_per_core_and_route() {
    const CORES: usize = 3;
    const ROUTES: usize = 19; // three lines per core, the last one partly used
    let c = Arc::new(StageCache::with_counts(policy(1 << 20, 4), CORES, ROUTES));
    let threads: Vec<_> = (0..CORES)
        .map(|core| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || {
                for i in 0..30_000usize {
                    let route = i % ROUTES;
                    c.record(core, route, !(i / ROUTES + core).is_multiple_of(3));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("core");
    }
    let mut total = (0, 0);
    for route in 0..ROUTES {
        let mut want = (0, 0);
        for core in 0..CORES {
            for i in (route..30_000).step_by(ROUTES) {
                if !(i / ROUTES + core).is_multiple_of(3) {
                    want.0 += 1;
                } else {
                    want.1 += 1;
                }
            }
        }
        assert_eq!(c.route_counts(route), want, "route {route}");
        total = (total.0 + want.0, total.1 + want.1);
    }
    let s = c.stats();
    assert_eq!((s.hits, s.misses), total);
    assert_eq!(total.0 + total.1, 90_000);
    // Out of range counts nothing (and does not panic).
    c.record(0, ROUTES, true);
    assert_eq!(c.route_counts(ROUTES), (0, 0));
    assert_eq!((c.stats().hits, c.stats().misses), total);
}
