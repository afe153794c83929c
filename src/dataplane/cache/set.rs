//! `CacheSet`: every stage's cache, carried over a reload when nothing about it changed.

use std::hash::Hash;
use std::sync::Arc;

use hashbrown::HashMap;

use super::store::{CachePolicy, StageCache};

/// The stage caches of one config, by stable stage identity (e.g. `(restApiId, stageName)`).
/// Built on the control plane; the data plane reads its `Arc<StageCache>`s.
#[derive(Debug)]
pub struct CacheSet<K> {
    caches: HashMap<K, (CachePolicy, u64, Arc<StageCache>)>,
}

impl<K: Eq + Hash + Clone> CacheSet<K> {
    pub fn new() -> CacheSet<K> {
        CacheSet {
            caches: HashMap::new(),
        }
    }

    /// The caches for a new config: `(identity, policy, fingerprint, routes)` per cached stage,
    /// where `fingerprint` is the config's hash of everything that shapes entries (key
    /// parameters, TTLs, per-method settings, deployment). A stage whose identity, policy
    /// and fingerprint all match keeps its very `StageCache`; any other starts empty.
    /// Stages absent from `stages` are dropped (freed once in-flight requests let go). A kept
    /// cache keeps its per-route counters too: the fingerprint covers the route list.
    /// `cores`: the cores that count hits (`StageCache::with_counts`).
    pub fn rebuild(
        &self,
        cores: usize,
        stages: impl IntoIterator<Item = (K, CachePolicy, u64, usize)>,
    ) -> CacheSet<K> {
        let caches = stages
            .into_iter()
            .map(|(id, policy, fingerprint, routes)| {
                let cache = match self.caches.get(&id) {
                    Some((p, f, c))
                        if *p == policy
                            && *f == fingerprint
                            && c.routes() == routes
                            && c.cores() == cores =>
                    {
                        Arc::clone(c)
                    }
                    _ => Arc::new(StageCache::with_counts(policy, cores, routes)),
                };
                (id, (policy, fingerprint, cache))
            })
            .collect();
        CacheSet { caches }
    }

    pub fn get(&self, id: &K) -> Option<&Arc<StageCache>> {
        self.caches.get(id).map(|(_, _, c)| c)
    }

    pub fn len(&self) -> usize {
        self.caches.len()
    }

    /// Every cache with its identity.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &Arc<StageCache>)> {
        self.caches.iter().map(|(k, (_, _, c))| (k, c))
    }

    pub fn is_empty(&self) -> bool {
        self.caches.is_empty()
    }
}

impl<K: Eq + Hash + Clone> Default for CacheSet<K> {
    fn default() -> Self {
        CacheSet::new()
    }
}
