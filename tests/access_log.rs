//! Issue 7 "Access logs", black-box: stage `accessLogSettings` with the CLF, JSON, XML and
//! CSV formats of AWS's docs (the CLF ones read from the AWS docs' CloudFormation templates in
//! the fixtures) write lines with the request's real values; an unknown `$context` variable
//! is a validation error naming it; SIGUSR1 reopens files after a rename; a stuck writer
//! makes the cores drop lines and count them — never wait.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::config::{API, mock_method, openapi, stage};
use support::gateway::BIN;
use support::http::request;
use support::*;

const JSON_FORMAT: &str = r#"{ "requestId":"$context.requestId", "extendedRequestId":"$context.extendedRequestId", "ip": "$context.identity.sourceIp", "caller":"$context.identity.caller", "user":"$context.identity.user", "requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod", "resourcePath":"$context.resourcePath", "status":"$context.status", "protocol":"$context.protocol", "responseLength":"$context.responseLength" }"#;
const XML_FORMAT: &str = r#"<request id="$context.requestId"> <ip>$context.identity.sourceIp</ip> <caller>$context.identity.caller</caller> <user>$context.identity.user</user> <requestTime>$context.requestTime</requestTime> <httpMethod>$context.httpMethod</httpMethod> <resourcePath>$context.resourcePath</resourcePath> <status>$context.status</status> <protocol>$context.protocol</protocol> <responseLength>$context.responseLength</responseLength> </request>"#;
const CSV_FORMAT: &str = "$context.identity.sourceIp,$context.identity.caller,$context.identity.user,$context.requestTime,$context.httpMethod,$context.resourcePath,$context.protocol,$context.status,$context.responseLength,$context.requestId";
const MORE_FORMAT: &str = r#"$context.status $context.error.responseType "$context.error.message" $context.integrationLatency $context.integration.status "$context.identity.userAgent" $context.path $context.routeKey $context.stage $context.apiId $context.domainName $context.requestTimeEpoch $context.responseLatency $context.xrayTraceId $context.isCanaryRequest"#;
const BODY: &str = r#"{"item":"seven"}"#;

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("TOLLGATE_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
    }
}

/// The `Format:` of an access log setting in one of the AWS docs' CloudFormation templates.
fn doc_format(template: &str) -> String {
    let path = fixtures_dir()
        .join("cfn-templates/awsdocs-developer-guide")
        .join(template);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Format: "))
        .unwrap_or_else(|| panic!("no Format in {}", path.display()))
        .to_string()
}

fn logging_stage(name: &str, dest: &str, format: &str) -> Value {
    let mut s = stage(API, name);
    s["accessLogSettings"] = json!({ "destinationArn": dest, "format": format });
    s
}

fn config(stages: Vec<Value>) -> Value {
    let mut items = mock_method(200, &[], BODY);
    items["parameters"] =
        json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
    json!({
        "apis": [{ "id": API, "protocolType": "REST", "definition": openapi(json!({
            "/items/{id}": { "get": items }
        })) }],
        "stages": stages
    })
}

/// The lines of `file` once it has `n` (the writer appends within a tick or so).
fn lines(file: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {} of {n} lines: {text}",
            file.display(),
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn get(c: &mut Client, stage: &str, path: &str) -> Response {
    c.roundtrip(&request(
        "GET",
        &format!("/{stage}{path}"),
        &[
            ("Host", "tapi.execute-api.localhost"),
            ("User-Agent", "doc-agent/1.0 \"quoted\""),
        ],
        None,
    ))
}

/// `dd/Mon/yyyy:HH:mm:ss +0000`.
fn is_clf_time(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 26
        && b[2] == b'/'
        && b[6] == b'/'
        && b[11] == b':'
        && s.ends_with(" +0000")
        && [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
        .contains(&&s[3..6])
}

#[test]
fn aws_doc_formats_write_real_values() {
    let clf = doc_format("REST/stage.yaml");
    let http_clf = doc_format("HTTP/http-api-with-logging.yaml");
    let gw = Gateway::start(config(vec![
        logging_stage("clf", "logs/clf.log", &clf),
        logging_stage("httpclf", "logs/httpclf.log", &http_clf),
        logging_stage("json", "logs/json.log", JSON_FORMAT),
        logging_stage("xml", "logs/xml.log", XML_FORMAT),
        logging_stage("csv", "logs/csv.log", CSV_FORMAT),
        logging_stage("more", "logs/more.log", MORE_FORMAT),
    ]));
    std::fs::create_dir_all(gw.dir.file("logs")).unwrap();
    let mut c = gw.client();
    let mut ids = Vec::new();
    for s in ["clf", "httpclf", "json", "xml", "csv"] {
        let r = get(&mut c, s, "/items/7");
        assert_eq!(r.status, 200, "{s}: {}", r.body_str());
        assert_eq!(r.body_str(), BODY);
        ids.push(r.header("x-amzn-RequestId").unwrap());
    }
    // A client's trace is continued: its Root is the logged `xrayTraceId`.
    let r = c.roundtrip(&request(
        "GET",
        "/more/items/7",
        &[
            ("Host", "tapi.execute-api.localhost"),
            ("User-Agent", "doc-agent/1.0 \"quoted\""),
            (
                "X-Amzn-Trace-Id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            ),
        ],
        None,
    ));
    assert_eq!(r.status, 200);
    let refused = get(&mut c, "more", "/nope");
    assert_eq!(refused.status, 403);
    let len = BODY.len().to_string();

    // `$context.identity.sourceIp $context.identity.caller $context.identity.user
    // [$context.requestTime] "$context.httpMethod $context.resourcePath $context.protocol"
    // $context.status $context.responseLength $context.requestId`
    let line = &lines(&gw.dir.file("logs/clf.log"), 1)[0];
    let (head, rest) = line.split_once(" [").unwrap();
    assert_eq!(head, "127.0.0.1 - -", "{line}");
    let (time, rest) = rest.split_once("] ").unwrap();
    assert!(is_clf_time(time), "{time}");
    assert_eq!(
        rest,
        format!("\"GET /items/{{id}} HTTP/1.1\" 200 {len} {}", ids[0]),
        "{line}"
    );

    // The HTTP API docs' CLF: `... "$context.httpMethod $context.routeKey ..." ...
    // $context.integrationErrorMessage`.
    let line = &lines(&gw.dir.file("logs/httpclf.log"), 1)[0];
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(
        line.ends_with(&format!(
            "\"GET GET /items/{{id}} HTTP/1.1\" 200 {len} {} -",
            ids[1]
        )),
        "{line}"
    );

    let line = &lines(&gw.dir.file("logs/json.log"), 1)[0];
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["requestId"], ids[2].as_str());
    assert_eq!(v["extendedRequestId"].as_str().unwrap().len(), 16);
    assert_eq!(
        (v["ip"].as_str(), v["caller"].as_str(), v["user"].as_str()),
        (Some("127.0.0.1"), Some("-"), Some("-"))
    );
    assert!(is_clf_time(v["requestTime"].as_str().unwrap()), "{v}");
    assert_eq!(
        (v["httpMethod"].as_str(), v["resourcePath"].as_str()),
        (Some("GET"), Some("/items/{id}"))
    );
    assert_eq!(
        (v["status"].as_str(), v["protocol"].as_str()),
        (Some("200"), Some("HTTP/1.1"))
    );
    assert_eq!(v["responseLength"], len.as_str());

    let line = &lines(&gw.dir.file("logs/xml.log"), 1)[0];
    for part in [
        format!("<request id=\"{}\">", ids[3]),
        "<ip>127.0.0.1</ip>".into(),
        "<caller>-</caller>".into(),
        "<httpMethod>GET</httpMethod>".into(),
        "<resourcePath>/items/{id}</resourcePath>".into(),
        "<status>200</status>".into(),
        "<protocol>HTTP/1.1</protocol>".into(),
        format!("<responseLength>{len}</responseLength> </request>"),
    ] {
        assert!(line.contains(&part), "{part} in {line}");
    }

    let line = &lines(&gw.dir.file("logs/csv.log"), 1)[0];
    let f: Vec<&str> = line.split(',').collect();
    assert_eq!(f.len(), 10, "{line}");
    assert_eq!(&f[..3], ["127.0.0.1", "-", "-"]);
    assert!(is_clf_time(f[3]), "{line}");
    assert_eq!(
        &f[4..],
        [
            "GET",
            "/items/{id}",
            "HTTP/1.1",
            "200",
            len.as_str(),
            ids[4].as_str()
        ]
    );

    let more = lines(&gw.dir.file("logs/more.log"), 2);
    let f: Vec<&str> = more[0].split(' ').collect();
    // 200 - "-" - - "doc-agent/1.0 \"quoted\"" /more/items/7 GET /items/{id} more tapi
    // tapi.execute-api.localhost <epoch ms> <latency ms> <trace root> false
    assert_eq!(&f[..5], ["200", "-", "\"-\"", "-", "-"], "{}", more[0]);
    assert_eq!(
        &f[5..7],
        ["\"doc-agent/1.0", "\\\"quoted\\\"\""],
        "{}",
        more[0]
    );
    assert_eq!(
        &f[7..13],
        [
            "/more/items/7",
            "GET",
            "/items/{id}",
            "more",
            API,
            "tapi.execute-api.localhost"
        ]
    );
    let epoch_ms: u64 = f[13].parse().unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        epoch_ms <= now_ms && now_ms - epoch_ms < 60_000,
        "{epoch_ms} vs {now_ms}"
    );
    assert!(f[14].parse::<u64>().is_ok(), "{}", more[0]);
    assert_eq!(&f[15..], ["1-5759e988-bd862e3fe1be46a994272793", "false"]);
    // The refused request: its gateway response type and message.
    assert!(
        more[1]
            .starts_with("403 MISSING_AUTHENTICATION_TOKEN \"Missing Authentication Token\" - - "),
        "{}",
        more[1]
    );
    assert!(more[1].contains(" /more/nope - more tapi "), "{}", more[1]);
    // No client trace: a new one, made for the log (`1-{8 hex}-{24 hex}`).
    let root = more[1].split(' ').rev().nth(1).unwrap();
    assert!(
        root.len() == 35 && root.starts_with("1-") && root.as_bytes()[10] == b'-',
        "{}",
        more[1]
    );
}

#[test]
fn integration_latency_and_status_of_a_proxied_request() {
    let up = Upstream::start(Mode::static_(201, &[], b"made"));
    let mut cfg = config(vec![logging_stage(
        "prod",
        "proxy.log",
        "$context.status $context.integration.status $context.integrationLatency $context.responseLatency $context.responseLength",
    )]);
    cfg["apis"][0]["definition"]["paths"]["/up"] = json!({ "get": { "x-amazon-apigateway-integration": {
        "type": "http_proxy", "httpMethod": "GET", "uri": up.uri("/up") } } });
    let gw = Gateway::start(cfg);
    let mut c = gw.client();
    assert_eq!(get(&mut c, "prod", "/up").status, 201);
    let line = &lines(&gw.dir.file("proxy.log"), 1)[0];
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!((f[0], f[1], f[4]), ("201", "201", "4"), "{line}");
    let (integration, response): (u64, u64) = (f[2].parse().unwrap(), f[3].parse().unwrap());
    assert!(integration <= response, "{line}");
    // A chunked body: its length is counted as it is relayed.
    up.set_mode(Mode::raw(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        After::KeepAlive,
    ));
    let r = get(&mut c, "prod", "/up");
    assert_eq!((r.status, r.body_str().as_str()), (200, "hello world"));
    let line = &lines(&gw.dir.file("proxy.log"), 2)[1];
    assert!(
        line.starts_with("200 200 ") && line.ends_with(" 11"),
        "{line}"
    );
}

#[test]
fn unknown_variables_and_arn_destinations_are_validation_errors() {
    let dir = TempDir::new("accesslog");
    let mut cfg = config(vec![
        logging_stage(
            "a",
            "a.log",
            "$context.requestId $context.bogus $context.identity.nope",
        ),
        logging_stage(
            "b",
            "arn:aws:logs:us-east-1:123456789012:log-group:api",
            "$context.requestId",
        ),
    ]);
    cfg["server"] = json!({ "listeners": [{ "address": "127.0.0.1:18080" }] });
    let file = dir.write_atomic(
        "tollgate.json",
        serde_json::to_vec(&cfg).unwrap().as_slice(),
    );
    let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("$.stages[0].accessLogSettings.format"),
        "{text}"
    );
    assert!(
        text.contains("$context.bogus, $context.identity.nope"),
        "{text}"
    );
    assert!(
        text.contains("$.stages[1].accessLogSettings.destinationArn"),
        "{text}"
    );
}

#[test]
fn sigusr1_reopens_a_renamed_log_file() {
    let gw = Gateway::start(config(vec![logging_stage(
        "prod",
        "access.log",
        "$context.requestId $context.status",
    )]));
    let mut c = gw.client();
    let first = get(&mut c, "prod", "/items/1")
        .header("x-amzn-RequestId")
        .unwrap();
    let log = gw.dir.file("access.log");
    assert_eq!(lines(&log, 1), [format!("{first} 200")]);
    let rotated = gw.dir.file("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    gw.signal(libc::SIGUSR1);
    assert!(
        wait_until(Duration::from_secs(5), || gw
            .stderr()
            .contains("SIGUSR1: reopening")),
        "{}",
        gw.stderr()
    );
    let second = get(&mut c, "prod", "/items/2")
        .header("x-amzn-RequestId")
        .unwrap();
    assert_eq!(lines(&log, 1), [format!("{second} 200")]);
    assert_eq!(
        lines(&rotated, 1),
        [format!("{first} 200")],
        "nothing more went to the renamed file"
    );
}

#[test]
fn a_stuck_writer_makes_cores_drop_and_count_lines_without_waiting() {
    let dir = TempDir::new("fifo");
    let fifo = dir.file("stuck.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    // Nobody reads the FIFO: the writer blocks opening it, for good.
    let gw = Gateway::start_one_worker(config(vec![logging_stage(
        "prod",
        fifo.to_str().unwrap(),
        "$context.requestId $context.status $context.identity.userAgent",
    )]));
    let mut c = gw.client();
    let started = Instant::now();
    let mut sent = 0u64;
    while started.elapsed() < Duration::from_millis(2500) {
        assert_eq!(get(&mut c, "prod", "/items/1").status, 200);
        sent += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    let dropped = || {
        gw.admin("GET", "/metrics.json").json()["gateway"]["access_log_lines_dropped_total"]
            .as_u64()
            .unwrap()
    };
    assert!(
        wait_until(Duration::from_secs(3), || dropped() > 0),
        "no line counted as dropped after {sent} requests"
    );
    let d = dropped();
    assert!(d <= sent, "{d} dropped of {sent}");
    let text = gw.admin("GET", "/metrics").body_str();
    assert!(
        text.lines()
            .any(|l| l == format!("tollgate_access_log_lines_dropped_total {d}")),
        "{text}"
    );
    // The core kept answering at once all along.
    let t = Instant::now();
    assert_eq!(get(&mut c, "prod", "/items/1").status, 200);
    assert!(t.elapsed() < Duration::from_secs(1));
}

/// A Lambda authorizer function endpoint that allows everything with principal `user-1` and
/// context `{"tier": "gold", "n": 7}`; one request per connection.
fn authorizer_function() -> u16 {
    use std::io::{Read, Write};
    const ANSWER: &[u8] = br#"{"principalId":"user-1","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},"context":{"tier":"gold","n":7}}"#;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = s.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                let Some(end) = text.find("\r\n\r\n") else {
                    continue;
                };
                let cl: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + cl {
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        ANSWER.len()
                    );
                    let _ = s.write_all(ANSWER);
                    break;
                }
            }
        }
    });
    port
}

#[test]
fn authorizer_values_reach_the_line() {
    let function = authorizer_function();
    let mut cfg = config(vec![logging_stage(
        "prod",
        "auth.log",
        "$context.authorizer.principalId $context.authorizer.tier $context.authorizer.n $context.authorizer.missing $context.authorizer.claims.sub $context.status",
    )]);
    let doc = &mut cfg["apis"][0]["definition"];
    doc["paths"]["/items/{id}"]["get"]["security"] = json!([{ "lambda": [] }]);
    doc["components"] = json!({ "securitySchemes": { "lambda": {
        "type": "apiKey", "name": "Authorization", "in": "header",
        "x-amazon-apigateway-authtype": "custom",
        "x-amazon-apigateway-authorizer": {
            "type": "token", "authorizerResultTtlInSeconds": 300,
            "authorizerUri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations"
        }
    } } });
    cfg["functions"] = json!({ "auth": { "url": format!("http://127.0.0.1:{function}/") } });
    let gw = Gateway::start(cfg);
    let mut c = gw.client();
    let r = c.roundtrip(&request(
        "GET",
        "/prod/items/1",
        &[
            ("Host", "tapi.execute-api.localhost"),
            ("Authorization", "Bearer t"),
        ],
        None,
    ));
    assert_eq!(r.status, 200, "{}", r.body_str());
    // No token: refused before the authorizer runs; nothing to log from it.
    assert_eq!(get(&mut c, "prod", "/items/1").status, 401);
    let l = lines(&gw.dir.file("auth.log"), 2);
    assert_eq!(l, ["user-1 gold 7 - - 200", "- - - - - 401"]);
}

/// `bytes` with the first `@RAW@` replaced by `raw` (bytes a `&str` header cannot carry).
fn with_raw(bytes: Vec<u8>, raw: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(5)
        .position(|w| w == b"@RAW@")
        .expect("@RAW@ in the request");
    [&bytes[..at], raw, &bytes[at + 5..]].concat()
}

#[test]
fn client_bytes_keep_the_log_valid_utf8() {
    let gw = Gateway::start(config(vec![logging_stage(
        "json",
        "utf8.log",
        r#"{"ua":"$context.identity.userAgent","path":"$context.path","status":"$context.status"}"#,
    )]));
    let mut c = gw.client();
    let agents: [(&[u8], &str); 5] = [
        (b"bad \xff\xfe end", "bad \u{fffd}\u{fffd} end"),
        (
            "caf\u{e9} \u{4e2d}\u{6587} \u{1f600}".as_bytes(),
            "caf\u{e9} \u{4e2d}\u{6587} \u{1f600}",
        ),
        (b"cut \xe4\xb8", "cut \u{fffd}"),
        (
            b"surrogate \xed\xa0\x80!",
            "surrogate \u{fffd}\u{fffd}\u{fffd}!",
        ),
        (b"quote \" and \\", "quote \" and \\"),
    ];
    for (raw, _) in &agents {
        let req = request(
            "GET",
            "/json/items/7",
            &[
                ("Host", "tapi.execute-api.localhost"),
                ("User-Agent", "@RAW@"),
            ],
            None,
        );
        assert_eq!(c.roundtrip(&with_raw(req, raw)).status, 200);
    }
    let file = gw.dir.file("utf8.log");
    lines(&file, agents.len());
    let bytes = std::fs::read(&file).unwrap();
    let text = String::from_utf8(bytes).expect("the log file is valid UTF-8");
    let logged: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(logged.len(), agents.len(), "{text}");
    for (line, (_, want)) in logged.iter().zip(&agents) {
        assert_eq!(line["ua"], *want, "{text}");
        assert_eq!(
            (line["path"].as_str(), line["status"].as_str()),
            (Some("/json/items/7"), Some("200"))
        );
    }
}

#[test]
fn a_dozen_stages_with_their_own_files_lose_no_line() {
    const STAGES: usize = 12;
    const ROUNDS: usize = 5;
    let stages = (0..STAGES)
        .map(|i| {
            logging_stage(
                &format!("s{i}"),
                &format!("s{i}.log"),
                "$context.stage $context.requestId",
            )
        })
        .collect();
    // One core: every destination shares its batches.
    let gw = Gateway::start_one_worker(config(stages));
    let mut c = gw.client();
    let mut ids = vec![Vec::new(); STAGES];
    for _ in 0..ROUNDS {
        for (i, ids) in ids.iter_mut().enumerate() {
            let r = get(&mut c, &format!("s{i}"), "/items/1");
            assert_eq!(r.status, 200);
            ids.push(format!("s{i} {}", r.header("x-amzn-RequestId").unwrap()));
        }
    }
    for (i, want) in ids.iter().enumerate() {
        assert_eq!(&lines(&gw.dir.file(&format!("s{i}.log")), ROUNDS), want);
    }
    let dropped =
        gw.admin("GET", "/metrics.json").json()["gateway"]["access_log_lines_dropped_total"]
            .as_u64();
    assert_eq!(dropped, Some(0));
}
