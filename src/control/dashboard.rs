//! The admin listener's live dashboard: one self-contained page (`dashboard.html`: inline CSS
//! and script, no external assets) that polls `GET /metrics.json` every second and shows
//! request rate, error rates, latency percentiles and cache hit ratio per API/stage/method,
//! throttled counts per usage plan and the gateway's gauges.
//!
//! The page holds no data, so `GET /dashboard` needs no token; its script reads the admin
//! token from the URL fragment (`/dashboard#token=...`, never sent to a server) for its
//! `/metrics.json` requests. A Content-Security-Policy allows exactly the page's own inline
//! script and style (by hash), connections to this origin only, and nothing else.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::digest::{SHA256, digest};

pub const PAGE: &str = include_str!("dashboard.html");

/// The page's `Content-Security-Policy`, computed once.
pub fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        format!(
            "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; \
             img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            inline_hash(PAGE, "script"),
            inline_hash(PAGE, "style"),
        )
    })
}

/// `sha256-…` of the text inside the page's first `<tag>…</tag>`, as CSP hashes it.
fn inline_hash(page: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let body = page
        .split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&close))
        .map_or("", |(inner, _)| inner);
    let hash = digest(&SHA256, body.as_bytes());
    format!("sha256-{}", STANDARD.encode(hash.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_inline_script_and_style() {
        let csp = content_security_policy();
        assert!(
            csp.starts_with("default-src 'none'; script-src 'sha256-"),
            "{csp}"
        );
        assert!(csp.contains("style-src 'sha256-"), "{csp}");
        // One script and one style block: a second would not be covered by the policy.
        assert_eq!(PAGE.matches("<script>").count(), 1);
        assert_eq!(PAGE.matches("<style>").count(), 1);
        assert!(!PAGE.contains("src=\"http"), "no external assets");
    }
}
