//! Lambda authorizers on the request path (issue 8, SPEC-NOTES §1.4): after routing, before
//! API keys and throttles, like JWT authorizers.
//!
//! 1. Collect the identity sources into the cache key (function index, then each value
//!    length-prefixed). One missing or empty → 401, the function is not called.
//! 2. TTL above zero: the core's result cache ([`cache`]). A hit is reused for any method:
//!    its policy is evaluated against this request's method ARN.
//! 3. Miss: TOKEN's `identityValidationExpression` (a mismatch → 401, no call); build the
//!    event ([`event`]); call the function ([`invoke`], the upstream pool's machinery); read
//!    its answer ([`output`]); keep a usable answer in the cache.
//! 4. Decide: Allow → continue with the [`Grant`] (its `principalId` and `context` reach
//!    `context.authorizer.*` mappings, its `usageIdentifierKey` the API key check); explicit
//!    Deny → 403 with the explicit-deny text; no Allow (or `isAuthorized: false`) → 403; the
//!    function's `Unauthorized` → 401; anything else → 500 AUTHORIZER_CONFIGURATION_ERROR.
//!
//! Requests without a Lambda authorizer never reach this module. A cached hit does not
//! allocate: the key is built in a reused buffer, the method ARN on the stack, the grant is an
//! `Rc`.

pub mod cache;
mod event;
pub mod invoke;
pub mod output;
mod remote;
#[cfg(test)]
mod tests;

use std::io::Write as _;
use std::net::IpAddr;
use std::rc::Rc;

pub use cache::Caches;
pub use output::{Answer, Grant, Verdict};
pub use remote::Signing;

use super::auth::policy::{self, Decision};
use super::tls::ClientCertInfo;
use super::worker::Worker;
use crate::config::{
    Api, ContextVar, ErrorKind, IdentitySource, LambdaIdx, LambdaKind, Params, Route, Snapshot,
    Stage, StageIdx,
};
use crate::http1::RequestHead;

/// API Gateway refuses a method ARN longer than this (SPEC-NOTES §1.4, "Method ARN limits").
pub const MAX_METHOD_ARN: usize = 1600;

/// What the authorizer may see of one request.
pub struct Request<'a> {
    pub data: &'a [u8],
    pub head: &'a RequestHead,
    pub api: &'a Api,
    pub stage_idx: StageIdx,
    pub stage: &'a Stage,
    pub route: &'a Route,
    /// The path after the stage or base path (`/` at least).
    pub resource_path: &'a [u8],
    /// The request path as sent.
    pub path: &'a [u8],
    pub host: &'a [u8],
    pub params: &'a Params,
    pub peer: IpAddr,
    pub request_id: &'a [u8],
    pub extended_id: &'a [u8],
    pub account_id: &'a str,
    pub region: &'a str,
    pub client_cert: Option<&'a ClientCertInfo>,
    /// The API's resource policy and the client address it is evaluated with: combined with
    /// the authorizer's policy by API Gateway's Table A.
    pub resource_policy: Option<(&'a policy::Policy, IpAddr)>,
    /// When the request started (`Meta::now`): the result cache's clock.
    pub now: crate::dataplane::clock::Now,
    /// The request's `X-Amzn-Trace-Id` (`Meta::trace`), sent with the invocation.
    pub trace: &'a [u8],
}

/// Runs the route's Lambda authorizer `idx`: the grant, or the error to answer with.
pub async fn authorize(
    worker: &Worker,
    snap: &Snapshot,
    idx: LambdaIdx,
    req: &Request<'_>,
) -> Result<Rc<Grant>, ErrorKind> {
    let Some(auth) = snap.lambda_authorizers.get(idx.0 as usize) else {
        return Err(ErrorKind::AuthorizerConfiguration);
    };
    let Some(function_idx) = auth.function(req.stage_idx) else {
        return Err(ErrorKind::AuthorizerConfiguration);
    };
    let mut arn_buf = [0u8; MAX_METHOD_ARN];
    let Some(arn) = method_arn(&mut arn_buf, req) else {
        return Err(ErrorKind::AuthorizerDenied);
    };
    let now = worker.shared.clock.instant_at(req.now.mono_ns);
    let key = {
        let mut caches = worker.lambda.borrow_mut();
        caches.sync(snap);
        let mut key = std::mem::take(&mut caches.key);
        key.clear();
        key.extend_from_slice(&function_idx.0.to_be_bytes());
        let complete = collect(&auth.sources, req, &mut key);
        let hit = match complete {
            true if !auth.ttl.is_zero() => caches.get(idx, &key, now),
            _ => None,
        };
        if !complete {
            caches.key = key;
            return Err(ErrorKind::Unauthorized);
        }
        if let Some(grant) = hit {
            caches.key = key;
            return decide(grant, arn, req);
        }
        // The buffer goes back; this request keeps its own copy across the call.
        let own = key.clone();
        caches.key = key;
        own
    };
    let identity = values(&key[4..]);
    if let (LambdaKind::Token, Some(pattern)) = (auth.kind, &auth.validation)
        && !identity.first().is_some_and(|t| pattern.matches(t))
    {
        return Err(ErrorKind::Unauthorized);
    }
    // The request's start, as the proxy events' `requestTimeEpoch` (no clock read).
    let now_ms = worker.unix_ms(req.now);
    let body = event::build(auth.kind, req, &identity, arn, now_ms);
    let function = &snap.functions[function_idx.0 as usize];
    let answer = match invoke::call(
        worker,
        snap,
        function,
        &body,
        Some(req.trace),
        function.timeout,
    )
    .await
    {
        Ok(reply) if reply.function_error => output::failed(&reply.body),
        Ok(reply) => output::read(auth.kind, reply.status, &reply.body),
        Err(invoke::CallError::Timeout) => Answer::Invalid("the function did not answer in time"),
        Err(invoke::CallError::Failed) => Answer::Invalid("the function could not be reached"),
    };
    let grant = match answer {
        Answer::Grant(g) => Rc::new(g),
        Answer::Unauthorized => return Err(ErrorKind::Unauthorized),
        Answer::Invalid(why) => {
            super::diag::line(format_args!(
                "Lambda authorizer `{}` (function `{}`): {why}",
                auth.identity, function.name
            ));
            return Err(ErrorKind::AuthorizerConfiguration);
        }
    };
    if !auth.ttl.is_zero() {
        // A reload during the call: `idx` may name another authorizer now; not kept.
        let mut caches = worker.lambda.borrow_mut();
        if caches.is_for(snap) {
            caches.insert(idx, &key, grant.clone(), auth.ttl, now);
        }
    }
    decide(grant, arn, req)
}

/// The grant's verdict for this method, with the API's resource policy (Table A: a Deny
/// anywhere wins, else an Allow anywhere allows).
fn decide(grant: Rc<Grant>, arn: &str, req: &Request<'_>) -> Result<Rc<Grant>, ErrorKind> {
    let decision = match &grant.verdict {
        Verdict::Simple(true) => Decision::Allow,
        Verdict::Simple(false) => Decision::Implicit,
        Verdict::Policy(p) => p.evaluate(&policy::Request {
            resource: arn,
            principal: None,
            source_ip: req.peer,
        }),
    };
    let resource = req.resource_policy.map(|(p, ip)| {
        p.evaluate(&policy::Request {
            resource: arn,
            principal: None,
            source_ip: ip,
        })
    });
    match policy::combine(decision, resource, true) {
        Decision::Allow => Ok(grant),
        Decision::ExplicitDeny => Err(ErrorKind::AuthorizerExplicitDeny),
        Decision::Implicit => Err(ErrorKind::AuthorizerDenied),
    }
}

/// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}` in `buf`; `None`
/// when it would be longer than API Gateway allows.
fn method_arn<'b>(buf: &'b mut [u8; MAX_METHOD_ARN], req: &Request<'_>) -> Option<&'b str> {
    let mut w = &mut buf[..];
    let ok = write!(
        w,
        "arn:aws:execute-api:{}:{}:{}/{}/",
        req.region, req.account_id, req.api.id, req.stage.name
    )
    .is_ok()
        && w.write_all(req.head.method.get(req.data)).is_ok()
        && w.write_all(req.resource_path).is_ok();
    let left = w.len();
    if !ok {
        return None;
    }
    let len = MAX_METHOD_ARN - left;
    std::str::from_utf8(&buf[..len]).ok()
}

/// Appends every identity source value to `key` (length-prefixed, so values cannot run
/// together); false when one is missing or empty.
fn collect(sources: &[IdentitySource], req: &Request<'_>, key: &mut Vec<u8>) -> bool {
    for source in sources {
        let start = key.len();
        key.extend_from_slice(&[0; 4]);
        let value: &[u8] = match source {
            IdentitySource::Header(name) => req
                .head
                .headers
                .iter()
                .find(|(n, _)| n.get(req.data).eq_ignore_ascii_case(name))
                .map_or(&[][..], |(_, v)| v.get(req.data)),
            IdentitySource::QueryString(name) => query_value(req, name).unwrap_or_default(),
            IdentitySource::StageVariable(name) => req
                .stage
                .variables
                .iter()
                .find(|(k, _)| **k == **name)
                .map_or(&[][..], |(_, v)| v.as_bytes()),
            IdentitySource::RouteKey => req.route.route_key.as_bytes(),
            IdentitySource::Context(ContextVar::SourceIp) => {
                let _ = write!(key, "{}", req.peer);
                &[]
            }
            IdentitySource::Context(var) => context_value(*var, req).unwrap_or_default(),
        };
        key.extend_from_slice(value);
        let len = key.len() - start - 4;
        if len == 0 {
            return false;
        }
        key[start..start + 4].copy_from_slice(&(len as u32).to_be_bytes());
    }
    true
}

fn query_value<'a>(req: &Request<'a>, name: &[u8]) -> Option<&'a [u8]> {
    let query = req.head.query?.get(req.data);
    query.split(|&b| b == b'&').find_map(|pair| {
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        (k == name).then_some(v)
    })
}

fn context_value<'a>(var: ContextVar, req: &Request<'a>) -> Option<&'a [u8]> {
    Some(match var {
        ContextVar::RequestId => req.request_id,
        ContextVar::ApiId => req.api.id.as_bytes(),
        ContextVar::Stage => req.stage.name.as_bytes(),
        ContextVar::ResourcePath => req.route.path.as_bytes(),
        ContextVar::HttpMethod => req.head.method.get(req.data),
        ContextVar::DomainName => req.host,
        ContextVar::AccountId => req.account_id.as_bytes(),
        ContextVar::Path => req.path,
        ContextVar::Protocol => b"HTTP/1.1",
        ContextVar::SourceIp => return None,
        // An IAM caller: never on a route with a Lambda authorizer (one authorizer per route).
        ContextVar::IdentityUserArn
        | ContextVar::IdentityCaller
        | ContextVar::IdentityAccessKey
        | ContextVar::IdentityAccountId => return None,
        ContextVar::ClientCertSubjectDn => req.client_cert?.subject_dn.as_bytes(),
        ContextVar::ClientCertIssuerDn => req.client_cert?.issuer_dn.as_bytes(),
        ContextVar::ClientCertSerialNumber => req.client_cert?.serial_number.as_bytes(),
        ContextVar::ClientCertNotBefore => req.client_cert?.not_before.as_bytes(),
        ContextVar::ClientCertNotAfter => req.client_cert?.not_after.as_bytes(),
    })
}

/// The identity values back out of a key (after the function index).
fn values(mut key: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while key.len() >= 4 {
        let len = u32::from_be_bytes([key[0], key[1], key[2], key[3]]) as usize;
        let v = key.get(4..4 + len).unwrap_or_default();
        out.push(String::from_utf8_lossy(v).into_owned());
        key = key.get(4 + len..).unwrap_or_default();
    }
    out
}
