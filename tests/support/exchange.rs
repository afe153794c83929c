//! One request/response exchange on a raw keep-alive connection that allocates nothing, for
//! the tests that count allocations (`zero_alloc`, `zero_alloc_lambda`): the test thread is
//! counted too. `zero_alloc` includes this file alone (`#[path]`), the others via `support`.
#![allow(clippy::disallowed_types)]

use std::io::{Read, Write};
use std::net::TcpStream;

/// Send `request` and read one response (Content-Length framed) into `buf`; returns the
/// status and the response's length.
pub fn exchange(client: &mut TcpStream, request: &[u8], buf: &mut [u8]) -> (u16, usize) {
    client.write_all(request).unwrap();
    let mut len = 0;
    loop {
        let n = client.read(&mut buf[len..]).unwrap();
        assert!(n > 0, "gateway closed the connection");
        len += n;
        let head = &buf[..len];
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = std::str::from_utf8(&head[..end]).unwrap();
            // No allocation here either.
            let cl: usize = text
                .lines()
                .find(|l| l.len() > 15 && l[..15].eq_ignore_ascii_case("content-length:"))
                .map(|l| l[15..].trim().parse().unwrap())
                .unwrap_or(0);
            if len >= end + 4 + cl {
                return (text[9..12].parse().unwrap(), len);
            }
        }
    }
}
