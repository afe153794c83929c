//! What a Lambda authorizer answered (SPEC-NOTES §1.4): the policy output `{principalId,
//! policyDocument, context, usageIdentifierKey}`, an HTTP API simple response `{isAuthorized,
//! context}`, or an error. Pure: bytes in, [`Answer`] out.

use serde_json::{Map, Value};

use super::super::auth::policy::{Kind, Policy};
use crate::config::LambdaKind;

/// The authorizer's `context`: (key, value) in the function's order.
pub type Context = Box<[(Box<str>, Box<str>)]>;

/// A usable result, kept in the result cache and reused for other methods.
#[derive(Debug, PartialEq, Eq)]
pub struct Grant {
    /// `principalId` (empty for simple responses).
    pub principal_id: Box<str>,
    /// `context`, values stringified (numbers as JSON text, booleans `true`/`false`).
    pub context: Context,
    /// `usageIdentifierKey`: the API key when the API's key source is `AUTHORIZER`.
    pub usage_key: Option<Box<str>>,
    pub verdict: Verdict,
    /// Roughly what the cache pays to keep it: the answer's size plus bookkeeping.
    pub cost: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Evaluated against each request's method ARN.
    Policy(Policy),
    /// `isAuthorized`.
    Simple(bool),
}

impl Grant {
    /// `context.authorizer.NAME`: `principalId`, else a `context` key.
    pub fn value(&self, name: &str) -> Option<&str> {
        if name == "principalId" && !self.principal_id.is_empty() {
            return Some(&self.principal_id);
        }
        self.context
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| &**v)
    }
}

/// What a cached grant costs beyond the answer's bytes (allocations, the entry).
const GRANT_OVERHEAD: usize = 256;

/// How the function answered.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Grant(Grant),
    /// The function failed with `Unauthorized` → 401.
    Unauthorized,
    /// Any other error, or output API Gateway would not accept → 500; the reason is logged.
    Invalid(&'static str),
}

/// A function error (`X-Amz-Function-Error`): never an authorization answer, except the
/// error `Unauthorized`, which is how an authorizer says 401.
pub fn failed(body: &[u8]) -> Answer {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("errorMessage"))
        .and_then(Value::as_str);
    if message == Some("Unauthorized") {
        Answer::Unauthorized
    } else {
        Answer::Invalid("the function failed")
    }
}

/// Reads the function's result: `status` and `body` of the endpoint's answer.
pub fn read(kind: LambdaKind, status: u16, body: &[u8]) -> Answer {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| {
        let o = v.as_object()?;
        (o.contains_key("errorMessage")
            && !o.contains_key("policyDocument")
            && !o.contains_key("isAuthorized"))
        .then(|| o.get("errorMessage").and_then(Value::as_str).unwrap_or(""))
    });
    // Lambda's runtime API (and RIE) answers a failed invocation with the error object; a
    // plain endpoint may say it with a status too.
    if !(200..300).contains(&status) || error.is_some() {
        let text = error.or_else(|| {
            parsed
                .as_ref()
                .and_then(Value::as_str)
                .or_else(|| std::str::from_utf8(body).ok().map(str::trim))
        });
        return if text == Some("Unauthorized") {
            Answer::Unauthorized
        } else {
            Answer::Invalid("the function failed")
        };
    }
    let Some(Value::Object(out)) = parsed else {
        return Answer::Invalid("the result is not a JSON object");
    };
    let context = match out.get("context") {
        None | Some(Value::Null) => Ok(Box::default()),
        Some(Value::Object(c)) => context_of(c),
        Some(_) => Err("`context` is not an object"),
    };
    let context = match context {
        Ok(c) => c,
        Err(why) => return Answer::Invalid(why),
    };
    if let LambdaKind::Http { simple: true, .. } = kind {
        return match out.get("isAuthorized") {
            Some(Value::Bool(b)) => Answer::Grant(Grant {
                principal_id: "".into(),
                context,
                usage_key: None,
                verdict: Verdict::Simple(*b),
                cost: GRANT_OVERHEAD + body.len(),
            }),
            _ => Answer::Invalid("a simple response needs `isAuthorized` (a boolean)"),
        };
    }
    let principal_id = match out.get("principalId") {
        Some(Value::String(p)) => p.as_str().into(),
        Some(Value::Number(n)) => n.to_string().into(),
        _ => return Answer::Invalid("`principalId` is missing"),
    };
    let Some(doc) = out.get("policyDocument") else {
        return Answer::Invalid("`policyDocument` is missing");
    };
    let policy = match Policy::read(doc, Kind::Identity, None) {
        Ok(p) => p,
        Err(_) => return Answer::Invalid("`policyDocument` cannot be evaluated"),
    };
    let usage_key = match out.get("usageIdentifierKey") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.as_str().into()),
        Some(_) => return Answer::Invalid("`usageIdentifierKey` is not a string"),
    };
    Answer::Grant(Grant {
        principal_id,
        context,
        usage_key,
        verdict: Verdict::Policy(policy),
        cost: GRANT_OVERHEAD + body.len(),
    })
}

/// String, number and boolean values only (SPEC-NOTES §1.4: nested objects or arrays are not
/// allowed), stringified as `$context.authorizer.*` shows them.
fn context_of(c: &Map<String, Value>) -> Result<Context, &'static str> {
    c.iter()
        .map(|(k, v)| {
            let text: Box<str> = match v {
                Value::String(s) => s.as_str().into(),
                Value::Number(n) => n.to_string().into(),
                Value::Bool(b) => if *b { "true" } else { "false" }.into(),
                _ => return Err("a `context` value is not a string, number or boolean"),
            };
            Ok((k.as_str().into(), text))
        })
        .collect()
}
