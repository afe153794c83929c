//! Returning memory to the OS after a burst.
//!
//! A core that served many connections at once holds their buffers; when those connections
//! park or close, the buffers are freed, but the allocator keeps the pages. Each core counts
//! the bytes it freed this way and, past `TRIM_AFTER`, asks the allocator to give free pages
//! back, so idle connections cost what they hold, not what the busiest moment left behind.

use std::cell::Cell;

/// Freed bytes after which a worker trims.
const TRIM_AFTER: usize = 1 << 20;

thread_local! {
    static RELEASED: Cell<usize> = const { Cell::new(0) };
}

/// Count `bytes` of per-connection memory freed on this core.
pub fn released(bytes: usize) {
    RELEASED.with(|r| r.set(r.get().saturating_add(bytes)));
}

/// Trim if this core freed more than `TRIM_AFTER` bytes since the last trim; called from the
/// worker's ticker. True if it trimmed.
pub fn trim_if_released() -> bool {
    let due = RELEASED.with(|r| {
        let due = r.get() >= TRIM_AFTER;
        if due {
            r.set(0);
        }
        due
    });
    if due {
        trim();
    }
    due
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() {
    // SAFETY: malloc_trim takes no pointers and has no preconditions; it only releases free
    // memory of glibc's arenas (taking each arena's lock in turn).
    unsafe { libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn trims_only_past_the_threshold_and_then_starts_over() {
        assert!(!trim_if_released());
        released(TRIM_AFTER - 1);
        assert!(!trim_if_released());
        released(1);
        assert!(trim_if_released());
        assert!(!trim_if_released());
    }

    #[test]
    fn trimming_returns_freed_pages_to_the_os() {
        fn rss_kib() -> usize {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        }
        if cfg!(not(all(target_os = "linux", target_env = "gnu"))) {
            return;
        }
        // 64 MiB in 8 KiB pieces (below the mmap threshold, so they live in an arena), every
        // fourth one kept so the freed ones are holes the arena cannot shrink past.
        let mut blocks: Vec<Vec<u8>> = (0..8192).map(|_| vec![1u8; 8192]).collect();
        let before_free = rss_kib();
        let mut kept = Vec::new();
        for (i, b) in blocks.drain(..).enumerate() {
            if i % 4 == 0 {
                kept.push(b);
            }
        }
        released(TRIM_AFTER);
        assert!(trim_if_released());
        let after_trim = rss_kib();
        assert!(
            before_free.saturating_sub(after_trim) >= 24 * 1024,
            "RSS {before_free} KiB before freeing 48 MiB, {after_trim} KiB after trimming"
        );
        drop(kept);
    }
}
