#!/usr/bin/env bash
# Build and cache Argo Rollouts' controller, the peer of the side-by-side benchmark
# (benchmarks/vs_argo.py):
#   bin/rollouts-controller   built from github.com/argoproj/argo-rollouts (cmd/rollouts-controller)
#                             through the committed wrapper module scripts/go/argo-rollouts/ (its go.mod
#                             carries Argo's replace directives)
#   manifests/crds/*.yaml     Argo's CRDs, from the module's manifests/crds/
#   manifests/role/*.yaml     its ClusterRole, from manifests/role/
#
# Argo's go.mod asks for a newer Go than the project pins, so the go command fetches that toolchain
# from the module proxy (GOTOOLCHAIN below). The cache lives outside the repository:
#   ${CANARY_ARGO_CACHE:-$HOME/.cache/canary/argo-rollouts}/<version-key>/{bin,manifests,.complete}
# The version key changes with the pinned version, the wrapper go.mod/go.sum or this recipe.
#
# Usage:
#   build-argo-rollouts.sh                  build if missing (a no-op when cached); prints the bin
#                                           directory as the last line of stdout
#   build-argo-rollouts.sh --print-bin-dir  print the bin directory, build nothing
#   build-argo-rollouts.sh --check          exit 0 if the cache is complete, 1 otherwise
#   build-argo-rollouts.sh --force          rebuild even if cached
#
# Progress goes to stderr. Cold build: about 13 minutes on 2 cores.
#
# Under pipefail, no pipeline here may end in a reader that can stop before its writer is done
# (`| head`, `| grep -q`): tests/unit/scripts/test_pipelines.py keeps it so.
set -euo pipefail

ARGO_VERSION=v1.10.2
export GOTOOLCHAIN=go1.27.3
# Bump when the build recipe (flags, layout) changes in a way that should invalidate caches.
RECIPE=1

WRAPPER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/go/argo-rollouts"
CACHE_ROOT="${CANARY_ARGO_CACHE:-$HOME/.cache/canary/argo-rollouts}"

BUILD_NAME=argo-rollouts

is_complete() {
  [[ -f "$STAMP" && -x "$DEST/bin/rollouts-controller" && -f "$DEST/manifests/crds/rollout-crd.yaml" ]]
}

HELP_LINES=2,24p
# shellcheck source=scripts/lib/cached-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cached-build.sh"
KEY="argo-rollouts-${ARGO_VERSION}_$(wrapper_digest "$WRAPPER" "$ARGO_VERSION" "$RECIPE")"
begin_cached_build "$@"

cd "$WRAPPER"
open_partial bin/.controller.tmp
if [[ -s "$PARTIAL/bin/rollouts-controller" ]]; then
  log "rollouts-controller: kept from an earlier run"
else
  log "argo-rollouts $ARGO_VERSION ... ($GOVERSION_LINE)"
  nice -n 10 go build -mod=readonly -trimpath -ldflags "-s -w" \
    -o "$PARTIAL/bin/.controller.tmp.$$" github.com/argoproj/argo-rollouts/cmd/rollouts-controller
  mv -f "$PARTIAL/bin/.controller.tmp.$$" "$PARTIAL/bin/rollouts-controller"
  log "rollouts-controller done in $((SECONDS - START))s"
fi

ARGO_DIR="$(module_dir "github.com/argoproj/argo-rollouts@$ARGO_VERSION")"
rm -rf "$PARTIAL/manifests"
mkdir -p "$PARTIAL/manifests"
cp -r "$ARGO_DIR/manifests/crds" "$ARGO_DIR/manifests/role" "$PARTIAL/manifests/"
chmod -R u+w "$PARTIAL/manifests"  # the module cache is read-only; the copies must be removable

"$PARTIAL/bin/rollouts-controller" --version >&2

finish_cached_build
