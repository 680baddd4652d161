"""Availability is an invariant: over random specs, pod failures and user actions, no decision of
the controller takes available pods below `replicas - maxUnavailable`, grows the pods past
`replicas + maxSurge`, or routes traffic to a side with no available pod.

Each example deploys a stable revision on the embedded cluster, then plays a random script of
verbs (promote, abort, retry, undo, scale, restart, a new template), pod failures and clock jumps,
checking every decision before it is applied.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canary.api.rollout import Rollout
from canary.cluster.memory import MemoryCluster
from canary.cluster.writes import write_decision
from canary.engine import commands, targets
from canary.engine.actions import RestartPods, ScaleReplicaSet, SetTrafficWeight
from canary.engine.clock import ManualClock
from canary.engine.commands import CommandError, Patch
from canary.engine.hashing import pod_template_hash
from canary.engine.observed import Observed
from canary.engine.rollout import Decision, decide
from canary.sim import scenarios

NS, NAME = "default", "web"

steps = st.lists(
    st.one_of(
        st.builds(lambda w: {"setWeight": w}, st.integers(0, 100)),
        st.builds(lambda d: {"pause": {"duration": d}}, st.integers(0, 30)),
        st.just({"pause": {}}),
    ),
    max_size=5,
)
verbs = st.sampled_from(["promote", "promote-full", "abort", "retry", "undo", "restart"])
script = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.floats(0.5, 40)),
        st.tuples(st.just("verb"), verbs),
        st.tuples(st.just("scale"), st.integers(1, 6)),
        st.tuples(st.just("release"), st.booleans()),
        st.tuples(st.just("fail"), st.tuples(st.booleans(), st.integers(1, 3))),
    ),
    min_size=1,
    max_size=20,
)


class World:
    def __init__(self, rollout: Rollout) -> None:
        self.clock = ManualClock()
        self.crashing: set[str] = set()
        self.cluster = MemoryCluster(self.clock, pods=lambda h: None if h in self.crashing else 2.0)
        self.cluster.create(rollout)
        for service in ("web-stable", "web-canary"):
            self.cluster.create_service(NS, service)
        self.version = 1

    def rollout(self) -> Rollout:
        return self.cluster.get_rollout(NS, NAME)

    def patch(self, patches: tuple[Patch, ...]) -> None:
        for patch in patches:
            self.cluster.patch_rollout(NS, NAME, patch)

    def verb(self, name: str) -> None:
        rollout, now = self.rollout(), self.clock.now()
        observed = self.cluster.observe(rollout)
        actions: dict[str, Any] = {
            "promote": lambda: commands.promote(rollout),
            "promote-full": lambda: commands.promote_full(rollout),
            "abort": lambda: commands.abort(rollout, now),
            "retry": lambda: commands.retry(rollout),
            "undo": lambda: commands.undo(rollout, observed.replica_sets),
            "restart": lambda: commands.restart(rollout, now),
        }
        try:
            self.patch(actions[name]())
        except CommandError:
            return

    def release(self, crash: bool) -> None:
        self.version += 1
        self.patch(commands.set_image(self.rollout(), NAME, f"web:{self.version}"))
        if crash:
            self.crashing.add(pod_template_hash(self.rollout().spec.template or {}))

    def fail(self, stable: bool, count: int) -> None:
        status = self.rollout().status
        side = status.stable_rs if stable else status.current_pod_hash
        if side:
            self.cluster.fail_pods(NS, side, count, back_after=5.0)

    def reconcile(self) -> None:
        for _ in range(5):
            rollout = self.rollout()
            observed = self.cluster.observe(rollout)
            decision = decide(rollout, observed, self.clock.now())
            check_availability(rollout, observed, decision)
            check_surge(rollout, observed, decision)
            check_traffic(rollout, observed, decision)
            write_decision(self.cluster, rollout, decision)
            if decision.status == rollout.status:
                break

    def tick(self, seconds: float) -> None:
        for _ in range(max(1, math.ceil(seconds / 2))):
            self.clock.advance(min(seconds, 2.0))
            self.reconcile()


def _after(observed: Observed, decision: Decision) -> dict[str, tuple[int, int]]:
    """(pods asked for, pods available) per revision once the decision's scaling is applied:
    scaling down removes unavailable pods first; a restart takes one available pod away."""
    scaled = {a.pod_template_hash: a.replicas for a in decision.actions if isinstance(a, ScaleReplicaSet)}
    restarted = {a.pod_template_hash for a in decision.actions if isinstance(a, RestartPods)}
    after = {}
    for rs in observed.replica_sets:
        count = scaled.get(rs.pod_template_hash, rs.replicas)
        available = min(rs.available, count) - (1 if rs.pod_template_hash in restarted else 0)
        after[rs.pod_template_hash] = (count, max(available, 0))
    return after


def check_availability(rollout: Rollout, observed: Observed, decision: Decision) -> None:
    if rollout.spec.strategy.canary.traffic_routing is not None:
        return  # with a router, traffic follows weights: `check_traffic` covers it
    _, unavailable = targets.surge_and_unavailable(rollout)
    floor = rollout.spec.replicas - unavailable
    before = sum(rs.available for rs in observed.replica_sets)
    after = sum(available for _, available in _after(observed, decision).values())
    assert after >= min(before, floor), f"available {before} -> {after}, floor {floor}"


def check_surge(rollout: Rollout, observed: Observed, decision: Decision) -> None:
    if rollout.spec.strategy.canary.traffic_routing is not None:
        return  # maxSurge applies only without a router (Argo's semantics)
    surge, _ = targets.surge_and_unavailable(rollout)
    cap = rollout.spec.replicas + surge
    before = sum(rs.replicas for rs in observed.replica_sets)
    after = sum(count for count, _ in _after(observed, decision).values())
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
        if action.canary_weight < max_weight and (observed.router_weight or 0) < max_weight:
            # stable already served: it keeps serving only while some of its pods are available,
            # or the canary, the only side with pods, keeps its share
            assert stable is None or stable.available > 0 or action.canary_weight >= (observed.router_weight or 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=steps,
    replicas=st.integers(1, 5),
    surge=st.integers(0, 2),
    unavailable=st.integers(0, 2),
    routing=st.sampled_from(["none", "router", "dynamic"]),
    actions=script,
)
def test_no_decision_takes_availability_below_the_budget(
    *,
    steps: list[dict[str, Any]],
    replicas: int,
    surge: int,
    unavailable: int,
    routing: str,
    actions: list[tuple[str, Any]],
) -> None:
    canary: dict[str, Any] = {"maxSurge": surge, "maxUnavailable": unavailable or (0 if surge else 1)}
    if routing == "none":
        canary |= {"canaryService": "web-canary", "stableService": "web-stable"}
    elif routing == "dynamic":
        canary |= {"dynamicStableScale": True}
    world = World(scenarios.rollout(replicas=replicas, steps=steps, routed=routing != "none", canary=canary))
    world.reconcile()
    world.tick(4)
    for kind, value in actions:
        if kind == "tick":
            world.tick(value)
        elif kind == "verb":
            world.verb(value)
        elif kind == "scale":
            world.patch((Patch("spec", {"replicas": value}),))
        elif kind == "release":
            world.release(value)
        else:
            world.fail(*value)
        world.reconcile()
