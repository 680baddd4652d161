"""Blue-green availability is an invariant: over random blue-green specs, pod failures and user
actions, the active Service only ever moves to a ReplicaSet with at least `replicas - maxUnavailable`
available pods (never to a scaled-down or unavailable one), and no decision scales the ReplicaSet
the active Service selects below that floor.

Each example deploys a stable revision on the embedded cluster, then plays a random script of verbs
(promote, promote --full, abort, retry, undo, restart), releases (some whose pods never become
ready), scaling, pod failures and clock jumps, checking every decision before it is applied.
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
from canary.engine.actions import RestartPods, ScaleReplicaSet, SetServiceSelector
from canary.engine.clock import ManualClock
from canary.engine.commands import CommandError, Patch
from canary.engine.hashing import pod_template_hash
from canary.engine.observed import Observed
from canary.engine.rollout import Decision, decide

NS, NAME, ACTIVE, PREVIEW = "default", "web", "web-active", "web-preview"

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
blue_green = st.fixed_dictionaries(
    {
        "autoPromotionEnabled": st.booleans(),
        "autoPromotionSeconds": st.sampled_from([0, 5]),
        "maxUnavailable": st.integers(0, 2),
        "scaleDownDelaySeconds": st.sampled_from([0, 5, 30]),
        "abortScaleDownDelaySeconds": st.sampled_from([0, 3, 30]),
    },
    optional={"previewReplicaCount": st.integers(0, 2), "scaleDownDelayRevisionLimit": st.integers(0, 2)},
)


def _template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": NAME}}, "spec": {"containers": [{"name": NAME, "image": image}]}}


class World:
    def __init__(self, replicas: int, strategy: dict[str, Any]) -> None:
        self.clock = ManualClock()
        self.crashing: set[str] = set()
        self.cluster = MemoryCluster(self.clock, pods=lambda h: None if h in self.crashing else 2.0)
        for service in (ACTIVE, PREVIEW):
            self.cluster.create_service(NS, service)
        rollout = {
            "metadata": {"name": NAME, "namespace": NS},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": NAME}},
                "template": _template("web:1"),
                "strategy": {"blueGreen": {"activeService": ACTIVE, "previewService": PREVIEW, **strategy}},
            },
        }
        self.cluster.create(Rollout.model_validate(rollout))
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
            check_active_service(rollout, observed, decision)
            write_decision(self.cluster, rollout, decision)
            if decision.status == rollout.status:
                break

    def tick(self, seconds: float) -> None:
        for _ in range(max(1, math.ceil(seconds / 2))):
            self.clock.advance(min(seconds, 2.0))
            self.reconcile()


def _available_after(observed: Observed, decision: Decision, pod_hash: str) -> tuple[int, int]:
    """(pods asked for, pods available) of one revision once the decision's scaling is applied:
    scaling down removes unavailable pods first; a restart takes one available pod away."""
    seen = observed.replica_set(pod_hash)
    if seen is None:
        return 0, 0
    count = next(
        (a.replicas for a in decision.actions if isinstance(a, ScaleReplicaSet) and a.pod_template_hash == pod_hash),
        seen.replicas,
    )
    restarted = any(isinstance(a, RestartPods) and a.pod_template_hash == pod_hash for a in decision.actions)
    return count, max(0, min(seen.available, count) - (1 if restarted else 0))


def check_active_service(rollout: Rollout, observed: Observed, decision: Decision) -> None:
    _, unavailable = targets.surge_and_unavailable(rollout)
    floor = max(rollout.spec.replicas - unavailable, 0)
    # A move needs a ReplicaSet that serves: never one with no available pod.
    move_floor = max(floor, 1 if rollout.spec.replicas > 0 else 0)
    before = observed.service_selectors.get(ACTIVE)
    moves = [a for a in decision.actions if isinstance(a, SetServiceSelector) and a.service == ACTIVE]
    after = moves[-1].pod_template_hash if moves else before
    if after is None:
        return
    target = observed.replica_set(after)
    if after != before:
        available = target.available if target is not None else 0
        assert available >= move_floor, (
            f"active Service moved to a ReplicaSet with {available} available, floor {move_floor}"
        )
    kept_before = target.available if target is not None else 0
    count, available = _available_after(observed, decision, after)
    assert available >= min(kept_before, floor), (
        f"the ReplicaSet the active Service selects went from {kept_before} to {available} available "
        f"({count} asked for), floor {floor}"
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replicas=st.integers(1, 5), strategy=blue_green, actions=script)
def test_the_active_service_always_selects_a_replica_set_with_the_pods_to_serve(
    *, replicas: int, strategy: dict[str, Any], actions: list[tuple[str, Any]]
) -> None:
    world = World(replicas, strategy)
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
