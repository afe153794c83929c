#!/usr/bin/env python3
"""Sign execute-api requests with botocore's SigV4 signer (PyPI `botocore`), for the black-box
tests of AWS_IAM methods (tests/iam.rs, tests/resource_policies.rs).

stdin: a JSON list of {method, url, headers: [[name, value]], body (latin-1 text),
access_key_id, secret, token (or null), region, presign (bool), offset_secs (signing time
relative to now; default 0)}.
stdout: a JSON list of {url, headers: [[name, value]]}: the signed request's target and
every header botocore set (Host is the URL's).
"""
import datetime
import json
import sys

import botocore.auth
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main():
    out = []
    real_now = botocore.auth.get_current_datetime
    for spec in json.load(sys.stdin):
        offset = datetime.timedelta(seconds=spec.get("offset_secs", 0))
        botocore.auth.get_current_datetime = lambda: real_now() + offset
        creds = Credentials(spec["access_key_id"], spec["secret"], spec.get("token"))
        body = spec.get("body") or ""
        req = AWSRequest(method=spec["method"], url=spec["url"],
                         data=body.encode("latin-1") if body else None,
                         headers=dict(spec.get("headers", [])))
        region = spec.get("region", "us-east-1")
        if spec.get("presign"):
            SigV4QueryAuth(creds, "execute-api", region, expires=300).add_auth(req)
        else:
            SigV4Auth(creds, "execute-api", region).add_auth(req)
        prepared = req.prepare()
        out.append({
            "url": prepared.url,
            "headers": [[k, v if isinstance(v, str) else v.decode("latin-1")]
                        for k, v in prepared.headers.items()],
        })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
