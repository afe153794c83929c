//! HTTP API parameter mapping (DG:http-api-parameter-mapping): keys
//! `overwrite|append|remove:header.NAME`, `overwrite|append|remove:querystring.NAME` and
//! `overwrite:path`; values are text mixed with `$request.header.NAME`,
//! `$request.querystring.NAME`, `$request.path.NAME`, `$request.path`, `$context.NAME` and
//! `$stageVariables.NAME` (braced `${...}` forms too).

use super::integration::{RouteCtx, SourceSpec, TargetSpec, environment_source, request_source};
use super::reader::{Errors, Node};
use super::responses::header_name_ok;

/// Headers HTTP APIs refuse to map (DG:http-api-parameter-mapping, "Reserved headers").
fn reserved_header(name: &str) -> bool {
    const EXACT: [&str; 17] = [
        "authorization",
        "connection",
        "content-encoding",
        "content-length",
        "content-location",
        "forwarded",
        "keep-alive",
        "origin",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
    ];
    let lower = name.to_ascii_lowercase();
    EXACT.contains(&lower.as_str())
        || lower == "via"
        || ["access-control-", "apigw-", "x-amz-", "x-amzn-"]
            .iter()
            .any(|p| lower.starts_with(p))
}

/// One `append:…`/`overwrite:…`/`remove:…` entry, or `None` after reporting why not.
pub(crate) fn mapping(
    key: &str,
    value: &str,
    vn: &Node<'_>,
    ctx: &RouteCtx<'_>,
    errors: &mut Errors,
) -> Option<(TargetSpec, SourceSpec)> {
    let (op, what) = key.split_once(':')?;
    let target = if what == "path" {
        if op != "overwrite" {
            vn.err(
                errors,
                format!("`{key}`: the path can only be overwritten (`overwrite:path`)"),
            );
            return None;
        }
        TargetSpec::OverwritePath
    } else if let Some(h) = what.strip_prefix("header.") {
        if !header_name_ok(h) {
            vn.err(errors, format!("invalid header name `{h}`"));
            return None;
        }
        if reserved_header(h) {
            vn.err(
                errors,
                format!("`{key}`: header `{h}` is reserved and cannot be mapped"),
            );
            return None;
        }
        match op {
            "overwrite" => TargetSpec::Header(h.to_string()),
            "append" => TargetSpec::AppendHeader(h.to_string()),
            _ => TargetSpec::RemoveHeader(h.to_string()),
        }
    } else if let Some(q) = what.strip_prefix("querystring.").filter(|q| !q.is_empty()) {
        match op {
            "overwrite" => TargetSpec::OverwriteQueryString(q.to_string()),
            "append" => TargetSpec::QueryString(q.to_string()),
            _ => TargetSpec::RemoveQueryString(q.to_string()),
        }
    } else {
        vn.err(
            errors,
            format!("`{key}`: expected `header.NAME`, `querystring.NAME` or `path` after `{op}:`"),
        );
        return None;
    };
    if op == "remove" {
        return Some((target, SourceSpec::Static(String::new())));
    }
    let source = value_template(value, vn, ctx, errors)?;
    Some((target, source))
}

/// Parse a mapping value into literal text and request values.
fn value_template(
    value: &str,
    vn: &Node<'_>,
    ctx: &RouteCtx<'_>,
    errors: &mut Errors,
) -> Option<SourceSpec> {
    if value.bytes().any(|b| b < 0x20 || b == 0x7f) {
        vn.err(errors, "mapping values cannot contain control characters");
        return None;
    }
    let mut parts: Vec<SourceSpec> = Vec::new();
    let mut literal = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        literal.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (expr, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => {
                    vn.err(errors, format!("unclosed `${{` in mapping value `{value}`"));
                    return None;
                }
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
                .unwrap_or(after.len());
            (after[..end].trim_end_matches('.'), end)
        };
        if expr.is_empty() {
            literal.push('$');
            rest = after;
            continue;
        }
        let source = variable(expr, vn, ctx, errors)?;
        if !literal.is_empty() {
            parts.push(SourceSpec::Static(std::mem::take(&mut literal)));
        }
        parts.push(source);
        let consumed = if after.starts_with('{') {
            consumed
        } else {
            expr.len()
        };
        rest = &after[consumed..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(SourceSpec::Static(literal));
    }
    Some(match parts.len() {
        0 => SourceSpec::Static(String::new()),
        1 => parts.pop()?,
        _ => SourceSpec::Concat(parts),
    })
}

fn variable(
    expr: &str,
    vn: &Node<'_>,
    ctx: &RouteCtx<'_>,
    errors: &mut Errors,
) -> Option<SourceSpec> {
    let shown = format!("${expr}");
    if expr == "request.path" {
        return Some(SourceSpec::RequestPath);
    }
    if let Some(rest) = expr.strip_prefix("request.")
        && let Some(found) = request_source(rest, &shown, vn, ctx, errors)
    {
        return found;
    }
    if let Some(found) = environment_source(expr, &shown, vn, errors) {
        return found;
    }
    vn.err(
        errors,
        format!("mapping value `{shown}` is not supported yet"),
    );
    None
}
