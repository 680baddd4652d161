"""The embedded backend: the in-memory cluster on a virtual clock, the controller's loop run by the
simulation driver, verbs through the real CLI (`--cluster memory`), and `web` metrics answered by a
real HTTP endpoint on loopback."""

from __future__ import annotations

import argparse
import contextlib
import io
from typing import Any

from backends import read, release_patch
from job_templates import JOB_TEMPLATES
from scenario import ANALYSIS_TEMPLATE, NAME, Snapshot

from canary.analysis.providers.registry import default_registry
from canary.api.analysis import AnalysisTemplate
from canary.api.rollout import Rollout
from canary.cli.main import main
from canary.cli.session import Session, simulation_session
from canary.cluster.memory import MemoryCluster, ready_after
from canary.engine.clock import ManualClock
from canary.engine.commands import Patch
from canary.sim.driver import Simulation
from canary.sim.workload import Workload

NAMESPACE = "conformance"
POD_START_SECONDS = 1.0


def _web_template(name: str, metric: dict[str, Any]) -> dict[str, Any]:
    provider = {"web": {"url": "{{args.url}}", "jsonPath": "$.healthy"}}
    return {
        "metadata": {"name": name},
        "spec": {"args": [{"name": "url"}], "metrics": [{**metric, "provider": provider}]},
    }


MORE_WEB_TEMPLATES = [
    # The same as tests/controlplane/data/web-analysis-templates-more.yaml.
    _web_template(
        "web-health-watch",
        {"name": "watched", "interval": "1s", "failureLimit": 1, "successCondition": "result == true"},
    ),
    _web_template(
        "web-health-unsure",
        {
            "name": "unsure",
            "interval": "1s",
            "count": 2,
            "successCondition": "result == true",
            "failureCondition": 'result == "down"',
        },
    ),
    _web_template(
        "web-health-until",
        {
            "name": "until",
            "interval": "1s",
            "failureLimit": -1,
            "consecutiveSuccessLimit": 2,
            "successCondition": "result == true",
        },
    ),
    _web_template(
        "web-health-count-0",
        {"name": "unbounded", "interval": "1s", "count": 0, "successCondition": "result == true"},
    ),
]
"""web-health-watch measures until terminated and tolerates one failure; with web-health-unsure an
unhealthy answer is Inconclusive; web-health-until fails nothing and passes at 2 successes in a row;
web-health-count-0 has count 0 (analysis scenarios, tests/conformance/catalogue_analysis.py)."""


class EmbeddedBackend:
    def __init__(self, health: Any, check: str) -> None:
        self.clock = ManualClock()
        self.health, self.check = health, check
        self.cluster = MemoryCluster(self.clock, pods=ready_after(POD_START_SECONDS))
        self.cluster.providers = default_registry(job_port=self.cluster)
        for job_template in JOB_TEMPLATES:
            metadata = {**job_template["metadata"], "namespace": NAMESPACE}
            self.cluster.create(AnalysisTemplate.model_validate({**job_template, "metadata": metadata}))
        self.sim = Simulation(self.cluster, self.clock, Workload(request_rate=1, seed=1), max_step_seconds=0.5)
        for service in (f"{NAME}-stable", f"{NAME}-canary", f"{NAME}-active", f"{NAME}-preview"):
            self.cluster.create_service(NAMESPACE, service)
        self.cluster.create(
            AnalysisTemplate.model_validate(
                {
                    "metadata": {"name": ANALYSIS_TEMPLATE, "namespace": NAMESPACE},
                    "spec": {
                        "args": [{"name": "url"}],
                        "metrics": [
                            {
                                "name": "healthy",
                                "interval": "1s",
                                "count": 2,
                                "successCondition": "result == true",
                                "provider": {"web": {"url": "{{args.url}}", "jsonPath": "$.healthy"}},
                            }
                        ],
                    },
                }
            )
        )
        for more in MORE_WEB_TEMPLATES:
            metadata = {**more["metadata"], "namespace": NAMESPACE}
            self.cluster.create(AnalysisTemplate.model_validate({**more, "metadata": metadata}))

    def deploy(self, rollout: dict[str, Any]) -> None:
        rollout = {**rollout, "metadata": {**rollout["metadata"], "namespace": NAMESPACE}}
        self.cluster.create(Rollout.model_validate(rollout))
        self.wait(0)

    def release(self, image: str, *, ready: bool) -> None:
        self.cluster.patch_rollout(NAMESPACE, NAME, release_patch(image, ready=ready))

    def patch_spec(self, patch: dict[str, Any]) -> None:
        self.cluster.patch_rollout(NAMESPACE, NAME, Patch("spec", patch))

    def set_analysis(self, *, healthy: bool) -> None:
        self.health.verdicts[self.check] = healthy

    def cli(self, *argv: str) -> int:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return main([*argv, "--cluster", "memory", "-n", NAMESPACE], embedded=self._session)

    def _session(self, args: argparse.Namespace) -> Session:
        return simulation_session(self.sim, NAMESPACE)

    def snapshot(self) -> Snapshot:
        self.sim.settle()
        return read(self.cluster, NAMESPACE)

    def wait(self, seconds: float) -> None:
        end = self.clock.now().timestamp() + seconds
        self.sim.settle()
        while self.clock.now().timestamp() < end:
            self.sim.tick()
