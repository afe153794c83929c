//! Throttling, usage plans and API keys as the data plane reads them (SPEC-NOTES §5,
//! DESIGN §5). Every token bucket is a `Limit` with a dense `LimitId` (ledgers are a `Vec`
//! indexed by it) and a stable `identity`: a reload carries a ledger over when a limit with
//! the same identity and the same `spec` exists in the new snapshot. Quotas likewise.
//!
//! Order of evaluation for a request on (stage, route) with key `k` (API Gateway's): the
//! key's method limit and key limit (`KeyStage`), then the route's stage method limit
//! (`StageRoute::throttle`), then the account limit (`Usage::account`); the quota counts
//! requests that passed every throttle.

use hashbrown::HashMap;

use super::RouteIdx;
use super::StageIdx;

/// Index into `Usage::limits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LimitId(pub u32);
/// Index into `Usage::quotas`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QuotaId(pub u32);
/// Index into `Usage::keys`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(pub u32);
/// Index into `Usage::plans`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlanIdx(pub u32);
/// Index into `Usage::plan_keys`: one (plan, key) membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlanKeyId(pub u32);

pub struct Usage {
    /// The account-level limit (`account.throttleSettings`, default 10,000 rps / 5,000
    /// burst); applies to every request of every API. Always `LimitId(0)`.
    pub account: LimitId,
    /// Every distinct token bucket, indexed by `LimitId`.
    pub limits: Vec<Limit>,
    /// Every (plan, key) quota, indexed by `QuotaId`.
    pub quotas: Vec<Quota>,
    /// Indexed by `PlanIdx`.
    pub plans: Vec<UsagePlan>,
    /// Indexed by `KeyId`: every key of `apiKeys`, the good rows of `apiKeysFile`, then the
    /// keys of the admin API's key store (`<stateDir>/apikeys.json`).
    pub keys: Vec<ApiKey>,
    /// Every (plan, key) membership, indexed by `PlanKeyId`: the unit of `GetUsage` and of
    /// the daily usage counters (`usage:{planId}/{keyId}`).
    pub plan_keys: Vec<PlanKey>,
    /// Key value bytes → key. Built once at compile; `get(&[u8])` hashes and compares the
    /// presented bytes and allocates nothing, so an unknown key costs a lookup and nothing
    /// else (RELIABILITY RL04). The hasher is hashbrown's randomly seeded default; the table
    /// is read-only, so no client can grow or flood it.
    pub key_values: HashMap<Box<[u8]>, KeyId>,
}

/// A token bucket: refilled at `rate_per_sec`, holding at most `burst` tokens. `rate 0,
/// burst 0` admits nothing (API Gateway's way to switch a method off).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LimitSpec {
    pub rate_per_sec: f64,
    pub burst: u64,
}

pub struct Limit {
    /// Stable across reloads and restarts: `account`, `method:{apiId}/{stage}/{routeKey}`,
    /// `key:{planId}/{keyId}`, `keymethod:{planId}/{keyId}/{apiId}/{stage}/{routeKey}`
    /// (route keys as `tollgate routes` prints them: `GET /pets/{id}`, `ANY /{proxy+}`,
    /// `$default`).
    pub identity: Box<str>,
    pub spec: LimitSpec,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuotaPeriod {
    Day,
    Week,
    Month,
}

/// `quota` of a usage plan: at most `limit` requests per `period` per key, `offset` of them
/// already used in the first period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaSpec {
    pub limit: u64,
    pub offset: u64,
    pub period: QuotaPeriod,
}

pub struct Quota {
    /// `quota:{planId}/{keyId}`: the key of the persisted counter.
    pub identity: Box<str>,
    pub spec: QuotaSpec,
}

pub struct UsagePlan {
    /// The plan's id, as execution logs name it ("Key throttle limit exceeded for Usage Plan
    /// ID …").
    pub id: String,
    pub name: String,
}

/// Where a key is defined: only `Store` keys can be changed through the admin API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `apiKeys[]` of the gateway file.
    Config,
    /// A row of `apiKeysFile`.
    File,
    /// `<stateDir>/apikeys.json`, written by the admin API.
    Store,
}

/// A key in a usage plan.
pub struct PlanKey {
    pub plan: PlanIdx,
    pub key: KeyId,
    /// The plan's quota for this key, if the plan has one.
    pub quota: Option<QuotaId>,
    /// `usage:{planId}/{keyId}`: the key of the persisted daily counts.
    pub identity: Box<str>,
}

pub struct ApiKey {
    /// Stable id (`apiKeys[].id`, or derived from the value: `$context.identity.apiKeyId`).
    pub id: String,
    pub name: String,
    /// A disabled key is refused like an unknown one (403).
    pub enabled: bool,
    pub origin: KeyOrigin,
    /// The key's usage plans, in the order given.
    pub plans: Vec<PlanKeyId>,
    /// The stages this key may call, sorted by `stage` (binary search), each with the one
    /// usage plan that governs the key there.
    pub stages: Vec<KeyStage>,
}

/// An API key on one stage, through one usage plan.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyStage {
    pub stage: StageIdx,
    pub plan: PlanIdx,
    /// The plan's `throttle` for this key, shared by all the plan's stages (`key:…`); `None`
    /// when the plan has no throttle.
    pub throttle: Option<LimitId>,
    /// The plan's per-method throttles on this stage (`apiStages[].throttle`), sorted by
    /// route; they apply on top of `throttle` (`keymethod:…`).
    pub methods: Vec<(RouteIdx, LimitId)>,
    /// The plan's quota for this key, shared by all the plan's stages.
    pub quota: Option<QuotaId>,
    /// The (plan, key) whose daily usage counts each admitted request.
    pub usage: PlanKeyId,
}

impl Usage {
    /// The key presented in a request (`x-api-key` value bytes), if it exists.
    #[inline]
    pub fn key(&self, value: &[u8]) -> Option<KeyId> {
        self.key_values.get(value).copied()
    }
}

impl ApiKey {
    /// The key's plan on `stage`; `None`: the key may not call that stage (403).
    #[inline]
    pub fn stage(&self, stage: StageIdx) -> Option<&KeyStage> {
        self.stages
            .binary_search_by_key(&stage.0, |s| s.stage.0)
            .ok()
            .map(|i| &self.stages[i])
    }
}

impl KeyStage {
    /// The key's method limit for `route` on this stage, if the plan sets one.
    #[inline]
    pub fn method(&self, route: RouteIdx) -> Option<LimitId> {
        self.methods
            .binary_search_by_key(&route.0, |(r, _)| r.0)
            .ok()
            .map(|i| self.methods[i].1)
    }
}
