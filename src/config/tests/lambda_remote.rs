//! Remote functions (`functions` entries of kind `remote`) and `awsCredentials`.

use super::*;

const ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:auth";

fn gateway(functions: Value, credentials: Value) -> Value {
    let uri =
        format!("arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{ARN}/invocations");
    let mut d = doc(json!({
        "/a": {"get": {"security": [{"tok": []}], "x-amazon-apigateway-integration": proxy("http://b/a")}}
    }));
    d["components"] = json!({"securitySchemes": {"tok": {
        "type": "apiKey", "name": "Authorization", "in": "header",
        "x-amazon-apigateway-authtype": "custom",
        "x-amazon-apigateway-authorizer": {"type": "token", "authorizerUri": uri}}}});
    json!({
        "apis": [{"id": "pets", "definition": d}],
        "stages": [{"apiId": "pets", "stageName": "prod"}],
        "functions": functions,
        "awsCredentials": credentials
    })
}

fn deploy() -> Value {
    json!({"deploy": {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "s3cr3t", "sessionToken": "tok"}})
}

fn remote(snap: &Snapshot) -> &RemoteFunction {
    match &snap.functions[0].target {
        FunctionTarget::Remote(r) => r,
        _ => panic!("a remote function"),
    }
}

#[test]
fn a_remote_function_defaults_its_region_and_endpoint_from_the_arn() {
    let mut g = gateway(
        json!({ARN: {"remote": {"credentials": "deploy", "qualifier": "live"}, "timeoutMs": 4000}}),
        deploy(),
    );
    g["server"] = json!({"upstreamTls": {"caBundle": "ca.pem"}});
    let ca = include_str!("../../../conf/certs/dev-ca.pem");
    let snap = load_files(&g, &[("ca.pem", ca)]).unwrap();
    let r = remote(&snap);
    assert_eq!(&*r.region, "eu-west-1");
    assert_eq!(
        std::str::from_utf8(&r.path).unwrap(),
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Aauth/invocations"
    );
    assert_eq!(&*r.query, b"Qualifier=live");
    let up = &snap.upstreams[r.upstream.0 as usize];
    assert_eq!(
        (up.scheme, up.host.as_str(), up.port),
        (Scheme::Https, "lambda.eu-west-1.amazonaws.com", 443)
    );
    assert_eq!(&*r.credentials.access_key_id, "AKIDEXAMPLE");
    assert_eq!(&*r.credentials.secret_access_key, b"s3cr3t");
    assert_eq!(r.credentials.session_token.as_deref(), Some("tok"));
    assert!(
        !format!("{:?}", r.credentials).contains("s3cr3t"),
        "Debug hides the secret"
    );
    assert_eq!(
        snap.functions[0].timeout,
        std::time::Duration::from_millis(4000)
    );
}

#[test]
fn an_endpoint_and_function_name_can_be_given() {
    let snap = load_json(gateway(
        json!({"auth": {"remote": {"credentials": "deploy", "region": "us-west-2",
            "endpoint": "http://127.0.0.1:9000/prefix/", "function": "my-fn"}}}),
        deploy(),
    ))
    .unwrap();
    let r = remote(&snap);
    assert_eq!(&*r.region, "us-west-2");
    assert_eq!(&*r.path, b"/prefix/2015-03-31/functions/my-fn/invocations");
    assert!(r.query.is_empty());
    let up = &snap.upstreams[r.upstream.0 as usize];
    assert_eq!((up.scheme, up.port), (Scheme::Http, 9000));
}

#[test]
fn credentials_from_the_environment() {
    let env = |name: &str| match name {
        "AWS_ACCESS_KEY_ID" => Some("AKIDFROMENV".to_string()),
        "AWS_SECRET_ACCESS_KEY" => Some("envsecret".to_string()),
        _ => None,
    };
    let g = gateway(
        json!({ARN: {"remote": {"endpoint": "http://127.0.0.1:9000"}}}),
        json!({}),
    );
    let loader = MemLoader(vec![(
        PathBuf::from("/cfg/gateway.json"),
        serde_json::to_vec(&g).unwrap(),
    )]);
    let snap = load_with_env(Path::new("/cfg/gateway.json"), &loader, 1, &env).unwrap();
    let r = remote(&snap);
    assert_eq!(&*r.credentials.access_key_id, "AKIDFROMENV");
    assert_eq!(r.credentials.session_token, None);
}

#[test]
fn remote_errors_name_the_entry() {
    let f = "gateway.json: $.functions";
    let errors = |functions: Value, creds: Value| errors_of(load_json(gateway(functions, creds)));
    assert_eq!(
        errors(json!({ARN: {"remote": {}}}), json!({})),
        vec![format!(
            "{f}.{ARN}.remote: function `{ARN}`: no `credentials` given and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set"
        )]
    );
    assert_eq!(
        errors(json!({ARN: {"remote": {"credentials": "nope"}}}), deploy()),
        vec![format!(
            "{f}.{ARN}.remote.credentials: credentials `nope` are not in the gateway file's `awsCredentials`"
        )]
    );
    // An entry in error is left out, so the authorizer's function is also reported unmapped.
    assert_eq!(
        errors(
            json!({"auth": {"remote": {"credentials": "deploy"}}}),
            deploy()
        )[0],
        format!(
            "{f}.auth.remote: function `auth`: give `region` (it is not in the function's ARN)"
        )
    );
    assert_eq!(
        errors(
            json!({ARN: {"url": "http://x/", "remote": {"credentials": "deploy"}}}),
            deploy()
        )[0],
        format!("{f}.{ARN}: give one of `url`, `local` or `remote`")
    );
    assert_eq!(
        errors(
            json!({ARN: {"remote": {"credentials": "deploy", "qualifier": "a b", "extra": 1}}}),
            deploy()
        )[..2],
        [
            format!(
                "{f}.{ARN}.remote.qualifier: qualifier `a b`: a version (`3`, `$LATEST`) or an alias name (letters, digits, `-`, `_`)"
            ),
            format!("{f}.{ARN}.remote.extra: unknown property `extra`"),
        ]
    );
    assert_eq!(
        errors(
            json!({ARN: {"remote": {"credentials": "deploy"}}}),
            json!({"deploy": {"accessKeyId": "AKID", "secretAccessKeyEnv": "NOPE"}})
        ),
        vec!["gateway.json: $.awsCredentials.deploy.secretAccessKeyEnv: credentials `deploy`: environment variable `NOPE` is not set".to_string()]
    );
}
