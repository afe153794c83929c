//! The function a Lambda URI names, shared by Lambda authorizers (`authorizerUri`) and Lambda
//! proxy integrations (`uri`): `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/
//! {functionArn}/invocations`, whose function ARN may hold `${stageVariables.NAME}`. Parsed
//! once at validation ([`function_of`]), resolved per stage ([`resolve`]),
//! and checked to reach a `functions` entry on every stage ([`check_stages`]).

use super::{FunctionSpec, find_function, short_name};
use crate::config::gateway::StageEntry;
use crate::config::reader::{Errors, Loc};
use crate::config::uri::stage_var_name_ok;

/// A piece of the function ARN inside a Lambda URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FnPiece {
    Lit(String),
    StageVar(String),
}

/// Which URI names the function: its messages say so.
#[derive(Clone, Copy, Debug)]
pub(crate) enum UriOf {
    Authorizer,
    Integration,
}

impl UriOf {
    /// What a malformed URI is not.
    fn kind(self) -> &'static str {
        match self {
            UriOf::Authorizer => "a Lambda authorizer URI",
            UriOf::Integration => "a Lambda proxy integration URI",
        }
    }

    /// Where only `${stageVariables.NAME}` may appear.
    fn var_place(self) -> &'static str {
        match self {
            UriOf::Authorizer => "an authorizer URI",
            UriOf::Integration => "the function part of a Lambda integration URI",
        }
    }

    /// The URI an undefined stage variable is used in.
    fn used_in(self) -> &'static str {
        match self {
            UriOf::Authorizer => "the authorizer URI",
            UriOf::Integration => "the Lambda integration URI",
        }
    }

    /// The event the function takes.
    fn event(self) -> &'static str {
        match self {
            UriOf::Authorizer => "the authorizer event",
            UriOf::Integration => "the proxy event",
        }
    }
}

const URI_INFIX: &str = ":lambda:path/2015-03-31/functions/";
const URI_SUFFIX: &str = "/invocations";

/// `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations` →
/// the function ARN's pieces; errors point at `loc`.
pub(crate) fn function_of(
    uri: &str,
    of: UriOf,
    loc: &Loc,
    errors: &mut Errors,
) -> Option<Vec<FnPiece>> {
    let arn = uri
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(URI_INFIX))
        .filter(|(head, _)| head.contains(":apigateway:"))
        .and_then(|(_, f)| f.strip_suffix(URI_SUFFIX))
        .filter(|f| !f.is_empty());
    let Some(arn) = arn else {
        loc.err(
            errors,
            format!("`{uri}` is not {}: expected `arn:aws:apigateway:{{region}}:lambda:path/2015-03-31/functions/{{functionArn}}/invocations`", of.kind()),
        );
        return None;
    };
    let mut pieces = Vec::new();
    let mut rest = arn;
    while let Some(at) = rest.find("${") {
        if at > 0 {
            pieces.push(FnPiece::Lit(rest[..at].to_string()));
        }
        let Some(end) = rest[at..].find('}') else {
            loc.err(errors, format!("unclosed `${{` in `{uri}`"));
            return None;
        };
        let inner = &rest[at + 2..at + end];
        match inner.strip_prefix("stageVariables.") {
            Some(v) if stage_var_name_ok(v) => pieces.push(FnPiece::StageVar(v.to_string())),
            _ => {
                loc.err(
                    errors,
                    format!(
                        "`${{{inner}}}` in `{uri}`: only `${{stageVariables.NAME}}` may appear in {}",
                        of.var_place()
                    ),
                );
                return None;
            }
        }
        rest = &rest[at + end + 1..];
    }
    if !rest.is_empty() {
        pieces.push(FnPiece::Lit(rest.to_string()));
    }
    Some(pieces)
}

/// The function name `pieces` resolve to on a stage with `variables`; `Err`: the stage
/// variable that is not defined.
fn expand<'p>(pieces: &'p [FnPiece], variables: &[(String, String)]) -> Result<String, &'p str> {
    let mut out = String::new();
    for p in pieces {
        match p {
            FnPiece::Lit(s) => out.push_str(s),
            FnPiece::StageVar(v) => match variables.iter().find(|(k, _)| k == v) {
                Some((_, value)) => out.push_str(value),
                None => return Err(v),
            },
        }
    }
    Ok(out)
}

/// The function name `pieces` resolve to on a stage with `variables`, or the error.
fn function_name(
    pieces: &[FnPiece],
    of: UriOf,
    variables: &[(String, String)],
) -> Result<String, String> {
    expand(pieces, variables).map_err(|v| {
        format!(
            "stage variable `{v}` used in {} is not defined",
            of.used_in()
        )
    })
}

/// The `functions` entry `pieces` reach on a stage with `variables`, if any.
pub(crate) fn resolve(
    pieces: &[FnPiece],
    variables: &[(String, String)],
    functions: &[FunctionSpec],
) -> Option<usize> {
    find_function(functions, &expand(pieces, variables).ok()?)
}

/// `pieces` must reach a `functions` entry on each of `stages`: an undefined stage variable or
/// an unmapped function is an error at `uri_loc`, the latter naming the entry to add. `who`
/// describes the caller on a stage (`Lambda authorizer `a` of API `b` (stage `c`)`).
pub(crate) fn check_stages<'s>(
    pieces: &[FnPiece],
    of: UriOf,
    uri_loc: &Loc,
    stages: impl Iterator<Item = &'s StageEntry>,
    functions: &[FunctionSpec],
    errors: &mut Errors,
    who: impl Fn(&str) -> String,
) {
    for s in stages {
        let name = match function_name(pieces, of, &s.variables) {
            Ok(n) => n,
            Err(e) => {
                uri_loc.err(errors, format!("stage `{}`: {e}", s.name));
                continue;
            }
        };
        if find_function(functions, &name).is_none() {
            let short = short_name(&name).unwrap_or(&name);
            uri_loc.err(
                errors,
                format!(
                    "{} calls function `{name}`, which the gateway file's `functions` does not map: {}",
                    who(&s.name),
                    add_hint(short, of)
                ),
            );
        }
    }
}

/// The `functions` entry to add for an unmapped function `short`, by kind.
fn add_hint(short: &str, of: UriOf) -> String {
    format!(
        "add `\"functions\": {{\"{short}\": {{\"url\": \"http://127.0.0.1:9001/\"}}}}`, an HTTP endpoint that takes {} as a POST body and answers with the function's result; or give `local` (a process on the Lambda Runtime API) or `remote` (Lambda's Invoke API) in place of `url`",
        of.event()
    )
}

#[cfg(test)]
mod tests {
    use super::{FnPiece, UriOf, function_name, function_of};
    use crate::config::reader::Loc;

    const URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:${stageVariables.fn}/invocations";

    fn parse(uri: &str, of: UriOf) -> Result<Vec<FnPiece>, String> {
        let loc = Loc {
            file: "api.json".into(),
            path: "$.uri".into(),
        };
        let mut errors = Vec::new();
        function_of(uri, of, &loc, &mut errors).ok_or_else(|| errors[0].message.clone())
    }

    #[test]
    fn stage_variables_in_the_function_arn_resolve_per_stage() {
        let pieces = parse(URI, UriOf::Authorizer).unwrap();
        let vars = [("fn".to_string(), "auth".to_string())];
        assert_eq!(
            function_name(&pieces, UriOf::Authorizer, &vars).unwrap(),
            "arn:aws:lambda:us-east-1:1:function:auth"
        );
        assert_eq!(
            function_name(&pieces, UriOf::Authorizer, &[]).unwrap_err(),
            "stage variable `fn` used in the authorizer URI is not defined"
        );
        assert_eq!(
            function_name(&pieces, UriOf::Integration, &[]).unwrap_err(),
            "stage variable `fn` used in the Lambda integration URI is not defined"
        );
    }

    #[test]
    fn errors_say_which_uri() {
        let other = URI.replace("stageVariables.fn", "context.x");
        let err = parse(&other, UriOf::Authorizer).unwrap_err();
        assert!(err.ends_with("may appear in an authorizer URI"), "{err}");
        let err = parse(&other, UriOf::Integration).unwrap_err();
        assert!(
            err.ends_with("may appear in the function part of a Lambda integration URI"),
            "{err}"
        );
        let err = parse("arn:aws:lambda:us-east-1:1:function:f", UriOf::Authorizer).unwrap_err();
        assert!(err.contains("is not a Lambda authorizer URI"), "{err}");
        let err = parse(&URI.replace('}', ""), UriOf::Integration).unwrap_err();
        assert!(err.starts_with("unclosed `${`"), "{err}");
    }
}
