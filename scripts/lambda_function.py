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

import lambda_common

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


class Endpoint(lambda_common.JsonHandler):
    def do_GET(self):
        with lock:
            state = {"calls": calls, "events": events, "paths": paths}
            body = json.dumps(state).encode()
        self.send(200, body)

    def do_POST(self):
        global calls
        event = json.loads(self.body())
        with lock:
            calls += 1
            events.append(event)
            paths.append(self.path)
        if header(event, "x-mode") == "status500":
            self.send(500, b'{"message":"endpoint failure"}')
            return
        self.invoke(handler, event)


def main():
    lambda_common.serve(Endpoint, int(sys.argv[1]) if len(sys.argv) > 1 else 0)


if __name__ == "__main__":
    main()
