# Sourced by the scripts that build Go binaries into a cache (tests/controlplane/build.sh,
# scripts/build-helm.sh): the one way they take their arguments, answer from a complete cache, and
# serialise concurrent builds.
#
# The sourcing script defines CACHE_ROOT, DEST (the cache entry, binaries in $DEST/bin), HELP_LINES
# (the sed range of its usage comment), `log` and `is_complete`, then calls
#   begin_cached_build "$@"
# which exits at once for --print-bin-dir, --check, --help and a complete cache, and otherwise
# returns holding the build lock, with MODE (build|force) and LOCKED (1 when flock serialises).

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
