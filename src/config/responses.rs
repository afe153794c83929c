//! Gateway responses: `x-amazon-apigateway-gateway-responses` validation and pre-rendering of
//! every `ErrorKind` (SPEC-NOTES §2), plus the shared status-line renderer.

use bytes::Bytes;

use super::reader::{Errors, Node};
use super::templates::{check_literal_template, pick_template};
use super::{ErrorKind, GatewayResponses, Protocol, Rendered};

/// API Gateway's gateway response types (botocore `GatewayResponseType`).
pub(crate) const RESPONSE_TYPES: [&str; 21] = [
    "DEFAULT_4XX",
    "DEFAULT_5XX",
    "RESOURCE_NOT_FOUND",
    "UNAUTHORIZED",
    "INVALID_API_KEY",
    "ACCESS_DENIED",
    "AUTHORIZER_FAILURE",
    "AUTHORIZER_CONFIGURATION_ERROR",
    "INVALID_SIGNATURE",
    "EXPIRED_TOKEN",
    "MISSING_AUTHENTICATION_TOKEN",
    "INTEGRATION_FAILURE",
    "INTEGRATION_TIMEOUT",
    "API_CONFIGURATION_ERROR",
    "UNSUPPORTED_MEDIA_TYPE",
    "BAD_REQUEST_PARAMETERS",
    "BAD_REQUEST_BODY",
    "REQUEST_TOO_LARGE",
    "THROTTLED",
    "QUOTA_EXCEEDED",
    "WAF_FILTERED",
];

/// The message of a response whose `$context.error.messageString` is JSON `null`.
const NULL_MESSAGE: &str = "null";

/// One configured gateway response.
#[derive(Clone, Debug, Default)]
pub(crate) struct CustomResponse {
    pub status: Option<u16>,
    /// `gatewayresponse.header.X` → static value.
    pub headers: Vec<(String, String)>,
    /// (content type, literal template).
    pub template: Option<(String, String)>,
}

/// The configured responses of one API, by type.
#[derive(Clone, Debug, Default)]
pub(crate) struct ResponsesSpec {
    pub custom: Vec<(&'static str, CustomResponse)>,
}

impl ResponsesSpec {
    fn get(&self, ty: &str) -> Option<&CustomResponse> {
        self.custom.iter().find(|(t, _)| *t == ty).map(|(_, r)| r)
    }
}

/// Built-in response of a kind: status, gateway response type, message, literal body and
/// `x-amzn-ErrorType` (REST only).
struct BuiltIn {
    status: u16,
    ty: Option<&'static str>,
    message: &'static str,
    body: &'static str,
    error_type: Option<&'static str>,
}

fn built_in(kind: ErrorKind, protocol: Protocol) -> BuiltIn {
    let rest = protocol == Protocol::Rest;
    let b = |status, ty, message, body, error_type| BuiltIn {
        status,
        ty,
        message,
        body,
        error_type,
    };
    match kind {
        ErrorKind::MissingAuthenticationToken if rest => b(
            403,
            Some("MISSING_AUTHENTICATION_TOKEN"),
            "Missing Authentication Token",
            r#"{"message":"Missing Authentication Token"}"#,
            Some("MissingAuthenticationTokenException"),
        ),
        // HTTP APIs answer a missing route with 404 Not Found.
        ErrorKind::MissingAuthenticationToken | ErrorKind::NotFound => b(
            404,
            Some("RESOURCE_NOT_FOUND"),
            "Not Found",
            r#"{"message":"Not Found"}"#,
            None,
        ),
        // Unknown stage/base path: decided before any API's gateway responses apply.
        ErrorKind::Forbidden => b(
            403,
            None,
            "Forbidden",
            r#"{"message":"Forbidden"}"#,
            rest.then_some("ForbiddenException"),
        ),
        // Captures of API Gateway's 504 carry `x-amzn-ErrorType: InternalServerErrorException`
        // with this body (SPEC-NOTES §2 marks the type as unverified).
        ErrorKind::IntegrationTimeout | ErrorKind::FunctionTimeout if rest => b(
            504,
            Some("INTEGRATION_TIMEOUT"),
            "Endpoint request timed out",
            r#"{"message": "Endpoint request timed out"}"#,
            Some("InternalServerErrorException"),
        ),
        ErrorKind::IntegrationTimeout => b(
            504,
            None,
            "Gateway Timeout",
            r#"{"message":"Gateway Timeout"}"#,
            None,
        ),
        ErrorKind::IntegrationFailure | ErrorKind::FunctionFailure if rest => b(
            502,
            Some("INTEGRATION_FAILURE"),
            "Internal server error",
            r#"{"message": "Internal server error"}"#,
            Some("InternalServerErrorException"),
        ),
        ErrorKind::IntegrationFailure => b(
            502,
            None,
            "Internal Server Error",
            r#"{"message":"Internal Server Error"}"#,
            None,
        ),
        ErrorKind::RequestTooLarge => b(
            413,
            rest.then_some("REQUEST_TOO_LARGE"),
            "Request Too Long",
            r#"{"message":"Request Too Long"}"#,
            None,
        ),
        ErrorKind::InternalError if rest => b(
            500,
            Some("API_CONFIGURATION_ERROR"),
            "Internal server error",
            r#"{"message": "Internal server error"}"#,
            None,
        ),
        ErrorKind::InternalError => b(
            500,
            None,
            "Internal Server Error",
            r#"{"message":"Internal Server Error"}"#,
            None,
        ),
        ErrorKind::InvalidApiKey => b(
            403,
            Some("INVALID_API_KEY"),
            "Forbidden",
            r#"{"message":"Forbidden"}"#,
            rest.then_some("ForbiddenException"),
        ),
        ErrorKind::Throttled => b(
            429,
            rest.then_some("THROTTLED"),
            "Too Many Requests",
            r#"{"message":"Too Many Requests"}"#,
            rest.then_some("TooManyRequestsException"),
        ),
        ErrorKind::QuotaExceeded => b(
            429,
            Some("QUOTA_EXCEEDED"),
            "Limit Exceeded",
            r#"{"message":"Limit Exceeded"}"#,
            rest.then_some("LimitExceededException"),
        ),
        // SPEC-NOTES §6 does not record the body of a denied invalidation; this is API
        // Gateway's ACCESS_DENIED "No matching Allow" text (SPEC-NOTES §2), as an IAM
        // `execute-api:InvalidateCache` check without an Allow would give.
        ErrorKind::CacheInvalidationDenied => b(
            403,
            Some("ACCESS_DENIED"),
            "User is not authorized to access this resource",
            r#"{"Message":"User is not authorized to access this resource"}"#,
            rest.then_some("AccessDeniedException"),
        ),
        // SPEC-NOTES §1.2/§1.4/§2: a failed JWT authorizer or a missing identity source is
        // 401 `{"message":"Unauthorized"}` (UNAUTHORIZED, UnauthorizedException on REST).
        ErrorKind::Unauthorized => b(
            401,
            Some("UNAUTHORIZED"),
            "Unauthorized",
            r#"{"message":"Unauthorized"}"#,
            rest.then_some("UnauthorizedException"),
        ),
        // SPEC-NOTES does not record the missing-scope answer. 403 per RFC 6750 §3.1
        // (`insufficient_scope`); REST uses ACCESS_DENIED's default body, HTTP APIs the
        // generic `Forbidden` (both unverified).
        ErrorKind::InsufficientScope if rest => b(
            403,
            Some("ACCESS_DENIED"),
            "User is not authorized to access this resource",
            r#"{"Message":"User is not authorized to access this resource"}"#,
            Some("AccessDeniedException"),
        ),
        ErrorKind::InsufficientScope => {
            b(403, None, "Forbidden", r#"{"message":"Forbidden"}"#, None)
        }
        // SPEC-NOTES §1.4: a Lambda authorizer's policy without a matching Allow, or with an
        // explicit Deny (capital `M`); HTTP APIs answer both (and a simple response
        // `isAuthorized: false`) with 403 Forbidden.
        ErrorKind::AuthorizerDenied if rest => b(
            403,
            Some("ACCESS_DENIED"),
            "User is not authorized to access this resource",
            r#"{"Message":"User is not authorized to access this resource"}"#,
            Some("AccessDeniedException"),
        ),
        ErrorKind::AuthorizerExplicitDeny if rest => b(
            403,
            Some("ACCESS_DENIED"),
            "User is not authorized to access this resource with an explicit deny",
            r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#,
            Some("AccessDeniedException"),
        ),
        ErrorKind::AuthorizerDenied | ErrorKind::AuthorizerExplicitDeny => {
            b(403, None, "Forbidden", r#"{"message":"Forbidden"}"#, None)
        }
        // SPEC-NOTES §1.4/§2: any other authorizer failure (an error other than
        // `Unauthorized`, invalid output, no answer) → 500 `{"message": null}`.
        ErrorKind::AuthorizerConfiguration if rest => b(
            500,
            Some("AUTHORIZER_CONFIGURATION_ERROR"),
            NULL_MESSAGE,
            r#"{"message": null}"#,
            Some("AuthorizerConfigurationException"),
        ),
        ErrorKind::AuthorizerConfiguration => b(
            500,
            None,
            "Internal Server Error",
            r#"{"message":"Internal Server Error"}"#,
            None,
        ),
        // SPEC-NOTES §1.3 "HTTP API error bodies": a malformed response or integration error
        // → 500; a timeout → 503.
        ErrorKind::FunctionFailure => b(
            500,
            None,
            "Internal Server Error",
            r#"{"message":"Internal Server Error"}"#,
            None,
        ),
        ErrorKind::FunctionTimeout => b(
            503,
            None,
            "Service Unavailable",
            r#"{"message":"Service Unavailable"}"#,
            None,
        ),
    }
}

/// `$context.error.message` and `$context.error.responseType` of the built-in response for
/// `kind` (access logs). A kind without its own type on `protocol` reports its default
/// class, `DEFAULT_4XX` or `DEFAULT_5XX`.
pub fn error_context(kind: ErrorKind, protocol: Protocol) -> (&'static str, &'static str) {
    let b = built_in(kind, protocol);
    let ty = b.ty.unwrap_or(if b.status >= 500 {
        "DEFAULT_5XX"
    } else {
        "DEFAULT_4XX"
    });
    (b.message, ty)
}

/// The table of an API (or the edge, with an empty spec): a configured specific type wins,
/// then DEFAULT_4XX/DEFAULT_5XX by the type's default status class, then the built-in.
/// Customized responses keep the built-in `x-amzn-ErrorType`.
pub(crate) fn render_responses(protocol: Protocol, spec: &ResponsesSpec) -> GatewayResponses {
    GatewayResponses {
        table: ErrorKind::ALL.map(|kind| render_kind(kind, protocol, spec)),
    }
}

fn render_kind(kind: ErrorKind, protocol: Protocol, spec: &ResponsesSpec) -> Rendered {
    let b = built_in(kind, protocol);
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(t) = b.error_type {
        headers.push(("x-amzn-ErrorType".into(), t.into()));
    }
    let custom = b.ty.and_then(|ty| {
        let class = if b.status < 500 {
            "DEFAULT_4XX"
        } else {
            "DEFAULT_5XX"
        };
        spec.get(ty).or_else(|| spec.get(class))
    });
    let Some(c) = custom else {
        return render(b.status, "application/json", &headers, b.body.as_bytes());
    };
    let (content_type, body) = match &c.template {
        Some((ct, text)) => (ct.as_str(), substitute(text, b.message)),
        None => (
            "application/json",
            substitute("{\"message\":$context.error.messageString}", b.message),
        ),
    };
    headers.extend(c.headers.iter().cloned());
    render(
        c.status.unwrap_or(b.status),
        content_type,
        &headers,
        body.as_bytes(),
    )
}

fn substitute(template: &str, message: &str) -> String {
    // AUTHORIZER_CONFIGURATION_ERROR's message is JSON `null` (SPEC-NOTES §2).
    let quoted = if message == NULL_MESSAGE {
        "null".to_string()
    } else {
        serde_json::to_string(message).unwrap_or_default()
    };
    template
        .replace("$context.error.messageString", &quoted)
        .replace("$context.error.message", message)
}

/// `HTTP/1.1 {status} {reason}\r\n`, `content-type`, then the header lines. A header named
/// `content-type` replaces the default one.
pub(crate) fn render(
    status: u16,
    content_type: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Rendered {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\n",
        crate::http1::reason_phrase(status)
    );
    let ct = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map_or(content_type, |(_, v)| v);
    head.push_str(&format!("content-type: {ct}\r\n"));
    for (name, value) in headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("content-type"))
    {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    Rendered {
        status,
        head: Bytes::from(head),
        body: Bytes::copy_from_slice(body),
    }
}

/// A status code written as a string or a number, 100..=599.
pub(crate) fn status_code(n: &Node<'_>, errors: &mut Errors) -> Option<u16> {
    let s = n.str_or_number(errors)?;
    match s.parse::<u16>() {
        Ok(v) if (100..=599).contains(&v) => Some(v),
        _ => {
            n.err(
                errors,
                format!("`{s}` is not an HTTP status code (100 to 599)"),
            );
            None
        }
    }
}

/// `'static value'` → `static value`.
pub(crate) fn quoted_literal(s: &str) -> Option<&str> {
    s.strip_prefix('\'')?.strip_suffix('\'')
}

pub(crate) fn header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

pub(crate) fn header_value_ok(v: &str) -> bool {
    v.bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80)
}

/// Validate `x-amazon-apigateway-gateway-responses`.
pub(crate) fn validate_gateway_responses(node: &Node<'_>, errors: &mut Errors) -> ResponsesSpec {
    let mut spec = ResponsesSpec::default();
    for (ty, n) in node.entries(errors).unwrap_or_default() {
        let Some(&ty) = RESPONSE_TYPES.iter().find(|t| **t == ty) else {
            n.err(errors, format!("unknown gateway response type `{ty}`"));
            continue;
        };
        let Some(mut obj) = n.obj(errors) else {
            continue;
        };
        let mut r = CustomResponse::default();
        if let Some(s) = obj.opt_non_null("statusCode") {
            r.status = status_code(&s, errors);
        }
        if let Some(p) = obj.opt_non_null("responseParameters") {
            for (key, value, vn) in p.string_map(errors).unwrap_or_default() {
                let Some(name) = key.strip_prefix("gatewayresponse.header.") else {
                    vn.err(
                        errors,
                        format!("gateway response parameter `{key}` is not supported yet"),
                    );
                    continue;
                };
                if !header_name_ok(name) {
                    vn.err(errors, format!("invalid header name `{name}`"));
                    continue;
                }
                match quoted_literal(value) {
                    Some(v) if header_value_ok(v) => r.headers.push((name.to_string(), v.to_string())),
                    Some(_) => vn.err(errors, "header values cannot contain control characters"),
                    None => vn.err(errors, format!("gateway response parameter value `{value}` is not supported yet (only static '...' values are)")),
                }
            }
        }
        if let Some(t) = obj.opt_non_null("responseTemplates")
            && let Some((ct, text, tn)) = pick_template(&t, errors)
            && check_literal_template(
                &tn,
                text,
                &["$context.error.messageString", "$context.error.message"],
                errors,
            )
        {
            r.template = Some((ct.to_string(), text.to_string()));
        }
        obj.accept("defaultResponse");
        obj.finish(errors);
        spec.custom.push((ty, r));
    }
    spec
}

#[cfg(test)]
mod tests;
