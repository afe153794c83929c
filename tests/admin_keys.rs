//! Issue 4, admin API: API keys created, imported, changed and deleted through the admin
//! listener take effect on the data plane at once, survive a restart and a reload (the key
//! store in `server.stateDir`), and `GetUsage` reports each key's requests per day.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::config::{API, STAGE, mock_ok, openapi, stage};
use support::http::{Response, request};
use support::*;

const TOKEN: &str = "admin-token-for-tests";
const ALICE: &str = "alice-key-value-0123456789";
const NEW_VALUE: &str = "created-key-value-0123456789";
const LIMIT: u64 = 100;

/// `/keyed` needs an API key. Plan `basic` (quota `LIMIT` per DAY) holds the config key
/// `alice`; plan `beta` is on another stage, plan `twin` on the same one (a key cannot be in
/// both `basic` and `twin`); the key store lives in `state`.
fn config(state: &TempDir) -> Value {
    let mut doc = openapi(json!({ "/keyed": { "get": mock_ok() } }));
    doc["paths"]["/keyed"]["get"]["security"] = json!([{ "api_key": [] }]);
    doc["components"] = json!({ "securitySchemes": { "api_key": { "type": "apiKey", "name": "x-api-key", "in": "header" } } });
    json!({
        "server": {
            "defaultApi": { "apiId": API, "stage": STAGE },
            "stateDir": state.path.join("state").display().to_string(),
            "admin": { "address": format!("127.0.0.1:{}", free_port()), "token": TOKEN }
        },
        "apiKeySecret": "a-secret-of-at-least-32-bytes-for-tests!!",
        "apis": [{ "id": API, "protocolType": "REST", "definition": doc }],
        "stages": [stage(API, STAGE), stage(API, "beta")],
        "usagePlans": [
            { "id": "basic", "name": "Basic", "apiStages": [{ "apiId": API, "stage": STAGE }],
              "quota": { "limit": LIMIT, "period": "DAY" } },
            { "id": "beta", "name": "Beta", "apiStages": [{ "apiId": API, "stage": "beta" }] },
            { "id": "twin", "name": "Twin", "apiStages": [{ "apiId": API, "stage": STAGE }] }
        ],
        "apiKeys": [{ "id": "alice", "name": "Alice", "value": ALICE, "usagePlanIds": ["basic"] }]
    })
}

fn call(gw: &Gateway, method: &str, path: &str, body: Option<Value>) -> Response {
    let bytes = body.map(|b| b.to_string().into_bytes());
    gw.admin_request(method, path, Some(TOKEN), bytes.as_deref())
        .unwrap_or_else(|e| panic!("admin {method} {path}: {e}\n{}", gw.stderr()))
}

fn keyed_status(gw: &Gateway, key: &str) -> u16 {
    let mut c = gw.client();
    c.roundtrip(&request("GET", "/keyed", &[("x-api-key", key)], None))
        .status
}

fn create(gw: &Gateway, body: Value) -> Value {
    let r = call(gw, "POST", "/apikeys", Some(body));
    assert_eq!(r.status, 201, "{}", r.body_str());
    r.json()
}

fn store_file(state: &TempDir) -> std::path::PathBuf {
    state.path.join("state").join("apikeys.json")
}

fn restart(gw: &mut Gateway, cfg: Value) -> Gateway {
    gw.sigterm();
    assert!(
        gw.wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
    Gateway::start(cfg)
}

fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let days = (secs / 86_400) as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[test]
fn a_created_key_is_admitted_and_follows_disable_enable_and_delete() {
    let state = TempDir::new("admin-keys");
    let gw = Gateway::start(config(&state));
    assert_eq!(keyed_status(&gw, NEW_VALUE), 403);
    let key = create(
        &gw,
        json!({ "name": "new", "value": NEW_VALUE, "description": "d", "usagePlanIds": ["basic"] }),
    );
    assert_eq!(key["value"], NEW_VALUE);
    assert_eq!(key["enabled"], true);
    assert_eq!(key["usagePlanIds"], json!(["basic"]));
    assert_eq!(key["source"], "admin");
    let id = key["id"].as_str().unwrap().to_string();
    assert_eq!(keyed_status(&gw, NEW_VALUE), 200);

    let r = call(
        &gw,
        "PATCH",
        &format!("/apikeys/{id}"),
        Some(json!({ "enabled": false })),
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.json()["enabled"], false);
    assert_eq!(keyed_status(&gw, NEW_VALUE), 403);

    // API Gateway's patch-operations form.
    let ops =
        json!({ "patchOperations": [{ "op": "replace", "path": "/enabled", "value": "true" }] });
    let r = call(&gw, "PATCH", &format!("/apikeys/{id}"), Some(ops));
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(keyed_status(&gw, NEW_VALUE), 200);

    // Listed, value hidden unless asked for.
    let list = call(&gw, "GET", "/apikeys", None).json();
    let items = list["item"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert!(items.iter().all(|k| k.get("value").is_none()), "{list}");
    let list = call(&gw, "GET", "/apikeys?includeValues=true", None).json();
    assert!(
        list["item"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["value"] == NEW_VALUE)
    );
    let one = call(&gw, "GET", &format!("/apikeys/{id}"), None);
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["description"], "d");

    let r = call(&gw, "DELETE", &format!("/apikeys/{id}"), None);
    assert_eq!(r.status, 202, "{}", r.body_str());
    assert_eq!(keyed_status(&gw, NEW_VALUE), 403);
    assert_eq!(
        call(&gw, "GET", &format!("/apikeys/{id}"), None).status,
        404
    );
    assert_eq!(keyed_status(&gw, ALICE), 200);
}

#[test]
fn a_created_key_survives_a_restart_and_a_reload() {
    let state = TempDir::new("admin-keys");
    let cfg = config(&state);
    let mut gw = Gateway::start(cfg.clone());
    // A generated value (from apiKeySecret) and a given one.
    let generated = create(&gw, json!({ "name": "gen", "usagePlanIds": ["basic"] }));
    let value = generated["value"].as_str().unwrap().to_string();
    assert_eq!(value.len(), 40, "{generated}");
    create(
        &gw,
        json!({ "name": "given", "value": NEW_VALUE, "usagePlanIds": ["basic"] }),
    );
    assert!(store_file(&state).exists());

    let r = gw.reload_post();
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(keyed_status(&gw, &value), 200);
    assert_eq!(keyed_status(&gw, NEW_VALUE), 200);

    let mut gw = restart(&mut gw, cfg.clone());
    assert_eq!(keyed_status(&gw, &value), 200);
    assert_eq!(keyed_status(&gw, NEW_VALUE), 200);
    let got = call(
        &gw,
        "GET",
        &format!(
            "/apikeys/{}?includeValue=true",
            generated["id"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(got.json()["value"], value.as_str());

    // A reload of an edited gateway file keeps them too.
    let mut next = cfg;
    next["usagePlans"][0]["quota"]["limit"] = json!(LIMIT + 1);
    gw.write_config(next);
    assert_eq!(gw.reload_post().status, 200);
    assert_eq!(keyed_status(&gw, NEW_VALUE), 200);
}

#[test]
fn a_key_is_attached_to_and_detached_from_a_plan() {
    let state = TempDir::new("admin-keys");
    let gw = Gateway::start(config(&state));
    let id = create(&gw, json!({ "name": "solo", "value": NEW_VALUE }))["id"]
        .as_str()
        .unwrap()
        .to_string();
    // In no plan: not allowed on the stage.
    assert_eq!(keyed_status(&gw, NEW_VALUE), 403);
    let body = json!({ "keyId": id, "keyType": "API_KEY" });
    let r = call(&gw, "POST", "/usageplans/basic/keys", Some(body.clone()));
    assert_eq!(r.status, 201, "{}", r.body_str());
    assert_eq!(r.json()["type"], "API_KEY");
    assert_eq!(keyed_status(&gw, NEW_VALUE), 200);
    // Twice: a conflict.
    assert_eq!(
        call(&gw, "POST", "/usageplans/basic/keys", Some(body)).status,
        409
    );

    let r = call(&gw, "DELETE", &format!("/usageplans/basic/keys/{id}"), None);
    assert_eq!(r.status, 202, "{}", r.body_str());
    assert_eq!(keyed_status(&gw, NEW_VALUE), 403);
    assert_eq!(
        call(&gw, "DELETE", &format!("/usageplans/basic/keys/{id}"), None).status,
        404
    );
    let r = call(
        &gw,
        "POST",
        "/usageplans/nope/keys",
        Some(json!({ "keyId": id, "keyType": "API_KEY" })),
    );
    assert_eq!(r.status, 404, "{}", r.body_str());
}

#[test]
fn a_csv_import_keeps_the_good_rows_and_warns_about_the_bad_ones_by_line() {
    let state = TempDir::new("admin-keys");
    let gw = Gateway::start(config(&state));
    let csv = format!(
        "Name,Key,Enabled,UsagePlanIds\n\
         one,import-one-value-0123456789,true,basic\n\
         short,tooshort,true,basic\n\
         two,import-two-value-0123456789,false,basic\n\
         lost,import-lost-value-0123456789,true,nope\n\
         both,import-both-value-0123456789,true,\"basic,beta\"\n\
         dup,{ALICE},true,basic\n\
         clash,import-clash-value-0123456789,true,\"basic,twin\"\n"
    );
    let r = gw
        .admin_request(
            "POST",
            "/apikeys?mode=import&format=csv",
            Some(TOKEN),
            Some(csv.as_bytes()),
        )
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body_str());
    let body = r.json();
    assert_eq!(body["ids"].as_array().unwrap().len(), 3, "{body}");
    let warnings: Vec<&str> = body["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 4, "{body}");
    assert!(warnings[0].starts_with("line 3: Key:"), "{body}");
    assert!(warnings[1].starts_with("line 5: UsagePlanIds"), "{body}");
    assert!(
        warnings[2].starts_with("line 7:") && warnings[2].contains("alice"),
        "{body}"
    );
    assert_eq!(keyed_status(&gw, "import-one-value-0123456789"), 200);
    assert_eq!(
        keyed_status(&gw, "import-two-value-0123456789"),
        403,
        "imported disabled"
    );
    assert_eq!(keyed_status(&gw, "import-both-value-0123456789"), 200);
    assert_eq!(keyed_status(&gw, "tooshort"), 403);

    // failonwarnings: nothing imported.
    let csv = "Name,Key\nthree,import-three-value-0123456\nbad,x\n";
    let r = gw
        .admin_request(
            "POST",
            "/apikeys?mode=import&format=csv&failonwarnings=true",
            Some(TOKEN),
            Some(csv.as_bytes()),
        )
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.body_str());
    assert_eq!(keyed_status(&gw, "import-three-value-0123456"), 403);
}

#[test]
fn get_usage_reports_used_and_remaining_per_day_across_a_restart() {
    let state = TempDir::new("admin-keys");
    let cfg = config(&state);
    let mut gw = Gateway::start(cfg.clone());
    let id = create(
        &gw,
        json!({ "name": "u", "value": NEW_VALUE, "usagePlanIds": ["basic"] }),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..3 {
        assert_eq!(keyed_status(&gw, NEW_VALUE), 200);
    }
    assert_eq!(keyed_status(&gw, ALICE), 200);
    let day = today();
    let usage = |gw: &Gateway, q: &str| {
        let r = call(gw, "GET", &format!("/usageplans/basic/usage?{q}"), None);
        assert_eq!(r.status, 200, "{}", r.body_str());
        r.json()
    };
    let u = usage(&gw, &format!("startDate={day}&endDate={day}"));
    assert_eq!(u["usagePlanId"], "basic");
    assert_eq!(u["startDate"], day.as_str());
    assert_eq!(u["endDate"], day.as_str());
    assert_eq!(u["values"][&id], json!([[3, LIMIT - 3]]), "{u}");
    assert_eq!(u["values"]["alice"], json!([[1, LIMIT - 1]]), "{u}");
    assert!(u.get("position").is_none(), "{u}");

    // A range: one [used, remaining] per day; the day before today had nothing.
    let y = call(
        &gw,
        "GET",
        "/usageplans/basic/usage?startDate=2020-01-01&endDate=2020-01-03",
        None,
    )
    .json();
    assert_eq!(
        y["values"]["alice"],
        json!([[0, LIMIT], [0, LIMIT], [0, LIMIT]]),
        "{y}"
    );
    // keyId, limit and position.
    let one = usage(&gw, &format!("startDate={day}&endDate={day}&keyId=alice"));
    assert_eq!(one["values"].as_object().unwrap().len(), 1, "{one}");
    let page = usage(&gw, &format!("startDate={day}&endDate={day}&limit=1"));
    assert_eq!(page["values"].as_object().unwrap().len(), 1, "{page}");
    let pos = page["position"].as_str().expect("a next page").to_string();
    let next = usage(
        &gw,
        &format!("startDate={day}&endDate={day}&limit=1&position={pos}"),
    );
    assert_eq!(next["values"].as_object().unwrap().len(), 1, "{next}");
    assert_ne!(page["values"], next["values"]);

    let gw = restart(&mut gw, cfg);
    assert_eq!(keyed_status(&gw, NEW_VALUE), 200);
    let u = usage(&gw, &format!("startDate={day}&endDate={day}"));
    assert_eq!(u["values"][&id], json!([[4, LIMIT - 4]]), "{u}");
}

#[test]
fn bad_inputs_get_400_and_gateway_file_keys_are_read_only() {
    let state = TempDir::new("admin-keys");
    let gw = Gateway::start(config(&state));
    let cases: &[(&str, &str, Option<Value>, u16, &str)] = &[
        (
            "POST",
            "/apikeys",
            Some(json!({ "value": NEW_VALUE })),
            400,
            "`name` is required",
        ),
        (
            "POST",
            "/apikeys",
            Some(json!({ "name": "x", "value": "short" })),
            400,
            "20 to 128 characters",
        ),
        (
            "POST",
            "/apikeys",
            Some(json!({ "name": "x", "colour": "red" })),
            400,
            "unknown field `colour`",
        ),
        (
            "POST",
            "/apikeys",
            Some(json!({ "name": "x", "usagePlanIds": ["nope"] })),
            404,
            "no usage plan `nope`",
        ),
        (
            "POST",
            "/apikeys",
            Some(json!({ "name": "x", "value": ALICE })),
            400,
            "same value as another key",
        ),
        (
            "POST",
            "/apikeys",
            Some(json!({ "name": "x", "usagePlanIds": ["basic", "basic"] })),
            400,
            "listed twice",
        ),
        (
            "PATCH",
            "/apikeys/alice",
            Some(json!({ "enabled": false })),
            409,
            "gateway file",
        ),
        ("DELETE", "/apikeys/alice", None, 409, "gateway file"),
        (
            "DELETE",
            "/apikeys/nosuchkey",
            None,
            404,
            "no API key `nosuchkey`",
        ),
        (
            "GET",
            "/usageplans/basic/usage?startDate=2026-02-30&endDate=2026-03-01",
            None,
            400,
            "`startDate` must be a date",
        ),
        (
            "GET",
            "/usageplans/basic/usage?startDate=2026-03-02&endDate=2026-03-01",
            None,
            400,
            "before",
        ),
        (
            "GET",
            "/usageplans/basic/usage?endDate=2026-03-01",
            None,
            400,
            "`startDate` is required",
        ),
        (
            "GET",
            "/usageplans/basic/usage?startDate=2026-03-01&endDate=2026-03-01&limit=501",
            None,
            400,
            "`limit`",
        ),
        (
            "GET",
            "/usageplans/nope/usage?startDate=2026-03-01&endDate=2026-03-01",
            None,
            404,
            "no usage plan",
        ),
        (
            "POST",
            "/usageplans/basic/keys",
            Some(json!({ "keyId": "alice", "keyType": "OTHER" })),
            400,
            "API_KEY",
        ),
    ];
    for (method, path, body, status, message) in cases {
        let r = call(&gw, method, path, body.clone());
        assert_eq!(r.status, *status, "{method} {path}: {}", r.body_str());
        assert!(
            r.body_str().contains(message),
            "{method} {path}: {}",
            r.body_str()
        );
    }
    let r = gw
        .admin_request("POST", "/apikeys", Some(TOKEN), Some(b"{not json"))
        .unwrap();
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("not JSON"), "{}", r.body_str());
    // Nothing refused was stored; alice still works.
    assert!(!store_file(&state).exists());
    assert_eq!(keyed_status(&gw, ALICE), 200);
}

#[test]
fn a_change_config_refuses_leaves_the_store_as_it_was() {
    let state = TempDir::new("admin-keys");
    let gw = Gateway::start(config(&state));
    let id = create(
        &gw,
        json!({ "name": "k", "value": NEW_VALUE, "usagePlanIds": ["basic"] }),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = std::fs::read(store_file(&state)).unwrap();
    let generation = gw.generation();
    // A second plan on a stage the key already has through `basic`? No: `beta` is another
    // stage, so take the key's value again instead, which config refuses.
    let r = call(
        &gw,
        "POST",
        "/apikeys",
        Some(json!({ "name": "again", "value": NEW_VALUE })),
    );
    assert_eq!(r.status, 400, "{}", r.body_str());
    assert!(
        r.json()["errors"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("$.apiKeys["),
        "{}",
        r.body_str()
    );
    assert_eq!(std::fs::read(store_file(&state)).unwrap(), before);
    assert_eq!(gw.generation(), generation);
    assert_eq!(keyed_status(&gw, NEW_VALUE), 200);
    assert_eq!(
        call(&gw, "GET", &format!("/apikeys/{id}"), None).status,
        200
    );
}

#[test]
fn the_admin_token_is_enforced() {
    let state = TempDir::new("admin-keys");
    let gw = Gateway::start(config(&state));
    for (method, path) in [
        ("GET", "/apikeys"),
        ("POST", "/apikeys"),
        ("GET", "/apikeys/alice"),
        ("PATCH", "/apikeys/alice"),
        ("DELETE", "/apikeys/alice"),
        ("POST", "/usageplans/basic/keys"),
        ("DELETE", "/usageplans/basic/keys/alice"),
        (
            "GET",
            "/usageplans/basic/usage?startDate=2026-01-01&endDate=2026-01-01",
        ),
    ] {
        for token in [None, Some("wrong")] {
            let r = gw.admin_request(method, path, token, Some(b"{}")).unwrap();
            assert_eq!(r.status, 401, "{method} {path} with {token:?}");
        }
    }
    let r = gw
        .admin_request(
            "POST",
            "/apikeys",
            None,
            Some(
                json!({ "name": "x", "value": NEW_VALUE })
                    .to_string()
                    .as_bytes(),
            ),
        )
        .unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(keyed_status(&gw, NEW_VALUE), 403);
}

#[test]
fn without_a_state_dir_keys_cannot_be_created_but_can_be_listed() {
    let state = TempDir::new("admin-keys");
    let mut cfg = config(&state);
    cfg["server"]["stateDir"] = Value::Null;
    let gw = Gateway::start(cfg);
    let r = call(
        &gw,
        "POST",
        "/apikeys",
        Some(json!({ "name": "x", "value": NEW_VALUE })),
    );
    assert_eq!(r.status, 409, "{}", r.body_str());
    assert!(r.body_str().contains("stateDir"), "{}", r.body_str());
    let list = call(&gw, "GET", "/apikeys", None);
    assert_eq!(list.status, 200);
    assert_eq!(list.json()["item"][0]["source"], "config");
}
