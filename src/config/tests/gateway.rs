//! The gateway file: every error with its JSON path, all reported at once.

use super::*;
use crate::config::KeySource;

#[test]
fn many_errors_at_once_with_paths() {
    let errors = errors_of(load_json(json!({
        "server": {
            "workers": -1,
            "ioDriver": "epoll",
            "cpuAffinity": "cores",
            "limits": {"maxHeaders": 300, "headerTimeoutMs": 0, "maxBodyBytes": "10MB"},
            "accountId": "123",
            "trustedProxies": ["10.0.0.1/8", "nonsense", "::/129"],
            "admin": {"address": "0.0.0.0:9901"},
            "bogus": 1
        },
        "apis": [
            {"id": "Pets", "definition": petstore()},
            {"id": "orders", "protocolType": "GRPC", "endpointConfiguration": {"types": ["EDGE", "REGIONAL"]}, "definition": petstore()}
        ],
        "stages": [
            {"apiId": "nope", "stageName": "prod"},
            {"restApiId": "orders", "stageName": "bad name", "methodSettings": [], "variables": {"a-b": "x", "ok": "sp ace"}}
        ],
        "usagePlans": [],
        "extra": true
    })));
    assert_eq!(
        errors,
        vec![
            "gateway.json: $.server.admin: admin address `0.0.0.0:9901` is not loopback: set `token` or `tokenEnv`",
            "gateway.json: $.server.workers: expected an integer from 0 to 1024, found -1",
            "gateway.json: $.server.ioDriver: unknown ioDriver `epoll`: expected `uring`, `uring-coop`, `uring-defer-taskrun` or `legacy`",
            "gateway.json: $.server.cpuAffinity: unknown cpuAffinity `cores`: expected `none` or `workers`",
            "gateway.json: $.server.limits.maxHeaders: 300 is out of range: expected 1 to 256",
            "gateway.json: $.server.limits.maxBodyBytes: expected an integer, found a string",
            "gateway.json: $.server.limits.headerTimeoutMs: 0 is out of range: expected 1 to 3600000",
            "gateway.json: $.server.trustedProxies[0]: `10.0.0.1/8` has host bits set: did you mean `10.0.0.0/8`?",
            "gateway.json: $.server.trustedProxies[1]: `nonsense` is not a CIDR like `10.0.0.0/8`",
            "gateway.json: $.server.trustedProxies[2]: `::/129`: the prefix length must be 0 to 128",
            "gateway.json: $.server.accountId: an account id is 12 digits",
            "gateway.json: $.server.bogus: unknown property `bogus`",
            "gateway.json: $.apis[0].id: API id `Pets` must match `[a-z0-9-]{1,64}`",
            "gateway.json: $.apis[1].protocolType: unknown protocolType `GRPC`: expected REST or HTTP",
            "gateway.json: $.apis[1].endpointConfiguration.types: give exactly one endpoint type: EDGE, REGIONAL or PRIVATE",
            "gateway.json: $.stages[0].apiId: no API with id `nope` in `apis`",
            "gateway.json: $.stages[1].methodSettings: expected an object, found an array",
            "gateway.json: $.stages[1].variables.a-b: stage variable name `a-b` must match `[A-Za-z0-9_]{1,64}`",
            "gateway.json: $.stages[1].variables.ok: stage variable values are up to 512 characters of `A-Za-z0-9-._~:/?#&=,`",
            "gateway.json: $.stages[1].stageName: stage name `bad name` must match `[A-Za-z0-9_-]{1,128}`",
            "gateway.json: $.extra: unknown property `extra`",
        ]
    );
}

fn api(id: &str, protocol: &str, definition: Value) -> Value {
    json!({"id": id, "protocolType": protocol, "definition": definition})
}

fn http_doc() -> Value {
    doc(json!({"/items": {"get": op(proxy("http://127.0.0.1:9000/items"))}}))
}

#[test]
fn stage_rules() {
    let errors = errors_of(load_json(json!({
        "apis": [api("rest", "REST", petstore()), api("http", "HTTP", http_doc())],
        "stages": [
            {"apiId": "rest", "stageName": "$default"},
            {"apiId": "http", "stageName": "$default"},
            {"apiId": "http", "stageName": "$default"},
            {"apiId": "rest", "restApiId": "rest", "stageName": "a", "variables": {}, "stageVariables": {}},
            {"stageName": "b", "cacheClusterEnabled": true, "throttle": {}, "accessLogSettings": {}, "canarySettings": {},
             "tracingEnabled": "yes", "cacheClusterSize": "0.5", "defaultRouteSettings": {}, "routeSettings": {}},
            {"apiId": "rest", "stageName": "c", "description": "d", "deploymentId": "x1", "tags": {"team": "pets"},
             "variables": {"backend": "h:1"}}
        ]
    })));
    assert_eq!(
        errors,
        vec![
            "gateway.json: $.stages[0].stageName: the `$default` stage exists only for HTTP APIs",
            "gateway.json: $.stages[2]: duplicate stage `$default` for API `http`",
            "gateway.json: $.stages[3]: `apiId` and `restApiId` are aliases: give only one",
            "gateway.json: $.stages[3]: `variables` and `stageVariables` are aliases: give only one",
            "gateway.json: $.stages[4]: missing required property `apiId` (or `restApiId`)",
            "gateway.json: $.stages[4].tracingEnabled: expected a boolean, found a string",
            "gateway.json: $.stages[4].canarySettings: `canarySettings` is not supported yet",
            "gateway.json: $.stages[4].throttle: `throttle` is not supported yet",
        ]
    );
}

#[test]
fn domain_rules() {
    let errors = errors_of(load_json(json!({
        "apis": [api("rest", "REST", petstore())],
        "stages": [{"apiId": "rest", "stageName": "prod", "variables": {"backend": "b:1"}}],
        "domainNames": [
            {"domainName": "API.example.com.", "basePathMappings": [
                {"basePath": "v1", "apiId": "rest", "stage": "prod"},
                {"apiMappingKey": "/v1/", "restApiId": "rest", "stage": "prod"},
                {"basePath": "(none)", "apiId": "rest", "stage": "prod"},
                {"apiId": "rest", "stage": "prod"},
                {"basePath": "v 2", "apiId": "rest", "stage": "prod"},
                {"basePath": "v3", "apiId": "rest", "stage": "beta"},
                {"basePath": "v4", "apiId": "other", "stage": "prod"}
            ]},
            {"domainName": "api.example.com"},
            {"domainName": "*.*.example.com"},
            {"domainName": "x", "stage": "prod"}
        ]
    })));
    assert_eq!(
        errors,
        vec![
            "gateway.json: $.domainNames[0].basePathMappings[1]: duplicate base path `v1`",
            "gateway.json: $.domainNames[0].basePathMappings[3]: duplicate base path `(none)`",
            "gateway.json: $.domainNames[0].basePathMappings[4].basePath: base path `v 2` must be segments of `A-Za-z0-9-._~` separated by `/`",
            "gateway.json: $.domainNames[0].basePathMappings[5].stage: API `rest` has no stage `beta`",
            "gateway.json: $.domainNames[0].basePathMappings[6].apiId: no API with id `other` in `apis`",
            "gateway.json: $.domainNames[1]: duplicate domain name `api.example.com`",
            "gateway.json: $.domainNames[2].domainName: `*.*.example.com` is not a domain name or a wildcard like `*.example.com`",
            "gateway.json: $.domainNames[3].stage: unknown property `stage`",
        ]
    );
}

#[test]
fn server_defaults_and_values() {
    let s = load_json(json!({})).unwrap();
    assert_eq!(s.generation, 7);
    assert_eq!(
        s.server.listeners,
        vec![Listener {
            address: "127.0.0.1:8080".parse().unwrap(),
            tls: None,
        }]
    );
    assert_eq!(
        s.server.admin,
        Some(Admin {
            address: "127.0.0.1:9901".parse().unwrap(),
            token: None
        })
    );
    assert!(s.server.workers >= 1);
    assert_eq!(s.server.io_driver, DEFAULT_IO_DRIVER);
    assert_eq!(s.server.cpu_affinity, CpuAffinity::None);
    assert_eq!(s.server.limits.http.max_headers, DEFAULT_MAX_HEADERS);
    assert_eq!(s.server.limits.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
    assert_eq!(
        (s.server.account_id.as_str(), s.server.region.as_str()),
        ("123456789012", "us-east-1")
    );
    assert!(s.apis.is_empty() && s.hosts.default_api.is_none());
    assert!(
        s.server.metrics,
        "requests are counted unless `server.metrics` is false"
    );

    let s = load_json(json!({"server": {
        "listeners": [{"address": "0.0.0.0:80"}, {"address": "[::]:8080"}],
        "admin": {"address": "10.1.2.3:9901", "tokenEnv": "ADMIN_TOKEN"},
        "workers": 3, "ioDriver": "uring-defer-taskrun", "cpuAffinity": "workers",
        "limits": {"maxHeaders": 256, "maxHeadBytes": 16384, "maxHeaderLineBytes": 4096, "maxTargetBytes": 4096,
                   "maxChunkExtensionBytes": 10, "maxTrailerBytes": 20, "maxBodyBytes": 1024,
                   "headerTimeoutMs": 1000, "bodyTimeoutMs": 2000, "idleTimeoutMs": 3000, "sendTimeoutMs": 4000,
                   "drainTimeoutMs": 5000, "maxConnectionsPerWorker": 6, "upstreamIdlePerHost": 0,
                   "upstreamIdleTimeoutMs": 7000},
        "trustedProxies": ["10.0.0.0/8", "::ffff:192.168.0.0/112", "2001:db8::1"],
        "accountId": "000000000000", "region": "eu-west-3", "metrics": false
    }}))
    .unwrap();
    let sv = &s.server;
    assert_eq!(sv.listeners.len(), 2);
    assert_eq!(sv.admin.as_ref().unwrap().token.as_deref(), Some("s3cret"));
    assert_eq!(
        (sv.workers, sv.io_driver, sv.cpu_affinity),
        (3, IoDriver::UringDeferTaskrun, CpuAffinity::Workers)
    );
    assert!(!sv.metrics);
    let l = &sv.limits;
    assert_eq!(
        (
            l.http.max_headers,
            l.http.max_head_bytes,
            l.http.max_chunk_ext,
            l.http.max_trailer_bytes
        ),
        (256, 16384, 10, 20)
    );
    assert_eq!(
        (
            l.max_body_bytes,
            l.max_connections_per_worker,
            l.upstream_idle_per_host
        ),
        (1024, 6, 0)
    );
    assert_eq!(l.drain_timeout, std::time::Duration::from_millis(5000));
    assert_eq!(
        l.upstream_idle_timeout,
        std::time::Duration::from_millis(7000)
    );
    assert_eq!(
        sv.trusted_proxies[1],
        Cidr {
            addr: "192.168.0.0".parse().unwrap(),
            prefix: 16
        }
    );
    assert!(sv.trusted_proxies[0].contains("10.9.8.7".parse().unwrap()));
    assert!(sv.trusted_proxies[0].contains("::ffff:10.9.8.7".parse().unwrap()));
    assert!(!sv.trusted_proxies[0].contains("11.0.0.1".parse().unwrap()));
    assert!(sv.trusted_proxies[1].contains("192.168.44.1".parse().unwrap()));
    assert!(sv.trusted_proxies[2].contains("2001:db8::1".parse().unwrap()));
    assert!(!sv.trusted_proxies[2].contains("2001:db8::2".parse().unwrap()));
    assert!(
        Cidr {
            addr: "::".parse().unwrap(),
            prefix: 0
        }
        .contains("::ffff:1.2.3.4".parse().unwrap())
    );
    assert_eq!(sv.region, "eu-west-3");

    assert_eq!(
        load_json(json!({"server": {"admin": null}}))
            .unwrap()
            .server
            .admin,
        None
    );
}

#[test]
fn server_errors() {
    let errors = errors_of(load_json(json!({"server": {
        "listeners": [{"address": "localhost:80"}, {"address": "127.0.0.1:1"}, {"address": "127.0.0.1:1"}, {}],
        "admin": {"address": "[::1]:1", "token": "a", "tokenEnv": "ADMIN_TOKEN", "x": 1},
        "limits": {"maxHeadBytes": 100, "maxHeaderLineBytes": 200},
        "region": "US East",
        "defaultApi": {"apiId": "nope"}
    }})));
    assert_eq!(
        errors,
        vec![
            "gateway.json: $.server.listeners[0].address: `localhost:80` is not an IP address with a port, like `127.0.0.1:8080` or `[::1]:8080`",
            "gateway.json: $.server.listeners[2]: duplicate listener address `127.0.0.1:1`",
            "gateway.json: $.server.listeners[3]: missing required property `address`",
            "gateway.json: $.server.admin: give `token` or `tokenEnv`, not both",
            "gateway.json: $.server.admin.x: unknown property `x`",
            "gateway.json: $.server.limits: `maxHeaderLineBytes` (200) is larger than `maxHeadBytes` (100)",
            "gateway.json: $.server.limits: `maxTargetBytes` (8192) is larger than `maxHeadBytes` (100)",
            "gateway.json: $.server.region: a region is lower-case letters, digits and `-`, like `us-east-1`",
            "gateway.json: $.server.defaultApi.apiId: no API with id `nope` in `apis`",
        ]
    );
    let errors = errors_of(load_json(
        json!({"server": {"admin": {"address": "10.0.0.1:1", "tokenEnv": "UNSET_VAR"}}}),
    ));
    assert_eq!(
        errors,
        vec!["gateway.json: $.server.admin.tokenEnv: environment variable `UNSET_VAR` is not set"]
    );
    let errors = errors_of(load_json(
        json!({"server": {"listeners": []}, "apiKeys": []}),
    ));
    assert_eq!(
        errors,
        vec!["gateway.json: $.server.listeners: at least one listener is needed",]
    );
}

#[test]
fn state_dir_resolves_against_the_gateway_file_and_null_disables_it() {
    let dir = |server: Value| {
        load_json(json!({ "server": server }))
            .unwrap()
            .server
            .state_dir
    };
    assert_eq!(dir(json!({})), Some(PathBuf::from("/cfg/.tollgate-state")));
    assert_eq!(
        dir(json!({"stateDir": "state"})),
        Some(PathBuf::from("/cfg/state"))
    );
    assert_eq!(
        dir(json!({"stateDir": "/var/lib/tollgate"})),
        Some(PathBuf::from("/var/lib/tollgate"))
    );
    assert_eq!(dir(json!({"stateDir": null})), None);
    let errors = errors_of(load_json(json!({"server": {"stateDir": ""}})));
    assert_eq!(
        errors,
        vec![
            "gateway.json: $.server.stateDir: `stateDir` is a directory path (relative to the gateway file), or null"
        ]
    );
    let errors = errors_of(load_json(json!({"server": {"stateDir": 5}})));
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn definition_files_and_their_errors() {
    let gateway = json!({
        "apis": [
            {"id": "a", "definition": "apis/a.yaml"},
            {"id": "b", "definition": "apis/missing.json"},
            {"id": "c", "definition": 5}
        ]
    });
    let yaml = "openapi: 3.0.1\ninfo: {title: A}\npaths:\n  /x:\n    get:\n      x-amazon-apigateway-integration:\n        type: aws\n";
    let errors = errors_of(load_files(&gateway, &[("apis/a.yaml", yaml)]));
    assert_eq!(
        errors,
        vec![
            "apis/a.yaml: $.paths./x.get.x-amazon-apigateway-integration.type: integration type AWS is not supported yet",
            "gateway.json: $.apis[1].definition: cannot read `/cfg/apis/missing.json`: no such file",
            "gateway.json: $.apis[2].definition: `definition` is a file path or an inline OpenAPI document",
        ]
    );
    let errors = errors_of(load_files(
        &json!({"apis": [{"id": "a", "definition": "a.json"}]}),
        &[("a.json", "{\"openapi\": ")],
    ));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("a.json: $: invalid JSON: EOF while parsing"),
        "{errors:?}"
    );
    let errors = errors_of(load_files(&json!({}), &[]).and(definition_text("paths: [")));
    assert!(
        errors[0].starts_with("api.json: $: invalid YAML"),
        "{errors:?}"
    );
}

#[test]
fn names_and_defaults_from_the_definition() {
    let s = load_json(json!({
        "apis": [
            {"id": "rest", "definition": petstore()},
            {"id": "named", "name": "Given", "protocolType": "HTTP", "endpointConfiguration": {"types": ["REGIONAL"]}, "definition": http_doc()},
            {"id": "edge", "endpointConfiguration": {"types": ["EDGE"]}, "definition": doc(json!({}))}
        ],
        "stages": [{"apiId": "rest", "stageName": "prod", "variables": {"backend": "b:1"}}],
        "server": {"defaultApi": {"apiId": "rest", "stage": "prod"}}
    }))
    .unwrap();
    assert_eq!(s.apis[0].name, "T");
    assert_eq!(s.apis[1].name, "Given");
    assert_eq!(s.apis[1].protocol, Protocol::Http);
    assert_eq!(
        (s.apis[0].endpoint_type, s.apis[2].endpoint_type),
        (EndpointType::Regional, EndpointType::Edge)
    );
    assert_eq!(
        s.hosts.default_api,
        Some(DefaultApi {
            api: ApiIdx(0),
            stage: Some(StageIdx(0))
        })
    );
    let errors = errors_of(load_json(json!({
        "apis": [{"id": "h", "protocolType": "HTTP", "endpointConfiguration": {"types": ["EDGE"]}, "definition": http_doc()}],
        "server": {"defaultApi": {"apiId": "h", "stage": "nope"}}
    })));
    assert_eq!(
        errors,
        vec![
            "gateway.json: $.apis[0].endpointConfiguration.types: HTTP APIs are regional: the endpoint type must be REGIONAL",
            "gateway.json: $.server.defaultApi.stage: API `h` has no stage `nope`",
        ]
    );
}

/// The gateway file's `authorizers`: key sources and leeway per (API, authorizer name).
#[test]
fn authorizer_key_sources() {
    let mut def = doc(json!({"/a": {"get": {
        "security": [{"jwt": []}],
        "x-amazon-apigateway-integration": {"type": "http_proxy", "httpMethod": "GET", "uri": "http://b/", "payloadFormatVersion": "1.0"}
    }}}));
    def["components"] = json!({"securitySchemes": {"jwt": {"type": "oauth2", "x-amazon-apigateway-authorizer": {
        "type": "jwt", "jwtConfiguration": {"issuer": "https://idp.example", "audience": ["a"]}}}}});
    let gateway = |authorizers: Value| {
        json!({
            "apis": [{"id": "h", "protocolType": "HTTP", "definition": def.clone()}],
            "stages": [{"apiId": "h", "stageName": "$default"}],
            "authorizers": authorizers
        })
    };
    let jwks = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k","alg":"ES256",
        "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tOyG0W_2tkZb6n6_GjL4DqqzXaXY"}]}"#;
    let files = [
        ("keys/jwks.json", jwks),
        ("keys/empty.json", r#"{"keys":[]}"#),
        ("keys/bad.json", "[]"),
    ];
    let snap = load_files(
        &gateway(json!([{"apiId": "h", "name": "jwt", "jwksFile": "keys/jwks.json", "leewaySeconds": 30}])),
        &files,
    )
    .expect("compiles");
    let a = &snap.authorizers[0];
    assert_eq!(a.leeway_secs, 30);
    assert!(matches!(&a.keys, KeySource::File { keys, .. } if keys.len() == 1));
    let snap = load_files(
        &gateway(
            json!([{"apiId": "h", "name": "jwt", "jwksUri": "http://127.0.0.1:9000/jwks.json"}]),
        ),
        &files,
    )
    .expect("compiles");
    assert!(
        matches!(&snap.authorizers[0].keys, KeySource::Uri(u) if u == "http://127.0.0.1:9000/jwks.json")
    );
    let errors = errors_of(load_files(
        &gateway(json!([
            {"apiId": "nope", "name": "jwt"},
            {"apiId": "h", "name": "other"},
            {"apiId": "h", "name": "jwt", "jwksFile": "keys/jwks.json", "jwksUri": "http://x/"},
            {"apiId": "h", "name": "jwt", "jwksFile": "keys/empty.json"},
            {"apiId": "h", "name": "jwt", "jwksFile": "keys/bad.json", "leewaySeconds": 99999},
            {"apiId": "h", "name": "jwt", "jwksUri": "ftp://x/"}
        ])),
        &files,
    ));
    assert_eq!(
        errors,
        vec![
            "gateway.json: $.authorizers[0].apiId: no API with id `nope` in `apis`",
            "gateway.json: $.authorizers[1].name: API `h` has no JWT authorizer `other` (its security schemes define: jwt)",
            "gateway.json: $.authorizers[2].jwksFile: give `jwksFile` or `jwksUri`, not both",
            "gateway.json: $.authorizers[3].jwksFile: `/cfg/keys/empty.json` has no usable key",
            "gateway.json: $.authorizers[3]: duplicate entry for this API and authorizer",
            "gateway.json: $.authorizers[4].leewaySeconds: 99999 is out of range: expected 0 to 3600",
            "gateway.json: $.authorizers[4].jwksFile: `/cfg/keys/bad.json` is not a JWKS: the JWKS is not an object with a \"keys\" array",
            "gateway.json: $.authorizers[4]: duplicate entry for this API and authorizer",
            "gateway.json: $.authorizers[5].jwksUri: `jwksUri` `ftp://x/` is not an http(s) URL",
            "gateway.json: $.authorizers[5]: duplicate entry for this API and authorizer",
        ]
    );
}
