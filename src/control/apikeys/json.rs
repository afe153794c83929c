//! Request bodies and response shapes of the key endpoints.

use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value, json};

use super::super::keystore::{self, StoredKey};
use super::{Reply, msg};
use crate::config::{KeyId, KeyOrigin, Snapshot, derived_id};

pub(super) fn keystore_or_empty(snap: &Snapshot) -> Vec<StoredKey> {
    snap.server
        .state_dir
        .as_deref()
        .and_then(|d| keystore::read(d).ok())
        .unwrap_or_default()
}

pub(super) fn key_value(snap: &Snapshot, i: usize) -> Option<String> {
    snap.usage
        .key_values
        .iter()
        .find(|(_, k)| **k == KeyId(i as u32))
        .map(|(v, _)| String::from_utf8_lossy(v).into_owned())
}

/// Every key's value, indexed by `KeyId` (one pass over the value table).
pub(super) fn key_values(snap: &Snapshot) -> Vec<Option<String>> {
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
pub(super) fn key_json(
    snap: &Snapshot,
    i: usize,
    stored: &[StoredKey],
    include_value: bool,
) -> Value {
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

pub(super) fn json_object(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(msg(400, "the body must be a JSON object")),
        Err(e) => Err(msg(400, format!("the body is not JSON: {e}"))),
    }
}

pub(super) fn str_field(field: &str, v: &Value) -> Result<String, Reply> {
    v.as_str()
        .map(String::from)
        .ok_or_else(|| msg(400, format!("`{field}` must be a string")))
}

pub(super) fn bool_field(field: &str, v: &Value) -> Result<bool, Reply> {
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
pub(super) fn patch_operations(ops: &Value) -> Result<Vec<(String, Value)>, Reply> {
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
pub(super) fn random_id() -> String {
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
