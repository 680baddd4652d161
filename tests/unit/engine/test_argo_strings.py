"""Status messages, condition reasons and Events in Argo Rollouts' words (docs/argo-strings.md), with
Argo's revision numbers; one behaviour per test."""

from datetime import timedelta

from builders import replica_set, revision

from canary.api.analysis import AnalysisPhase, AnalysisRun, AnalysisRunStatus
from canary.api.rollout import (
    CanaryStep,
    PauseCondition,
    PauseReason,
    Rollout,
    RolloutAnalysisRunStatus,
    RolloutStatus,
)
from canary.engine import status as status_of
from canary.engine import steps as step_list
from canary.engine.actions import CreateReplicaSet, EmitEvent, PodHash, ScaleReplicaSet, SetServiceSelector
from canary.engine.clock import EPOCH
from canary.engine.observed import Observed, ReplicaSetView
from canary.engine.rollout import decide, strategy_of
from canary.engine.scaling_events import scaling_events
from canary.sim import scenarios

NOW = EPOCH
V1, V2 = revision("web:1"), revision("web:2")
SERVICES = {"web-stable": V1, "web-canary": V1}
STEPS = [
    {"setWeight": 20},
    {"pause": {"duration": "30s"}},
    {"analysis": {"templates": [{"templateName": "t"}]}},
]


def rs(pod_hash: str, replicas: int, revision: int, available: int | None = None) -> ReplicaSetView:
    return replica_set(pod_hash, replicas=replicas, revision=revision, available=available)

def rollout(steps: list | None = None, **status: object) -> Rollout:
    built = scenarios.rollout(image="web:2", routed=True, steps=STEPS if steps is None else steps)
    return built.model_copy(update={"status": RolloutStatus.model_validate(status)})


def seen(*sets: ReplicaSetView, **kwargs: object) -> Observed:
    return Observed(replica_sets=sets, **kwargs)  # type: ignore[arg-type]


def cluster(*sets: ReplicaSetView) -> Observed:
    """What decide sees: these ReplicaSets and both Services."""
    return Observed(replica_sets=sets, service_selectors=SERVICES)  # type: ignore[arg-type]


def decided_on(**status: object) -> Rollout:
    """A Rollout without analysis steps (decide needs no templates) in this status."""
    return rollout([{"setWeight": 20}, {"pause": {"duration": "30s"}}], **status)


def status(**fields: object) -> RolloutStatus:
    return RolloutStatus.model_validate(fields)


def events(ro: Rollout, old: RolloutStatus, new: RolloutStatus, observed: Observed, **kwargs: object) -> list:
    return [
        (e.reason, e.message) for e in status_of.events_between(ro, old, new, observed=observed, strategy=strategy_of(ro), **kwargs)
    ]  # type: ignore[arg-type]


# --- Events from the status ---------------------------------------------------------------------


def test_a_new_template_is_rollout_updated_to_the_next_revision_number() -> None:
    old = status(stable_rs=V1, current_pod_hash=V1, current_step_index=3)
    new = status(stable_rs=V1, current_pod_hash=V2, current_step_index=0)
    assert events(rollout(), old, new, seen(rs(V1, 4, revision=7))) == [
        ("RolloutUpdated", "Rollout updated to revision 8")
    ]


def test_a_first_deploy_is_rollout_updated_then_completed_as_the_initial_deploy() -> None:
    new = status(stable_rs=V2, current_pod_hash=V2, current_step_index=3)
    assert events(rollout(), status(), new, seen()) == [
        ("RolloutUpdated", "Rollout updated to revision 1"),
        ("RolloutCompleted", f"Rollout completed update to revision 1 ({V2}): Initial deploy"),
    ]


def test_each_passed_step_is_rollout_step_completed_with_argos_step_string() -> None:
    old = status(stable_rs=V1, current_pod_hash=V2, current_step_index=0)
    new = status(stable_rs=V1, current_pod_hash=V2, current_step_index=2)
    assert events(rollout(), old, new, seen(rs(V1, 4, 1), rs(V2, 1, 2))) == [
        ("RolloutStepCompleted", "Rollout step 1/3 completed (setWeight: 20)"),
        ("RolloutStepCompleted", "Rollout step 2/3 completed (pause: 30s)"),
    ]


def test_promotion_is_rollout_completed_naming_revision_hash_and_all_steps() -> None:
    old = status(stable_rs=V1, current_pod_hash=V2, current_step_index=3)
    new = status(stable_rs=V2, current_pod_hash=V2, current_step_index=3)
    assert events(rollout(), old, new, seen(rs(V1, 4, 1), rs(V2, 4, 2))) == [
        ("RolloutCompleted", f"Rollout completed update to revision 2 ({V2}): Completed all 3 canary steps")
    ]


def test_promote_full_completes_as_a_full_promotion_without_step_events() -> None:
    old = status(stable_rs=V1, current_pod_hash=V2, current_step_index=0, promote_full=True)
    new = status(stable_rs=V2, current_pod_hash=V2, current_step_index=3)
    assert events(rollout(), old, new, seen(rs(V1, 4, 1), rs(V2, 4, 2))) == [
        ("RolloutCompleted", f"Rollout completed update to revision 2 ({V2}): Full promotion requested")
    ]


def test_a_template_back_to_stable_is_rollout_updated_and_skip_steps() -> None:
    old = status(stable_rs=V1, current_pod_hash=V2, current_step_index=1)
    new = status(stable_rs=V1, current_pod_hash=V1, current_step_index=3)
    assert events(rollout(), old, new, seen(rs(V1, 4, 1), rs(V2, 1, 2))) == [
        ("RolloutUpdated", "Rollout updated to revision 1"),
        ("SkipSteps", "Rollback to stable ReplicaSets"),
    ]


def test_the_first_pause_condition_is_rollout_paused_with_its_reason() -> None:
    old = status(stable_rs=V1, current_pod_hash=V2, current_step_index=1)
    pause = PauseCondition(reason=PauseReason.CANARY_PAUSE_STEP, start_time=NOW)
    new = old.model_copy(update={"pause_conditions": [pause], "controller_pause": True})
    assert events(rollout(), old, new, seen()) == [("RolloutPaused", "Rollout is paused (CanaryPauseStep)")]


def test_the_last_pause_condition_going_is_rollout_resumed() -> None:
    pause = PauseCondition(reason=PauseReason.CANARY_PAUSE_STEP, start_time=NOW)
    old = status(stable_rs=V1, current_pod_hash=V2, current_step_index=1, pause_conditions=[pause])
    new = old.model_copy(update={"pause_conditions": [], "controller_pause": False})
    assert events(rollout(), old, new, seen()) == [("RolloutResumed", "Rollout is resumed")]


def test_an_abort_clearing_the_pause_is_not_a_resume() -> None:
    pause = PauseCondition(reason=PauseReason.CANARY_PAUSE_STEP, start_time=NOW)
    old = status(stable_rs=V1, current_pod_hash=V2, current_step_index=1, pause_conditions=[pause])
    new = old.model_copy(update={"pause_conditions": [], "abort": True, "aborted_at": NOW})
    assert ("RolloutResumed", "Rollout is resumed") not in events(rollout(), old, new, seen())


def test_an_analysis_run_phase_change_is_announced_in_argos_words() -> None:
    def with_run(phase: str) -> RolloutStatus:
        record = RolloutAnalysisRunStatus(name="web-run", status=phase)
        return status(
            stable_rs=V1,
            current_pod_hash=V2,
            current_step_index=2,
            canary={"currentStepAnalysisRunStatus": record},
        )

    assert events(rollout(), with_run("Running"), with_run("Failed"), seen()) == [
        ("AnalysisRunFailed", "Step Analysis Run 'web-run' Status New: 'Failed' Previous: 'Running'")
    ]


def test_a_step_analysis_that_succeeds_and_is_passed_in_one_decision_still_reports_its_success() -> None:
    record = RolloutAnalysisRunStatus(name="web-run", status="Running")
    old = status(
        stable_rs=V1,
        current_pod_hash=V2,
        current_step_index=2,
        canary={"currentStepAnalysisRunStatus": record},
    )
    new = status(stable_rs=V1, current_pod_hash=V2, current_step_index=3)
    metric = {"name": "m", "provider": {"web": {"url": "http://x"}}}
    run = AnalysisRun.model_validate({"metadata": {"name": "web-run"}, "spec": {"metrics": [metric]}})
    run = run.model_copy(update={"status": AnalysisRunStatus(phase=AnalysisPhase.SUCCESSFUL)})
    assert events(rollout(), old, new, seen(analysis_runs=(run,))) == [
        ("AnalysisRunSuccessful", "Step Analysis Run 'web-run' Status New: 'Successful' Previous: 'Running'"),
        ("RolloutStepCompleted", "Rollout step 3/3 completed (analysis)"),
    ]


def test_a_new_router_weight_is_traffic_weight_updated_from_the_old_one() -> None:
    def weighted(weight: int) -> RolloutStatus:
        weights = {
            "canary": {"weight": weight, "podTemplateHash": V2},
            "stable": {"weight": 100 - weight, "podTemplateHash": V1},
        }
        return status(stable_rs=V1, current_pod_hash=V2, current_step_index=1, canary={"weights": weights})

    assert events(rollout(), weighted(0), weighted(20), seen()) == [
        ("TrafficWeightUpdated", "Traffic weight updated from 0 to 20")
    ]


# --- Events for the writes a decision asks for --------------------------------------------------


def test_a_created_replica_set_is_new_replica_set_created_then_scaled_up_from_zero() -> None:
    action = CreateReplicaSet(PodHash(V2), {}, 2, 5)
    assert [(e.reason, e.message) for e in scaling_events(rollout(), seen(), [action])] == [
        ("NewReplicaSetCreated", f"Created ReplicaSet web-{V2} (revision 5)"),
        ("ScalingReplicaSet", f"Scaled up ReplicaSet web-{V2} (revision 5) from 0 to 2"),
    ]


def test_a_scale_down_is_scaling_replica_set_from_the_observed_count() -> None:
    action = ScaleReplicaSet(PodHash(V1), 0)
    assert scaling_events(rollout(), seen(rs(V1, 4, 3)), [action]) == [
        EmitEvent("Normal", "ScalingReplicaSet", f"Scaled down ReplicaSet web-{V1} (revision 3) from 4 to 0")
    ]


def test_a_scale_to_the_count_already_asked_for_is_no_event() -> None:
    assert scaling_events(rollout(), seen(rs(V1, 4, 3)), [ScaleReplicaSet(PodHash(V1), 4)]) == []


def test_a_service_pointed_at_another_revision_is_switch_service() -> None:
    observed = seen(service_selectors={"web-canary": V1})
    action = SetServiceSelector("web-canary", PodHash(V2))
    assert scaling_events(rollout(), observed, [action]) == [
        EmitEvent(
            "Normal", "SwitchService", f"Switched selector for service 'web-canary' from '{V1}' to '{V2}'"
        )
    ]


# --- status.message and conditions --------------------------------------------------------------


def test_a_canary_with_fewer_pods_than_replicas_is_progressing_with_more_replicas_to_update() -> None:
    ro = decided_on(stable_rs=V1, current_pod_hash=V2, current_step_index=0)
    decision = decide(ro, cluster(rs(V1, 4, 1), rs(V2, 1, 2, available=0)), NOW)
    progressing = next(c for c in decision.status.conditions if c.type == "Progressing")
    assert (decision.status.phase, decision.status.message) == (
        "Progressing",
        "more replicas need to be updated",
    )
    assert (progressing.reason, progressing.message) == (
        "ReplicaSetUpdated",
        f'ReplicaSet "web-{V2}" is progressing.',
    )


def test_spec_paused_is_paused_manually_with_progressing_unknown() -> None:
    ro = decided_on(stable_rs=V1, current_pod_hash=V2, current_step_index=0)
    ro = ro.model_copy(update={"spec": ro.spec.model_copy(update={"paused": True})})
    decision = decide(ro, cluster(rs(V1, 4, 1), rs(V2, 1, 2)), NOW)
    progressing = next(c for c in decision.status.conditions if c.type == "Progressing")
    assert (decision.status.phase, decision.status.message) == ("Paused", "manually paused")
    assert (progressing.status, progressing.reason, progressing.message) == (
        "Unknown",
        "RolloutPaused",
        "Rollout is paused",
    )


def test_an_abort_is_degraded_rollout_aborted_update_to_the_canary_revision() -> None:
    ro = decided_on(stable_rs=V1, current_pod_hash=V2, current_step_index=1, abort=True, aborted_at=NOW)
    decision = decide(ro, cluster(rs(V1, 4, 1), rs(V2, 1, 2)), NOW)
    assert decision.status.message == "RolloutAborted: Rollout aborted update to revision 2"
    assert ("RolloutAborted", "Rollout aborted update to revision 2") in [
        (e.reason, e.message) for e in decision.actions if isinstance(e, EmitEvent)
    ]


def test_deciding_again_on_an_aborted_status_keeps_its_message_once() -> None:
    message = "RolloutAborted: Rollout aborted update to revision 2: AnalysisRun 'web-run' Failed"
    ro = decided_on(
        stable_rs=V1, current_pod_hash=V2, current_step_index=1, abort=True, aborted_at=NOW, message=message
    )
    decision = decide(ro, cluster(rs(V1, 4, 1), rs(V2, 1, 2)), NOW)
    assert decision.status.message == message


def test_a_progress_deadline_is_degraded_naming_the_replica_set_that_timed_out() -> None:
    ro = scenarios.rollout(image="web:2", routed=True, steps=[{"setWeight": 20}])
    ro = ro.model_copy(
        update={"status": RolloutStatus.model_validate({"stableRS": V1, "currentPodHash": V2})}
    )
    observed = cluster(rs(V1, 4, 1), rs(V2, 1, 2, available=0))
    first = decide(ro, observed, NOW)
    later = decide(ro.model_copy(update={"status": first.status}), observed, NOW + timedelta(seconds=601))
    assert (
        later.status.message == f'ProgressDeadlineExceeded: ReplicaSet "web-{V2}" has timed out progressing.'
    )


def test_the_conditions_carry_argos_reasons_and_messages() -> None:
    ro = decided_on(stable_rs=V1, current_pod_hash=V2, current_step_index=0)
    decision = decide(ro, cluster(rs(V1, 4, 1), rs(V2, 1, 2, available=0)), NOW)
    shown = {c.type: (c.status, c.reason, c.message) for c in decision.status.conditions}
    assert shown["Available"] == ("True", "AvailableReason", "Rollout has minimum availability")
    assert shown["Paused"] == ("False", "RolloutPaused", "Rollout is paused")
    assert shown["Healthy"] == ("False", "RolloutHealthy", "Rollout is not healthy")
    assert shown["Completed"] == ("False", "RolloutCompleted", "RolloutCompleted")


def test_an_invalid_spec_says_the_rollout_is_invalid_as_argo_does() -> None:
    ro = scenarios.rollout(image="web:2", routed=True, steps=[{"setWeight": 20}])
    decision = decide(ro, seen(), NOW)  # neither Service exists
    assert decision.status.message.startswith('InvalidSpec: The Rollout "web" is invalid: ')


# --- step strings ---------------------------------------------------------------------------------


def test_steps_are_named_as_argos_canary_step_string() -> None:
    named = [
        step_list.argo_string(CanaryStep.model_validate(step))
        for step in (
            {"setWeight": 20},
            {"pause": {}},
            {"pause": {"duration": "1m"}},
            {"pause": {"duration": 30}},
            {"analysis": {"templates": [{"templateName": "t"}]}},
            {"setCanaryScale": {"weight": 20}},
            {"setCanaryScale": {"replicas": 2}},
            {"setCanaryScale": {"matchTrafficWeight": True}},
        )
    ]
    assert named == [
        "setWeight: 20",
        "pause",
        "pause: 1m",
        "pause: 30",
        "analysis",
        "setCanaryScale{weight: 20}",
        "setCanaryScale{replicas: 2}",
        "setCanaryScale{matchTrafficWeight: true}",
    ]
