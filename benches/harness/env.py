"""The machine side: tools installed from Debian when missing, the release build, the file
descriptor limit, the TLS certificate, and what the report says about the machine."""

import importlib
import os
import resource
import shutil
import subprocess
import sys

from .measure import note

POLICY_RC_D = "/usr/sbin/policy-rc.d"


def ensure_tools(commands):
    """commands: {command: Debian package}. Installs the packages of missing commands with
    apt-get (through sudo when not root). Returns None, or why it could not."""
    missing = sorted({pkg for cmd, pkg in commands.items() if not shutil.which(cmd)})
    if not missing:
        return None
    sudo = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            return f"{' '.join(missing)} missing, and not root (no sudo) to install them"
        sudo = ["sudo"]
    note(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    # Debian's maintainer scripts would start nginx/haproxy services; the benchmark starts its
    # own instances, so policy-rc.d forbids starting any (101 = "action forbidden").
    policy = os.geteuid() == 0 and not os.path.exists(POLICY_RC_D)
    try:
        if policy:
            with open(POLICY_RC_D, "w") as f:
                f.write("#!/bin/sh\nexit 101\n")
            os.chmod(POLICY_RC_D, 0o755)
        if subprocess.run(install, env=env).returncode != 0:
            subprocess.run(sudo + ["apt-get", "update", "-q"], env=env)
            if subprocess.run(install, env=env).returncode != 0:
                return f"apt-get install {' '.join(missing)} failed"
    finally:
        if policy:
            os.unlink(POLICY_RC_D)
    still = [cmd for cmd in commands if not shutil.which(cmd)]
    return f"still missing after install: {' '.join(still)}" if still else None


def ensure_python(packages):
    """packages: {module: pip package}. Installs the missing ones with pip (into the system
    Python where it is externally managed, PEP 668). Returns None, or why it could not."""
    missing = sorted({pkg for mod, pkg in packages.items() if not _importable(mod)})
    if not missing:
        return None
    note(f"installing the Python package(s) {' '.join(missing)} (pip)")
    pip = [sys.executable, "-m", "pip", "install", "--quiet", *missing]
    if subprocess.run(pip).returncode != 0:
        subprocess.run(pip + ["--break-system-packages"])
    importlib.invalidate_caches()
    still = [mod for mod in packages if not _importable(mod)]
    return f"still missing after pip install: {' '.join(still)}" if still else None


def _importable(module):
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


# Enough for idle-10k on every peer: HAProxy reserves two descriptors per connection, the null
# proxy uses two, and the origin behind the null proxy one more.
WANT_NOFILE = 65536


def raise_nofile():
    """Raise RLIMIT_NOFILE for this process and so for every process it starts: to
    WANT_NOFILE where allowed (root with CAP_SYS_RESOURCE), else the soft limit to the hard
    limit. Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < WANT_NOFILE:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (WANT_NOFILE, WANT_NOFILE))
            return WANT_NOFILE
        except (ValueError, OSError):
            pass
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def target_dir(repo):
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(repo, "target")


def build(repo, package, log):
    """`cargo build --release -p PACKAGE`; None, or the last lines of the log on failure."""
    with open(log, "wb") as out:
        rc = subprocess.run(
            ["cargo", "build", "--release", "-p", package],
            cwd=repo,
            stdout=out,
            stderr=subprocess.STDOUT,
        ).returncode
    if rc == 0:
        return None
    with open(log, errors="replace") as f:
        return " ".join(f.read().splitlines()[-3:])


def make_cert(work):
    """A self-signed P-256 certificate for 127.0.0.1 (also its own CA for loadgen --cacert):
    {"cert", "key", "bundle" (cert + key, for HAProxy)}."""
    paths = {k: os.path.join(work, f"{k}.pem") for k in ("cert", "key", "bundle")}
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            # A self-signed *leaf*: rustls (loadgen) refuses a CA certificate used as the
            # server's own certificate (CaUsedAsEndEntity), which `req -x509` makes by default.
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-keyout",
            paths["key"],
            "-out",
            paths["cert"],
        ],
        check=True,
        capture_output=True,
    )
    with open(paths["bundle"], "w") as out:
        for k in ("cert", "key"):
            with open(paths[k]) as f:
                out.write(f.read())
    return paths


def _first_line(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (p.stdout or p.stderr).strip()
    return text.splitlines()[0] if text else None


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": os.uname().release,
        "mem_kib": mem,
        "rlimit_nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
    }


def versions(client):
    nginx = _first_line(["nginx", "-v"])
    haproxy = _first_line(["haproxy", "-v"])
    out = {
        "nginx": nginx and nginx.removeprefix("nginx version: "),
        "haproxy": haproxy and haproxy.removeprefix("HAProxy version ").split()[0],
        "openssl": _first_line(["openssl", "version"]),
        "rustc": _first_line(["rustc", "-V"]),
    }
    if client == "wrk":
        wrk = _first_line(["wrk", "-v"])
        out["wrk"] = wrk and wrk.split()[1]
    return out


def git(repo):
    def run(*args):
        p = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True)
        return p.stdout.strip() if p.returncode == 0 else None

    paths = ["--", "src", "Cargo.toml", "Cargo.lock"]
    dirty = subprocess.run(["git", "-C", repo, "diff", "--quiet", "HEAD", *paths]).returncode
    return {
        "commit": run("rev-parse", "HEAD"),
        "short": run("rev-parse", "--short", "HEAD"),
        "branch": run("rev-parse", "--abbrev-ref", "HEAD"),
        "src_last_changed": run("log", "-1", "--format=%h", *paths),
        "src_uncommitted_changes": dirty != 0,
    }
