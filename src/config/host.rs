//! Addressing (README.md, "Configuration reference"): Host + path → API, stage and the length of the path prefix
//! that selected them; and the `tollgate routes` table.

use super::*;

/// First non-empty segment of `path`: (start, end).
fn first_segment(path: &[u8]) -> Option<(usize, usize)> {
    let start = path.iter().position(|&b| b != b'/')?;
    let end = path[start..]
        .iter()
        .position(|&b| b == b'/')
        .map_or(path.len(), |i| start + i);
    Some((start, end))
}

/// `{apiId}.execute-api.<anything>` → the API id.
fn execute_api_id(host: &[u8]) -> Option<&[u8]> {
    let dot = host.iter().position(|&b| b == b'.')?;
    host[dot + 1..]
        .starts_with(b"execute-api.")
        .then_some(&host[..dot])
}

/// The stage named by the first path segment (never `$default`, which has no prefix).
fn stage_from_path(s: &Snapshot, api: ApiIdx, path: &[u8]) -> Option<Target> {
    let (start, end) = first_segment(path)?;
    let a = &s.apis[api.0 as usize];
    let stage = *a.stages.get(&path[start..end])?;
    (Some(stage) != a.default_stage).then_some(Target {
        api,
        stage,
        prefix_len: end,
    })
}

/// REST: the first segment is the stage. HTTP APIs: a named stage's prefix, else `$default`.
fn api_target(s: &Snapshot, api: ApiIdx, path: &[u8]) -> Result<Target, NoTarget> {
    if let Some(t) = stage_from_path(s, api, path) {
        return Ok(t);
    }
    match s.apis[api.0 as usize].default_stage {
        Some(stage) => Ok(Target {
            api,
            stage,
            prefix_len: 0,
        }),
        None => Err(NoTarget { api: Some(api) }),
    }
}

/// Does `base` (segments joined by `/`) match the leading whole segments of `path`? Returns
/// the prefix length consumed.
fn base_path_match(base: &[u8], path: &[u8]) -> Option<usize> {
    if base.is_empty() {
        return Some(0);
    }
    let rest = path.strip_prefix(b"/")?;
    let after = rest.strip_prefix(base)?;
    (after.is_empty() || after[0] == b'/').then_some(1 + base.len())
}

pub(crate) fn resolve(s: &Snapshot, host: &[u8], path: &[u8]) -> Result<Target, NoTarget> {
    let hosts = &s.hosts;
    let execute_api = execute_api_id(host);
    if let Some(&api) = execute_api.and_then(|id| hosts.execute_api.get(id)) {
        return api_target(s, api, path);
    }
    let domain = hosts.domains.get(host).copied().or_else(|| {
        hosts
            .wildcard_domains
            .iter()
            .find(|(suffix, _)| host.len() > suffix.len() && host.ends_with(suffix))
            .map(|(_, d)| *d)
    });
    if let Some(d) = domain {
        let d = &hosts.domain_list[d.0 as usize];
        for m in &d.mappings {
            if let Some(prefix_len) = base_path_match(&m.base_path, path) {
                return Ok(Target {
                    api: m.api,
                    stage: m.stage,
                    prefix_len,
                });
            }
        }
        return Err(NoTarget { api: None });
    }
    if execute_api.is_some() {
        return Err(NoTarget { api: None });
    }
    match hosts.default_api {
        Some(DefaultApi {
            api,
            stage: Some(stage),
        }) => Ok(Target {
            api,
            stage,
            prefix_len: 0,
        }),
        Some(DefaultApi { api, stage: None }) => api_target(s, api, path),
        None => Err(NoTarget { api: None }),
    }
}

fn integration_text(s: &Snapshot, route: &Route, integration: &Integration) -> String {
    match integration {
        Integration::Mock(m) => format!("MOCK {}", m.response.status),
        Integration::Lambda(l) => super::lambda_integration::describe(l, &s.functions),
        Integration::HttpProxy(h) => {
            let up = &s.upstreams[h.upstream.0 as usize];
            let method = h
                .method
                .as_deref()
                .map_or("ANY".into(), String::from_utf8_lossy);
            let scheme = if up.scheme == Scheme::Http {
                "http"
            } else {
                "https"
            };
            let mut uri = format!("{scheme}://{}", String::from_utf8_lossy(&up.host_header));
            let piece = |p: &UriPiece| piece_text(route, p);
            h.path.iter().for_each(|p| uri.push_str(&piece(p)));
            if !h.query.is_empty() {
                uri.push('?');
                h.query.iter().for_each(|p| uri.push_str(&piece(p)));
            }
            format!("HTTP_PROXY {method} {uri}")
        }
    }
}

/// How a URI piece reads in `tollgate routes`.
fn piece_text(route: &Route, p: &UriPiece) -> String {
    match p {
        UriPiece::Literal(l) => String::from_utf8_lossy(l).into_owned(),
        UriPiece::Value(v) => match v {
            ParamSource::Static(b) => String::from_utf8_lossy(b).into_owned(),
            ParamSource::Path(i) => format!(
                "{{{}}}",
                route.params.get(*i as usize).map_or("?", |p| p.as_str())
            ),
            ParamSource::QueryString(q) => {
                format!("{{querystring.{}}}", String::from_utf8_lossy(q))
            }
            ParamSource::Header(n) => format!("{{header.{}}}", String::from_utf8_lossy(n)),
            ParamSource::Context(c) => format!("{{context.{c:?}}}"),
            ParamSource::RequestPath => "{request.path}".to_string(),
            ParamSource::Claim(c) => format!("{{context.authorizer.claims.{c}}}"),
            ParamSource::AuthorizerValue(k) => format!("{{context.authorizer.{k}}}"),
            ParamSource::Concat(parts) => parts.iter().map(|p| piece_text(route, p)).collect(),
        },
    }
}

fn rows_for(s: &Snapshot, out: &mut Vec<RouteRow>, host: &str, base_path: &str, stage: StageIdx) {
    let st = &s.stages[stage.0 as usize];
    let api = &s.apis[st.api.0 as usize];
    for (route, integration) in api.routes.iter().zip(&st.integrations) {
        out.push(RouteRow {
            host: host.to_string(),
            base_path: base_path.to_string(),
            stage: st.name.clone(),
            method: route
                .method
                .as_deref()
                .map_or("ANY".into(), |m| String::from_utf8_lossy(m).into_owned()),
            path: route.path.clone(),
            integration: integration_text(s, route, integration),
        });
    }
}

/// Every reachable (host, base path, stage, route): execute-api hosts, custom domains, then
/// the default API (`*`).
pub(crate) fn route_table(s: &Snapshot) -> Vec<RouteRow> {
    let mut out = Vec::new();
    let mut by_api: Vec<(&[u8], ApiIdx)> = s
        .hosts
        .execute_api
        .iter()
        .map(|(k, v)| (&**k, *v))
        .collect();
    by_api.sort_by_key(|(_, a)| a.0);
    let prefixed = |s: &Snapshot, stage: StageIdx| {
        let name = &s.stages[stage.0 as usize].name;
        if name == "$default" {
            String::new()
        } else {
            format!("/{name}")
        }
    };
    for (id, api) in by_api {
        let host = format!("{}.execute-api.*", String::from_utf8_lossy(id));
        let mut stages: Vec<StageIdx> = s.apis[api.0 as usize].stages.values().copied().collect();
        stages.sort_by_key(|st| st.0);
        for stage in stages {
            rows_for(s, &mut out, &host, &prefixed(s, stage), stage);
        }
    }
    for d in &s.hosts.domain_list {
        for m in &d.mappings {
            let base = if m.base_path.is_empty() {
                String::new()
            } else {
                format!("/{}", String::from_utf8_lossy(&m.base_path))
            };
            rows_for(s, &mut out, &d.name, &base, m.stage);
        }
    }
    if let Some(d) = s.hosts.default_api {
        let stages: Vec<StageIdx> = match d.stage {
            Some(st) => vec![st],
            None => {
                let mut v: Vec<StageIdx> =
                    s.apis[d.api.0 as usize].stages.values().copied().collect();
                v.sort_by_key(|st| st.0);
                v
            }
        };
        for stage in stages {
            let base = if d.stage.is_some() {
                String::new()
            } else {
                prefixed(s, stage)
            };
            rows_for(s, &mut out, "*", &base, stage);
        }
    }
    out
}
