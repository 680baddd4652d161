"""trafficRouting.maxTrafficWeight only changes the unit of the weights: a Rollout with maxTrafficWeight
1000 and steps setWeight 100/500/1000 moves exactly as one with 100 and 10/50/100, reconcile by
reconcile, on the in-memory cluster.
"""

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pytest

from canary.api.rollout import Rollout
from canary.cluster.memory import MemoryCluster, ready_after
from canary.engine import commands
from canary.engine.clock import ManualClock
from canary.sim import scenarios
from canary.sim.driver import reconcile

RECONCILES = 60
MAX_STEP_SECONDS = 5.0


@dataclass(frozen=True)
class Frame:
    """What one reconcile left behind, with every weight as a fraction of maxTrafficWeight."""

    phase: str
    step: int | None
    paused: tuple[str, ...]
    abort: bool
    replicas: tuple[tuple[str, int, int], ...]
    router_weight: Fraction
    status_weight: Fraction | None


def steps(unit: int) -> list[dict[str, Any]]:
    return [
        {"setWeight": 10 * unit},
        {"pause": {"duration": "20s"}},
        {"setWeight": 50 * unit},
        {"pause": {}},
        {"setWeight": 100 * unit},
        {"pause": {"duration": "10s"}},
    ]


def rollout(max_weight: int, canary: dict[str, Any]) -> Rollout:
    unit = max_weight // 100
    return scenarios.rollout(
        replicas=10,
        routed=True,
        steps=steps(unit),
        canary={"trafficRouting": {"smi": {}, "maxTrafficWeight": max_weight}, **canary},
    )


def frame(cluster: MemoryCluster, max_weight: int) -> Frame:
    current = cluster.get_rollout("default", "web")
    status = current.status
    observed = cluster.observe(current)
    roles = {status.stable_rs: "stable", status.current_pod_hash: "canary"}
    weights = status.canary.weights
    return Frame(
        phase=str(status.phase),
        step=status.current_step_index,
        paused=tuple(str(c.reason) for c in status.pause_conditions),
        abort=status.abort,
        replicas=tuple(
            sorted(
                (roles.get(rs.pod_template_hash, "old"), rs.replicas, rs.available)
                for rs in observed.replica_sets
            )
        ),
        router_weight=Fraction(observed.router_weight or 0, max_weight),
        status_weight=None if weights is None else Fraction(weights.canary.weight, max_weight),
    )


def frames(max_weight: int, canary: dict[str, Any], verb: str) -> list[Frame]:
    """Deploy web:1, release web:2, then reconcile once per round; at the indefinite pause, `verb`."""
    clock = ManualClock()
    cluster = MemoryCluster(clock, pods=ready_after(3))
    cluster.create(rollout(max_weight, canary))
    for service in ("web-stable", "web-canary"):
        cluster.create_service("default", service)
    for _ in range(5):
        reconcile(cluster, "default", "web")
        clock.advance(MAX_STEP_SECONDS)
    released = commands.set_image(cluster.get_rollout("default", "web"), "web", "web:2")[0]
    cluster.patch_rollout("default", "web", released)
    seen = []
    for _ in range(RECONCILES):
        current = cluster.get_rollout("default", "web")
        if current.status.current_step_index == 3 and current.status.pause_conditions:
            patches = commands.promote(current) if verb == "promote" else commands.abort(current, clock.now())
            for patch in patches:
                cluster.patch_rollout("default", "web", patch)
        decision = reconcile(cluster, "default", "web")
        seen.append(frame(cluster, max_weight))
        due = [MAX_STEP_SECONDS, decision.requeue_after or MAX_STEP_SECONDS]
        next_pod = cluster.next_due()
        if next_pod is not None:
            due.append((next_pod - clock.now()).total_seconds())
        clock.advance(max(min(due), 0.001))
    return seen


@pytest.mark.parametrize("verb", ["promote", "abort"])
@pytest.mark.parametrize(
    "canary",
    [{}, {"dynamicStableScale": True, "scaleDownDelaySeconds": 0}],
    ids=["full-stable", "dynamic-stable-scale"],
)
def test_a_rollout_with_max_traffic_weight_1000_moves_as_one_with_100(
    canary: dict[str, Any], verb: str
) -> None:
    assert frames(1000, canary, verb) == frames(100, canary, verb)


@pytest.mark.parametrize("verb", ["promote", "abort"])
def test_the_comparison_sees_the_canary_take_traffic_and_then_end(verb: str) -> None:
    seen = frames(1000, {}, verb)
    assert Fraction(1, 2) in {f.router_weight for f in seen}
    last = seen[-1]
    if verb == "promote":
        assert last.phase == "Healthy" and last.router_weight == 0
    else:
        assert last.abort and last.router_weight == 0 and last.status_weight == 0
