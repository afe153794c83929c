//! Where the load goes: the URL, resolved once at start, and the transport that connects to it.
//!
//! **TLS seam.** `Scheme` has only `Http` today; `https://` is refused by name. TLS (rustls)
//! arrives as a `Scheme::Https` variant and a `Transport` that wraps the `TcpStream` returned
//! by `connect` in a client session. The connection loop (`conn.rs`) is generic over the
//! stream (`AsyncReadRent + AsyncWriteRent + CancelableAsyncReadRent`), so nothing else
//! changes; the TLS stream must offer the cancelable read (or the open-loop pipelined wait
//! falls back to waiting for the next response before sending).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use monoio::net::TcpStream;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    /// `host[:port]` as written in the URL: the `Host` header.
    pub authority: String,
    /// Path and query, at least `/`.
    pub path: String,
    pub addr: SocketAddr,
}

impl Target {
    /// Parses `http://host[:port][/path]` and resolves the host once (blocking DNS, at start).
    pub fn parse(url: &str) -> Result<Target, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("`{url}`: expected http://host[:port]/path"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => return Err("https:// is not supported yet (TLS is a later step)".into()),
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
        let with_port = if has_port(authority) {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve `{authority}`: {e}"))?
            .next()
            .ok_or_else(|| format!("`{authority}` resolved to no address"))?;
        Ok(Target {
            scheme,
            authority: authority.to_owned(),
            path,
            addr,
        })
    }
}

/// Opens one connection within `timeout`. The place where TLS will wrap the stream.
pub async fn connect(target: &Target, timeout: Duration) -> io::Result<TcpStream> {
    match target.scheme {
        Scheme::Http => {
            let stream = monoio::time::timeout(timeout, TcpStream::connect(target.addr))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
            stream.set_nodelay(true)?;
            Ok(stream)
        }
    }
}

fn has_port(authority: &str) -> bool {
    match authority.rfind(':') {
        Some(i) => !authority[i..].contains(']'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("http://127.0.0.1:8080/pets?x=1").unwrap();
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.path, "/pets?x=1");
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        let t = Target::parse("http://[::1]").unwrap();
        assert_eq!((t.path.as_str(), t.addr.port()), ("/", 80));
        assert_eq!(Target::parse("http://127.0.0.1?q").unwrap().path, "/?q");
        assert!(Target::parse("https://x/").unwrap_err().contains("TLS"));
        assert!(Target::parse("localhost:80").is_err());
    }
}
