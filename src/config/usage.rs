//! Usage plans, API keys and the account throttle in the gateway file (SPEC-NOTES §5):
//! `account.throttleSettings`, `usagePlans[]`, `apiKeys[]`, `apiKeysFile` (API Gateway's key
//! import CSV) and `apiKeySecret`/`apiKeySecretEnv` (for generated key values). Stage
//! throttles are in `throttle` (read by `stage`), compile in `compile`.
//!
//! The admin API's keys (`<stateDir>/apikeys.json`, read through the `Loader`) are
//! `apiKeys[]` entries in another file, validated and compiled the same way, after the others.
//!
//! A bad row of `apiKeysFile` is skipped with a warning (the other rows are imported, as API
//! Gateway's import without `failonwarnings`); anything wrong in the gateway file itself is an
//! error.

mod compile;
mod csv;
mod import;
mod keys;
mod throttle;

pub(crate) use compile::{Limits, compile_usage, method_identity};
pub(crate) use import::parse_key_csv;
pub(crate) use keys::derived_id;
pub(crate) use throttle::{
    MethodKey, StageSettings, ThrottlePartial, read_stage_settings, route_throttles,
};

use std::path::Path;

use super::gateway::{Declared, api_index, stage_index};
use super::reader::{Errors, Node, Obj};
use super::server::Env;
use super::stage::StageEntry;
use super::{KeyOrigin, Protocol, QuotaPeriod, QuotaSpec};
use throttle::throttle_settings;

pub(crate) struct UsageSpec {
    pub account: ThrottlePartial,
    pub plans: Vec<PlanSpec>,
    pub keys: Vec<KeySpec>,
    /// Bad rows of `apiKeysFile`, each skipped.
    pub warnings: Errors,
}

pub(crate) struct PlanSpec {
    pub id: String,
    pub name: String,
    pub throttle: Option<ThrottlePartial>,
    pub quota: Option<QuotaSpec>,
    pub stages: Vec<PlanStage>,
}

pub(crate) struct PlanStage {
    /// Index into the gateway's stages.
    pub stage: usize,
    /// Per-method throttles: (route index, throttle).
    pub methods: Vec<(usize, ThrottlePartial)>,
}

pub(crate) struct KeySpec {
    pub id: String,
    pub name: String,
    pub value: String,
    pub enabled: bool,
    /// Indices into `plans`.
    pub plans: Vec<usize>,
    pub origin: KeyOrigin,
}

impl UsageSpec {
    /// No plans, no keys, API Gateway's account defaults.
    pub fn empty() -> UsageSpec {
        UsageSpec {
            account: ThrottlePartial::default(),
            plans: Vec::new(),
            keys: Vec::new(),
            warnings: Errors::new(),
        }
    }
}

/// What the usage sections need from the rest of the gateway file.
pub(crate) struct Context<'c> {
    pub declared: &'c Declared,
    pub stages: &'c [StageEntry],
    pub base_dir: &'c Path,
    pub loader: &'c dyn super::Loader,
    pub env: Env<'c>,
    /// `server.stateDir`, where the admin API's key store lives.
    pub state_dir: Option<&'c Path>,
}

/// Read `account`, `usagePlans`, `apiKeys`, `apiKeysFile`, `apiKeySecret`/`apiKeySecretEnv`
/// from the gateway file's root object.
pub(crate) fn validate_usage(
    obj: &mut Obj<'_>,
    cx: &Context<'_>,
    errors: &mut Errors,
) -> UsageSpec {
    let mut out = UsageSpec::empty();
    if let Some(a) = obj.opt_non_null("account")
        && let Some(mut acc) = a.obj(errors)
    {
        if let Some(t) = acc.opt_non_null("throttleSettings") {
            out.account = throttle_settings(&t, errors).unwrap_or_default();
        }
        acc.finish(errors);
    }
    for item in obj
        .opt("usagePlans")
        .and_then(|n| n.arr(errors))
        .unwrap_or_default()
    {
        if let Some(p) = plan(&item, cx, errors) {
            if out.plans.iter().any(|o| o.id == p.id) {
                item.err(errors, format!("duplicate usage plan id `{}`", p.id));
            }
            out.plans.push(p);
        }
    }
    let secret = keys::secret(obj, cx.env, errors);
    let key_nodes = obj
        .opt("apiKeys")
        .and_then(|n| n.arr(errors))
        .unwrap_or_default();
    let file = obj.opt_non_null("apiKeysFile");
    keys::api_keys(
        &key_nodes,
        secret.as_deref(),
        KeyOrigin::Config,
        cx,
        &mut out,
        errors,
    );
    if let Some(f) = file {
        keys::import_file(&f, cx, &mut out, errors);
    }
    if let Some(dir) = cx.state_dir {
        keys::read_store(dir, secret.as_deref(), cx, &mut out, errors);
    }
    out
}

/// `[A-Za-z0-9_-]{1,64}`: usage plan and API key ids (they appear in limit identities).
pub(crate) fn id_ok(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn plan(item: &Node<'_>, cx: &Context<'_>, errors: &mut Errors) -> Option<PlanSpec> {
    let mut obj = item.obj(errors)?;
    let id = obj.req("id", errors).and_then(|n| {
        let s = n.str(errors)?;
        if !id_ok(s) {
            n.err(
                errors,
                format!("usage plan id `{s}` must match `[A-Za-z0-9_-]{{1,64}}`"),
            );
        }
        Some(s.to_string())
    });
    let name = obj
        .req("name", errors)
        .and_then(|n| n.str(errors))
        .map(str::to_string);
    if let Some(d) = obj.opt_non_null("description") {
        d.str(errors);
    }
    if let Some(t) = obj.opt_non_null("tags") {
        t.string_map(errors);
    }
    let throttle = obj
        .opt_non_null("throttle")
        .and_then(|t| throttle_settings(&t, errors));
    let quota = obj.opt_non_null("quota").and_then(|q| quota(&q, errors));
    let mut stages: Vec<PlanStage> = Vec::new();
    for s in obj
        .opt_non_null("apiStages")
        .and_then(|n| n.arr(errors))
        .unwrap_or_default()
    {
        if let Some(ps) = plan_stage(&s, cx, errors) {
            if stages.iter().any(|o| o.stage == ps.stage) {
                s.err(errors, "this API stage is already in the plan");
            }
            stages.push(ps);
        }
    }
    obj.unsupported(&["productCode"], errors);
    obj.finish(errors);
    Some(PlanSpec {
        id: id?,
        name: name?,
        throttle,
        quota,
        stages,
    })
}

fn quota(n: &Node<'_>, errors: &mut Errors) -> Option<QuotaSpec> {
    let mut obj = n.obj(errors)?;
    let limit = obj
        .req("limit", errors)
        .and_then(|l| l.u64_in(errors, 1, super::MAX_BURST_LIMIT));
    let offset_node = obj.opt_non_null("offset");
    let offset = match &offset_node {
        Some(o) => o.u64_in(errors, 0, super::MAX_BURST_LIMIT),
        None => Some(0),
    };
    let period = obj
        .req("period", errors)
        .and_then(|p| match p.str(errors)? {
            "DAY" => Some(QuotaPeriod::Day),
            "WEEK" => Some(QuotaPeriod::Week),
            "MONTH" => Some(QuotaPeriod::Month),
            s => {
                p.err(
                    errors,
                    format!("unknown quota period `{s}`: expected DAY, WEEK or MONTH"),
                );
                None
            }
        });
    obj.finish(errors);
    let (limit, offset, period) = (limit?, offset?, period?);
    if offset >= limit {
        if let Some(o) = offset_node {
            o.err(
                errors,
                format!("the quota offset ({offset}) must be less than its limit ({limit})"),
            );
        }
        return None;
    }
    Some(QuotaSpec {
        limit,
        offset,
        period,
    })
}

fn plan_stage(item: &Node<'_>, cx: &Context<'_>, errors: &mut Errors) -> Option<PlanStage> {
    let mut obj = item.obj(errors)?;
    let api_node = obj.req("apiId", errors);
    let stage_node = obj.req("stage", errors);
    let throttle_node = obj.opt_non_null("throttle");
    obj.finish(errors);
    let api_node = api_node?;
    let api = api_index(cx.declared, api_node.str(errors)?, &api_node.loc(), errors)?;
    let (api_id, protocol, entry) = &cx.declared.apis[api];
    if *protocol == Protocol::Http {
        api_node.err(
            errors,
            format!("API `{api_id}` is an HTTP API: HTTP APIs have no usage plans or API keys (use stage `defaultRouteSettings`/`routeSettings` to throttle)"),
        );
        return None;
    }
    let stage_node = stage_node?;
    let stage = stage_index(
        cx.declared,
        cx.stages,
        api,
        stage_node.str(errors)?,
        &stage_node.loc(),
        errors,
    )?;
    let mut methods: Vec<(usize, ThrottlePartial)> = Vec::new();
    for (key, n) in throttle_node
        .and_then(|t| t.entries(errors))
        .unwrap_or_default()
    {
        let t = throttle_settings(&n, errors);
        let k = match MethodKey::parse(key) {
            Ok(k) if k.rank() == 3 => k,
            Ok(_) => {
                n.err(errors, format!("`{key}`: a usage plan's method throttle names one method (`/pets/GET`); the plan's `throttle` covers all of them"));
                continue;
            }
            Err(e) => {
                n.err(errors, e);
                continue;
            }
        };
        let Some(entry) = entry else { continue };
        match entry.def.routes.iter().position(|r| k.matches(&r.route)) {
            None => n.err(errors, "this method key matches no route of the API"),
            Some(route) if methods.iter().any(|(r, _)| *r == route) => {
                n.err(errors, format!("method key `{key}` is given twice"))
            }
            Some(route) => {
                if let Some(t) = t {
                    methods.push((route, t));
                }
            }
        }
    }
    methods.sort_by_key(|(r, _)| *r);
    Some(PlanStage { stage, methods })
}
