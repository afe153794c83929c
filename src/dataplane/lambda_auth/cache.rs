//! The Lambda authorizer result cache, one per core (each core owns its own: no locks, no
//! atomics; a result may be fetched once per core rather than once per gateway — the price
//! of DESIGN §4's share-nothing cores, documented in README "Authorizers").
//!
//! Per authorizer, keyed by the function and the identity source values (TOKEN: the token),
//! each entry lives `authorizerResultTtlInSeconds`, and the table is bounded in entries and
//! in bytes: an insert first drops expired entries, then the oldest (with one TTL per
//! authorizer, the soonest to expire is the oldest). A hit is a hash lookup and an `Rc`
//! clone: no allocation.
//!
//! Lifecycle over a reload: the first request of a new generation re-pairs the tables with
//! the snapshot's authorizers by identity and fingerprint; a table whose authorizer changed
//! (or is gone) is dropped, so no result outlives the configuration that produced it.

use std::rc::Rc;
use std::time::{Duration, Instant};

use hashbrown::HashMap;

use super::output::Grant;
use crate::config::{LambdaIdx, Snapshot};

/// At most this many results per authorizer per core.
pub const MAX_ENTRIES: usize = 10_000;
/// At most this many bytes of results (keys included) per authorizer per core.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// Every authorizer's table on this core, paired with one snapshot generation.
#[derive(Default)]
pub struct Caches {
    generation: Option<u64>,
    tables: Vec<Table>,
    /// The key being looked up, reused.
    pub key: Vec<u8>,
}

struct Table {
    identity: Box<str>,
    fingerprint: u64,
    entries: HashMap<Box<[u8]>, Entry>,
    bytes: usize,
}

struct Entry {
    grant: Rc<Grant>,
    expires: Instant,
    cost: usize,
}

impl Caches {
    /// Pairs the tables with `snap`'s authorizers (on the first call of a generation).
    pub fn sync(&mut self, snap: &Snapshot) {
        if self.generation != Some(snap.generation) {
            let authorizers = snap
                .lambda_authorizers
                .iter()
                .map(|a| (&*a.identity, a.fingerprint));
            self.pair(snap.generation, authorizers);
        }
    }

    /// The tables are paired with `snap`'s authorizers (indices mean the same).
    pub fn is_for(&self, snap: &Snapshot) -> bool {
        self.generation == Some(snap.generation)
    }

    /// One table per `(identity, fingerprint)`, in order: the old one where both match.
    pub(super) fn pair<'a>(
        &mut self,
        generation: u64,
        authorizers: impl Iterator<Item = (&'a str, u64)>,
    ) {
        let mut old = std::mem::take(&mut self.tables);
        self.tables = authorizers
            .map(|(identity, fingerprint)| {
                let kept = old
                    .iter()
                    .position(|t| &*t.identity == identity && t.fingerprint == fingerprint);
                match kept {
                    Some(i) => old.swap_remove(i),
                    None => Table {
                        identity: identity.into(),
                        fingerprint,
                        entries: HashMap::new(),
                        bytes: 0,
                    },
                }
            })
            .collect();
        self.generation = Some(generation);
    }

    /// The unexpired result for `key`.
    pub fn get(&self, idx: LambdaIdx, key: &[u8], now: Instant) -> Option<Rc<Grant>> {
        let table = self.tables.get(idx.0 as usize)?;
        let e = table.entries.get(key)?;
        (e.expires > now).then(|| e.grant.clone())
    }

    /// Keeps `grant` for `key` for `ttl`.
    pub fn insert(
        &mut self,
        idx: LambdaIdx,
        key: &[u8],
        grant: Rc<Grant>,
        ttl: Duration,
        now: Instant,
    ) {
        let Some(table) = self.tables.get_mut(idx.0 as usize) else {
            return;
        };
        let cost = grant.cost + key.len();
        if cost > MAX_BYTES {
            return;
        }
        if let Some(old) = table.entries.remove(key) {
            table.bytes -= old.cost;
        }
        if table.entries.len() >= MAX_ENTRIES || table.bytes + cost > MAX_BYTES {
            table.entries.retain(|_, e| e.expires > now);
            table.bytes = table.entries.values().map(|e| e.cost).sum();
        }
        while table.entries.len() >= MAX_ENTRIES || table.bytes + cost > MAX_BYTES {
            let oldest = table
                .entries
                .iter()
                .min_by_key(|(_, e)| e.expires)
                .map(|(k, _)| k.clone());
            let Some(k) = oldest else { break };
            if let Some(e) = table.entries.remove(&k) {
                table.bytes -= e.cost;
            }
        }
        table.bytes += cost;
        table.entries.insert(
            key.into(),
            Entry {
                grant,
                expires: now + ttl,
                cost,
            },
        );
    }

    #[cfg(test)]
    pub(super) fn len(&self, idx: LambdaIdx) -> usize {
        self.tables[idx.0 as usize].entries.len()
    }

    #[cfg(test)]
    pub(super) fn bytes(&self, idx: LambdaIdx) -> usize {
        self.tables[idx.0 as usize].bytes
    }
}
