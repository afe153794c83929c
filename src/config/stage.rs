//! `stages[]`: AWS Stage shape (`apiId`/`restApiId`, `stageName`, `variables`/`stageVariables`,
//! `description`, `deploymentId`, `tags`, throttling in `methodSettings` (REST) or
//! `defaultRouteSettings`/`routeSettings` (HTTP APIs)), the response cache
//! (`cacheClusterEnabled`, `cacheClusterSize`, caching fields of `methodSettings`; REST),
//! `accessLogSettings` (`access_log.rs`);
//! properties of later features are reported by name.

use super::Protocol;
use super::cache::{CachePartial, StageCacheSpec, route_cache_settings, stage_cache};
use super::gateway::{Declared, api_index};
use super::reader::{Errors, Node};
use super::uri::stage_var_name_ok;
use super::usage::{ThrottlePartial, read_stage_settings, route_throttles};

pub(crate) struct StageEntry {
    pub api: usize,
    pub name: String,
    pub variables: Vec<(String, String)>,
    /// The stage throttle of each route (indexed by `RouteIdx`); empty when the stage sets
    /// none.
    pub throttles: Vec<Option<ThrottlePartial>>,
    /// `cacheClusterEnabled` / `cacheClusterSize` (REST).
    pub cache: StageCacheSpec,
    /// The caching fields of `methodSettings` that apply to each route (indexed by
    /// `RouteIdx`), and whether a key naming the route's method set `cachingEnabled`; empty
    /// when the stage has no cache.
    pub cache_settings: Vec<(CachePartial, bool)>,
    /// `accessLogSettings` (destination as written, compiled format).
    pub access_log: Option<super::access_log::AccessLogSpec>,
    /// Execution logging per route (`loggingLevel`, `dataTraceEnabled`).
    pub exec_log: super::exec_log::StageExecLog,
    /// `tracingEnabled`.
    pub tracing: bool,
}

const STAGE_UNSUPPORTED: [&str; 4] = [
    "canarySettings",
    "throttle",
    "clientCertificateId",
    "webAclArn",
];

pub(crate) fn stage(
    item: &Node<'_>,
    declared: &Declared,
    errors: &mut Errors,
) -> Option<StageEntry> {
    let mut obj = item.obj(errors)?;
    let api_node = obj.alias("apiId", "restApiId", errors);
    if api_node.is_none() {
        item.err(errors, "missing required property `apiId` (or `restApiId`)");
    }
    let name_node = obj.req("stageName", errors);
    let vars_node = obj.alias("variables", "stageVariables", errors);
    for key in ["description", "deploymentId"] {
        if let Some(n) = obj.opt_non_null(key) {
            n.str(errors);
        }
    }
    if let Some(n) = obj.opt_non_null("tags") {
        n.string_map(errors);
    }
    let settings = read_stage_settings(&mut obj, errors);
    let cache_enabled = obj.opt_non_null("cacheClusterEnabled");
    let cache_size = obj.opt_non_null("cacheClusterSize");
    let cache_bytes = obj.opt_non_null("cacheCapacityBytes");
    let access_log = obj
        .opt_non_null("accessLogSettings")
        .and_then(|n| super::access_log::read(&n, errors));
    let tracing = obj
        .opt_non_null("tracingEnabled")
        .and_then(|n| n.bool(errors))
        .unwrap_or(false);
    obj.unsupported(&STAGE_UNSUPPORTED, errors);
    obj.finish(errors);
    let mut variables = Vec::new();
    for (k, v, n) in vars_node
        .and_then(|n| n.string_map(errors))
        .unwrap_or_default()
    {
        if !stage_var_name_ok(k) {
            n.err(
                errors,
                format!("stage variable name `{k}` must match `[A-Za-z0-9_]{{1,64}}`"),
            );
        } else if v.len() > 512
            || !v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#&=,".contains(&b))
        {
            n.err(
                errors,
                "stage variable values are up to 512 characters of `A-Za-z0-9-._~:/?#&=,`",
            );
        } else {
            variables.push((k.to_string(), v.to_string()));
        }
    }
    let api_node = api_node?;
    let api = api_index(declared, api_node.str(errors)?, &api_node.loc(), errors)?;
    let name_node = name_node?;
    let name = name_node.str(errors)?;
    let protocol = declared.apis[api].1;
    let ok = if name == "$default" {
        if protocol != Protocol::Http {
            name_node.err(errors, "the `$default` stage exists only for HTTP APIs");
        }
        true
    } else {
        (1..=128).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if !ok {
        name_node.err(
            errors,
            format!("stage name `{name}` must match `[A-Za-z0-9_-]{{1,128}}`"),
        );
        return None;
    }
    let routes = declared.apis[api].2.as_ref().map(|e| &e.def.routes[..]);
    let cache = stage_cache(cache_enabled, cache_size, cache_bytes, protocol, errors);
    let throttles = route_throttles(&settings, protocol, item, routes, errors);
    let cache_settings = match (cache.capacity_bytes, routes) {
        (Some(_), Some(routes)) => route_cache_settings(&settings.cache, routes),
        _ => Vec::new(),
    };
    let exec_log = super::exec_log::stage_exec_log(&settings, protocol, routes);
    let throttles = if throttles.iter().all(Option::is_none) {
        Vec::new()
    } else {
        throttles
    };
    Some(StageEntry {
        api,
        name: name.to_string(),
        variables,
        throttles,
        cache,
        cache_settings,
        access_log,
        exec_log,
        tracing,
    })
}
