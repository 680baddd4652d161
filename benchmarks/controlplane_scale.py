"""Control-plane scale benchmark: N Rollouts (default 200) stepping at once on a real apiserver.

Run ``python benchmarks/controlplane_scale.py`` (``--rollouts N``); needs the binaries of
``tests/controlplane/build.sh`` (built if missing). Prints a table and writes
``controlplane_scale.json`` into ``--out DIR`` (default ``benchmarks/results``).

What runs: the local control plane of the test tier (etcd, kube-apiserver, controller-manager,
scheduler, kwok with 3 fake nodes) and ``canary controller`` as a subprocess with the ServiceAccount
and cluster-wide RBAC of ``manifests/cluster-wide/``. N Rollouts (2 replicas, ``setWeight 50 -> pause 2s``, no
traffic router, so weights are carried by kwok pods that really get scheduled and become Ready) are
created, then all released to a new image at the same instant.

What is measured:
- time until every Rollout is Healthy after creation (first deploy) and after the release;
- API requests per Rollout made by the controller, counted exactly from the apiserver's audit log
  (a policy that records only the controller's ServiceAccount), by verb, for each phase;
- controller CPU seconds (user + system, from /proc) and peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "controlplane"))

from kubernetes import client  # noqa: E402
from localcluster import LocalControlPlane, build, free_port  # noqa: E402
from out_dir import add_out_argument  # noqa: E402

NAMESPACE = "bench"
CONTROLLER_USER = "system:serviceaccount:canary-system:canary-controller"
GROUP, VERSION = "canary.dev", "v1alpha1"
AUDIT_POLICY = f"""apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  - level: Metadata
    users: ["{CONTROLLER_USER}"]
  - level: None
"""


def rollout(name: str, image: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "2s"}}]}},
        },
    }


class Audit:
    """The controller's requests as the apiserver recorded them (one audit event per request)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def verbs(self) -> collections.Counter[str]:
        counts: collections.Counter[str] = collections.Counter()
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                event = json.loads(line)
                if event.get("user", {}).get("username") == CONTROLLER_USER:
                    counts[event["verb"]] += 1
        return counts


def proc_usage(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak RSS bytes) of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    status = Path(f"/proc/{pid}/status").read_text()
    hwm = next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:"))
    return cpu, hwm


def wait_all_healthy(api: Any, names: set[str], new_stable: dict[str, str] | None, timeout: float) -> float:
    """Seconds until every Rollout is Healthy (and, with `new_stable`, its stable hash changed)."""
    custom = client.CustomObjectsApi(api)
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        items = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "rollouts")["items"]
        done = {
            r["metadata"]["name"]
            for r in items
            if (r.get("status") or {}).get("phase") == "Healthy"
            and (
                new_stable is None
                or r["status"].get("stableRS") not in (None, new_stable[r["metadata"]["name"]])
            )
        }
        if names <= done:
            return time.monotonic() - start
        time.sleep(0.5)
    raise TimeoutError(f"{len(names)} Rollouts not all Healthy within {timeout:.0f}s")


def stable_hashes(api: Any) -> dict[str, str]:
    items = client.CustomObjectsApi(api).list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "rollouts")[
        "items"
    ]
    return {r["metadata"]["name"]: r["status"]["stableRS"] for r in items}


def run(count: int, workers: int, timeout: float) -> dict[str, Any]:
    bin_dir = build()
    policy = Path(os.environ.get("TMPDIR", "/tmp")) / f"canary-bench-audit-{os.getpid()}.yaml"
    policy.write_text(AUDIT_POLICY)
    audit_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"canary-bench-audit-{os.getpid()}.log"
    args = [f"--audit-policy-file={policy}", f"--audit-log-path={audit_path}", "--audit-log-format=json"]
    with LocalControlPlane(bin_dir, nodes=3, node_pods="1000", extra_apiserver_args=args) as cp:
        cp.apply_manifests(
            [
                ROOT / "manifests/crds",
                ROOT / "manifests/base/namespace.yaml",
                ROOT / "manifests/base/rbac.yaml",
                ROOT / "manifests/cluster-wide/rbac.yaml",
            ]
        )
        cp.create_namespace(NAMESPACE)
        kubeconfig = cp.kubeconfig_for_service_account("canary-system", "canary-controller", create=False)
        api = cp.api_client()
        audit = Audit(audit_path)
        log = (cp.log_dir / "canary-controller.log").open("wb")
        argv = [sys.executable, "-m", "canary.cli.main", "controller", "--kubeconfig", str(kubeconfig)]
        argv += [
            "-n",
            NAMESPACE,
            "--workers",
            str(workers),
            "--metrics-port",
            str(free_port()),
            "--log-level",
            "warning",
        ]
        controller = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            time.sleep(3)  # informers list and watch before the fleet arrives
            idle = audit.verbs()
            custom = client.CustomObjectsApi(api)
            names = {f"app-{i:04d}" for i in range(count)}
            started = time.monotonic()
            for name in sorted(names):
                custom.create_namespaced_custom_object(
                    GROUP, VERSION, NAMESPACE, "rollouts", rollout(name, "example/app:1")
                )
            created_in = time.monotonic() - started
            deploy_seconds = wait_all_healthy(api, names, None, timeout) + created_in
            deployed = audit.verbs()
            cpu_deployed, _ = proc_usage(controller.pid)
            stable = stable_hashes(api)

            started = time.monotonic()
            patch = {
                "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "example/app:2"}]}}}
            }
            for name in sorted(names):
                custom.patch_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "rollouts", name, patch)
            released_in = time.monotonic() - started
            release_seconds = wait_all_healthy(api, names, stable, timeout) + released_in
            released = audit.verbs()
            cpu_total, peak_rss = proc_usage(controller.pid)
        finally:
            controller.terminate()
            controller.wait(timeout=30)
            log.close()
            api.close()
    policy.unlink(missing_ok=True)
    audit_path.unlink(missing_ok=True)

    def per_rollout(after: collections.Counter[str], before: collections.Counter[str]) -> dict[str, float]:
        delta = after - before
        return {verb: round(n / count, 2) for verb, n in sorted(delta.items())} | {
            "total": round(sum(delta.values()) / count, 2)
        }

    return {
        "rollouts": count,
        "replicas_per_rollout": 2,
        "steps": "setWeight 50 -> pause 2s",
        "controller_workers": workers,
        "deploy_seconds": round(deploy_seconds, 1),
        "release_seconds": round(release_seconds, 1),
        "api_requests_per_rollout": {
            "deploy": per_rollout(deployed, idle),
            "release": per_rollout(released, deployed),
        },
        "controller_cpu_seconds": {"deploy": round(cpu_deployed, 1), "total": round(cpu_total, 1)},
        "controller_peak_rss_mib": round(peak_rss / 2**20, 1),
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
