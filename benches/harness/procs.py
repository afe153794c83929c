"""Processes: everything the benchmark starts is recorded by PID and stopped by PID (its whole
tree: nginx's workers too) when it is no longer needed, and at the latest on exit, Ctrl-C or
an error. Each runs in its own session, so a Ctrl-C reaches only this script, which then
stops them in order."""

import contextlib
import os
import signal
import socket
import subprocess
import time

from . import procfs


class StartError(Exception):
    """A process did not come up; the message says why (with its last log lines)."""


class Proc:
    def __init__(self, name, popen, log):
        self.name = name
        self.popen = popen
        self.log = log

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def pids(self):
        """This process and its live descendants: what CPU and memory are summed over."""
        return procfs.tree(self.pid) if self.alive() else []

    def log_tail(self, lines=3):
        """The last meaningful log lines (no backtrace frames), for a one-line reason."""
        try:
            with open(self.log, errors="replace") as f:
                text = f.read().splitlines()
        except OSError:
            return ""
        keep = [
            line
            for line in text
            if line.strip()
            and not line[0].isspace()
            and not line.startswith(("note: ", "stack backtrace:"))
        ]
        return " ".join(keep[-lines:])


class Supervisor:
    def __init__(self, work, pin_cpus=None):
        self.work = work
        self.pin_cpus = pin_cpus  # None = no pinning; else {"proxy": set, "load": set}
        self.procs = []

    def start(self, name, argv, role="proxy"):
        """Start argv in the background, logging to WORK/NAME.log; pinned to the role's CPUs
        under --pin (role "proxy" or "load")."""
        log = os.path.join(self.work, f"{name}.log")
        cpus = self.pin_cpus.get(role) if self.pin_cpus else None
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop(self, proc, grace=5.0):
        """SIGTERM the process tree, SIGKILL what is left after `grace` seconds, reap."""
        if proc in self.procs:
            self.procs.remove(proc)
        pids = procfs.tree(proc.pid) if proc.alive() else []
        for pid in pids:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            proc.popen.poll()  # reap our child as soon as it exits
            if not any(_running(p) for p in pids):
                break
            time.sleep(0.05)
        for pid in pids:
            if _running(pid):
                _signal(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=grace)

    def stop_all(self):
        for proc in reversed(list(self.procs)):
            self.stop(proc)


def _signal(pid, sig):
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _running(pid):
    """Alive and not a zombie (a zombie child of ours is reaped by Popen.poll)."""
    state = procfs.state(pid)
    return state is not None and state != "Z"


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_free(port, timeout=10.0):
    """Wait until nothing listens on PORT; StartError if something still does after timeout.

    A server on io_uring that was just stopped can leave its listening socket open for a
    moment after it exited: the ring is torn down asynchronously, and its pending accept
    holds the socket until then."""
    deadline = time.monotonic() + timeout
    while port_open(port):
        if time.monotonic() > deadline:
            raise StartError(f"port {port} is in use (another process listens on it)")
        time.sleep(0.05)


def wait_ready(proc, port, timeout=15.0):
    """Wait until PORT accepts connections; StartError if the process exits first or the
    port stays closed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise StartError(f"{proc.name} exited during start-up: {proc.log_tail()}")
        if port_open(port):
            return
        time.sleep(0.05)
    raise StartError(f"{proc.name} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")
