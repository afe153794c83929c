//! `AWS_IAM` methods and resource policies on the request path (issue 8, SPEC-NOTES §10,
//! RELIABILITY A10): after routing, where `request.rs` runs authorizers, before API keys and
//! throttles.
//!
//! # Flow (API Gateway's "How resource policies affect the authorization workflow")
//!
//! * `AWS_IAM` route: the SigV4 signature is verified ([`Verifier`] at `server.region`, the
//!   skew of `iam.maxSkewSeconds`) over the path exactly as the client sent it (stage
//!   included) and the SHA-256 of the body that will be forwarded. Then the caller's identity
//!   policies and the API's resource policy are evaluated for the method ARN and combined
//!   with [`policy::combine`] (Table A in the API's account, Table B across accounts).
//! * No authorizer, resource policy: the policy must allow explicitly (the caller is
//!   anonymous, the source address is the client's).
//! * JWT/Cognito authorizer, resource policy: the authorizer runs first; then the policy is
//!   evaluated on its own and must allow explicitly ([`after_authorizer`]).
//! * Lambda authorizers: [`pre_authorizer`] (an explicit deny refuses before the authorizer
//!   is called); `lambda_auth` combines the authorizer's policy with the resource policy
//!   (Table A) after.
//!
//! # The body of a signed request
//!
//! The payload hash is over the body the gateway forwards, so the whole body must be at hand
//! before the signature is checked. When the head arrived without all of it, [`gate`] answers
//! [`Refusal::NeedBody`]; `request.rs` then reads it with [`read_body`] into the connection's
//! read buffer (`100 Continue` first when the client waits for it; bounded by
//! `maxBodyBytes` and the body timeout) and routes the request again. A chunked body is
//! buffered as it came and hashed de-chunked; forwarding decodes it again.
//!
//! # Unsigned headers
//!
//! For a SigV4 request only the headers the signature covers are forwarded or mapped
//! (`upstream_head.rs`); the rest (anything added after signing, e.g. `X-Forwarded-Host`,
//! A10d) is dropped.
//!
//! Requests on routes without IAM and APIs without a resource policy never come here, so
//! they allocate nothing; a request that does allocates its header list and method ARN.

use std::net::IpAddr;

use super::auth::policy::{self, Action, Decision, Policy};
use super::auth::sigv4::{self, Scratch, SigV4Error, SignedHeaders, Verifier};
use super::conn::{Conn, Outcome};
use super::request;
use super::respond::{self, Meta};
use super::stream::ClientStream;
use super::worker::Worker;
use crate::config::{Api, Cidr, ErrorKind, Protocol, Route, Snapshot, Stage};
use crate::http1::{self, RequestHead};

mod body;

pub(crate) use body::chunked_end;
use body::payload_sha256;
pub use body::read_body;

/// The verified IAM caller: what the request context (`context.identity.*`) and forwarding
/// need.
#[derive(Clone, Debug)]
pub struct Caller<'a> {
    pub user_arn: &'a str,
    pub access_key: &'a str,
    pub account: &'a str,
    /// Headers the signature covers: only these are forwarded.
    pub signed_headers: SignedHeaders<'a>,
    /// The caller's policies (with the resource policy) allow `execute-api:InvalidateCache`
    /// on this method: its `Cache-Control: max-age=0` invalidates under
    /// `requireAuthorizationForCacheControl`.
    pub may_invalidate: bool,
}

/// Why a request does not pass.
#[derive(Debug)]
pub enum Refusal {
    /// The body is not all buffered yet: read it ([`read_body`]) and gate again.
    NeedBody,
    /// A pre-rendered gateway response (no signature at all).
    Kind(ErrorKind),
    /// A SigV4 or policy refusal with its own message.
    Response {
        status: u16,
        error_type: &'static str,
        body: Vec<u8>,
    },
}

/// Where the request is, for building the method ARN and evaluating policies.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub api: &'a Api,
    pub stage: &'a Stage,
    pub route: &'a Route,
    pub head: &'a RequestHead,
    pub data: &'a [u8],
    /// The path as the client sent it (stage included).
    pub path: &'a [u8],
    /// The path after the stage or base path.
    pub resource_path: &'a [u8],
    /// The socket peer.
    pub peer: IpAddr,
}

/// The IAM and resource-policy gate of one request. `Ok(Some)`: a verified IAM caller;
/// `Ok(None)`: nothing to verify, or the resource policy allowed an anonymous caller.
pub fn gate<'a>(
    snap: &'a Snapshot,
    t: &Target<'a>,
    now_unix: u64,
) -> Result<Option<Caller<'a>>, Refusal> {
    let policy = t.api.resource_policy.as_ref();
    if !t.route.iam {
        // JWT routes: the authorizer first, then `after_authorizer`.
        return match policy {
            // Lambda authorizers: an explicit deny refuses before the call; the rest is
            // combined with the authorizer's answer (`lambda_auth`).
            Some(_) if t.route.lambda.is_some() => pre_authorizer(snap, t).map(|()| None),
            Some(p) if t.route.auth.is_none() => {
                let arn = method_arn(snap, t);
                let source_ip = client_ip(t.peer, &snap.server.trusted_proxies, t.head, t.data);
                let req = policy::Request {
                    resource: &arn,
                    principal: None,
                    source_ip,
                };
                match p.evaluate(&req) {
                    Decision::Allow => Ok(None),
                    d => Err(access_denied(None, &arn, d)),
                }
            }
            _ => Ok(None),
        };
    }
    let payload_sha256 =
        payload_sha256(t.head, t.data, &snap.server.limits).ok_or(Refusal::NeedBody)?;
    let headers: Vec<(&[u8], &[u8])> = t
        .head
        .headers
        .iter()
        .map(|(n, v)| (n.get(t.data), v.get(t.data)))
        .collect();
    let req = sigv4::Request {
        method: t.head.method.get(t.data),
        path: t.path,
        query: t.head.query.map_or(&b""[..], |q| q.get(t.data)),
        headers: &headers,
        payload_sha256,
    };
    let mut verifier = Verifier::execute_api(&snap.server.region);
    verifier.max_skew_secs = snap.iam.max_skew_secs;
    let mut scratch = Scratch::new();
    let verified = match verifier.verify(&req, &snap.iam.credentials, now_unix, &mut scratch) {
        Ok(v) => v,
        Err(SigV4Error::MissingAuthenticationToken) => {
            return Err(Refusal::Kind(match t.api.protocol {
                Protocol::Rest => ErrorKind::MissingAuthenticationToken,
                Protocol::Http => ErrorKind::Forbidden,
            }));
        }
        Err(e) => {
            let mut body = Vec::new();
            e.write_body(&req, &scratch, &mut body);
            return Err(Refusal::Response {
                status: e.status(),
                error_type: e.error_type(),
                body,
            });
        }
    };
    // The key was found while verifying; the table lends the entry for the snapshot's life.
    let Some(cred) = snap.iam.credentials.get(&verified.access_key_id) else {
        return Err(Refusal::Kind(ErrorKind::InternalError));
    };
    let arn = method_arn(snap, t);
    let source_ip = client_ip(t.peer, &snap.server.trusted_proxies, t.head, t.data);
    let req = policy::Request {
        resource: &arn,
        principal: Some(&cred.principal_arn),
        source_ip,
    };
    let same_account = *cred.account == *snap.server.account_id;
    let decide = |action| {
        let identity = identity_decision(&cred.policies, &req, action);
        let resource = policy.map(|p| p.evaluate_action(&req, action));
        policy::combine(identity, resource, same_account)
    };
    match decide(Action::Invoke) {
        Decision::Allow => Ok(Some(Caller {
            user_arn: &cred.principal_arn,
            access_key: &cred.access_key_id,
            account: &cred.account,
            signed_headers: verified.signed_headers.into_owned(),
            may_invalidate: decide(Action::InvalidateCache) == Decision::Allow,
        })),
        d => Err(access_denied(Some(&cred.principal_arn), &arn, d)),
    }
}

/// JWT/Cognito authorizer and a resource policy: after the authorizer allowed, the policy is
/// evaluated on its own and must allow explicitly (AWS DG, "Amazon Cognito authentication
/// and resource policy").
pub fn after_authorizer(snap: &Snapshot, t: &Target<'_>) -> Result<(), Refusal> {
    let Some(p) = t.api.resource_policy.as_ref() else {
        return Ok(());
    };
    let arn = method_arn(snap, t);
    match p.evaluate(&anonymous(snap, t, &arn)) {
        Decision::Allow => Ok(()),
        d => Err(access_denied(None, &arn, d)),
    }
}

/// Lambda authorizers, before the authorizer is called: an explicit deny of the resource
/// policy refuses at once (AWS DG, "Lambda authorizer and resource policy").
pub fn pre_authorizer(snap: &Snapshot, t: &Target<'_>) -> Result<(), Refusal> {
    let Some(p) = t.api.resource_policy.as_ref() else {
        return Ok(());
    };
    let arn = method_arn(snap, t);
    if p.denies(&anonymous(snap, t, &arn)) {
        return Err(access_denied(None, &arn, Decision::ExplicitDeny));
    }
    Ok(())
}

/// The request as a policy sees a caller that is not an IAM principal.
fn anonymous<'a>(snap: &Snapshot, t: &Target<'_>, arn: &'a str) -> policy::Request<'a> {
    policy::Request {
        resource: arn,
        principal: None,
        source_ip: client_ip(t.peer, &snap.server.trusted_proxies, t.head, t.data),
    }
}

/// Every identity policy of the caller together: a Deny anywhere wins, else an Allow anywhere.
fn identity_decision(policies: &[Policy], req: &policy::Request<'_>, action: Action) -> Decision {
    let mut out = Decision::Implicit;
    for p in policies {
        match p.evaluate_action(req, action) {
            Decision::ExplicitDeny => return Decision::ExplicitDeny,
            Decision::Allow => out = Decision::Allow,
            Decision::Implicit => {}
        }
    }
    out
}

/// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`: the resource
/// policies and identity policies name. The path is the resource path as sent (after the
/// stage), `GET/` for the root.
pub fn method_arn(snap: &Snapshot, t: &Target<'_>) -> String {
    let server = &snap.server;
    let method = t.head.method.get(t.data);
    let mut arn =
        String::with_capacity(64 + t.api.id.len() + t.stage.name.len() + t.resource_path.len());
    arn.push_str("arn:aws:execute-api:");
    arn.push_str(&server.region);
    arn.push(':');
    arn.push_str(&server.account_id);
    arn.push(':');
    arn.push_str(&t.api.id);
    arn.push('/');
    arn.push_str(&t.stage.name);
    arn.push('/');
    arn.push_str(&String::from_utf8_lossy(method));
    arn.push_str(&String::from_utf8_lossy(t.resource_path));
    arn
}

/// The `ACCESS_DENIED` message API Gateway gives for an IAM or resource-policy refusal, in
/// one place: `User: <principal|anonymous> is not authorized to perform: execute-api:Invoke
/// on resource: <arn>`, with ` with an explicit deny` when a statement denied.
pub fn access_denied_message(principal: Option<&str>, resource: &str, explicit: bool) -> String {
    format!(
        "User: {} is not authorized to perform: execute-api:Invoke on resource: {resource}{}",
        principal.unwrap_or("anonymous"),
        if explicit {
            " with an explicit deny"
        } else {
            ""
        }
    )
}

fn access_denied(principal: Option<&str>, resource: &str, d: Decision) -> Refusal {
    let message = access_denied_message(principal, resource, d == Decision::ExplicitDeny);
    let body = serde_json::json!({ "Message": message })
        .to_string()
        .into_bytes();
    Refusal::Response {
        status: 403,
        error_type: "AccessDeniedException",
        body,
    }
}

/// Write a [`Refusal::Response`]: status, JSON body, `x-amzn-ErrorType`, the request ids.
pub fn write_refusal(
    wb: &mut Vec<u8>,
    status: u16,
    error_type: &str,
    body: &[u8],
    meta: &Meta,
    date: &[u8; 29],
) {
    wb.extend_from_slice(b"HTTP/1.1 ");
    http1::write_decimal(wb, status as u64);
    wb.push(b' ');
    wb.extend_from_slice(http1::reason_phrase(status).as_bytes());
    wb.extend_from_slice(b"\r\nContent-Type: application/json\r\nx-amzn-ErrorType: ");
    wb.extend_from_slice(error_type.as_bytes());
    wb.extend_from_slice(b"\r\n");
    respond::id_headers(wb, meta);
    wb.extend_from_slice(b"Content-Length: ");
    http1::write_decimal(wb, body.len() as u64);
    wb.extend_from_slice(b"\r\n");
    respond::finish_head(wb, date, meta.close);
    if !meta.head_request {
        wb.extend_from_slice(body);
    }
}

/// Answer a refusal of [`gate`] (or of the authorizer hooks).
pub async fn refuse<S: ClientStream>(
    worker: &Worker,
    stream: &mut S,
    conn: &mut Conn,
    snap: &Snapshot,
    api: &Api,
    refusal: Refusal,
    meta: &mut Meta,
) -> Outcome {
    let (status, error_type, body) = match refusal {
        Refusal::Response {
            status,
            error_type,
            body,
        } => (status, error_type, body),
        Refusal::Kind(kind) => {
            return request::error(worker, stream, conn, snap, Some(api), kind, meta).await;
        }
        Refusal::NeedBody => {
            let kind = ErrorKind::InternalError;
            return request::error(worker, stream, conn, snap, Some(api), kind, meta).await;
        }
    };
    request::settle_unread_body(conn, meta);
    conn.wb.clear();
    write_refusal(
        &mut conn.wb,
        status,
        error_type,
        &body,
        meta,
        &worker.date.now(),
    );
    request::finish(stream, conn, &snap.server.limits, meta).await
}

/// The client address for policies (`aws:SourceIp`): the socket peer, unless the peer is a
/// trusted proxy; then the right-most `X-Forwarded-For` address that is not one (nginx's
/// `real_ip_recursive`, RELIABILITY RL02). An unparsable entry stops the walk at the last
/// trusted hop.
pub fn client_ip(peer: IpAddr, trusted: &[Cidr], head: &RequestHead, data: &[u8]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for (n, v) in head.headers.iter().rev() {
        if !n.get(data).eq_ignore_ascii_case(b"x-forwarded-for") {
            continue;
        }
        for item in v.get(data).rsplit(|&b| b == b',') {
            let Some(ip) = std::str::from_utf8(item.trim_ascii())
                .ok()
                .and_then(|s| s.parse::<IpAddr>().ok())
            else {
                return client;
            };
            client = ip;
            if !is_trusted(ip) {
                return ip;
            }
        }
    }
    client
}

#[cfg(test)]
mod tests;
