#!/usr/bin/env python3
"""A local OpenID provider for tests/jwt_authorizers.rs: tokens made by PyJWT (PyPI) with keys
from `cryptography`, and the JWKS a gateway fetches.

Binds 127.0.0.1:0 and prints the port on its first stdout line. Serves:

  GET  /.well-known/openid-configuration  {"issuer": "http://127.0.0.1:PORT", "jwks_uri": ".../jwks.json"}
  GET  /jwks.json                         the published keys (ec1 ES256, rsa1 RS256; ec2 after /rotate)
  GET  /fetches                           how many times /jwks.json was fetched
  POST /sign   {"kid", "claims", "headers"?}  a token signed with key `kid` (ec1, rsa1, ec2, or
                                         ghost: never published); alg from the key
  POST /rotate                            publish ec2 as well

Exits when stdin closes or when killed.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

KEYS = {
    "ec1": ("ES256", ec.generate_private_key(ec.SECP256R1())),
    "rsa1": ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    "ec2": ("ES256", ec.generate_private_key(ec.SECP256R1())),
    "ghost": ("ES256", ec.generate_private_key(ec.SECP256R1())),
}
published = ["ec1", "rsa1"]
fetches = 0
lock = threading.Lock()


def jwk(kid):
    alg, key = KEYS[kid]
    algo = ECAlgorithm if alg.startswith("ES") else RSAAlgorithm
    d = json.loads(algo.to_jwk(key.public_key()))
    d.update({"kid": kid, "alg": alg, "use": "sig"})
    return d


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_json(self, obj, status=200):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        global fetches
        base = "http://127.0.0.1:%d" % self.server.server_port
        if self.path == "/.well-known/openid-configuration":
            self.send_json({"issuer": base, "jwks_uri": base + "/jwks.json"})
        elif self.path == "/jwks.json":
            with lock:
                fetches += 1
                keys = [jwk(k) for k in published]
            self.send_json({"keys": keys})
        elif self.path == "/fetches":
            with lock:
                self.send_json({"fetches": fetches})
        else:
            self.send_json({"message": "no"}, 404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/sign":
            alg, key = KEYS[req["kid"]]
            headers = {"kid": req["kid"]}
            headers.update(req.get("headers") or {})
            token = jwt.encode(req["claims"], key, algorithm=alg, headers=headers)
            self.send_json({"token": token})
        elif self.path == "/rotate":
            with lock:
                if "ec2" not in published:
                    published.append("ec2")
            self.send_json({"published": published})
        else:
            self.send_json({"message": "no"}, 404)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_port, flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
