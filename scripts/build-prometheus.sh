#!/usr/bin/env bash
# Build and cache a Prometheus with Kubernetes service discovery, for the `live` test tier's pod scraping
# (tests/live/test_live_pod_metrics.py). The tier's Prometheus is Debian's `prometheus` package, whose
# build leaves Kubernetes discovery out (2.42.0+ds: its config parser rejects `kubernetes_sd_configs`,
# "field kubernetes_sd_configs not found in type config.ScrapeConfig"), so this one scrapes the pods:
#   bin/prometheus   github.com/prometheus/prometheus/cmd/prometheus v0.316.0 (Prometheus v3.16.0),
#                    built with -tags remove_all_sd,enable_kubernetes_sd (Kubernetes the only service
#                    discovery compiled in) through the committed wrapper module scripts/go/prometheus/
#                    (its go.sum pins every dependency). No web UI assets (not needed: API only).
#
# Everything comes through the Go module proxy; no Docker. The cache lives outside the repository:
#   ${CANARY_PROMETHEUS_CACHE:-$HOME/.cache/canary/prometheus}/<version-key>/{bin,.complete}
# The version key changes with the pinned version, the wrapper go.mod/go.sum or this recipe.
#
# Usage:
#   build-prometheus.sh                  build if missing (a no-op when cached); prints the bin directory
#                                        as the last line of stdout
#   build-prometheus.sh --print-bin-dir  print the bin directory for the pinned version, build nothing
#   build-prometheus.sh --check          exit 0 if the cache is complete, 1 otherwise, build nothing
#   build-prometheus.sh --force          rebuild even if cached
#
# Progress goes to stderr. Cold build: 32 minutes on 2 cores shared with other jobs (load average
# above 20), the Go build cache empty for Prometheus' packages.
#
# Under pipefail, no pipeline here may end in a reader that can stop before its writer is done
# (`| head`, `| grep -q`): tests/unit/scripts/test_pipelines.py keeps it so.
set -euo pipefail

PROMETHEUS_MODULE_VERSION=v0.316.0
TAGS=remove_all_sd,enable_kubernetes_sd
# Bump when the build recipe (flags, layout) changes in a way that should invalidate caches.
RECIPE=1

WRAPPER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/go/prometheus"
CACHE_ROOT="${CANARY_PROMETHEUS_CACHE:-$HOME/.cache/canary/prometheus}"

BUILD_NAME=prometheus

is_complete() {
  [[ -f "$STAMP" && -x "$DEST/bin/prometheus" ]]
}

HELP_LINES=2,23p
# shellcheck source=scripts/lib/cached-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cached-build.sh"
KEY="prometheus-${PROMETHEUS_MODULE_VERSION}_$(wrapper_digest "$WRAPPER" "$PROMETHEUS_MODULE_VERSION" "$TAGS" "$RECIPE")"
begin_cached_build "$@"

open_partial bin/.prometheus.tmp

log "prometheus $PROMETHEUS_MODULE_VERSION, tags $TAGS ... ($GOVERSION_LINE)"
(cd "$WRAPPER" && nice -n 10 go build -mod=readonly -trimpath -tags "$TAGS" -ldflags "-s -w" \
   -o "$PARTIAL/bin/.prometheus.tmp.$$" github.com/prometheus/prometheus/cmd/prometheus)
mv -f "$PARTIAL/bin/.prometheus.tmp.$$" "$PARTIAL/bin/prometheus"
"$PARTIAL/bin/prometheus" --version >&2

finish_cached_build
