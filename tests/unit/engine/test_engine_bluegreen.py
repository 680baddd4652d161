"""Blue-green on the embedded cluster, decision by decision: the preview Service selects the new
revision at once, the active Service moves only to a fully available ReplicaSet (after the pause,
the promote, previewReplicaCount's scale-up), back to stable at once on abort, and the old revision
goes after scaleDownDelaySeconds. Facts from Argo Rollouts' docs/features/bluegreen.md and
rollout/bluegreen.go."""

from __future__ import annotations

from typing import Any

from canary.api.rollout import Rollout
from canary.cluster.memory import MemoryCluster, ready_after
from canary.engine import commands
from canary.engine.actions import CreateReplicaSet
from canary.engine.bluegreen_strategy import without_injected_anti_affinity
from canary.engine.clock import ManualClock
from canary.engine.commands import Patch
from canary.engine.hashing import HASH_LABEL, pod_template_hash
from canary.engine.rollout import decide
from canary.sim.driver import Simulation
from canary.sim.workload import Workload

NS, NAME = "default", "web"


def _template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": NAME}}, "spec": {"containers": [{"name": NAME, "image": image}]}}


class World:
    def __init__(self, replicas: int = 3, **blue_green: Any) -> None:
        self.clock = ManualClock()
        self.cluster = MemoryCluster(self.clock, pods=ready_after(2.0))
        self.sim = Simulation(self.cluster, self.clock, Workload(request_rate=1, seed=1), max_step_seconds=0.5)
        for service in ("web-active", "web-preview"):
            self.cluster.create_service(NS, service)
        strategy = {"activeService": "web-active", "previewService": "web-preview", **blue_green}
        rollout = {
            "metadata": {"name": NAME, "namespace": NS},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": NAME}},
                "template": _template("v1"),
                "strategy": {"blueGreen": strategy},
            },
        }
        self.cluster.create(Rollout.model_validate(rollout))
        self.seen_active: list[tuple[str | None, int]] = []
        self.run(10)

    def rollout(self) -> Rollout:
        return self.cluster.get_rollout(NS, NAME)

    def run(self, seconds: float) -> None:
        end = self.clock.now().timestamp() + seconds
        self.sim.settle()
        self._look()
        while self.clock.now().timestamp() < end:
            self.sim.tick()
            self._look()

    def _look(self) -> None:
        observed = self.cluster.observe(self.rollout())
        active = observed.service_selectors.get("web-active")
        rs = observed.replica_set(active)
        self.seen_active.append((active, rs.available if rs else 0))

    def release(self, image: str) -> None:
        self.cluster.patch_rollout(NS, NAME, Patch("spec", {"template": {"spec": _template(image)["spec"]}}))

    def verb(self, patches: tuple[Patch, ...]) -> None:
        for patch in patches:
            self.cluster.patch_rollout(NS, NAME, patch)

    def selectors(self) -> tuple[str | None, str | None]:
        observed = self.cluster.observe(self.rollout())
        return observed.service_selectors.get("web-active"), observed.service_selectors.get("web-preview")

    def pods(self) -> dict[str, tuple[int, int]]:
        observed = self.cluster.observe(self.rollout())
        return {
            rs.template["spec"]["containers"][0]["image"]: (rs.replicas, rs.available)
            for rs in observed.replica_sets
            if rs.replicas > 0
        }


def _hash(image: str) -> str:
    return pod_template_hash(_template(image))


def test_first_deploy_switches_the_active_service_once_every_pod_is_available() -> None:
    world = World()
    assert world.rollout().status.phase == "Healthy"
    assert world.selectors() == (_hash("v1"), _hash("v1"))
    assert all(available >= 3 for active, available in world.seen_active if active is not None)


def test_with_auto_promotion_off_the_preview_waits_in_blue_green_pause_until_promote() -> None:
    world = World(autoPromotionEnabled=False, scaleDownDelaySeconds=5)
    world.release("v2")
    world.run(10)
    status = world.rollout().status
    assert status.phase == "Paused" and [c.reason for c in status.pause_conditions] == ["BlueGreenPause"]
    assert world.selectors() == (_hash("v1"), _hash("v2"))
    assert status.blue_green.active_selector == _hash("v1") and status.blue_green.preview_selector == _hash("v2")
    assert world.pods() == {"v1": (3, 3), "v2": (3, 3)}
    world.verb(commands.promote(world.rollout()))
    world.run(1)
    assert world.selectors() == (_hash("v2"), _hash("v2"))
    assert world.rollout().status.stable_rs == _hash("v2")
    assert world.pods() == {"v1": (3, 3), "v2": (3, 3)}  # scaleDownDelaySeconds
    world.run(6)
    assert world.pods() == {"v2": (3, 3)}
    assert world.rollout().status.phase == "Healthy"


def test_auto_promotion_switches_only_to_a_fully_available_replica_set() -> None:
    world = World(replicas=4)
    world.release("v2")
    world.run(15)
    assert world.selectors() == (_hash("v2"), _hash("v2"))
    assert all(available >= 4 for active, available in world.seen_active if active is not None)


def test_auto_promotion_seconds_pause_then_switch_by_itself() -> None:
    world = World(autoPromotionSeconds=10)
    world.release("v2")
    world.run(5)
    assert world.rollout().status.phase == "Paused"
    assert world.selectors()[0] == _hash("v1")
    world.run(10)
    assert world.selectors()[0] == _hash("v2")


def test_preview_replica_count_scales_up_only_after_promote_and_switches_once_full() -> None:
    world = World(replicas=2, previewReplicaCount=1, autoPromotionEnabled=False)
    world.release("v2")
    world.run(10)
    assert world.pods() == {"v1": (2, 2), "v2": (1, 1)}
    assert world.selectors()[0] == _hash("v1")
    world.verb(commands.promote(world.rollout()))
    world.run(10)
    assert world.selectors()[0] == _hash("v2")
    assert world.pods()["v2"] == (2, 2)
    assert all(available >= 2 for active, available in world.seen_active if active is not None)


def test_abort_keeps_the_active_service_on_stable_and_scales_the_preview_down_after_the_delay() -> None:
    world = World(autoPromotionEnabled=False, abortScaleDownDelaySeconds=5)
    world.release("v2")
    world.run(10)
    world.verb(commands.abort(world.rollout(), world.clock.now()))
    world.run(1)
    status = world.rollout().status
    assert status.phase == "Degraded" and status.abort and not status.pause_conditions
    assert world.selectors() == (_hash("v1"), _hash("v2"))
    world.run(6)
    assert world.pods() == {"v1": (3, 3)}
    world.verb(commands.retry(world.rollout()))
    world.run(10)
    assert world.rollout().status.phase == "Paused"
    world.verb(commands.promote_full(world.rollout()))
    world.run(2)
    assert world.selectors()[0] == _hash("v2")


def test_anti_affinity_is_injected_into_the_new_replica_set_and_undo_restores_the_plain_template() -> None:
    world = World(autoPromotionEnabled=False, antiAffinity={"requiredDuringSchedulingIgnoredDuringExecution": {}})
    world.release("v2")
    rollout = world.rollout()
    decision = decide(rollout, world.cluster.observe(rollout), world.clock.now())
    created = [a for a in decision.actions if isinstance(a, CreateReplicaSet)]
    assert len(created) == 1
    terms = created[0].template["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms == [
        {
            "labelSelector": {"matchExpressions": [{"key": HASH_LABEL, "operator": "In", "values": [_hash("v1")]}]},
            "namespaces": [NS],
            "topologyKey": "kubernetes.io/hostname",
        }
    ]
    assert created[0].pod_template_hash == _hash("v2")
    stripped = without_injected_anti_affinity(created[0].template)
    assert "affinity" not in stripped["spec"]


def test_promote_on_a_blue_green_rollout_that_is_not_paused_says_what_to_do() -> None:
    world = World(replicas=2)
    world.release("v2")
    world.sim.settle()
    rollout = world.rollout()
    assert rollout.status.current_pod_hash == _hash("v2") and not rollout.status.pause_conditions
    try:
        commands.promote(rollout)
    except commands.CommandError as error:
        assert "promote --full" in str(error)
    else:  # pragma: no cover
        raise AssertionError("promote should have failed")
