#!/usr/bin/env python3
"""A Lambda authorizer for tests/lambda_authorizers.rs, served as an HTTP endpoint that speaks
the Lambda JSON (what tollgate's `functions` entries point at): POST the event, get the
handler's result back. A failing handler answers as Lambda's runtime interface does: status
200, `X-Amz-Function-Error: Unhandled`, body `{"errorMessage", "errorType"}`.

`handler(event, context)` is ordinary Lambda authorizer code. What it answers is chosen by the
token (TOKEN: `authorizationToken`; REQUEST and HTTP APIs: the first identity source value):

  allow      Allow on every method of the stage (`.../{stage}/*`), principalId `user-allow`,
             context {"tier": "gold", "count": 3, "admin": true}, usageIdentifierKey `lambda-authorizer-key-0001`
  method     Allow on this method ARN only
  deny       explicit Deny on everything
  nomatch    Allow on another API only (no matching Allow)
  unauthorized  raise Exception("Unauthorized")
  boom       raise ValueError("boom")
  badjson    answer text that is not JSON
  nested     a context value that is an object (invalid output)
  slow       sleep 3 s, then allow
  yes / no   a simple response {"isAuthorized": ...} (HTTP APIs with simple responses)

Binds 127.0.0.1:0 and prints the port on its first stdout line. Besides POST (any path, the
invocation) it serves GET /calls ({"calls": n, "events": [...]}) and POST /reset. Exits when
stdin closes or when killed.
"""
import json
import threading
import time

import lambda_common

calls = 0
events = []
lock = threading.Lock()


def policy(principal, effect, resource, context=None, key=None):
    out = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
            ],
        },
    }
    if context is not None:
        out["context"] = context
    if key is not None:
        out["usageIdentifierKey"] = key
    return out


def token_of(event):
    if event.get("type") == "TOKEN":
        return event.get("authorizationToken", "")
    source = event.get("identitySource")
    if isinstance(source, list):  # payload 2.0
        return source[0] if source else ""
    if isinstance(source, str):  # HTTP API payload 1.0: comma-joined
        return source.split(",")[0]
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    return headers.get("x-key", "")


def handler(event, context):
    token = token_of(event)
    arn = event.get("methodArn") or event.get("routeArn")
    # arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}
    api_arn, stage = arn.split("/")[0], arn.split("/")[1]
    everything = "%s/%s/*" % (api_arn, stage)
    if token == "allow":
        return policy(
            "user-allow", "Allow", everything,
            {"tier": "gold", "count": 3, "admin": True}, "lambda-authorizer-key-0001",
        )
    if token == "method":
        return policy("user-method", "Allow", arn)
    if token == "deny":
        return policy("user-deny", "Deny", "*")
    if token == "nomatch":
        return policy("user-nomatch", "Allow", "arn:aws:execute-api:us-east-1:1:other/*")
    if token == "unauthorized":
        raise Exception("Unauthorized")
    if token == "boom":
        raise ValueError("boom")
    if token == "nested":
        return policy("user-nested", "Allow", everything, {"a": {"b": 1}})
    if token == "slow":
        time.sleep(3)
        return policy("user-slow", "Allow", everything)
    if token in ("yes", "no"):
        return {"isAuthorized": token == "yes", "context": {"who": "simple-" + token}}
    raise Exception("Unauthorized")


class Handler(lambda_common.JsonHandler):
    def do_GET(self):
        if self.path == "/calls":
            with lock:
                body = json.dumps({"calls": calls, "events": events}).encode()
            self.send(200, body)
        else:
            self.send(404, b'{"message":"no"}')

    def do_POST(self):
        global calls
        raw = self.body()
        if self.path == "/reset":
            with lock:
                calls = 0
                events.clear()
            self.send(200, b"{}")
            return
        event = json.loads(raw)
        with lock:
            calls += 1
            events.append(event)
        if token_of(event) == "badjson":
            self.send(200, b"this is not json")
            return
        self.invoke(handler, event)


def main():
    lambda_common.serve(Handler)


if __name__ == "__main__":
    main()
