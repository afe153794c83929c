//! Stage response cache (issue 5): `cargo bench --bench cache` prints ns per operation for
//! key build + hit, miss, insert with eviction, and 1 vs 2 threads hitting one hot key or
//! distinct keys (scaling). Numbers are from whatever machine runs it; a shared machine
//! adds noise, so compare runs on one machine, not across machines.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tollgate::dataplane::cache::{
    CachePolicy, DEFAULT_TTL, Insert, KeyBuilder, KeyParam, ParamKind, StageCache,
};

const TTL: Duration = DEFAULT_TTL;

fn report(name: &str, ns: f64) {
    println!("{name:<52} {ns:>8.1} ns/op");
}

fn params<'a>(id: &'a [u8], lang: &'a [u8]) -> [KeyParam<'a>; 2] {
    [
        KeyParam {
            kind: ParamKind::Query,
            name: b"lang",
            value: Some(lang),
        },
        KeyParam {
            kind: ParamKind::Path,
            name: b"id",
            value: Some(id),
        },
    ]
}

fn main() {
    let cache = Arc::new(StageCache::new(CachePolicy::with_capacity(512 << 20)));
    let body = Bytes::from(vec![b'x'; 2048]);
    let mut kb = KeyBuilder::new();
    let ids: Vec<Vec<u8>> = (0..1024).map(|i| format!("{i}").into_bytes()).collect();
    for id in &ids {
        let key = kb.build(b"GET", b"/pets/{id}", &params(id, b"en"));
        assert_eq!(cache.insert(key, body.clone(), TTL, 0), Insert::Stored);
    }

    let n = 2_000_000;
    let start = Instant::now();
    for i in 0..n {
        let k = kb.build(b"GET", b"/pets/{id}", &params(&ids[i & 1023], b"en"));
        black_box(k);
    }
    report("key build (2 params)", per(start, n));

    let start = Instant::now();
    for i in 0..n {
        let k = kb.build(b"GET", b"/pets/{id}", &params(&ids[i & 1023], b"en"));
        assert!(black_box(cache.get(k, 1)).is_some());
    }
    report("key build + hit (1024 keys)", per(start, n));

    let start = Instant::now();
    for i in 0..n {
        let k = kb.build(b"GET", b"/pets/{id}", &params(&ids[i & 1023], b"fr"));
        assert!(black_box(cache.get(k, 1)).is_none());
    }
    report("key build + miss", per(start, n));

    // A small cache kept full: every insert evicts.
    let small = StageCache::new(CachePolicy::with_capacity(4 << 20));
    let keys: Vec<Vec<u8>> = (0..200_000)
        .map(|i| format!("GET /k/{i}").into_bytes())
        .collect();
    let start = Instant::now();
    for k in &keys {
        black_box(small.insert(k, body.clone(), TTL, 1));
    }
    let s = small.stats();
    assert!(s.bytes <= 4 << 20 && s.evictions > 0);
    report(
        "insert 2 KiB with eviction (4 MiB cache, full)",
        per(start, keys.len()),
    );

    let hot: Vec<u8> = b"GET /hot".to_vec();
    cache.insert(&hot, body.clone(), TTL, 0);
    for threads in [1, 2] {
        report(
            &format!("{threads} thread(s), same hot key, per get"),
            threaded(&cache, threads, |_t, _i| hot.clone()),
        );
        report(
            &format!("{threads} thread(s), distinct keys, per get"),
            threaded(&cache, threads, |t, i| {
                kb_key(&ids[(t * 512 + (i & 511)) & 1023])
            }),
        );
    }
}

fn kb_key(id: &[u8]) -> Vec<u8> {
    KeyBuilder::new()
        .build(b"GET", b"/pets/{id}", &params(id, b"en"))
        .to_vec()
}

fn per(start: Instant, n: usize) -> f64 {
    start.elapsed().as_nanos() as f64 / n as f64
}

/// Each thread looks up its own pre-built keys in a loop; returns wall ns per get per
/// thread (flat = scales, rising = contention).
fn threaded(cache: &Arc<StageCache>, threads: usize, key: impl Fn(usize, usize) -> Vec<u8>) -> f64 {
    let n = 2_000_000;
    let sets: Vec<Vec<Vec<u8>>> = (0..threads)
        .map(|t| (0..512).map(|i| key(t, i)).collect())
        .collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for keys in &sets {
            let cache = Arc::clone(cache);
            s.spawn(move || {
                for i in 0..n {
                    assert!(black_box(cache.get(&keys[i & 511], 1)).is_some());
                }
            });
        }
    });
    per(start, n)
}
