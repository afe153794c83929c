//! Diagnostics a core writes to tollgate's log (standard error): why a Lambda integration or
//! authorizer failed, a function process that misbehaved, a failed accept.
//!
//! A client can make such a line happen on every request (a function that always fails), and
//! a write to standard error blocks when its reader is slow, so a core writes at most
//! `PER_SECOND` lines a second and counts the rest, said in one line when writing resumes.
//! Lines are cut at `MAX_LINE` bytes and control characters (a function's error text may hold
//! CR/LF) become `?`, so no input can forge a log line.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Lines a core writes per second at most.
const PER_SECOND: u32 = 20;
/// Longest line written (bytes of the message, cut at a character boundary).
const MAX_LINE: usize = 2048;

thread_local! {
    /// (start of the current second, lines written in it, lines suppressed since the last
    /// line written).
    static WINDOW: Cell<(Option<Instant>, u32, u64)> = const { Cell::new((None, 0, 0)) };
}

/// Write `message` to the log unless this core already wrote `PER_SECOND` lines this second.
pub fn line(message: std::fmt::Arguments<'_>) {
    let now = Instant::now();
    let (start, written, suppressed) = WINDOW.with(Cell::get);
    let (start, written) = match start {
        Some(s) if now.duration_since(s) < Duration::from_secs(1) => (s, written),
        _ => (now, 0),
    };
    if written >= PER_SECOND {
        WINDOW.with(|w| w.set((Some(start), written, suppressed + 1)));
        return;
    }
    WINDOW.with(|w| w.set((Some(start), written + 1, 0)));
    if suppressed > 0 {
        crate::control::log::log(format_args!(
            "{suppressed} diagnostic line(s) from this worker suppressed (over {PER_SECOND}/s)"
        ));
    }
    crate::control::log::log(clean(&message.to_string()));
}

/// `text` cut at `MAX_LINE` bytes, control characters replaced by `?`.
fn clean(text: &str) -> String {
    let mut end = text.len().min(MAX_LINE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out: String = text[..end]
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if end < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_and_cannot_hold_control_characters() {
        assert_eq!(clean("ok"), "ok");
        assert_eq!(clean("a\r\nforged line"), "a??forged line");
        let long = "é".repeat(MAX_LINE);
        let cut = clean(&long);
        assert!(cut.len() <= MAX_LINE + "…".len(), "{}", cut.len());
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn a_core_writes_at_most_its_quota_a_second() {
        for i in 0..(PER_SECOND + 5) {
            line(format_args!("diag test line {i}"));
        }
        let (_, written, suppressed) = WINDOW.with(Cell::get);
        assert_eq!(written, PER_SECOND);
        assert_eq!(suppressed, 5);
    }
}
