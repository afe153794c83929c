"""The lambda-local scenario's local functions, built release, run by tollgate's function host
as processes that are children of the tollgate process. Their CPU is the function's own and
is kept apart from tollgate's (the workers and the function host threads, all in the
tollgate process). Two functions give the same answer:
- lambda-echo (tests/functions/lambda-echo): the official `lambda_runtime` crate, what a
  user's Rust function runs on;
- lambda-bare (tools/lambda-bare): no runtime library, blocking std sockets — the
  local-function counterpart of the bare origin, so that tollgate's own cost per invocation
  is measured with a function that costs next to nothing.

- the build: lambda-echo is `cargo build --release --locked` of its own workspace into
  TARGET/lambda-echo (as scripts/test.sh does for the debug build); lambda-bare is a
  workspace package (`cargo build --release -p lambda-bare`);
- the config patch: every `functions` entry with `local` runs that binary (an absolute path:
  the gateway file is written to the scratch directory), its `queue` at least the client
  connections (so a closed loop of N connections never fills it);
- the measurement: CPU per function process (tollgate's children) before and after a run;
  a process that exits during the run loses its CPU from the sum, so it is counted and named.
"""

import json
import os
import subprocess
from dataclasses import dataclass

from . import procfs

NAME = "lambda-echo"  # the bins key and the binary's name
MANIFEST = "tests/functions/lambda-echo/Cargo.toml"
BARE = "lambda-bare"


@dataclass(frozen=True)
class Function:
    source: str  # where its code is
    built_on: str  # for the report
    manifest: str = ""  # its own workspace's Cargo.toml; "" = a package of tollgate's


FUNCTIONS = {
    NAME: Function("tests/functions/lambda-echo", "`lambda_runtime`", MANIFEST),
    BARE: Function("tools/lambda-bare", "no runtime library, std sockets"),
}
DEFAULT_QUEUE = 100  # the gateway's default `queue`
# Context only, never a measurement of ours (issue 9).
SAM_CONTEXT = (
    "context only, not measured here: users of `sam local start-api` (AWS SAM CLI, which "
    "starts a container per invocation) report 1–10 s per request; the rows above are "
    "tollgate's own figures on this machine, the function warm in its processes"
)


def pin(pids, cpus):
    """Move every thread of the function processes onto cpus (the load generator's and the
    origin's CPUs under --pin): the function plays the origin's part, so it does not share
    the proxy's CPU with tollgate. They are tollgate's children and inherit its affinity;
    one started later is moved before the next run. Returns how many threads were moved."""
    moved = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), cpus)
                moved += 1
            except OSError:
                pass  # the thread is gone
    return moved


def place(t, cpus):
    """Before a run of row t: its function processes onto cpus (`pin`), unless its tollgate
    places them itself (`server.cpuAffinity`: on their worker's CPU)."""
    if t.function_pids and cpus and not (t.variant and t.variant.cpu_affinity):
        pin(t.function_pids(), cpus)


def binary(target_dir, name=NAME):
    if FUNCTIONS[name].manifest:
        return os.path.join(target_dir, name, "release", name)
    return os.path.join(target_dir, "release", name)


def build_argv(target_dir, name=NAME):
    manifest = FUNCTIONS[name].manifest
    if not manifest:
        return ["cargo", "build", "--release", "-p", name]
    return [
        "cargo",
        "build",
        "--release",
        "--locked",
        "--manifest-path",
        manifest,
        "--target-dir",
        os.path.join(target_dir, name),
    ]


def build(repo, target_dir, log, name=NAME):
    """Build the function release; None, or the last lines of the log on failure."""
    with open(log, "wb") as out:
        rc = subprocess.run(
            build_argv(target_dir, name), cwd=repo, stdout=out, stderr=subprocess.STDOUT
        ).returncode
    if rc == 0:
        return None
    with open(log, errors="replace") as f:
        return " ".join(f.read().splitlines()[-3:])


def local_entries(template):
    """{name: entry} of the template's `functions` entries with `local`."""
    with open(template) as f:
        cfg = json.load(f)
    return {k: v for k, v in cfg.get("functions", {}).items() if "local" in v}


def patch(template, path, connections, concurrency=0):
    """The `functions` key of a row's config: the template's, every `local` command run from
    `path` (its arguments kept), its queue at least `connections`, its `concurrency` the
    given one (0: the template's)."""
    with open(template) as f:
        fns = json.load(f).get("functions", {})
    out = {}
    for name, entry in fns.items():
        entry = dict(entry)
        if "local" in entry:
            local = dict(entry["local"])
            local["command"] = [path] + list(local.get("command", [])[1:])
            local["queue"] = max(local.get("queue", DEFAULT_QUEUE), connections)
            if concurrency:
                local["concurrency"] = concurrency
            entry["local"] = local
        out[name] = entry
    return {"functions": out}


def children(pid):
    """The function processes: every live descendant of the tollgate process, not itself."""
    return [p for p in procfs.tree(pid) if p != pid] if pid else []


def cpu_by_pid(pids):
    return {p: procfs.cpu_seconds([p]) for p in pids}


def window(before, after, requests, rss_kib=0):
    """The function processes' figures over one run, from cpu_by_pid before and after. A
    process started during the run counts from 0 (its start-up included); one that exited
    during it is lost from the sum and counted in local_fn_exited."""
    cpu = sum(s - before.get(p, 0.0) for p, s in after.items())
    return {
        "local_fn_cpu_s": cpu,
        "local_fn_cpu_us_per_req": cpu * 1e6 / requests if requests else 0.0,
        "local_fn_processes": [len(before), len(after)],
        "local_fn_started": len(set(after) - set(before)),
        "local_fn_exited": len(set(before) - set(after)),
        "local_fn_rss_kib": rss_kib,
    }


def problems(r):
    """What is wrong with a local-function row's run: the function must have run (its CPU
    is above zero: the requests went through it) and no process of it may have exited."""
    if "local_fn_cpu_us_per_req" not in r:
        return []
    out = []
    if not r["local_fn_processes"][1]:
        out.append("no function process was running at the end of the run")
    elif not r["local_fn_cpu_us_per_req"] > 0:
        out.append("the function processes used no CPU: the requests did not reach the function")
    if r["local_fn_exited"]:
        out.append(
            f"{r['local_fn_exited']} function process(es) exited during the run (a crash, a "
            "timeout or a restart: see tollgate's log; their CPU is missing from the figure)"
        )
    return out


def settings(template, concurrency=0):
    """How the template (with a row's `concurrency`, 0: the template's) runs its local
    functions, for the report."""
    parts = []
    for name, e in local_entries(template).items():
        local = e["local"]
        parts.append(
            f"`{name}`: `concurrency` {concurrency or local.get('concurrency', 1)}, `timeoutMs` "
            f"{e.get('timeoutMs', 10_000)}, `queue` max({local.get('queue', DEFAULT_QUEUE)}, "
            "connections)"
        )
    return "; ".join(parts)
