//! The stage response cache on the request path (DESIGN §6, SPEC-NOTES §6, RELIABILITY
//! C01–C04, C07, C09–C11): whether a request may be answered from its stage's cache, the
//! key, `Cache-Control: max-age=0` under the stage's policy, what a response must be to be
//! stored, and the stored form.
//!
//! # Lifecycle of a cacheable request
//!
//! `lookup` (synchronous) → `Plan::Hit` (written by `write_hit` into the client buffer
//! straight from the entry, no backend) | `Plan::Deny` (403) | `Plan::Wait` (another request
//! fills the key: `wait`, then a `Hit` or a `Fill`) |
//! `Plan::Fill` → the proxy forwards, `Fill::admit` judges the response head, `Fill::push`
//! copies the body as it streams to the client, `Fill::finish` stores it once the body
//! completed cleanly. A `Fill` dropped on any other path stores nothing and wakes the
//! requests coalesced behind it (they go to the backend themselves).
//!
//! # The key
//!
//! The request's method, its scheme and normalised host (C02: two hosts, or http and https,
//! on one stage never share an entry), the route's resource path template (path parameter values are not in the key
//! unless listed, as on API Gateway), and the values of the integration's
//! `cacheKeyParameters`, order-insensitive (`cache::KeyBuilder`). The query and headers are
//! read raw, exactly as they are forwarded (C07). A response with `Vary` is stored under a
//! second key that adds the request's values of the varied headers (C04): the first key
//! then holds a small *vary marker* naming them, with a nonce that every variant key
//! carries, so replacing the marker orphans every older variant at once.
//!
//! # The stored form
//!
//! One `Bytes`: `[0] [head length u32 LE] [head] [body]`, where the head is the status line
//! and the header fields as the client gets them (after `x-amzn-Remapped-*` rewriting)
//! without the request-id headers, `Date`, framing and `Connection`, which a hit writes
//! fresh. A vary marker is `[1] [nonce u64 LE] [names, NUL-separated, lowercase]`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::cache::{FillPermit, FillWait, KeyParam, Lookup, StageCache};
use super::respond::{self, Meta};
use super::stream::ClientStream;
use super::worker::Worker;
use crate::config::{
    Api, ParamKind, Params, RouteCache, RouteIdx, RouteMatch, Snapshot, Stage, StageIdx,
    UnauthorizedCacheControl,
};
use crate::http1::{self, RequestHead, ResponseFraming, ResponseHead, Span};

/// At most this many key parameter values per request; a request with more is not cached.
const MAX_KEY_VALUES: usize = 32;
/// At most this many `Vary` field names; a response varying on more is not stored.
const MAX_VARY: usize = 8;
/// Bodies up to this size are copied next to the head and written in one go; larger ones
/// are written from the stored `Bytes` without a copy.
const COPY_BODY_UP_TO: usize = 16 * 1024;
/// The longest pause between two looks at a fill another request is making.
const WAIT_POLL_MAX: Duration = Duration::from_millis(16);
const RESPONSE: u8 = 0;
const VARY_MARKER: u8 = 1;
/// `[kind][head length]`.
const PREFIX: usize = 5;

/// What the cache does for one request.
pub enum Plan {
    /// No caching for this request (not a cached route or method, HEAD, too many key values).
    Pass,
    /// A stored response, already written into the client buffer by `write_hit`.
    Hit(HitWritten),
    /// Forward, and store the response if it qualifies.
    Fill(Box<Fill>),
    /// An unauthorized `Cache-Control: max-age=0` under `FAIL_WITH_403`.
    Deny,
    /// Another request is filling the key: [`wait`] for it (then a `Hit` or a `Fill`).
    Wait(Waiting),
}

/// A request coalesced behind another's fill (C11), for [`wait`].
pub struct Waiting {
    /// Ends when the other fill completes or is abandoned.
    fill_done: FillWait,
    /// This request's own fill (without a permit), should the wait end without an entry.
    fill: Box<Fill>,
    route: usize,
}

/// What the proxy does with the cache for one forwarded request.
pub enum Work {
    Fill(Box<Fill>),
    /// An unsafe method on a cached resource: a 2xx/3xx answer removes the GET entry
    /// (RFC 9111 §4.4, RELIABILITY C10).
    Invalidate {
        cache: Arc<StageCache>,
        key: Vec<u8>,
    },
}

/// One miss being filled: the key, the fill permit (coalesced waiters wait on it), and the
/// response captured in the stored form as it streams to the client.
pub struct Fill {
    cache: Arc<StageCache>,
    /// The key looked up: the primary key, or a variant key (primary + vary suffix) when the
    /// primary held a vary marker.
    key: Vec<u8>,
    primary_len: usize,
    /// The vary marker the lookup went through.
    marker: Option<Bytes>,
    permit: Option<FillPermit>,
    ttl: Duration,
    /// A copy of the request head (and its header spans) for `Vary` and `Authorization`.
    request: Vec<u8>,
    headers: Vec<(Span, Span)>,
    /// The stored form being built; empty until `admit`.
    capture: Vec<u8>,
    /// `Vary` names of the response, NUL-separated, lowercase (empty: no `Vary`).
    vary: Vec<u8>,
    max_bytes: usize,
    overflow: bool,
}

/// Everything `lookup` reads about the request.
pub struct Request<'a> {
    pub method: &'a [u8],
    pub host: &'a [u8],
    /// The request came over TLS (a scheme of its own in the key).
    pub https: bool,
    /// The path after the stage prefix, as given to the router (`params` point into it).
    pub resource_path: &'a [u8],
    pub head: &'a RequestHead,
    pub data: &'a [u8],
    pub params: &'a Params,
    /// An IAM caller whose policies allow `execute-api:InvalidateCache` on this method.
    pub may_invalidate: bool,
}

/// What a lookup made of a stored value it found.
enum Found {
    /// A response, written into the client buffer.
    Written(HitWritten),
    /// A vary marker (kept: a miss's `Fill` goes through it).
    Marker(Bytes),
    Other,
}

/// The cache decision for a request on `route` of `stage`; `Wait` when another request is
/// filling the same key. Synchronous: the request's future holds no lookup state. A hit is
/// written into `out` (cleared first) while the entry is read in place, with
/// `Connection: close` when `close`.
#[allow(clippy::too_many_arguments)]
pub fn lookup(
    worker: &Worker,
    snap: &Snapshot,
    api: &Api,
    stage_idx: StageIdx,
    stage: &Stage,
    route: RouteIdx,
    req: &Request<'_>,
    meta: &mut Meta,
    out: &mut Vec<u8>,
    close: bool,
) -> Plan {
    let Some(rc) = route_cache(stage, route) else {
        return Plan::Pass;
    };
    if req.method == b"HEAD" || (rc.get_only && req.method != b"GET") {
        return Plan::Pass;
    }
    // Borrowed from the core's meters: the shared `Arc<StageCache>` (one counter for every
    // core) is cloned only for a miss's `Fill`, not touched by a hit.
    let Some(meters) = worker.meters_for(snap) else {
        return Plan::Pass;
    };
    let Some(cache) = meters.stage_cache(stage_idx) else {
        return Plan::Pass;
    };
    let mut invalidate = false;
    if wants_invalidation(req.head, req.data) {
        if !rc.require_auth_for_cache_control || req.may_invalidate {
            invalidate = true;
        } else {
            // Only an IAM caller allowed `execute-api:InvalidateCache` may invalidate.
            match rc.unauthorized_strategy {
                UnauthorizedCacheControl::FailWith403 => return Plan::Deny,
                UnauthorizedCacheControl::SucceedWithResponseHeader => meta.cache_warning = true,
                UnauthorizedCacheControl::SucceedWithoutResponseHeader => {}
            }
        }
    }
    let route_def = &api.routes[route.0 as usize];
    let now = meta.now.mono_ns;
    let date = worker.date.at(meta.now.unix_secs);
    let meta: &Meta = meta;
    let (key, primary_len, marker, permit, wait_for) = {
        // The key lives in the worker's buffers; it is copied out only for a miss.
        let mut keys = worker.cache_keys.borrow_mut();
        let (builder, key) = &mut *keys;
        let Some(primary) = build_key(
            builder,
            req.method,
            req,
            route_def.path.as_bytes(),
            &route_def.params,
            rc,
        ) else {
            return Plan::Pass;
        };
        if invalidate {
            cache.invalidate(primary);
        }
        // A response is written straight from the entry: no reference is taken on the
        // stored `Bytes` (a count every core's hits of the key would share).
        let mut read = |b: &Bytes| match b.first() {
            Some(&RESPONSE) => {
                out.clear();
                Found::Written(write_hit(out, b, meta, close, &date))
            }
            Some(&VARY_MARKER) => Found::Marker(b.clone()),
            _ => Found::Other,
        };
        let primary_len = primary.len();
        let mut marker = None;
        // Looked up in place: the key is copied (into `key`) only to add a variant suffix.
        let mut found = cache.lookup_with(primary, now, &mut read);
        let mut variant = false;
        if let Lookup::Hit(Found::Marker(b)) = found {
            let Some((nonce, names)) = parse_marker(&b) else {
                return Plan::Pass;
            };
            key.clear();
            key.extend_from_slice(primary);
            push_variant(key, nonce, names, &req.head.headers, req.data);
            marker = Some(b);
            found = cache.lookup_with(key, now, &mut read);
            variant = true;
        }
        let (permit, wait_for) = match found {
            Lookup::Hit(Found::Written(w)) => {
                cache.record(worker.id, route.0 as usize, true);
                return Plan::Hit(w);
            }
            Lookup::Hit(_) => return Plan::Pass,
            Lookup::Fill(p) => (Some(p), None),
            Lookup::Bypass => (None, None),
            Lookup::Wait(w) => (None, Some(w)),
        };
        let key = if variant {
            key.clone()
        } else {
            primary.to_vec()
        };
        (key, primary_len, marker, permit, wait_for)
    };
    let head_len = req.head.head_len.min(req.data.len());
    let fill = Box::new(Fill {
        cache: Arc::clone(cache),
        key,
        primary_len,
        marker,
        permit,
        ttl: Duration::from_secs(u64::from(rc.ttl_secs)),
        request: req.data[..head_len].to_vec(),
        headers: req.head.headers.clone(),
        capture: Vec::new(),
        vary: Vec::new(),
        max_bytes: 0,
        overflow: false,
    });
    if let Some(fill_done) = wait_for {
        return Plan::Wait(Waiting {
            fill_done,
            fill,
            route: route.0 as usize,
        });
    }
    cache.record(worker.id, route.0 as usize, false);
    Plan::Fill(fill)
}

/// Wait (at most `limit`) for the fill `waiting` is coalesced behind, then answer from what
/// it stored — a hit written into `out` as `lookup` writes one — or fill it ourselves.
pub async fn wait(
    worker: &Worker,
    waiting: Waiting,
    limit: Duration,
    meta: &Meta,
    out: &mut Vec<u8>,
    close: bool,
) -> Plan {
    let Waiting {
        fill_done,
        fill,
        route,
    } = waiting;
    // Polled, not woken: the fill may run on another core, and a monoio waker cannot be
    // woken from another thread (that needs monoio's `sync` feature, a channel and an
    // eventfd per runtime, which the hot path does not need). Backing off from 1 ms to
    // `WAIT_POLL_MAX` keeps a stampede to one backend request (C11) at a cost of at most
    // `WAIT_POLL_MAX` extra latency for the waiters.
    let deadline = monoio::time::Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    while !fill_done.is_done() && monoio::time::Instant::now() + pause < deadline {
        monoio::time::sleep(pause).await;
        pause = (pause * 2).min(WAIT_POLL_MAX);
    }
    if let Some(b) = fill.cache.get(&fill.key, worker.shared.clock.now_ns())
        && b.first() == Some(&RESPONSE)
    {
        fill.cache.record(worker.id, route, true);
        out.clear();
        let date = worker.date.at(meta.now.unix_secs);
        return Plan::Hit(write_hit(out, &b, meta, close, &date));
    }
    fill.cache.record(worker.id, route, false);
    Plan::Fill(fill)
}

/// For a request with an unsafe method (not GET, HEAD, OPTIONS or TRACE) on a stage with a
/// cache: the key of the GET entry for the same resource and parameters, to remove if the
/// backend accepts the request (C10).
pub fn invalidation(
    worker: &Worker,
    snap: &Snapshot,
    api: &Api,
    stage_idx: StageIdx,
    stage: &Stage,
    req: &Request<'_>,
) -> Option<Work> {
    if matches!(req.method, b"GET" | b"HEAD" | b"OPTIONS" | b"TRACE") {
        return None;
    }
    stage.cache.as_ref()?;
    let mut params = Params::default();
    let RouteMatch::Found(get) = api.router.find(b"GET", req.resource_path, &mut params) else {
        return None;
    };
    let rc = route_cache(stage, get)?;
    let cache = Arc::clone(worker.meters_for(snap)?.stage_cache(stage_idx)?);
    let route_def = &api.routes[get.0 as usize];
    let as_get = Request {
        params: &params,
        ..*req
    };
    let mut keys = worker.cache_keys.borrow_mut();
    let key = build_key(
        &mut keys.0,
        b"GET",
        &as_get,
        route_def.path.as_bytes(),
        &route_def.params,
        rc,
    )?;
    Some(Work::Invalidate {
        cache,
        key: key.to_vec(),
    })
}

fn route_cache(stage: &Stage, route: RouteIdx) -> Option<&RouteCache> {
    stage.cache.as_ref()?.routes.get(route.0 as usize)?.as_ref()
}

/// The request carries `Cache-Control` with `max-age=0` (API Gateway's invalidation).
fn wants_invalidation(head: &RequestHead, data: &[u8]) -> bool {
    head.headers
        .iter()
        .filter(|(n, _)| n.get(data).eq_ignore_ascii_case(b"cache-control"))
        .flat_map(|(_, v)| directives(v.get(data)))
        .any(|(name, value)| name.eq_ignore_ascii_case(b"max-age") && value == Some(b"0"))
}

/// `Cache-Control` directives: `(name, value)` with quotes stripped from the value.
fn directives(v: &[u8]) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
    v.split(|&b| b == b',').filter_map(|d| {
        let d = d.trim_ascii();
        if d.is_empty() {
            return None;
        }
        Some(match d.iter().position(|&b| b == b'=') {
            Some(i) => {
                let value = d[i + 1..].trim_ascii();
                let value = value
                    .strip_prefix(b"\"")
                    .and_then(|v| v.strip_suffix(b"\""))
                    .unwrap_or(value);
                (d[..i].trim_ascii(), Some(value))
            }
            None => (d, None),
        })
    })
}

/// The primary key into `keys`' buffer; `None` when the request has more key values than
/// `MAX_KEY_VALUES`.
fn build_key<'k>(
    keys: &'k mut super::cache::KeyBuilder,
    method: &[u8],
    req: &Request<'_>,
    template: &[u8],
    route_params: &[String],
    rc: &RouteCache,
) -> Option<&'k [u8]> {
    let scheme: &[u8] = if req.https { b"https" } else { b"http" };
    if rc.key_params.is_empty() {
        // Most cached methods: no parameter table to fill (and none to initialize).
        return Some(keys.build_scoped(method, scheme, req.host, template, &[]));
    }
    let empty = KeyParam {
        kind: ParamKind::Path,
        name: b"",
        value: None,
    };
    let mut values = [empty; MAX_KEY_VALUES];
    let mut n = 0;
    let data = req.data;
    for &(kind, ref name) in &rc.key_params {
        let name = name.as_bytes();
        let before = n;
        let param = |value| KeyParam { kind, name, value };
        match kind {
            ParamKind::Path => {
                let value = route_params
                    .iter()
                    .position(|p| p.as_bytes() == name)
                    .filter(|&i| i < req.params.len)
                    .map(|i| {
                        let (s, e) = req.params.spans[i];
                        &req.resource_path[s as usize..e as usize]
                    });
                push(&mut values, &mut n, param(value))?;
            }
            ParamKind::Query => {
                let query = req.head.query.map_or(&b""[..], |q| q.get(data));
                for pair in query.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
                    let (k, v) = match pair.iter().position(|&b| b == b'=') {
                        Some(i) => (&pair[..i], &pair[i + 1..]),
                        None => (pair, &b""[..]),
                    };
                    if k == name {
                        push(&mut values, &mut n, param(Some(v)))?;
                    }
                }
            }
            ParamKind::Header => {
                for (hn, hv) in &req.head.headers {
                    if hn.get(data).eq_ignore_ascii_case(name) {
                        push(&mut values, &mut n, param(Some(hv.get(data))))?;
                    }
                }
            }
        }
        if n == before {
            // Absent: a different key from any value, including the empty one.
            push(&mut values, &mut n, param(None))?;
        }
    }
    Some(keys.build_scoped(method, scheme, req.host, template, &values[..n]))
}

/// Appends `p` to the key's values; `None` when `MAX_KEY_VALUES` are already taken.
fn push<'a>(
    values: &mut [KeyParam<'a>; MAX_KEY_VALUES],
    n: &mut usize,
    p: KeyParam<'a>,
) -> Option<()> {
    *values.get_mut(*n)? = p;
    *n += 1;
    Some(())
}

/// A vary marker's nonce and names.
fn parse_marker(b: &[u8]) -> Option<(u64, &[u8])> {
    let nonce = u64::from_le_bytes(b.get(1..9)?.try_into().ok()?);
    Some((nonce, &b[9..]))
}

/// Appends the variant suffix to a primary key: the marker's nonce, then per varied field
/// its name and the request's values of it (joined with `,`), length-prefixed.
fn push_variant(
    key: &mut Vec<u8>,
    nonce: u64,
    names: &[u8],
    headers: &[(Span, Span)],
    data: &[u8],
) {
    key.extend_from_slice(b"\xffV");
    key.extend_from_slice(&nonce.to_le_bytes());
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        key.extend_from_slice(&(name.len() as u32).to_le_bytes());
        key.extend_from_slice(name);
        let at = key.len();
        key.extend_from_slice(&0u32.to_le_bytes());
        let mut first = true;
        for (n, v) in headers {
            if n.get(data).eq_ignore_ascii_case(name) {
                if !first {
                    key.push(b',');
                }
                first = false;
                key.extend_from_slice(v.get(data));
            }
        }
        let len = (key.len() - at - 4) as u32;
        key[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }
}

impl Fill {
    /// Whether the response whose head is `resp` (spans into `data`) may be stored (RFC 9111
    /// §3, RELIABILITY C03/C04/C09): a 2xx other than 206 with a complete framing (length,
    /// chunked, or a 204), no `Cache-Control: no-store | no-cache | private`, no
    /// `Set-Cookie`, no `Vary: *`, at most `MAX_VARY` varied fields, a declared length within
    /// the entry limit, and — when the request carried `Authorization` — `public`,
    /// `s-maxage` or `must-revalidate`. If not, the fill is given up (waiters go to the
    /// backend) and `false` returned.
    pub fn admit(&mut self, resp: &ResponseHead, data: &[u8]) -> bool {
        let status_ok = (200..300).contains(&resp.status) && resp.status != 206;
        let declared = match resp.framing {
            ResponseFraming::Length(n) => Some(n),
            ResponseFraming::Chunked => None,
            ResponseFraming::None if resp.status == 204 => Some(0),
            _ => return self.give_up(),
        };
        let max = self.cache.policy().max_entry_bytes;
        if !status_ok || declared.is_some_and(|n| n > max) {
            return self.give_up();
        }
        let mut shared_ok = false;
        let mut names: [&[u8]; MAX_VARY] = [b""; MAX_VARY];
        let mut n_names = 0;
        for (name, value) in &resp.headers {
            let name = name.get(data);
            let value = value.get(data);
            if name.eq_ignore_ascii_case(b"set-cookie") {
                return self.give_up();
            }
            if name.eq_ignore_ascii_case(b"cache-control") {
                for (d, _) in directives(value) {
                    if [&b"no-store"[..], b"no-cache", b"private"]
                        .iter()
                        .any(|x| d.eq_ignore_ascii_case(x))
                    {
                        return self.give_up();
                    }
                    shared_ok |= [&b"public"[..], b"s-maxage", b"must-revalidate"]
                        .iter()
                        .any(|x| d.eq_ignore_ascii_case(x));
                }
            }
            if name.eq_ignore_ascii_case(b"vary") {
                for field in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    if field.is_empty() {
                        continue;
                    }
                    if field == b"*" || n_names == MAX_VARY {
                        return self.give_up();
                    }
                    names[n_names] = field;
                    n_names += 1;
                }
            }
        }
        let authorized = self
            .headers
            .iter()
            .any(|(n, _)| n.get(&self.request).eq_ignore_ascii_case(b"authorization"));
        if authorized && !shared_ok {
            return self.give_up();
        }
        let names = &mut names[..n_names];
        names.sort_unstable_by(|a, b| {
            a.iter()
                .map(u8::to_ascii_lowercase)
                .cmp(b.iter().map(u8::to_ascii_lowercase))
        });
        self.vary.clear();
        for name in names.iter() {
            if !self.vary.is_empty() {
                self.vary.push(0);
            }
            self.vary.extend(name.iter().map(u8::to_ascii_lowercase));
        }
        self.max_bytes = max as usize;
        self.capture.clear();
        self.capture
            .reserve_exact(PREFIX + 512 + declared.unwrap_or(0) as usize);
        self.capture.push(RESPONSE);
        self.capture.extend_from_slice(&[0; 4]);
        true
    }

    fn give_up(&mut self) -> bool {
        self.permit = None;
        self.overflow = true;
        false
    }

    /// The client head's fields (status line and header fields, without the per-request
    /// headers): call once, after `admit`, before the body.
    pub fn head(&mut self, fields: &[u8]) {
        self.capture.extend_from_slice(fields);
        let len = fields.len() as u32;
        self.capture[1..PREFIX].copy_from_slice(&len.to_le_bytes());
    }

    /// Body bytes as they go to the client (de-chunked).
    pub fn push(&mut self, body: &[u8]) {
        if self.overflow {
            return;
        }
        let head = self.stored_head_len();
        if self.capture.len() - PREFIX - head + body.len() > self.max_bytes {
            self.capture = Vec::new();
            self.give_up();
            return;
        }
        self.capture.extend_from_slice(body);
    }

    fn stored_head_len(&self) -> usize {
        let mut b = [0; 4];
        b.copy_from_slice(&self.capture[1..PREFIX]);
        u32::from_le_bytes(b) as usize
    }

    /// The body reached the client completely: store the response (and its vary marker).
    pub fn finish(mut self, now: u64) {
        if self.overflow || self.capture.len() < PREFIX {
            return;
        }
        self.capture.shrink_to_fit();
        let value = Bytes::from(std::mem::take(&mut self.capture));
        let cache = Arc::clone(&self.cache);
        let primary = &self.key[..self.primary_len];
        let via_variant = self.key.len() > self.primary_len;
        if self.vary.is_empty() {
            match self.permit.take() {
                Some(p) if !via_variant => {
                    p.complete(primary, value, self.ttl, now);
                }
                _ => {
                    cache.insert(primary, value, self.ttl, now);
                }
            }
            return;
        }
        // Same fields as the marker the lookup went through: store under that variant key.
        if let Some((_, names)) = self.marker.as_deref().and_then(parse_marker)
            && names == self.vary.as_slice()
            && via_variant
        {
            match self.permit.take() {
                Some(p) => p.complete(&self.key, value, self.ttl, now),
                None => cache.insert(&self.key, value, self.ttl, now),
            };
            return;
        }
        // A new marker (new nonce: older variants become unreachable), then the variant.
        let nonce = cache.hash(&value) ^ now;
        let mut marker = Vec::with_capacity(9 + self.vary.len());
        marker.push(VARY_MARKER);
        marker.extend_from_slice(&nonce.to_le_bytes());
        marker.extend_from_slice(&self.vary);
        let mut variant = primary.to_vec();
        push_variant(
            &mut variant,
            nonce,
            &self.vary,
            &self.headers,
            &self.request,
        );
        cache.insert(&variant, value, self.ttl, now);
        let marker = Bytes::from(marker);
        match self.permit.take() {
            Some(p) if !via_variant => {
                p.complete(primary, marker, self.ttl, now);
            }
            _ => {
                cache.insert(primary, marker, self.ttl, now);
            }
        }
    }
}

/// What `write_hit` wrote: the status and body length the metrics and access log record
/// (known from the stored form, so the written head is not scanned again), and the body to
/// write after `wb` when it is large.
pub struct HitWritten {
    pub status: u16,
    pub body_len: u64,
    pub rest: Option<Bytes>,
}

/// Writes a hit's head (and its body when small) into `wb`.
/// `close`: the response ends the connection (`Connection: close`).
pub fn write_hit(
    wb: &mut Vec<u8>,
    stored: &Bytes,
    meta: &Meta,
    close: bool,
    date: &[u8; 29],
) -> HitWritten {
    let mut len = [0; 4];
    len.copy_from_slice(&stored[1..PREFIX]);
    let head_end = PREFIX + u32::from_le_bytes(len) as usize;
    wb.extend_from_slice(&stored[PREFIX..head_end]);
    let body = &stored[head_end..];
    let status = http1::status_of(&stored[PREFIX..head_end]);
    respond::id_headers(wb, meta);
    let no_content = stored[PREFIX..].starts_with(b"HTTP/1.1 204");
    if !no_content {
        wb.extend_from_slice(b"Content-Length: ");
        http1::write_decimal(wb, body.len() as u64);
        wb.extend_from_slice(b"\r\n");
    }
    respond::finish_head(wb, date, close);
    let rest = if body.len() <= COPY_BODY_UP_TO {
        wb.extend_from_slice(body);
        None
    } else {
        Some(stored.slice(head_end..))
    };
    HitWritten {
        status,
        body_len: body.len() as u64,
        rest,
    }
}

/// Writes a stored body that `write_hit` did not copy; false if the client is gone or slow.
pub async fn write_body<S: ClientStream>(
    stream: &mut S,
    body: Bytes,
    deadline: monoio::time::Instant,
) -> bool {
    use monoio::io::AsyncWriteRentExt;
    matches!(
        super::deadlines::within(deadline, stream.write_all(body)).await,
        Some((Ok(_), _))
    )
}
