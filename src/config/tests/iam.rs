//! The gateway file's `iam`, AWS_IAM methods and REST resource policies.

use super::*;

const ALLOW_ALL: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]}"#;

fn policy(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn rest(definition: Value) -> Value {
    json!({
        "server": {"accountId": "111122223333", "region": "eu-west-1"},
        "apis": [{"id": "pets", "definition": definition}],
        "stages": [{"restApiId": "pets", "stageName": "dev", "variables": {"backend": "127.0.0.1:9000"}}]
    })
}

#[test]
fn credentials_compile_into_a_table_with_their_policies() {
    let mut g = rest(petstore());
    g["iam"] = json!({"maxSkewSeconds": 900, "credentials": [
        {"accessKeyId": "AKIDALICEEXAMPLE1", "secretAccessKey": "secret/a",
         "principalArn": "arn:aws:iam::111122223333:user/alice", "policies": [policy(ALLOW_ALL)]},
        {"accessKeyId": "ASIABOBEXAMPLE001", "secretAccessKeyEnv": "ADMIN_TOKEN", "sessionToken": "tok",
         "principalArn": "arn:aws:sts::444455556666:assumed-role/ops/bob"}
    ]});
    let s = load_json(g).unwrap();
    assert_eq!(s.iam.max_skew_secs, 900);
    assert_eq!(s.iam.credentials.len(), 2);
    let alice = s.iam.credentials.get(b"AKIDALICEEXAMPLE1").unwrap();
    assert_eq!(&*alice.secret_access_key, b"secret/a");
    assert_eq!(&*alice.account, "111122223333");
    assert_eq!(alice.policies.len(), 1);
    let bob = s.iam.credentials.get(b"ASIABOBEXAMPLE001").unwrap();
    assert_eq!(&*bob.secret_access_key, b"s3cret");
    assert_eq!(bob.session_token.as_deref(), Some(&b"tok"[..]));
    assert_eq!(&*bob.account, "444455556666");
    assert!(s.iam.credentials.get(b"AKIDNOBODY0000000").is_none());
    // Without `iam`: the default window and no keys.
    let s = load_json(rest(petstore())).unwrap();
    assert_eq!(s.iam.max_skew_secs, 300);
    assert!(s.iam.credentials.is_empty());
}

#[test]
fn credential_errors_name_the_credential_and_the_statement() {
    let mut g = rest(petstore());
    g["iam"] = json!({"maxSkewSeconds": 0, "credentials": [
        {"accessKeyId": "AKIDALICEEXAMPLE1", "secretAccessKey": "a", "principalArn": "arn:aws:iam::111122223333:user/alice"},
        {"accessKeyId": "AKIDALICEEXAMPLE1", "secretAccessKey": "b", "principalArn": "arn:aws:iam::111122223333:user/alice2"},
        {"accessKeyId": "short", "secretAccessKey": "c", "secretAccessKeyEnv": "ADMIN_TOKEN",
         "principalArn": "arn:aws:s3:::bucket"},
        {"accessKeyId": "AKIDCAROLEXAMPLE1", "secretAccessKeyEnv": "NO_SUCH_VAR",
         "principalArn": "arn:aws:iam::111122223333:user/carol", "tags": 1},
        {"accessKeyId": "AKIDDAVEEXAMPLE01", "secretAccessKey": "d", "principalArn": "arn:aws:iam::111122223333:user/dave",
         "policies": [
            {"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"},
                           {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*", "Condition": {"StringEquals": {"aws:username": "x"}}}]},
            {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "*"}}
         ]}
    ]});
    assert_eq!(
        errors_of(load_json(g)),
        vec![
            "gateway.json: $.iam.maxSkewSeconds: 0 is out of range: expected 1 to 3600",
            "gateway.json: $.iam.credentials[1].accessKeyId: duplicate access key id `AKIDALICEEXAMPLE1`",
            "gateway.json: $.iam.credentials[2].accessKeyId: access key id `short`: 16 to 128 letters and digits, like `AKIAIOSFODNN7EXAMPLE`",
            "gateway.json: $.iam.credentials[2]: credential `short`: give `secretAccessKey` or `secretAccessKeyEnv`, not both",
            "gateway.json: $.iam.credentials[2].principalArn: credential `short`: `arn:aws:s3:::bucket` is not an IAM principal ARN (`arn:aws:iam::123456789012:user/alice`, `...:role/name` or `arn:aws:sts::123456789012:assumed-role/role/session`)",
            "gateway.json: $.iam.credentials[3].secretAccessKeyEnv: credential `AKIDCAROLEXAMPLE1`: environment variable `NO_SUCH_VAR` is not set",
            "gateway.json: $.iam.credentials[3].tags: unknown property `tags`",
            "gateway.json: $.iam.credentials[4].policies[0]: credential `AKIDDAVEEXAMPLE01`: Statement[1]: condition operator `StringEquals` is not supported: tollgate evaluates IpAddress and NotIpAddress on aws:SourceIp",
            "gateway.json: $.iam.credentials[4].policies[1]: credential `AKIDDAVEEXAMPLE01`: Statement[0]: an identity policy (or an authorizer's policy) has no `Principal`: the caller is the principal",
        ]
    );
}

#[test]
fn aws_iam_methods_are_marked_on_their_routes() {
    let mut d = doc(json!({
        "/a": {"get": {"security": [{"sigv4": []}], "x-amazon-apigateway-integration": proxy("http://b/a")}},
        "/b": {"get": {"x-amazon-apigateway-auth": {"type": "AWS_IAM"}, "x-amazon-apigateway-integration": proxy("http://b/b")}},
        "/c": {"get": op(proxy("http://b/c"))}
    }));
    d["components"] = json!({"securitySchemes": {
        "sigv4": {"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4"}
    }});
    let s = definition(d).unwrap();
    let iam: Vec<(&str, bool)> = s.apis[0]
        .routes
        .iter()
        .map(|r| (r.route_key.as_str(), r.iam))
        .collect();
    assert_eq!(
        iam,
        vec![("GET /a", true), ("GET /b", true), ("GET /c", false)]
    );
}

#[test]
fn aws_iam_and_a_jwt_authorizer_on_one_method_is_an_error() {
    let mut d = doc(json!({
        "/a": {"get": {"security": [{"sigv4": []}, {"pool": []}], "x-amazon-apigateway-integration": proxy("http://b/a")}},
        "/b": {"get": {"security": [{"pool": []}], "x-amazon-apigateway-auth": {"type": "AWS_IAM"}, "x-amazon-apigateway-integration": proxy("http://b/b")}}
    }));
    d["components"] = json!({"securitySchemes": {
        "sigv4": {"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4"},
        "pool": {"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "cognito_user_pools",
                 "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": ["arn:aws:cognito-idp:us-east-1:111122223333:userpool/us-east-1_X"]}}
    }});
    assert_eq!(
        errors_of(definition(d)),
        vec![
            "api.json: $.paths./a.get.security[1].pool: one authorizer per route: `pool` and AWS_IAM are both required",
            "api.json: $.paths./b.get.x-amazon-apigateway-auth.type: one authorizer per route: AWS_IAM and another authorizer are both required",
        ]
    );
}

#[test]
fn resource_policies_are_read_against_the_apis_arn() {
    let mut d = petstore();
    d["x-amazon-apigateway-policy"] = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}
    ]});
    let s = load_json(rest(d.clone())).unwrap();
    assert!(s.apis[0].resource_policy.is_some());
    // As JSON text, as API Gateway's exports carry it.
    d["x-amazon-apigateway-policy"] = json!(d["x-amazon-apigateway-policy"].to_string());
    assert!(
        load_json(rest(d)).unwrap().apis[0]
            .resource_policy
            .is_some()
    );
    assert!(
        load_json(rest(petstore())).unwrap().apis[0]
            .resource_policy
            .is_none()
    );
}

#[test]
fn resource_policy_errors_are_named_at_the_policy() {
    let mut d = petstore();
    d["x-amazon-apigateway-policy"] = json!({"Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"},
        {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}
    ]});
    assert_eq!(
        errors_of(load_json(rest(d.clone()))),
        vec![
            "gateway.json: $.apis[0].definition.x-amazon-apigateway-policy: resource policy: Statement[1]: a resource policy statement needs `Principal`"
        ]
    );
    d["x-amazon-apigateway-policy"] = json!("{not json");
    let e = errors_of(load_json(rest(d.clone())));
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("gateway.json: $.apis[0].definition.x-amazon-apigateway-policy: resource policy: the policy is not JSON"), "{e:?}");
    d["x-amazon-apigateway-policy"] = json!(5);
    assert_eq!(
        errors_of(load_json(rest(d))),
        vec![
            "gateway.json: $.apis[0].definition.x-amazon-apigateway-policy: a resource policy is a policy document: an object, or its JSON text"
        ]
    );
}

#[test]
fn http_apis_have_no_resource_policies() {
    let mut d = doc(
        json!({"/a": {"get": op(json!({"type": "http_proxy", "httpMethod": "GET", "uri": "http://b/", "payloadFormatVersion": "1.0"}))}}),
    );
    d["x-amazon-apigateway-policy"] = policy(ALLOW_ALL);
    let g = json!({
        "apis": [{"id": "h", "protocolType": "HTTP", "definition": d}],
        "stages": [{"apiId": "h", "stageName": "$default"}]
    });
    assert_eq!(
        errors_of(load_json(g)),
        vec![
            "gateway.json: $.apis[0].definition.x-amazon-apigateway-policy: `x-amazon-apigateway-policy` is a REST API feature: HTTP APIs have no resource policies"
        ]
    );
}
