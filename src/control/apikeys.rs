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

mod import;
mod json;

use std::sync::Arc;

use serde_json::{Value, json};

use self::json::{
    bool_field, json_object, key_json, key_value, key_values, keystore_or_empty, patch_operations,
    random_id, str_field,
};
use super::keystore::{self, StoredKey};
use super::reload::{ReloadError, Reloader, error_json};
use super::state::write_file_atomic;
use crate::config::{API_KEY_STORE_FILE, KeyOrigin, Snapshot};
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
        let (snap, mut keys) = match self.store() {
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
    fn store(&self) -> Result<(Arc<Snapshot>, Vec<StoredKey>), Reply> {
        let snap = self.shared.current();
        let Some(dir) = snap.server.state_dir.as_deref() else {
            return Err(msg(
                409,
                "`server.stateDir` is null: the admin API keeps its API keys there, so it cannot create or change keys",
            ));
        };
        let keys = keystore::read(dir).map_err(|e| msg(500, e))?;
        Ok((snap, keys))
    }

    /// The store and the index of key `id` in it: 404 for no such key, 409 for a key of
    /// the gateway file.
    fn stored_key(
        &self,
        id: &str,
    ) -> Result<(std::sync::Arc<Snapshot>, Vec<StoredKey>, usize), Reply> {
        let (snap, keys) = self.store()?;
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
