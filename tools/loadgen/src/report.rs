//! What a run measured: per-thread `Stats`, merged into one `Summary` for the text and JSON
//! output, and the live `Progress` counters the main thread samples once a second.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies are recorded in µs up to one hour (an open-loop backlog can exceed the timeout).
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Socket and protocol errors, counted per event.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Errors {
    pub connect: u64,
    /// Failed reads, and the server closing a connection with requests in flight.
    pub read: u64,
    pub write: u64,
    pub timeout: u64,
    /// A response httparse or the body framing refused.
    pub protocol: u64,
}

/// One thread's results; only that thread writes it, main merges them at the end.
pub struct Stats {
    pub completed: u64,
    /// Indexed by status code (httparse accepts any three digits).
    pub status: Box<[u64; 1000]>,
    pub errors: Errors,
    pub latency: Histogram<u64>,
}

/// Written by one worker, read by the progress line: on its own cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Progress {
    pub completed: AtomicU64,
    pub errors: AtomicU64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub requests: u64,
    pub duration_s: f64,
    pub requests_per_sec: f64,
    pub status: BTreeMap<u16, u64>,
    pub errors: Errors,
    pub latency_ms: Percentiles,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    pub max: f64,
    pub mean: f64,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            completed: 0,
            status: Box::new([0; 1000]),
            errors: Errors::default(),
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .unwrap_or_else(|_| unreachable!("constant bounds are valid")),
        }
    }

    /// One response ended, `latency` after its (intended) send.
    pub fn record(&mut self, status: u16, latency: Duration) {
        self.completed += 1;
        if let Some(n) = self.status.get_mut(status as usize) {
            *n += 1;
        }
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.latency.saturating_record(us);
    }

    pub fn merge(&mut self, other: &Stats) {
        self.completed += other.completed;
        for (a, b) in self.status.iter_mut().zip(other.status.iter()) {
            *a += b;
        }
        let (e, o) = (&mut self.errors, other.errors);
        e.connect += o.connect;
        e.read += o.read;
        e.write += o.write;
        e.timeout += o.timeout;
        e.protocol += o.protocol;
        // Same bounds on every thread, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
    }

    pub fn summary(&self, elapsed: Duration) -> Summary {
        let secs = elapsed.as_secs_f64();
        let ms = |us: u64| us as f64 / 1000.0;
        let h = &self.latency;
        let q = |p: f64| {
            if h.is_empty() {
                0.0
            } else {
                ms(h.value_at_quantile(p))
            }
        };
        Summary {
            requests: self.completed,
            duration_s: (secs * 1000.0).round() / 1000.0,
            requests_per_sec: if secs > 0.0 {
                (self.completed as f64 / secs * 10.0).round() / 10.0
            } else {
                0.0
            },
            status: (0u16..)
                .zip(self.status.iter())
                .filter(|(_, n)| **n > 0)
                .map(|(code, n)| (code, *n))
                .collect(),
            errors: self.errors,
            latency_ms: Percentiles {
                p50: q(0.5),
                p90: q(0.9),
                p99: q(0.99),
                p99_9: q(0.999),
                max: if h.is_empty() { 0.0 } else { ms(h.max()) },
                mean: h.mean().round() / 1000.0,
            },
        }
    }
}

impl Default for Stats {
    fn default() -> Stats {
        Stats::new()
    }
}

impl Summary {
    /// The human summary; `title` says what was run.
    pub fn text(&self, title: &str) -> String {
        let mut s = format!("{title}\n");
        let _ = writeln!(
            s,
            "  requests   {} in {:.3} s, {:.1} req/s",
            self.requests, self.duration_s, self.requests_per_sec
        );
        let codes: Vec<String> = self
            .status
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        let _ = writeln!(
            s,
            "  status     {}",
            if codes.is_empty() {
                "none".into()
            } else {
                codes.join(", ")
            }
        );
        let e = self.errors;
        let _ = writeln!(
            s,
            "  errors     connect {}, read {}, write {}, timeout {}, protocol {}",
            e.connect, e.read, e.write, e.timeout, e.protocol
        );
        let l = &self.latency_ms;
        let _ = writeln!(
            s,
            "  latency    p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms (mean {:.3} ms)",
            l.p50, l.p90, l.p99, l.p99_9, l.max, l.mean
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_threads_give_one_summary() {
        let mut a = Stats::new();
        let mut b = Stats::new();
        for i in 1..=99 {
            a.record(200, Duration::from_micros(i * 10));
        }
        b.record(500, Duration::from_millis(25));
        b.errors.read = 2;
        a.merge(&b);
        let s = a.summary(Duration::from_secs(2));
        assert_eq!(s.requests, 100);
        assert_eq!(s.requests_per_sec, 50.0);
        assert_eq!(s.status, BTreeMap::from([(200, 99), (500, 1)]));
        assert_eq!(
            s.errors,
            Errors {
                read: 2,
                ..Errors::default()
            }
        );
        assert_eq!(s.latency_ms.p50, 0.5);
        assert!(
            (24.9..25.1).contains(&s.latency_ms.max),
            "{}",
            s.latency_ms.max
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["status"]["500"], 1);
        assert!(json["latency_ms"]["p99.9"].is_number());
    }
}
