//! A small strict HTTP/1.1 parser: the harness's reference for what the gateway sends
//! (RELIABILITY G2) and receives. CRLF only, no bare CR/LF, no obs-fold, token field names,
//! no CTL in values (obs-text allowed), `1*DIGIT` Content-Length, chunked per RFC 9112 §7.1.

/// Header fields in wire order, names as sent, values as raw bytes (OWS-trimmed).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Fields(pub Vec<(String, Vec<u8>)>);

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.0
                    .iter()
                    .map(|(n, v)| format!("{n}: {}", crate::support::show(v))),
            )
            .finish()
    }
}

impl Fields {
    /// The first value of `name` (case-insensitive), lossily decoded.
    pub fn get(&self, name: &str) -> Option<String> {
        self.get_raw(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
    pub fn get_raw(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
    pub fn get_all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }
    pub fn count(&self, name: &str) -> usize {
        self.0
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }
    pub fn has(&self, name: &str) -> bool {
        self.count(name) > 0
    }
    /// Names exactly as they appeared on the wire.
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(n, _)| n.as_str()).collect()
    }
    /// Whether a comma-separated field (e.g. `Connection`) lists `token` (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .iter()
            .flat_map(|v| {
                v.split(',')
                    .map(|t| t.trim().to_ascii_lowercase())
                    .collect::<Vec<_>>()
            })
            .any(|t| t == token.to_ascii_lowercase())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(u64),
    Chunked,
    /// Response only: delimited by the connection closing.
    Close,
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Fields,
    /// Decoded body (chunk framing removed).
    pub body: Vec<u8>,
    pub framing: BodyFraming,
    /// Some chunk carried an extension (`;...`).
    pub chunk_extensions: bool,
    pub trailers: Fields,
    /// Raw head bytes, request line to the blank line inclusive.
    pub head: Vec<u8>,
    /// The whole message as received.
    pub raw: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name)
    }
    /// `METHOD target HTTP/x.y`
    pub fn request_line(&self) -> String {
        format!("{} {} {}", self.method, self.target, self.version)
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }
}

#[derive(Clone, Debug)]
pub struct Response {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Fields,
    pub body: Vec<u8>,
    pub framing: BodyFraming,
    pub trailers: Fields,
    pub head: Vec<u8>,
    pub raw: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name)
    }
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The body parsed as JSON (panics with the body shown when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): {}",
                crate::support::show(&self.body)
            )
        })
    }
    /// `{"message": "..."}` → the message.
    pub fn message(&self) -> Option<String> {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str().map(str::to_owned)))
    }
    pub fn closes(&self) -> bool {
        self.headers.has_token("connection", "close")
    }
    /// The request an `echo` upstream reflected in this response's body.
    pub fn echoed(&self) -> Request {
        match parse_request(&self.body) {
            Ok(Some((r, _))) => r,
            other => panic!(
                "response body is not one echoed request ({other:?}): {}",
                crate::support::show(&self.body)
            ),
        }
    }
}

pub type ParseResult<T> = Result<Option<(T, usize)>, String>;

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_field_vchar(b: u8) -> bool {
    b == b'\t' || (0x20..=0x7e).contains(&b) || b >= 0x80
}

/// Head lines (without CRLF) and the head length.
type HeadLines<'a> = (Vec<&'a [u8]>, usize);

/// Split the head into lines (without CRLF). `Ok(None)` = incomplete.
fn head_lines(buf: &[u8]) -> Result<Option<HeadLines<'_>>, String> {
    let mut lines = Vec::new();
    let mut pos = 0;
    loop {
        let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let end = pos + nl;
        if end == pos || buf[end - 1] != b'\r' {
            return Err(format!("bare LF in head at byte {end}"));
        }
        let line = &buf[pos..end - 1];
        if line.contains(&b'\r') {
            return Err("bare CR in head".into());
        }
        pos = end + 1;
        if line.is_empty() {
            if lines.is_empty() {
                return Err("empty line before the start line".into());
            }
            return Ok(Some((lines, pos)));
        }
        lines.push(line);
    }
}

fn parse_fields(lines: &[&[u8]]) -> Result<Fields, String> {
    let mut out = Vec::new();
    for line in lines {
        if line[0] == b' ' || line[0] == b'\t' {
            return Err("obs-fold (line starting with whitespace)".into());
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or("field line without ':'")?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(format!(
                "invalid field name {:?}",
                String::from_utf8_lossy(name)
            ));
        }
        let mut v = &line[colon + 1..];
        while let [b' ' | b'\t', rest @ ..] = v {
            v = rest;
        }
        while let [rest @ .., b' ' | b'\t'] = v {
            v = rest;
        }
        if let Some(bad) = v.iter().find(|&&b| !is_field_vchar(b)) {
            return Err(format!("invalid byte 0x{bad:02x} in field value"));
        }
        out.push((String::from_utf8(name.to_vec()).unwrap(), v.to_vec()));
    }
    Ok(Fields(out))
}

/// `1*DIGIT`, no sign, no overflow.
pub fn parse_content_length(v: &[u8]) -> Result<u64, String> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "invalid Content-Length {:?}",
            String::from_utf8_lossy(v)
        ));
    }
    let mut n: u64 = 0;
    for &d in v {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or("Content-Length overflow")?;
    }
    Ok(n)
}

/// Decoded body, whether any chunk had an extension, trailers, bytes consumed.
pub struct Chunked {
    pub body: Vec<u8>,
    pub extensions: bool,
    pub trailers: Fields,
    pub consumed: usize,
}

/// Decode a chunked body from the start of `buf`. `Ok(None)` = incomplete.
pub fn parse_chunked(buf: &[u8]) -> Result<Option<Chunked>, String> {
    let mut pos = 0;
    let mut body = Vec::new();
    let mut extensions = false;
    loop {
        let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let end = pos + nl;
        if end == pos || buf[end - 1] != b'\r' {
            return Err("chunk-size line not ended by CRLF".into());
        }
        let line = &buf[pos..end - 1];
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 {
            return Err(format!(
                "chunk-size without digits: {:?}",
                String::from_utf8_lossy(line)
            ));
        }
        let rest = &line[digits..];
        if !rest.is_empty() {
            if rest[0] != b';' && rest[0] != b' ' && rest[0] != b'\t' {
                return Err(format!(
                    "junk after chunk-size: {:?}",
                    String::from_utf8_lossy(line)
                ));
            }
            if rest.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
                return Err("control byte in chunk extension".into());
            }
            if !rest.contains(&b';') {
                return Err("whitespace after chunk-size without extension".into());
            }
            extensions = true;
        }
        let mut size: u64 = 0;
        for &d in &line[..digits] {
            let v = (d as char).to_digit(16).unwrap() as u64;
            size = size
                .checked_mul(16)
                .and_then(|s| s.checked_add(v))
                .ok_or("chunk-size overflow")?;
        }
        pos = end + 1;
        if size == 0 {
            // trailer section
            let mut lines = Vec::new();
            loop {
                let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
                    return Ok(None);
                };
                let end = pos + nl;
                if end == pos || buf[end - 1] != b'\r' {
                    return Err("trailer line not ended by CRLF".into());
                }
                let line = &buf[pos..end - 1];
                pos = end + 1;
                if line.is_empty() {
                    break;
                }
                if line.contains(&b'\r') {
                    return Err("bare CR in trailer".into());
                }
                lines.push(line);
            }
            let trailers = parse_fields(&lines)?;
            return Ok(Some(Chunked {
                body,
                extensions,
                trailers,
                consumed: pos,
            }));
        }
        let size = usize::try_from(size).map_err(|_| "chunk too large")?;
        if buf.len() < pos + size + 2 {
            if buf.len() >= pos + size && buf.len() > pos + size && buf[pos + size] != b'\r' {
                return Err("chunk data not followed by CRLF".into());
            }
            return Ok(None);
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        if &buf[pos + size..pos + size + 2] != b"\r\n" {
            return Err("chunk data not followed by CRLF".into());
        }
        pos += size + 2;
    }
}

/// Parse one request from the start of `buf`. `Ok(None)` = incomplete.
pub fn parse_request(buf: &[u8]) -> ParseResult<Request> {
    let Some((lines, head_len)) = head_lines(buf)? else {
        return Ok(None);
    };
    let line = lines[0];
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    if parts.len() != 3 {
        return Err(format!(
            "request line is not 3 SP-separated parts: {:?}",
            String::from_utf8_lossy(line)
        ));
    }
    let (method, target, version) = (parts[0], parts[1], parts[2]);
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err("invalid method".into());
    }
    if target.is_empty() || target.iter().any(|&b| b <= 0x20 || b >= 0x7f) {
        return Err("invalid request-target".into());
    }
    if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        return Err(format!(
            "invalid version {:?}",
            String::from_utf8_lossy(version)
        ));
    }
    let headers = parse_fields(&lines[1..])?;
    let te = headers.get_all("transfer-encoding");
    let cl = headers.get_all("content-length");
    let framing = if !te.is_empty() {
        if !cl.is_empty() {
            return Err("both Content-Length and Transfer-Encoding".into());
        }
        if te.len() != 1 || !te[0].eq_ignore_ascii_case("chunked") {
            return Err(format!(
                "Transfer-Encoding other than one `chunked`: {te:?}"
            ));
        }
        BodyFraming::Chunked
    } else if !cl.is_empty() {
        if cl.len() != 1 {
            return Err(format!("{} Content-Length fields", cl.len()));
        }
        BodyFraming::Length(parse_content_length(cl[0].as_bytes())?)
    } else {
        BodyFraming::None
    };
    let mut req = Request {
        method: String::from_utf8_lossy(method).into_owned(),
        target: String::from_utf8_lossy(target).into_owned(),
        version: String::from_utf8_lossy(version).into_owned(),
        headers,
        body: Vec::new(),
        framing,
        chunk_extensions: false,
        trailers: Fields::default(),
        head: buf[..head_len].to_vec(),
        raw: Vec::new(),
    };
    let end = match framing {
        BodyFraming::None | BodyFraming::Close => head_len,
        BodyFraming::Length(n) => {
            let n = n as usize;
            if buf.len() < head_len + n {
                return Ok(None);
            }
            req.body = buf[head_len..head_len + n].to_vec();
            head_len + n
        }
        BodyFraming::Chunked => {
            let Some(c) = parse_chunked(&buf[head_len..])? else {
                return Ok(None);
            };
            req.body = c.body;
            req.chunk_extensions = c.extensions;
            req.trailers = c.trailers;
            head_len + c.consumed
        }
    };
    req.raw = buf[..end].to_vec();
    Ok(Some((req, end)))
}

/// Parse one response from the start of `buf`. `request_was_head` = no body. `eof` = the peer
/// closed after `buf` (completes a close-delimited body). `Ok(None)` = incomplete.
pub fn parse_response(buf: &[u8], request_was_head: bool, eof: bool) -> ParseResult<Response> {
    let Some((lines, head_len)) = head_lines(buf)? else {
        return Ok(None);
    };
    let line = lines[0];
    let s = std::str::from_utf8(line).map_err(|_| "status line not UTF-8")?;
    let mut it = s.splitn(3, ' ');
    let version = it.next().unwrap_or("");
    let code = it.next().unwrap_or("");
    let reason = it.next().unwrap_or("");
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(format!("invalid status line {s:?}"));
    }
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid status code in {s:?}"));
    }
    let status: u16 = code.parse().unwrap();
    let headers = parse_fields(&lines[1..])?;
    let te = headers.get_all("transfer-encoding");
    let cl = headers.get_all("content-length");
    let bodiless =
        request_was_head || (100..200).contains(&status) || status == 204 || status == 304;
    let framing = if bodiless {
        BodyFraming::None
    } else if !te.is_empty() {
        if !cl.is_empty() {
            return Err("response has both Content-Length and Transfer-Encoding".into());
        }
        if te.len() != 1 || !te[0].eq_ignore_ascii_case("chunked") {
            return Err(format!(
                "response Transfer-Encoding other than one `chunked`: {te:?}"
            ));
        }
        BodyFraming::Chunked
    } else if !cl.is_empty() {
        if cl.len() != 1 {
            return Err(format!("response has {} Content-Length fields", cl.len()));
        }
        BodyFraming::Length(parse_content_length(cl[0].as_bytes())?)
    } else {
        BodyFraming::Close
    };
    let mut resp = Response {
        version: version.to_owned(),
        status,
        reason: reason.to_owned(),
        headers,
        body: Vec::new(),
        framing,
        trailers: Fields::default(),
        head: buf[..head_len].to_vec(),
        raw: Vec::new(),
    };
    let end = match framing {
        BodyFraming::None => head_len,
        BodyFraming::Length(n) => {
            let n = n as usize;
            if buf.len() < head_len + n {
                return Ok(None);
            }
            resp.body = buf[head_len..head_len + n].to_vec();
            head_len + n
        }
        BodyFraming::Chunked => {
            let Some(c) = parse_chunked(&buf[head_len..])? else {
                return Ok(None);
            };
            resp.body = c.body;
            resp.trailers = c.trailers;
            head_len + c.consumed
        }
        BodyFraming::Close => {
            if !eof {
                return Ok(None);
            }
            resp.body = buf[head_len..].to_vec();
            buf.len()
        }
    };
    resp.raw = buf[..end].to_vec();
    Ok(Some((resp, end)))
}

/// Build a request: `METHOD target HTTP/1.1`, `Host: gw.test` first unless `headers` has a
/// Host, the given headers, `Content-Length` when `body` is `Some` and no framing header was
/// given.
pub fn request(
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\n").into_bytes();
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        out.extend_from_slice(b"Host: gw.test\r\n");
    }
    for (n, v) in headers {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    let framed = headers.iter().any(|(n, _)| {
        n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding")
    });
    if let Some(b) = body {
        if !framed {
            out.extend_from_slice(format!("Content-Length: {}\r\n", b.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(b);
    } else {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `GET target HTTP/1.1` with `Host: gw.test`.
pub fn get(target: &str) -> Vec<u8> {
    request("GET", target, &[], None)
}

/// Encode `body` as chunks of at most `chunk` bytes plus the last chunk.
pub fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(chunk.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A serialized response with `Content-Length`.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status)).into_bytes();
    for (n, v) in headers {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    if !headers.iter().any(|(n, _)| {
        n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding")
    }) {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
