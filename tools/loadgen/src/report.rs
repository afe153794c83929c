//! What a run measured: per-thread `Stats`, merged into one `Summary` for the text and JSON
//! output, and the live `Progress` counters the main thread samples once a second.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::tls::Session;

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
    /// Why the first failed connect failed (the summary prints it once).
    pub connect_error: Option<String>,
    pub tls: Handshakes,
    /// `--hold`: connections open and answered when the hold began.
    pub held: u64,
    pub latency: Histogram<u64>,
}

/// Completed TLS handshakes and what the first one negotiated.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Handshakes {
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: Option<&'static str>,
    pub cipher_suite: Option<&'static str>,
    pub handshakes: u64,
    /// Of which resumed a session from an earlier connection.
    pub resumed: u64,
}

/// Written by one worker, read by the progress line: on its own cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Progress {
    pub completed: AtomicU64,
    pub errors: AtomicU64,
    /// `--hold`: connections answered or failed, and of those, held open.
    pub settled: AtomicU64,
    pub held: AtomicU64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub requests: u64,
    pub duration_s: f64,
    pub requests_per_sec: f64,
    pub status: BTreeMap<u16, u64>,
    pub errors: Errors,
    /// The first failed connect's reason, e.g. `tls: invalid peer certificate: UnknownIssuer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_error: Option<String>,
    /// https:// only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Handshakes>,
    pub latency_ms: Percentiles,
    /// `--hold` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<u64>,
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
            connect_error: None,
            tls: Handshakes::default(),
            held: 0,
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

    /// A connect (or TLS handshake) failed; the first reason is kept.
    pub fn connect_failed(&mut self, reason: &dyn std::fmt::Display) {
        self.errors.connect += 1;
        if self.connect_error.is_none() {
            self.connect_error = Some(reason.to_string());
        }
    }

    pub fn handshake(&mut self, session: Session) {
        let t = &mut self.tls;
        t.handshakes += 1;
        t.resumed += u64::from(session.resumed);
        t.version.get_or_insert(session.version);
        t.cipher_suite.get_or_insert(session.cipher_suite);
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
        if self.connect_error.is_none() {
            self.connect_error.clone_from(&other.connect_error);
        }
        let (t, o) = (&mut self.tls, other.tls);
        t.handshakes += o.handshakes;
        t.resumed += o.resumed;
        t.version = t.version.or(o.version);
        t.cipher_suite = t.cipher_suite.or(o.cipher_suite);
        self.held += other.held;
        // Same bounds on every thread, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
    }

    /// `tls`: the run was over TLS; `hold`: it was `--hold`.
    pub fn summary(&self, elapsed: Duration, tls: bool, hold: bool) -> Summary {
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
            connect_error: self.connect_error.clone(),
            tls: tls.then_some(self.tls),
            latency_ms: Percentiles {
                p50: q(0.5),
                p90: q(0.9),
                p99: q(0.99),
                p99_9: q(0.999),
                max: if h.is_empty() { 0.0 } else { ms(h.max()) },
                mean: h.mean().round() / 1000.0,
            },
            held: hold.then_some(self.held),
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
        let why = self
            .connect_error
            .as_ref()
            .map_or(String::new(), |r| format!(" ({r})"));
        let _ = writeln!(
            s,
            "  errors     connect {}{why}, read {}, write {}, timeout {}, protocol {}",
            e.connect, e.read, e.write, e.timeout, e.protocol
        );
        if let Some(t) = &self.tls {
            let _ = writeln!(
                s,
                "  tls        {} {}, {} handshakes ({} resumed)",
                t.version.unwrap_or("-"),
                t.cipher_suite.unwrap_or("-"),
                t.handshakes,
                t.resumed
            );
        }
        let l = &self.latency_ms;
        let _ = writeln!(
            s,
            "  latency    p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms (mean {:.3} ms)",
            l.p50, l.p90, l.p99, l.p99_9, l.max, l.mean
        );
        if let Some(held) = self.held {
            let _ = writeln!(s, "  held       {held} connections");
        }
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
        let s = a.summary(Duration::from_secs(2), false, false);
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
        for absent in ["connect_error", "tls", "held"] {
            assert!(json.get(absent).is_none(), "{json}");
        }
    }

    #[test]
    fn handshakes_and_connect_reasons_merge() {
        let session = |resumed| Session {
            version: "TLSv1.3",
            cipher_suite: "TLS13_AES_128_GCM_SHA256",
            resumed,
        };
        let mut a = Stats::new();
        let mut b = Stats::new();
        a.handshake(session(false));
        b.handshake(session(true));
        b.connect_failed(&"tls: invalid peer certificate: UnknownIssuer");
        b.connect_failed(&"connect timed out");
        b.held = 3;
        a.merge(&b);
        let s = a.summary(Duration::from_secs(1), true, true);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json["tls"],
            serde_json::json!({"version": "TLSv1.3", "cipher_suite": "TLS13_AES_128_GCM_SHA256",
                               "handshakes": 2, "resumed": 1})
        );
        assert_eq!(json["errors"]["connect"], 2);
        assert_eq!(
            json["connect_error"],
            "tls: invalid peer certificate: UnknownIssuer"
        );
        assert_eq!(json["held"], 3);
        let text = s.text("t");
        assert!(text.contains("connect 2 (tls: invalid peer"), "{text}");
        assert!(text.contains("TLSv1.3 TLS13_AES_128_GCM_SHA256, 2 handshakes (1 resumed)"));
        assert!(text.contains("held       3 connections"), "{text}");
    }
}
