//! Listener changes on reload (DESIGN §7, RELIABILITY R05): a reload that adds a listener
//! serves on it, one that removes a listener closes it, an unchanged listener never refuses
//! a connection meanwhile, and a listener that cannot be bound fails the reload with the old
//! config still serving.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use support::config::{mock_ok, rest_config};
use support::*;

fn config(ports: &[u16]) -> Value {
    let mut c = rest_config(json!({ "/hello": { "get": mock_ok() } }));
    let listeners: Vec<Value> = ports
        .iter()
        .map(|p| json!({ "address": format!("127.0.0.1:{p}") }))
        .collect();
    c["server"]["listeners"] = json!(listeners);
    c
}

/// One request on a new connection; the status, or why there was none.
fn status_on(port: u16) -> Result<u16, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /hello HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out);
    text.get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {text:?}"))
}

#[test]
fn reload_adds_and_removes_listeners_without_disturbing_the_others() {
    let (a, b, c) = (free_port(), free_port(), free_port());
    let mut gw = Gateway::start(config(&[a, c]));
    assert_eq!(status_on(a), Ok(200));
    assert_eq!(status_on(c), Ok(200));
    assert_eq!(
        status_on(b).map_err(|_| ()),
        Err(()),
        "b is not a listener yet"
    );

    // A client connecting in a loop to the unchanged listener for the whole reload.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let prober = {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match status_on(a) {
                    Ok(200) => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    gw.write_config(config(&[a, b]));
    let r = gw.reload_post();
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert!(
        wait_until(Duration::from_secs(3), || status_on(b) == Ok(200)),
        "the added listener serves: {:?}",
        status_on(b)
    );
    assert!(
        wait_until(Duration::from_secs(3), || status_on(c).is_err()),
        "the removed listener is closed: {:?}",
        status_on(c)
    );
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    prober.join().unwrap();
    assert!(ok.load(Ordering::Relaxed) > 10, "the prober ran");
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "the unchanged listener refused or failed a request"
    );
    let status = gw.status();
    assert!(
        !status["lastReload"]["warnings"]
            .to_string()
            .contains("listeners"),
        "listener changes are applied, not deferred: {status}"
    );
    gw.assert_healthy();
}

#[test]
fn a_listener_that_cannot_be_bound_fails_the_reload() {
    let a = free_port();
    let mut gw = Gateway::start(config(&[a]));
    let before = gw.generation();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    gw.write_config(config(&[a, busy]));
    let r = gw.reload_post();
    assert_eq!(r.status, 400, "{}", r.body_str());
    let body = r.json();
    let errors = body["errors"].to_string();
    assert!(
        errors.contains("$.server.listeners[1].address") && errors.contains("cannot listen on"),
        "{errors}"
    );
    assert_eq!(gw.generation(), before, "the old config keeps serving");
    assert_eq!(status_on(a), Ok(200));
    drop(taken);
    gw.assert_healthy();
}
