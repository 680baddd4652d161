"""With a router, a side takes traffic only up to its pods that are ready endpoints of its Service.

A proxy routes by the Service's EndpointSlices, which the endpoint controller updates apart from (and
possibly after) the ReplicaSet's available count: the live tier saw a canary ReplicaSet report 2
available pods 0.9 s before its second pod was a ready endpoint. A weight raised on the ReplicaSet's
word reaches the proxy with no canary endpoint to send it to (503).
"""

from __future__ import annotations

from builders import replica_set

from canary.cluster.memory import MemoryCluster, ready_after
from canary.engine import commands, targets
from canary.engine.actions import SetTrafficWeight
from canary.engine.clock import ManualClock
from canary.sim import scenarios
from canary.sim.driver import reconcile

ROUTED = scenarios.rollout(routed=True, steps=[{"setWeight": 50}, {"pause": {}}])


def _plan(
    canary_endpoints: int | None, *, applied: int = 0, stable_endpoints: int | None = 4
) -> targets.Plan:
    sides = targets.Sides(
        replica_set("c", replicas=2),
        replica_set("s", replicas=4),
        [],
        canary_endpoints=canary_endpoints,
        stable_endpoints=stable_endpoints,
    )
    return targets.plan_step(ROUTED, 0, sides, applied, applied)


def test_the_weight_stays_at_0_while_no_available_canary_pod_is_a_ready_endpoint() -> None:
    plan = _plan(canary_endpoints=0)
    assert (plan.weight, plan.reached) == (0, False)


def test_the_weight_grows_only_once_every_canary_pod_for_it_is_a_ready_endpoint() -> None:
    assert _plan(canary_endpoints=1).weight == 0
    assert _plan(canary_endpoints=2).weight == 50


def test_a_weight_already_routed_is_kept_while_the_endpoints_for_the_next_one_are_missing() -> None:
    rollout = scenarios.rollout(routed=True, steps=[{"setWeight": 25}, {"setWeight": 75}, {"pause": {}}])
    sides = targets.Sides(replica_set("c", replicas=3), replica_set("s", replicas=4), [], canary_endpoints=2)
    assert targets.plan_step(rollout, 1, sides, 25, 25).weight == 25


def test_without_an_endpoint_observation_the_available_pods_stand_in() -> None:
    assert _plan(canary_endpoints=None).weight == 50


def test_a_canary_whose_endpoints_are_all_gone_gets_no_traffic_even_if_its_pods_are_available() -> None:
    assert _plan(canary_endpoints=0, applied=50).weight == 0


def test_the_canary_keeps_its_share_while_stable_has_no_ready_endpoint() -> None:
    assert targets.weight_stable_cannot_take(ROUTED, 0, 2, 50) == 50
    assert _plan(canary_endpoints=2, applied=50, stable_endpoints=0).weight == 50


def test_the_embedded_cluster_raises_the_weight_only_once_the_canary_pods_are_ready_endpoints() -> None:
    clock = ManualClock()
    cluster = MemoryCluster(clock, pods=ready_after(5), endpoints_after=2)
    cluster.create(ROUTED)
    for service in ("web-stable", "web-canary"):
        cluster.create_service("default", service)
    _settle(cluster, clock, seconds=10)
    rollout = cluster.get_rollout("default", "web")
    cluster.patch_rollout("default", "web", commands.set_image(rollout, "web", "web:2")[0])
    weights = {}
    for second in range(10):
        decision = reconcile(cluster, "default", "web")
        routed = [a.canary_weight for a in decision.actions if isinstance(a, SetTrafficWeight)]
        weights[second] = routed[-1] if routed else None
        clock.advance(1)
    assert [weights[s] for s in range(5, 7)] == [0, 0]  # pods ready at 5 s, endpoints at 7 s
    assert weights[7] == 50


def _settle(cluster: MemoryCluster, clock: ManualClock, seconds: int) -> None:
    for _ in range(seconds):
        reconcile(cluster, "default", "web")
        clock.advance(1)
