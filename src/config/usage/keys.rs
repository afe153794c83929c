//! `apiKeys[]`, `apiKeysFile` and generated key values.
//!
//! A key without `value` gets one derived from its id: HMAC-SHA256 keyed with the gateway's
//! `apiKeySecret` (or the environment variable `apiKeySecretEnv` names), as 40 alphanumerics
//! like the values API Gateway generates. The same id and secret give the same value on every
//! reload and restart, with nothing to persist; without the secret the value could be
//! computed by anyone who knows the id, so a generated value requires one.
//! A key without `id` (and every `apiKeysFile` row) gets a 10-character id derived from its
//! value (SHA-256), so its limits and quota keep their identity across reloads.

use std::path::Path;

use ring::{digest, hmac};
use serde_json::Value;

use super::super::reader::{Errors, Node, Obj};
use super::super::server::Env;
use super::super::{
    API_KEY_STORE_FILE, API_KEY_STORE_VERSION, ConfigError, DEFAULT_API_KEY_ENABLED,
    GENERATED_API_KEY_LENGTH, KeyOrigin, MAX_API_KEY_LENGTH, MAX_API_KEY_NAME_LENGTH,
    MIN_API_KEY_LENGTH, MIN_API_KEY_SECRET_LENGTH,
};
use super::csv::records;
use super::{Context, KeySpec, UsageSpec, id_ok};

const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `apiKeySecret` or the value of the variable `apiKeySecretEnv` names.
pub(super) fn secret(obj: &mut Obj<'_>, env: Env<'_>, errors: &mut Errors) -> Option<String> {
    let literal = obj.opt_non_null("apiKeySecret");
    let var = obj.opt_non_null("apiKeySecretEnv");
    let (node, value) = match (literal, var) {
        (Some(l), Some(_)) => {
            l.err(errors, "give `apiKeySecret` or `apiKeySecretEnv`, not both");
            return None;
        }
        (Some(l), None) => {
            let v = l.str(errors)?.to_string();
            (l, v)
        }
        (None, Some(e)) => {
            let name = e.str(errors)?;
            match env(name) {
                Some(v) => (e, v),
                None => {
                    e.err(errors, format!("environment variable `{name}` is not set"));
                    return None;
                }
            }
        }
        (None, None) => return None,
    };
    if value.len() < MIN_API_KEY_SECRET_LENGTH {
        node.err(
            errors,
            format!("the API key secret must be at least {MIN_API_KEY_SECRET_LENGTH} bytes"),
        );
        return None;
    }
    Some(value)
}

/// The value API Gateway would have generated: 40 alphanumerics, here from
/// HMAC-SHA256(secret, "tollgate api key value\0" + id + counter byte).
pub(crate) fn generated_value(secret: &str, id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut out = String::with_capacity(GENERATED_API_KEY_LENGTH);
    let mut counter = 0u8;
    while out.len() < GENERATED_API_KEY_LENGTH {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(b"tollgate api key value\0");
        ctx.update(id.as_bytes());
        ctx.update(&[counter]);
        for b in ctx.sign().as_ref() {
            // 256 mod 62 = 8: a negligible bias, 5.9 bits per character either way.
            out.push(ALPHANUMERIC[usize::from(*b) % 62] as char);
            if out.len() == GENERATED_API_KEY_LENGTH {
                break;
            }
        }
        counter += 1;
    }
    out
}

/// A 10-character lowercase id derived from a key value (API Gateway's ids look alike).
pub(crate) fn derived_id(value: &str) -> String {
    const LOWER: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let d = digest::digest(&digest::SHA256, value.as_bytes());
    d.as_ref()[..10]
        .iter()
        .map(|b| LOWER[usize::from(*b) % 36] as char)
        .collect()
}

/// Why a key value is not acceptable.
pub(super) fn value_problem(v: &str) -> Option<String> {
    let len = v.chars().count();
    if !(MIN_API_KEY_LENGTH..=MAX_API_KEY_LENGTH).contains(&len) {
        return Some(format!(
            "an API key value is {MIN_API_KEY_LENGTH} to {MAX_API_KEY_LENGTH} characters, found {len}"
        ));
    }
    if !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Some(
            "an API key value is printable ASCII without spaces (it travels in the x-api-key header)"
                .into(),
        );
    }
    None
}

pub(super) fn name_problem(n: &str) -> Option<String> {
    let len = n.chars().count();
    (len == 0 || len > MAX_API_KEY_NAME_LENGTH).then(|| {
        format!("an API key name is 1 to {MAX_API_KEY_NAME_LENGTH} characters, found {len}")
    })
}

/// The key's plans must not share a stage (API Gateway: one usage plan per key per API
/// stage). Returns the message for the first clash.
fn plan_clash(plans: &[usize], usage: &UsageSpec, cx: &Context<'_>) -> Option<String> {
    for (i, &a) in plans.iter().enumerate() {
        for &b in &plans[i + 1..] {
            let (pa, pb) = (&usage.plans[a], &usage.plans[b]);
            if let Some(s) = pa
                .stages
                .iter()
                .find(|s| pb.stages.iter().any(|o| o.stage == s.stage))
            {
                let st = &cx.stages[s.stage];
                return Some(format!(
                    "usage plans `{}` and `{}` both include stage `{}` of API `{}`: a key may be in one plan per API stage",
                    pa.id, pb.id, st.name, cx.declared.apis[st.api].0
                ));
            }
        }
    }
    None
}

pub(super) fn api_keys(
    items: &[Node<'_>],
    secret: Option<&str>,
    origin: KeyOrigin,
    cx: &Context<'_>,
    usage: &mut UsageSpec,
    errors: &mut Errors,
) {
    for item in items {
        let Some(mut obj) = item.obj(errors) else {
            continue;
        };
        let id_node = obj.opt_non_null("id");
        let id = id_node.as_ref().and_then(|n| {
            let s = n.str(errors)?;
            if !id_ok(s) {
                n.err(
                    errors,
                    format!("API key id `{s}` must match `[A-Za-z0-9_-]{{1,64}}`"),
                );
                return None;
            }
            Some(s.to_string())
        });
        let name = obj.req("name", errors).and_then(|n| {
            let s = n.str(errors)?;
            if let Some(p) = name_problem(s) {
                n.err(errors, p);
            }
            Some(s.to_string())
        });
        let value_node = obj.opt_non_null("value");
        let enabled = obj
            .opt_non_null("enabled")
            .and_then(|e| e.bool(errors))
            .unwrap_or(DEFAULT_API_KEY_ENABLED);
        let mut plans = Vec::new();
        let plans_node = obj.opt_non_null("usagePlanIds");
        for p in plans_node
            .as_ref()
            .and_then(|n| n.arr(errors))
            .unwrap_or_default()
        {
            let Some(pid) = p.str(errors) else { continue };
            match usage.plans.iter().position(|o| o.id == pid) {
                Some(i) if plans.contains(&i) => {
                    p.err(errors, format!("usage plan `{pid}` is listed twice"))
                }
                Some(i) => plans.push(i),
                None => p.err(
                    errors,
                    format!("no usage plan with id `{pid}` in `usagePlans`"),
                ),
            }
        }
        for key in ["description", "customerId"] {
            if let Some(d) = obj.opt_non_null(key) {
                d.str(errors);
            }
        }
        if let Some(t) = obj.opt_non_null("tags") {
            t.string_map(errors);
        }
        if let Some(s) = obj.opt("stageKeys") {
            s.err(errors, "`stageKeys` is deprecated by API Gateway for usage plans: put the key in a usage plan with `usagePlanIds`");
        }
        obj.finish(errors);
        let value = match &value_node {
            Some(v) => v.str(errors).and_then(|s| match value_problem(s) {
                Some(p) => {
                    v.err(errors, p);
                    None
                }
                None => Some(s.to_string()),
            }),
            None => match (&id, secret) {
                (Some(id), Some(secret)) => Some(generated_value(secret, id)),
                (Some(_), None) => {
                    item.err(errors, "this key has no `value`: a generated value needs `apiKeySecret` or `apiKeySecretEnv` at the top level");
                    None
                }
                (None, _) => {
                    if id_node.is_none() {
                        item.err(errors, "give the key an `id`, a `value`, or both: a generated value derives from the id");
                    }
                    None
                }
            },
        };
        let (Some(name), Some(value)) = (name, value) else {
            continue;
        };
        let id = id.unwrap_or_else(|| derived_id(&value));
        if usage.keys.iter().any(|k| k.id == id) {
            let at = id_node.as_ref().unwrap_or(item);
            at.err(errors, format!("duplicate API key id `{id}`"));
            continue;
        }
        if usage.keys.iter().any(|k| k.value == value) {
            let at = value_node.as_ref().unwrap_or(item);
            at.err(
                errors,
                format!("API key `{id}` has the same value as another key"),
            );
            continue;
        }
        if let Some(m) = plan_clash(&plans, usage, cx) {
            plans_node.as_ref().unwrap_or(item).err(errors, m);
            continue;
        }
        usage.keys.push(KeySpec {
            id,
            name,
            value,
            enabled,
            plans,
            origin,
        });
    }
}

/// The admin API's key store, `<stateDir>/apikeys.json`: `{"version": 1, "apiKeys": [...]}`
/// with entries shaped as `apiKeys[]` entries. No file: no keys. A store that cannot be read
/// or parsed is an error (its keys would otherwise vanish silently).
pub(super) fn read_store(
    dir: &Path,
    secret: Option<&str>,
    cx: &Context<'_>,
    usage: &mut UsageSpec,
    errors: &mut Errors,
) {
    let file = dir.join(API_KEY_STORE_FILE);
    let err = |errors: &mut Errors, message: String| {
        errors.push(ConfigError {
            file: file.clone(),
            path: "$".into(),
            message,
        })
    };
    let bytes = match cx.loader.read(&file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => return err(errors, format!("cannot read the API key store: {e}")),
    };
    let doc: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return err(errors, format!("the API key store is not JSON: {e}")),
    };
    let root = Node::root(&doc, &file, "$");
    let Some(mut obj) = root.obj(errors) else {
        return;
    };
    if let Some(v) = obj.req("version", errors)
        && v.u64_in(errors, API_KEY_STORE_VERSION, API_KEY_STORE_VERSION)
            .is_none()
    {
        return;
    }
    let items = obj
        .req("apiKeys", errors)
        .and_then(|n| n.arr(errors))
        .unwrap_or_default();
    obj.finish(errors);
    api_keys(&items, secret, KeyOrigin::Store, cx, usage, errors);
}

/// Columns of API Gateway's key file (header names are case-insensitive). `Description` and
/// unknown columns are read and not used, as API Gateway ignores unknown columns.
struct Columns {
    name: usize,
    key: usize,
    enabled: Option<usize>,
    plans: Option<usize>,
}

/// `apiKeysFile`: import API Gateway's key CSV. A file that cannot be read or has no `Name`
/// and `Key` columns is an error; a bad row is a warning and is skipped.
pub(super) fn import_file(
    node: &Node<'_>,
    cx: &Context<'_>,
    usage: &mut UsageSpec,
    errors: &mut Errors,
) {
    let Some(rel) = node.str(errors) else { return };
    let file = cx.base_dir.join(rel);
    let text = match cx.loader.read(&file) {
        Ok(b) => match String::from_utf8(b) {
            Ok(t) => t,
            Err(_) => {
                node.err(errors, format!("`{rel}` is not UTF-8"));
                return;
            }
        },
        Err(e) => {
            node.err(errors, format!("cannot read `{rel}`: {e}"));
            return;
        }
    };
    let file_err = |errors: &mut Errors, line: usize, message: String| {
        errors.push(ConfigError {
            file: file.clone(),
            path: format!("line {line}"),
            message,
        })
    };
    let mut rows = records(&text).into_iter();
    let header = match rows.next() {
        None => {
            file_err(
                errors,
                1,
                "the file is empty: expected a header with `Name` and `Key` columns".into(),
            );
            return;
        }
        Some(r) => match r.fields {
            Ok(f) => f,
            Err(e) => {
                file_err(errors, r.line, format!("header: {e}"));
                return;
            }
        },
    };
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(name), Some(key)) = (col("Name"), col("Key")) else {
        file_err(
            errors,
            1,
            format!(
                "the header must have `Name` and `Key` columns (API Gateway's key file format), found `{}`",
                header.join(",")
            ),
        );
        return;
    };
    let cols = Columns {
        name,
        key,
        enabled: col("Enabled"),
        plans: col("UsagePlanIds"),
    };
    let first_csv_key = usage.keys.len();
    // Line of each imported row, for "overrides line N".
    let mut lines: Vec<usize> = Vec::new();
    for r in rows {
        let warn = |usage: &mut UsageSpec, message: String| {
            usage.warnings.push(ConfigError {
                file: file.clone(),
                path: format!("line {}", r.line),
                message: format!("{message}; row skipped"),
            })
        };
        let fields = match &r.fields {
            Ok(f) => f,
            Err(e) => {
                warn(usage, e.clone());
                continue;
            }
        };
        if fields.len() != header.len() {
            warn(
                usage,
                format!(
                    "{} fields where the header has {}",
                    fields.len(),
                    header.len()
                ),
            );
            continue;
        }
        match row(fields, &cols, usage) {
            Err(m) => warn(usage, m),
            Ok(k) => {
                if let Some(m) = plan_clash(&k.plans, usage, cx) {
                    warn(usage, m);
                    continue;
                }
                let main = &usage.keys[..first_csv_key];
                if main.iter().any(|o| o.value == k.value) {
                    warn(
                        usage,
                        "this key value is also in `apiKeys`, which wins".into(),
                    );
                    continue;
                }
                if main.iter().any(|o| o.id == k.id) {
                    warn(
                        usage,
                        format!("the derived key id `{}` is also an id in `apiKeys`", k.id),
                    );
                    continue;
                }
                // The same value again: the later row replaces the earlier one (API Gateway).
                if let Some(i) = usage.keys[first_csv_key..]
                    .iter()
                    .position(|o| o.value == k.value)
                {
                    let earlier = lines[i];
                    usage.warnings.push(ConfigError {
                        file: file.clone(),
                        path: format!("line {}", r.line),
                        message: format!(
                            "the same key value as line {earlier}: this row replaces it"
                        ),
                    });
                    usage.keys[first_csv_key + i] = k;
                    lines[i] = r.line;
                    continue;
                }
                usage.keys.push(k);
                lines.push(r.line);
            }
        }
    }
}

fn row(fields: &[String], cols: &Columns, usage: &UsageSpec) -> Result<KeySpec, String> {
    let name = &fields[cols.name];
    if let Some(p) = name_problem(name) {
        return Err(format!("Name: {p}"));
    }
    let value = &fields[cols.key];
    if let Some(p) = value_problem(value) {
        return Err(format!("Key: {p}"));
    }
    let enabled = match cols.enabled.map(|i| fields[i].as_str()) {
        None | Some("") => DEFAULT_API_KEY_ENABLED,
        Some(e) if e.eq_ignore_ascii_case("true") => true,
        Some(e) if e.eq_ignore_ascii_case("false") => false,
        Some(e) => return Err(format!("Enabled: expected true or false, found `{e}`")),
    };
    let mut plans = Vec::new();
    for pid in cols
        .plans
        .map(|i| fields[i].as_str())
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match usage.plans.iter().position(|p| p.id == pid) {
            Some(i) if !plans.contains(&i) => plans.push(i),
            Some(_) => {}
            None => {
                return Err(format!(
                    "UsagePlanIds: no usage plan with id `{pid}` in `usagePlans`"
                ));
            }
        }
    }
    Ok(KeySpec {
        id: derived_id(value),
        name: name.clone(),
        value: value.clone(),
        enabled,
        plans,
        origin: KeyOrigin::File,
    })
}
