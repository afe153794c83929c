//! The gateway file's `functions`: where the Lambda functions that authorizers name run.
//! Each is an HTTP endpoint that speaks the Lambda JSON (`url`: it takes the invocation event
//! as a POST body and answers with the function's result), or a local process on the Lambda
//! Runtime API (`local`, `functions/local.rs`), which tollgate's function host serves over the
//! same kind of endpoint.
//!
//! ```json
//! "functions": {
//!   "auth": {"url": "http://127.0.0.1:9001/invoke", "timeoutMs": 10000},
//!   "arn:aws:lambda:us-east-1:123456789012:function:other:live": {"url": "http://10.0.0.5/"},
//!   "hello": {"local": {"command": ["python3", "-m", "awslambdaric", "app.handler"]}}
//! }
//! ```
//!
//! A function is found by the full ARN an `authorizerUri` names, else by `name:alias`, else by
//! the bare name inside `arn:aws:lambda:{region}:{account}:function:{name}[:alias]`.
//!
//! Also here: resolving each Lambda authorizer's function per stage (`check_functions` at
//! validation, an error naming an unmapped function and the entry to add), and compiling the
//! authorizers and functions into the snapshot.

mod lambda_uri;
mod local;

pub(crate) use lambda_uri::{FnPiece, UriOf, check_stages, function_of, resolve};

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::cache::Fnv;
use super::gateway::{ApiEntry, Declared, StageEntry};
use super::reader::{Errors, Loc, Node};
use super::regex::Regex;
use super::uri::{Piece, instantiate, parse_template};
use super::{
    DEFAULT_FUNCTION_TIMEOUT, Function, FunctionIdx, FunctionTarget, LambdaAuthorizer, LambdaIdx,
    LocalFunction, MAX_FUNCTION_TIMEOUT_MS, Scheme, StageIdx, TokenPattern, UpstreamIdx,
};

/// One validated `functions` entry.
#[derive(Clone, Debug)]
pub(crate) struct FunctionSpec {
    pub name: String,
    /// As written (part of an authorizer's fingerprint); for `local`, a description of it.
    pub url: String,
    /// `local`: the host's `127.0.0.1:0` placeholder above, and how to start the process.
    pub local: Option<Arc<LocalFunction>>,
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    /// Path and query of the URL (`/` when it has none).
    pub path: String,
    pub timeout: Duration,
    pub loc: Loc,
    /// A `remote` entry (Lambda's Invoke API, `lambda_remote.rs`); `None` for a `url`.
    pub remote: Option<Box<super::lambda_remote::RemoteSpec>>,
}

pub(crate) fn validate_functions(
    node: &Node<'_>,
    base_dir: &Path,
    errors: &mut Errors,
) -> Vec<FunctionSpec> {
    let mut out = Vec::new();
    for (name, n) in node.entries(errors).unwrap_or_default() {
        let Some(mut obj) = n.obj(errors) else {
            continue;
        };
        let remote = obj.opt_non_null("remote");
        let local = obj.opt_non_null("local");
        let url = obj.opt_non_null("url");
        let given = [url.is_some(), local.is_some(), remote.is_some()];
        let (url, local, remote) = match given.iter().filter(|&&g| g).count() {
            1 => (url, local, remote),
            0 => {
                n.err(
                    errors,
                    "missing required property `url` (an HTTP endpoint), `local` (a process on the Lambda Runtime API) or `remote` (Lambda's Invoke API)",
                );
                (None, None, None)
            }
            _ => {
                n.err(errors, "give one of `url`, `local` or `remote`");
                (None, None, None)
            }
        };
        let timeout = obj
            .opt_non_null("timeoutMs")
            .and_then(|t| t.u64_in(errors, 1, MAX_FUNCTION_TIMEOUT_MS))
            .map_or(DEFAULT_FUNCTION_TIMEOUT, Duration::from_millis);
        obj.finish(errors);
        if name.is_empty() {
            n.err(errors, "a function needs a name (or ARN) as its key");
            continue;
        }
        if let Some(r) = remote {
            out.extend(super::lambda_remote::validate_remote(
                name, &r, timeout, errors,
            ));
            continue;
        }
        if let Some(l) = local {
            if let Some(process) = local::validate_local(&l, base_dir, errors) {
                out.push(FunctionSpec {
                    name: name.to_string(),
                    url: format!("local:{process:?}"),
                    local: Some(Arc::new(process)),
                    scheme: Scheme::Http,
                    host: "127.0.0.1".into(),
                    port: 0,
                    path: local::invoke_path(name),
                    timeout,
                    loc: l.loc(),
                    remote: None,
                });
            }
            continue;
        }
        let Some(url_node) = url else { continue };
        let Some(text) = url_node.str(errors) else {
            continue;
        };
        let parsed = match plain_url(text) {
            Ok(p) => p,
            Err(PlainUrlError::Invalid(e)) => {
                url_node.err(errors, format!("`{text}`: {e}"));
                continue;
            }
            Err(PlainUrlError::Params) => {
                url_node.err(
                    errors,
                    format!("`{text}`: a function URL has no `{{parameters}}`"),
                );
                continue;
            }
        };
        let (mut path, query) = (parsed.path, parsed.query);
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
            local: None,
            scheme: parsed.scheme,
            host: parsed.host,
            port: parsed.port,
            path,
            timeout,
            loc: url_node.loc(),
            remote: None,
        });
    }
    out
}

/// A `url` or `endpoint` as written: no `{parameters}` or stage variables.
pub(crate) struct PlainUrl {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    /// The path as written (may be empty or lack its leading `/`).
    pub path: String,
    /// The query without `?` (empty when there is none).
    pub query: String,
}

pub(crate) enum PlainUrlError {
    /// Not a URL: the reason.
    Invalid(String),
    /// It has `{parameters}`.
    Params,
}

/// Parses a function's URL (`url`, a `remote` entry's `endpoint`).
pub(crate) fn plain_url(text: &str) -> Result<PlainUrl, PlainUrlError> {
    let parsed = parse_template(text)
        .map_err(|e| e.join("; "))
        .and_then(|pieces| instantiate(&pieces, &|_| None))
        .map_err(PlainUrlError::Invalid)?;
    let lit = |pieces: &[Piece]| -> Option<String> {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Lit(s) => Some(s.as_str()),
                Piece::Param(_) => None,
            })
            .collect()
    };
    let (Some(path), Some(query)) = (lit(&parsed.path), lit(&parsed.query)) else {
        return Err(PlainUrlError::Params);
    };
    Ok(PlainUrl {
        scheme: parsed.scheme,
        host: parsed.host,
        port: parsed.port,
        path,
        query,
    })
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

/// Every Lambda authorizer a route uses must reach a function on every stage of its API:
/// an unmapped one is an error naming it, with the entry to add.
pub(crate) fn check_functions(
    declared: &Declared,
    stages: &[StageEntry],
    functions: &[FunctionSpec],
    errors: &mut Errors,
) {
    for (a, (id, _, entry)) in declared.apis.iter().enumerate() {
        let Some(entry) = entry else { continue };
        for (i, scheme) in entry.def.lambda_authorizers.iter().enumerate() {
            if !entry.def.routes.iter().any(|r| r.lambda == Some(i)) {
                continue;
            }
            check_stages(
                &scheme.function,
                UriOf::Authorizer,
                &scheme.uri_loc,
                stages.iter().filter(|s| s.api == a),
                functions,
                errors,
                |stage| {
                    format!(
                        "Lambda authorizer `{}` of API `{id}` (stage `{stage}`)",
                        scheme.name
                    )
                },
            );
        }
    }
}

/// `arn:aws:lambda:{region}:{account}:function:{name}[:alias]` → `name` (and the alias).
pub(crate) fn short_name(arn: &str) -> Option<&str> {
    let a = super::arn::Arn::parse(arn).filter(|a| a.service == "lambda")?;
    let rest = a.resource.strip_prefix("function:")?;
    let name = rest.split(':').next().unwrap_or(rest);
    (!name.is_empty()).then_some(name)
}

/// What compile builds: the authorizers, the functions, and per API the index of its first
/// authorizer.
pub(crate) struct Compiled {
    pub authorizers: Vec<LambdaAuthorizer>,
    pub functions: Vec<Function>,
    pub first: Vec<u32>,
}

/// `intern` makes (or finds) the upstream of a function's URL; `function_host` is the
/// upstream of every `local` function (present when there is one).
pub(crate) fn compile_lambda(
    apis: &[ApiEntry],
    stages: &[StageEntry],
    specs: &[FunctionSpec],
    function_host: Option<UpstreamIdx>,
    intern: &mut dyn FnMut(Scheme, &str, u16) -> Result<UpstreamIdx, String>,
    errors: &mut Errors,
) -> Compiled {
    let mut functions = Vec::with_capacity(specs.len());
    for f in specs {
        let interned = match (&f.local, function_host) {
            (Some(_), Some(host)) => Ok(host),
            _ => intern(f.scheme, &f.host, f.port),
        };
        let upstream = match interned {
            Ok(u) => u,
            Err(e) => {
                f.loc.err(errors, e);
                UpstreamIdx(0)
            }
        };
        let path = f.path.as_bytes().into();
        let target = match (&f.remote, &f.local) {
            (Some(r), _) => super::lambda_remote::target(r, upstream),
            (None, Some(process)) => FunctionTarget::Local {
                upstream,
                path,
                process: process.clone(),
            },
            (None, None) => FunctionTarget::Http { upstream, path },
        };
        functions.push(Function {
            name: f.name.clone(),
            target,
            timeout: f.timeout,
        });
    }
    let mut authorizers = Vec::new();
    let mut first = Vec::with_capacity(apis.len());
    for (a, entry) in apis.iter().enumerate() {
        first.push(authorizers.len() as u32);
        for scheme in &entry.def.lambda_authorizers {
            let mut h = Fnv::new();
            h.str(&format!(
                "{:?}|{:?}|{:?}|{}",
                scheme.kind, scheme.sources, scheme.validation, scheme.ttl_secs
            ));
            let mut per_stage = Vec::new();
            for (s, stage) in stages.iter().enumerate().filter(|(_, s)| s.api == a) {
                if let Some(f) = resolve(&scheme.function, &stage.variables, specs) {
                    let spec = &specs[f];
                    h.u64(s as u64);
                    h.str(&spec.url);
                    h.u64(spec.timeout.as_millis() as u64);
                    per_stage.push((StageIdx(s as u32), FunctionIdx(f as u32)));
                }
            }
            let validation = scheme.validation.as_ref().and_then(|text| {
                Some(TokenPattern {
                    regex: Regex::parse(text).ok()?,
                    source: text.clone(),
                })
            });
            authorizers.push(LambdaAuthorizer {
                identity: format!("lambda:{}/{}", entry.id, scheme.name).into(),
                fingerprint: h.finish(),
                name: scheme.name.clone(),
                kind: scheme.kind,
                sources: scheme.sources.clone().into(),
                validation,
                ttl: Duration::from_secs(scheme.ttl_secs),
                functions: per_stage.into(),
            });
        }
    }
    Compiled {
        authorizers,
        functions,
        first,
    }
}

/// A route's Lambda authorizer, with the API's starting at `first`.
pub(crate) fn route_lambda(first: u32, spec: Option<usize>) -> Option<LambdaIdx> {
    spec.map(|i| LambdaIdx(first + i as u32))
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn the_function_name_inside_a_lambda_arn() {
        assert_eq!(
            short_name("arn:aws:lambda:us-east-1:123456789012:function:auth"),
            Some("auth")
        );
        assert_eq!(
            short_name("arn:aws:lambda:us-east-1:123456789012:function:auth:live"),
            Some("auth")
        );
        assert_eq!(short_name("auth"), None);
        assert_eq!(short_name("arn:aws:lambda:us-east-1:1:layer:x"), None);
    }
}
