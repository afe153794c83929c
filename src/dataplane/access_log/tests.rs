use std::sync::Arc;

use super::batches::{MIN_BATCHES, SLACK};
use super::*;

#[test]
fn clf_time_is_apache_style_utc() {
    let mut out = Vec::new();
    clf_time(&mut out, 784_111_777);
    assert_eq!(out, b"06/Nov/1994:08:49:37 +0000");
}

#[test]
fn values_cannot_break_out_of_a_quoted_field() {
    let mut out = Vec::new();
    text(&mut out, b"a\"b\\c\x01d");
    assert_eq!(out, b"a\\\"b\\\\c?d");
    out.clear();
    text(&mut out, b"");
    assert_eq!(out, b"-");
}

#[test]
fn a_core_drops_lines_once_its_batches_are_all_out() {
    let (tx, rx) = crate::dataplane::handover::channel(64);
    let mut logs = CoreLogs::new(tx);
    let snap = snapshot_with_logs(1);
    let log = snap.stages[0].access_log.clone().unwrap();
    let mut dropped = 0;
    for _ in 0..MIN_BATCHES {
        dropped += logs.line(&snap, log.destination, |out| out.extend_from_slice(b"x"));
        logs.hand_over_all();
    }
    assert_eq!(dropped, 0);
    assert_eq!(rx.try_iter().count(), MIN_BATCHES);
    assert_eq!(logs.line(&snap, log.destination, |out| out.push(b'y')), 1);
}

#[test]
fn more_destinations_than_the_first_batches_lose_nothing() {
    let (tx, rx) = crate::dataplane::handover::channel(MAX_BATCHES);
    let mut logs = CoreLogs::new(tx);
    let snap = snapshot_with_logs(12);
    let mut written = vec![0usize; snap.log_destinations.len()];
    for tick in 0..5 {
        for stage in &snap.stages {
            let d = stage.access_log.as_ref().unwrap().destination;
            let dropped = logs.line(&snap, d, |out| out.push(b'x'));
            assert_eq!(dropped, 0, "tick {tick}, destination {d}");
        }
        logs.hand_over_all();
        // An idle writer: every batch written and sent home at once.
        for mut b in rx.try_iter() {
            let d = snap
                .log_destinations
                .iter()
                .position(|x| Arc::ptr_eq(x, &b.destination))
                .unwrap();
            written[d] += b.lines.len() / 2;
            b.lines.clear();
            let home = b.home.clone();
            home.try_send(b).unwrap();
        }
    }
    assert_eq!(written, vec![5; 12]);
    // Two per destination and some slack, made once: none more on later ticks.
    assert_eq!(logs.allocated(), 2 * 12 + SLACK);
}

struct OneFile(Vec<u8>);

impl crate::config::Loader for OneFile {
    fn read(&self, path: &std::path::Path) -> std::io::Result<Vec<u8>> {
        if path.ends_with("gateway.json") {
            Ok(self.0.clone())
        } else {
            Err(std::io::ErrorKind::NotFound.into())
        }
    }
}

/// A snapshot with `n` stages, each logging to its own file.
fn snapshot_with_logs(n: usize) -> Snapshot {
    let stages: Vec<_> = (0..n)
        .map(|i| {
            serde_json::json!({ "apiId": "a", "stageName": format!("s{i}"),
                "accessLogSettings": { "destinationArn": format!("s{i}.log"), "format": "$context.requestId" } })
        })
        .collect();
    let gateway = serde_json::json!({
        "server": { "listeners": [{ "address": "127.0.0.1:1" }] },
        "apis": [{ "id": "a", "protocolType": "REST", "definition": {
            "openapi": "3.0.1", "info": { "title": "t", "version": "1" }, "paths": {}
        } }],
        "stages": stages
    });
    let bytes = serde_json::to_vec(&gateway).unwrap();
    crate::config::load(
        std::path::Path::new("/cfg/gateway.json"),
        &OneFile(bytes),
        1,
    )
    .unwrap_or_else(|e| panic!("{e:?}"))
}

fn meta(unix_secs: u64, source_ip: Option<IpAddr>) -> Meta {
    let mut meta = Meta {
        request_id: [b'r'; 36],
        extended_id: [b'e'; 16],
        protocol: None,
        head_request: false,
        close: false,
        retry_after: None,
        cache_warning: false,
        bearer: None,
        now: crate::dataplane::clock::Now {
            mono_ns: 0,
            unix_secs,
        },
        done: Default::default(),
        trace: None,
    };
    meta.done.captured.source_ip = source_ip;
    meta
}

#[test]
fn source_ips_and_request_times_render_as_formatted_once() {
    let snap = snapshot_with_logs(1);
    let format =
        crate::config::compile_format("$context.identity.sourceIp [$context.requestTime]").unwrap();
    let authorized = Authorized::default();
    let cases = [
        (
            784_111_777,
            Some("10.0.255.1".parse().unwrap()),
            "10.0.255.1 [06/Nov/1994:08:49:37 +0000]",
        ),
        (
            784_111_777,
            Some("::1".parse().unwrap()),
            "::1 [06/Nov/1994:08:49:37 +0000]",
        ),
        (784_111_778, None, "- [06/Nov/1994:08:49:38 +0000]"),
        (
            784_111_778,
            Some("0.0.0.0".parse().unwrap()),
            "0.0.0.0 [06/Nov/1994:08:49:38 +0000]",
        ),
        (784_111_777, None, "- [06/Nov/1994:08:49:37 +0000]"),
    ];
    for (secs, ip, want) in cases {
        let meta = meta(secs, ip);
        let line = Line {
            snap: &snap,
            meta: &meta,
            logged: b"",
            authorized: &authorized,
            latency_ns: 0,
        };
        let mut out = b"prefix ".to_vec();
        render(&mut out, &format, &line);
        assert_eq!(String::from_utf8(out).unwrap(), format!("prefix {want}"));
    }
}

#[test]
fn claims_render_as_text_or_escaped_json() {
    let snap = snapshot_with_logs(1);
    let meta = meta(0, None);
    let claims: Claims =
        serde_json::from_str(r#"{"sub":"a\"b","groups":["x","y"],"n":3}"#).unwrap();
    let authorized = Authorized {
        claims: Some(Rc::new(claims)),
        grant: None,
    };
    let line = Line {
        snap: &snap,
        meta: &meta,
        logged: b"",
        authorized: &authorized,
        latency_ns: 0,
    };
    let format = crate::config::compile_format(
        "$context.authorizer.claims.sub $context.authorizer.claims.groups $context.authorizer.claims.n $context.authorizer.claims.none $context.authorizer.principalId",
    )
    .unwrap();
    let mut out = Vec::new();
    render(&mut out, &format, &line);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"a\"b [\"x\",\"y\"] 3 - -"#
    );
}
