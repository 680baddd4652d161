#!/usr/bin/env bash
# Installs the Debian packages the test tiers need, and only those that are missing.
#
# Idempotent: each package is checked by the command it provides (`command -v`), so a machine that
# already has everything runs no apt at all; `apt-get update` runs once, and only when something is to
# be installed. To add a tier's needs, append a `need COMMAND PACKAGE` line below.
#
# Debian's prometheus package registers prometheus.service, which a machine running systemd would start
# (and start again at every boot): a system-wide Prometheus on :9090. The tests start their own, so
# when this script installs that package it forbids service starts for the install (a policy-rc.d
# answering 101, which invoke-rc.d and deb-systemd-invoke obey; one that is already there is left as
# it is) and then stops and disables the unit where systemd runs.
#
# Usage: scripts/install-test-deps.sh [--dry-run]   (as root, or with sudo available)
#   --dry-run   print what would be installed and run, change nothing
set -euo pipefail

DRY_RUN=0
case "${1:-}" in
  "") ;;
  --dry-run) DRY_RUN=1 ;;
  *) echo "install-test-deps: unknown argument '$1' (usage: $0 [--dry-run])" >&2; exit 2 ;;
esac
POLICY_RC_D="${CANARY_POLICY_RC_D:-/usr/sbin/policy-rc.d}"  # tests point it elsewhere
# Packages whose services the tests start themselves: package=unit.
KEEP_STOPPED=(prometheus=prometheus.service influxdb=influxdb.service)

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
# Browser tier, the dashboard: Debian's WebDriver for that same Chromium (selenium drives it).
need chromedriver chromium-driver

# Git write-back tier (tests/integration/gitops, tests/controlplane/test_gitops_revert.py): the git CLI
# and its daemon; Gitea's build (scripts/build-gitea.sh) compiles SQLite with cgo.
need git git
need gcc gcc

# Vendor metric providers (tests/integration/providers): a real InfluxDB 1.x, and Graphite's render API
# (graphite-web) over whisper files written with Debian's whisper tools.
need influxd influxdb
need graphite-manage graphite-web
need whisper-create python3-whisper

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

# run COMMAND...: as root; with --dry-run only printed.
run() {
  if ((DRY_RUN)); then
    echo "would run: ${as_root[*]:+${as_root[*]} }$*"
  else
    "${as_root[@]}" "$@"
  fi
}

units=()
for entry in "${KEEP_STOPPED[@]}"; do
  if [[ " ${packages[*]} " == *" ${entry%%=*} "* ]]; then units+=("${entry#*=}"); fi
done

echo "install-test-deps: installing ${packages[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
run apt-get update -qq
guarded=0
if ((${#units[@]})) && [[ ! -e "$POLICY_RC_D" ]]; then
  guarded=1
  trap 'run rm -f "$POLICY_RC_D"' EXIT  # also when the install fails
  run sh -c "printf '#!/bin/sh\n# scripts/install-test-deps.sh: no service starts during its install\nexit 101\n' > $POLICY_RC_D && chmod 755 $POLICY_RC_D"
fi
run apt-get install -y -qq --no-install-recommends "${packages[@]}"
if ((guarded)); then
  run rm -f "$POLICY_RC_D"
  trap - EXIT
fi
if ((${#units[@]})); then
  if ((DRY_RUN)) || [[ -d /run/systemd/system ]]; then  # systemd is the running init
    run systemctl disable --now "${units[@]}"
  fi
fi
