//! Security schemes and requirements of an OpenAPI document. Until authorizers land, any
//! non-empty requirement is reported by scheme name.

use super::reader::{Errors, Node};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SchemeKind {
    /// `x-amazon-apigateway-authorizer`, or an HTTP API JWT (`oauth2`, `openIdConnect`, `http`).
    Authorizer,
    /// `type: apiKey` without an authorizer: API Gateway API keys.
    ApiKey,
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
        let ty = obj
            .opt("type")
            .and_then(|t| t.v.as_str().map(str::to_string));
        let kind = if authtype.as_deref() == Some("awssigv4") {
            SchemeKind::Iam
        } else if !authorizer && ty.as_deref() == Some("apiKey") {
            SchemeKind::ApiKey
        } else {
            SchemeKind::Authorizer
        };
        obj.finish_ext(errors);
        out.push((name.to_string(), kind));
    }
}

/// A `security` array: every non-empty requirement names a scheme tollgate cannot enforce yet.
pub(crate) fn check_security(node: &Node<'_>, schemes: &Schemes, errors: &mut Errors) {
    for item in node.arr(errors).unwrap_or_default() {
        for (name, n) in item.entries(errors).unwrap_or_default() {
            let message = match schemes.iter().find(|(s, _)| s == name).map(|(_, k)| k) {
                Some(SchemeKind::Authorizer) => {
                    format!("authorizers are not supported yet (security scheme `{name}`)")
                }
                Some(SchemeKind::ApiKey) => {
                    format!("API keys are not supported yet (security scheme `{name}`)")
                }
                Some(SchemeKind::Iam) => {
                    format!("IAM authorization is not supported yet (security scheme `{name}`)")
                }
                None => format!("security scheme `{name}` is not defined"),
            };
            n.err(errors, message);
        }
    }
}
