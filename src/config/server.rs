//! Validation of the gateway file's `server` section into the snapshot's `Server` (it has no
//! references to anything else, except `defaultApi`, which is resolved with the APIs).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cidr::parse_cidr;
use super::reader::{Errors, Loc, Node, Obj};
use super::*;
use crate::http1;

pub(crate) struct ServerSpec {
    pub server: Server,
    pub default_api: Option<DefaultApiSpec>,
    /// Per listener (same order): its `tls`, compiled into `Listener::tls` once the custom
    /// domains are known.
    pub listener_tls: Vec<Option<super::tls::ListenerTlsSpec>>,
    /// `upstreamTls`, compiled into `Server::upstream_tls` with its files.
    pub upstream_tls: Option<super::upstream_tls::UpstreamTlsSpec>,
}

/// `server.defaultApi` before the API and stage names are resolved.
pub(crate) struct DefaultApiSpec {
    pub api_id: String,
    pub api_loc: Loc,
    pub stage: Option<(String, Loc)>,
}

/// Reads environment variables (`admin.tokenEnv`); injected so tests need no real env.
pub(crate) type Env<'e> = &'e dyn Fn(&str) -> Option<String>;

pub(crate) fn default_server() -> Server {
    Server {
        listeners: vec![Listener {
            address: DEFAULT_LISTENER_ADDRESS.parse().expect("default address"),
            tls: None,
        }],
        admin: Some(Admin {
            address: DEFAULT_ADMIN_ADDRESS.parse().expect("default address"),
            token: None,
        }),
        workers: resolve_workers(DEFAULT_WORKERS),
        io_driver: DEFAULT_IO_DRIVER,
        cpu_affinity: CpuAffinity::None,
        limits: default_limits(),
        trusted_proxies: Vec::new(),
        account_id: DEFAULT_ACCOUNT_ID.to_string(),
        region: DEFAULT_REGION.to_string(),
        state_dir: Some(PathBuf::from(DEFAULT_STATE_DIR)),
        upstream_tls: None,
        metrics: true,
        execution_log: LogDestination::Stderr,
        otlp: None,
    }
}

/// The HTTP/1.1 codec limits a gateway gets when `server.limits` says nothing.
pub fn default_http_limits() -> http1::Limits {
    http1::Limits {
        max_headers: DEFAULT_MAX_HEADERS,
        max_header_line: DEFAULT_MAX_HEADER_LINE,
        max_head_bytes: DEFAULT_MAX_HEAD_BYTES,
        max_target: DEFAULT_MAX_TARGET,
        max_chunk_ext: DEFAULT_MAX_CHUNK_EXT,
        max_trailer_bytes: DEFAULT_MAX_TRAILER_BYTES,
    }
}

fn default_limits() -> ServerLimits {
    ServerLimits {
        http: default_http_limits(),
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        header_timeout: DEFAULT_HEADER_TIMEOUT,
        body_timeout: DEFAULT_BODY_TIMEOUT,
        idle_timeout: DEFAULT_IDLE_TIMEOUT,
        send_timeout: DEFAULT_SEND_TIMEOUT,
        drain_timeout: DEFAULT_DRAIN_TIMEOUT,
        max_connections_per_worker: DEFAULT_MAX_CONNECTIONS_PER_WORKER,
        upstream_idle_per_host: DEFAULT_UPSTREAM_IDLE_PER_HOST,
        upstream_idle_timeout: DEFAULT_UPSTREAM_IDLE_TIMEOUT,
    }
}

fn resolve_workers(n: usize) -> usize {
    if n == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        n
    }
}

/// `base_dir`: the gateway file's directory, which relative paths (`stateDir`) resolve against.
pub(crate) fn validate_server(
    node: Option<Node<'_>>,
    base_dir: &Path,
    env: Env<'_>,
    errors: &mut Errors,
) -> ServerSpec {
    let mut server = default_server();
    server.state_dir = server.state_dir.map(|d| base_dir.join(d));
    let mut default_api = None;
    let mut listener_tls = vec![None];
    let mut upstream_tls = None;
    let Some(mut obj) = node.and_then(|n| n.obj(errors)) else {
        return ServerSpec {
            server,
            default_api,
            listener_tls,
            upstream_tls,
        };
    };
    if let Some(n) = obj.opt("listeners") {
        (server.listeners, listener_tls) = listeners(&n, base_dir, errors).into_iter().unzip();
    }
    if let Some(n) = obj.opt("admin") {
        server.admin = admin(&n, env, errors);
    }
    if let Some(w) = obj
        .opt("workers")
        .and_then(|n| n.u64_in(errors, 0, MAX_WORKERS))
    {
        server.workers = resolve_workers(w as usize);
    }
    if let Some(n) = obj.opt("ioDriver") {
        server.io_driver = io_driver(&n, errors).unwrap_or(DEFAULT_IO_DRIVER);
    }
    if let Some(n) = obj.opt("cpuAffinity") {
        server.cpu_affinity = cpu_affinity(&n, errors).unwrap_or(CpuAffinity::None);
    }
    if let Some(n) = obj.opt("limits") {
        limits(&n, &mut server.limits, errors);
    }
    if let Some(items) = obj.opt("trustedProxies").and_then(|n| n.arr(errors)) {
        server.trusted_proxies = items.iter().filter_map(|n| cidr(n, errors)).collect();
    }
    if let Some(n) = obj.opt("defaultApi") {
        default_api = default_api_spec(&n, errors);
    }
    if let Some(n) = obj.opt("accountId")
        && let Some(s) = n.str(errors)
    {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            server.account_id = s.to_string();
        } else {
            n.err(errors, "an account id is 12 digits");
        }
    }
    if let Some(n) = obj.opt("region")
        && let Some(s) = n.str(errors)
    {
        let ok = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            server.region = s.to_string()
        } else {
            n.err(
                errors,
                "a region is lower-case letters, digits and `-`, like `us-east-1`",
            )
        }
    }
    if let Some(n) = obj.opt("stateDir") {
        server.state_dir = state_dir(&n, base_dir, errors);
    }
    if let Some(m) = obj.opt("metrics").and_then(|n| n.bool(errors)) {
        server.metrics = m;
    }
    if let Some(n) = obj.opt_non_null("executionLog")
        && let Some(s) = n.str(errors)
    {
        match s {
            "-" | "stderr" | "/dev/stderr" => server.execution_log = LogDestination::Stderr,
            "" => n.err(
                errors,
                "`executionLog` is a file path (relative to the gateway file), or `-` for standard error",
            ),
            path => server.execution_log = LogDestination::File(base_dir.join(path)),
        }
    }
    if let Some(n) = obj.opt_non_null("otlp") {
        server.otlp = super::otlp::read(&n, errors);
    }
    if let Some(n) = obj.opt_non_null("upstreamTls") {
        upstream_tls = super::upstream_tls::upstream_tls_spec(&n, base_dir, errors);
    }
    obj.finish(errors);
    ServerSpec {
        server,
        default_api,
        listener_tls,
        upstream_tls,
    }
}

/// `stateDir`: a directory path (relative to the gateway file), or `null` for no persistence.
fn state_dir(n: &Node<'_>, base_dir: &Path, errors: &mut Errors) -> Option<PathBuf> {
    if n.v.is_null() {
        return None;
    }
    let s = n.str(errors)?;
    if s.is_empty() || s.contains('\0') {
        n.err(
            errors,
            "`stateDir` is a directory path (relative to the gateway file), or null",
        );
        return None;
    }
    Some(base_dir.join(s))
}

fn socket_addr(n: &Node<'_>, errors: &mut Errors) -> Option<SocketAddr> {
    let s = n.str(errors)?;
    match s.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            n.err(
                errors,
                format!(
                    "`{s}` is not an IP address with a port, like `127.0.0.1:8080` or `[::1]:8080`"
                ),
            );
            None
        }
    }
}

fn listeners(
    n: &Node<'_>,
    base_dir: &Path,
    errors: &mut Errors,
) -> Vec<(Listener, Option<super::tls::ListenerTlsSpec>)> {
    let mut out: Vec<(Listener, Option<super::tls::ListenerTlsSpec>)> = Vec::new();
    let Some(items) = n.arr(errors) else {
        return out;
    };
    if items.is_empty() {
        n.err(errors, "at least one listener is needed");
    }
    for item in items {
        let Some(mut obj) = item.obj(errors) else {
            continue;
        };
        let address = obj
            .req("address", errors)
            .and_then(|a| socket_addr(&a, errors));
        let tls = obj
            .opt_non_null("tls")
            .and_then(|t| super::tls::listener_tls(&t, base_dir, errors));
        if let Some(address) = address {
            if out.iter().any(|(l, _)| l.address == address) {
                item.err(errors, format!("duplicate listener address `{address}`"));
            }
            out.push((Listener { address, tls: None }, tls));
        }
        obj.finish(errors);
    }
    out
}

fn admin(n: &Node<'_>, env: Env<'_>, errors: &mut Errors) -> Option<Admin> {
    if n.v.is_null() {
        return None;
    }
    let mut obj = n.obj(errors)?;
    let mut address: SocketAddr = DEFAULT_ADMIN_ADDRESS.parse().expect("default address");
    if let Some(a) = obj.opt("address") {
        address = socket_addr(&a, errors).unwrap_or(address);
    }
    let token_node = obj.opt("token");
    let env_node = obj.opt("tokenEnv");
    let mut token = None;
    match (&token_node, &env_node) {
        (Some(_), Some(_)) => n.err(errors, "give `token` or `tokenEnv`, not both"),
        (Some(t), None) => token = t.str(errors).map(str::to_string),
        (None, Some(e)) => {
            if let Some(name) = e.str(errors) {
                match env(name).filter(|v| !v.is_empty()) {
                    Some(v) => token = Some(v),
                    None => e.err(errors, format!("environment variable `{name}` is not set")),
                }
            }
        }
        (None, None) => {}
    }
    if let Some(t) = &token
        && (t.is_empty() || t.bytes().any(|b| !(0x21..0x7f).contains(&b)))
    {
        n.err(
            errors,
            "the admin token must be non-empty printable ASCII without spaces",
        );
    }
    if token.is_none() && token_node.is_none() && env_node.is_none() && !address.ip().is_loopback()
    {
        n.err(
            errors,
            format!("admin address `{address}` is not loopback: set `token` or `tokenEnv`"),
        );
    }
    obj.finish(errors);
    Some(Admin { address, token })
}

fn io_driver(n: &Node<'_>, errors: &mut Errors) -> Option<IoDriver> {
    let s = n.str(errors)?;
    let d = match s {
        "uring" => IoDriver::Uring,
        "uring-coop" => IoDriver::UringCoop,
        "uring-defer-taskrun" => IoDriver::UringDeferTaskrun,
        "legacy" => IoDriver::Legacy,
        _ => {
            n.err(errors, format!("unknown ioDriver `{s}`: expected `uring`, `uring-coop`, `uring-defer-taskrun` or `legacy`"));
            return None;
        }
    };
    Some(d)
}

fn cpu_affinity(n: &Node<'_>, errors: &mut Errors) -> Option<CpuAffinity> {
    match n.str(errors)? {
        "none" => Some(CpuAffinity::None),
        "workers" => Some(CpuAffinity::Workers),
        s => {
            n.err(
                errors,
                format!("unknown cpuAffinity `{s}`: expected `none` or `workers`"),
            );
            None
        }
    }
}

fn limits(n: &Node<'_>, l: &mut ServerLimits, errors: &mut Errors) {
    let Some(mut obj) = n.obj(errors) else { return };
    let mut size = |obj: &mut Obj<'_>, key: &str, max: u64, out: &mut usize| {
        if let Some(v) = obj.opt(key).and_then(|n| n.u64_in(errors, 1, max)) {
            *out = v as usize;
        }
    };
    size(
        &mut obj,
        "maxHeaders",
        MAX_MAX_HEADERS,
        &mut l.http.max_headers,
    );
    size(
        &mut obj,
        "maxHeaderLineBytes",
        MAX_HEAD_LIMIT_BYTES,
        &mut l.http.max_header_line,
    );
    size(
        &mut obj,
        "maxHeadBytes",
        MAX_HEAD_LIMIT_BYTES,
        &mut l.http.max_head_bytes,
    );
    size(
        &mut obj,
        "maxTargetBytes",
        MAX_HEAD_LIMIT_BYTES,
        &mut l.http.max_target,
    );
    size(
        &mut obj,
        "maxChunkExtensionBytes",
        MAX_HEAD_LIMIT_BYTES,
        &mut l.http.max_chunk_ext,
    );
    size(
        &mut obj,
        "maxTrailerBytes",
        MAX_HEAD_LIMIT_BYTES,
        &mut l.http.max_trailer_bytes,
    );
    size(
        &mut obj,
        "maxConnectionsPerWorker",
        MAX_CONNECTIONS_PER_WORKER,
        &mut l.max_connections_per_worker,
    );
    // 0 is meaningful here: no idle upstream connections are kept.
    if let Some(v) = obj
        .opt("upstreamIdlePerHost")
        .and_then(|n| n.u64_in(errors, 0, MAX_UPSTREAM_IDLE_PER_HOST))
    {
        l.upstream_idle_per_host = v as usize;
    }
    if let Some(v) = obj
        .opt("maxBodyBytes")
        .and_then(|n| n.u64_in(errors, 1, MAX_BODY_LIMIT_BYTES))
    {
        l.max_body_bytes = v;
    }
    let mut time = |obj: &mut Obj<'_>, key: &str, out: &mut Duration| {
        if let Some(v) = obj
            .opt(key)
            .and_then(|n| n.u64_in(errors, 1, MAX_TIMEOUT_MS))
        {
            *out = Duration::from_millis(v);
        }
    };
    time(&mut obj, "headerTimeoutMs", &mut l.header_timeout);
    time(&mut obj, "bodyTimeoutMs", &mut l.body_timeout);
    time(&mut obj, "idleTimeoutMs", &mut l.idle_timeout);
    time(&mut obj, "sendTimeoutMs", &mut l.send_timeout);
    time(&mut obj, "drainTimeoutMs", &mut l.drain_timeout);
    time(
        &mut obj,
        "upstreamIdleTimeoutMs",
        &mut l.upstream_idle_timeout,
    );
    let head = l.http.max_head_bytes;
    for (name, v) in [
        ("maxHeaderLineBytes", l.http.max_header_line),
        ("maxTargetBytes", l.http.max_target),
    ] {
        if v > head {
            n.err(
                errors,
                format!("`{name}` ({v}) is larger than `maxHeadBytes` ({head})"),
            );
        }
    }
    obj.finish(errors);
}

fn cidr(n: &Node<'_>, errors: &mut Errors) -> Option<Cidr> {
    let s = n.str(errors)?;
    parse_cidr(s).map_err(|e| n.err(errors, e)).ok()
}

fn default_api_spec(n: &Node<'_>, errors: &mut Errors) -> Option<DefaultApiSpec> {
    if n.v.is_null() {
        return None;
    }
    let mut obj = n.obj(errors)?;
    let api = obj.req("apiId", errors);
    let stage = obj.opt_non_null("stage");
    obj.finish(errors);
    let api = api?;
    let api_id = api.str(errors)?.to_string();
    let stage = match stage {
        Some(s) => Some((s.str(errors)?.to_string(), s.loc())),
        None => None,
    };
    Some(DefaultApiSpec {
        api_id,
        api_loc: api.loc(),
        stage,
    })
}
