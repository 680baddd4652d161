# Sourced by the scripts that build Go binaries into a cache (tests/controlplane/build.sh,
# scripts/build-helm.sh): the one way they take their arguments, answer from a complete cache, and
# serialise concurrent builds.
#
# The sourcing script defines CACHE_ROOT, DEST (the cache entry, binaries in $DEST/bin), HELP_LINES
# (the sed range of its usage comment), `log` and `is_complete`, then calls
#   begin_cached_build "$@"
# which exits at once for --print-bin-dir, --check, --help and a complete cache, and otherwise
# returns holding the build lock, with MODE (build|force) and LOCKED (1 when flock serialises).
# The script builds into $PARTIAL (under START=$SECONDS and GOVERSION_LINE) and ends with
#   finish_cached_build
# which stamps $PARTIAL complete, moves it into place as $DEST and prints the bin directory.

begin_cached_build() {
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
