//! Where the load goes: the URL, resolved once at start. How to reach it (plain TCP or TLS)
//! is `transport.rs` and `tls/`.

use std::net::{SocketAddr, ToSocketAddrs};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    /// HTTP/1.1 over TLS (`tls/`).
    Https,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    /// `host[:port]` as written in the URL: the `Host` header.
    pub authority: String,
    /// The host alone, without port or IPv6 brackets: the default TLS server name.
    pub host: String,
    /// Path and query, at least `/`.
    pub path: String,
    pub addr: SocketAddr,
}

impl Target {
    /// Parses `http[s]://host[:port][/path]` and resolves the host once (blocking DNS, at
    /// start).
    pub fn parse(url: &str) -> Result<Target, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("`{url}`: expected http://host[:port]/path"))?;
        let (scheme, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "http" => (Scheme::Http, 80),
            "https" => (Scheme::Https, 443),
            other => return Err(format!("`{url}`: unsupported scheme `{other}`")),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_owned()),
            None => (rest, "/".to_owned()),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!(
                "`{url}`: expected a host (userinfo is not supported)"
            ));
        }
        let (host, with_port) = match port_at(authority) {
            Some(i) => (&authority[..i], authority.to_owned()),
            None => (authority, format!("{authority}:{default_port}")),
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve `{authority}`: {e}"))?
            .next()
            .ok_or_else(|| format!("`{authority}` resolved to no address"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Ok(Target {
            scheme,
            authority: authority.to_owned(),
            host: host.to_owned(),
            path,
            addr,
        })
    }
}

/// Where `:port` starts in `authority`, if it has one (`[::1]:80` yes, `[::1]` no).
fn port_at(authority: &str) -> Option<usize> {
    let i = authority.rfind(':')?;
    (!authority[i..].contains(']')).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("http://127.0.0.1:8080/pets?x=1").unwrap();
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.host, "127.0.0.1");
        assert_eq!(t.path, "/pets?x=1");
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        let t = Target::parse("http://[::1]").unwrap();
        assert_eq!((t.path.as_str(), t.addr.port()), ("/", 80));
        assert_eq!(t.host, "::1");
        assert_eq!(Target::parse("http://127.0.0.1?q").unwrap().path, "/?q");
        assert!(Target::parse("localhost:80").is_err());
        assert!(
            Target::parse("ftp://127.0.0.1/")
                .unwrap_err()
                .contains("ftp")
        );
    }

    #[test]
    fn https_defaults_to_port_443() {
        let t = Target::parse("HTTPS://[::1]/x").unwrap();
        assert_eq!((t.scheme, t.addr.port()), (Scheme::Https, 443));
        assert_eq!((t.authority.as_str(), t.host.as_str()), ("[::1]", "::1"));
        let t = Target::parse("https://127.0.0.1:8443").unwrap();
        assert_eq!((t.host.as_str(), t.addr.port()), ("127.0.0.1", 8443));
    }
}
