//! The stage response cache as the data plane reads it (SPEC-NOTES §6, DESIGN §6). A stage
//! with `cacheClusterEnabled` has a `StageCachePolicy`; each of its routes that caches has a
//! `RouteCache`. A reload carries a stage cache's entries over when a cache with the same
//! `identity` and the same `fingerprint` exists in the new snapshot; otherwise the new
//! cache starts empty.

/// Where a cache key parameter is read from the request (`cacheKeyParameters`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ParamKind {
    /// `method.request.path.NAME`: the name is a path parameter of the route (the value is
    /// `Params::spans[i]` where `i` is the name's index in `Route::params`).
    Path,
    /// `method.request.querystring.NAME`: every value of `NAME`, in request order; the order
    /// of *different* parameters does not split the key.
    Query,
    /// `method.request.header.NAME`, matched case-insensitively.
    Header,
}

/// API Gateway's `unauthorizedCacheControlHeaderStrategy`: what a `Cache-Control: max-age=0`
/// from a caller not allowed to invalidate gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnauthorizedCacheControl {
    /// `FAIL_WITH_403`.
    FailWith403,
    /// `SUCCEED_WITH_RESPONSE_HEADER` (AWS default): served from the cache as if the header
    /// were absent, with a warning header.
    SucceedWithResponseHeader,
    /// `SUCCEED_WITHOUT_RESPONSE_HEADER`: served from the cache, no header.
    SucceedWithoutResponseHeader,
}

/// One stage's cache (`cacheClusterEnabled: true`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageCachePolicy {
    /// `cacheClusterSize` in bytes, decimal: GB × 10⁹ ("0.5" → 500,000,000). The bound
    /// covers every stored entry (key and serialized response).
    pub capacity_bytes: u64,
    /// `cache:{apiId}/{stage}`: stable across reloads and restarts.
    pub identity: Box<str>,
    /// A hash of everything that, changed, makes the old entries wrong or differently
    /// keyed: the capacity, and per route its key, TTL, key parameters, invalidation policy
    /// and integration (its definition and the stage variables). Equal fingerprints under
    /// one identity: keep the entries; different: start empty. Stable for one binary
    /// (FNV-1a over a fixed encoding), not a wire format.
    pub fingerprint: u64,
    /// Indexed by `RouteIdx`: `None` where the route is not cached (not GET and no
    /// methodSettings enabling it, `cachingEnabled: false`, or `cacheTtlInSeconds: 0`).
    pub routes: Vec<Option<RouteCache>>,
}

/// How one route uses its stage's cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteCache {
    /// `cacheTtlInSeconds`, 1..=3600 (0 disables and gives no `RouteCache`).
    pub ttl_secs: u32,
    /// Only GET requests are cached on this route. True on an ANY route whose caching comes
    /// from the GET default or a wildcard-method key (`*/*`, `/pets/*`); false when a key
    /// names the method (`/pets/ANY`, `*/POST`) or the route is GET.
    pub get_only: bool,
    /// The key is (stage, method, resource path) plus these values, in this order
    /// (`cacheKeyParameters` as written, duplicates removed). Path parameter values are not
    /// in the key unless listed here, as on API Gateway.
    pub key_params: Vec<(ParamKind, Box<str>)>,
    /// `requireAuthorizationForCacheControl` (AWS default true). tollgate has no IAM
    /// authorization yet, so when true every `Cache-Control: max-age=0` is unauthorized and
    /// `unauthorized_strategy` applies; when false any client can invalidate.
    pub require_auth_for_cache_control: bool,
    pub unauthorized_strategy: UnauthorizedCacheControl,
}
