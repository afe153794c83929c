//! Lambda proxy integrations (`type: aws_proxy`, SPEC-NOTES §1): the function an integration
//! `uri` names, its payload format and timeout, resolved per stage against the gateway file's
//! `functions` (the same lookup as Lambda authorizers, `functions.rs`).
//!
//! ```yaml
//! x-amazon-apigateway-integration:
//!   type: aws_proxy
//!   httpMethod: POST
//!   uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}/invocations
//!   payloadFormatVersion: "2.0"   # HTTP APIs: required, 1.0 or 2.0; REST APIs: always 1.0
//!   timeoutInMillis: 29000
//! ```
//!
//! Validation reads the integration here; `check_integration_functions` reports an unmapped
//! function per stage once the stages are known; compile resolves each stage's function to a
//! `FunctionIdx` (`Snapshot::functions` holds every `functions` entry in order).

use std::time::Duration;

use super::functions::{FnPiece, FunctionSpec, UriOf, check_stages, function_of, resolve};
use super::gateway::{Declared, StageEntry};
use super::integration::IntegrationSpec;
use super::reader::{Errors, Loc, Node, Obj};
use super::{FunctionIdx, LambdaProxy, PayloadVersion, Protocol};

/// One `aws_proxy` integration as written.
#[derive(Clone, Debug)]
pub(crate) struct LambdaSpec {
    /// The function ARN inside `uri`, with its `${stageVariables.x}`.
    pub function: Vec<FnPiece>,
    /// Where `uri` is: errors about the function point here.
    pub uri_loc: Loc,
    pub payload: PayloadVersion,
    pub timeout: Duration,
}

/// Reads the `aws_proxy`-specific properties of an integration object (the common ones are
/// checked by the caller).
pub(crate) fn validate_lambda(
    obj: &mut Obj<'_>,
    at: &Node<'_>,
    protocol: Protocol,
    timeout: Duration,
    errors: &mut Errors,
) -> Option<LambdaSpec> {
    let method = obj.req("httpMethod", errors);
    if let Some(m) = &method
        && let Some(s) = m.str(errors)
        && !s.eq_ignore_ascii_case("POST")
    {
        m.err(
            errors,
            format!(
                "a Lambda proxy integration's httpMethod is POST (Lambda's Invoke API), not `{s}`"
            ),
        );
    }
    let payload = match (obj.opt_non_null("payloadFormatVersion"), protocol) {
        (None, Protocol::Rest) => Some(PayloadVersion::V1),
        (None, Protocol::Http) => {
            at.err(
                errors,
                "an HTTP API's Lambda proxy integration needs `payloadFormatVersion`: \"1.0\" or \"2.0\"",
            );
            None
        }
        (Some(n), _) => match n.str_or_number(errors).as_deref() {
            Some("1.0" | "1") => Some(PayloadVersion::V1),
            Some("2.0") if protocol == Protocol::Http => Some(PayloadVersion::V2),
            Some("2.0") => {
                n.err(errors, "payload format 2.0 is for HTTP APIs: REST APIs' Lambda proxy integrations send the 1.0 event");
                None
            }
            // `common` reported any other value.
            _ => None,
        },
    };
    // Proxy integrations pass the request and response through: API Gateway ignores
    // mapping templates, parameters and integration responses on them (and `tlsConfig`,
    // which is for HTTP backends), and so does tollgate.
    for key in [
        "requestTemplates",
        "responses",
        "requestParameters",
        "tlsConfig",
    ] {
        obj.accept(key);
    }
    let uri = obj.req("uri", errors)?;
    let function = function_of(uri.str(errors)?, UriOf::Integration, &uri.loc(), errors)?;
    Some(LambdaSpec {
        function,
        uri_loc: uri.loc(),
        payload: payload?,
        timeout,
    })
}

/// Properties API Gateway takes on a Lambda proxy integration that tollgate accepts and
/// ignores (read before the common ones, which report them as not supported elsewhere):
/// `credentials` (the role API Gateway assumes to invoke the function; the gateway file's
/// `functions` say how a function is reached) and `contentHandling` (exports carry
/// `CONVERT_TO_TEXT` on proxy integrations; the event's body encoding follows
/// `binaryMediaTypes`).
pub(crate) fn lambda_only(obj: &mut Obj<'_>, errors: &mut Errors) {
    if let Some(n) = obj.opt_non_null("credentials") {
        n.str(errors);
    }
    if let Some(n) = obj.opt_non_null("contentHandling")
        && let Some(s) = n.str(errors)
        && !["CONVERT_TO_TEXT", "CONVERT_TO_BINARY"].contains(&s)
    {
        n.err(
            errors,
            format!("unknown contentHandling `{s}`: expected CONVERT_TO_TEXT or CONVERT_TO_BINARY"),
        );
    }
}

/// Every Lambda proxy integration must reach a function on every stage of its API: an
/// unmapped one is an error naming it, with the entry to add.
pub(crate) fn check_integration_functions(
    declared: &Declared,
    stages: &[StageEntry],
    functions: &[FunctionSpec],
    errors: &mut Errors,
) {
    for (a, (id, _, entry)) in declared.apis.iter().enumerate() {
        let Some(entry) = entry else { continue };
        for route in &entry.def.routes {
            let IntegrationSpec::Lambda(spec) = &route.integration else {
                continue;
            };
            check_stages(
                &spec.function,
                UriOf::Integration,
                &spec.uri_loc,
                stages.iter().filter(|s| s.api == a),
                functions,
                errors,
                |stage| {
                    format!(
                        "the Lambda proxy integration of `{}` in API `{id}` (stage `{stage}`)",
                        route.route.route_key
                    )
                },
            );
        }
    }
}

/// The integration on one stage. An unmapped function (only possible where the gateway
/// file's `functions` were not checked, e.g. `load_definition`) leaves `function` empty: such
/// a route answers 502.
pub(crate) fn compile_lambda_integration(
    spec: &LambdaSpec,
    stage: &StageEntry,
    functions: &[FunctionSpec],
) -> LambdaProxy {
    let found = resolve(&spec.function, &stage.variables, functions);
    LambdaProxy {
        function: found.map(|f| FunctionIdx(f as u32)),
        payload: spec.payload,
        timeout: found.map_or(spec.timeout, |f| spec.timeout.min(functions[f].timeout)),
    }
}

/// `LAMBDA arn:aws:lambda:...:function:NAME (payload 2.0)` for `tollgate routes`.
pub(crate) fn describe(l: &LambdaProxy, functions: &[super::Function]) -> String {
    let name = l
        .function
        .and_then(|f| functions.get(f.0 as usize))
        .map_or("(unmapped function)", |f| f.name.as_str());
    let v = match l.payload {
        PayloadVersion::V1 => "1.0",
        PayloadVersion::V2 => "2.0",
    };
    format!("AWS_PROXY {name} (payload {v})")
}
