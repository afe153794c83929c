//! `tollgate check` and `tollgate routes`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::process::Command;

use serde_json::json;
use support::TempDir;
use support::config::{any_proxy, mock_ok, openapi, stage};
use support::gateway::BIN;

fn petstore() -> serde_json::Value {
    openapi(json!({
        "/pets": { "get": mock_ok() },
        "/pets/{petId}": { "get": {
            "parameters": [{ "name": "petId", "in": "path", "required": true, "schema": { "type": "string" } }],
            "responses": { "200": { "description": "ok", "headers": { "X-Mock": { "schema": { "type": "string" } } } } },
            "x-amazon-apigateway-integration": mock_ok()["x-amazon-apigateway-integration"].clone()
        } },
        "/{proxy+}": any_proxy("http://127.0.0.1:9/{proxy}")
    }))
}

/// A gateway file with the definition in `apis/petstore.json` (a relative path).
fn write_valid(dir: &TempDir) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.file("apis")).unwrap();
    std::fs::write(
        dir.file("apis/petstore.json"),
        serde_json::to_vec_pretty(&petstore()).unwrap(),
    )
    .unwrap();
    let cfg = json!({
        "server": { "listeners": [{ "address": "127.0.0.1:18080" }], "admin": { "address": "127.0.0.1:19901" } },
        "apis": [{ "id": "petstore", "protocolType": "REST", "definition": "apis/petstore.json" }],
        "stages": [stage("petstore", "prod")]
    });
    dir.write_atomic(
        "tollgate.json",
        serde_json::to_vec_pretty(&cfg).unwrap().as_slice(),
    )
}

fn run(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let out = Command::new(BIN).args(args).output().expect("run tollgate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn check_accepts_a_valid_file() {
    let dir = TempDir::new("cli");
    let f = write_valid(&dir);
    let (code, out) = run(&["check".as_ref(), f.as_os_str()]);
    assert_eq!(code, 0, "check on a valid file: {out}");
}

#[test]
fn check_reports_every_error_with_its_json_path() {
    let dir = TempDir::new("cli");
    let cfg = json!({
        "server": { "listeners": [{ "address": "127.0.0.1:18080" }], "bogusServerKey": 1 },
        "apis": [{ "id": "Bad Id!", "protocolType": "REST", "definition": openapi(json!({ "/a": { "get": mock_ok() } })) }],
        "stages": [{ "apiId": "missing-api", "stageName": "prod" }]
    });
    let f = dir.write_atomic(
        "bad.json",
        serde_json::to_vec_pretty(&cfg).unwrap().as_slice(),
    );
    let (code, out) = run(&["check".as_ref(), f.as_os_str()]);
    assert_eq!(code, 1, "check on an invalid file exits 1: {out}");
    let lines: Vec<&str> = out.lines().filter(|l| l.contains(": $.")).collect();
    assert!(
        lines.len() >= 3,
        "every error on its own `file: $.path: message` line:\n{out}"
    );
    assert!(
        out.contains("$.server.bogusServerKey"),
        "path of the unknown property:\n{out}"
    );
    assert!(
        out.contains("$.apis[0].id"),
        "path of the bad api id:\n{out}"
    );
    assert!(
        out.contains("$.stages[0]"),
        "path of the dangling stage:\n{out}"
    );
    assert!(
        lines.iter().all(|l| l.contains("bad.json")),
        "each line names the file:\n{out}"
    );
}

#[test]
fn check_reports_a_missing_definition_file() {
    let dir = TempDir::new("cli");
    let cfg = json!({
        "apis": [{ "id": "petstore", "definition": "apis/nope.json" }],
        "stages": [stage("petstore", "prod")]
    });
    let f = dir.write_atomic("t.json", serde_json::to_vec(&cfg).unwrap().as_slice());
    let (code, out) = run(&["check".as_ref(), f.as_os_str()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("$.apis[0].definition"), "{out}");
}

#[test]
fn routes_prints_the_route_table() {
    let dir = TempDir::new("cli");
    let f = write_valid(&dir);
    let (code, out) = run(&["routes".as_ref(), f.as_os_str()]);
    assert_eq!(code, 0, "{out}");
    for needle in [
        "petstore",
        "/pets",
        "/pets/{petId}",
        "/{proxy+}",
        "GET",
        "ANY",
        "MOCK",
        "HTTP_PROXY",
    ] {
        assert!(
            out.contains(needle),
            "routes output lacks {needle:?}:\n{out}"
        );
    }
    let rows = out
        .lines()
        .filter(|l| l.contains("/pets") || l.contains("/{proxy+}"))
        .count();
    assert!(rows >= 3, "one row per route:\n{out}");
}

#[test]
fn check_warns_about_bad_api_key_rows_and_still_accepts_the_file() {
    let dir = TempDir::new("cli-keys");
    write_valid(&dir);
    std::fs::write(
        dir.file("keys.csv"),
        "Name,Key,Description,Enabled,UsageplanIds\n\
         Good,good-key-value-0123456789,ok,TRUE,basic\n\
         Short,tooshort,bad,TRUE,basic\n",
    )
    .unwrap();
    let cfg = json!({
        "server": { "listeners": [{ "address": "127.0.0.1:18080" }], "admin": null },
        "apis": [{ "id": "petstore", "protocolType": "REST", "definition": "apis/petstore.json" }],
        "stages": [stage("petstore", "prod")],
        "usagePlans": [{ "id": "basic", "name": "Basic",
                         "apiStages": [{ "apiId": "petstore", "stage": "prod" }] }],
        "apiKeysFile": "keys.csv"
    });
    let file = dir.write_atomic(
        "keys-gateway.json",
        serde_json::to_vec(&cfg).unwrap().as_slice(),
    );
    let (code, text) = run(&["check".as_ref(), file.as_os_str()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("OK"), "{text}");
    let warnings: Vec<&str> = text.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "one warning, for the bad row: {text}");
    assert!(warnings[0].contains("keys.csv: line 3:"), "{text}");
}
