"""Control-plane scale benchmark: N Rollouts (default 200) stepping at once on a real apiserver.

Run ``python benchmarks/controlplane_scale.py`` (``--rollouts N``); needs the binaries of
``tests/controlplane/build.sh`` (built if missing). Prints a table and writes
``controlplane_scale.json`` into ``--out DIR`` (default ``benchmarks/results``).

What runs: the local control plane of the test tier (etcd, kube-apiserver, controller-manager,
scheduler, kwok with 3 fake nodes) and ``canary controller`` as a subprocess with the ServiceAccount
and cluster-wide RBAC of ``manifests/cluster-wide/``. N Rollouts (2 replicas, ``setWeight 50 -> pause 2s``, no
traffic router, so weights are carried by kwok pods that really get scheduled and become Ready) are
created, then all released to a new image at the same instant.

What is measured: see ``fleet.py`` (times to all Healthy, API requests from the apiserver's audit
log, controller CPU seconds and peak memory).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from typing import Any

from fleet import Workload, canary_contender, run_fleet
from out_dir import add_out_argument

WORKLOAD = Workload(replicas=2, steps=[{"setWeight": 50}, {"pause": {"duration": "2s"}}])


def run(count: int, workers: int, timeout: float) -> dict[str, Any]:
    result = run_fleet(canary_contender(workers), WORKLOAD, count, timeout=timeout)
    return result | {
        "controller_workers": workers,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=200)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per phase")
    add_out_argument(parser, ["controlplane_scale.json"])
    args = parser.parse_args(argv)
    result = run(args.rollouts, args.workers, args.timeout)
    requests = result["api_requests_per_rollout"]
    rows = [
        ("rollouts", result["rollouts"]),
        ("first deploy, all Healthy (s)", result["deploy_seconds"]),
        ("release, all promoted (s)", result["release_seconds"]),
        ("API requests / rollout, deploy", requests["deploy"]["total"]),
        ("API requests / rollout, release", requests["release"]["total"]),
        ("controller CPU (s), total", result["controller_cpu_seconds"]["total"]),
        ("controller peak RSS (MiB)", result["controller_peak_rss_mib"]),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(f"requests by verb: deploy {requests['deploy']}, release {requests['release']}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "controlplane_scale.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
