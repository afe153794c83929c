//! Request templates, rendered to bytes once at start; the send loop only copies them.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::cli::{Options, Workload};
use crate::target::Target;

/// One pre-rendered request: head and body, ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub bytes: Box<[u8]>,
    /// A response to HEAD has no body whatever its framing headers say.
    pub head: bool,
}

/// One line of a `--requests FILE`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(default)]
    method: Option<String>,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
}

/// Builds every template the run will use, round-robin, from the options.
pub fn templates(opts: &Options, target: &Target) -> Result<Vec<Template>, String> {
    match &opts.workload {
        Workload::Single { method, body } => Ok(vec![render(
            method,
            &target.path,
            &target.authority,
            opts.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            body,
        )?]),
        Workload::Templates(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--requests {}: {e}", path.display()))?;
            parse_lines(&text, opts, target).map_err(|e| format!("{}:{e}", path.display()))
        }
    }
}

/// JSON lines; blank lines and lines starting with `#` are skipped. Errors carry the line number.
pub fn parse_lines(text: &str, opts: &Options, target: &Target) -> Result<Vec<Template>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let line: Line = serde_json::from_str(raw).map_err(|e| format!("{}: {e}", i + 1))?;
        let headers = opts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .chain(line.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let body = line.body.as_deref().unwrap_or("").as_bytes();
        let method = line.method.as_deref().unwrap_or("GET");
        out.push(
            render(method, &line.path, &target.authority, headers, body)
                .map_err(|e| format!("{}: {e}", i + 1))?,
        );
    }
    if out.is_empty() {
        return Err(" no request templates".into());
    }
    Ok(out)
}

/// `METHOD path HTTP/1.1`, `Host` unless given, the headers, `Content-Length` when there is a
/// body or the method usually has one, then the body.
pub fn render<'a>(
    method: &str,
    path: &str,
    authority: &str,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    body: &[u8],
) -> Result<Template, String> {
    if method.is_empty()
        || !method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(format!("`{method}` is not a method"));
    }
    if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!(
            "path `{path}` must start with / and contain no spaces"
        ));
    }
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    let mut has_host = false;
    for (name, value) in headers {
        if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == b':' || b >= 0x7f) {
            return Err(format!("`{name}` is not a header name"));
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(format!("header `{name}`: value contains a line break"));
        }
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            return Err(format!("`{name}` is set from the body; do not give it"));
        }
        has_host |= name.eq_ignore_ascii_case("host");
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !has_host {
        head.insert_str(
            head.find("\r\n").map_or(0, |i| i + 2),
            &format!("Host: {authority}\r\n"),
        );
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    Ok(Template {
        bytes: bytes.into_boxed_slice(),
        head: method.eq_ignore_ascii_case("HEAD"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &Template) -> &str {
        std::str::from_utf8(&t.bytes).unwrap()
    }

    #[test]
    fn renders_host_headers_and_length() {
        let t = render(
            "POST",
            "/a?b=1",
            "h:1",
            [("X-Api-Key", "k")].into_iter(),
            b"hi",
        )
        .unwrap();
        assert_eq!(
            text(&t),
            "POST /a?b=1 HTTP/1.1\r\nHost: h:1\r\nX-Api-Key: k\r\nContent-Length: 2\r\n\r\nhi"
        );
        let t = render("HEAD", "/", "h", [("host", "other")].into_iter(), b"").unwrap();
        assert_eq!(text(&t), "HEAD / HTTP/1.1\r\nhost: other\r\n\r\n");
        assert!(t.head);
    }

    #[test]
    fn refuses_what_would_break_framing() {
        let none = std::iter::empty();
        assert!(render("GET", "/a b", "h", none, b"").is_err());
        assert!(render("G T", "/", "h", std::iter::empty(), b"").is_err());
        assert!(render("GET", "/", "h", [("Content-Length", "5")].into_iter(), b"").is_err());
        assert!(render("GET", "/", "h", [("X", "a\r\nY: b")].into_iter(), b"").is_err());
    }
}
