//! AWS_IAM methods end to end (issue 8, SPEC-NOTES §10, RELIABILITY A10): requests signed by
//! botocore (`scripts/sigv4_sign_request.py`) against the real binary on loopback, with the
//! gateway file's `iam` credentials and their identity policies. What the client sees (status,
//! API Gateway's messages, `x-amzn-ErrorType`) and what the integration receives (the body,
//! the caller in mapped headers, no unsigned headers).
//!
//! Needs `python3` with `botocore`, which `scripts/test.sh` installs. Without it each test
//! says it did not run and passes — except under `CI`, where it fails.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::http::request;
use support::sigv4::{Key, Spec, available, sign, sign_one};
use support::*;

const ACCOUNT: &str = "111122223333";

const ALICE: Key = Key {
    id: "AKIDALICEEXAMPLE1",
    secret: "alice/secret+key",
    token: None,
};
/// Same account, no identity policy.
const NOBODY: Key = Key {
    id: "AKIDNOBODYEXAMPL",
    secret: "nobody-secret",
    token: None,
};
const TEMP: Key = Key {
    id: "ASIATEMPEXAMPLE01",
    secret: "temporary/secret",
    token: Some("IQoJb3JpZ2luX2VjEXAMPLE//token+/="),
};

fn allow_and_deny() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke",
         "Resource": [format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:tapi/*/GET/*"),
                      format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:tapi/prod/POST/pets")]},
        {"Effect": "Deny", "Action": "execute-api:Invoke",
         "Resource": format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:tapi/*/DELETE/*")}
    ]})
}

fn iam_method(up: &Upstream, path: &str) -> Value {
    json!({
        "x-amazon-apigateway-auth": {"type": "AWS_IAM"},
        "x-amazon-apigateway-integration": {
            "type": "http_proxy", "httpMethod": "ANY", "uri": up.uri(path),
            "requestParameters": {
                "integration.request.header.X-User-Arn": "context.identity.userArn",
                "integration.request.header.X-Access-Key": "context.identity.accessKey",
                "integration.request.header.X-Caller-Account": "context.identity.accountId",
                "integration.request.header.X-Signed-Custom": "method.request.header.X-Custom",
                "integration.request.header.X-Unsigned-Role": "method.request.header.X-Role"
            }
        }
    })
}

/// REST API `tapi`, the stage in the path (`/prod/...`, as execute-api signs it).
fn config(up: &Upstream) -> Value {
    let mut files = iam_method(up, "/files/{name}");
    files["parameters"] = json!([{"name": "name", "in": "path", "required": true}]);
    files["x-amazon-apigateway-integration"]["requestParameters"]["integration.request.path.name"] =
        json!("method.request.path.name");
    json!({
        "server": {"defaultApi": {"apiId": "tapi"}, "accountId": ACCOUNT, "region": "us-east-1"},
        "iam": {"credentials": [
            {"accessKeyId": ALICE.id, "secretAccessKey": ALICE.secret,
             "principalArn": format!("arn:aws:iam::{ACCOUNT}:user/alice"), "policies": [allow_and_deny()]},
            {"accessKeyId": NOBODY.id, "secretAccessKey": NOBODY.secret,
             "principalArn": format!("arn:aws:iam::{ACCOUNT}:user/nobody")},
            {"accessKeyId": TEMP.id, "secretAccessKey": TEMP.secret, "sessionToken": TEMP.token,
             "principalArn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/ops/temp"),
             "policies": [{"Statement": {"Effect": "Allow", "Action": "execute-api:*", "Resource": "*"}}]}
        ]},
        "apis": [{"id": "tapi", "definition": {
            "openapi": "3.0.1", "info": {"title": "iam", "version": "1"},
            "paths": {
                "/pets": {"get": iam_method(up, "/pets"), "post": iam_method(up, "/pets")},
                "/pets/{id}": {"delete": iam_method(up, "/pets")},
                "/files/{name}": {"get": files},
                "/open": {"get": {"x-amazon-apigateway-integration": {"type": "http_proxy", "httpMethod": "ANY", "uri": up.uri("/open")}}}
            }
        }}],
        "stages": [{"restApiId": "tapi", "stageName": "prod"}]
    })
}

fn send(gw: &Gateway, bytes: &[u8]) -> Response {
    gw.client().roundtrip(bytes)
}

fn message(r: &Response) -> String {
    let v = r.json();
    v["message"]
        .as_str()
        .or(v["Message"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn start() -> Option<(Upstream, Gateway)> {
    if !available("iam") {
        return None;
    }
    let up = Upstream::echo();
    let gw = Gateway::start(config(&up));
    Some((up, gw))
}

#[test]
fn botocore_signed_get_and_post_reach_the_integration_with_the_caller() {
    let Some((up, gw)) = start() else { return };
    let signed = sign(
        &ALICE,
        &[
            Spec::new("GET", "/prod/pets?b=2&a=1").header("X-Custom", "signed-value"),
            Spec::new("POST", "/prod/pets")
                .header("Content-Type", "application/json")
                .body(br#"{"name":"rex"}"#),
        ],
    );
    let mut get = signed[0].clone();
    // Added after signing: neither forwarded nor mapped (A10d).
    get.headers.push(("X-Role".into(), "admin".into()));
    get.headers
        .push(("X-Forwarded-Host".into(), "evil.test".into()));
    let r = send(&gw, &get.raw());
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = up.requests().last().cloned().unwrap();
    assert_eq!(seen.target, "/pets?b=2&a=1");
    assert_eq!(
        seen.header("x-user-arn").as_deref(),
        Some("arn:aws:iam::111122223333:user/alice")
    );
    assert_eq!(seen.header("x-access-key").as_deref(), Some(ALICE.id));
    assert_eq!(seen.header("x-caller-account").as_deref(), Some(ACCOUNT));
    assert_eq!(seen.header("x-custom").as_deref(), Some("signed-value"));
    assert_eq!(
        seen.header("x-signed-custom").as_deref(),
        Some("signed-value")
    );
    assert_eq!(seen.header("x-role"), None);
    assert_eq!(seen.header("x-unsigned-role"), None);
    assert_eq!(seen.header("x-forwarded-host"), None);

    let r = send(&gw, &signed[1].raw());
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = up.requests().last().cloned().unwrap();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.body, br#"{"name":"rex"}"#);
    assert_eq!(
        seen.header("content-type").as_deref(),
        Some("application/json")
    );
}

/// The body arrives after the head (and chunked): the gateway reads all of it before it
/// checks the signature, then forwards the same bytes.
#[test]
fn a_signed_body_that_arrives_late_or_chunked_is_verified_whole() {
    let Some((up, gw)) = start() else { return };
    let body = vec![b'x'; 100_000];
    let signed = sign_one(&ALICE, Spec::new("POST", "/prod/pets").body(&body));
    let raw = signed.raw();
    let head_len = raw.len() - body.len();
    let mut c = gw.client();
    c.send(&raw[..head_len]);
    std::thread::sleep(Duration::from_millis(150));
    c.send(&raw[head_len..]);
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(up.requests().last().unwrap().body, body);

    // Chunked framing added after signing: the signature covers the de-chunked body.
    let mut head = signed.clone();
    head.body.clear();
    let mut raw = head.raw();
    raw.truncate(raw.len() - 2);
    raw.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
    for part in body.chunks(40_000) {
        raw.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        raw.extend_from_slice(part);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let mut c = gw.client();
    let cut = raw.len() / 2;
    c.send(&raw[..cut]);
    std::thread::sleep(Duration::from_millis(100));
    c.send(&raw[cut..]);
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(up.requests().last().unwrap().body, body);

    // `Expect: 100-continue` (added after signing): the gateway asks for the body.
    let signed = sign_one(&ALICE, Spec::new("POST", "/prod/pets").body(b"continued"));
    let mut raw = signed.raw();
    let head_len = raw.len() - b"continued".len();
    raw.splice(
        head_len - 2..head_len - 2,
        b"Expect: 100-continue\r\n".iter().copied(),
    );
    let head_len = head_len + b"Expect: 100-continue\r\n".len();
    let mut c = gw.client();
    c.send(&raw[..head_len]);
    let interim = c.read_response().unwrap();
    assert_eq!(interim.status, 100);
    c.send(&raw[head_len..]);
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(up.requests().last().unwrap().body, b"continued");
}

#[test]
fn refusals_carry_api_gateways_messages() {
    let Some((up, gw)) = start() else { return };
    let before = up.request_count();
    // No signature at all.
    let r = send(&gw, &request("GET", "/prod/pets", &[], None));
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body_str(),
        r#"{"message":"Missing Authentication Token"}"#
    );
    assert_eq!(
        r.header("x-amzn-ErrorType").as_deref(),
        Some("MissingAuthenticationTokenException")
    );
    // Not SigV4.
    let r = send(
        &gw,
        &request(
            "GET",
            "/prod/pets",
            &[("Authorization", "Bearer abc")],
            None,
        ),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        message(&r),
        "'abc' not a valid key=value pair (missing equal-sign) in Authorization header: 'Bearer abc'."
    );
    assert_eq!(
        r.header("x-amzn-ErrorType").as_deref(),
        Some("IncompleteSignatureException")
    );
    // Unknown key; wrong secret.
    let ghost = Key {
        id: "AKIDGHOSTEXAMPLE1",
        secret: "x",
        token: None,
    };
    let r = send(&gw, &sign_one(&ghost, Spec::new("GET", "/prod/pets")).raw());
    assert_eq!(r.status, 403);
    assert_eq!(
        message(&r),
        "The security token included in the request is invalid."
    );
    let wrong = Key {
        secret: "not/alices/secret",
        ..ALICE
    };
    let r = send(&gw, &sign_one(&wrong, Spec::new("GET", "/prod/pets")).raw());
    assert_eq!(r.status, 403);
    let m = message(&r);
    assert!(
        m.starts_with(
            "The request signature we calculated does not match the signature you provided."
        ) && m
            .contains("The Canonical String for this request should have been\n'GET\n/prod/pets\n")
            && m.contains("The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n"),
        "{m}"
    );
    assert_eq!(
        r.header("x-amzn-ErrorType").as_deref(),
        Some("InvalidSignatureException")
    );
    assert_eq!(
        up.request_count(),
        before,
        "no refused request is forwarded"
    );
    // A route without IAM needs nothing.
    assert_eq!(
        send(&gw, &request("GET", "/prod/open", &[], None)).status,
        200
    );
}

/// RELIABILITY A10 (b)–(g); (a) is the test above.
#[test]
fn reliability_a10() {
    let Some((up, gw)) = start() else { return };
    let before = up.request_count();
    let specs = [
        Spec {
            offset_secs: -16 * 60,
            ..Spec::new("GET", "/prod/pets")
        },
        Spec::new("POST", "/prod/pets")
            .header(
                "X-Amz-Content-Sha256",
                "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb", // sha256("a")
            )
            .body(b"a"),
        Spec::new("GET", "/prod/pets"),
        Spec::new("GET", "/prod/files/a%252Fb"),
        Spec::new("GET", "/prod/files/a%2Fb"),
    ];
    let signed = sign(&ALICE, &specs);

    // (b) 16 minutes old: outside the 5-minute window.
    let r = send(&gw, &signed[0].raw());
    assert_eq!(r.status, 403);
    assert!(
        message(&r).starts_with("Signature expired: "),
        "{}",
        r.body_str()
    );
    assert!(message(&r).ends_with(" - 5 min.)"), "{}", r.body_str());

    // (c) the body changed, its claimed hash did not.
    let mut tampered = signed[1].clone();
    let r = send(&gw, &tampered.raw());
    assert_eq!(
        r.status,
        200,
        "the untouched request passes: {}",
        r.body_str()
    );
    tampered.body = b"b".to_vec();
    let r = send(&gw, &tampered.raw());
    assert_eq!(r.status, 403);
    assert!(
        message(&r).starts_with("The request signature we calculated does not match"),
        "{}",
        r.body_str()
    );

    // (d) `host` not signed.
    let mut no_host = signed[2].clone();
    let auth = no_host
        .header("Authorization")
        .unwrap()
        .replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date");
    no_host.set_header("Authorization", &auth);
    let r = send(&gw, &no_host.raw());
    assert_eq!(r.status, 403);
    assert_eq!(
        message(&r),
        "'Host' must be a 'SignedHeader' in the AWS Authorization."
    );

    // (e) dot segments are refused before routing (A08); an encoded path is verified as sent
    // and forwarded as sent.
    let mut dots = signed[2].clone();
    dots.target = "/prod/x/../pets".into();
    assert_eq!(send(&gw, &dots.raw()).status, 400);
    let r = send(&gw, &signed[3].raw());
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(up.requests().last().unwrap().target, "/files/a%252Fb");
    let mut swapped = signed[4].clone();
    swapped.target = "/prod/files/a%252Fb".into();
    let r = send(&gw, &swapped.raw());
    assert_eq!(r.status, 403);
    assert!(
        message(&r).contains("\n'GET\n/prod/files/a%25252Fb\n"),
        "{}",
        r.body_str()
    );

    // (f) the credential scope's date is not X-Amz-Date's.
    let mut other_day = signed[2].clone();
    let date = other_day.header("X-Amz-Date").unwrap().to_string();
    let day: u32 = date[6..8].parse().unwrap();
    let new_day = if day > 1 { day - 1 } else { day + 1 };
    let shifted = format!("{}{:02}{}", &date[..6], new_day, &date[8..]);
    other_day.set_header("X-Amz-Date", &shifted);
    let r = send(&gw, &other_day.raw());
    assert_eq!(r.status, 403);
    assert!(
        message(&r).starts_with("Date in Credential scope does not match YYYYMMDD"),
        "{}",
        r.body_str()
    );

    // (g) two X-Amz-Date lines.
    let mut twice = signed[2].clone();
    twice.headers.push(("X-Amz-Date".into(), date.clone()));
    let r = send(&gw, &twice.raw());
    assert_eq!(r.status, 400);
    assert_eq!(message(&r), "Multiple X-Amz-Date values in the request.");

    assert_eq!(
        up.request_count(),
        before + 2,
        "only the untouched (c) and the encoded-path requests are forwarded"
    );
}

#[test]
fn temporary_credentials_need_their_session_token() {
    let Some((up, gw)) = start() else { return };
    let signed = sign(
        &TEMP,
        &[
            Spec::new("DELETE", "/prod/pets/7"),
            Spec {
                presign: true,
                ..Spec::new("GET", "/prod/pets")
            },
        ],
    );
    let r = send(&gw, &signed[0].raw());
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        up.requests()
            .last()
            .unwrap()
            .header("x-user-arn")
            .as_deref(),
        Some("arn:aws:sts::111122223333:assumed-role/ops/temp")
    );
    let r = send(&gw, &signed[1].raw());
    assert_eq!(r.status, 200, "presigned: {}", r.body_str());

    let mut without = signed[0].clone();
    without.remove_header("X-Amz-Security-Token");
    let r = send(&gw, &without.raw());
    assert_eq!(r.status, 403);
    assert_eq!(
        message(&r),
        "The security token included in the request is invalid."
    );
    let wrong = Key {
        token: Some("a-different-token"),
        ..TEMP
    };
    let r = send(
        &gw,
        &sign_one(&wrong, Spec::new("DELETE", "/prod/pets/7")).raw(),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        message(&r),
        "The security token included in the request is invalid."
    );
    // A permanent key with a token.
    let with_token = Key {
        token: Some("x"),
        ..ALICE
    };
    let r = send(
        &gw,
        &sign_one(&with_token, Spec::new("GET", "/prod/pets")).raw(),
    );
    assert_eq!(r.status, 403);
}

#[test]
fn identity_policies_decide_per_method_arn() {
    let Some((up, gw)) = start() else { return };
    let before = up.request_count();
    let signed = sign(
        &ALICE,
        &[
            Spec::new("DELETE", "/prod/pets/1"),
            Spec::new("GET", "/prod/files/x"),
        ],
    );
    let r = send(&gw, &signed[0].raw());
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"Message": "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:111122223333:tapi/prod/DELETE/pets/1 with an explicit deny"})
    );
    assert_eq!(
        r.header("x-amzn-ErrorType").as_deref(),
        Some("AccessDeniedException")
    );
    assert_eq!(send(&gw, &signed[1].raw()).status, 200);
    // No identity policy and no resource policy: nothing allows.
    let r = send(
        &gw,
        &sign_one(&NOBODY, Spec::new("GET", "/prod/pets")).raw(),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"Message": "User: arn:aws:iam::111122223333:user/nobody is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:111122223333:tapi/prod/GET/pets"})
    );
    assert_eq!(up.request_count(), before + 1);
}

/// HTTP APIs: a route whose `security` names an `awsSigv4` scheme; the `$default` stage has no
/// path prefix, so the signed path is the route's.
#[test]
fn http_api_routes_with_a_sigv4_scheme() {
    if !available("iam") {
        return;
    }
    let up = Upstream::echo();
    let mut c = config(&up);
    c["apis"] = json!([{"id": "hapi", "protocolType": "HTTP", "definition": {
        "openapi": "3.0.1", "info": {"title": "h", "version": "1"},
        "components": {"securitySchemes": {"sigv4": {
            "type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authtype": "awsSigv4"}}},
        "paths": {"/pets": {"get": {
            "security": [{"sigv4": []}],
            "x-amazon-apigateway-integration": {"type": "http_proxy", "httpMethod": "GET",
                "uri": up.uri("/pets"), "payloadFormatVersion": "1.0"}}}}
    }}]);
    c["stages"] = json!([{"apiId": "hapi", "stageName": "$default"}]);
    c["server"]["defaultApi"] = json!({"apiId": "hapi"});
    // alice's policy names API `tapi`; the temporary key may invoke anything.
    let gw = Gateway::start(c);
    let r = send(&gw, &request("GET", "/pets", &[], None));
    assert_eq!(r.status, 403);
    assert_eq!(r.body_str(), r#"{"message":"Forbidden"}"#);
    let r = send(&gw, &sign_one(&TEMP, Spec::new("GET", "/pets")).raw());
    assert_eq!(r.status, 200, "{}", r.body_str());
    let r = send(&gw, &sign_one(&ALICE, Spec::new("GET", "/pets")).raw());
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"Message": "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:111122223333:hapi/$default/GET/pets"})
    );
}

/// `requireAuthorizationForCacheControl`: a signed caller's `Cache-Control: max-age=0`
/// invalidates the entry only when its policies allow `execute-api:InvalidateCache` on the
/// method (API Gateway's rule); any other caller gets the stage's strategy (here 403).
#[test]
fn only_callers_allowed_invalidate_cache_may_invalidate() {
    if !available("iam") {
        return;
    }
    // Signed requests carry `Authorization`: a shared cache stores their responses only when
    // the backend says `public` (RFC 9111 §3.5, RELIABILITY C03).
    let up = Upstream::start(Mode::EchoWith(vec![(
        "Cache-Control".into(),
        "public, max-age=60".into(),
    )]));
    let mut c = config(&up);
    c["stages"][0]["cacheClusterEnabled"] = json!(true);
    c["stages"][0]["cacheClusterSize"] = json!("0.5");
    c["stages"][0]["methodSettings"] = json!({ "*/*": {
        "cachingEnabled": true,
        "requireAuthorizationForCacheControl": true,
        "unauthorizedCacheControlHeaderStrategy": "FAIL_WITH_403"
    } });
    let gw = Gateway::start(c);
    let get = |key: &Key, no_cache: bool| {
        let mut spec = Spec::new("GET", "/prod/pets");
        if no_cache {
            spec = spec.header("Cache-Control", "max-age=0");
        }
        send(&gw, &sign_one(key, spec).raw())
    };
    assert_eq!(get(&ALICE, false).status, 200);
    assert_eq!(get(&ALICE, false).status, 200);
    assert_eq!(up.request_count(), 1, "the second GET is a cache hit");
    // Alice may invoke but not invalidate.
    let r = get(&ALICE, true);
    assert_eq!(r.status, 403, "{}", r.body_str());
    assert_eq!(up.request_count(), 1);
    // The temporary role has `execute-api:*`: its max-age=0 goes to the backend.
    assert_eq!(get(&TEMP, true).status, 200);
    assert_eq!(up.request_count(), 2, "invalidated and fetched again");
    assert_eq!(get(&ALICE, false).status, 200);
    assert_eq!(up.request_count(), 2, "the refreshed entry serves");
}
