#!/usr/bin/env python3
"""Sign a few execute-api requests with botocore's SigV4 signer and print them as JSON.

Used by tests/sigv4_botocore.rs: every request printed here must verify with tollgate's
SigV4 core (issue 8). Output: a JSON list of {name, method, url, headers: [[name, value]],
body (latin-1 text), access_key_id, secret, token}. botocore comes from PyPI
(`pip install botocore`); the signing time is the current time, printed in X-Amz-Date.
"""
import json

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"
HOST = "abc123.execute-api.us-east-1.amazonaws.com"
PERMANENT = Credentials("AKIDBOTOCORE", "botocore/secret+key/EXAMPLE")
TEMPORARY = Credentials("ASIABOTOCORE", "temporary/secret", "IQoJb3JpZ2luX2VjEXAMPLE//token+/=")

CASES = [
    ("get", "GET", "/dev/pets", None, {}, PERMANENT, False),
    ("get-query", "GET", "/dev/pets?b=2&a=1&c=x%20y&a=0&empty=", None, {}, PERMANENT, False),
    ("post-json", "POST", "/dev/pets", b'{"name":"rex"}',
     {"Content-Type": "application/json"}, PERMANENT, False),
    ("encoded-path", "GET", "/dev/a%2Fb/caf%C3%A9/x%20y", None, {}, PERMANENT, False),
    ("dot-segments", "GET", "/dev/a/../b/./c", None, {}, PERMANENT, False),
    ("session-token", "PUT", "/dev/pets/1", b"\x00\xffbinary", {"X-Custom": "  a   b  "},
     TEMPORARY, False),
    ("presigned", "GET", "/dev/pets?x=1", None, {}, PERMANENT, True),
    ("presigned-token", "GET", "/dev/pets", None, {}, TEMPORARY, True),
]


def main():
    out = []
    for name, method, target, body, headers, creds, presign in CASES:
        req = AWSRequest(method=method, url=f"https://{HOST}{target}", data=body,
                         headers=dict(headers))
        if presign:
            SigV4QueryAuth(creds, "execute-api", REGION, expires=300).add_auth(req)
        else:
            SigV4Auth(creds, "execute-api", REGION).add_auth(req)
        prepared = req.prepare()
        out.append({
            "name": name,
            "method": prepared.method,
            "url": prepared.url,
            "headers": [[k, v if isinstance(v, str) else v.decode("latin-1")]
                        for k, v in prepared.headers.items()],
            "body": (prepared.body or b"").decode("latin-1")
            if isinstance(prepared.body or b"", bytes) else prepared.body,
            "access_key_id": creds.access_key,
            "secret": creds.secret_key,
            "token": creds.token,
        })
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
