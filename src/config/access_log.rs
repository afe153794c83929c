//! Stage `accessLogSettings` (AWS `AccessLogSettings`: `destinationArn`, `format`): the
//! destination becomes a file path (relative to the gateway file) or standard output (`-` or
//! `stdout`), and the `$context` format string is compiled once into pieces
//! (`dataplane/access_log.rs` renders them per request). The variables are SPEC-NOTES §3's;
//! an unknown one is a validation error naming it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::reader::{Errors, Node};

/// Where a stage's access log lines go. Stages naming the same destination share one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LogDestination {
    Stdout,
    /// Standard error (execution logs' default).
    Stderr,
    /// The OTLP exporter (span batches: `dataplane/otlp.rs`, never sent to the log writer).
    Spans,
    File(PathBuf),
}

/// A stage's compiled access log settings.
#[derive(Clone, Debug)]
pub struct AccessLog {
    /// Index into `Snapshot.log_destinations`.
    pub destination: u32,
    pub format: Arc<[LogPiece]>,
    /// The format names `$context.xrayTraceId`: the request's trace id is made at routing
    /// even when nothing else needs it.
    pub needs_trace: bool,
    /// The format names `authorizer.*` values: the request keeps its claims and grant for
    /// the line.
    pub needs_authorizer: bool,
}

/// One piece of a compiled format: literal text or a `$context` variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogPiece {
    Literal(Box<[u8]>),
    Var(LogVar),
}

/// The `$context` variables an access log can name (SPEC-NOTES §3). Those that have no
/// meaning on a self-hosted gateway (WAF, Cognito identities, X-Ray before trace ids are
/// kept, ...) render `-`, as API Gateway renders a variable without a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogVar {
    AccountId,
    ApiId,
    DomainName,
    DomainPrefix,
    ErrorMessage,
    ErrorMessageString,
    ErrorResponseType,
    ExtendedRequestId,
    HttpMethod,
    SourceIp,
    UserAgent,
    ApiKey,
    ApiKeyId,
    IsCanaryRequest,
    Path,
    Protocol,
    RequestId,
    RequestTime,
    RequestTimeEpoch,
    ResourcePath,
    RouteKey,
    Stage,
    Status,
    ResponseLength,
    ResponseLatency,
    IntegrationLatency,
    /// The integration's (backend's) status (`integration.status`, `integrationStatus`,
    /// `integration.integrationStatus`).
    IntegrationStatus,
    /// `authorizer.principalId`: the Lambda authorizer's `principalId`.
    AuthorizerPrincipalId,
    /// `authorizer.claims.<name>`: a claim of the token a JWT authorizer verified.
    AuthorizerClaim(Box<str>),
    /// `authorizer.<key>`: a value of the Lambda authorizer's `context`.
    AuthorizerValue(Box<str>),
    /// `xrayTraceId`: the `Root` of the request's `X-Amzn-Trace-Id` (`1-{8 hex}-{24 hex}`).
    TraceId,
    /// A variable API Gateway defines that has no value here: always `-`.
    Dash,
}

/// Variables with a value, by name.
const VARS: &[(&str, LogVar)] = &[
    ("accountId", LogVar::AccountId),
    ("apiId", LogVar::ApiId),
    ("domainName", LogVar::DomainName),
    ("domainPrefix", LogVar::DomainPrefix),
    ("error.message", LogVar::ErrorMessage),
    ("error.messageString", LogVar::ErrorMessageString),
    ("error.responseType", LogVar::ErrorResponseType),
    ("extendedRequestId", LogVar::ExtendedRequestId),
    ("httpMethod", LogVar::HttpMethod),
    ("identity.sourceIp", LogVar::SourceIp),
    ("identity.userAgent", LogVar::UserAgent),
    ("identity.apiKey", LogVar::ApiKey),
    ("identity.apiKeyId", LogVar::ApiKeyId),
    ("isCanaryRequest", LogVar::IsCanaryRequest),
    ("path", LogVar::Path),
    ("protocol", LogVar::Protocol),
    ("requestId", LogVar::RequestId),
    ("requestTime", LogVar::RequestTime),
    ("requestTimeEpoch", LogVar::RequestTimeEpoch),
    ("resourcePath", LogVar::ResourcePath),
    ("routeKey", LogVar::RouteKey),
    ("stage", LogVar::Stage),
    ("status", LogVar::Status),
    ("responseLength", LogVar::ResponseLength),
    ("responseLatency", LogVar::ResponseLatency),
    ("integrationLatency", LogVar::IntegrationLatency),
    ("integration.latency", LogVar::IntegrationLatency),
    ("integrationStatus", LogVar::IntegrationStatus),
    ("integration.status", LogVar::IntegrationStatus),
    ("integration.integrationStatus", LogVar::IntegrationStatus),
    ("xrayTraceId", LogVar::TraceId),
];

/// Variables API Gateway defines that render `-` here.
const DASH_VARS: &[&str] = &[
    "awsEndpointRequestId",
    "awsEndpointRequestId2",
    "dataProcessed",
    "error.validationErrorString",
    "identity.accountId",
    "identity.caller",
    "identity.cognitoAuthenticationProvider",
    "identity.cognitoAuthenticationType",
    "identity.cognitoIdentityId",
    "identity.cognitoIdentityPoolId",
    "identity.principalOrgId",
    "identity.user",
    "identity.userArn",
    "identity.clientCert.clientCertPem",
    "identity.clientCert.subjectDN",
    "identity.clientCert.issuerDN",
    "identity.clientCert.serialNumber",
    "identity.clientCert.validity.notBefore",
    "identity.clientCert.validity.notAfter",
    "resourceId",
    "wafResponseCode",
    "webaclArn",
    "authorize.error",
    "authorize.latency",
    "authorize.status",
    "authorizer.error",
    "authorizer.integrationLatency",
    "authorizer.integrationStatus",
    "authorizer.latency",
    "authorizer.requestId",
    "authorizer.status",
    "authenticate.error",
    "authenticate.latency",
    "authenticate.status",
    "customDomain.basePathMatched",
    "integration.error",
    "integration.requestId",
    "integrationErrorMessage",
    "waf.error",
    "waf.latency",
    "waf.status",
];

/// Families of variables with a caller-chosen last part (`requestOverride.header.<name>`,
/// ...): accepted, rendered `-`.
const DASH_PREFIXES: &[&str] = &["requestOverride.", "responseOverride."];

/// The longest format accepted (API Gateway limits HTTP API formats to 3 KB; REST to more).
const MAX_FORMAT: usize = 16 * 1024;

/// `accessLogSettings` as read: the destination (unresolved) and the compiled format.
#[derive(Clone, Debug)]
pub(crate) struct AccessLogSpec {
    pub destination: String,
    pub format: Arc<[LogPiece]>,
}

/// Read a stage's `accessLogSettings`. Absent `format` or `destinationArn` means no access
/// log, as on API Gateway (both are needed to turn logging on).
pub(crate) fn read(node: &Node<'_>, errors: &mut Errors) -> Option<AccessLogSpec> {
    let mut obj = node.obj(errors)?;
    let dest = obj.opt_non_null("destinationArn");
    let format = obj.opt_non_null("format");
    obj.finish(errors);
    let (dest, format) = (dest?, format?);
    let dest_str = dest.str(errors)?;
    let format_str = format.str(errors)?;
    if dest_str.starts_with("arn:") {
        dest.err(
            errors,
            format!(
                "`{dest_str}`: tollgate writes access logs to a file path (relative to the gateway file) or `-` for standard output, not to a CloudWatch Logs or Firehose ARN"
            ),
        );
        return None;
    }
    if dest_str.is_empty() {
        dest.err(errors, "empty destination: give a file path or `-`");
        return None;
    }
    match compile_format(format_str) {
        Ok(pieces) => Some(AccessLogSpec {
            destination: dest_str.to_string(),
            format: pieces.into(),
        }),
        Err(message) => {
            format.err(errors, message);
            None
        }
    }
}

/// Where `destination` (as written in the stage) goes, relative to the gateway file's
/// directory.
pub(crate) fn destination(destination: &str, source: &Path) -> LogDestination {
    match destination {
        "-" | "stdout" | "/dev/stdout" => LogDestination::Stdout,
        path => LogDestination::File(
            source
                .parent()
                .unwrap_or(Path::new(""))
                .join(path.strip_prefix("file://").unwrap_or(path)),
        ),
    }
}

/// Compile a `$context` format into pieces. `$context.name` ends at the first character
/// that is not a letter, digit, `_` or `.` (a trailing `.` is text); `${context.name}`
/// (VTL's formal reference) is accepted too. A `$` not followed by `context.` is text.
pub fn compile_format(format: &str) -> Result<Vec<LogPiece>, String> {
    if format.len() > MAX_FORMAT {
        return Err(format!(
            "the access log format is {} bytes; at most {MAX_FORMAT}",
            format.len()
        ));
    }
    if format.contains(['\n', '\r']) {
        return Err("the access log format must be one line (no line breaks)".into());
    }
    let bytes = format.as_bytes();
    let mut pieces = Vec::new();
    let mut text = Vec::new();
    let mut unknown = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &format[i..];
        let (name, used) = if let Some(r) = rest.strip_prefix("${context.") {
            match r.find('}') {
                Some(end) => (&r[..end], "${context.".len() + end + 1),
                None => return Err(format!("unclosed `${{context.` at byte {i}")),
            }
        } else if let Some(r) = rest.strip_prefix("$context.") {
            let len = r
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
                .count();
            let name = r[..len].trim_end_matches('.');
            (name, "$context.".len() + name.len())
        } else {
            text.push(bytes[i]);
            i += 1;
            continue;
        };
        match lookup(name) {
            Some(var) => {
                if !text.is_empty() {
                    pieces.push(LogPiece::Literal(std::mem::take(&mut text).into()));
                }
                pieces.push(LogPiece::Var(var));
            }
            None => unknown.push(format!("$context.{name}")),
        }
        i += used;
    }
    if !unknown.is_empty() {
        return Err(format!(
            "unknown access log variable(s): {} (README, \"Access logs\", lists the supported ones)",
            unknown.join(", ")
        ));
    }
    if !text.is_empty() {
        pieces.push(LogPiece::Literal(text.into()));
    }
    if !pieces.iter().any(|p| matches!(p, LogPiece::Var(_))) {
        return Err("the access log format names no `$context` variable".into());
    }
    Ok(pieces)
}

fn lookup(name: &str) -> Option<LogVar> {
    if let Some((_, v)) = VARS.iter().find(|(n, _)| *n == name) {
        return Some(v.clone());
    }
    if DASH_VARS.contains(&name) {
        return Some(LogVar::Dash);
    }
    if name == "authorizer.principalId" {
        return Some(LogVar::AuthorizerPrincipalId);
    }
    if let Some(claim) = name
        .strip_prefix("authorizer.claims.")
        .filter(|c| !c.is_empty())
    {
        return Some(LogVar::AuthorizerClaim(claim.into()));
    }
    if let Some(key) = name
        .strip_prefix("authorizer.")
        .filter(|k| !k.is_empty() && *k != "claims")
    {
        return Some(LogVar::AuthorizerValue(key.into()));
    }
    let dash = DASH_PREFIXES
        .iter()
        .any(|p| name.len() > p.len() && name.starts_with(p));
    dash.then_some(LogVar::Dash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_compiles_into_pieces() {
        let p = compile_format(
            "$context.identity.sourceIp - - [$context.requestTime] \"$context.httpMethod $context.resourcePath $context.protocol\" $context.status $context.responseLength $context.requestId",
        )
        .unwrap();
        assert_eq!(p[0], LogPiece::Var(LogVar::SourceIp));
        assert_eq!(p[1], LogPiece::Literal(b" - - [".to_vec().into()));
        assert_eq!(p[2], LogPiece::Var(LogVar::RequestTime));
        assert_eq!(p.last(), Some(&LogPiece::Var(LogVar::RequestId)));
    }

    #[test]
    fn names_end_where_a_name_cannot_continue() {
        let p = compile_format("${context.status}x $context.requestTimeEpoch.").unwrap();
        assert_eq!(
            p,
            [
                LogPiece::Var(LogVar::Status),
                LogPiece::Literal(b"x ".to_vec().into()),
                LogPiece::Var(LogVar::RequestTimeEpoch),
                LogPiece::Literal(b".".to_vec().into()),
            ]
        );
        let p = compile_format("$context.authorizer.claims.sub $5 $contextual").unwrap();
        assert_eq!(p[0], LogPiece::Var(LogVar::AuthorizerClaim("sub".into())));
        assert_eq!(p[1], LogPiece::Literal(b" $5 $contextual".to_vec().into()));
    }

    #[test]
    fn unknown_variables_are_named() {
        let e =
            compile_format("$context.requestId $context.nope $context.identity.bogus").unwrap_err();
        assert!(e.contains("$context.nope, $context.identity.bogus"), "{e}");
        assert!(compile_format("just text").is_err());
        assert!(compile_format("${context.status").is_err());
    }
}
