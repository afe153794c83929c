use super::*;
use crate::dataplane::throttle::{QuotaId, QuotaSpec, QuotaTable, period_start};

/// 2026-03-15T12:00:00Z.
const NOW: u64 = 1_773_576_000;
const DAY: u64 = 86_400;

fn state(period: QuotaPeriod, start: u64, used: u64) -> QuotaState {
    QuotaState {
        period,
        period_start: start,
        used,
        initial_period_start: start,
    }
}

fn day_start(secs: u64) -> u64 {
    secs / DAY * DAY
}

#[test]
fn encode_then_decode_is_the_identity() {
    let states: Vec<(Box<str>, QuotaState)> = vec![
        (
            "quota:basic/alice".into(),
            state(QuotaPeriod::Day, day_start(NOW), 7),
        ),
        (
            "quota:gold/bob".into(),
            QuotaState {
                period: QuotaPeriod::Month,
                period_start: period_start(QuotaPeriod::Month, 674),
                used: 0,
                initial_period_start: period_start(QuotaPeriod::Month, 670),
            },
        ),
        (
            "quota:w/c".into(),
            state(QuotaPeriod::Week, NOW - 3 * DAY, 1),
        ),
    ];
    let bytes = encode(&states, NOW);
    assert_eq!(decode(&bytes, NOW), Ok(Decoded { states, skipped: 0 }));
}

#[test]
fn unknown_properties_are_ignored_and_bad_entries_skipped() {
    let doc = json!({
        "version": 1, "savedAt": "whenever", "writer": "a later tollgate",
        "quotas": {
            "quota:p/ok": {"period": "DAY", "periodStart": day_start(NOW), "used": 2,
                           "initialPeriodStart": day_start(NOW), "extra": true},
            "quota:p/bad-period": {"period": "YEAR", "periodStart": 0, "used": 2, "initialPeriodStart": 0},
            "quota:p/negative": {"period": "DAY", "periodStart": 0, "used": -1, "initialPeriodStart": 0},
            "quota:p/missing": {"period": "DAY", "used": 1},
            "quota:p/future": {"period": "DAY", "periodStart": NOW + 40 * DAY, "used": 1,
                               "initialPeriodStart": NOW + 40 * DAY},
            "quota:p/not-an-object": 5
        }
    });
    let d = decode(doc.to_string().as_bytes(), NOW).unwrap();
    assert_eq!(
        d.states,
        vec![(
            "quota:p/ok".into(),
            state(QuotaPeriod::Day, day_start(NOW), 2)
        )]
    );
    assert_eq!(d.skipped, 5);
}

#[test]
fn a_file_that_is_not_a_state_file_is_an_error() {
    for bad in [
        &b""[..],
        b"{\"version\": 1, \"quotas\": {",
        b"[]",
        b"{\"quotas\": {}}",
        b"{\"version\": 2, \"quotas\": {}}",
        b"{\"version\": 1}",
        b"{\"version\": 1, \"quotas\": []}",
        b"\xff\xfe",
    ] {
        assert!(
            decode(bad, NOW).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

fn table(limit: u64, offset: u64) -> QuotaTable<Box<str>> {
    QuotaTable::new(
        [(
            Box::<str>::from("quota:p/k"),
            QuotaSpec {
                limit,
                offset,
                period: QuotaPeriod::Day,
            },
        )],
        NOW,
    )
}

fn admitted(t: &QuotaTable<Box<str>>, now: u64) -> u64 {
    (0..100)
        .take_while(|_| t.charge(QuotaId(0), now).is_ok())
        .count() as u64
}

#[test]
fn a_restored_count_in_the_current_period_leaves_only_the_rest() {
    let t = table(5, 0);
    let bytes = encode(
        &[(
            "quota:p/k".into(),
            state(QuotaPeriod::Day, day_start(NOW), 3),
        )],
        NOW,
    );
    assert_eq!(t.import(decode(&bytes, NOW).unwrap().states), 1);
    assert_eq!(admitted(&t, NOW + 60), 2);
}

#[test]
fn a_saved_period_that_is_over_resurrects_nothing() {
    let t = table(5, 2);
    // Yesterday's period, used up, and it was the initial (offset) period.
    let bytes = encode(
        &[(
            "quota:p/k".into(),
            state(QuotaPeriod::Day, day_start(NOW) - DAY, 5),
        )],
        NOW,
    );
    t.import(decode(&bytes, NOW).unwrap().states);
    // Today is a fresh period, and not the initial one: the whole limit, no offset.
    assert_eq!(admitted(&t, NOW), 5);
    assert_eq!(t.export()[0].1.period_start, day_start(NOW));
}

#[test]
fn the_offset_of_a_restored_initial_period_still_applies() {
    let t = table(5, 2);
    let bytes = encode(
        &[(
            "quota:p/k".into(),
            state(QuotaPeriod::Day, day_start(NOW), 1),
        )],
        NOW,
    );
    t.import(decode(&bytes, NOW).unwrap().states);
    assert_eq!(admitted(&t, NOW), 2, "limit 5 − offset 2 − 1 used");
}

#[test]
fn identities_no_longer_configured_are_dropped() {
    let t = table(5, 0);
    let bytes = encode(
        &[(
            "quota:p/gone".into(),
            state(QuotaPeriod::Day, day_start(NOW), 5),
        )],
        NOW,
    );
    assert_eq!(t.import(decode(&bytes, NOW).unwrap().states), 0);
    assert_eq!(admitted(&t, NOW), 5);
}
