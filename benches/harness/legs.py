"""One leg of a scenario on every target: start the origin and the targets with this leg's
configuration, check that each answers like the origin, then measure them in alternation
(A B C A B C ...).

THROUGHPUT legs start everything once; every target stays up, idle, while the others are
driven, and gets an unrecorded warm-up run first; after the repetitions, a `paired` variant
is driven at the same time as the first variant (harness/pairing.py). IDLE and STREAM legs
start the origin and the target afresh for every single measurement and stop them after it.
"""

import json
import os
import resource
import time
from dataclasses import dataclass, field

from . import (
    auth,
    cache,
    client,
    functions,
    measure,
    observe,
    pairing,
    peers,
    procs,
    report,
    samebytes,
)
from .measure import ClientFailed, note
from .scenarios import HANDSHAKE, IDLE, STREAM, THROUGHPUT


@dataclass
class Row:
    target: peers.Target
    status: str = "measured"  # measured | not measured | n/a | not yet
    reason: str = ""
    runs: list = field(default_factory=list)

    def stop_measuring(self, reason):
        """A failure is a result too: say so, keep the earlier runs, drive it no more."""
        self.status = "incomplete" if self.runs else "not measured"
        self.reason = reason
        note(f"{self.target.name}: {reason}")

    @property
    def driven(self):
        return self.status == "measured"


@dataclass
class LegResult:
    leg: object
    config: peers.LegConfig
    rows: list
    origin: str = ""
    client: str = ""
    skipped: str = ""  # the leg could not run here (a limit of this machine)
    failed: str = ""  # the leg broke (its origin did not start or died)
    fill: dict = field(default_factory=dict)  # cache legs: target name -> its fill step
    # the origin-same-bytes row's byte lengths (harness/samebytes.py), once it started
    same_bytes: dict = field(default_factory=dict)
    # paired variants (harness/pairing.py): target name -> its pairs with the first variant
    paired: dict = field(default_factory=dict)


def connections(bench, leg):
    return leg.connections or bench.opts.connections


def leg_config(bench, leg):
    conns = connections(bench, leg)
    # Every peer's upstream keep-alive pool is at least the client concurrency: nginx's
    # `keepalive 64` at 256 clients reopens upstream connections all the time.
    pool = max(peers.MIN_POOL, conns) if leg.kind == THROUGHPUT else peers.MIN_POOL
    return peers.LegConfig(
        work=bench.work,
        origin_port=bench.opts.port_base,
        workers=bench.opts.workers,
        connections=conns,
        pool=pool,
        nofile=resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        stream_bytes=leg.upload_bytes or (leg.body_len if leg.kind == STREAM else 0),
        cache=leg.cache,
        access_log=os.path.join(bench.work, "nginx-access.log") if leg.access_log else "",
        **(bench.tls if leg.tls else {}),
    )


def run_leg(bench, leg, targets, unavailable):
    """Measure the leg on every target; unavailable: {target kind: why it cannot run}."""
    lc = leg_config(bench, leg)
    rows = [Row(t) for t in targets]
    res = LegResult(leg, lc, rows, client=describe_client(bench, leg))
    mark_rows(leg, rows, unavailable)
    if leg.upload_bytes and bench.opts.origin == "nginx" and not bench.opts.origin_cmd:
        res.skipped = (
            "nginx as the origin answers `return 200` before it has read the request body, so "
            "the proxies see an early response; the default origin (tools/upstream) reads it all"
        )
        return res
    if leg.kind == IDLE:
        need = lc.connections + 100
        if need > lc.nofile:
            res.skipped = (
                f"the load generator needs ~{need} file descriptors; RLIMIT_NOFILE is {lc.nofile}"
            )
            return res
        for row in rows:
            need = peers.fds_needed(row.target.kind, lc)
            if row.driven and need > lc.nofile:
                row.status, row.reason = (
                    "not measured",
                    (
                        f"needs ~{need:,} file descriptors to hold {lc.connections:,} connections; "
                        f"the RLIMIT_NOFILE hard limit is {lc.nofile:,}"
                    ),
                )
    try:
        if leg.kind in (THROUGHPUT, HANDSHAKE):
            _persistent(bench, leg, lc, res)
        else:
            _fresh(bench, leg, lc, res)
    except procs.StartError as e:  # the origin: nothing more can be measured in this leg
        res.failed = str(e)
        note(f"leg failed: {e}")
    finally:
        bench.sup.stop_all()
    return res


def mark_rows(leg, rows, unavailable):
    """The rows this leg does not drive, and why: not meaningful for a peer (the leg's
    not_measured), or a binary missing (unavailable: a target kind or a local function)."""
    for row in rows:
        why = leg.not_measured.get(row.target.kind)
        local = row.target.variant.local if row.target.variant else ""
        if why:
            row.status = "not yet" if why.startswith("not yet") else "n/a"
            row.reason = why
        elif row.target.kind in unavailable:
            row.status, row.reason = "not measured", unavailable[row.target.kind]
        elif local in unavailable:
            row.status, row.reason = "not measured", unavailable[local]


def describe_client(bench, leg):
    """The load generator's command line, for the report."""
    o = bench.opts
    url = f"{'https' if leg.tls else 'http'}://127.0.0.1:PORT{o.path}"
    if leg.kind == IDLE:
        return f"loadgen -t {o.threads} -c {leg.connections} --hold {leg.hold_s:g}s --json {url}"
    if leg.kind == STREAM:
        body = f" -X POST --body-file <{leg.upload_bytes:,} bytes>" if leg.upload_bytes else ""
        return f"loadgen -t 1 -c 1 -n {leg.transfers} --timeout 120s --json{body} {url}"
    hdrs = "".join(f" -H '{h}'" for h in leg.headers)
    if o.client == "wrk" and leg.kind == THROUGHPUT:
        secs = client.wrk_seconds(o.duration)
        return f"wrk -t{o.threads} -c{connections(bench, leg)} -d{secs}s --latency{hdrs} {url}"
    secs = client.duration_arg(o.duration)
    tls = " " + " ".join(bench.loadgen.tls_args("cert.pem") + list(leg.tls_args)) if leg.tls else ""
    return f"loadgen -t {o.threads} -c {connections(bench, leg)} -d {secs} --json{tls}{hdrs} {url}"


def _start(bench, leg, lc, row, origin, ref, res):
    """Start row's target (the origin row is the origin itself) and check it; returns the
    function giving its process tree, or None (and the row says why)."""
    t = row.target
    if t.kind == "origin":
        return origin.pids
    if t.kind == peers.SAME_BYTES:
        return samebytes.start_row(bench, leg, lc, row, res, ref)
    kind = t.variant.auth if t.variant else ""
    if kind:
        t.patch = credentials(bench).patch(kind, function_port(lc))
        t.headers = credentials(bench).headers(kind, t.port, bench.opts.path)
    local = t.variant.local if t.variant else ""
    if local:
        template = os.path.join(os.path.dirname(bench.template), t.variant.template)
        t.patch = functions.patch(
            template, bench.bins[local], lc.connections, t.variant.concurrency
        )
    if t.variant and (t.variant.access_log or not t.variant.metrics):
        t.patch = {**t.patch, **observe.setup(bench, leg, lc, t)}
    if t.variant and t.variant.headers:
        t.headers = t.variant.headers + t.headers
    try:
        peers.start(bench.sup, t, lc, bench.bins, bench.template)
    except procs.StartError as e:
        row.stop_measuring(f"did not start: {e}")
        return None
    tls = peers.tls_context(lc.cert) if leg.tls else None
    why = peers.verify(t, bench.opts.path, ref, tls, leg.headers + t.headers)
    if why:
        row.stop_measuring(why)
        return None
    if local:
        # tollgate's own CPU (workers, function host threads) without its children, the
        # function processes, which are measured apart
        proc = t.proc
        t.function_pids = lambda: functions.children(proc.pid) if proc.alive() else []
        return lambda: [proc.pid] if proc.alive() else []
    return t.proc.pids


def credentials(bench):
    """The run's keys, tokens and SigV4 signer (harness/auth.py), made on first use."""
    if bench.auth is None:
        bench.auth = auth.Material(bench.work)
    return bench.auth


def resign(bench, t):
    """A SigV4 row's signature, made afresh before each run: a long run stays within
    maxSkewSeconds."""
    if t.variant and t.variant.auth == "sigv4":
        t.headers = credentials(bench).headers("sigv4", t.port, bench.opts.path)


def function_port(lc):
    return lc.origin_port + peers.FUNCTION_OFFSET


def _start_origin(bench, leg, lc, res):
    origin, res.origin = peers.start_origin(bench.sup, bench.opts, bench.bins, lc, leg)
    if any(r.driven and r.target.variant and r.target.variant.auth == "lambda" for r in res.rows):
        body = json.dumps(auth.ALLOW_POLICY, separators=(",", ":"))
        peers.start_function(bench.sup, bench.bins, function_port(lc), body)
    return origin, peers.reference(lc.origin_port, bench.opts.path, leg.body_len)


def _persistent(bench, leg, lc, res):
    o = bench.opts
    origin, ref = _start_origin(bench, leg, lc, res)
    started = {}
    # origin-same-bytes copies a tollgate row's response: started after every other row has
    # answered its check; driven right after the row whose bytes it answers
    # (samebytes.driving_order)
    for row in sorted(res.rows, key=lambda r: r.target.kind == peers.SAME_BYTES):
        if row.driven:
            pids_of = _start(bench, leg, lc, row, origin, ref, res)
            if pids_of:
                started[row.target.name] = pids_of
    rows = samebytes.driving_order(leg, [r for r in res.rows if r.target.name in started])
    live = [(row, started[row.target.name]) for row in rows]
    if o.warmup > 0 and live:
        note(f"warm-up {o.warmup:g}s each: {' '.join(r.target.name for r, _ in live)}")
        for row, pids_of in live:
            _once(bench, leg, row, pids_of, origin, 0, o.warmup)
    for rep in range(1, o.reps + 1):
        note(f"repetition {rep}/{o.reps}")
        for row, pids_of in live:
            if row.driven:
                measure.wait_quiet(o.quiet_wait)
                _once(bench, leg, row, pids_of, origin, rep, o.duration)
    if leg.kind == THROUGHPUT:
        pairing.run(bench, leg, res, live, connections(bench, leg), lambda t: resign(bench, t))
    if leg.fill_keys:
        note(f"cache fill: {leg.fill_keys:,} distinct keys")
        cache.run_fill(bench, leg, res, live)
        for name, f in res.fill.items():
            note(f"  {name:<32} {cache.fill_text(f)}")


def _fresh(bench, leg, lc, res):
    for rep in range(1, bench.opts.reps + 1):
        note(f"repetition {rep}/{bench.opts.reps}")
        for row in res.rows:
            if not row.driven:
                continue
            try:
                origin, ref = _start_origin(bench, leg, lc, res)
                pids_of = _start(bench, leg, lc, row, origin, ref, res)
                if pids_of:
                    time.sleep(measure.SETTLE_S)
                    _once(bench, leg, row, pids_of, origin, rep, 0)
            finally:
                bench.sup.stop_all()


def _once(bench, leg, row, pids_of, origin, rep, secs):
    """One run; rep 0 is a warm-up, not recorded."""
    t = row.target
    proc = origin if t.kind == "origin" else t.proc
    try:
        if leg.kind == THROUGHPUT:
            resign(bench, t)
            before = cache.read_stats(t.admin_port) if t.admin_port else None
            logged = observe.before(t) if t.log_path else None
            functions.place(t, bench.load_cpus())
            rate = None
            if t.variant and t.variant.rate_of:
                rate = bench.last_rps.get(f"tollgate-{t.variant.rate_of}")
                if not rate:
                    row.stop_measuring(f"tollgate-{t.variant.rate_of} gave it no rate")
                    return
                if bench.opts.client == "wrk":
                    row.stop_measuring("an open loop at a rate needs loadgen (--client wrk)")
                    return
            conns = connections(bench, leg)
            r = measure.throughput(bench, leg, t, pids_of, secs, conns, rate)
            bench.last_rps[t.name] = r["rps"]
            if rate:
                r["rate"] = rate
            if logged:
                r.update(observe.window(t, logged, r))
            if t.admin_port:
                r.update(cache.window(before, cache.read_stats(t.admin_port)))
        elif leg.kind == HANDSHAKE:
            r = measure.handshakes(bench, leg, t, pids_of, secs, connections(bench, leg))
        elif leg.kind == IDLE:
            r = measure.idle(bench, leg, t, pids_of)
        else:
            r = measure.stream(bench, leg, t, pids_of)
    except ClientFailed as e:
        row.stop_measuring(str(e))
        return
    if not origin.alive():
        raise procs.StartError(f"the origin exited during the run: {origin.log_tail()}")
    if not proc.alive():
        row.stop_measuring(
            f"exited during the benchmark (repetition {rep}; this run not "
            f"recorded): {proc.log_tail()}"
        )
        return
    if rep == 0:
        return
    r["rep"] = rep
    row.runs.append(r)
    note(f"  rep {rep}  {t.name:<28} {progress(leg, r)}")


def progress(leg, r):
    errs = ""
    if report.unexpected(r) or r["socket_errors"]:
        errs = (
            f"  ERRORS not-{r.get('expect', 200)}={report.unexpected(r)} "
            f"socket={r['socket_errors']}"
        )
    if leg.kind == IDLE:
        return (
            f"held {r['held'] if r['held'] is not None else '?'}  RSS {r['rss_before_kib']} → "
            f"{r['rss_kib']} KiB  {r['kib_per_conn']:.2f} KiB/conn  "
            f"{r['cpu_us_per_conn']:.1f} CPU-µs/conn{errs}"
        )
    if leg.kind == STREAM:
        return (
            f"{r['requests']}× {r['bytes_per_transfer'] / 1e6:g} MB  {r['mb_per_s']:.0f} MB/s  "
            f"{r['cpu_us_per_mb']:.0f} CPU-µs/MB  peak RSS +{r['hwm_growth_kib']} KiB{errs}"
        )
    if leg.kind == HANDSHAKE:
        return (
            f"{r['handshakes_per_s']:8.0f} handshakes/s  {r['cpu_us_per_handshake']:6.1f} "
            f"CPU-µs/handshake  machine {r['machine_cpu_us_per_handshake']:6.1f}  loadgen "
            f"{r['client_cpu_us_per_handshake']:6.1f}  util "
            f"{r['util_pct']:3.0f}%  other {r['other_pct']:3.0f}%  resumed {r['resumed']} of "
            f"{r['handshakes']}  p50 {r['p50_ms']:.3f} p99 {r['p99_ms']:.3f} ms{errs}"
        )
    p999 = f"{r['p999_ms']:.3f}" if r["p999_ms"] is not None else "—"
    if "local_fn_cpu_us_per_req" in r:
        n0, n1 = r["local_fn_processes"]
        errs += (
            f"  function {r['local_fn_cpu_us_per_req']:.2f} CPU-µs/req, processes {n0} → {n1}"
            + (f", {r['local_fn_exited']} exited" if r["local_fn_exited"] else "")
        )
    errs += observe.progress(r)
    if "cache_stats" in r:
        errs += f"  cache: {r['cache_stats']}"
    elif "cache_misses" in r:
        errs += f"  cache: {r['cache_hits']} hits {r['cache_misses']} misses"
    return (
        f"{r['rps']:8.0f} req/s  {r['cpu_us_per_req']:6.2f} CPU-µs/req  machine "
        f"{r['machine_cpu_us_per_req']:6.2f}  util {r['util_pct']:3.0f}%  other "
        f"{r['other_pct']:3.0f}%  p50 {r['p50_ms']:.3f} p99 {r['p99_ms']:.3f} p99.9 {p999} ms"
        f"  RSS {r['rss_kib']} KiB{errs}"
    )
