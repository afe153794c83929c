//! Throttle and quota costs (DESIGN §5). `cargo bench --bench throttle` prints ns per admit
//! on the lease fast path (1 and 5 levels), per lease refill (one CAS), per reject (local
//! and after looking at the ledger) and per quota charge; then admits/s per thread with N
//! threads on one shared ledger and on one ledger each (above the core count the threads
//! are oversubscribed, and the numbers say so).

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use tollgate::dataplane::throttle::{
    LeasePolicy, LedgerTable, LimitId, LimitSpec, MAX_QUOTA, MonoClock, QuotaId, QuotaPeriod,
    QuotaSpec, QuotaTable, Throttle,
};

const MS: u64 = 1_000_000;
/// Never runs out within a benchmark: the fast path, refilled every `max_lease` admits.
const UNLIMITED: LimitSpec = LimitSpec {
    rate: 1e9,
    burst: u32::MAX,
};
const ACCOUNT: LimitSpec = LimitSpec {
    rate: 10_000.0,
    burst: 5_000,
};

fn table(specs: &[LimitSpec], cores: usize, policy: LeasePolicy) -> LedgerTable<usize> {
    LedgerTable::new(specs.iter().copied().enumerate(), cores, policy)
}

/// Run `op(i)` `n` times after a warm-up; print and return ns per call.
fn measure(name: &str, n: u64, mut op: impl FnMut(u64)) -> f64 {
    // `i` keeps counting from the warm-up into the run: some ops derive a clock from it.
    let warm = n / 10;
    for i in 0..warm {
        op(i);
    }
    let start = Instant::now();
    for i in warm..warm + n {
        op(i);
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    println!("{name:<58} {ns:>8.1} ns");
    ns
}

fn single_thread() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let policy = LeasePolicy::default();
    println!("single thread ({cores} cores assumed for lease sizing)");

    let t = table(&[UNLIMITED], cores, policy);
    let mut core = Throttle::new(&t);
    let one = [LimitId(0)];
    measure(
        "admit, 1 level, lease hit (1 CAS per 4096)",
        20_000_000,
        |_| {
            assert!(core.admit(black_box(&one), black_box(0)).is_ok());
        },
    );

    let t = table(&[UNLIMITED; 5], cores, policy);
    let mut core = Throttle::new(&t);
    let five = [LimitId(0), LimitId(1), LimitId(2), LimitId(3), LimitId(4)];
    measure("admit, 5 levels, lease hits", 10_000_000, |_| {
        assert!(core.admit(black_box(&five), black_box(0)).is_ok());
    });

    let t = table(&[ACCOUNT], cores, policy);
    let mut core = Throttle::new(&t);
    measure(
        "admit, 1 level, account default at 10k/s (L = 10)",
        2_000_000,
        |i| {
            // One request per 100 µs: exactly the rate; a refill every 10 admits.
            assert!(core.admit(black_box(&one), i * 100_000).is_ok());
        },
    );

    let refill_every_admit = LeasePolicy {
        max_lease: 1,
        ..policy
    };
    let t = table(&[UNLIMITED], cores, refill_every_admit);
    let mut core = Throttle::new(&t);
    measure(
        "admit, 1 level, lease of 1 (every admit refills)",
        10_000_000,
        |_| {
            assert!(core.admit(black_box(&one), black_box(0)).is_ok());
        },
    );
    let ledger = Arc::clone(t.ledger(LimitId(0)).unwrap());
    measure(
        "Ledger::try_take(10) alone (one CAS, uncontended)",
        10_000_000,
        |_| {
            assert!(ledger.try_take(black_box(10), black_box(0)).is_ok());
        },
    );

    let t = table(
        &[LimitSpec {
            rate: 1.0,
            burst: 1,
        }],
        cores,
        policy,
    );
    let mut core = Throttle::new(&t);
    assert!(core.admit(&one, 0).is_ok());
    measure(
        "reject, local (ledger seen empty < 1 ms ago)",
        20_000_000,
        |_| {
            assert!(core.admit(black_box(&one), black_box(0)).is_err());
        },
    );
    let t = table(
        &[LimitSpec {
            rate: 1e-6,
            burst: 1,
        }],
        cores,
        policy,
    );
    let mut core = Throttle::new(&t);
    assert!(core.admit(&one, 0).is_ok());
    measure(
        "reject, after reading the ledger (1 ms apart)",
        5_000_000,
        |i| {
            assert!(core.admit(black_box(&one), (i + 1) * (MS + 1)).is_err());
        },
    );
    let t = table(
        &[
            UNLIMITED,
            UNLIMITED,
            LimitSpec {
                rate: 1.0,
                burst: 0,
            },
        ],
        cores,
        policy,
    );
    let mut core = Throttle::new(&t);
    let three = [LimitId(0), LimitId(1), LimitId(2)];
    measure(
        "reject at level 3 of 3 (levels 1-2 leases hit)",
        10_000_000,
        |_| {
            assert!(core.admit(black_box(&three), black_box(0)).is_err());
        },
    );

    let now = 1_709_164_800 + 3600;
    for period in [QuotaPeriod::Day, QuotaPeriod::Month] {
        let spec = QuotaSpec {
            limit: MAX_QUOTA,
            offset: 0,
            period,
        };
        let q = QuotaTable::new([(0, spec)], now);
        measure(
            &format!("quota charge, {period:?} (one CAS, uncontended)"),
            10_000_000,
            |_| {
                assert!(q.charge(black_box(QuotaId(0)), black_box(now)).is_ok());
            },
        );
    }
    let clock = MonoClock::new();
    measure("for scale: MonoClock::now_ns", 10_000_000, |_| {
        black_box(clock.now_ns());
    });
}

/// `threads` threads, each a core with its own `Throttle`, admitting for `run` on one shared
/// ledger or one ledger each (reading the clock once per 64 admits). Returns admits/s per
/// thread (mean) and rejects as a fraction.
fn scaling(
    threads: usize,
    shared: bool,
    spec: LimitSpec,
    policy: LeasePolicy,
    run: Duration,
) -> (f64, f64) {
    let specs = vec![spec; if shared { 1 } else { threads }];
    let t = Arc::new(table(&specs, threads, policy));
    let clock = MonoClock::new();
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|n| {
            let (t, barrier) = (Arc::clone(&t), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let mut core = Throttle::new(&t);
                let id = [LimitId(if shared { 0 } else { n as u32 })];
                barrier.wait();
                let start = Instant::now();
                let (mut ok, mut no) = (0u64, 0u64);
                while start.elapsed() < run {
                    let now = clock.now_ns();
                    for _ in 0..64 {
                        match core.admit(black_box(&id), now) {
                            Ok(()) => ok += 1,
                            Err(_) => no += 1,
                        }
                    }
                }
                (ok, no, start.elapsed().as_secs_f64())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let per_thread = results
        .iter()
        .map(|&(ok, no, s)| (ok + no) as f64 / s)
        .sum::<f64>()
        / threads as f64;
    let rejected = results.iter().map(|r| r.1).sum::<u64>() as f64
        / results.iter().map(|r| r.0 + r.1).sum::<u64>() as f64;
    (per_thread, rejected)
}

fn main() {
    single_thread();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let run = Duration::from_millis(500);
    let default = LeasePolicy::default();
    let every = LeasePolicy {
        max_lease: 1,
        ..default
    };
    println!();
    println!("scaling: admit calls per second per thread (millions), {cores} cores");
    let cases: [(&str, LimitSpec, LeasePolicy); 3] = [
        ("unlimited, L = 4096", UNLIMITED, default),
        ("unlimited, L = 1 (every admit a CAS)", UNLIMITED, every),
        (
            "account default 10k/s flooded (mostly rejects)",
            ACCOUNT,
            default,
        ),
    ];
    for (name, spec, policy) in cases {
        println!("{name}");
        for threads in [1, 2, 4] {
            let note = if threads > cores {
                " (oversubscribed)"
            } else {
                ""
            };
            for shared in [true, false] {
                let (rate, rejected) = scaling(threads, shared, spec, policy, run);
                println!(
                    "  {threads} thread(s), {:<16} {:>8.1} M/s per thread, {:>5.1} % rejected{note}",
                    if shared {
                        "one shared ledger"
                    } else {
                        "ledger each"
                    },
                    rate / 1e6,
                    rejected * 100.0
                );
            }
        }
    }
}
