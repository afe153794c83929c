use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::cache::{Caches, MAX_ENTRIES};
use super::output::{Answer, Grant, Verdict, read};
use super::values;
use crate::config::{LambdaIdx, LambdaKind, PayloadVersion};

const SIMPLE: LambdaKind = LambdaKind::Http {
    payload: PayloadVersion::V2,
    simple: true,
};

fn policy_output(effect: &str) -> Vec<u8> {
    json!({
        "principalId": "user-7",
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": effect, "Resource": "arn:aws:execute-api:*"}
        ]},
        "context": {"tier": "gold", "n": 3, "ok": true},
        "usageIdentifierKey": "key-123"
    })
    .to_string()
    .into_bytes()
}

#[test]
fn the_policy_output_becomes_a_grant_with_stringified_context() {
    let Answer::Grant(g) = read(LambdaKind::Token, 200, &policy_output("Allow")) else {
        panic!("expected a grant");
    };
    assert_eq!(&*g.principal_id, "user-7");
    assert_eq!(g.value("principalId"), Some("user-7"));
    assert_eq!(g.value("tier"), Some("gold"));
    assert_eq!(g.value("n"), Some("3"));
    assert_eq!(g.value("ok"), Some("true"));
    assert_eq!(g.value("missing"), None);
    assert_eq!(g.usage_key.as_deref(), Some("key-123"));
    assert!(matches!(g.verdict, Verdict::Policy(_)));
}

#[test]
fn errors_and_invalid_outputs_are_told_apart() {
    let unauthorized: [(u16, &[u8]); 4] = [
        (
            200,
            br#"{"errorMessage":"Unauthorized","errorType":"Error"}"#,
        ),
        (401, b"Unauthorized"),
        (500, br#"{"errorMessage":"Unauthorized"}"#),
        (403, br#""Unauthorized""#),
    ];
    for (status, body) in unauthorized {
        assert_eq!(
            read(LambdaKind::Token, status, body),
            Answer::Unauthorized,
            "{status} {}",
            String::from_utf8_lossy(body)
        );
    }
    let invalid: [(u16, &[u8]); 9] = [
        (200, br#"{"errorMessage":"boom"}"#),
        (500, b"Internal"),
        (200, b"not json"),
        (200, b"[1]"),
        (200, br#"{"policyDocument":{"Version":"2012-10-17","Statement":[]}}"#),
        (200, br#"{"principalId":"u"}"#),
        (
            200,
            br#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[]},"context":{"a":{"nested":1}}}"#,
        ),
        (
            200,
            br#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[]},"context":{"a":[1]}}"#,
        ),
        (
            200,
            br#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*","Condition":{"StringEquals":{"a":"b"}}}]}}"#,
        ),
    ];
    for (status, body) in invalid {
        assert!(
            matches!(read(LambdaKind::Request, status, body), Answer::Invalid(_)),
            "{status} {}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn simple_responses_need_is_authorized() {
    let allow = read(
        SIMPLE,
        200,
        br#"{"isAuthorized":true,"context":{"who":"ann"}}"#,
    );
    let Answer::Grant(g) = allow else {
        panic!("{allow:?}")
    };
    assert_eq!(g.verdict, Verdict::Simple(true));
    assert_eq!(g.value("who"), Some("ann"));
    assert_eq!(g.value("principalId"), None);
    assert!(matches!(
        read(SIMPLE, 200, br#"{"isAuthorized":false}"#),
        Answer::Grant(Grant {
            verdict: Verdict::Simple(false),
            ..
        })
    ));
    assert!(matches!(
        read(SIMPLE, 200, br#"{"isAuthorized":"yes"}"#),
        Answer::Invalid(_)
    ));
    // Without simple responses an HTTP API authorizer answers with a policy.
    let v2 = LambdaKind::Http {
        payload: PayloadVersion::V2,
        simple: false,
    };
    assert!(matches!(
        read(v2, 200, br#"{"isAuthorized":true}"#),
        Answer::Invalid(_)
    ));
}

fn grant(size: usize) -> Rc<Grant> {
    Rc::new(Grant {
        principal_id: "p".into(),
        context: Box::default(),
        usage_key: None,
        verdict: Verdict::Simple(true),
        cost: size,
    })
}

const A: LambdaIdx = LambdaIdx(0);

fn caches() -> Caches {
    let mut c = Caches::default();
    c.pair(1, [("lambda:api/a", 7)].into_iter());
    c
}

#[test]
fn the_cache_expires_entries_and_stays_bounded() {
    let mut c = caches();
    let t0 = Instant::now();
    let ttl = Duration::from_secs(300);
    c.insert(A, b"tok", grant(100), ttl, t0);
    assert!(c.get(A, b"tok", t0 + Duration::from_secs(299)).is_some());
    assert!(c.get(A, b"tok", t0 + ttl).is_none(), "expired at the TTL");
    assert!(c.get(A, b"other", t0).is_none());
    // Entry bound: the oldest go first.
    for i in 0..MAX_ENTRIES + 10 {
        let at = t0 + Duration::from_millis(i as u64);
        c.insert(A, format!("k{i}").as_bytes(), grant(10), ttl, at);
    }
    assert_eq!(c.len(A), MAX_ENTRIES);
    assert!(c.get(A, b"k0", t0).is_none());
    assert!(
        c.get(A, format!("k{}", MAX_ENTRIES + 9).as_bytes(), t0)
            .is_some()
    );
    // Byte bound.
    let mut c = caches();
    for i in 0..100 {
        c.insert(A, format!("b{i}").as_bytes(), grant(1024 * 1024), ttl, t0);
    }
    assert!(c.bytes(A) <= super::cache::MAX_BYTES, "{}", c.bytes(A));
    assert!(c.len(A) < 10);
    // Larger than the whole budget: not kept.
    c.insert(A, b"huge", grant(super::cache::MAX_BYTES + 1), ttl, t0);
    assert!(c.get(A, b"huge", t0).is_none());
}

#[test]
fn a_reload_keeps_results_only_for_an_unchanged_authorizer() {
    let mut c = caches();
    let t0 = Instant::now();
    c.insert(A, b"tok", grant(10), Duration::from_secs(60), t0);
    c.pair(2, [("lambda:api/new", 1), ("lambda:api/a", 7)].into_iter());
    assert!(
        c.get(LambdaIdx(1), b"tok", t0).is_some(),
        "same identity and fingerprint"
    );
    assert!(c.get(LambdaIdx(0), b"tok", t0).is_none());
    c.pair(3, [("lambda:api/a", 8)].into_iter());
    assert!(c.get(A, b"tok", t0).is_none(), "changed fingerprint");
}

#[test]
fn identity_values_come_back_out_of_the_key() {
    let mut key = Vec::new();
    for v in ["Bearer x", "", "q,1"] {
        key.extend_from_slice(&(v.len() as u32).to_be_bytes());
        key.extend_from_slice(v.as_bytes());
    }
    assert_eq!(values(&key), vec!["Bearer x", "", "q,1"]);
}
