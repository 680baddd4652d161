#!/usr/bin/env bash
# Installs everything the tests need and runs the whole suite: the command the README and CI share.
#
# Every install step is idempotent and cached: Debian packages are installed only when missing,
# pip reuses its cache, and the control plane (etcd, kube-apiserver, ... built from Go modules) is
# built once into ~/.cache/canary and reused. Extra arguments go to pytest, e.g.
#   scripts/test.sh -m "not controlplane"     # skip the slow real-control-plane tier locally
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "system packages"
bash scripts/install-test-deps.sh

step "python packages"
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

if [[ "${CANARY_SKIP_CONTROLPLANE_BUILD:-}" != "1" && " $* " != *"not controlplane"* ]]; then
  step "control plane binaries (cached)"
  bash tests/controlplane/build.sh
fi

step "static checks"
ruff check canary tests benchmarks
mypy canary
lint-imports

step "tests"
python3 -m pytest "$@"
