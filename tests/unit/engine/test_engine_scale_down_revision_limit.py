"""scaleDownDelayRevisionLimit: with a router, only the newest N old revisions wait out
scaleDownDelaySeconds; older ones are scaled down at once (Argo's `scaleDownDelayHelper`)."""

from datetime import datetime, timedelta

from builders import replica_set, revision

from canary.api.rollout import Rollout, RolloutStatus
from canary.engine.actions import PodHash, ScaleReplicaSet, SetScaleDownDeadline
from canary.engine.clock import EPOCH
from canary.engine.observed import Observed, ReplicaSetView
from canary.engine.rollout import Decision, decide
from canary.sim import scenarios

NOW = EPOCH
V3 = revision("web:3")
OLD1, OLD2 = PodHash("old1"), PodHash("old2")


def rs(pod_hash: str, number: int, replicas: int = 4, deadline: datetime | None = None) -> ReplicaSetView:
    return replica_set(pod_hash, replicas=replicas, revision=number, scale_down_deadline=deadline)

def promoted(**canary: object) -> Rollout:
    base = scenarios.rollout(image="web:3", routed=True, canary={"scaleDownDelaySeconds": 60, **canary})
    status = RolloutStatus(stable_rs=V3, current_pod_hash=V3, current_step_index=2)
    return base.model_copy(update={"status": status})


def decide_on(rollout: Rollout, *others: ReplicaSetView) -> Decision:
    seen = Observed(replica_sets=(rs(V3, 3), *others), service_selectors={"web-stable": V3, "web-canary": V3})
    return decide(rollout, seen, NOW)


def scaled(decision: Decision) -> dict[PodHash, int]:
    return {a.pod_template_hash: a.replicas for a in decision.actions if isinstance(a, ScaleReplicaSet)}


def deadlines(decision: Decision) -> dict[PodHash, datetime | None]:
    return {a.pod_template_hash: a.deadline for a in decision.actions if isinstance(a, SetScaleDownDeadline)}


def test_without_a_limit_every_old_revision_waits_out_the_delay() -> None:
    decision = decide_on(promoted(), rs(OLD1, 1), rs(OLD2, 2))
    assert OLD1 not in scaled(decision) and OLD2 not in scaled(decision)
    assert set(deadlines(decision)) == {OLD1, OLD2}


def test_beyond_the_limit_the_oldest_revisions_are_scaled_down_at_once() -> None:
    decision = decide_on(promoted(scaleDownDelayRevisionLimit=1), rs(OLD1, 1), rs(OLD2, 2))
    assert scaled(decision)[OLD1] == 0
    assert OLD2 not in scaled(decision)
    assert deadlines(decision) == {OLD2: NOW + timedelta(seconds=60)}


def test_an_old_revision_past_the_limit_goes_even_with_a_deadline_not_yet_due() -> None:
    later = NOW + timedelta(seconds=30)
    decision = decide_on(
        promoted(scaleDownDelayRevisionLimit=1), rs(OLD1, 1, deadline=later), rs(OLD2, 2, deadline=later)
    )
    assert scaled(decision) == {V3: 4, OLD1: 0}
    assert decision.requeue_after == 30


def test_revisions_already_scaled_down_do_not_count_against_the_limit() -> None:
    decision = decide_on(promoted(scaleDownDelayRevisionLimit=1), rs(OLD1, 1), rs(OLD2, 2, replicas=0))
    assert OLD1 not in scaled(decision)
    assert set(deadlines(decision)) == {OLD1}


def test_a_limit_of_zero_scales_every_old_revision_down_at_once() -> None:
    decision = decide_on(promoted(scaleDownDelayRevisionLimit=0), rs(OLD1, 1), rs(OLD2, 2))
    assert scaled(decision) == {V3: 4, OLD1: 0, OLD2: 0}
    assert deadlines(decision) == {}
