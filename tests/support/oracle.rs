//! RELIABILITY §0 global oracles: G1 reject, G2 forwarded form, G3 canary, plus the
//! response-identity checks every response must pass.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::client::{Client, WriteMode};
use super::gateway::Gateway;
use super::http::{Request, Response};
use super::upstream::{Mark, Upstream};
use super::{is_uuid, show};

/// G1 after the bytes were sent on `client`: status in `statuses` on an `HTTP/1.1` status
/// line, `Connection: close`, a `{"message": ...}` JSON body, the socket closed within 1 s,
/// and the upstream saw no new connection and no new byte since `mark`.
pub fn assert_reject(
    client: &mut Client,
    upstream: &Upstream,
    mark: Mark,
    statuses: &[u16],
    ctx: &str,
) -> Response {
    let resp = client.read_response().unwrap_or_else(|e| {
        panic!(
            "[{ctx}] expected a {statuses:?} reject, got: {e}\nupstream: {}",
            upstream.describe()
        )
    });
    check_reject(resp, client, upstream, mark, statuses, ctx)
}

/// G1 on a response already read from `client`.
pub fn check_reject(
    resp: Response,
    client: &mut Client,
    upstream: &Upstream,
    mark: Mark,
    statuses: &[u16],
    ctx: &str,
) -> Response {
    assert!(
        statuses.contains(&resp.status),
        "[{ctx}] expected status {statuses:?}, got {} {}\nbody: {}\nupstream: {}",
        resp.status,
        resp.reason,
        resp.body_str(),
        upstream.describe()
    );
    assert_eq!(resp.version, "HTTP/1.1", "[{ctx}] status line version");
    assert!(
        resp.closes(),
        "[{ctx}] reject must carry `Connection: close`; headers: {:?}",
        resp.headers
    );
    assert!(
        resp.message().is_some(),
        "[{ctx}] reject body must be JSON {{\"message\": ...}}, got {}",
        show(&resp.body)
    );
    assert!(
        client.is_closed_within(Duration::from_secs(1)),
        "[{ctx}] socket still open 1 s after the reject"
    );
    assert!(
        client.buf.is_empty(),
        "[{ctx}] bytes after the reject response: {}",
        show(&client.buf)
    );
    assert_upstream_untouched(upstream, mark, ctx);
    resp
}

pub fn assert_upstream_untouched(upstream: &Upstream, mark: Mark, ctx: &str) {
    std::thread::sleep(Duration::from_millis(50));
    let now = upstream.mark();
    assert!(
        now == mark,
        "[{ctx}] upstream must see nothing; before {mark:?}, after {now:?}\n{}",
        upstream.describe()
    );
}

/// Send `bytes` on a fresh connection (per `mode`) and apply G1.
pub fn reject_case(
    gw: &Gateway,
    upstream: &Upstream,
    bytes: &[u8],
    mode: WriteMode,
    statuses: &[u16],
    ctx: &str,
) -> Response {
    let mark = upstream.mark();
    let mut c = gw.client();
    let _ = c.send_mode(bytes, mode); // an early close may fail later writes; the reply matters
    assert_reject(&mut c, upstream, mark, statuses, &format!("{ctx} {mode:?}"))
}

/// A reject where the upstream may already have received part of a streamed request (body
/// framing errors found mid-stream): status in `statuses` (or, when `allow_close`, a bare
/// close), then close; the upstream never received a *complete* request and every upstream
/// connection touched since `mark` is closed.
pub fn assert_streaming_reject(
    client: &mut Client,
    upstream: &Upstream,
    mark: Mark,
    statuses: &[u16],
    allow_close: bool,
    ctx: &str,
) {
    match client.read_response() {
        Ok(resp) => {
            assert!(
                statuses.contains(&resp.status),
                "[{ctx}] expected status {statuses:?}, got {} body {}\nupstream: {}",
                resp.status,
                resp.body_str(),
                upstream.describe()
            );
            assert!(
                resp.closes(),
                "[{ctx}] reject must carry `Connection: close`"
            );
            assert!(
                client.is_closed_within(Duration::from_secs(1)),
                "[{ctx}] socket still open 1 s after the reject"
            );
        }
        Err(e) => assert!(
            allow_close && (client.eof || client.reset),
            "[{ctx}] expected {statuses:?} or a close, got: {e}"
        ),
    }
    assert_no_complete_request_since(upstream, mark, ctx);
}

/// No complete request reached the upstream since `mark`, and every upstream connection holding
/// a partial request is closed (aborted, never pooled) within 2 s.
pub fn assert_no_complete_request_since(upstream: &Upstream, mark: Mark, ctx: &str) {
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        upstream.request_count(),
        mark.requests,
        "[{ctx}] upstream received a complete request:\n{}",
        upstream.describe()
    );
    let ok = super::wait_until(Duration::from_secs(2), || {
        upstream
            .conns()
            .iter()
            .all(|c| c.partial == 0 || c.ended.is_some())
    });
    assert!(
        ok,
        "[{ctx}] upstream connections holding a partial request were not aborted:\n{}",
        upstream.describe()
    );
}

static CANARY: AtomicUsize = AtomicUsize::new(0);

/// G3: `GET /echo?canary=<id>` on `client` gets exactly one response whose echoed request line
/// carries the id, and nothing else is waiting on the connection.
pub fn canary(client: &mut Client, ctx: &str) {
    let id = format!("c{}", CANARY.fetch_add(1, Ordering::Relaxed));
    client.send(&super::http::get(&format!("/echo?canary={id}")));
    let resp = client
        .read_response()
        .unwrap_or_else(|e| panic!("[{ctx}] canary: {e}"));
    assert_eq!(
        resp.status,
        200,
        "[{ctx}] canary status; body {}",
        resp.body_str()
    );
    let echoed = resp.echoed();
    assert_eq!(
        echoed.target,
        format!("/echo?canary={id}"),
        "[{ctx}] canary answered with another request's response"
    );
    assert!(
        client.silent_for(Duration::from_millis(100)) || client.eof,
        "[{ctx}] stray bytes after the canary: {}",
        show(&client.buf)
    );
}

/// G2: what the upstream received is a well-formed forwarded request. (The strict parser has
/// already enforced CRLF-only lines, no bare CR, token names and no CTL/NUL in values, and
/// at most one of CL / `TE: chunked`.)
pub fn assert_forwarded_form(req: &Request, ctx: &str) {
    assert_eq!(
        req.version,
        "HTTP/1.1",
        "[{ctx}] upstream request line must be HTTP/1.1: {}",
        req.request_line()
    );
    assert!(
        req.target.starts_with('/'),
        "[{ctx}] upstream target must be origin-form: {}",
        req.target
    );
    assert_eq!(
        req.headers.count("host"),
        1,
        "[{ctx}] exactly one Host: {:?}",
        req.headers
    );
    assert!(
        !(req.headers.has("content-length") && req.headers.has("transfer-encoding")),
        "[{ctx}] both CL and TE forwarded"
    );
    assert!(
        req.headers.count("content-length") <= 1,
        "[{ctx}] several Content-Length lines"
    );
    if let Some(te) = req.header("transfer-encoding") {
        assert!(
            te.eq_ignore_ascii_case("chunked"),
            "[{ctx}] forwarded TE {te:?}"
        );
        assert!(
            !req.chunk_extensions,
            "[{ctx}] chunk extensions must be stripped"
        );
    }
    for h in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "trailer",
        "upgrade",
    ] {
        assert!(
            !req.headers.has(h),
            "[{ctx}] hop-by-hop field {h} forwarded: {:?}",
            req.headers
        );
    }
    if let Some(te) = req.header("te") {
        assert!(
            te.eq_ignore_ascii_case("trailers"),
            "[{ctx}] TE: {te} forwarded"
        );
    }
}

/// Every response: `x-amzn-RequestId` is a UUID; REST responses also carry `x-amz-apigw-id`.
pub fn assert_rest_ids(resp: &Response, ctx: &str) {
    let id = resp
        .header("x-amzn-RequestId")
        .unwrap_or_else(|| panic!("[{ctx}] no x-amzn-RequestId: {:?}", resp.headers));
    assert!(
        is_uuid(&id),
        "[{ctx}] x-amzn-RequestId is not a UUID: {id:?}"
    );
    let apigw = resp.header("x-amz-apigw-id").unwrap_or_default();
    assert!(
        !apigw.is_empty(),
        "[{ctx}] REST response without x-amz-apigw-id: {:?}",
        resp.headers
    );
}

/// A REST gateway error: status, `{"message": msg}`, `x-amzn-ErrorType` (exact when given).
pub fn assert_gateway_error(
    resp: &Response,
    status: u16,
    msg: &str,
    error_type: Option<&str>,
    ctx: &str,
) {
    assert_eq!(
        resp.status,
        status,
        "[{ctx}] status; body {}",
        resp.body_str()
    );
    assert_eq!(
        resp.message().as_deref(),
        Some(msg),
        "[{ctx}] body {}",
        resp.body_str()
    );
    let et = resp.header("x-amzn-ErrorType");
    match error_type {
        Some(t) => assert_eq!(et.as_deref(), Some(t), "[{ctx}] x-amzn-ErrorType"),
        None => assert!(
            et.is_some_and(|v| !v.is_empty()),
            "[{ctx}] REST error without x-amzn-ErrorType: {:?}",
            resp.headers
        ),
    }
    assert_rest_ids(resp, ctx);
}

/// Send `bytes` on a fresh connection and read the final response (panics on failure).
pub fn one_shot(gw: &Gateway, bytes: &[u8]) -> Response {
    let mut c = gw.client();
    c.roundtrip(bytes)
}

/// Outcome of a case that may be either rejected (G1) or forwarded (G2 + `check`).
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    Rejected(Response),
    Forwarded(Response, Request),
}

/// Send `bytes` on a fresh connection. A 200 from the echo upstream counts as forwarded: the
/// echoed request must pass G2 and `check`. Anything else must be a G1 reject in `statuses`.
pub fn reject_or_forward(
    gw: &Gateway,
    upstream: &Upstream,
    bytes: &[u8],
    mode: WriteMode,
    statuses: &[u16],
    check: &dyn Fn(&Request),
    ctx: &str,
) -> Outcome {
    let ctx = format!("{ctx} {mode:?}");
    let mark = upstream.mark();
    let mut c = gw.client();
    let _ = c.send_mode(bytes, mode);
    let resp = c
        .read_final()
        .unwrap_or_else(|e| {
            panic!(
                "[{ctx}] expected a reject {statuses:?} or a forward, got: {e}\nupstream: {}",
                upstream.describe()
            )
        })
        .1;
    if resp.status == 200 {
        let req = resp.echoed();
        assert_forwarded_form(&req, &ctx);
        check(&req);
        Outcome::Forwarded(resp, req)
    } else {
        Outcome::Rejected(check_reject(resp, &mut c, upstream, mark, statuses, &ctx))
    }
}

/// Send `bytes` on a fresh connection, expect a 200 from the echo upstream; returns the response
/// and the request the upstream received (already checked against G2).
pub fn forward_case(
    gw: &Gateway,
    bytes: &[u8],
    mode: WriteMode,
    ctx: &str,
) -> (Response, Request, Client) {
    let ctx = format!("{ctx} {mode:?}");
    let mut c = gw.client();
    let _ = c.send_mode(bytes, mode);
    let resp = c.read_final().unwrap_or_else(|e| panic!("[{ctx}] {e}")).1;
    assert_eq!(
        resp.status,
        200,
        "[{ctx}] expected the request forwarded; body {}",
        resp.body_str()
    );
    let req = resp.echoed();
    assert_forwarded_form(&req, &ctx);
    (resp, req, c)
}

/// Run `f`, recording its panic message in `failures` instead of stopping: table-driven tests
/// report every failing row, then fail once.
pub fn soft(failures: &mut Vec<String>, name: &str, f: impl FnOnce()) {
    if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        failures.push(format!("{name}: {msg}"));
    }
}

/// Fail with every recorded row failure.
pub fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failing rows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
