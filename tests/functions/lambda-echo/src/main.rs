//! A Lambda function on the official `lambda_runtime` crate, unmodified Lambda code: run it
//! with `AWS_LAMBDA_RUNTIME_API` set (tollgate's function host does) and it serves
//! invocations over the Runtime API.
//!
//! As a Lambda authorizer (an event with `type` `TOKEN` or `REQUEST`), the token (TOKEN:
//! `authorizationToken`; REQUEST: header `X-Key`) picks the answer: `allow` (Allow on the
//! whole stage, principalId `rust-allow`), `deny` (explicit Deny), anything else fails
//! with `Unauthorized`. An API Gateway proxy event (payload 1.0 or 2.0: `requestContext`
//! with `httpMethod` or `routeKey`) gets a proxy result: 200, `hello world\n` as text, with
//! the invocation's request id and the event's path in `x-request-id` / `x-path` headers.
//! Any other event is echoed with the invocation's context.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(handle)).await
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    let kind = payload["type"].as_str().unwrap_or("");
    if kind == "TOKEN" || kind == "REQUEST" {
        return authorize(&payload);
    }
    if payload.get("requestContext").is_some()
        && (payload.get("httpMethod").is_some() || payload.get("routeKey").is_some())
    {
        let path = payload["path"]
            .as_str()
            .or_else(|| payload["rawPath"].as_str())
            .unwrap_or("");
        return Ok(json!({
            "statusCode": 200,
            "headers": {
                "content-type": "text/plain",
                "x-request-id": context.request_id,
                "x-path": path,
            },
            "body": "hello world\n",
        }));
    }
    println!("rust echo {}", context.request_id);
    Ok(json!({
        "event": payload,
        "requestId": context.request_id,
        "arn": context.invoked_function_arn,
        "function": context.env_config.function_name,
        "memory": context.env_config.memory,
        "pid": std::process::id(),
    }))
}

fn authorize(event: &Value) -> Result<Value, Error> {
    let token = match event["type"].as_str() {
        Some("TOKEN") => event["authorizationToken"].as_str(),
        _ => event["headers"]
            .as_object()
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("x-key")))
            .and_then(|(_, v)| v.as_str()),
    }
    .unwrap_or("");
    let arn = event["methodArn"].as_str().unwrap_or("");
    let mut parts = arn.split('/');
    let everything = format!(
        "{}/{}/*",
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("")
    );
    let (principal, effect, resource) = match token {
        "allow" => ("rust-allow", "Allow", everything),
        "deny" => ("rust-deny", "Deny", "*".to_string()),
        _ => return Err("Unauthorized".into()),
    };
    Ok(json!({
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]
        }
    }))
}
