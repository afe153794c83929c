//! The gateway file's `functions`: where the Lambda functions that authorizers name run.
//! Today each is an HTTP endpoint that speaks the Lambda JSON: it takes the invocation event
//! as a POST body and answers with the function's result.
//!
//! ```json
//! "functions": {
//!   "auth": {"url": "http://127.0.0.1:9001/invoke", "timeoutMs": 10000},
//!   "arn:aws:lambda:us-east-1:123456789012:function:other:live": {"url": "http://10.0.0.5/"}
//! }
//! ```
//!
//! A function is found by the full ARN an `authorizerUri` names, else by `name:alias`, else by
//! the bare name inside `arn:aws:lambda:{region}:{account}:function:{name}[:alias]`.

use std::time::Duration;

use super::lambda_authorizers::short_name;
use super::reader::{Errors, Loc, Node};
use super::uri::{Piece, instantiate, parse_template};
use super::{DEFAULT_FUNCTION_TIMEOUT, MAX_FUNCTION_TIMEOUT_MS, Scheme};

/// One validated `functions` entry.
#[derive(Clone, Debug)]
pub(crate) struct FunctionSpec {
    pub name: String,
    /// As written (part of an authorizer's fingerprint).
    pub url: String,
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    /// Path and query of the URL (`/` when it has none).
    pub path: String,
    pub timeout: Duration,
    pub loc: Loc,
}

pub(crate) fn validate_functions(node: &Node<'_>, errors: &mut Errors) -> Vec<FunctionSpec> {
    let mut out = Vec::new();
    for (name, n) in node.entries(errors).unwrap_or_default() {
        let Some(mut obj) = n.obj(errors) else {
            continue;
        };
        let url = obj.req("url", errors);
        let timeout = obj
            .opt_non_null("timeoutMs")
            .and_then(|t| t.u64_in(errors, 1, MAX_FUNCTION_TIMEOUT_MS))
            .map_or(DEFAULT_FUNCTION_TIMEOUT, Duration::from_millis);
        obj.finish(errors);
        if name.is_empty() {
            n.err(errors, "a function needs a name (or ARN) as its key");
            continue;
        }
        let Some(url_node) = url else { continue };
        let Some(text) = url_node.str(errors) else {
            continue;
        };
        let parsed = parse_template(text)
            .map_err(|e| e.join("; "))
            .and_then(|pieces| instantiate(&pieces, &|_| None));
        let parsed = match parsed {
            Ok(p) => p,
            Err(e) => {
                url_node.err(errors, format!("`{text}`: {e}"));
                continue;
            }
        };
        let text_of = |pieces: &[Piece]| -> Option<String> {
            pieces
                .iter()
                .map(|p| match p {
                    Piece::Lit(s) => Some(s.as_str()),
                    Piece::Param(_) => None,
                })
                .collect()
        };
        let (Some(mut path), Some(query)) = (text_of(&parsed.path), text_of(&parsed.query)) else {
            url_node.err(
                errors,
                format!("`{text}`: a function URL has no `{{parameters}}`"),
            );
            continue;
        };
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query);
        }
        out.push(FunctionSpec {
            name: name.to_string(),
            url: text.to_string(),
            scheme: parsed.scheme,
            host: parsed.host,
            port: parsed.port,
            path,
            timeout,
            loc: url_node.loc(),
        });
    }
    out
}

/// The entry for the function an `authorizerUri` names (see the module docs).
pub(crate) fn find_function(functions: &[FunctionSpec], arn: &str) -> Option<usize> {
    let exact = |key: &str| functions.iter().position(|f| f.name == key);
    exact(arn).or_else(|| {
        let name = short_name(arn)?;
        let qualified = arn.rsplit_once(":function:").map(|(_, q)| q);
        qualified.and_then(exact).or_else(|| exact(name))
    })
}
