//! Trace headers on HTTP_PROXY requests (issue 7): the upstream always gets one well-formed
//! `X-Amzn-Trace-Id` (`Root=1-{8 hex}-{24 hex};Parent={16 hex};Sampled=0|1`), a new trace
//! when the client sent none or a malformed one, the client's Root (and sampling decision)
//! kept when it sent one; a valid W3C `traceparent` (and its `tracestate`) goes through
//! unchanged, a malformed, repeated or missing one is replaced by tollgate's own, naming the
//! same trace as `X-Amzn-Trace-Id` (and no `tracestate`).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use support::config::proxy_config;
use support::http::request;
use support::*;

/// The `X-Amzn-Trace-Id` values the upstream saw on its last request, checked for shape;
/// returns (Root, Parent, Sampled).
fn upstream_trace(up: &Upstream) -> (String, String, String) {
    let req = up.requests().pop().expect("the upstream got the request");
    let all = req.headers.get_all("X-Amzn-Trace-Id");
    assert_eq!(all.len(), 1, "exactly one X-Amzn-Trace-Id: {all:?}");
    let value = &all[0];
    let parts: Vec<&str> = value.split(';').collect();
    assert_eq!(parts.len(), 3, "{value}");
    let root = parts[0].strip_prefix("Root=").expect(value);
    let parent = parts[1].strip_prefix("Parent=").expect(value);
    let sampled = parts[2].strip_prefix("Sampled=").expect(value);
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    let r: Vec<&str> = root.split('-').collect();
    assert!(
        r.len() == 3
            && r[0] == "1"
            && r[1].len() == 8
            && hex(r[1])
            && r[2].len() == 24
            && hex(r[2]),
        "Root: {value}"
    );
    assert!(parent.len() == 16 && hex(parent), "Parent: {value}");
    assert!(sampled == "0" || sampled == "1", "Sampled: {value}");
    (root.into(), parent.into(), sampled.into())
}

fn send(c: &mut Client, headers: &[(&str, &str)]) -> support::http::Request {
    let r = c.roundtrip(&request("GET", "/pets", headers, None));
    assert_eq!(r.status, 200, "{}", r.body_str());
    r.echoed()
}

#[test]
fn x_amzn_trace_id_is_started_or_continued() {
    let up = Upstream::echo();
    let gw = Gateway::start(proxy_config(up.port()));
    let mut c = gw.client();

    // None sent: a new trace whose Root starts with the current epoch seconds.
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    send(&mut c, &[]);
    let (root, _, sampled) = upstream_trace(&up);
    let secs = u64::from_str_radix(&root[2..10], 16).unwrap();
    assert!(secs.abs_diff(before) <= 5, "{root} vs {before}");
    assert_eq!(sampled, "0");
    send(&mut c, &[]);
    let (other, _, _) = upstream_trace(&up);
    assert_ne!(root, other, "each request starts its own trace");

    // Sent: the Root and sampling decision are kept, the Parent is tollgate's.
    let client_root = "1-5759e988-bd862e3fe1be46a994272793";
    let sent = format!("Root={client_root};Parent=53995c3f42cd8ad8;Sampled=1");
    send(&mut c, &[("X-Amzn-Trace-Id", &sent)]);
    let (root, parent, sampled) = upstream_trace(&up);
    assert_eq!((root.as_str(), sampled.as_str()), (client_root, "1"));
    assert_ne!(parent, "53995c3f42cd8ad8");

    // Malformed: replaced by a new trace, never forwarded as sent.
    for bad in [
        "Root=1-zz-top",
        "garbage",
        "Root=1-5759e988-bd862e3fe1be46a99427279",
    ] {
        send(&mut c, &[("X-Amzn-Trace-Id", bad)]);
        let (root, _, _) = upstream_trace(&up);
        assert!(!bad.contains(&root), "{bad} → {root}");
    }
}

/// The upstream got tollgate's own `traceparent`: one, version 00, the trace and span of its
/// `X-Amzn-Trace-Id` (Root's hex digits, Parent), flags from `Sampled`. Returns it.
fn assert_started(up: &Upstream, seen: &support::http::Request, case: &str) -> String {
    let all = seen.headers.get_all("traceparent");
    assert_eq!(all.len(), 1, "{case}: {all:?}");
    let (root, parent, sampled) = upstream_trace(up);
    let expected = format!(
        "00-{}-{parent}-0{sampled}",
        root.trim_start_matches("1-").replace('-', "")
    );
    assert_eq!(all[0], expected, "{case}");
    all[0].clone()
}

#[test]
fn traceparent_is_forwarded_or_started() {
    let up = Upstream::echo();
    let gw = Gateway::start(proxy_config(up.port()));
    let mut c = gw.client();
    let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    let seen = send(
        &mut c,
        &[("traceparent", valid), ("tracestate", "congo=t61rcWkgMzE")],
    );
    assert_eq!(seen.headers.get_all("traceparent"), vec![valid.to_string()]);
    assert_eq!(
        seen.header("tracestate").as_deref(),
        Some("congo=t61rcWkgMzE")
    );

    for bad in [
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "nonsense",
    ] {
        let seen = send(
            &mut c,
            &[("traceparent", bad), ("tracestate", "congo=t61rcWkgMzE")],
        );
        assert_started(&up, &seen, bad);
        assert_eq!(
            seen.header("tracestate"),
            None,
            "{bad}: tracestate goes with it"
        );
    }
    // Two traceparent headers: ambiguous, dropped.
    let seen = send(&mut c, &[("traceparent", valid), ("traceparent", valid)]);
    assert_started(&up, &seen, "two");
    // None sent: started, sampled as X-Amzn-Trace-Id says.
    let seen = send(
        &mut c,
        &[(
            "X-Amzn-Trace-Id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        )],
    );
    let started = assert_started(&up, &seen, "none");
    assert!(
        started.starts_with("00-5759e988bd862e3fe1be46a994272793-") && started.ends_with("-01"),
        "{started}"
    );
    // A valid one never stops X-Amzn-Trace-Id.
    send(&mut c, &[("traceparent", valid)]);
    upstream_trace(&up);
}
