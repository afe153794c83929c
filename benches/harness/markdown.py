"""The written results: the markdown block (for benches/RESULTS.md), the JSON record and the
per-run CSV."""

import csv
import datetime
import json
import math
import os

from . import auth, cache, functions, handshake, observe, pairing, report, samebytes
from .scenarios import HANDSHAKE, IDLE, STREAM

CONF = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf")
# benches/RESULTS.md: a run's block goes right below this line, so the newest comes first.
MARKER = "<!-- benches/run inserts each run's results below this line, newest first -->"


def _when(meta):
    a = datetime.datetime.fromisoformat(meta["started"])
    b = datetime.datetime.fromisoformat(meta["finished"])
    return f"{a:%Y-%m-%d %H:%M}–{b:%H:%M} UTC"


def _versions(meta):
    v, g = meta["versions"], meta["git"]
    parts = [v.get("nginx") or "nginx ?", f"HAProxy {v.get('haproxy') or '?'}"]
    if v.get("openssl"):
        parts.append(v["openssl"].split(" (")[0])
    if v.get("wrk"):
        parts.append(f"wrk {v['wrk']}")
    tollgate = f"tollgate {g['short']} (src last changed in {g['src_last_changed']}"
    if g["src_uncommitted_changes"]:
        tollgate += ", uncommitted changes"
    parts += [tollgate + ")", v.get("rustc") or "rustc ?"]
    features = meta["loadgen"]["features"]
    parts.append(
        "loadgen with " + (", ".join(features) if features else "neither https nor --hold")
    )
    return ", ".join(parts)


def document(meta, results):
    m, o = meta["machine"], meta["options"]
    pin = "off"
    if o["pin"]:
        pin = (
            f"proxies on CPU {o['proxy_cpus']}, load generator, origin and local function "
            f"processes on CPU {o['load_cpus']} (those of a row with `server.cpuAffinity` "
            '"workers" on their worker\'s CPU)'
        )
    names = ", ".join(sc.name for sc, _, _ in results)
    out = [
        f"### {_when(meta)} — {names}{' (--quick)' if meta['quick'] else ''}",
        "",
        "```",
        meta["command"],
        "```",
        "",
        f"- machine: nproc {m['nproc']}, {m['cpu']}, kernel {m['kernel']}, RLIMIT_NOFILE "
        f"{m['rlimit_nofile']}; load average at start: {m['load_average_at_start']}",
        f"- versions: {_versions(meta)}",
        f"- proxies: {o['workers']} worker(s) each, access logs off (but in full-pipeline's "
        "logged rows), every peer's upstream "
        f"keep-alive pool at least as large as the client concurrency (per scenario below); "
        f"pinning: {pin}",
    ]
    out += [f"- note: {n}" for n in meta["notes"]]
    for sc, done, why in results:
        out += ["", f"#### {sc.name} — {sc.summary}", ""]
        if why:
            out.append(f"Skipped: {why}.")
            continue
        for res in done:
            out += _leg(meta, sc, res)
        if any(res.leg.tls for res in done):
            out += handshake.lines(handshake.issue6(done))
    return "\n".join(out).rstrip("\n") + "\n"


def _leg(meta, sc, res):
    o, leg, lc = meta["options"], res.leg, res.config
    out = []
    if leg.name:
        out += [f"**{leg.name}**", ""]
    rows = samebytes.driving_order(leg, res.rows)
    driven = [r.target.name for r in rows if r.status not in ("n/a", "not yet")]
    if res.skipped or res.failed:
        return out + [f"Not run: {res.skipped or res.failed}.", ""]
    each = ", 1 repetition" if o["reps"] == 1 else f", {o['reps']} repetitions in alternation"
    warm = (
        f", {o['warmup']:g} s warm-up each"
        if leg.kind not in (IDLE, STREAM) and o["warmup"]
        else ""
    )
    fresh = (
        ", each target started afresh for every repetition" if leg.kind in (IDLE, STREAM) else ""
    )
    pairs = pairing.describe(res)
    out.append(f"- workload: `{res.client}`{each} ({' '.join(driven)}){warm}{fresh}{pairs}")
    out.append(f"- origin: {res.origin}")
    out.append(
        f"- upstream keep-alive pool: {lc.pool} per peer (nginx `keepalive {lc.pool}`, HAProxy "
        f"`pool-max-conn {lc.pool}`, tollgate `upstreamIdlePerHost {lc.pool}`); the null proxy "
        f"opens one upstream connection per client connection"
    )
    if leg.kind == IDLE:
        out.append(
            "- memory per connection: (RSS of all the proxy's processes 1 s after loadgen "
            "reports all connections answered and held − RSS 1 s after start) ÷ connections held"
        )
    if leg.kind == STREAM:
        out.append(
            "- nginx: `proxy_request_buffering off` (streams request bodies like HAProxy and "
            "tollgate), `proxy_max_temp_file_size 0`, `client_max_body_size 0`; tollgate "
            "`maxBodyBytes` 2× the body; peak RSS growth = VmHWM after − VmRSS before (VmHWM "
            "reset through /proc/PID/clear_refs before the run)"
        )
    if leg.tls:
        seen = "; ".join(
            f"{r.target.name}: " + ", ".join(f"{k} {v}" for k, v in r.runs[0]["tls"].items())
            for r in res.rows
            if r.runs and r.runs[0].get("tls")
        )
        out.append(
            "- TLS 1.3 with the same self-signed ECDSA P-256 certificate everywhere (nginx "
            "`ssl_protocols TLSv1.3`, HAProxy `ssl-min-ver TLSv1.3`, tollgate listener `tls` "
            "with default `securityPolicy` (1.2 and 1.3; the client offers only 1.3)); the "
            "origin behind them is plain HTTP"
            + (f"; the client saw (first run): {seen}" if seen else "")
        )
    if leg.kind == HANDSHAKE:
        out.append(
            "- every request on a new connection: `Connection: close` (each peer answers it and "
            "closes), loadgen `--no-resume` (rustls `Resumption::disabled()`: no session kept "
            "or offered), so every connection is a full TLS 1.3 handshake (certificate, "
            "ECDSA signature, X25519 key exchange) for every peer; each peer still issues its "
            "default session tickets after the handshake (nginx/HAProxy: OpenSSL's 2, tollgate: "
            "rustls' 2), a cost included in its CPU; `resumed` counts resumptions (must be 0). "
            "CPU-µs/handshake = the peer's CPU ÷ handshakes (one request each)"
        )
    for row in res.rows:
        if row.status not in ("measured", "n/a", "not yet"):
            out.append(f"- {row.status}: {row.target.name}: {' '.join(row.reason.split())}")
    if leg.cache:
        out.append(
            "- caches, each warmed by the pre-run check's GET: tollgate stage cache "
            '(`cacheClusterEnabled`, `cacheClusterSize` "0.5", `*/*` `cachingEnabled` with '
            "`cacheTtlInSeconds` 3600); nginx `proxy_cache` (keys zone 10 MB, "
            "`proxy_cache_valid 200 1h`); HAProxy `cache` section (`max-age 3600`, "
            "`http-request cache-use` / `http-response cache-store`, after `http-response "
            "set-header Cache-Control max-age=3600`: HAProxy stores nothing without a lifetime "
            "or validator and the origin sends none, so its responses carry that header and "
            "`age`); the null proxy has no cache "
            "(every request goes to the origin)"
        )
    out += samebytes.describe(res)
    if leg.variants:
        out.append(
            "- tollgate rows: "
            + "; ".join(
                f"`tollgate-{v.name}` = benches/conf/{v.template}"
                + (f" with `{json.dumps(v.patch)}`" if v.patch else "")
                + (f", every response {v.expect}" if v.expect != 200 else "")
                + (f", sending {auth.SENDS[v.auth]}" if v.auth else "")
                + ("".join(f" and `{h}`" for h in v.headers))
                + (", `server.metrics: false`" if not v.metrics else "")
                + (", a stage access log (JSON, to a file)" if v.access_log else "")
                + (
                    f", open loop (`loadgen --rate R`) at the req/s tollgate-{v.rate_of} "
                    "reached in the same repetition"
                    if v.rate_of
                    else ""
                )
                for v in leg.variants
            )
            + "; the errors column counts responses other than the row's expected status"
        )
    out += ["", "Each figure: median (÷ nginx, ÷ null proxy).", "", report.table(res), ""]
    ratios = report.variant_ratios(res)
    if ratios:
        base = f"tollgate-{leg.variants[0].name}"
        out.append(f"CPU-µs/req ÷ {base} (same run, rows alternated):")
        out.append("")
        by = {f"tollgate-{v.name}": v for v in leg.variants}
        for name, m, each in ratios:
            per = " ".join(report._num(x, 3) for x in each)
            v = by.get(name)
            bound = f"; issue {v.issue} asks ≤ {v.max_cpu_ratio:g}" if v and v.max_cpu_ratio else ""
            if bound and name in res.paired:
                bound = (
                    f"; kept beside the next line, which issue {v.issue}'s bound is read against"
                )
            out.append(f"- {name}: {report._num(m, 3)} (per repetition: {per}){bound}")
            if name in res.paired:
                out.append(pairing.line(res, name, v))
        for theirs, mine, m, each in report.rate_matched_ratios(res):
            per = " ".join(report._num(x, 3) for x in each)
            v = by.get(theirs)
            bound = f"; issue {v.issue} asks ≤ {v.max_cpu_ratio:g}" if v and v.max_cpu_ratio else ""
            out.append(
                f"- {theirs} ÷ {mine} (the plain proxy at {theirs}'s own rate, open loop): "
                f"{report._num(m, 3)} (per repetition: {per}){bound}"
            )
        out += auth_lines(res) + local_lines(res) + observe.lines(res) + [""]
    if leg.cache:
        out += cache.lines(res)
    if leg.access_log:
        out += [
            f"- tollgate's access log `format`: `{observe.FORMAT}`",
            f"- nginx: `log_format escape=json '{observe.NGINX_FORMAT}'`, `access_log FILE "
            "buffer=64k flush=1s` (nginx without a log: proxy-small's nginx row)",
            "",
        ]
    return out


def auth_lines(res):
    """Below the ratios of a leg with a Lambda authorizer row: its function's CPU per request
    (~0 when every request is a cached hit, as the row means to measure)."""
    out = []
    for row in res.rows:
        v = row.target.variant
        if v and v.auth == "lambda" and row.runs:
            cpu = report._num(row.median.get("function_cpu_us_per_req"), 2)
            out.append(
                f"- the Lambda function's CPU-µs per request {row.target.name} served: {cpu} "
                "(~0: every request a cached authorizer result)"
            )
    return out


def local_lines(res):
    """Below the ratios of a leg with a local-function row: how the function runs, its own
    CPU per request (not in tollgate's), the two together, and issue 9's context line."""
    out = []
    for row in res.rows:
        v = row.target.variant
        if not (v and v.local):
            continue
        fn = functions.FUNCTIONS[v.local]
        out.append(
            f"- {row.target.name}: the function is {v.local} ({fn.source}, {fn.built_on}, "
            f"release build) run by tollgate's function host, "
            f"{functions.settings(os.path.join(CONF, v.template), v.concurrency)}"
            + (
                f', `server.cpuAffinity` "{v.cpu_affinity}" (the function processes pinned to '
                "their worker's CPU, not moved)"
                if v.cpu_affinity
                else ""
            )
            + "; tollgate's CPU-µs/req "
            "counts the tollgate process (workers and function host threads), not the "
            "function processes (its children)"
        )
        if row.runs:
            m = row.median
            fn, own = m.get("local_fn_cpu_us_per_req"), m.get("cpu_us_per_req")
            both = fn + own if fn is not None and own is not None else None
            counts = " ".join(
                "→".join(str(n) for n in r.get("local_fn_processes", ())) for r in row.runs
            )
            out.append(
                f"- {row.target.name}: the function processes' CPU-µs per request: "
                f"{report._num(fn, 2)} (tollgate + function: {report._num(both, 2)}); "
                f"function processes at the start → end of each run: {counts}; their RSS: "
                f"{report._num(m.get('local_fn_rss_kib'), 0)} KiB"
            )
    if out:
        out.append(f"- {functions.SAM_CONTEXT}")
    return out


def _clean(v):
    """JSON has no inf/nan: they become null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(_clean(data), f, indent=1, ensure_ascii=False)
        f.write("\n")
    return path


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def write_csv(path, results):
    rows = []
    for sc, done, _ in results:
        for res in done or []:
            for row in res.rows:
                for r in row.runs:
                    flat = {k: v for k, v in r.items() if not isinstance(v, dict)}
                    rows.append(
                        dict(scenario=sc.name, leg=res.leg.name, target=row.target.name, **flat)
                    )
    fields = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields or ["scenario"])
        w.writeheader()
        w.writerows(rows)
    return path


def insert_results(path, block):
    """Insert the block below MARKER in RESULTS.md (at the end if the marker is missing)."""
    with open(path) as f:
        text = f.read()
    if MARKER in text:
        head, tail = text.split(MARKER, 1)
        text = f"{head}{MARKER}\n\n{block}\n{tail.lstrip(chr(10))}"
    else:
        text = text.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(text)
    return path
