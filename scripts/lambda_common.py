"""What the test function scripts share (lambda_function.py, lambda_authorizer.py,
lambda_invoke_api.py): an HTTP endpoint that speaks the Lambda JSON — it runs a handler on a
POSTed event and answers its result, or a handler error as Lambda's runtime interface does
(status 200, `X-Amz-Function-Error: Unhandled`, body `{"errorMessage", "errorType"}`) — served
on loopback with its port printed on the first stdout line, until stdin closes.

Imported from the scripts' own directory (Python puts a script's directory first on
`sys.path`), so each script still runs standalone: `python3 scripts/lambda_function.py`.
"""

import json
import os
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet HTTP/1.1 handler that answers JSON."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        """The request body (by its Content-Length)."""
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def invoke(self, handler, event):
        """Run `handler(event, None)` and answer as Lambda does."""
        try:
            result = handler(event, None)
        except Exception as e:  # noqa: BLE001 - Lambda's shape for a function error
            body = json.dumps({"errorMessage": str(e), "errorType": type(e).__name__})
            self.send(200, body.encode(), [("X-Amz-Function-Error", "Unhandled")])
            return
        self.send(200, json.dumps(result).encode())


def serve(handler_class, port=0):
    """Serve on 127.0.0.1:`port` (0: a free one; HTTPS with TLS_CERT and TLS_KEY, PEM files,
    in the environment), print the port, and return when stdin closes."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_class)
    server.daemon_threads = True
    if os.environ.get("TLS_CERT"):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.environ["TLS_CERT"], os.environ["TLS_KEY"])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
