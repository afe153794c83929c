//! The admin API's API key store, `<stateDir>/apikeys.json`:
//!
//! ```json
//! {"version": 1, "apiKeys": [{"id": "k3x9a7q2mz", "name": "alice", "enabled": true,
//!                             "value": "…", "description": "…", "usagePlanIds": ["basic"]}]}
//! ```
//!
//! Entries are `apiKeys[]` entries of the gateway file, and config reads the file through
//! its `Loader` and compiles them exactly like those (after `apiKeys` and `apiKeysFile`).
//! An entry without `value` gets the generated one (`apiKeySecret`), which is therefore
//! not stored. The admin API is the only writer: it writes the whole file atomically
//! (temp, fsync, rename) after config has accepted it, then publishes the snapshot.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{API_KEY_STORE_FILE, API_KEY_STORE_VERSION};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredKey {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage_plan_ids: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Doc {
    version: u64,
    api_keys: Vec<StoredKey>,
}

/// The store file of `state_dir`.
pub fn file(state_dir: &Path) -> PathBuf {
    state_dir.join(API_KEY_STORE_FILE)
}

/// The stored keys; no file: none.
pub fn read(state_dir: &Path) -> Result<Vec<StoredKey>, String> {
    let path = file(state_dir);
    match fs::read(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        Ok(bytes) => serde_json::from_slice::<Doc>(&bytes)
            .map(|d| d.api_keys)
            .map_err(|e| format!("{} is not a key store: {e}", path.display())),
    }
}

/// The file's bytes for `keys`.
pub fn encode(keys: &[StoredKey]) -> Vec<u8> {
    let doc = Doc {
        version: API_KEY_STORE_VERSION,
        api_keys: keys.to_vec(),
    };
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}
