"""The load generators: tools/loadgen (default) and wrk, their command lines, and their output
parsed into one shape:

    {"requests", "rps", "duration_s", "p50_ms", "p99_ms", "p999_ms", "status": {code: n},
     "non2xx", "socket_errors", "errors": {...}, "held", "tls": {...}}

`tools/loadgen` is gaining https:// URLs and --hold on another branch. What this binary can do
is read from `loadgen --help`: a scenario that needs a missing flag is skipped, with the flag
named, and turns on by itself when the flag appears.
"""

import json
import os
import re
import subprocess
import threading
import time

# feature -> the `--help` words that show it (any one), and what it is, for messages
LOADGEN_FEATURES = {
    "https": (("--insecure", "--cacert"), "https:// URLs (--insecure or --cacert)"),
    "hold": (("--hold",), "--hold D (open N connections, hold them idle)"),
    "no-resume": (("--no-resume",), "--no-resume (every TLS connection a full handshake)"),
}


class Loadgen:
    """A loadgen binary and the features its `--help` shows."""

    def __init__(self, path):
        self.path = path
        try:
            p = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=10)
            self.help = p.stdout + p.stderr
        except (OSError, subprocess.TimeoutExpired):
            self.help = ""  # no features: the scenarios needing them say so
        self.features = {
            name
            for name, (words, _) in LOADGEN_FEATURES.items()
            if any(w in self.help for w in words)
        }

    def missing(self, feature):
        """None if this loadgen has the feature; else a sentence saying what is missing."""
        if feature in self.features:
            return None
        words, what = LOADGEN_FEATURES[feature]
        return (
            f"tools/loadgen has no {what} yet (`loadgen --help` does not mention "
            f"{' or '.join(words)}); this turns on by itself once it does"
        )

    def tls_args(self, cert):
        args = ["--cacert", cert] if "--cacert" in self.help else ["--insecure"]
        if "--tls-version" in self.help:
            args += ["--tls-version", "1.3"]
        return args


def duration_arg(secs):
    """loadgen/wrk durations: whole seconds as `3s`, else milliseconds."""
    return f"{secs:g}s" if float(secs).is_integer() else f"{round(secs * 1000)}ms"


def loadgen_argv(path, threads, conns, secs, url, headers=(), options=(), rate=None):
    """A closed-loop loadgen run of secs (open loop at `rate` requests/s when given), its JSON
    result on stdout; options are more loadgen options (TLS), headers "N: v" each."""
    argv = [path, "-t", str(threads), "-c", str(conns), "-d", duration_arg(secs), "--json"]
    if rate:
        argv += ["--rate", f"{rate:.0f}"]
    argv += list(options)
    for h in headers:
        argv += ["-H", h]
    argv.append(url)
    return argv


def wrk_seconds(secs):
    """wrk takes whole seconds only."""
    return max(1, round(secs))


def parse_loadgen(text):
    """loadgen --json: one object on stdout."""
    j = json.loads(text.strip().splitlines()[-1])
    status = {int(k): v for k, v in j.get("status", {}).items()}
    errors = j.get("errors", {})
    lat = j.get("latency_ms", {})
    # {"tls": {"version", "cipher_suite", "handshakes", "resumed"}} flattened; top-level
    # tls_* / cipher* keys kept as they are
    tls = {
        k: v
        for k, v in j.items()
        if ("tls" in k.lower() or "cipher" in k.lower()) and not isinstance(v, dict)
    }
    if isinstance(j.get("tls"), dict):
        tls.update(j["tls"])
    return {
        "requests": j["requests"],
        "rps": j["requests_per_sec"],
        "duration_s": j.get("duration_s"),
        "p50_ms": lat.get("p50"),
        "p99_ms": lat.get("p99"),
        "p999_ms": lat.get("p99.9"),
        "status": status,
        "non2xx": sum(n for code, n in status.items() if not 200 <= code < 300),
        "socket_errors": sum(errors.values()),
        "errors": errors,
        "held": j.get("held"),
        "tls": tls,
    }


_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _wrk_ms(v):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", v)
    return float(m.group(1)) * _WRK_UNITS[m.group(2)] if m else None


def parse_wrk(text):
    """wrk --latency: "  123456 requests in 10.00s", "Requests/sec: 12345.67",
    "     50%  353.00us", "  Non-2xx or 3xx responses: N", "  Socket errors: connect 0, ..."."""
    requests = re.search(r"^\s*(\d+) requests in ([0-9.]+)(\w+)", text, re.M)
    rps = re.search(r"^Requests/sec:\s*([0-9.]+)", text, re.M)
    if not (requests and rps):
        raise ValueError("no request count in wrk's output")
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    kinds = ("connect", "read", "write", "timeout")
    errors = dict(zip(kinds, map(int, sock.groups()), strict=True)) if sock else {}
    return {
        "requests": int(requests.group(1)),
        "rps": float(rps.group(1)),
        "duration_s": None,
        "p50_ms": _wrk_ms(pct.get("50", "")),
        "p99_ms": _wrk_ms(pct.get("99", "")),
        "p999_ms": None,  # wrk --latency stops at 99%
        "status": {},  # wrk does not split statuses; non2xx counts non-2xx-or-3xx
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(errors.values()),
        "errors": errors,
        "held": None,
        "tls": {},
    }


class ClientRun:
    """One load generator run in the background: stdout to a file, stderr read line by line
    (loadgen --hold announces `holding ` there)."""

    def __init__(self, argv, out_path, parse, cpus=None):
        self.out_path = out_path
        self.parse = parse  # text -> the common shape
        self.lines = []
        self._seen = threading.Event()
        self._prefix = None
        self._out = open(out_path, "wb")  # noqa: SIM115 (closed by __exit__)
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        """Whatever happened (Ctrl-C included), the client does not outlive its run."""
        self.kill()
        self.popen.wait()
        self._reader.join(5)
        if not self._reader.is_alive():  # else a grandchild holds the pipe: leave it to exit
            self.popen.stderr.close()
        self._out.close()

    def _read_stderr(self):
        for raw in self.popen.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.lines.append(line)
            if self._prefix and line.startswith(self._prefix):
                self._seen.set()

    def wait_line(self, prefix, timeout):
        """True once a stderr line starting with prefix was printed; False if the process
        ended or the timeout passed first."""
        self._prefix = prefix
        if any(line.startswith(prefix) for line in self.lines):
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._seen.wait(0.05):
                return True
            if self.popen.poll() is not None:
                self._reader.join(1)
                return self._seen.is_set()
        return False

    def wait(self, timeout):
        """(exit status, stdout text); the process is killed if it overruns the timeout."""
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = self.popen.wait()
        self._reader.join(5)
        self._out.flush()
        with open(self.out_path, errors="replace") as f:
            return rc, f.read()

    def kill(self):
        if self.popen.poll() is None:
            self.popen.kill()

    def stderr_tail(self, n=5):
        return " | ".join(self.lines[-n:])
