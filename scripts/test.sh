#!/usr/bin/env bash
# The one command that runs every test on a fresh machine: installs what the tests need
# (curl, cargo-nextest, Python's botocore, PyJWT, cryptography, awslambdaric and Playwright, Debian's chromium), runs the whole suite with nextest, then the benchmark harness's unit
# tests and `benches/run --quick`: every benchmark scenario briefly, checking that its numbers
# are sane (a smoke test, not a gate on speed; benches/run installs nginx, HAProxy and openssl
# itself when missing). TOLLGATE_BENCH_SMOKE=0 skips the benchmark part locally; CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=${TOLLGATE_BENCH_SMOKE:-1}
need_apt=()
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v kill >/dev/null 2>&1 || need_apt+=(procps)   # the harness signals the gateway with kill
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)  # test helpers and the bench harness
python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
if ((${#need_apt[@]})); then
  echo "scripts/test.sh: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need_apt[@]}" >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need_apt[@]}" >/dev/null; }
fi
# botocore signs requests for the SigV4 interop test (tests/sigv4_botocore.rs).
if ! python3 -c 'import botocore' >/dev/null 2>&1; then
  echo "scripts/test.sh: installing botocore" >&2
  python3 -m pip install --quiet botocore ||
    python3 -m pip install --quiet --break-system-packages botocore
fi
# PyJWT with cryptography makes real tokens for the JWT authorizer tests (tests/jwt_authorizers.rs).
if ! python3 -c 'import jwt, cryptography' >/dev/null 2>&1; then
  echo "scripts/test.sh: installing PyJWT and cryptography" >&2
  python3 -m pip install --quiet PyJWT cryptography ||
    python3 -m pip install --quiet --break-system-packages PyJWT cryptography
fi
# awslambdaric, Lambda's Python runtime interface client, runs the local functions of
# tests/local_functions.rs on tollgate's Runtime API.
if ! python3 -c 'import awslambdaric' >/dev/null 2>&1; then
  echo "scripts/test.sh: installing awslambdaric" >&2
  python3 -m pip install --quiet awslambdaric ||
    python3 -m pip install --quiet --break-system-packages awslambdaric
fi
# Headless Chromium (Debian's package) driven by Playwright (PyPI, using that Chromium: no
# browser download) loads the admin dashboard in tests/dashboard.rs.
if ! command -v chromium >/dev/null 2>&1; then
  echo "scripts/test.sh: installing chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null; }
fi
if ! python3 -c 'import playwright' >/dev/null 2>&1; then
  echo "scripts/test.sh: installing playwright" >&2
  python3 -m pip install --quiet playwright ||
    python3 -m pip install --quiet --break-system-packages playwright
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "scripts/test.sh: installing cargo-nextest" >&2
  cargo install cargo-nextest --locked
fi

# Third-party fixtures are read in place (../shared/fixtures by default).
export TOLLGATE_FIXTURES="${TOLLGATE_FIXTURES:-$PWD/../shared/fixtures}"
cargo build --bins
# The Rust local function of tests/local_functions.rs (its own workspace: tokio, hyper).
cargo build --locked --manifest-path tests/functions/lambda-echo/Cargo.toml --target-dir target/lambda-echo
status=0
cargo nextest run --workspace --no-fail-fast "$@" || status=$?

if [[ $smoke != 0 ]]; then
  echo "scripts/test.sh: benchmark harness unit tests and benches/run --quick" >&2
  python3 -B -m unittest discover -s benches -p 'test_*.py' || status=1
  # lambda-local runs tests/functions/lambda-echo and tools/lambda-bare release from the target
  # dir benches/run uses.
  if cargo build --release -p tollgate -p loadgen -p upstream -p nullproxy -p lambda-bare &&
    cargo build --release --locked --manifest-path tests/functions/lambda-echo/Cargo.toml \
      --target-dir "${CARGO_TARGET_DIR:-target}/lambda-echo"; then
    benches/run --quick --no-build || status=1
  else
    status=1
  fi
fi
exit "$status"
