//! Minimal tollgate configs (README.md, "Configuration reference") with inline OpenAPI definitions.

use serde_json::{Value, json};

/// The API id and stage most tests use, served for any Host via `server.defaultApi`.
pub const API: &str = "tapi";
pub const STAGE: &str = "prod";

/// An OpenAPI 3.0 document around `paths`.
pub fn openapi(paths: Value) -> Value {
    json!({
        "openapi": "3.0.1",
        "info": { "title": "test", "version": "1" },
        "paths": paths
    })
}

/// An `HTTP_PROXY` integration to `uri` (may contain `{proxy}`), `httpMethod: ANY`.
pub fn http_proxy(uri: &str) -> Value {
    let mut i = json!({ "type": "http_proxy", "httpMethod": "ANY", "uri": uri });
    if uri.contains("{proxy}") {
        i["requestParameters"] =
            json!({ "integration.request.path.proxy": "method.request.path.proxy" });
    }
    i
}

/// A method object whose integration is `integration`; declares the `proxy` path parameter
/// when the integration uses it.
pub fn method_with(integration: Value) -> Value {
    let mut m = json!({ "x-amazon-apigateway-integration": integration });
    if m["x-amazon-apigateway-integration"]["uri"]
        .as_str()
        .is_some_and(|u| u.contains("{proxy}"))
    {
        m["parameters"] = json!([{ "name": "proxy", "in": "path", "required": true, "schema": { "type": "string" } }]);
    }
    m
}

/// Path item `{ x-amazon-apigateway-any-method: HTTP_PROXY → uri }`.
pub fn any_proxy(uri: &str) -> Value {
    json!({ "x-amazon-apigateway-any-method": method_with(http_proxy(uri)) })
}

/// A MOCK method answering `status` with static `headers` (responseParameters) and `body`
/// (application/json response template).
pub fn mock_method(status: u16, headers: &[(&str, &str)], body: &str) -> Value {
    let mut params = serde_json::Map::new();
    let mut declared = serde_json::Map::new();
    for (n, v) in headers {
        params.insert(
            format!("method.response.header.{n}"),
            json!(format!("'{v}'")),
        );
        declared.insert(n.to_string(), json!({ "schema": { "type": "string" } }));
    }
    json!({
        "responses": { status.to_string(): { "description": "mock", "headers": declared } },
        "x-amazon-apigateway-integration": {
            "type": "mock",
            "requestTemplates": { "application/json": format!("{{\"statusCode\": {status}}}") },
            "responses": {
                "default": {
                    "statusCode": status.to_string(),
                    "responseParameters": params,
                    "responseTemplates": { "application/json": body }
                }
            }
        }
    })
}

/// The decided MOCK example: 200, `X-Mock: yes`, body `{"ok":true}`.
pub fn mock_ok() -> Value {
    mock_method(200, &[("X-Mock", "yes")], "{\"ok\":true}")
}

/// An `apis[]` entry for a REST API with an inline definition.
pub fn rest_api(id: &str, paths: Value) -> Value {
    json!({ "id": id, "protocolType": "REST", "definition": openapi(paths) })
}

/// An `apis[]` entry for an HTTP API with an inline definition.
pub fn http_api(id: &str, paths: Value) -> Value {
    json!({ "id": id, "protocolType": "HTTP", "definition": openapi(paths) })
}

pub fn stage(api: &str, name: &str) -> Value {
    json!({ "apiId": api, "stageName": name })
}

/// One REST API `tapi` (stage `prod`, the default API for any Host) with `paths`.
pub fn rest_config(paths: Value) -> Value {
    json!({
        "server": { "defaultApi": { "apiId": API, "stage": STAGE } },
        "apis": [rest_api(API, paths)],
        "stages": [stage(API, STAGE)]
    })
}

/// The standard proxy fixture: `/{proxy+}` ANY → `http://127.0.0.1:<port>/{proxy}`.
pub fn proxy_config(upstream_port: u16) -> Value {
    rest_config(
        json!({ "/{proxy+}": any_proxy(&format!("http://127.0.0.1:{upstream_port}/{{proxy}}")) }),
    )
}

/// Like `proxy_config` plus `integration` fields (e.g. `timeoutInMillis`, `requestParameters`)
/// merged into the integration object.
pub fn proxy_config_with(upstream_port: u16, extra: Value) -> Value {
    let mut c = proxy_config(upstream_port);
    let i = &mut c["apis"][0]["definition"]["paths"]["/{proxy+}"]["x-amazon-apigateway-any-method"]
        ["x-amazon-apigateway-integration"];
    merge(i, extra);
    c
}

/// Merge `limits` into `server.limits`.
pub fn with_limits(mut config: Value, limits: Value) -> Value {
    let l = &mut config["server"]["limits"];
    if l.is_null() {
        *l = json!({});
    }
    merge(l, limits);
    config
}

/// Shallow-recursive merge of objects: keys of `extra` overwrite / extend `base`.
pub fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, e) => *b = e,
    }
}

/// Quick limits for limit/timeout tests (RELIABILITY §1.2 scaled down).
pub fn quick_limits() -> Value {
    json!({
        "headerTimeoutMs": 1000,
        "bodyTimeoutMs": 1000,
        "idleTimeoutMs": 1500,
        "maxBodyBytes": 1048576
    })
}
