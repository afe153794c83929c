"""The origin and the proxies under test: their configurations (equivalent settings: the same
worker count, upstream keep-alive with a pool at least as large as the client concurrency,
access logs off, loopback only) and how each is started and checked."""

import http.client
import json
import os
import ssl
from dataclasses import dataclass, field

from . import observe, procs

# Targets in the order they are driven; a tollgate row per ioDriver under --driver-sweep.
KINDS = ("origin", "nginx", "haproxy", "nullproxy", "tollgate")
DRIVERS = ("uring", "uring-coop", "uring-defer-taskrun", "legacy")
# A cache leg's second bare origin, answering a tollgate row's response bytes (Leg.same_bytes):
# not a --targets kind, it comes with the origin row.
SAME_BYTES = "origin-same-bytes"
ORIGINS = ("origin", SAME_BYTES)  # rows measured without a proxy in front
# Port offsets from --port-base: tollgate takes +3.. (one per ioDriver in a sweep).
PORT_OFFSET = {
    "origin": 0,
    "nginx": 1,
    "haproxy": 2,
    "tollgate": 3,
    "nullproxy": 8,
    SAME_BYTES: 11,
}
# The admin API of the one tollgate row of a leg that has it (Variant.admin).
ADMIN_OFFSET = 9
# The Lambda function (a second tools/upstream) of a leg with a Lambda authorizer row.
FUNCTION_OFFSET = 10
PORTS = 12  # every port of a run: --port-base .. --port-base + 11
# The smallest upstream keep-alive pool any leg gets: what earlier runs used at 64 clients.
MIN_POOL = 64
# A body this large is checked with HEAD, not fetched: a full fetch would warm the proxy's
# buffers before a leg that measures their growth.
VERIFY_GET_MAX = 1 << 20


@dataclass
class Target:
    name: str  # row label
    kind: str
    port: int
    driver: str = ""
    proc: procs.Proc | None = None
    variant: object = None  # scenarios.Variant of a tollgate row, or None
    admin_port: int = 0  # tollgate's admin API (0 = none)
    # made at run time for a variant with `auth` (harness/auth.py): config keys added to the
    # variant's patch, and the row's own request headers ("N: v"), sent after the leg's
    patch: dict = field(default_factory=dict)
    headers: tuple = ()
    # a row with a local function (Variant.local): () -> the function processes' pids, once
    # started (tollgate's children, measured apart from tollgate's own CPU)
    function_pids: object = None
    # a row with an access log (Variant.access_log; harness/observe.py): its file and the
    # admin port its dropped-lines counter is read from
    log_path: str = ""
    log_admin: int = 0

    @property
    def expect(self):
        """The status every response must have (429 in a row that measures rejections)."""
        return self.variant.expect if self.variant else 200


@dataclass
class LegConfig:
    """What the configurations of one leg depend on."""

    work: str
    origin_port: int
    workers: int
    connections: int  # client connections at once
    pool: int  # upstream keep-alive pool per peer (per worker where the peer counts so)
    nofile: int  # the RLIMIT_NOFILE hard limit the proxies run under
    stream_bytes: int = 0  # largest request body; >0 turns on request streaming settings
    cert: str = ""  # TLS termination: PEM certificate, key and cert+key bundle
    key: str = ""
    bundle: str = ""
    cache: bool = False  # nginx and HAProxy cache GET responses
    access_log: str = ""  # nginx logs every request (JSON) to this file


def targets(kinds, port_base, io_driver, sweep, variants=(), same_bytes=""):
    """The rows of a leg. A leg with tollgate variants gets one tollgate row per variant, on
    --io-driver only (a driver sweep would need more ports than tollgate has: +3..+6). With
    same_bytes (Leg.same_bytes), the origin row is followed by the origin-same-bytes row."""
    out = []
    for kind in kinds:
        if kind != "tollgate":
            out.append(Target(kind, kind, port_base + PORT_OFFSET[kind]))
            if kind == "origin" and same_bytes and "tollgate" in kinds:
                out.append(Target(SAME_BYTES, SAME_BYTES, port_base + PORT_OFFSET[SAME_BYTES]))
            continue
        if variants:
            for i, v in enumerate(variants):
                port = port_base + PORT_OFFSET["tollgate"] + i
                admin = port_base + ADMIN_OFFSET if v.admin else 0
                out.append(
                    Target(f"tollgate-{v.name}", kind, port, io_driver, variant=v, admin_port=admin)
                )
            continue
        drivers = DRIVERS if sweep else (io_driver,)
        for driver in drivers:
            port = port_base + PORT_OFFSET["tollgate"] + DRIVERS.index(driver)
            out.append(Target(f"tollgate-{driver}", kind, port, driver))
    return out


def free_port_base(first=18090, step=PORTS, tries=50):
    """The first base whose ports (base .. base + PORTS - 1) nobody listens on."""
    for base in range(first, first + step * tries, step):
        if not any(procs.port_open(base + i) for i in range(PORTS)):
            return base
    raise procs.StartError(f"no free loopback port range from {first} on")


def fds_needed(kind, lc):
    """File descriptors a peer needs to hold lc.connections client connections."""
    n = lc.connections
    if kind == "nullproxy":
        return 2 * n + 100  # one upstream connection per client connection, no pool
    if kind == "haproxy":
        # HAProxy reserves two per connection it may accept and refuses to start without
        # them ("Cannot raise FD limit"), whatever the pool.
        return 2 * haproxy_maxconn(lc) + 100
    return n + lc.pool + 100


def haproxy_maxconn(lc):
    return max(4096, lc.connections + 1024)


# --- nginx -------------------------------------------------------------------------------


def _nginx_head(d, workers, conns, nofile):
    connections = max(8192, 2 * conns + 1024)
    rlimit = min(nofile, max(16384, 2 * connections))
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes {workers};
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
worker_rlimit_nofile {rlimit};
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    # Same client-side keep-alive as HAProxy and tollgate: no per-connection request cap
    # (nginx's default of 1000 would reconnect every 1000 requests).
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
"""


def _nginx_string(body):
    text = body.decode("ascii")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_nginx_origin(d, port, text, size, workers, nofile):
    """nginx as the origin: `return 200 TEXT`, or SIZE x's from a static file."""
    os.makedirs(f"{d}/tmp", exist_ok=True)
    if text is not None or size == 0:
        answer = f"default_type text/plain;\n            return 200 {_nginx_string(text or b'')};"
    else:
        with open(f"{d}/body.bin", "wb") as f:
            for left in range(size, 0, -(1 << 20)):
                f.write(b"x" * min(left, 1 << 20))
        answer = f"root {d};\n            try_files /body.bin =404;"
    conf = (
        _nginx_head(d, workers, 1024, nofile)
        + f"""    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            {answer}
        }}
    }}
}}
"""
    )
    with open(f"{d}/nginx.conf", "w") as f:
        f.write(conf)


def write_nginx_proxy(d, port, lc):
    os.makedirs(f"{d}/tmp", exist_ok=True)
    backlog = max(4096, lc.connections)
    listen = f"listen 127.0.0.1:{port} backlog={backlog}"
    tls = stream = cache_zone = cache = log = ""
    if lc.cache:
        # A warmed cache: every request a HIT from the keys zone, the body from the page cache.
        cache_zone = (
            f"    proxy_cache_path {d}/cache levels=1:2 keys_zone=bench:10m max_size=100m "
            "inactive=2h use_temp_path=off;\n"
        )
        cache = """            proxy_cache bench;
            proxy_cache_valid 200 1h;
"""
    if lc.access_log:
        # the JSON format of tollgate's observed row (harness/observe.py), batched writes
        cache_zone += f"    log_format bench escape=json '{observe.NGINX_FORMAT}';\n"
        log = f"        access_log {lc.access_log} bench buffer=64k flush=1s;\n"
    if lc.cert:
        listen += " ssl"
        tls = f"""        ssl_certificate {lc.cert};
        ssl_certificate_key {lc.key};
        ssl_protocols TLSv1.3;
"""
    if lc.stream_bytes:
        # Stream request bodies to the origin as they arrive, as HAProxy and tollgate do
        # (nginx's default reads the whole body first, to memory or a temp file), and never
        # spill a response to a temp file.
        stream = """            proxy_request_buffering off;
            proxy_max_temp_file_size 0;
            client_max_body_size 0;
"""
    conf = (
        _nginx_head(d, lc.workers, lc.connections, lc.nofile)
        + cache_zone
        + f"""    upstream origin {{
        server 127.0.0.1:{lc.origin_port};
        keepalive {lc.pool};
        keepalive_requests 1000000;
        keepalive_timeout 60s;
    }}
    server {{
        {listen};
{tls}{log}        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
{stream}{cache}        }}
    }}
}}
"""
    )
    with open(f"{d}/nginx.conf", "w") as f:
        f.write(conf)


# --- HAProxy, tollgate -------------------------------------------------------------------


def write_haproxy(path, port, lc):
    maxconn = haproxy_maxconn(lc)
    tls = f" ssl crt {lc.bundle} ssl-min-ver TLSv1.3" if lc.cert else ""
    cache_section = cache_rules = ""
    if lc.cache:
        # HAProxy stores only a response with an explicit lifetime or a validator (RFC 7234
        # §3) and the origin sends neither: the response gets `Cache-Control: max-age=3600`
        # before cache-store (clients see it, and `age` on hits). max-age bounds it too.
        cache_section = """
cache bench
    total-max-size 64
    max-object-size 1048576
    max-age 3600
"""
        cache_rules = """    http-request cache-use bench
    http-response set-header Cache-Control "max-age=3600"
    http-response cache-store bench
"""
    conf = f"""global
    nbthread {lc.workers}
    maxconn {maxconn}
    # no "log" line: access logging off

defaults
    mode http
    maxconn {maxconn}
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s

frontend bench
    bind 127.0.0.1:{port} backlog {max(4096, lc.connections)}{tls}
    default_backend origin

backend origin
{cache_rules}    server origin 127.0.0.1:{lc.origin_port} pool-max-conn {lc.pool}
{cache_section}"""
    with open(path, "w") as f:
        f.write(conf)


def write_tollgate(path, template, port, driver, lc, patch=None, admin_port=0, server_keys=None):
    """tollgate's config for this leg from a benches/conf template; `patch` replaces top-level
    keys (a variant's, e.g. `account`); admin_port > 0 turns the admin API on there;
    `server_keys` are set in `server` (a variant's `cpuAffinity`)."""
    with open(template) as f:
        cfg = json.load(f)
    cfg.update(patch or {})
    server = cfg["server"]
    server.update(server_keys or {})
    listener = {"address": f"127.0.0.1:{port}"}
    if lc.cert:
        # The leg's certificate, as nginx and HAProxy get it. tollgate has no TLS-1.3-only
        # setting (securityPolicy TLS_1_2 allows 1.2 and 1.3): loadgen --tls-version 1.3
        # makes every peer's handshakes TLS 1.3, and the client reports what it negotiated.
        listener["tls"] = {"certificate": {"certificateChain": lc.cert, "privateKey": lc.key}}
    server["listeners"] = [listener]
    server["workers"] = lc.workers
    server["ioDriver"] = driver
    if admin_port:
        server["admin"] = {"address": f"127.0.0.1:{admin_port}"}
    limits = server.setdefault("limits", {})
    limits["upstreamIdlePerHost"] = lc.pool
    # The gateway's default is 10,000 per worker; a leg that holds more raises it.
    if lc.connections + 1024 > 10_000:
        limits["maxConnectionsPerWorker"] = lc.connections + 1024
    if lc.stream_bytes:
        limits["maxBodyBytes"] = 2 * lc.stream_bytes
    ops = cfg["apis"][0]["definition"]["paths"]["/{proxy+}"]
    integration = ops["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]
    if integration.get("type", "").lower() == "http_proxy":  # AWS_PROXY names a function
        integration["uri"] = f"http://127.0.0.1:{lc.origin_port}/{{proxy}}"
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)


# --- starting and checking ---------------------------------------------------------------


def start(sup, t, lc, bins, template):
    """Start target t for this leg and wait until it listens; StartError otherwise."""
    procs.wait_free(t.port)
    w = lc.work
    if t.kind == "nginx":
        d = f"{w}/nginx"
        write_nginx_proxy(d, t.port, lc)
        argv = ["nginx", "-p", d, "-c", f"{d}/nginx.conf", "-e", f"{d}/error.log"]
    elif t.kind == "haproxy":
        write_haproxy(f"{w}/haproxy.cfg", t.port, lc)
        argv = ["haproxy", "-db", "-f", f"{w}/haproxy.cfg"]
    elif t.kind == "nullproxy":
        argv = [
            bins["nullproxy"],
            "--listen",
            f"127.0.0.1:{t.port}",
            "--upstream",
            f"127.0.0.1:{lc.origin_port}",
            "--workers",
            str(lc.workers),
        ]
    elif t.kind == "tollgate":
        patch = None
        if t.variant:
            template = os.path.join(os.path.dirname(template), t.variant.template)
            patch = {**t.variant.patch, **t.patch}
        if t.admin_port:
            procs.wait_free(t.admin_port)
        affinity = t.variant.cpu_affinity if t.variant else ""
        server = {"cpuAffinity": affinity} if affinity else {}
        write_tollgate(
            f"{w}/{t.name}.json", template, t.port, t.driver, lc, patch, t.admin_port, server
        )
        argv = [bins["tollgate"], "serve", "-c", f"{w}/{t.name}.json"]
    else:
        raise ValueError(t.kind)
    t.proc = sup.start(t.name, argv)
    procs.wait_ready(t.proc, t.port)


def tls_context(cert):
    ctx = ssl.create_default_context(cafile=cert)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def fetch(port, path, method="GET", tls=None, timeout=10, headers=()):
    """(status, headers, body) of one request on loopback; headers: ("N: v", ...)."""
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=tls)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, headers=dict(h.split(": ", 1) for h in headers))
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def reference(port, path, size_hint, tls=None):
    """What the origin answers, which every proxy must reproduce: ("GET", body), or
    ("HEAD", content-length) when the body is large."""
    if size_hint > VERIFY_GET_MAX:
        status, headers, _ = fetch(port, path, "HEAD", tls)
        if status != 200:
            raise procs.StartError(f"the origin answered HEAD {path} with {status}")
        return "HEAD", headers.get("content-length")
    status, _, body = fetch(port, path, "GET", tls)
    if status != 200:
        raise procs.StartError(f"the origin answered GET {path} with {status}")
    return "GET", body


# The header a local function's answer carries (harness/functions.py: lambda-echo's request id).
LOCAL_FUNCTION_HEADER = "x-request-id"
# What a tollgate row that expects 429 must answer (SPEC-NOTES §5, THROTTLED).
TOO_MANY = b'{"message":"Too Many Requests"}'


def verify(t, path, ref, tls=None, send=()):
    """None if t answers like the origin did (status 200 and the same body, or the same
    Content-Length to a HEAD); else the reason. A row that expects 429 must answer it by the
    second request (the first may take a throttle's burst). send: the leg's headers."""
    method, expected = ref
    try:
        status, headers, body = fetch(t.port, path, method, tls, headers=send)
        if t.expect == 429:
            if status == 200:
                status, headers, body = fetch(t.port, path, method, tls, headers=send)
            if status == 429 and body == TOO_MANY and headers.get("retry-after"):
                return None
            return f"{method} {path} answered {status} {body[:80]!r}, not a throttle 429"
    except (OSError, http.client.HTTPException) as e:
        return f"{method} {path} failed: {e}"
    got = headers.get("content-length") if method == "HEAD" else body
    if status == 200 and got == expected:
        if t.variant and t.variant.local and not headers.get(LOCAL_FUNCTION_HEADER):
            # lambda-echo sets it to the invocation's request id: the answer came through it
            return (
                f"{method} {path} answered 200 {got[:80]!r} without {LOCAL_FUNCTION_HEADER}: "
                f"not through the function {t.variant.local}"
            )
        return None
    if method == "HEAD":
        return f"HEAD {path} answered {status}, content-length {got} (the origin: {expected})"
    return f"GET {path} answered {status} {got[:80]!r} (the origin: 200 {expected[:80]!r})"


def start_function(sup, bins, port, body):
    """The Lambda authorizer's function: tools/upstream answering every POST with `body` (the
    function's result), on port; returns the process."""
    procs.wait_free(port)
    argv = [bins["upstream"], "--listen", f"127.0.0.1:{port}", "--mode", "fixed"]
    argv += ["--workers", "1", "--header", "Content-Type: application/json", "--body", body]
    proc = sup.start("function", argv, role="load")
    procs.wait_ready(proc, port)
    return proc


def start_origin(sup, opts, bins, lc, leg):
    """Start the leg's origin (tools/upstream by default) answering every request with the
    leg's body; returns the process and a description for the report."""
    port = lc.origin_port
    procs.wait_free(port)
    text, size = leg.literal_body, leg.body_len
    body = f"200 {text.decode('ascii')!r}" if text is not None else f"200 with {size:,} bytes"
    if opts.origin_cmd:
        cmd = opts.origin_cmd.replace("{port}", str(port)).replace("{body_size}", str(size))
        argv, what = ["bash", "-c", "exec " + cmd], f"custom: `{opts.origin_cmd}`"
    elif opts.origin == "nginx":
        d = f"{lc.work}/origin"
        write_nginx_origin(d, port, text, size, opts.origin_workers, lc.nofile)
        argv = ["nginx", "-p", d, "-c", f"{d}/nginx.conf", "-e", f"{d}/error.log"]
        what = f"nginx ({opts.origin_workers} worker), {body}, keep-alive"
    else:
        argv = [
            bins["upstream"],
            "--listen",
            f"127.0.0.1:{port}",
            "--mode",
            "fixed",
            "--workers",
            str(opts.origin_workers),
        ]
        if text is not None:
            argv += ["--body", text.decode("ascii")]
        elif size:
            argv += ["--body-size", str(size)]
        what = f"tools/upstream --mode fixed ({opts.origin_workers} worker), {body}, keep-alive"
    proc = sup.start("origin", argv, role="load")
    procs.wait_ready(proc, port)
    return proc, what
