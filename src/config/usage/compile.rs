//! Usage specs → the snapshot's `Usage`: one `Limit` per bucket with a stable identity, one
//! `Quota` per (plan, key), the keys with their plan on each stage, the key value table.

use hashbrown::HashMap;

use super::super::gateway::ApiEntry;
use super::super::stage::StageEntry;
use super::super::{
    ApiKey, DEFAULT_ACCOUNT_BURST_LIMIT, DEFAULT_ACCOUNT_RATE_LIMIT, KeyId, KeyStage, Limit,
    LimitId, LimitSpec, PlanIdx, PlanKey, PlanKeyId, Quota, QuotaId, RouteIdx, StageIdx, Usage,
    UsagePlan,
};
use super::{ThrottlePartial, UsageSpec};

/// The limits of one snapshot as they are added; `LimitId(0)` is the account.
pub(crate) struct Limits {
    list: Vec<Limit>,
    account: LimitSpec,
}

impl Limits {
    pub fn new(account: ThrottlePartial) -> Limits {
        let account = LimitSpec {
            rate_per_sec: account.rate.unwrap_or(DEFAULT_ACCOUNT_RATE_LIMIT),
            burst: account.burst.unwrap_or(DEFAULT_ACCOUNT_BURST_LIMIT),
        };
        Limits {
            list: vec![Limit {
                identity: "account".into(),
                spec: account,
            }],
            account,
        }
    }

    /// A new bucket; fields the throttle leaves out take the account's values.
    pub fn add(&mut self, identity: String, t: ThrottlePartial) -> LimitId {
        let id = LimitId(self.list.len() as u32);
        self.list.push(Limit {
            identity: identity.into(),
            spec: LimitSpec {
                rate_per_sec: t.rate.unwrap_or(self.account.rate_per_sec),
                burst: t.burst.unwrap_or(self.account.burst),
            },
        });
        id
    }
}

/// `method:{apiId}/{stage}/{routeKey}`, the identity of a stage's method throttle.
pub(crate) fn method_identity(api: &ApiEntry, stage: &StageEntry, route: usize) -> String {
    format!(
        "method:{}/{}/{}",
        api.id, stage.name, api.def.routes[route].route.route_key
    )
}

pub(crate) fn compile_usage(
    mut limits: Limits,
    usage: UsageSpec,
    apis: &[ApiEntry],
    stages: &[StageEntry],
) -> Usage {
    // Exhaustive, so a new spec field cannot be silently ignored here.
    let UsageSpec {
        account: _,
        plans,
        keys,
        warnings: _,
    } = usage;
    let mut quotas = Vec::new();
    let mut plan_keys = Vec::new();
    let mut out_keys = Vec::with_capacity(keys.len());
    let mut key_values = HashMap::with_capacity(keys.len());
    for (k, key) in keys.into_iter().enumerate() {
        let mut key_stages = Vec::new();
        let mut key_plans = Vec::with_capacity(key.plans.len());
        for &p in &key.plans {
            let plan = &plans[p];
            let throttle = plan
                .throttle
                .map(|t| limits.add(format!("key:{}/{}", plan.id, key.id), t));
            let quota = plan.quota.map(|spec| {
                quotas.push(Quota {
                    identity: format!("quota:{}/{}", plan.id, key.id).into(),
                    spec,
                });
                QuotaId(quotas.len() as u32 - 1)
            });
            let usage = PlanKeyId(plan_keys.len() as u32);
            plan_keys.push(PlanKey {
                plan: PlanIdx(p as u32),
                key: KeyId(k as u32),
                quota,
                identity: format!("usage:{}/{}", plan.id, key.id).into(),
            });
            key_plans.push(usage);
            for ps in &plan.stages {
                let stage = &stages[ps.stage];
                let api = &apis[stage.api];
                let methods = ps
                    .methods
                    .iter()
                    .map(|&(route, t)| {
                        let identity = format!(
                            "keymethod:{}/{}/{}/{}/{}",
                            plan.id,
                            key.id,
                            api.id,
                            stage.name,
                            api.def.routes[route].route.route_key
                        );
                        (RouteIdx(route as u32), limits.add(identity, t))
                    })
                    .collect();
                key_stages.push(KeyStage {
                    stage: StageIdx(ps.stage as u32),
                    plan: PlanIdx(p as u32),
                    throttle,
                    methods,
                    quota,
                    usage,
                });
            }
        }
        key_stages.sort_by_key(|s| s.stage.0);
        key_values.insert(key.value.into_bytes().into_boxed_slice(), KeyId(k as u32));
        out_keys.push(ApiKey {
            id: key.id,
            name: key.name,
            enabled: key.enabled,
            origin: key.origin,
            plans: key_plans,
            stages: key_stages,
        });
    }
    Usage {
        account: LimitId(0),
        limits: limits.list,
        quotas,
        plans: plans
            .into_iter()
            .map(|p| UsagePlan {
                id: p.id,
                name: p.name,
            })
            .collect(),
        keys: out_keys,
        plan_keys,
        key_values,
    }
}
