use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;

// UTC midnights, from Python's datetime.
const FEB_28_2024: u64 = 1_709_078_400; // Wednesday
const FEB_29_2024: u64 = 1_709_164_800; // Thursday
const MAR_01_2024: u64 = 1_709_251_200; // Friday
const MAR_04_2024: u64 = 1_709_510_400; // Monday
const FEB_28_2023: u64 = 1_677_542_400;
const MAR_01_2023: u64 = 1_677_628_800;
const DEC_31_2024: u64 = 1_735_603_200;
const JAN_01_2025: u64 = 1_735_689_600;

fn quota(limit: u64, offset: u64, period: QuotaPeriod) -> QuotaSpec {
    QuotaSpec {
        limit,
        offset,
        period,
    }
}

fn charge_all(c: &QuotaCounter, s: &QuotaSpec, now: u64, n: usize) -> usize {
    (0..n).filter(|_| c.charge(s, now).is_ok()).count()
}

#[test]
fn counts_to_the_limit_then_refuses_until_the_period_ends() {
    let s = quota(3, 0, QuotaPeriod::Day);
    let c = QuotaCounter::new(QuotaPeriod::Day, FEB_28_2024 - 1);
    let noon = FEB_28_2024 + 12 * 3600;
    assert_eq!(c.charge(&s, noon), Ok(2));
    assert_eq!(c.charge(&s, noon), Ok(1));
    assert_eq!(c.charge(&s, noon), Ok(0));
    assert_eq!(
        c.charge(&s, noon),
        Err(QuotaExceeded {
            retry_after_secs: 12 * 3600
        })
    );
    assert_eq!(c.remaining(&s, noon), 0);
    assert_eq!(c.remaining(&s, FEB_29_2024), 3);
}

#[test]
fn offset_applies_in_the_initial_period_only() {
    let s = quota(10, 4, QuotaPeriod::Month);
    let c = QuotaCounter::new(QuotaPeriod::Month, FEB_29_2024);
    assert_eq!(
        charge_all(&c, &s, FEB_28_2024, 100),
        6,
        "February 2024 is the initial period"
    );
    assert_eq!(charge_all(&c, &s, MAR_01_2024, 100), 10);
    let s = quota(3, 5, QuotaPeriod::Day);
    let c = QuotaCounter::new(QuotaPeriod::Day, FEB_28_2024);
    assert_eq!(
        charge_all(&c, &s, FEB_28_2024, 10),
        0,
        "offset above the limit: nothing"
    );
    assert_eq!(charge_all(&c, &s, FEB_29_2024, 10), 3);
}

#[test]
fn day_rolls_over_at_utc_midnight() {
    let s = quota(2, 0, QuotaPeriod::Day);
    let c = QuotaCounter::new(QuotaPeriod::Day, 0);
    assert_eq!(charge_all(&c, &s, FEB_29_2024 - 1, 5), 2);
    assert_eq!(charge_all(&c, &s, FEB_29_2024 - 1, 5), 0);
    assert_eq!(charge_all(&c, &s, FEB_29_2024, 5), 2, "leap day");
    assert_eq!(charge_all(&c, &s, MAR_01_2024 - 1, 5), 0);
    assert_eq!(charge_all(&c, &s, MAR_01_2024, 5), 2);
}

#[test]
fn week_rolls_over_on_monday() {
    let s = quota(2, 0, QuotaPeriod::Week);
    let c = QuotaCounter::new(QuotaPeriod::Week, 0);
    assert_eq!(charge_all(&c, &s, FEB_28_2024, 5), 2, "Wednesday");
    assert_eq!(
        charge_all(&c, &s, MAR_04_2024 - 1, 5),
        0,
        "Sunday 23:59:59, same week"
    );
    assert_eq!(charge_all(&c, &s, MAR_04_2024, 5), 2, "Monday 00:00");
    assert_eq!(c.export().period_start, MAR_04_2024);
    assert_eq!(
        c.charge(&s, MAR_04_2024 + 3600),
        Err(QuotaExceeded {
            retry_after_secs: 7 * 86_400 - 3600
        })
    );
}

#[test]
fn month_rolls_over_on_the_first() {
    let s = quota(1, 0, QuotaPeriod::Month);
    let c = QuotaCounter::new(QuotaPeriod::Month, 0);
    for (last_second, first) in [
        (MAR_01_2024 - 1, MAR_01_2024),
        (MAR_01_2023 - 1, MAR_01_2023),
        (JAN_01_2025 - 1, JAN_01_2025),
    ] {
        let c = QuotaCounter::new(QuotaPeriod::Month, 0);
        assert_eq!(charge_all(&c, &s, last_second, 3), 1);
        assert_eq!(
            c.charge(&s, last_second),
            Err(QuotaExceeded {
                retry_after_secs: 1
            })
        );
        assert_eq!(charge_all(&c, &s, first, 3), 1);
        assert_eq!(c.export().period_start, first);
    }
    // 29 days of February 2024 are one period; 28 of 2023.
    assert_eq!(charge_all(&c, &s, FEB_28_2024 - 27 * 86_400, 3), 1);
    assert_eq!(charge_all(&c, &s, FEB_29_2024 + 86_399, 3), 0);
    assert_eq!(
        charge_all(&c, &s, FEB_28_2023 + 86_399, 3),
        0,
        "an older month never reopens"
    );
    let _ = DEC_31_2024;
}

#[test]
fn periods_match_the_civil_calendar() {
    // Every hour from 2023-01-01 to 2025-03-01.
    let mut s = 1_672_531_200;
    while s < 1_740_787_200 {
        for kind in [QuotaPeriod::Day, QuotaPeriod::Week, QuotaPeriod::Month] {
            let n = period_number(kind, s);
            let (start, end) = (period_start(kind, n), period_start(kind, n + 1));
            assert!(start <= s && s < end, "{kind:?} {s}");
            let t = CivilTime::from_unix(start);
            assert_eq!((t.hour, t.minute, t.second), (0, 0, 0));
            match kind {
                QuotaPeriod::Day => assert_eq!(end - start, 86_400),
                QuotaPeriod::Week => {
                    assert_eq!(t.weekday_from_thursday, 4, "Monday");
                    assert_eq!(end - start, 7 * 86_400);
                }
                QuotaPeriod::Month => assert_eq!(t.day, 1),
            }
        }
        s += 3600;
    }
    assert_eq!(
        period_start(
            QuotaPeriod::Month,
            period_number(QuotaPeriod::Month, FEB_29_2024) + 1
        ),
        MAR_01_2024
    );
    assert_eq!(
        period_start(
            QuotaPeriod::Month,
            period_number(QuotaPeriod::Month, DEC_31_2024) + 1
        ),
        JAN_01_2025
    );
}

#[test]
fn a_clock_stepping_back_stays_in_the_latest_period() {
    let s = quota(2, 0, QuotaPeriod::Day);
    let c = QuotaCounter::new(QuotaPeriod::Day, 0);
    assert_eq!(charge_all(&c, &s, FEB_29_2024, 1), 1);
    assert_eq!(
        charge_all(&c, &s, FEB_29_2024 - 10, 5),
        1,
        "counted in Feb 29, not in a reopened Feb 28"
    );
}

#[test]
fn exact_under_many_threads() {
    let s = quota(30_000, 0, QuotaPeriod::Day);
    let c = Arc::new(QuotaCounter::new(QuotaPeriod::Day, FEB_28_2024));
    let ok = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (c, ok) = (Arc::clone(&c), Arc::clone(&ok));
            std::thread::spawn(move || {
                let n = (0..20_000)
                    .filter(|_| c.charge(&s, FEB_28_2024 + 5).is_ok())
                    .count();
                ok.fetch_add(n as u64, Ordering::Relaxed);
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(ok.load(Ordering::Relaxed), 30_000);
    assert_eq!(c.export().used, 30_000);
}

#[test]
fn exact_under_many_threads_across_a_rollover() {
    // Each thread's clock crosses midnight at a different point; per day, never over.
    let s = quota(1_000, 0, QuotaPeriod::Day);
    let c = Arc::new(QuotaCounter::new(QuotaPeriod::Day, 0));
    let ok = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..4u64)
        .map(|i| {
            let (c, ok) = (Arc::clone(&c), Arc::clone(&ok));
            std::thread::spawn(move || {
                let switch = 400 + i * 700;
                let n = (0..5_000u64)
                    .filter(|&k| {
                        c.charge(
                            &s,
                            if k < switch {
                                FEB_29_2024 - 1
                            } else {
                                FEB_29_2024
                            },
                        )
                        .is_ok()
                    })
                    .count();
                ok.fetch_add(n as u64, Ordering::Relaxed);
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let state = c.export();
    assert_eq!((state.period_start, state.used), (FEB_29_2024, 1_000));
    let total = ok.load(Ordering::Relaxed);
    assert!((1_000..=2_000).contains(&total), "{total}");
}

#[test]
fn export_import_round_trip() {
    let specs = || {
        [
            ("plan1/key1", quota(100, 10, QuotaPeriod::Week)),
            ("plan1/key2", quota(5, 0, QuotaPeriod::Day)),
        ]
    };
    let table = QuotaTable::new(specs(), FEB_28_2024);
    for _ in 0..7 {
        assert!(table.charge(QuotaId(0), FEB_29_2024).is_ok());
    }
    assert_eq!(table.charge(QuotaId(1), FEB_29_2024), Ok(4));
    let saved = table.export();
    assert_eq!(
        saved[0].1,
        QuotaState {
            period: QuotaPeriod::Week,
            period_start: FEB_28_2024 - 2 * 86_400,
            used: 7,
            initial_period_start: FEB_28_2024 - 2 * 86_400,
        }
    );
    // A restart a week later: the initial period (and so the offset) is the persisted one.
    let restarted = QuotaTable::new(specs(), MAR_04_2024);
    assert_eq!(
        restarted.import(saved.iter().copied().chain([("gone", saved[0].1)])),
        2
    );
    assert_eq!(restarted.export(), saved);
    assert_eq!(restarted.charge(QuotaId(0), FEB_29_2024), Ok(100 - 10 - 8));
    assert_eq!(restarted.charge(QuotaId(0), MAR_04_2024), Ok(99));
    assert_eq!(restarted.charge(QuotaId(1), FEB_29_2024), Ok(3));
    // Never charged: its initial period, nothing used.
    let fresh = QuotaCounter::new(QuotaPeriod::Month, FEB_29_2024);
    let state = fresh.export();
    assert_eq!(
        (state.period_start, state.used),
        (FEB_29_2024 - 28 * 86_400, 0)
    );
}

#[test]
fn rebuild_keeps_counters_by_key() {
    let old = QuotaTable::new(
        [
            ("a", quota(10, 0, QuotaPeriod::Day)),
            ("b", quota(10, 0, QuotaPeriod::Day)),
        ],
        FEB_28_2024,
    );
    for _ in 0..6 {
        assert!(old.charge(QuotaId(0), FEB_28_2024).is_ok());
    }
    let new = old.rebuild(
        [
            ("c", quota(1, 0, QuotaPeriod::Day)),
            ("a", quota(8, 0, QuotaPeriod::Day)),
        ],
        FEB_28_2024,
    );
    assert!(Arc::ptr_eq(
        old.get(QuotaId(0)).unwrap().2,
        new.get(QuotaId(1)).unwrap().2
    ));
    assert_eq!(
        new.charge(QuotaId(1), FEB_28_2024),
        Ok(1),
        "the new limit applies to the count so far"
    );
    assert_eq!(
        old.charge(QuotaId(0), FEB_28_2024),
        Ok(2),
        "cores on the old table count in the same counter"
    );
    assert!(new.charge(QuotaId(1), FEB_28_2024).is_err());
    assert_eq!(new.charge(QuotaId(0), FEB_28_2024), Ok(0));
    assert_eq!(
        new.charge(QuotaId(9), FEB_28_2024),
        Ok(u64::MAX),
        "unknown id: fail open"
    );
    // A changed period starts afresh.
    let weekly = new.rebuild([("a", quota(8, 0, QuotaPeriod::Week))], FEB_28_2024);
    assert_eq!(weekly.charge(QuotaId(0), FEB_28_2024), Ok(7));
}
