#!/usr/bin/env python3
"""A Lambda proxy function for tests/lambda_proxy.rs, served as an HTTP endpoint that speaks
the Lambda JSON (what tollgate's `functions` entries point at): POST the event, get the
handler's result back. A failing handler answers as Lambda's runtime interface does: status
200, `X-Amz-Function-Error: Unhandled`, body `{"errorMessage", "errorType"}`.

`handler(event, context)` is ordinary Lambda proxy code. By default it echoes the event:
`{"statusCode": 200, "headers": {"content-type": "application/json"}, "body": <event JSON>}`.
The request can choose another answer (header names in any case):

  X-Result: <JSON>   return exactly this value (any JSON: an object, a string, a number)
  X-Mode: error      raise ValueError("boom")
  X-Mode: status500  the endpoint itself answers HTTP 500
  X-Mode: slow       sleep 3 s, then echo

Binds 127.0.0.1:PORT (the first argument; 0, a free port, by default) and prints the port on
its first stdout line. Besides POST (any path, the
invocation) it serves GET /calls ({"calls": n, "events": [...], "paths": [...]}). Exits when
stdin closes or when killed.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

calls = 0
events = []
paths = []
lock = threading.Lock()


def header(event, name):
    for k, v in (event.get("headers") or {}).items():
        if k.lower() == name:
            return v
    return None


def handler(event, context):
    mode = header(event, "x-mode")
    if mode == "error":
        raise ValueError("boom")
    if mode == "slow":
        time.sleep(3)
    result = header(event, "x-result")
    if result is not None:
        return json.loads(result)
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(event),
    }


class Endpoint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            state = {"calls": calls, "events": events, "paths": paths}
            body = json.dumps(state).encode()
        self.answer(200, body)

    def do_POST(self):
        global calls
        length = int(self.headers.get("Content-Length", "0"))
        event = json.loads(self.rfile.read(length))
        with lock:
            calls += 1
            events.append(event)
            paths.append(self.path)
        if header(event, "x-mode") == "status500":
            self.answer(500, b'{"message":"endpoint failure"}')
            return
        try:
            result = handler(event, None)
        except Exception as e:  # the runtime's error shape
            body = json.dumps({"errorMessage": str(e), "errorType": type(e).__name__})
            self.answer(200, body.encode(), [("X-Amz-Function-Error", "Unhandled")])
            return
        self.answer(200, json.dumps(result).encode())


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Endpoint)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
