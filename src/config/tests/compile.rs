//! Compiled snapshots: per-stage integrations, upstreams, mocks, addressing, route table.

use std::time::Duration;

use super::*;

fn shop() -> Value {
    doc(json!({
        "/items": {"get": op(proxy("http://127.0.0.1:9000/items"))},
        "/$default": {"x-amazon-apigateway-any-method": op(proxy("http://127.0.0.1:9000/"))}
    }))
}

fn hidden() -> Value {
    let mut d = doc(json!({"/": {"get": op(mock_integration(201, "created"))}}));
    d["x-amazon-apigateway-endpoint-configuration"] = json!({"disableExecuteApiEndpoint": true});
    d
}

fn gateway() -> Value {
    json!({
        "server": {"defaultApi": {"apiId": "shop"}},
        "apis": [
            {"id": "pets", "definition": petstore()},
            {"id": "shop", "protocolType": "HTTP", "definition": shop()},
            {"id": "hidden", "definition": hidden()}
        ],
        "stages": [
            {"apiId": "pets", "stageName": "prod", "variables": {"backend": "Pets.Internal:9000"}},
            {"apiId": "pets", "stageName": "beta", "variables": {"backend": "127.0.0.1:9001"}},
            {"apiId": "shop", "stageName": "$default"},
            {"apiId": "shop", "stageName": "v2"},
            {"apiId": "hidden", "stageName": "live"}
        ],
        "domainNames": [
            {"domainName": "api.example.com", "basePathMappings": [
                {"basePath": "(none)", "apiId": "pets", "stage": "beta"},
                {"basePath": "v1", "apiId": "shop", "stage": "$default"},
                {"basePath": "v1/pets", "apiId": "pets", "stage": "prod"}
            ]},
            {"domainName": "*.example.com", "basePathMappings": [{"apiId": "hidden", "stage": "live"}]},
            {"domainName": "*.eu.example.com", "basePathMappings": [{"basePath": "x", "apiId": "pets", "stage": "beta"}]}
        ]
    })
}

fn proxy_of(s: &Snapshot, stage: usize, route: usize) -> &HttpProxy {
    match &s.stages[stage].integrations[route] {
        Integration::HttpProxy(h) => h,
        _ => panic!("not an HTTP proxy"),
    }
}

fn lit(s: &str) -> Box<[u8]> {
    s.as_bytes().into()
}

#[test]
fn integrations_per_stage() {
    let s = load_json(gateway()).unwrap();
    assert_eq!(s.source, Path::new("/cfg/gateway.json"));
    let prod_pets = proxy_of(&s, 0, 0);
    let up = &s.upstreams[prod_pets.upstream.0 as usize];
    assert_eq!(
        (up.host.as_str(), up.port, &*up.host_header),
        ("pets.internal", 9000, &b"pets.internal:9000"[..])
    );
    assert!(up.addrs.load().is_empty(), "names stay unresolved");
    let beta_pets = proxy_of(&s, 1, 0);
    let up = &s.upstreams[beta_pets.upstream.0 as usize];
    assert_eq!(**up.addrs.load(), vec!["127.0.0.1:9001".parse().unwrap()]);
    // The literal upstream of /pets/{id} is shared by both stages.
    let (prod_id, beta_id) = (proxy_of(&s, 0, 1), proxy_of(&s, 1, 1));
    assert_eq!(prod_id.upstream, beta_id.upstream);
    let up = &s.upstreams[prod_id.upstream.0 as usize];
    assert_eq!(**up.addrs.load(), vec!["10.0.0.1:8080".parse().unwrap()]);
    assert_eq!(s.upstreams.len(), 4);
    let again = load_json(gateway()).unwrap();
    let keys = |s: &Snapshot| s.upstreams.iter().map(|u| u.key).collect::<Vec<_>>();
    assert_eq!(keys(&s), keys(&again));

    assert_eq!(prod_id.method.as_deref(), Some(&b"GET"[..]));
    assert!(
        matches!(&prod_id.path[..], [UriPiece::Literal(a), UriPiece::Value(ParamSource::Path(0))] if **a == *b"/pets/")
    );
    assert!(matches!(&prod_id.query[..], [UriPiece::Literal(q)] if **q == *b"src=gw"));
    assert_eq!(prod_id.timeout, Duration::from_millis(29_000));
    let mapped: Vec<String> = prod_id
        .request_parameters
        .iter()
        .map(|m| {
            let target = match &m.target {
                ParamTarget::Header(h) => format!("header {}", String::from_utf8_lossy(h)),
                ParamTarget::QueryString(q) => format!("query {}", String::from_utf8_lossy(q)),
                other => panic!(
                    "a REST mapping compiled to an HTTP API target: {:?}",
                    std::mem::discriminant(other)
                ),
            };
            let source = match &m.source {
                ParamSource::Static(v) => format!("static {}", String::from_utf8_lossy(v)),
                ParamSource::Path(i) => format!("path {i}"),
                ParamSource::QueryString(q) => format!("query {}", String::from_utf8_lossy(q)),
                ParamSource::Header(h) => format!("header {}", String::from_utf8_lossy(h)),
                ParamSource::Context(c) => format!("context {c:?}"),
                ParamSource::RequestPath => "request path".to_string(),
                ParamSource::Claim(c) => format!("claim {c}"),
                ParamSource::AuthorizerValue(k) => format!("authorizer {k}"),
                ParamSource::Concat(parts) => format!("concat of {}", parts.len()),
            };
            format!("{target} <- {source}")
        })
        .collect();
    assert_eq!(
        mapped,
        [
            "header X-Stage <- static Pets.Internal:9000",
            "query q <- query q",
            "header X-Id <- path 0",
            "header X-Req <- context RequestId",
            "header X-Static <- static yes",
        ]
    );
    assert_eq!(prod_pets.method, Some(lit("GET")));
    let shop_default = proxy_of(&s, 2, 1);
    assert_eq!(shop_default.method, None);

    // The mock is rendered once.
    let Integration::Mock(m) = &s.stages[0].integrations[2] else {
        panic!("not a mock")
    };
    assert_eq!(
        &m.response.head[..],
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    );
    assert_eq!(
        (&m.response.body[..], m.response.status),
        (&b"{\"ok\":true}"[..], 200)
    );

    // Variables are kept on the stage; routes on the API.
    assert_eq!(
        s.stages[0].variables,
        vec![("backend".to_string(), "Pets.Internal:9000".to_string())]
    );
    let keys: Vec<&str> = s.apis[0]
        .routes
        .iter()
        .map(|r| r.route_key.as_str())
        .collect();
    assert_eq!(keys, ["GET /pets", "GET /pets/{id}", "GET /health"]);
    assert_eq!(s.apis[0].routes[1].params, ["id"]);
}

#[test]
fn stage_variable_errors_name_stage_and_variable() {
    let mut g = gateway();
    g["stages"][0]["variables"] = json!({});
    g["stages"][1]["variables"] = json!({"backend": "h:99999"});
    let errors = errors_of(load_json(g));
    let at = "gateway.json: $.apis[0].definition.paths";
    assert_eq!(
        errors,
        vec![
            format!(
                "{at}./pets.get.x-amazon-apigateway-integration.uri: stage `prod`: stage variable `backend` used in the integration URI is not defined"
            ),
            format!(
                "{at}./pets/{{id}}.get.x-amazon-apigateway-integration.requestParameters.integration.request.header.X-Stage: stage `prod`: stage variable `backend` is not defined"
            ),
            format!(
                "{at}./pets.get.x-amazon-apigateway-integration.uri: stage `beta`: bad port `99999` in the integration URI"
            ),
        ]
    );
}

#[test]
fn mock_without_matching_response_is_500() {
    let d = doc(json!({"/m": {"get": op(json!({
        "type": "mock",
        "requestTemplates": {"application/json": "{statusCode: 404}"},
        "responses": {"2\\d{2}": {"statusCode": "200"}}
    }))}}));
    let s = definition(d).unwrap();
    let Integration::Mock(m) = &s.stages[0].integrations[0] else {
        panic!("not a mock")
    };
    assert_eq!(m.response.status, 500);
    assert_eq!(
        &m.response.body[..],
        br#"{"message": "Internal server error"}"#
    );
}

#[test]
fn resolve_addressing_modes() {
    let s = load_json(gateway()).unwrap();
    let t = |host: &str, path: &str| s.resolve(host.as_bytes(), path.as_bytes());
    let ok = |api: u32, stage: u32, prefix_len: usize| {
        Ok(Target {
            api: ApiIdx(api),
            stage: StageIdx(stage),
            prefix_len,
        })
    };
    let none = |api: Option<u32>| {
        Err(NoTarget {
            api: api.map(ApiIdx),
        })
    };
    // execute-api, REST: the stage is the first segment.
    assert_eq!(t("pets.execute-api.localhost", "/prod/pets/1"), ok(0, 0, 5));
    assert_eq!(
        t("pets.execute-api.us-east-1.amazonaws.com", "/beta"),
        ok(0, 1, 5)
    );
    assert_eq!(t("pets.execute-api.x", "//beta/pets"), ok(0, 1, 6));
    assert_eq!(t("pets.execute-api.x", "/nope/pets"), none(Some(0)));
    assert_eq!(t("pets.execute-api.x", "/"), none(Some(0)));
    assert_eq!(t("zzz.execute-api.x", "/prod"), none(None));
    // execute-api, HTTP: `$default` without a prefix, named stages with one.
    assert_eq!(t("shop.execute-api.x", "/items"), ok(1, 2, 0));
    assert_eq!(t("shop.execute-api.x", "/v2/items"), ok(1, 3, 3));
    // disableExecuteApiEndpoint.
    assert_eq!(t("hidden.execute-api.x", "/live"), none(None));
    // Custom domain: longest base path by whole segments, root mapping last.
    assert_eq!(t("api.example.com", "/v1/pets/7"), ok(0, 0, 8));
    assert_eq!(t("api.example.com", "/v1/pets"), ok(0, 0, 8));
    assert_eq!(t("api.example.com", "/v1/petsX"), ok(1, 2, 3));
    assert_eq!(t("api.example.com", "/v1"), ok(1, 2, 3));
    assert_eq!(t("api.example.com", "/v10"), ok(0, 1, 0));
    assert_eq!(t("api.example.com", "/"), ok(0, 1, 0));
    // Wildcards: exact first, then the longest suffix; the apex is not a subdomain.
    assert_eq!(t("a.example.com", "/anything"), ok(2, 4, 0));
    assert_eq!(t("b.eu.example.com", "/x/y"), ok(0, 1, 2));
    assert_eq!(t("b.eu.example.com", "/z"), none(None));
    // Anything else: the default API (HTTP, stage from the path or `$default`).
    assert_eq!(t("example.com", "/v2/x"), ok(1, 3, 3));
    assert_eq!(t("localhost", "/items"), ok(1, 2, 0));

    let rest_default = load_json(json!({
        "apis": [{"id": "pets", "definition": petstore()}],
        "stages": [{"apiId": "pets", "stageName": "prod", "variables": {"backend": "b"}}],
        "server": {"defaultApi": {"apiId": "pets"}}
    }))
    .unwrap();
    assert_eq!(
        rest_default.resolve(b"localhost", b"/prod/pets"),
        ok(0, 0, 5)
    );
    assert_eq!(rest_default.resolve(b"localhost", b"/pets"), none(Some(0)));
    let no_default = load_json(json!({})).unwrap();
    assert_eq!(no_default.resolve(b"localhost", b"/"), none(None));
}

#[test]
fn route_table_rows() {
    let s = load_json(gateway()).unwrap();
    let rows = s.route_table();
    let shown: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {} | {}",
                r.host, r.base_path, r.stage, r.method, r.path, r.integration
            )
        })
        .collect();
    let expect = |line: &str| {
        assert!(
            shown.iter().any(|s| s == line),
            "missing `{line}` in {shown:#?}"
        )
    };
    expect(
        "pets.execute-api.* /prod prod GET /pets | HTTP_PROXY GET http://pets.internal:9000/pets",
    );
    expect(
        "pets.execute-api.* /beta beta GET /pets/{id} | HTTP_PROXY GET http://10.0.0.1:8080/pets/{id}?src=gw",
    );
    expect("pets.execute-api.* /prod prod GET /health | MOCK 200");
    expect(
        "shop.execute-api.*  $default ANY $default | HTTP_PROXY ANY http://127.0.0.1:9000{request.path}",
    );
    expect("shop.execute-api.* /v2 v2 GET /items | HTTP_PROXY ANY http://127.0.0.1:9000/items");
    expect(
        "api.example.com /v1/pets prod GET /pets | HTTP_PROXY GET http://pets.internal:9000/pets",
    );
    expect("api.example.com  beta GET /health | MOCK 200");
    expect("*.example.com  live GET / | MOCK 201");
    expect("* /v2 v2 GET /items | HTTP_PROXY ANY http://127.0.0.1:9000/items");
    assert!(!shown.iter().any(|s| s.starts_with("hidden.execute-api")));
    // 3 pets routes × 2 stages + 2 shop routes × 2 stages on execute-api; 3+2+3 on
    // api.example.com; 1 + 3 on the wildcards; 2 × 2 for the default API.
    assert_eq!(rows.len(), 6 + 4 + 8 + 4 + 4);
}
