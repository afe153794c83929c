//! Operational log lines on stderr: `2026-11-21T12:00:00Z tollgate: message`.
//! Structured execution logs come with the observability work.

use std::time::{SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DDTHH:MM:SSZ` for `secs` since the epoch.
pub fn rfc3339(secs: u64) -> String {
    let t = crate::dataplane::CivilTime::from_unix(secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn log(message: impl std::fmt::Display) {
    eprintln!("{} tollgate: {message}", rfc3339(now_secs()));
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_renders_utc() {
        assert_eq!(super::rfc3339(784_111_777), "1994-11-06T08:49:37Z");
    }
}
