#!/usr/bin/env bash
# Build and cache a real Gitea forge for the Git write-back tests (tests/controlplane/test_gitops_revert.py,
# tests/integration/gitops/): Gitea from its Go module code.gitea.io/gitea at a pinned version.
#
# Gitea's go.mod carries replace directives, which `go install pkg@version` refuses, so the build goes
# through a throwaway wrapper module that requires Gitea and repeats those replace lines (read from the
# downloaded go.mod, so they follow the pinned version). SQLite needs cgo and the sqlite tags.
#
# The cache lives outside the repository, next to the control plane's:
#   ${CANARY_GITEA_CACHE:-$HOME/.cache/canary/gitea}/<version-key>/{bin/gitea,static -> module source,.complete}
# `static` is what Gitea's STATIC_ROOT_PATH must name (its locale and template files).
#
# Usage:
#   build-gitea.sh                  build if missing (a no-op when cached); prints the bin directory
#                                   as the last line of stdout
#   build-gitea.sh --print-bin-dir  print the bin directory for the pinned version, build nothing
#   build-gitea.sh --check          exit 0 if the cache is complete, 1 otherwise, build nothing
#   build-gitea.sh --force          rebuild even if cached
#
# Progress goes to stderr. Cold build: about 6 minutes on 2 cores.
#
# Under pipefail, no pipeline here may end in a reader that can stop before its writer is done
# (`| head`, `| grep -q`): tests/unit/scripts/test_pipelines.py keeps it so.
set -euo pipefail

GITEA_VERSION=v1.26.0
# Bump when the build recipe (flags, layout) changes in a way that should invalidate caches.
RECIPE=1

CACHE_ROOT="${CANARY_GITEA_CACHE:-$HOME/.cache/canary/gitea}"
KEY="gitea-${GITEA_VERSION}_r${RECIPE}"
BUILD_NAME=gitea

is_complete() { [[ -f "$STAMP" && -x "$DEST/bin/gitea" && -d "$DEST/static/options" ]]; }

HELP_LINES=2,23p
# shellcheck source=scripts/lib/cached-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cached-build.sh"
begin_cached_build "$@"

open_partial .wrapper bin/.gitea
WRAPPER="$PARTIAL/.wrapper.$$"
GITEA_DIR="$(module_dir "code.gitea.io/gitea@$GITEA_VERSION")"
[[ -f "$GITEA_DIR/go.mod" ]] || { log "ERROR: no go.mod in the downloaded module ($GITEA_DIR)"; exit 4; }

if [[ -s "$PARTIAL/bin/gitea" ]]; then
  log "gitea: kept from an earlier run"
else
  log "gitea $GITEA_VERSION ... ($GOVERSION_LINE)"
  mkdir -p "$WRAPPER"
  {
    echo "module canary.dev/gitea-build"
    echo
    echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$GITEA_DIR/go.mod")"
    echo
    echo "require code.gitea.io/gitea $GITEA_VERSION"
    echo
    grep '^replace ' "$GITEA_DIR/go.mod"
  } > "$WRAPPER/go.mod"
  printf 'package tools\n\nimport _ "code.gitea.io/gitea"\n' > "$WRAPPER/tools.go"
  (
    cd "$WRAPPER"
    GOFLAGS=-mod=mod go mod tidy
    CGO_ENABLED=1 go build -trimpath -tags 'sqlite sqlite_unlock_notify' \
      -ldflags "-s -w -X main.Version=${GITEA_VERSION#v}" \
      -o "$PARTIAL/bin/.gitea.$$" code.gitea.io/gitea
  )
  mv -f "$PARTIAL/bin/.gitea.$$" "$PARTIAL/bin/gitea"
  log "gitea done in $((SECONDS - START))s"
fi

# Gitea reads its locale, template and public files from STATIC_ROOT_PATH: the module's source tree.
ln -sfn "$GITEA_DIR" "$PARTIAL/static"
"$PARTIAL/bin/gitea" --version >&2

finish_cached_build
