//! `x-amazon-apigateway-integration` validation: HTTP_PROXY, MOCK and AWS_PROXY (Lambda,
//! `lambda_integration.rs`) are supported; every other type and every property of a later
//! feature is reported by name.

use std::time::Duration;

use super::mock::{MockSpec, validate_mock};
use super::reader::{Errors, Loc, Node, Obj};
use super::responses::{header_name_ok, header_value_ok, quoted_literal};
use super::route_path::METHODS;
use super::uri::{TplPiece, instantiate, parse_template, split_scheme, stage_var_name_ok};
use super::{
    ContextVar, DEFAULT_INTEGRATION_TIMEOUT, MAX_INTEGRATION_TIMEOUT_MS,
    MIN_INTEGRATION_TIMEOUT_MS, Protocol,
};

pub(crate) enum IntegrationSpec {
    HttpProxy(HttpProxySpec),
    Mock(MockSpec),
    Lambda(super::lambda_integration::LambdaSpec),
}

/// What a mapped value comes from, before a stage's variables are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SourceSpec {
    Static(String),
    Path(u16),
    QueryString(String),
    Header(String),
    Context(ContextVar),
    StageVar(String),
    /// HTTP APIs' `$request.path`: the request path after the stage or base path.
    RequestPath,
    /// HTTP APIs' mixed values: the parts concatenated.
    Concat(Vec<SourceSpec>),
    /// `context.authorizer.claims.NAME`: a claim of the route's verified JWT.
    Claim(String),
    /// `context.authorizer.NAME`: the Lambda authorizer's `principalId` or a `context` key.
    AuthorizerValue(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TargetSpec {
    /// REST `integration.request.header.X`, HTTP `overwrite:header.X`.
    Header(String),
    /// REST `integration.request.querystring.X`, HTTP `append:querystring.X`.
    QueryString(String),
    Path(String),
    AppendHeader(String),
    RemoveHeader(String),
    OverwriteQueryString(String),
    RemoveQueryString(String),
    /// HTTP `overwrite:path`.
    OverwritePath,
}

pub(crate) struct HttpProxySpec {
    pub uri: Vec<TplPiece>,
    pub uri_loc: Loc,
    pub method: Option<String>,
    /// Header and query string mappings (path mappings are folded into `uri_params`).
    pub request_parameters: Vec<(TargetSpec, SourceSpec, Loc)>,
    /// The source of each `{name}` in the URI.
    pub uri_params: Vec<(String, SourceSpec)>,
    pub timeout: Duration,
    /// HTTP API `$default` route: the request path follows the URI's path.
    pub append_request_path: bool,
    /// `tlsConfig.insecureSkipVerification`: an `https://` backend's certificate is not
    /// verified (API Gateway's switch for self-signed backends).
    pub skip_verify: bool,
}

/// The route an integration belongs to.
pub(crate) struct RouteCtx<'r> {
    pub protocol: Protocol,
    pub route_key: &'r str,
    pub params: &'r [String],
}

/// `context.identity.clientCert.clientCertPem` is not among them: a PEM has line breaks, which
/// no header value may carry.
const CONTEXT_VARS: [(&str, ContextVar); 19] = [
    ("identity.userArn", ContextVar::IdentityUserArn),
    ("identity.caller", ContextVar::IdentityCaller),
    ("identity.accessKey", ContextVar::IdentityAccessKey),
    ("identity.accountId", ContextVar::IdentityAccountId),
    ("requestId", ContextVar::RequestId),
    ("apiId", ContextVar::ApiId),
    ("stage", ContextVar::Stage),
    ("resourcePath", ContextVar::ResourcePath),
    ("httpMethod", ContextVar::HttpMethod),
    ("identity.sourceIp", ContextVar::SourceIp),
    ("domainName", ContextVar::DomainName),
    ("accountId", ContextVar::AccountId),
    ("path", ContextVar::Path),
    ("protocol", ContextVar::Protocol),
    (
        "identity.clientCert.subjectDN",
        ContextVar::ClientCertSubjectDn,
    ),
    (
        "identity.clientCert.issuerDN",
        ContextVar::ClientCertIssuerDn,
    ),
    (
        "identity.clientCert.serialNumber",
        ContextVar::ClientCertSerialNumber,
    ),
    (
        "identity.clientCert.validity.notBefore",
        ContextVar::ClientCertNotBefore,
    ),
    (
        "identity.clientCert.validity.notAfter",
        ContextVar::ClientCertNotAfter,
    ),
];

pub(crate) fn validate_integration(
    node: &Node<'_>,
    ctx: &RouteCtx<'_>,
    errors: &mut Errors,
) -> Option<IntegrationSpec> {
    let mut obj = node.obj(errors)?;
    let ty = obj.req("type", errors)?;
    let ty_name = ty.str(errors)?.to_ascii_uppercase();
    match ty_name.as_str() {
        "HTTP_PROXY" | "MOCK" | "AWS_PROXY" => {}
        "AWS" | "HTTP" => {
            ty.err(
                errors,
                format!("integration type {ty_name} is not supported yet"),
            );
            return None;
        }
        _ => {
            ty.err(errors, format!("unknown integration type `{ty_name}`: expected HTTP_PROXY, MOCK, HTTP, AWS or AWS_PROXY"));
            return None;
        }
    }
    // HTTP APIs' AWS service integrations are `AWS_PROXY` with an `integrationSubtype`.
    if ty_name == "AWS_PROXY"
        && let Some(sub) = obj.opt_non_null("integrationSubtype")
    {
        sub.err(
            errors,
            "AWS service integrations (`integrationSubtype`) are not supported yet",
        );
        return None;
    }
    let before = errors.len();
    let lambda = ty_name == "AWS_PROXY";
    if lambda {
        super::lambda_integration::lambda_only(&mut obj, errors);
    }
    common(&mut obj, lambda, errors);
    let timeout = match obj.opt_non_null("timeoutInMillis") {
        Some(n) => n
            .u64_in(
                errors,
                MIN_INTEGRATION_TIMEOUT_MS,
                MAX_INTEGRATION_TIMEOUT_MS,
            )
            .map_or(DEFAULT_INTEGRATION_TIMEOUT, Duration::from_millis),
        None => DEFAULT_INTEGRATION_TIMEOUT,
    };
    // Lambda proxy integrations ignore `requestParameters` (`lambda_integration.rs`).
    let mappings = match obj.opt_non_null("requestParameters") {
        Some(p) if ty_name != "AWS_PROXY" => request_parameters(&p, ctx, errors),
        _ => Vec::new(),
    };
    let spec = if ty_name == "MOCK" {
        if ctx.protocol == Protocol::Http {
            ty.err(errors, "MOCK integrations are not available for HTTP APIs");
        }
        // Fields of other types, which API Gateway ignores on a MOCK.
        obj.accept("uri");
        obj.accept("httpMethod");
        obj.accept("tlsConfig");
        validate_mock(&mut obj, errors).map(IntegrationSpec::Mock)
    } else if ty_name == "AWS_PROXY" {
        super::lambda_integration::validate_lambda(&mut obj, node, ctx.protocol, timeout, errors)
            .map(IntegrationSpec::Lambda)
    } else {
        // Proxy integrations pass the request and response through: API Gateway ignores
        // mapping templates and integration responses on them, and so does tollgate.
        obj.accept("requestTemplates");
        obj.accept("responses");
        http_proxy(&mut obj, mappings, timeout, ctx, errors).map(IntegrationSpec::HttpProxy)
    };
    obj.finish(errors);
    if errors.len() > before { None } else { spec }
}

/// Properties every integration type accepts (`lambda`: `lambda_only` read the ones only
/// Lambda proxy integrations support).
fn common(obj: &mut Obj<'_>, lambda: bool, errors: &mut Errors) {
    if let Some(n) = obj.opt_non_null("passthroughBehavior")
        && let Some(s) = n.str(errors)
        && !["when_no_match", "when_no_templates", "never"]
            .contains(&s.to_ascii_lowercase().as_str())
    {
        n.err(errors, format!("unknown passthroughBehavior `{s}`: expected when_no_match, when_no_templates or never"));
    }
    // Validated with the route's declared parameters (`cache::cache_key_parameters`).
    obj.accept("cacheKeyParameters");
    if let Some(n) = obj.opt_non_null("cacheNamespace") {
        n.str(errors);
    }
    if let Some(n) = obj.opt_non_null("description") {
        n.str(errors);
    }
    if let Some(n) = obj.opt_non_null("payloadFormatVersion")
        && let Some(v) = n.str_or_number(errors)
        && !["1.0", "2.0", "1"].contains(&v.as_str())
    {
        n.err(
            errors,
            format!("unknown payloadFormatVersion `{v}`: expected 1.0 or 2.0"),
        );
    }
    if let Some(n) = obj.opt_non_null("connectionType")
        && let Some(s) = n.str(errors)
    {
        match s.to_ascii_uppercase().as_str() {
            "INTERNET" => {}
            "VPC_LINK" => n.err(
                errors,
                "VPC links are not supported yet (connectionType VPC_LINK)",
            ),
            _ => n.err(
                errors,
                format!("unknown connectionType `{s}`: expected INTERNET or VPC_LINK"),
            ),
        }
    }
    if let Some(n) = obj.opt("connectionId") {
        n.err(errors, "VPC links are not supported yet (`connectionId`)");
    }
    if !lambda {
        obj.unsupported(
            &["credentials", "contentHandling", "integrationSubtype"],
            errors,
        );
    }
}

fn http_proxy(
    obj: &mut Obj<'_>,
    mappings: Vec<(TargetSpec, SourceSpec, Loc)>,
    timeout: Duration,
    ctx: &RouteCtx<'_>,
    errors: &mut Errors,
) -> Option<HttpProxySpec> {
    let skip_verify = obj
        .opt_non_null("tlsConfig")
        .is_some_and(|n| tls_config(&n, errors));
    let method = obj.req("httpMethod", errors).and_then(|n| {
        let m = n.str(errors)?.to_ascii_uppercase();
        match m.as_str() {
            "ANY" => Some(None),
            m if METHODS.contains(&m) => Some(Some(m.to_string())),
            _ => {
                n.err(errors, format!("unknown httpMethod `{m}`"));
                None
            }
        }
    });
    let uri_node = obj.req("uri", errors)?;
    let raw = uri_node.str(errors)?;
    let pieces = match parse_template(raw) {
        Ok(p) => p,
        Err(es) => {
            for e in es {
                uri_node.err(errors, e);
            }
            return None;
        }
    };
    let mut uri_params = Vec::new();
    let mut request_parameters = Vec::new();
    for (target, source, loc) in mappings {
        match target {
            TargetSpec::Path(name) => uri_params.push((name, source)),
            t => request_parameters.push((t, source, loc)),
        }
    }
    for piece in &pieces {
        let TplPiece::Param(name) = piece else {
            continue;
        };
        if uri_params.iter().any(|(n, _)| n == name) {
            continue;
        }
        match ctx.params.iter().position(|p| p == name) {
            Some(i) => uri_params.push((name.clone(), SourceSpec::Path(i as u16))),
            None => uri_node.err(
                errors,
                format!(
                    "URI placeholder `{{{name}}}` is neither a path parameter of `{}` nor mapped by `integration.request.path.{name}`",
                    ctx.route_key
                ),
            ),
        }
    }
    // Without stage variables the URI is the same for every stage: check it now. With them,
    // at least a literal scheme can be checked now.
    if !pieces.iter().any(|p| matches!(p, TplPiece::Stage(_))) {
        if let Err(e) = instantiate(&pieces, &|_| None) {
            uri_node.err(errors, e);
        }
    } else if let Some(TplPiece::Lit(head)) = pieces.first()
        && head.contains("://")
        && let Err(e) = split_scheme(head)
    {
        uri_node.err(errors, e);
    }
    Some(HttpProxySpec {
        uri: pieces,
        uri_loc: uri_node.loc(),
        method: method?,
        request_parameters,
        uri_params,
        timeout,
        append_request_path: ctx.protocol == Protocol::Http && ctx.route_key == "$default",
        skip_verify,
    })
}

/// `tlsConfig`: `insecureSkipVerification` (REST). `serverNameToVerify` belongs to private
/// integrations, which need VPC links.
fn tls_config(n: &Node<'_>, errors: &mut Errors) -> bool {
    let Some(mut t) = n.obj(errors) else {
        return false;
    };
    let skip = t
        .opt_non_null("insecureSkipVerification")
        .and_then(|v| v.bool(errors))
        .unwrap_or(false);
    if let Some(v) = t.opt("serverNameToVerify") {
        v.err(
            errors,
            "`serverNameToVerify` applies to private integrations (VPC links), which are not supported yet",
        );
    }
    t.finish(errors);
    skip
}

fn request_parameters(
    p: &Node<'_>,
    ctx: &RouteCtx<'_>,
    errors: &mut Errors,
) -> Vec<(TargetSpec, SourceSpec, Loc)> {
    let mut out = Vec::new();
    for (key, value, vn) in p.string_map(errors).unwrap_or_default() {
        let target = if let Some(h) = key.strip_prefix("integration.request.header.") {
            if h.eq_ignore_ascii_case("content-length")
                || h.eq_ignore_ascii_case("transfer-encoding")
            {
                vn.err(
                    errors,
                    format!(
                        "mapping `{key}` is not allowed: API Gateway answers such requests with 500"
                    ),
                );
                continue;
            }
            if !header_name_ok(h) {
                vn.err(errors, format!("invalid header name `{h}`"));
                continue;
            }
            TargetSpec::Header(h.to_string())
        } else if let Some(q) = key.strip_prefix("integration.request.querystring.") {
            TargetSpec::QueryString(q.to_string())
        } else if let Some(n) = key.strip_prefix("integration.request.path.") {
            TargetSpec::Path(n.to_string())
        } else if key.starts_with("append:")
            || key.starts_with("overwrite:")
            || key.starts_with("remove:")
        {
            if ctx.protocol != Protocol::Http {
                vn.err(errors, format!("`{key}` is HTTP API mapping syntax; REST APIs use `integration.request.header|querystring|path.NAME`"));
                continue;
            }
            if let Some(m) = super::http_mapping::mapping(key, value, &vn, ctx, errors) {
                out.push((m.0, m.1, vn.loc()));
            }
            continue;
        } else {
            vn.err(errors, format!("unknown request parameter `{key}`: expected `integration.request.header|querystring|path.NAME`"));
            continue;
        };
        let empty = match &target {
            TargetSpec::Header(s) | TargetSpec::QueryString(s) | TargetSpec::Path(s) => {
                s.is_empty()
            }
            _ => false,
        };
        if empty {
            vn.err(errors, format!("request parameter `{key}` has no name"));
            continue;
        }
        if let Some(source) = source(value, &vn, ctx, errors) {
            out.push((target, source, vn.loc()));
        }
    }
    out
}

fn source(
    value: &str,
    vn: &Node<'_>,
    ctx: &RouteCtx<'_>,
    errors: &mut Errors,
) -> Option<SourceSpec> {
    if let Some(s) = quoted_literal(value) {
        if !header_value_ok(s) {
            vn.err(errors, "static values cannot contain control characters");
            return None;
        }
        return Some(SourceSpec::Static(s.to_string()));
    }
    let unsupported = |errors: &mut Errors| {
        vn.err(
            errors,
            format!("request parameter source `{value}` is not supported yet"),
        );
        None
    };
    if let Some(rest) = value.strip_prefix("method.request.")
        && let Some(found) = request_source(rest, value, vn, ctx, errors)
    {
        return found;
    }
    if let Some(found) = environment_source(value, value, vn, errors) {
        return found;
    }
    unsupported(errors)
}

/// A request value named after the syntax's own prefix (`method.request.` in REST,
/// `$request.` in HTTP APIs): `path.NAME` (a route parameter), `querystring.NAME` or
/// `header.NAME`. `None` when `rest` is none of these; `Some(None)` after reporting an
/// error; `shown` is the expression as the user wrote it.
pub(crate) fn request_source(
    rest: &str,
    shown: &str,
    vn: &Node<'_>,
    ctx: &RouteCtx<'_>,
    errors: &mut Errors,
) -> Option<Option<SourceSpec>> {
    if let Some(name) = rest.strip_prefix("path.") {
        return Some(match ctx.params.iter().position(|p| p == name) {
            Some(i) => Some(SourceSpec::Path(i as u16)),
            None => {
                let route = ctx.route_key;
                vn.err(
                    errors,
                    format!("`{shown}`: `{name}` is not a path parameter of `{route}`"),
                );
                None
            }
        });
    }
    if let Some(name) = rest.strip_prefix("querystring.") {
        return Some(Some(SourceSpec::QueryString(name.to_string())));
    }
    rest.strip_prefix("header.")
        .map(|name| Some(SourceSpec::Header(name.to_string())))
}

/// `stageVariables.NAME` or a supported `context.NAME`, in either syntax (same convention as
/// `request_source`; an unknown context variable is `None`, for the caller to report).
pub(crate) fn environment_source(
    expr: &str,
    shown: &str,
    vn: &Node<'_>,
    errors: &mut Errors,
) -> Option<Option<SourceSpec>> {
    if let Some(name) = expr.strip_prefix("stageVariables.") {
        if !stage_var_name_ok(name) {
            vn.err(errors, format!("invalid stage variable name in `{shown}`"));
            return Some(None);
        }
        return Some(Some(SourceSpec::StageVar(name.to_string())));
    }
    let name = expr.strip_prefix("context.")?;
    if let Some(claim) = name.strip_prefix("authorizer.claims.") {
        let ok = !claim.is_empty()
            && claim
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"\"'${}".contains(&b));
        if !ok {
            vn.err(errors, format!("invalid claim name in `{shown}`"));
            return Some(None);
        }
        return Some(Some(SourceSpec::Claim(claim.to_string())));
    }
    if let Some(key) = name.strip_prefix("authorizer.") {
        let ok = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b));
        if !ok {
            vn.err(
                errors,
                format!("invalid authorizer context key in `{shown}`"),
            );
            return Some(None);
        }
        return Some(Some(SourceSpec::AuthorizerValue(key.to_string())));
    }
    CONTEXT_VARS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| Some(SourceSpec::Context(*v)))
}
