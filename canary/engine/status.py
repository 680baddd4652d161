"""The Rollout's status as users read it: phase, message, conditions, counts, and the Events that
mark each change. Derived from the step machine (`Progress`) and the observed ReplicaSets only.

Events are the differences between the old and the new status, so a decision that changes nothing
emits nothing, and deciding on one's own output never repeats an Event. Reasons, messages, condition
reasons and `status.message` are Argo Rollouts' wherever the concept is shared (docs/argo-strings.md),
with the revision numbers Argo shows (the ReplicaSet's revision, not the pod-template hash); the
Events for the writes a decision asks for come from `canary.engine.scaling_events`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from canary.api.analysis import AnalysisPhase
from canary.api.base import Condition, ConditionStatus
from canary.api.rollout import (
    Rollout,
    RolloutAnalysisRunStatus,
    RolloutPhase,
    RolloutStatus,
)
from canary.engine import hooks, rollback_window, targets
from canary.engine import steps as step_list
from canary.engine.actions import Action, EmitEvent, EventType, PodHash
from canary.engine.hashing import replica_set_name
from canary.engine.observed import Observed, ReplicaSetView
from canary.engine.progress import ABORTED, Progress
from canary.engine.scaling_events import scaling_events
from canary.engine.strategy import ReleaseStrategy

PROGRESSING, AVAILABLE, PAUSED, HEALTHY, COMPLETED, INVALID_SPEC = (
    "Progressing",
    "Available",
    "Paused",
    "Healthy",
    "Completed",
    "InvalidSpec",
)
REPLICA_FAILURE = "ReplicaFailure"
DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
ROLLOUT_ABORTED = "RolloutAborted"
REPLICA_SET_UPDATED = "ReplicaSetUpdated"
NEW_REPLICA_SET_AVAILABLE = "NewReplicaSetAvailable"
ROLLOUT_PAUSED = "RolloutPaused"
ROLLOUT_RESUMED = "RolloutResumed"
ROLLOUT_UPDATED = "RolloutUpdated"
ROLLOUT_COMPLETED = "RolloutCompleted"
ROLLOUT_NOT_COMPLETED = "RolloutNotCompleted"
ROLLOUT_STEP_COMPLETED = "RolloutStepCompleted"
ROLLOUT_HEALTHY = "RolloutHealthy"
AVAILABLE_REASON = "AvailableReason"
SKIP_STEPS = "SkipSteps"
TRAFFIC_WEIGHT_UPDATED = "TrafficWeightUpdated"
STABLE_RECOVERED = "StableRecovered"
ROLLOUT_RESTARTED = "RolloutRestarted"
PAUSED_MESSAGE = "Rollout is paused"


def revision_of(observed: Observed, pod_hash: str | None) -> int:
    """The revision number Argo shows for `pod_hash`: its ReplicaSet's, or the next one if it has none yet."""
    seen = observed.replica_set(pod_hash)
    if seen is not None:
        return seen.revision
    return max((rs.revision for rs in observed.replica_sets), default=0) + 1


def _rs_name(rollout: Rollout, observed: Observed, pod_hash: str | None) -> str:
    seen = observed.replica_set(pod_hash)
    return seen.name if seen is not None else replica_set_name(rollout.metadata.name, pod_hash or "")


def _timed_out(rollout: Rollout, observed: Observed, pod_hash: str | None) -> str:
    return f'ReplicaSet "{_rs_name(rollout, observed, pod_hash)}" has timed out progressing.'


@dataclass(frozen=True)
class Deadline:
    """The progress deadline: when progress was last seen, whether it passed, seconds until it would."""

    last_progress: datetime
    exceeded: bool
    wait: float | None


def _condition(status: RolloutStatus, kind: str) -> Condition | None:
    return next((c for c in status.conditions if c.type == kind), None)


def _counts(observed: Observed, progress: Progress) -> tuple[int, int, int, int]:
    """(replicas, updated, ready, available) over all the Rollout's ReplicaSets."""
    sets = observed.replica_sets
    current = observed.replica_set(progress.canary)
    return (
        sum(rs.replicas for rs in sets),
        current.replicas if current else 0,
        sum(rs.ready for rs in sets),
        sum(rs.available for rs in sets),
    )


def replica_failure(observed: Observed, progress: Progress) -> ReplicaSetView | None:
    """A ReplicaSet whose pods cannot be made (quota, admission): the canary's first, then stable's."""
    failing = [rs for rs in observed.replica_sets if rs.failure]
    order = {progress.canary: 0, progress.stable: 1}
    return min(failing, key=lambda rs: (order.get(rs.pod_template_hash, 2), rs.name), default=None)


def _failure_text(failing: ReplicaSetView) -> str:
    return f'ReplicaSet "{failing.name}": {failing.failure}'


def _settled(rollout: Rollout, progress: Progress, sides: targets.Sides) -> bool:
    return (
        progress.complete
        and sides.stable_available() >= rollout.spec.replicas
        and all(rs.replicas == 0 for rs in sides.others)
    )


def progress_deadline(
    rollout: Rollout,
    observed: Observed,
    progress: Progress,
    sides: targets.Sides,
    now: datetime,
    *,
    strategy: ReleaseStrategy,
) -> tuple[Progress, Deadline]:
    """Whether progressDeadlineSeconds passed without progress (and the abort it causes if asked).

    Progress is any change in revision, step, stable ReplicaSet or pod counts. The clock does not run
    while the rollout is paused, in an analysis step, aborted, or waiting only for old pods to go:
    it restarts from zero when that ends. Pods that crash-loop or never become ready make no progress.
    """
    old = rollout.status
    waiting = not (progress.complete and sides.stable_available() >= rollout.spec.replicas) and not (
        rollout.spec.paused
        or progress.pause_conditions
        or progress.abort
        or strategy.in_analysis(rollout, progress)
    )
    previous = _condition(old, PROGRESSING)
    moved = (old.current_pod_hash, old.current_step_index or 0, old.stable_rs, *_old_counts(old)) != (
        progress.canary,
        progress.step_index,
        progress.stable,
        *_counts(observed, progress),
    )
    # The clock restarts on progress and on resuming from a pause; while nothing moves the timestamp
    # stays put, so a settled rollout's status is not rewritten on every reconcile.
    restarted = waiting and previous is not None and previous.reason == ROLLOUT_PAUSED
    if moved or restarted or previous is None or previous.last_update_time is None:
        return progress, Deadline(now, False, rollout.spec.progress_deadline_seconds if waiting else None)
    last = previous.last_update_time
    if not waiting:
        return progress, Deadline(last, False, None)
    due = last + timedelta(seconds=rollout.spec.progress_deadline_seconds)
    if now < due:
        return progress, Deadline(last, False, (due - now).total_seconds())
    if rollout.spec.progress_deadline_abort:
        progress = progress.aborted(now, _timed_out(rollout, observed, progress.canary))
    return progress, Deadline(last, True, None)


def _old_counts(status: RolloutStatus) -> tuple[int, int, int, int]:
    return status.replicas, status.updated_replicas, status.ready_replicas, status.available_replicas


@dataclass(frozen=True)
class _Phase:
    """The phase and `status.message` (Argo's CalculateRolloutPhase), and the Progressing condition."""

    phase: RolloutPhase
    message: str
    reason: str
    progressing: ConditionStatus
    condition_message: str


def _phase(
    rollout: Rollout,
    observed: Observed,
    progress: Progress,
    sides: targets.Sides,
    deadline: Deadline,
    *,
    restarted_at: datetime | None,
    strategy: ReleaseStrategy,
) -> _Phase:
    if progress.abort:
        detail = f": {progress.abort_message}" if progress.abort_message else ""
        text = f"Rollout aborted update to revision {revision_of(observed, progress.canary)}{detail}"
        return _Phase(RolloutPhase.DEGRADED, ABORTED + text, ROLLOUT_ABORTED, "False", text)
    if deadline.exceeded:
        text = _timed_out(rollout, observed, progress.canary)
        return _Phase(RolloutPhase.DEGRADED, f"{DEADLINE_EXCEEDED}: {text}", DEADLINE_EXCEEDED, "False", text)
    if rollout.spec.paused:
        return _Phase(RolloutPhase.PAUSED, "manually paused", ROLLOUT_PAUSED, "Unknown", PAUSED_MESSAGE)
    if progress.pause_conditions:
        reason = str(progress.pause_conditions[0].reason)
        return _Phase(RolloutPhase.PAUSED, reason, ROLLOUT_PAUSED, "Unknown", PAUSED_MESSAGE)
    name = _rs_name(rollout, observed, progress.canary)
    restarting = rollout.spec.restart_at is not None and restarted_at != rollout.spec.restart_at
    if _settled(rollout, progress, sides) and not restarting:
        return _Phase(
            RolloutPhase.HEALTHY,
            "",
            NEW_REPLICA_SET_AVAILABLE,
            "True",
            f'ReplicaSet "{name}" has successfully progressed.',
        )
    message = (
        "rollout is restarting"
        if restarting
        else _progressing_message(rollout, _counts(observed, progress), progress, strategy)
    )
    failing = replica_failure(observed, progress)
    if failing is not None:  # why the counts do not move, where `canary get` and `status` show it
        message += f": {_failure_text(failing)}"
    return _Phase(
        RolloutPhase.PROGRESSING, message, REPLICA_SET_UPDATED, "True", f'ReplicaSet "{name}" is progressing.'
    )


def _progressing_message(
    rollout: Rollout, counts: tuple[int, int, int, int], progress: Progress, strategy: ReleaseStrategy
) -> str:
    """Argo's words for why a rollout is not Healthy yet, checked in Argo's order."""
    replicas, updated, _, available = counts
    if updated < rollout.spec.replicas:
        return "more replicas need to be updated"
    if available < updated:
        return "updated replicas are still becoming available"
    return strategy.waiting_message(rollout, progress, replicas, updated)


def _set_condition(
    old: RolloutStatus,
    kind: str,
    state: ConditionStatus,
    *,
    now: datetime,
    reason: str = "",
    message: str = "",
    last_update: datetime | None = None,
) -> Condition:
    previous = _condition(old, kind)
    said = (state, reason, message)
    if (
        previous is not None
        and kind != PROGRESSING
        and (previous.status, previous.reason, previous.message) == said
    ):
        # Unchanged but for the timestamps: kept as it was, so a quiet reconcile writes nothing
        # (Progressing's update time is the progress deadline's, set by the caller).
        return previous
    same = previous is not None and previous.status == state
    return Condition(
        type=kind,
        status=state,
        reason=reason,
        message=message,
        last_transition_time=previous.last_transition_time if same and previous else now,
        last_update_time=last_update if last_update is not None else now,
    )


def _flag(value: bool) -> ConditionStatus:
    return "True" if value else "False"


def build(
    rollout: Rollout,
    observed: Observed,
    progress: Progress,
    *,
    sides: targets.Sides,
    weight: int,
    deadline: Deadline,
    now: datetime,
    strategy: ReleaseStrategy,
) -> RolloutStatus:
    """The complete new status (the strategy adds the fields only it writes)."""
    old = rollout.status
    restarted_at = _restarted_at(rollout, observed)
    verdict = _phase(
        rollout, observed, progress, sides, deadline, restarted_at=restarted_at, strategy=strategy
    )
    phase = verdict.phase
    replicas, updated, ready, available = _counts(observed, progress)
    healthy = phase == RolloutPhase.HEALTHY
    conditions = [
        _set_condition(
            old,
            PROGRESSING,
            verdict.progressing,
            now=now,
            reason=verdict.reason,
            message=verdict.condition_message,
            last_update=deadline.last_progress,
        ),
        _set_condition(
            old,
            AVAILABLE,
            _flag(available >= rollout.spec.replicas),
            now=now,
            reason=AVAILABLE_REASON,
            message=(
                "Rollout has minimum availability"
                if available >= rollout.spec.replicas
                else "Rollout does not have minimum availability"
            ),
        ),
        _set_condition(
            old,
            PAUSED,
            _flag(phase == RolloutPhase.PAUSED),
            now=now,
            reason=ROLLOUT_PAUSED,
            message=PAUSED_MESSAGE,
        ),
        _set_condition(
            old,
            HEALTHY,
            _flag(healthy),
            now=now,
            reason=ROLLOUT_HEALTHY,
            message="Rollout is healthy" if healthy else "Rollout is not healthy",
        ),
        _set_condition(
            old,
            COMPLETED,
            _flag(progress.complete),
            now=now,
            reason=ROLLOUT_COMPLETED,
            message=ROLLOUT_COMPLETED,
        ),
    ]
    failing = replica_failure(observed, progress)
    if failing is not None:  # Argo's: the ReplicaSet's ReplicaFailure condition, on the Rollout
        conditions.append(
            _set_condition(
                old,
                REPLICA_FAILURE,
                "True",
                now=now,
                reason=failing.failure_reason,
                message=_failure_text(failing),
            )
        )
    webhooks = hooks.condition(progress.hooks)
    if webhooks is not None:
        passed, reason, message = webhooks
        conditions.append(
            _set_condition(old, hooks.CONDITION, _flag(passed), now=now, reason=reason, message=message)
        )
    status = RolloutStatus(
        phase=phase,
        message=verdict.message,
        conditions=conditions,
        observed_generation=rollout.metadata.generation,
        current_pod_hash=progress.canary,
        stable_rs=progress.stable,
        pause_conditions=list(progress.pause_conditions),
        controller_pause=progress.controller_pause,
        abort=progress.abort,
        aborted_at=progress.aborted_at,
        promote_full=progress.promote_full,
        restarted_at=restarted_at,
        replicas=replicas,
        updated_replicas=updated,
        ready_replicas=ready,
        available_replicas=available,
        selector=old.selector,
    )
    return status.model_copy(update=strategy.status_fields(rollout, observed, progress, weight))


def _restarted_at(rollout: Rollout, observed: Observed) -> datetime | None:
    """spec.restartAt once every ReplicaSet with pods has restarted them, else the previous restart."""
    restart_at = rollout.spec.restart_at
    pending = [
        rs
        for rs in observed.replica_sets
        if rs.replicas > 0 and (rs.restarted_at is None or restart_at is None or rs.restarted_at < restart_at)
    ]
    return restart_at if restart_at is not None and not pending else rollout.status.restarted_at


def invalid_message(name: str, problems: Sequence[str]) -> str:
    """Argo's InvalidSpec condition message: `The Rollout "<name>" is invalid: <problems>` (one line;
    the status message puts `InvalidSpec: ` in front)."""
    return f'The Rollout "{name}" is invalid: ' + "; ".join(problems)


def invalid(rollout: Rollout, problems: list[str], now: datetime) -> RolloutStatus:
    """The status of a Rollout that cannot be acted on: Degraded with InvalidSpec; nothing else moves."""
    old = rollout.status
    message = invalid_message(rollout.metadata.name, problems)
    kept = [c for c in old.conditions if c.type != INVALID_SPEC]
    condition = _set_condition(old, INVALID_SPEC, "True", now=now, reason=INVALID_SPEC, message=message)
    previous = _condition(old, INVALID_SPEC)
    if previous is not None and previous.message == message and previous.status == "True":
        condition = previous
    return old.model_copy(
        update={
            "phase": RolloutPhase.DEGRADED,
            "message": f"{INVALID_SPEC}: {message}",
            "conditions": [*kept, condition],
            "observed_generation": rollout.metadata.generation,
        }
    )


def events_between(
    rollout: Rollout,
    old: RolloutStatus,
    new: RolloutStatus,
    *,
    observed: Observed | None = None,
    actions: Sequence[Action] = (),
    strategy: ReleaseStrategy,
) -> Iterator[EmitEvent]:
    """One Event per change that users follow, with Argo Rollouts' reasons and messages: a new
    revision, the writes it asks for (`actions`, see `scaling_events`), steps, pauses, verdicts,
    traffic, promotion, failure. `observed` gives the revision numbers (without it, the cluster is
    taken as empty: every revision is 1)."""
    seen = observed if observed is not None else Observed()
    steps = step_list.of(rollout)
    if old.stable_rs is None and new.stable_rs not in (None, new.current_pod_hash):
        yield EmitEvent(
            "Warning",
            STABLE_RECOVERED,
            f"The status named no stable revision; revision {revision_of(seen, new.stable_rs)} "
            f"({new.stable_rs}), whose pods still serve, is stable again and revision "
            f"{revision_of(seen, new.current_pod_hash)} ({new.current_pod_hash}) goes through the steps",
        )
    elif new.current_pod_hash != old.current_pod_hash and new.current_pod_hash is not None:
        yield EmitEvent(
            "Normal",
            ROLLOUT_UPDATED,
            f"Rollout updated to revision {revision_of(seen, new.current_pod_hash)}",
        )
    yield from scaling_events(rollout, seen, actions)
    if new.current_pod_hash != old.current_pod_hash:
        if (
            old.current_pod_hash is not None
            and new.current_pod_hash == new.stable_rs == old.stable_rs
            and steps
        ):
            yield EmitEvent("Normal", SKIP_STEPS, "Rollback to stable ReplicaSets")
        elif (
            old.current_pod_hash is not None
            and old.stable_rs is not None
            and new.current_pod_hash is not None
            and steps
            and rollback_window.within(rollout, seen, PodHash(old.stable_rs), PodHash(new.current_pod_hash))
        ):
            yield EmitEvent("Normal", SKIP_STEPS, "Rollback to active ReplicaSets within RollbackWindow")
    elif (
        not old.promote_full
        and new.current_step_index is not None
        and (old.current_step_index or 0) < new.current_step_index <= len(steps)
    ):
        yield from _step_events(rollout, seen, old, new)
    if _condition_flag(old, COMPLETED) == "True" and _condition_flag(new, COMPLETED) == "False":
        yield EmitEvent(
            "Normal",
            ROLLOUT_NOT_COMPLETED,
            f"Rollout not completed, started update to revision {revision_of(seen, new.current_pod_hash)} "
            f"({new.current_pod_hash})",
        )
    yield from _pause_events(old, new)
    yield from _verdicts(
        "Step", old.canary.current_step_analysis_run_status, new.canary.current_step_analysis_run_status
    )
    yield from _verdicts(
        "Background",
        old.canary.current_background_analysis_run_status,
        new.canary.current_background_analysis_run_status,
    )
    yield from _verdicts(
        "PrePromotion",
        old.blue_green.pre_promotion_analysis_run_status,
        new.blue_green.pre_promotion_analysis_run_status,
    )
    yield from _verdicts(
        "PostPromotion",
        old.blue_green.post_promotion_analysis_run_status,
        new.blue_green.post_promotion_analysis_run_status,
    )
    yield from _weight_events(rollout, old, new)
    if new.stable_rs is not None and new.stable_rs != old.stable_rs and new.stable_rs == new.current_pod_hash:
        yield EmitEvent(
            "Normal",
            ROLLOUT_COMPLETED,
            f"Rollout completed update to revision {revision_of(seen, new.stable_rs)} ({new.stable_rs}): "
            + _completion_reason(rollout, old, new, seen, strategy),
        )
    if new.restarted_at != old.restarted_at and new.restarted_at is not None:
        yield EmitEvent(
            "Normal", ROLLOUT_RESTARTED, f"Every pod restarted after {new.restarted_at.isoformat()}"
        )
    yield from hooks.events_between(old.hooks, new.hooks)
    yield from _condition_events(old, new)


def _condition_flag(status: RolloutStatus, kind: str) -> str | None:
    condition = _condition(status, kind)
    return condition.status if condition else None


def _completion_reason(
    rollout: Rollout, old: RolloutStatus, new: RolloutStatus, seen: Observed, strategy: ReleaseStrategy
) -> str:
    """Why the current revision became stable, in Argo's words (shouldFullPromote)."""
    if old.stable_rs is None:
        return "Initial deploy"
    if old.promote_full:
        return "Full promotion requested"
    if new.stable_rs and rollback_window.within(
        rollout, seen, PodHash(old.stable_rs), PodHash(new.stable_rs)
    ):
        return "Rollback within window"
    return strategy.completion_reason(rollout)


def _step_events(
    rollout: Rollout, observed: Observed, old: RolloutStatus, new: RolloutStatus
) -> Iterator[EmitEvent]:
    steps = step_list.of(rollout)
    first = old.current_step_index or 0
    for index in range(first, new.current_step_index or 0):
        record = old.canary.current_step_analysis_run_status
        if index == first and steps[index].analysis is not None and record is not None:
            # The run finished and its step was passed in one decision, so the new status no longer
            # names it: report its verdict first, as Argo does.
            run = observed.analysis_run(record.name)
            if run is not None:
                finished = RolloutAnalysisRunStatus(name=record.name, status=run.status.phase)
                yield from _verdicts("Step", record, finished)
        yield EmitEvent(
            "Normal",
            ROLLOUT_STEP_COMPLETED,
            f"Rollout step {index + 1}/{len(steps)} completed ({step_list.argo_string(steps[index])})",
        )


def _pause_events(old: RolloutStatus, new: RolloutStatus) -> Iterator[EmitEvent]:
    """Argo's: RolloutPaused when the first pause condition appears, RolloutResumed when the last goes
    (unless an abort cleared it)."""
    if bool(old.pause_conditions) == bool(new.pause_conditions):
        return
    if new.pause_conditions:
        yield EmitEvent("Normal", ROLLOUT_PAUSED, f"{PAUSED_MESSAGE} ({new.pause_conditions[0].reason})")
    elif new.aborted_at is None and not new.abort:
        yield EmitEvent("Normal", ROLLOUT_RESUMED, "Rollout is resumed")


def _verdicts(
    kind: str, old: RolloutAnalysisRunStatus | None, new: RolloutAnalysisRunStatus | None
) -> Iterator[EmitEvent]:
    """`AnalysisRun<Phase>` when the current run's phase changes (Pending, which canary also records
    for a run it has only just asked for, is left out)."""
    if new is None or not new.status or new.status == AnalysisPhase.PENDING:
        return
    same_run = old is not None and old.name == new.name
    if same_run and old is not None and old.status == new.status:
        return
    previous = old.status if same_run and old is not None else "NoPreviousStatus"
    event_type: EventType = (
        "Warning" if new.status in (AnalysisPhase.FAILED, AnalysisPhase.ERROR) else "Normal"
    )
    yield EmitEvent(
        event_type,
        f"AnalysisRun{new.status}",
        f"{kind} Analysis Run '{new.name}' Status New: '{new.status}' Previous: '{previous}'",
    )


def _weight_events(rollout: Rollout, old: RolloutStatus, new: RolloutStatus) -> Iterator[EmitEvent]:
    """TrafficWeightUpdated when the weight given to the router changes (only with a router)."""
    if rollout.spec.strategy.traffic_routing is None or new.canary.weights is None:
        return
    after = new.canary.weights.canary.weight
    if old.canary.weights is None:
        yield EmitEvent("Normal", TRAFFIC_WEIGHT_UPDATED, f"Traffic weight updated to {after}")
    elif old.canary.weights.canary.weight != after:
        before = old.canary.weights.canary.weight
        yield EmitEvent("Normal", TRAFFIC_WEIGHT_UPDATED, f"Traffic weight updated from {before} to {after}")


def _condition_events(old: RolloutStatus, new: RolloutStatus) -> Iterator[EmitEvent]:
    before, after = _condition(old, PROGRESSING), _condition(new, PROGRESSING)
    failed = after is not None and after.reason in (ROLLOUT_ABORTED, DEADLINE_EXCEEDED)
    if failed and after is not None and (before is None or before.reason != after.reason):
        yield EmitEvent("Warning", after.reason, after.message)
    spec_before, spec_after = _condition(old, INVALID_SPEC), _condition(new, INVALID_SPEC)
    if spec_after is not None and (spec_before is None or spec_before.message != spec_after.message):
        yield EmitEvent("Warning", INVALID_SPEC, spec_after.message)
