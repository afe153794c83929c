//! Lambda authorizers (SPEC-NOTES §1.4): security schemes whose
//! `x-amazon-apigateway-authorizer` is `type: token` or `type: request` (REST), or `type:
//! request` with `authorizerPayloadFormatVersion` (HTTP APIs), and where their functions run
//! (the gateway file's `functions`, `functions.rs`).
//!
//! ```yaml
//! myAuth:
//!   type: apiKey
//!   name: Authorization
//!   in: header
//!   x-amazon-apigateway-authtype: custom
//!   x-amazon-apigateway-authorizer:
//!     type: token
//!     authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations
//!     identitySource: method.request.header.Authorization
//!     identityValidationExpression: "Bearer .+"
//!     authorizerResultTtlInSeconds: 300
//! ```
//!
//! Validation reads the scheme here; `functions.rs` resolves each used authorizer's function
//! on every stage of its API (after the stages are known) and compiles
//! `Snapshot::lambda_authorizers` and `Snapshot::functions`.

use super::functions::{FnPiece, UriOf, function_of};
use super::integration::{SourceSpec, environment_source};
use super::reader::{Errors, Loc, Node, Obj};
use super::regex::Regex;
use super::{
    DEFAULT_AUTHORIZER_TTL_SECS, IdentitySource, LambdaKind, MAX_AUTHORIZER_TTL_SECS,
    PayloadVersion, Protocol,
};

/// One Lambda authorizer as written.
#[derive(Clone, Debug)]
pub(crate) struct LambdaScheme {
    pub name: String,
    pub kind: LambdaKind,
    /// The function ARN inside `authorizerUri`, with its `${stageVariables.x}`.
    pub function: Vec<FnPiece>,
    /// Where `authorizerUri` is: errors about the function point here.
    pub uri_loc: Loc,
    pub sources: Vec<IdentitySource>,
    /// `identityValidationExpression` (TOKEN), already checked to parse.
    pub validation: Option<String>,
    pub ttl_secs: u64,
}

/// `type` of an `x-amazon-apigateway-authorizer`, when it is a Lambda authorizer's.
pub(crate) fn is_lambda(node: &Node<'_>) -> bool {
    node.v
        .get("type")
        .and_then(|t| t.as_str())
        .is_some_and(|t| t.eq_ignore_ascii_case("token") || t.eq_ignore_ascii_case("request"))
}

/// Reads one Lambda authorizer; `None` after reporting what is wrong.
pub(crate) fn read_scheme(
    name: &str,
    node: &Node<'_>,
    protocol: Protocol,
    errors: &mut Errors,
) -> Option<LambdaScheme> {
    let before = errors.len();
    let mut obj = node.obj(errors)?;
    let ty = obj.req("type", errors)?;
    let token = ty.str(errors)?.eq_ignore_ascii_case("token");
    let payload = obj.opt_non_null("authorizerPayloadFormatVersion");
    let simple = obj.opt_non_null("enableSimpleResponses");
    let kind = match protocol {
        Protocol::Rest => {
            for n in [&payload, &simple].into_iter().flatten() {
                n.err(errors, "an HTTP API property: REST Lambda authorizers take the policy output (payload 1.0)");
            }
            Some(if token {
                LambdaKind::Token
            } else {
                LambdaKind::Request
            })
        }
        Protocol::Http => {
            if token {
                ty.err(
                    errors,
                    "HTTP APIs' Lambda authorizers are `type: request` (identity sources such as `$request.header.Authorization`)",
                );
            }
            http_kind(&obj, payload.as_ref(), simple.as_ref(), errors)
        }
    };
    let uri = obj.req("authorizerUri", errors);
    let function = uri
        .as_ref()
        .and_then(|n| function_of(n.str(errors)?, UriOf::Authorizer, &n.loc(), errors));
    let sources = read_sources(&mut obj, protocol, token, errors);
    let validation = obj
        .opt_non_null("identityValidationExpression")
        .and_then(|n| {
            let text = n.str(errors)?;
            if !token {
                n.err(
                    errors,
                    "`identityValidationExpression` applies to TOKEN authorizers only",
                );
                return None;
            }
            match Regex::parse(text) {
                Ok(_) => Some(text.to_string()),
                Err(e) => {
                    n.err(
                        errors,
                        format!("`{text}` is not a supported regular expression: {e}"),
                    );
                    None
                }
            }
        });
    let ttl = obj
        .opt_non_null("authorizerResultTtlInSeconds")
        .and_then(|n| n.u64_in(errors, 0, MAX_AUTHORIZER_TTL_SECS));
    let sources = sources?;
    // Without identity sources there is no cache key: caching is off unless asked for.
    let ttl_secs = match ttl {
        Some(t) if t > 0 && sources.is_empty() => {
            obj.node.err(
                errors,
                "`authorizerResultTtlInSeconds` above 0 needs an `identitySource`: it is the cache key",
            );
            0
        }
        Some(t) => t,
        None if sources.is_empty() => 0,
        None => DEFAULT_AUTHORIZER_TTL_SECS,
    };
    // `authorizerCredentials` (the role API Gateway invokes with) and `authorizerType` do not
    // matter to an HTTP endpoint.
    obj.accept("authorizerCredentials");
    obj.accept("authorizerType");
    obj.finish_ext(errors);
    let (function, kind) = (function?, kind?);
    (errors.len() == before).then(|| LambdaScheme {
        name: name.to_string(),
        kind,
        function,
        uri_loc: uri.map(|n| n.loc()).unwrap_or_else(|| node.loc()),
        sources,
        validation,
        ttl_secs,
    })
}

fn http_kind(
    obj: &Obj<'_>,
    payload: Option<&Node<'_>>,
    simple: Option<&Node<'_>>,
    errors: &mut Errors,
) -> Option<LambdaKind> {
    let Some(p) = payload else {
        obj.node.err(
            errors,
            "missing required property `authorizerPayloadFormatVersion` (\"1.0\" or \"2.0\")",
        );
        return None;
    };
    let payload = match p.str(errors)? {
        "1.0" => PayloadVersion::V1,
        "2.0" => PayloadVersion::V2,
        other => {
            p.err(
                errors,
                format!("payload format `{other}`: expected \"1.0\" or \"2.0\""),
            );
            return None;
        }
    };
    let simple = match simple.map(|n| (n.bool(errors), n)) {
        Some((Some(true), n)) if payload == PayloadVersion::V1 => {
            n.err(
                errors,
                "`enableSimpleResponses` needs `authorizerPayloadFormatVersion` \"2.0\"",
            );
            return None;
        }
        Some((v, _)) => v.unwrap_or(false),
        None => false,
    };
    Some(LambdaKind::Http { payload, simple })
}

/// `identitySource`: a comma-separated string (OpenAPI) or an array (HTTP APIs' own shape).
fn read_sources(
    obj: &mut Obj<'_>,
    protocol: Protocol,
    token: bool,
    errors: &mut Errors,
) -> Option<Vec<IdentitySource>> {
    let Some(n) = obj.opt_non_null("identitySource") else {
        // TOKEN's default (the console's): the Authorization header.
        return Some(if token {
            vec![IdentitySource::Header((*b"authorization").into())]
        } else {
            Vec::new()
        });
    };
    let texts: Vec<(String, Node<'_>)> = if n.v.is_array() {
        n.arr(errors)?
            .into_iter()
            .filter_map(|i| Some((i.str(errors)?.to_string(), i)))
            .collect()
    } else {
        let text = n.str(errors)?;
        text.split(',')
            .map(|t| (t.to_string(), n.clone()))
            .collect()
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (text, node) in texts {
        let text = text.trim();
        match parse_source(text, protocol, &node, errors) {
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    if token && ok && !matches!(out.as_slice(), [IdentitySource::Header(_)]) {
        n.err(
            errors,
            "a TOKEN authorizer takes one header: `method.request.header.NAME`",
        );
        return None;
    }
    ok.then_some(out)
}

/// One identity source: REST `method.request.header.X`, `method.request.querystring.X`,
/// `stageVariables.X`, `context.X`; HTTP APIs the same with `$request.`, `$stageVariables.`,
/// `$context.`.
fn parse_source(
    text: &str,
    protocol: Protocol,
    n: &Node<'_>,
    errors: &mut Errors,
) -> Option<IdentitySource> {
    let (request, expr) = match protocol {
        Protocol::Rest => (text.strip_prefix("method.request."), Some(text)),
        Protocol::Http => (
            text.strip_prefix("$request."),
            text.strip_prefix('$')
                .filter(|t| !t.starts_with("request.")),
        ),
    };
    let expected = match protocol {
        Protocol::Rest => {
            "`method.request.header.NAME`, `method.request.querystring.NAME`, `stageVariables.NAME` or `context.NAME`"
        }
        Protocol::Http => {
            "`$request.header.NAME`, `$request.querystring.NAME`, `$context.NAME` or `$stageVariables.NAME`"
        }
    };
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~!$'*+^`|".contains(&b))
    };
    if let Some(r) = request {
        let found = if let Some(h) = r.strip_prefix("header.") {
            name_ok(h).then(|| IdentitySource::Header(h.to_ascii_lowercase().into_bytes().into()))
        } else if let Some(q) = r.strip_prefix("querystring.") {
            name_ok(q).then(|| IdentitySource::QueryString(q.as_bytes().into()))
        } else {
            None
        };
        if found.is_none() {
            n.err(
                errors,
                format!("identity source `{text}`: expected {expected}"),
            );
        }
        return found;
    }
    if expr == Some("context.routeKey") {
        return Some(IdentitySource::RouteKey);
    }
    let found = expr.and_then(|e| environment_source(e, text, n, errors));
    match found {
        Some(Some(SourceSpec::StageVar(v))) => Some(IdentitySource::StageVariable(v.into())),
        Some(Some(SourceSpec::Context(c))) => Some(IdentitySource::Context(c)),
        // Reported by `environment_source`.
        Some(None) => None,
        _ => {
            n.err(
                errors,
                format!("identity source `{text}`: expected {expected}"),
            );
            None
        }
    }
}
