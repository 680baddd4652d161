#!/usr/bin/env bash
# The live demo: real requests through a real proxy, measured by a real Prometheus, judged while the
# rollout runs. Inside a network namespace of its own (no Docker, no packet leaves it): the control
# plane (etcd, kube-apiserver, controller-manager, scheduler, kwok), Traefik, the pod runner serving
# the kwok pods, Prometheus scraping Traefik every second, our controller and 100 requests a second.
# Then a good release is promoted and a bad one (5% errors against 1%) aborted, each shown with
# `canary get rollout --watch`. Everything it started stops when it ends, or on Ctrl-C.
#
# Run it after the test command (scripts/test.sh), which installs Prometheus and builds the control
# plane and Traefik into ~/.cache/canary; builds anything still missing (Go needed). Needs root or
# unprivileged user namespaces (unshare). About 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v prometheus >/dev/null || { echo "no prometheus on PATH: run scripts/install-test-deps.sh" >&2; exit 1; }
bash tests/controlplane/build.sh >/dev/null
bash scripts/build-traefik.sh >/dev/null
python3 tests/live/netns.py --check
exec python3 tests/live/netns.py -- env PYTHONPATH="tests/live:tests/controlplane${PYTHONPATH:+:$PYTHONPATH}" \
  python3 tests/live/demo.py
