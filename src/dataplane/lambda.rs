//! Lambda proxy integrations on the request path (`type: aws_proxy`, SPEC-NOTES §1).
//!
//! Lifecycle of one request:
//! 1. `request.rs` sees the route's integration is Lambda and the body is not all buffered:
//!    it reads the whole body into the read buffer first (`iam::read_body`, bounded by
//!    `maxBodyBytes` and the body timeout) and dispatches again — before any authorizer or
//!    meter ran, so nothing is counted twice.
//! 2. [`prepare`] writes the event (payload 1.0, [`event_v1`], or 2.0, [`event_v2`]) from the
//!    request, its authorizer's output and the stage straight into one buffer of JSON
//!    ([`json`]: no `Value` per field), and says how many bytes of the read buffer the
//!    request took.
//! 3. [`respond`] consumes the request, calls the stage's function through
//!    `lambda_auth::invoke::call` (the core's upstream pools; the deadline is the
//!    integration's timeout), reads its result ([`response`]) and writes the answer:
//!    a function error (status ≥ 400 or `X-Amz-Function-Error`), an unreachable function or a
//!    malformed result → REST 502 / HTTP APIs 500 (`ErrorKind::FunctionFailure`); no answer in
//!    time → REST 504 / HTTP APIs 503 (`ErrorKind::FunctionTimeout`).
//!
//! The event is one buffer per request, sized from the request; nothing is kept between
//! requests. The stage cache does not apply to Lambda integrations yet.

pub(super) mod event;
pub mod event_v1;
pub mod event_v2;
mod fields;
pub mod json;
#[cfg(test)]
mod reference;
pub mod response;
#[cfg(test)]
pub(crate) mod tests;

use std::cell::RefCell;
use std::net::IpAddr;

pub use event::is_binary;
use response::ProxyResponse;

use super::auth::jwt::Claims;
use super::conn::{Conn, Outcome};
use super::functions::Buffers;
use super::lambda_auth::Grant;
use super::lambda_auth::invoke::{self, CallError};
use super::respond::{self, Meta};
use super::stream::ClientStream;
use super::tls::ClientCertInfo;
use super::worker::Worker;
use crate::config::{
    Api, ErrorKind, LambdaProxy, Params, PayloadVersion, Protocol, Route, ServerLimits, Snapshot,
    Stage,
};
use crate::http1::{self, Framing, RequestHead};

/// What the event is built from.
pub struct Request<'a> {
    pub data: &'a [u8],
    pub head: &'a RequestHead,
    pub api: &'a Api,
    pub stage: &'a Stage,
    pub route: &'a Route,
    /// The path after the stage or base path (`/` at least).
    pub resource_path: &'a [u8],
    /// The request path as sent (with the stage).
    pub path: &'a [u8],
    pub host: &'a [u8],
    pub params: &'a Params,
    /// The client's address (`X-Forwarded-For` from trusted proxies applied).
    pub source_ip: IpAddr,
    pub request_id: &'a [u8],
    pub extended_id: &'a [u8],
    pub account_id: &'a str,
    pub client_cert: Option<&'a ClientCertInfo>,
    /// The route's verified JWT.
    pub claims: Option<&'a Claims>,
    /// The route's Lambda authorizer's grant.
    pub grant: Option<&'a Grant>,
    /// The verified SigV4 caller of an `AWS_IAM` route.
    pub caller: Option<Caller<'a>>,
    /// The whole request body (de-chunked).
    pub body: &'a [u8],
    /// Wall-clock milliseconds when the request started (`requestTimeEpoch`, `timeEpoch`).
    pub now_ms: u64,
    /// The request's `X-Amzn-Trace-Id` (`Meta::trace`): sent with the invocation.
    pub trace: super::trace::TraceId,
}

/// An `AWS_IAM` caller, as the event shows it.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    pub user_arn: &'a str,
    pub access_key: &'a str,
    pub account: &'a str,
}

/// A request ready to be sent to the function.
pub struct Prepared {
    pub event: Vec<u8>,
    /// Bytes of the read buffer the request (head and body) takes.
    pub consumed: usize,
    /// REST: the first `Accept` type is a binary media type, so a base64 result body is
    /// decoded. HTTP APIs always decode.
    pub decode_binary: bool,
    /// `X-Amzn-Trace-Id` of the event, repeated on a REST response.
    pub trace_id: String,
    /// The whole `X-Amzn-Trace-Id` value sent with the invocation.
    pub trace: super::trace::TraceId,
}

/// The request's body when it is all in `data`: `Some((framed length, payload))`.
pub fn buffered_body<'a>(
    head: &RequestHead,
    data: &'a [u8],
    limits: &ServerLimits,
) -> Option<(usize, std::borrow::Cow<'a, [u8]>)> {
    let body = data.get(head.head_len..)?;
    match head.framing {
        Framing::None => Some((0, (&[][..]).into())),
        Framing::Length(n) => {
            let n = usize::try_from(n).ok()?;
            Some((n, body.get(..n)?.into()))
        }
        Framing::Chunked => {
            let mut payload = Vec::new();
            let len =
                super::iam::chunked_end(body, limits, |d| payload.extend_from_slice(d)).ok()??;
            Some((len, payload.into()))
        }
    }
}

/// Whether the whole body is in `data` (else `request.rs` reads it first).
pub fn body_ready(head: &RequestHead, data: &[u8], limits: &ServerLimits) -> bool {
    let Some(body) = data.get(head.head_len..) else {
        return false;
    };
    match head.framing {
        Framing::None => true,
        Framing::Length(n) => body.len() as u64 >= n,
        Framing::Chunked => matches!(super::iam::chunked_end(body, limits, |_| {}), Ok(Some(_))),
    }
}

/// Builds the event for `lambda` (see the module docs).
pub fn prepare(req: &Request<'_>, lambda: &LambdaProxy, consumed: usize) -> Prepared {
    let event = write_event(req, lambda.payload);
    let mut trace_id = TRACES.with(|t| t.borrow_mut().pop()).unwrap_or_default();
    trace_id.clear();
    event::trace_id_into(req, &mut trace_id);
    let accept = event::header(req, b"accept").unwrap_or_default();
    let first = accept.split(|&b| b == b',').next().unwrap_or_default();
    let decode_binary = req.api.protocol == Protocol::Http
        || is_binary(&req.api.binary_media_types, event::media_type(first));
    Prepared {
        event,
        consumed,
        decode_binary,
        trace_id,
        trace: req.trace,
    }
}

/// The event's JSON, in one buffer sized to hold it in most cases: the head twice (1.0
/// repeats headers and query in `multiValue*`), the body as base64, the certificate, and the
/// fixed parts.
pub fn write_event(req: &Request<'_>, payload: PayloadVersion) -> Vec<u8> {
    let cert = req.client_cert.map_or(0, |c| c.client_cert_pem.len() + 256);
    let capacity = 1536 + 2 * req.head.head_len + req.body.len() / 3 * 4 + 4 + cert;
    let buf = EVENTS.with(Buffers::take);
    let mut j = json::Json::reuse(buf, capacity);
    match payload {
        PayloadVersion::V1 => event_v1::write(req, &mut j),
        PayloadVersion::V2 => event_v2::write(req, &mut j),
    }
    j.into_bytes()
}

thread_local! {
    /// This core's spare event buffers: [`write_event`] takes one, [`respond`] gives it back,
    /// so they keep their capacity (the functions' own pool type, bounded the same way).
    static EVENTS: Buffers = const { Buffers::new() };
    /// This core's spare trace ids, the same way.
    static TRACES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Spare trace ids kept per core.
const SPARE_TRACES: usize = 16;

/// `prepared`'s buffers back to this core's spares.
fn give_back(prepared: Prepared) {
    EVENTS.with(|e| e.give(prepared.event));
    TRACES.with(|t| {
        let mut traces = t.borrow_mut();
        if traces.len() < SPARE_TRACES && prepared.trace_id.capacity() <= 1024 {
            traces.push(prepared.trace_id);
        }
    });
}

/// Calls the function and answers the client (see the module docs).
#[allow(clippy::too_many_arguments)]
pub async fn respond<S: ClientStream>(
    worker: &Worker,
    stream: &mut S,
    conn: &mut Conn,
    snap: &Snapshot,
    api: &Api,
    lambda: &LambdaProxy,
    prepared: Prepared,
    meta: &mut Meta,
) -> Outcome {
    conn.rb.consume(prepared.consumed);
    let started = worker.shared.clock.now_ns();
    let answer = call(worker, snap, api, lambda, &prepared).await;
    // The core's reader: its buffers keep their capacity from one result to the next.
    {
        let mut r = worker.lambda_result.borrow_mut();
        let answer = answer.and_then(|(reply, name)| {
            let read = read(&mut r, api, lambda, &prepared, &reply, name);
            worker.functions.recycle(reply.body);
            read
        });
        // Metrics and access log: IntegrationLatency, and the function's statusCode.
        let ns = worker.shared.clock.now_ns().saturating_sub(started);
        meta.done.integration = Some((ns, answer.map_or(0, |()| r.status)));
        conn.wb.clear();
        let date = worker.date.now();
        match answer {
            Ok(()) => write(
                &mut conn.wb,
                api.protocol,
                &r,
                &prepared.trace_id,
                meta,
                &date,
            ),
            Err(kind) => {
                meta.done.error = Some(kind);
                respond::gateway_error(&mut conn.wb, snap, Some(api), kind, meta, &date)
            }
        }
        r.shrink();
    }
    give_back(prepared);
    super::request::finish(stream, conn, &snap.server.limits, meta).await
}

fn failed(api: &Api, why: &str, name: &str) -> ErrorKind {
    super::diag::line(format_args!(
        "Lambda integration of API `{}` (function `{name}`): {why}",
        api.id
    ));
    ErrorKind::FunctionFailure
}

/// The function's answer (and its name), when it is a result.
async fn call<'s>(
    worker: &Worker,
    snap: &'s Snapshot,
    api: &Api,
    lambda: &LambdaProxy,
    prepared: &Prepared,
) -> Result<(invoke::Reply, &'s str), ErrorKind> {
    let failed = |why: &str, name: &str| failed(api, why, name);
    let Some(function) = lambda
        .function
        .and_then(|f| snap.functions.get(f.0 as usize))
    else {
        return Err(failed("no function in the gateway file's `functions`", "?"));
    };
    let name = function.name.as_str();
    let reply = match invoke::call(
        worker,
        snap,
        function,
        &prepared.event,
        Some(prepared.trace.as_bytes()),
        lambda.timeout,
    )
    .await
    {
        Ok(r) => r,
        Err(CallError::Timeout) => return Err(ErrorKind::FunctionTimeout),
        Err(CallError::Failed) => return Err(failed("the function could not be reached", name)),
    };
    // A function that ran out of its own time (Lambda's `Sandbox.Timedout`, as tollgate's
    // function host and Lambda report it) is the integration timing out, not failing.
    if reply.function_error && error_type(&reply.body).as_deref() == Some("Sandbox.Timedout") {
        return Err(ErrorKind::FunctionTimeout);
    }
    if reply.function_error || reply.status >= 400 {
        let shown = &reply.body[..reply.body.len().min(500)];
        let why = format!(
            "the function failed (status {}): {}",
            reply.status,
            String::from_utf8_lossy(shown)
        );
        return Err(failed(&why, name));
    }
    Ok((reply, name))
}

/// Reads the function's result into `r`.
fn read(
    r: &mut ProxyResponse,
    api: &Api,
    lambda: &LambdaProxy,
    prepared: &Prepared,
    reply: &invoke::Reply,
    name: &str,
) -> Result<(), ErrorKind> {
    r.read(lambda.payload, &reply.body).map_err(|why| {
        failed(
            api,
            &format!("malformed Lambda proxy response: {why}"),
            name,
        )
    })?;
    if r.decode_body(prepared.decode_binary).is_err() {
        failed(api, "isBase64Encoded, but the body is not base64", name);
        // SPEC-NOTES §1.3: a base64 decode failure is API_CONFIGURATION_ERROR (500).
        return Err(match api.protocol {
            Protocol::Rest => ErrorKind::InternalError,
            Protocol::Http => ErrorKind::FunctionFailure,
        });
    }
    Ok(())
}

/// The function's response: status line, its headers, `Set-Cookie` per 2.0 cookie, the
/// default `Content-Type` (REST `application/json` [AWS-REC]; HTTP APIs `text/plain;
/// charset=utf-8` [OBS fujiwara/ridge#9, awslabs/aws-lambda-go-api-proxy#116]; none when the
/// function set it to `null`), the request ids, `X-Amzn-Trace-Id` (REST), `Content-Length`, `Date`, the body.
fn write(
    wb: &mut Vec<u8>,
    protocol: Protocol,
    r: &ProxyResponse,
    trace: &str,
    meta: &Meta,
    date: &[u8; 29],
) {
    wb.extend_from_slice(b"HTTP/1.1 ");
    http1::write_decimal(wb, u64::from(r.status));
    wb.push(b' ');
    wb.extend_from_slice(http1::reason_phrase(r.status).as_bytes());
    wb.extend_from_slice(b"\r\n");
    for (n, v) in r.headers() {
        header_line(wb, n, v);
    }
    for c in r.cookies() {
        header_line(wb, b"Set-Cookie", c);
    }
    let no_body = matches!(r.status, 204 | 304);
    if !no_body && !r.no_content_type && !r.has_header("content-type") {
        let default = match protocol {
            Protocol::Rest => &b"application/json"[..],
            Protocol::Http => b"text/plain; charset=utf-8",
        };
        header_line(wb, b"Content-Type", default);
    }
    respond::id_headers(wb, meta);
    if protocol == Protocol::Rest {
        header_line(wb, b"X-Amzn-Trace-Id", trace.as_bytes());
    }
    if !no_body {
        wb.extend_from_slice(b"Content-Length: ");
        http1::write_decimal(wb, r.body().len() as u64);
        wb.extend_from_slice(b"\r\n");
    }
    respond::finish_head(wb, date, meta.close);
    if !meta.head_request && !no_body {
        wb.extend_from_slice(r.body());
    }
}

fn header_line(wb: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    wb.extend_from_slice(name);
    wb.extend_from_slice(b": ");
    wb.extend_from_slice(value);
    wb.extend_from_slice(b"\r\n");
}

/// The `errorType` of a function error's payload (`{"errorType": ..., "errorMessage": ...}`).
fn error_type(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct FunctionError {
        #[serde(rename = "errorType")]
        error_type: Option<String>,
    }
    serde_json::from_slice::<FunctionError>(body)
        .ok()?
        .error_type
}
