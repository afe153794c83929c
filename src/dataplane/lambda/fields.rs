//! What the 1.0 and 2.0 writers ([`super::event_v1`], [`super::event_v2`]) write alike: the
//! decoded query, repeated names grouped, path parameters, stage variables, the body, the
//! request time, the mTLS client certificate, the trace header.
//!
//! Repeated header names and query keys: a JSON object holds a name once, where the name
//! first appears (as inserting into the old `serde_json::Map` kept it), so the items are
//! [`Groups`]ed by name first — a sort of their indices, not a map per request.

use std::cell::RefCell;

use super::Request;
use super::event::{MONTHS, body_base64, form_decode_into, path_values, raw_query_pairs};
use super::json::Json;
use crate::dataplane::clock::CivilTime;
use crate::dataplane::tls::ClientCertInfo;
use crate::http1::Span;

/// This core's buffers for writing events (the header table, the groups, the decoded
/// query): taken by a writer ([`with_scratch`]) and given back, so they keep their capacity.
#[derive(Default)]
pub(super) struct Scratch {
    pub headers: Vec<(Span, Span)>,
    pub names: Groups,
    pub keys: Groups,
    pub query: Query,
    /// [`Groups::regroup`]'s sort.
    pub order: Vec<u32>,
}

impl Scratch {
    const fn new() -> Scratch {
        Scratch {
            headers: Vec::new(),
            names: Groups { links: Vec::new() },
            keys: Groups { links: Vec::new() },
            query: Query {
                text: Vec::new(),
                pairs: Vec::new(),
            },
            order: Vec::new(),
        }
    }

    /// Gives back what a very large request made grow.
    fn shrink(&mut self) {
        if self.query.text.capacity() > 64 * 1024 {
            *self = Scratch::new();
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch::new()) };
}

/// Runs `f` with this core's [`Scratch`].
pub(super) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut s = SCRATCH.with(|c| std::mem::take(&mut *c.borrow_mut()));
    let r = f(&mut s);
    s.shrink();
    SCRATCH.with(|c| *c.borrow_mut() = s);
    r
}

/// The request's headers a writer keeps (`spans` into `data`).
#[derive(Clone, Copy)]
pub(super) struct Headers<'a> {
    pub spans: &'a [(Span, Span)],
    pub data: &'a [u8],
}

impl<'a> Headers<'a> {
    /// Fills `spans` with `req`'s headers whose names `keep`.
    pub fn of(
        req: &Request<'a>,
        spans: &'a mut Vec<(Span, Span)>,
        keep: impl Fn(&[u8]) -> bool,
    ) -> Headers<'a> {
        spans.clear();
        let data = req.data;
        spans.extend(
            req.head
                .headers
                .iter()
                .copied()
                .filter(|(n, _)| keep(n.get(data))),
        );
        Headers { spans, data }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Header `i`'s name and value.
    pub fn at(&self, i: usize) -> (&'a [u8], &'a [u8]) {
        let (n, v) = self.spans[i];
        (n.get(self.data), v.get(self.data))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + '_ {
        (0..self.len()).map(|i| self.at(i))
    }
}

/// The query's `key=value` pairs, decoded (form-style, then lossy UTF-8) into one buffer.
#[derive(Default)]
pub(super) struct Query {
    text: Vec<u8>,
    /// Key start, key end (the value's start) and value end in `text`, per pair.
    pairs: Vec<[u32; 3]>,
}

impl Query {
    /// `req`'s query into this one's buffers.
    pub fn decode(&mut self, req: &Request<'_>) -> &Query {
        let raw = req.head.query.map_or(0, |q| q.get(req.data).len());
        self.text.clear();
        self.text.reserve(raw);
        self.pairs.clear();
        for (k, v) in raw_query_pairs(req.head, req.data) {
            let start = self.text.len() as u32;
            form_decode_into(k, &mut self.text);
            let mid = self.text.len() as u32;
            form_decode_into(v, &mut self.text);
            self.pairs.push([start, mid, self.text.len() as u32]);
        }
        self
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn key(&self, i: usize) -> &[u8] {
        let [s, e, _] = self.pairs[i];
        &self.text[s as usize..e as usize]
    }

    pub fn value(&self, i: usize) -> &[u8] {
        let [_, s, e] = self.pairs[i];
        &self.text[s as usize..e as usize]
    }
}

/// Items `0..n` grouped by key, each group in item order, the groups in the order their
/// keys first appear.
#[derive(Default)]
pub(super) struct Groups {
    links: Vec<Link>,
}

#[derive(Clone, Copy)]
struct Link {
    /// The next item with the same key (`NONE` for the last).
    next: u32,
    /// The first item with its key.
    first: bool,
}

const NONE: u32 = u32::MAX;

impl Groups {
    /// Groups items `0..n` by `key` (in this one's buffers; `order` is the sort's).
    pub fn regroup<K: Ord>(
        &mut self,
        n: usize,
        key: impl Fn(usize) -> K,
        order: &mut Vec<u32>,
    ) -> &Groups {
        order.clear();
        order.extend(0..n as u32);
        order.sort_unstable_by(|&a, &b| key(a as usize).cmp(&key(b as usize)).then(a.cmp(&b)));
        let links = &mut self.links;
        links.clear();
        links.resize(
            n,
            Link {
                next: NONE,
                first: false,
            },
        );
        let mut prev: Option<u32> = None;
        for &i in order.iter() {
            match prev {
                Some(p) if key(p as usize) == key(i as usize) => links[p as usize].next = i,
                _ => links[i as usize].first = true,
            }
            prev = Some(i);
        }
        self
    }

    /// The groups: each an iterator over its items.
    pub fn iter(&self) -> impl Iterator<Item = Members<'_>> {
        self.links
            .iter()
            .enumerate()
            .filter(|(_, l)| l.first)
            .map(|(i, _)| Members {
                links: &self.links,
                at: i as u32,
            })
    }
}

/// One group's items, in order.
#[derive(Clone)]
pub(super) struct Members<'a> {
    links: &'a [Link],
    at: u32,
}

impl Iterator for Members<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let i = self.at;
        let link = self.links.get(i as usize)?;
        self.at = link.next;
        Some(i as usize)
    }
}

/// Header names compared as API Gateway's 2.0 shape lower-cases them.
pub(super) struct NoCase<'a>(pub &'a [u8]);

impl PartialEq for NoCase<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Eq for NoCase<'_> {}

impl Ord for NoCase<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0
            .iter()
            .map(u8::to_ascii_lowercase)
            .cmp(other.0.iter().map(u8::to_ascii_lowercase))
    }
}

impl PartialOrd for NoCase<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// `pathParameters` (values as sent, SPEC-NOTES §1.1); false (nothing written) for a route
/// without parameters. Names are unique (config validation).
pub(super) fn path_parameters(j: &mut Json, key: &str, req: &Request<'_>) -> bool {
    let mut params = path_values(req.route, req.params, req.resource_path).peekable();
    if params.peek().is_none() {
        return false;
    }
    j.key(key).obj();
    for (name, v) in params {
        j.key(name).text(v);
    }
    j.end_obj();
    true
}

/// `stageVariables`; false (nothing written) for a stage without variables. Names are
/// unique (they come from a JSON object).
pub(super) fn stage_variables(j: &mut Json, key: &str, req: &Request<'_>) -> bool {
    if req.stage.variables.is_empty() {
        return false;
    }
    j.key(key).obj();
    for (k, v) in &req.stage.variables {
        j.key(k).str(v);
    }
    j.end_obj();
    true
}

/// `body` when there is one, and its `isBase64Encoded` (see [`body_base64`]).
pub(super) fn body(j: &mut Json, req: &Request<'_>) -> Option<bool> {
    let base64 = body_base64(req)?;
    j.key("body");
    if base64 {
        j.base64(req.body);
    } else {
        j.text(req.body);
    }
    Some(base64)
}

/// `dd/MMM/yyyy:HH:mm:ss +0000`.
pub(super) fn civil(j: &mut Json, now_ms: u64) {
    let t = CivilTime::from_unix(now_ms / 1000);
    j.open_str().push_fmt(format_args!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day,
        MONTHS[(t.month as usize).saturating_sub(1) % 12],
        t.year,
        t.hour,
        t.minute,
        t.second
    ));
    j.close_str();
}

/// `identity.clientCert` (1.0) / `authentication.clientCert` (2.0), with mutual TLS.
pub(super) fn client_cert(j: &mut Json, c: &ClientCertInfo) {
    j.obj();
    j.key("clientCertPem").str(&c.client_cert_pem);
    j.key("subjectDN").str(&c.subject_dn);
    j.key("issuerDN").str(&c.issuer_dn);
    j.key("serialNumber").str(&c.serial_number);
    j.key("validity").obj();
    j.key("notBefore").str(&c.not_before);
    j.key("notAfter").str(&c.not_after);
    j.end_obj().end_obj();
}

/// The trace header tollgate adds when the client sent none (`event::trace_id`).
pub(super) fn started_trace(j: &mut Json, req: &Request<'_>) {
    j.open_str()
        .push_text(b"Root=")
        .push_text(req.trace.root())
        .close_str();
}

/// The host's first label (`domainPrefix`; `event::domain_prefix` on the lossy text).
pub(super) fn domain_prefix(host: &[u8]) -> &[u8] {
    host.split(|&b| b == b'.').next().unwrap_or_default()
}

/// The source IP as text.
pub(super) fn ip(j: &mut Json, ip: std::net::IpAddr) {
    j.open_str().push_fmt(format_args!("{ip}")).close_str();
}
