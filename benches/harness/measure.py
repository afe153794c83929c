"""One measured run of one target: the load generator against it, and what /proc says about
the target's processes (and the whole machine) before and after."""

import resource
import sys
import time
from dataclasses import dataclass, field

from . import client, functions, handshake, procfs
from .scenarios import THROUGHPUT

HZ = procfs.CLK_TCK
# After a leg's processes start, and after loadgen reports it holds its connections: time for
# the proxies to settle (tollgate releases per-request buffers from connections idle ~100 ms).
SETTLE_S = 1.0
# Bound on any one client run beyond its own duration: a typo cannot run for hours.
CLIENT_GRACE_S = 60


@dataclass
class Bench:
    """What every run needs: the options, the process supervisor, the scratch directory,
    the binaries, the load generator and its features, the TLS files."""

    opts: object
    sup: object
    work: str
    bins: dict
    template: str  # benches/conf/tollgate-proxy.json
    loadgen: object  # client.Loadgen, or None with --client wrk and no loadgen
    tls: dict = None  # {"cert", "key", "bundle"}: PEM paths, once a TLS leg made them
    auth: object = None  # auth.Material: the jwt scenario's keys and tokens, once made
    # requests/s of each row's last run (warm-ups too), by row name: a `rate_of` row's rate
    last_rps: dict = field(default_factory=dict)

    def load_cpus(self):
        return self.sup.pin_cpus.get("load") if self.sup.pin_cpus else None


class ClientFailed(Exception):
    pass


def note(msg):
    print(f">> {msg}", file=sys.stderr, flush=True)


def url(t, leg, path):
    return f"{'https' if leg.tls else 'http'}://127.0.0.1:{t.port}{path}"


def tls_options(bench, leg):
    """loadgen's TLS options for the leg's URLs ([] for plain HTTP)."""
    return bench.loadgen.tls_args(bench.tls["cert"]) + list(leg.tls_args) if leg.tls else []


def _children_cpu():
    """CPU seconds of this script's reaped children (the load generator)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _ours(bench):
    """CPU seconds of every process tree the benchmark started (origin, every proxy)."""
    pids = []
    for p in bench.sup.procs:
        pids += p.pids()
    return procfs.cpu_seconds(pids)


def _named(bench, name):
    """The process tree of the started process called name (origin, function), or []."""
    found = [p for p in bench.sup.procs if p.name == name]
    return found[0].pids() if found else []


def _finish(run, timeout):
    rc, text = run.wait(timeout)
    try:
        return run.parse(text)
    except (ValueError, KeyError, IndexError) as e:
        said = " ".join((text[-300:] + " " + run.stderr_tail()).split())
        raise ClientFailed(f"the load generator failed (exit {rc}; {e}): {said}") from None


def throughput(bench, leg, t, pids_of, secs, conns, rate=None):
    """Closed loop for secs against t (open loop at `rate` requests/s when given: loadgen
    only). pids_of() gives the measured process tree."""
    o = bench.opts
    out = f"{bench.work}/client-{t.name}.out"
    # the handshake leg needs loadgen's --no-resume: wrk serves the keep-alive legs only
    if o.client == "wrk" and leg.kind == THROUGHPUT:
        argv = [
            "wrk",
            f"-t{o.threads}",
            f"-c{conns}",
            f"-d{client.wrk_seconds(secs)}s",
            "--latency",
        ]
        for h in leg.headers + t.headers:
            argv += ["-H", h]
        argv.append(url(t, leg, o.path))
    else:
        tls = tls_options(bench, leg)
        argv = client.loadgen_argv(
            bench.loadgen.path,
            o.threads,
            conns,
            secs,
            url(t, leg, o.path),
            leg.headers + t.headers,
            tls,
            rate,
        )
    pids = pids_of()
    origin_pids, function_pids = _named(bench, "origin"), _named(bench, "function")
    g0, f0 = procfs.cpu_seconds(origin_pids), procfs.cpu_seconds(function_pids)
    # a local function's processes (tollgate's children), per pid: some start during the run
    local0 = functions.cpu_by_pid(t.function_pids()) if t.function_pids else None
    w0, s0, o0, c0 = _children_cpu(), procfs.sys_ticks(), _ours(bench), procfs.cpu_seconds(pids)
    parse = client.parse_wrk if argv[0] == "wrk" else client.parse_loadgen
    with client.ClientRun(argv, out, parse, bench.load_cpus()) as run:
        # RSS at the end of the run, while the load is still on.
        time.sleep(max(secs - 0.25, secs * 0.8))
        rss = procfs.rss_kib(pids_of())
        local_rss = procfs.rss_kib(t.function_pids()) if t.function_pids else 0
        r = _finish(run, secs + CLIENT_GRACE_S)
    local1 = functions.cpu_by_pid(t.function_pids()) if t.function_pids else None
    c1, o1, s1, w1 = procfs.cpu_seconds(pids), _ours(bench), procfs.sys_ticks(), _children_cpu()
    g1, f1 = procfs.cpu_seconds(origin_pids), procfs.cpu_seconds(function_pids)
    n = r["requests"]
    busy, total = (s1[0] - s0[0]) / HZ, (s1[1] - s0[1]) / HZ
    cpu = c1 - c0
    r.update(
        expect=t.expect,
        cpu_s=cpu,
        cpu_us_per_req=cpu * 1e6 / n if n else 0.0,
        rss_kib=rss,
        # the target's CPU as % of one core (~100 = a saturated single worker)
        util_pct=cpu / secs * 100,
        # % of the machine busy with processes this script did not start (other builds)
        other_pct=(busy - (o1 - o0) - (w1 - w0)) / total * 100 if total else 0.0,
        # all CPU of the machine per request: the whole cost of serving through the target
        machine_cpu_us_per_req=busy * 1e6 / n if n else 0.0,
        # the load generator's own CPU per request (user + system of the reaped client)
        client_cpu_us_per_req=(w1 - w0) * 1e6 / n if n else 0.0,
        # the origin's CPU per request the target served: ~0 when a cache answers
        origin_cpu_us_per_req=(g1 - g0) * 1e6 / n if n and origin_pids else None,
        # a Lambda authorizer's function (jwt scenario): ~0 when every result is cached
        function_cpu_us_per_req=(f1 - f0) * 1e6 / n if n and function_pids else None,
    )
    if local0 is not None:
        r.update(functions.window(local0, local1, n, local_rss))
    return r


def handshakes(bench, leg, t, pids_of, secs, conns):
    """The handshake leg: a throughput run where every request is a new TLS connection;
    its figures per handshake added."""
    r = throughput(bench, leg, t, pids_of, secs, conns)
    r.update(handshake.figures(r))
    return r


def idle(bench, leg, t, pids_of):
    """Open leg.connections connections through t, one request each, hold them idle; memory
    per connection = (RSS while holding - RSS before) / connections held."""
    o = bench.opts
    n = leg.connections
    pids = pids_of()
    rss0, c0 = procfs.rss_kib(pids), procfs.cpu_seconds(pids)
    argv = [
        bench.loadgen.path,
        "-t",
        str(o.threads),
        "-c",
        str(n),
        "--hold",
        client.duration_arg(leg.hold_s),
        "--json",
        url(t, leg, o.path),
    ]
    out = f"{bench.work}/client-{t.name}.out"
    with client.ClientRun(argv, out, client.parse_loadgen, bench.load_cpus()) as run:
        holding = run.wait_line("holding ", timeout=CLIENT_GRACE_S)
        if holding:
            time.sleep(SETTLE_S)
            pids = pids_of()
            rss1, c1 = procfs.rss_kib(pids), procfs.cpu_seconds(pids)
        else:
            run.kill()
        r = _finish(run, leg.hold_s + CLIENT_GRACE_S)
    if not holding:
        raise ClientFailed(
            f"loadgen never reported holding its {n} connections: {run.stderr_tail()}"
        )
    held = r["held"] if r["held"] is not None else n
    r.update(
        connections=n,
        rss_before_kib=rss0,
        rss_kib=rss1,
        kib_per_conn=(rss1 - rss0) / held if held else float("nan"),
        cpu_s=c1 - c0,
        cpu_us_per_conn=(c1 - c0) * 1e6 / held if held else float("nan"),
    )
    return r


def stream(bench, leg, t, pids_of):
    """leg.transfers transfers of one large body over one connection: up (a request body to
    an origin that discards it) or down (the origin's response); peak RSS growth, MB/s."""
    o = bench.opts
    pids = pids_of()
    reset = procfs.reset_hwm(pids)
    rss0, c0 = procfs.rss_kib(pids), procfs.cpu_seconds(pids)
    argv = [
        bench.loadgen.path,
        "-t",
        "1",
        "-c",
        "1",
        "-n",
        str(leg.transfers),
        "--timeout",
        "120s",
        "--json",
    ]
    if leg.upload_bytes:
        argv += ["-X", "POST", "--body-file", upload_file(bench, leg.upload_bytes)]
    argv.append(url(t, leg, o.path))
    out = f"{bench.work}/client-{t.name}.out"
    with client.ClientRun(argv, out, client.parse_loadgen, bench.load_cpus()) as run:
        r = _finish(run, leg.transfers * 120 + CLIENT_GRACE_S)
    pids = pids_of()
    hwm1, c1 = procfs.hwm_kib(pids), procfs.cpu_seconds(pids)
    size = leg.upload_bytes or leg.body_len
    moved = r["requests"] * size
    secs = r["duration_s"] or 0
    r.update(
        bytes_per_transfer=size,
        rss_before_kib=rss0,
        hwm_kib=hwm1,
        hwm_reset=reset,
        hwm_growth_kib=hwm1 - rss0,
        mb_per_s=moved / secs / 1e6 if secs else 0.0,
        cpu_s=c1 - c0,
        cpu_us_per_mb=(c1 - c0) * 1e6 / (moved / 1e6) if moved else 0.0,
    )
    return r


def upload_file(bench, size):
    """A sparse file of `size` zero bytes (created once per size) for --body-file."""
    path = f"{bench.work}/upload-{size}.bin"
    try:
        with open(path, "xb") as f:
            f.truncate(size)
    except FileExistsError:
        pass
    return path


def wait_quiet(limit_s):
    """With --quiet-wait, wait (bounded) until the machine is under 15% busy over 2 s."""
    if limit_s <= 0:
        return
    deadline = time.monotonic() + limit_s
    busy_pct = 0.0
    while time.monotonic() < deadline:
        b0, t0 = procfs.sys_ticks()
        time.sleep(2)
        b1, t1 = procfs.sys_ticks()
        busy_pct = (b1 - b0) / (t1 - t0) * 100 if t1 > t0 else 0.0
        if busy_pct < 15:
            return
    note(f"the machine is still {busy_pct:.0f}% busy after {limit_s}s; measuring anyway")
