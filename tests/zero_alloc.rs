//! DESIGN §4: the fast path does not allocate in steady state. The data plane runs in this
//! process under a counting global allocator; after a warm-up, thousands of proxied, MOCK,
//! stage-cache-hit and Lambda-authorizer-cache-hit requests on keep-alive connections must
//! not allocate at all — with the per-core metrics recording and the aggregator merging, and
//! an access log and execution log lines (INFO, data trace on) formatted on the core and
//! written by the log writer.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[path = "support/exchange.rs"]
mod exchange;
use exchange::exchange;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const UPSTREAM_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nServer: origin\r\n\r\nhello world\n";

/// A keep-alive origin that answers every request head with a fixed response, using only a
/// stack buffer (so it does not allocate either).
fn origin() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                let mut len = 0;
                loop {
                    let Ok(n) = s.read(&mut buf[len..]) else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    len += n;
                    while let Some(end) = buf[..len].windows(4).position(|w| w == b"\r\n\r\n") {
                        if s.write_all(UPSTREAM_RESPONSE).is_err() {
                            return;
                        }
                        buf.copy_within(end + 4..len, 0);
                        len -= end + 4;
                    }
                }
            });
        }
    });
    port
}

/// A Lambda authorizer function endpoint that allows everything: reads one request (head and
/// `Content-Length` body), answers, closes. After the warm-up its result is cached, so it is
/// never called while allocations are counted.
fn authorizer_function() -> u16 {
    const ANSWER: &[u8] = br#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},"context":{"k":"v"}}"#;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut buf = [0u8; 16 * 1024];
            let mut len = 0;
            let complete = loop {
                let Ok(n) = s.read(&mut buf[len..]) else {
                    break false;
                };
                if n == 0 {
                    break false;
                }
                len += n;
                let Some(end) = buf[..len].windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
                let cl: usize = head
                    .lines()
                    .find(|l| l.len() > 15 && l[..15].eq_ignore_ascii_case("content-length:"))
                    .map_or(0, |l| l[15..].trim().parse().unwrap_or(0));
                if len >= end + 4 + cl {
                    break true;
                }
            };
            if complete {
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    ANSWER.len()
                );
                let _ = s.write_all(ANSWER);
            }
        }
    });
    port
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn steady_state_requests_do_not_allocate() {
    let origin_port = origin();
    let function_port = authorizer_function();
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("tollgate-zero-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let definition = serde_json::json!({
        "openapi": "3.0.1",
        "info": {"title": "zero-alloc", "version": "1"},
        "paths": {
            "/mock": {"get": {"x-amazon-apigateway-integration": {
                "type": "mock",
                "requestTemplates": {"application/json": "{\"statusCode\": 200}"},
                "responses": {"default": {"statusCode": "200", "responseTemplates": {"application/json": "{\"ok\":true}"}}}
            }}},
            "/authorized": {"get": {"security": [{"lambda": []}], "x-amazon-apigateway-integration": {
                "type": "mock",
                "requestTemplates": {"application/json": "{\"statusCode\": 200}"},
                "responses": {"default": {"statusCode": "200", "responseTemplates": {"application/json": "{\"ok\":true}"}}}
            }}},
            "/cached": {"get": {"x-amazon-apigateway-integration": {
                "type": "http_proxy", "httpMethod": "GET",
                "uri": format!("http://127.0.0.1:{origin_port}/cached")
            }}},
            "/{proxy+}": {"x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": {
                "type": "http_proxy", "httpMethod": "ANY",
                "uri": format!("http://127.0.0.1:{origin_port}/{{proxy}}")
            }}}
        },
        "components": {"securitySchemes": {"lambda": {
            "type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authtype": "custom",
            "x-amazon-apigateway-authorizer": {
                "type": "token", "authorizerResultTtlInSeconds": 3600,
                "authorizerUri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations"
            }
        }}}
    });
    let config = serde_json::json!({
        "server": {
            "listeners": [{"address": format!("127.0.0.1:{port}")}],
            "admin": null,
            "workers": 1,
            "defaultApi": {"apiId": "za", "stage": "test"},
            "executionLog": "exec.log",
            // Spans are rendered on the core; the exporter thread is not started here (its
            // POSTs allocate, and the counting allocator sees every thread), so the cores
            // drop and count them once their batches are full.
            "otlp": {"endpoint": "http://127.0.0.1:9"}
        },
        "apis": [{"id": "za", "protocolType": "REST", "definition": definition}],
        "functions": {"auth": {"url": format!("http://127.0.0.1:{function_port}/")}},
        "stages": [{
            "apiId": "za", "stageName": "test", "cacheClusterEnabled": true, "tracingEnabled": true,
            "accessLogSettings": {
                "destinationArn": "access.log",
                "format": "$context.identity.sourceIp - - [$context.requestTime] \"$context.httpMethod $context.resourcePath $context.protocol\" $context.status $context.responseLength $context.requestId {\"ua\":\"$context.identity.userAgent\",\"path\":\"$context.path\",\"lat\":$context.responseLatency,\"int\":\"$context.integrationLatency\",\"err\":\"$context.error.responseType\",\"epoch\":$context.requestTimeEpoch,\"xid\":\"$context.extendedRequestId\",\"trace\":\"$context.xrayTraceId\"}"
            },
            "methodSettings": {
                "*/*": {"cachingEnabled": false, "loggingLevel": "INFO", "dataTraceEnabled": true},
                "/cached/GET": {"cachingEnabled": true, "cacheTtlInSeconds": 3600}
            }
        }]
    });
    let path = dir.join("gateway.json");
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    let snapshot =
        tollgate::config::load(&path, &tollgate::config::FsLoader, 1).expect("config loads");
    let shared = Arc::new(tollgate::dataplane::Shared::new(snapshot, 1));
    tollgate::dataplane::start(Arc::clone(&shared), 1, None).expect("worker starts");
    // Metrics on: the core records every request and its ticker hands the counts to the
    // aggregator, which merges them while allocations are counted.
    let metrics = tollgate::control::Metrics::spawn(&shared);
    // Access and execution logging on: the core formats each line into its batch, the
    // writer appends.
    let _writer = tollgate::control::LogWriter::spawn(&shared);

    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let proxied = b"GET /items/42?x=1 HTTP/1.1\r\nHost: gw.test\r\nUser-Agent: zero-alloc\r\nAccept: */*\r\n\r\n";
    let post = b"POST /items HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"bcd\"}";
    let mock = b"GET /mock HTTP/1.1\r\nHost: gw.test\r\n\r\n";
    let cached = b"GET /cached HTTP/1.1\r\nHost: gw.test\r\n\r\n";
    // A Lambda authorizer's cached result (the function is called once, in the warm-up).
    let authorized =
        b"GET /authorized HTTP/1.1\r\nHost: gw.test\r\nAuthorization: Bearer abc\r\n\r\n";
    let mut buf = vec![0u8; 64 * 1024];
    for _ in 0..2_000 {
        assert_eq!(exchange(&mut client, proxied, &mut buf).0, 200);
        assert_eq!(exchange(&mut client, post, &mut buf).0, 200);
        assert_eq!(exchange(&mut client, mock, &mut buf).0, 200);
        assert_eq!(exchange(&mut client, cached, &mut buf).0, 200);
        assert_eq!(exchange(&mut client, authorized, &mut buf).0, 200);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    const N: u64 = 5_000;
    for _ in 0..N {
        assert_eq!(exchange(&mut client, proxied, &mut buf).0, 200);
        assert_eq!(exchange(&mut client, post, &mut buf).0, 200);
        assert_eq!(exchange(&mut client, mock, &mut buf).0, 200);
        assert_eq!(exchange(&mut client, cached, &mut buf).0, 200);
        assert_eq!(exchange(&mut client, authorized, &mut buf).0, 200);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!("{allocations} allocations over {} requests", 5 * N);
    assert_eq!(allocations, 0, "the steady-state request path allocated");
    let cache = shared
        .stage_cache("cache:za/test")
        .1
        .expect("the stage has a cache");
    assert!(
        cache.stats().hits >= N,
        "the cached route was not served from the cache: {:?}",
        cache.stats()
    );
    let counted = metrics.json(&shared)["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Count"].as_u64().unwrap())
        .sum::<u64>();
    assert!(
        counted >= 5 * N,
        "the metrics saw {counted} requests of {}",
        5 * (N + 2_000)
    );
    let logged = std::fs::read_to_string(dir.join("access.log")).unwrap_or_default();
    assert!(
        logged.lines().count() as u64 >= 5 * N,
        "{} access log lines",
        logged.lines().count()
    );
    assert!(
        logged.contains("\"GET /cached HTTP/1.1\" 200 12 "),
        "{}",
        &logged[..logged.len().min(2000)]
    );
    // Execution logs at INFO with data traces: one JSON line per request, same writer.
    let executed = std::fs::read_to_string(dir.join("exec.log")).unwrap_or_default();
    assert!(
        executed.lines().count() as u64 >= 5 * N,
        "{} execution log lines",
        executed.lines().count()
    );
    assert!(
        executed.contains("\"resourcePath\":\"/cached\""),
        "{}",
        &executed[..executed.len().min(2000)]
    );
    assert!(
        shared.spans_dropped.load(Ordering::Relaxed) >= 5 * N,
        "the spans were rendered and dropped"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
