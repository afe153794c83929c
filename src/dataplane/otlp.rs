//! Spans for stages with `tracingEnabled` (issue 7), on the core: one OTLP/JSON span object
//! per request, rendered at completion into this core's span batches (`Worker::spans`, the
//! access log machinery: bounded per-core batches handed to the exporter thread
//! `control/otlp.rs`, dropped and counted in `Shared::spans_dropped` when it is behind —
//! never blocking, no allocation in steady state).
//!
//! The span: trace id from the client's valid `traceparent` (its parent id the span's
//! parent) or else from the `X-Amzn-Trace-Id` Root (`TraceId::w3c_trace_id`); span id the
//! trace's `Parent` (random per request, and the parent id tollgate propagates in its own
//! `traceparent`); name `{method} {resource}`; server kind; start and end in Unix ns;
//! attributes `http.request.method`, `http.route`, `http.response.status_code`, `url.path`,
//! `aws.api_gateway.api_id`, `aws.api_gateway.stage`, `aws.request_id`; status error for a 5xx.

use super::access_log::{Captured, Line};
use super::exec_log::json_text;
use super::trace::TraceId;
use crate::http1::{self, RequestHead};

/// Keep the client's `traceparent` when `upstream_head` would forward it (valid, one).
pub fn capture_traceparent(
    logged: &mut Vec<u8>,
    captured: &mut Captured,
    head: &RequestHead,
    data: &[u8],
) {
    if super::trace::forward_traceparent(data, &head.headers)
        && let Some((_, v)) = head
            .headers
            .iter()
            .find(|(n, _)| n.get(data).eq_ignore_ascii_case(b"traceparent"))
    {
        logged.extend_from_slice(&v.get(data)[..55]);
    }
    captured.ends[7] = logged.len() as u16;
}

/// The completion hook's part (`request::complete`): the request's span, when its stage traces.
pub fn complete(worker: &super::worker::Worker, snap: &crate::config::Snapshot, line: &Line<'_>) {
    let Some(destination) = snap.spans else {
        return;
    };
    let done = &line.meta.done;
    let traced = done
        .stage
        .and_then(|s| snap.stages.get(s.0 as usize))
        .is_some_and(|s| s.tracing);
    let Some(trace) = line.meta.trace.filter(|_| traced) else {
        return;
    };
    let end_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let dropped = worker
        .spans
        .borrow_mut()
        .line(snap, destination, |out| render(out, line, &trace, end_ns));
    if dropped > 0 {
        worker
            .shared
            .spans_dropped
            .fetch_add(dropped as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One span as OTLP/JSON (ids in hex, 64-bit integers as strings).
pub fn render(out: &mut Vec<u8>, line: &Line<'_>, trace: &TraceId, end_ns: u64) {
    let meta = line.meta;
    let done = &meta.done;
    let stage = done.stage.and_then(|s| line.snap.stages.get(s.0 as usize));
    let api = stage.and_then(|s| line.snap.apis.get(s.api.0 as usize));
    let route = done
        .route
        .and_then(|r| api.and_then(|a| a.routes.get(r.0 as usize)));
    let client = line.field(7);
    out.extend_from_slice(b"{\"traceId\":\"");
    if client.len() == 55 {
        out.extend_from_slice(&client[3..35]);
    } else {
        out.extend_from_slice(&trace.w3c_trace_id());
    }
    out.extend_from_slice(b"\",\"spanId\":\"");
    out.extend_from_slice(&trace.traceparent()[36..52]);
    out.push(b'"');
    if client.len() == 55 {
        out.extend_from_slice(b",\"parentSpanId\":\"");
        out.extend_from_slice(&client[36..52]);
        out.push(b'"');
    }
    let method = line.field(0);
    let resource = route.map_or(&b""[..], |r| r.path.as_bytes());
    out.extend_from_slice(b",\"name\":\"");
    json_text(out, method);
    if !resource.is_empty() {
        out.push(b' ');
        json_text(out, resource);
    }
    out.extend_from_slice(b"\",\"kind\":2,\"startTimeUnixNano\":\"");
    http1::write_decimal(out, end_ns.saturating_sub(line.latency_ns));
    out.extend_from_slice(b"\",\"endTimeUnixNano\":\"");
    http1::write_decimal(out, end_ns);
    out.extend_from_slice(b"\",\"attributes\":[");
    string_attr(out, b"http.request.method", method, false);
    if !resource.is_empty() {
        string_attr(out, b"http.route", resource, true);
    }
    out.extend_from_slice(b",{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"");
    http1::write_decimal(out, u64::from(done.status));
    out.extend_from_slice(b"\"}}");
    string_attr(out, b"url.path", line.field(1), true);
    let api_id = api.map_or(&b""[..], |a| a.id.as_bytes());
    string_attr(out, b"aws.api_gateway.api_id", api_id, true);
    let stage_name = stage.map_or(&b""[..], |s| s.name.as_bytes());
    string_attr(out, b"aws.api_gateway.stage", stage_name, true);
    string_attr(out, b"aws.request_id", &meta.request_id, true);
    out.extend_from_slice(b"],\"status\":");
    if done.status >= 500 {
        out.extend_from_slice(b"{\"code\":2,\"message\":\"");
        match done.error {
            Some(kind) => {
                let protocol = meta.protocol.unwrap_or(crate::config::Protocol::Rest);
                json_text(
                    out,
                    crate::config::error_context(kind, protocol).0.as_bytes(),
                );
            }
            None => out.extend_from_slice(b"HTTP 5xx"),
        }
        out.extend_from_slice(b"\"}}");
    } else {
        out.extend_from_slice(b"{\"code\":0}}");
    }
}

fn string_attr(out: &mut Vec<u8>, key: &[u8], value: &[u8], comma: bool) {
    if comma {
        out.push(b',');
    }
    out.extend_from_slice(b"{\"key\":\"");
    out.extend_from_slice(key);
    out.extend_from_slice(b"\",\"value\":{\"stringValue\":\"");
    json_text(out, value);
    out.extend_from_slice(b"\"}}");
}
