//! DNS for upstream hosts, off the request path: resolved on the control thread before a
//! snapshot is published, and refreshed periodically while it is current.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Snapshot;
use crate::dataplane::Shared;

/// How often names are resolved again.
pub const REFRESH: Duration = Duration::from_secs(30);

/// Resolve every named upstream of `snapshot`; returns a warning per name that failed.
/// IP-literal upstreams were filled at compile.
pub fn resolve_all(snapshot: &Snapshot) -> Vec<String> {
    let mut warnings = Vec::new();
    for upstream in &snapshot.upstreams {
        if upstream.host.parse::<std::net::IpAddr>().is_ok() {
            continue;
        }
        match (upstream.host.as_str(), upstream.port).to_socket_addrs() {
            Ok(addrs) => {
                let addrs: Vec<SocketAddr> = addrs.collect();
                if addrs.is_empty() {
                    warnings.push(format!("upstream host {} has no addresses", upstream.host));
                }
                upstream.addrs.store(Arc::new(addrs));
            }
            Err(e) => {
                warnings.push(format!(
                    "cannot resolve upstream host {}: {e}",
                    upstream.host
                ));
            }
        }
    }
    warnings
}

/// Refresh the current snapshot's upstream addresses every `REFRESH`, forever.
pub fn spawn_refresher(shared: Arc<Shared>) {
    let _ = std::thread::Builder::new()
        .name("tollgate-dns".into())
        .spawn(move || {
            loop {
                std::thread::sleep(REFRESH);
                if shared.is_draining() {
                    return;
                }
                let snapshot = shared.current();
                for w in resolve_all(&snapshot) {
                    super::log::log(w);
                }
            }
        });
}
