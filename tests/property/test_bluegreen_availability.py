"""Blue-green availability is an invariant: over random blue-green specs, pod failures and user
actions, the active Service only ever moves to a ReplicaSet with at least `replicas - maxUnavailable`
available pods (never to a scaled-down or unavailable one), and no decision scales the ReplicaSet
the active Service selects below that floor.

Each example deploys a stable revision on the embedded cluster, then plays a random script of verbs
(promote, promote --full, abort, retry, undo, restart), releases (some whose pods never become
ready), scaling, pod failures and clock jumps, checking every decision before it is applied.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scripted_world import NAME, NS, ScriptedWorld, scaled, scripts

from canary.api.rollout import Rollout
from canary.engine import targets
from canary.engine.actions import SetServiceSelector
from canary.engine.observed import Observed
from canary.engine.rollout import Decision

ACTIVE, PREVIEW = "web-active", "web-preview"
ERROR_RATE = {"templates": [{"templateName": "error-rate"}]}

blue_green = st.fixed_dictionaries(
    {
        "autoPromotionEnabled": st.booleans(),
        "autoPromotionSeconds": st.sampled_from([0, 5]),
        "maxUnavailable": st.integers(0, 2),
        "scaleDownDelaySeconds": st.sampled_from([0, 5, 30]),
        "abortScaleDownDelaySeconds": st.sampled_from([0, 3, 30]),
    },
    optional={
        "previewReplicaCount": st.integers(0, 2),
        "scaleDownDelayRevisionLimit": st.integers(0, 2),
        "prePromotionAnalysis": st.just(ERROR_RATE),
        "postPromotionAnalysis": st.just(ERROR_RATE),
    },
)


def check_active_service(rollout: Rollout, observed: Observed, decision: Decision) -> None:
    _, unavailable = targets.surge_and_unavailable(rollout)
    floor = max(rollout.spec.replicas - unavailable, 0)
    # A move needs a ReplicaSet that serves: never one with no available pod.
    move_floor = max(floor, 1 if rollout.spec.replicas > 0 else 0)
    before = observed.service_selectors.get(ACTIVE)
    moves = [a for a in decision.actions if isinstance(a, SetServiceSelector) and a.service == ACTIVE]
    moved_to = moves[-1].pod_template_hash if moves else before
    if moved_to is None:
        return
    target = observed.replica_set(moved_to)
    if moved_to != before:
        available = target.available if target is not None else 0
        assert available >= move_floor, (
            f"active Service moved to a ReplicaSet with {available} available, floor {move_floor}"
        )
    kept_before = target.available if target is not None else 0
    count, available = scaled(observed, decision).get(moved_to, (0, 0))
    assert available >= min(kept_before, floor), (
        f"the ReplicaSet the active Service selects went from {kept_before} to {available} available "
        f"({count} asked for), floor {floor}"
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replicas=st.integers(1, 5), strategy=blue_green, actions=scripts, paced=st.booleans())
def test_the_active_service_always_selects_a_replica_set_with_the_pods_to_serve(
    *, replicas: int, strategy: dict[str, Any], actions: list[tuple[str, Any]], paced: bool
) -> None:
    rollout = {
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": {"app": NAME}},
                "spec": {"containers": [{"name": NAME, "image": "web:1"}]},
            },
            "strategy": {"blueGreen": {"activeService": ACTIVE, "previewService": PREVIEW, **strategy}},
        },
    }
    world = ScriptedWorld(
        Rollout.model_validate(rollout), [ACTIVE, PREVIEW], [check_active_service], paced=paced
    )
    world.play(actions)
