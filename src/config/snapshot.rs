//! The compiled, immutable configuration the data plane reads. One `Snapshot` sits behind one
//! `ArcSwap`; a core loads it once per request. Everything here is precomputed: nothing on the
//! request path parses a template, a path pattern or a duration.
//!
//! CONTRACT between config (builds it) and dataplane (reads it). Index newtypes are dense ids
//! into the `Vec`s of the snapshot they came from.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use hashbrown::HashMap;

use crate::http1;

mod cache;
mod lambda;
mod usage;

pub use cache::*;
pub use lambda::*;
pub use usage::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ApiIdx(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StageIdx(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RouteIdx(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UpstreamIdx(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AuthorizerIdx(pub u32);

pub struct Snapshot {
    /// Increases by one with every successful load; shown by admin `/status`.
    pub generation: u64,
    /// The gateway file this came from.
    pub source: PathBuf,
    pub server: Server,
    pub apis: Vec<Api>,
    pub stages: Vec<Stage>,
    pub upstreams: Vec<Upstream>,
    pub hosts: HostTable,
    /// Responses sent before an API is known (unknown host, stage or base path).
    pub edge_responses: GatewayResponses,
    /// Throttle limits, quotas, usage plans and API keys.
    pub usage: Usage,
    /// Every JWT authorizer of every API, indexed by `AuthorizerIdx` (routes name theirs).
    pub authorizers: Vec<Authorizer>,
    /// The gateway file's `iam`: SigV4 credentials and their identity policies.
    pub iam: super::Iam,
    /// Every Lambda authorizer of every API, indexed by `LambdaIdx` (routes name theirs).
    pub lambda_authorizers: Vec<LambdaAuthorizer>,
    /// The gateway file's `functions` (in order), indexed by `FunctionIdx`: Lambda
    /// authorizers and Lambda proxy integrations name theirs.
    pub functions: Vec<Function>,
    /// Every access log destination some stage writes to (deduplicated), indexed by
    /// `AccessLog::destination`.
    pub log_destinations: Vec<std::sync::Arc<super::LogDestination>>,
    /// `server.executionLog`'s index in `log_destinations`, when some stage logs executions.
    pub execution_log: Option<u32>,
    /// The `LogDestination::Spans` entry of `log_destinations`, when some stage traces and
    /// `server.otlp` is set (the cores' span batches carry it; `dataplane/otlp.rs`).
    pub spans: Option<u32>,
    /// Problems that did not stop the load (a bad row of `apiKeysFile` is skipped); report
    /// them like other reload warnings.
    pub warnings: Vec<super::ConfigError>,
}

// ---------------------------------------------------------------------------------------------
// server

pub struct Server {
    pub listeners: Vec<Listener>,
    pub admin: Option<Admin>,
    /// Worker cores; already resolved (0 in the file means one per core).
    pub workers: usize,
    pub io_driver: IoDriver,
    /// `server.cpuAffinity`: whether workers and their function processes are pinned.
    pub cpu_affinity: CpuAffinity,
    pub limits: ServerLimits,
    pub trusted_proxies: Vec<Cidr>,
    pub account_id: String,
    pub region: String,
    /// Where the control plane keeps quota counters across restarts (`server.stateDir`,
    /// already resolved against the gateway file's directory); `None`: not persisted.
    pub state_dir: Option<PathBuf>,
    /// TLS to `https://` integrations (`upstreamTls`, or the system roots). `None`: no roots
    /// could be found, and no integration is `https://` (compile refuses one).
    pub upstream_tls: Option<std::sync::Arc<super::UpstreamTls>>,
    /// `server.metrics`: whether requests are counted in the per-series metrics (gateway
    /// health gauges are kept either way).
    pub metrics: bool,
    /// Where execution logs go (`server.executionLog`: a file, already resolved against the
    /// gateway file's directory, or standard error, the default).
    pub execution_log: super::LogDestination,
    /// `server.otlp`: where the spans of stages with `tracingEnabled` go; `None`: not exported.
    pub otlp: Option<super::OtlpSettings>,
}

#[derive(Clone)]
pub struct Listener {
    pub address: SocketAddr,
    /// HTTPS: the certificates chosen by SNI (`tls` in the config). `None`: plain HTTP.
    pub tls: Option<std::sync::Arc<super::certs::CertSet>>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("address", &self.address)
            .field("tls", &self.tls.as_ref().map(|c| c.len()))
            .finish()
    }
}

/// Listeners are the same when their addresses are and both serve the same kind (the
/// certificates of an HTTPS listener may change without it being rebound).
impl PartialEq for Listener {
    fn eq(&self, other: &Listener) -> bool {
        self.address == other.address && self.tls.is_some() == other.tls.is_some()
    }
}

impl Eq for Listener {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admin {
    pub address: SocketAddr,
    /// Bearer token (from the file, or the environment variable the file names). `None` is
    /// only allowed on a loopback address.
    pub token: Option<String>,
}

/// How each core's runtime does IO. `UringDeferTaskrun` sets up the ring with
/// SINGLE_ISSUER + DEFER_TASKRUN; `UringCoop` with COOP_TASKRUN + TASKRUN_FLAG; `Legacy` is epoll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoDriver {
    Uring,
    UringCoop,
    UringDeferTaskrun,
    Legacy,
}

/// `server.cpuAffinity`. `Workers`: worker *i* is pinned to the *i*-th CPU the process may
/// use, and the function processes it serves to the same CPU (`dataplane/affinity.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuAffinity {
    None,
    Workers,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    pub http: http1::Limits,
    pub max_body_bytes: u64,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub send_timeout: Duration,
    pub drain_timeout: Duration,
    pub max_connections_per_worker: usize,
    pub upstream_idle_per_host: usize,
    pub upstream_idle_timeout: Duration,
}

/// An address range in `trustedProxies`. IPv4-mapped IPv6 addresses match their IPv4 form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

// ---------------------------------------------------------------------------------------------
// addressing

/// Host + path → (API, stage, resource path).
pub struct HostTable {
    /// `{apiId}.execute-api.<anything>`: key is the lower-case API id.
    pub execute_api: HashMap<Box<[u8]>, ApiIdx>,
    /// Custom domain names, exact (lower-case, no trailing dot).
    pub domains: HashMap<Box<[u8]>, DomainIdx>,
    /// Wildcard domains `*.example.com` stored as the suffix `.example.com`, longest first.
    pub wildcard_domains: Vec<(Box<[u8]>, DomainIdx)>,
    pub domain_list: Vec<Domain>,
    /// Served for any other Host (plain `localhost` use).
    pub default_api: Option<DefaultApi>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DomainIdx(pub u32);

pub struct Domain {
    pub name: String,
    /// Sorted by number of base-path segments, most first; an empty base path (`(none)`)
    /// matches every path and sorts last.
    pub mappings: Vec<BasePathMapping>,
}

pub struct BasePathMapping {
    /// Segments joined by `/`, no leading or trailing slash; empty for the root mapping.
    pub base_path: Box<[u8]>,
    pub api: ApiIdx,
    pub stage: StageIdx,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultApi {
    pub api: ApiIdx,
    /// `None`: the stage is the first path segment, as on the execute-api host.
    pub stage: Option<StageIdx>,
}

/// Where a request landed before route matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub api: ApiIdx,
    pub stage: StageIdx,
    /// Bytes of the request path consumed by the stage or base-path prefix. The resource path
    /// is `path[prefix_len..]`, or `/` when that is empty.
    pub prefix_len: usize,
}

/// No API/stage for this host and path. `api` is known when only the stage or base path was
/// wrong, which decides between REST's 403 and HTTP API's 404 body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoTarget {
    pub api: Option<ApiIdx>,
}

// ---------------------------------------------------------------------------------------------
// APIs, routes, stages

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Rest,
    Http,
}

/// `EDGE` forwards header names capitalized and cookies sorted by name, as API Gateway's
/// edge-optimized endpoints do; `REGIONAL`/`PRIVATE` pass names as they came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointType {
    Edge,
    Regional,
    Private,
}

pub struct Api {
    pub id: String,
    pub name: String,
    pub protocol: Protocol,
    pub endpoint_type: EndpointType,
    pub router: Router,
    /// Indexed by `RouteIdx`.
    pub routes: Vec<Route>,
    /// Stage name → stage (exact, case-sensitive as API Gateway).
    pub stages: HashMap<Box<[u8]>, StageIdx>,
    /// HTTP APIs: the `$default` stage, served without a path prefix.
    pub default_stage: Option<StageIdx>,
    /// Error responses of this API, pre-rendered (x-amazon-apigateway-gateway-responses
    /// applied over the defaults).
    pub responses: GatewayResponses,
    /// `x-amazon-apigateway-api-key-source` (REST; default `HEADER`).
    pub api_key_source: ApiKeySource,
    /// `x-amazon-apigateway-policy` (REST), evaluated per request (`dataplane/iam.rs`).
    pub resource_policy: Option<crate::dataplane::auth::policy::Policy>,
    /// `x-amazon-apigateway-binary-media-types` (REST), lower-case, e.g. `image/png`,
    /// `image/*`, `*/*`: Lambda proxy events base64-encode such bodies.
    pub binary_media_types: Box<[Box<str>]>,
}

/// Where a REST API reads the API key of a method with `apiKeyRequired`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKeySource {
    /// The `x-api-key` header (matched case-insensitively).
    Header,
    /// The Lambda authorizer's `usageIdentifierKey`.
    Authorizer,
}

pub struct Route {
    /// `None` for ANY (`x-amazon-apigateway-any-method`).
    pub method: Option<Box<[u8]>>,
    /// Resource path template as written, e.g. `/pets/{petId}` (`/` for the root; `$default`
    /// for an HTTP API default route).
    pub path: String,
    /// `GET /pets/{petId}`, `ANY /{proxy+}` or `$default`.
    pub route_key: String,
    /// Path parameter names in capture order (`proxy` for `{proxy+}`).
    pub params: Vec<String>,
    /// The route's JWT authorizer and `authorizationScopes` (`security` on the operation;
    /// HTTP APIs: or at the root). Checked after routing, before API keys and throttles.
    pub auth: Option<RouteAuth>,
    /// `AWS_IAM`: the request must be SigV4-signed by a key of `Snapshot::iam`
    /// (`dataplane/iam.rs`).
    pub iam: bool,
    /// The route's Lambda authorizer (`security` naming a `token`/`request` scheme).
    pub lambda: Option<LambdaIdx>,
}

/// A route's authorization requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteAuth {
    pub authorizer: AuthorizerIdx,
    /// Any one of them must be granted (`scope`/`scp`); empty: no scope check.
    pub scopes: Box<[Box<str>]>,
}

/// One JWT authorizer (HTTP API `jwt`, REST `cognito_user_pools`). The data plane keeps its
/// `Verifier` (and keys) across a reload when `identity` and `fingerprint` are unchanged
/// (`dataplane/meters.rs`); the control plane fetches its keys (`control/jwks.rs`).
pub struct Authorizer {
    /// `jwt:{apiId}/{name}`.
    pub identity: Box<str>,
    /// FNV over issuer, audiences and leeway: what a `Verifier` is built from.
    pub fingerprint: u64,
    pub issuer: String,
    /// `None`: any audience (Cognito user pools).
    pub audiences: Option<Vec<String>>,
    pub leeway_secs: u64,
    /// The identity source header, lower-case.
    pub header: Box<[u8]>,
    pub keys: KeySource,
}

/// Where an authorizer's keys come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// `jwksFile` in the gateway file's `authorizers`: read and parsed at load.
    File {
        path: PathBuf,
        keys: std::sync::Arc<crate::dataplane::auth::jwt::KeySet>,
    },
    /// `jwksUri`: fetched by the control plane.
    Uri(String),
    /// The default: OIDC discovery at this URL (`{issuer}/.well-known/openid-configuration`,
    /// or `openIdConnectUrl`), then its `jwks_uri`.
    Discovery(String),
}

/// At most this many path parameters per route.
pub const MAX_PATH_PARAMS: usize = 16;

/// Captured path parameter values: byte ranges into the resource path given to `find`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Params {
    pub spans: [(u32, u32); MAX_PATH_PARAMS],
    pub len: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteMatch {
    Found(RouteIdx),
    /// No resource, or no method on the resource (REST: 403 Missing Authentication Token;
    /// HTTP API: 404 Not Found).
    NotFound,
}

/// Compiled route table of one API (a segment trie). Matching is allocation-free.
pub struct Router {
    /// Implementation-defined; built by compile.
    pub(crate) inner: super::router::RouterInner,
}

pub struct Stage {
    pub api: ApiIdx,
    pub name: String,
    /// Stage variables, already substituted into this stage's integrations.
    pub variables: Vec<(String, String)>,
    /// This stage's integration for each route of its API, indexed by `RouteIdx`.
    pub integrations: Vec<Integration>,
    /// API-key requirement and method throttle of each route on this stage, indexed by
    /// `RouteIdx`.
    pub routes: Vec<StageRoute>,
    /// The stage response cache (`cacheClusterEnabled`, REST only); `None` when off.
    pub cache: Option<StageCachePolicy>,
    /// `accessLogSettings`; `None` when the stage does not log.
    pub access_log: Option<super::AccessLog>,
    /// Execution logging (`loggingLevel`, `dataTraceEnabled`) per route; lines go to
    /// `Snapshot.execution_log`.
    pub exec_log: super::StageExecLog,
    /// `tracingEnabled`: a span per request is exported to `server.otlp` (`Snapshot.spans`).
    pub tracing: bool,
}

/// One route on one stage: what the usage layer checks before the integration runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageRoute {
    /// The method needs an API key (`security: [{api_key: []}]` on a REST operation): a
    /// missing, unknown or disabled key, or one in no usage plan of this stage → 403
    /// `{"message":"Forbidden"}` (INVALID_API_KEY).
    pub api_key_required: bool,
    /// The stage's method throttle (REST `methodSettings`, HTTP API `defaultRouteSettings` /
    /// `routeSettings`), one bucket per route; `None` when no setting covers the route (then
    /// only the account limit applies). Identity `method:{apiId}/{stage}/{routeKey}`.
    pub throttle: Option<LimitId>,
}

// ---------------------------------------------------------------------------------------------
// integrations

pub enum Integration {
    HttpProxy(HttpProxy),
    Mock(Mock),
    /// `aws_proxy`: a Lambda proxy integration (`snapshot/lambda.rs`).
    Lambda(LambdaProxy),
}

pub struct HttpProxy {
    pub upstream: UpstreamIdx,
    /// Integration `httpMethod`; `None` (or `ANY`) forwards the client's method.
    pub method: Option<Box<[u8]>>,
    /// The URI's path with `{param}` and `${stageVariables.x}` resolved to pieces.
    pub path: Vec<UriPiece>,
    /// The URI's own query string (after `?`, may be empty); the client's query follows it.
    pub query: Vec<UriPiece>,
    /// `integration.request.header.X` / `.querystring.X` mappings (REST `requestParameters`).
    pub request_parameters: Vec<ParamMapping>,
    pub timeout: Duration,
}

pub enum UriPiece {
    Literal(Box<[u8]>),
    Value(ParamSource),
}

pub struct ParamMapping {
    pub target: ParamTarget,
    pub source: ParamSource,
}

pub enum ParamTarget {
    /// Set the header (a client header of that name is dropped). REST
    /// `integration.request.header.X`, HTTP `overwrite:header.X`. Name as written.
    Header(Box<[u8]>),
    /// Add `name=value` to the query. REST `integration.request.querystring.X`, HTTP
    /// `append:querystring.X`.
    QueryString(Box<[u8]>),
    /// HTTP `append:header.X`: keep the client's header and add the value.
    AppendHeader(Box<[u8]>),
    /// HTTP `remove:header.X`.
    RemoveHeader(Box<[u8]>),
    /// HTTP `overwrite:querystring.X`: the client's `X` parameters are dropped.
    OverwriteQueryString(Box<[u8]>),
    /// HTTP `remove:querystring.X`.
    RemoveQueryString(Box<[u8]>),
}

/// Where a mapped value comes from. Stage variables are resolved to `Static` at compile.
pub enum ParamSource {
    Static(Box<[u8]>),
    /// `method.request.path.X`: index into the route's `params`.
    Path(u16),
    /// `method.request.querystring.X` (first value, raw).
    QueryString(Box<[u8]>),
    /// `method.request.header.X` (matched case-insensitively).
    Header(Box<[u8]>),
    Context(ContextVar),
    /// HTTP APIs' `$request.path`: the request path after the stage or base path.
    RequestPath,
    /// HTTP APIs' mixed values (`prefix-$request.header.x`): the pieces concatenated.
    Concat(Vec<UriPiece>),
    /// `context.authorizer.claims.NAME` (HTTP APIs `$context.authorizer.claims.NAME`): a
    /// claim of the verified JWT (absent without one; non-string claims as JSON text).
    Claim(Box<str>),
    /// `context.authorizer.NAME` (HTTP APIs `$context.authorizer.NAME`): the Lambda
    /// authorizer's `principalId` or a key of its `context` (absent without one).
    AuthorizerValue(Box<str>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextVar {
    RequestId,
    ApiId,
    Stage,
    ResourcePath,
    HttpMethod,
    SourceIp,
    DomainName,
    AccountId,
    Path,
    Protocol,
    /// `identity.clientCert.*`: the mutual-TLS client certificate (absent without one).
    ClientCertSubjectDn,
    ClientCertIssuerDn,
    ClientCertSerialNumber,
    ClientCertNotBefore,
    ClientCertNotAfter,
    /// `identity.userArn`, `.caller`, `.accessKey`, `.accountId`: the verified SigV4 caller
    /// of an `AWS_IAM` method (absent otherwise). `caller` is the principal ARN: tollgate has
    /// no IAM unique ids.
    IdentityUserArn,
    IdentityCaller,
    IdentityAccessKey,
    IdentityAccountId,
}

/// A MOCK integration, fully rendered at compile (literal templates only until VTL lands).
pub struct Mock {
    pub response: Rendered,
}

pub struct Upstream {
    pub scheme: Scheme,
    /// Lower-case host as written in the URI (an IP literal without brackets, or a name).
    pub host: String,
    pub port: u16,
    /// `Host` header value sent upstream: `host` or `host:port` for a non-default port.
    pub host_header: Box<[u8]>,
    /// Addresses to connect to: set at compile for IP literals; filled and refreshed by the
    /// control plane's resolver for names. Empty means unresolved (→ 502).
    pub addrs: ArcSwap<Vec<SocketAddr>>,
    /// Stable identity (scheme, host, port; for https also the `UpstreamTls` fingerprint) so
    /// per-core pools carry over reloads, and TLS and plain connections never share a pool.
    pub key: u64,
    /// `https://`: the client config and the name verified and sent as SNI.
    pub tls: Option<super::TlsTarget>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

// ---------------------------------------------------------------------------------------------
// responses

/// A response rendered once per snapshot. The data plane writes `head`, then its per-request
/// headers (request ids, Date, Content-Length, Connection), a blank line, then `body`.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub status: u16,
    /// `HTTP/1.1 403 Forbidden\r\n` followed by static header lines, each ending in CRLF.
    pub head: Bytes,
    pub body: Bytes,
}

/// API Gateway's gateway response types that the data plane produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// REST: unknown resource or method (403 MissingAuthenticationTokenException).
    MissingAuthenticationToken,
    /// HTTP API: no route (404 `{"message":"Not Found"}`).
    NotFound,
    /// Unknown stage, domain or base path (403 `{"message":"Forbidden"}`).
    Forbidden,
    /// Integration did not answer within `timeoutInMillis` (REST 504 "Endpoint request
    /// timed out"; HTTP API 504).
    IntegrationTimeout,
    /// Could not connect, or the integration broke the protocol (502).
    IntegrationFailure,
    /// Body over the limit (413 "Request Too Long").
    RequestTooLarge,
    /// Anything else that is the gateway's fault (500).
    InternalError,
    /// REST: the method needs an API key and the request's is missing, unknown, disabled or
    /// in no usage plan of the stage (403 `{"message":"Forbidden"}`, INVALID_API_KEY).
    InvalidApiKey,
    /// A throttle limit is exhausted (429 `{"message":"Too Many Requests"}`, THROTTLED).
    Throttled,
    /// The key's usage-plan quota is used up (429 `{"message":"Limit Exceeded"}`,
    /// QUOTA_EXCEEDED).
    QuotaExceeded,
    /// `Cache-Control: max-age=0` from a caller not authorized to invalidate the stage cache,
    /// under `FAIL_WITH_403` (403 ACCESS_DENIED, `{"Message":"User is not authorized to
    /// access this resource"}`).
    CacheInvalidationDenied,
    /// A JWT authorizer refused the request: no identity source, or an invalid, expired or
    /// foreign token (401 `{"message":"Unauthorized"}`, UNAUTHORIZED).
    Unauthorized,
    /// A valid token without any of the route's `authorizationScopes` (403; REST
    /// ACCESS_DENIED, HTTP APIs `{"message":"Forbidden"}`).
    InsufficientScope,
    /// A Lambda authorizer's policy has no Allow for the method (403 ACCESS_DENIED,
    /// `{"Message":"User is not authorized to access this resource"}`; HTTP APIs 403
    /// `{"message":"Forbidden"}`, also for a simple response `isAuthorized: false`).
    AuthorizerDenied,
    /// A Lambda authorizer's policy denies the method explicitly (403 ACCESS_DENIED, `{"Message":
    /// "User is not authorized to access this resource with an explicit deny"}`).
    AuthorizerExplicitDeny,
    /// A Lambda authorizer could not be called or answered something unusable (500
    /// AUTHORIZER_CONFIGURATION_ERROR, `{"message": null}`).
    AuthorizerConfiguration,
    /// A Lambda proxy integration's function failed, could not be reached or answered a
    /// malformed proxy response (REST 502 `{"message": "Internal server error"}` as
    /// `IntegrationFailure`; HTTP APIs 500 `{"message":"Internal Server Error"}`).
    FunctionFailure,
    /// A Lambda proxy integration's function did not answer within the integration timeout
    /// (REST 504 as `IntegrationTimeout`; HTTP APIs 503 `{"message":"Service Unavailable"}`).
    FunctionTimeout,
}

impl ErrorKind {
    pub const COUNT: usize = 18;
    pub const ALL: [ErrorKind; ErrorKind::COUNT] = [
        ErrorKind::MissingAuthenticationToken,
        ErrorKind::NotFound,
        ErrorKind::Forbidden,
        ErrorKind::IntegrationTimeout,
        ErrorKind::IntegrationFailure,
        ErrorKind::RequestTooLarge,
        ErrorKind::InternalError,
        ErrorKind::InvalidApiKey,
        ErrorKind::Throttled,
        ErrorKind::QuotaExceeded,
        ErrorKind::CacheInvalidationDenied,
        ErrorKind::Unauthorized,
        ErrorKind::InsufficientScope,
        ErrorKind::AuthorizerDenied,
        ErrorKind::AuthorizerExplicitDeny,
        ErrorKind::AuthorizerConfiguration,
        ErrorKind::FunctionFailure,
        ErrorKind::FunctionTimeout,
    ];
}

/// One pre-rendered response per `ErrorKind`, indexed by `kind as usize`.
pub struct GatewayResponses {
    pub table: [Rendered; ErrorKind::COUNT],
}

impl GatewayResponses {
    #[inline]
    pub fn get(&self, kind: ErrorKind) -> &Rendered {
        &self.table[kind as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// queries the data plane makes (implemented by the config work)

impl Snapshot {
    /// Resolve a normalized host (lower-case, no port, no trailing dot) and the request path
    /// (starting with `/`, no query) to an API and stage. CONTRACT.
    pub fn resolve(&self, host: &[u8], path: &[u8]) -> Result<Target, NoTarget> {
        super::host::resolve(self, host, path)
    }

    /// One row per (host, base path, stage, route) for `tollgate routes`. CONTRACT.
    pub fn route_table(&self) -> Vec<RouteRow> {
        super::host::route_table(self)
    }
}

impl Router {
    /// Match `method` and a resource path (starting with `/`, no query) per API Gateway's
    /// rules (SPEC-NOTES §4). Fills `params` with spans into `path`. Allocation-free. CONTRACT.
    pub fn find(&self, method: &[u8], path: &[u8], params: &mut Params) -> RouteMatch {
        self.inner.find(method, path, params)
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        use super::cidr::masked;
        let matches = |ip: IpAddr| {
            ip.is_ipv4() == self.addr.is_ipv4()
                && masked(ip, self.prefix) == masked(self.addr, self.prefix)
        };
        let mapped = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        matches(ip) || mapped.is_some_and(matches)
    }
}

/// A row of `tollgate routes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRow {
    pub host: String,
    pub base_path: String,
    pub stage: String,
    pub method: String,
    pub path: String,
    /// e.g. `HTTP_PROXY GET http://backend:8080/pets/{petId}` or `MOCK 200`.
    pub integration: String,
}
