//! Throttles, usage plans and API keys: shapes, precedence, compiled ids and identities,
//! validation errors with their JSON paths.

use super::*;

const SECRET: &str = "0123456789abcdef-test-secret";

fn limit(s: &Snapshot, id: Option<LimitId>) -> (&str, f64, u64) {
    let l = &s.usage.limits[id.expect("a limit").0 as usize];
    (&l.identity, l.spec.rate_per_sec, l.spec.burst)
}

fn stage_route(s: &Snapshot, stage: usize, route: usize) -> StageRoute {
    s.stages[stage].routes[route]
}

/// `petstore()` (routes `GET /pets`, `GET /pets/{id}`, `GET /health`) on stage `prod` with
/// these method settings.
fn rest_with_settings(settings: Value) -> Value {
    json!({
        "apis": [{"id": "pets", "definition": petstore()}],
        "stages": [{"apiId": "pets", "stageName": "prod", "variables": {"backend": "127.0.0.1:9000"},
                    "methodSettings": settings}]
    })
}

#[test]
fn account_throttle_defaults_to_api_gateways() {
    let s = load_json(rest_with_settings(json!({}))).unwrap();
    assert_eq!(s.usage.account, LimitId(0));
    assert_eq!(
        limit(&s, Some(s.usage.account)),
        ("account", 10_000.0, 5_000)
    );
    // No method settings: only the account limit applies.
    assert_eq!(stage_route(&s, 0, 0).throttle, None);
    assert_eq!(s.usage.limits.len(), 1);

    let mut g = rest_with_settings(json!({}));
    g["account"] = json!({"throttleSettings": {"rateLimit": 250.5}});
    let s = load_json(g).unwrap();
    assert_eq!(limit(&s, Some(LimitId(0))), ("account", 250.5, 5_000));
}

#[test]
fn method_settings_most_specific_wins_field_by_field() {
    let s = load_json(rest_with_settings(json!({
        "*/*": {"throttlingRateLimit": 100, "throttlingBurstLimit": 200},
        "*/GET": {"throttlingBurstLimit": 7},
        "/pets/*": {"throttlingRateLimit": 10},
        "/pets/GET": {"throttlingBurstLimit": 1},
        // The key as GetStage returns it, resource path JSON-Pointer escaped.
        "~1health/GET": {"throttlingRateLimit": 5.5, "throttlingBurstLimit": 5,
                          "metricsEnabled": false, "loggingLevel": "OFF", "cachingEnabled": false,
                          "cacheTtlInSeconds": 300, "dataTraceEnabled": false}
    })))
    .unwrap();
    // GET /pets: burst from /pets/GET, rate from /pets/* (a named resource outranks */GET).
    assert_eq!(
        limit(&s, stage_route(&s, 0, 0).throttle),
        ("method:pets/prod/GET /pets", 10.0, 1)
    );
    // GET /pets/{id}: burst from */GET, rate from */*.
    assert_eq!(
        limit(&s, stage_route(&s, 0, 1).throttle),
        ("method:pets/prod/GET /pets/{id}", 100.0, 7)
    );
    assert_eq!(
        limit(&s, stage_route(&s, 0, 2).throttle),
        ("method:pets/prod/GET /health", 5.5, 5)
    );
}

#[test]
fn method_setting_fields_left_out_take_the_account_values() {
    let mut g = rest_with_settings(json!({"*/*": {"throttlingBurstLimit": 123}}));
    g["account"] = json!({"throttleSettings": {"rateLimit": 900, "burstLimit": 50}});
    let s = load_json(g).unwrap();
    // As AWS shows `*/*` with only a burst set: the rate is the account's.
    assert_eq!(
        limit(&s, stage_route(&s, 0, 1).throttle),
        ("method:pets/prod/GET /pets/{id}", 900.0, 123)
    );
    // Root resource key `//GET` and ANY routes (`/x/ANY`).
    let d = doc(json!({
        "/": {"get": op(mock_integration(200, "{}"))},
        "/x": {"x-amazon-apigateway-any-method": op(mock_integration(200, "{}"))}
    }));
    let s = load_json(json!({
        "apis": [{"id": "a", "definition": d}],
        "stages": [{"apiId": "a", "stageName": "s", "methodSettings": {
            "//GET": {"throttlingRateLimit": 1, "throttlingBurstLimit": 1},
            "/x/ANY": {"throttlingRateLimit": 2, "throttlingBurstLimit": 2}
        }}]
    }))
    .unwrap();
    assert_eq!(
        limit(&s, stage_route(&s, 0, 0).throttle),
        ("method:a/s/GET /", 1.0, 1)
    );
    assert_eq!(
        limit(&s, stage_route(&s, 0, 1).throttle),
        ("method:a/s/ANY /x", 2.0, 2)
    );
}

#[test]
fn http_api_default_route_and_route_settings() {
    let d = doc(json!({
        "/items": {"get": op(proxy("http://127.0.0.1:9000/items")), "post": op(proxy("http://127.0.0.1:9000/items"))}
    }));
    let s = load_json(json!({
        "apis": [{"id": "shop", "protocolType": "HTTP", "definition": d}],
        "stages": [{"apiId": "shop", "stageName": "$default",
            "defaultRouteSettings": {"throttlingRateLimit": 50, "throttlingBurstLimit": 100, "detailedMetricsEnabled": false},
            "routeSettings": {"POST /items": {"throttlingBurstLimit": 2}}}]
    }))
    .unwrap();
    assert_eq!(
        limit(&s, stage_route(&s, 0, 0).throttle),
        ("method:shop/$default/GET /items", 50.0, 100)
    );
    assert_eq!(
        limit(&s, stage_route(&s, 0, 1).throttle),
        ("method:shop/$default/POST /items", 50.0, 2)
    );
    assert!(!stage_route(&s, 0, 0).api_key_required);
}

fn keyed_api() -> Value {
    let mut d = doc(json!({
        "/pets": {"get": {"security": [{"api_key": []}], "x-amazon-apigateway-auth": {"type": "none"},
                          "x-amazon-apigateway-integration": mock_integration(200, "[]")},
                  "post": {"security": [{"api_key": []}], "x-amazon-apigateway-integration": mock_integration(201, "{}")}},
        "/health": {"get": op(mock_integration(200, "{}"))}
    }));
    d["components"] = json!({"securitySchemes": {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}}});
    d
}

fn plans_gateway() -> Value {
    json!({
        "apis": [{"id": "pets", "definition": keyed_api()}],
        "stages": [{"apiId": "pets", "stageName": "prod"}, {"apiId": "pets", "stageName": "beta"}],
        "usagePlans": [
            {"id": "basic", "name": "Basic", "description": "free tier",
             "throttle": {"rateLimit": 10, "burstLimit": 20},
             "quota": {"limit": 1000, "offset": 10, "period": "DAY"},
             "apiStages": [{"apiId": "pets", "stage": "prod", "throttle": {"/pets/POST": {"rateLimit": 1, "burstLimit": 1}}}]},
            {"id": "beta", "name": "Beta testers", "apiStages": [{"apiId": "pets", "stage": "beta"}]}
        ],
        "apiKeys": [
            {"id": "alice", "name": "Alice", "value": "alice-0123456789abcdefghij", "usagePlanIds": ["basic", "beta"]},
            {"id": "bob", "name": "Bob", "usagePlanIds": ["basic"], "enabled": false, "description": "generated"},
            {"name": "Carol", "value": "carol-0123456789abcdefghij"}
        ],
        "apiKeySecret": SECRET
    })
}

#[test]
fn usage_plans_and_keys_compile() {
    let s = load_json(plans_gateway()).unwrap();
    let u = &s.usage;
    assert_eq!(
        u.plans
            .iter()
            .map(|p| (p.id.as_str(), p.name.as_str()))
            .collect::<Vec<_>>(),
        [("basic", "Basic"), ("beta", "Beta testers")]
    );
    let alice = u.key(b"alice-0123456789abcdefghij").unwrap();
    let k = &u.keys[alice.0 as usize];
    assert_eq!(
        (k.id.as_str(), k.name.as_str(), k.enabled),
        ("alice", "Alice", true)
    );
    // prod through `basic`: key throttle, one method override, quota.
    let prod = k.stage(StageIdx(0)).unwrap();
    assert_eq!(prod.plan, PlanIdx(0));
    assert_eq!(limit(&s, prod.throttle), ("key:basic/alice", 10.0, 20));
    assert_eq!(prod.method(RouteIdx(0)), None);
    assert_eq!(
        limit(&s, prod.method(RouteIdx(1))),
        ("keymethod:basic/alice/pets/prod/POST /pets", 1.0, 1)
    );
    let q = &u.quotas[prod.quota.unwrap().0 as usize];
    assert_eq!(&*q.identity, "quota:basic/alice");
    assert_eq!(
        q.spec,
        QuotaSpec {
            limit: 1000,
            offset: 10,
            period: QuotaPeriod::Day
        }
    );
    // beta through `beta`: no throttle, no quota.
    let beta = k.stage(StageIdx(1)).unwrap();
    assert_eq!(
        (beta.plan, beta.throttle, beta.quota),
        (PlanIdx(1), None, None)
    );
    // Bob: generated value (40 alphanumerics), disabled, prod only.
    let bob = &u.keys[1];
    assert_eq!((bob.id.as_str(), bob.enabled), ("bob", false));
    assert!(bob.stage(StageIdx(1)).is_none());
    let (value, id) = u.key_values.iter().find(|(_, id)| id.0 == 1).unwrap();
    assert_eq!(*id, KeyId(1));
    assert_eq!(value.len(), 40);
    assert!(value.iter().all(u8::is_ascii_alphanumeric));
    // Carol: id derived from the value, in no plan (so refused on every stage).
    let carol = &u.keys[u.key(b"carol-0123456789abcdefghij").unwrap().0 as usize];
    assert_eq!(carol.id.len(), 10);
    assert!(carol.stages.is_empty());
    // Unknown keys find nothing.
    assert_eq!(u.key(b"nobody-0123456789abcdefghij"), None);
    // apiKeyRequired per route; the API's key source.
    let required: Vec<bool> = s.stages[0]
        .routes
        .iter()
        .map(|r| r.api_key_required)
        .collect();
    assert_eq!(required, [true, true, false]);
    assert_eq!(s.apis[0].api_key_source, ApiKeySource::Header);
    assert!(s.warnings.is_empty());
}

fn identities(s: &Snapshot) -> Vec<(String, f64, u64)> {
    let mut v: Vec<(String, f64, u64)> = s
        .usage
        .limits
        .iter()
        .map(|l| (l.identity.to_string(), l.spec.rate_per_sec, l.spec.burst))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn identities_and_generated_values_are_stable_across_compiles() {
    let a = load_json(plans_gateway()).unwrap();
    let b = load_json(plans_gateway()).unwrap();
    assert_eq!(identities(&a), identities(&b));
    let keys = |s: &Snapshot| {
        let mut v: Vec<(Vec<u8>, String)> = s
            .usage
            .key_values
            .iter()
            .map(|(v, id)| (v.to_vec(), s.usage.keys[id.0 as usize].id.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(keys(&a), keys(&b));
    // A change elsewhere (a new stage throttle) leaves the other identities and specs as
    // they were, so their ledgers carry over.
    let mut g = plans_gateway();
    g["stages"][1]["methodSettings"] = json!({"*/*": {"throttlingRateLimit": 5}});
    let c = load_json(g).unwrap();
    let (old, new) = (identities(&a), identities(&c));
    assert!(old.iter().all(|l| new.contains(l)));
    assert_eq!(new.len(), old.len() + 3);
    // Another secret, other generated values.
    let mut g = plans_gateway();
    g["apiKeySecret"] = json!("another-secret-0123456789");
    let d = load_json(g).unwrap();
    assert_ne!(keys(&a), keys(&d));
}

#[test]
fn api_key_source_and_swagger_security_definitions() {
    let s = definition(json!({
        "swagger": "2.0", "info": {"title": "T", "version": "1"},
        "x-amazon-apigateway-api-key-source": "AUTHORIZER",
        "securityDefinitions": {"api_key": {"type": "apiKey", "name": "X-API-Key", "in": "header"}},
        "paths": {
            "/a": {"get": {"security": [{"api_key": []}], "x-amazon-apigateway-integration": mock_integration(200, "{}")}},
            "/b": {"get": op(mock_integration(200, "{}"))}
        }
    }))
    .unwrap();
    assert_eq!(s.apis[0].api_key_source, ApiKeySource::Authorizer);
    let required: Vec<bool> = s.stages[0]
        .routes
        .iter()
        .map(|r| r.api_key_required)
        .collect();
    assert_eq!(required, [true, false]);
}

#[test]
fn errors_with_json_paths() {
    let mut d = keyed_api();
    d["components"]["securitySchemes"]["token"] =
        json!({"type": "apiKey", "name": "X-Token", "in": "header"});
    d["paths"]["/health"]["get"]["security"] = json!([{"token": []}]);
    d["paths"]["/health"]["get"]["x-amazon-apigateway-auth"] = json!({"type": "AWS_IAM"});
    d["x-amazon-apigateway-api-key-source"] = json!("QUERY");
    // `/pets/PUT` matches no route, but the definition has errors, so routes are not checked.
    let errors = errors_of(load_json(json!({
        "account": {"throttleSettings": {"rateLimit": "fast", "burstLimit": 1}, "features": []},
        "apis": [{"id": "pets", "definition": d}],
        "stages": [{"apiId": "pets", "stageName": "prod",
                    "methodSettings": {"/pets/GET": {"throttlingRateLimit": -0.5}, "/pets/PUT": {}}}],
        "usagePlans": [
            {"id": "a plan", "name": "A", "quota": {"limit": 10, "period": "DAY", "offset": 11},
             "apiStages": [{"apiId": "pets", "stage": "prod"}, {"apiId": "pets", "stage": "prod"}]},
            {"id": "b", "name": "B", "apiStages": [{"apiId": "nope", "stage": "prod"}], "productCode": "x"}
        ],
        "apiKeys": [
            {"id": "k1", "name": "K1", "value": "same-value-0123456789abc"},
            {"id": "k1", "name": "K2", "value": "other-value-0123456789ab"},
            {"id": "k3", "name": "K3", "value": "same-value-0123456789abc"},
            {"id": "k4", "name": "", "value": "has space 0123456789abcdef", "usagePlanIds": ["b", "b"]}
        ],
        "apiKeySecretEnv": "NO_SUCH_VAR"
    })));
    assert_eq!(
        errors,
        [
            "gateway.json: $.apis[0].definition.x-amazon-apigateway-api-key-source: unknown API key source `QUERY`: expected HEADER or AUTHORIZER",
            "gateway.json: $.apis[0].definition.paths./health.get.security[0].token: security scheme `token` is an apiKey scheme other than API Gateway's: API keys are read from the `x-api-key` header (`{type: apiKey, name: x-api-key, in: header}`)",
            "gateway.json: $.stages[0].methodSettings./pets/GET.throttlingRateLimit: a rate limit is a number ≥ 0, found -0.5",
            "gateway.json: $.account.throttleSettings.rateLimit: expected a number of requests per second, found \"fast\"",
            "gateway.json: $.account.features: unknown property `features`",
            "gateway.json: $.usagePlans[0].id: usage plan id `a plan` must match `[A-Za-z0-9_-]{1,64}`",
            "gateway.json: $.usagePlans[0].quota.offset: the quota offset (11) must be less than its limit (10)",
            "gateway.json: $.usagePlans[0].apiStages[1]: this API stage is already in the plan",
            "gateway.json: $.usagePlans[1].apiStages[0].apiId: no API with id `nope` in `apis`",
            "gateway.json: $.usagePlans[1].productCode: `productCode` is not supported yet",
            "gateway.json: $.apiKeySecretEnv: environment variable `NO_SUCH_VAR` is not set",
            "gateway.json: $.apiKeys[1].id: duplicate API key id `k1`",
            "gateway.json: $.apiKeys[2].value: API key `k3` has the same value as another key",
            "gateway.json: $.apiKeys[3].name: an API key name is 1 to 1024 characters, found 0",
            "gateway.json: $.apiKeys[3].usagePlanIds[1]: usage plan `b` is listed twice",
            "gateway.json: $.apiKeys[3].value: an API key value is printable ASCII without spaces (it travels in the x-api-key header)",
        ]
    );
}
