#!/usr/bin/env bash
# Build and cache the data plane of the `live` test tier (tests/live/) and scripts/live-demo.sh:
#   bin/traefik                 Traefik, built from github.com/traefik/traefik/v3 (cmd/traefik) through
#                               the committed wrapper module scripts/go/traefik/ (its go.mod carries
#                               Traefik's replace/exclude directives, which a required module's go.mod
#                               cannot pass on)
#   crds/gateway-api/*.yaml     the Gateway API standard CRDs, from sigs.k8s.io/gateway-api (the version
#                               Traefik's go.mod requires), config/crd/standard/
#   crds/traefik/*.yml          Traefik's own CRDs (TraefikService ...), from its module's
#                               docs/content/reference/dynamic-configuration/
#
# Everything comes through the Go module proxy; no Docker. The cache lives outside the repository:
#   ${CANARY_TRAEFIK_CACHE:-$HOME/.cache/canary/traefik}/<version-key>/{bin,crds,.complete}
# The version key changes with the pinned versions, the wrapper go.mod/go.sum or this recipe, so a stale
# cache is never reused. A finished binary is kept in .partial-<version-key>/ if a later step fails.
#
# Usage:
#   build-traefik.sh                  build if missing (a no-op when cached); prints the bin directory
#                                     as the last line of stdout
#   build-traefik.sh --print-bin-dir  print the bin directory for the pinned versions, build nothing
#   build-traefik.sh --check          exit 0 if the cache is complete, 1 otherwise, build nothing
#   build-traefik.sh --force          rebuild even if cached
#
# Progress goes to stderr. Cold build: about 7 minutes on 2 cores (the binary is ~170 MB stripped).
#
# Under pipefail, no pipeline here may end in a reader that can stop before its writer is done
# (`| head`, `| grep -q`): tests/unit/scripts/test_pipelines.py keeps it so.
set -euo pipefail

TRAEFIK_VERSION=v3.6.12
GATEWAY_API_VERSION=v1.4.0
# Bump when the build recipe (flags, layout) changes in a way that should invalidate caches.
RECIPE=1

WRAPPER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/go/traefik"
CACHE_ROOT="${CANARY_TRAEFIK_CACHE:-$HOME/.cache/canary/traefik}"

BUILD_NAME=traefik

is_complete() {
  [[ -f "$STAMP" && -x "$DEST/bin/traefik" && -f "$DEST/crds/gateway-api/gateway.networking.k8s.io_httproutes.yaml" \
     && -f "$DEST/crds/traefik/kubernetes-crd-definition-v1.yml" ]]
}

HELP_LINES=2,25p
# shellcheck source=scripts/lib/cached-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cached-build.sh"
KEY="traefik-${TRAEFIK_VERSION}_gateway-api-${GATEWAY_API_VERSION}_$(wrapper_digest "$WRAPPER" \
  "$TRAEFIK_VERSION" "$GATEWAY_API_VERSION" "$RECIPE")"
begin_cached_build "$@"

open_partial bin/.traefik.tmp .crds.tmp

if [[ -s "$PARTIAL/bin/traefik" ]]; then
  log "traefik: kept from an earlier run"
else
  log "traefik $TRAEFIK_VERSION ... ($GOVERSION_LINE)"
  (cd "$WRAPPER" && nice -n 10 go build -mod=readonly -trimpath -ldflags "-s -w" \
     -o "$PARTIAL/bin/.traefik.tmp.$$" github.com/traefik/traefik/v3/cmd/traefik)
  mv -f "$PARTIAL/bin/.traefik.tmp.$$" "$PARTIAL/bin/traefik"
  log "traefik done in $((SECONDS - START))s"
fi

CRDS="$PARTIAL/.crds.tmp.$$"
mkdir -p "$CRDS/gateway-api" "$CRDS/traefik"
GATEWAY_DIR="$(cd "$WRAPPER" && module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")"
TRAEFIK_DIR="$(cd "$WRAPPER" && module_dir "github.com/traefik/traefik/v3@$TRAEFIK_VERSION")"
cp "$GATEWAY_DIR"/config/crd/standard/*.yaml "$CRDS/gateway-api/"
cp "$TRAEFIK_DIR/docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml" "$CRDS/traefik/"
chmod -R u+w "$CRDS"  # the module cache is read-only; the copies must be removable
rm -rf "$PARTIAL/crds"
mv "$CRDS" "$PARTIAL/crds"

"$PARTIAL/bin/traefik" version >&2

finish_cached_build
