"""The conformance scenarios (tests/conformance/catalogue.py) on the real control plane: the same
scenario definitions the embedded cluster plays, here against kube-apiserver with a running
controller, kwok pods and the CLI, so that drift between the two clusters fails a test."""

from __future__ import annotations

import contextlib
import io
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from backends import read, release_patch
from canarytier import DATA, GROUP, VERSION, ControllerProcess, custom, diagnose, routing_for
from catalogue import SCENARIOS
from health import HealthEndpoint
from job_templates import JOB_TEMPLATES
from localcluster import LocalControlPlane
from scenario import NAME, Scenario, Snapshot, play

from canary.cli.main import main
from canary.cluster.kube import KubeCluster
from canary.cluster.kube_api import KubeApi
from canary.engine.commands import Patch
from canary.traffic.routers import router_for


class KubeBackend:
    def __init__(
        self, admin_api: Any, namespace: str, kubeconfig: str, health: HealthEndpoint, check: str
    ) -> None:
        self.api, self.namespace, self.kubeconfig = admin_api, namespace, kubeconfig
        api = KubeApi(admin_api)
        self.port = KubeCluster(api, router_for=lambda rollout: router_for(rollout, api))
        self.health, self.check = health, check

    def deploy(self, rollout: dict[str, Any]) -> None:
        custom(self.api).create_namespaced_custom_object(GROUP, VERSION, self.namespace, "rollouts", rollout)

    def release(self, image: str, *, ready: bool) -> None:
        self.port.patch_rollout(self.namespace, NAME, release_patch(image, ready=ready))

    def patch_spec(self, patch: dict[str, Any]) -> None:
        self.port.patch_rollout(self.namespace, NAME, Patch("spec", patch))

    def set_analysis(self, *, healthy: bool) -> None:
        self.health.verdicts[self.check] = healthy

    def cli(self, *argv: str) -> int:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return main([*argv, "--kubeconfig", self.kubeconfig, "-n", self.namespace])

    def snapshot(self) -> Snapshot:
        return read(self.port, self.namespace)

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario_on_the_real_control_plane(
    *,
    scenario: Scenario,
    admin_api: Any,
    namespace: str,
    control_plane: LocalControlPlane,
    controllers: Callable[..., ControllerProcess],
    health_endpoint: HealthEndpoint,
) -> None:
    control_plane.apply_manifests(
        [
            *routing_for(NAME),
            DATA / "blue-green-services.yaml",
            DATA / "web-analysis-template.yaml",
            DATA / "web-analysis-templates-more.yaml",
            *JOB_TEMPLATES,
        ],
        namespace=namespace,
    )
    controller = controllers(namespace=namespace)
    controller.start()
    controller.wait_ready()
    check = f"check-{uuid.uuid4().hex[:8]}"
    backend = KubeBackend(admin_api, namespace, str(control_plane.kubeconfig), health_endpoint, check)
    try:
        play(scenario, backend, health_endpoint.url(check))
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n{diagnose(admin_api, namespace, [NAME], controller)}") from None
