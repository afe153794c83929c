//! IAM on the config side (issue 8): the gateway file's `iam` key — the access keys tollgate
//! accepts SigV4 signatures from, each with the IAM principal it stands for and that
//! principal's identity policies — and REST APIs' resource policies
//! (`x-amazon-apigateway-policy`). Both compile to the policy evaluator of
//! `dataplane/auth/policy.rs`; the data plane (`dataplane/iam.rs`) verifies and evaluates.
//!
//! ```json
//! "iam": {"maxSkewSeconds": 300, "credentials": [
//!   {"accessKeyId": "AKIDALICE", "secretAccessKeyEnv": "ALICE_SECRET",
//!    "principalArn": "arn:aws:iam::123456789012:user/alice",
//!    "policies": [{"Version": "2012-10-17", "Statement": [
//!      {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]}]}
//! ]}
//! ```
//!
//! A resource policy's `execute-api:/...` shorthand is expanded with `server.region`,
//! `server.accountId` and the API's id, so the policy is read once every API is declared.

use hashbrown::HashMap;
use serde_json::Value;

use super::Protocol;
use super::defaults::{DEFAULT_IAM_MAX_SKEW_SECS, MAX_IAM_MAX_SKEW_SECS};
use super::gateway::ApiEntry;
use super::reader::{Errors, Loc, Node};
use super::server::Env;
use crate::dataplane::auth::policy::{ApiArn, Kind, Policy};
use crate::dataplane::auth::sigv4::{Credential, CredentialStore};

/// The gateway file's `iam`: SigV4 settings and credentials.
#[derive(Debug)]
pub struct Iam {
    /// How far `X-Amz-Date` may be from the gateway's clock, either way.
    pub max_skew_secs: u64,
    pub credentials: CredentialTable,
}

impl Default for Iam {
    fn default() -> Iam {
        Iam {
            max_skew_secs: DEFAULT_IAM_MAX_SKEW_SECS,
            credentials: CredentialTable::default(),
        }
    }
}

/// Access key id → credential, looked up by the request's bytes without allocating.
#[derive(Debug, Default)]
pub struct CredentialTable {
    by_key: HashMap<Box<[u8]>, IamCredential>,
}

/// One configured access key.
#[derive(Debug)]
pub struct IamCredential {
    pub access_key_id: Box<str>,
    pub secret_access_key: Box<[u8]>,
    /// Temporary credentials: the `X-Amz-Security-Token` every request must carry.
    pub session_token: Option<Box<[u8]>>,
    /// `arn:aws:iam::123456789012:user/alice`.
    pub principal_arn: Box<str>,
    /// The principal's account (from the ARN).
    pub account: Box<str>,
    /// The principal's identity policies.
    pub policies: Box<[Policy]>,
}

impl CredentialTable {
    pub fn get(&self, access_key_id: &[u8]) -> Option<&IamCredential> {
        self.by_key.get(access_key_id)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

impl CredentialStore for CredentialTable {
    fn credential(&self, access_key_id: &[u8]) -> Option<Credential<'_>> {
        self.get(access_key_id).map(|c| Credential {
            secret_access_key: &c.secret_access_key,
            session_token: c.session_token.as_deref(),
            principal_arn: &c.principal_arn,
        })
    }
}

/// An API's `x-amazon-apigateway-policy` as written, and once every API is declared, read.
#[derive(Clone, Debug)]
pub(crate) struct PolicyDoc {
    pub doc: Value,
    pub loc: Loc,
    pub policy: Option<Policy>,
}

/// `iam` in the gateway file.
pub(crate) fn validate_iam(n: &Node<'_>, env: Env<'_>, errors: &mut Errors) -> Iam {
    let mut out = Iam::default();
    let Some(mut obj) = n.obj(errors) else {
        return out;
    };
    if let Some(s) = obj.opt_non_null("maxSkewSeconds")
        && let Some(v) = s.u64_in(errors, 1, MAX_IAM_MAX_SKEW_SECS)
    {
        out.max_skew_secs = v;
    }
    for item in obj
        .opt_non_null("credentials")
        .and_then(|c| c.arr(errors))
        .unwrap_or_default()
    {
        if let Some((key_node, c)) = credential(&item, env, errors) {
            if out
                .credentials
                .by_key
                .contains_key(c.access_key_id.as_bytes())
            {
                key_node.err(
                    errors,
                    format!("duplicate access key id `{}`", c.access_key_id),
                );
                continue;
            }
            out.credentials
                .by_key
                .insert(c.access_key_id.as_bytes().into(), c);
        }
    }
    obj.finish(errors);
    out
}

fn credential<'a>(
    n: &Node<'a>,
    env: Env<'_>,
    errors: &mut Errors,
) -> Option<(Node<'a>, IamCredential)> {
    let before = errors.len();
    let mut obj = n.obj(errors)?;
    let key_node = obj.req("accessKeyId", errors);
    let key = key_node.as_ref().and_then(|k| {
        let s = k.str(errors)?;
        let ok = (16..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok {
            k.err(
                errors,
                format!(
                    "access key id `{s}`: 16 to 128 letters and digits, like `AKIAIOSFODNN7EXAMPLE`"
                ),
            );
        }
        Some(s.to_string())
    });
    let label = key.clone().unwrap_or_else(|| "?".into());
    let secret = match (
        obj.opt_non_null("secretAccessKey"),
        obj.opt_non_null("secretAccessKeyEnv"),
    ) {
        (Some(s), None) => s.str(errors).map(str::to_string),
        (None, Some(e)) => e.str(errors).and_then(|name| match env(name) {
            Some(v) if !v.is_empty() => Some(v),
            _ => {
                e.err(
                    errors,
                    format!("credential `{label}`: environment variable `{name}` is not set"),
                );
                None
            }
        }),
        (Some(_), Some(_)) => {
            n.err(
                errors,
                format!(
                    "credential `{label}`: give `secretAccessKey` or `secretAccessKeyEnv`, not both"
                ),
            );
            None
        }
        (None, None) => {
            n.err(
                errors,
                format!(
                    "credential `{label}`: missing `secretAccessKey` (or `secretAccessKeyEnv`)"
                ),
            );
            None
        }
    };
    if secret.as_deref() == Some("") {
        n.err(errors, format!("credential `{label}`: the secret is empty"));
    }
    let session_token = obj.opt_non_null("sessionToken").and_then(|t| {
        let s = t.str(errors)?;
        if s.is_empty() {
            t.err(
                errors,
                format!("credential `{label}`: `sessionToken` is empty"),
            );
        }
        Some(s.as_bytes().into())
    });
    let arn_node = obj.req("principalArn", errors);
    let arn = arn_node.as_ref().and_then(|a| {
        let s = a.str(errors)?;
        match principal_account(s) {
            Some(account) => Some((s.to_string(), account.to_string())),
            None => {
                a.err(
                    errors,
                    format!("credential `{label}`: `{s}` is not an IAM principal ARN (`arn:aws:iam::123456789012:user/alice`, `...:role/name` or `arn:aws:sts::123456789012:assumed-role/role/session`)"),
                );
                None
            }
        }
    });
    let mut policies = Vec::new();
    for p in obj
        .opt_non_null("policies")
        .and_then(|p| p.arr(errors))
        .unwrap_or_default()
    {
        match Policy::read(p.v, Kind::Identity, None) {
            Ok(policy) => policies.push(policy),
            Err(e) => p.err(errors, format!("credential `{label}`: {e}")),
        }
    }
    obj.finish(errors);
    if errors.len() != before {
        return None;
    }
    let (principal_arn, account) = arn?;
    Some((
        key_node?,
        IamCredential {
            access_key_id: key?.into(),
            secret_access_key: secret?.into_bytes().into(),
            session_token,
            principal_arn: principal_arn.into(),
            account: account.into(),
            policies: policies.into(),
        },
    ))
}

/// The account of an IAM or STS principal ARN, if it is one:
/// `arn:{partition}:{iam|sts}::{12 digits}:{resource}`.
pub(crate) fn principal_account(arn: &str) -> Option<&str> {
    let super::arn::Arn {
        partition,
        service,
        region,
        account,
        resource,
    } = super::arn::Arn::parse(arn)?;
    let ok = partition.starts_with("aws")
        && region.is_empty()
        && matches!(service, "iam" | "sts")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !resource.is_empty()
        && !resource.bytes().any(|b| b.is_ascii_control() || b == b' ');
    ok.then_some(account)
}

/// `x-amazon-apigateway-policy` at the root of a definition: kept as written (an object, or
/// its JSON text) until the API's ARN is known. HTTP APIs have no resource policies.
pub(crate) fn policy_doc(
    n: &Node<'_>,
    protocol: Protocol,
    errors: &mut Errors,
) -> Option<PolicyDoc> {
    if protocol == Protocol::Http {
        n.err(
            errors,
            "`x-amazon-apigateway-policy` is a REST API feature: HTTP APIs have no resource policies",
        );
        return None;
    }
    if !matches!(n.v, Value::Object(_) | Value::String(_)) {
        n.err(
            errors,
            "a resource policy is a policy document: an object, or its JSON text",
        );
        return None;
    }
    Some(PolicyDoc {
        doc: n.v.clone(),
        loc: n.loc(),
        policy: None,
    })
}

/// Read every declared API's resource policy against its ARN (`server.region`,
/// `server.accountId`, the API id); errors at the policy's location.
pub(crate) fn read_resource_policies<'e>(
    apis: impl Iterator<Item = &'e mut ApiEntry>,
    region: &str,
    account: &str,
    errors: &mut Errors,
) {
    for entry in apis {
        let api_id = entry.id.clone();
        let Some(doc) = entry.def.policy.as_mut() else {
            continue;
        };
        let arn = ApiArn {
            region,
            account,
            api_id: &api_id,
        };
        match Policy::read(&doc.doc, Kind::Resource, Some(arn)) {
            Ok(p) => doc.policy = Some(p),
            Err(e) => doc.loc.err(errors, format!("resource policy: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::principal_account;

    #[test]
    fn principal_arns_name_their_account() {
        for (arn, account) in [
            ("arn:aws:iam::123456789012:user/alice", "123456789012"),
            ("arn:aws:iam::210987654321:role/ops", "210987654321"),
            (
                "arn:aws:sts::123456789012:assumed-role/ops/session",
                "123456789012",
            ),
        ] {
            assert_eq!(principal_account(arn), Some(account), "{arn}");
        }
        for bad in [
            "arn:aws:iam::12345:user/alice",
            "arn:aws:iam:us-east-1:123456789012:user/alice",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:",
            "user/alice",
        ] {
            assert_eq!(principal_account(bad), None, "{bad}");
        }
    }
}
