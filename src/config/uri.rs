//! HTTP_PROXY integration URIs: `http://host:port/path/{param}?q=${stageVariables.x}`, or
//! `https://` (TLS to the backend, default port 443).
//! Validation splits the text into pieces; compile substitutes a stage's variables and parses
//! the result into a fixed upstream (scheme, host, port) and path/query pieces.

use super::Scheme;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TplPiece {
    Lit(String),
    /// `${stageVariables.name}`
    Stage(String),
    /// `{name}`
    Param(String),
}

/// After stage variables are substituted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(String),
    Param(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParsedUri {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    pub path: Vec<Piece>,
    pub query: Vec<Piece>,
}

pub(crate) fn stage_var_name_ok(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Split a URI template into pieces; every problem is reported.
pub(crate) fn parse_template(raw: &str) -> Result<Vec<TplPiece>, Vec<String>> {
    let mut pieces = Vec::new();
    let mut errors = Vec::new();
    let mut lit = String::new();
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        let close = |s: &str| s.find('}');
        if let Some(after) = rest.strip_prefix("${") {
            let Some(end) = close(after) else {
                errors.push("unclosed `${` in the integration URI".to_string());
                break;
            };
            let inner = &after[..end];
            match inner.strip_prefix("stageVariables.") {
                Some(name) if stage_var_name_ok(name) => {
                    pieces.push(TplPiece::Lit(std::mem::take(&mut lit)));
                    pieces.push(TplPiece::Stage(name.to_string()));
                }
                _ => errors.push(format!(
                    "unresolved placeholder `${{{inner}}}` in the integration URI: substitute it before loading (tollgate resolves only `${{stageVariables.name}}`)"
                )),
            }
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('{') {
            let Some(end) = close(after) else {
                errors.push("unclosed `{` in the integration URI".to_string());
                break;
            };
            let name = &after[..end];
            if let Some(base) = name.strip_suffix('+') {
                errors.push(format!(
                    "write `{{{base}}}` without `+` in the integration URI"
                ));
            } else if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            {
                errors.push(format!(
                    "invalid placeholder `{{{name}}}` in the integration URI"
                ));
            } else {
                pieces.push(TplPiece::Lit(std::mem::take(&mut lit)));
                pieces.push(TplPiece::Param(name.to_string()));
            }
            rest = &after[end + 1..];
        } else if c == '}' {
            errors.push("unmatched `}` in the integration URI".to_string());
            rest = &rest[1..];
        } else {
            lit.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    pieces.push(TplPiece::Lit(lit));
    pieces.retain(|p| !matches!(p, TplPiece::Lit(s) if s.is_empty()));
    if errors.is_empty() {
        Ok(pieces)
    } else {
        Err(errors)
    }
}

/// Substitute stage variables (`lookup` returns `None` for an undefined one, which is
/// reported by name) and parse the result.
pub(crate) fn instantiate(
    pieces: &[TplPiece],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ParsedUri, String> {
    let mut merged: Vec<Piece> = Vec::new();
    for p in pieces {
        let text = match p {
            TplPiece::Lit(s) => s.clone(),
            TplPiece::Stage(name) => lookup(name).ok_or_else(|| {
                format!("stage variable `{name}` used in the integration URI is not defined")
            })?,
            TplPiece::Param(name) => {
                merged.push(Piece::Param(name.clone()));
                continue;
            }
        };
        match merged.last_mut() {
            Some(Piece::Lit(s)) => s.push_str(&text),
            _ => merged.push(Piece::Lit(text)),
        }
    }
    parse_uri(merged)
}

/// The scheme and the text after `http://` or `https://`, or why the scheme is not supported.
pub(crate) fn split_scheme(head: &str) -> Result<(Scheme, &str), String> {
    let lower = head.get(..8).unwrap_or(head).to_ascii_lowercase();
    if lower.starts_with("http://") {
        Ok((Scheme::Http, &head[7..]))
    } else if lower.starts_with("https://") {
        Ok((Scheme::Https, &head[8..]))
    } else {
        Err("the integration URI must be an absolute `http://` or `https://` URL".into())
    }
}

/// Whether a URI template can be `https://` on some stage: its literal head says so, or the
/// scheme comes from a stage variable (conservatively yes).
pub(crate) fn may_be_https(pieces: &[TplPiece]) -> bool {
    const HTTPS: &[u8] = b"https://";
    match pieces.first() {
        Some(TplPiece::Lit(s)) => {
            let n = s.len().min(HTTPS.len());
            s.as_bytes()[..n].eq_ignore_ascii_case(&HTTPS[..n])
        }
        Some(TplPiece::Stage(_)) => true,
        _ => false,
    }
}

fn parse_uri(mut pieces: Vec<Piece>) -> Result<ParsedUri, String> {
    let head = match pieces.first() {
        Some(Piece::Lit(s)) => s.clone(),
        _ => String::new(),
    };
    let (scheme, after_scheme) = split_scheme(&head)?;
    let default_port = match scheme {
        Scheme::Http => 80,
        Scheme::Https => 443,
    };
    let Some(end) = after_scheme.find(['/', '?', '#']) else {
        if pieces.len() > 1 {
            return Err("a `{placeholder}` in the host of the integration URI is not supported: the host must be fixed per stage".into());
        }
        let (host, port) = authority(after_scheme, default_port)?;
        return Ok(ParsedUri {
            scheme,
            host,
            port,
            path: vec![Piece::Lit("/".into())],
            query: vec![],
        });
    };
    let (host, port) = authority(&after_scheme[..end], default_port)?;
    pieces[0] = Piece::Lit(after_scheme[end..].to_string());
    let mut path = Vec::new();
    let mut query = Vec::new();
    let mut in_query = false;
    for piece in pieces {
        match piece {
            Piece::Param(n) => {
                (if in_query { &mut query } else { &mut path }).push(Piece::Param(n))
            }
            Piece::Lit(s) => {
                if let Some(b) = s.bytes().find(|&b| !uri_byte_ok(b)) {
                    return Err(format!(
                        "character {:?} is not allowed in the integration URI",
                        b as char
                    ));
                }
                if s.contains('#') {
                    return Err("the integration URI cannot have a `#fragment`".into());
                }
                match (in_query, s.split_once('?')) {
                    (false, Some((p, q))) => {
                        in_query = true;
                        path.push(Piece::Lit(p.to_string()));
                        query.push(Piece::Lit(q.to_string()));
                    }
                    (false, None) => path.push(Piece::Lit(s)),
                    (true, _) => query.push(Piece::Lit(s)),
                }
            }
        }
    }
    path.retain(|p| !matches!(p, Piece::Lit(s) if s.is_empty()));
    query.retain(|p| !matches!(p, Piece::Lit(s) if s.is_empty()));
    if path.is_empty() {
        path.push(Piece::Lit("/".into()));
    }
    Ok(ParsedUri {
        scheme,
        host,
        port,
        path,
        query,
    })
}

fn uri_byte_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

/// `host`, `host:port`, `[v6]:port` → (lower-case host without brackets, port).
fn authority(a: &str, default_port: u16) -> Result<(String, u16), String> {
    if a.contains('@') {
        return Err("user information (`user@`) in the integration URI is not supported".into());
    }
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let Some((h, after)) = rest.split_once(']') else {
            return Err(format!("bad host `{a}`"));
        };
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("bad IPv6 address `{h}`"));
        }
        (h, after.strip_prefix(':'))
    } else {
        match a.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        }
    };
    if host.is_empty() {
        return Err("the integration URI has no host".into());
    }
    if !a.starts_with('[')
        && !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err(format!("bad host `{host}` in the integration URI"));
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("bad port `{p}` in the integration URI")),
        },
    };
    Ok((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Piece {
        Piece::Lit(s.into())
    }

    fn vars(name: &str) -> Option<String> {
        match name {
            "host" => Some("Backend.local:9000".into()),
            "path" => Some("v2/x".into()),
            _ => None,
        }
    }

    #[test]
    fn templates() {
        let t = parse_template(
            "http://${stageVariables.host}/pets/{id}?a=${stageVariables.path}&b={q}",
        )
        .unwrap();
        assert_eq!(
            t,
            vec![
                TplPiece::Lit("http://".into()),
                TplPiece::Stage("host".into()),
                TplPiece::Lit("/pets/".into()),
                TplPiece::Param("id".into()),
                TplPiece::Lit("?a=".into()),
                TplPiece::Stage("path".into()),
                TplPiece::Lit("&b=".into()),
                TplPiece::Param("q".into()),
            ]
        );
        let u = instantiate(&t, &vars).unwrap();
        assert_eq!(u.host, "backend.local");
        assert_eq!(u.port, 9000);
        assert_eq!(u.path, vec![lit("/pets/"), Piece::Param("id".into())]);
        assert_eq!(u.query, vec![lit("a=v2/x&b="), Piece::Param("q".into())]);
        let err = parse_template("http://${backend_url}/a/{proxy+}").unwrap_err();
        assert!(err[0].contains("`${backend_url}`"), "{err:?}");
        assert!(err[1].contains("`{proxy}` without `+`"), "{err:?}");
    }

    #[test]
    fn https_is_possible() {
        let may = |s: &str| may_be_https(&parse_template(s).unwrap());
        assert!(may("HTTPS://a/b"));
        assert!(may("${stageVariables.url}/x"));
        assert!(may("http${stageVariables.s}://a/"));
        assert!(!may("http://a/"));
        assert!(!may("http://${stageVariables.host}/x"));
        assert!(!may("ftp://a/"));
    }

    #[test]
    fn parsing() {
        let p = |s: &str| instantiate(&parse_template(s).unwrap(), &vars);
        let u = p("http://127.0.0.1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.clone()),
            ("127.0.0.1", 80, vec![lit("/")])
        );
        let u = p("HTTP://[::1]:8080?x=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path, u.query),
            ("::1", 8080, vec![lit("/")], vec![lit("x=1")])
        );
        let u = p("HTTPS://Api.Example.com/v1?x=1").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port, u.path, u.query),
            (
                Scheme::Https,
                "api.example.com",
                443,
                vec![lit("/v1")],
                vec![lit("x=1")]
            )
        );
        let u = p("https://[::1]:8443").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port),
            (Scheme::Https, "::1", 8443)
        );
        assert_eq!(p("http://a/").unwrap().scheme, Scheme::Http);
        assert!(p("ftp://a/").unwrap_err().contains("absolute `http://`"));
        assert!(
            p("http://{h}/x")
                .unwrap_err()
                .contains("host must be fixed")
        );
        assert!(p("http://a{h}").unwrap_err().contains("host must be fixed"));
        assert!(p("http://u@a/").unwrap_err().contains("user information"));
        assert!(p("http://a:0/").unwrap_err().contains("bad port"));
        assert!(p("http://a/b c").unwrap_err().contains("not allowed"));
        assert!(p("http://a/b#c").unwrap_err().contains("fragment"));
        assert!(p("http:///x").unwrap_err().contains("no host"));
        assert_eq!(
            p("http://${stageVariables.nope}/").unwrap_err(),
            "stage variable `nope` used in the integration URI is not defined"
        );
    }
}
