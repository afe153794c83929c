#!/usr/bin/env python3
"""A stand-in for Lambda's Invoke API, for tests/lambda_remote.rs: it checks every call's
SigV4 signature the way AWS does, by recomputing it with botocore's `SigV4Auth` over the
request it received (the headers the signature names, the path and query as sent, the body),
and only then runs the authorizer handler of scripts/lambda_authorizer.py.

  POST /2015-03-31/functions/{FunctionName}/invocations[?Qualifier=q]
       answers the handler's result (200), a handler error as Lambda does (200 with
       `X-Amz-Function-Error: Unhandled` and `{"errorMessage", "errorType"}`), or 403
       `InvalidSignatureException` / `UnrecognizedClientException` when the signature does
       not verify or the access key is unknown.
  GET /calls   {"calls": n, "refused": n, "last": {"path", "query", "headers"}}

Usage: lambda_invoke_api.py ACCESS_KEY_ID SECRET [SESSION_TOKEN]. Region `us-east-1`,
service `lambda`. Binds 127.0.0.1:0 and prints the port on its first stdout line; exits when
stdin closes or when killed. With TLS_CERT and TLS_KEY (PEM files) in the environment it
serves HTTPS.
"""

import json
import os
import re
import sys
import threading
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lambda_authorizer
import lambda_common

KEY, SECRET = sys.argv[1], sys.argv[2]
TOKEN = sys.argv[3] if len(sys.argv) > 3 else None
REGION = "us-east-1"
AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$"
)
PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")

state = {"calls": 0, "refused": 0, "last": None}
lock = threading.Lock()


def check_signature(handler, body):
    """None if the signature verifies, else (error type, message)."""
    m = AUTH.match(handler.headers.get("Authorization", ""))
    if not m:
        return ("IncompleteSignatureException", "bad Authorization header")
    key, day, region, service, signed, signature = m.groups()
    if key != KEY:
        return (
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    if (region, service) != (REGION, "lambda"):
        return (
            "InvalidSignatureException",
            f"wrong credential scope {region}/{service}",
        )
    if TOKEN is not None and handler.headers.get("X-Amz-Security-Token") != TOKEN:
        return (
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    names = signed.split(";")
    for required in ("host", "x-amz-date"):
        if required not in names:
            return ("InvalidSignatureException", f"{required} is not signed")
    headers = {}
    for name in names:
        values = handler.headers.get_all(name)
        if not values:
            return ("InvalidSignatureException", f"signed header {name} is missing")
        headers[name] = ",".join(values)
    url = f"http://{handler.headers['Host']}{handler.path}"
    request = AWSRequest(method=handler.command, url=url, data=body, headers=headers)
    request.context["timestamp"] = handler.headers["X-Amz-Date"]
    auth = SigV4Auth(Credentials(KEY, SECRET, TOKEN), "lambda", REGION)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    if expected != signature or day != handler.headers["X-Amz-Date"][:8]:
        return (
            "InvalidSignatureException",
            (
                "The request signature we calculated does not match the signature you provided. "
                f"The Canonical String for this request should have been\n'{canonical}'"
            ),
        )
    return None


class Handler(lambda_common.JsonHandler):
    def do_GET(self):
        if self.path == "/calls":
            with lock:
                body = json.dumps(state).encode()
            self.send(200, body)
        else:
            self.send(404, b'{"message":"no"}')

    def do_POST(self):
        raw = self.body()
        url = urlsplit(self.path)
        problem = check_signature(self, raw)
        with lock:
            state["last"] = {
                "path": url.path,
                "query": url.query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
            if problem:
                state["refused"] += 1
            else:
                state["calls"] += 1
        if problem:
            error_type, message = problem
            body = json.dumps({"message": message}).encode()
            self.send(403, body, [("x-amzn-ErrorType", error_type)])
            return
        if (
            not PATH.match(url.path)
            or self.headers.get("X-Amz-Invocation-Type") != "RequestResponse"
        ):
            self.send(400, b'{"message":"not an Invoke call"}')
            return
        event = json.loads(raw)
        self.invoke(lambda_authorizer.handler, event)


def main():
    lambda_common.serve(Handler)


if __name__ == "__main__":
    main()
