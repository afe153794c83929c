"""The tls scenario's own figures: the handshake leg (every request a new connection with a
full TLS 1.3 handshake) per handshake, its sanity checks, and issue 6's two targets:

- keep-alive leg: tollgate's CPU-µs per request ≤ ISSUE6_MAX_CPU_RATIO × nginx's;
- handshake leg: tollgate's handshakes/s ≥ ISSUE6_MIN_HANDSHAKE_RATIO × nginx's.

loadgen counts the handshakes that completed and how many of them resumed a session; with
--no-resume that must be none, and with `Connection: close` honoured there is one handshake
per request (a peer that kept the connection open would show fewer)."""

from . import report
from .scenarios import HANDSHAKE, ISSUE6_MAX_CPU_RATIO, ISSUE6_MIN_HANDSHAKE_RATIO, THROUGHPUT

# A run's handshakes may exceed its responses by the connections open at the end of -d (at
# most the concurrency); fewer handshakes than this share of the responses means connections
# were reused.
MIN_HANDSHAKES_PER_REQUEST = 0.99


def figures(r):
    """A handshake run's per-handshake fields from its loadgen result and CPU (`cpu_s`,
    `machine_cpu_us_per_req` as measure.throughput gives them)."""
    tls = r.get("tls") or {}
    n = tls.get("handshakes") or 0
    secs = r.get("duration_s") or 0
    per = r["requests"] / n if n else 0.0  # machine CPU was per response; now per handshake
    return {
        "handshakes": n,
        "resumed": tls.get("resumed"),
        "handshakes_per_s": n / secs if secs else 0.0,
        "cpu_us_per_handshake": r["cpu_s"] * 1e6 / n if n else 0.0,
        "machine_cpu_us_per_handshake": r["machine_cpu_us_per_req"] * per,
        # loadgen's side of it (the client verifies the certificate and the signature)
        "client_cpu_us_per_handshake": r.get("client_cpu_us_per_req", 0.0) * per,
    }


def problems(r):
    """What is wrong with one handshake run, one line each."""
    out = []
    n, resumed = r.get("handshakes") or 0, r.get("resumed")
    if n <= 0:
        out.append("no TLS handshake completed")
        return out
    if resumed is None:
        out.append("the load generator did not say how many handshakes resumed")
    elif resumed:
        out.append(f"{resumed} of {n} handshakes resumed a session (all must be full)")
    if n < MIN_HANDSHAKES_PER_REQUEST * r["requests"]:
        out.append(
            f"{n} handshakes for {r['requests']} requests: connections were reused "
            "(`Connection: close` not honoured?)"
        )
    version = (r.get("tls") or {}).get("version")
    if version != "TLSv1.3":
        out.append(f"negotiated {version}, not TLSv1.3")
    if not r["handshakes_per_s"] > 0:
        out.append(f"handshakes/s is {r['handshakes_per_s']}")
    if not r["cpu_us_per_handshake"] > 0:
        out.append(f"CPU/handshake is {r['cpu_us_per_handshake']}")
    return out


def _row(res, kind):
    return next((row for row in res.rows if row.target.kind == kind and row.runs), None)


def target(res, key, bound, at_most):
    """{"ratio", "per_repetition", "bound", "met"} of the tollgate row's `key` ÷ nginx's in
    one leg; None when either row has no runs. met: ratio ≤ bound (at_most) or ≥ bound."""
    row, base = _row(res, "tollgate"), _row(res, "nginx")
    if row is None or base is None:
        return None
    ratio = report._ratio(row.median.get(key), base.median.get(key))
    by_rep = {r["rep"]: r.get(key) for r in base.runs}
    each = [report._ratio(r.get(key), by_rep.get(r["rep"])) for r in row.runs if r["rep"] in by_rep]
    if ratio is None:
        return None
    met = ratio <= bound if at_most else ratio >= bound
    return {"ratio": ratio, "per_repetition": each, "bound": bound, "met": met}


def issue6(legs):
    """Issue 6's two targets from the tls scenario's legs (LegResults): {"cpu_per_request",
    "handshakes_per_s"}, each target()'s answer or None (not measured)."""
    out = {"cpu_per_request": None, "handshakes_per_s": None}
    for res in legs:
        if not res.leg.tls:
            continue
        if res.leg.kind == THROUGHPUT:
            out["cpu_per_request"] = target(res, "cpu_us_per_req", ISSUE6_MAX_CPU_RATIO, True)
        elif res.leg.kind == HANDSHAKE:
            out["handshakes_per_s"] = target(
                res, "handshakes_per_s", ISSUE6_MIN_HANDSHAKE_RATIO, False
            )
    return out


def lines(verdict):
    """The markdown lines under the tls scenario: issue 6's targets, met or not."""
    fmt = report._num
    what = {
        "cpu_per_request": ("keep-alive CPU-µs/req, tollgate ÷ nginx", "≤"),
        "handshakes_per_s": ("handshakes/s, tollgate ÷ nginx", "≥"),
    }
    out = ["Issue 6 targets (same run, rows alternated):", ""]
    for key, (label, op) in what.items():
        v = verdict.get(key)
        if v is None:
            out.append(f"- {label}: not measured")
            continue
        each = " ".join(fmt(x, 2) for x in v["per_repetition"])
        state = "**met**" if v["met"] else "**not met**"
        out.append(
            f"- {label}: {fmt(v['ratio'], 2)} (target {op} {v['bound']:g}): {state} "
            f"(per repetition: {each})"
        )
    return out + [""]
