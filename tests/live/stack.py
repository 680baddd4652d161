"""The live data plane: a real control plane, Traefik, the pod runner and Prometheus, all on loopback
inside a network namespace (see netns.py), plus our controller.

    with running(work_dir) as stack:                    # must run inside the namespace
        ns = stack.app_namespace("shop")                 # a namespace with the canary-controller's RBAC
        stack.apply(ns, routing)                         # Services, HTTPRoute / TraefikService
        controller = stack.controller(ns); controller.start()
        ... requests to stack.entrypoint with Host: <the route's hostname> ...

Traefik watches the cluster with both its Gateway API and its CRD provider, through a ServiceAccount
token (cluster-admin) and the cluster CA; the Gateway ``live`` (namespace ``traefik``) listens on the
``web`` entrypoint and admits HTTPRoutes from every namespace. Prometheus scrapes Traefik's metrics
every second. A Prometheus given ``pod_discovery()`` also scrapes every served pod's own counters (the
pod runner's ``/metrics``) every 5 s, finding the pods through Kubernetes service discovery against the
apiserver (role pod, a ServiceAccount token, the cluster CA); Debian's `prometheus` has no Kubernetes
discovery, so that one is the build of scripts/build-prometheus.sh (prometheus_with_kubernetes_sd).
Every process is a localcluster.Component: its own process group, killed with us.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "controlplane")]

import canarytier  # noqa: E402
from localcluster import Binaries, Component, LocalControlPlane, role_binding, wait_for  # noqa: E402
from podrunner import READY_LINE, SERVING_ANNOTATION  # noqa: E402

ROOT = HERE.parents[1]
TRAEFIK_BUILD = ROOT / "scripts" / "build-traefik.sh"
PROMETHEUS_BUILD = ROOT / "scripts" / "build-prometheus.sh"
ENTRYPOINT_PORT = 8000
TRAEFIK_API_PORT = 9000
PROMETHEUS_PORT = 9090
POD_CIDR = "10.244.0.0/16"
GATEWAY_NAMESPACE = "traefik"
GATEWAY_NAME = "live"
SCRAPE_INTERVAL = "1s"
POD_SCRAPE_INTERVAL = "5s"  # the pods' own counters: every served pod of every app, so less often
# Traefik's request-duration buckets: its defaults (0.1, 0.3, 1.2, 5 s) plus finer bounds around the
# live apps' tens of milliseconds (apps.slow_env), so the latency template has a bound near stable's p99.
LATENCY_BUCKETS = "0.025,0.05,0.075,0.1,0.3,1.2,5"


def traefik_bin_dir() -> Path:
    out = subprocess.run(
        ["bash", str(TRAEFIK_BUILD), "--print-bin-dir"], check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def _get(url: str, timeout: float = 2.0) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as error:  # e.g. 503 while starting: its response must be closed
        error.close()
        raise OSError(f"GET {url}: {error.code}") from None


@dataclass(frozen=True)
class PodDiscovery:
    """Where Prometheus' Kubernetes service discovery finds the pods: the apiserver, the CA that
    signed its certificate, and a file holding a ServiceAccount token allowed to list and watch pods."""

    server: str
    ca_file: Path
    token_file: Path

    def scrape_config(self) -> dict[str, Any]:
        """A job scraping every served pod (the pod runner's annotation) on its container port, each
        series labelled with the pod's namespace, name and labels (rollouts_pod_template_hash, ...)."""
        serving = "__meta_kubernetes_pod_annotation_" + re.sub(r"[^a-zA-Z0-9_]", "_", SERVING_ANNOTATION)
        return {
            "job_name": "pods",
            "scrape_interval": POD_SCRAPE_INTERVAL,
            "kubernetes_sd_configs": [
                {
                    "role": "pod",
                    "api_server": self.server,
                    "authorization": {"credentials_file": str(self.token_file)},
                    "tls_config": {"ca_file": str(self.ca_file)},
                }
            ],
            "relabel_configs": [
                {"source_labels": [serving], "regex": "true", "action": "keep"},
                {"action": "labelmap", "regex": "__meta_kubernetes_pod_label_(.+)"},
                {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            ],
        }


def prometheus_with_kubernetes_sd() -> str:
    """The Prometheus scripts/build-prometheus.sh built (Kubernetes service discovery compiled in)."""
    out = subprocess.run(
        ["bash", str(PROMETHEUS_BUILD), "--print-bin-dir"], check=True, capture_output=True, text=True
    )
    return str(Path(out.stdout.strip().splitlines()[-1]) / "prometheus")


class Prometheus:
    """A Prometheus (default: Debian's `prometheus` on PATH) scraping Traefik every second (and, given a
    PodDiscovery, every served pod every POD_SCRAPE_INTERVAL), on a fixed port inside the namespace."""

    def __init__(self, work_dir: Path, port: int = PROMETHEUS_PORT, binary: str = "prometheus") -> None:
        self.port = port
        self.address = f"http://127.0.0.1:{port}"
        self.dir = work_dir / f"prometheus-{port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = self.dir / "prometheus.yml"
        self.component = Component(
            "prometheus",
            [
                binary,
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            self.dir / "prometheus.log",
        )

    def _write_config(self, pods: PodDiscovery | None) -> None:
        traefik = {
            "job_name": "traefik",
            "scrape_interval": SCRAPE_INTERVAL,
            "static_configs": [{"targets": [f"127.0.0.1:{TRAEFIK_API_PORT}"]}],
        }
        jobs = [traefik, *([pods.scrape_config()] if pods else [])]
        settings = {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL}
        self.config.write_text(yaml.safe_dump({"global": settings, "scrape_configs": jobs}))

    def start(self, pods: PodDiscovery | None = None) -> None:
        self._write_config(pods)
        self.component.start()
        wait_for("prometheus ready", lambda: _get(f"{self.address}/-/ready"), 30, check=self._alive)

    def _alive(self) -> None:
        if not self.component.running():
            raise RuntimeError(f"prometheus exited:\n{self.component.tail()}")

    def stop(self) -> None:
        self.component.stop()

    def query(self, promql: str) -> list[dict[str, Any]]:
        import json
        import urllib.parse

        body = _get(f"{self.address}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
        return list(json.loads(body)["data"]["result"])


@dataclass(frozen=True)
class _LiveBinaries(Binaries):
    stages: Path = Path()

    @property
    def kwok_stages(self) -> Path:
        return self.stages


def live_kwok_stages(original: Path, dest: Path) -> Path:
    """kwok's stages with readiness following the pod runner: kwok's pod-ready stage split in two.
    ``pod-address`` gives a pending pod its host and pod IPs; ``pod-ready`` (the rest of kwok's stage)
    waits for the pod runner's annotation ``live.canary.dev/serving: "true"``, which it sets once it
    listens on that IP. So a pod enters its Services' endpoints only when something answers there."""
    stages = [d for d in yaml.safe_load_all(original.read_text()) if d]
    ready = next(s for s in stages if s["metadata"]["name"] == "pod-ready")
    template = ready["spec"]["next"]["statusTemplate"]
    start = template.index("{{ $hostIPs := NodeIPsWith")
    end = template.index("phase: Running")
    address = {
        **ready,
        "metadata": {"name": "pod-address"},
        "spec": {
            **ready["spec"],
            "selector": {
                "matchExpressions": [
                    *ready["spec"]["selector"]["matchExpressions"],
                    {"key": ".status.podIP", "operator": "DoesNotExist"},
                ]
            },
            "next": {"statusTemplate": template[start:end]},
        },
    }
    ready["spec"]["next"]["statusTemplate"] = template[:start] + template[end:]
    ready["spec"]["selector"]["matchExpressions"] += [
        {"key": ".status.podIP", "operator": "Exists"},
        {"key": f'.metadata.annotations["{SERVING_ANNOTATION}"]', "operator": "In", "values": ["true"]},
    ]
    dest.write_text(yaml.safe_dump_all([*stages, address], sort_keys=False))
    return dest


class LiveStack:
    def __init__(self, work_dir: Path, *, controlplane_bin_dir: Path | None = None) -> None:
        self.work_dir = work_dir
        self.log_dir = work_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.control_plane = LocalControlPlane(controlplane_bin_dir, work_dir=work_dir / "cluster", nodes=2)
        binaries = self.control_plane.binaries
        stages = live_kwok_stages(binaries.kwok_stages, work_dir / "kwok-stages.yaml")
        self.control_plane.binaries = _LiveBinaries(binaries.bin_dir, stages)
        self.traefik_bin = traefik_bin_dir() / "traefik"
        self.crds = self.traefik_bin.parents[1] / "crds"
        self.entrypoint = f"http://127.0.0.1:{ENTRYPOINT_PORT}"
        self.traefik_api = f"http://127.0.0.1:{TRAEFIK_API_PORT}"
        self.prometheus = Prometheus(work_dir)
        self.components: list[Component] = []
        self.controller_kubeconfig: Path | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        cp = self.control_plane
        cp.start()
        self._give_nodes_pod_cidrs()
        cp.apply_manifests(
            [
                *sorted((self.crds / "gateway-api").glob("*.yaml")),
                self.crds / "traefik",
                ROOT / "manifests" / "crds",
                ROOT / "manifests" / "base" / "namespace.yaml",
                ROOT / "manifests" / "base" / "rbac.yaml",
                ROOT / "manifests" / "cluster-wide" / "rbac.yaml",
            ]
        )
        self.controller_kubeconfig = cp.kubeconfig_for_service_account(
            canarytier.CONTROLLER_NAMESPACE, canarytier.CONTROLLER_ACCOUNT, create=False
        )
        self._start_traefik()
        self._start_pod_runner()
        self.prometheus.start()

    def stop(self) -> None:
        self.prometheus.stop()
        for component in reversed(self.components):
            component.stop()
        self.control_plane.stop()

    def logs(self, lines: int = 30) -> str:
        parts = [f"--- {c.name}:\n{c.tail(lines)}" for c in self.components]
        parts.append(f"--- prometheus:\n{self.prometheus.component.tail(lines)}")
        return "\n".join(parts)

    def _give_nodes_pod_cidrs(self) -> None:
        # kwok gives a pod an IP from its node's podCIDR (nodeipam is off): 10.244.<n+1>.0/24, inside
        # the range the namespace routes to lo.
        core = self.control_plane.core_v1()
        for index, name in enumerate(self.control_plane.node_names):
            cidr = f"10.244.{index + 1}.0/24"
            core.patch_node(name, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})

    def _start_traefik(self) -> None:
        cp = self.control_plane
        core = cp.core_v1()
        cp.create_namespace(GATEWAY_NAMESPACE)
        core.create_namespaced_service_account(GATEWAY_NAMESPACE, {"metadata": {"name": "traefik"}})
        cp.apply_manifests([_traefik_access(), *_gateway()])
        token = core.create_namespaced_service_account_token(
            "traefik", GATEWAY_NAMESPACE, {"spec": {"expirationSeconds": 24 * 3600}}
        ).status.token
        kube = [
            f"--providers.{provider}.{key}={value}"
            for provider in ("kubernetesgateway", "kubernetescrd")
            for key, value in (("endpoint", cp.server), ("token", token), ("certAuthFilePath", cp.ca_file))
        ]
        traefik = Component(
            "traefik",
            [
                str(self.traefik_bin),
                f"--entryPoints.web.address=127.0.0.1:{ENTRYPOINT_PORT}",
                f"--entryPoints.traefik.address=127.0.0.1:{TRAEFIK_API_PORT}",
                "--api.insecure=true",
                "--ping=true",
                "--metrics.prometheus=true",
                "--metrics.prometheus.entryPoint=traefik",
                "--metrics.prometheus.addServicesLabels=true",
                f"--metrics.prometheus.buckets={LATENCY_BUCKETS}",
                "--global.checkNewVersion=false",
                "--global.sendAnonymousUsage=false",
                "--providers.kubernetesgateway=true",
                "--providers.kubernetescrd=true",
                "--providers.kubernetescrd.allowCrossNamespace=false",
                # Else a TraefikService one of whose Services has no endpoint yet (a Rollout's first
                # deploy) is not built at all, and its route answers 404.
                "--providers.kubernetescrd.allowEmptyServices=true",
                "--log.level=INFO",
                *kube,
            ],
            self.log_dir / "traefik.log",
        )
        # KUBECONFIG would take priority over the endpoint and token given here.
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        traefik.start(env=env)
        self.components.append(traefik)
        wait_for("traefik /ping", lambda: _get(f"{self.traefik_api}/ping"), 30, check=self._check(traefik))
        from kubernetes import client

        gateways = client.CustomObjectsApi(cp.api)

        def programmed() -> bool:
            gateway = gateways.get_namespaced_custom_object(
                "gateway.networking.k8s.io", "v1", GATEWAY_NAMESPACE, "gateways", GATEWAY_NAME
            )
            conditions = (gateway.get("status") or {}).get("conditions") or []
            return any(c["type"] == "Programmed" and c["status"] == "True" for c in conditions)

        wait_for("Gateway live Programmed", programmed, 60, check=self._check(traefik))

    def pod_discovery(self) -> PodDiscovery:
        """A ServiceAccount for Prometheus (namespace traefik), allowed to list and watch pods, and
        where its token, the apiserver and the cluster CA are (call once per stack)."""
        cp = self.control_plane
        core = cp.core_v1()
        core.create_namespaced_service_account(GATEWAY_NAMESPACE, {"metadata": {"name": "prometheus"}})
        cp.apply_manifests(_prometheus_access())
        token = core.create_namespaced_service_account_token(
            "prometheus", GATEWAY_NAMESPACE, {"spec": {"expirationSeconds": 24 * 3600}}
        ).status.token
        token_file = self.work_dir / "prometheus.token"
        token_file.write_text(token)
        return PodDiscovery(cp.server, cp.ca_file, token_file)

    def _start_pod_runner(self) -> None:
        runner = Component(
            "podrunner",
            [sys.executable, str(HERE / "podrunner.py"), "--kubeconfig", str(self.control_plane.kubeconfig)],
            self.log_dir / "podrunner.log",
        )
        runner.start()
        self.components.append(runner)
        wait_for(
            "the pod runner watching", lambda: READY_LINE in runner.tail(), 60, check=self._check(runner)
        )

    @staticmethod
    def _check(component: Component) -> Any:
        def alive() -> None:
            if not component.running():
                raise RuntimeError(f"{component.name} exited:\n{component.tail()}")

        return alive

    # -- what tests and demos use ------------------------------------------------------------------

    def app_namespace(self, name: str) -> str:
        self.control_plane.create_namespace(name)
        return name

    def apply(self, namespace: str, objects: list[dict[str, Any]]) -> None:
        self.control_plane.apply_manifests(objects, namespace=namespace)

    def controller(self, namespace: str | None, *extra_args: str) -> canarytier.ControllerProcess:
        """An unstarted controller for ``namespace`` (None: every namespace)."""
        assert self.controller_kubeconfig is not None, "start() the stack first"
        return canarytier.ControllerProcess(
            self.controller_kubeconfig,
            log_dir=self.log_dir,
            namespace=namespace,
            name=f"controller-{namespace or 'all'}",
            extra_args=extra_args,
        )

    def traefik_service_weights(self) -> dict[str, dict[str, int]]:
        """Traefik's own view of every weighted service: name -> {backend service: weight}."""
        import json

        services = json.loads(_get(f"{self.traefik_api}/api/http/services"))
        return {
            s["name"]: {b["name"]: int(b.get("weight", 1)) for b in s["weighted"].get("services") or []}
            for s in services
            if "weighted" in s
        }


def _traefik_access() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "traefik-live"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "traefik", "namespace": GATEWAY_NAMESPACE}],
    }


def _prometheus_access() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "prometheus-live"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
        },
        role_binding(
            "prometheus-live", role="prometheus-live", account="prometheus", namespace=GATEWAY_NAMESPACE
        ),
    ]


def _gateway() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "GatewayClass",
            "metadata": {"name": "traefik"},
            "spec": {"controllerName": "traefik.io/gateway-controller"},
        },
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": GATEWAY_NAME, "namespace": GATEWAY_NAMESPACE},
            "spec": {
                "gatewayClassName": "traefik",
                "listeners": [
                    {
                        "name": "web",
                        "protocol": "HTTP",
                        "port": ENTRYPOINT_PORT,
                        "allowedRoutes": {"namespaces": {"from": "All"}},
                    }
                ],
            },
        },
    ]


@contextlib.contextmanager
def running(work_dir: Path) -> Iterator[LiveStack]:
    """A started LiveStack, stopped (everything it started) however the block ends."""
    live = LiveStack(work_dir)
    try:
        live.start()
        yield live
    finally:
        live.stop()
