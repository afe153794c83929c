//! `GET /usageplans/{planId}/usage`: API Gateway's `GetUsage` (SPEC-NOTES §5) from the data
//! plane's daily counters: `{"usagePlanId", "startDate", "endDate", "position"?, "values":
//! {"<apiKeyId>": [[used, remaining], …one per day]}}`.
//!
//! `used` is the requests the key's quota admitted (or, without a quota, that passed every
//! throttle) on that UTC day. `remaining` is what the quota had left at the end of that day
//! (for today and later days of the current period, what it has left now); a plan without a
//! quota reports 0 [UNVERIFIED: what API Gateway reports then]. Keys are paged in id order:
//! `limit` keys (default 25, at most 500) from `position`, an opaque token that is the next
//! page's start.

use serde_json::{Map, Value, json};

use super::log::now_secs;
use crate::config::{PlanIdx, Snapshot};
use crate::dataplane::CivilTime;
use crate::dataplane::Shared;
use crate::dataplane::clock::days_from_civil;
use crate::dataplane::throttle::{MAX_QUOTA, USAGE_DAYS, period_number, period_start};

const DAY: u64 = 86_400;
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 500;

/// Day number → `YYYY-MM-DD`.
pub fn date_of(day: u64) -> String {
    let t = CivilTime::from_unix(day * DAY);
    format!("{:04}-{:02}-{:02}", t.year, t.month, t.day)
}

/// `YYYY-MM-DD` → day number (days since 1970-01-01); `None` if malformed or before 1970.
pub fn day_of(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let day = days_from_civil(i64::from(y), m, d);
    // Reject 2026-02-30 and the like: the round trip must give the same date.
    (day >= 0 && date_of(day as u64) == s).then_some(day as u64)
}

/// The `GetUsage` response for plan `plan_id` and the query parameters `q`.
pub fn get_usage(shared: &Shared, plan_id: &str, q: &[(String, String)]) -> (u16, Value) {
    let param = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let bad = |m: String| (400, json!({ "message": m }));
    let (snap, meters) = shared.current_with_meters();
    let Some(plan) = snap.usage.plans.iter().position(|p| p.id == plan_id) else {
        return (
            404,
            json!({ "message": format!("Invalid Usage Plan ID specified: no usage plan `{plan_id}`") }),
        );
    };
    let mut dates = [0u64; 2];
    for (i, name) in ["startDate", "endDate"].into_iter().enumerate() {
        match param(name) {
            None => return bad(format!("`{name}` is required (YYYY-MM-DD, UTC)")),
            Some(s) => match day_of(s) {
                Some(d) => dates[i] = d,
                None => {
                    return bad(format!(
                        "`{name}` must be a date as YYYY-MM-DD, found `{s}`"
                    ));
                }
            },
        }
    }
    let [start, end] = dates;
    if end < start {
        return bad("`endDate` is before `startDate`".into());
    }
    if end - start >= USAGE_DAYS as u64 {
        return bad(format!(
            "at most {USAGE_DAYS} days per request (usage is kept for the last {USAGE_DAYS} days)"
        ));
    }
    let limit = match param("limit") {
        None => DEFAULT_LIMIT,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => return bad(format!("`limit` must be 1 to {MAX_LIMIT}, found `{s}`")),
        },
    };
    let from = match param("position") {
        None | Some("") => 0,
        Some(s) => match s.parse::<usize>() {
            Ok(n) => n,
            Err(_) => {
                return bad(format!(
                    "`position` `{s}` is not a position this API returned"
                ));
            }
        },
    };
    let key_filter = param("keyId");
    let mut members: Vec<usize> = snap
        .usage
        .plan_keys
        .iter()
        .enumerate()
        .filter(|(_, pk)| pk.plan == PlanIdx(plan as u32))
        .filter(|(_, pk)| key_filter.is_none_or(|k| snap.usage.keys[pk.key.0 as usize].id == k))
        .map(|(i, _)| i)
        .collect();
    members.sort_by(|a, b| key_id(&snap, *a).cmp(key_id(&snap, *b)));
    let now = now_secs();
    let mut values = Map::new();
    for &i in members.iter().skip(from).take(limit) {
        let pk = &snap.usage.plan_keys[i];
        let Some(daily) = meters.usage.get(i as u32) else {
            continue;
        };
        let quota = pk.quota.and_then(|q| meters.quotas.get(q));
        let days: Vec<Value> = (start..=end)
            .map(|d| {
                let used = daily.get(d);
                let remaining = match quota {
                    None => 0,
                    Some((_, spec, counter)) => {
                        let p = period_number(spec.period, d * DAY);
                        if d >= now / DAY && p == period_number(spec.period, now) {
                            counter.remaining(spec, now)
                        } else {
                            let first = period_start(spec.period, p) / DAY;
                            let used_so_far: u64 = (first..=d).map(|x| daily.get(x)).sum();
                            let initial = counter.export().initial_period_start;
                            let mut limit = spec.limit.min(MAX_QUOTA);
                            if period_start(spec.period, p) == initial {
                                limit = limit.saturating_sub(spec.offset);
                            }
                            limit.saturating_sub(used_so_far)
                        }
                    }
                };
                json!([used, remaining])
            })
            .collect();
        values.insert(key_id(&snap, i).to_string(), Value::Array(days));
    }
    let mut out = json!({
        "usagePlanId": plan_id,
        "startDate": date_of(start),
        "endDate": date_of(end),
        "values": values,
    });
    if from + limit < members.len() {
        out["position"] = json!((from + limit).to_string());
    }
    (200, out)
}

fn key_id(snap: &Snapshot, plan_key: usize) -> &str {
    &snap.usage.keys[snap.usage.plan_keys[plan_key].key.0 as usize].id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_bad_ones_are_refused() {
        assert_eq!(day_of("1970-01-01"), Some(0));
        assert_eq!(
            day_of("2026-11-21").map(date_of).as_deref(),
            Some("2026-11-21")
        );
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-1-01",
            "20261121",
            "1969-12-31",
            "abcd-ef-gh",
        ] {
            assert_eq!(day_of(bad), None, "{bad}");
        }
    }
}
