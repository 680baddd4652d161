"""canary and Argo Rollouts side by side: the same fleet on the same machine in the same run.

Run ``python benchmarks/vs_argo.py`` (``--sizes 200 1000 --pairs 1``). Needs the control plane of
the test tier (``tests/controlplane/build.sh``) and Argo Rollouts' controller built from its Go module
(``scripts/build-argo-rollouts.sh``); both are built if missing. Prints a table and writes
``vs_argo.json`` into ``--out DIR`` (default ``benchmarks/results``); with ``--keep-sizes`` the sizes of
the file already there that this run does not measure are kept, so each size can be its own run.
Each size records the machine's 1-minute load average at the start and end of its run.

For each size, each pair runs both controllers, each on a fresh control plane (the order alternates
from pair to pair), through ``fleet.py``: N Rollouts with replicas 3 and steps setWeight 34 / pause 5s /
setWeight 67 / pause 5s, no traffic router; created, then every image changed at once. Argo's Rollouts
are ours with its own apiVersion. The ratios are canary's figure over Argo's (below 1.0: canary
costs less), taken from the medians over the pairs. API requests count everything from the creation
to 5 s after all are Healthy again, so a write held back past the last Rollout's Healthy counts too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleet import ROOT, Contender, Workload, canary_contender, run_fleet
from localcluster import LocalControlPlane, free_port, role_binding
from out_dir import add_out_argument

WORKLOAD = Workload(
    replicas=3,
    steps=[
        {"setWeight": 34},
        {"pause": {"duration": "5s"}},
        {"setWeight": 67},
        {"pause": {"duration": "5s"}},
    ],
)
ARGO_NAMESPACE = "argo-rollouts"


def argo_build() -> Path:
    """The cached Argo Rollouts build (bin/ and manifests/), built if missing."""
    script = ROOT / "scripts" / "build-argo-rollouts.sh"
    out = subprocess.run(["bash", str(script)], check=True, capture_output=True, text=True).stdout
    return Path(out.strip().splitlines()[-1]).parent


def argo_contender(build_dir: Path) -> Contender:
    """Argo's controller with its own CRDs and ClusterRole, bound to its ServiceAccount, watching
    all namespaces (as its cluster install does), leader election off as for a single replica."""
    manifests = build_dir / "manifests"

    def install(cp: LocalControlPlane) -> None:
        binding = role_binding(
            "argo-rollouts", role="argo-rollouts", account="argo-rollouts", namespace=ARGO_NAMESPACE
        )
        cp.apply_manifests(
            [
                *sorted((manifests / "crds").glob("*-crd.yaml")),
                manifests / "role" / "argo-rollouts-clusterrole.yaml",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ARGO_NAMESPACE}},
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": "argo-rollouts", "namespace": ARGO_NAMESPACE},
                },
                binding,
            ]
        )

    def command(kubeconfig: Path) -> list[str]:
        return [
            str(build_dir / "bin" / "rollouts-controller"),
            "--kubeconfig",
            str(kubeconfig),
            "--leader-elect=false",
            "--metricsPort",
            str(free_port()),
            "--healthzPort",
            str(free_port()),
            "--loglevel",
            "warn",
        ]

    return Contender(
        "argo-rollouts",
        "argoproj.io",
        (ARGO_NAMESPACE, "argo-rollouts"),
        install,
        command,
        env={"POD_NAMESPACE": ARGO_NAMESPACE},
    )


FIGURES: dict[str, Callable[[dict[str, Any]], float]] = {
    "controller CPU seconds": lambda r: r["controller_cpu_seconds"]["total"],
    "peak RSS MiB": lambda r: r["controller_peak_rss_mib"],
    # Every request from the creation to `fleet.QUIET_SECONDS` after all are Healthy: a write a controller
    # holds back (canary paces progress-only status writes) still counts.
    "API requests per Rollout": lambda r: (
        r["api_requests_per_rollout"]["deploy"]["total"]
        + r["api_requests_per_rollout"]["release"]["total"]
        + r["api_requests_after_healthy"] / r["rollouts"]
    ),
    "Rollout Events recorded per Rollout": lambda r: r["rollout_events_per_rollout"],
    "image change to Healthy p50 s": lambda r: r["release_to_healthy_seconds"]["p50"],
    "image change to Healthy p99 s": lambda r: r["release_to_healthy_seconds"]["p99"],
    "image change to Healthy max s": lambda r: r["release_to_healthy_seconds"]["max"],
}


def compare(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Per figure: each controller's median over the pairs, and canary's over Argo's."""
    table = {}
    for label, figure in FIGURES.items():
        ours = statistics.median(figure(r) for r in runs["canary"])
        theirs = statistics.median(figure(r) for r in runs["argo-rollouts"])
        table[label] = {
            "canary": ours,
            "argo-rollouts": theirs,
            "ratio": round(ours / theirs, 2) if theirs else 0.0,
        }
    return table


def run_size(count: int, pairs: int, workers: int, timeout: float, argo: Contender) -> dict[str, Any]:
    started_load = round(os.getloadavg()[0], 2)  # the machine may be shared: the figures say how busy
    ours = canary_contender(workers, namespace=None)
    runs: dict[str, list[dict[str, Any]]] = {"canary": [], "argo-rollouts": []}
    node_pods = str(max(1000, 2 * count * WORKLOAD.replicas))
    for pair in range(pairs):
        order = [argo, ours] if pair % 2 == 0 else [ours, argo]
        for contender in order:
            print(f"  {count} Rollouts, pair {pair + 1}/{pairs}: {contender.name} ...", flush=True)
            runs[contender.name].append(
                run_fleet(contender, WORKLOAD, count, timeout=timeout, node_pods=node_pods)
            )
    return {
        "rollouts": count,
        "pairs": pairs,
        "runs": runs,
        "figures": compare(runs),
        "load_average_1m_at_start_and_end": [started_load, round(os.getloadavg()[0], 2)],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument(
        "--workers", type=int, default=10, help="canary's workers (Argo's default rollout threads: 10)"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per phase")
    parser.add_argument(
        "--keep-sizes",
        action="store_true",
        help="keep the other sizes of an existing vs_argo.json in DIR (sizes measured in separate runs)",
    )
    add_out_argument(parser, ["vs_argo.json"])
    args = parser.parse_args(argv)
    argo = argo_contender(argo_build())
    sizes = [run_size(n, args.pairs, args.workers, args.timeout, argo) for n in args.sizes]
    if args.keep_sizes:
        sizes = _kept_sizes(args.out / "vs_argo.json", {size["rollouts"] for size in sizes}) + sizes
        sizes.sort(key=lambda size: size["rollouts"])
    for size in sizes:
        print(f"\n{size['rollouts']} Rollouts (medians of {size['pairs']} pair(s))")
        print(f"{'':32}{'canary':>10}{'argo':>10}{'ratio':>8}")
        for label, row in size["figures"].items():
            print(f"{label:32}{row['canary']:>10.1f}{row['argo-rollouts']:>10.1f}{row['ratio']:>8.2f}")
    result = {
        "workload": {"replicas": WORKLOAD.replicas, "steps": WORKLOAD.describe()},
        "sizes": sizes,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "vs_argo.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def _kept_sizes(path: Path, measured: set[int]) -> list[dict[str, Any]]:
    """The sizes of an earlier result that this run did not measure (each with its own load average)."""
    if not path.exists():
        return []
    earlier = json.loads(path.read_text(encoding="utf-8"))
    return [size for size in earlier["sizes"] if size["rollouts"] not in measured]


if __name__ == "__main__":
    main()
