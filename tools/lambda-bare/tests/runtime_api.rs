//! lambda-bare against a scripted Runtime API: the request sequence of a runtime client, the
//! answers it posts, and how it ends.
#![allow(clippy::disallowed_types)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Read one request (head + Content-Length body) from the function.
fn request(r: &mut BufReader<TcpStream>) -> (String, String) {
    let mut first = String::new();
    r.read_line(&mut first).unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).unwrap();
    (
        first.trim_end().to_string(),
        String::from_utf8(body).unwrap(),
    )
}

fn invocation(w: &mut TcpStream, id: &str, event: &str) {
    write!(
        w,
        "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
         Lambda-Runtime-Deadline-Ms: 9999999999999\r\nContent-Length: {}\r\n\r\n{event}",
        event.len()
    )
    .unwrap();
}

/// lambda-bare with `AWS_LAMBDA_RUNTIME_API` naming a listener of ours, and its connection.
fn start() -> (Child, BufReader<TcpStream>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let api = listener.local_addr().unwrap().to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_lambda-bare"))
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let w = conn.try_clone().unwrap();
    (child, BufReader::new(conn), w)
}

#[test]
fn answers_each_invocation_then_exits_when_the_api_closes() {
    let (mut child, mut r, mut w) = start();
    let events = [
        (
            "id-1",
            r#"{"resource":"/{proxy+}","path":"/a/b","httpMethod":"GET","requestContext":{"path":"/prod/a/b"}}"#,
            "/a/b",
        ),
        (
            "id-2",
            r#"{"version":"2.0","rawPath":"/q\"x","requestContext":{}}"#,
            "/q\\\"x",
        ),
    ];
    for (id, event, path) in events {
        let (line, _) = request(&mut r);
        assert_eq!(line, "GET /2018-06-01/runtime/invocation/next HTTP/1.1");
        invocation(&mut w, id, event);
        let (line, body) = request(&mut r);
        assert_eq!(
            line,
            format!("POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1")
        );
        assert_eq!(
            body,
            format!(
                r#"{{"statusCode":200,"headers":{{"content-type":"text/plain","x-request-id":"{id}","x-path":"{path}"}},"body":"hello world\n"}}"#
            )
            .replace('\n', "\\n")
        );
        w.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n")
            .unwrap();
    }
    // The third poll finds the API gone: the function ends, successfully.
    let (line, _) = request(&mut r);
    assert_eq!(line, "GET /2018-06-01/runtime/invocation/next HTTP/1.1");
    drop((r, w));
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn an_unexpected_answer_is_an_error_naming_it() {
    let (child, mut r, mut w) = start();
    request(&mut r);
    w.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invocation/next answered 500"), "{err}");
}

#[test]
fn without_the_runtime_api_variable_it_says_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_lambda-bare"))
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AWS_LAMBDA_RUNTIME_API is not set"));
}
