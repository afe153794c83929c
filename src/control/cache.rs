//! The stage cache in the admin API: `GET /restapis/{apiId}/stages/{stage}/cache` (size,
//! entries and per-method `CacheHitCount` / `CacheMissCount`) and API Gateway's
//! `FlushStageCache`, `DELETE /restapis/{apiId}/stages/{stage}/cache/data` → 202.

use serde_json::{Value, json};

use crate::dataplane::Shared;

/// The cache of a stage, or the admin error for a stage that is unknown or has no cache.
fn find(
    shared: &Shared,
    api: &str,
    stage: &str,
) -> Result<
    (
        std::sync::Arc<crate::config::Snapshot>,
        std::sync::Arc<crate::dataplane::cache::StageCache>,
    ),
    (u16, Value),
> {
    let (snap, cache) = shared.stage_cache(&format!("cache:{api}/{stage}"));
    let known = snap
        .apis
        .iter()
        .any(|a| a.id == api && a.stages.contains_key(stage.as_bytes()));
    match cache {
        Some(c) => Ok((snap, c)),
        None if known => Err((
            400,
            json!({"message": format!("Stage {stage} of API {api} has no cache: set cacheClusterEnabled")}),
        )),
        None => Err((
            404,
            json!({"message": format!("Invalid stage identifier specified: {api}/{stage}")}),
        )),
    }
}

/// `GET .../cache`: the cache's size and counters.
pub fn stats(shared: &Shared, api: &str, stage: &str) -> (u16, Value) {
    let (snap, cache) = match find(shared, api, stage) {
        Ok(found) => found,
        Err(e) => return e,
    };
    let routes = snap
        .apis
        .iter()
        .find(|a| a.id == api)
        .map(|a| a.routes.as_slice())
        .unwrap_or_default();
    let mut hits = 0;
    let mut misses = 0;
    let methods: Vec<Value> = (0..cache.routes())
        .filter_map(|i| {
            let (h, s) = cache.route_counts(i);
            hits += h;
            misses += s;
            let route = routes.get(i)?;
            Some(json!({
                "route": route.route_key,
                "resourcePath": route.path,
                "CacheHitCount": h,
                "CacheMissCount": s,
            }))
        })
        .collect();
    let s = cache.stats();
    (
        200,
        json!({
            "capacityBytes": cache.policy().capacity_bytes,
            "bytes": s.bytes,
            "entries": s.entries,
            "evictions": s.evictions,
            "hits": hits,
            "misses": misses,
            "methods": methods,
        }),
    )
}

/// `DELETE .../cache/data`: every entry stored so far is gone (`FlushStageCache`).
pub fn flush(shared: &Shared, api: &str, stage: &str) -> (u16, Value) {
    match find(shared, api, stage) {
        Ok((_, cache)) => {
            cache.flush();
            (202, json!({}))
        }
        Err(e) => e,
    }
}
