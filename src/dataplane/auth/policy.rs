//! IAM policy documents as API Gateway evaluates them for `execute-api:Invoke`: resource
//! policies (`x-amazon-apigateway-policy`), the identity policies of IAM callers, and the
//! policy a Lambda authorizer returns. One evaluator for all three; what differs is what a
//! document may say ([`Kind`]) and how its decision combines with the others ([`combine`]).
//!
//! Supported, because API Gateway's own policies use them: `Effect`, `Action`/`NotAction`,
//! `Resource`/`NotResource` with `*` and `?` wildcards, `Principal`/`NotPrincipal` (`*`,
//! `{"AWS": ...}` with ARNs, account ids and account roots) on resource policies, and the
//! `IpAddress`/`NotIpAddress` conditions on `aws:SourceIp` (IPv4 and IPv6 CIDRs). Anything
//! else (another condition, `Federated`/`Service` principals, a VPC key) is refused when the
//! document is read, never silently ignored: a statement tollgate cannot evaluate would
//! otherwise grant or deny what its author did not mean.
//!
//! ```json
//! {"Version": "2012-10-17", "Statement": [
//!   {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
//!    "Resource": "execute-api:/*", "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
//! ]}
//! ```
//!
//! **Architecture Invariant:** evaluation neither allocates nor does IO: everything a request
//! needs is in [`Request`], and the documents are compiled when the config (or the authorizer
//! response) is read.

use std::net::IpAddr;

use serde_json::Value;

use crate::config::Cidr;
use crate::config::cidr::parse_cidr;

/// What kind of document is read: what it may say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An API's resource policy: statements name a `Principal`; `Resource` may use API
    /// Gateway's shorthand `execute-api:/{stage}/{METHOD}/{path}` for this API's ARNs.
    Resource,
    /// An IAM identity's policy, or the policy document a Lambda authorizer returns: no
    /// `Principal` (the caller is the principal).
    Identity,
}

/// Where the shorthand `execute-api:/...` resources of a resource policy point.
#[derive(Clone, Copy, Debug)]
pub struct ApiArn<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub api_id: &'a str,
}

/// One request as policies see it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The method ARN: `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`.
    pub resource: &'a str,
    /// The IAM caller's ARN (`arn:aws:iam::123456789012:user/alice`), `None` for anyone else.
    pub principal: Option<&'a str>,
    /// The client address (from the socket, or from trusted proxies only).
    pub source_ip: IpAddr,
}

/// The outcome of one document, or of several combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A statement denies: nothing else can allow.
    ExplicitDeny,
    /// No statement applies.
    Implicit,
}

/// The actions API Gateway evaluates: calling a method, and invalidating its cache entry
/// (`Cache-Control: max-age=0` under `requireAuthorizationForCacheControl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Invoke,
    InvalidateCache,
}

const INVOKE: &str = "execute-api:Invoke";
const INVALIDATE_CACHE: &str = "execute-api:InvalidateCache";

/// A compiled policy document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    statements: Box<[Statement]>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Statement {
    allow: bool,
    /// Whether the statement covers `execute-api:Invoke` and `execute-api:InvalidateCache`
    /// (decided when read: nothing else is ever asked).
    invoke: bool,
    invalidate: bool,
    resources: Patterns,
    principals: Principals,
    conditions: Box<[Condition]>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Patterns {
    /// `NotResource`: the statement applies to what does not match.
    negated: bool,
    list: Box<[Box<str>]>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Principals {
    /// Identity policies: the caller.
    Caller,
    /// `Principal`/`NotPrincipal` of a resource policy.
    Listed {
        negated: bool,
        /// `*` (anyone, signed or not).
        anyone: bool,
        /// ARNs (wildcards allowed) and account ids (any principal of that account).
        list: Box<[Principal]>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Principal {
    Arn(Box<str>),
    Account(Box<str>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Condition {
    /// `NotIpAddress`.
    negated: bool,
    nets: Box<[Cidr]>,
}

impl Policy {
    /// Reads a policy document (an object, or its JSON text as API Gateway's exports carry it).
    /// An error names what cannot be evaluated.
    pub fn read(doc: &Value, kind: Kind, api: Option<ApiArn<'_>>) -> Result<Policy, String> {
        let parsed;
        let doc = match doc {
            Value::String(text) => {
                parsed = serde_json::from_str::<Value>(text)
                    .map_err(|e| format!("the policy is not JSON: {e}"))?;
                &parsed
            }
            other => other,
        };
        let obj = doc
            .as_object()
            .ok_or("a policy document is a JSON object with `Statement`")?;
        for key in obj.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(format!(
                    "unknown policy field `{key}`: expected Version, Id, Statement"
                ));
            }
        }
        if let Some(v) = obj.get("Version")
            && !matches!(v.as_str(), Some("2012-10-17" | "2008-10-17"))
        {
            return Err(format!(
                "policy `Version` {v}: expected \"2012-10-17\" or \"2008-10-17\""
            ));
        }
        let statements = match obj.get("Statement") {
            Some(Value::Array(list)) => list.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => return Err("a policy needs `Statement`: an object or a list of them".into()),
        };
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(i, s)| statement(s, kind, api).map_err(|e| format!("Statement[{i}]: {e}")))
            .collect::<Result<Box<[Statement]>, String>>()?;
        Ok(Policy { statements })
    }

    /// True when the document has no statement (it decides nothing).
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// IAM's evaluation of `execute-api:Invoke`: an applicable Deny wins, else an applicable
    /// Allow, else nothing.
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        self.evaluate_action(req, Action::Invoke)
    }

    /// [`Policy::evaluate`] for `action`.
    pub fn evaluate_action(&self, req: &Request<'_>, action: Action) -> Decision {
        let mut out = Decision::Implicit;
        for s in self.statements.iter() {
            if s.applies(req, action) {
                if !s.allow {
                    return Decision::ExplicitDeny;
                }
                out = Decision::Allow;
            }
        }
        out
    }

    /// Whether an applicable statement denies (API Gateway evaluates a resource policy for
    /// explicit denials before it calls a Lambda authorizer).
    pub fn denies(&self, req: &Request<'_>) -> bool {
        self.evaluate(req) == Decision::ExplicitDeny
    }
}

impl Statement {
    fn applies(&self, req: &Request<'_>, action: Action) -> bool {
        let covered = match action {
            Action::Invoke => self.invoke,
            Action::InvalidateCache => self.invalidate,
        };
        covered
            && self.resources.matches(req.resource, false)
            && self.principals.match_caller(req.principal)
            && self
                .conditions
                .iter()
                .all(|c| c.negated != c.nets.iter().any(|n| n.contains(req.source_ip)))
    }
}

impl Patterns {
    fn matches(&self, value: &str, ignore_case: bool) -> bool {
        self.negated != self.list.iter().any(|p| glob(p, value, ignore_case))
    }
}

impl Principals {
    fn match_caller(&self, caller: Option<&str>) -> bool {
        let Principals::Listed {
            negated,
            anyone,
            list,
        } = self
        else {
            return true;
        };
        let hit = *anyone
            || caller.is_some_and(|arn| {
                list.iter().any(|p| match p {
                    Principal::Arn(pattern) => glob(pattern, arn, false),
                    Principal::Account(id) => arn_account(arn) == Some(&**id),
                })
            });
        *negated != hit
    }
}

/// The account of an IAM ARN (`arn:aws:iam::123456789012:user/x` → `123456789012`).
pub fn arn_account(arn: &str) -> Option<&str> {
    crate::config::arn::Arn::parse(arn)
        .map(|a| a.account)
        .filter(|a| !a.is_empty())
}

fn statement(v: &Value, kind: Kind, api: Option<ApiArn<'_>>) -> Result<Statement, String> {
    let obj = v.as_object().ok_or("a statement is a JSON object")?;
    for key in obj.keys() {
        let known = matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Principal"
                | "NotPrincipal"
                | "Condition"
        );
        if !known {
            return Err(format!("unknown statement field `{key}`"));
        }
    }
    let allow = match obj.get("Effect").and_then(Value::as_str) {
        Some("Allow") => true,
        Some("Deny") => false,
        _ => return Err("`Effect` must be \"Allow\" or \"Deny\"".into()),
    };
    let actions = one_of(obj, "Action", "NotAction")?;
    let covers =
        |action: &str| actions.negated != actions.list.iter().any(|p| glob(p, action, true));
    let (invoke, invalidate) = (covers(INVOKE), covers(INVALIDATE_CACHE));
    for a in actions.list.iter() {
        if !a.contains(':') && &**a != "*" {
            return Err(format!(
                "action `{a}` is not `service:Action` (API Gateway evaluates `execute-api:Invoke`)"
            ));
        }
    }
    let mut resources = one_of(obj, "Resource", "NotResource")?;
    if kind == Kind::Resource {
        let api = api.ok_or("a resource policy needs its API's ARN")?;
        let expanded: Box<[Box<str>]> = resources
            .list
            .iter()
            .map(|r| match r.strip_prefix("execute-api:/") {
                Some(rest) => format!(
                    "arn:aws:execute-api:{}:{}:{}/{rest}",
                    api.region, api.account, api.api_id
                )
                .into(),
                None => r.clone(),
            })
            .collect();
        resources.list = expanded;
    }
    let principals = principals(obj, kind)?;
    let conditions = match obj.get("Condition") {
        None => Box::default(),
        Some(c) => conditions(c)?,
    };
    Ok(Statement {
        allow,
        invoke,
        invalidate,
        resources,
        principals,
        conditions,
    })
}

/// `Action` or `NotAction` (one of them): a string or a list of strings.
fn one_of(obj: &serde_json::Map<String, Value>, yes: &str, no: &str) -> Result<Patterns, String> {
    let (negated, v) = match (obj.get(yes), obj.get(no)) {
        (Some(v), None) => (false, v),
        (None, Some(v)) => (true, v),
        (Some(_), Some(_)) => return Err(format!("give `{yes}` or `{no}`, not both")),
        (None, None) => return Err(format!("a statement needs `{yes}` (or `{no}`)")),
    };
    Ok(Patterns {
        negated,
        list: strings(v).ok_or_else(|| format!("`{yes}` is a string or a list of strings"))?,
    })
}

fn strings(v: &Value) -> Option<Box<[Box<str>]>> {
    match v {
        Value::String(s) => Some(Box::new([s.as_str().into()])),
        Value::Array(list) => list.iter().map(|s| s.as_str().map(Into::into)).collect(),
        _ => None,
    }
}

fn principals(obj: &serde_json::Map<String, Value>, kind: Kind) -> Result<Principals, String> {
    let (negated, v) = match (obj.get("Principal"), obj.get("NotPrincipal")) {
        (None, None) if kind == Kind::Identity => return Ok(Principals::Caller),
        (None, None) => return Err("a resource policy statement needs `Principal`".into()),
        (Some(_), Some(_)) => return Err("give `Principal` or `NotPrincipal`, not both".into()),
        _ if kind == Kind::Identity => {
            return Err(
                "an identity policy (or an authorizer's policy) has no `Principal`: the caller is the principal"
                    .into(),
            );
        }
        (Some(v), None) => (false, v),
        (None, Some(v)) => (true, v),
    };
    let mut anyone = false;
    let mut list = Vec::new();
    match v {
        Value::String(s) if s == "*" => anyone = true,
        Value::Object(map) => {
            for (k, ids) in map {
                if k != "AWS" {
                    return Err(format!(
                        "principal type `{k}`: only `AWS` principals (IAM callers) and `*` reach API Gateway"
                    ));
                }
                for id in strings(ids).ok_or("`AWS` is a string or a list of strings")? {
                    if &*id == "*" {
                        anyone = true;
                    } else if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
                        list.push(Principal::Account(id));
                    } else if let Some(account) = id
                        .strip_prefix("arn:aws:iam::")
                        .and_then(|r| r.strip_suffix(":root"))
                    {
                        list.push(Principal::Account(account.into()));
                    } else if id.starts_with("arn:") {
                        list.push(Principal::Arn(id));
                    } else {
                        return Err(format!(
                            "principal `{id}` is neither an ARN nor a 12-digit account id"
                        ));
                    }
                }
            }
        }
        _ => return Err("`Principal` is `\"*\"` or `{\"AWS\": ...}`".into()),
    }
    Ok(Principals::Listed {
        negated,
        anyone,
        list: list.into(),
    })
}

fn conditions(v: &Value) -> Result<Box<[Condition]>, String> {
    let obj = v.as_object().ok_or("`Condition` is an object")?;
    let mut out = Vec::new();
    for (op, keys) in obj {
        let negated = match op.as_str() {
            "IpAddress" => false,
            "NotIpAddress" => true,
            other => {
                return Err(format!(
                    "condition operator `{other}` is not supported: tollgate evaluates IpAddress and NotIpAddress on aws:SourceIp"
                ));
            }
        };
        let keys = keys
            .as_object()
            .ok_or_else(|| format!("`{op}` is an object of condition keys"))?;
        for (key, values) in keys {
            if !key.eq_ignore_ascii_case("aws:SourceIp") {
                return Err(format!(
                    "condition key `{key}` is not supported: `{op}` takes aws:SourceIp"
                ));
            }
            let nets = strings(values)
                .ok_or_else(|| format!("`{key}` is a CIDR or a list of CIDRs"))?
                .iter()
                .map(|s| parse_cidr(s))
                .collect::<Result<Box<[Cidr]>, String>>()?;
            out.push(Condition { negated, nets });
        }
    }
    Ok(out.into())
}

/// IAM's wildcard match: `*` any run of characters (`/` included), `?` exactly one.
fn glob(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (p, v) = (pattern.as_bytes(), value.as_bytes());
    let eq = |a: u8, b: u8| a == b || (ignore_case && a.eq_ignore_ascii_case(&b));
    let (mut i, mut j) = (0, 0);
    // The last `*` seen and the value position it was tried at: backtracking restarts there,
    // so the match is linear in practice and never exponential.
    let mut star: Option<(usize, usize)> = None;
    while j < v.len() {
        if i < p.len() && (p[i] == b'?' || (p[i] != b'*' && eq(p[i], v[j]))) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == b'*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == b'*')
}

/// How API Gateway combines an authorizer's or IAM identity's decision with the API's
/// resource policy (its "policy evaluation outcome tables"): in the API's own account, a Deny
/// anywhere wins, else an Allow anywhere allows (Table A); a caller from another account
/// needs an Allow from both (Table B). Without a resource policy, the identity decides.
pub fn combine(identity: Decision, resource: Option<Decision>, same_account: bool) -> Decision {
    use Decision::*;
    let Some(resource) = resource else {
        return identity;
    };
    match (identity, resource) {
        (ExplicitDeny, _) | (_, ExplicitDeny) => ExplicitDeny,
        (Allow, Allow) => Allow,
        (Allow, Implicit) | (Implicit, Allow) if same_account => Allow,
        _ => Implicit,
    }
}

#[cfg(test)]
mod tests;
