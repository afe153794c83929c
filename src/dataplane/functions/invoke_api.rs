//! The loopback Lambda Invoke API, served by worker 0 (for developers and tests, and for
//! workers that have no process of a function yet): `POST
//! /2015-03-31/functions/{name}/invocations`, run on worker 0's processes. Answers as
//! Lambda does:
//!
//! - 200 with the function's result;
//! - 200, `X-Amz-Function-Error: Unhandled` and the error JSON (`errorType`,
//!   `errorMessage`, ...) for a function error, an init error, a timeout
//!   (`Sandbox.Timedout`) or a process that exited mid-invocation (`Runtime.ExitError`);
//! - 429 `TooManyRequestsException` when the queue is full, or an invocation waited a whole
//!   `timeoutMs` for a busy process (for one still starting: `Sandbox.Timedout`);
//! - 404 `ResourceNotFoundException` for a function the current config has no `local`
//!   entry for; 413 `RequestTooLargeException` over 6 MB.
//!
//! At most [`MAX_CONNECTIONS`] connections; an idle one closes after [`IDLE`] (the workers'
//! pools retry a stale one once).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use base64::Engine;
use monoio::net::TcpListener;
use serde_json::json;

use super::super::worker::Worker;
use super::wire::{Conn, ReadError, segments};
use super::{MAX_PAYLOAD, Outcome, invoke};

const MAX_CONNECTIONS: usize = 1024;
const IDLE: Duration = Duration::from_secs(60);

pub(super) async fn accept(worker: Rc<Worker>, listener: TcpListener) {
    let open = Rc::new(Cell::new(0usize));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            monoio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if open.get() >= MAX_CONNECTIONS {
            continue;
        }
        open.set(open.get() + 1);
        let (open, worker) = (open.clone(), worker.clone());
        monoio::spawn(async move {
            serve(&worker, Conn::new(stream)).await;
            open.set(open.get() - 1);
        });
    }
}

async fn serve(worker: &Worker, mut conn: Conn) {
    loop {
        let req = match monoio::time::timeout(IDLE, conn.read_request(MAX_PAYLOAD)).await {
            Ok(Ok(r)) => r,
            Ok(Err(ReadError::Closed)) | Err(_) => return,
            Ok(Err(ReadError::TooLarge(_))) => {
                let body = json!({"Type": "User", "message": format!("Request must be smaller than {MAX_PAYLOAD} bytes for the InvokeFunction operation")});
                let _ = conn
                    .json(
                        413,
                        &[("x-amzn-ErrorType", "RequestTooLargeException")],
                        body.to_string().as_bytes(),
                        true,
                    )
                    .await;
                return;
            }
            Ok(Err(ReadError::Bad(status))) => {
                let _ = conn
                    .json(status, &[], br#"{"message":"malformed request"}"#, true)
                    .await;
                return;
            }
        };
        let name = match (req.method.as_str(), segments(&req.path).as_slice()) {
            ("POST", ["2015-03-31", "functions", name, "invocations"]) => percent_decode(name),
            _ => {
                let body = json!({"Type": "User", "message": "Unknown operation"});
                let written = conn
                    .json(
                        404,
                        &[("x-amzn-ErrorType", "UnknownOperationException")],
                        body.to_string().as_bytes(),
                        req.close,
                    )
                    .await;
                if written.is_err() || req.close {
                    return;
                }
                continue;
            }
        };
        let trace = req.header("x-amzn-trace-id").map(str::as_bytes);
        // Base64 on the Invoke API, the JSON itself on the Runtime API (as Lambda does).
        let context = req.header("x-amz-client-context").and_then(base64_text);
        let close = req.close;
        let outcome = match worker.functions.get(&name) {
            Some(f) => invoke(&f, &req.body, trace, context).await,
            None => Outcome::NotFound,
        };
        let written = answer(&mut conn, &name, outcome, close).await;
        if written.is_err() || close {
            return;
        }
        conn.recycle(req);
    }
}

async fn answer(conn: &mut Conn, name: &str, outcome: Outcome, close: bool) -> std::io::Result<()> {
    let version = ("X-Amz-Executed-Version", "$LATEST");
    let (status, headers, body): (u16, &[(&str, &str)], Vec<u8>) = match outcome {
        Outcome::Result(body) => (200, &[version], body),
        Outcome::FunctionError(body) => {
            (200, &[version, ("X-Amz-Function-Error", "Unhandled")], body)
        }
        Outcome::Throttled => (
            429,
            &[("x-amzn-ErrorType", "TooManyRequestsException")],
            throttled_body(),
        ),
        Outcome::NotFound => (
            404,
            &[("x-amzn-ErrorType", "ResourceNotFoundException")],
            not_found_body(name),
        ),
    };
    conn.json(status, headers, &body, close).await
}

/// 429's body.
pub fn throttled_body() -> Vec<u8> {
    json!({"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User", "message": "Rate Exceeded."}).to_string().into_bytes()
}

/// 404's body.
pub fn not_found_body(name: &str) -> Vec<u8> {
    json!({"Type": "User", "message": format!("Function not found: {name}")})
        .to_string()
        .into_bytes()
}

/// `%XX` escapes decoded (the worker encodes names with characters outside `[A-Za-z0-9-._~:]`).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 (padding optional) that decodes to UTF-8 text without control characters:
/// it becomes the `Lambda-Runtime-Client-Context` header line, which a CR or LF would split.
fn base64_text(s: &str) -> Option<String> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let text = String::from_utf8(engine.decode(s).ok()?).ok()?;
    (!text.chars().any(char::is_control)).then_some(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn client_context_is_decoded() {
        assert_eq!(
            super::base64_text("eyJjdXN0b20iOnsiYSI6MX19").as_deref(),
            Some(r#"{"custom":{"a":1}}"#)
        );
        assert_eq!(super::base64_text("aGk=").as_deref(), Some("hi"));
        assert_eq!(super::base64_text("not base64!"), None);
        // "a\r\nX-Injected: 1": a header line of its own once written out.
        assert_eq!(super::base64_text("YQ0KWC1JbmplY3RlZDogMQ=="), None);
    }

    #[test]
    fn names_are_percent_decoded() {
        assert_eq!(super::percent_decode("a%20b%3A"), "a b:");
        assert_eq!(super::percent_decode("100%"), "100%");
    }
}
