"""The jwt scenario's credentials, made at run time: an EC P-256 and an RSA-2048 key, their
JWKS (the gateway's `jwksFile`), a token signed with each (JWS compact, base64url, expiring in
2100), the Lambda authorizer's token and its function's constant Allow policy, and a SigV4
signature of the one GET every sigv4 request replays.

Keys and tokens need Python's `cryptography` package (benches/run installs it with pip when a
chosen scenario needs it: env.ensure_python); SigV4 is hashlib and hmac only."""

import base64
import datetime
import hashlib
import hmac
import json
import os
import urllib.parse

# benches/conf/tollgate-jwt.json: a REST API whose route names the Cognito user pool scheme
# `pool`; its issuer is https://cognito-idp.{region}.amazonaws.com/{poolId}.
JWT_SCHEME = "pool"
JWT_ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench"
JWT_EXP = 4_102_444_800  # 2100-01-01T00:00:00Z
KIDS = {"jwt-es256": ("bench-es256", "ES256"), "jwt-rs256": ("bench-rs256", "RS256")}

# benches/conf/tollgate-lambda.json: a TOKEN authorizer whose authorizerUri names the
# function `bench-auth`; the token is the Authorization header, the result cached 3600 s.
FUNCTION = "bench-auth"
LAMBDA_TOKEN = "Bearer bench-lambda-token"
ALLOW_POLICY = {
    "principalId": "bench",
    "policyDocument": {
        "Version": "2012-10-17",
        "Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:*"}
        ],
    },
}

# benches/conf/tollgate-sigv4.json: its `iam` credentials (a bench-only key) and
# server.region; execute-api is the service every AWS_IAM request is signed for.
ACCESS_KEY = "AKIABENCHEXAMPLE01"
SECRET_KEY = "bench/secret/key/0123456789abcdefEXAMPLE"
REGION, SERVICE = "us-east-1", "execute-api"

KINDS = ("jwt-es256", "jwt-rs256", "lambda", "sigv4")
# Python packages (import name: pip name) the kinds that make keys need.
PACKAGES = {"cryptography": "cryptography"}
# What each kind sends, for the report.
SENDS = {
    "jwt-es256": "`Authorization: Bearer <ES256 JWT>` (kid bench-es256, exp 2100)",
    "jwt-rs256": "`Authorization: Bearer <RS256 JWT>` (kid bench-rs256, exp 2100)",
    "lambda": f"`Authorization: {LAMBDA_TOKEN}` (one token: a cached result after the first)",
    "sigv4": "`X-Amz-Date` and `Authorization: AWS4-HMAC-SHA256 ...` of one GET signed before "
    "each run, replayed by every request",
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(n, size=None):
    """A JWK integer: big-endian, `size` bytes (EC coordinates), else as few as it needs."""
    return b64url(n.to_bytes(size or (n.bit_length() + 7) // 8, "big"))


def crypto():
    """The `cryptography` modules used here (main.run installs the package first: env.py)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    return hashes, ec, padding, rsa, utils


def make_keys():
    """{kind: (kid, alg, private key)} for the two JWT kinds."""
    _, ec, _, rsa, _ = crypto()
    return {
        "jwt-es256": (*KIDS["jwt-es256"], ec.generate_private_key(ec.SECP256R1())),
        "jwt-rs256": (
            *KIDS["jwt-rs256"],
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ),
    }


def jwk(kid, alg, key):
    """The public JWK of a private key, with `kid`, `alg` and `use`."""
    pub = key.public_key().public_numbers()
    if alg == "ES256":
        d = {"kty": "EC", "crv": "P-256", "x": _uint(pub.x, 32), "y": _uint(pub.y, 32)}
    else:
        d = {"kty": "RSA", "n": _uint(pub.n), "e": _uint(pub.e)}
    return dict(d, kid=kid, alg=alg, use="sig")


def sign_jws(kid, alg, key, claims):
    """A compact JWS: base64url(header).base64url(claims).base64url(signature); ES256's
    signature is r || s (32 bytes each), RS256's PKCS#1 v1.5 over SHA-256."""
    hashes, ec, padding, _, utils = crypto()
    header = {"alg": alg, "kid": kid, "typ": "JWT"}
    part = lambda obj: b64url(json.dumps(obj, separators=(",", ":")).encode())  # noqa: E731
    signing_input = f"{part(header)}.{part(claims)}".encode("ascii")
    if alg == "ES256":
        der = key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode('ascii')}.{b64url(sig)}"


def claims(sub="bench"):
    return {
        "iss": JWT_ISSUER,
        "sub": sub,
        "aud": "bench-client",
        "iat": 1_700_000_000,
        "exp": JWT_EXP,
    }


# --- SigV4 ---------------------------------------------------------------------------------


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def canonical_uri(path):
    """Each segment URI-encoded again (services other than S3 double-encode)."""
    return "/".join(urllib.parse.quote(seg, safe="-_.~") for seg in path.split("/")) or "/"


def canonical_query(query):
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    enc = sorted(
        (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~")) for k, v in pairs
    )
    return "&".join(f"{k}={v}" for k, v in enc)


def sigv4(method, host, path, amz_date, *, access_key, secret, region, service, body=b""):
    """The headers of a header-form SigV4 signature over host and x-amz-date, and its canonical
    request and string to sign: ({"X-Amz-Date", "Authorization"}, canonical, string_to_sign)."""
    path, _, query = path.partition("?")
    canonical = "\n".join(
        [
            method,
            canonical_uri(path),
            canonical_query(query),
            f"host:{host}\nx-amz-date:{amz_date}\n",
            "host;x-amz-date",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    day = amz_date[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    k = _hmac(("AWS4" + secret).encode("utf-8"), day)
    for part in (region, service, "aws4_request"):
        k = _hmac(k, part)
    signature = hmac.new(k, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    auth = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders=host;x-amz-date, "
        f"Signature={signature}"
    )
    return {"X-Amz-Date": amz_date, "Authorization": auth}, canonical, to_sign


def amz_date(now=None):
    now = now or datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y%m%dT%H%M%SZ")


# --- what a row gets -----------------------------------------------------------------------


class Material:
    """One run's keys and tokens (made on first use), and each kind's config patch and
    request headers."""

    def __init__(self, work):
        self.work = work
        self._tokens = None
        self.jwks_path = os.path.join(work, "jwks.json")

    def tokens(self):
        """{kind: token}; the first call makes the keys and writes the JWKS file."""
        if self._tokens is None:
            keys = make_keys()
            with open(self.jwks_path, "w") as f:
                json.dump({"keys": [jwk(*k) for k in keys.values()]}, f, indent=2)
            self._tokens = {kind: sign_jws(*k, claims()) for kind, k in keys.items()}
        return self._tokens

    def patch(self, kind, function_port):
        """The top-level config keys this kind's row gets at run time."""
        if kind in KIDS:
            self.tokens()
            return {
                "authorizers": [{"apiId": "bench", "name": JWT_SCHEME, "jwksFile": self.jwks_path}]
            }
        if kind == "lambda":
            url = f"http://127.0.0.1:{function_port}/2015-03-31/functions/{FUNCTION}/invocations"
            return {"functions": {FUNCTION: {"url": url}}}
        return {}

    def headers(self, kind, port, path, now=None):
        """The request headers ("N: v") of this kind's row for a target on port; sigv4's are
        signed now (with Host 127.0.0.1:port, what loadgen and the pre-run check send)."""
        if kind in KIDS:
            return (f"Authorization: Bearer {self.tokens()[kind]}",)
        if kind == "lambda":
            return (f"Authorization: {LAMBDA_TOKEN}",)
        if kind == "sigv4":
            signed, _, _ = sigv4(
                "GET",
                f"127.0.0.1:{port}",
                path,
                amz_date(now),
                access_key=ACCESS_KEY,
                secret=SECRET_KEY,
                region=REGION,
                service=SERVICE,
            )
            return tuple(f"{k}: {v}" for k, v in signed.items())
        raise ValueError(kind)
