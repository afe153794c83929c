//! Reason phrases (RFC 9110 §15) for the statuses tollgate writes; empty for others, which
//! the grammar allows.

pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// The status code of a serialized `HTTP/1.x NNN ...` response this process wrote (0 if
/// the first bytes are not one).
pub fn status_of(response: &[u8]) -> u16 {
    match response.get(9..12) {
        Some(&[a, b, c]) if [a, b, c].iter().all(u8::is_ascii_digit) => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::status_of;

    #[test]
    fn status_of_reads_the_status_line() {
        assert_eq!(status_of(b"HTTP/1.1 200 OK\r\n\r\n"), 200);
        assert_eq!(status_of(b"HTTP/1.1 504 \r\n"), 504);
        assert_eq!(status_of(b"HTTP/1.0 404 Not Found\r\n"), 404);
        assert_eq!(status_of(b"HTTP/1.1 2x0 OK\r\n"), 0);
        assert_eq!(status_of(b"HTTP/1.1 20"), 0);
        assert_eq!(status_of(b""), 0);
    }
}
