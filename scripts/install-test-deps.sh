#!/usr/bin/env bash
# Installs the Debian packages the test tiers need, and only those that are missing.
#
# Idempotent: each package is checked by the command it provides (`command -v`), so a machine that
# already has everything runs no apt at all; `apt-get update` runs once, and only when something is to
# be installed. To add a tier's needs, append a `need COMMAND PACKAGE` line below.
#
# Usage: scripts/install-test-deps.sh   (as root, or with sudo available)
set -euo pipefail

missing_packages=()

# need COMMAND PACKAGE: install PACKAGE unless COMMAND is already on PATH.
need() {
  local command_name="$1" package="$2"
  if ! command -v "$command_name" >/dev/null 2>&1; then
    missing_packages+=("$package")
  fi
}

# Integration tier (tests/integration): a real Prometheus server and promtool for backfilling data.
need prometheus prometheus
need promtool prometheus

# Controller unit tests: the Argo CD health check (manifests/argocd/health.lua) runs in real Lua.
need lua5.4 lua5.4

# Browser tier (tests/browser): the analysis report rendered in headless Chromium.
need chromium chromium

if ((${#missing_packages[@]} == 0)); then
  echo "install-test-deps: everything already installed" >&2
  exit 0
fi

# One package can provide several commands; install each once.
mapfile -t packages < <(printf '%s\n' "${missing_packages[@]}" | sort -u)

as_root=()
if [[ "$(id -u)" != 0 ]]; then
  as_root=(sudo)
fi

echo "install-test-deps: installing ${packages[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"
