#!/usr/bin/env bash
# Installs everything the tests need and runs the whole suite: the command the README and CI share.
#
# Needs a Debian-like system and root (or sudo). Every install step is idempotent and cached: Debian
# packages are installed only when missing, pip reuses its cache, Go is installed only when the control
# plane must be built and no new enough Go is on PATH (scripts/install-go.sh), and the control plane
# (etcd, kube-apiserver, ... built from Go modules) and the helm client (scripts/build-helm.sh) are built
# once into ~/.cache/canary and reused.
# Extra arguments go to pytest, e.g.
#   scripts/test.sh -m "not controlplane"     # skip the slow real-control-plane tier locally
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "system packages"
bash scripts/install-test-deps.sh

step "python packages"
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

if [[ "${CANARY_SKIP_CONTROLPLANE_BUILD:-}" != "1" && " $* " != *"not controlplane"* ]]; then
  if ! bash tests/controlplane/build.sh --check; then
    step "Go toolchain (pinned by tests/controlplane/go/*/go.mod)"
    GO_BIN="$(bash scripts/install-go.sh)"
    export PATH="$GO_BIN:$PATH"  # for the build below and the tier's own build.sh calls
  fi
  step "control plane binaries (cached)"
  bash tests/controlplane/build.sh
fi

if [[ "${CANARY_SKIP_HELM_BUILD:-}" != "1" ]]; then
  if ! bash scripts/build-helm.sh --check && ! command -v go >/dev/null; then
    step "Go toolchain (for helm)"
    GO_BIN="$(bash scripts/install-go.sh)"
    export PATH="$GO_BIN:$PATH"
  fi
  step "helm client, built from helm.sh/helm/v3 (cached)"
  bash scripts/build-helm.sh
fi

if [[ "${CANARY_SKIP_GITEA_BUILD:-}" != "1" && " $* " != *"not gitea"* ]]; then
  if ! bash scripts/build-gitea.sh --check && ! command -v go >/dev/null; then
    step "Go toolchain (for Gitea)"
    GO_BIN="$(bash scripts/install-go.sh)"
    export PATH="$GO_BIN:$PATH"
  fi
  step "Gitea, built from code.gitea.io/gitea (cached; the forge of the Git write-back tests)"
  bash scripts/build-gitea.sh
fi

if [[ "${CANARY_SKIP_TRAEFIK_BUILD:-}" != "1" && " $* " != *"not live"* ]]; then
  if ! { bash scripts/build-traefik.sh --check && bash scripts/build-prometheus.sh --check; } \
      && ! command -v go >/dev/null; then
    step "Go toolchain (for Traefik and Prometheus)"
    GO_BIN="$(bash scripts/install-go.sh)"
    export PATH="$GO_BIN:$PATH"
  fi
  step "Traefik and the Gateway API CRDs, from their Go modules (cached; the live tier's data plane)"
  bash scripts/build-traefik.sh
  step "Prometheus with Kubernetes discovery, from its Go module (cached; the live tier's pod scraping)"
  bash scripts/build-prometheus.sh
fi

if [[ "${CANARY_SKIP_IMAGE:-}" != "1" ]]; then
  step "controller image (Dockerfile with buildah, cached; skipped without buildah)"
  bash scripts/build-image.sh
fi

step "static checks"
ruff check canary tests benchmarks
mypy canary
lint-imports

step "tests"
python3 -m pytest "$@"
