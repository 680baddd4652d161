"""What the canary tests on the real control plane share: the controller as a real subprocess, a
loopback HTTP endpoint for `web` analysis metrics, and polling that explains itself on timeout.

    proc = ControllerProcess(kubeconfig, namespace="team-a", log_dir=tmp)
    proc.start()
    eventually("rollout Healthy", lambda: phase_is(api, "team-a", "web", "Healthy"),
               timeout=60, explain=lambda: diagnose(api, "team-a", "web", proc))
    proc.kill()          # SIGKILL, no clean shutdown
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import ProtocolError

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
GROUP, VERSION = "canary.dev", "v1alpha1"
HASH_LABEL = "rollouts-pod-template-hash"
CONTROLLER_NAMESPACE = "canary-system"
CONTROLLER_ACCOUNT = "canary-controller"
CONTROLLER_MANAGER = "canary-controller"  # the field manager of every controller write

T = TypeVar("T")


# --------------------------------------------------------------------------------------------------
# the controller process


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ControllerProcess:
    """`canary controller` in its own process group, logging JSON lines to a file."""

    def __init__(
        self,
        kubeconfig: Path,
        *,
        log_dir: Path,
        namespace: str | None = None,
        name: str = "controller",
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.name = name
        self.extra_args = list(extra_args)
        self.env = env or {}
        self.log_path = log_dir / f"{name}.log"
        self.metrics_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "canary.cli.main", "controller", "--kubeconfig", str(self.kubeconfig)]
        if self.namespace:
            argv += ["-n", self.namespace]
        return [*argv, "--metrics-port", str(self.metrics_port), "--workers", "4", *self.extra_args]

    def start(self) -> None:
        assert not self.running(), f"{self.name} is already running"
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"# start {self.starts}: {' '.join(self.argv())}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.env},
                cwd=ROOT,
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until /readyz answers 200 (informers synced, or standing by as a follower)."""

        def ready() -> bool:
            if not self.running():
                raise AssertionError(f"{self.name} exited at start-up:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=2) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        eventually(f"{self.name} /readyz", ready, timeout=timeout, explain=self.tail)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no lease release, no draining, requests cut mid-flight."""
        self._signal(signal.SIGKILL)
        self._reap()

    def stop(self, grace: float = 10.0) -> None:
        self._signal(signal.SIGTERM)
        try:
            self._reap(grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def _signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def _reap(self, timeout: float = 10.0) -> None:
        if self.process is not None:
            self.process.wait(timeout=timeout)

    def log_lines(self) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def log_events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log_lines():
            with contextlib.suppress(ValueError):
                parsed = json.loads(line)
                if isinstance(parsed, dict):
                    events.append(parsed)
        return events

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_lines()[-lines:])

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def __enter__(self) -> ControllerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------------
# the analysis endpoint


# --------------------------------------------------------------------------------------------------
# reading the cluster


def custom(api: Any) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def get_rollout(api: Any, namespace: str, name: str) -> dict[str, Any]:
    return dict(custom(api).get_namespaced_custom_object(GROUP, VERSION, namespace, "rollouts", name))


def status_of(api: Any, namespace: str, name: str) -> dict[str, Any]:
    return dict(get_rollout(api, namespace, name).get("status") or {})


def replica_sets(api: Any, namespace: str, rollout: str) -> list[Any]:
    items = client.AppsV1Api(api).list_namespaced_replica_set(namespace).items
    return [
        rs
        for rs in items
        if any(o.kind == "Rollout" and o.name == rollout for o in rs.metadata.owner_references or [])
    ]


def analysis_runs(api: Any, namespace: str, rollout: str | None = None) -> list[dict[str, Any]]:
    runs = custom(api).list_namespaced_custom_object(GROUP, VERSION, namespace, "analysisruns")["items"]
    return [
        r
        for r in runs
        if rollout is None
        or any(
            o["kind"] == "Rollout" and o["name"] == rollout for o in r["metadata"].get("ownerReferences", [])
        )
    ]


def rollout_events(api: Any, namespace: str, rollout: str) -> list[Any]:
    events = client.CoreV1Api(api).list_namespaced_event(namespace).items
    return [e for e in events if e.involved_object.kind == "Rollout" and e.involved_object.name == rollout]


def service_selector(api: Any, namespace: str, name: str) -> dict[str, str]:
    return dict(client.CoreV1Api(api).read_namespaced_service(name, namespace).spec.selector or {})


def route_weights(api: Any, namespace: str, name: str) -> dict[str, int]:
    route = custom(api).get_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", namespace, "httproutes", name
    )
    return {ref["name"]: ref.get("weight", 1) for ref in route["spec"]["rules"][0]["backendRefs"]}


class WeightRecorder:
    """Every canary weight a router's object is given, in order, seen through a real watch of the
    objects `group/version/plural` in `namespace`; `canary_weight` reads it from one object."""

    def __init__(
        self,
        api: Any,
        namespace: str,
        resource: tuple[str, str, str],
        canary_weight: Callable[[dict[str, Any]], int],
    ) -> None:
        self.canary_weights: list[int] = []
        self._api, self._namespace, self._resource, self._weight = api, namespace, resource, canary_weight
        self._watch = watch.Watch()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with contextlib.suppress(ProtocolError):  # the stream is cut when the test stops watching
            self._record()

    def _record(self) -> None:
        stream = self._watch.stream(
            custom(self._api).list_namespaced_custom_object,
            *self._resource[:2],
            self._namespace,
            self._resource[2],
            timeout_seconds=300,
        )
        for event in stream:
            weight = self._weight(event["object"])
            if not self.canary_weights or self.canary_weights[-1] != weight:
                self.canary_weights.append(weight)

    def __enter__(self) -> WeightRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._watch.stop()


def ready_pods(api: Any, namespace: str, pod_hash: str) -> list[Any]:
    pods = (
        client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=f"{HASH_LABEL}={pod_hash}").items
    )
    return [
        p
        for p in pods
        if p.metadata.deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
    ]


def diagnose(api: Any, namespace: str, names: Iterable[str], *controllers: ControllerProcess) -> str:
    """The rollouts' status, ReplicaSets, AnalysisRuns, events and the controllers' log tails."""
    parts = []
    for name in names:
        try:
            status = status_of(api, namespace, name)
        except ApiException as error:
            parts.append(f"--- Rollout {namespace}/{name}: {error.status} {error.reason}")
            continue
        parts.append(f"--- Rollout {namespace}/{name} status:\n{yaml.safe_dump(status, sort_keys=False)}")
        for rs in replica_sets(api, namespace, name):
            parts.append(
                f"  ReplicaSet {rs.metadata.name}: spec {rs.spec.replicas} ready {rs.status.ready_replicas}"
            )
        for run in analysis_runs(api, namespace, name):
            parts.append(f"  AnalysisRun {run['metadata']['name']}: {(run.get('status') or {}).get('phase')}")
        for event in rollout_events(api, namespace, name)[-15:]:
            parts.append(f"  event {event.reason}: {event.message}")
    for proc in controllers:
        state = "running" if proc.running() else f"exited {proc.process.returncode if proc.process else '-'}"
        parts.append(f"--- {proc.name} ({state}) log tail:\n{proc.tail(25)}")
    return "\n".join(parts)


def eventually(
    what: str,
    probe: Callable[[], T | None],
    *,
    timeout: float,
    explain: Callable[[], str] = lambda: "",
    interval: float = 0.25,
) -> T:
    """Poll `probe` until it returns a truthy value; on timeout fail with `explain()`'s diagnosis."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = probe()
            if result:
                return result
        except (ApiException, OSError, KeyError) as error:
            last_error = error
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error!r})\n{explain()}"
            )
        time.sleep(interval)


# --------------------------------------------------------------------------------------------------
# the objects the tests create


def load(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [dict(d) for d in yaml.safe_load_all(f) if d]


def example_rollout(
    name: str,
    *,
    replicas: int = 2,
    steps: list[dict[str, Any]] | None = None,
    analysis_url: str | None = None,
) -> dict[str, Any]:
    """examples/gateway-api-background-analysis.yaml made quick: its pauses cut to 1 s, its Prometheus
    templates swapped for `web-health` against `analysis_url` (no background analysis without one)."""
    (rollout,) = load(ROOT / "examples" / "gateway-api-background-analysis.yaml")
    rollout["metadata"] = {"name": name}
    rollout["spec"]["replicas"] = replicas
    labels = {"app": name}
    rollout["spec"]["selector"] = {"matchLabels": labels}
    rollout["spec"]["template"]["metadata"]["labels"] = labels
    canary = rollout["spec"]["strategy"]["canary"]
    canary["canaryService"], canary["stableService"] = f"{name}-canary", f"{name}-stable"
    canary["trafficRouting"] = {"gatewayAPI": {"httpRoute": name}}
    canary["scaleDownDelaySeconds"] = 1
    canary["abortScaleDownDelaySeconds"] = 1
    canary["steps"] = steps or [
        {"pause": {"duration": "1s"}} if "pause" in step else step for step in canary["steps"]
    ]
    if analysis_url is None:
        del canary["analysis"]
    else:
        canary["analysis"]["templates"] = [{"templateName": "web-health"}]
        canary["analysis"]["args"] = [{"name": "url", "value": analysis_url}]
    return rollout


def routing_for(name: str) -> list[dict[str, Any]]:
    """data/search-routing.yaml (two Services and an HTTPRoute) renamed for rollout `name`."""
    text = (DATA / "search-routing.yaml").read_text().replace("search", name)
    return [dict(d) for d in yaml.safe_load_all(text) if d]


def image_of(rollout: dict[str, Any]) -> str:
    return str(rollout["spec"]["template"]["spec"]["containers"][0]["image"])


def with_image(rollout: dict[str, Any], image: str) -> dict[str, Any]:
    changed = json.loads(json.dumps(rollout))
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return changed


def deploy_stable(api: Any, namespace: str, rollout: dict[str, Any], *procs: ControllerProcess) -> str:
    """Create the Rollout; its first revision goes straight to stable. Returns the stable hash."""
    name = rollout["metadata"]["name"]
    custom(api).create_namespaced_custom_object(GROUP, VERSION, namespace, "rollouts", rollout)
    status = eventually(
        f"the first revision of {name} to become Healthy",
        lambda: (s := status_of(api, namespace, name)).get("phase") == "Healthy" and s,
        timeout=60,
        explain=lambda: diagnose(api, namespace, [name], *procs),
    )
    return str(status["stableRS"])


def release(api: Any, namespace: str, name: str, image: str) -> None:
    """A new revision: the first container's image changed (a merge patch, as `kubectl set image`)."""
    rollout = get_rollout(api, namespace, name)
    container = rollout["spec"]["template"]["spec"]["containers"][0]["name"]
    patch = {"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}}
    custom(api).patch_namespaced_custom_object(GROUP, VERSION, namespace, "rollouts", name, patch)


@contextlib.contextmanager
def running(*procs: ControllerProcess) -> Iterator[tuple[ControllerProcess, ...]]:
    try:
        for proc in procs:
            proc.start()
        yield procs
    finally:
        for proc in procs:
            proc.stop()
