//! Defaults, each documented with the AWS or peer default it mirrors.

use std::time::Duration;

use super::IoDriver;

/// API Gateway's payload limit: 10 MB (DG:limits).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
/// Header fields per request (hyper's and RELIABILITY's default).
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// One header field line (nginx `large_client_header_buffers` 8k).
pub const DEFAULT_MAX_HEADER_LINE: usize = 8 * 1024;
/// Whole request head.
pub const DEFAULT_MAX_HEAD_BYTES: usize = 64 * 1024;
/// Request-target: API Gateway edge endpoints allow 8,192 characters of URL (DG:limits).
pub const DEFAULT_MAX_TARGET: usize = 8 * 1024;
/// Chunk extension bytes per message.
pub const DEFAULT_MAX_CHUNK_EXT: usize = 16 * 1024;
/// Trailer block bytes.
pub const DEFAULT_MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Total time to receive a request head, not reset by a trickle (HAProxy `timeout http-request`).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time between two reads of a request body before 408.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle keep-alive connection lifetime.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Time to write a response chunk to a slow client before giving up.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// SIGTERM drain deadline.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections per worker before accept pauses.
pub const DEFAULT_MAX_CONNECTIONS_PER_WORKER: usize = 10_000;
/// Integration timeout: API Gateway's default and cap, 29 s (`timeoutInMillis`).
pub const DEFAULT_INTEGRATION_TIMEOUT: Duration = Duration::from_millis(29_000);
/// Minimum `timeoutInMillis` API Gateway accepts.
pub const MIN_INTEGRATION_TIMEOUT_MS: u64 = 50;
/// Idle upstream connections kept per upstream per worker.
pub const DEFAULT_UPSTREAM_IDLE_PER_HOST: usize = 64;
/// Idle upstream connection lifetime in a pool.
pub const DEFAULT_UPSTREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// TLS to backends without `server.upstreamTls.caBundle`: the system's CA bundle, the first
/// of these files that can be read (Debian/Ubuntu/Alpine/Arch, then Fedora/RHEL).
pub const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];
/// Admin listener.
pub const DEFAULT_ADMIN_ADDRESS: &str = "127.0.0.1:9901";
/// Account and region placed in ARNs and events.
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";
pub const DEFAULT_REGION: &str = "us-east-1";
/// Listener when `server.listeners` is absent.
pub const DEFAULT_LISTENER_ADDRESS: &str = "127.0.0.1:8080";
/// IO driver when `server.ioDriver` is absent: io_uring with SINGLE_ISSUER + DEFER_TASKRUN,
/// the cheapest per proxied request on the benchmark machine (benches/RESULTS.md, driver
/// sweep: 0.84× nginx's CPU per request, against 1.15× for monoio's default ring setup).
pub const DEFAULT_IO_DRIVER: IoDriver = IoDriver::UringDeferTaskrun;
/// `server.workers` when absent: one worker per core.
pub const DEFAULT_WORKERS: usize = 0;
/// `server.stateDir` when absent: beside the gateway file (relative to its directory). No
/// AWS equivalent: API Gateway keeps quota counts in its own service.
pub const DEFAULT_STATE_DIR: &str = ".tollgate-state";
/// The admin API's API key store inside `server.stateDir` (read by config, written by the
/// admin API). API Gateway keeps keys in its own service.
pub const API_KEY_STORE_FILE: &str = "apikeys.json";
/// The store's `version`.
pub const API_KEY_STORE_VERSION: u64 = 1;

// Upper bounds accepted in `server.limits` and `server.workers`: beyond them a value is a
// typo, not a tuning choice.

/// The head parser keeps header indices in a fixed array of this size.
pub const MAX_MAX_HEADERS: u64 = 256;
/// Any per-head byte limit (head, line, target, chunk extensions, trailers): 1 MiB.
pub const MAX_HEAD_LIMIT_BYTES: u64 = 1024 * 1024;
/// Request bodies: 1 GiB (API Gateway itself stops at 10 MB).
pub const MAX_BODY_LIMIT_BYTES: u64 = 1024 * 1024 * 1024;
/// Any timeout: one hour.
pub const MAX_TIMEOUT_MS: u64 = 3_600_000;
/// Connections per worker.
pub const MAX_CONNECTIONS_PER_WORKER: u64 = 1_000_000;
/// Idle upstream connections per upstream per worker.
pub const MAX_UPSTREAM_IDLE_PER_HOST: u64 = 65_536;
/// Worker threads.
pub const MAX_WORKERS: u64 = 1024;
/// Integration timeout cap: API Gateway's 29 s (`timeoutInMillis`).
pub const MAX_INTEGRATION_TIMEOUT_MS: u64 = 29_000;

// Throttling, usage plans and API keys (SPEC-NOTES §5).

/// Account-level steady rate: API Gateway's default per account and Region, 10,000 rps
/// (DG:limits). Also the value of any `rateLimit`/`throttlingRateLimit` left out of a throttle.
pub const DEFAULT_ACCOUNT_RATE_LIMIT: f64 = 10_000.0;
/// Account-level burst: API Gateway's default, 5,000 (DG:limits). Also the value of any
/// `burstLimit`/`throttlingBurstLimit` left out of a throttle.
pub const DEFAULT_ACCOUNT_BURST_LIMIT: u64 = 5_000;
/// `burstLimit` and quota `limit` are Integers (32-bit) in API Gateway's model.
pub const MAX_BURST_LIMIT: u64 = i32::MAX as u64;
/// An `apiKeys[]` entry without `enabled` is enabled, as in API Gateway's key import
/// ("the default value is ... a true Boolean value").
pub const DEFAULT_API_KEY_ENABLED: bool = true;
/// An API key value is 20 to 128 characters (API Gateway's key file format).
pub const MIN_API_KEY_LENGTH: usize = 20;
pub const MAX_API_KEY_LENGTH: usize = 128;
/// Generated key values: 40 alphanumerics, as API Gateway generates them.
pub const GENERATED_API_KEY_LENGTH: usize = 40;
/// An API key name is at most 1024 characters (API Gateway's key file format).
pub const MAX_API_KEY_NAME_LENGTH: usize = 1024;
/// The secret that generated key values derive from: at least this many bytes.
pub const MIN_API_KEY_SECRET_LENGTH: usize = 16;

// Stage response cache (SPEC-NOTES §6).

/// API Gateway's `cacheClusterSize` values (GB, as strings) and the byte bound tollgate
/// honours for each: decimal gigabytes, GB × 10⁹.
pub const CACHE_CLUSTER_SIZES: [(&str, u64); 8] = [
    ("0.5", 500_000_000),
    ("1.6", 1_600_000_000),
    ("6.1", 6_100_000_000),
    ("13.5", 13_500_000_000),
    ("28.4", 28_400_000_000),
    ("58.2", 58_200_000_000),
    ("118", 118_000_000_000),
    ("237", 237_000_000_000),
];
/// `cacheCapacityBytes` (tollgate's exact byte bound instead of a `cacheClusterSize`): at
/// least 64 KiB (1 KiB per shard), at most API Gateway's largest size.
pub const MIN_CACHE_CAPACITY_BYTES: u64 = 64 * 1024;
pub const MAX_CACHE_CAPACITY_BYTES: u64 = 237_000_000_000;
/// `cacheClusterEnabled: true` without `cacheClusterSize`: API Gateway's default size, 0.5 GB.
pub const DEFAULT_CACHE_CLUSTER_SIZE: u64 = 500_000_000;
/// `cacheTtlInSeconds` default: 300 s, as API Gateway's.
pub const DEFAULT_CACHE_TTL_SECS: u32 = 300;
/// `cacheTtlInSeconds` maximum: 3600 s, as API Gateway's.
pub const MAX_CACHE_TTL_SECS: u64 = 3600;
/// `requireAuthorizationForCacheControl` default: true, as `GetStage` reports it.
pub const DEFAULT_REQUIRE_AUTHORIZATION_FOR_CACHE_CONTROL: bool = true;
/// `unauthorizedCacheControlHeaderStrategy` default: `SUCCEED_WITH_RESPONSE_HEADER`, as
/// `GetStage` reports it.
pub const DEFAULT_UNAUTHORIZED_CACHE_CONTROL: super::UnauthorizedCacheControl =
    super::UnauthorizedCacheControl::SucceedWithResponseHeader;
/// Responses larger than this are not cached: 1,048,576 bytes, as on API Gateway.
pub const MAX_CACHED_RESPONSE_BYTES: usize = 1_048_576;
/// `iam.maxSkewSeconds` default: 300 s, SigV4's "within five minutes" (AWS IAM User Guide,
/// `reference_aws-signing.html`; RELIABILITY A10b).
pub const DEFAULT_IAM_MAX_SKEW_SECS: u64 = crate::dataplane::auth::sigv4::DEFAULT_MAX_SKEW_SECS;
/// `iam.maxSkewSeconds` maximum: one hour (S3 allows 15 minutes; more only widens the replay
/// window).
pub const MAX_IAM_MAX_SKEW_SECS: u64 = 3600;

/// Lambda authorizer result TTL when `authorizerResultTtlInSeconds` is not given (API
/// Gateway's default, SPEC-NOTES §1.4).
pub const DEFAULT_AUTHORIZER_TTL_SECS: u64 = 300;
/// Longest `authorizerResultTtlInSeconds` (API Gateway's maximum).
pub const MAX_AUTHORIZER_TTL_SECS: u64 = 3600;
/// A function call (a Lambda authorizer's) must answer within this unless `timeoutMs` says
/// otherwise: API Gateway's authorizer timeout (SPEC-NOTES §1.4).
pub const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest `timeoutMs` of a function (Lambda's own maximum, 15 minutes).
pub const MAX_FUNCTION_TIMEOUT_MS: u64 = 900_000;
/// A local function's `memoryMb` (reported as `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, not
/// enforced): Lambda's default and range.
pub const DEFAULT_LOCAL_MEMORY_MB: u32 = 128;
pub const MIN_LOCAL_MEMORY_MB: u64 = 128;
pub const MAX_LOCAL_MEMORY_MB: u64 = 10_240;
/// A local function's warm processes at most (`concurrency`): one unless set.
pub const DEFAULT_LOCAL_CONCURRENCY: u32 = 1;
pub const MAX_LOCAL_CONCURRENCY: u64 = 64;
/// Invocations waiting for a free process (`queue`); beyond it, 429 `TooManyRequestsException`
/// (Lambda throttles instead of queueing a synchronous call).
pub const DEFAULT_LOCAL_QUEUE: u32 = 100;
pub const MAX_LOCAL_QUEUE: u64 = 10_000;
