//! The least a Lambda function can do over the Runtime API, the local-function counterpart of
//! `tools/upstream --mode fixed`: the lambda-local benchmark runs it beside
//! `tests/functions/lambda-echo` (the official `lambda_runtime` crate) so that tollgate's own
//! cost per invocation is measured with a function that costs next to nothing, as the plain
//! proxy's is with an origin that costs next to nothing.
//!
//! One keep-alive connection, blocking, the sequence every runtime client follows: `GET
//! /2018-06-01/runtime/invocation/next`, then `POST .../invocation/{id}/response` and wait for
//! its 202, then the next `GET`. Each invocation is answered with lambda-echo's proxy result:
//! 200, `hello world\n` as text, headers `x-request-id` (the invocation's id) and `x-path`
//! (the event's `path`, else `rawPath`). It does not parse the event beyond finding that field.
//! It exits when the Runtime API closes the connection (status 0) or answers what it cannot
//! read (an error).
//!
//! Blocking std sockets on purpose: a function process is not a tollgate core, and a runtime
//! client blocks between invocations anyway.
#![allow(clippy::disallowed_types)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

const NEXT: &[u8] = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n";
/// Longest response head it reads.
const MAX_HEAD: usize = 16 * 1024;

/// Serve invocations from the Runtime API at `api` (`host:port`) until it closes.
pub fn serve(api: &str) -> io::Result<()> {
    let stream = TcpStream::connect(api)?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(64 * 1024, stream.try_clone()?);
    let mut writer = stream;
    let mut event = Vec::new();
    let mut out = Vec::with_capacity(1024);
    loop {
        writer.write_all(NEXT)?;
        let Some(head) = read_response(&mut reader, &mut event)? else {
            return Ok(());
        };
        if head.status != 200 {
            return Err(bad(format!("invocation/next answered {}", head.status)));
        }
        let id = head
            .request_id
            .ok_or_else(|| bad("an invocation without Lambda-Runtime-Aws-Request-Id".into()))?;
        out.clear();
        respond(&mut out, &id, &event);
        writer.write_all(&out)?;
        match read_response(&mut reader, &mut event)? {
            Some(h) if h.status == 202 => {}
            Some(h) => {
                return Err(bad(format!(
                    "invocation/{id}/response answered {}",
                    h.status
                )));
            }
            None => return Ok(()),
        }
    }
}

/// The POST of the answer to invocation `id` for `event`.
pub fn respond(out: &mut Vec<u8>, id: &str, event: &[u8]) {
    let path = field(event, b"\"path\":\"")
        .or_else(|| field(event, b"\"rawPath\":\""))
        .unwrap_or(b"");
    let mut body = Vec::with_capacity(160 + id.len() + path.len());
    body.extend_from_slice(
        b"{\"statusCode\":200,\"headers\":{\"content-type\":\"text/plain\",\"x-request-id\":\"",
    );
    body.extend_from_slice(id.as_bytes());
    body.extend_from_slice(b"\",\"x-path\":\"");
    body.extend_from_slice(path);
    body.extend_from_slice(b"\"},\"body\":\"hello world\\n\"}");
    let _ = write!(
        out,
        "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: runtime\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    out.extend_from_slice(&body);
}

/// The JSON string after the first `key` (e.g. `"path":"`), escapes and all (kept as they
/// are: they go back into a JSON string).
fn field<'a>(event: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let start = event.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = &event[start..];
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            b'\\' => i += 2,
            b'"' => return Some(&rest[..i]),
            _ => i += 1,
        }
    }
    None
}

/// What it needs of a response head.
pub struct Head {
    pub status: u16,
    pub request_id: Option<String>,
}

/// Read one response (head, then a `Content-Length` body into `body`); `None` if the
/// connection closed before it began.
pub fn read_response<R: Read>(
    reader: &mut BufReader<R>,
    body: &mut Vec<u8>,
) -> io::Result<Option<Head>> {
    let mut line = String::new();
    let mut head_bytes = 0;
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let status = line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            bad(format!(
                "not an HTTP/1.1 status line: {:?}",
                line.trim_end()
            ))
        })?;
    let mut head = Head {
        status,
        request_id: None,
    };
    let mut length = 0usize;
    loop {
        head_bytes += line.len();
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(bad("the connection closed in a response head".into()));
        }
        if head_bytes + line.len() > MAX_HEAD {
            return Err(bad("a response head over 16 KiB".into()));
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            return Err(bad(format!("a header line without a colon: {l:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value
                .parse()
                .map_err(|_| bad(format!("Content-Length {value:?}")))?;
        } else if name.eq_ignore_ascii_case("lambda-runtime-aws-request-id") {
            head.request_id = Some(value.to_string());
        }
    }
    body.clear();
    body.resize(length, 0);
    reader.read_exact(body)?;
    Ok(Some(head))
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}
