//! Throttle shapes shared by the account, stages and usage plans: `{rateLimit, burstLimit}`
//! (ThrottleSettings), stage `methodSettings` (REST, keys `{resourcePath}/{httpMethod}` with
//! `*` wildcards) and `defaultRouteSettings`/`routeSettings` (HTTP APIs, route keys).

use super::super::cache::{CachePartial, read_cache_fields};
use super::super::defaults::MAX_BURST_LIMIT;
use super::super::exec_log::{ExecLevel, ExecPartial};
use super::super::openapi::RouteSpec;
use super::super::reader::{Errors, Node, Obj};
use super::super::{Protocol, Route};

/// A throttle as written. A field left out takes the account's value at compile (as API
/// Gateway fills an unset stage rate with the account's 10,000).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct ThrottlePartial {
    pub rate: Option<f64>,
    pub burst: Option<u64>,
}

impl ThrottlePartial {
    /// `self`'s fields, each falling back to `other`'s.
    pub fn or(self, other: ThrottlePartial) -> ThrottlePartial {
        ThrottlePartial {
            rate: self.rate.or(other.rate),
            burst: self.burst.or(other.burst),
        }
    }
}

/// A steady rate: a number ≥ 0 (a Double in API Gateway's model).
pub(crate) fn rate(n: &Node<'_>, errors: &mut Errors) -> Option<f64> {
    match n.v.as_f64() {
        Some(r) if r >= 0.0 && r.is_finite() => Some(r),
        Some(r) => {
            n.err(errors, format!("a rate limit is a number ≥ 0, found {r}"));
            None
        }
        None => {
            n.err(
                errors,
                format!("expected a number of requests per second, found {}", n.v),
            );
            None
        }
    }
}

/// A burst: an integer ≥ 0.
pub(crate) fn burst(n: &Node<'_>, errors: &mut Errors) -> Option<u64> {
    n.u64_in(errors, 0, MAX_BURST_LIMIT)
}

/// `{rateLimit, burstLimit}` (API Gateway's ThrottleSettings).
pub(crate) fn throttle_settings(n: &Node<'_>, errors: &mut Errors) -> Option<ThrottlePartial> {
    let mut obj = n.obj(errors)?;
    let rate = obj.opt_non_null("rateLimit").and_then(|r| rate(&r, errors));
    let burst = obj
        .opt_non_null("burstLimit")
        .and_then(|b| burst(&b, errors));
    obj.finish(errors);
    Some(ThrottlePartial { rate, burst })
}

/// A REST method key: `None` is the `*` wildcard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MethodKey {
    pub path: Option<String>,
    pub method: Option<String>,
}

const METHODS: [&str; 8] = [
    "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY",
];

impl MethodKey {
    /// `/pets/GET`, `/pets/{id}/*`, `*/GET`, `*/*`, `//GET` (the root), or the same keys as
    /// `GetStage` returns them, with the resource path JSON-Pointer escaped: `~1pets/GET`.
    pub fn parse(key: &str) -> Result<MethodKey, String> {
        let unescaped;
        let k = if key.starts_with("~1") {
            unescaped = key.replace("~1", "/").replace("~0", "~");
            unescaped.as_str()
        } else {
            key
        };
        let bad = || {
            format!(
                "method key `{key}` must be `{{resourcePath}}/{{httpMethod}}` (`/pets/GET`), with `*` for all (`*/*`)"
            )
        };
        let (res, method) = k.rsplit_once('/').ok_or_else(bad)?;
        let path = match res {
            "*" => None,
            "" => Some("/".to_string()),
            r if r.starts_with('/') => Some(r.to_string()),
            _ => return Err(bad()),
        };
        let method = match method {
            "*" => None,
            m if METHODS.contains(&m) => Some(m.to_string()),
            m if METHODS.contains(&m.to_ascii_uppercase().as_str()) => {
                return Err(format!(
                    "method key `{key}`: write the method in upper case (`{}`)",
                    m.to_ascii_uppercase()
                ));
            }
            _ => return Err(bad()),
        };
        Ok(MethodKey { path, method })
    }

    /// Higher is more specific: a named resource outranks a named method.
    pub fn rank(&self) -> u8 {
        u8::from(self.path.is_some()) * 2 + u8::from(self.method.is_some())
    }

    pub fn matches(&self, route: &Route) -> bool {
        let path_ok = self.path.as_deref().is_none_or(|p| p == route.path);
        let method_ok = match (&self.method, &route.method) {
            (None, _) => true,
            (Some(m), None) => m == "ANY",
            (Some(m), Some(r)) => m.as_bytes() == &r[..],
        };
        path_ok && method_ok
    }
}

/// A stage's throttle settings as read, before they meet the routes.
#[derive(Default)]
pub(crate) struct StageSettings<'a> {
    /// REST `methodSettings` entries.
    pub methods: Vec<(MethodKey, ThrottlePartial, Node<'a>)>,
    /// The caching fields of each REST `methodSettings` entry.
    pub cache: Vec<(MethodKey, CachePartial)>,
    /// The execution logging fields of each REST `methodSettings` entry.
    pub logging: Vec<(MethodKey, ExecPartial)>,
    /// Execution logging of HTTP API `defaultRouteSettings` and of `routeSettings` entries.
    pub default_route_log: ExecPartial,
    pub routes_log: Vec<(String, ExecPartial)>,
    /// HTTP API `defaultRouteSettings`.
    pub default_route: Option<ThrottlePartial>,
    /// HTTP API `routeSettings` entries.
    pub routes: Vec<(String, ThrottlePartial, Node<'a>)>,
}

/// Read `methodSettings`, `defaultRouteSettings` and `routeSettings` of a stage object.
pub(crate) fn read_stage_settings<'a>(obj: &mut Obj<'a>, errors: &mut Errors) -> StageSettings<'a> {
    let mut out = StageSettings::default();
    if let Some(m) = obj.opt_non_null("methodSettings") {
        for (key, n) in m.entries(errors).unwrap_or_default() {
            let parsed = MethodKey::parse(key);
            let setting = method_setting(&n, false, errors);
            if let (Ok(k), Some((_, c, l))) = (&parsed, &setting)
                && !out.cache.iter().any(|(o, _)| o == k)
            {
                out.cache.push((k.clone(), *c));
                out.logging.push((k.clone(), *l));
            }
            let setting = setting.map(|(t, _, _)| t);
            match parsed {
                Err(e) => n.err(errors, e),
                Ok(k) if out.methods.iter().any(|(o, _, _)| *o == k) => {
                    n.err(errors, format!("method key `{key}` is given twice"))
                }
                Ok(k) => {
                    if let Some(s) = setting {
                        out.methods.push((k, s, n));
                    }
                }
            }
        }
    }
    if let Some(d) = obj.opt_non_null("defaultRouteSettings")
        && let Some((t, _, l)) = method_setting(&d, true, errors)
    {
        out.default_route = Some(t);
        out.default_route_log = l;
    }
    if let Some(r) = obj.opt_non_null("routeSettings") {
        for (key, n) in r.entries(errors).unwrap_or_default() {
            if let Some((s, _, l)) = method_setting(&n, true, errors) {
                out.routes.push((key.to_string(), s, n));
                out.routes_log.push((key.to_string(), l));
            }
        }
    }
    out
}

/// One MethodSetting (REST) or RouteSettings (HTTP API) object. Throttling, (REST) caching
/// and execution logging (`loggingLevel`, `dataTraceEnabled`) are read; the metrics property
/// an exported stage carries is accepted as `false` and reported as not supported yet
/// otherwise.
fn method_setting(
    n: &Node<'_>,
    http: bool,
    errors: &mut Errors,
) -> Option<(ThrottlePartial, CachePartial, ExecPartial)> {
    let mut obj = n.obj(errors)?;
    let rate = obj
        .opt_non_null("throttlingRateLimit")
        .and_then(|r| rate(&r, errors));
    let burst = obj
        .opt_non_null("throttlingBurstLimit")
        .and_then(|b| burst(&b, errors));
    let key = if http {
        "detailedMetricsEnabled"
    } else {
        "metricsEnabled"
    };
    if let Some(f) = obj.opt_non_null(key)
        && f.bool(errors) == Some(true)
    {
        f.err(errors, format!("`{key}: true` is not supported yet"));
    }
    let mut logging = ExecPartial::default();
    if let Some(f) = obj.opt_non_null("dataTraceEnabled") {
        logging.data_trace = f.bool(errors);
    }
    if let Some(l) = obj.opt_non_null("loggingLevel") {
        logging.level = match l.str(errors) {
            None => None,
            Some("OFF") => Some(ExecLevel::Off),
            Some("ERROR") => Some(ExecLevel::Error),
            Some("INFO") => Some(ExecLevel::Info),
            Some(s) => {
                l.err(
                    errors,
                    format!("unknown loggingLevel `{s}`: expected OFF, ERROR or INFO"),
                );
                None
            }
        };
    }
    let cache = if http {
        CachePartial::default()
    } else {
        read_cache_fields(&mut obj, errors)
    };
    obj.finish(errors);
    Some((ThrottlePartial { rate, burst }, cache, logging))
}

/// Per route (indexed like `routes`): the stage throttle that applies, field by field from
/// the most specific setting that gives it; `None` where no setting covers the route. A key
/// that names no route is an error (a typo would otherwise leave a method unthrottled).
pub(crate) fn route_throttles(
    settings: &StageSettings<'_>,
    protocol: Protocol,
    stage_node: &Node<'_>,
    routes: Option<&[RouteSpec]>,
    errors: &mut Errors,
) -> Vec<Option<ThrottlePartial>> {
    // Without routes (the definition did not validate) only the protocol checks run.
    let checked = routes.is_some();
    let routes = routes.unwrap_or_default();
    let mut out: Vec<Option<ThrottlePartial>> = vec![None; routes.len()];
    match protocol {
        Protocol::Rest => {
            if settings.default_route.is_some() || !settings.routes.is_empty() {
                stage_node.err(
                    errors,
                    "`defaultRouteSettings` and `routeSettings` are for HTTP API stages: REST stages use `methodSettings`",
                );
            }
            let mut ranked: Vec<&(MethodKey, ThrottlePartial, Node<'_>)> =
                settings.methods.iter().collect();
            ranked.sort_by_key(|(k, _, _)| std::cmp::Reverse(k.rank()));
            for (key, _, n) in &ranked {
                if checked && key.rank() > 0 && !routes.iter().any(|r| key.matches(&r.route)) {
                    n.err(errors, "this method key matches no route of the API");
                }
            }
            for (slot, r) in out.iter_mut().zip(routes) {
                for (key, t, _) in &ranked {
                    if key.matches(&r.route) {
                        *slot = Some(slot.unwrap_or_default().or(*t));
                    }
                }
            }
        }
        Protocol::Http => {
            if !settings.methods.is_empty() {
                stage_node.err(
                    errors,
                    "`methodSettings` is for REST stages: HTTP API stages use `defaultRouteSettings` and `routeSettings`",
                );
            }
            for (key, _, n) in &settings.routes {
                if checked && !routes.iter().any(|r| r.route.route_key == *key) {
                    n.err(
                        errors,
                        format!("route key `{key}` matches no route of the API (expected e.g. `GET /pets`)"),
                    );
                }
            }
            for (slot, r) in out.iter_mut().zip(routes) {
                let own = settings
                    .routes
                    .iter()
                    .find(|(k, _, _)| *k == r.route.route_key)
                    .map(|(_, t, _)| *t);
                *slot = match (own, settings.default_route) {
                    (None, None) => None,
                    (a, b) => Some(a.unwrap_or_default().or(b.unwrap_or_default())),
                };
            }
        }
    }
    out
}
