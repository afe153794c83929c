//! Tests of the whole pipeline through `load`/`load_definition` with an in-memory loader.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;

mod cache;
mod compile;
mod files;
mod gateway;
mod iam;
mod lambda;
mod lambda_integration;
mod lambda_remote;
mod openapi;
mod usage;
mod usage_csv;

/// Files by path; anything else is "not found".
pub(super) struct MemLoader(pub Vec<(PathBuf, Vec<u8>)>);

impl Loader for MemLoader {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.0
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
    }
}

/// `file: path: message`, with the `/cfg/` directory left out.
pub(super) fn lines(errors: Vec<ConfigError>) -> Vec<String> {
    errors
        .iter()
        .map(|e| e.to_string().trim_start_matches("/cfg/").to_string())
        .collect()
}

fn test_env(name: &str) -> Option<String> {
    (name == "ADMIN_TOKEN").then(|| "s3cret".to_string())
}

/// Load `/cfg/gateway.json` with the given extra files (paths relative to `/cfg`).
pub(super) fn load_files(gateway: &Value, files: &[(&str, &str)]) -> Result<Snapshot, Vec<String>> {
    let mut all = vec![(
        PathBuf::from("/cfg/gateway.json"),
        serde_json::to_vec(gateway).unwrap(),
    )];
    all.extend(
        files
            .iter()
            .map(|(p, c)| (Path::new("/cfg").join(p), c.as_bytes().to_vec())),
    );
    load_with_env(
        Path::new("/cfg/gateway.json"),
        &MemLoader(all),
        7,
        &test_env,
    )
    .map_err(lines)
}

pub(super) fn load_json(gateway: Value) -> Result<Snapshot, Vec<String>> {
    load_files(&gateway, &[])
}

/// `load_definition` of one document at `/cfg/api.json`.
pub(super) fn definition(doc: Value) -> Result<Snapshot, Vec<String>> {
    definition_text(&serde_json::to_string(&doc).unwrap())
}

pub(super) fn definition_text(text: &str) -> Result<Snapshot, Vec<String>> {
    let loader = MemLoader(vec![(
        PathBuf::from("/cfg/api.json"),
        text.as_bytes().to_vec(),
    )]);
    load_definition(Path::new("/cfg/api.json"), &loader).map_err(lines)
}

pub(super) fn errors_of(r: Result<Snapshot, Vec<String>>) -> Vec<String> {
    match r {
        Ok(_) => panic!("expected errors, the config compiled"),
        Err(e) => e,
    }
}

/// An OpenAPI 3 document with these paths.
pub(super) fn doc(paths: Value) -> Value {
    json!({"openapi": "3.0.1", "info": {"title": "T", "version": "1"}, "paths": paths})
}

/// An operation with this integration.
pub(super) fn op(integration: Value) -> Value {
    json!({"x-amazon-apigateway-integration": integration})
}

pub(super) fn proxy(uri: &str) -> Value {
    json!({"type": "http_proxy", "httpMethod": "ANY", "uri": uri})
}

pub(super) fn mock_integration(status: u16, body: &str) -> Value {
    json!({
        "type": "mock",
        "requestTemplates": {"application/json": format!("{{\"statusCode\": {status}}}")},
        "responses": {"default": {"statusCode": status.to_string(), "responseTemplates": {"application/json": body}}}
    })
}

/// A REST API with an HTTP_PROXY route using a stage variable, one with parameters, and a mock.
pub(super) fn petstore() -> Value {
    doc(json!({
        "/pets": {"get": op(json!({"type": "http_proxy", "httpMethod": "GET", "uri": "http://${stageVariables.backend}/pets"}))},
        "/pets/{id}": {"get": op(json!({
            "type": "HTTP_PROXY", "httpMethod": "GET", "uri": "http://10.0.0.1:8080/pets/{id}?src=gw",
            "requestParameters": {
                "integration.request.header.X-Stage": "stageVariables.backend",
                "integration.request.querystring.q": "method.request.querystring.q",
                "integration.request.header.X-Id": "method.request.path.id",
                "integration.request.header.X-Req": "context.requestId",
                "integration.request.header.X-Static": "'yes'"
            }
        }))},
        "/health": {"get": op(mock_integration(200, "{\"ok\":true}"))}
    }))
}
