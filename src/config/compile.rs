//! Step three: validated specs → one immutable `Snapshot`. Per stage, integration URIs get
//! the stage's variables substituted and parsed into an interned upstream and path/query
//! pieces; gateway responses and mocks are rendered; the host table is built.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use hashbrown::HashMap;

use super::cache::{Fnv, compile_stage_cache};
use super::gateway::{ApiEntry, GatewaySpec, StageEntry};
use super::integration::{HttpProxySpec, IntegrationSpec, SourceSpec, TargetSpec};
use super::mock::MockSpec;
use super::reader::{Errors, Loc};
use super::responses::{render, render_responses};
use super::uri::{Piece, instantiate};
use super::usage::{Limits, compile_usage, method_identity};
use super::*;

/// Stable upstream identity across reloads (FNV-1a over scheme, host and port, and for https
/// the fingerprint of the TLS settings).
fn upstream_key(scheme: Scheme, host: &str, port: u16, tls: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let scheme_byte = [scheme as u8];
    for b in scheme_byte
        .iter()
        .chain(host.as_bytes())
        .chain(&port.to_be_bytes())
        .chain(&tls.to_be_bytes())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

struct Upstreams {
    list: Vec<Upstream>,
    /// (scheme, host, port, `tlsConfig.insecureSkipVerification`).
    index: HashMap<(u8, String, u16, bool), UpstreamIdx>,
    /// What `https://` upstreams connect with.
    tls: Option<Arc<UpstreamTls>>,
}

impl Upstreams {
    /// The upstream for `scheme://host:port`; `skip_verify`: the integration's
    /// `tlsConfig.insecureSkipVerification` (its own pool: never a verified connection's).
    fn intern(
        &mut self,
        scheme: Scheme,
        host: &str,
        port: u16,
        skip_verify: bool,
    ) -> Result<UpstreamIdx, String> {
        let skip_verify = skip_verify && scheme == Scheme::Https;
        let index_key = (scheme as u8, host.to_string(), port, skip_verify);
        if let Some(&i) = self.index.get(&index_key) {
            return Ok(i);
        }
        let config = self.tls.as_ref().and_then(|t| {
            if skip_verify {
                Some(t.insecure.clone())
            } else {
                t.config.clone()
            }
        });
        let tls = match (scheme, config) {
            (Scheme::Http, _) => None,
            (Scheme::Https, Some(config)) => {
                let server_name = super::upstream_tls::server_name(host).ok_or_else(|| {
                    format!("`{host}` is not a name a certificate can be verified for")
                })?;
                Some(TlsTarget {
                    config,
                    server_name,
                })
            }
            (Scheme::Https, None) => {
                return Err(format!(
                    "an https:// integration needs CA certificates: set `server.upstreamTls.caBundle` (no usable system bundle in {})",
                    SYSTEM_CA_BUNDLES.join(", ")
                ));
            }
        };
        let fingerprint = match (&tls, &self.tls) {
            (Some(_), Some(t)) => t.fingerprint ^ u64::from(skip_verify),
            _ => 0,
        };
        let idx = UpstreamIdx(self.list.len() as u32);
        let default_port = if scheme == Scheme::Http { 80 } else { 443 };
        let host_header = match (host.contains(':'), port == default_port) {
            (true, true) => format!("[{host}]"),
            (true, false) => format!("[{host}]:{port}"),
            (false, true) => host.to_string(),
            (false, false) => format!("{host}:{port}"),
        };
        // No DNS here: names stay unresolved for the control plane's resolver.
        let addrs = host
            .parse::<IpAddr>()
            .map(|ip| vec![SocketAddr::new(ip, port)])
            .unwrap_or_default();
        self.list.push(Upstream {
            scheme,
            host: host.to_string(),
            port,
            host_header: host_header.into_bytes().into(),
            addrs: ArcSwap::from_pointee(addrs),
            key: upstream_key(scheme, host, port, fingerprint),
            tls,
        });
        self.index.insert(index_key, idx);
        Ok(idx)
    }
}

impl Upstreams {
    /// The function host's Invoke API (`FunctionTarget::Local`): `127.0.0.1:0` with no
    /// address until the control plane fills in the host's (never resolved: an IP literal),
    /// outside the index so no `url` shares it, `Host: localhost`.
    fn function_host(&mut self) -> UpstreamIdx {
        let idx = UpstreamIdx(self.list.len() as u32);
        self.list.push(Upstream {
            scheme: Scheme::Http,
            host: "127.0.0.1".into(),
            port: 0,
            host_header: (*b"localhost").into(),
            addrs: ArcSwap::from_pointee(Vec::new()),
            key: upstream_key(Scheme::Http, "tollgate-function-host", 0, 0),
            tls: None,
        });
        idx
    }
}

pub(crate) fn compile(
    spec: GatewaySpec,
    source: PathBuf,
    generation: u64,
) -> Result<Snapshot, Errors> {
    let GatewaySpec {
        server,
        default_api,
        apis: api_entries,
        stages: stage_entries,
        domains: domain_entries,
        usage,
        authorizers: auth_overrides,
        iam,
        functions: function_specs,
    } = spec;
    let (authorizers, first_authorizer) =
        super::authorizers::compile_authorizers(&api_entries, &auth_overrides);
    let mut limits = Limits::new(usage.account);
    let mut errors = Errors::new();
    let mut upstreams = Upstreams {
        list: Vec::new(),
        index: HashMap::new(),
        tls: server.upstream_tls.clone(),
    };
    let mut apis: Vec<Api> = api_entries.iter().map(api_shell).collect();
    let mut stages = Vec::with_capacity(stage_entries.len());
    let mut log_destinations: Vec<std::sync::Arc<super::LogDestination>> = Vec::new();
    for (i, s) in stage_entries.iter().enumerate() {
        let api = &mut apis[s.api];
        let idx = StageIdx(i as u32);
        api.stages.insert(s.name.as_bytes().into(), idx);
        if s.name == "$default" {
            api.default_stage = Some(idx);
        }
        let mut stage = compile_stage(
            s,
            &api_entries[s.api],
            api,
            &mut upstreams,
            &mut limits,
            &function_specs,
            &mut errors,
        );
        stage.exec_log = s.exec_log.clone();
        stage.tracing = s.tracing;
        stage.access_log = s.access_log.as_ref().map(|spec| {
            let dest = super::access_log::destination(&spec.destination, &source);
            let idx = match log_destinations.iter().position(|d| **d == dest) {
                Some(i) => i,
                None => {
                    log_destinations.push(std::sync::Arc::new(dest));
                    log_destinations.len() - 1
                }
            };
            super::AccessLog {
                destination: idx as u32,
                format: spec.format.clone(),
                needs_trace: spec
                    .format
                    .contains(&super::LogPiece::Var(super::LogVar::TraceId)),
                needs_authorizer: spec.format.iter().any(|p| {
                    matches!(
                        p,
                        super::LogPiece::Var(
                            super::LogVar::AuthorizerPrincipalId
                                | super::LogVar::AuthorizerClaim(_)
                                | super::LogVar::AuthorizerValue(_)
                        )
                    )
                }),
            }
        });
        stages.push(stage);
    }
    let tracing = stages.iter().any(|s| s.tracing);
    let spans = (tracing && server.otlp.is_some()).then(|| {
        log_destinations.push(std::sync::Arc::new(super::LogDestination::Spans));
        (log_destinations.len() - 1) as u32
    });
    let execution_log = stages.iter().any(|s| s.exec_log.any()).then(|| {
        let dest = &server.execution_log;
        match log_destinations.iter().position(|d| **d == *dest) {
            Some(i) => i as u32,
            None => {
                log_destinations.push(std::sync::Arc::new(dest.clone()));
                (log_destinations.len() - 1) as u32
            }
        }
    });
    let function_host = function_specs
        .iter()
        .any(|f| f.local.is_some())
        .then(|| upstreams.function_host());
    let lambda = super::functions::compile_lambda(
        &api_entries,
        &stage_entries,
        &function_specs,
        function_host,
        &mut |scheme, host, port| upstreams.intern(scheme, host, port, false),
        &mut errors,
    );
    let mut execute_api = HashMap::new();
    for (i, a) in api_entries.iter().enumerate() {
        if !a.def.disable_execute_api {
            execute_api.insert(a.id.as_bytes().into(), ApiIdx(i as u32));
        }
    }
    let mut domains = HashMap::new();
    let mut wildcard_domains = Vec::new();
    let mut domain_list = Vec::new();
    for (i, d) in domain_entries.into_iter().enumerate() {
        let idx = DomainIdx(i as u32);
        match d.name.strip_prefix('*') {
            Some(suffix) => wildcard_domains.push((suffix.as_bytes().into(), idx)),
            None => {
                domains.insert(d.name.as_bytes().into(), idx);
            }
        }
        let mut mappings: Vec<BasePathMapping> = d
            .mappings
            .into_iter()
            .map(|m| BasePathMapping {
                base_path: m.base_path.into_bytes().into(),
                api: ApiIdx(m.api as u32),
                stage: StageIdx(m.stage as u32),
            })
            .collect();
        let segments = |m: &BasePathMapping| {
            if m.base_path.is_empty() {
                0
            } else {
                m.base_path.split(|&b| b == b'/').count()
            }
        };
        mappings.sort_by_key(|m| std::cmp::Reverse(segments(m)));
        domain_list.push(Domain {
            name: d.name,
            mappings,
        });
    }
    wildcard_domains.sort_by_key(|(s, _): &(Box<[u8]>, DomainIdx)| std::cmp::Reverse(s.len()));
    let hosts = HostTable {
        execute_api,
        domains,
        wildcard_domains,
        domain_list,
        default_api: default_api.map(|(a, s)| DefaultApi {
            api: ApiIdx(a as u32),
            stage: s.map(|s| StageIdx(s as u32)),
        }),
    };
    let warnings = usage.warnings.clone();
    let usage = compile_usage(limits, usage, &api_entries, &stage_entries);
    // Routes and routers move out of the specs last: the stages above borrowed them.
    for (((api, entry), first), first_lambda) in apis
        .iter_mut()
        .zip(api_entries)
        .zip(first_authorizer)
        .zip(lambda.first)
    {
        api.router = entry.def.router;
        api.routes = entry
            .def
            .routes
            .into_iter()
            .map(|r| Route {
                auth: super::authorizers::route_auth(first, &r.authorizer),
                lambda: super::functions::route_lambda(first_lambda, r.lambda),
                ..r.route
            })
            .collect();
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut warnings = warnings;
    warnings.extend(shared_proxy_entries(&source, &apis, &stages));
    if spans.is_none()
        && let Some(i) = stages.iter().position(|s| s.tracing)
    {
        warnings.push(super::ConfigError {
            file: source.to_path_buf(),
            path: format!("$.stages[{i}].tracingEnabled"),
            message: "no span is exported without `server.otlp.endpoint` (trace headers are sent either way)".into(),
        });
    }
    Ok(Snapshot {
        generation,
        source,
        server,
        apis,
        stages,
        upstreams: upstreams.list,
        hosts,
        edge_responses: render_responses(Protocol::Rest, &Default::default()),
        usage,
        authorizers,
        iam,
        lambda_authorizers: lambda.authorizers,
        functions: lambda.functions,
        execution_log,
        spans,
        log_destinations,
        warnings,
    })
}

/// An API without its routes and router (moved in at the end) and stages (filled by the
/// caller).
fn api_shell(a: &ApiEntry) -> Api {
    Api {
        id: a.id.clone(),
        name: a
            .name
            .clone()
            .or_else(|| a.def.title.clone())
            .unwrap_or_else(|| a.id.clone()),
        protocol: a.protocol,
        endpoint_type: a.endpoint,
        router: super::router::RouterBuilder::new(a.protocol).build(),
        routes: Vec::new(),
        stages: HashMap::new(),
        default_stage: None,
        responses: render_responses(a.protocol, &a.def.responses),
        api_key_source: a.def.api_key_source,
        resource_policy: a.def.policy.as_ref().and_then(|p| p.policy.clone()),
        binary_media_types: a
            .def
            .binary_media_types
            .iter()
            .map(|t| t.as_str().into())
            .collect(),
    }
}

fn compile_stage(
    s: &StageEntry,
    entry: &ApiEntry,
    api: &Api,
    ups: &mut Upstreams,
    limits: &mut Limits,
    functions: &[super::functions::FunctionSpec],
    errors: &mut Errors,
) -> Stage {
    let mut integrations = Vec::with_capacity(entry.def.routes.len());
    let mut routes = Vec::with_capacity(entry.def.routes.len());
    for (i, r) in entry.def.routes.iter().enumerate() {
        let throttle = s
            .throttles
            .get(i)
            .copied()
            .flatten()
            .map(|t| limits.add(method_identity(entry, s, i), t));
        routes.push(StageRoute {
            api_key_required: r.api_key_required,
            throttle,
        });
        let integration = match &r.integration {
            IntegrationSpec::Mock(m) => Integration::Mock(mock(m, api)),
            IntegrationSpec::HttpProxy(h) => match http_proxy(h, s, ups, errors) {
                Some(p) => Integration::HttpProxy(p),
                None => Integration::Mock(mock(&MockSpec::default(), api)),
            },
            IntegrationSpec::Lambda(l) => Integration::Lambda(
                super::lambda_integration::compile_lambda_integration(l, s, functions),
            ),
        };
        integrations.push(integration);
    }
    // A route's integration on this stage: its definition and the stage variables
    // substituted into it.
    let integration_ids: Vec<u64> = entry
        .def
        .routes
        .iter()
        .map(|r| {
            let mut h = Fnv::new();
            h.u64(r.integration_id);
            for (k, v) in &s.variables {
                h.str(k);
                h.str(v);
            }
            h.finish()
        })
        .collect();
    let cache = compile_stage_cache(
        s.cache,
        format!("cache:{}/{}", entry.id, s.name),
        &s.cache_settings,
        &entry.def.routes,
        &integration_ids,
    );
    Stage {
        api: ApiIdx(s.api as u32),
        name: s.name.clone(),
        variables: s.variables.clone(),
        integrations,
        routes,
        cache,
        access_log: None,
        exec_log: Default::default(),
        tracing: false,
    }
}

fn mock(m: &MockSpec, api: &Api) -> Mock {
    match &m.response {
        Some(r) => Mock {
            response: render(r.status, &r.content_type, &r.headers, r.body.as_bytes()),
        },
        // No integration response for the status: API Gateway's 500 "Internal server error".
        None => Mock {
            response: api.responses.get(ErrorKind::InternalError).clone(),
        },
    }
}

fn http_proxy(
    h: &HttpProxySpec,
    s: &StageEntry,
    ups: &mut Upstreams,
    errors: &mut Errors,
) -> Option<HttpProxy> {
    // Exhaustive, so a new spec field cannot be silently ignored here.
    let HttpProxySpec {
        uri,
        uri_loc,
        method,
        request_parameters: mappings,
        uri_params,
        timeout,
        append_request_path,
        skip_verify,
    } = h;
    let var = |name: &str| {
        s.variables
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let parsed = match instantiate(uri, &var) {
        Ok(p) => p,
        Err(e) => {
            uri_loc.err(errors, format!("stage `{}`: {e}", s.name));
            return None;
        }
    };
    let mut ok = true;
    let mut resolve =
        |source: &SourceSpec, loc: &Loc, errors: &mut Errors| -> Option<ParamSource> {
            resolve_source(source, &var, &s.name, loc, errors).or_else(|| {
                ok = false;
                None
            })
        };
    let mut pieces = |list: &[Piece], errors: &mut Errors| -> Vec<UriPiece> {
        let mut out = Vec::with_capacity(list.len());
        for p in list {
            match p {
                Piece::Lit(l) => out.push(UriPiece::Literal(l.as_bytes().into())),
                Piece::Param(name) => {
                    let source = uri_params.iter().find(|(n, _)| n == name).map(|(_, s)| s);
                    if let Some(v) = source.and_then(|src| resolve(src, uri_loc, errors)) {
                        out.push(UriPiece::Value(v));
                    }
                }
            }
        }
        out
    };
    let mut path = pieces(&parsed.path, errors);
    let query = pieces(&parsed.query, errors);
    // HTTP API `$default` route: the whole request path follows the URI's own path.
    if *append_request_path {
        if let Some(UriPiece::Literal(l)) = path.last_mut()
            && l.ends_with(b"/")
        {
            *l = l[..l.len() - 1].into();
        }
        path.push(UriPiece::Value(ParamSource::RequestPath));
    }
    let mut request_parameters = Vec::with_capacity(mappings.len());
    for (target, source, loc) in mappings {
        let bytes = |n: &String| -> Box<[u8]> { n.as_bytes().into() };
        let target = match target {
            TargetSpec::Header(n) => ParamTarget::Header(bytes(n)),
            TargetSpec::QueryString(n) => ParamTarget::QueryString(bytes(n)),
            TargetSpec::AppendHeader(n) => ParamTarget::AppendHeader(bytes(n)),
            TargetSpec::RemoveHeader(n) => ParamTarget::RemoveHeader(bytes(n)),
            TargetSpec::OverwriteQueryString(n) => ParamTarget::OverwriteQueryString(bytes(n)),
            TargetSpec::RemoveQueryString(n) => ParamTarget::RemoveQueryString(bytes(n)),
            TargetSpec::OverwritePath => {
                if let Some(source) = resolve(source, loc, errors) {
                    path = vec![UriPiece::Value(source)];
                }
                continue;
            }
            TargetSpec::Path(_) => continue,
        };
        if let Some(source) = resolve(source, loc, errors) {
            request_parameters.push(ParamMapping { target, source });
        }
    }
    if !ok {
        return None;
    }
    let upstream = match ups.intern(parsed.scheme, &parsed.host, parsed.port, *skip_verify) {
        Ok(i) => i,
        Err(e) => {
            uri_loc.err(errors, format!("stage `{}`: {e}", s.name));
            return None;
        }
    };
    Some(HttpProxy {
        upstream,
        method: method.as_ref().map(|m| m.as_bytes().into()),
        path,
        query,
        request_parameters,
        timeout: *timeout,
    })
}

/// A mapping source for one stage: stage variables become static values.
fn resolve_source(
    source: &SourceSpec,
    var: &dyn Fn(&str) -> Option<String>,
    stage: &str,
    loc: &Loc,
    errors: &mut Errors,
) -> Option<ParamSource> {
    Some(match source {
        SourceSpec::Static(v) => ParamSource::Static(v.as_bytes().into()),
        SourceSpec::Path(i) => ParamSource::Path(*i),
        SourceSpec::QueryString(q) => ParamSource::QueryString(q.as_bytes().into()),
        SourceSpec::Header(n) => ParamSource::Header(n.as_bytes().into()),
        SourceSpec::Context(c) => ParamSource::Context(*c),
        SourceSpec::RequestPath => ParamSource::RequestPath,
        SourceSpec::Claim(name) => ParamSource::Claim(name.as_str().into()),
        SourceSpec::AuthorizerValue(key) => ParamSource::AuthorizerValue(key.as_str().into()),
        SourceSpec::StageVar(name) => match var(name) {
            Some(v) => ParamSource::Static(v.into_bytes().into()),
            None => {
                loc.err(
                    errors,
                    format!("stage `{stage}`: stage variable `{name}` is not defined"),
                );
                return None;
            }
        },
        SourceSpec::Concat(parts) => {
            let mut pieces = Vec::with_capacity(parts.len());
            for part in parts {
                pieces.push(match resolve_source(part, var, stage, loc, errors)? {
                    ParamSource::Static(text) => UriPiece::Literal(text),
                    other => UriPiece::Value(other),
                });
            }
            ParamSource::Concat(pieces)
        }
    })
}

/// A cached `{proxy+}` route whose key does not list `method.request.path.proxy` answers
/// every path under it with one entry, as on API Gateway (whose console adds the parameter
/// for you): legal, and almost never meant, so it is said at load.
fn shared_proxy_entries(
    source: &std::path::Path,
    apis: &[Api],
    stages: &[Stage],
) -> Vec<super::ConfigError> {
    let mut out = Vec::new();
    for (i, stage) in stages.iter().enumerate() {
        let Some(policy) = &stage.cache else { continue };
        let routes = &apis[stage.api.0 as usize].routes;
        for (route, rc) in routes.iter().zip(&policy.routes) {
            let Some(rc) = rc else { continue };
            let Some(greedy) = route
                .path
                .split('/')
                .find_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix("+}")))
            else {
                continue;
            };
            let keyed = rc
                .key_params
                .iter()
                .any(|(k, n)| *k == super::ParamKind::Path && &**n == greedy);
            if !keyed {
                out.push(super::ConfigError {
                    file: source.to_path_buf(),
                    path: format!("$.stages[{i}].cacheClusterEnabled"),
                    message: format!(
                        "`{}` is cached but `method.request.path.{greedy}` is not in its cacheKeyParameters: every path under it shares one cache entry (as on API Gateway)",
                        route.route_key
                    ),
                });
            }
        }
    }
    out
}
