//! The stage response cache: stage and methodSettings fields, GET-only default, TTLs,
//! `cacheKeyParameters`, fingerprints. Validation errors with their JSON paths are in
//! `conf/invalid/cache.json`.

use super::*;

/// A REST API `items` with `GET /items`, `POST /items`, `ANY /any` and `GET /items/{id}`
/// (parameters `q` in the query and `X-Tenant` in the headers of `GET /items`), on stage
/// `prod` with the cache on (unless `stage` overrides it) and these method settings.
fn cached(stage: Value, settings: Value, key_params: Value) -> Value {
    let mut s = json!({"apiId": "items", "stageName": "prod", "variables": {"backend": "127.0.0.1:9000"},
                       "cacheClusterEnabled": true, "methodSettings": settings});
    for (k, v) in stage.as_object().unwrap() {
        s[k] = v.clone();
    }
    let get = json!({
        "parameters": [{"name": "q", "in": "query"}, {"$ref": "#/components/parameters/tenant"}],
        "x-amazon-apigateway-integration": {
            "type": "http_proxy", "httpMethod": "GET", "uri": "http://${stageVariables.backend}/items",
            "cacheNamespace": "items", "cacheKeyParameters": key_params
        }
    });
    let mut d = doc(json!({
        "/items": {"get": get, "post": op(proxy("http://127.0.0.1:9000/items"))},
        "/any": {"x-amazon-apigateway-any-method": op(proxy("http://127.0.0.1:9000/any"))},
        "/items/{id}": {"get": op(json!({
            "type": "http_proxy", "httpMethod": "GET", "uri": "http://127.0.0.1:9000/items/{id}",
            "requestParameters": {"integration.request.header.X-Lang": "method.request.header.Accept-Language"},
            "cacheKeyParameters": ["method.request.path.id", "method.request.header.accept-language"]
        }))}
    }));
    d["components"] = json!({"parameters": {"tenant": {"name": "X-Tenant", "in": "header"}}});
    json!({"apis": [{"id": "items", "definition": d}], "stages": [s]})
}

const GET_ITEMS: usize = 0;
const POST_ITEMS: usize = 1;
const ANY: usize = 2;
const GET_ITEM: usize = 3;

fn policy(s: &Snapshot) -> &StageCachePolicy {
    s.stages[0].cache.as_ref().expect("the stage has a cache")
}

fn route(s: &Snapshot, r: usize) -> Option<&RouteCache> {
    policy(s).routes[r].as_ref()
}

fn ttl(s: &Snapshot, r: usize) -> Option<u32> {
    route(s, r).map(|c| c.ttl_secs)
}

#[test]
fn stage_cache_is_off_unless_enabled_and_sized_in_decimal_gigabytes() {
    let s = load_json(rest_with_cache_off()).unwrap();
    assert!(s.stages[0].cache.is_none());
    let s = load_json(cached(
        json!({"cacheClusterEnabled": false}),
        json!({}),
        json!([]),
    ))
    .unwrap();
    assert!(s.stages[0].cache.is_none());
    assert!(s.warnings.is_empty(), "no cache, no warning");
    // Enabled without a size: API Gateway's default, 0.5 GB.
    let s = load_json(cached(json!({}), json!({}), json!([]))).unwrap();
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(policy(&s).capacity_bytes, 500_000_000);
    assert_eq!(&*policy(&s).identity, "cache:items/prod");
    assert_eq!(policy(&s).routes.len(), 4);
    for (size, bytes) in [
        (json!("237"), 237_000_000_000),
        (json!("6.1"), 6_100_000_000),
        (json!(1.6), 1_600_000_000),
    ] {
        let s = load_json(cached(
            json!({"cacheClusterSize": size}),
            json!({}),
            json!([]),
        ))
        .unwrap();
        assert_eq!(policy(&s).capacity_bytes, bytes);
    }
    // tollgate's exact bound, alone.
    let s = load_json(cached(
        json!({"cacheCapacityBytes": 262_144}),
        json!({}),
        json!([]),
    ))
    .unwrap();
    assert_eq!(policy(&s).capacity_bytes, 262_144);
    let e = errors_of(load_json(cached(
        json!({"cacheCapacityBytes": 262_144, "cacheClusterSize": "0.5"}),
        json!({}),
        json!([]),
    )));
    assert!(e.iter().any(|m| m.contains("not both")), "{e:?}");
    let e = errors_of(load_json(cached(
        json!({"cacheCapacityBytes": 1024}),
        json!({}),
        json!([]),
    )));
    assert!(e.iter().any(|m| m.contains("cacheCapacityBytes")), "{e:?}");
}

/// Method settings that enable caching do nothing while the stage has no cache (as on API
/// Gateway, where a cache cluster must be enabled for responses to be cached).
fn rest_with_cache_off() -> Value {
    cached(
        json!({"cacheClusterEnabled": null}),
        json!({"*/*": {"cachingEnabled": true, "cacheTtlInSeconds": 60}}),
        json!([]),
    )
}

#[test]
fn get_is_cached_by_default_other_methods_need_a_key_naming_them() {
    let s = load_json(cached(json!({}), json!({}), json!([]))).unwrap();
    assert_eq!(ttl(&s, GET_ITEMS), Some(300));
    assert_eq!(ttl(&s, GET_ITEM), Some(300));
    assert_eq!(ttl(&s, POST_ITEMS), None);
    // ANY: its GET requests only.
    assert!(route(&s, ANY).unwrap().get_only);
    assert!(!route(&s, GET_ITEMS).unwrap().get_only);
    let c = route(&s, GET_ITEMS).unwrap();
    assert!(c.require_auth_for_cache_control);
    assert_eq!(
        c.unauthorized_strategy,
        UnauthorizedCacheControl::SucceedWithResponseHeader
    );

    // `*/*` `cachingEnabled: true` (what the console writes) still caches only GET.
    let s = load_json(cached(
        json!({}),
        json!({"*/*": {"cachingEnabled": true}, "/items/*": {"cacheTtlInSeconds": 30}}),
        json!([]),
    ))
    .unwrap();
    assert_eq!(ttl(&s, POST_ITEMS), None);
    assert_eq!(ttl(&s, GET_ITEMS), Some(30));
    assert!(route(&s, ANY).unwrap().get_only);

    // A key naming the method enables it; `/any/ANY` caches every method of the ANY route.
    for key in ["/items/POST", "*/POST"] {
        let s = load_json(cached(
            json!({}),
            json!({key: {"cachingEnabled": true, "cacheTtlInSeconds": 10}}),
            json!([]),
        ))
        .unwrap();
        assert_eq!(ttl(&s, POST_ITEMS), Some(10), "{key}");
        assert_eq!(ttl(&s, GET_ITEMS), Some(300), "{key}");
    }
    let s = load_json(cached(
        json!({}),
        json!({"/any/ANY": {"cachingEnabled": true}}),
        json!([]),
    ))
    .unwrap();
    assert!(!route(&s, ANY).unwrap().get_only);
}

#[test]
fn ttl_zero_or_caching_disabled_turns_a_route_off() {
    let s = load_json(cached(
        json!({}),
        json!({
            "*/*": {"cachingEnabled": true, "cacheTtlInSeconds": 3600},
            "/items/GET": {"cacheTtlInSeconds": 0},
            "/items/{id}/GET": {"cachingEnabled": false}
        }),
        json!([]),
    ))
    .unwrap();
    assert_eq!(ttl(&s, GET_ITEMS), None);
    assert_eq!(ttl(&s, GET_ITEM), None);
    assert_eq!(ttl(&s, ANY), Some(3600));
    // Everything off still leaves a (useless) stage cache: the stage asked for one.
    assert_eq!(policy(&s).capacity_bytes, 500_000_000);
}

#[test]
fn most_specific_method_setting_wins_field_by_field() {
    let s = load_json(cached(
        json!({}),
        json!({
            "*/*": {"cacheTtlInSeconds": 100, "unauthorizedCacheControlHeaderStrategy": "FAIL_WITH_403",
                    "cacheDataEncrypted": true},
            "*/GET": {"cacheTtlInSeconds": 200, "requireAuthorizationForCacheControl": false},
            // The key as GetStage returns it.
            "~1items/*": {"requireAuthorizationForCacheControl": true},
            "/items/GET": {"cacheTtlInSeconds": 50,
                           "unauthorizedCacheControlHeaderStrategy": "SUCCEED_WITHOUT_RESPONSE_HEADER"}
        }),
        json!([]),
    ))
    .unwrap();
    let c = route(&s, GET_ITEMS).unwrap();
    assert_eq!(
        (
            c.ttl_secs,
            c.require_auth_for_cache_control,
            c.unauthorized_strategy
        ),
        (
            50,
            true,
            UnauthorizedCacheControl::SucceedWithoutResponseHeader
        )
    );
    let c = route(&s, GET_ITEM).unwrap();
    assert_eq!(
        (
            c.ttl_secs,
            c.require_auth_for_cache_control,
            c.unauthorized_strategy
        ),
        (200, false, UnauthorizedCacheControl::FailWith403)
    );
    // ANY matches `*/*` only.
    assert_eq!(ttl(&s, ANY), Some(100));
}

#[test]
fn cache_key_parameters_compile_in_order_without_duplicates() {
    let s = load_json(cached(
        json!({}),
        json!({}),
        json!([
            "method.request.querystring.q",
            "method.request.header.x-tenant",
            "method.request.querystring.q",
            "method.request.header.X-Tenant"
        ]),
    ))
    .unwrap();
    let key = |r| {
        route(&s, r)
            .unwrap()
            .key_params
            .iter()
            .map(|(k, n)| (*k, n.to_string()))
            .collect::<Vec<_>>()
    };
    // Header names compare case-insensitively; declared through a `$ref` parameter.
    assert_eq!(
        key(GET_ITEMS),
        [
            (ParamKind::Query, "q".to_string()),
            (ParamKind::Header, "x-tenant".to_string())
        ]
    );
    // A path parameter of the route, and a header declared by the integration's
    // requestParameters.
    assert_eq!(
        key(GET_ITEM),
        [
            (ParamKind::Path, "id".to_string()),
            (ParamKind::Header, "accept-language".to_string())
        ]
    );
    // None listed: path parameter values are not in the key.
    assert!(route(&s, ANY).unwrap().key_params.is_empty());
}

#[test]
fn cache_key_parameters_must_be_declared_request_values() {
    let errors = errors_of(load_json(cached(
        json!({}),
        json!({}),
        json!([
            "method.request.querystring.page",
            "method.request.path.id",
            "method.request.header.X-Tenant",
            "context.requestId"
        ]),
    )));
    let at = "gateway.json: $.apis[0].definition.paths./items.get.x-amazon-apigateway-integration.cacheKeyParameters";
    assert_eq!(
        errors,
        [
            format!(
                "{at}[0]: cache key parameter `method.request.querystring.page` is not declared for the method: add it to the operation's `parameters` (as API Gateway requires)"
            ),
            format!(
                "{at}[1]: `method.request.path.id`: `id` is not a path parameter of `GET /items`"
            ),
            format!(
                "{at}[3]: cache key parameter `context.requestId` must be `method.request.path.NAME`, `method.request.querystring.NAME` or `method.request.header.NAME`"
            ),
        ]
    );
}

#[test]
fn fingerprint_is_stable_and_changes_with_what_invalidates_entries() {
    let base = || {
        cached(
            json!({}),
            json!({"/items/GET": {"cacheTtlInSeconds": 60}}),
            json!(["method.request.querystring.q"]),
        )
    };
    let fp = |g: Value| policy(&load_json(g).unwrap()).fingerprint;
    let a = fp(base());
    assert_eq!(a, fp(base()));
    // Throttling and cacheDataEncrypted do not touch the cache.
    let mut g = base();
    g["stages"][0]["methodSettings"]["*/*"] =
        json!({"throttlingRateLimit": 5, "cacheDataEncrypted": true});
    assert_eq!(fp(g), a);

    let mut changed = Vec::new();
    let mut g = base();
    g["stages"][0]["methodSettings"]["/items/GET"]["cacheTtlInSeconds"] = json!(61);
    changed.push(("ttl", g));
    let mut g = base();
    g["stages"][0]["cacheClusterSize"] = json!("1.6");
    changed.push(("size", g));
    changed.push((
        "key",
        cached(
            json!({}),
            json!({"/items/GET": {"cacheTtlInSeconds": 60}}),
            json!([]),
        ),
    ));
    let mut g = base();
    g["stages"][0]["variables"]["backend"] = json!("127.0.0.1:9001");
    changed.push(("stage variable", g));
    let mut g = base();
    g["apis"][0]["definition"]["paths"]["/items/{id}"]["get"]["x-amazon-apigateway-integration"]
        ["uri"] = json!("http://127.0.0.1:9000/v2/items/{id}");
    changed.push(("integration", g));
    let mut g = base();
    g["stages"][0]["methodSettings"]["*/*"] =
        json!({"unauthorizedCacheControlHeaderStrategy": "FAIL_WITH_403"});
    changed.push(("strategy", g));
    for (what, g) in changed {
        assert_ne!(fp(g), a, "{what}");
    }
}
