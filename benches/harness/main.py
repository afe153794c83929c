"""benches/run: parse the options, prepare the machine, run each scenario's legs, write the
results, check them (--quick)."""

import datetime
import os
import shlex
import shutil
import signal
import sys
import tempfile

from . import (
    auth,
    cache,
    cli,
    client,
    env,
    functions,
    handshake,
    legs,
    markdown,
    peers,
    procfs,
    procs,
    report,
    scenarios,
)
from .measure import Bench, note

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # benches/
REPO = os.path.dirname(HERE)


class Fatal(Exception):
    """The run cannot go on (a tool or binary is missing); exit 2 with the message."""


def main(argv):
    try:
        o = cli.parse(argv)
    except cli.UsageError as e:
        print(f"benches/run: {e} (see benches/run --help)", file=sys.stderr)
        return 2
    if o.help:
        print(cli.USAGE, end="")
        return 0
    if o.list:
        print(catalogue(o))
        return 0
    # Ctrl-C and SIGTERM unwind through the cleanup below (even when started with SIGINT
    # ignored, as background jobs of a script are).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminated)
    sup, work, rc = None, None, None  # rc stays None if the harness itself crashes
    try:
        work = tempfile.mkdtemp(prefix="tollgate-bench.")
        os.chmod(work, 0o755)  # nginx workers may run as another user
        sup = procs.Supervisor(work, o.pin_cpus)
        rc = run(o, argv, sup, work)
    except KeyboardInterrupt:
        rc = 130
    except SystemExit as e:
        rc = e.code
    except (Fatal, procs.StartError) as e:
        print(f"benches/run: {e}", file=sys.stderr)
        rc = 2
    finally:
        if sup:
            sup.stop_all()
        if work and (o.keep or rc is None):
            note(f"scratch directory kept: {work}")
        elif work:
            shutil.rmtree(work, ignore_errors=True)
    return rc


def _terminated(signum, frame):
    raise SystemExit(143)


def catalogue(o):
    """One line per scenario; those not available, or needing a loadgen feature this
    build lacks, say why."""
    path = o.loadgen or os.path.join(env.target_dir(REPO), "release", "loadgen")
    loadgen = client.Loadgen(path) if os.access(path, os.X_OK) else None
    width = max(len(s.name) for s in scenarios.CATALOGUE)
    lines = []
    for s in scenarios.CATALOGUE:
        line = f"{s.name:<{width}}  {s.summary}"
        if not s.available:
            line += f"  [not yet: {s.not_yet}]"
        for f in s.needs:
            what = client.LOADGEN_FEATURES[f][1]
            if loadgen is None:
                line += f"  [needs tools/loadgen {what}; no loadgen built yet to check]"
            elif f not in loadgen.features:
                shown = os.path.relpath(path, REPO) if path.startswith(REPO) else path
                wrk = "; --client wrk runs it now" if f == "https" else ""
                line += f"  [skipped until tools/loadgen has {what}: {shown} has not{wrk}]"
        lines.append(line)
    return "\n".join(lines)


def run(o, argv, sup, work):
    started = datetime.datetime.now(datetime.UTC)
    os.environ["PATH"] += ":/usr/sbin:/sbin"  # where Debian puts nginx and haproxy
    chosen = [scenarios.BY_NAME[n] for n in o.scenario_list]
    why = env.ensure_tools(needed_tools(o, chosen)) or env.ensure_python(needed_packages(o, chosen))
    if why:
        raise Fatal(why)
    env.raise_nofile()
    if o.port_base is None:
        o.port_base = peers.free_port_base()
    bins, unavailable = build(o, work, chosen)
    loadgen = client.Loadgen(bins["loadgen"])
    bench = Bench(o, sup, work, bins, os.path.join(HERE, "conf", "tollgate-proxy.json"), loadgen)
    load_at_start = procfs.loadavg()

    results = []  # (scenario, [LegResult] or None, why skipped)
    for sc in chosen:
        missing = [loadgen.missing(f) for f in sc.needs if not (f == "https" and o.client == "wrk")]
        missing = [m for m in missing if m]
        if missing:
            note(f"skipped: {sc.name}: {'; '.join(missing)}")
            results.append((sc, None, "; ".join(missing)))
            continue
        done = []
        for leg in sc.legs(o.quick):
            label = sc.name + (f"/{leg.name}" if leg.name else "")
            note(f"scenario {label}")
            if leg.tls and not bench.tls:
                bench.tls = env.make_cert(work)
            targets = peers.targets(
                o.target_list,
                o.port_base,
                o.io_driver,
                o.driver_sweep,
                leg.variants,
                leg.same_bytes,
            )
            res = legs.run_leg(bench, leg, targets, unavailable)
            if res.skipped:
                note(f"skipped: {label}: {res.skipped}")
            report.summarize(res)
            done.append(res)
        results.append((sc, done, ""))

    finished = datetime.datetime.now(datetime.UTC)
    problems = [
        p
        for sc, done, _ in results
        for res in (done or [])
        for p in report.sanity(sc.name, res) + cache.sanity(sc.name, res)
    ]
    meta = metadata(o, argv, started, finished, bins, loadgen, load_at_start, problems)
    write(o, meta, results)
    if problems:
        head = "--quick: the numbers are not sane" if o.quick else "warning: suspicious numbers"
        print(f"\n{head}:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        if o.quick:
            print("(benches/run --quick --keep keeps the logs)", file=sys.stderr)
            return 1
    elif o.quick:
        note("--quick: every scenario produced sane numbers")
    return 0


def needed_tools(o, chosen):
    """{command: Debian package} of what this run starts."""
    tools = {}
    if "nginx" in o.target_list or o.origin == "nginx":
        tools["nginx"] = "nginx"
    if "haproxy" in o.target_list:
        tools["haproxy"] = "haproxy"
    if any(leg.tls for s in chosen for leg in s.legs(o.quick)):
        tools["openssl"] = "openssl"
    if o.client == "wrk":
        tools["wrk"] = "wrk"
    return tools


def needed_packages(o, chosen):
    """{module: pip package} of what this run's legs import: the keys of tollgate rows with
    JWT authorizers."""
    if "tollgate" not in o.target_list:
        return {}
    legs_ = [leg for s in chosen for leg in s.legs(o.quick)]
    if any(v.auth in auth.KIDS for leg in legs_ for v in leg.variants):
        return dict(auth.PACKAGES)
    return {}


# The options the JSON record keeps (with the command line itself).
# fmt: off
RECORDED_OPTIONS = (
    "targets", "workers", "io_driver", "driver_sweep", "reps", "duration", "warmup", "client",
    "threads", "connections", "path", "pin", "proxy_cpus", "load_cpus", "origin",
    "origin_workers", "origin_cmd", "port_base", "quiet_wait",
)
# fmt: on


def metadata(o, argv, started, finished, bins, loadgen, load_at_start, problems):
    """Everything about the run but its numbers."""
    return {
        "schema": 1,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "command": "benches/run " + shlex.join(argv) if argv else "benches/run",
        "argv": argv,
        "quick": o.quick,
        "machine": dict(env.machine(), load_average_at_start=load_at_start),
        "versions": env.versions(o.client),
        "git": env.git(REPO),
        "loadgen": {"path": bins["loadgen"], "features": sorted(loadgen.features)},
        "options": {k: getattr(o, k) for k in RECORDED_OPTIONS},
        "notes": o.note,
        "sanity": {"checked": o.quick, "problems": problems},
    }


def local_functions(o, chosen):
    """The local functions (bins keys, Variant.local) the chosen scenarios' tollgate rows run."""
    if "tollgate" not in o.target_list:
        return set()
    return {v.local for s in chosen for leg in s.legs(o.quick) for v in leg.variants if v.local}


def build(o, work, chosen=()):
    """The binaries: {name: path}, and {target kind or local function: why it cannot run}."""
    tdir = os.path.join(env.target_dir(REPO), "release")
    bins = {
        name: os.path.join(tdir, name) for name in ("loadgen", "upstream", "tollgate", "nullproxy")
    }
    if o.loadgen:
        bins["loadgen"] = os.path.abspath(o.loadgen)
    needed = [] if o.loadgen else ["loadgen"]
    if o.origin == "upstream" and not o.origin_cmd:
        needed.append("upstream")
    optional = [k for k in ("tollgate", "nullproxy") if k in o.target_list]
    unavailable = {}
    for pkg in needed + optional:
        if not o.no_build:
            note(f"cargo build --release -p {pkg}")
            failed = env.build(REPO, pkg, os.path.join(work, f"cargo-build-{pkg}.log"))
            if failed and pkg in needed:
                raise Fatal(f"cargo build --release -p {pkg} failed: {failed}")
            if failed:
                unavailable[pkg] = f"cargo build --release -p {pkg} failed: {failed}"
                continue
        if not os.access(bins[pkg], os.X_OK):
            if pkg in needed:
                raise Fatal(f"no {pkg} binary at {bins[pkg]}")
            unavailable[pkg] = f"no binary at {bins[pkg]}"
    if o.loadgen and not os.access(bins["loadgen"], os.X_OK):
        raise Fatal(f"--loadgen {o.loadgen}: not an executable")
    target = env.target_dir(REPO)
    for name in sorted(local_functions(o, chosen)):
        command = " ".join(functions.build_argv(_shown(target), name))
        bins[name] = functions.binary(target, name)
        if not o.no_build:
            note(command)
            log = os.path.join(work, f"cargo-build-{name}.log")
            failed = functions.build(REPO, target, log, name)
            if failed:
                unavailable[name] = f"{command} failed: {failed}"
                continue
        if not os.access(bins[name], os.X_OK):
            unavailable[name] = f"no {name} binary at {_shown(bins[name])} (build it: {command})"
    return bins, unavailable


def _shown(path):
    """A path under the repository relative to it (as the commands in the docs are)."""
    return os.path.relpath(path, REPO) if path.startswith(REPO + os.sep) else path


def write(o, meta, results):
    stamp = datetime.datetime.fromisoformat(meta["finished"]).strftime("%Y%m%dT%H%M%SZ")
    doc = markdown.document(meta, results)
    data = dict(
        meta,
        scenarios=[
            {
                "name": sc.name,
                "summary": sc.summary,
                "skipped": why or None,
                "issue6": (
                    handshake.issue6(done) if done and any(r.leg.tls for r in done) else None
                ),
                "legs": [
                    dict(report.leg_json(res), cache=cache.summary(res)) for res in done or []
                ],
            }
            for sc, done, why in results
        ],
    )
    out = o.out or os.path.join(HERE, "out")
    os.makedirs(out, exist_ok=True)
    written = [
        markdown.write_json(os.path.join(out, f"run-{stamp}.json"), data),
        markdown.write_text(os.path.join(out, f"run-{stamp}.md"), doc),
        markdown.write_csv(os.path.join(out, f"run-{stamp}.csv"), results),
    ]
    if not (o.quick or o.no_record):
        written.append(markdown.write_json(os.path.join(HERE, "results", f"{stamp}.json"), data))
        written.append(markdown.insert_results(os.path.join(HERE, "RESULTS.md"), doc))
    print()
    print(doc)
    note(
        "written: "
        + ", ".join(os.path.relpath(w, REPO) if w.startswith(REPO) else w for w in written)
    )
