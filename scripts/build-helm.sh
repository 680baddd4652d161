#!/usr/bin/env bash
# Build and cache the real `helm` client for the chart tests (tests/unit/test_helm_charts.py,
# tests/controlplane/test_helm.py): `go install helm.sh/helm/v3/cmd/helm@<pinned version>` through the
# Go module proxy, which uses helm's own go.mod/go.sum, so no wrapper module is needed.
#
# The cache lives outside the repository, next to the control plane's:
#   ${CANARY_HELM_CACHE:-$HOME/.cache/canary/helm}/<version-key>/{bin/helm,.complete}
# The version key changes with the pinned version or this recipe, so a stale cache is never reused.
# The binary is built under a temporary name and renamed into place only once complete; the
# directory becomes <version-key>/ (with .complete) when it is there.
#
# Usage:
#   build-helm.sh                  build if missing (a no-op when cached); prints the bin directory
#                                  as the last line of stdout
#   build-helm.sh --print-bin-dir  print the bin directory for the pinned version, build nothing
#   build-helm.sh --check          exit 0 if the cache is complete, 1 otherwise, build nothing
#   build-helm.sh --force          rebuild even if cached
#
# Progress goes to stderr. Cold build: about 2 minutes on 2 cores.
#
# Under pipefail, no pipeline here may end in a reader that can stop before its writer is done
# (`| head`, `| grep -q`): tests/unit/scripts/test_pipelines.py keeps it so.
set -euo pipefail

HELM_VERSION=v3.22.1
# Bump when the build recipe (flags, layout) changes in a way that should invalidate caches.
RECIPE=2

CACHE_ROOT="${CANARY_HELM_CACHE:-$HOME/.cache/canary/helm}"
KEY="helm-${HELM_VERSION}_r${RECIPE}"
BUILD_NAME=helm

is_complete() { [[ -f "$STAMP" && -x "$DEST/bin/helm" ]]; }

HELP_LINES=2,22p
# shellcheck source=scripts/lib/cached-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cached-build.sh"
begin_cached_build "$@"

open_partial .gobin
if [[ -s "$PARTIAL/bin/helm" ]]; then
  log "helm: kept from an earlier run"
else
  log "helm $HELM_VERSION ... ($GOVERSION_LINE)"
  # Stamped as helm's own Makefile does: its version (else `helm version` says v3.x-dev) and the
  # Kubernetes version `helm template`/`lint` assume without a cluster, 1.<minor of its client-go>
  # (else v1.20.0, and a chart's kubeVersion: >=1.25 fails to render).
  HELM_DIR="$(module_dir "helm.sh/helm/v3@$HELM_VERSION")"
  K8S_MINOR="$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*$/\1/p' "$HELM_DIR/go.mod")"
  [[ -n "$K8S_MINOR" ]] || { log "ERROR: no k8s.io/client-go version in $HELM_DIR/go.mod"; exit 4; }
  LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  LDFLAGS+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    LDFLAGS+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$K8S_MINOR"
  done
  GOBIN="$PARTIAL/.gobin.$$" go install -trimpath -ldflags "$LDFLAGS" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv -f "$PARTIAL/.gobin.$$/helm" "$PARTIAL/bin/helm"
  rm -rf "$PARTIAL/.gobin.$$"
  log "helm done in $((SECONDS - START))s"
fi

"$PARTIAL/bin/helm" version >&2

finish_cached_build
