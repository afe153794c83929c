use serde_json::json;

use super::*;

const API: ApiArn<'static> = ApiArn {
    region: "us-east-1",
    account: "123456789012",
    api_id: "abc123",
};

fn arn(rest: &str) -> String {
    format!("arn:aws:execute-api:us-east-1:123456789012:abc123/{rest}")
}

fn req<'a>(resource: &'a str, principal: Option<&'a str>, ip: &str) -> Request<'a> {
    Request {
        resource,
        principal,
        source_ip: ip.parse().unwrap(),
    }
}

fn resource_policy(doc: serde_json::Value) -> Policy {
    Policy::read(&doc, Kind::Resource, Some(API)).unwrap()
}

fn identity_policy(doc: serde_json::Value) -> Policy {
    Policy::read(&doc, Kind::Identity, None).unwrap()
}

#[test]
fn wildcards_match_like_iam() {
    for (p, v, hit) in [
        ("*", "", true),
        ("*", "anything/at/all", true),
        ("a*c", "abc", true),
        ("a*c", "a/b/c", true),
        ("a*c", "ab", false),
        ("a?c", "abc", true),
        ("a?c", "ac", false),
        ("*/GET/*", "prod/GET/pets/1", true),
        ("*/GET/*", "prod/POST/pets/1", false),
        ("a*b*c", "aXbYbZc", true),
        ("a*b*c", "aXbYbZ", false),
        ("abc", "ABC", false),
        ("**", "x", true),
    ] {
        assert_eq!(glob(p, v, false), hit, "{p} vs {v}");
    }
    assert!(glob("execute-api:invoke", INVOKE, true));
    // Long inputs stay linear: this would take ages with naive backtracking.
    let v = "a".repeat(5000);
    assert!(!glob("*a*a*a*a*a*a*b", &v, false));
}

#[test]
fn an_ip_allow_list_allows_only_its_ranges_ipv4_and_ipv6() {
    let p = resource_policy(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
            "Resource": "execute-api:/*",
            "Condition": {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}
        }]
    }));
    let r = arn("prod/GET/pets");
    assert_eq!(p.evaluate(&req(&r, None, "192.0.2.7")), Decision::Allow);
    assert_eq!(p.evaluate(&req(&r, None, "2001:db8::1")), Decision::Allow);
    assert_eq!(
        p.evaluate(&req(&r, None, "198.51.100.1")),
        Decision::Implicit
    );
    assert_eq!(p.evaluate(&req(&r, None, "::1")), Decision::Implicit);
    // Another API's ARN is not covered by this API's shorthand.
    let other = "arn:aws:execute-api:us-east-1:123456789012:zzz/prod/GET/pets";
    assert_eq!(
        p.evaluate(&req(other, None, "192.0.2.7")),
        Decision::Implicit
    );
}

#[test]
fn an_explicit_deny_wins_over_any_allow() {
    let p = resource_policy(json!({
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
             "Resource": "execute-api:/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "execute-api:*",
             "Resource": "execute-api:/*/DELETE/*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
        ]
    }));
    let del = arn("prod/DELETE/pets/1");
    let get = arn("prod/GET/pets/1");
    assert_eq!(
        p.evaluate(&req(&del, None, "203.0.113.9")),
        Decision::ExplicitDeny
    );
    assert!(p.denies(&req(&del, None, "203.0.113.9")));
    assert_eq!(p.evaluate(&req(&del, None, "10.1.2.3")), Decision::Allow);
    assert_eq!(p.evaluate(&req(&get, None, "203.0.113.9")), Decision::Allow);
}

#[test]
fn principals_match_arns_accounts_and_roots() {
    let p = resource_policy(json!({
        "Statement": {
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::111111111111:user/alice", "222222222222",
                                  "arn:aws:iam::333333333333:root", "arn:aws:iam::444444444444:role/ci-*"]},
            "Action": "execute-api:Invoke", "Resource": "*"
        }
    }));
    let r = arn("prod/GET/x");
    let ip = "127.0.0.1";
    let allowed = |who: Option<&str>| p.evaluate(&req(&r, who, ip)) == Decision::Allow;
    assert!(allowed(Some("arn:aws:iam::111111111111:user/alice")));
    assert!(!allowed(Some("arn:aws:iam::111111111111:user/bob")));
    assert!(allowed(Some("arn:aws:iam::222222222222:user/anyone")));
    assert!(allowed(Some("arn:aws:sts::333333333333:assumed-role/r/s")));
    assert!(allowed(Some("arn:aws:iam::444444444444:role/ci-deploy")));
    assert!(!allowed(Some("arn:aws:iam::444444444444:role/admin")));
    assert!(
        !allowed(None),
        "an unsigned caller is not a listed principal"
    );

    let not = resource_policy(json!({
        "Statement": {"Effect": "Deny", "NotPrincipal": {"AWS": "222222222222"},
                      "Action": "execute-api:Invoke", "Resource": "*"}
    }));
    assert_eq!(
        not.evaluate(&req(&r, Some("arn:aws:iam::222222222222:user/x"), ip)),
        Decision::Implicit
    );
    assert_eq!(not.evaluate(&req(&r, None, ip)), Decision::ExplicitDeny);
}

#[test]
fn not_action_and_not_resource() {
    let p = identity_policy(json!({
        "Statement": [
            {"Effect": "Allow", "NotAction": "s3:*", "NotResource": arn("prod/DELETE/*")}
        ]
    }));
    assert_eq!(
        p.evaluate(&req(&arn("prod/GET/a"), None, "127.0.0.1")),
        Decision::Allow
    );
    assert_eq!(
        p.evaluate(&req(&arn("prod/DELETE/a"), None, "127.0.0.1")),
        Decision::Implicit
    );
    let other_action = identity_policy(json!({
        "Statement": {"Effect": "Allow", "Action": ["execute-api:ManageConnections"], "Resource": "*"}
    }));
    assert_eq!(
        other_action.evaluate(&req(&arn("prod/GET/a"), None, "127.0.0.1")),
        Decision::Implicit
    );
}

#[test]
fn a_policy_as_json_text_reads_like_the_object() {
    let doc = json!({"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]});
    let text = serde_json::Value::String(doc.to_string());
    assert_eq!(
        Policy::read(&text, Kind::Identity, None).unwrap(),
        identity_policy(doc)
    );
}

#[test]
fn what_cannot_be_evaluated_is_refused_by_name() {
    let cases = [
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*",
                   "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}]}),
            "StringEquals",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*",
                   "Condition": {"IpAddress": {"aws:VpcSourceIp": "10.0.0.0/8"}}}]}),
            "aws:VpcSourceIp",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*",
                   "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.1/8"}}}]}),
            "host bits",
        ),
        (
            json!({"Statement": [{"Effect": "Maybe", "Action": "execute-api:Invoke", "Resource": "*"}]}),
            "Effect",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Resource": "*"}]}),
            "needs `Action`",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "x", "NotAction": "y", "Resource": "*"}]}),
            "not both",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*", "Principal": "*"}]}),
            "no `Principal`",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "Invoke", "Resource": "*"}]}),
            "service:Action",
        ),
        (json!({"Version": "2020-01-01", "Statement": []}), "Version"),
        (json!({"Statement": [], "Extra": 1}), "Extra"),
        (json!([1]), "JSON object"),
        (json!("{not json"), "not JSON"),
    ];
    for (doc, want) in cases {
        let e = Policy::read(&doc, Kind::Identity, None).unwrap_err();
        assert!(e.contains(want), "{doc}: {e}");
    }
    let e = Policy::read(
        &json!({"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]}),
        Kind::Resource,
        Some(API),
    )
    .unwrap_err();
    assert!(e.contains("needs `Principal`"), "{e}");
    let e = Policy::read(
        &json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "execute-api:Invoke", "Resource": "*"}]}),
        Kind::Resource,
        Some(API),
    )
    .unwrap_err();
    assert!(e.contains("Service"), "{e}");
}

#[test]
fn outcomes_combine_as_api_gateways_tables() {
    use Decision::*;
    let all = [Allow, Implicit, ExplicitDeny];
    for identity in all {
        assert_eq!(combine(identity, None, true), identity);
        for resource in all {
            let same = combine(identity, Some(resource), true);
            let cross = combine(identity, Some(resource), false);
            let want_same = if identity == ExplicitDeny || resource == ExplicitDeny {
                ExplicitDeny
            } else if identity == Allow || resource == Allow {
                Allow
            } else {
                Implicit
            };
            let want_cross = if want_same == ExplicitDeny {
                ExplicitDeny
            } else if identity == Allow && resource == Allow {
                Allow
            } else {
                Implicit
            };
            assert_eq!(same, want_same, "{identity:?} {resource:?} table A");
            assert_eq!(cross, want_cross, "{identity:?} {resource:?} table B");
        }
    }
}

#[test]
fn account_of_an_arn() {
    assert_eq!(
        arn_account("arn:aws:iam::123456789012:user/x"),
        Some("123456789012")
    );
    assert_eq!(
        arn_account("arn:aws:sts::123456789012:assumed-role/r/s"),
        Some("123456789012")
    );
    assert_eq!(arn_account("arn:aws:s3:::bucket"), None);
    assert_eq!(arn_account("not-an-arn"), None);
}

#[test]
fn invalidate_cache_is_its_own_action() {
    let p = identity_policy(json!({"Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"},
        {"Effect": "Allow", "Action": "execute-api:InvalidateCache", "Resource": arn("prod/GET/cached/*")}
    ]}));
    let ip = "127.0.0.1";
    let cached = arn("prod/GET/cached/a");
    let other = arn("prod/GET/other");
    let on = |r: &str, a| p.evaluate_action(&req(r, None, ip), a);
    assert_eq!(on(&cached, Action::InvalidateCache), Decision::Allow);
    assert_eq!(on(&other, Action::InvalidateCache), Decision::Implicit);
    assert_eq!(on(&other, Action::Invoke), Decision::Allow);
    let all = identity_policy(
        json!({"Statement": {"Effect": "Allow", "Action": "execute-api:*", "Resource": "*"}}),
    );
    assert_eq!(
        all.evaluate_action(&req(&other, None, ip), Action::InvalidateCache),
        Decision::Allow
    );
}
