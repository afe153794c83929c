//! The stage response cache's configuration (SPEC-NOTES §6): stage `cacheClusterEnabled` /
//! `cacheClusterSize`, the caching fields of REST `methodSettings`, and the integration's
//! `cacheKeyParameters`; compiled into `StageCachePolicy` and `RouteCache`.

use serde_json::Value;

use super::defaults::{
    CACHE_CLUSTER_SIZES, DEFAULT_CACHE_CLUSTER_SIZE, DEFAULT_CACHE_TTL_SECS,
    DEFAULT_REQUIRE_AUTHORIZATION_FOR_CACHE_CONTROL, DEFAULT_UNAUTHORIZED_CACHE_CONTROL,
    MAX_CACHE_CAPACITY_BYTES, MAX_CACHE_TTL_SECS, MIN_CACHE_CAPACITY_BYTES,
};
use super::integration::{RouteCtx, SourceSpec, request_source};
use super::openapi::RouteSpec;
use super::reader::{Errors, Node, Obj};
use super::usage::MethodKey;
use super::{ParamKind, Protocol, RouteCache, StageCachePolicy, UnauthorizedCacheControl};

/// The caching fields of one `methodSettings` entry, as written.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct CachePartial {
    pub enabled: Option<bool>,
    pub ttl_secs: Option<u32>,
    pub require_auth: Option<bool>,
    pub strategy: Option<UnauthorizedCacheControl>,
}

impl CachePartial {
    /// `self`'s fields, each falling back to `other`'s.
    pub fn or(self, other: CachePartial) -> CachePartial {
        CachePartial {
            enabled: self.enabled.or(other.enabled),
            ttl_secs: self.ttl_secs.or(other.ttl_secs),
            require_auth: self.require_auth.or(other.require_auth),
            strategy: self.strategy.or(other.strategy),
        }
    }
}

/// A stage's `cacheClusterEnabled` / `cacheClusterSize`: the capacity in bytes when the
/// cache is on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StageCacheSpec {
    pub capacity_bytes: Option<u64>,
}

/// A stage's `cacheClusterEnabled`, `cacheClusterSize` and (tollgate's own)
/// `cacheCapacityBytes` nodes. HTTP API stages have no cache: each property is an error there.
pub(crate) fn stage_cache(
    enabled_node: Option<Node<'_>>,
    size_node: Option<Node<'_>>,
    bytes_node: Option<Node<'_>>,
    protocol: Protocol,
    errors: &mut Errors,
) -> StageCacheSpec {
    if protocol == Protocol::Http {
        for n in enabled_node
            .iter()
            .chain(size_node.iter())
            .chain(bytes_node.iter())
        {
            n.err(
                errors,
                "HTTP API stages have no cache: `cacheClusterEnabled` and `cacheClusterSize` are for REST stages",
            );
        }
        return StageCacheSpec::default();
    }
    let enabled = enabled_node.and_then(|n| n.bool(errors)).unwrap_or(false);
    let has_size = size_node.is_some();
    let size = size_node.and_then(|n| {
        let s = n.str_or_number(errors)?;
        let found = CACHE_CLUSTER_SIZES.iter().find(|(gb, _)| *gb == s);
        if found.is_none() {
            let all: Vec<&str> = CACHE_CLUSTER_SIZES.iter().map(|(gb, _)| *gb).collect();
            n.err(
                errors,
                format!(
                    "unknown cacheClusterSize `{s}`: expected one of {} (GB)",
                    all.join(", ")
                ),
            );
        }
        found.map(|(_, bytes)| *bytes)
    });
    let exact = bytes_node.and_then(|n| {
        if has_size {
            n.err(
                errors,
                "give `cacheClusterSize` or `cacheCapacityBytes`, not both",
            );
        }
        n.u64_in(errors, MIN_CACHE_CAPACITY_BYTES, MAX_CACHE_CAPACITY_BYTES)
    });
    StageCacheSpec {
        capacity_bytes: enabled.then(|| exact.or(size).unwrap_or(DEFAULT_CACHE_CLUSTER_SIZE)),
    }
}

/// The caching fields of a REST MethodSetting object.
pub(crate) fn read_cache_fields(obj: &mut Obj<'_>, errors: &mut Errors) -> CachePartial {
    let enabled = obj
        .opt_non_null("cachingEnabled")
        .and_then(|n| n.bool(errors));
    let ttl_secs = obj
        .opt_non_null("cacheTtlInSeconds")
        .and_then(|n| n.u64_in(errors, 0, MAX_CACHE_TTL_SECS))
        .map(|t| t as u32);
    // Entries live in memory only: there is nothing to encrypt at rest.
    if let Some(n) = obj.opt_non_null("cacheDataEncrypted") {
        n.bool(errors);
    }
    let require_auth = obj
        .opt_non_null("requireAuthorizationForCacheControl")
        .and_then(|n| n.bool(errors));
    let strategy = obj
        .opt_non_null("unauthorizedCacheControlHeaderStrategy")
        .and_then(|s| match s.str(errors)? {
            "FAIL_WITH_403" => Some(UnauthorizedCacheControl::FailWith403),
            "SUCCEED_WITH_RESPONSE_HEADER" => {
                Some(UnauthorizedCacheControl::SucceedWithResponseHeader)
            }
            "SUCCEED_WITHOUT_RESPONSE_HEADER" => {
                Some(UnauthorizedCacheControl::SucceedWithoutResponseHeader)
            }
            v => {
                s.err(
                    errors,
                    format!("unknown unauthorizedCacheControlHeaderStrategy `{v}`: expected FAIL_WITH_403, SUCCEED_WITH_RESPONSE_HEADER or SUCCEED_WITHOUT_RESPONSE_HEADER"),
                );
                None
            }
        });
    CachePartial {
        enabled,
        ttl_secs,
        require_auth,
        strategy,
    }
}

/// What the integration's `cacheKeyParameters` compile to, per route.
pub(crate) type CacheKeySpec = Vec<(ParamKind, String)>;

/// Read an integration's `cacheKeyParameters`: each must be `method.request.path.NAME` (a
/// path parameter of the route), `method.request.querystring.NAME` or
/// `method.request.header.NAME` declared for the method (as API Gateway requires): in the
/// operation's or path item's OpenAPI `parameters` (`in: query|header`), or used as a source
/// in the integration's `requestParameters`. HTTP APIs have no cache: the property is an
/// error there.
pub(crate) fn cache_key_parameters(
    integration: &Node<'_>,
    ctx: &RouteCtx<'_>,
    declared: &[(ParamKind, String)],
    errors: &mut Errors,
) -> CacheKeySpec {
    let mut out: CacheKeySpec = Vec::new();
    let Some(list) = integration
        .v
        .as_object()
        .and_then(|m| m.get("cacheKeyParameters"))
        .filter(|v| !v.is_null())
    else {
        return out;
    };
    let list = integration.child("cacheKeyParameters", list);
    let items = list.arr(errors).unwrap_or_default();
    if ctx.protocol == Protocol::Http && !items.is_empty() {
        list.err(
            errors,
            "HTTP APIs have no cache: `cacheKeyParameters` is for REST APIs",
        );
        return out;
    }
    for item in items {
        let Some(s) = item.str(errors) else { continue };
        let bad = |errors: &mut Errors| {
            item.err(
                errors,
                format!("cache key parameter `{s}` must be `method.request.path.NAME`, `method.request.querystring.NAME` or `method.request.header.NAME`"),
            )
        };
        let Some(rest) = s.strip_prefix("method.request.") else {
            bad(errors);
            continue;
        };
        let (kind, name) = match request_source(rest, s, &item, ctx, errors) {
            None => {
                bad(errors);
                continue;
            }
            Some(None) => continue,
            Some(Some(SourceSpec::Path(i))) => (ParamKind::Path, ctx.params[i as usize].clone()),
            Some(Some(SourceSpec::QueryString(n))) => (ParamKind::Query, n),
            Some(Some(SourceSpec::Header(n))) => (ParamKind::Header, n),
            Some(Some(_)) => {
                bad(errors);
                continue;
            }
        };
        if name.is_empty() {
            bad(errors);
            continue;
        }
        let same = |(k, n): &(ParamKind, String)| {
            *k == kind
                && match kind {
                    ParamKind::Header => n.eq_ignore_ascii_case(&name),
                    _ => *n == name,
                }
        };
        if kind != ParamKind::Path && !declared.iter().any(same) {
            item.err(
                errors,
                format!("cache key parameter `{s}` is not declared for the method: add it to the operation's `parameters` (as API Gateway requires)"),
            );
            continue;
        }
        if !out.iter().any(same) {
            out.push((kind, name));
        }
    }
    out
}

/// The request parameters an operation declares: OpenAPI `parameters` of the operation and
/// of its path item (`in: query|header|path`, local `$ref`s followed), and the
/// `method.request.*` sources of the integration's `requestParameters`.
pub(crate) fn declared_parameters(
    root: &Value,
    path_item: &Value,
    op: &Value,
    integration: &Value,
) -> Vec<(ParamKind, String)> {
    let mut out = Vec::new();
    for list in [path_item.get("parameters"), op.get("parameters")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
    {
        for p in list {
            let p = match p.get("$ref").and_then(Value::as_str) {
                Some(r) => match r.strip_prefix('#').and_then(|ptr| root.pointer(ptr)) {
                    Some(t) => t,
                    None => continue,
                },
                None => p,
            };
            let kind = match p.get("in").and_then(Value::as_str) {
                Some("query") => ParamKind::Query,
                Some("header") => ParamKind::Header,
                Some("path") => ParamKind::Path,
                _ => continue,
            };
            if let Some(name) = p.get("name").and_then(Value::as_str) {
                out.push((kind, name.to_string()));
            }
        }
    }
    if let Some(m) = integration
        .get("requestParameters")
        .and_then(Value::as_object)
    {
        for v in m.values().filter_map(Value::as_str) {
            let rest = v.strip_prefix("method.request.");
            if let Some(n) = rest.and_then(|r| r.strip_prefix("querystring.")) {
                out.push((ParamKind::Query, n.to_string()));
            } else if let Some(n) = rest.and_then(|r| r.strip_prefix("header.")) {
                out.push((ParamKind::Header, n.to_string()));
            }
        }
    }
    out
}

/// Per route (indexed like `routes`): the caching fields that apply, field by field from the
/// most specific `methodSettings` key that gives them (the throttle's matching), and whether
/// a key naming the route's method set `cachingEnabled`.
pub(crate) fn route_cache_settings(
    settings: &[(MethodKey, CachePartial)],
    routes: &[RouteSpec],
) -> Vec<(CachePartial, bool)> {
    let mut ranked: Vec<&(MethodKey, CachePartial)> = settings.iter().collect();
    ranked.sort_by_key(|(k, _)| std::cmp::Reverse(k.rank()));
    routes
        .iter()
        .map(|r| {
            let mut acc = CachePartial::default();
            let mut named = false;
            for (key, c) in &ranked {
                if key.matches(&r.route) {
                    if acc.enabled.is_none() && c.enabled.is_some() {
                        named = key.method.is_some();
                    }
                    acc = acc.or(*c);
                }
            }
            (acc, named)
        })
        .collect()
}

/// The stage's cache, or `None` when `cacheClusterEnabled` is not true. `integration_ids`
/// (indexed like `routes`) identify each route's integration on this stage.
pub(crate) fn compile_stage_cache(
    spec: StageCacheSpec,
    identity: String,
    settings: &[(CachePartial, bool)],
    routes: &[RouteSpec],
    integration_ids: &[u64],
) -> Option<StageCachePolicy> {
    let capacity_bytes = spec.capacity_bytes?;
    let mut h = Fnv::new();
    h.u64(capacity_bytes);
    let mut out = Vec::with_capacity(routes.len());
    for (i, r) in routes.iter().enumerate() {
        let (c, named) = settings.get(i).copied().unwrap_or_default();
        let is_get = r.route.method.as_deref() == Some(b"GET");
        let is_any = r.route.method.is_none();
        // Only GET is cached by default; a wildcard-method key enabling caching covers the
        // GET requests it applies to (the console's `*/*` `cachingEnabled: true`); another
        // method needs a key that names it.
        let enabled = match c.enabled {
            Some(true) => is_get || is_any || named,
            Some(false) => false,
            None => is_get || is_any,
        };
        let ttl_secs = c.ttl_secs.unwrap_or(DEFAULT_CACHE_TTL_SECS);
        let cache = (enabled && ttl_secs > 0).then(|| RouteCache {
            ttl_secs,
            get_only: is_any && !(c.enabled == Some(true) && named),
            key_params: r
                .cache_key
                .iter()
                .map(|(k, n)| (*k, n.as_str().into()))
                .collect(),
            require_auth_for_cache_control: c
                .require_auth
                .unwrap_or(DEFAULT_REQUIRE_AUTHORIZATION_FOR_CACHE_CONTROL),
            unauthorized_strategy: c.strategy.unwrap_or(DEFAULT_UNAUTHORIZED_CACHE_CONTROL),
        });
        h.str(&r.route.route_key);
        if let Some(rc) = &cache {
            h.u64(1);
            h.u64(u64::from(rc.ttl_secs));
            h.u64(u64::from(rc.get_only));
            h.u64(rc.key_params.len() as u64);
            for (k, n) in &rc.key_params {
                h.u64(*k as u64);
                h.str(n);
            }
            h.u64(u64::from(rc.require_auth_for_cache_control));
            h.u64(rc.unauthorized_strategy as u64);
            h.u64(integration_ids.get(i).copied().unwrap_or(0));
        } else {
            h.u64(0);
        }
        out.push(cache);
    }
    Some(StageCachePolicy {
        capacity_bytes,
        identity: identity.into(),
        fingerprint: h.finish(),
        routes: out,
    })
}

/// FNV-1a, 64 bit: a fixed function, so a fingerprint depends on nothing but its input.
pub(crate) struct Fnv(u64);

impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    /// Length-prefixed, so `("ab","c")` and `("a","bc")` differ.
    pub fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.bytes(s.as_bytes());
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}
