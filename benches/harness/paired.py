"""benches/paired — two tollgate configurations measured at the same time, for a CPU ratio
between them that the machine's state cannot tilt.

benches/run drives its rows one after another. On this VM a process's kernel time per request
swings by up to ~40% for tens of seconds at a time (the same binary, the same load), so two
rows run seconds apart can land in different states, and their ratio scatters more than a
5% bound allows. Here both gateways run on the same pinned CPU with a load generator each,
over the same window: whatever the machine does, it does to both. Each pair's ratio is
B's tollgate CPU per request ÷ A's (the tollgate process alone, workers and control threads;
a local function's processes, its children, are moved to the load CPU and not counted).

Both gateways are busy at once, so each gets about half the CPU: a pair compares them at the
same load, not at saturation. Ports and files come from the configurations (write them with
`benches/run --keep`, or by hand); the origin is tools/upstream --mode fixed.

`drive` (one pair: every side's load at once, each side's CPU per request) is also how
benches/run pairs a leg's `paired` variant with its first one (harness/pairing.py)."""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass

from . import client, functions, procfs
from .measure import CLIENT_GRACE_S, ClientFailed, _finish

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # benches/
ROOT = os.path.dirname(HERE)


def parse(argv):
    p = argparse.ArgumentParser(prog="benches/paired", description=__doc__.split("\n\n")[0])
    p.add_argument("a", help="configuration A (the baseline)")
    p.add_argument("b", help="configuration B")
    p.add_argument("--pairs", type=int, default=8)
    p.add_argument("--secs", type=float, default=5.0, help="length of each pair's run")
    p.add_argument("--conns", type=int, default=64, help="connections of each load generator")
    p.add_argument("--path", default="/bench/x")
    p.add_argument("--header", action="append", default=[], help="sent by both loads")
    p.add_argument("--origin-port", type=int, default=None, help="start tools/upstream here")
    p.add_argument("--proxy-cpu", type=int, default=0)
    p.add_argument("--load-cpu", type=int, default=1)
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release"))
    o = p.parse_args(argv)
    o.bin = os.path.abspath(o.bin)  # each gateway starts in its configuration's directory
    return o


def listen_port(config_path):
    with open(config_path) as f:
        conf = json.load(f)
    return int(conf["server"]["listeners"][0]["address"].rsplit(":", 1)[1])


def summary(pairs):
    """pairs: [(a_us, b_us)] CPU-µs per request. The per-pair ratios b ÷ a, their median,
    least and greatest, and each side's median."""
    ratios = [b / a for a, b in pairs if a > 0]
    if not ratios:
        return None
    return {
        "ratios": ratios,
        "median": statistics.median(ratios),
        "min": min(ratios),
        "max": max(ratios),
        "a_median": statistics.median(a for a, _ in pairs),
        "b_median": statistics.median(b for _, b in pairs),
    }


def _start(argv, cpu, cwd=None, log=os.devnull):
    with open(log, "wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            argv,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
        )


def _answers(port, path, headers, limit_s=15.0):
    deadline = time.monotonic() + limit_s
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    for h in headers:
        k, _, v = h.partition(":")
        req.add_header(k.strip(), v.strip())
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                if 200 <= r.status < 300:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


@dataclass(frozen=True)
class Side:
    """One gateway of a pair: where its load generator goes, with which headers, and whose CPU
    is the side's."""

    url: str
    headers: tuple = ()  # "N: v" each
    pids_of: object = list  # () -> [pid]: the processes whose CPU counts
    options: tuple = ()  # more loadgen options (TLS)


def drive(loadgen, sides, secs, conns, cpus=None):
    """One pair: every side's `loadgen -t 1 -c conns -d secs --json URL` (its own headers) at
    the same time, on cpus; each side's CPU (procfs.cpu_seconds of pids_of()) read before and
    after. Per side: the load generator's result (client.parse_loadgen's shape) with cpu_s and
    cpu_us_per_req (= CPU ÷ that load generator's requests), or {"failed": why}."""
    argvs = [
        client.loadgen_argv(loadgen, 1, conns, secs, s.url, s.headers, s.options) for s in sides
    ]
    with tempfile.TemporaryDirectory(prefix="tollgate-paired.") as d:
        before = [procfs.cpu_seconds(s.pids_of()) for s in sides]
        with contextlib.ExitStack() as stack:
            runs = [
                stack.enter_context(
                    client.ClientRun(argv, f"{d}/{i}.out", client.parse_loadgen, cpus)
                )
                for i, argv in enumerate(argvs)
            ]
            results = []
            for run in runs:
                try:
                    results.append(_finish(run, secs + CLIENT_GRACE_S))
                except ClientFailed as e:
                    results.append({"failed": str(e)})
        after = [procfs.cpu_seconds(s.pids_of()) for s in sides]
    for r, c0, c1 in zip(results, before, after, strict=True):
        if "failed" not in r:
            n = r["requests"]
            r.update(cpu_s=c1 - c0, cpu_us_per_req=(c1 - c0) * 1e6 / n if n else 0.0)
    return results


def main(argv):
    o = parse(argv)
    procs = []
    try:
        if o.origin_port:
            upstream = os.path.join(o.bin, "upstream")
            procs.append(
                _start(
                    [upstream, "--listen", f"127.0.0.1:{o.origin_port}", "--mode", "fixed"],
                    o.load_cpu,
                )
            )
        gateways = []
        for conf in (o.a, o.b):
            conf = os.path.abspath(conf)
            argv_g = [os.path.join(o.bin, "tollgate"), "serve", "--config", conf]
            log = conf + ".paired.log"
            g = _start(argv_g, o.proxy_cpu, cwd=os.path.dirname(conf), log=log)
            procs.append(g)
            gateways.append((g, listen_port(conf), log))
        sides = [
            Side(f"http://127.0.0.1:{port}{o.path}", tuple(o.header), lambda g=g: [g.pid])
            for g, port, _ in gateways
        ]
        for _, port, log in gateways:
            if not _answers(port, o.path, o.header):
                print(f"{port} does not answer {o.path} with 2xx: see {log}", file=sys.stderr)
                return 1
        loadgen, cpus = os.path.join(o.bin, "loadgen"), {o.load_cpu}
        drive(loadgen, sides, 1.0, o.conns, cpus)  # warm-up: pools, batches, function processes
        pairs = []
        for i in range(1, o.pairs + 1):
            for g, _, _ in gateways:
                functions.pin(functions.children(g.pid), cpus)
            results = drive(loadgen, sides, o.secs, o.conns, cpus)
            for r in results:
                if not r.get("requests"):
                    print(f"pair {i}: a load generator got no answers: {r}", file=sys.stderr)
                    return 1
            us = [r["cpu_us_per_req"] for r in results]
            pairs.append((us[0], us[1]))
            rps = " ".join(f"{r['rps']:,.0f}" for r in results)
            print(f"pair {i}: A {us[0]:.2f} B {us[1]:.2f} CPU-µs/req (req/s {rps}): ", end="")
            print(f"B ÷ A {us[1] / us[0]:.3f}", flush=True)
        s = summary(pairs)
        each = " ".join(f"{r:.3f}" for r in s["ratios"])
        print(
            f"B ÷ A, median of {len(pairs)} pairs: {s['median']:.3f} "
            f"(least {s['min']:.3f}, greatest {s['max']:.3f}; each: {each}); "
            f"medians A {s['a_median']:.2f}, B {s['b_median']:.2f} CPU-µs/req"
        )
        return 0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
