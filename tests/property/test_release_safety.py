"""Availability is an invariant: over random specs, pod failures and user actions, no decision of
the controller takes available pods below `replicas - maxUnavailable`, grows the pods past
`replicas + maxSurge`, or routes traffic to a side with no available pod, nor (with a router, whose
proxy routes by the Services' ready endpoints, which may lag the pods) raises the canary's weight
while none of its pods is a ready endpoint of the canary Service.

Each example deploys a stable revision on the embedded cluster, then plays a random script of
verbs (promote, abort, retry, undo, scale, restart, a new template), pod failures and clock jumps,
checking every decision before it is applied.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scripted_world import ScriptedWorld, scaled, scripts

from canary.api.rollout import Rollout
from canary.engine import targets
from canary.engine.actions import SetTrafficWeight
from canary.engine.observed import Observed
from canary.engine.rollout import Decision
from canary.sim import scenarios

ERROR_RATE = {"templates": [{"templateName": "error-rate"}]}
steps = st.lists(
    st.one_of(
        st.builds(lambda w: {"setWeight": w}, st.integers(0, 100)),
        st.builds(lambda d: {"pause": {"duration": d}}, st.integers(0, 30)),
        st.just({"pause": {}}),
        st.just({"analysis": ERROR_RATE}),
    ),
    max_size=5,
)


def check_availability(rollout: Rollout, observed: Observed, decision: Decision) -> None:
    if rollout.spec.strategy.canary.traffic_routing is not None:
        return  # with a router, traffic follows weights: `check_traffic` covers it
    _, unavailable = targets.surge_and_unavailable(rollout)
    floor = rollout.spec.replicas - unavailable
    before = sum(rs.available for rs in observed.replica_sets)
    after = sum(available for _, available in scaled(observed, decision).values())
    assert after >= min(before, floor), f"available {before} -> {after}, floor {floor}"


def check_surge(rollout: Rollout, observed: Observed, decision: Decision) -> None:
    if rollout.spec.strategy.canary.traffic_routing is not None:
        return  # maxSurge applies only without a router (Argo's semantics)
    surge, _ = targets.surge_and_unavailable(rollout)
    cap = rollout.spec.replicas + surge
    before = sum(rs.replicas for rs in observed.replica_sets)
    after = sum(count for count, _ in scaled(observed, decision).values())
    after += sum(a.replicas for a in decision.actions if type(a).__name__ == "CreateReplicaSet")
    assert after <= max(cap, before), f"pods {before} -> {after}, cap {cap}"
    assert before <= cap or after <= before, "above the cap, pods only go down"


def check_traffic(rollout: Rollout, observed: Observed, decision: Decision) -> None:
    max_weight = rollout.spec.strategy.canary.max_weight
    for action in decision.actions:
        if not isinstance(action, SetTrafficWeight):
            continue
        canary = observed.replica_set(action.canary_hash)
        stable = observed.replica_set(action.stable_hash)
        if action.canary_weight > 0:
            assert canary is not None and canary.available > 0, "canary traffic reaches available pods"
        if action.canary_weight > (observed.router_weight or 0):
            service = rollout.spec.strategy.canary.canary_service or ""
            endpoints = observed.ready_endpoints.get(service, {}).get(action.canary_hash, 0)
            assert endpoints > 0, "a raised canary weight reaches ready endpoints of the canary Service"
        if action.canary_weight < max_weight and (observed.router_weight or 0) < max_weight:
            # stable already served: it keeps serving only while some of its pods are available,
            # or the canary, the only side with pods, keeps its share
            assert (
                stable is None
                or stable.available > 0
                or action.canary_weight >= (observed.router_weight or 0)
            )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=steps,
    replicas=st.integers(1, 5),
    surge=st.integers(0, 2),
    unavailable=st.integers(0, 2),
    routing=st.sampled_from(["none", "router", "dynamic"]),
    actions=scripts,
    endpoints_after=st.sampled_from([0.0, 1.5]),
    background=st.sampled_from([None, {}, {"startingStep": 1}]),
    paced=st.booleans(),
)
def test_no_decision_takes_availability_below_the_budget(
    *,
    steps: list[dict[str, Any]],
    replicas: int,
    surge: int,
    unavailable: int,
    routing: str,
    actions: list[tuple[str, Any]],
    endpoints_after: float,
    background: dict[str, Any] | None,
    paced: bool,
) -> None:
    canary: dict[str, Any] = {"maxSurge": surge, "maxUnavailable": unavailable or (0 if surge else 1)}
    if background is not None:
        canary["analysis"] = ERROR_RATE | background
    if routing == "none":
        canary |= {"canaryService": "web-canary", "stableService": "web-stable"}
    elif routing == "dynamic":
        canary |= {"dynamicStableScale": True}
    rollout = scenarios.rollout(replicas=replicas, steps=steps, routed=routing != "none", canary=canary)
    world = ScriptedWorld(
        rollout,
        ["web-stable", "web-canary"],
        [check_availability, check_surge, check_traffic],
        endpoints_after,
        paced=paced,
    )
    world.play(actions)
