#!/usr/bin/env bash
# Makes the Go toolchain the control-plane build needs available, and prints the directory holding
# its `go` as the only line of stdout (progress goes to stderr):
#   GO_BIN="$(bash scripts/install-go.sh)" && export PATH="$GO_BIN:$PATH"
#
# The version needed is the highest `go` line of the wrapper modules (tests/controlplane/go/*/go.mod).
# 1. A `go` on PATH that is new enough is used as it is.
# 2. Without any `go`, Debian's golang-go is installed (apt-get, as root or with sudo).
# 3. An older `go` fetches the pinned toolchain from the Go module proxy (the module
#    golang.org/toolchain, as GOTOOLCHAIN does): Go >= 1.21 through GOTOOLCHAIN=go<version>, older ones
#    (Debian 12 ships 1.19) through `go mod download`; the toolchain lands in the module cache.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { echo "install-go: $*" >&2; }

# version_at_least HAVE WANT: true if dotted version HAVE >= WANT (1.26 == 1.26.0).
version_at_least() {
  local -a have want
  IFS=. read -r -a have <<<"$1"
  IFS=. read -r -a want <<<"$2"
  local i
  for i in 0 1 2; do
    if ((10#${have[i]:-0} != 10#${want[i]:-0})); then
      ((10#${have[i]:-0} > 10#${want[i]:-0}))
      return
    fi
  done
}

# go_version GO: "1.26.0" from `GO version` ("go version go1.26.0 linux/amd64"); empty if it fails.
go_version() {
  local words
  read -r -a words <<<"$("$@" version 2>/dev/null || true)"
  local version="${words[2]:-}"
  version="${version#go}"
  echo "${version%%[!0-9.]*}"
}

REQUIRED=""
for mod in "$ROOT"/tests/controlplane/go/*/go.mod; do
  line="$(sed -n 's/^go \([0-9][0-9.]*\)[[:space:]]*$/\1/p' "$mod")"
  if [[ -n "$line" ]] && { [[ -z "$REQUIRED" ]] || version_at_least "$line" "$REQUIRED"; }; then
    REQUIRED="$line"
  fi
done
[[ -n "$REQUIRED" ]] || { log "ERROR: no 'go' line in tests/controlplane/go/*/go.mod"; exit 2; }

if command -v go >/dev/null; then
  have="$(go_version go)"
  if [[ -n "$have" ]] && version_at_least "$have" "$REQUIRED"; then
    log "go $have on PATH (need >= $REQUIRED)"
    dirname "$(command -v go)"
    exit 0
  fi
  log "go ${have:-of unknown version} on PATH is older than the $REQUIRED the build needs"
else
  log "no go on PATH: installing Debian's golang-go"
  as_root=()
  if [[ "$(id -u)" != 0 ]]; then as_root=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq >&2
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends golang-go >&2
  hash -r
  command -v go >/dev/null || { log "ERROR: golang-go installed no 'go' on PATH"; exit 3; }
  have="$(go_version go)"
fi

toolchain="go$REQUIRED"
have="${have:-0}"
if version_at_least "$have" 1.21; then
  log "fetching $toolchain through GOTOOLCHAIN (Go module proxy)"
  goroot="$(cd "$ROOT" && GOTOOLCHAIN="$toolchain" go env GOROOT)"
  bin="$goroot/bin"
else
  # What GOTOOLCHAIN does, by hand: the toolchain is a module; its zip does not keep execute bits.
  module="golang.org/toolchain@v0.0.1-$toolchain.$(go env GOOS)-$(go env GOARCH)"
  log "fetching $module (Go module proxy) with go $have, which predates GOTOOLCHAIN"
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  json="$(cd "$scratch" && go mod init scratch >/dev/null 2>&1 && go mod download -json "$module")"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$json")"
  [[ -d "$dir/bin" ]] || { log "ERROR: $module not downloaded: $json"; exit 4; }
  chmod u+x "$dir"/bin/* "$dir"/pkg/tool/*/* 2>/dev/null || chmod u+x "$dir"/bin/*
  bin="$dir/bin"
fi

got="$(go_version "$bin/go")"
if [[ -z "$got" ]] || ! version_at_least "$got" "$REQUIRED"; then
  log "ERROR: $bin/go reports '${got:-nothing}', need >= $REQUIRED"
  exit 5
fi
log "go $got in $bin"
echo "$bin"
