//! Admin API: API keys and usage-plan keys, modelled on API Gateway's REST resources.
//!
//! * `GET /apikeys[?includeValues=true&nameQuery=]` → `{"item": [key…]}`
//! * `POST /apikeys` `{name, value?, enabled?, description?, usagePlanIds?}` → 201 key
//! * `POST /apikeys?mode=import&format=csv[&failonwarnings=true]` (CSV body) → 201
//!   `{"ids": […], "warnings": ["line 3: …"]}`
//! * `GET /apikeys/{id}[?includeValue=true]`, `PATCH /apikeys/{id}`, `DELETE /apikeys/{id}`
//! * `POST /usageplans/{planId}/keys` `{keyId, keyType: "API_KEY"}` → 201,
//!   `DELETE /usageplans/{planId}/keys/{keyId}` → 202
//!
//! Only keys of the store (`keystore`) change; keys of `apiKeys`/`apiKeysFile` are read-only
//! here (409). Every change: validate, build the new store, have config accept it (the
//! Reloader loads the gateway with the new store in place of the file), write the store
//! atomically, publish, answer. A change config refuses (or a failed write) leaves both the
//! store and the serving snapshot as they were. The admin thread serves one request at a
//! time, so changes are serialized.

use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value, json};

use super::keystore::{self, StoredKey};
use super::reload::{ReloadError, Reloader, error_json};
use super::state::write_file_atomic;
use crate::config::{API_KEY_STORE_FILE, KeyId, KeyOrigin, Snapshot, derived_id, parse_key_csv};
use crate::dataplane::Shared;

type Reply = (u16, Value);

fn msg(status: u16, m: impl Into<String>) -> Reply {
    (status, json!({ "message": m.into() }))
}

fn not_found_key(id: &str) -> Reply {
    msg(
        404,
        format!("Invalid API Key identifier specified: no API key `{id}`"),
    )
}

fn not_found_plan(id: &str) -> Reply {
    msg(
        404,
        format!("Invalid Usage Plan ID specified: no usage plan `{id}`"),
    )
}

pub struct KeyAdmin<'a> {
    pub reloader: &'a Reloader,
    pub shared: &'a Shared,
}

/// Query parameter `name`.
pub fn param<'q>(q: &'q [(String, String)], name: &str) -> Option<&'q str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

impl KeyAdmin<'_> {
    pub fn list(&self, q: &[(String, String)]) -> Reply {
        let snap = self.shared.current();
        let stored = keystore_or_empty(&snap);
        let values = (param(q, "includeValues") == Some("true")).then(|| key_values(&snap));
        let name = param(q, "nameQuery").unwrap_or("");
        let mut items: Vec<Value> = (0..snap.usage.keys.len())
            .filter(|&i| snap.usage.keys[i].name.starts_with(name))
            .map(|i| {
                let mut k = key_json(&snap, i, &stored, false);
                if let Some(v) = &values {
                    k["value"] = json!(v[i]);
                }
                k
            })
            .collect();
        items.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        (200, json!({ "item": items }))
    }

    pub fn get(&self, id: &str, q: &[(String, String)]) -> Reply {
        let snap = self.shared.current();
        match snap.usage.keys.iter().position(|k| k.id == id) {
            None => not_found_key(id),
            Some(i) => (
                200,
                key_json(
                    &snap,
                    i,
                    &keystore_or_empty(&snap),
                    param(q, "includeValue") == Some("true"),
                ),
            ),
        }
    }

    pub fn create(&self, body: &[u8]) -> Reply {
        let obj = match json_object(body) {
            Ok(o) => o,
            Err(r) => return r,
        };
        let (snap, mut keys, _) = match self.store() {
            Ok(s) => s,
            Err(r) => return r,
        };
        let mut key = StoredKey {
            id: String::new(),
            name: String::new(),
            value: None,
            enabled: true,
            description: None,
            usage_plan_ids: Vec::new(),
        };
        for (field, v) in &obj {
            let r = match field.as_str() {
                "name" => str_field(field, v).map(|s| key.name = s),
                "value" => str_field(field, v).map(|s| key.value = Some(s)),
                "description" => str_field(field, v).map(|s| key.description = Some(s)),
                "enabled" => bool_field(field, v).map(|b| key.enabled = b),
                "usagePlanIds" => match v.as_array() {
                    Some(a) if a.iter().all(Value::is_string) => {
                        key.usage_plan_ids = a
                            .iter()
                            .filter_map(|p| p.as_str().map(String::from))
                            .collect();
                        Ok(())
                    }
                    _ => Err(msg(
                        400,
                        "`usagePlanIds` must be an array of usage plan ids",
                    )),
                },
                // API Gateway's flag; ids here are always distinct.
                "generateDistinctId" => bool_field(field, v).map(|_| ()),
                other => Err(msg(
                    400,
                    format!(
                        "unknown field `{other}`: expected name, value, enabled, description, usagePlanIds"
                    ),
                )),
            };
            if let Err(r) = r {
                return r;
            }
        }
        if !obj.contains_key("name") {
            return msg(400, "`name` is required");
        }
        for p in &key.usage_plan_ids {
            if !snap.usage.plans.iter().any(|o| &o.id == p) {
                return not_found_plan(p);
            }
        }
        key.id = loop {
            let id = random_id();
            if !snap.usage.keys.iter().any(|k| k.id == id) {
                break id;
            }
        };
        let id = key.id.clone();
        keys.push(key);
        match self.save(&snap, &keys) {
            Err(r) => r,
            Ok(()) => {
                let snap = self.shared.current();
                match snap.usage.keys.iter().position(|k| k.id == id) {
                    Some(i) => (201, key_json(&snap, i, &keys, true)),
                    None => msg(500, "the key was saved but is not in the new configuration"),
                }
            }
        }
    }

    /// `PATCH /apikeys/{id}`: a JSON merge body `{name?, enabled?, description?}`, or API
    /// Gateway's `{"patchOperations": [{"op": "replace", "path": "/enabled", "value": "false"}]}`
    /// (paths `/name`, `/enabled`, `/description`; values are strings, as in API Gateway).
    pub fn update(&self, id: &str, body: &[u8]) -> Reply {
        let obj = match json_object(body) {
            Ok(o) => o,
            Err(r) => return r,
        };
        let (snap, mut keys, i) = match self.stored_key(id) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let changes: Vec<(String, Value)> = match obj.get("patchOperations") {
            Some(ops) => match patch_operations(ops) {
                Ok(c) => c,
                Err(r) => return r,
            },
            None => obj.into_iter().collect(),
        };
        let key = &mut keys[i];
        for (field, v) in &changes {
            let r = match field.as_str() {
                "name" => str_field(field, v).map(|s| key.name = s),
                "description" => match v {
                    Value::Null => {
                        key.description = None;
                        Ok(())
                    }
                    _ => str_field(field, v).map(|s| key.description = Some(s)),
                },
                "enabled" => bool_field(field, v).map(|b| key.enabled = b),
                other => Err(msg(
                    400,
                    format!("`{other}` cannot be changed: name, enabled and description can"),
                )),
            };
            if let Err(r) = r {
                return r;
            }
        }
        match self.save(&snap, &keys) {
            Err(r) => r,
            Ok(()) => self.get(id, &[]),
        }
    }

    pub fn delete(&self, id: &str) -> Reply {
        let (snap, mut keys, i) = match self.stored_key(id) {
            Ok(s) => s,
            Err(r) => return r,
        };
        keys.remove(i);
        match self.save(&snap, &keys) {
            Err(r) => r,
            Ok(()) => (202, json!({})),
        }
    }

    pub fn import(&self, q: &[(String, String)], body: &[u8]) -> Reply {
        if param(q, "format") != Some("csv") {
            return msg(
                400,
                "import needs `format=csv` (API Gateway's key file format)",
            );
        }
        let fail_on_warnings = param(q, "failonwarnings") == Some("true");
        let Ok(text) = std::str::from_utf8(body) else {
            return msg(400, "the CSV is not UTF-8");
        };
        let (rows, bad) = match parse_key_csv(text) {
            Ok(r) => r,
            Err(e) => return msg(400, e),
        };
        let (snap, mut keys, _) = match self.store() {
            Ok(s) => s,
            Err(r) => return r,
        };
        let mut warnings: Vec<(usize, String)> = bad;
        let base = keys.len();
        let mut lines: Vec<usize> = Vec::new();
        for row in rows {
            let id = derived_id(&row.value);
            if let Some(k) = snap.usage.key(row.value.as_bytes()) {
                let other = &snap.usage.keys[k.0 as usize].id;
                warnings.push((
                    row.line,
                    format!("API key `{other}` has this value already; row skipped"),
                ));
                continue;
            }
            if snap.usage.keys.iter().any(|k| k.id == id) {
                warnings.push((
                    row.line,
                    format!("an API key with this value exists (`{id}`); row skipped"),
                ));
                continue;
            }
            if let Some(j) = keys[base..].iter().position(|k| k.id == id) {
                warnings.push((
                    row.line,
                    format!("the same key value as line {}; row skipped", lines[j]),
                ));
                continue;
            }
            if let Some(p) = row
                .plan_ids
                .iter()
                .find(|p| !snap.usage.plans.iter().any(|o| &o.id == *p))
            {
                warnings.push((
                    row.line,
                    format!("UsagePlanIds: no usage plan `{p}`; row skipped"),
                ));
                continue;
            }
            keys.push(StoredKey {
                id,
                name: row.name,
                value: Some(row.value),
                enabled: row.enabled,
                description: row.description,
                usage_plan_ids: row.plan_ids,
            });
            lines.push(row.line);
        }
        // Rows config refuses (a key in two plans on one stage, …) become warnings too.
        let result = loop {
            if fail_on_warnings && !warnings.is_empty() {
                break Err(400);
            }
            if keys.len() == base {
                break Ok(());
            }
            match self.change(&snap, &keys) {
                Ok(_) => break Ok(()),
                Err(ReloadError::Invalid(errors)) => {
                    let store = keystore::file(
                        snap.server
                            .state_dir
                            .as_deref()
                            .unwrap_or(std::path::Path::new("")),
                    );
                    let mut rows: Vec<usize> = Vec::new();
                    for e in &errors {
                        match entry_index(&e.path)
                            .filter(|i| e.file == store && *i >= base && *i < keys.len())
                        {
                            Some(i) => {
                                warnings
                                    .push((lines[i - base], format!("{}; row skipped", e.message)));
                                rows.push(i);
                            }
                            None => return invalid(&errors),
                        }
                    }
                    rows.sort_unstable();
                    rows.dedup();
                    for i in rows.into_iter().rev() {
                        keys.remove(i);
                        lines.remove(i - base);
                    }
                }
                Err(ReloadError::NotSaved(file, e)) => {
                    return msg(500, format!("{}: {e}", file.display()));
                }
            }
        };
        warnings.sort();
        let warnings: Vec<String> = warnings
            .into_iter()
            .map(|(l, m)| format!("line {l}: {m}"))
            .collect();
        match result {
            Err(status) => (
                status,
                json!({ "message": "the CSV has warnings and failonwarnings=true: nothing imported", "warnings": warnings }),
            ),
            Ok(()) => {
                let ids: Vec<&str> = keys[base..].iter().map(|k| k.id.as_str()).collect();
                (201, json!({ "ids": ids, "warnings": warnings }))
            }
        }
    }

    /// `POST /usageplans/{planId}/keys` `{keyId, keyType: "API_KEY"}`.
    pub fn attach(&self, plan: &str, body: &[u8]) -> Reply {
        let obj = match json_object(body) {
            Ok(o) => o,
            Err(r) => return r,
        };
        match obj.get("keyType") {
            Some(Value::String(t)) if t == "API_KEY" => {}
            _ => return msg(400, "`keyType` must be \"API_KEY\""),
        }
        let Some(key_id) = obj.get("keyId").and_then(Value::as_str) else {
            return msg(400, "`keyId` is required (the API key's id)");
        };
        if let Some(other) = obj.keys().find(|k| *k != "keyId" && *k != "keyType") {
            return msg(
                400,
                format!("unknown field `{other}`: expected keyId, keyType"),
            );
        }
        let snap = self.shared.current();
        if !snap.usage.plans.iter().any(|p| p.id == plan) {
            return not_found_plan(plan);
        }
        let (snap, mut keys, i) = match self.stored_key(key_id) {
            Ok(s) => s,
            Err(r) => return r,
        };
        if keys[i].usage_plan_ids.iter().any(|p| p == plan) {
            return msg(
                409,
                format!("API key `{key_id}` is already in usage plan `{plan}`"),
            );
        }
        keys[i].usage_plan_ids.push(plan.to_string());
        match self.save(&snap, &keys) {
            Err(r) => r,
            Ok(()) => {
                let snap = self.shared.current();
                let value = snap
                    .usage
                    .keys
                    .iter()
                    .position(|k| k.id == key_id)
                    .and_then(|k| key_value(&snap, k));
                (
                    201,
                    json!({ "id": key_id, "type": "API_KEY", "name": keys[i].name, "value": value }),
                )
            }
        }
    }

    /// `DELETE /usageplans/{planId}/keys/{keyId}`.
    pub fn detach(&self, plan: &str, key_id: &str) -> Reply {
        let snap = self.shared.current();
        if !snap.usage.plans.iter().any(|p| p.id == plan) {
            return not_found_plan(plan);
        }
        let (snap, mut keys, i) = match self.stored_key(key_id) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let before = keys[i].usage_plan_ids.len();
        keys[i].usage_plan_ids.retain(|p| p != plan);
        if keys[i].usage_plan_ids.len() == before {
            return msg(
                404,
                format!("API key `{key_id}` is not in usage plan `{plan}`"),
            );
        }
        match self.save(&snap, &keys) {
            Err(r) => r,
            Ok(()) => (202, json!({})),
        }
    }

    /// The current snapshot and its store (which needs `server.stateDir`).
    fn store(&self) -> Result<(std::sync::Arc<Snapshot>, Vec<StoredKey>, ()), Reply> {
        let snap = self.shared.current();
        let Some(dir) = snap.server.state_dir.as_deref() else {
            return Err(msg(
                409,
                "`server.stateDir` is null: the admin API keeps its API keys there, so it cannot create or change keys",
            ));
        };
        let keys = keystore::read(dir).map_err(|e| msg(500, e))?;
        Ok((snap, keys, ()))
    }

    /// The store and the index of key `id` in it: 404 for no such key, 409 for a key of
    /// the gateway file.
    fn stored_key(
        &self,
        id: &str,
    ) -> Result<(std::sync::Arc<Snapshot>, Vec<StoredKey>, usize), Reply> {
        let (snap, keys, ()) = self.store()?;
        if let Some(i) = keys.iter().position(|k| k.id == id) {
            return Ok((snap, keys, i));
        }
        match snap
            .usage
            .keys
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.origin)
        {
            Some(KeyOrigin::Config) => Err(msg(
                409,
                format!(
                    "API key `{id}` is defined in the gateway file (`apiKeys`): change it there and reload"
                ),
            )),
            Some(KeyOrigin::File) => Err(msg(
                409,
                format!("API key `{id}` is defined in `apiKeysFile`: change it there and reload"),
            )),
            _ => Err(not_found_key(id)),
        }
    }

    fn change(&self, snap: &Snapshot, keys: &[StoredKey]) -> Result<u64, ReloadError> {
        let dir = snap.server.state_dir.clone().unwrap_or_default();
        let bytes = keystore::encode(keys);
        self.reloader
            .change(&keystore::file(&dir), &bytes, &mut || {
                write_file_atomic(&dir, API_KEY_STORE_FILE, &bytes)
            })
    }

    fn save(&self, snap: &Snapshot, keys: &[StoredKey]) -> Result<(), Reply> {
        match self.change(snap, keys) {
            Ok(_) => Ok(()),
            Err(ReloadError::Invalid(errors)) => Err(invalid(&errors)),
            Err(ReloadError::NotSaved(file, e)) => {
                Err(msg(500, format!("{}: {e}", file.display())))
            }
        }
    }
}

fn invalid(errors: &[crate::config::ConfigError]) -> Reply {
    let first = errors
        .first()
        .map(|e| e.message.clone())
        .unwrap_or_else(|| "the configuration is invalid".into());
    (
        400,
        json!({ "message": first, "errors": errors.iter().map(error_json).collect::<Vec<_>>() }),
    )
}

/// `$.apiKeys[3].name` → 3.
fn entry_index(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("$.apiKeys[")?;
    rest[..rest.find(']')?].parse().ok()
}

fn keystore_or_empty(snap: &Snapshot) -> Vec<StoredKey> {
    snap.server
        .state_dir
        .as_deref()
        .and_then(|d| keystore::read(d).ok())
        .unwrap_or_default()
}

fn key_value(snap: &Snapshot, i: usize) -> Option<String> {
    snap.usage
        .key_values
        .iter()
        .find(|(_, k)| **k == KeyId(i as u32))
        .map(|(v, _)| String::from_utf8_lossy(v).into_owned())
}

/// Every key's value, indexed by `KeyId` (one pass over the value table).
fn key_values(snap: &Snapshot) -> Vec<Option<String>> {
    let mut out = vec![None; snap.usage.keys.len()];
    for (v, k) in &snap.usage.key_values {
        if let Some(slot) = out.get_mut(k.0 as usize) {
            *slot = Some(String::from_utf8_lossy(v).into_owned());
        }
    }
    out
}

/// API Gateway's `ApiKey`, with `usagePlanIds` and `source` (`config`, `apiKeysFile`,
/// `admin`) added.
fn key_json(snap: &Snapshot, i: usize, stored: &[StoredKey], include_value: bool) -> Value {
    let k = &snap.usage.keys[i];
    let plans: Vec<&str> = k
        .plans
        .iter()
        .map(|pk| {
            snap.usage.plans[snap.usage.plan_keys[pk.0 as usize].plan.0 as usize]
                .id
                .as_str()
        })
        .collect();
    let mut out = json!({
        "id": k.id,
        "name": k.name,
        "enabled": k.enabled,
        "usagePlanIds": plans,
        "source": match k.origin {
            KeyOrigin::Config => "config",
            KeyOrigin::File => "apiKeysFile",
            KeyOrigin::Store => "admin",
        },
    });
    if let Some(d) = stored
        .iter()
        .find(|s| s.id == k.id)
        .and_then(|s| s.description.as_ref())
    {
        out["description"] = json!(d);
    }
    if include_value {
        out["value"] = json!(key_value(snap, i));
    }
    out
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(msg(400, "the body must be a JSON object")),
        Err(e) => Err(msg(400, format!("the body is not JSON: {e}"))),
    }
}

fn str_field(field: &str, v: &Value) -> Result<String, Reply> {
    v.as_str()
        .map(String::from)
        .ok_or_else(|| msg(400, format!("`{field}` must be a string")))
}

fn bool_field(field: &str, v: &Value) -> Result<bool, Reply> {
    match v {
        Value::Bool(b) => Ok(*b),
        // patch-operation values are strings.
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        _ => Err(msg(400, format!("`{field}` must be true or false"))),
    }
}

/// API Gateway's `replace` operations on `/name`, `/enabled`, `/description` as (field,
/// value) pairs.
fn patch_operations(ops: &Value) -> Result<Vec<(String, Value)>, Reply> {
    let Some(ops) = ops.as_array() else {
        return Err(msg(400, "`patchOperations` must be an array"));
    };
    ops.iter()
        .map(|op| {
            let o = op.get("op").and_then(Value::as_str);
            let path = op.get("path").and_then(Value::as_str).unwrap_or("");
            if o != Some("replace") {
                return Err(msg(
                    400,
                    format!("patch operation on `{path}`: only `replace` is supported"),
                ));
            }
            let field = path.strip_prefix('/').unwrap_or(path).to_string();
            Ok((field, op.get("value").cloned().unwrap_or(Value::Null)))
        })
        .collect()
}

/// 10 lowercase alphanumerics, like API Gateway's key ids.
fn random_id() -> String {
    const LOWER: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = [0u8; 10];
    if SystemRandom::new().fill(&mut b).is_err() {
        // No system randomness: fall back on the clock (ids need only be distinct).
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        return derived_id(&t.to_string());
    }
    b.iter()
        .map(|x| LOWER[usize::from(*x) % 36] as char)
        .collect()
}
