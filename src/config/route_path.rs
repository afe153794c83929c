//! Resource path templates (`/pets/{petId}`, `/{proxy+}`) and route keys (`GET /pets`,
//! `$default`), checked against API Gateway's REST path rules (SPEC-NOTES §4).

use super::MAX_PATH_PARAMS;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

/// The methods an OpenAPI operation key can name, and the integration `httpMethod`s.
pub(crate) const METHODS: [&str; 7] = ["GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH"];

fn literal_byte_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b',' | b':' | b'@' | b'~' | b'=')
}

fn param_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Parse a resource path template. `/` is the root (no segments).
pub(crate) fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("a resource path starts with `/`: `{path}`"));
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    if rest.ends_with('/') {
        return Err(format!("a resource path does not end with `/`: `{path}`"));
    }
    let mut segments: Vec<Segment> = Vec::new();
    for seg in rest.split('/') {
        if seg.is_empty() {
            return Err(format!("empty path segment in `{path}`"));
        }
        if let Some(Segment::Greedy(g)) = segments.last() {
            return Err(format!(
                "Cannot create a child of a resource with a greedy path variable: {{{g}+}}"
            ));
        }
        let segment = if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            if !param_name_ok(name) {
                return Err(format!(
                    "invalid path parameter `{seg}`: names use `A-Za-z0-9_.-`"
                ));
            }
            let taken = segments
                .iter()
                .any(|s| matches!(s, Segment::Param(n) | Segment::Greedy(n) if n == name));
            if taken {
                return Err(format!(
                    "path parameter `{{{name}}}` appears twice in `{path}`"
                ));
            }
            if greedy {
                Segment::Greedy(name.to_string())
            } else {
                Segment::Param(name.to_string())
            }
        } else if seg.contains(['{', '}']) {
            return Err(format!("a path parameter must be a whole segment: `{seg}`"));
        } else if let Some(b) = seg.bytes().find(|b| !literal_byte_ok(*b)) {
            return Err(format!(
                "character `{}` is not allowed in a resource path: `{path}`",
                b as char
            ));
        } else {
            Segment::Literal(seg.to_string())
        };
        segments.push(segment);
    }
    let params = segments
        .iter()
        .filter(|s| !matches!(s, Segment::Literal(_)))
        .count();
    if params > MAX_PATH_PARAMS {
        return Err(format!(
            "{params} path parameters: at most {MAX_PATH_PARAMS} are supported"
        ));
    }
    Ok(segments)
}

/// Parameter names in capture order.
pub(crate) fn param_names(segments: &[Segment]) -> Vec<String> {
    segments
        .iter()
        .filter_map(|s| match s {
            Segment::Param(n) | Segment::Greedy(n) => Some(n.clone()),
            Segment::Literal(_) => None,
        })
        .collect()
}

/// A parsed route key: `None` method is ANY; `None` segments is `$default`.
pub(crate) type RouteKey = (Option<String>, Option<Vec<Segment>>);

/// `GET /pets/{id}`, `ANY /{proxy+}` or `$default`.
pub(crate) fn parse_route_key(key: &str) -> Result<RouteKey, String> {
    if key == "$default" {
        return Ok((None, None));
    }
    let Some((method, path)) = key.split_once(' ') else {
        return Err(format!(
            "route key `{key}` is not `METHOD /path` or `$default`"
        ));
    };
    let method = match method {
        "ANY" => None,
        m if METHODS.contains(&m) => Some(m.to_string()),
        m => return Err(format!("unknown method `{m}` in route key `{key}`")),
    };
    Ok((method, Some(parse_path(path)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        use Segment::*;
        assert_eq!(parse_path("/").unwrap(), vec![]);
        assert_eq!(
            parse_path("/pets/{petId}/x.y,z:@~=/{proxy+}").unwrap(),
            vec![
                Literal("pets".into()),
                Param("petId".into()),
                Literal("x.y,z:@~=".into()),
                Greedy("proxy".into())
            ]
        );
        let err = |p| parse_path(p).unwrap_err();
        assert_eq!(
            err("/{proxy+}/a"),
            "Cannot create a child of a resource with a greedy path variable: {proxy+}"
        );
        assert_eq!(err("pets"), "a resource path starts with `/`: `pets`");
        assert_eq!(
            err("/pets/"),
            "a resource path does not end with `/`: `/pets/`"
        );
        assert_eq!(err("/a//b"), "empty path segment in `/a//b`");
        assert_eq!(
            err("/a{b}"),
            "a path parameter must be a whole segment: `a{b}`"
        );
        assert_eq!(
            err("/a b"),
            "character ` ` is not allowed in a resource path: `/a b`"
        );
        assert_eq!(
            err("/{a}/{a}"),
            "path parameter `{a}` appears twice in `/{a}/{a}`"
        );
        assert_eq!(
            err("/{}"),
            "invalid path parameter `{}`: names use `A-Za-z0-9_.-`"
        );
        let many: String = (0..17).map(|i| format!("/{{p{i}}}")).collect();
        assert_eq!(
            parse_path(&many).unwrap_err(),
            "17 path parameters: at most 16 are supported"
        );
    }

    #[test]
    fn route_keys() {
        assert_eq!(parse_route_key("$default").unwrap(), (None, None));
        assert_eq!(parse_route_key("ANY /").unwrap(), (None, Some(vec![])));
        assert_eq!(parse_route_key("GET /a").unwrap().0.as_deref(), Some("GET"));
        assert!(parse_route_key("TRACE /a").is_err());
        assert!(parse_route_key("/a").is_err());
    }
}
