//! Security schemes and requirements of an OpenAPI document. API Gateway API keys (a
//! `type: apiKey` scheme named `x-api-key` in the header, without an authorizer) make a REST
//! method `apiKeyRequired`; authorizers and IAM are reported by scheme name until they land.

use super::Protocol;
use super::reader::{Errors, Node};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SchemeKind {
    /// `x-amazon-apigateway-authorizer`, or an HTTP API JWT (`oauth2`, `openIdConnect`, `http`).
    Authorizer,
    /// `{type: apiKey, name: x-api-key, in: header}` without an authorizer: API Gateway API keys.
    ApiKey,
    /// `type: apiKey` without an authorizer, but not the `x-api-key` header.
    OtherApiKey,
    /// `x-amazon-apigateway-authtype: awsSigv4`.
    Iam,
}

pub(crate) type Schemes = Vec<(String, SchemeKind)>;

/// `components.securitySchemes` (OpenAPI 3) or `securityDefinitions` (Swagger 2).
pub(crate) fn read_schemes(node: &Node<'_>, out: &mut Schemes, errors: &mut Errors) {
    for (name, n) in node.entries(errors).unwrap_or_default() {
        let Some(mut obj) = n.obj(errors) else {
            continue;
        };
        let authorizer = obj.opt("x-amazon-apigateway-authorizer").is_some();
        let authtype = obj
            .opt("x-amazon-apigateway-authtype")
            .and_then(|t| t.v.as_str().map(str::to_ascii_lowercase));
        let text = |v: Option<Node<'_>>| v.and_then(|t| t.v.as_str().map(str::to_string));
        let ty = text(obj.opt("type"));
        let key_name = text(obj.opt("name"));
        let key_in = text(obj.opt("in"));
        let kind = if authtype.as_deref() == Some("awssigv4") {
            SchemeKind::Iam
        } else if !authorizer && ty.as_deref() == Some("apiKey") {
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
            SchemeKind::Authorizer
        };
        obj.finish_ext(errors);
        out.push((name.to_string(), kind));
    }
}

/// A `security` array. Returns whether it requires an API Gateway API key; every other
/// non-empty requirement names a scheme tollgate cannot enforce yet.
pub(crate) fn check_security(
    node: &Node<'_>,
    schemes: &Schemes,
    protocol: Protocol,
    errors: &mut Errors,
) -> bool {
    let mut api_key = false;
    for item in node.arr(errors).unwrap_or_default() {
        for (name, n) in item.entries(errors).unwrap_or_default() {
            let message = match schemes.iter().find(|(s, _)| s == name).map(|(_, k)| k) {
                Some(SchemeKind::ApiKey) if protocol == Protocol::Rest => {
                    api_key = true;
                    continue;
                }
                Some(SchemeKind::ApiKey) => format!(
                    "HTTP APIs have no API keys (security scheme `{name}`): API keys and usage plans are REST API features"
                ),
                Some(SchemeKind::OtherApiKey) => format!(
                    "security scheme `{name}` is an apiKey scheme other than API Gateway's: API keys are read from the `x-api-key` header (`{{type: apiKey, name: x-api-key, in: header}}`)"
                ),
                Some(SchemeKind::Authorizer) => {
                    format!("authorizers are not supported yet (security scheme `{name}`)")
                }
                Some(SchemeKind::Iam) => {
                    format!("IAM authorization is not supported yet (security scheme `{name}`)")
                }
                None => format!("security scheme `{name}` is not defined"),
            };
            n.err(errors, message);
        }
    }
    api_key
}

/// `x-amazon-apigateway-auth` on an operation: `{type: NONE}` is accepted; `AWS_IAM` is
/// reported as not supported yet.
pub(crate) fn check_auth(node: &Node<'_>, errors: &mut Errors) {
    let Some(mut obj) = node.obj(errors) else {
        return;
    };
    if let Some(t) = obj.req("type", errors)
        && let Some(s) = t.str(errors)
    {
        if s.eq_ignore_ascii_case("aws_iam") {
            t.err(errors, "IAM authorization is not supported yet");
        } else if !s.eq_ignore_ascii_case("none") {
            t.err(
                errors,
                format!("unknown x-amazon-apigateway-auth type `{s}`: expected NONE or AWS_IAM"),
            );
        }
    }
    obj.finish_ext(errors);
}
