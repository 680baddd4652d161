"""Every CLI test drives `canary.cli.main.main` against the embedded cluster: the real engine and
driver loop on a virtual clock, with a simulated workload answering the analysis queries."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import yaml

from canary.api.analysis import AnalysisTemplate
from canary.api.rollout import Rollout
from canary.cli.main import main
from canary.cli.session import Session, simulation_session
from canary.cluster.memory import MemoryCluster, ready_after
from canary.engine import commands
from canary.engine.clock import ManualClock
from canary.engine.hashing import pod_template_hash
from canary.sim.driver import Simulation
from canary.sim.workload import Behaviour, SimulatedPrometheus, Workload

NAMESPACE, NAME = "shop", "web"

ROLLOUT = """
apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "web:1.0"}]}
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      trafficRouting: {smi: {}}
      steps:
      - setWeight: 25
      - pause: {}
      - setWeight: 50
      - analysis: {templates: [{templateName: error-rate}]}
      - setWeight: 75
      - pause: {duration: 20s}
"""

TEMPLATE = """
apiVersion: canary.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: error-rate, namespace: shop}
spec:
  args: [{name: canary-hash}]
  metrics:
  - name: error-rate
    interval: 10s
    count: 3
    successCondition: result < 0.05
    provider:
      prometheus:
        address: http://prometheus.shop:9090
        query: >-
          sum(rate(http_requests_total{rollouts_pod_template_hash="{{args.canary-hash}}",code=~"5.."}[30s]))
          / sum(rate(http_requests_total{rollouts_pod_template_hash="{{args.canary-hash}}"}[30s]))
"""

GOOD = Behaviour(error_rate=0.01)
BAD = Behaviour(error_rate=0.3)


@dataclass
class Shop:
    """One Rollout `shop/web`, already Healthy on web:1.0, and the `canary` command aimed at it."""

    sim: Simulation
    capsys: pytest.CaptureFixture[str]

    def session(self, args: argparse.Namespace) -> Session:
        return simulation_session(self.sim, getattr(args, "namespace", None) or NAMESPACE)

    def canary(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*argv, "--cluster", "memory"], embedded=self.session)
        out, err = self.capsys.readouterr()
        return code, out, err

    def rollout(self) -> Rollout:
        return self.sim.cluster.get_rollout(NAMESPACE, NAME)

    def release(self, image: str, behaviour: Behaviour = GOOD) -> str:
        """`set image` as a person would, with how the new revision will behave."""
        rollout = self.rollout()
        for patch in commands.set_image(rollout, "web", image):
            rollout = self.sim.cluster.patch_rollout(NAMESPACE, NAME, patch)
        assert rollout.spec.template is not None
        pod_hash = pod_template_hash(rollout.spec.template)
        self.sim.workload.behave(pod_hash, behaviour)
        return pod_hash

    def run_until(self, done: Callable[[Rollout], bool], seconds: float = 600) -> Rollout:
        rollout = self.sim.run_until(done, NAMESPACE, NAME, seconds)
        assert done(rollout), f"not reached within {seconds}s: {rollout.status}"
        return rollout

    def at_manual_pause(self) -> Rollout:
        """A release of web:2.0 waiting at step 1 (`pause: {}`) for a promote."""
        self.release("web:2.0")
        return self.run_until(lambda r: r.status.current_step_index == 1 and bool(r.status.pause_conditions))


def per_mille(rollout: str) -> str:
    """The same Rollout with trafficRouting.maxTrafficWeight 1000 and its weights in those units."""
    document = yaml.safe_load(rollout)
    canary = document["spec"]["strategy"]["canary"]
    canary["trafficRouting"]["maxTrafficWeight"] = 1000
    for step in canary["steps"]:
        if "setWeight" in step:
            step["setWeight"] *= 10
    return yaml.safe_dump(document)


@pytest.fixture
def shop(capsys: pytest.CaptureFixture[str]) -> Shop:
    return healthy_shop(capsys, ROLLOUT)


@pytest.fixture
def per_mille_shop(capsys: pytest.CaptureFixture[str]) -> Shop:
    return healthy_shop(capsys, per_mille(ROLLOUT))


def healthy_shop(capsys: pytest.CaptureFixture[str], rollout: str) -> Shop:
    clock = ManualClock()
    workload = Workload(request_rate=200.0, default=GOOD, seed=3)
    cluster = MemoryCluster(
        clock, pods=ready_after(3.0), providers={"prometheus": SimulatedPrometheus(workload)}
    )
    cluster.create(AnalysisTemplate.model_validate(yaml.safe_load(TEMPLATE)))
    cluster.create(Rollout.model_validate(yaml.safe_load(rollout)))
    for service in ("web-canary", "web-stable"):
        cluster.create_service(NAMESPACE, service)
    shop = Shop(Simulation(cluster, clock, workload, max_step_seconds=5.0), capsys)
    shop.run_until(lambda r: r.status.phase == "Healthy")
    return shop
