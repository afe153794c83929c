//! Execution logs (issue 7): the `loggingLevel` (`OFF`, `ERROR`, `INFO`) and
//! `dataTraceEnabled` of a stage's REST `methodSettings` (`*/*` and per-method keys, the most
//! specific key that gives a field wins, as for throttling) or HTTP API
//! `defaultRouteSettings` / `routeSettings`, resolved per route into `Stage.exec_log`. The
//! lines go to `server.executionLog` (`dataplane/exec_log.rs` renders them).

use super::Protocol;
use super::usage::StageSettings;

/// A stage's `loggingLevel`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExecLevel {
    #[default]
    Off,
    /// Only requests that ended in a gateway error (4xx/5xx gateway response) or a 5xx.
    Error,
    /// Every request.
    Info,
}

/// What one route of a stage logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecLogging {
    pub level: ExecLevel,
    /// `dataTraceEnabled`: the line carries the request's method, path and headers
    /// (credentials redacted).
    pub data_trace: bool,
}

/// The logging fields of one `methodSettings` / route settings entry, as written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ExecPartial {
    pub level: Option<ExecLevel>,
    pub data_trace: Option<bool>,
}

impl ExecPartial {
    /// `self`'s fields, then `other`'s where `self` gives none.
    pub fn or(self, other: ExecPartial) -> ExecPartial {
        ExecPartial {
            level: self.level.or(other.level),
            data_trace: self.data_trace.or(other.data_trace),
        }
    }

    fn resolve(self) -> ExecLogging {
        let level = self.level.unwrap_or_default();
        ExecLogging {
            level,
            // Data tracing rides on a logged line: nothing is written while logging is off.
            data_trace: level != ExecLevel::Off && self.data_trace.unwrap_or(false),
        }
    }
}

/// A stage's execution logging: for requests that matched no route (`default`, REST's `*/*`
/// or HTTP's `defaultRouteSettings`) and per route (indexed by `RouteIdx`; empty when no
/// route logs).
#[derive(Clone, Debug, Default)]
pub struct StageExecLog {
    pub default: ExecLogging,
    pub routes: Box<[ExecLogging]>,
    /// Some request is logged / logged with its data (computed once, asked per request).
    logs: bool,
    traces_data: bool,
}

impl StageExecLog {
    pub fn for_route(&self, route: Option<super::RouteIdx>) -> ExecLogging {
        route
            .and_then(|r| self.routes.get(r.0 as usize))
            .copied()
            .unwrap_or(self.default)
    }

    /// Some request of the stage is logged with its data.
    pub fn data_trace(&self) -> bool {
        self.traces_data
    }

    /// Some request of the stage is logged.
    pub fn any(&self) -> bool {
        self.logs
    }
}

/// Resolve a stage's settings against its API's routes (`None`: the definition did not
/// validate; then only the default is kept).
pub(crate) fn stage_exec_log(
    settings: &StageSettings<'_>,
    protocol: Protocol,
    routes: Option<&[super::openapi::RouteSpec]>,
) -> StageExecLog {
    let (default, routes): (ExecPartial, Vec<ExecPartial>) = match protocol {
        Protocol::Rest => {
            let mut ranked: Vec<_> = settings.logging.iter().collect();
            ranked.sort_by_key(|(k, _)| std::cmp::Reverse(k.rank()));
            let default = ranked
                .iter()
                .filter(|(k, _)| k.rank() == 0)
                .fold(ExecPartial::default(), |acc, (_, p)| acc.or(*p));
            let per_route = routes
                .unwrap_or_default()
                .iter()
                .map(|r| {
                    ranked
                        .iter()
                        .filter(|(k, _)| k.matches(&r.route))
                        .fold(ExecPartial::default(), |acc, (_, p)| acc.or(*p))
                })
                .collect();
            (default, per_route)
        }
        Protocol::Http => {
            let default = settings.default_route_log;
            let per_route = routes
                .unwrap_or_default()
                .iter()
                .map(|r| {
                    settings
                        .routes_log
                        .iter()
                        .find(|(k, _)| *k == r.route.route_key)
                        .map_or(ExecPartial::default(), |(_, p)| *p)
                        .or(default)
                })
                .collect();
            (default, per_route)
        }
    };
    let default = default.resolve();
    let routes: Box<[ExecLogging]> = routes.into_iter().map(ExecPartial::resolve).collect();
    let all = || std::iter::once(&default).chain(routes.iter());
    let logs = all().any(|r| r.level != ExecLevel::Off);
    let traces_data = all().any(|r| r.data_trace);
    if !logs {
        return StageExecLog::default();
    }
    StageExecLog {
        default,
        routes,
        logs,
        traces_data,
    }
}
