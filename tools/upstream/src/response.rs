//! Pre-rendered responses: built once at start, cloned (a reference count) per request.

use bytes::Bytes;

/// A fixed response and where its head ends (a `HEAD` request gets only the head).
#[derive(Clone, Debug)]
pub struct Fixed {
    pub full: Bytes,
    pub head_len: usize,
}

impl Fixed {
    pub fn render(status: u16, headers: &[String], body: &[u8]) -> Fixed {
        let mut out = head(status, headers, body.len());
        let head_len = out.len();
        out.extend_from_slice(body);
        Fixed {
            full: Bytes::from(out),
            head_len,
        }
    }

    /// The bytes for one request.
    #[inline]
    pub fn for_request(&self, head_method: bool) -> Bytes {
        if head_method {
            self.full.slice(..self.head_len)
        } else {
            self.full.clone()
        }
    }
}

/// `echo`: 200 with the request's exact bytes as the body; `connection` (what TLS saw) and
/// `headers` (`--header`) follow the request line header.
pub fn echo(connection: &[String], headers: &[String], request: &[u8], line_len: usize) -> Vec<u8> {
    let mut extra = Vec::with_capacity(connection.len() + headers.len() + 1);
    let line = String::from_utf8_lossy(&request[..line_len.min(request.len())]);
    extra.push(format!("x-echo-request-line: {line}"));
    extra.extend(connection.iter().cloned());
    extra.extend(headers.iter().cloned());
    let mut out = head(200, &extra, request.len());
    out.extend_from_slice(request);
    out
}

/// `early`: the 413 sent before the body is read; the connection closes after it.
pub fn too_large(headers: &[String]) -> Bytes {
    let mut extra = vec!["connection: close".to_string()];
    extra.extend(headers.iter().cloned());
    Bytes::from(head(413, &extra, 0))
}

fn head(status: u16, headers: &[String], content_length: usize) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status)).into_bytes();
    for h in headers {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {content_length}\r\n\r\n").as_bytes());
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_is_rendered_once_with_length_and_headers() {
        let f = Fixed::render(201, &["x-a: 1".into()], b"hi");
        assert_eq!(
            &f.full[..],
            b"HTTP/1.1 201 Created\r\nx-a: 1\r\ncontent-length: 2\r\n\r\nhi"
        );
        assert_eq!(&f.for_request(true)[..], &f.full[..f.full.len() - 2]);
    }

    #[test]
    fn echo_carries_the_request_line_and_bytes() {
        let req = b"GET /a HTTP/1.1\r\n\r\n";
        let r = echo(&[], &[], req, 15);
        let text = String::from_utf8(r).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nx-echo-request-line: GET /a HTTP/1.1\r\n"));
        assert!(text.ends_with("content-length: 19\r\n\r\nGET /a HTTP/1.1\r\n\r\n"));
    }
}
