//! `POST /apikeys?mode=import&format=csv`: API Gateway's key CSV into the key store. Rows
//! the CSV reader or the running config refuse become warnings with their line; the good
//! rows are imported in one change.

use serde_json::json;

use super::super::keystore::{self, StoredKey};
use super::super::reload::ReloadError;
use super::{KeyAdmin, Reply, invalid, msg, param};
use crate::config::{derived_id, parse_key_csv};

impl KeyAdmin<'_> {
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
        let (snap, mut keys) = match self.store() {
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
}

/// `$.apiKeys[3].name` → 3.
fn entry_index(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("$.apiKeys[")?;
    rest[..rest.find(']')?].parse().ok()
}
