"""Release safety on the embedded cluster: no action of the controller takes available pods below
`replicas - maxUnavailable`, breaks maxSurge, or sends traffic to pods that cannot serve it.

Each test is a reproduction from issue 13, replayed on the virtual clock one second at a time so
that a window of lost availability, however short, is seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from canary.analysis.providers.base import MeasureContext, ProviderResult, Verdict
from canary.api.analysis import AnalysisPhase, AnalysisTemplate, Metric
from canary.api.rollout import Rollout
from canary.cluster.memory import MemoryCluster
from canary.engine import commands
from canary.engine.clock import ManualClock
from canary.engine.hashing import pod_template_hash
from canary.sim import scenarios
from canary.sim.driver import Simulation
from canary.sim.workload import Workload

NS, NAME = "default", "web"


class FailingJob:
    """A Job metric whose Job exits 1."""

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        return Verdict(AnalysisPhase.FAILED, "job exited 1")


def job_template() -> AnalysisTemplate:
    return AnalysisTemplate.model_validate(
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": "smoke", "namespace": NS},
            "spec": {"metrics": [{"name": "smoke", "provider": {"job": {"spec": {"template": {}}}}}]},
        }
    )


class World:
    """The embedded cluster with pods that start in `ready_seconds` (never for crashing revisions)."""

    def __init__(self, rollout: Rollout, *, ready_seconds: float = 5.0) -> None:
        self.clock = ManualClock()
        self.crashing: set[str] = set()
        self.cluster = MemoryCluster(
            self.clock,
            pods=lambda h: None if h in self.crashing else ready_seconds,
            providers={"job": FailingJob()},
        )
        self.cluster.create(job_template())
        self.cluster.create(rollout)
        for service in ("web-stable", "web-canary"):
            self.cluster.create_service(NS, service)
        self.sim = Simulation(self.cluster, self.clock, Workload(request_rate=10, seed=1), max_step_seconds=1.0)
        self.history: list[tuple[int, int, dict[str, int]]] = []

    def rollout(self) -> Rollout:
        return self.cluster.get_rollout(NS, NAME)

    def run(self, seconds: float, until: Callable[[Rollout], bool] = lambda _: False) -> Rollout:
        """Tick for up to `seconds`, recording (available, total pods, router weight) after each."""
        end = self.clock.now().timestamp() + seconds
        while self.clock.now().timestamp() < end:
            self.sim.tick()
            self.record()
            if until(self.rollout()):
                break
        return self.rollout()

    def record(self) -> None:
        sets = self.cluster.observe(self.rollout()).replica_sets
        self.history.append(
            (
                sum(rs.available for rs in sets),
                sum(rs.replicas for rs in sets),
                {rs.pod_template_hash: rs.available for rs in sets},
            )
        )

    def patch(self, patches: tuple[commands.Patch, ...]) -> None:
        for patch in patches:
            self.cluster.patch_rollout(NS, NAME, patch)

    def release(self, image: str, *, crash: bool = False) -> str:
        self.patch(commands.set_image(self.rollout(), NAME, image))
        pod_hash = pod_template_hash(self.rollout().spec.template or {})
        if crash:
            self.crashing.add(pod_hash)
        return pod_hash

    def lowest_available(self) -> int:
        return min(available for available, _, _ in self.history)

    def most_pods(self) -> int:
        return max(total for _, total, _ in self.history)


def unrouted(steps: list[dict[str, Any]], *, replicas: int, surge: int, unavailable: int, **spec: Any) -> Rollout:
    return scenarios.rollout(
        replicas=replicas,
        steps=steps,
        canary={"maxSurge": surge, "maxUnavailable": unavailable},
        spec=spec or None,
    )


def healthy(rollout: Rollout) -> bool:
    return rollout.status.phase == "Healthy"


ABORT_STEPS = [
    {"setWeight": 100},
    {"pause": {}},
    {"setWeight": 0},
    {"pause": {}},
    {"setWeight": 100},
    {"analysis": {"templates": [{"templateName": "smoke"}]}},
]


def at_full_canary_weight() -> World:
    """replicas 3, maxSurge 2, maxUnavailable 0, the canary at 100% for the second time."""
    world = World(unrouted(ABORT_STEPS, replicas=3, surge=2, unavailable=0))
    world.run(60, until=healthy)
    world.release("web:2")
    world.run(120, until=lambda r: r.status.current_step_index == 1 and bool(r.status.pause_conditions))
    world.patch(commands.promote(world.rollout()))
    world.run(120, until=lambda r: r.status.current_step_index == 3 and bool(r.status.pause_conditions))
    world.patch(commands.promote(world.rollout()))
    world.history.clear()
    return world


def test_a_failed_analysis_without_a_router_keeps_the_canary_until_stable_is_available() -> None:
    world = at_full_canary_weight()
    aborted = world.run(120, until=lambda r: r.status.abort and r.status.available_replicas >= 3 and r.status.updated_replicas == 0)
    assert aborted.status.abort
    assert world.lowest_available() >= 3, "the canary's pods stay until stable's replace them"
    assert world.most_pods() <= 5, "stable scales up within maxSurge"


def test_a_user_abort_without_a_router_keeps_available_pods_within_max_unavailable() -> None:
    world = World(unrouted([{"setWeight": 100}, {"pause": {}}], replicas=3, surge=2, unavailable=0))
    world.run(60, until=healthy)
    world.release("web:2")
    world.run(120, until=lambda r: bool(r.status.pause_conditions))
    world.history.clear()
    world.patch(commands.abort(world.rollout(), world.clock.now()))
    world.run(60, until=lambda r: r.status.updated_replicas == 0 and r.status.available_replicas >= 3)
    assert world.lowest_available() >= 3
    assert world.rollout().status.updated_replicas == 0, "the abort completes: the canary is gone"


def test_scaling_down_while_the_new_revision_crash_loops_respects_max_surge() -> None:
    world = World(unrouted([], replicas=4, surge=2, unavailable=0))
    world.run(60, until=healthy)
    world.release("web:2", crash=True)
    world.run(20)
    world.patch((commands.Patch("spec", {"replicas": 8}),))
    world.run(20)
    world.patch((commands.Patch("spec", {"replicas": 4}),))
    world.history.clear()
    world.run(20)
    assert world.history[-1][1] <= 6, "back within replicas + maxSurge once the scale-down is seen"
    assert world.lowest_available() >= 4


def test_a_fixed_template_after_a_crashing_first_deploy_becomes_healthy_through_its_steps() -> None:
    rollout = unrouted(
        [{"setWeight": 50}, {"pause": {"duration": "5s"}}],
        replicas=4,
        surge=1,
        unavailable=0,
        progressDeadlineSeconds=10,
    )
    crashing = pod_template_hash(rollout.spec.template or {})
    world = World(rollout)
    world.crashing.add(crashing)
    degraded = world.run(60, until=lambda r: r.status.phase == "Degraded")
    assert degraded.status.phase == "Degraded"
    fixed = world.release("web:2")
    done = world.run(120, until=healthy)
    assert done.status.phase == "Healthy" and done.status.stable_rs == fixed
    counts = {rs.pod_template_hash: rs.replicas for rs in world.cluster.observe(done).replica_sets}
    assert counts == {fixed: 4, crashing: 0}


def routed_dynamic(steps: list[dict[str, Any]], *, replicas: int) -> Rollout:
    return scenarios.rollout(replicas=replicas, steps=steps, routed=True, canary={"dynamicStableScale": True})


def test_undo_with_dynamic_stable_scale_moves_traffic_only_as_fast_as_stable_can_carry_it() -> None:
    world = World(routed_dynamic([{"setWeight": 25}, {"pause": {}}], replicas=4))
    world.run(60, until=healthy)
    stable = world.rollout().status.stable_rs
    world.release("web:2")
    world.run(60, until=lambda r: bool(r.status.pause_conditions))
    overloads = []
    world.patch(commands.undo(world.rollout(), world.cluster.observe(world.rollout()).replica_sets))
    for _ in range(30):
        world.sim.tick()
        rollout = world.rollout()
        seen = world.cluster.observe(rollout)
        stable_available = next(rs.available for rs in seen.replica_sets if rs.pod_template_hash == stable)
        stable_share = 100 - (seen.router_weight or 0)
        if stable_share * rollout.spec.replicas > stable_available * 100:
            overloads.append((stable_share, stable_available))
    assert not overloads, "stable is never sent more than its available pods carry"
    done = world.run(120, until=healthy)
    assert done.status.phase == "Healthy" and world.cluster.observe(done).router_weight == 0


def test_a_revision_serving_again_keeps_its_pods_for_the_whole_scale_down_delay_when_it_leaves() -> None:
    world = World(scenarios.rollout(replicas=2, steps=[], routed=True, canary={"scaleDownDelaySeconds": 20}))
    world.run(60, until=healthy)
    first = world.rollout().status.stable_rs
    world.release("web:2")
    world.run(120, until=lambda r: healthy(r) and r.status.stable_rs != first)
    world.release("web:1")  # a rollback: the first revision serves again
    world.run(120, until=lambda r: healthy(r) and r.status.stable_rs == first)
    world.release("web:3")
    left_at = None
    for _ in range(300):
        world.sim.tick()
        rollout = world.rollout()
        seen = world.cluster.observe(rollout)
        if left_at is None and seen.service_selectors.get("web-stable") != first:
            left_at = world.clock.now()
        first_rs = next(rs for rs in seen.replica_sets if rs.pod_template_hash == first)
        if first_rs.replicas == 0:
            break
    assert left_at is not None
    assert (world.clock.now() - left_at).total_seconds() >= 19, "its pods stay for scaleDownDelaySeconds"


def restarted(world: World) -> Rollout:
    world.patch(commands.restart(world.rollout(), world.clock.now()))
    world.history.clear()
    return world.run(300, until=lambda r: r.status.restarted_at is not None and r.status.replicas == 3)


def test_a_restart_with_max_unavailable_zero_surges_one_pod_at_a_time() -> None:
    world = World(unrouted([], replicas=3, surge=1, unavailable=0))
    world.run(60, until=healthy)
    done = restarted(world)
    assert done.status.restarted_at is not None, "every pod was restarted"
    assert world.lowest_available() >= 3
    assert world.most_pods() <= 4
    assert world.history[-1][1] == 3, "the surged pod is given back"


def test_a_restart_takes_no_more_pods_than_max_unavailable_at_once() -> None:
    world = World(unrouted([], replicas=3, surge=0, unavailable=1))
    world.run(60, until=healthy)
    done = restarted(world)
    assert done.status.restarted_at is not None
    assert world.lowest_available() >= 2
    assert world.most_pods() <= 3
