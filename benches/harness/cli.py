"""The command line of benches/run: options, their defaults, their bounds."""

import argparse

from . import peers, scenarios

USAGE = """\
Usage: benches/run [options]
       benches/run --scenario NAME[,NAME...] [options]
       benches/run --quick | --list | --driver-sweep [options]

Side-by-side benchmarks: tollgate, nginx, HAProxy and a null proxy in front of the same origin,
with equivalent settings (same worker count, upstream keep-alive with pools at least as large
as the client concurrency, access logs off), driven with the same workload in alternation
(A B C A B C ...). Each scenario reports, per target, medians over the repetitions and each
figure as a ratio to nginx and to the null proxy. See benches/RESULTS.md for the method.

Scenarios:
  --scenario LIST      comma list of scenario names (default: proxy-small); --list shows them all
  --list               the catalogue, one line each, with what is not available yet and why
  --quick              every available scenario briefly (1 repetition, 1.5 s runs, 1,000 idle
                       connections, 10 MB bodies), then check the numbers are sane; exits 1
                       naming what is not. Writes only to --out. CI runs it as a smoke test.

Targets and settings:
  --targets LIST       comma list of origin,nginx,haproxy,nullproxy,tollgate
                       (default: all five; with --driver-sweep: nginx,tollgate). nullproxy
                       (tools/nullproxy) forwards bytes without parsing HTTP: the floor of
                       what any proxy costs on this machine. origin = the load generator
                       against the origin directly: the ceiling of the client+origin pair
                       (cache-hit: with tollgate, also origin-same-bytes, a bare origin
                       answering tollgate-cache-hit's response bytes)
  --workers N          worker processes/threads per proxy (default 1)
  --io-driver D        tollgate server.ioDriver: uring, uring-coop, uring-defer-taskrun, legacy
                       (default uring-defer-taskrun, the gateway's default)
  --driver-sweep       one tollgate per ioDriver value, side by side
  --origin KIND        upstream (tools/upstream --mode fixed, default) or nginx
  --origin-workers N   origin worker threads/processes (default 1)
  --origin-cmd CMD     start CMD (through bash) as the origin instead; {port} and {body_size}
                       are replaced. It must answer every request on 127.0.0.1:{port} with
                       200 and {body_size} bytes, keep-alive, reading (and discarding) any
                       request body first
  --port-base N        first loopback port: origin N, nginx N+1, haproxy N+2, tollgate N+3..
                       (one per ioDriver in a sweep or per variant row), nullproxy N+8,
                       tollgate's admin API N+9 (cache-hit: the stage cache's counters), the
                       Lambda authorizer's function N+10 (jwt), origin-same-bytes N+11
                       (cache-hit). Default: the first of 18090, 18102, 18114, ... whose
                       ports are all free (another run may be using 18090 on a shared machine)

Workload:
  --reps N             repetitions per target (default 3; --quick 1); also the pairs of a
                       row driven at once with its leg's first row (full-pipeline's observed)
  --duration S         seconds per throughput run and per pair (default 10; --quick 1.5)
  --warmup S           unrecorded warm-up run per target before the first repetition of a
                       throughput scenario (default 2; --quick 0; 0 = none)
  --client C           throughput load generator: loadgen (tools/loadgen, default) or wrk.
                       The idle and stream scenarios always use loadgen
  --loadgen PATH       use this loadgen binary (default: build and use target/release/loadgen)
  --threads N          load generator threads (default 1)
  --connections N      connections of the proxy-small, proxy-16k and tls scenarios (default 64;
                       proxy-1024c and idle-10k set their own)
  --path P             request path (default /bench/x)
  --pin                pin with sched_setaffinity: proxies on --proxy-cpus, the load
                       generator and the origin on --load-cpus
  --proxy-cpus LIST    CPU list for the proxies when pinning (default 0)
  --load-cpus LIST     CPU list for the load generator and the origin when pinning (default 1)
  --quiet-wait S       before each measured throughput run, wait up to S seconds for the
                       machine to be under 15% busy (other builds on a shared machine)

Output:
  --out DIR            where run-<time>.md, .json and .csv go (default benches/out)
  --note TEXT          a line for the report (conditions, e.g. "other builds running")
  --no-record          write only to --out (as --quick does), not benches/results/<time>.json
                       and benches/RESULTS.md
  --no-build           do not run `cargo build --release`; use the existing binaries
  --keep               keep the scratch directory (configs, logs, raw client output)
  -h, --help           this text

Examples:
  benches/run                                    # proxy-small on all five targets, 3 × 10 s
  benches/run --scenario proxy-16k,proxy-1024c --reps 5
  benches/run --scenario idle-10k,stream-100m
  benches/run --pin --targets origin,nginx,haproxy
  benches/run --driver-sweep --reps 5            # choose tollgate's default ioDriver
  benches/run --quick                            # the CI smoke test
"""


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def cpu_list(text):
    """ "0", "0-1,3" -> {0, 1, 3}."""
    cpus = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise UsageError(f"not a CPU list: {text!r}")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def parse(argv):
    p = _Parser(prog="benches/run", add_help=False)
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("--scenario")
    p.add_argument("--list", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--targets")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--io-driver", default="uring-defer-taskrun")
    p.add_argument("--driver-sweep", action="store_true")
    p.add_argument("--origin", choices=("upstream", "nginx"), default="upstream")
    p.add_argument("--origin-workers", type=int, default=1)
    p.add_argument("--origin-cmd", default="")
    p.add_argument("--port-base", type=int)
    p.add_argument("--reps", type=int)
    p.add_argument("--duration", type=float)
    p.add_argument("--warmup", type=float)
    p.add_argument("--client", choices=("loadgen", "wrk"), default="loadgen")
    p.add_argument("--loadgen", default="")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--path", default="/bench/x")
    p.add_argument("--pin", action="store_true")
    p.add_argument("--proxy-cpus", default="0")
    p.add_argument("--load-cpus", default="1")
    p.add_argument("--quiet-wait", type=float, default=0)
    p.add_argument("--out", default="")
    p.add_argument("--note", action="append", default=[])
    p.add_argument("--no-record", action="store_true")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--keep", action="store_true")
    o = p.parse_args(argv)
    if o.help:
        return o
    quick = o.quick
    o.reps = o.reps if o.reps is not None else (1 if quick else 3)
    o.duration = o.duration if o.duration is not None else (1.5 if quick else 10.0)
    o.warmup = o.warmup if o.warmup is not None else (0.0 if quick else 2.0)
    _check(o)
    return o


def _check(o):
    # Bounded everything: a run cannot go on for hours by a typo.
    def need(ok, msg):
        if not ok:
            raise UsageError(msg)

    need(1 <= o.workers <= 256, "--workers must be 1..256")
    need(1 <= o.reps <= 50, "--reps must be 1..50")
    need(0.5 <= o.duration <= 300, "--duration must be 0.5..300 seconds")
    need(0 <= o.warmup <= 60, "--warmup must be 0..60 seconds")
    need(0 <= o.quiet_wait <= 1800, "--quiet-wait must be 0..1800 seconds")
    need(1 <= o.threads <= o.connections <= 4000, "need 1 <= --threads <= --connections <= 4000")
    need(1 <= o.origin_workers <= 256, "--origin-workers must be 1..256")
    need(o.port_base is None or 1024 <= o.port_base <= 65000, "--port-base must be 1024..65000")
    need(o.path.startswith("/"), "--path must start with /")
    need(o.io_driver in peers.DRIVERS, f"--io-driver must be one of: {', '.join(peers.DRIVERS)}")
    if o.targets is None:
        o.targets = "nginx,tollgate" if o.driver_sweep else ",".join(peers.KINDS)
    o.target_list = o.targets.split(",")
    for t in o.target_list:
        need(t in peers.KINDS, f"unknown target {t!r} ({', '.join(peers.KINDS)})")
    need(len(set(o.target_list)) == len(o.target_list), "--targets names a target twice")
    need(
        not o.driver_sweep or "tollgate" in o.target_list,
        "--driver-sweep needs tollgate in --targets",
    )
    if o.scenario is None:  # --quick: every available scenario
        o.scenario_list = (
            [s.name for s in scenarios.CATALOGUE if s.available] if o.quick else [scenarios.DEFAULT]
        )
    else:
        o.scenario_list = o.scenario.split(",")
    for s in o.scenario_list:
        need(s in scenarios.BY_NAME, f"unknown scenario {s!r} (benches/run --list)")
        sc = scenarios.BY_NAME[s]
        need(sc.available, f"scenario {s} is not available yet: it waits for {sc.not_yet}")
    o.pin_cpus = {"proxy": cpu_list(o.proxy_cpus), "load": cpu_list(o.load_cpus)} if o.pin else None
