#!/usr/bin/env bash
# Thin wrapper around the control-plane test tier (tests/controlplane/).
#   scripts/controlplane.sh build        build/cache etcd, kube-apiserver, controller-manager, scheduler, kwok
#   scripts/controlplane.sh check        exit 0 if the binaries for the pinned versions are cached
#   scripts/controlplane.sh up [--nodes N] [--work-dir DIR]
#                                        run a cluster in the foreground, print KUBECONFIG, Ctrl-C stops it
#   scripts/controlplane.sh test [pytest args]   run the tier (builds first if needed)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CP="$ROOT/tests/controlplane"
cmd="${1:-}"; shift || true
case "$cmd" in
  build) exec "$CP/build.sh" "$@" ;;
  check) exec "$CP/build.sh" --check ;;
  up) exec python "$CP/localcluster.py" "$@" ;;
  test) "$CP/build.sh" >/dev/null && cd "$ROOT" && exec python -m pytest "$CP" -m controlplane "$@" ;;
  *) sed -n '2,8p' "$0"; exit 2 ;;
esac
