#!/usr/bin/env bash
# Build and cache the control-plane binaries for the `controlplane` test tier:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (+ kwok's stage config).
#
# Everything comes through the Go module proxy; no Docker. Pinned versions live below and in the
# committed wrapper modules under tests/controlplane/go/ (go.mod + go.sum). The cache lives outside the
# repository:
#   ${CANARY_CONTROLPLANE_CACHE:-$HOME/.cache/canary/controlplane}/<version-key>/{bin,kwok,.complete}
# The version key changes whenever a pinned version, a wrapper go.mod/go.sum or this recipe changes,
# so a stale cache is never reused. Each binary is built into .partial-<version-key>/ next to it and
# renamed into place only once complete, so a failed or interrupted build keeps what it finished and
# the next run builds only what is missing; the directory becomes <version-key>/ (with .complete)
# when everything is there.
#
# Usage:
#   build.sh                  build what is missing (a no-op in well under a second when cached);
#                             prints the bin directory as the last line of stdout
#   build.sh --print-bin-dir  print the bin directory for the pinned versions, build nothing
#   build.sh --check          exit 0 if the cache is complete, 1 otherwise, build nothing
#   build.sh --force          rebuild even if cached
#
# Progress goes to stderr. GOMODCACHE/GOCACHE keep Go's defaults (~/go/pkg/mod, ~/.cache/go-build) so CI
# can cache them too. Cold build: ~7 minutes on 2 cores, peak ~2.5 GB RAM (kube-apiserver link).
#
# Under pipefail, no pipeline here may end in a reader that can stop before its writer is done
# (`| head`, `| grep -q`): the writer then dies of SIGPIPE and fails the build at random
# (tests/unit/scripts/test_pipelines.py keeps it so).
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
# Bump when the build recipe (flags, layout) changes in a way that should invalidate caches.
RECIPE=1

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${CANARY_CONTROLPLANE_CACHE:-$HOME/.cache/canary/controlplane}"

KWOK_STAGES=(
  node/fast/node-initialize.yaml
  node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  pod/fast/pod-ready.yaml
  pod/fast/pod-complete.yaml
  pod/fast/pod-delete.yaml
)
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

version_key() {
  local digest
  digest="$(cat "$HERE/go/kubernetes/go.mod" "$HERE/go/kubernetes/go.sum" \
                "$HERE/go/etcd/go.mod" "$HERE/go/etcd/go.sum" \
            | { cat; printf '%s %s %s %s %s\n' "$K8S_VERSION" "$ETCD_VERSION" "$KWOK_VERSION" "$RECIPE" \
                  "${KWOK_STAGES[*]}"; } \
            | sha256sum | cut -c1-12)"
  printf 'k8s-%s_etcd-%s_kwok-%s_%s' "$K8S_VERSION" "$ETCD_VERSION" "$KWOK_VERSION" "$digest"
}

KEY="$(version_key)"
BUILD_NAME=controlplane

is_complete() {
  [[ -f "$STAMP" && -f "$DEST/kwok/stages.yaml" ]] || return 1
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$DEST/bin/$b" ]] || return 1; done
}

HELP_LINES=2,27p
# shellcheck source=scripts/lib/cached-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/cached-build.sh"
begin_cached_build "$@"

open_partial 'bin/.*.tmp' 'kwok/.*.tmp' .gobin
mkdir -p "$PARTIAL/kwok"
log "building into $PARTIAL ($GOVERSION_LINE, GOFLAGS=${GOFLAGS:-})"

timed() {  # timed <label> <command...>
  local label="$1" t0=$SECONDS; shift
  log "$label ..."
  "$@"
  log "$label done in $((SECONDS - t0))s"
}

kept() {  # kept <file>: true (and says so) if an earlier run already finished it
  [[ -s "$1" ]] || return 1
  log "$(basename "$1"): kept from an earlier run"
}

# go_build <binary> <module dir> <package> <go build flags...>: built under a temporary name and
# renamed into place only when complete.
go_build() {
  local name="$1" dir="$2" pkg="$3"; shift 3
  kept "$PARTIAL/bin/$name" && return 0
  local tmp="$PARTIAL/bin/.$name.tmp.$$"
  (cd "$dir" && timed "$name" go build "$@" -o "$tmp" "$pkg")
  mv -f "$tmp" "$PARTIAL/bin/$name"
}

# etcd: wrapper module, root package of go.etcd.io/etcd/server/v3 is `main`.
go_build etcd "$HERE/go/etcd" go.etcd.io/etcd/server/v3 -mod=readonly -trimpath -ldflags "-s -w"

# Kubernetes: wrapper module redirecting the staging modules to their published tags.
VPKG=k8s.io/component-base/version
MINOR="${K8S_VERSION#v1.}"; MINOR="${MINOR%%.*}"
K8S_LDFLAGS="-s -w -X $VPKG.gitVersion=$K8S_VERSION -X $VPKG.gitMajor=1 -X $VPKG.gitMinor=$MINOR -X $VPKG.gitTreeState=clean"
for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
  go_build "$cmd" "$HERE/go/kubernetes" "k8s.io/kubernetes/cmd/$cmd" \
    -mod=readonly -trimpath -tags selinux,notest -ldflags "$K8S_LDFLAGS"
done

# kwok: `go install pkg@version` uses kwok's own go.mod/go.sum, so it is reproducible as is.
if ! kept "$PARTIAL/bin/kwok"; then
  timed "kwok $KWOK_VERSION" env GOBIN="$PARTIAL/.gobin.$$" go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv -f "$PARTIAL/.gobin.$$/kwok" "$PARTIAL/bin/kwok"
  rm -rf "$PARTIAL/.gobin.$$"
fi

# kwok >= v0.8.0 needs its Stage definitions via --config; they ship in the module under kustomize/stage.
if ! kept "$PARTIAL/kwok/stages.yaml"; then
  KWOK_DIR="$(cd "$HERE" && module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")"
  [[ -d "$KWOK_DIR/kustomize/stage" ]] || { log "ERROR: kwok module dir not found ($KWOK_DIR)"; exit 4; }
  {
    first=1
    for s in "${KWOK_STAGES[@]}"; do
      [[ $first == 1 ]] || echo '---'
      first=0
      echo "# from sigs.k8s.io/kwok@$KWOK_VERSION kustomize/stage/$s"
      cat "$KWOK_DIR/kustomize/stage/$s"
    done
  } > "$PARTIAL/kwok/.stages.yaml.tmp.$$"
  mv -f "$PARTIAL/kwok/.stages.yaml.tmp.$$" "$PARTIAL/kwok/stages.yaml"
fi

for b in "${BINARIES[@]}"; do [[ -x "$PARTIAL/bin/$b" ]] || { log "ERROR: $b missing after build"; exit 5; }; done
# No `| head` on these: a version banner longer than what head reads would kill the binary by SIGPIPE.
"$PARTIAL/bin/kube-apiserver" --version >&2
"$PARTIAL/bin/etcd" --version >&2

finish_cached_build
