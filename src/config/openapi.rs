//! Validation of one API definition (OpenAPI 3.0 or Swagger 2.0 with `x-amazon-apigateway-*`
//! extensions) into an `ApiSpec`: routes with their integrations, the route trie, gateway
//! responses. OpenAPI's own vocabulary (schemas, parameters, responses, tags) is the
//! document's business; API Gateway extensions are checked everywhere they can appear.

use serde_json::Value;

use super::cache::{CacheKeySpec, Fnv, cache_key_parameters, declared_parameters};
use super::integration::{IntegrationSpec, RouteCtx, validate_integration};
use super::reader::{Errors, Node, intrinsic_name};
use super::responses::{ResponsesSpec, validate_gateway_responses};
use super::route_path::{param_names, parse_path};
use super::router::RouterBuilder;
use super::security::{JwtScheme, Schemes, Security, check_auth, check_security, read_schemes};
use super::{ApiKeySource, Protocol, Route, RouteIdx, Router};

pub(crate) struct ApiSpec {
    pub title: Option<String>,
    pub routes: Vec<RouteSpec>,
    pub router: Router,
    pub responses: ResponsesSpec,
    /// `x-amazon-apigateway-endpoint-configuration.disableExecuteApiEndpoint`.
    pub disable_execute_api: bool,
    /// `x-amazon-apigateway-api-key-source` (REST).
    pub api_key_source: ApiKeySource,
    /// The JWT authorizers its security schemes define (routes index into it).
    pub authorizers: Vec<JwtScheme>,
    /// `x-amazon-apigateway-policy` (REST): read once the API's ARN is known (`iam.rs`).
    pub policy: Option<super::iam::PolicyDoc>,
    /// The Lambda authorizers its security schemes define (routes index into it).
    pub lambda_authorizers: Vec<super::lambda_authorizers::LambdaScheme>,
    /// `x-amazon-apigateway-binary-media-types`, lower-case.
    pub binary_media_types: Vec<String>,
}

pub(crate) struct RouteSpec {
    pub route: Route,
    pub integration: IntegrationSpec,
    /// `security` names the API key scheme (`apiKeyRequired`).
    pub api_key_required: bool,
    /// `security` names a JWT authorizer (index into `ApiSpec::authorizers`) with these
    /// `authorizationScopes`.
    pub authorizer: Option<(usize, Vec<String>)>,
    /// `security` names a Lambda authorizer (index into `ApiSpec::lambda_authorizers`).
    pub lambda: Option<usize>,
    /// The integration's `cacheKeyParameters`, validated (REST).
    pub cache_key: CacheKeySpec,
    /// A hash of the integration's definition as written: part of a stage cache's
    /// fingerprint.
    pub integration_id: u64,
}

const CFN_KEYS: [&str; 3] = ["Resources", "AWSTemplateFormatVersion", "Transform"];

const OPERATIONS: [(&str, Option<&str>); 8] = [
    ("get", Some("GET")),
    ("put", Some("PUT")),
    ("post", Some("POST")),
    ("delete", Some("DELETE")),
    ("options", Some("OPTIONS")),
    ("head", Some("HEAD")),
    ("patch", Some("PATCH")),
    ("x-amazon-apigateway-any-method", None),
];

/// Guess whether a stand-alone document is an HTTP API: OpenAPI 3 with
/// `x-amazon-apigateway-importexport-version` or `x-amazon-apigateway-cors` at the root (both
/// only exist on HTTP API exports), a `/$default` path, or an integration with
/// `payloadFormatVersion` (an HTTP API-only property). Anything else is a REST API.
pub(crate) fn guess_protocol(doc: &Value) -> Protocol {
    let oas3 = doc.get("openapi").is_some();
    let root_marker = [
        "x-amazon-apigateway-importexport-version",
        "x-amazon-apigateway-cors",
    ]
    .iter()
    .any(|k| doc.get(k).is_some());
    let paths = doc.get("paths").and_then(Value::as_object);
    let default_path = paths.is_some_and(|p| p.contains_key("/$default"));
    let has_pfv = |i: &Value| i.get("payloadFormatVersion").is_some();
    let op_pfv = paths
        .into_iter()
        .flat_map(|p| p.values())
        .filter_map(Value::as_object)
        .any(|item| {
            item.values().any(|op| {
                op.get("x-amazon-apigateway-integration")
                    .is_some_and(has_pfv)
            })
        });
    let component_pfv = doc
        .pointer("/components/x-amazon-apigateway-integrations")
        .and_then(Value::as_object)
        .is_some_and(|m| m.values().any(has_pfv));
    if oas3 && (root_marker || default_path || op_pfv || component_pfv) {
        Protocol::Http
    } else {
        Protocol::Rest
    }
}

pub(crate) fn validate_definition(
    root: &Node<'_>,
    protocol: Protocol,
    errors: &mut Errors,
) -> Option<ApiSpec> {
    let before = errors.len();
    let mut obj = root.obj(errors)?;
    if CFN_KEYS.iter().any(|k| obj.map.contains_key(*k)) {
        root.err(
            errors,
            "this is a CloudFormation template, not an OpenAPI document: put the API's Body/DefinitionBody in its own file",
        );
        return None;
    }
    let swagger = obj.opt("swagger");
    let openapi = obj.opt("openapi");
    let version_ok = match (&swagger, &openapi) {
        (Some(s), None) if s.v == "2.0" || s.v.as_f64() == Some(2.0) => true,
        (None, Some(o)) => match o.v.as_str() {
            Some(v) if v == "3.0" || v.starts_with("3.0.") => true,
            Some(v) if v.starts_with("3.") => {
                o.err(errors, format!("OpenAPI {v} is not supported: API Gateway imports OpenAPI 3.0 and Swagger 2.0"));
                return None;
            }
            _ => o.v.as_f64() == Some(3.0),
        },
        _ => false,
    };
    if !version_ok {
        root.err(
            errors,
            "not an OpenAPI document: expected `openapi: 3.0.x` or `swagger: \"2.0\"`",
        );
        return None;
    }
    let title = obj
        .opt("info")
        .and_then(|i| i.obj(errors))
        .and_then(|mut info| {
            let t = info
                .opt_non_null("title")
                .and_then(|t| t.str(errors))
                .map(str::to_string);
            info.finish_ext(errors);
            t
        });

    let mut schemes = Schemes::new();
    if let Some(c) = obj.opt_non_null("components")
        && let Some(mut comp) = c.obj(errors)
    {
        if let Some(s) = comp.opt_non_null("securitySchemes") {
            read_schemes(&s, protocol, &mut schemes, errors);
        }
        comp.accept("x-amazon-apigateway-integrations");
        comp.finish_ext(errors);
    }
    if let Some(s) = obj.opt_non_null("securityDefinitions") {
        read_schemes(&s, protocol, &mut schemes, errors);
    }
    // REST import ignores root-level security (SPEC-NOTES §4); HTTP APIs apply it to every route.
    let mut default_security = Security::default();
    if let Some(s) = obj.opt_non_null("security")
        && protocol == Protocol::Http
    {
        default_security = check_security(&s, &schemes, protocol, errors);
    }
    let mut api_key_source = ApiKeySource::Header;
    if let Some(k) = obj.opt_non_null("x-amazon-apigateway-api-key-source") {
        match (k.str(errors), protocol) {
            (_, Protocol::Http) => k.err(
                errors,
                "`x-amazon-apigateway-api-key-source` is a REST API feature: HTTP APIs have no API keys",
            ),
            (Some("HEADER"), _) => {}
            (Some("AUTHORIZER"), _) => api_key_source = ApiKeySource::Authorizer,
            (Some(s), _) => k.err(
                errors,
                format!("unknown API key source `{s}`: expected HEADER or AUTHORIZER"),
            ),
            (None, _) => {}
        }
    }
    let mut responses = ResponsesSpec::default();
    if let Some(r) = obj.opt_non_null("x-amazon-apigateway-gateway-responses") {
        if protocol == Protocol::Http {
            r.err(errors, "`x-amazon-apigateway-gateway-responses` is a REST API feature: HTTP APIs do not have gateway responses");
        } else {
            responses = validate_gateway_responses(&r, errors);
        }
    }
    let mut binary_media_types = Vec::new();
    if let Some(b) = obj.opt_non_null("x-amazon-apigateway-binary-media-types") {
        for item in b.arr(errors).unwrap_or_default() {
            if let Some(t) = item.str(errors) {
                // API Gateway's PATCH form escapes `/` as `~1`; exports carry it plain.
                binary_media_types.push(t.replace("~1", "/").trim().to_ascii_lowercase());
            }
        }
    }
    if let Some(v) = obj.opt_non_null("x-amazon-apigateway-importexport-version") {
        v.str(errors);
    }
    let policy = obj
        .opt_non_null("x-amazon-apigateway-policy")
        .and_then(|p| super::iam::policy_doc(&p, protocol, errors));
    for key in [
        "x-amazon-apigateway-documentation",
        "x-amazon-apigateway-tag-value",
        "x-amazon-apigateway-integrations",
    ] {
        obj.accept(key);
    }
    let mut disable_execute_api = false;
    if let Some(e) = obj.opt_non_null("x-amazon-apigateway-endpoint-configuration")
        && let Some(mut ec) = e.obj(errors)
    {
        if let Some(d) = ec.opt_non_null("disableExecuteApiEndpoint") {
            disable_execute_api = d.bool(errors).unwrap_or(false);
        }
        if let Some(t) = ec.opt_non_null("ipAddressType") {
            t.str(errors);
        }
        ec.unsupported(&["vpcEndpointIds"], errors);
        ec.finish(errors);
    }
    let doc = Doc {
        root,
        protocol,
        schemes: &schemes,
        default_security: &default_security,
    };
    let paths = obj.req("paths", errors);
    obj.finish_ext(errors);
    let (routes, router) = doc.paths(paths.as_ref(), errors);
    (errors.len() == before).then_some(ApiSpec {
        title,
        routes,
        router,
        responses,
        disable_execute_api,
        api_key_source,
        authorizers: schemes.jwt,
        policy,
        lambda_authorizers: schemes.lambda,
        binary_media_types,
    })
}

struct Doc<'d, 'a> {
    root: &'d Node<'a>,
    protocol: Protocol,
    schemes: &'d Schemes,
    /// HTTP APIs: root-level `security`, for operations without their own.
    default_security: &'d Security,
}

impl<'a> Doc<'_, 'a> {
    fn paths(&self, paths: Option<&Node<'a>>, errors: &mut Errors) -> (Vec<RouteSpec>, Router) {
        let mut builder = RouterBuilder::new(self.protocol);
        let mut routes = Vec::new();
        for (path, item) in paths.and_then(|p| p.entries(errors)).unwrap_or_default() {
            let http_default = self.protocol == Protocol::Http && path == "/$default";
            let segments = if http_default {
                None
            } else if path == "/$default" {
                item.err(
                    errors,
                    "`$default` routes exist only in HTTP APIs (protocolType HTTP)",
                );
                continue;
            } else {
                match parse_path(path).and_then(|segs| builder.resource(&segs).map(|n| (segs, n))) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        item.err(errors, e);
                        continue;
                    }
                }
            };
            for (key, op) in item.entries(errors).unwrap_or_default() {
                let method = match OPERATIONS.iter().find(|(k, _)| *k == key) {
                    Some((_, m)) => *m,
                    None => {
                        self.other_path_item_key(key, &op, errors);
                        continue;
                    }
                };
                if http_default && method.is_some() {
                    op.err(
                        errors,
                        "the `$default` route takes only `x-amazon-apigateway-any-method`",
                    );
                    continue;
                }
                let (route_key, params) = match &segments {
                    None => ("$default".to_string(), Vec::new()),
                    Some((segs, _)) => (
                        format!("{} {path}", method.unwrap_or("ANY")),
                        param_names(segs),
                    ),
                };
                let idx = RouteIdx(routes.len() as u32);
                let added = match &segments {
                    None => builder.default_route(idx),
                    Some((_, node)) => builder.method(*node, method, idx),
                };
                if let Err(dup) = added {
                    let other: &RouteSpec = &routes[dup.0.0 as usize];
                    op.err(
                        errors,
                        format!(
                            "duplicate route `{route_key}` (same as `{}`)",
                            other.route.route_key
                        ),
                    );
                    continue;
                }
                let (integration, security, cache_key, integration_id) =
                    self.operation(&item, &op, method.is_none(), &route_key, &params, errors);
                let route = Route {
                    method: method.map(|m| m.as_bytes().into()),
                    path: if segments.is_none() {
                        "$default".into()
                    } else {
                        path.to_string()
                    },
                    route_key,
                    params,
                    auth: None,
                    iam: security.iam,
                    lambda: None,
                };
                // A failed integration keeps route indices dense for duplicate detection;
                // validation has failed anyway.
                let integration =
                    integration.unwrap_or_else(|| IntegrationSpec::Mock(Default::default()));
                routes.push(RouteSpec {
                    route,
                    integration,
                    api_key_required: security.api_key,
                    authorizer: security.jwt,
                    lambda: security.lambda,
                    cache_key,
                    integration_id,
                });
            }
        }
        (routes, builder.build())
    }

    fn other_path_item_key(&self, key: &str, op: &Node<'_>, errors: &mut Errors) {
        match key {
            "parameters" | "summary" | "description" | "servers" => {}
            k if k.starts_with("x-amazon-apigateway-") => {
                op.err(errors, format!("`{k}` is not supported yet"))
            }
            k if k.starts_with("x-") => {}
            "trace" => op.err(errors, "method TRACE is not supported by API Gateway"),
            "$ref" => op.err(errors, "path item `$ref` is not supported"),
            k => op.err(errors, format!("unknown path item property `{k}`")),
        }
    }

    fn operation(
        &self,
        item: &Node<'a>,
        op: &Node<'a>,
        any: bool,
        route_key: &str,
        params: &[String],
        errors: &mut Errors,
    ) -> (Option<IntegrationSpec>, Security, CacheKeySpec, u64) {
        let Some(mut obj) = op.obj(errors) else {
            return (None, Security::default(), Vec::new(), 0);
        };
        let security = match obj.opt_non_null("security") {
            Some(s) => check_security(&s, self.schemes, self.protocol, errors),
            None => self.default_security.clone(),
        };
        let mut security = security;
        if let Some(a) = obj.opt_non_null("x-amazon-apigateway-auth") {
            check_auth(&a, &mut security, errors);
        }
        if any && let Some(d) = obj.opt_non_null("isDefaultRoute") {
            d.bool(errors);
        }
        let integration = obj.opt_non_null("x-amazon-apigateway-integration");
        obj.finish_ext(errors);
        let Some(integration) = integration else {
            op.err(errors, "operation has no x-amazon-apigateway-integration");
            return (None, security, Vec::new(), 0);
        };
        let Some(target) = self.resolve_ref(integration, errors) else {
            return (None, security, Vec::new(), 0);
        };
        let ctx = RouteCtx {
            protocol: self.protocol,
            route_key,
            params,
        };
        let declared = declared_parameters(self.root.v, item.v, op.v, target.v);
        let cache_key = cache_key_parameters(&target, &ctx, &declared, errors);
        let mut id = Fnv::new();
        id.str(&target.v.to_string());
        (
            validate_integration(&target, &ctx, errors),
            security,
            cache_key,
            id.finish(),
        )
    }

    /// Follow local `$ref`s (`#/components/x-amazon-apigateway-integrations/name`).
    fn resolve_ref(&self, node: Node<'a>, errors: &mut Errors) -> Option<Node<'a>> {
        let mut cur = node;
        let mut seen: Vec<&str> = Vec::new();
        loop {
            let Some(r) = cur.v.as_object().and_then(|m| m.get("$ref")) else {
                return Some(cur);
            };
            let Some(r) = r.as_str() else {
                cur.err(errors, "`$ref` must be a string");
                return None;
            };
            if seen.contains(&r) {
                seen.push(r);
                cur.err(errors, format!("`$ref` cycle: {}", seen.join(" → ")));
                return None;
            }
            seen.push(r);
            let Some(pointer) = r.strip_prefix('#') else {
                cur.err(
                    errors,
                    format!("only local `$ref`s (`#/...`) are supported: `{r}`"),
                );
                return None;
            };
            let Some(target) = self.root.v.pointer(pointer) else {
                cur.err(errors, format!("`$ref` target `{r}` does not exist"));
                return None;
            };
            let path = pointer
                .split('/')
                .skip(1)
                .map(|t| t.replace("~1", "/").replace("~0", "~"))
                .collect::<Vec<_>>();
            cur = Node {
                v: target,
                path: format!("{}.{}", self.root.path, path.join(".")),
                file: self.root.file,
            };
            if let Some(name) = intrinsic_name(target) {
                cur.err(errors, format!("CloudFormation intrinsic `{name}` is not supported: resolve it before loading"));
                return None;
            }
        }
    }
}
