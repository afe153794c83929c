#!/usr/bin/env bash
# The one command that runs every test on a fresh machine: installs what the tests need
# (curl, cargo-nextest), then runs the whole suite with nextest.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v kill >/dev/null 2>&1 || need_apt+=(procps)   # the harness signals the gateway with kill
if ((${#need_apt[@]})); then
  echo "scripts/test.sh: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need_apt[@]}" >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need_apt[@]}" >/dev/null; }
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "scripts/test.sh: installing cargo-nextest" >&2
  cargo install cargo-nextest --locked
fi

# Third-party fixtures are read in place (../shared/fixtures by default).
export TOLLGATE_FIXTURES="${TOLLGATE_FIXTURES:-$PWD/../shared/fixtures}"
cargo build --bins
exec cargo nextest run --workspace --no-fail-fast "$@"
