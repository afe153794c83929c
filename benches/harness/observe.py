"""Issue 7's rows (the full-pipeline scenario): `server.metrics` on or off, and a stage access
log in API Gateway's JSON format written to a file in the run's scratch dir. Around each run of
a row with an access log: the lines the file gained (counted from the byte offset where the
run began, once the log thread has caught up) against the requests the load generator
completed, and the dropped-lines counter from that row's admin API (`/metrics.json`)."""

import http.client
import json
import os
import time

# API Gateway's JSON example format with 12 `$context` variables (README "Access logs").
FIELDS = (
    ("requestId", "$context.requestId"),
    ("ip", "$context.identity.sourceIp"),
    ("userAgent", "$context.identity.userAgent"),
    ("requestTime", "$context.requestTime"),
    ("httpMethod", "$context.httpMethod"),
    ("resourcePath", "$context.resourcePath"),
    ("path", "$context.path"),
    ("protocol", "$context.protocol"),
    ("status", "$context.status"),
    ("responseLength", "$context.responseLength"),
    ("responseLatency", "$context.responseLatency"),
    ("integrationLatency", "$context.integrationLatency"),
)
FORMAT = "{ " + ", ".join(f'"{k}":"{v}"' for k, v in FIELDS) + " }"
# nginx's nearest equivalents, in a JSON log_format (escape=json).
NGINX_FIELDS = (
    ("requestId", "$request_id"),
    ("ip", "$remote_addr"),
    ("userAgent", "$http_user_agent"),
    ("requestTime", "$time_local"),
    ("httpMethod", "$request_method"),
    ("resourcePath", "$uri"),
    ("path", "$request_uri"),
    ("protocol", "$server_protocol"),
    ("status", "$status"),
    ("responseLength", "$body_bytes_sent"),
    ("responseLatency", "$request_time"),
    ("integrationLatency", "$upstream_response_time"),
)
NGINX_FORMAT = "{" + ",".join(f'"{k}":"{v}"' for k, v in NGINX_FIELDS) + "}"
# The admin APIs of a leg's access-log rows: --port-base + these, in variant order. Free in a
# leg of at most 3 tollgate variants (+3 .. +5); harness tests check the catalogue keeps to it.
ADMIN_OFFSETS = (6, 7)
MAX_VARIANTS = 3
SETTLE_S = 5.0  # longest wait for the log thread to write a run's last lines
DROPPED = "access_log_lines_dropped_total"  # /metrics.json "gateway" (src/control/metrics.rs)


def log_path(work, name):
    return os.path.join(work, f"{name}-access.log")


def admin_offset(variants, v):
    """The admin port offset of access-log variant v among the leg's variants."""
    logged = [x for x in variants if x.access_log]
    return ADMIN_OFFSETS[logged.index(v)]


def patch(template, v, log, admin_port):
    """Top-level config keys for variant v from its template: `server` with `metrics` (and the
    admin API on admin_port when it logs), `stages` with `accessLogSettings` to file `log`."""
    with open(template) as f:
        cfg = json.load(f)
    server = dict(cfg["server"], metrics=v.metrics)
    out = {"server": server}
    if v.access_log:
        server["admin"] = {"address": f"127.0.0.1:{admin_port}"}
        settings = {"destinationArn": log, "format": FORMAT}
        out["stages"] = [dict(s, accessLogSettings=settings) for s in cfg["stages"]]
    return out


def setup(bench, leg, lc, t):
    """Set row t up (its log file afresh, its admin port); returns its config patch."""
    template = os.path.join(os.path.dirname(bench.template), t.variant.template)
    if t.variant.access_log:
        t.log_path = log_path(bench.work, t.name)
        if os.path.exists(t.log_path):
            os.remove(t.log_path)
        t.log_admin = lc.origin_port + admin_offset(leg.variants, t.variant)
    return patch(template, t.variant, t.log_path, t.log_admin)


def size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def dropped(port):
    """(the gateway's dropped-lines total, None) or (None, why)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics.json")
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            return None, f"admin GET /metrics.json answered {resp.status}"
        return json.loads(body)["gateway"][DROPPED], None
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as e:
        return None, f"admin GET /metrics.json: {e!r}"
    finally:
        conn.close()


def before(t):
    """What a row's window starts from: (log size, dropped total)."""
    return size(t.log_path), dropped(t.log_admin)


def settle(path, offset, want, timeout=SETTLE_S, step=0.1):
    """Wait until the file holds at least `want` lines past offset and stops growing (the log
    thread caught up), at most timeout; returns the bytes past offset."""
    deadline = time.monotonic() + timeout
    last = -1
    while True:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
        n = data.count(b"\n")
        if (n >= want and len(data) == last) or time.monotonic() >= deadline:
            return data
        last = len(data)
        time.sleep(step)


def window(t, start, r, timeout=SETTLE_S):
    """The run's log fields: log_lines (lines written during it), log_dropped, log_json_ok
    (its last line parses as JSON with every field), or log_error (why not)."""
    offset, (d0, why0) = start
    try:
        data = settle(t.log_path, offset, r["requests"], timeout)
    except OSError as e:
        return {"log_error": f"reading {t.log_path}: {e}"}
    d1, why1 = dropped(t.log_admin)
    out = {"log_lines": data.count(b"\n"), "log_json_ok": last_line_ok(data)}
    if why0 or why1:
        out["log_error"] = why0 or why1
    else:
        out["log_dropped"] = d1 - d0
    return out


def last_line_ok(data):
    lines = data.rstrip(b"\n").rsplit(b"\n", 1)
    try:
        obj = json.loads(lines[-1])
    except ValueError:
        return False
    return isinstance(obj, dict) and all(k in obj for k, _ in FIELDS)


def problems(r, connections):
    """What is wrong with a run's access log, if it has one. Lines plus dropped lines match the
    requests completed up to the requests in flight when the run stopped (at most one per
    connection: logged, not counted by the load generator)."""
    if "log_lines" not in r and "log_error" not in r:
        return []
    if r.get("log_error"):
        return [f"access log: {r['log_error']}"]
    out = []
    n, lost = r["log_lines"], r["log_dropped"]
    if not 0 <= n + lost - r["requests"] <= connections:
        out.append(
            f"access log: {n:,} lines + {lost:,} dropped for {r['requests']:,} requests "
            f"(expected the requests plus at most {connections} in flight)"
        )
    if not r["log_json_ok"]:
        out.append("access log: the last line is not JSON with every field")
    return out


def progress(r):
    if "log_lines" not in r:
        return f"  log: {r['log_error']}" if r.get("log_error") else ""
    return f"  log {r['log_lines']} lines, {r.get('log_dropped', '?')} dropped"


def lines(res):
    """Below the ratios: each access-log row's lines written vs requests, over all runs."""
    out = []
    for row in res.rows:
        runs = [r for r in row.runs if "log_lines" in r]
        if not runs:
            continue
        n = sum(r["log_lines"] for r in runs)
        reqs = sum(r["requests"] for r in runs)
        lost = sum(r.get("log_dropped") or 0 for r in runs)
        out.append(
            f"- {row.target.name}: access log lines {n:,} for {reqs:,} requests "
            f"({n - reqs:+,}: requests in flight when a run stopped are logged, not counted), "
            f"{lost:,} dropped (`{DROPPED}`)"
        )
    return out
