//! Per-core keep-alive pools of upstream connections, keyed by the upstream's stable key so
//! they carry over reloads for unchanged upstreams. The key covers the scheme and, for
//! `https://`, the TLS settings (and the host, which is the SNI): a plain and a TLS connection
//! never share a list.

use std::time::{Duration, Instant};

use hashbrown::HashMap;

use super::readbuf::ReadBuf;
use super::upstream_stream::UpstreamStream;

/// Read buffer of an upstream connection.
pub const UPSTREAM_BUF: usize = 16 * 1024;

/// A connection to an upstream with its own read buffer (kept with it in the pool).
pub struct UpstreamConn {
    pub stream: UpstreamStream,
    pub rb: ReadBuf,
    /// Requests this connection has carried (0 for a fresh one).
    pub uses: u32,
}

impl UpstreamConn {
    pub fn new(stream: UpstreamStream) -> UpstreamConn {
        UpstreamConn {
            stream,
            rb: ReadBuf::with_capacity(UPSTREAM_BUF),
            uses: 0,
        }
    }
}

struct Idle {
    conn: UpstreamConn,
    since: Instant,
}

#[derive(Default)]
pub struct Pool {
    idle: HashMap<u64, Vec<Idle>>,
}

impl Pool {
    /// The most recently used idle connection to `key` that is younger than `max_idle`.
    pub fn take(&mut self, key: u64, max_idle: Duration) -> Option<UpstreamConn> {
        let list = self.idle.get_mut(&key)?;
        while let Some(idle) = list.pop() {
            if idle.since.elapsed() < max_idle {
                return Some(idle.conn);
            }
        }
        None
    }

    /// Keep `conn` for reuse, unless the pool for `key` already holds `max_per_host`.
    pub fn put(&mut self, key: u64, mut conn: UpstreamConn, max_per_host: usize) {
        let list = self.idle.entry(key).or_default();
        if list.len() >= max_per_host {
            return;
        }
        conn.rb.clear();
        conn.uses += 1;
        list.push(Idle {
            conn,
            since: Instant::now(),
        });
    }

    /// Idle connections held, over every upstream (a metrics gauge).
    pub fn idle_count(&self) -> usize {
        self.idle.values().map(Vec::len).sum()
    }

    /// Close connections idle longer than `max_idle`.
    pub fn evict_idle(&mut self, max_idle: Duration) {
        for list in self.idle.values_mut() {
            list.retain(|i| i.since.elapsed() < max_idle);
        }
    }
}
