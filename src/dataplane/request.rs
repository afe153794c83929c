//! The request pipeline on one core: host → API/stage → route → integration. Each step
//! either continues or produces an `ErrorKind`, which `respond` renders.

use std::rc::Rc;

use super::access_log;
use super::auth::jwt::{Claims, JwtError};
use super::authorize::{self, Refusal};
use super::caching;
use super::conn::{self, Conn, Outcome};
use super::iam;
use super::metrics::{CacheUse, Completion};
use super::respond::{self, Meta};
use super::stream::ClientStream;
use super::upstream_head;
use super::worker::{SnapshotRef, Worker};
use crate::config::{
    Api, ApiKeySource, ErrorKind, Integration, LimitId, Protocol, RouteAuth, RouteIdx, RouteMatch,
    Snapshot, StageIdx,
};
use crate::http1::{self, Framing, Version};

/// A request's start, once its head is in `conn.head`: its ids and its one clock read.
/// The connection then runs [`dispatch`] and [`complete`] itself rather than awaiting one
/// wrapper future, so the request's future (several KiB) is moved into place once per
/// request, not twice.
pub fn begin(worker: &Worker, conn: &Conn) -> Meta {
    worker.request_started();
    let head = &conn.head;
    Meta {
        trace: None,
        request_id: worker.ids.request_id(),
        extended_id: worker.ids.extended_id(),
        protocol: None,
        head_request: head.method.get(conn.rb.data()) == b"HEAD",
        // A proxy does not keep HTTP/1.0 client connections (RFC 9112 §9.3, P23).
        close: head.close || head.version == Version::Http10 || worker.is_draining(),
        retry_after: None,
        cache_warning: false,
        bearer: None,
        now: worker.now(),
        done: Completion::default(),
    }
}

/// The one place a request's outcome is complete (after [`dispatch`]): metrics and the
/// access, execution and span logs. Returns the monotonic time (`MonoClock` ns) its
/// completion was read at: the connection's idle wait for the next request starts from it
/// (one clock read for both).
pub fn complete(worker: &Worker, conn: &mut Conn, snap: &SnapshotRef, meta: &Meta) -> u64 {
    let ended = worker.shared.clock.now_ns();
    let latency = ended.saturating_sub(meta.now.mono_ns);
    if snap.server.metrics {
        worker.metrics.borrow_mut().record(&meta.done, latency);
    }
    if let Some(log) = meta
        .done
        .stage
        .and_then(|s| snap.stages.get(s.0 as usize))
        .and_then(|s| s.access_log.as_ref())
    {
        let line = access_log::Line {
            snap,
            meta,
            logged: &conn.logged,
            authorized: &conn.log_auth,
            latency_ns: latency,
        };
        let dropped = worker
            .access_logs
            .borrow_mut()
            .line(snap, log.destination, |out| {
                access_log::render(out, &log.format, &line);
            });
        if dropped > 0 {
            worker.shared.log_dropped[worker.id]
                .0
                .fetch_add(dropped, std::sync::atomic::Ordering::Relaxed);
        }
        // Only a format naming `authorizer.*` fills it (`dispatch`, same snapshot): otherwise
        // it is empty, and not touching it spares a cold cache line of `Conn` per request.
        if log.needs_authorizer {
            conn.log_auth = access_log::Authorized::default();
        }
    }
    if snap.execution_log.is_some() || snap.spans.is_some() {
        let line = access_log::Line {
            snap,
            meta,
            logged: &conn.logged,
            authorized: &conn.log_auth,
            latency_ns: latency,
        };
        super::exec_log::complete(worker, snap, &line);
        super::otlp::complete(worker, snap, &line);
    }
    worker.request_finished();
    ended
}

/// Serve the request whose head is in `conn.head` (between [`begin`] and [`complete`]).
pub async fn dispatch<S: ClientStream>(
    worker: &Rc<Worker>,
    stream: &mut S,
    conn: &mut Conn,
    snap: &SnapshotRef,
    meta: &mut Meta,
) -> Outcome {
    // The request's snapshot, taken once by the connection (a non-atomic `Rc` increment).
    let snap = snap.clone();
    let limits = snap.server.limits;
    let data = conn.rb.data();
    let head = &conn.head;
    let method = head.method.get(data);

    // The authority's host as the codec validated and delimited it (the target's for
    // absolute-form, else Host's): only lower-cased here, not parsed again.
    let mut host_buf = [0u8; 256];
    let host: &[u8] = match head.authority_host {
        None => b"",
        Some(h) => match http1::normalize_host(h.get(data), &mut host_buf) {
            Ok(h) => h,
            Err(()) => return reject(worker, stream, conn, 400, meta).await,
        },
    };
    // HTTPS: a Host that belongs to another certificate entry (another custom domain, or an
    // mTLS one reached under the default certificate) than the SNI chose → 421 (RFC 9110
    // §15.5.20), so a client cannot skip a domain's certificate or mutual TLS policy.
    let misdirected = conn.tls.as_ref().is_some_and(|(certs, entry)| {
        std::str::from_utf8(host)
            .ok()
            .filter(|h| !h.is_empty())
            .and_then(|h| certs.names_of(h))
            .is_some_and(|owner| owner != *entry)
    });
    if misdirected {
        return reject(worker, stream, conn, 421, meta).await;
    }
    let raw_path = head.path.get(data);
    let path: &[u8] = if raw_path.is_empty() { b"/" } else { raw_path };
    if has_dot_segment(path) {
        return reject(worker, stream, conn, 400, meta).await;
    }

    let body_fits = match head.framing {
        Framing::Length(n) => n <= limits.max_body_bytes,
        _ => true,
    };
    let target = match snap.resolve(host, path) {
        Ok(t) => t,
        Err(no) => {
            let api = no.api.map(|i| &snap.apis[i.0 as usize]);
            meta.protocol = api.map(|a| a.protocol);
            let kind = match api.map(|a| a.protocol) {
                Some(Protocol::Http) => ErrorKind::NotFound,
                _ => ErrorKind::Forbidden,
            };
            return error(worker, stream, conn, &snap, api, kind, meta).await;
        }
    };
    let api = &snap.apis[target.api.0 as usize];
    meta.protocol = Some(api.protocol);
    meta.done.stage = Some(target.stage);
    let series = worker.meters_for(&snap);
    let series_of = |route| {
        series
            .as_ref()
            .map_or(0, |m| m.series.of(target.stage, route))
    };
    meta.done.series = series_of(None);
    let mut logs_authorizer = false;
    let logging = &snap.stages[target.stage.0 as usize];
    let (access, exec) = (logging.access_log.as_ref(), &logging.exec_log);
    let traced = logging.tracing && snap.spans.is_some();
    if access.is_some() || exec.any() || traced {
        logs_authorizer = access.is_some_and(|l| l.needs_authorizer);
        let ip = iam::client_ip(conn.peer.ip(), &snap.server.trusted_proxies, head, data);
        meta.done.captured = access_log::capture(&mut conn.logged, head, data, path, host, ip);
        if access.is_some_and(|l| l.needs_trace) || exec.any() || traced {
            meta.trace(&worker.ids, data, head);
        }
        if exec.data_trace() {
            super::exec_log::capture_data(&mut conn.logged, &mut meta.done.captured, head, data);
        }
        if traced {
            super::otlp::capture_traceparent(&mut conn.logged, &mut meta.done.captured, head, data);
        }
    }
    if !body_fits {
        return error(
            worker,
            stream,
            conn,
            &snap,
            Some(api),
            ErrorKind::RequestTooLarge,
            meta,
        )
        .await;
    }
    let stage = &snap.stages[target.stage.0 as usize];
    let rest = &path[target.prefix_len.min(path.len())..];
    let resource_path: &[u8] = if rest.is_empty() { b"/" } else { rest };
    let route = match api.router.find(method, resource_path, &mut conn.params) {
        RouteMatch::Found(r) => {
            meta.done.route = Some(r);
            meta.done.series = series_of(Some(r));
            r
        }
        RouteMatch::NotFound => {
            let kind = match api.protocol {
                Protocol::Rest => ErrorKind::MissingAuthenticationToken,
                Protocol::Http => ErrorKind::NotFound,
            };
            return error(worker, stream, conn, &snap, Some(api), kind, meta).await;
        }
    };
    let route_def = &api.routes[route.0 as usize];
    // A Lambda integration sends the whole body in its event: read it before anything is
    // checked or counted, then route the request again (as for a signed body).
    if let Integration::Lambda(_) = &stage.integrations[route.0 as usize]
        && !super::lambda::body_ready(head, data, &limits)
    {
        return match iam::read_body(stream, conn, &limits).await {
            Ok(()) => Box::pin(dispatch(worker, stream, conn, &snap, meta)).await,
            // Over `maxBodyBytes`: API Gateway's 413, as when HTTP_PROXY streams it.
            Err(Some(413)) => {
                meta.close = true;
                let kind = ErrorKind::RequestTooLarge;
                error(worker, stream, conn, &snap, Some(api), kind, meta).await
            }
            Err(Some(status)) => reject(worker, stream, conn, status, meta).await,
            Err(None) => Outcome::Close,
        };
    }
    let gate = iam::Target {
        api,
        stage,
        route: route_def,
        head,
        data,
        path,
        resource_path,
        peer: conn.peer.ip(),
    };
    let mut caller = None;
    if route_def.iam || api.resource_policy.is_some() {
        match iam::gate(&snap, &gate, meta.now.unix_secs) {
            Ok(c) => caller = c,
            // A signed body not all read yet: read it, then route the request again.
            Err(iam::Refusal::NeedBody) => {
                return match iam::read_body(stream, conn, &limits).await {
                    Ok(()) => Box::pin(dispatch(worker, stream, conn, &snap, meta)).await,
                    Err(Some(status)) => reject(worker, stream, conn, status, meta).await,
                    Err(None) => Outcome::Close,
                };
            }
            Err(r) => return iam::refuse(worker, stream, conn, &snap, api, r, meta).await,
        }
    }
    let mut claims = None;
    if let Some(auth) = &route_def.auth {
        match authorize(worker, &snap, auth, head, data, meta) {
            Ok(c) => {
                if logs_authorizer {
                    conn.log_auth.claims = Some(c.clone());
                }
                claims = Some(c)
            }
            Err(kind) => {
                return error(worker, stream, conn, &snap, Some(api), kind, meta).await;
            }
        }
        if let Err(r) = iam::after_authorizer(&snap, &gate) {
            return iam::refuse(worker, stream, conn, &snap, api, r, meta).await;
        }
    }
    let mut grant = None;
    if let Some(idx) = api.routes[route.0 as usize].lambda {
        let trace = meta.trace(&worker.ids, data, head);
        let req = super::lambda_auth::Request {
            data,
            head,
            api,
            stage_idx: target.stage,
            stage,
            route: &api.routes[route.0 as usize],
            resource_path,
            path,
            host,
            params: &conn.params,
            peer: conn.peer.ip(),
            request_id: &meta.request_id,
            extended_id: &meta.extended_id,
            account_id: &snap.server.account_id,
            region: &snap.server.region,
            client_cert: conn.client_cert.as_deref(),
            // Table A of API Gateway's policy evaluation (the explicit-deny pre-check ran in
            // `iam::gate`).
            resource_policy: api.resource_policy.as_ref().map(|p| {
                let ip = iam::client_ip(conn.peer.ip(), &snap.server.trusted_proxies, head, data);
                (p, ip)
            }),
            now: meta.now,
            trace: trace.as_bytes(),
        };
        match super::lambda_auth::authorize(worker, &snap, idx, &req).await {
            Ok(g) => {
                if logs_authorizer {
                    conn.log_auth.grant = Some(g.clone());
                }
                grant = Some(g)
            }
            Err(kind) => {
                return error(worker, stream, conn, &snap, Some(api), kind, meta).await;
            }
        }
    }
    let key = grant.as_ref().and_then(|g| g.usage_key.as_deref());
    if let Err(kind) = meter(worker, &snap, target.stage, route, head, data, key, meta) {
        return error(worker, stream, conn, &snap, Some(api), kind, meta).await;
    }
    match &stage.integrations[route.0 as usize] {
        Integration::Lambda(lambda) => {
            let Some((body_len, body)) = super::lambda::buffered_body(head, data, &limits) else {
                return reject(worker, stream, conn, 400, meta).await;
            };
            // When the request started, as the rest of the request path times it.
            let now_ms = worker.unix_ms(meta.now);
            let trace = meta.trace(&worker.ids, data, head);
            let req = super::lambda::Request {
                data,
                head,
                api,
                stage,
                route: route_def,
                resource_path,
                path,
                host,
                params: &conn.params,
                source_ip: iam::client_ip(conn.peer.ip(), &snap.server.trusted_proxies, head, data),
                request_id: &meta.request_id,
                extended_id: &meta.extended_id,
                account_id: &snap.server.account_id,
                client_cert: conn.client_cert.as_deref(),
                claims: claims.as_deref(),
                grant: grant.as_deref(),
                caller: caller.as_ref().map(|c| super::lambda::Caller {
                    user_arn: c.user_arn,
                    access_key: c.access_key,
                    account: c.account,
                }),
                body: &body,
                now_ms,
                trace,
            };
            let prepared = super::lambda::prepare(&req, lambda, head.head_len + body_len);
            drop(body);
            super::lambda::respond(worker, stream, conn, &snap, api, lambda, prepared, meta).await
        }
        Integration::Mock(mock) => {
            settle_unread_body(conn, meta);
            conn.wb.clear();
            let date = worker.date.at(meta.now.unix_secs);
            respond::rendered(&mut conn.wb, &mock.response, meta, &date);
            finish(stream, conn, &limits, meta).await
        }
        Integration::HttpProxy(proxy) => {
            let req = caching::Request {
                method,
                host,
                https: conn.tls.is_some(),
                resource_path,
                head,
                data,
                params: &conn.params,
                may_invalidate: caller.as_ref().is_some_and(|c| c.may_invalidate),
            };
            // A hit is written during the lookup: whether it closes the connection is known
            // now (`hit` settles the unread body the same way).
            let hit_close = meta.close || unread_body_closes(head, data.len());
            let mut plan = caching::lookup(
                worker,
                &snap,
                api,
                target.stage,
                stage,
                route,
                &req,
                meta,
                &mut conn.wb,
                hit_close,
            );
            if let caching::Plan::Wait(waiting) = plan {
                let limit = proxy.timeout;
                plan = caching::wait(worker, waiting, limit, meta, &mut conn.wb, hit_close).await;
            }
            let work = match plan {
                caching::Plan::Pass => {
                    caching::invalidation(worker, &snap, api, target.stage, stage, &req)
                }
                caching::Plan::Fill(fill) => {
                    meta.done.cache = CacheUse::Miss;
                    Some(caching::Work::Fill(fill))
                }
                caching::Plan::Hit(written) => {
                    meta.done.cache = CacheUse::Hit;
                    let deadline = settle_hit(worker, conn, &limits, &written, meta);
                    if !conn::write_all_by(stream, &mut conn.wb, deadline).await {
                        return Outcome::Close;
                    }
                    if let Some(body) = written.rest
                        && !caching::write_body(stream, body, deadline).await
                    {
                        return Outcome::Close;
                    }
                    return Outcome::after_response(meta.close, !conn.rb.is_empty());
                }
                caching::Plan::Deny => {
                    let kind = ErrorKind::CacheInvalidationDenied;
                    return error(worker, stream, conn, &snap, Some(api), kind, meta).await;
                }
                // `wait` answers with a hit or a fill; were it not to, no cache.
                caching::Plan::Wait(_) => None,
            };
            let trace = meta.trace(&worker.ids, data, &conn.head);
            let upstream = &snap.upstreams[proxy.upstream.0 as usize];
            let peer = conn.peer.ip();
            let input = upstream_head::Input {
                data,
                head: &conn.head,
                resource_path,
                path,
                host,
                params: &conn.params,
                api,
                route: &api.routes[route.0 as usize],
                stage,
                proxy,
                upstream,
                peer,
                trusted_peer: snap.server.trusted_proxies.iter().any(|c| c.contains(peer)),
                listener_port: conn.port,
                request_id: &meta.request_id,
                account_id: &snap.server.account_id,
                client_cert: conn.client_cert.as_deref(),
                claims: claims.as_deref(),
                caller: caller.as_ref(),
                authorizer: grant.as_deref(),
                trace: &trace,
            };
            conn.up.clear();
            upstream_head::build(&mut conn.up, &input);
            super::proxy::forward(
                worker, stream, conn, &snap, api, upstream, proxy, work, meta,
            )
            .await
        }
    }
}

/// The route's JWT authorizer (DESIGN §3: after routing, before throttling). A missing
/// identity source or a refused token → 401 UNAUTHORIZED (HTTP APIs add the
/// `www-authenticate` challenge for a refused token); a valid token without a required scope
/// → 403. Fails closed: no meters for the snapshot (never the case once published) → 401.
fn authorize(
    worker: &Worker,
    snap: &Snapshot,
    auth: &RouteAuth,
    head: &http1::RequestHead,
    data: &[u8],
    meta: &mut Meta,
) -> Result<Rc<Claims>, ErrorKind> {
    let idx = auth.authorizer.0 as usize;
    let (Some(meters), Some(authorizer)) = (worker.meters_for(snap), snap.authorizers.get(idx))
    else {
        return Err(ErrorKind::Unauthorized);
    };
    let Some(jwt) = meters.authorizers.get(idx) else {
        return Err(ErrorKind::Unauthorized);
    };
    let mut tokens = worker.jwt_tokens.borrow_mut();
    let now = meta.now.unix_secs;
    match authorize::authorize(jwt, authorizer, auth, head, data, now, &mut tokens) {
        Ok(claims) => Ok(claims),
        Err(Refusal::Missing) => Err(ErrorKind::Unauthorized),
        Err(Refusal::Token(e)) => {
            if meta.protocol == Some(Protocol::Http) {
                meta.bearer = Some(e);
            }
            Err(if e == JwtError::InsufficientScope {
                ErrorKind::InsufficientScope
            } else {
                ErrorKind::Unauthorized
            })
        }
    }
}

/// API key, throttles and quota (DESIGN §5, SPEC-NOTES §5), in API Gateway's order: a
/// method that needs a key gets 403 without a valid one; then the key's per-method and plan
/// throttles, the stage's method throttle and the account throttle must all admit (most
/// restrictive wins, 429 Too Many Requests); then the key's quota is charged (429 Limit
/// Exceeded; the throttle tokens are refunded). Nothing here allocates; an unknown key costs
/// one hash lookup. With `apiKeySource: AUTHORIZER` the key is the Lambda authorizer's
/// `usageIdentifierKey` (`authorizer_key`) instead of the `x-api-key` header.
#[allow(clippy::too_many_arguments)]
fn meter(
    worker: &Worker,
    snap: &Snapshot,
    stage: StageIdx,
    route: RouteIdx,
    head: &http1::RequestHead,
    data: &[u8],
    authorizer_key: Option<&str>,
    meta: &mut Meta,
) -> Result<(), ErrorKind> {
    let usage = &snap.usage;
    let stage_route = snap.stages[stage.0 as usize].routes.get(route.0 as usize);
    let key_stage = match stage_route {
        Some(r) if r.api_key_required => {
            let api = &snap.apis[snap.stages[stage.0 as usize].api.0 as usize];
            let value = match api.api_key_source {
                ApiKeySource::Authorizer => authorizer_key.map(str::as_bytes),
                ApiKeySource::Header => head
                    .headers
                    .iter()
                    .find(|(n, _)| n.get(data).eq_ignore_ascii_case(b"x-api-key"))
                    .map(|(_, v)| v.get(data)),
            };
            let id = value.and_then(|v| usage.key(v));
            let key = id.map(|k| &usage.keys[k.0 as usize]).filter(|k| k.enabled);
            match key.and_then(|k| k.stage(stage)) {
                Some(ks) => {
                    meta.done.key = id;
                    Some(ks)
                }
                None => return Err(ErrorKind::InvalidApiKey),
            }
        }
        _ => None,
    };
    let mut ids = [LimitId(0); 4];
    let mut n = 0;
    let mut push = |id: Option<LimitId>| {
        if let Some(id) = id {
            ids[n] = id;
            n += 1;
        }
    };
    if let Some(ks) = key_stage {
        push(ks.method(route));
        push(ks.throttle);
    }
    push(stage_route.and_then(|r| r.throttle));
    push(Some(usage.account));
    let Some(meters) = worker.meters_for(snap) else {
        return Ok(());
    };
    if let Some(ks) = key_stage {
        meta.done.plan = meters.series.plan(ks.plan.0);
    }
    let now = meta.now.mono_ns;
    let mut throttle = worker.throttle.borrow_mut();
    if let Err(t) = throttle.admit(&ids[..n], now) {
        meta.retry_after = t.retry_after_secs();
        return Err(ErrorKind::Throttled);
    }
    let Some(ks) = key_stage else {
        return Ok(());
    };
    let unix = meta.now.unix_secs;
    if let Some(q) = ks.quota
        && let Err(e) = meters.quotas.charge(q, unix)
    {
        throttle.refund(&ids[..n], now);
        meta.retry_after = Some(e.retry_after_secs);
        return Err(ErrorKind::QuotaExceeded);
    }
    meters.usage.count(ks.usage.0, unix);
    Ok(())
}

/// A response from the stage cache (the integration is not called), which the lookup
/// wrote into `conn.wb` (with the `Connection: close` that settling the body decides here):
/// settle the request and return the send deadline. The writes are awaited in `dispatch`
/// itself, so a hit builds no future of its own.
fn settle_hit(
    worker: &Worker,
    conn: &mut Conn,
    limits: &crate::config::ServerLimits,
    written: &caching::HitWritten,
    meta: &mut Meta,
) -> monoio::time::Instant {
    settle_unread_body(conn, meta);
    (meta.done.status, meta.done.response_len) = (written.status, written.body_len);
    worker.deadline(meta.now, limits.send_timeout)
}

/// A gateway error response for `kind`.
pub async fn error<S: ClientStream>(
    worker: &Worker,
    stream: &mut S,
    conn: &mut Conn,
    snap: &Snapshot,
    api: Option<&Api>,
    kind: ErrorKind,
    meta: &mut Meta,
) -> Outcome {
    settle_unread_body(conn, meta);
    meta.done.error = Some(kind);
    conn.wb.clear();
    respond::gateway_error(&mut conn.wb, snap, api, kind, meta, &worker.date.now());
    finish(stream, conn, &snap.server.limits, meta).await
}

async fn reject<S: ClientStream>(
    worker: &Worker,
    stream: &mut S,
    conn: &mut Conn,
    status: u16,
    meta: &mut Meta,
) -> Outcome {
    meta.close = true;
    conn.wb.clear();
    respond::reject(&mut conn.wb, status, meta, &worker.date.now());
    (meta.done.status, meta.done.response_len) = respond::written(&conn.wb, 0);
    let limits = worker.snapshot().server.limits;
    if conn::write_all(stream, &mut conn.wb, limits.send_timeout).await {
        Outcome::LingerClose
    } else {
        Outcome::Close
    }
}

/// The request is answered without reading its body: consume the head, and the body too if
/// all of it is already buffered; otherwise the connection must close after the response
/// (an unread body would otherwise be parsed as the next request — RELIABILITY P25).
pub(super) fn settle_unread_body(conn: &mut Conn, meta: &mut Meta) {
    if unread_body_closes(&conn.head, conn.rb.data().len()) {
        meta.close = true;
    } else if let Framing::Length(n) = conn.head.framing {
        conn.rb
            .consume(conn.head.head_len.saturating_add(n as usize));
        return;
    }
    conn.rb.consume(conn.head.head_len);
}

/// Whether answering without reading the body must close the connection: the body (after
/// `head`, in `buffered` bytes read) is chunked or not all buffered yet.
pub(super) fn unread_body_closes(head: &http1::RequestHead, buffered: usize) -> bool {
    let after_head = buffered.saturating_sub(head.head_len) as u64;
    match head.framing {
        Framing::None => false,
        Framing::Length(n) => after_head < n,
        Framing::Chunked => true,
    }
}

/// Write the response in `conn.wb` and decide what the connection does next.
pub async fn finish<S: ClientStream>(
    stream: &mut S,
    conn: &mut Conn,
    limits: &crate::config::ServerLimits,
    meta: &mut Meta,
) -> Outcome {
    (meta.done.status, meta.done.response_len) = respond::written(&conn.wb, 0);
    if !conn::write_all(stream, &mut conn.wb, limits.send_timeout).await {
        return Outcome::Close;
    }
    Outcome::after_response(meta.close, !conn.rb.is_empty())
}

/// `.` or `..` as a path segment, literally or percent-encoded (`%2e`): rejected so routing,
/// forwarding and the upstream cannot disagree about the path (RELIABILITY A08).
pub fn has_dot_segment(path: &[u8]) -> bool {
    path.split(|&b| b == b'/').any(|seg| {
        let mut dots = 0;
        let mut i = 0;
        while i < seg.len() {
            if seg[i] == b'.' {
                i += 1;
            } else if seg.len() - i >= 3
                && seg[i] == b'%'
                && seg[i + 1] == b'2'
                && (seg[i + 2] | 0x20) == b'e'
            {
                i += 3;
            } else {
                return false;
            }
            dots += 1;
        }
        dots == 1 || dots == 2
    })
}

#[cfg(test)]
mod tests {
    use super::has_dot_segment;

    #[test]
    fn dot_segments_are_found_in_every_spelling() {
        for p in [
            "/a/../b",
            "/./a",
            "/a/.",
            "/a/%2e%2E/b",
            "/%2e/x",
            "/a/.%2e",
        ] {
            assert!(has_dot_segment(p.as_bytes()), "{p}");
        }
        for p in ["/a/b", "/a.b/c", "/.../x", "/a/..b", "/", "//a", "/%2f"] {
            assert!(!has_dot_segment(p.as_bytes()), "{p}");
        }
    }
}
