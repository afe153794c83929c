//! Lambda proxy integrations (`type: aws_proxy`): the function per stage, payload formats,
//! timeouts, and the errors that name what to fix.

use std::time::Duration;

use super::*;

fn uri(function: &str) -> String {
    format!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function}/invocations")
}

fn lambda(function: &str, extra: Value) -> Value {
    let mut i = json!({"type": "aws_proxy", "httpMethod": "POST", "uri": uri(function)});
    for (k, v) in extra.as_object().unwrap() {
        i[k] = v.clone();
    }
    i
}

fn gateway(protocol: &str, paths: Value, functions: Value) -> Value {
    json!({
        "apis": [{"id": "pets", "protocolType": protocol, "definition": doc(paths)}],
        "stages": [
            {"apiId": "pets", "stageName": "prod", "variables": {"fn": "blue"}},
            {"apiId": "pets", "stageName": "dev", "variables": {"fn": "green"}}
        ],
        "functions": functions
    })
}

fn lambda_of(s: &Snapshot, stage: usize, route: usize) -> &LambdaProxy {
    match &s.stages[stage].integrations[route] {
        Integration::Lambda(l) => l,
        _ => panic!("not a Lambda integration"),
    }
}

fn function_name(s: &Snapshot, l: &LambdaProxy) -> String {
    s.functions[l.function.expect("a function").0 as usize]
        .name
        .clone()
}

#[test]
fn functions_resolve_per_stage_with_payload_and_timeout() {
    let paths = json!({
        "/a": {"get": op(lambda("arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}", json!({"payloadFormatVersion": "2.0"})))},
        "/b": {"post": op(lambda("arn:aws:lambda:us-east-1:123456789012:function:blue:live", json!({"payloadFormatVersion": "1.0", "timeoutInMillis": 29000})))}
    });
    let functions = json!({
        "blue": {"url": "http://127.0.0.1:9001/", "timeoutMs": 3000},
        "green": {"url": "http://127.0.0.1:9002/"}
    });
    let s = load_json(gateway("HTTP", paths, functions)).unwrap();
    let (prod, dev) = (lambda_of(&s, 0, 0), lambda_of(&s, 1, 0));
    assert_eq!(function_name(&s, prod), "blue");
    assert_eq!(function_name(&s, dev), "green");
    assert_eq!(prod.payload, PayloadVersion::V2);
    // The integration's default (29 s) capped by the function's timeoutMs.
    assert_eq!(prod.timeout, Duration::from_millis(3000));
    assert_eq!(dev.timeout, DEFAULT_FUNCTION_TIMEOUT);
    let b = lambda_of(&s, 0, 1);
    assert_eq!(function_name(&s, b), "blue", "by name inside name:alias");
    assert_eq!(b.payload, PayloadVersion::V1);
    let rows = s.route_table();
    assert!(
        rows.iter()
            .any(|r| r.integration == "AWS_PROXY blue (payload 2.0)"),
        "{rows:#?}"
    );

    // REST: always 1.0; the type's case does not matter; binary media types are kept.
    let mut d = doc(
        json!({"/a": {"get": op(lambda("arn:aws:lambda:us-east-1:1:function:blue", json!({"type": "AWS_PROXY", "timeoutInMillis": 500})))}}),
    );
    d["x-amazon-apigateway-binary-media-types"] = json!(["Image/PNG", "*/*"]);
    let g = json!({
        "apis": [{"id": "pets", "definition": d}],
        "stages": [{"apiId": "pets", "stageName": "prod"}],
        "functions": {"blue": {"url": "http://127.0.0.1:9001/"}}
    });
    let s = load_json(g).unwrap();
    let l = lambda_of(&s, 0, 0);
    assert_eq!(
        (l.payload, l.timeout),
        (PayloadVersion::V1, Duration::from_millis(500))
    );
    assert_eq!(
        &*s.apis[0].binary_media_types,
        &["image/png".into(), "*/*".into()]
    );
}

#[test]
fn lambda_integration_errors_name_what_to_fix() {
    let path = |p: &str| {
        format!("gateway.json: $.apis[0].definition.paths./{p}.get.x-amazon-apigateway-integration")
    };
    let paths = json!({
        "/a": {"get": op(lambda("arn:aws:lambda:us-east-1:1:function:nowhere", json!({"payloadFormatVersion": "2.0"})))},
        "/b": {"get": op(lambda("arn:aws:lambda:us-east-1:1:function:x", json!({})))},
        "/c": {"get": op(json!({"type": "aws_proxy", "httpMethod": "GET", "payloadFormatVersion": "2.0", "uri": "https://lambda.example/fn"}))},
        "/d": {"get": op(lambda("arn:aws:lambda:us-east-1:1:function:${stageVariables.missing}", json!({"payloadFormatVersion": "2.0"})))},
        "/e": {"get": op(json!({"type": "aws_proxy", "integrationSubtype": "SQS-SendMessage", "payloadFormatVersion": "1.0"}))},
        "/f": {"get": op(lambda("arn:aws:lambda:us-east-1:1:function:${context.x}", json!({"payloadFormatVersion": "2.0"})))}
    });
    let errors = errors_of(load_json(gateway("HTTP", paths, json!({}))));
    assert_eq!(
        errors,
        vec![
            format!(
                "{}: an HTTP API's Lambda proxy integration needs `payloadFormatVersion`: \"1.0\" or \"2.0\"",
                path("b")
            ),
            format!(
                "{}.httpMethod: a Lambda proxy integration's httpMethod is POST (Lambda's Invoke API), not `GET`",
                path("c")
            ),
            format!(
                "{}.uri: `https://lambda.example/fn` is not a Lambda proxy integration URI: expected `arn:aws:apigateway:{{region}}:lambda:path/2015-03-31/functions/{{functionArn}}/invocations`",
                path("c")
            ),
            format!(
                "{}.integrationSubtype: AWS service integrations (`integrationSubtype`) are not supported yet",
                path("e")
            ),
            format!(
                "{}.uri: `${{context.x}}` in `{}`: only `${{stageVariables.NAME}}` may appear in the function part of a Lambda integration URI",
                path("f"),
                uri("arn:aws:lambda:us-east-1:1:function:${context.x}")
            ),
        ]
    );

    // Once the definition is valid: every stage's function must be mapped.
    let paths = json!({
        "/a": {"get": op(lambda("arn:aws:lambda:us-east-1:1:function:nowhere", json!({"payloadFormatVersion": "2.0"})))},
        "/d": {"get": op(lambda("arn:aws:lambda:us-east-1:1:function:${stageVariables.missing}", json!({"payloadFormatVersion": "2.0"})))}
    });
    let errors = errors_of(load_json(gateway("HTTP", paths, json!({}))));
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert_eq!(
        errors[0],
        format!(
            "{}.uri: the Lambda proxy integration of `GET /a` in API `pets` (stage `prod`) calls function `arn:aws:lambda:us-east-1:1:function:nowhere`, which the gateway file's `functions` does not map: add `\"functions\": {{\"nowhere\": {{\"url\": \"http://127.0.0.1:9001/\"}}}}`, an HTTP endpoint that takes the proxy event as a POST body and answers with the function's result; or give `local` (a process on the Lambda Runtime API) or `remote` (Lambda's Invoke API) in place of `url`",
            path("a")
        )
    );
    assert_eq!(
        errors[2],
        format!(
            "{}.uri: stage `prod`: stage variable `missing` used in the Lambda integration URI is not defined",
            path("d")
        )
    );

    // REST APIs send the 1.0 event only.
    let paths = json!({"/a": {"get": op(lambda("arn:aws:lambda:us-east-1:1:function:blue", json!({"payloadFormatVersion": "2.0"})))}});
    let errors = errors_of(load_json(gateway(
        "REST",
        paths,
        json!({"blue": {"url": "http://127.0.0.1:1/"}}),
    )));
    assert_eq!(
        errors,
        vec![format!(
            "{}.payloadFormatVersion: payload format 2.0 is for HTTP APIs: REST APIs' Lambda proxy integrations send the 1.0 event",
            path("a")
        )]
    );
}

#[test]
fn a_definition_alone_compiles_without_functions() {
    let d = doc(
        json!({"/a": {"get": op(lambda("arn:aws:lambda:us-east-1:1:function:blue", json!({})))}}),
    );
    let s = definition(d).unwrap();
    assert!(
        lambda_of(&s, 0, 0).function.is_none(),
        "answers 502 when served"
    );
}

#[test]
fn lambda_example_compiles() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/examples/lambda.json");
    let s = load(&file, &FsLoader, 1).unwrap_or_else(|e| panic!("{e:#?}"));
    let names: Vec<String> = (0..2)
        .map(|stage| function_name(&s, lambda_of(&s, stage, 0)))
        .collect();
    assert_eq!(names, ["hello", "hello-dev"]);
    assert_eq!(lambda_of(&s, 2, 0).payload, PayloadVersion::V2);
}

#[test]
fn credentials_and_content_handling_are_accepted_and_ignored() {
    let d = |handling: &str| {
        doc(
            json!({"/a": {"get": op(lambda("arn:aws:lambda:us-east-1:1:function:blue", json!({
                "credentials": "arn:aws:iam::123456789012:role/apigw-invoke",
                "contentHandling": handling,
                "passthroughBehavior": "when_no_match",
                "responses": {"default": {"statusCode": "200"}}
            })))}}),
        )
    };
    assert!(definition(d("CONVERT_TO_TEXT")).is_ok());
    assert_eq!(
        errors_of(definition(d("TEXT"))),
        vec![
            "api.json: $.paths./a.get.x-amazon-apigateway-integration.contentHandling: unknown contentHandling `TEXT`: expected CONVERT_TO_TEXT or CONVERT_TO_BINARY"
        ]
    );
}
