"""Release hooks in decide(): which webhook call is due and what its answer does to the release."""

from datetime import timedelta
from typing import Any

from builders import replica_set, revision

from canary.api.hooks import HookPhase
from canary.api.rollout import Rollout, RolloutStatus
from canary.engine import commands
from canary.engine.actions import EmitEvent, RunHook, ScaleReplicaSet, SetTrafficWeight
from canary.engine.clock import EPOCH
from canary.engine.observed import HookResult, Observed
from canary.engine.rollout import Decision, decide
from canary.sim import scenarios

NOW = EPOCH
V1, V2 = revision("web:1"), revision("web:2")
SERVICES = {"web-stable": V1, "web-canary": V2}
STEPS: list[dict[str, Any]] = [{"setWeight": 20}, {"setWeight": 50}, {"pause": {"duration": "1h"}}]


def hook(name: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, "url": f"http://hooks.test/{name}", "interval": "10s", **fields}


def release(*hooks: dict[str, Any], steps: list[dict[str, Any]] = STEPS, **status: Any) -> Rollout:
    rollout = scenarios.rollout(image="web:2", routed=True, steps=steps, canary={"webhooks": list(hooks)})
    base = {"stable_rs": V1, "current_pod_hash": V2, "current_step_index": 0}
    return rollout.model_copy(update={"status": RolloutStatus.model_validate(base | status)})


def world(answers: dict[str, bool] | None = None, canary: int = 1, **fields: Any) -> Observed:
    """Stable's 4 pods and the canary's `canary`, all available; every answer given at NOW."""
    results = {key: HookResult(ok, "yes" if ok else "no", NOW) for key, ok in (answers or {}).items()}
    sets = (replica_set(V1, replicas=4), replica_set(V2, replicas=canary, revision=2))
    return Observed(replica_sets=sets, service_selectors=SERVICES, hook_results=results, **fields)


def calls(decision: Decision) -> list[RunHook]:
    return [a for a in decision.actions if isinstance(a, RunHook)]


def weight(decision: Decision) -> int:
    return next(a.canary_weight for a in decision.actions if isinstance(a, SetTrafficWeight))


def events(decision: Decision) -> list[str]:
    return [a.reason for a in decision.actions if isinstance(a, EmitEvent)]


def then(rollout: Rollout, decision: Decision) -> Rollout:
    return rollout.model_copy(update={"status": decision.status})


def test_a_confirm_rollout_gate_is_called_before_any_traffic_moves() -> None:
    decision = decide(release(hook("start", "confirm-rollout")), world(), NOW)
    assert [c.key for c in calls(decision)] == [f"start/{V2}/-/1"]
    assert weight(decision) == 0


def test_a_held_release_with_a_router_gives_the_canary_its_first_steps_pods_without_traffic() -> None:
    decision = decide(release(hook("smoke", "pre-rollout")), world(canary=0), NOW)
    assert ScaleReplicaSet(V2, 1) in decision.actions
    assert weight(decision) == 0


def test_a_held_release_without_a_router_starts_no_canary_pod() -> None:
    rollout = release(hook("smoke", "pre-rollout")).model_copy(deep=True)
    plain = scenarios.rollout(image="web:2", steps=STEPS, canary={"webhooks": [hook("smoke", "pre-rollout")]})
    rollout = rollout.model_copy(update={"spec": plain.spec})
    decision = decide(rollout, world(canary=0), NOW)
    assert not any(
        isinstance(a, ScaleReplicaSet) and a.pod_template_hash == V2 and a.replicas > 0
        for a in decision.actions
    )


def test_a_closed_gate_holds_the_release_and_is_asked_again_after_its_interval() -> None:
    rollout = release(hook("start", "confirm-rollout"))
    closed = decide(rollout, world({f"start/{V2}/-/1": False}), NOW)
    assert weight(closed) == 0
    assert closed.requeue_after == 10
    assert closed.status.hooks[0].phase == HookPhase.FAILED
    assert "WebhookGateClosed" in events(closed)
    early = decide(then(rollout, closed), world({f"start/{V2}/-/1": False}), NOW + timedelta(seconds=5))
    assert calls(early) == []
    due = decide(then(rollout, closed), world({f"start/{V2}/-/1": False}), NOW + timedelta(seconds=10))
    assert [c.key for c in calls(due)] == [f"start/{V2}/-/2"]


def test_a_closed_gate_sets_the_webhooks_condition_false_with_its_reason() -> None:
    decision = decide(release(hook("start", "confirm-rollout")), world({f"start/{V2}/-/1": False}), NOW)
    condition = next(c for c in decision.status.conditions if c.type == "WebhooksPassed")
    assert (condition.status, condition.reason) == ("False", "WebhookGateClosed")


def test_an_open_gate_is_followed_by_the_pre_rollout_hooks_still_without_traffic() -> None:
    rollout = release(hook("start", "confirm-rollout"), hook("smoke", "pre-rollout"))
    decision = decide(rollout, world({f"start/{V2}/-/1": True}), NOW)
    assert [c.key for c in calls(decision)] == [f"smoke/{V2}/-/1"]
    assert weight(decision) == 0


def test_passed_pre_rollout_hooks_let_the_first_step_send_traffic() -> None:
    rollout = release(hook("smoke", "pre-rollout"), steps=[{"setWeight": 20}, {"pause": {}}])
    decision = decide(rollout, world({f"smoke/{V2}/-/1": True}), NOW)
    assert weight(decision) == 20
    assert "WebhookSucceeded" in events(decision)


def test_a_failing_pre_rollout_hook_aborts_before_any_traffic_moves() -> None:
    decision = decide(release(hook("smoke", "pre-rollout")), world({f"smoke/{V2}/-/1": False}), NOW)
    assert decision.status.abort
    assert "pre-rollout webhook 'smoke' failed 1 time(s)" in decision.status.message
    assert weight(decision) == 0


def test_pre_rollout_failures_within_the_failure_limit_are_called_again() -> None:
    rollout = release(hook("smoke", "pre-rollout", failureLimit=1))
    first = decide(rollout, world({f"smoke/{V2}/-/1": False}), NOW)
    assert not first.status.abort
    assert "WebhookFailed" in events(first)
    second = decide(
        then(rollout, first),
        world({f"smoke/{V2}/-/1": False, f"smoke/{V2}/-/2": False}),
        NOW + timedelta(seconds=10),
    )
    assert second.status.abort


def test_an_answer_recorded_in_the_status_is_never_asked_for_again() -> None:
    rollout = release(hook("smoke", "pre-rollout"), steps=[{"setWeight": 20}, {"pause": {}}])
    passed = decide(rollout, world({f"smoke/{V2}/-/1": True}), NOW)
    restarted = decide(then(rollout, passed), world(), NOW)  # the runner's memory is gone
    assert [c for c in calls(restarted) if c.hook.name == "smoke"] == []
    assert weight(restarted) == 20


def test_rollout_hooks_are_called_as_a_step_starts_and_hold_its_end() -> None:
    rollout = release(hook("load", "rollout"))
    started = decide(rollout, world(router_weight=20), NOW)
    assert [c.key for c in calls(started)] == [f"load/{V2}/0/1"]
    assert started.status.current_step_index == 0
    passed = decide(then(rollout, started), world({f"load/{V2}/0/1": True}, router_weight=20), NOW)
    assert passed.status.current_step_index == 1
    assert f"load/{V2}/1/1" in [c.key for c in calls(passed)]


def test_a_closed_traffic_increase_gate_keeps_the_weight_where_the_step_before_left_it() -> None:
    rollout = release(
        hook("more", "confirm-traffic-increase"),
        current_step_index=1,
        canary={"weights": {"canary": {"weight": 20, "podTemplateHash": V2}, "stable": {"weight": 80}}},
        hooks=[
            {
                "name": "more",
                "type": "confirm-traffic-increase",
                "checksum": V2,
                "step": 0,
                "phase": "Successful",
            }
        ],
    )
    decision = decide(rollout, world({f"more/{V2}/1/1": False}, canary=2, router_weight=20), NOW)
    assert weight(decision) == 20
    assert decision.status.current_step_index == 1


def test_a_closed_promotion_gate_keeps_the_last_steps_weight() -> None:
    rollout = release(
        hook("ship", "confirm-promotion"),
        steps=[{"setWeight": 40}],
        canary={"weights": {"canary": {"weight": 40, "podTemplateHash": V2}, "stable": {"weight": 60}}},
        hooks=[{"name": "ship", "type": "confirm-promotion", "checksum": V2, "phase": "Waiting"}],
    )
    decision = decide(rollout, world({f"ship/{V2}/-/1": False}, canary=2, router_weight=40), NOW)
    assert weight(decision) == 40
    assert decision.status.stable_rs == V1


def test_a_rollback_hook_answering_2xx_aborts_the_release() -> None:
    decision = decide(release(hook("undo", "rollback")), world({f"undo/{V2}/-/1": True}), NOW)
    assert decision.status.abort
    assert "rollback webhook 'undo' asked for a rollback" in decision.status.message


def test_post_rollout_hooks_are_called_once_the_release_is_aborted_with_phase_failed() -> None:
    rollout = release(hook("smoke", "pre-rollout"), hook("report", "post-rollout"))
    decision = decide(rollout, world({f"smoke/{V2}/-/1": False}), NOW)
    [post] = [c for c in calls(decision) if c.hook.name == "report"]
    assert post.payload["phase"] == "Failed"


def test_a_release_that_skipped_its_steps_calls_no_post_rollout_hook() -> None:
    rollout = release(hook("report", "post-rollout"), current_pod_hash=V1)
    decision = decide(rollout, world(), NOW)
    assert calls(decision) == []


def test_every_event_is_told_to_event_hooks_as_json() -> None:
    rollout = release(hook("feed", "event")).model_copy(update={"status": RolloutStatus()})
    decision = decide(rollout, world(), NOW)
    told = [c.payload["metadata"]["eventReason"] for c in calls(decision)]
    assert told == events(decision)
    assert told


def test_the_payload_has_flaggers_fields() -> None:
    decision = decide(release(hook("start", "confirm-rollout", metadata={"team": "web"})), world(), NOW)
    assert calls(decision)[0].payload == {
        "name": "web",
        "namespace": "default",
        "phase": "Waiting",
        "type": "confirm-rollout",
        "checksum": V2,
        "metadata": {"team": "web"},
    }


def test_a_quiet_reconcile_of_a_held_release_changes_nothing() -> None:
    rollout = release(hook("start", "confirm-rollout"))
    first = decide(rollout, world({f"start/{V2}/-/1": False}), NOW)
    again = decide(then(rollout, first), world({f"start/{V2}/-/1": False}), NOW)
    assert again.status == first.status
    assert events(again) == []


def test_a_retry_calls_the_hooks_again_with_their_failures_forgotten() -> None:
    rollout = release(hook("smoke", "pre-rollout"))
    aborted = then(rollout, decide(rollout, world({f"smoke/{V2}/-/1": False}), NOW))
    (patch,) = commands.retry(aborted)
    retried = commands.apply_patch(aborted, patch)
    decision = decide(retried, world({f"smoke/{V2}/-/1": False}), NOW)
    assert not decision.status.abort
    assert [c.key for c in calls(decision)] == [f"smoke/{V2}/-/2"]


def test_a_rollout_without_steps_still_asks_its_start_gate_before_the_promotion() -> None:
    decision = decide(
        release(hook("start", "confirm-rollout"), steps=[]), world({f"start/{V2}/-/1": False}), NOW
    )
    assert decision.status.stable_rs == V1
    assert weight(decision) == 0
