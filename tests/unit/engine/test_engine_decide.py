"""decide(): the canary state machine, one behaviour per test, on hand-built observed states."""

from datetime import timedelta

from builders import replica_set, revision

from canary.api.analysis import AnalysisPhase, AnalysisRun, AnalysisRunStatus
from canary.api.rollout import PauseCondition, PauseReason, Rollout, RolloutAnalysisRunStatus, RolloutStatus
from canary.engine import commands
from canary.engine.actions import (
    CreateAnalysisRun,
    CreateReplicaSet,
    DeleteReplicaSet,
    EmitEvent,
    PodHash,
    ScaleReplicaSet,
    SetServiceSelector,
    SetTrafficWeight,
)
from canary.engine.clock import EPOCH
from canary.engine.observed import Observed, ReplicaSetView
from canary.engine.rollout import Decision, decide
from canary.engine.scaling_events import WRITE_EVENTS
from canary.sim import scenarios

NOW = EPOCH
V1, V2, V3 = revision("web:1"), revision("web:2"), revision("web:3")
SERVICES = {"web-stable": V1, "web-canary": V1}


def rs(pod_hash: str, replicas: int, available: int | None = None, revision: int = 1) -> ReplicaSetView:
    return replica_set(pod_hash, replicas=replicas, available=available, revision=revision)


def with_status(rollout: Rollout, **fields: object) -> Rollout:
    base = {"stable_rs": V1, "current_pod_hash": V2, "current_step_index": 0}
    return rollout.model_copy(update={"status": RolloutStatus.model_validate(base | fields)})


def kinds(decision: Decision, kind: type) -> list:
    return [action for action in decision.actions if isinstance(action, kind)]


def routed(steps: list, **kwargs: object) -> Rollout:
    return scenarios.rollout(image="web:2", routed=True, steps=steps, **kwargs)  # type: ignore[arg-type]


def observed(*sets: ReplicaSetView, **kwargs: object) -> Observed:
    return Observed(replica_sets=sets, service_selectors=SERVICES, **kwargs)  # type: ignore[arg-type]


def test_first_deploy_is_promoted_at_once_skipping_the_steps() -> None:
    rollout = scenarios.rollout(image="web:1", steps=[{"setWeight": 20}, {"pause": {}}])
    decision = decide(rollout, Observed(), NOW)
    assert decision.status.stable_rs == V1
    assert decision.status.current_step_index == 2
    assert kinds(decision, CreateReplicaSet)[0].replicas == 4


def test_a_template_change_mid_rollout_restarts_the_steps_for_the_new_revision() -> None:
    rollout = with_status(routed([{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]), current_step_index=2)
    rollout = rollout.model_copy(
        update={
            "spec": scenarios.rollout(
                image="web:3", routed=True, steps=[{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]
            ).spec
        }
    )
    decision = decide(rollout, observed(rs(V1, 4), rs(V2, 3, revision=2)), NOW)
    assert decision.status.current_pod_hash == V3
    assert decision.status.current_step_index == 0
    assert any(e.reason == "RolloutUpdated" for e in kinds(decision, EmitEvent))


def test_a_template_equal_to_stable_jumps_to_the_end_and_clears_an_abort() -> None:
    rollout = with_status(scenarios.rollout(image="web:1", routed=True), abort=True, aborted_at=NOW)
    decision = decide(rollout, observed(rs(V1, 4), rs(V2, 1, revision=2)), NOW)
    assert decision.status.current_step_index == len(rollout.spec.strategy.canary.steps)
    assert not decision.status.abort
    assert decision.status.current_pod_hash == V1


def test_weight_stays_at_zero_until_the_canary_has_its_pods_available() -> None:
    rollout = with_status(routed([{"setWeight": 20}, {"pause": {}}], replicas=10))
    waiting = decide(rollout, observed(rs(V1, 10), rs(V2, 2, available=0, revision=2)), NOW)
    assert kinds(waiting, SetTrafficWeight) == [SetTrafficWeight(0, V1, V2)]
    assert kinds(waiting, ScaleReplicaSet)[1] == ScaleReplicaSet(V2, 2)
    ready = decide(rollout, observed(rs(V1, 10), rs(V2, 2, revision=2)), NOW)
    assert kinds(ready, SetTrafficWeight) == [SetTrafficWeight(20, V1, V2)]


def test_the_weight_does_not_move_until_the_canary_is_fully_scaled_for_it() -> None:
    rollout = with_status(
        routed([{"setWeight": 20}, {"setWeight": 50}, {"pause": {}}], replicas=10),
        current_step_index=1,
        canary={"weights": {"canary": {"weight": 20, "podTemplateHash": V2}, "stable": {"weight": 80}}},
    )
    decision = decide(
        rollout, observed(rs(V1, 10), rs(V2, 5, available=3, revision=2), router_weight=20), NOW
    )
    assert kinds(decision, SetTrafficWeight) == [SetTrafficWeight(20, V1, V2)]


def test_a_timed_pause_requeues_for_the_time_left_then_continues() -> None:
    rollout = with_status(routed([{"pause": {"duration": "30s"}}, {"setWeight": 10}, {"pause": {}}]))
    started = decide(rollout, observed(rs(V1, 4), rs(V2, 0, revision=2)), NOW)
    assert started.requeue_after == 30
    assert started.status.phase == "Paused"
    resumed = decide(
        rollout.model_copy(update={"status": started.status}),
        observed(rs(V1, 4), rs(V2, 0, revision=2)),
        NOW + timedelta(seconds=30),
    )
    assert resumed.status.current_step_index >= 1


def test_an_indefinite_pause_waits_for_promote() -> None:
    rollout = with_status(routed([{"pause": {}}, {"setWeight": 10}, {"pause": {}}]))
    seen = observed(rs(V1, 4), rs(V2, 0, revision=2))
    paused = decide(rollout, seen, NOW)
    assert paused.status.pause_conditions[0].reason == PauseReason.CANARY_PAUSE_STEP
    assert (
        decide(
            rollout.model_copy(update={"status": paused.status}), seen, NOW + timedelta(hours=5)
        ).status.current_step_index
        == 0
    )
    promoted = commands.apply_patch(
        rollout.model_copy(update={"status": paused.status}),
        commands.promote(rollout.model_copy(update={"status": paused.status}))[0],
    )
    assert decide(promoted, seen, NOW).status.current_step_index == 1


def _analysis_rollout() -> Rollout:
    return with_status(routed([{"analysis": {"templates": [{"templateName": "error-rate"}]}}, {"pause": {}}]))


def _run(name: str, phase: AnalysisPhase, step: int = 0) -> AnalysisRun:
    run = decide(_analysis_rollout(), _observed_with_template(), NOW).actions
    created = next(a for a in run if isinstance(a, CreateAnalysisRun)).run
    assert created.metadata.name == name
    return created.model_copy(update={"status": AnalysisRunStatus(phase=phase, message="verdict")})


def _observed_with_template(*runs: AnalysisRun) -> Observed:
    return observed(
        rs(V1, 4),
        rs(V2, 0, revision=2),
        templates={"error-rate": scenarios.error_rate_template()},
        analysis_runs=runs,
    )


def test_an_analysis_step_creates_a_run_with_the_built_in_arguments() -> None:
    decision = decide(_analysis_rollout(), _observed_with_template(), NOW)
    run = kinds(decision, CreateAnalysisRun)[0].run
    args = {arg.name: arg.value for arg in run.spec.args}
    assert args["canary-hash"] == V2 and args["stable-hash"] == V1 and args["rollout-name"] == "web"


def _decide_with_verdict(phase: AnalysisPhase) -> Decision:
    name = f"web-{V2}-0-1"
    run = _run(name, phase)
    rollout = _analysis_rollout()
    recorded = rollout.status.model_copy(
        update={
            "canary": rollout.status.canary.model_copy(
                update={
                    "current_step_analysis_run_status": RolloutAnalysisRunStatus(name=name, status="Running")
                }
            )
        }
    )
    return decide(rollout.model_copy(update={"status": recorded}), _observed_with_template(run), NOW)


def test_a_successful_analysis_continues_to_the_next_step() -> None:
    assert _decide_with_verdict(AnalysisPhase.SUCCESSFUL).status.current_step_index == 1


def test_an_inconclusive_analysis_pauses_the_rollout() -> None:
    decision = _decide_with_verdict(AnalysisPhase.INCONCLUSIVE)
    assert decision.status.phase == "Paused"
    assert decision.status.pause_conditions[0].reason == PauseReason.INCONCLUSIVE_ANALYSIS


def test_a_failed_analysis_aborts_with_all_traffic_to_stable() -> None:
    decision = _decide_with_verdict(AnalysisPhase.FAILED)
    assert decision.status.abort and decision.status.phase == "Degraded"
    assert decision.status.message.startswith("RolloutAborted: ")
    assert kinds(decision, SetTrafficWeight) == [SetTrafficWeight(0, V1, V1)]


def test_an_errored_analysis_aborts() -> None:
    assert _decide_with_verdict(AnalysisPhase.ERROR).status.abort


def test_a_run_whose_name_never_reached_the_status_is_adopted_not_started_twice() -> None:
    # The controller was killed after creating the run and before the status write naming it.
    in_flight = _run(f"web-{V2}-0-1", AnalysisPhase.RUNNING)
    decision = decide(_analysis_rollout(), _observed_with_template(in_flight), NOW)
    assert kinds(decision, CreateAnalysisRun) == []
    record = decision.status.canary.current_step_analysis_run_status
    assert record is not None and record.name == in_flight.metadata.name


def test_a_finished_run_the_status_does_not_name_is_never_read_again() -> None:
    # After a retry the status forgets its runs: an old verdict must not decide the new attempt.
    old = _run(f"web-{V2}-0-1", AnalysisPhase.FAILED)
    decision = decide(_analysis_rollout(), _observed_with_template(old), NOW)
    (created,) = kinds(decision, CreateAnalysisRun)
    assert created.run.metadata.name == f"web-{V2}-0-2"
    assert not decision.status.abort


def test_a_missing_template_is_invalid_spec_and_moves_nothing() -> None:
    decision = decide(_analysis_rollout(), observed(rs(V1, 4)), NOW)
    assert decision.status.phase == "Degraded"
    assert "AnalysisTemplate 'error-rate' not found" in decision.status.message
    assert "steps[0].analysis.templates[0]" in decision.status.message
    assert all(isinstance(action, EmitEvent) for action in decision.actions)


def test_abort_sends_all_traffic_to_stable_at_once_and_keeps_canary_pods_for_the_delay() -> None:
    rollout = with_status(
        routed([{"setWeight": 50}, {"pause": {}}]), abort=True, aborted_at=NOW, current_step_index=1
    )
    seen = observed(rs(V1, 4), rs(V2, 2, revision=2), router_weight=50)
    decision = decide(rollout, seen, NOW)
    assert kinds(decision, SetTrafficWeight) == [SetTrafficWeight(0, V1, V1)]
    assert SetServiceSelector("web-canary", V1) in decision.actions
    assert ScaleReplicaSet(V2, 2) in decision.actions
    assert decision.requeue_after == 30
    later = decide(rollout, seen, NOW + timedelta(seconds=30))
    assert ScaleReplicaSet(V2, 0) in later.actions


def test_retry_restarts_the_steps_at_zero() -> None:
    rollout = with_status(
        routed([{"setWeight": 50}, {"pause": {}}]), abort=True, aborted_at=NOW, current_step_index=1
    )
    retried = commands.apply_patch(rollout, commands.retry(rollout)[0])
    decision = decide(retried, observed(rs(V1, 4), rs(V2, 0, revision=2)), NOW)
    assert not decision.status.abort
    assert decision.status.current_step_index == 0


def test_spec_paused_holds_the_current_step() -> None:
    rollout = with_status(routed([{"setWeight": 50}, {"pause": {}}], spec={"paused": True}))
    decision = decide(rollout, observed(rs(V1, 4), rs(V2, 2, revision=2)), NOW)
    assert decision.status.current_step_index == 0
    assert decision.status.phase == "Paused"


def test_promote_full_promotes_once_the_canary_has_every_pod() -> None:
    rollout = with_status(routed([{"setWeight": 10}, {"pause": {}}]), promote_full=True)
    scaling = decide(rollout, observed(rs(V1, 4), rs(V2, 1, revision=2)), NOW)
    assert ScaleReplicaSet(V2, 4) in scaling.actions and scaling.status.stable_rs == V1
    done = decide(rollout, observed(rs(V1, 4), rs(V2, 4, revision=2)), NOW)
    assert done.status.stable_rs == V2


def test_a_canary_that_never_becomes_ready_exceeds_the_progress_deadline() -> None:
    rollout = with_status(routed([{"setWeight": 50}, {"pause": {}}], spec={"progressDeadlineSeconds": 60}))
    seen = observed(rs(V1, 4), rs(V2, 2, available=0, revision=2))
    first = decide(rollout, seen, NOW)
    assert first.requeue_after == 60
    later = decide(rollout.model_copy(update={"status": first.status}), seen, NOW + timedelta(seconds=60))
    assert later.status.phase == "Degraded"
    assert later.status.message.startswith("ProgressDeadlineExceeded")
    assert not later.status.abort


def test_progress_deadline_abort_aborts_the_rollout() -> None:
    rollout = with_status(
        routed(
            [{"setWeight": 50}, {"pause": {}}],
            spec={"progressDeadlineSeconds": 60, "progressDeadlineAbort": True},
        )
    )
    seen = observed(rs(V1, 4), rs(V2, 2, available=0, revision=2))
    first = decide(rollout, seen, NOW)
    later = decide(rollout.model_copy(update={"status": first.status}), seen, NOW + timedelta(seconds=61))
    assert later.status.abort
    assert kinds(later, SetTrafficWeight) == [SetTrafficWeight(0, V1, V1)]


def test_the_deadline_does_not_run_while_paused() -> None:
    rollout = with_status(
        routed([{"pause": {}}], spec={"progressDeadlineSeconds": 60}),
        pause_conditions=[PauseCondition(reason=PauseReason.CANARY_PAUSE_STEP, start_time=NOW)],
        controller_pause=True,
    )
    decision = decide(rollout, observed(rs(V1, 4), rs(V2, 0, revision=2)), NOW + timedelta(hours=1))
    assert decision.status.phase == "Paused"


def test_old_replica_sets_beyond_the_history_limit_are_deleted() -> None:
    rollout = scenarios.rollout(image="web:1", spec={"revisionHistoryLimit": 1}).model_copy(
        update={"status": RolloutStatus(stable_rs=V1, current_pod_hash=V1, current_step_index=2)}
    )
    decision = decide(
        rollout,
        observed(
            rs(V1, 4, revision=4), rs("a", 0, revision=1), rs("b", 0, revision=2), rs("c", 0, revision=3)
        ),
        NOW,
    )
    assert kinds(decision, DeleteReplicaSet) == [
        DeleteReplicaSet(PodHash("b")),
        DeleteReplicaSet(PodHash("a")),
    ]


def test_deciding_on_its_own_status_changes_nothing_and_repeats_no_status_event() -> None:
    rollout = with_status(routed([{"setWeight": 50}, {"pause": {"duration": "1m"}}, {"setWeight": 80}]))
    seen = observed(rs(V1, 4), rs(V2, 2, revision=2))
    first = decide(rollout, seen, NOW)
    second = decide(rollout.model_copy(update={"status": first.status}), seen, NOW)
    assert second.status == first.status
    # The cluster is unchanged, so the same writes are asked for again, and only they are named again.
    assert not [e for e in kinds(second, EmitEvent) if e.reason not in WRITE_EVENTS]
    assert [a for a in second.actions if not isinstance(a, EmitEvent)] == [
        a for a in first.actions if not isinstance(a, EmitEvent)
    ]


def test_a_settled_rollout_keeps_its_status_as_time_passes() -> None:
    # A status that changed with the clock alone would be rewritten on every reconcile, and each
    # write's watch event would trigger the next reconcile: the controller would spin.
    rollout = scenarios.rollout(image="web:1", steps=[{"setWeight": 20}])
    seen = observed(rs(V1, 4))
    settled = decide(rollout.model_copy(update={"status": decide(rollout, seen, NOW).status}), seen, NOW)
    later = decide(rollout.model_copy(update={"status": settled.status}), seen, NOW + timedelta(hours=1))
    assert settled.status.phase == "Healthy"
    assert later.status == settled.status


def test_the_deadline_restarts_from_zero_when_a_pause_ends() -> None:
    paused = with_status(
        routed([{"pause": {}}, {"setWeight": 50}], spec={"progressDeadlineSeconds": 60}),
        pause_conditions=[PauseCondition(reason=PauseReason.CANARY_PAUSE_STEP, start_time=NOW)],
        controller_pause=True,
    )
    seen = observed(rs(V1, 4), rs(V2, 0, revision=2))
    held = decide(paused, seen, NOW).status
    resumed = paused.model_copy(update={"status": held.model_copy(update={"pause_conditions": []})})
    decision = decide(resumed, seen, NOW + timedelta(hours=1))
    assert decision.status.phase != "Degraded"


def test_changed_steps_mid_rollout_restart_at_the_first_step() -> None:
    old_steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]
    paused = decide(with_status(routed(old_steps), current_step_index=1), observed(rs(V1, 4), rs(V2, 1)), NOW)
    edited = routed([{"setWeight": 50}, {"pause": {}}, {"setWeight": 80}, {"pause": {}}])
    decision = decide(
        edited.model_copy(update={"status": paused.status}), observed(rs(V1, 4), rs(V2, 1)), NOW
    )
    assert decision.status.current_pod_hash == V2
    assert decision.status.current_step_index == 0
    assert decision.status.current_step_hash != paused.status.current_step_hash


def test_unchanged_steps_keep_the_step_index() -> None:
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]
    first = decide(with_status(routed(steps), current_step_index=1), observed(rs(V1, 4), rs(V2, 1)), NOW)
    again = decide(
        routed(steps).model_copy(update={"status": first.status}), observed(rs(V1, 4), rs(V2, 1)), NOW
    )
    assert again.status.current_step_index == first.status.current_step_index == 1


# Safety under dynamicStableScale, service switching, invalid specs and late verdicts

DYNAMIC = {"dynamicStableScale": True, "scaleDownDelaySeconds": 0}


def _weights(canary: int) -> dict[str, object]:
    return {
        "weights": {
            "canary": {"weight": canary, "podTemplateHash": V2},
            "stable": {"weight": 100 - canary, "podTemplateHash": V1},
        }
    }


def test_abort_with_dynamic_stable_scale_keeps_the_canary_share_until_stable_has_pods() -> None:
    rollout = with_status(
        routed([{"setWeight": 100}, {"pause": {}}], canary=DYNAMIC),
        current_step_index=1,
        abort=True,
        aborted_at=NOW,
        canary=_weights(100),
    )
    decision = decide(rollout, observed(rs(V1, 0, 0), rs(V2, 4, 4, revision=2), router_weight=100), NOW)
    assert kinds(decision, SetTrafficWeight)[0].canary_weight == 100
    assert ScaleReplicaSet(PodHash(V1), 4) in decision.actions
    assert ScaleReplicaSet(PodHash(V2), 4) in decision.actions


def test_abort_with_dynamic_stable_scale_returns_traffic_as_stable_pods_become_available() -> None:
    rollout = with_status(
        routed([{"setWeight": 100}, {"pause": {}}], canary=DYNAMIC),
        current_step_index=1,
        abort=True,
        aborted_at=NOW,
        canary=_weights(100),
    )
    half = decide(rollout, observed(rs(V1, 4, 2), rs(V2, 4, 4, revision=2), router_weight=100), NOW)
    full = decide(rollout, observed(rs(V1, 4, 4), rs(V2, 4, 4, revision=2), router_weight=50), NOW)
    assert kinds(half, SetTrafficWeight)[0].canary_weight == 50
    assert kinds(full, SetTrafficWeight)[0].canary_weight == 0


def test_lowering_the_weight_with_dynamic_stable_scale_waits_for_stable_pods() -> None:
    steps = [{"setWeight": 80}, {"pause": {}}, {"setWeight": 20}, {"pause": {}}]
    rollout = with_status(routed(steps, canary=DYNAMIC), current_step_index=2, canary=_weights(80))
    decision = decide(rollout, observed(rs(V1, 1, 1), rs(V2, 4, 4, revision=2), router_weight=80), NOW)
    assert kinds(decision, SetTrafficWeight)[0].canary_weight == 75  # stable's 1 of 4 pods carry 25%
    assert ScaleReplicaSet(PodHash(V2), 3) in decision.actions  # and the canary keeps pods for 75%
    assert decision.status.current_step_index == 2


def test_services_select_their_pods_before_the_weight_sends_traffic_through_them() -> None:
    rollout = with_status(
        routed([{"setWeight": 100}], canary=DYNAMIC), current_step_index=1, canary=_weights(100)
    )
    decision = decide(rollout, observed(rs(V1, 0, 0), rs(V2, 4, 4, revision=2), router_weight=100), NOW)
    order = [type(a) for a in decision.actions if isinstance(a, SetTrafficWeight | SetServiceSelector)]
    assert order.index(SetTrafficWeight) > max(
        i for i, kind in enumerate(order) if kind is SetServiceSelector
    )


def test_the_stable_service_waits_for_its_pods_on_a_first_deploy() -> None:
    # e.g. migrating from a Deployment: the Service still selects the Deployment's pods.
    rollout = scenarios.rollout(image="web:1", routed=True, steps=[{"setWeight": 20}])
    services = {"web-stable": None, "web-canary": None}
    starting = decide(rollout, Observed(replica_sets=(rs(V1, 4, 0),), service_selectors=services), NOW)
    ready = decide(rollout, Observed(replica_sets=(rs(V1, 4, 4),), service_selectors=services), NOW)
    assert SetServiceSelector("web-stable", PodHash(V1)) not in starting.actions
    assert SetServiceSelector("web-stable", PodHash(V1)) in ready.actions


def test_abort_still_sends_traffic_to_stable_when_the_spec_has_become_invalid() -> None:
    steps = [{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "error-rate"}]}}]
    rollout = with_status(
        routed(steps), current_step_index=1, abort=True, aborted_at=NOW, canary=_weights(50)
    )
    decision = decide(
        rollout, observed(rs(V1, 4), rs(V2, 2, revision=2), router_weight=50), NOW
    )  # template gone
    assert decision.status.phase == "Degraded"
    assert kinds(decision, SetTrafficWeight)[0].canary_weight == 0


def test_abort_still_sends_traffic_to_stable_when_a_referenced_template_does_not_validate() -> None:
    steps = [{"setWeight": 50}, {"pause": {}}, {"analysis": {"templates": [{"templateName": "error-rate"}]}}]
    rollout = with_status(
        routed(steps), current_step_index=1, abort=True, aborted_at=NOW, canary=_weights(50)
    )
    broken = {
        "error-rate": "spec.metrics[0].successCondition: 'result == = true' is not a valid CEL expression"
    }
    seen = observed(rs(V1, 4), rs(V2, 2, revision=2), router_weight=50, invalid_templates=broken)
    decision = decide(rollout, seen, NOW)
    assert kinds(decision, SetTrafficWeight) == [SetTrafficWeight(0, V1, V1)]
    assert decision.status.canary.weights is not None and decision.status.canary.weights.canary.weight == 0
    assert decision.status.phase == "Degraded"
    assert (
        "AnalysisTemplate 'error-rate' is invalid: spec.metrics[0].successCondition"
        in decision.status.message
    )
    assert [(e.type, e.reason) for e in kinds(decision, EmitEvent)] == [("Warning", "InvalidSpec")]


def test_a_background_analysis_failing_after_the_last_step_still_aborts() -> None:
    name = f"web-{V2}-bg-1"
    rollout = with_status(
        scenarios.rollout(
            image="web:2",
            steps=[{"setWeight": 50}],
            canary={"analysis": {"templates": [{"templateName": "error-rate"}]}},
        ),
        current_step_index=1,
        canary={"currentBackgroundAnalysisRunStatus": {"name": name, "status": "Running"}},
    )
    run = AnalysisRun.model_validate(
        {
            "metadata": {"name": name, "namespace": "default", "labels": {"rollouts-pod-template-hash": V2}},
            "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": "http://x"}}}]},
            "status": {"phase": "Failed", "message": "5xx 40%"},
        }
    )
    seen = Observed(
        replica_sets=(rs(V1, 2), rs(V2, 2, revision=2)),
        analysis_runs=(run,),
        templates={"error-rate": scenarios.error_rate_template()},
    )
    decision = decide(rollout, seen, NOW)
    assert decision.status.abort
    assert decision.status.phase == "Degraded"


def _lost_status(rollout: Rollout) -> Rollout:
    return rollout.model_copy(update={"status": RolloutStatus()})


def test_a_lost_status_takes_the_revision_still_serving_back_as_stable_and_restarts_the_steps() -> None:
    rollout = _lost_status(scenarios.rollout(image="web:2", steps=[{"setWeight": 20}, {"pause": {}}]))
    decision = decide(rollout, Observed(replica_sets=(rs(V1, 4), rs(V2, 1, 0, revision=2))), NOW)
    assert (decision.status.stable_rs, decision.status.current_pod_hash) == (V1, V2)
    assert decision.status.current_step_index == 0
    assert ScaleReplicaSet(V1, 0) not in decision.actions
    assert [e.reason for e in kinds(decision, EmitEvent)] == ["StableRecovered"]


def test_a_lost_status_takes_the_revision_the_stable_service_selects_over_a_bigger_one() -> None:
    rollout = _lost_status(routed([{"setWeight": 20}, {"pause": {}}]))
    seen = observed(rs(V1, 1), rs(V3, 3, revision=2), rs(V2, 1, revision=3))
    assert decide(rollout, seen, NOW).status.stable_rs == V1


def test_a_lost_status_takes_the_newest_of_equally_serving_older_revisions() -> None:
    rollout = _lost_status(scenarios.rollout(image="web:3"))
    seen = Observed(replica_sets=(rs(V2, 2, revision=2), rs(V1, 2, revision=1), rs(V3, 1, 0, revision=3)))
    assert decide(rollout, seen, NOW).status.stable_rs == V2


def test_a_lost_status_keeps_the_current_template_stable_when_the_stable_service_selects_it() -> None:
    # A finished rollout whose previous revision is still draining after scaleDownDelaySeconds.
    rollout = _lost_status(routed([{"setWeight": 20}, {"pause": {}}]))
    seen = Observed(
        replica_sets=(rs(V1, 4), rs(V2, 4, revision=2)),
        service_selectors={"web-stable": V2, "web-canary": V2},
    )
    decision = decide(rollout, seen, NOW)
    assert decision.status.stable_rs == V2
    assert not [e for e in kinds(decision, EmitEvent) if e.reason == "StableRecovered"]


def test_a_lost_status_with_only_the_current_revision_serving_is_a_first_deploy() -> None:
    rollout = _lost_status(scenarios.rollout(image="web:2", steps=[{"setWeight": 20}, {"pause": {}}]))
    drained = rs(V1, 0, 0)
    decision = decide(rollout, Observed(replica_sets=(drained, rs(V2, 4, revision=2))), NOW)
    assert decision.status.stable_rs == V2
    assert decision.status.current_step_index == 2


def test_a_lost_status_keeps_the_share_the_router_sends_the_canary_until_stable_has_the_pods() -> None:
    rollout = _lost_status(routed([{"setWeight": 20}, {"setWeight": 50}, {"pause": {}}], canary=DYNAMIC))
    seen = Observed(
        replica_sets=(rs(V1, 2), rs(V2, 2, revision=2)),
        service_selectors={"web-stable": V1, "web-canary": V2},
        router_weight=50,
    )
    decision = decide(rollout, seen, NOW)
    assert kinds(decision, SetTrafficWeight) == [SetTrafficWeight(50, V1, V2)]
    assert ScaleReplicaSet(PodHash(V1), 4) in decision.actions


def test_a_status_written_in_percent_before_max_traffic_weight_units_is_read_as_percent() -> None:
    max_1000 = {"trafficRouting": {"smi": {}, "maxTrafficWeight": 1000}}
    rollout = with_status(
        routed([{"setWeight": 500}, {"setWeight": 800}, {"pause": {}}], replicas=10, canary=max_1000),
        current_step_index=1,
        canary={"weights": {"canary": {"weight": 50, "podTemplateHash": V2}, "stable": {"weight": 50}}},
    )
    decision = decide(
        rollout, observed(rs(V1, 10), rs(V2, 8, available=5, revision=2), router_weight=500), NOW
    )
    assert kinds(decision, SetTrafficWeight) == [SetTrafficWeight(500, V1, V2)]


def test_a_background_analysis_starts_in_the_decision_that_reaches_its_starting_step() -> None:
    rollout = with_status(
        scenarios.rollout(
            image="web:2",
            steps=[{"setWeight": 50}, {"setWeight": 75}, {"pause": {}}],
            canary={"analysis": {"templates": [{"templateName": "error-rate"}], "startingStep": 1}},
        ),
        current_step_index=0,
    )
    seen = Observed(
        replica_sets=(rs(V1, 2), rs(V2, 2, revision=2)),
        templates={"error-rate": scenarios.error_rate_template()},
    )
    decision = decide(rollout, seen, NOW)
    assert decision.status.current_step_index is not None and decision.status.current_step_index >= 1
    assert len(kinds(decision, CreateAnalysisRun)) == 1, "started with the step, not by the next decision"
    again = decide(rollout.model_copy(update={"status": decision.status}), seen, NOW)
    assert kinds(again, CreateAnalysisRun) == kinds(decision, CreateAnalysisRun)
