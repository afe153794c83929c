"""A leg's `paired` variants (scenarios.Variant.paired): after the sequential repetitions,
each is driven AT THE SAME TIME as the leg's first variant, a load generator each, on the rows
benches/run already started — benches/paired's method (harness/paired.py `drive`) inside the
harness. Rows driven one after another can land in different machine states (on this VM a
process's kernel time per request swings by up to ~40% for 10-20 s at a time); the two sides
of a pair share one, so each pair's ratio is the configurations' own. The variant's issue bound
(max_cpu_ratio) is read against the pairs; its sequential ratio is kept beside them.

res.paired: target name -> {"to": the first variant's name, "planned": pairs asked for, "secs",
"connections", "pinned", "pairs": [[to_us, its_us, to_rps, its_rps], ...] (CPU-µs/req and
req/s of each side), "failed": why the pairs stopped, or ""}."""

import statistics

from . import functions, measure, paired, report
from .measure import note


def run(bench, leg, res, live, conns, resign):
    """--reps pairs of --duration s for each paired variant of the leg, into res.paired.
    live: [(row, pids_of)] of the started rows; resign(t): a row's signed headers made anew."""
    if not leg.variants:
        return
    o = bench.opts
    started = {row.target.name: (row, pids_of) for row, pids_of in live}
    base = f"tollgate-{leg.variants[0].name}"
    for v in leg.variants[1:]:
        name = f"tollgate-{v.name}"
        row = next((r for r in res.rows if r.target.name == name), None)
        if not v.paired or row is None or row.status in ("n/a", "not yet"):
            continue
        entry = res.paired[name] = {
            "to": base,
            "planned": o.reps,
            "secs": o.duration,
            "connections": conns,
            "pinned": bool(bench.load_cpus()),
            "pairs": [],
            "failed": "",
        }
        missing = [n for n in (base, name) if n not in started or not started[n][0].driven]
        if missing:
            entry["failed"] = f"{' and '.join(missing)} not measured (see the table)"
        else:
            note(f"paired: {name} and {base} at once, {o.reps} × {o.duration:g}s")
        for i in range(1, o.reps + 1):
            if entry["failed"]:
                break
            entry["failed"] = _pair(bench, leg, [started[base], started[name]], entry, i, resign)
        if entry["failed"]:
            note(f"  {name} ÷ {base}, paired: {entry['failed']}")


def _pair(bench, leg, pair, entry, i, resign):
    """One pair into entry["pairs"]; "" or why it is not a measurement."""
    o, cpus = bench.opts, bench.load_cpus()
    measure.wait_quiet(o.quiet_wait)
    sides = []
    for row, pids_of in pair:
        t = row.target
        functions.place(t, cpus)
        resign(t)
        url = measure.url(t, leg, o.path)
        tls = tuple(measure.tls_options(bench, leg))
        sides.append(paired.Side(url, tuple(leg.headers + t.headers), pids_of, tls))
    results = paired.drive(bench.loadgen.path, sides, o.duration, entry["connections"], cpus)
    for (row, _), r in zip(pair, results, strict=True):
        why = problem(row.target, r)
        if why:
            return f"pair {i}: {row.target.name}: {why}"
    a, b = results
    entry["pairs"].append([a["cpu_us_per_req"], b["cpu_us_per_req"], a["rps"], b["rps"]])
    ratio = report._num(report._ratio(b["cpu_us_per_req"], a["cpu_us_per_req"]), 3)
    note(
        f"  pair {i}  {pair[0][0].target.name} {a['cpu_us_per_req']:.2f} "
        f"{pair[1][0].target.name} {b['cpu_us_per_req']:.2f} CPU-µs/req (req/s "
        f"{a['rps']:,.0f} {b['rps']:,.0f}): {ratio}"
    )
    return ""


def problem(t, r):
    """Why one side's run of a pair is not a measurement (paired.drive's result r of row t's
    target), or ""."""
    if r.get("failed"):
        return r["failed"]
    if not r["requests"]:
        return "its load generator got no answers"
    r["expect"] = t.expect
    n = report.unexpected(r)
    if n:
        what = "2xx" if t.expect == 200 else t.expect
        return f"{n:,} of {r['requests']:,} responses were not {what} {r['status']}"
    if t.proc and not t.proc.alive():
        return f"exited during the pair: {t.proc.log_tail()}"
    return ""


def summary(p):
    """A res.paired entry's figures: paired.summary of its CPU-µs/req pairs (None without a
    ratio) with `rps`, the median req/s of both sides."""
    s = paired.summary([(a, b) for a, b, _, _ in p["pairs"]])
    if s:
        s["rps"] = statistics.median([x for _, _, ra, rb in p["pairs"] for x in (ra, rb)])
    return s


def describe(res):
    """The workload line's clause on the pairs ("" without)."""
    if not res.paired:
        return ""
    p = next(iter(res.paired.values()))
    n = p["planned"]
    return (
        f"; then {n} pair{'s' if n != 1 else ''} of {p['secs']:g} s: "
        f"{', '.join(res.paired)} and {p['to']} driven at once "
        f"(`loadgen -t 1 -c {p['connections']}` each)"
    )


def line(res, name, v):
    """The line after paired variant v's sequential ratio (row `name`), which its bound is
    read against."""
    p = res.paired[name]
    n = len(p["pairs"]) if not p["failed"] else p["planned"]
    where = " on the proxy CPU" if p["pinned"] else ", proxies not pinned"
    head = (
        f"- {name} ÷ {p['to']}, both driven at once{where} ({n} pair{'s' if n != 1 else ''} of "
        f"{p['secs']:g} s, a loadgen each)"
    )
    bound = f"; issue {v.issue} asks ≤ {v.max_cpu_ratio:g}" if v.max_cpu_ratio else ""
    s = summary(p)
    if p["failed"] or not s:
        return f"{head}: **not measured**: {p['failed'] or 'no pair had a ratio'}{bound}"
    fmt = report._num
    rps = s["rps"] if s["rps"] < 10_000 else round(s["rps"], -3)
    return (
        f"{head}: **{fmt(s['median'], 3)}** (per pair: "
        f"{' '.join(fmt(x, 3) for x in s['ratios'])}); medians {fmt(s['a_median'], 2)} and "
        f"{fmt(s['b_median'], 2)} CPU-µs/req at ~{fmt(rps, 0)} req/s each{bound}"
    )
