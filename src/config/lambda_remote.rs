//! Remote functions (issue 9): a `functions` entry of kind `remote` is invoked over Lambda's
//! Invoke API, `POST /2015-03-31/functions/{name}/invocations`, SigV4-signed per call with
//! configured credentials; the connection comes from the core's upstream pool like any
//! `url` entry (`dataplane/lambda_auth/remote.rs` writes and signs the request).
//!
//! ```json
//! "awsCredentials": {
//!   "deploy": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKeyEnv": "DEPLOY_SECRET"}
//! },
//! "functions": {
//!   "arn:aws:lambda:us-east-1:123456789012:function:orders": {
//!     "remote": {"credentials": "deploy", "qualifier": "live"}, "timeoutMs": 5000}
//! }
//! ```
//!
//! `remote`: `function` (the name or ARN sent; default the entry's key), `region` (default
//! the ARN's region, else the one in a `lambda.{region}.amazonaws.com` endpoint), `endpoint`
//! (default `https://lambda.{region}.amazonaws.com`; any Lambda-compatible endpoint, `http://`
//! too), `qualifier` (a version or alias, sent as `?Qualifier=`), `credentials` (a name in
//! the gateway file's `awsCredentials`; absent: the environment's `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and optional `AWS_SESSION_TOKEN`, read at load).
//!
//! `awsCredentials` are the keys tollgate signs *with*; the `iam` block's credentials are the
//! keys it *accepts* (and carry a principal and policies), so they are kept apart. Each entry:
//! `accessKeyId` (or `accessKeyIdEnv`), `secretAccessKey` (or `secretAccessKeyEnv`), optional
//! `sessionToken` (or `sessionTokenEnv`).

use std::sync::Arc;

use super::Scheme;
use super::functions::{FunctionSpec, PlainUrlError, plain_url};
use super::reader::{Errors, Loc, Node};
use super::server::Env;

/// The credentials one remote function signs with. `Debug` never prints the secret.
pub struct AwsCredentials {
    pub access_key_id: Box<str>,
    pub secret_access_key: Box<[u8]>,
    /// Temporary credentials: sent as `X-Amz-Security-Token`.
    pub session_token: Option<Box<str>>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("session_token", &self.session_token.is_some())
            .finish_non_exhaustive()
    }
}

/// How a `remote` function is invoked (the snapshot's `FunctionTarget::Remote`).
#[derive(Debug)]
pub struct RemoteFunction {
    pub upstream: super::UpstreamIdx,
    /// `{endpoint path}/2015-03-31/functions/{encoded name}/invocations` (no query).
    pub path: Box<[u8]>,
    /// `Qualifier={encoded}` or empty.
    pub query: Box<[u8]>,
    pub region: Box<str>,
    /// One per function and snapshot: a core caches its signing key per day by this `Arc`'s
    /// identity (the key depends on the secret, the day and the region).
    pub credentials: Arc<AwsCredentials>,
}

/// A validated `remote` entry before compile.
#[derive(Clone, Debug)]
pub(crate) struct RemoteSpec {
    pub region: String,
    pub path: String,
    pub query: String,
    /// A name in `awsCredentials`, with where it was written; `None`: the environment.
    pub credentials_name: Option<(String, Loc)>,
    /// Filled by [`resolve_credentials`].
    pub credentials: Option<Arc<AwsCredentials>>,
}

/// `remote` of the `functions` entry `key`: the spec, with the endpoint as its upstream.
pub(crate) fn validate_remote(
    key: &str,
    n: &Node<'_>,
    timeout: std::time::Duration,
    errors: &mut Errors,
) -> Option<FunctionSpec> {
    let before = errors.len();
    let mut obj = n.obj(errors)?;
    let function = obj
        .opt_non_null("function")
        .and_then(|f| f.str(errors))
        .unwrap_or(key)
        .to_string();
    let region_node = obj.opt_non_null("region");
    let region = region_node.as_ref().and_then(|r| r.str(errors));
    let endpoint_node = obj.opt_non_null("endpoint");
    let endpoint = endpoint_node.as_ref().and_then(|e| e.str(errors));
    let qualifier = obj.opt_non_null("qualifier").and_then(|q| {
        let s = q.str(errors)?;
        let ok = (1..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$'));
        if !ok {
            q.err(errors, format!("qualifier `{s}`: a version (`3`, `$LATEST`) or an alias name (letters, digits, `-`, `_`)"));
        }
        Some(s.to_string())
    });
    let credentials_name = obj.opt_non_null("credentials").and_then(|c| {
        let s = c.str(errors)?;
        Some((s.to_string(), c.loc()))
    });
    obj.finish(errors);
    if function.is_empty() || function.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        n.err(
            errors,
            format!("function `{function}`: a Lambda function name or ARN"),
        );
    }
    let region = match region {
        Some(r) => Some(r.to_string()),
        None => arn_region(&function)
            .or_else(|| arn_region(key))
            .or_else(|| endpoint.and_then(endpoint_region))
            .map(str::to_string),
    };
    let Some(region) = region else {
        n.err(
            errors,
            format!("function `{key}`: give `region` (it is not in the function's ARN)"),
        );
        return None;
    };
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        let at = region_node.as_ref().unwrap_or(n);
        at.err(errors, format!("region `{region}`: like `us-east-1`"));
    }
    let default_endpoint = format!("https://lambda.{region}.amazonaws.com");
    let text = endpoint.unwrap_or(&default_endpoint);
    let at = endpoint_node.as_ref().unwrap_or(n);
    let parsed = match plain_url(text) {
        Ok(p) => p,
        Err(PlainUrlError::Invalid(e)) => {
            at.err(errors, format!("endpoint `{text}`: {e}"));
            return None;
        }
        Err(PlainUrlError::Params) => {
            at.err(errors, format!("endpoint `{text}`: no `{{parameters}}`"));
            return None;
        }
    };
    let (prefix, query) = (&parsed.path, &parsed.query);
    if !query.is_empty() {
        at.err(
            errors,
            format!("endpoint `{text}`: an endpoint has no query (give `qualifier`)"),
        );
    }
    if errors.len() != before {
        return None;
    }
    let mut path = prefix.trim_end_matches('/').to_string();
    if !path.is_empty() && !path.starts_with('/') {
        path.insert(0, '/');
    }
    path.push_str("/2015-03-31/functions/");
    encode(&mut path, &function);
    path.push_str("/invocations");
    let query = qualifier.map_or_else(String::new, |q| {
        let mut s = String::from("Qualifier=");
        encode(&mut s, &q);
        s
    });
    let scheme: Scheme = parsed.scheme;
    Some(FunctionSpec {
        name: key.to_string(),
        // What the authorizer cache's fingerprint reads: everything the call depends on.
        url: format!(
            "remote {text}{path}?{query} {region} {:?}",
            credentials_name.as_ref().map(|c| &c.0)
        ),
        scheme,
        host: parsed.host,
        port: parsed.port,
        path: path.clone(),
        timeout,
        loc: n.loc(),
        local: None,
        remote: Some(Box::new(RemoteSpec {
            region,
            path,
            query,
            credentials_name,
            credentials: None,
        })),
    })
}

/// The snapshot's target for a validated `remote` entry reached through `upstream`.
pub(crate) fn target(r: &RemoteSpec, upstream: super::UpstreamIdx) -> super::FunctionTarget {
    // Always set once validation passed (else compile does not run).
    let credentials = r.credentials.clone().unwrap_or_else(|| {
        Arc::new(AwsCredentials {
            access_key_id: "".into(),
            secret_access_key: Box::default(),
            session_token: None,
        })
    });
    super::FunctionTarget::Remote(Box::new(RemoteFunction {
        upstream,
        path: r.path.as_bytes().into(),
        query: r.query.as_bytes().into(),
        region: r.region.as_str().into(),
        credentials,
    }))
}

/// Reads `awsCredentials` and gives every remote function its credentials (by name, or from
/// the environment); an unknown name or unset variable is an error at the function.
pub(crate) fn resolve_credentials(
    node: Option<Node<'_>>,
    functions: &mut [FunctionSpec],
    env: Env<'_>,
    errors: &mut Errors,
) {
    let mut named: Vec<(String, Option<AwsCredentials>)> = Vec::new();
    if let Some(node) = node {
        for (name, n) in node.entries(errors).unwrap_or_default() {
            named.push((name.to_string(), credentials(&n, name, env, errors)));
        }
    }
    for f in functions.iter_mut() {
        let Some(remote) = f.remote.as_mut() else {
            continue;
        };
        let creds = match &remote.credentials_name {
            Some((name, loc)) => match named.iter().find(|(n, _)| n == name) {
                Some((_, Some(c))) => Some(AwsCredentials {
                    access_key_id: c.access_key_id.clone(),
                    secret_access_key: c.secret_access_key.clone(),
                    session_token: c.session_token.clone(),
                }),
                Some((_, None)) => None,
                None => {
                    loc.err(
                        errors,
                        format!("credentials `{name}` are not in the gateway file's `awsCredentials`"),
                    );
                    None
                }
            },
            None => from_environment(env).or_else(|| {
                f.loc.err(
                    errors,
                    format!("function `{}`: no `credentials` given and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set", f.name),
                );
                None
            }),
        };
        remote.credentials = creds.map(Arc::new);
    }
}

fn from_environment(env: Env<'_>) -> Option<AwsCredentials> {
    let key = env("AWS_ACCESS_KEY_ID").filter(|v| !v.is_empty())?;
    let secret = env("AWS_SECRET_ACCESS_KEY").filter(|v| !v.is_empty())?;
    Some(AwsCredentials {
        access_key_id: key.into(),
        secret_access_key: secret.into_bytes().into(),
        session_token: env("AWS_SESSION_TOKEN")
            .filter(|v| !v.is_empty())
            .map(Into::into),
    })
}

/// One `awsCredentials` entry.
fn credentials(
    n: &Node<'_>,
    name: &str,
    env: Env<'_>,
    errors: &mut Errors,
) -> Option<AwsCredentials> {
    let before = errors.len();
    let mut obj = n.obj(errors)?;
    let mut value = |field: &str, required: bool, errors: &mut Errors| -> Option<String> {
        let env_field = format!("{field}Env");
        match (obj.opt_non_null(field), obj.opt_non_null(&env_field)) {
            (Some(v), None) => {
                let s = v.str(errors)?;
                if s.is_empty() {
                    v.err(errors, format!("credentials `{name}`: `{field}` is empty"));
                }
                Some(s.to_string())
            }
            (None, Some(e)) => {
                let var = e.str(errors)?;
                match env(var) {
                    Some(v) if !v.is_empty() => Some(v),
                    _ => {
                        e.err(
                            errors,
                            format!(
                                "credentials `{name}`: environment variable `{var}` is not set"
                            ),
                        );
                        None
                    }
                }
            }
            (Some(_), Some(_)) => {
                n.err(
                    errors,
                    format!("credentials `{name}`: give `{field}` or `{env_field}`, not both"),
                );
                None
            }
            (None, None) => {
                if required {
                    n.err(
                        errors,
                        format!("credentials `{name}`: missing `{field}` (or `{env_field}`)"),
                    );
                }
                None
            }
        }
    };
    let key = value("accessKeyId", true, errors);
    let secret = value("secretAccessKey", true, errors);
    let token = value("sessionToken", false, errors);
    obj.finish(errors);
    if let Some(k) = &key
        && !k.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        n.err(
            errors,
            format!("credentials `{name}`: access key id `{k}`: letters and digits, like `AKIAIOSFODNN7EXAMPLE`"),
        );
    }
    if errors.len() != before {
        return None;
    }
    Some(AwsCredentials {
        access_key_id: key?.into(),
        secret_access_key: secret?.into_bytes().into(),
        session_token: token.map(Into::into),
    })
}

/// The region of `arn:aws:lambda:{region}:...`.
fn arn_region(arn: &str) -> Option<&str> {
    let a = super::arn::Arn::parse(arn).filter(|a| a.service == "lambda")?;
    (!a.region.is_empty()).then_some(a.region)
}

/// The region of `https://lambda.{region}.amazonaws.com[...]`.
fn endpoint_region(endpoint: &str) -> Option<&str> {
    let host = endpoint.split_once("://")?.1;
    let rest = host.strip_prefix("lambda.")?;
    let (region, tail) = rest.split_once('.')?;
    tail.starts_with("amazonaws.com").then_some(region)
}

/// Percent-encode everything but RFC 3986 unreserved bytes (botocore's path parameter rule:
/// an ARN's `:` becomes `%3A`).
fn encode(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{encode, endpoint_region};

    #[test]
    fn names_are_encoded_as_botocore_does() {
        let mut s = String::new();
        encode(
            &mut s,
            "arn:aws:lambda:us-east-1:123456789012:function:f-1_x.y",
        );
        assert_eq!(
            s,
            "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af-1_x.y"
        );
    }

    #[test]
    fn the_region_of_a_lambda_endpoint() {
        assert_eq!(
            endpoint_region("https://lambda.eu-west-3.amazonaws.com"),
            Some("eu-west-3")
        );
        assert_eq!(endpoint_region("http://127.0.0.1:9000"), None);
    }
}
