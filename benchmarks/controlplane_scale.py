"""Control-plane scale benchmark: N Rollouts stepping at once on a real apiserver, for each size asked.

Run ``python benchmarks/controlplane_scale.py`` (``--rollouts 200 2000``); needs the binaries of
``tests/controlplane/build.sh`` (built if missing). Prints a table and writes
``controlplane_scale.json`` into ``--out DIR`` (default ``benchmarks/results``). The file keeps one
entry per fleet size: a run replaces the entries of the sizes it ran and keeps the others, so sizes
measured in separate runs (each entry records the machine's load during it) sit side by side.

What runs, for each size on a fresh control plane: the local control plane of the test tier (etcd,
kube-apiserver, controller-manager, scheduler, kwok with 3 fake nodes, each with room for twice the
fleet's pods) and ``canary controller`` as a subprocess with the ServiceAccount and cluster-wide RBAC
of ``manifests/cluster-wide/``. N Rollouts (2 replicas, ``setWeight 50 -> pause 2s``, no traffic
router, so weights are carried by kwok pods that really get scheduled and become Ready) are created,
then all released to a new image at the same instant.

What is measured: see ``fleet.py`` (times to all Healthy and each Rollout's time from its image change
to Healthy, API requests from the apiserver's audit log, controller CPU seconds and peak memory).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import Any

from fleet import Workload, canary_contender, run_fleet
from out_dir import add_out_argument

WORKLOAD = Workload(replicas=2, steps=[{"setWeight": 50}, {"pause": {"duration": "2s"}}])
RESULT_NAME = "controlplane_scale.json"


def run(count: int, workers: int, timeout: float) -> dict[str, Any]:
    """One fleet size on a fresh control plane, with the machine's 1-minute load before and after."""
    load_before = round(os.getloadavg()[0], 2)
    node_pods = str(max(1000, 2 * count * WORKLOAD.replicas))
    result = run_fleet(canary_contender(workers), WORKLOAD, count, timeout=timeout, node_pods=node_pods)
    load = [load_before, round(os.getloadavg()[0], 2)]
    kept = {k: v for k, v in result.items() if k not in ("controller", "replicas_per_rollout", "steps")}
    return kept | {"load_average_1m_at_start_and_end": load}


def merged(previous: dict[str, Any] | None, sizes: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    """The results file after this run: its sizes replace those of `previous` measured at the same
    fleet size; a previous file of another workload or worker count is not mixed in."""
    workload = {"replicas": WORKLOAD.replicas, "steps": WORKLOAD.describe()}
    kept: list[dict[str, Any]] = []
    if previous and previous.get("workload") == workload and previous.get("controller_workers") == workers:
        ran = {s["rollouts"] for s in sizes}
        kept = [s for s in previous.get("sizes", []) if s["rollouts"] not in ran]
    return {
        "workload": workload,
        "controller_workers": workers,
        "sizes": sorted(kept + sizes, key=lambda s: int(s["rollouts"])),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def print_table(sizes: list[dict[str, Any]]) -> None:
    rows: list[tuple[str, Any]] = [("rollouts", [s["rollouts"] for s in sizes])]
    figures = {
        "first deploy, all Healthy (s)": lambda s: s["deploy_seconds"],
        "release, all Healthy (s)": lambda s: s["release_seconds"],
        "image change to Healthy p50 (s)": lambda s: s["release_to_healthy_seconds"]["p50"],
        "image change to Healthy p99 (s)": lambda s: s["release_to_healthy_seconds"]["p99"],
        "image change to Healthy max (s)": lambda s: s["release_to_healthy_seconds"]["max"],
        "API requests / rollout, deploy": lambda s: s["api_requests_per_rollout"]["deploy"]["total"],
        "API requests / rollout, release": lambda s: s["api_requests_per_rollout"]["release"]["total"],
        "controller CPU (s), total": lambda s: s["controller_cpu_seconds"]["total"],
        "controller peak RSS (MiB)": lambda s: s["controller_peak_rss_mib"],
        "load average 1m, start/end": lambda s: s["load_average_1m_at_start_and_end"],
    }
    rows += [(label, [figure(s) for s in sizes]) for label, figure in figures.items()]
    width = max(len(label) for label, _ in rows)
    for label, values in rows:
        print(f"{label:<{width}}  " + "  ".join(f"{v!s:>14}" for v in values))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, nargs="+", default=[200, 2000], help="fleet sizes")
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="seconds per phase (2,000 Rollouts on a loaded 2-core machine took 3,000)",
    )
    add_out_argument(parser, [RESULT_NAME])
    args = parser.parse_args(argv)
    sizes = [run(count, args.workers, args.timeout) for count in args.rollouts]
    print_table(sizes)
    path: Path = args.out / RESULT_NAME
    previous = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged(previous, sizes, args.workers), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
