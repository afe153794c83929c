//! API definition rules, through `load_definition` (file `/cfg/api.json`, paths `$...`).

use super::*;
use crate::config::KeySource;

fn get(integration: Value) -> Value {
    doc(json!({"/pets/{id}": {"get": op(integration)}}))
}

fn one_error(r: Result<Snapshot, Vec<String>>) -> String {
    let mut e = errors_of(r);
    assert_eq!(e.len(), 1, "{e:#?}");
    e.remove(0)
}

#[test]
fn cloudformation_is_recognized() {
    let e = one_error(definition(
        json!({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}),
    ));
    assert_eq!(
        e,
        "api.json: $: this is a CloudFormation template, not an OpenAPI document: put the API's Body/DefinitionBody in its own file"
    );
    let e = one_error(definition(get(
        json!({"type": "http_proxy", "httpMethod": "GET",
        "uri": {"Fn::Sub": "http://${Host}/pets"}}),
    )));
    assert_eq!(
        e,
        "api.json: $.paths./pets/{id}.get.x-amazon-apigateway-integration.uri: CloudFormation intrinsic `Fn::Sub` is not supported: resolve it before loading"
    );
    let yaml = "swagger: '2.0'\ninfo: {title: !Ref Name}\npaths:\n  /a:\n    get:\n      x-amazon-apigateway-integration:\n        type: http_proxy\n        httpMethod: GET\n        uri: !Sub 'http://${Backend}/a'\n";
    assert_eq!(
        errors_of(definition_text(yaml)),
        vec![
            "api.json: $.info.title: CloudFormation intrinsic `Ref` is not supported: resolve it before loading",
            "api.json: $.paths./a.get.x-amazon-apigateway-integration.uri: CloudFormation intrinsic `Fn::Sub` is not supported: resolve it before loading",
        ]
    );
    let e = one_error(definition(get(json!({"Fn::If": ["c", {}, {}]}))));
    assert!(e.ends_with("x-amazon-apigateway-integration: CloudFormation intrinsic `Fn::If` is not supported: resolve it before loading"), "{e}");
}

#[test]
fn document_kind_and_version() {
    let e = one_error(definition(json!({"info": {}, "paths": {}})));
    assert_eq!(
        e,
        "api.json: $: not an OpenAPI document: expected `openapi: 3.0.x` or `swagger: \"2.0\"`"
    );
    let e = one_error(definition(json!({"openapi": "3.1.0", "paths": {}})));
    assert_eq!(
        e,
        "api.json: $.openapi: OpenAPI 3.1.0 is not supported: API Gateway imports OpenAPI 3.0 and Swagger 2.0"
    );
    assert!(definition(json!({"swagger": 2.0, "paths": {}})).is_ok());
    assert!(definition_text("openapi: 3.0\npaths: {}\n").is_ok());
    let e = one_error(definition(json!({"openapi": "3.0.0"})));
    assert_eq!(e, "api.json: $: missing required property `paths`");
}

#[test]
fn unresolved_placeholders_are_named() {
    let e = one_error(definition(get(proxy(
        "http://${backend_host}:8080/pets/{id}",
    ))));
    assert_eq!(
        e,
        "api.json: $.paths./pets/{id}.get.x-amazon-apigateway-integration.uri: unresolved placeholder `${backend_host}` in the integration URI: substitute it before loading (tollgate resolves only `${stageVariables.name}`)"
    );
}

#[test]
fn unsupported_integrations_are_named() {
    let path = "api.json: $.paths./pets/{id}.get.x-amazon-apigateway-integration";
    for (ty, shown) in [("aws", "AWS"), ("AWS", "AWS"), ("http", "HTTP")] {
        let e = one_error(definition(get(
            json!({"type": ty, "uri": "arn:aws:x", "httpMethod": "POST"}),
        )));
        assert_eq!(
            e,
            format!("{path}.type: integration type {shown} is not supported yet")
        );
    }
    let e = one_error(definition(get(json!({"type": "lambda"}))));
    assert_eq!(
        e,
        format!(
            "{path}.type: unknown integration type `LAMBDA`: expected HTTP_PROXY, MOCK, HTTP, AWS or AWS_PROXY"
        )
    );
    let e = one_error(definition(doc(json!({"/a": {"get": {"responses": {}}}}))));
    assert_eq!(
        e,
        "api.json: $.paths./a.get: operation has no x-amazon-apigateway-integration"
    );
    let errors = errors_of(definition(get(json!({
        "type": "http_proxy", "uri": "https://example.com/{id}", "timeoutInMillis": 30000,
        "connectionType": "VPC_LINK", "connectionId": "abc", "tlsConfig": {"serverNameToVerify": "x"}, "credentials": "arn", "contentHandling": "CONVERT_TO_TEXT",
        "passthroughBehavior": "sometimes", "payloadFormatVersion": "3.0", "surprise": 1
    }))));
    assert_eq!(
        errors,
        vec![
            format!(
                "{path}.passthroughBehavior: unknown passthroughBehavior `sometimes`: expected when_no_match, when_no_templates or never"
            ),
            format!(
                "{path}.payloadFormatVersion: unknown payloadFormatVersion `3.0`: expected 1.0 or 2.0"
            ),
            format!(
                "{path}.connectionType: VPC links are not supported yet (connectionType VPC_LINK)"
            ),
            format!("{path}.connectionId: VPC links are not supported yet (`connectionId`)"),
            format!("{path}.credentials: `credentials` is not supported yet"),
            format!("{path}.contentHandling: `contentHandling` is not supported yet"),
            format!("{path}.timeoutInMillis: 30000 is out of range: expected 50 to 29000"),
            format!(
                "{path}.tlsConfig.serverNameToVerify: `serverNameToVerify` applies to private integrations (VPC links), which are not supported yet"
            ),
            format!("{path}: missing required property `httpMethod`"),
            format!("{path}.surprise: unknown property `surprise`"),
        ]
    );
}

#[test]
fn http_proxy_uri_and_parameter_rules() {
    let path = "api.json: $.paths./pets/{id}.get.x-amazon-apigateway-integration";
    let errors = errors_of(definition(get(json!({
        "type": "http_proxy", "httpMethod": "FETCH", "uri": "http://{id}.example.com/{other}/{id}",
        "requestParameters": {
            "integration.request.header.Content-Length": "'5'",
            "integration.request.header.X-Body": "method.request.body",
            "integration.request.header.X-P": "method.request.path.nope",
            "integration.request.header.X-C": "context.authorizer.claims.sub",
            "integration.request.header.X-D": "context.authorizer.claims.a b",
            "integration.request.querystring.x": "method.request.multivaluequerystring.x",
            "integration.response.header.y": "'1'",
            "overwrite:header.z": "$request.header.z"
        }
    }))));
    assert_eq!(
        errors,
        vec![
            format!(
                "{path}.requestParameters.integration.request.header.Content-Length: mapping `integration.request.header.Content-Length` is not allowed: API Gateway answers such requests with 500"
            ),
            format!(
                "{path}.requestParameters.integration.request.header.X-Body: request parameter source `method.request.body` is not supported yet"
            ),
            format!(
                "{path}.requestParameters.integration.request.header.X-P: `method.request.path.nope`: `nope` is not a path parameter of `GET /pets/{{id}}`"
            ),
            format!(
                "{path}.requestParameters.integration.request.header.X-D: invalid claim name in `context.authorizer.claims.a b`"
            ),
            format!(
                "{path}.requestParameters.integration.request.querystring.x: request parameter source `method.request.multivaluequerystring.x` is not supported yet"
            ),
            format!(
                "{path}.requestParameters.integration.response.header.y: unknown request parameter `integration.response.header.y`: expected `integration.request.header|querystring|path.NAME`"
            ),
            format!(
                "{path}.requestParameters.overwrite:header.z: `overwrite:header.z` is HTTP API mapping syntax; REST APIs use `integration.request.header|querystring|path.NAME`"
            ),
            format!("{path}.httpMethod: unknown httpMethod `FETCH`"),
            format!(
                "{path}.uri: URI placeholder `{{other}}` is neither a path parameter of `GET /pets/{{id}}` nor mapped by `integration.request.path.other`"
            ),
            format!(
                "{path}.uri: a `{{placeholder}}` in the host of the integration URI is not supported: the host must be fixed per stage"
            ),
        ]
    );
    // A path mapping supplies a placeholder the route does not have.
    let ok = definition(get(json!({
        "type": "http_proxy", "httpMethod": "GET", "uri": "http://backend/{petId}",
        "requestParameters": {"integration.request.path.petId": "method.request.path.id"}
    })));
    assert!(ok.is_ok(), "{:?}", ok.err());
}

#[test]
fn security_requirements() {
    let mut d = doc(json!({
        "/a": {"get": {"security": [{"jwt": []}], "x-amazon-apigateway-integration": proxy("http://b/a")}},
        "/b": {"get": {"security": [{"key": []}, {"iam": []}, {"ghost": []}, {"lambda": []}], "x-amazon-apigateway-integration": proxy("http://b/b")}},
        "/c": {"get": {"security": [{}], "x-amazon-apigateway-integration": proxy("http://b/c")}}
    }));
    d["security"] = json!([{"jwt": []}]);
    d["components"] = json!({"securitySchemes": {
        "jwt": {"type": "oauth2", "x-amazon-apigateway-authorizer": {"type": "jwt"}},
        "key": {"type": "apiKey", "name": "x-api-key", "in": "header"},
        "iam": {"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4"},
        "lambda": {"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "custom",
                   "x-amazon-apigateway-authorizer": {"type": "request", "authorizerUri": "arn:x"}}
    }});
    // REST ignores root-level security, as API Gateway's import does; the API key scheme is
    // accepted (`apiKeyRequired`); `jwt` is an HTTP API authorizer (reported where defined).
    assert_eq!(
        errors_of(definition(d.clone())),
        vec![
            "api.json: $.components.securitySchemes.jwt.x-amazon-apigateway-authorizer.type: JWT authorizers (`type: jwt`) are an HTTP API feature: REST APIs use `cognito_user_pools`",
            "api.json: $.components.securitySchemes.lambda.x-amazon-apigateway-authorizer.authorizerUri: `arn:x` is not a Lambda authorizer URI: expected `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations`",
            "api.json: $.paths./b.get.security[2].ghost: security scheme `ghost` is not defined",
        ]
    );
    // An HTTP API (payloadFormatVersion marks it) applies root security to every route.
    let d = doc(
        json!({"/a": {"get": op(json!({"type": "http_proxy", "httpMethod": "GET", "uri": "http://b/", "payloadFormatVersion": "1.0"}))}}),
    );
    let mut d2 = d.clone();
    d2["security"] = json!([{"jwt": []}]);
    d2["components"] = json!({"securitySchemes": {"jwt": {"type": "openIdConnect"}}});
    assert_eq!(
        one_error(definition(d2)),
        "api.json: $.security[0].jwt: security scheme `jwt` has no `x-amazon-apigateway-authorizer`: API Gateway needs one to enforce it (`{type: jwt, jwtConfiguration: {issuer, audience}}`)"
    );
    assert!(definition(d).is_ok());
}

/// HTTP APIs' JWT authorizers: issuer given or derived from `openIdConnectUrl`, root security
/// as the default, scopes per route, keys by discovery unless the gateway file says otherwise.
#[test]
fn http_api_jwt_authorizers_compile() {
    let http = |uri: &str| {
        op(
            json!({"type": "http_proxy", "httpMethod": "GET", "uri": uri, "payloadFormatVersion": "1.0"}),
        )
    };
    let mut d = doc(json!({
        "/a": {"get": http("http://b/a")},
        "/b": {"get": {"security": [{"oidc": ["read", "write"]}], "x-amazon-apigateway-integration": http("http://b/b")["x-amazon-apigateway-integration"]}},
        "/c": {"get": {"security": [], "x-amazon-apigateway-integration": http("http://b/c")["x-amazon-apigateway-integration"]}}
    }));
    d["security"] = json!([{"jwt": []}]);
    d["components"] = json!({"securitySchemes": {
        "jwt": {"type": "oauth2", "x-amazon-apigateway-authorizer": {
            "type": "jwt", "identitySource": "$request.header.X-Token",
            "jwtConfiguration": {"issuer": "https://idp.example/", "audience": ["a1", "a2"]}}},
        "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://login.example/t1/.well-known/openid-configuration",
            "x-amazon-apigateway-authorizer": {"type": "jwt", "jwtConfiguration": {"audience": ["x"]}}}
    }});
    let snap = definition(d).expect("compiles");
    assert_eq!(snap.authorizers.len(), 2);
    let jwt = &snap.authorizers[0];
    assert_eq!(&*jwt.identity, "jwt:test/jwt");
    assert_eq!(jwt.issuer, "https://idp.example/");
    assert_eq!(
        jwt.audiences.as_deref(),
        Some(&["a1".to_string(), "a2".to_string()][..])
    );
    assert_eq!(&*jwt.header, b"x-token");
    assert!(
        matches!(&jwt.keys, KeySource::Discovery(u) if u == "https://idp.example/.well-known/openid-configuration")
    );
    let oidc = &snap.authorizers[1];
    assert_eq!(oidc.issuer, "https://login.example/t1");
    assert_eq!(&*oidc.header, b"authorization");
    let routes = &snap.apis[0].routes;
    let auth = |i: usize| {
        routes[i].auth.as_ref().map(|a| {
            (
                a.authorizer.0,
                a.scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        })
    };
    assert_eq!(auth(0), Some((0, vec![])), "root security applies");
    assert_eq!(auth(1), Some((1, vec!["read".into(), "write".into()])));
    assert_eq!(auth(2), None, "`security: []` opts out");
}

#[test]
fn authorizer_errors() {
    let http = |uri: &str| {
        op(
            json!({"type": "http_proxy", "httpMethod": "GET", "uri": uri, "payloadFormatVersion": "1.0"}),
        )
    };
    let mut d = doc(json!({"/a": {"get": http("http://b/a")}}));
    d["components"] = json!({"securitySchemes": {
        "noIssuer": {"type": "oauth2", "x-amazon-apigateway-authorizer": {"type": "jwt", "jwtConfiguration": {"audience": []}}},
        "badSource": {"type": "oauth2", "x-amazon-apigateway-authorizer": {"type": "jwt", "identitySource": "$request.querystring.t",
            "jwtConfiguration": {"issuer": "https://i/", "audience": ["a"]}}},
        "pool": {"type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": ["arn:aws:cognito-idp:us-east-1:1:userpool/p"]}}
    }});
    let p = "api.json: $.components.securitySchemes";
    assert_eq!(
        errors_of(definition(d)),
        vec![
            format!(
                "{p}.noIssuer.x-amazon-apigateway-authorizer.jwtConfiguration: missing required property `issuer` (or an `openIdConnectUrl` on the security scheme)"
            ),
            format!(
                "{p}.noIssuer.x-amazon-apigateway-authorizer.jwtConfiguration.audience: give at least one audience"
            ),
            format!(
                "{p}.badSource.x-amazon-apigateway-authorizer.identitySource: identitySource `$request.querystring.t`: a JWT authorizer takes one `$request.header.NAME`"
            ),
            format!(
                "{p}.pool.x-amazon-apigateway-authorizer.type: `cognito_user_pools` authorizers are a REST API feature: HTTP APIs use `type: jwt` with the user pool as issuer"
            ),
        ]
    );
}

#[test]
fn extensions_everywhere() {
    let mut d = doc(json!({
        "/a": {
            "x-amazon-apigateway-any-method": {
                "x-amazon-apigateway-integration": proxy("http://b/a"),
                "x-amazon-apigateway-request-validator": "all",
                "x-amazon-apigateway-auth": {"type": "NONE"}
            },
            "x-amazon-apigateway-cors": {},
            "parameters": [], "summary": "s", "description": "d", "servers": [], "x-other": 1,
            "trace": {}, "$ref": "#/x", "bogus": {}
        }
    }));
    d["x-amazon-apigateway-cors"] = json!({});
    d["x-amazon-apigateway-policy"] = json!({});
    d["x-amazon-apigateway-binary-media-types"] = json!(["image/png", "*/*"]);
    d["x-amazon-apigateway-documentation"] = json!({"documentationParts": []});
    d["x-amazon-apigateway-importexport-version"] = json!("1.0");
    d["x-amazon-apigateway-tag-value"] = json!("x");
    d["x-amazon-apigateway-endpoint-configuration"] =
        json!({"disableExecuteApiEndpoint": true, "vpcEndpointIds": []});
    d["components"] = json!({"schemas": {}, "x-amazon-apigateway-foo": {},
        "securitySchemes": {"s": {"type": "apiKey", "x-amazon-apigateway-api-key-source": "HEADER"}}});
    assert_eq!(
        errors_of(definition(d)),
        vec![
            "api.json: $.components.securitySchemes.s.x-amazon-apigateway-api-key-source: `x-amazon-apigateway-api-key-source` is not supported yet",
            "api.json: $.components.x-amazon-apigateway-foo: `x-amazon-apigateway-foo` is not supported yet",
            "api.json: $.x-amazon-apigateway-policy: `x-amazon-apigateway-policy` is a REST API feature: HTTP APIs have no resource policies",
            "api.json: $.x-amazon-apigateway-endpoint-configuration.vpcEndpointIds: `vpcEndpointIds` is not supported yet",
            "api.json: $.x-amazon-apigateway-cors: `x-amazon-apigateway-cors` is not supported yet",
            "api.json: $.paths./a.x-amazon-apigateway-any-method.x-amazon-apigateway-request-validator: `x-amazon-apigateway-request-validator` is not supported yet",
            "api.json: $.paths./a.x-amazon-apigateway-cors: `x-amazon-apigateway-cors` is not supported yet",
            "api.json: $.paths./a.trace: method TRACE is not supported by API Gateway",
            "api.json: $.paths./a.$ref: path item `$ref` is not supported",
            "api.json: $.paths./a.bogus: unknown path item property `bogus`",
        ]
    );
}

#[test]
fn accepted_extensions_compile() {
    let mut d = doc(json!({"/a": {"get": op(proxy("http://b/a"))}}));
    d["x-amazon-apigateway-binary-media-types"] = json!(["image/png"]);
    d["x-amazon-apigateway-documentation"] = json!({"version": "1"});
    d["x-amazon-apigateway-endpoint-configuration"] = json!({"disableExecuteApiEndpoint": true});
    let s = definition(d).unwrap();
    assert!(s.hosts.execute_api.is_empty());
    let s = definition(doc(json!({"/a": {"get": op(proxy("http://b/a"))}}))).unwrap();
    assert_eq!(s.hosts.execute_api.get(&b"test"[..]), Some(&ApiIdx(0)));
}

#[test]
fn resource_tree_errors() {
    let integration = || op(proxy("http://b/"));
    // Swagger 2.0 is always REST (a `/$default` path would make an OpenAPI 3 document HTTP).
    let rest = json!({"swagger": "2.0", "paths": {
        "/p/{id}": {"get": integration()},
        "/p/{proxy+}": {"get": integration()},
        "/q/{proxy+}/x": {"get": integration()},
        "/$default": {"x-amazon-apigateway-any-method": integration()},
        "/r/": {"get": integration()}
    }});
    assert_eq!(
        errors_of(definition(rest)),
        vec![
            "api.json: $.paths./p/{proxy+}: A sibling ({id}) of this resource already has a variable path part -- only one is allowed",
            "api.json: $.paths./q/{proxy+}/x: Cannot create a child of a resource with a greedy path variable: {proxy+}",
            "api.json: $.paths./$default: `$default` routes exist only in HTTP APIs (protocolType HTTP)",
            "api.json: $.paths./r/: a resource path does not end with `/`: `/r/`",
        ]
    );
    // HTTP APIs: positional params may differ in name, but a route key may not repeat.
    let mut d = doc(json!({
        "/p/{id}": {"get": integration()},
        "/p/{petId}": {"get": integration(), "put": integration()},
        "/$default": {"x-amazon-apigateway-any-method": integration(), "get": integration()}
    }));
    d["x-amazon-apigateway-importexport-version"] = json!("1.0");
    assert_eq!(
        errors_of(definition(d)),
        vec![
            "api.json: $.paths./p/{petId}.get: duplicate route `GET /p/{petId}` (same as `GET /p/{id}`)",
            "api.json: $.paths./$default.get: the `$default` route takes only `x-amazon-apigateway-any-method`",
        ]
    );
}

#[test]
fn integration_refs() {
    let mut d = doc(json!({
        "/a": {"get": op(json!({"$ref": "#/components/x-amazon-apigateway-integrations/shared"}))},
        "/b": {"get": op(json!({"$ref": "#/x-amazon-apigateway-integrations/root"}))},
        "/c": {"get": op(json!({"$ref": "#/components/x-amazon-apigateway-integrations/loop1"}))},
        "/d": {"get": op(json!({"$ref": "#/components/nothing"}))},
        "/e": {"get": op(json!({"$ref": "other.json#/x"}))},
        "/f": {"get": op(json!({"$ref": "#/components/x-amazon-apigateway-integrations/bad"}))},
        "/g": {"get": op(json!({"$ref": "#/components/x-amazon-apigateway-integrations/bad"}))}
    }));
    d["components"] = json!({"x-amazon-apigateway-integrations": {
        "shared": proxy("http://shared/"),
        "loop1": {"$ref": "#/components/x-amazon-apigateway-integrations/loop2"},
        "loop2": {"$ref": "#/components/x-amazon-apigateway-integrations/loop1"},
        "bad": {"type": "aws"}
    }});
    d["x-amazon-apigateway-integrations"] = json!({"root": mock_integration(200, "{}")});
    assert_eq!(
        errors_of(definition(d.clone())),
        vec![
            "api.json: $.components.x-amazon-apigateway-integrations.loop2: `$ref` cycle: #/components/x-amazon-apigateway-integrations/loop1 → #/components/x-amazon-apigateway-integrations/loop2 → #/components/x-amazon-apigateway-integrations/loop1",
            "api.json: $.paths./d.get.x-amazon-apigateway-integration: `$ref` target `#/components/nothing` does not exist",
            "api.json: $.paths./e.get.x-amazon-apigateway-integration: only local `$ref`s (`#/...`) are supported: `other.json#/x`",
            "api.json: $.components.x-amazon-apigateway-integrations.bad.type: integration type AWS is not supported yet",
        ]
    );
    for p in ["/c", "/d", "/e", "/f", "/g"] {
        d["paths"].as_object_mut().unwrap().remove(p);
    }
    let s = definition(d).unwrap();
    assert!(matches!(
        s.stages[0].integrations[0],
        Integration::HttpProxy(_)
    ));
    assert!(matches!(s.stages[0].integrations[1], Integration::Mock(_)));
}

#[test]
fn http_api_specifics() {
    let mut d = doc(json!({
        "/a": {"get": op(mock_integration(200, "{}"))},
        "/$default": {"x-amazon-apigateway-any-method": {"isDefaultRoute": true, "x-amazon-apigateway-integration": proxy("http://b/")}}
    }));
    d["x-amazon-apigateway-gateway-responses"] = json!({});
    assert_eq!(
        errors_of(definition(d)),
        vec![
            "api.json: $.x-amazon-apigateway-gateway-responses: `x-amazon-apigateway-gateway-responses` is a REST API feature: HTTP APIs do not have gateway responses",
            "api.json: $.paths./a.get.x-amazon-apigateway-integration.type: MOCK integrations are not available for HTTP APIs",
        ]
    );
    let s = definition(doc(json!({
        "/pets/{id}": {"get": op(proxy("http://b/{id}"))},
        "/$default": {"x-amazon-apigateway-any-method": {"isDefaultRoute": true, "x-amazon-apigateway-integration": proxy("http://b/")}}
    })))
    .unwrap();
    let api = &s.apis[0];
    assert_eq!(api.protocol, Protocol::Http);
    let keys: Vec<&str> = api.routes.iter().map(|r| r.route_key.as_str()).collect();
    assert_eq!(keys, ["GET /pets/{id}", "$default"]);
    assert_eq!(
        (api.routes[1].path.as_str(), api.routes[1].method.is_none()),
        ("$default", true)
    );
    let mut params = Params::default();
    assert_eq!(
        api.router.find(b"POST", b"/x/y", &mut params),
        RouteMatch::Found(RouteIdx(1))
    );
}

#[test]
fn protocol_guess() {
    use super::super::openapi::guess_protocol;
    let base = doc(json!({"/a": {"get": op(proxy("http://b/"))}}));
    assert_eq!(guess_protocol(&base), Protocol::Rest);
    let mut v = base.clone();
    v["x-amazon-apigateway-importexport-version"] = json!("1.0");
    assert_eq!(guess_protocol(&v), Protocol::Http);
    let v = doc(json!({"/$default": {}}));
    assert_eq!(guess_protocol(&v), Protocol::Http);
    let mut v = base.clone();
    v["components"] =
        json!({"x-amazon-apigateway-integrations": {"x": {"payloadFormatVersion": "2.0"}}});
    assert_eq!(guess_protocol(&v), Protocol::Http);
    let v =
        json!({"swagger": "2.0", "x-amazon-apigateway-importexport-version": "1.0", "paths": {}});
    assert_eq!(guess_protocol(&v), Protocol::Rest);
}
