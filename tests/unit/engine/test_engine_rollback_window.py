"""rollbackWindow.revisions: a template change back to one of the N revisions before the stable one
skips the steps, as Argo Rollouts' `isRollbackWithinWindow` decides it."""

from datetime import timedelta

from builders import replica_set, revision

from canary.api.rollout import Rollout, RolloutStatus
from canary.engine.actions import EmitEvent
from canary.engine.clock import EPOCH
from canary.engine.observed import Observed, ReplicaSetView
from canary.engine.rollout import Decision, decide
from canary.sim import scenarios

NOW = EPOCH
V1, V2, V3, V4 = (revision(f"web:{n}") for n in (1, 2, 3, 4))
STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]
WINDOW_EVENT = "Rollback to active ReplicaSets within RollbackWindow"


def rs(pod_hash: str, number: int, replicas: int = 0) -> ReplicaSetView:
    created = NOW + timedelta(minutes=number)
    return replica_set(pod_hash, replicas=replicas, revision=number, created_at=created)

def back_to(image: str, window: int | None, *, stable: str = V3, current: str = V3) -> Rollout:
    spec = {"rollbackWindow": {"revisions": window}} if window is not None else {}
    base = scenarios.rollout(image=image, routed=True, steps=STEPS, spec=spec)
    index = len(STEPS) if stable == current else 1
    status = RolloutStatus(stable_rs=stable, current_pod_hash=current, current_step_index=index)
    return base.model_copy(update={"status": status})


def decide_on(rollout: Rollout, *sets: ReplicaSetView) -> Decision:
    selectors = {"web-stable": rollout.status.stable_rs, "web-canary": rollout.status.stable_rs}
    return decide(rollout, Observed(replica_sets=sets, service_selectors=selectors), NOW)  # type: ignore[arg-type]


def skip_events(decision: Decision) -> list[str]:
    return [a.message for a in decision.actions if isinstance(a, EmitEvent) and a.reason == "SkipSteps"]


HISTORY = (rs(V1, 1), rs(V2, 2), rs(V3, 3, replicas=4))


def test_back_to_the_revision_before_stable_within_the_window_skips_every_step() -> None:
    decision = decide_on(back_to("web:2", 1), *HISTORY)
    assert decision.status.current_pod_hash == V2
    assert decision.status.current_step_index == len(STEPS)
    assert not decision.status.pause_conditions
    assert skip_events(decision) == [WINDOW_EVENT]


def test_without_a_rollback_window_going_back_runs_the_steps_again() -> None:
    decision = decide_on(back_to("web:2", None), *HISTORY)
    assert decision.status.current_step_index == 0
    assert skip_events(decision) == []


def test_a_revision_with_as_many_revisions_after_it_as_the_window_is_outside() -> None:
    outside = decide_on(back_to("web:1", 1), *HISTORY)
    assert outside.status.current_step_index == 0
    inside = decide_on(back_to("web:1", 2), *HISTORY)
    assert inside.status.current_step_index == len(STEPS)


def test_only_revisions_between_the_target_and_stable_count_not_an_unpromoted_canary() -> None:
    # Argo's e2e RollbackInsideWindow: 1, 2 stable, 3 paused as canary, then back to 1 with window 1.
    rollout = back_to("web:1", 1, stable=V2, current=V3)
    decision = decide_on(rollout, rs(V1, 1), rs(V2, 2, replicas=4), rs(V3, 3, replicas=1))
    assert decision.status.current_step_index == len(STEPS)


def test_a_revision_the_history_limit_deleted_is_a_new_release() -> None:
    decision = decide_on(back_to("web:2", 3), rs(V1, 1), rs(V3, 3, replicas=4))
    assert decision.status.current_step_index == 0


def test_a_newer_revision_than_stable_is_never_a_rollback() -> None:
    rollout = back_to("web:4", 5, stable=V2, current=V3)
    decision = decide_on(rollout, rs(V2, 2, replicas=4), rs(V3, 3, replicas=1), rs(V4, 4))
    assert decision.status.current_step_index == 0


def test_a_fast_tracked_rollback_is_promoted_once_its_pods_are_available() -> None:
    decision = decide_on(back_to("web:2", 1), rs(V1, 1), rs(V2, 2, replicas=4), rs(V3, 3, replicas=4))
    assert decision.status.stable_rs == V2
    assert skip_events(decision) == [WINDOW_EVENT]
    completed = [
        a.message for a in decision.actions if isinstance(a, EmitEvent) and a.reason == "RolloutCompleted"
    ]
    assert completed == [f"Rollout completed update to revision 2 ({V2}): Rollback within window"]


def test_the_fast_track_survives_the_next_decision() -> None:
    first = decide_on(back_to("web:2", 1), *HISTORY)
    rollout = back_to("web:2", 1).model_copy(update={"status": first.status})
    second = decide_on(rollout, rs(V1, 1), rs(V2, 2, replicas=4), rs(V3, 3, replicas=4))
    assert second.status.current_step_index == len(STEPS)
    assert skip_events(second) == []
