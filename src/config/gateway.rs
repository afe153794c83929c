//! Validation of the gateway file (README.md, "Configuration reference"): `server`, `apis[]` (each definition loaded
//! through the `Loader` and validated in its own file), `stages[]` and `domainNames[]`, with
//! every cross reference resolved to an index.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::domain::domain;
use super::openapi::{ApiSpec, validate_definition};
use super::parse::parse_document;
use super::reader::{Errors, Loc, Node};
use super::server::{Env, ServerSpec, validate_server};
use super::stage::stage;
use super::usage::{Context, UsageSpec, validate_usage};
use super::{ConfigError, EndpointType, Loader, Protocol, Server};

pub(crate) struct GatewaySpec {
    pub server: Server,
    /// (API, stage); no stage: the first path segment names it.
    pub default_api: Option<(usize, Option<usize>)>,
    pub apis: Vec<ApiEntry>,
    pub stages: Vec<StageEntry>,
    pub domains: Vec<DomainEntry>,
    /// Account throttle, usage plans and API keys.
    pub usage: UsageSpec,
    /// Top-level `authorizers`: key sources and leeway of JWT authorizers.
    pub authorizers: Vec<super::authorizers::Override>,
    /// Top-level `iam`: SigV4 credentials.
    pub iam: super::Iam,
    /// Top-level `functions`: where Lambda authorizers' functions run.
    pub functions: Vec<super::functions::FunctionSpec>,
}

pub(crate) struct ApiEntry {
    pub id: String,
    pub name: Option<String>,
    pub protocol: Protocol,
    pub endpoint: EndpointType,
    pub def: ApiSpec,
}

pub(crate) use super::domain::DomainEntry;
pub(crate) use super::stage::StageEntry;

/// API ids, protocols and whether each definition validated, for the stage/domain checks.
pub(crate) struct Declared {
    pub apis: Vec<(String, Protocol, Option<ApiEntry>)>,
}

pub(crate) fn validate_gateway(
    root: &Node<'_>,
    loader: &dyn Loader,
    env: Env<'_>,
    errors: &mut Errors,
) -> Option<GatewaySpec> {
    let mut obj = root.obj(errors)?;
    let base_dir = root.file.parent().unwrap_or(Path::new("")).to_path_buf();
    let ServerSpec {
        mut server,
        default_api,
        listener_tls,
        upstream_tls,
    } = validate_server(obj.opt("server"), &base_dir, env, errors);
    let mut declared = Declared { apis: Vec::new() };
    for item in obj
        .opt("apis")
        .and_then(|n| n.arr(errors))
        .unwrap_or_default()
    {
        api(&item, &base_dir, loader, &mut declared, errors);
    }
    let mut stages: Vec<(StageEntry, Node<'_>)> = Vec::new();
    for item in obj
        .opt("stages")
        .and_then(|n| n.arr(errors))
        .unwrap_or_default()
    {
        if let Some(s) = stage(&item, &declared, errors) {
            if stages
                .iter()
                .any(|(o, _)| o.api == s.api && o.name == s.name)
            {
                item.err(
                    errors,
                    format!(
                        "duplicate stage `{}` for API `{}`",
                        s.name, declared.apis[s.api].0
                    ),
                );
            }
            stages.push((s, item));
        }
    }
    let stages: Vec<StageEntry> = stages.into_iter().map(|(s, _)| s).collect();
    let mut domains: Vec<DomainEntry> = Vec::new();
    for item in obj
        .opt("domainNames")
        .and_then(|n| n.arr(errors))
        .unwrap_or_default()
    {
        if let Some(d) = domain(&item, &declared, &stages, &base_dir, errors) {
            if domains.iter().any(|o| o.name == d.name) {
                item.err(errors, format!("duplicate domain name `{}`", d.name));
            }
            domains.push(d);
        }
    }
    // HTTPS listeners: their own certificate and every custom domain's, read and checked.
    let domain_certs: Vec<(String, &super::tls::DomainTlsSpec)> = domains
        .iter()
        .filter_map(|d| d.tls.as_ref().map(|t| (d.name.clone(), t)))
        .collect();
    for (listener, spec) in server.listeners.iter_mut().zip(&listener_tls) {
        if let Some(spec) = spec {
            listener.tls = super::tls::build(spec, &domain_certs, loader, errors);
        }
    }
    // TLS to backends: built when configured (its files are checked either way), else from
    // the system bundle only when an integration may be `https://`, so a plain config neither
    // reads nor keeps the system roots.
    let may_use_https = declared
        .apis
        .iter()
        .filter_map(|(_, _, entry)| entry.as_ref())
        .flat_map(|entry| &entry.def.routes)
        .any(|r| {
            matches!(&r.integration, super::integration::IntegrationSpec::HttpProxy(h)
                if super::uri::may_be_https(&h.uri))
        });
    if upstream_tls.is_some() || may_use_https {
        server.upstream_tls = super::upstream_tls::build(upstream_tls.as_ref(), loader, errors)
            .map(std::sync::Arc::new);
    }
    let default_api = default_api.and_then(|d| {
        let api = api_index(&declared, &d.api_id, &d.api_loc, errors)?;
        let stage = match d.stage {
            None => None,
            Some((name, loc)) => Some(stage_index(&declared, &stages, api, &name, &loc, errors)?),
        };
        Some((api, stage))
    });
    let usage = validate_usage(
        &mut obj,
        &Context {
            declared: &declared,
            stages: &stages,
            base_dir: &base_dir,
            loader,
            env,
            state_dir: server.state_dir.as_deref(),
        },
        errors,
    );
    let authorizers = obj
        .opt_non_null("authorizers")
        .map(|n| super::authorizers::validate_overrides(&n, &declared, &base_dir, loader, errors))
        .unwrap_or_default();
    let iam = obj
        .opt_non_null("iam")
        .map(|n| super::iam::validate_iam(&n, env, errors))
        .unwrap_or_default();
    super::iam::read_resource_policies(
        declared.apis.iter_mut().filter_map(|(_, _, e)| e.as_mut()),
        &server.region,
        &server.account_id,
        errors,
    );
    let mut functions = obj
        .opt_non_null("functions")
        .map(|n| super::functions::validate_functions(&n, &base_dir, errors))
        .unwrap_or_default();
    let aws_credentials = obj.opt_non_null("awsCredentials");
    super::lambda_remote::resolve_credentials(aws_credentials, &mut functions, env, errors);
    super::functions::check_functions(&declared, &stages, &functions, errors);
    super::lambda_integration::check_integration_functions(&declared, &stages, &functions, errors);
    obj.finish(errors);
    let mut apis = Vec::new();
    for (_, _, entry) in declared.apis {
        apis.push(entry?);
    }
    Some(GatewaySpec {
        server,
        default_api,
        apis,
        stages,
        domains,
        usage,
        authorizers,
        iam,
        functions,
    })
}

fn api(
    item: &Node<'_>,
    base_dir: &Path,
    loader: &dyn Loader,
    declared: &mut Declared,
    errors: &mut Errors,
) {
    let Some(mut obj) = item.obj(errors) else {
        return;
    };
    let id = obj.req("id", errors).and_then(|n| {
        let s = n.str(errors)?;
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            n.err(
                errors,
                format!("API id `{s}` must match `[a-z0-9-]{{1,64}}`"),
            );
        } else if declared.apis.iter().any(|(o, _, _)| o == s) {
            n.err(errors, format!("duplicate API id `{s}`"));
        }
        Some(s.to_string())
    });
    let name = obj
        .opt_non_null("name")
        .and_then(|n| n.str(errors))
        .map(str::to_string);
    let protocol = match obj.opt_non_null("protocolType") {
        None => Protocol::Rest,
        Some(n) => match n.str(errors) {
            Some("REST") | None => Protocol::Rest,
            Some("HTTP") => Protocol::Http,
            Some("WEBSOCKET") => {
                n.err(errors, "WebSocket APIs are not supported yet");
                Protocol::Rest
            }
            Some(s) => {
                n.err(
                    errors,
                    format!("unknown protocolType `{s}`: expected REST or HTTP"),
                );
                Protocol::Rest
            }
        },
    };
    let endpoint = obj
        .opt_non_null("endpointConfiguration")
        .map_or(EndpointType::Regional, |n| endpoint(&n, protocol, errors));
    let definition = obj.req("definition", errors);
    obj.finish(errors);
    let def = definition.and_then(|d| load_definition_node(&d, base_dir, protocol, loader, errors));
    let entry = match (&id, def) {
        (Some(id), Some(def)) => Some(ApiEntry {
            id: id.clone(),
            name,
            protocol,
            endpoint,
            def,
        }),
        _ => None,
    };
    declared
        .apis
        .push((id.unwrap_or_default(), protocol, entry));
}

fn endpoint(n: &Node<'_>, protocol: Protocol, errors: &mut Errors) -> EndpointType {
    let Some(mut obj) = n.obj(errors) else {
        return EndpointType::Regional;
    };
    let mut out = EndpointType::Regional;
    if let Some(t) = obj.req("types", errors)
        && let Some(items) = t.arr(errors)
    {
        if items.len() != 1 {
            t.err(
                errors,
                "give exactly one endpoint type: EDGE, REGIONAL or PRIVATE",
            );
        }
        if let Some(s) = items.first().and_then(|i| i.str(errors)) {
            out = match s {
                "EDGE" => EndpointType::Edge,
                "REGIONAL" => EndpointType::Regional,
                "PRIVATE" => EndpointType::Private,
                _ => {
                    t.err(
                        errors,
                        format!("unknown endpoint type `{s}`: expected EDGE, REGIONAL or PRIVATE"),
                    );
                    out
                }
            };
            if protocol == Protocol::Http && out != EndpointType::Regional {
                t.err(
                    errors,
                    "HTTP APIs are regional: the endpoint type must be REGIONAL",
                );
            }
        }
    }
    obj.finish(errors);
    out
}

/// A definition file path (relative to the gateway file) or an inline document.
fn load_definition_node(
    d: &Node<'_>,
    base_dir: &Path,
    protocol: Protocol,
    loader: &dyn Loader,
    errors: &mut Errors,
) -> Option<ApiSpec> {
    match d.v {
        Value::String(rel) => {
            let file = base_dir.join(rel);
            let (doc, file) = read_document(&file, loader, errors, Some(d))?;
            validate_definition(&Node::root(&doc, &file, "$"), protocol, errors)
        }
        Value::Object(_) => validate_definition(d, protocol, errors),
        _ => {
            d.err(
                errors,
                "`definition` is a file path or an inline OpenAPI document",
            );
            None
        }
    }
}

/// Read and parse a document; errors name the file (and, if given, the referring node).
pub(crate) fn read_document(
    file: &Path,
    loader: &dyn Loader,
    errors: &mut Errors,
    from: Option<&Node<'_>>,
) -> Option<(Value, PathBuf)> {
    let bytes = match loader.read(file) {
        Ok(b) => b,
        Err(e) => {
            let message = format!("cannot read `{}`: {e}", file.display());
            match from {
                Some(n) => n.err(errors, message),
                None => errors.push(ConfigError {
                    file: file.to_path_buf(),
                    path: "$".into(),
                    message,
                }),
            }
            return None;
        }
    };
    match parse_document(&bytes) {
        Ok(v) => Some((v, file.to_path_buf())),
        Err(message) => {
            errors.push(ConfigError {
                file: file.to_path_buf(),
                path: "$".into(),
                message,
            });
            None
        }
    }
}

pub(crate) fn api_index(
    declared: &Declared,
    id: &str,
    loc: &Loc,
    errors: &mut Errors,
) -> Option<usize> {
    let found = declared.apis.iter().position(|(i, _, _)| i == id);
    if found.is_none() {
        loc.err(errors, format!("no API with id `{id}` in `apis`"));
    }
    found
}

pub(crate) fn stage_index(
    declared: &Declared,
    stages: &[StageEntry],
    api: usize,
    name: &str,
    loc: &Loc,
    errors: &mut Errors,
) -> Option<usize> {
    let found = stages.iter().position(|s| s.api == api && s.name == name);
    if found.is_none() {
        loc.err(
            errors,
            format!("API `{}` has no stage `{name}`", declared.apis[api].0),
        );
    }
    found
}
