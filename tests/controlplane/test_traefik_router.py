"""The Traefik router on the real control plane: Traefik's own CustomResourceDefinitions, taken from
its Go module (the version scripts/build-traefik.sh builds for the live tier), are installed, and the
controller, with only the RBAC of manifests/, moves the weights of a real TraefikService through a
release's steps."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from canarytier import (
    ROOT,
    ControllerProcess,
    WeightRecorder,
    custom,
    deploy_stable,
    diagnose,
    eventually,
    example_rollout,
    release,
    status_of,
)
from localcluster import LocalControlPlane

NAME = "search"
TRAEFIK_MODULE = "github.com/traefik/traefik/v3@v3.6.12"
CRD_FILE = "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
GROUP, VERSION, PLURAL = "traefik.io", "v1alpha1", "traefikservices"


def traefik_crd_file() -> Path:
    """Traefik's CRD definitions from its module, downloaded through the Go module proxy (cached)."""
    go_bin = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install-go.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    env = {**os.environ, "PATH": f"{go_bin}{os.pathsep}{os.environ.get('PATH', '')}", "GOFLAGS": "-mod=mod"}
    listing = subprocess.run(
        ["go", "mod", "download", "-json", TRAEFIK_MODULE],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    return Path(json.loads(listing.stdout)["Dir"]) / CRD_FILE


@pytest.fixture(scope="module")
def traefik_crds(control_plane: LocalControlPlane) -> None:
    control_plane.apply_manifests([traefik_crd_file()])


def traefik_service(name: str) -> dict[str, Any]:
    """A weighted TraefikService sending everything to stable, as a user creates it beside the Rollout."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TraefikService",
        "metadata": {"name": f"{name}-wrr"},
        "spec": {
            "weighted": {
                "services": [
                    {"name": f"{name}-stable", "port": 80, "weight": 100},
                    {"name": f"{name}-canary", "port": 80, "weight": 0},
                ]
            }
        },
    }


def services(name: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"{name}-{role}"},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
        }
        for role in ("stable", "canary")
    ]


def weights(api: Any, namespace: str) -> dict[str, int]:
    obj = custom(api).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, f"{NAME}-wrr")
    return {entry["name"]: entry["weight"] for entry in obj["spec"]["weighted"]["services"]}


def traefik_recorder(api: Any, namespace: str) -> WeightRecorder:
    """Every canary weight the TraefikService is given, in order."""

    def canary_weight(traefik_service: dict[str, Any]) -> int:
        entries = traefik_service["spec"]["weighted"]["services"]
        return int(next(e["weight"] for e in entries if e["name"] == f"{NAME}-canary"))

    return WeightRecorder(api, namespace, (GROUP, VERSION, PLURAL), canary_weight)


def test_a_release_moves_the_weights_of_a_real_traefik_service_through_its_steps(
    admin_api: Any,
    namespace: str,
    control_plane: LocalControlPlane,
    traefik_crds: None,
    controllers: Any,
) -> None:
    control_plane.apply_manifests([*services(NAME), traefik_service(NAME)], namespace=namespace)
    controller: ControllerProcess = controllers(namespace=namespace)
    controller.start()
    controller.wait_ready()
    rollout = example_rollout(NAME)
    rollout["spec"]["strategy"]["canary"]["trafficRouting"] = {
        "traefik": {"weightedTraefikServiceName": f"{NAME}-wrr"}
    }
    stable = deploy_stable(admin_api, namespace, rollout, controller)

    with traefik_recorder(admin_api, namespace) as recorded:
        release(admin_api, namespace, NAME, "ghcr.io/example/search:7.1.0")
        eventually(
            "the new revision to be promoted",
            lambda: (
                (s := status_of(admin_api, namespace, NAME)).get("phase") == "Healthy"
                and s["stableRS"] != stable
            ),
            timeout=90,
            explain=lambda: diagnose(admin_api, namespace, [NAME], controller),
        )
        eventually(
            "the TraefikService back at 0 once both Services select the new stable",
            lambda: weights(admin_api, namespace)[f"{NAME}-canary"] == 0,
            timeout=30,
        )

    # The steps' weights, all traffic to the canary once the steps are done, then 0 once the canary
    # is the new stable (the same sequence as the Gateway API router's).
    assert recorded.canary_weights == [0, 10, 30, 60, 100, 0]
    assert weights(admin_api, namespace) == {f"{NAME}-stable": 100, f"{NAME}-canary": 0}
