//! The metrics aggregator: one control thread receives each core's `Delta`
//! (`dataplane/metrics.rs`), adds it into the process totals, resets it and sends it back to
//! its core. The admin API renders the totals as Prometheus text (`GET /metrics`) and JSON
//! (`GET /metrics.json`); the shapes are in README "Metrics".
//!
//! Totals are cumulative since the process started and indexed by interned series id, so a
//! reload keeps the totals of every route whose identity (API, stage, method, resource) is
//! unchanged.

use std::fmt::Write;
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::log::log;
use crate::dataplane::Shared;
use crate::dataplane::handover::Taker;
use crate::dataplane::metrics::{Delta, PlanDelta, SeriesName, histogram};

/// Prometheus histogram buckets (seconds) for `Latency` and `IntegrationLatency`.
const BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Cumulative totals of one series.
#[derive(Default)]
struct SeriesTotal {
    count: u64,
    errors_4xx: u64,
    errors_5xx: u64,
    cache_hits: u64,
    cache_misses: u64,
    latency_sum_us: u64,
    integration_sum_us: u64,
    integration_count: u64,
    latency: Option<Histogram<u64>>,
    integration: Option<Histogram<u64>>,
}

#[derive(Default)]
struct Totals {
    series: Vec<SeriesTotal>,
    /// Index 0: no usage plan; then by plan metric id + 1.
    plans: Vec<PlanDelta>,
}

/// The totals, shared by the aggregator thread and the admin API.
#[derive(Default)]
pub struct Metrics {
    totals: Mutex<Totals>,
}

impl Metrics {
    /// Start the aggregator on the cores' hand-over channel (once per process).
    pub fn spawn(shared: &Shared) -> Arc<Metrics> {
        let metrics = Arc::new(Metrics::default());
        if let Some(rx) = shared.take_metrics() {
            let m = metrics.clone();
            let spawned = std::thread::Builder::new()
                .name("tollgate-metrics".into())
                .spawn(move || m.run(rx));
            if let Err(e) = spawned {
                log(format!("metrics: cannot start the aggregator: {e}"));
            }
        }
        metrics
    }

    fn run(&self, rx: Taker<Box<Delta>>) {
        while let Some(mut delta) = rx.recv() {
            self.merge(&delta);
            delta.reset();
            let home = delta.home.clone();
            // The core holds the other end for its life; a full channel cannot happen (two
            // `Delta`s per core, capacity two).
            let _ = home.try_send(delta);
        }
    }

    fn merge(&self, delta: &Delta) {
        let mut totals = match self.totals.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        if totals.series.len() < delta.series.len() {
            totals
                .series
                .resize_with(delta.series.len(), SeriesTotal::default);
        }
        for (t, d) in totals.series.iter_mut().zip(&delta.series) {
            if d.count == 0 {
                continue;
            }
            t.count += d.count;
            t.errors_4xx += d.errors_4xx;
            t.errors_5xx += d.errors_5xx;
            t.cache_hits += d.cache_hits;
            t.cache_misses += d.cache_misses;
            t.latency_sum_us += d.latency_sum_us;
            t.integration_sum_us += d.integration_sum_us;
            t.integration_count += d.integration_count;
            if let Some(h) = &d.latency {
                let _ = t.latency.get_or_insert_with(histogram).add(&**h);
            }
            if let Some(h) = &d.integration {
                let _ = t.integration.get_or_insert_with(histogram).add(&**h);
            }
        }
        if totals.plans.len() < delta.plans.len() {
            totals.plans.resize(delta.plans.len(), PlanDelta::default());
        }
        for (t, d) in totals.plans.iter_mut().zip(&delta.plans) {
            t.throttled += d.throttled;
            t.quota_exceeded += d.quota_exceeded;
        }
    }

    fn with_totals<R>(&self, f: impl FnOnce(&Totals) -> R) -> R {
        match self.totals.lock() {
            Ok(t) => f(&t),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// `GET /metrics`: Prometheus text exposition format 0.0.4.
    pub fn prometheus(&self, shared: &Shared) -> String {
        let (names, plans) = shared.series_names();
        let mut out = String::with_capacity(4096);
        self.with_totals(|t| {
            let empty = SeriesTotal::default();
            let rows: Vec<(&SeriesName, &SeriesTotal)> = names
                .iter()
                .enumerate()
                .map(|(i, n)| (n, t.series.get(i).unwrap_or(&empty)))
                .collect();
            type Field = fn(&SeriesTotal) -> u64;
            let counters: [(&str, &str, Field); 5] = [
                ("tollgate_requests_total", "Requests (API Gateway Count).", |s| s.count),
                ("tollgate_4xx_errors_total", "Responses with a 4xx status (4XXError).", |s| {
                    s.errors_4xx
                }),
                ("tollgate_5xx_errors_total", "Responses with a 5xx status (5XXError).", |s| {
                    s.errors_5xx
                }),
                ("tollgate_cache_hits_total", "Served from the stage cache (CacheHitCount).", |s| {
                    s.cache_hits
                }),
                ("tollgate_cache_misses_total", "Cacheable, not in the stage cache (CacheMissCount).", |s| {
                    s.cache_misses
                }),
            ];
            for (name, help, field) in counters {
                header(&mut out, name, help, "counter");
                for (n, s) in &rows {
                    let _ = writeln!(out, "{name}{{{}}} {}", labels(n), field(s));
                }
            }
            header(
                &mut out,
                "tollgate_latency_seconds",
                "Time from the request's first byte to the response's end (Latency).",
                "histogram",
            );
            for (n, s) in &rows {
                prom_histogram(&mut out, "tollgate_latency_seconds", n, s.latency.as_ref(), s.count, s.latency_sum_us);
            }
            header(
                &mut out,
                "tollgate_integration_latency_seconds",
                "Time from calling the integration to its response head (IntegrationLatency).",
                "histogram",
            );
            for (n, s) in &rows {
                prom_histogram(
                    &mut out,
                    "tollgate_integration_latency_seconds",
                    n,
                    s.integration.as_ref(),
                    s.integration_count,
                    s.integration_sum_us,
                );
            }
            let plan_rows = plan_rows(t, &plans);
            header(&mut out, "tollgate_throttled_total", "Requests refused by a throttle (429 Too Many Requests), by usage plan (`-`: no plan).", "counter");
            for (plan, p) in &plan_rows {
                let _ = writeln!(out, "tollgate_throttled_total{{usage_plan=\"{}\"}} {}", escape(plan), p.throttled);
            }
            header(&mut out, "tollgate_quota_exceeded_total", "Requests refused by a usage plan quota (429 Limit Exceeded).", "counter");
            for (plan, p) in &plan_rows {
                let _ = writeln!(out, "tollgate_quota_exceeded_total{{usage_plan=\"{}\"}} {}", escape(plan), p.quota_exceeded);
            }
        });
        for (name, help, kind, value) in gateway_health(shared) {
            header(&mut out, name, help, kind);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }

    /// `GET /metrics.json`: the same totals, with latency percentiles (README "Metrics").
    pub fn json(&self, shared: &Shared) -> Value {
        let (names, plans) = shared.series_names();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let (series, plan_list) = self.with_totals(|t| {
            let empty = SeriesTotal::default();
            let series: Vec<Value> = names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let s = t.series.get(i).unwrap_or(&empty);
                    json!({
                        "api": &*n.api,
                        "stage": &*n.stage,
                        "resource": &*n.resource,
                        "method": &*n.method,
                        "canary": n.canary,
                        "Count": s.count,
                        "4XXError": s.errors_4xx,
                        "5XXError": s.errors_5xx,
                        "CacheHitCount": s.cache_hits,
                        "CacheMissCount": s.cache_misses,
                        "Latency": latency_json(s.latency.as_ref(), s.count, s.latency_sum_us),
                        "IntegrationLatency": latency_json(
                            s.integration.as_ref(),
                            s.integration_count,
                            s.integration_sum_us
                        ),
                    })
                })
                .collect();
            let plan_list: Vec<Value> = plan_rows(t, &plans)
                .into_iter()
                .map(|(plan, p)| {
                    json!({"usagePlanId": plan, "throttled": p.throttled, "quotaExceeded": p.quota_exceeded})
                })
                .collect();
            (series, plan_list)
        });
        let mut gateway = serde_json::Map::new();
        for (name, _, _, value) in gateway_health(shared) {
            let key = name.trim_start_matches("tollgate_").to_string();
            gateway.insert(key, json!(value));
        }
        json!({
            "time": now,
            "generation": shared.generation(),
            "gateway": gateway,
            "series": series,
            "usagePlans": plan_list,
        })
    }
}

/// (plan label, counts): `-` (no plan) first, then every interned plan.
fn plan_rows(t: &Totals, plans: &[Box<str>]) -> Vec<(String, PlanDelta)> {
    let get = |i: usize| t.plans.get(i).copied().unwrap_or_default();
    std::iter::once(("-".to_string(), get(0)))
        .chain(
            plans
                .iter()
                .enumerate()
                .map(|(i, p)| (p.to_string(), get(i + 1))),
        )
        .collect()
}

/// Gauges and counters of the gateway itself: (name, help, type, value).
fn gateway_health(shared: &Shared) -> Vec<(&'static str, &'static str, &'static str, u64)> {
    use std::sync::atomic::Ordering::Relaxed;
    let total = |c| Shared::total(c) as u64;
    vec![
        (
            "tollgate_connections_open",
            "Client connections open.",
            "gauge",
            total(&shared.connections),
        ),
        (
            "tollgate_connections_accepted_total",
            "Client connections accepted.",
            "counter",
            total(&shared.accepted),
        ),
        (
            "tollgate_tls_handshakes_total",
            "TLS handshakes completed on HTTPS listeners.",
            "counter",
            total(&shared.tls_handshakes),
        ),
        (
            "tollgate_tls_handshake_failures_total",
            "TLS handshakes that failed or timed out.",
            "counter",
            total(&shared.tls_failures),
        ),
        (
            "tollgate_upstream_pool_idle_connections",
            "Idle keep-alive upstream connections in the cores' pools.",
            "gauge",
            total(&shared.pool_idle),
        ),
        (
            "tollgate_requests_in_flight",
            "Requests being served.",
            "gauge",
            total(&shared.in_flight),
        ),
        (
            "tollgate_reloads_total",
            "Configuration reloads published.",
            "counter",
            shared.reloads.load(Relaxed),
        ),
        (
            "tollgate_reload_failures_total",
            "Configuration reloads refused (invalid config).",
            "counter",
            shared.reload_failures.load(Relaxed),
        ),
        (
            "tollgate_access_log_lines_dropped_total",
            "Access and execution log lines dropped because the log writer was behind.",
            "counter",
            total(&shared.log_dropped),
        ),
        (
            "tollgate_otlp_spans_exported_total",
            "Spans the OTLP collector accepted.",
            "counter",
            shared.spans_exported.load(Relaxed),
        ),
        (
            "tollgate_otlp_spans_dropped_total",
            "Spans dropped because the OTLP exporter was behind or the collector failed.",
            "counter",
            shared.spans_dropped.load(Relaxed),
        ),
    ]
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn labels(n: &SeriesName) -> String {
    format!(
        "api=\"{}\",stage=\"{}\",resource=\"{}\",method=\"{}\",canary=\"{}\"",
        escape(&n.api),
        escape(&n.stage),
        escape(&n.resource),
        escape(&n.method),
        n.canary
    )
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn prom_histogram(
    out: &mut String,
    name: &str,
    n: &SeriesName,
    h: Option<&Histogram<u64>>,
    count: u64,
    sum_us: u64,
) {
    let l = labels(n);
    let mut cumulative = [0u64; BUCKETS.len()];
    if let Some(h) = h {
        for v in h.iter_recorded() {
            let secs = v.value_iterated_to() as f64 / 1e6;
            for (i, le) in BUCKETS.iter().enumerate() {
                if secs <= *le {
                    cumulative[i] += v.count_at_value();
                }
            }
        }
    }
    for (le, c) in BUCKETS.iter().zip(cumulative) {
        let _ = writeln!(out, "{name}_bucket{{{l},le=\"{le}\"}} {c}");
    }
    let _ = writeln!(out, "{name}_bucket{{{l},le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum{{{l}}} {}", sum_us as f64 / 1e6);
    let _ = writeln!(out, "{name}_count{{{l}}} {count}");
}

/// Milliseconds, as API Gateway reports `Latency`.
fn latency_json(h: Option<&Histogram<u64>>, count: u64, sum_us: u64) -> Value {
    let ms = |us: u64| us as f64 / 1000.0;
    match h {
        Some(h) if count > 0 => json!({
            "count": count,
            "sumMs": ms(sum_us),
            "p50": ms(h.value_at_quantile(0.5)),
            "p90": ms(h.value_at_quantile(0.9)),
            "p99": ms(h.value_at_quantile(0.99)),
            "max": ms(h.max()),
        }),
        _ => {
            json!({"count": count, "sumMs": ms(sum_us), "p50": null, "p90": null, "p99": null, "max": null})
        }
    }
}
