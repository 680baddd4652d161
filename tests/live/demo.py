"""The live demo (scripts/live-demo.sh runs it inside its network namespace): the control plane,
Traefik, Prometheus, the pod runner, our controller and 100 requests a second; then a good release
promoted and a bad one (5% errors against stable's 1%) aborted by the sequential judge on what
Prometheus scraped from Traefik, each shown with `canary get rollout --watch`. Everything it started
stops when it ends (or on Ctrl-C).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import apps
import stack
from livetier import NAME, App, analysed
from loadgen import LoadGenerator

NAMESPACE = "shop"
RATE = 100.0


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def watch_release(app: App, load: LoadGenerator, version: str, error_rate: float) -> None:
    stable = app.status()["stableRS"]
    mark = load.mark()
    apps.release(app.api, NAMESPACE, NAME, version, apps.behaviour_env(error_rate=error_rate))
    kubeconfig = str(app.live.control_plane.kubeconfig)
    argv = [sys.executable, "-m", "canary.cli.main", "--kubeconfig", kubeconfig, "-n", NAMESPACE]
    watcher = subprocess.Popen([*argv, "get", "rollout", NAME, "--watch", "--interval", "1"], cwd=stack.ROOT)
    try:
        app.wait_for(
            "the release to end",
            lambda: (
                (s := app.status()).get("abort")
                or (s.get("phase") == "Healthy" and s.get("stableRS") != stable)
            ),
            timeout=240,
        )
        time.sleep(3)
    finally:
        watcher.terminate()
        watcher.wait()
    responses = load.since(mark)
    by_version = Counter((r.version or "proxy", r.status) for r in responses)
    elapsed = time.monotonic() - mark
    say(f"{len(responses)} requests in {elapsed:.0f}s through Traefik, by (version, status):")
    for (answered_by, status), count in sorted(by_version.items()):
        print(f"   {answered_by:>6} {status}: {count}")


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop what it started on a kill too
    work_dir = Path(tempfile.mkdtemp(prefix="canary-live-demo-"))
    try:
        say("starting the control plane, Traefik, the pod runner and Prometheus (network namespace)")
        with (
            stack.running(work_dir) as live,
            analysed(live, NAMESPACE, "sequential", live.prometheus.address, count=12) as app,
            app.load(RATE) as load,
        ):
            say(f"{NAME} v1 (1% errors) serving {RATE:.0f} requests/s through Traefik")
            time.sleep(5)
            say("release v2, as good as v1: the sequential judge finds no harm and it is promoted")
            watch_release(app, load, "v2", 0.01)
            say("release v3 with 5% errors: the sequential judge aborts it, traffic back on v2")
            watch_release(app, load, "v3", 0.05)
        say("stopped everything the demo started")
    finally:
        if os.environ.get("CANARY_LIVE_KEEP") == "1":
            print(f"work dir kept (every component's log): {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
