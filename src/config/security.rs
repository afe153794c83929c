//! Security schemes and requirements of an OpenAPI document (SPEC-NOTES §4,
//! `x-amazon-apigateway-authorizer`). API Gateway API keys (a `type: apiKey` scheme named
//! `x-api-key` in the header, without an authorizer) make a REST method `apiKeyRequired`.
//! JWT authorizers — HTTP APIs' `{type: jwt, jwtConfiguration}` (issuer given, or derived from
//! OpenAPI 3's `openIdConnectUrl`) and REST APIs' Cognito user pools (`providerARNs`) — become
//! [`JwtScheme`]s that a route's `security` names with its `authorizationScopes`. Lambda
//! authorizers and IAM are reported by scheme name where a route uses them.

use super::Protocol;
use super::reader::{Errors, Node};

/// `{issuer}/.well-known/openid-configuration`: OIDC discovery (OpenID Connect Discovery 1.0
/// §4), how API Gateway finds an issuer's `jwks_uri`.
pub(crate) const DISCOVERY_SUFFIX: &str = "/.well-known/openid-configuration";

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SchemeKind {
    /// A JWT authorizer: index into [`Schemes::jwt`].
    Jwt(usize),
    /// A Lambda authorizer: index into [`Schemes::lambda`] (`lambda_authorizers.rs`).
    Lambda(usize),
    /// `{type: apiKey, name: x-api-key, in: header}` without an authorizer: API Gateway API keys.
    ApiKey,
    /// `type: apiKey` without an authorizer, but not the `x-api-key` header.
    OtherApiKey,
    /// `x-amazon-apigateway-authtype: awsSigv4`.
    Iam,
    /// An authorizer tollgate cannot enforce (Lambda `token`/`request`, an HTTP API JWT scheme
    /// without `x-amazon-apigateway-authorizer`): the message, reported where a route uses it.
    Unsupported(String),
    /// The scheme is invalid; its errors were reported where it is defined.
    Invalid,
}

/// One JWT authorizer of an API, as written.
#[derive(Clone, Debug)]
pub(crate) struct JwtScheme {
    /// The scheme's name (the authorizer name API Gateway imports it as).
    pub name: String,
    pub issuer: String,
    /// `None`: any audience (REST Cognito user pools).
    pub audiences: Option<Vec<String>>,
    /// The identity source header, lower-case (`authorization` for
    /// `$request.header.Authorization`; a Cognito scheme's `name`).
    pub header: String,
    /// OpenAPI 3 `openIdConnectUrl`, when given: the discovery document's address.
    pub discovery_url: Option<String>,
}

#[derive(Default)]
pub(crate) struct Schemes {
    pub kinds: Vec<(String, SchemeKind)>,
    pub jwt: Vec<JwtScheme>,
    pub lambda: Vec<super::lambda_authorizers::LambdaScheme>,
}

impl Schemes {
    pub fn new() -> Schemes {
        Schemes::default()
    }
}

/// What one `security` array asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Security {
    /// REST: an API Gateway API key.
    pub api_key: bool,
    /// A JWT authorizer (index into [`Schemes::jwt`]) and the route's `authorizationScopes`.
    pub jwt: Option<(usize, Vec<String>)>,
    /// `AWS_IAM`: a SigV4 scheme (`x-amazon-apigateway-authtype: awsSigv4`) or
    /// `x-amazon-apigateway-auth: {type: AWS_IAM}`.
    pub iam: bool,
    /// A Lambda authorizer (index into [`Schemes::lambda`]).
    pub lambda: Option<usize>,
}

/// `components.securitySchemes` (OpenAPI 3) or `securityDefinitions` (Swagger 2).
pub(crate) fn read_schemes(
    node: &Node<'_>,
    protocol: Protocol,
    out: &mut Schemes,
    errors: &mut Errors,
) {
    for (name, n) in node.entries(errors).unwrap_or_default() {
        let Some(mut obj) = n.obj(errors) else {
            continue;
        };
        let authorizer = obj.opt_non_null("x-amazon-apigateway-authorizer");
        let authtype = obj
            .opt("x-amazon-apigateway-authtype")
            .and_then(|t| t.v.as_str().map(str::to_ascii_lowercase));
        let text = |v: Option<Node<'_>>| v.and_then(|t| t.v.as_str().map(str::to_string));
        let ty = text(obj.opt("type"));
        let key_name = text(obj.opt("name"));
        let key_in = text(obj.opt("in"));
        let oidc_url = obj.opt_non_null("openIdConnectUrl");
        let kind = if authtype.as_deref() == Some("awssigv4") {
            SchemeKind::Iam
        } else if let Some(a) = authorizer
            .as_ref()
            .filter(|a| super::lambda_authorizers::is_lambda(a))
        {
            match super::lambda_authorizers::read_scheme(name, a, protocol, errors) {
                Some(l) => {
                    out.lambda.push(l);
                    SchemeKind::Lambda(out.lambda.len() - 1)
                }
                None => SchemeKind::Invalid,
            }
        } else if let Some(a) = authorizer {
            let scheme = SchemeCtx {
                name,
                protocol,
                key_name: key_name.as_deref(),
                key_in: key_in.as_deref(),
                oidc_url: oidc_url.as_ref(),
            };
            match authorizer_scheme(&a, &scheme, errors) {
                Ok(Some(jwt)) => {
                    out.jwt.push(jwt);
                    SchemeKind::Jwt(out.jwt.len() - 1)
                }
                Ok(None) => SchemeKind::Invalid,
                Err(message) => SchemeKind::Unsupported(message),
            }
        } else if ty.as_deref() == Some("apiKey") {
            let header = key_in.as_deref() == Some("header")
                && key_name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case("x-api-key"));
            if header {
                SchemeKind::ApiKey
            } else {
                SchemeKind::OtherApiKey
            }
        } else {
            SchemeKind::Unsupported(format!(
                "security scheme `{name}` has no `x-amazon-apigateway-authorizer`: API Gateway needs one to enforce it (`{{type: jwt, jwtConfiguration: {{issuer, audience}}}}`)"
            ))
        };
        obj.accept("flows");
        obj.accept("scheme");
        obj.accept("bearerFormat");
        obj.accept("description");
        obj.finish_ext(errors);
        out.kinds.push((name.to_string(), kind));
    }
}

struct SchemeCtx<'s, 'a> {
    name: &'s str,
    protocol: Protocol,
    key_name: Option<&'s str>,
    key_in: Option<&'s str>,
    oidc_url: Option<&'s Node<'a>>,
}

/// `x-amazon-apigateway-authorizer`: `Ok(Some)` a JWT authorizer, `Ok(None)` invalid (errors
/// reported here), `Err` a kind of authorizer that is not supported yet.
fn authorizer_scheme(
    node: &Node<'_>,
    s: &SchemeCtx<'_, '_>,
    errors: &mut Errors,
) -> Result<Option<JwtScheme>, String> {
    let name = s.name;
    let Some(mut obj) = node.obj(errors) else {
        return Ok(None);
    };
    let ty = obj
        .req("type", errors)
        .and_then(|t| t.str(errors).map(|v| (v.to_ascii_lowercase(), t)));
    let Some((ty, ty_node)) = ty else {
        return Ok(None);
    };
    match ty.as_str() {
        "jwt" if s.protocol == Protocol::Rest => {
            ty_node.err(
                errors,
                "JWT authorizers (`type: jwt`) are an HTTP API feature: REST APIs use `cognito_user_pools`",
            );
            return Ok(None);
        }
        "cognito_user_pools" if s.protocol == Protocol::Http => {
            ty_node.err(
                errors,
                "`cognito_user_pools` authorizers are a REST API feature: HTTP APIs use `type: jwt` with the user pool as issuer",
            );
            return Ok(None);
        }
        "jwt" | "cognito_user_pools" => {}
        other => {
            ty_node.err(
                errors,
                format!("unknown authorizer type `{other}`: expected jwt (HTTP APIs), cognito_user_pools, token or request (REST APIs)"),
            );
            return Ok(None);
        }
    }
    let before = errors.len();
    let scheme = if ty == "jwt" {
        jwt_config(&mut obj, s, errors)
    } else {
        cognito_config(&mut obj, s, errors)
    };
    for key in [
        "authorizerResultTtlInSeconds",
        "authorizerPayloadFormatVersion",
        "enableSimpleResponses",
    ] {
        obj.accept(key);
    }
    obj.finish_ext(errors);
    Ok(scheme.filter(|_| errors.len() == before).map(
        |(issuer, audiences, header, discovery_url)| JwtScheme {
            name: name.to_string(),
            issuer,
            audiences,
            header,
            discovery_url,
        },
    ))
}

type Parts = (String, Option<Vec<String>>, String, Option<String>);

/// HTTP APIs: `jwtConfiguration {issuer, audience[]}` and `identitySource`.
fn jwt_config(
    obj: &mut super::reader::Obj<'_>,
    s: &SchemeCtx<'_, '_>,
    errors: &mut Errors,
) -> Option<Parts> {
    let header = match obj.opt_non_null("identitySource") {
        None => Some("authorization".to_string()),
        Some(n) => identity_header(&n, errors),
    };
    let discovery_url = s.oidc_url.and_then(|n| {
        let url = n.str(errors)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            n.err(
                errors,
                format!("`openIdConnectUrl` `{url}` is not an http(s) URL"),
            );
            return None;
        }
        Some((url.to_string(), n.clone()))
    });
    let config = obj.req("jwtConfiguration", errors)?;
    let mut cfg = config.obj(errors)?;
    let issuer = match cfg.opt_non_null("issuer") {
        Some(i) => i.str(errors).map(str::to_string),
        None => match &discovery_url {
            // "With OpenAPI 3 `openIdConnectUrl` the issuer is auto-discovered" (SPEC-NOTES
            // §4): the issuer is the URL without the discovery suffix.
            Some((url, n)) => match url.strip_suffix(DISCOVERY_SUFFIX) {
                Some(issuer) => Some(issuer.to_string()),
                None => {
                    n.err(errors, format!("`openIdConnectUrl` must end in `{DISCOVERY_SUFFIX}` when `jwtConfiguration.issuer` is not given"));
                    None
                }
            },
            None => {
                config.err(errors, "missing required property `issuer` (or an `openIdConnectUrl` on the security scheme)");
                None
            }
        },
    };
    if let Some(i) = &issuer
        && !(i.starts_with("https://") || i.starts_with("http://"))
    {
        config.err(errors, format!("issuer `{i}` is not an http(s) URL"));
    }
    let mut audiences = Vec::new();
    if let Some(a) = cfg.req("audience", errors) {
        let items = a.arr(errors).unwrap_or_default();
        if items.is_empty() {
            a.err(errors, "give at least one audience");
        } else if items.len() > 50 {
            // API Gateway's limit (SPEC-NOTES §1.4).
            a.err(errors, "at most 50 audiences");
        }
        for item in items {
            if let Some(v) = item.str(errors) {
                audiences.push(v.to_string());
            }
        }
    }
    cfg.finish_ext(errors);
    Some((
        issuer?,
        Some(audiences),
        header?,
        discovery_url.map(|(u, _)| u),
    ))
}

/// `$request.header.NAME` (one source).
fn identity_header(n: &Node<'_>, errors: &mut Errors) -> Option<String> {
    let v = n.str(errors)?;
    let header = v.trim().strip_prefix("$request.header.").filter(|h| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    });
    if header.is_none() {
        n.err(
            errors,
            format!("identitySource `{v}`: a JWT authorizer takes one `$request.header.NAME`"),
        );
    }
    header.map(str::to_ascii_lowercase)
}

/// REST Cognito user pools: `{type: apiKey, name: Authorization, in: header,
/// x-amazon-apigateway-authtype: cognito_user_pools, x-amazon-apigateway-authorizer: {type:
/// cognito_user_pools, providerARNs: [...]}}`. The issuer of pool
/// `arn:aws:cognito-idp:{region}:{account}:userpool/{poolId}` is
/// `https://cognito-idp.{region}.amazonaws.com/{poolId}`.
fn cognito_config(
    obj: &mut super::reader::Obj<'_>,
    s: &SchemeCtx<'_, '_>,
    errors: &mut Errors,
) -> Option<Parts> {
    if let Some(src) = obj.opt_non_null("identitySource") {
        src.str(errors);
    }
    let header = match (s.key_in, s.key_name) {
        (Some("header"), Some(h))
            if !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) =>
        {
            Some(h.to_ascii_lowercase())
        }
        _ => {
            obj.node.err(
                errors,
                format!("Cognito security scheme `{}` needs `type: apiKey`, `in: header` and the header's `name` (e.g. Authorization)", s.name),
            );
            None
        }
    };
    let arns = obj.req("providerARNs", errors)?;
    let items = arns.arr(errors)?;
    if items.len() != 1 {
        arns.err(
            errors,
            "give exactly one user pool ARN: several user pools per authorizer are not supported yet",
        );
        return None;
    }
    let arn_node = &items[0];
    let arn = arn_node.str(errors)?;
    let issuer = cognito_issuer(arn);
    if issuer.is_none() {
        arn_node.err(
            errors,
            format!("`{arn}` is not a user pool ARN (`arn:aws:cognito-idp:{{region}}:{{account}}:userpool/{{poolId}}`)"),
        );
    }
    Some((issuer?, None, header?, None))
}

/// `arn:{partition}:cognito-idp:{region}:{account}:userpool/{poolId}` → the pool's issuer.
pub(crate) fn cognito_issuer(arn: &str) -> Option<String> {
    let a = super::arn::Arn::parse(arn).filter(|a| a.service == "cognito-idp")?;
    let (region, pool) = (a.region, a.resource.strip_prefix("userpool/")?);
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (ok(region) && ok(pool)).then(|| format!("https://cognito-idp.{region}.amazonaws.com/{pool}"))
}

/// A `security` array: what it requires. Alternatives (several items) may name the same
/// authorizer; two different authorizers, Lambda authorizers and IAM are refused.
pub(crate) fn check_security(
    node: &Node<'_>,
    schemes: &Schemes,
    protocol: Protocol,
    errors: &mut Errors,
) -> Security {
    let mut out = Security::default();
    for item in node.arr(errors).unwrap_or_default() {
        for (name, n) in item.entries(errors).unwrap_or_default() {
            let message = match schemes
                .kinds
                .iter()
                .find(|(s, _)| s == name)
                .map(|(_, k)| k)
            {
                Some(SchemeKind::ApiKey) if protocol == Protocol::Rest => {
                    out.api_key = true;
                    continue;
                }
                Some(SchemeKind::Jwt(i)) => {
                    let scopes: Vec<String> = n
                        .arr(errors)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|s| s.str(errors).map(str::to_string))
                        .collect();
                    match (&out.jwt, out.lambda) {
                        _ if out.iam => format!(
                            "one authorizer per route: `{name}` and AWS_IAM are both required"
                        ),
                        (Some((j, _)), _) if j != i => format!(
                            "one authorizer per route: `{name}` and `{}` are both required",
                            schemes.jwt[*j].name
                        ),
                        (_, Some(l)) => format!(
                            "one authorizer per route: `{name}` and `{}` are both required",
                            schemes.lambda[l].name
                        ),
                        _ => {
                            out.jwt = Some((*i, scopes));
                            continue;
                        }
                    }
                }
                Some(SchemeKind::Lambda(i)) => {
                    let other = match (&out.jwt, out.lambda) {
                        _ if out.iam => Some("AWS_IAM"),
                        (Some((j, _)), _) => Some(schemes.jwt[*j].name.as_str()),
                        (_, Some(l)) if l != *i => Some(schemes.lambda[l].name.as_str()),
                        _ => None,
                    };
                    match other {
                        Some(o) => format!(
                            "one authorizer per route: `{name}` and `{o}` are both required"
                        ),
                        None => {
                            out.lambda = Some(*i);
                            continue;
                        }
                    }
                }
                Some(SchemeKind::Invalid) => continue,
                Some(SchemeKind::ApiKey) => format!(
                    "HTTP APIs have no API keys (security scheme `{name}`): API keys and usage plans are REST API features"
                ),
                Some(SchemeKind::OtherApiKey) => format!(
                    "security scheme `{name}` is an apiKey scheme other than API Gateway's: API keys are read from the `x-api-key` header (`{{type: apiKey, name: x-api-key, in: header}}`)"
                ),
                Some(SchemeKind::Unsupported(m)) => m.clone(),
                Some(SchemeKind::Iam) if out.jwt.is_none() && out.lambda.is_none() => {
                    out.iam = true;
                    continue;
                }
                Some(SchemeKind::Iam) => format!(
                    "one authorizer per route: `{name}` (AWS_IAM) and another authorizer are both required"
                ),
                None => format!("security scheme `{name}` is not defined"),
            };
            n.err(errors, message);
        }
    }
    out
}

/// `x-amazon-apigateway-auth` on an operation: `{type: NONE}` or `{type: AWS_IAM}` (the
/// method requires SigV4; not together with a JWT authorizer).
pub(crate) fn check_auth(node: &Node<'_>, security: &mut Security, errors: &mut Errors) {
    let Some(mut obj) = node.obj(errors) else {
        return;
    };
    if let Some(t) = obj.req("type", errors)
        && let Some(s) = t.str(errors)
    {
        if s.eq_ignore_ascii_case("aws_iam") {
            if security.jwt.is_some() || security.lambda.is_some() {
                t.err(
                    errors,
                    "one authorizer per route: AWS_IAM and another authorizer are both required",
                );
            }
            security.iam = true;
        } else if !s.eq_ignore_ascii_case("none") {
            t.err(
                errors,
                format!("unknown x-amazon-apigateway-auth type `{s}`: expected NONE or AWS_IAM"),
            );
        }
    }
    obj.finish_ext(errors);
}

#[cfg(test)]
mod tests {
    use super::cognito_issuer;

    #[test]
    fn cognito_issuer_from_the_pool_arn() {
        assert_eq!(
            cognito_issuer("arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbC123")
                .as_deref(),
            Some("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123")
        );
        for bad in [
            "arn:aws:cognito-idp:us-east-1:1:identitypool/x",
            "arn:aws:lambda:us-east-1:1:userpool/x",
            "arn:aws:cognito-idp::1:userpool/x",
            "arn:aws:cognito-idp:us-east-1:1:userpool/a/b",
        ] {
            assert_eq!(cognito_issuer(bad), None, "{bad}");
        }
    }
}
