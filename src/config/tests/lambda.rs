//! Lambda authorizers: security schemes, identity sources, the gateway file's `functions`.

use std::time::Duration;

use super::*;

const AUTH_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:auth";

fn uri(function: &str) -> String {
    format!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function}/invocations")
}

fn scheme(authorizer: Value) -> Value {
    json!({"type": "apiKey", "name": "Authorization", "in": "header",
           "x-amazon-apigateway-authtype": "custom", "x-amazon-apigateway-authorizer": authorizer})
}

/// A REST API whose `/a` uses `tok` and `/b` uses `req`, `/c` nothing.
fn rest_doc(tok: Value, req: Value) -> Value {
    let mut d = doc(json!({
        "/a": {"get": {"security": [{"tok": []}], "x-amazon-apigateway-integration": proxy("http://b/a")}},
        "/b": {"get": {"security": [{"req": []}], "x-amazon-apigateway-integration": proxy("http://b/b")}},
        "/c": {"get": op(proxy("http://b/c"))}
    }));
    d["components"] = json!({"securitySchemes": {"tok": scheme(tok), "req": scheme(req)}});
    d
}

fn gateway(definition: Value, functions: Value, variables: Value) -> Value {
    json!({
        "apis": [{"id": "pets", "definition": definition}],
        "stages": [
            {"apiId": "pets", "stageName": "prod", "variables": variables},
            {"apiId": "pets", "stageName": "dev", "variables": variables}
        ],
        "functions": functions
    })
}

fn token(function: &str) -> Value {
    json!({"type": "token", "authorizerUri": uri(function),
           "identityValidationExpression": "Bearer [a-z]+"})
}

fn request(function: &str) -> Value {
    json!({"type": "request", "authorizerUri": uri(function), "authorizerResultTtlInSeconds": 0,
           "identitySource": "method.request.header.X-Key, method.request.querystring.user, stageVariables.tier, context.httpMethod"})
}

#[test]
fn rest_lambda_authorizers_compile_with_their_functions() {
    let snap = load_json(gateway(
        rest_doc(
            token(AUTH_ARN),
            request("arn:aws:lambda:us-east-1:1:function:other:live"),
        ),
        json!({
            "auth": {"url": "http://127.0.0.1:9001/invoke", "timeoutMs": 2500},
            "other:live": {"url": "http://127.0.0.1:9002"}
        }),
        json!({"tier": "gold"}),
    ))
    .expect("compiles");
    assert_eq!(snap.lambda_authorizers.len(), 2);
    let tok = &snap.lambda_authorizers[0];
    assert_eq!(&*tok.identity, "lambda:pets/tok");
    assert_eq!(tok.kind, LambdaKind::Token);
    assert_eq!(
        &*tok.sources,
        &[IdentitySource::Header((*b"authorization").into())]
    );
    assert_eq!(
        tok.ttl,
        Duration::from_secs(300),
        "API Gateway's default TTL"
    );
    let pattern = tok.validation.as_ref().expect("validation expression");
    assert!(pattern.matches("Bearer abc"));
    assert!(!pattern.matches("Bearer ABC"));
    assert!(!pattern.matches("xBearer abc"), "whole-string match");
    let req = &snap.lambda_authorizers[1];
    assert_eq!(req.kind, LambdaKind::Request);
    assert_eq!(req.ttl, Duration::ZERO);
    assert_eq!(
        &*req.sources,
        &[
            IdentitySource::Header((*b"x-key").into()),
            IdentitySource::QueryString((*b"user").into()),
            IdentitySource::StageVariable("tier".into()),
            IdentitySource::Context(ContextVar::HttpMethod),
        ]
    );
    // Functions: by bare name, and by `name:alias`; one per stage.
    let f = |a: &LambdaAuthorizer, s: u32| {
        let i = a.function(StageIdx(s)).expect("a function on the stage");
        &snap.functions[i.0 as usize]
    };
    assert_eq!(f(tok, 0).name, "auth");
    assert_eq!(f(tok, 1).name, "auth");
    assert_eq!(f(tok, 0).timeout, Duration::from_millis(2500));
    assert_eq!(f(req, 0).name, "other:live");
    assert_eq!(
        f(req, 0).timeout,
        Duration::from_secs(10),
        "default timeout"
    );
    let FunctionTarget::Http { upstream, path } = &f(tok, 0).target else {
        panic!("a url function is an HTTP target");
    };
    assert_eq!(&**path, b"/invoke");
    assert_eq!(snap.upstreams[upstream.0 as usize].port, 9001);
    let FunctionTarget::Http { path, .. } = &f(req, 0).target else {
        panic!("a url function is an HTTP target");
    };
    assert_eq!(&**path, b"/");
    let routes = &snap.apis[0].routes;
    assert_eq!(routes[0].lambda, Some(LambdaIdx(0)));
    assert_eq!(routes[1].lambda, Some(LambdaIdx(1)));
    assert_eq!(routes[2].lambda, None);
    assert!(routes.iter().all(|r| r.auth.is_none()));
}

#[test]
fn the_function_may_come_from_a_stage_variable_and_a_full_arn_matches_first() {
    let def = rest_doc(
        token("arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}"),
        token(AUTH_ARN),
    );
    let mut config = gateway(
        def,
        json!({
            AUTH_ARN: {"url": "http://127.0.0.1:9001/full"},
            "auth": {"url": "http://127.0.0.1:9001/short"},
            "blue": {"url": "http://127.0.0.1:9003/"}
        }),
        json!({"fn": "blue"}),
    );
    config["stages"][1]["variables"] = json!({"fn": "auth"});
    let snap = load_json(config).expect("compiles");
    let name = |a: usize, s: u32| {
        let i = snap.lambda_authorizers[a].function(StageIdx(s)).unwrap();
        snap.functions[i.0 as usize].name.clone()
    };
    assert_eq!(name(0, 0), "blue");
    assert_eq!(name(0, 1), AUTH_ARN, "the full ARN wins over the bare name");
    assert_eq!(name(1, 0), AUTH_ARN);
    assert_ne!(
        snap.lambda_authorizers[0].fingerprint, snap.lambda_authorizers[1].fingerprint,
        "the functions are part of the fingerprint"
    );
}

#[test]
fn an_unmapped_function_is_named_with_the_entry_to_add() {
    let mut config = gateway(
        rest_doc(
            token(AUTH_ARN),
            token("arn:aws:lambda:us-east-1:1:function:${stageVariables.fn}"),
        ),
        json!({}),
        json!({}),
    );
    config["stages"][1]["variables"] = json!({"fn": "ghost"});
    let p = "gateway.json: $.apis[0].definition.components.securitySchemes";
    assert_eq!(
        errors_of(load_json(config)),
        vec![
            format!(
                "{p}.tok.x-amazon-apigateway-authorizer.authorizerUri: Lambda authorizer `tok` of API `pets` (stage `prod`) calls function `{AUTH_ARN}`, which the gateway file's `functions` does not map: add `\"functions\": {{\"auth\": {{\"url\": \"http://127.0.0.1:9001/\"}}}}`, an HTTP endpoint that takes the authorizer event as a POST body and answers with the function's result; or give `local` (a process on the Lambda Runtime API) or `remote` (Lambda's Invoke API) in place of `url`"
            ),
            format!(
                "{p}.tok.x-amazon-apigateway-authorizer.authorizerUri: Lambda authorizer `tok` of API `pets` (stage `dev`) calls function `{AUTH_ARN}`, which the gateway file's `functions` does not map: add `\"functions\": {{\"auth\": {{\"url\": \"http://127.0.0.1:9001/\"}}}}`, an HTTP endpoint that takes the authorizer event as a POST body and answers with the function's result; or give `local` (a process on the Lambda Runtime API) or `remote` (Lambda's Invoke API) in place of `url`"
            ),
            format!(
                "{p}.req.x-amazon-apigateway-authorizer.authorizerUri: stage `prod`: stage variable `fn` used in the authorizer URI is not defined"
            ),
            format!(
                "{p}.req.x-amazon-apigateway-authorizer.authorizerUri: Lambda authorizer `req` of API `pets` (stage `dev`) calls function `arn:aws:lambda:us-east-1:1:function:ghost`, which the gateway file's `functions` does not map: add `\"functions\": {{\"ghost\": {{\"url\": \"http://127.0.0.1:9001/\"}}}}`, an HTTP endpoint that takes the authorizer event as a POST body and answers with the function's result; or give `local` (a process on the Lambda Runtime API) or `remote` (Lambda's Invoke API) in place of `url`"
            ),
        ]
    );
    // An authorizer no route uses needs no function.
    let mut d = rest_doc(token(AUTH_ARN), token(AUTH_ARN));
    d["paths"] = json!({"/c": {"get": op(proxy("http://b/c"))}});
    assert!(load_json(gateway(d, json!({}), json!({}))).is_ok());
}

#[test]
fn rest_scheme_errors() {
    let bad = |authorizer: Value| {
        let f = json!({"auth": {"url": "http://127.0.0.1:9001/"}});
        errors_of(load_json(gateway(
            rest_doc(authorizer, token(AUTH_ARN)),
            f,
            json!({}),
        )))
        .into_iter()
        .map(|e| {
            e.split_once("securitySchemes.tok.x-amazon-apigateway-authorizer")
                .map_or(e.clone(), |(_, r)| r.to_string())
        })
        .collect::<Vec<_>>()
    };
    let u = uri(AUTH_ARN);
    assert_eq!(
        bad(json!({"type": "token", "authorizerUri": "arn:aws:lambda:us-east-1:1:function:auth"})),
        vec![
            ".authorizerUri: `arn:aws:lambda:us-east-1:1:function:auth` is not a Lambda authorizer URI: expected `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations`"
        ]
    );
    assert_eq!(
        bad(
            json!({"type": "token", "authorizerUri": u, "identitySource": "method.request.querystring.t"})
        ),
        vec![".identitySource: a TOKEN authorizer takes one header: `method.request.header.NAME`"]
    );
    assert_eq!(
        bad(
            json!({"type": "request", "authorizerUri": u, "identitySource": "$request.header.A, method.request.path.id, context.nope"})
        ),
        vec![
            ".identitySource: identity source `$request.header.A`: expected `method.request.header.NAME`, `method.request.querystring.NAME`, `stageVariables.NAME` or `context.NAME`",
            ".identitySource: identity source `method.request.path.id`: expected `method.request.header.NAME`, `method.request.querystring.NAME`, `stageVariables.NAME` or `context.NAME`",
            ".identitySource: identity source `context.nope`: expected `method.request.header.NAME`, `method.request.querystring.NAME`, `stageVariables.NAME` or `context.NAME`",
        ]
    );
    assert_eq!(
        bad(
            json!({"type": "request", "authorizerUri": u, "identitySource": "method.request.header.A",
                   "identityValidationExpression": ".+", "authorizerResultTtlInSeconds": 3601})
        ),
        vec![
            ".identityValidationExpression: `identityValidationExpression` applies to TOKEN authorizers only",
            ".authorizerResultTtlInSeconds: 3601 is out of range: expected 0 to 3600",
        ]
    );
    assert_eq!(
        bad(json!({"type": "token", "authorizerUri": u, "identityValidationExpression": "(?=x)"})),
        vec![
            ".identityValidationExpression: `(?=x)` is not a supported regular expression: lookaround and inline flags"
        ]
    );
    assert_eq!(
        bad(json!({"type": "request", "authorizerUri": u, "authorizerResultTtlInSeconds": 60})),
        vec![
            ": `authorizerResultTtlInSeconds` above 0 needs an `identitySource`: it is the cache key"
        ]
    );
    assert_eq!(
        bad(json!({"type": "token", "authorizerUri": u, "authorizerPayloadFormatVersion": "2.0"})),
        vec![
            ".authorizerPayloadFormatVersion: an HTTP API property: REST Lambda authorizers take the policy output (payload 1.0)"
        ]
    );
}

fn http_gateway(authorizer: Value, functions: Value) -> Value {
    let integration = json!({"type": "http_proxy", "httpMethod": "GET", "uri": "http://b/",
        "payloadFormatVersion": "1.0",
        "requestParameters": {"overwrite:header.X-User": "$context.authorizer.principalId",
                              "overwrite:header.X-Tier": "$context.authorizer.tier"}});
    let mut d = doc(json!({"/a": {"get": op(integration)}}));
    d["security"] = json!([{"la": []}]);
    d["components"] = json!({"securitySchemes": {"la": scheme(authorizer)}});
    json!({
        "apis": [{"id": "h", "protocolType": "HTTP", "definition": d}],
        "stages": [{"apiId": "h", "stageName": "$default"}],
        "functions": functions
    })
}

#[test]
fn http_api_lambda_authorizers() {
    let f = json!({"auth": {"url": "http://127.0.0.1:9001/"}});
    let snap = load_json(http_gateway(
        json!({"type": "request", "authorizerUri": uri(AUTH_ARN), "authorizerPayloadFormatVersion": "2.0",
               "enableSimpleResponses": true, "authorizerResultTtlInSeconds": 60,
               "identitySource": "$request.header.Authorization, $request.querystring.q, $context.routeKey, $stageVariables.s"}),
        f.clone(),
    ))
    .expect("compiles");
    let a = &snap.lambda_authorizers[0];
    assert_eq!(
        a.kind,
        LambdaKind::Http {
            payload: PayloadVersion::V2,
            simple: true
        }
    );
    assert_eq!(
        &*a.sources,
        &[
            IdentitySource::Header((*b"authorization").into()),
            IdentitySource::QueryString((*b"q").into()),
            IdentitySource::RouteKey,
            IdentitySource::StageVariable("s".into()),
        ]
    );
    assert_eq!(a.ttl, Duration::from_secs(60));
    assert_eq!(
        snap.apis[0].routes[0].lambda,
        Some(LambdaIdx(0)),
        "root security"
    );
    let Integration::HttpProxy(p) = &snap.stages[0].integrations[0] else {
        panic!("http proxy")
    };
    let sources: Vec<String> = p
        .request_parameters
        .iter()
        .filter_map(|m| match &m.source {
            ParamSource::AuthorizerValue(k) => Some(k.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(sources, vec!["principalId", "tier"]);
    // No identity source: no caching unless asked for.
    let snap = load_json(http_gateway(
        json!({"type": "request", "authorizerUri": uri(AUTH_ARN), "authorizerPayloadFormatVersion": "1.0"}),
        f.clone(),
    ))
    .expect("compiles");
    assert_eq!(snap.lambda_authorizers[0].ttl, Duration::ZERO);

    let errors = |authorizer: Value| {
        errors_of(load_json(http_gateway(authorizer, f.clone())))
            .into_iter()
            .map(|e| {
                e.split_once("x-amazon-apigateway-authorizer")
                    .map_or(e.clone(), |(_, r)| r.to_string())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        errors(json!({"type": "request", "authorizerUri": uri(AUTH_ARN)})),
        vec![": missing required property `authorizerPayloadFormatVersion` (\"1.0\" or \"2.0\")"]
    );
    assert_eq!(
        errors(
            json!({"type": "token", "authorizerUri": uri(AUTH_ARN), "authorizerPayloadFormatVersion": "1.0", "enableSimpleResponses": true,
                      "identitySource": "method.request.header.A"})
        ),
        vec![
            ".type: HTTP APIs' Lambda authorizers are `type: request` (identity sources such as `$request.header.Authorization`)",
            ".enableSimpleResponses: `enableSimpleResponses` needs `authorizerPayloadFormatVersion` \"2.0\"",
            ".identitySource: identity source `method.request.header.A`: expected `$request.header.NAME`, `$request.querystring.NAME`, `$context.NAME` or `$stageVariables.NAME`",
        ]
    );
    assert_eq!(
        errors(
            json!({"type": "request", "authorizerUri": uri(AUTH_ARN), "authorizerPayloadFormatVersion": "3.0",
                      "identitySource": ["$request.header.A", "method.request.header.B"]})
        ),
        vec![
            ".authorizerPayloadFormatVersion: payload format `3.0`: expected \"1.0\" or \"2.0\"",
            ".identitySource[1]: identity source `method.request.header.B`: expected `$request.header.NAME`, `$request.querystring.NAME`, `$context.NAME` or `$stageVariables.NAME`",
        ]
    );
}

#[test]
fn functions_section_errors() {
    let f = json!({
        "auth": {"url": "ftp://x/", "timeoutMs": 0},
        "b": {"url": "http://h/{p}"},
        "c": {"uri": "http://h/"}
    });
    assert_eq!(
        errors_of(load_json(json!({"functions": f}))),
        vec![
            "gateway.json: $.functions.auth.timeoutMs: 0 is out of range: expected 1 to 900000",
            "gateway.json: $.functions.auth.url: `ftp://x/`: the integration URI must be an absolute `http://` or `https://` URL",
            "gateway.json: $.functions.b.url: `http://h/{p}`: a function URL has no `{parameters}`",
            "gateway.json: $.functions.c: missing required property `url` (an HTTP endpoint), `local` (a process on the Lambda Runtime API) or `remote` (Lambda's Invoke API)",
            "gateway.json: $.functions.c.uri: unknown property `uri`",
        ]
    );
}

#[test]
fn local_functions_compile_to_the_function_host() {
    let functions = json!({
        "hello": {"local": {"command": ["python3", "-m", "awslambdaric", "app.handler"],
                            "cwd": "fn", "env": {"K": "v"}, "handler": "app.handler",
                            "memoryMb": 256, "concurrency": 3, "queue": 5},
                  "timeoutMs": 3000},
        "arn:aws:lambda:us-east-1:1:function:x y": {"local": {"command": ["./bootstrap"]}}
    });
    let snap = load_json(json!({"functions": functions})).unwrap();
    let hello = snap.functions.iter().find(|f| f.name == "hello").unwrap();
    assert_eq!(hello.timeout, Duration::from_secs(3));
    let FunctionTarget::Local {
        upstream,
        path,
        process,
    } = &hello.target
    else {
        panic!("a local function is a Local target");
    };
    assert_eq!(&**path, b"/2015-03-31/functions/hello/invocations");
    let up = &snap.upstreams[upstream.0 as usize];
    assert_eq!((up.host.as_str(), up.port), ("127.0.0.1", 0));
    assert!(up.addrs.load().is_empty(), "filled in by the function host");
    assert_eq!(&*up.host_header, b"localhost");
    assert_eq!(
        **process,
        LocalFunction {
            command: vec![
                "python3".into(),
                "-m".into(),
                "awslambdaric".into(),
                "app.handler".into()
            ],
            cwd: PathBuf::from("/cfg/fn"),
            env: vec![("K".into(), "v".into())],
            handler: Some("app.handler".into()),
            memory_mb: 256,
            concurrency: 3,
            queue: 5,
        }
    );
    let other = snap.functions.iter().find(|f| f.name != "hello").unwrap();
    let FunctionTarget::Local { path, process, .. } = &other.target else {
        panic!("a local function is a Local target");
    };
    assert_eq!(
        &**path,
        b"/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:x%20y/invocations"
    );
    assert_eq!(
        (process.memory_mb, process.concurrency, process.queue),
        (128, 1, 100),
        "defaults"
    );
    assert_eq!(
        process.cwd,
        PathBuf::from("/cfg"),
        "the gateway file's directory"
    );
}

#[test]
fn local_function_errors() {
    let f = json!({
        "a": {"url": "http://h/", "local": {"command": ["x"]}},
        "b": {"local": {"command": [], "memoryMb": 64, "concurrency": 0, "queue": -1}},
        "c": {"local": {"cwd": 3, "env": {"AWS_LAMBDA_RUNTIME_API": "x", "A=B": "1"}, "cmd": ["x"]}}
    });
    assert_eq!(
        errors_of(load_json(json!({"functions": f}))),
        vec![
            "gateway.json: $.functions.a: give one of `url`, `local` or `remote`",
            "gateway.json: $.functions.b.local.command: a command needs at least the program to run",
            "gateway.json: $.functions.b.local.memoryMb: 64 is out of range: expected 128 to 10240",
            "gateway.json: $.functions.b.local.concurrency: 0 is out of range: expected 1 to 64",
            "gateway.json: $.functions.b.local.queue: expected an integer from 0 to 10000, found -1",
            "gateway.json: $.functions.c.local: missing required property `command`",
            "gateway.json: $.functions.c.local.cwd: expected a string, found a number",
            "gateway.json: $.functions.c.local.env.AWS_LAMBDA_RUNTIME_API: `AWS_LAMBDA_RUNTIME_API` is set by tollgate's function host",
            "gateway.json: $.functions.c.local.env.A=B: an environment variable needs a name without `=` or NUL bytes and a value without NUL bytes",
            "gateway.json: $.functions.c.local.cmd: unknown property `cmd`",
        ]
    );
}
