//! `server.otlp`: where the spans of stages with `tracingEnabled: true` are exported
//! (OTLP/HTTP with the JSON encoding, `POST {endpoint}/v1/traces`; `control/otlp.rs`).

use std::time::Duration;

use super::reader::{Errors, Node};

/// Spans per POST unless `batchSize` says otherwise.
pub const DEFAULT_OTLP_BATCH: u64 = 512;
/// Longest a span waits before it is sent unless `intervalMs` says otherwise.
pub const DEFAULT_OTLP_INTERVAL_MS: u64 = 1000;

/// A compiled `server.otlp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpSettings {
    /// `host` as written (a name is resolved by the exporter thread) and port.
    pub host: String,
    pub port: u16,
    /// The endpoint's path with `/v1/traces` appended.
    pub path: String,
    /// Spans per POST.
    pub batch_size: usize,
    /// How long the exporter waits for a batch to fill before it sends what it has.
    pub interval: Duration,
}

/// `{"endpoint": "http://host:port[/prefix]", "batchSize": n, "intervalMs": n}`.
pub(crate) fn read(node: &Node<'_>, errors: &mut Errors) -> Option<OtlpSettings> {
    let mut obj = node.obj(errors)?;
    let endpoint = obj.req("endpoint", errors);
    let batch = obj
        .opt("batchSize")
        .and_then(|n| n.u64_in(errors, 1, 10_000));
    let interval = obj
        .opt("intervalMs")
        .and_then(|n| n.u64_in(errors, 10, 60_000));
    obj.finish(errors);
    let endpoint = endpoint?;
    let url = endpoint.str(errors)?;
    let Some((host, port, path)) = parse_endpoint(url) else {
        endpoint.err(
            errors,
            format!(
                "`{url}`: the OTLP endpoint is `http://host:port` with an optional path prefix (e.g. `http://127.0.0.1:4318`); https is not supported"
            ),
        );
        return None;
    };
    Some(OtlpSettings {
        host,
        port,
        path,
        batch_size: batch.unwrap_or(DEFAULT_OTLP_BATCH) as usize,
        interval: Duration::from_millis(interval.unwrap_or(DEFAULT_OTLP_INTERVAL_MS)),
    })
}

fn parse_endpoint(url: &str) -> Option<(String, u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, p.parse().ok()?),
        _ => (authority, 4318),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
    let prefix_ok = prefix
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
    (host_ok && prefix_ok && port != 0)
        .then(|| (host.to_string(), port, format!("{prefix}/v1/traces")))
}

#[cfg(test)]
mod tests {
    use super::parse_endpoint;

    #[test]
    fn endpoints() {
        let p = |u| parse_endpoint(u).map(|(h, p, path)| format!("{h} {p} {path}"));
        assert_eq!(
            p("http://127.0.0.1:4318").as_deref(),
            Some("127.0.0.1 4318 /v1/traces")
        );
        assert_eq!(
            p("http://collector/").as_deref(),
            Some("collector 4318 /v1/traces")
        );
        assert_eq!(
            p("http://c:1/otel/").as_deref(),
            Some("c 1 /otel/v1/traces")
        );
        assert_eq!(p("http://[::1]:9").as_deref(), Some("::1 9 /v1/traces"));
        for bad in [
            "https://c:4318",
            "c:4318",
            "http://:1",
            "http://c:0",
            "http://c:x",
            "http://c/a?b",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }
}
