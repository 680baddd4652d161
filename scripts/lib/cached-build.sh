# Sourced by the scripts that build Go binaries into a cache (tests/controlplane/build.sh,
# scripts/build-helm.sh): the one way they take their arguments, answer from a complete cache, and
# serialise concurrent builds.
#
# The sourcing script defines BUILD_NAME (its log lines say `[<BUILD_NAME>-build <time>]`),
# CACHE_ROOT, KEY (the cache entry's name), HELP_LINES (the sed range of its usage comment) and
# `is_complete` (which reads DEST, the cache entry, and STAMP, its completion stamp), then calls
#   begin_cached_build "$@"
# which exits at once for --print-bin-dir, --check, --help and a complete cache, and otherwise
# returns holding the build lock, with MODE (build|force) and LOCKED (1 when flock serialises).
#   open_partial <temporary path under the entry, without its .<pid> suffix; globs allowed> ...
# then starts the build in $PARTIAL (START=$SECONDS, GOVERSION_LINE, CGO_ENABLED=0): the named
# temporaries of this run are removed when it exits, those a killed run left are removed now, and
# whatever an earlier run finished stays (--force starts from nothing). The script ends with
#   finish_cached_build
# which stamps $PARTIAL complete, moves it into place as $DEST and prints the bin directory.

log() { printf '[%s-build %s] %s\n' "$BUILD_NAME" "$(date +%H:%M:%S)" "$*" >&2; }

begin_cached_build() {
  DEST="$CACHE_ROOT/$KEY"
  STAMP="$DEST/.complete"
  MODE=build
  case "${1:-}" in
    "") ;;
    --print-bin-dir) echo "$DEST/bin"; exit 0 ;;
    --check) if is_complete; then exit 0; else exit 1; fi ;;
    --force) MODE=force ;;
    -h|--help) sed -n "$HELP_LINES" "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac

  if [[ "$MODE" == build ]] && is_complete; then
    log "cached: $DEST/bin"
    echo "$DEST/bin"
    exit 0
  fi

  command -v go >/dev/null || { log "ERROR: 'go' not found on PATH (scripts/install-go.sh installs it)"; exit 3; }
  mkdir -p "$CACHE_ROOT"

  # Two pytest sessions or CI steps may build the same cache at once: one at a time.
  LOCKED=0
  exec 9>"$CACHE_ROOT/.build.lock"
  if command -v flock >/dev/null; then
    log "acquiring build lock $CACHE_ROOT/.build.lock"; flock 9; LOCKED=1
    if [[ "$MODE" == build ]] && is_complete; then
      log "built by a concurrent run: $DEST/bin"; echo "$DEST/bin"; exit 0
    fi
  fi
}

open_partial() {
  START=$SECONDS
  PARTIAL="$CACHE_ROOT/.partial-$KEY"
  PARTIAL_TEMPS=("$@")
  trap _remove_own_temps EXIT
  if [[ "$MODE" == force ]]; then rm -rf "$PARTIAL"; fi
  mkdir -p "$PARTIAL/bin"
  if [[ "$LOCKED" == 1 ]]; then  # no other build runs: what a killed one left half-written goes
    local temp
    for temp in "${PARTIAL_TEMPS[@]}"; do
      # shellcheck disable=SC2086  # the temporaries are globs
      rm -rf "$PARTIAL"/$temp.*
    done
  fi
  export CGO_ENABLED=0
  GOVERSION_LINE="$(go version)"
}

_remove_own_temps() {
  local temp
  for temp in "${PARTIAL_TEMPS[@]}"; do
    # shellcheck disable=SC2086  # the temporaries are globs
    rm -rf "$PARTIAL"/$temp."$$"
  done
}

# wrapper_digest <wrapper module dir> <value>...: 12 hex digits of its go.mod, go.sum and the values
# (versions, the recipe), for a cache key that changes with any of them.
wrapper_digest() {
  local dir="$1"; shift
  { cat "$dir/go.mod" "$dir/go.sum"; echo "$*"; } | sha256sum | cut -c1-12
}

# module_dir <module@version>: the module's directory in the Go module cache (downloaded if needed),
# resolved from the current directory's go.mod.
module_dir() {
  local json
  json="$(go mod download -json "$1")"
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$json"
}

finish_cached_build() {
  {
    echo "key=$KEY"; echo "go=$GOVERSION_LINE"; echo "built=$(date -u +%FT%TZ)"; echo "seconds=$((SECONDS - START))"
  } > "$PARTIAL/.complete"
  rm -rf "$DEST"
  mv "$PARTIAL" "$DEST"
  log "built in $((SECONDS - START))s: $DEST/bin"
  echo "$DEST/bin"
}
