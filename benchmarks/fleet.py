"""A fleet of Rollouts driven by one controller on a fresh real control plane, measured from outside.

Shared by ``controlplane_scale.py`` (canary alone) and ``vs_argo.py`` (canary and Argo Rollouts on the
same workload). A :class:`Contender` says how to install and start a controller; :func:`run_fleet`
starts the local control plane of the test tier (with an audit log that records only the
controller's ServiceAccount), creates the Rollouts, waits for all to be Healthy, changes every
image at once, waits again, and returns what it measured:

- seconds until all are Healthy after creation and after the release, and each Rollout's own time
  from its image change to Healthy on the new revision (p50, p99, max);
- the controller's API requests, counted exactly from the apiserver's audit log, by verb, for the
  deploy, the release, and the quiet seconds after everything is Healthy;
- the Events recorded about the Rollouts (a controller may drop some: client-go's event broadcaster
  discards Events when its queue is full), per Rollout;
- the controller's CPU seconds (user + system, from /proc) and peak resident memory (VmHWM).
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "controlplane"))

from kubernetes import client  # noqa: E402
from localcluster import LocalControlPlane, build, free_port  # noqa: E402

NAMESPACE = "bench"
QUIET_SECONDS = 5.0


@dataclass(frozen=True)
class Workload:
    """What every Rollout of the fleet looks like (no traffic router: pods carry the weights)."""

    replicas: int
    steps: list[dict[str, Any]]

    def describe(self) -> str:
        def one(step: dict[str, Any]) -> str:
            if "setWeight" in step:
                return f"setWeight {step['setWeight']}"
            return f"pause {step['pause'].get('duration', '')}"

        return " -> ".join(one(s) for s in self.steps)


@dataclass(frozen=True)
class Contender:
    """A controller under test: its Rollout API group, the ServiceAccount it runs as, how to
    install its CRDs and RBAC, and its command line given a kubeconfig."""

    name: str
    group: str
    service_account: tuple[str, str]  # (namespace, name)
    install: Callable[[LocalControlPlane], None]
    command: Callable[[Path], list[str]]
    cwd: Path = ROOT
    env: dict[str, str] = field(default_factory=dict)

    @property
    def user(self) -> str:
        namespace, name = self.service_account
        return f"system:serviceaccount:{namespace}:{name}"

    def rollout(self, name: str, image: str, workload: Workload) -> dict[str, Any]:
        labels = {"app": name}
        return {
            "apiVersion": f"{self.group}/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": name},
            "spec": {
                "replicas": workload.replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": image}]},
                },
                "strategy": {"canary": {"steps": workload.steps}},
            },
        }


class Audit:
    """The controller's requests as the apiserver recorded them (one audit event per request)."""

    def __init__(self, path: Path, user: str) -> None:
        self.path = path
        self.user = user

    @staticmethod
    def policy(user: str) -> str:
        return (
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted]\n"
            f'rules:\n  - level: Metadata\n    users: ["{user}"]\n  - level: None\n'
        )

    def verbs(self) -> collections.Counter[str]:
        counts: collections.Counter[str] = collections.Counter()
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                event = json.loads(line)
                if event.get("user", {}).get("username") == self.user:
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


class Fleet:
    """The Rollouts of one run, read through the admin client."""

    def __init__(self, api: Any, contender: Contender, names: list[str]) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.contender = contender
        self.names = names

    def _items(self) -> list[dict[str, Any]]:
        listed = self.custom.list_namespaced_custom_object(
            self.contender.group, "v1alpha1", NAMESPACE, "rollouts"
        )
        return list(cast(dict[str, Any], listed)["items"])

    def create(self, image: str, workload: Workload) -> None:
        for name in self.names:
            body = self.contender.rollout(name, image, workload)
            self.custom.create_namespaced_custom_object(
                self.contender.group, "v1alpha1", NAMESPACE, "rollouts", body
            )

    def release(self, image: str) -> dict[str, float]:
        """Change every image; returns when each Rollout was patched (monotonic seconds)."""
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
        patched = {}
        for name in self.names:
            self.custom.patch_namespaced_custom_object(
                self.contender.group, "v1alpha1", NAMESPACE, "rollouts", name, patch
            )
            patched[name] = time.monotonic()
        return patched

    def rollout_events(self) -> int:
        """Events recorded about the Rollouts (a repeat aggregated into one Event counts each time)."""
        listed = client.CoreV1Api(self.custom.api_client).list_namespaced_event(NAMESPACE)
        return sum(e.count or 1 for e in listed.items if e.involved_object.kind == "Rollout")

    def stable_hashes(self) -> dict[str, str]:
        return {r["metadata"]["name"]: r["status"]["stableRS"] for r in self._items()}

    def wait_healthy(self, old_stable: dict[str, str] | None, timeout: float) -> dict[str, float]:
        """Monotonic time at which each Rollout was first seen Healthy (on a new stable revision
        when `old_stable` is given), polled once a second."""
        seen: dict[str, float] = {}
        deadline = time.monotonic() + timeout
        while len(seen) < len(self.names):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(self.names) - len(seen)} Rollouts not Healthy within {timeout:.0f}s"
                )
            now = time.monotonic()
            for r in self._items():
                name, status = r["metadata"]["name"], r.get("status") or {}
                healthy = status.get("phase") == "Healthy" and (
                    old_stable is None or status.get("stableRS") not in (None, old_stable.get(name))
                )
                if healthy and name not in seen:
                    seen[name] = now
            time.sleep(1.0)
        return seen


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _per_rollout(
    after: collections.Counter[str], before: collections.Counter[str], count: int
) -> dict[str, float]:
    delta = after - before
    return {verb: round(n / count, 2) for verb, n in sorted(delta.items())} | {
        "total": round(sum(delta.values()) / count, 2)
    }


def run_fleet(
    contender: Contender, workload: Workload, count: int, *, timeout: float, node_pods: str = "1000"
) -> dict[str, Any]:
    bin_dir = build()
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    policy = tmp / f"canary-bench-audit-{os.getpid()}.yaml"
    policy.write_text(Audit.policy(contender.user))
    audit_path = tmp / f"canary-bench-audit-{os.getpid()}.log"
    args = [f"--audit-policy-file={policy}", f"--audit-log-path={audit_path}", "--audit-log-format=json"]
    audit = Audit(audit_path, contender.user)
    try:
        with LocalControlPlane(bin_dir, nodes=3, node_pods=node_pods, extra_apiserver_args=args) as cp:
            contender.install(cp)
            cp.create_namespace(NAMESPACE)
            kubeconfig = cp.kubeconfig_for_service_account(*contender.service_account, create=False)
            api = cp.api_client()
            with (cp.log_dir / f"{contender.name}.log").open("wb") as log:
                env = os.environ | contender.env
                controller = subprocess.Popen(
                    contender.command(kubeconfig),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=contender.cwd,
                    env=env,
                )
                try:
                    time.sleep(3)  # informers list and watch before the fleet arrives
                    measured = _drive(
                        Fleet(api, contender, [f"app-{i:04d}" for i in range(count)]),
                        audit,
                        controller,
                        workload,
                        timeout,
                    )
                finally:
                    controller.terminate()
                    controller.wait(timeout=30)
                    api.close()
    finally:
        policy.unlink(missing_ok=True)
        audit_path.unlink(missing_ok=True)
    return {
        "controller": contender.name,
        "rollouts": count,
        "replicas_per_rollout": workload.replicas,
        "steps": workload.describe(),
    } | measured


def _drive(
    fleet: Fleet, audit: Audit, controller: subprocess.Popen[bytes], workload: Workload, timeout: float
) -> dict[str, Any]:
    count = len(fleet.names)
    idle = audit.verbs()
    started = time.monotonic()
    fleet.create("example/app:1", workload)
    deploy_seconds = max(fleet.wait_healthy(None, timeout).values()) - started
    deployed = audit.verbs()
    cpu_deployed, _ = proc_usage(controller.pid)
    old_stable = fleet.stable_hashes()

    started = time.monotonic()
    patched = fleet.release("example/app:2")
    healthy = fleet.wait_healthy(old_stable, timeout)
    release_seconds = max(healthy.values()) - started
    released = audit.verbs()
    cpu_released, _ = proc_usage(controller.pid)
    time.sleep(QUIET_SECONDS)
    quiet = audit.verbs()
    cpu_total, peak_rss = proc_usage(controller.pid)
    to_healthy = [healthy[name] - patched[name] for name in fleet.names]
    return {
        "deploy_seconds": round(deploy_seconds, 1),
        "release_seconds": round(release_seconds, 1),
        "release_to_healthy_seconds": {
            "p50": round(percentile(to_healthy, 0.5), 1),
            "p99": round(percentile(to_healthy, 0.99), 1),
            "max": round(max(to_healthy), 1),
        },
        "api_requests_per_rollout": {
            "deploy": _per_rollout(deployed, idle, count),
            "release": _per_rollout(released, deployed, count),
        },
        "api_requests_after_healthy": sum((quiet - released).values()),
        "rollout_events_per_rollout": round(fleet.rollout_events() / count, 2),
        "controller_cpu_seconds": {
            "deploy": round(cpu_deployed, 1),
            "release": round(cpu_released - cpu_deployed, 1),
            "total": round(cpu_total, 1),
        },
        "controller_peak_rss_mib": round(peak_rss / 2**20, 1),
    }


def canary_contender(workers: int, namespace: str | None = NAMESPACE) -> Contender:
    """Our controller as its cluster-wide manifests install it (`namespace` None: all namespaces)."""

    def install(cp: LocalControlPlane) -> None:
        cp.apply_manifests(
            [
                ROOT / "manifests/crds",
                ROOT / "manifests/base/namespace.yaml",
                ROOT / "manifests/base/rbac.yaml",
                ROOT / "manifests/cluster-wide/rbac.yaml",
            ]
        )

    def command(kubeconfig: Path) -> list[str]:
        scope = ["-n", namespace] if namespace else []
        flags = ["--workers", str(workers), "--metrics-port", str(free_port()), "--log-level", "warning"]
        return [
            sys.executable,
            "-m",
            "canary.cli.main",
            "controller",
            "--kubeconfig",
            str(kubeconfig),
            *scope,
            *flags,
        ]

    return Contender("canary", "canary.dev", ("canary-system", "canary-controller"), install, command)
