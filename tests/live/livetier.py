"""What the live tests share: an app deployed behind Traefik with its controller, and waiting for the
rollout and for Traefik to carry a weight."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import apps
import stack
import templates
from canarytier import ROOT, ControllerProcess, deploy_stable, diagnose, eventually, status_of
from loadgen import LoadGenerator

NAME = "web"
INTERVAL_S = 5  # the analyses' interval and window: five scrapes of Traefik's counters


def analysed_rollout(analysis: dict[str, Any], env: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Half the traffic to the canary, one interval's pause (so that the first measurement has canary
    data: a template's empty result is Inconclusive, which pauses the rollout), then the ``analysis``
    step decides: promoted or aborted. Stable's pods behave as ``env`` says (default: 1% errors)."""
    return apps.rollout(
        NAME,
        routing={"gatewayAPI": {"httpRoute": NAME}},
        steps=[{"setWeight": 50}, {"pause": {"duration": f"{INTERVAL_S}s"}}, analysis],
        env=env if env is not None else apps.behaviour_env(error_rate=0.01),
    )


def release_end(status: dict[str, Any], stable: str | None) -> str | None:
    """How a release from ``stable`` (the stable ReplicaSet's hash before it) ended, read from the
    Rollout's status: "aborted", "promoted", "paused (inconclusive)" (waiting for a person: a run of
    Inconclusive measurements), or None while it runs."""
    if status.get("abort"):
        return "aborted"
    if status.get("phase") == "Healthy" and status.get("stableRS") not in (None, stable):
        return "promoted"
    if any(c.get("reason") == "InconclusiveAnalysisRun" for c in status.get("pauseConditions") or []):
        return "paused (inconclusive)"
    return None


@dataclass
class App:
    live: stack.LiveStack
    namespace: str
    controller: ControllerProcess

    @property
    def api(self) -> Any:
        return self.live.control_plane.api

    def explain(self) -> str:
        return diagnose(self.api, self.namespace, [NAME], self.controller) + "\n" + self.live.logs(15)

    def load(self, rate: float) -> LoadGenerator:
        return LoadGenerator(self.live.entrypoint, host=apps.host(self.namespace), rate=rate)

    def status(self) -> dict[str, Any]:
        return status_of(self.api, self.namespace, NAME)

    def wait_for(self, what: str, probe: Any, timeout: float = 90) -> Any:
        return eventually(what, probe, timeout=timeout, explain=self.explain)

    def wait_paused_at(self, step: int) -> dict[str, Any]:
        return self.wait_for(
            f"the rollout paused at step {step}",
            lambda: (s := self.status()).get("phase") == "Paused" and s.get("currentStepIndex") == step and s,
        )

    def wait_release_end(self, stable: str | None, timeout: float) -> str:
        """Until the release from ``stable`` ends (release_end), how it ended."""
        return str(self.wait_for("the release to end", lambda: release_end(self.status(), stable), timeout))

    def wait_traefik_weight(self, canary_weight: int) -> None:
        """Until Traefik's own API shows the canary Service at ``canary_weight`` (the controller wrote
        it; Traefik reloads after its providers' throttle)."""
        canary = f"{self.namespace}-{NAME}-canary"

        def carried() -> bool:
            return any(
                weight == canary_weight
                for weights in self.live.traefik_service_weights().values()
                for backend, weight in weights.items()
                if backend.startswith(canary)
            )

        self.wait_for(f"Traefik to carry weight {canary_weight} to {canary}", carried, timeout=30)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        kubeconfig = str(self.live.control_plane.kubeconfig)
        argv = [
            sys.executable,
            "-m",
            "canary.cli.main",
            "--kubeconfig",
            kubeconfig,
            "-n",
            self.namespace,
            *args,
        ]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)


@contextmanager
def deployed(
    live: stack.LiveStack,
    namespace: str,
    rollout: dict[str, Any],
    routing: list[dict[str, Any]],
    controller: ControllerProcess | None = None,
) -> Iterator[App]:
    """The app's Services and route and the Rollout's first revision Healthy, driven by ``controller``
    (default: a controller of the namespace's own, stopped afterwards)."""
    live.app_namespace(namespace)
    live.apply(namespace, [*apps.services(NAME), *routing])
    with ExitStack() as own:
        if controller is None:
            controller = own.enter_context(live.controller(namespace))
            controller.wait_ready()
        deploy_stable(live.control_plane.api, namespace, rollout, controller)
        yield App(live, namespace, controller)


def analysed(
    live: stack.LiveStack,
    namespace: str,
    judge: str,
    prometheus: str,
    *,
    count: int,
    controller: ControllerProcess | None = None,
    env: list[dict[str, str]] | None = None,
) -> AbstractContextManager[App]:
    """An app whose releases are judged by ``judge``'s template (templates.JUDGES), applied verbatim
    in the namespace, every INTERVAL_S seconds up to ``count`` times, on ``prometheus``; its stable
    pods behave as ``env`` says (default: 1% errors)."""
    step = templates.analysis_step(judge, namespace, NAME, prometheus, interval_s=INTERVAL_S, count=count)
    routing = [apps.http_route(NAME, namespace), templates.template(judge)]
    return deployed(live, namespace, analysed_rollout(step, env), routing, controller)
