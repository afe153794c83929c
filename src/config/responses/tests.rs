use std::path::Path;

use serde_json::{Value, json};

use super::*;

fn text(r: &Rendered) -> String {
    format!(
        "{}\r\n{}",
        String::from_utf8_lossy(&r.head),
        String::from_utf8_lossy(&r.body)
    )
}

fn spec(v: Value) -> (ResponsesSpec, Vec<String>) {
    let mut errors = Vec::new();
    let node = Node::root(&v, Path::new("api.json"), "$.r");
    let spec = validate_gateway_responses(&node, &mut errors);
    (
        spec,
        errors
            .into_iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect(),
    )
}

#[test]
fn rest_defaults() {
    let t = render_responses(Protocol::Rest, &ResponsesSpec::default());
    let get = |k| text(t.get(k));
    assert_eq!(
        get(ErrorKind::MissingAuthenticationToken),
        "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nx-amzn-ErrorType: MissingAuthenticationTokenException\r\n\r\n{\"message\":\"Missing Authentication Token\"}"
    );
    assert_eq!(
        get(ErrorKind::Forbidden),
        "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nx-amzn-ErrorType: ForbiddenException\r\n\r\n{\"message\":\"Forbidden\"}"
    );
    assert_eq!(
        get(ErrorKind::IntegrationTimeout),
        "HTTP/1.1 504 Gateway Timeout\r\ncontent-type: application/json\r\nx-amzn-ErrorType: InternalServerErrorException\r\n\r\n{\"message\": \"Endpoint request timed out\"}"
    );
    assert_eq!(
        get(ErrorKind::IntegrationFailure),
        "HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\nx-amzn-ErrorType: InternalServerErrorException\r\n\r\n{\"message\": \"Internal server error\"}"
    );
    assert_eq!(
        get(ErrorKind::RequestTooLarge),
        "HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\n\r\n{\"message\":\"Request Too Long\"}"
    );
    assert_eq!(
        get(ErrorKind::InternalError),
        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n\r\n{\"message\": \"Internal server error\"}"
    );
    assert_eq!(t.get(ErrorKind::NotFound).status, 404);
}

#[test]
fn http_api_defaults() {
    let t = render_responses(Protocol::Http, &ResponsesSpec::default());
    let get = |k| text(t.get(k));
    assert_eq!(
        get(ErrorKind::NotFound),
        "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n\r\n{\"message\":\"Not Found\"}"
    );
    assert_eq!(
        get(ErrorKind::MissingAuthenticationToken),
        get(ErrorKind::NotFound)
    );
    assert_eq!(
        get(ErrorKind::Forbidden),
        "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\n\r\n{\"message\":\"Forbidden\"}"
    );
    assert_eq!(
        get(ErrorKind::IntegrationTimeout),
        "HTTP/1.1 504 Gateway Timeout\r\ncontent-type: application/json\r\n\r\n{\"message\":\"Gateway Timeout\"}"
    );
    assert_eq!(
        get(ErrorKind::IntegrationFailure),
        "HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\n\r\n{\"message\":\"Internal Server Error\"}"
    );
    assert_eq!(
        get(ErrorKind::InternalError),
        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n\r\n{\"message\":\"Internal Server Error\"}"
    );
}

#[test]
fn custom_responses_and_fallbacks() {
    let (s, errors) = spec(json!({
        "MISSING_AUTHENTICATION_TOKEN": {
            "statusCode": 404,
            "responseParameters": {"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"},
            "responseTemplates": {"application/json": "{\"error\": $context.error.messageString, \"raw\": \"$context.error.message\"}"}
        },
        "DEFAULT_4XX": {"statusCode": "418", "responseTemplates": {}},
        "DEFAULT_5XX": {"responseParameters": {"gatewayresponse.header.X-Fail": "'yes'"},
                        "responseTemplates": {"text/plain": "failed: $context.error.message"}},
        "INTEGRATION_FAILURE": {"defaultResponse": false}
    }));
    assert_eq!(errors, Vec::<String>::new());
    let t = render_responses(Protocol::Rest, &s);
    let get = |k| text(t.get(k));
    assert_eq!(
        get(ErrorKind::MissingAuthenticationToken),
        "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\nx-amzn-ErrorType: MissingAuthenticationTokenException\r\nAccess-Control-Allow-Origin: *\r\n\r\n{\"error\": \"Missing Authentication Token\", \"raw\": \"Missing Authentication Token\"}"
    );
    // DEFAULT_4XX sets the status of every unconfigured 4XX type; no template → the default one.
    assert_eq!(
        get(ErrorKind::RequestTooLarge),
        "HTTP/1.1 418 I'm a teapot\r\ncontent-type: application/json\r\n\r\n{\"message\":\"Request Too Long\"}"
    );
    // Forbidden (unknown stage) is decided before gateway responses apply.
    assert_eq!(t.get(ErrorKind::Forbidden).status, 403);
    assert_eq!(
        get(ErrorKind::IntegrationTimeout),
        "HTTP/1.1 504 Gateway Timeout\r\ncontent-type: text/plain\r\nx-amzn-ErrorType: InternalServerErrorException\r\nX-Fail: yes\r\n\r\nfailed: Endpoint request timed out"
    );
    // A configured specific type wins over DEFAULT_5XX even when it changes nothing.
    assert_eq!(
        get(ErrorKind::IntegrationFailure),
        "HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\nx-amzn-ErrorType: InternalServerErrorException\r\n\r\n{\"message\":\"Internal server error\"}"
    );
}

#[test]
fn validation_errors() {
    let (_, errors) = spec(json!({
        "NOT_A_TYPE": {},
        "THROTTLED": {"statusCode": "4xx", "responseParameters": {
            "gatewayresponse.header.A": "method.request.header.A",
            "gatewayresponse.querystring.q": "'x'",
            "gatewayresponse.header.B C": "'x'"
        }, "responseTemplates": {"application/json": "{\"id\": \"$context.requestId\"}"}, "extra": 1},
        "BAD_REQUEST_BODY": {"responseTemplates": {"application/xml": "<a/>", "text/plain": "a"}}
    }));
    assert_eq!(
        errors,
        vec![
            "$.r.NOT_A_TYPE: unknown gateway response type `NOT_A_TYPE`",
            "$.r.THROTTLED.statusCode: `4xx` is not an HTTP status code (100 to 599)",
            "$.r.THROTTLED.responseParameters.gatewayresponse.header.A: gateway response parameter value `method.request.header.A` is not supported yet (only static '...' values are)",
            "$.r.THROTTLED.responseParameters.gatewayresponse.querystring.q: gateway response parameter `gatewayresponse.querystring.q` is not supported yet",
            "$.r.THROTTLED.responseParameters.gatewayresponse.header.B C: invalid header name `B C`",
            "$.r.THROTTLED.responseTemplates.application/json: `$context.requestId` is not supported yet in gateway response templates (only `$context.error.message` and `$context.error.messageString` are)",
            "$.r.THROTTLED.extra: unknown property `extra`",
            "$.r.BAD_REQUEST_BODY.responseTemplates: several templates and none for `application/json`: choosing a template by the request's Content-Type is not supported yet",
        ]
    );
}

#[test]
fn lambda_authorizer_responses() {
    let t = render_responses(Protocol::Rest, &ResponsesSpec::default());
    let get = |k| text(t.get(k));
    assert_eq!(
        get(ErrorKind::AuthorizerExplicitDeny),
        "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nx-amzn-ErrorType: AccessDeniedException\r\n\r\n{\"Message\":\"User is not authorized to access this resource with an explicit deny\"}"
    );
    assert_eq!(
        get(ErrorKind::AuthorizerDenied),
        "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nx-amzn-ErrorType: AccessDeniedException\r\n\r\n{\"Message\":\"User is not authorized to access this resource\"}"
    );
    assert_eq!(
        get(ErrorKind::AuthorizerConfiguration),
        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\nx-amzn-ErrorType: AuthorizerConfigurationException\r\n\r\n{\"message\": null}"
    );
    let h = render_responses(Protocol::Http, &ResponsesSpec::default());
    for k in [
        ErrorKind::AuthorizerDenied,
        ErrorKind::AuthorizerExplicitDeny,
    ] {
        assert_eq!(
            text(h.get(k)),
            "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\n\r\n{\"message\":\"Forbidden\"}"
        );
    }
    // Customized: the types are ACCESS_DENIED and AUTHORIZER_CONFIGURATION_ERROR, and the
    // configuration error's message stays JSON `null`.
    let (s, errors) = spec(json!({
        "ACCESS_DENIED": {"statusCode": 401, "responseTemplates": {"application/json": "{\"why\": $context.error.messageString}"}},
        "AUTHORIZER_CONFIGURATION_ERROR": {"responseTemplates": {"application/json": "{\"m\": $context.error.messageString}"}}
    }));
    assert_eq!(errors, Vec::<String>::new());
    let t = render_responses(Protocol::Rest, &s);
    assert_eq!(
        text(t.get(ErrorKind::AuthorizerExplicitDeny)),
        "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nx-amzn-ErrorType: AccessDeniedException\r\n\r\n{\"why\": \"User is not authorized to access this resource with an explicit deny\"}"
    );
    assert_eq!(
        String::from_utf8_lossy(&t.get(ErrorKind::AuthorizerConfiguration).body),
        "{\"m\": null}"
    );
}
