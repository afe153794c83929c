"""Per-target medians, ratios to nginx and to the null proxy, the markdown tables, the JSON
record and the --quick sanity checks."""

import math
import statistics

from . import functions, handshake, observe, paired, peers
from .scenarios import HANDSHAKE, IDLE, STREAM, THROUGHPUT

# Per leg kind: the figures (run field, column title, decimals) each reported as a median with
# its ratios to nginx and to the null proxy, then the columns that list every run.
FIGURES = {
    THROUGHPUT: [
        ("rps", "req/s", 0),
        ("cpu_us_per_req", "CPU-µs/req", 2),
        ("p50_ms", "p50 ms", 3),
        ("p99_ms", "p99 ms", 3),
        ("p999_ms", "p99.9 ms", 3),
        ("rss_kib", "RSS KiB", 0),
    ],
    HANDSHAKE: [
        ("handshakes_per_s", "handshakes/s", 0),
        ("cpu_us_per_handshake", "CPU-µs/handshake", 1),
        ("p50_ms", "p50 ms (the request, after the handshake)", 3),
        ("p99_ms", "p99 ms", 3),
        ("rss_kib", "RSS KiB", 0),
    ],
    IDLE: [
        ("kib_per_conn", "KiB/connection", 2),
        ("rss_kib", "RSS holding KiB", 0),
        ("cpu_us_per_conn", "CPU-µs/connection", 1),
    ],
    STREAM: [
        ("mb_per_s", "MB/s", 0),
        ("cpu_us_per_mb", "CPU-µs/MB", 0),
        ("hwm_growth_kib", "peak RSS growth KiB", 0),
        ("p50_ms", "ms/transfer (p50)", 0),
    ],
}
EACH_RUN = {
    THROUGHPUT: [("rps", "req/s (each run)", 0), ("cpu_us_per_req", "CPU-µs/req (each run)", 2)],
    HANDSHAKE: [
        ("handshakes_per_s", "handshakes/s (each run)", 0),
        ("cpu_us_per_handshake", "CPU-µs/handshake (each run)", 1),
    ],
    IDLE: [("kib_per_conn", "KiB/connection (each run)", 2)],
    STREAM: [("mb_per_s", "MB/s (each run)", 0), ("hwm_growth_kib", "RSS growth (each run)", 0)],
}
BASES = ("nginx", "nullproxy")
# A Lambda authorizer row measures cached hits: its function (started only for that leg) idles.
# One stray 10 ms CPU tick over a short --quick run stays far below this; a call per request
# (an HTTP exchange with tools/upstream) does not.
MAX_FUNCTION_CPU_US = 1.0


def unexpected(r):
    """Responses other than the row's expected status (`expect`: 200 = any 2xx; a row that
    measures rejections expects 429)."""
    expect = r.get("expect", 200)
    if expect == 200:
        return r["non2xx"]
    if r.get("status"):
        return r["requests"] - r["status"].get(expect, 0)
    return r["requests"] - r["non2xx"]  # wrk counts non-2xx only


def variant_ratios(res, key="cpu_us_per_req"):
    """In a leg with tollgate variants: each other variant's `key` ÷ the first variant's (the
    baseline, tollgate-plain), as (name, ratio of the medians, [ratio in each repetition]).
    Repetitions alternate the rows, so the per-repetition ratios pair runs made seconds
    apart."""
    rows = [r for r in res.rows if r.target.variant and r.runs]
    if not res.leg.variants or not rows or rows[0].target.variant != res.leg.variants[0]:
        return []
    base, out = rows[0], []
    by_rep = {r["rep"]: r.get(key) for r in base.runs}
    for row in rows[1:]:
        each = [_ratio(r.get(key), by_rep.get(r["rep"])) for r in row.runs if r["rep"] in by_rep]
        out.append((row.target.name, _ratio(row.median.get(key), base.median.get(key)), each))
    return out


def rate_matched_ratios(res, key="cpu_us_per_req"):
    """For each variant driven at another's rate (`rate_of`): that other row's `key` ÷ this
    row's, as (other's name, this row's name, ratio of the medians, [per repetition])."""
    rows = {r.target.name: r for r in res.rows if r.target.variant and r.runs}
    out = []
    for v in res.leg.variants or ():
        mine, theirs = rows.get(f"tollgate-{v.name}"), rows.get(f"tollgate-{v.rate_of}")
        if not (v.rate_of and mine and theirs):
            continue
        by_rep = {r["rep"]: r.get(key) for r in mine.runs}
        each = [_ratio(r.get(key), by_rep.get(r["rep"])) for r in theirs.runs if r["rep"] in by_rep]
        m = _ratio(theirs.median.get(key), mine.median.get(key))
        out.append((theirs.target.name, mine.target.name, m, each))
    return out


def _variant(res, name):
    return next((v for v in res.leg.variants if f"tollgate-{v.name}" == name), None)


def _bound(res, name):
    """The bound an issue sets on a variant row's ratio to the first variant, or None."""
    v = _variant(res, name)
    return v.max_cpu_ratio if v else None


def median(values):
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarize(res):
    """Medians per measured row, then ratios to the nginx and null-proxy rows."""
    kind = res.leg.kind
    for row in res.rows:
        row.median = {}
        if row.runs:
            for key in {f for f, _, _ in FIGURES[kind]} | _extra_keys(kind):
                row.median[key] = median(r.get(key) for r in row.runs)
    base = {b: _row(res, b) for b in BASES}
    for row in res.rows:
        row.ratios = {b: {} for b in BASES}
        if not row.median or row.target.kind in peers.ORIGINS:
            continue
        for b, brow in base.items():
            for key, _, _ in FIGURES[kind]:
                row.ratios[b][key] = _ratio(row.median.get(key), brow and brow.median.get(key))


def _extra_keys(kind):
    if kind == THROUGHPUT:
        return {
            "machine_cpu_us_per_req",
            "util_pct",
            "origin_cpu_us_per_req",
            "function_cpu_us_per_req",
            "local_fn_cpu_us_per_req",
            "local_fn_rss_kib",
        }
    if kind == HANDSHAKE:
        return {
            "machine_cpu_us_per_handshake",
            "client_cpu_us_per_handshake",
            "util_pct",
            "rps",
            "cpu_us_per_req",
        }
    return {"rss_before_kib"}


def _row(res, kind):
    for row in res.rows:
        if row.target.kind == kind and row.runs:
            return row
    return None


def _ratio(v, base):
    if v is None or base is None:
        return None
    if base == 0:
        return math.inf if v else 1.0
    return v / base


def _num(v, decimals):
    if v is None:
        return "—"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return f"{v:,.{decimals}f}" if decimals == 0 else f"{v:.{decimals}f}"


def _cell(row, key, decimals):
    v = _num(row.median.get(key), decimals)
    rn, r0 = (row.ratios[b].get(key) for b in BASES)
    if rn is None and r0 is None:
        return v
    return f"{v} ({_num(rn, 2)}, {_num(r0, 2)})"


def table(res):
    """The markdown table of one leg."""
    kind = res.leg.kind
    figs, each = FIGURES[kind], EACH_RUN[kind]
    head = ["target"] + [t for _, t, _ in figs] + [t for _, t, _ in each]
    if kind == THROUGHPUT:
        head += ["machine CPU-µs/req", "util %", "other load % (max)"]
    if kind == HANDSHAKE:
        head += [
            "machine CPU-µs/handshake",
            "loadgen CPU-µs/handshake",
            "util %",
            "other load % (max)",
            "resumed",
        ]
    if kind == IDLE:
        head += ["held", "RSS before KiB"]
    head += ["errors"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for row in res.rows:
        name = row.target.name
        if row.target.kind == "origin":
            name = "origin (direct, no proxy)"
        elif row.target.kind == peers.SAME_BYTES:
            n = res.same_bytes.get("bytes")
            size = f"{n}-byte responses" if n else "the response bytes"
            name = f"{name} (direct, no proxy; {size} of tollgate-{res.leg.same_bytes})"
        if not row.runs:
            cells = [_reason(row)] + ["—"] * (len(head) - 2)
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
            continue
        cells = [_cell(row, k, d) for k, _, d in figs]
        cells += [" ".join(_num(r.get(k), d) for r in row.runs) for k, _, d in each]
        m = row.median
        if kind == THROUGHPUT:
            other = max(r["other_pct"] for r in row.runs)
            cells += [_num(m["machine_cpu_us_per_req"], 2), _num(m["util_pct"], 0), _num(other, 0)]
        if kind == HANDSHAKE:
            other = max(r["other_pct"] for r in row.runs)
            resumed = sum(r.get("resumed") or 0 for r in row.runs)
            cells += [
                _num(m["machine_cpu_us_per_handshake"], 1),
                _num(m["client_cpu_us_per_handshake"], 1),
                _num(m["util_pct"], 0),
                _num(other, 0),
                f"{resumed} of {sum(r['handshakes'] for r in row.runs):,}",
            ]
        if kind == IDLE:
            cells += [" ".join(str(r.get("held")) for r in row.runs), _num(m["rss_before_kib"], 0)]
        cells.append(str(sum(unexpected(r) + r["socket_errors"] for r in row.runs)))
        if row.status != "measured":
            name += f" ({row.status}: {_reason(row)})"
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _reason(row, limit=160):
    """A reason that fits a table cell: one line, no `|`, bounded."""
    text = " ".join((row.reason or row.status).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sanity(scenario, res):
    """What is wrong with a leg's numbers, one line each; [] when they are sane."""
    where = scenario + (f"/{res.leg.name}" if res.leg.name else "")
    if res.failed:
        return [f"{where}: {res.failed}"]
    if res.skipped:
        return []
    bad = []
    for name, p in res.paired.items():
        if p["failed"]:
            bad.append(f"{where} {name} ÷ {p['to']}, driven at once: {p['failed']}")
    for row in res.rows:
        t = f"{where} {row.target.name}"
        if row.status in ("n/a", "not yet"):
            continue
        if row.status != "measured" or not row.runs:
            bad.append(f"{t}: {row.status}: {row.reason}")
            continue
        for r in row.runs:
            bad += [f"{t} rep {r['rep']}: {p}" for p in _run_problems(res, r)]
        for b in BASES:
            for key, v in row.ratios.get(b, {}).items():
                if v is not None and not math.isfinite(v):
                    bad.append(f"{t}: {key} ÷ {b} is {v}")
    return bad


def _run_problems(res, r):
    kind, leg = res.leg.kind, res.leg
    out = []
    if r["socket_errors"]:
        out.append(f"{r['socket_errors']} socket errors {r['errors']}")
    if unexpected(r):
        what = "2xx" if r.get("expect", 200) == 200 else r["expect"]
        out.append(f"{unexpected(r)} responses were not {what} {r['status']}")
    if r["requests"] <= 0:
        out.append("no requests completed")
    if "rss_kib" in r and r["rss_kib"] <= 0:
        out.append("RSS was not read")
    if kind == THROUGHPUT:
        if not r["rps"] > 0:
            out.append(f"req/s is {r['rps']}")
        if not r["cpu_us_per_req"] > 0:
            out.append(f"CPU/request is {r['cpu_us_per_req']}")
        fn = r.get("function_cpu_us_per_req")
        if fn is not None and fn > MAX_FUNCTION_CPU_US:
            out.append(
                f"the Lambda authorizer's function used {fn:.2f} CPU-µs per request: "
                "it was called during the run, not the cached-hit path"
            )
        out += functions.problems(r)
        out += observe.problems(r, res.config.connections)
    elif kind == HANDSHAKE:
        out += handshake.problems(r)
    elif kind == IDLE:
        if r["held"] != leg.connections:
            out.append(f"held {r['held']} of {leg.connections} connections")
        if not math.isfinite(r["kib_per_conn"]):
            out.append(f"KiB/connection is {r['kib_per_conn']}")
    elif kind == STREAM:
        if r["requests"] != leg.transfers:
            out.append(f"{r['requests']} of {leg.transfers} transfers completed")
        if not r["mb_per_s"] > 0:
            out.append(f"MB/s is {r['mb_per_s']}")
        if not r["cpu_us_per_mb"] > 0:
            out.append(f"CPU/MB is {r['cpu_us_per_mb']}")
        if r["hwm_kib"] <= 0:
            out.append("peak RSS was not read")
    return out


def paired_json(res):
    """The pairs of each paired variant with the first one (harness/pairing.py): pairs are
    [first's CPU-µs/req, this row's, first's req/s, this row's]."""
    out = []
    for name, p in res.paired.items():
        s = paired.summary([(a, b) for a, b, _, _ in p["pairs"]])
        bound = _bound(res, name)
        out.append(
            {
                "target": name,
                "to": p["to"],
                "median_ratio": s["median"] if s else None,
                "per_pair": s["ratios"] if s else [],
                "pairs": p["pairs"],
                "secs": p["secs"],
                "connections": p["connections"],
                "pinned": p["pinned"],
                "max": bound,
                "issue": _variant(res, name).issue if bound else None,
                "failed": p["failed"] or None,
            }
        )
    return out


def leg_json(res):
    return {
        "leg": res.leg.name,
        "kind": res.leg.kind,
        "skipped": res.skipped or None,
        "origin": res.origin,
        "client": res.client,
        "connections": res.config.connections,
        "upstream_pool": res.config.pool,
        "response_bytes": res.leg.body_len,
        "upload_bytes": res.leg.upload_bytes,
        "transfers": res.leg.transfers or None,
        "tls": res.leg.tls,
        "headers": list(res.leg.headers),
        "cpu_us_per_req_ratio_to_first_variant": [
            {
                "target": name,
                "median_ratio": m,
                "per_repetition": each,
                "max": bound,
                "issue": _variant(res, name).issue if bound else None,
                # a paired variant's bound is read against cpu_us_per_req_ratio_paired
                **({"bound_read_against": "paired"} if name in res.paired else {}),
            }
            for name, m, each in variant_ratios(res)
            for bound in [_bound(res, name)]
        ],
        "cpu_us_per_req_ratio_paired": paired_json(res),
        "cpu_us_per_req_ratio_at_equal_rate": [
            {"target": theirs, "to": mine, "median_ratio": m, "per_repetition": each}
            for theirs, mine, m, each in rate_matched_ratios(res)
        ],
        "targets": [
            {
                "name": row.target.name,
                "kind": row.target.kind,
                "io_driver": row.target.driver or None,
                "status": row.status,
                "reason": row.reason or None,
                "median": getattr(row, "median", {}),
                "ratio_to_nginx": getattr(row, "ratios", {}).get("nginx", {}),
                "ratio_to_nullproxy": getattr(row, "ratios", {}).get("nullproxy", {}),
                "runs": row.runs,
            }
            for row in res.rows
        ],
    }
