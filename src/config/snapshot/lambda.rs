//! Lambda authorizers and the functions they call, as the data plane reads them (SPEC-NOTES
//! §1.4; README "Authorizers"). An authorizer names its function through `authorizerUri`; the
//! gateway file's `functions` says where each function runs. Today that is an HTTP endpoint
//! that takes the invocation event as a POST body and answers with the function's result
//! (the Lambda JSON); a local process or a remote `Invoke` would be further
//! [`FunctionTarget`]s.
//!
//! A per-core result cache (`dataplane/lambda_auth/cache.rs`) keeps an authorizer's entries
//! over a reload when its `identity` and `fingerprint` are unchanged.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{ContextVar, StageIdx, UpstreamIdx};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LambdaIdx(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FunctionIdx(pub u32);

/// One Lambda authorizer of one API (a security scheme with `x-amazon-apigateway-authorizer`
/// of type `token` or `request`).
pub struct LambdaAuthorizer {
    /// `lambda:{apiId}/{name}`.
    pub identity: Box<str>,
    /// FNV over everything a cached result depends on: type, payload, identity sources,
    /// validation expression, TTL and each stage's function (target and timeout).
    pub fingerprint: u64,
    /// The scheme's name.
    pub name: String,
    pub kind: LambdaKind,
    /// Collected in order; any one missing or empty → 401 without calling the function.
    /// Their values are the cache key.
    pub sources: Box<[IdentitySource]>,
    /// TOKEN: `identityValidationExpression`; a token it does not match → 401 without a call.
    pub validation: Option<TokenPattern>,
    /// `authorizerResultTtlInSeconds`; zero: no caching.
    pub ttl: Duration,
    /// The function of each stage of the API (`authorizerUri` may name it through a stage
    /// variable). Sorted by stage.
    pub functions: Box<[(StageIdx, FunctionIdx)]>,
}

impl LambdaAuthorizer {
    /// The function this authorizer calls on `stage`.
    pub fn function(&self, stage: StageIdx) -> Option<FunctionIdx> {
        self.functions
            .binary_search_by_key(&stage.0, |(s, _)| s.0)
            .ok()
            .map(|i| self.functions[i].1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LambdaKind {
    /// REST `type: token`: the event carries one token; the cache key is the token.
    Token,
    /// REST `type: request`: the event is like a proxy event.
    Request,
    /// HTTP API `type: request` with `authorizerPayloadFormatVersion`.
    Http {
        payload: PayloadVersion,
        /// `enableSimpleResponses` (2.0 only): `{"isAuthorized": bool, "context": {}}`.
        simple: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadVersion {
    V1,
    V2,
}

/// Where one identity source value is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentitySource {
    /// `method.request.header.X` / `$request.header.X` (case-insensitive name, lower-case).
    Header(Box<[u8]>),
    /// `method.request.querystring.X` / `$request.querystring.X` (first value, raw).
    QueryString(Box<[u8]>),
    /// `stageVariables.X` / `$stageVariables.X`.
    StageVariable(Box<str>),
    /// `context.X` / `$context.X`.
    Context(ContextVar),
    /// `$context.routeKey` (HTTP APIs: to cache per route).
    RouteKey,
}

/// A compiled `identityValidationExpression` (whole-string match, as Java's `matches`).
pub struct TokenPattern {
    pub(crate) regex: crate::config::regex::Regex,
    pub source: String,
}

impl TokenPattern {
    pub fn matches(&self, token: &str) -> bool {
        self.regex.matches(token)
    }
}

/// A Lambda proxy integration (`type: aws_proxy`) on one stage (SPEC-NOTES §1;
/// `dataplane/lambda.rs`). No stage cache: API Gateway's cache applies, but tollgate's
/// stage cache serves HTTP_PROXY only for now.
pub struct LambdaProxy {
    /// The function the `uri` names on this stage; `None` when the gateway file's
    /// `functions` was not consulted (`load_definition`): the route answers 502.
    pub function: Option<FunctionIdx>,
    /// REST APIs: always `V1`; HTTP APIs: `payloadFormatVersion`.
    pub payload: PayloadVersion,
    /// `min(timeoutInMillis, the function's timeoutMs)`.
    pub timeout: Duration,
}

/// One entry of the gateway file's `functions`.
pub struct Function {
    /// The key it is written under (a function name or ARN).
    pub name: String,
    pub target: FunctionTarget,
    /// `timeoutMs`: the whole call (connect, send, answer) must fit.
    pub timeout: Duration,
}

/// How a function is reached.
pub enum FunctionTarget {
    /// `url`: `POST {path}` with the event as the JSON body; the response body is the
    /// function's result. Connections come from the core's upstream pool.
    Http {
        upstream: UpstreamIdx,
        /// Request target, e.g. `/invoke` or `/2015-03-31/functions/auth/invocations`.
        path: Box<[u8]>,
    },
    /// `remote`: Lambda's Invoke API, SigV4-signed per call (`config/lambda_remote.rs`).
    Remote(Box<super::super::lambda_remote::RemoteFunction>),
    /// `local`: a process tollgate's function host (control/functions/) runs and serves the
    /// Runtime API. Called like `Http`, over the host's Invoke API
    /// (`POST /2015-03-31/functions/{name}/invocations`): `upstream` is the host's loopback
    /// address, compiled without one and filled in by the control plane before the
    /// snapshot is published (as DNS names are).
    Local {
        upstream: UpstreamIdx,
        path: Box<[u8]>,
        process: Arc<LocalFunction>,
    },
}

/// How the function host starts a local function's processes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalFunction {
    /// Program and arguments (no shell).
    pub command: Vec<String>,
    /// `cwd`, joined to the gateway file's directory; also `LAMBDA_TASK_ROOT`.
    pub cwd: PathBuf,
    /// `env`, in order, on top of tollgate's own environment and the Lambda variables.
    pub env: Vec<(String, String)>,
    /// `handler` → `_HANDLER`.
    pub handler: Option<String>,
    /// `memoryMb` → `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (reported, not enforced).
    pub memory_mb: u32,
    /// Warm processes at most.
    pub concurrency: u32,
    /// Invocations waiting for a process at most.
    pub queue: u32,
}
