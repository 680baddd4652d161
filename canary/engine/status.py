"""The Rollout's status as users read it: phase, message, conditions, counts, and the Events that
mark each change. Derived from the step machine (`Progress`) and the observed ReplicaSets only.

Events are the differences between the old and the new status, so a decision that changes nothing
emits nothing, and deciding on one's own output never repeats an Event.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from canary.api.analysis import AnalysisPhase
from canary.api.base import Condition, ConditionStatus
from canary.api.rollout import (
    CanaryStatus,
    Rollout,
    RolloutAnalysisRunStatus,
    RolloutPhase,
    RolloutStatus,
    TrafficWeights,
    WeightDestination,
)
from canary.engine import steps as step_list
from canary.engine import targets
from canary.engine.actions import EmitEvent, EventType
from canary.engine.hashing import steps_hash
from canary.engine.observed import Observed
from canary.engine.progress import ABORTED, Progress

PROGRESSING, AVAILABLE, PAUSED, HEALTHY, COMPLETED, INVALID_SPEC = (
    "Progressing",
    "Available",
    "Paused",
    "Healthy",
    "Completed",
    "InvalidSpec",
)
DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
ROLLOUT_ABORTED = "RolloutAborted"
REPLICA_SET_UPDATED = "ReplicaSetUpdated"
ROLLOUT_PAUSED = "RolloutPaused"
STABLE_RECOVERED = "StableRecovered"


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


def _settled(rollout: Rollout, progress: Progress, sides: targets.Sides) -> bool:
    return (
        progress.complete
        and sides.stable_available() >= rollout.spec.replicas
        and all(rs.replicas == 0 for rs in sides.others)
    )


def _in_analysis(rollout: Rollout, progress: Progress) -> bool:
    steps = rollout.spec.strategy.canary.steps
    return progress.step_index < len(steps) and steps[progress.step_index].analysis is not None


def progress_deadline(
    rollout: Rollout, observed: Observed, progress: Progress, sides: targets.Sides, now: datetime
) -> tuple[Progress, Deadline]:
    """Whether progressDeadlineSeconds passed without progress (and the abort it causes if asked).

    Progress is any change in revision, step, stable ReplicaSet or pod counts. The clock does not run
    while the rollout is paused, in an analysis step, aborted, or waiting only for old pods to go:
    it restarts from zero when that ends. Pods that crash-loop or never become ready make no progress.
    """
    old = rollout.status
    waiting = not (progress.complete and sides.stable_available() >= rollout.spec.replicas) and not (
        rollout.spec.paused or progress.pause_conditions or progress.abort or _in_analysis(rollout, progress)
    )
    previous = _condition(old, PROGRESSING)
    moved = (old.current_pod_hash, old.current_step_index, old.stable_rs, *_old_counts(old)) != (
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
        message = f"{DEADLINE_EXCEEDED}: revision {progress.canary} made no progress in {rollout.spec.progress_deadline_seconds} s"
        progress = progress.aborted(now, message)
    return progress, Deadline(last, True, None)


def _old_counts(status: RolloutStatus) -> tuple[int, int, int, int]:
    return status.replicas, status.updated_replicas, status.ready_replicas, status.available_replicas


def _phase(
    rollout: Rollout, progress: Progress, sides: targets.Sides, deadline: Deadline
) -> tuple[RolloutPhase, str, str]:
    """(phase, message, Progressing reason)."""
    if progress.abort:
        reason = progress.abort_message or f"Rollout aborted update to revision {progress.canary}"
        return RolloutPhase.DEGRADED, ABORTED + reason, ROLLOUT_ABORTED
    if deadline.exceeded:
        seconds = rollout.spec.progress_deadline_seconds
        message = f"{DEADLINE_EXCEEDED}: revision {progress.canary} made no progress in {seconds} s"
        return RolloutPhase.DEGRADED, message, DEADLINE_EXCEEDED
    if rollout.spec.paused:
        return RolloutPhase.PAUSED, "Paused by spec.paused; resume to continue", ROLLOUT_PAUSED
    if progress.pause_conditions:
        return RolloutPhase.PAUSED, str(progress.pause_conditions[0].reason), ROLLOUT_PAUSED
    if _settled(rollout, progress, sides):
        return RolloutPhase.HEALTHY, "", "NewReplicaSetAvailable"
    return RolloutPhase.PROGRESSING, _progressing_message(rollout, progress, sides), REPLICA_SET_UPDATED


def _progressing_message(rollout: Rollout, progress: Progress, sides: targets.Sides) -> str:
    steps = rollout.spec.strategy.canary.steps
    if not progress.complete and progress.step_index < len(steps):
        step = steps[progress.step_index]
        return f"step {progress.step_index + 1}/{len(steps)}: {step_list.describe(step)}"
    if not progress.complete:
        return f"promoting revision {progress.canary}: {sides.canary_available()}/{rollout.spec.replicas} pods available"
    if sides.stable_available() < rollout.spec.replicas:
        return (
            f"{sides.stable_available()}/{rollout.spec.replicas} pods of revision {progress.stable} available"
        )
    return "old pods are being scaled down"


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
) -> RolloutStatus:
    """The complete new status."""
    old = rollout.status
    phase, message, reason = _phase(rollout, progress, sides, deadline)
    replicas, updated, ready, available = _counts(observed, progress)
    _, unavailable = targets.surge_and_unavailable(rollout)
    progressing = _flag(reason not in (ROLLOUT_ABORTED, DEADLINE_EXCEEDED))
    healthy = available >= rollout.spec.replicas - unavailable
    conditions = [
        _set_condition(
            old,
            PROGRESSING,
            progressing,
            now=now,
            reason=reason,
            message=message,
            last_update=deadline.last_progress,
        ),
        _set_condition(old, AVAILABLE, _flag(healthy), now=now),
        _set_condition(old, PAUSED, _flag(phase == RolloutPhase.PAUSED), now=now),
        _set_condition(old, HEALTHY, _flag(phase == RolloutPhase.HEALTHY), now=now),
        _set_condition(old, COMPLETED, _flag(_settled(rollout, progress, sides)), now=now),
    ]
    return RolloutStatus(
        phase=phase,
        message=message,
        conditions=_keep_update_times(old, conditions),
        observed_generation=rollout.metadata.generation,
        current_pod_hash=progress.canary,
        stable_rs=progress.stable,
        current_step_index=progress.step_index,
        current_step_hash=steps_hash(rollout.spec.strategy.canary.steps),
        pause_conditions=list(progress.pause_conditions),
        controller_pause=progress.controller_pause,
        abort=progress.abort,
        aborted_at=progress.aborted_at,
        promote_full=progress.promote_full,
        restarted_at=_restarted_at(rollout, observed),
        replicas=replicas,
        updated_replicas=updated,
        ready_replicas=ready,
        available_replicas=available,
        canary=CanaryStatus(
            weights=_weights(rollout, progress, weight),
            current_step_analysis_run_status=progress.step_run,
            current_background_analysis_run_status=progress.background_run,
        ),
        selector=old.selector,
    )


def _restarted_at(rollout: Rollout, observed: Observed) -> datetime | None:
    """spec.restartAt once every ReplicaSet with pods has restarted them, else the previous restart."""
    restart_at = rollout.spec.restart_at
    pending = [
        rs
        for rs in observed.replica_sets
        if rs.replicas > 0 and (rs.restarted_at is None or restart_at is None or rs.restarted_at < restart_at)
    ]
    return restart_at if restart_at is not None and not pending else rollout.status.restarted_at


def _keep_update_times(old: RolloutStatus, conditions: list[Condition]) -> list[Condition]:
    # A condition that did not change keeps its timestamps, so a quiet reconcile writes nothing.
    kept = []
    for condition in conditions:
        previous = _condition(old, condition.type)
        if (
            condition.type != PROGRESSING
            and previous is not None
            and previous.model_copy(update={"last_update_time": None, "last_transition_time": None})
            == condition.model_copy(update={"last_update_time": None, "last_transition_time": None})
        ):
            kept.append(previous)
        else:
            kept.append(condition)
    return kept


def _weights(rollout: Rollout, progress: Progress, weight: int) -> TrafficWeights:
    """The weights as the router was given them, in units of maxTrafficWeight (Argo's status.canary.weights):
    the next decision reads the canary's back as the weight it carries."""
    strategy = rollout.spec.strategy.canary
    canary_hash = progress.stable if progress.complete else progress.canary
    return TrafficWeights(
        canary=WeightDestination(
            weight=weight, pod_template_hash=canary_hash, service_name=strategy.canary_service
        ),
        stable=WeightDestination(
            weight=strategy.max_weight - weight,
            pod_template_hash=progress.stable,
            service_name=strategy.stable_service,
        ),
    )


def with_weights(rollout: Rollout, status: RolloutStatus, progress: Progress, weight: int) -> RolloutStatus:
    """`status` recording the weight the router was given (say, an abort that still converges while
    the spec is invalid), so that the status never claims a split the router no longer has."""
    canary = status.canary.model_copy(update={"weights": _weights(rollout, progress, weight)})
    return status.model_copy(update={"canary": canary})


def invalid(rollout: Rollout, problems: list[str], now: datetime) -> RolloutStatus:
    """The status of a Rollout that cannot be acted on: Degraded with InvalidSpec; nothing else moves."""
    old = rollout.status
    message = "; ".join(problems)
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


def events_between(rollout: Rollout, old: RolloutStatus, new: RolloutStatus) -> Iterator[EmitEvent]:
    """One Event per change that users follow: revision, steps, pauses, verdicts, promotion, failure."""
    steps = rollout.spec.strategy.canary.steps
    if old.stable_rs is None and new.stable_rs not in (None, new.current_pod_hash):
        yield EmitEvent(
            "Warning",
            STABLE_RECOVERED,
            f"the status named no stable revision; revision {new.stable_rs}, whose pods still serve, "
            f"is stable again and revision {new.current_pod_hash} goes through the steps",
        )
    elif new.current_pod_hash != old.current_pod_hash and new.current_pod_hash is not None:
        if old.current_pod_hash is None:
            yield EmitEvent("Normal", "RolloutCreated", f"revision {new.current_pod_hash} deployed")
        elif new.current_pod_hash == new.stable_rs == old.stable_rs:
            yield EmitEvent(
                "Normal",
                "RolloutReverted",
                f"template is stable revision {new.stable_rs} again; steps skipped",
            )
        else:
            yield EmitEvent(
                "Normal", "NewRevision", f"revision {new.current_pod_hash} started at step 1/{len(steps)}"
            )
    elif new.current_step_index is not None and (old.current_step_index or 0) < new.current_step_index <= len(
        steps
    ):
        for index in range(old.current_step_index or 0, new.current_step_index):
            yield EmitEvent(
                "Normal",
                "StepCompleted",
                f"step {index + 1}/{len(steps)} completed: {step_list.describe(steps[index])}",
            )
    old_reasons = {c.reason for c in old.pause_conditions}
    for condition in new.pause_conditions:
        if condition.reason not in old_reasons:
            yield EmitEvent("Normal", ROLLOUT_PAUSED, str(condition.reason))
    yield from _verdicts(
        old.canary.current_step_analysis_run_status, new.canary.current_step_analysis_run_status
    )
    yield from _verdicts(
        old.canary.current_background_analysis_run_status, new.canary.current_background_analysis_run_status
    )
    if new.stable_rs != old.stable_rs and old.stable_rs is not None and new.stable_rs is not None:
        yield EmitEvent("Normal", "RolloutCompleted", f"revision {new.stable_rs} promoted to stable")
    if new.restarted_at != old.restarted_at and new.restarted_at is not None:
        yield EmitEvent(
            "Normal", "RolloutRestarted", f"every pod restarted after {new.restarted_at.isoformat()}"
        )
    yield from _condition_events(old, new)


def _verdicts(
    old: RolloutAnalysisRunStatus | None, new: RolloutAnalysisRunStatus | None
) -> Iterator[EmitEvent]:
    if new is None or not AnalysisPhase(new.status).completed:
        return
    if old is not None and (old.name, old.status) == (new.name, new.status):
        return
    kind: EventType = "Normal" if new.status == AnalysisPhase.SUCCESSFUL else "Warning"
    detail = f": {new.message}" if new.message else ""
    yield EmitEvent(kind, f"AnalysisRun{new.status}", f"AnalysisRun '{new.name}' {new.status}{detail}")


def _condition_events(old: RolloutStatus, new: RolloutStatus) -> Iterator[EmitEvent]:
    before, after = _condition(old, PROGRESSING), _condition(new, PROGRESSING)
    failed = after is not None and after.reason in (ROLLOUT_ABORTED, DEADLINE_EXCEEDED)
    if failed and after is not None and (before is None or before.reason != after.reason):
        yield EmitEvent("Warning", after.reason, new.message.removeprefix(f"{after.reason}: "))
    spec_before, spec_after = _condition(old, INVALID_SPEC), _condition(new, INVALID_SPEC)
    if spec_after is not None and (spec_before is None or spec_before.message != spec_after.message):
        yield EmitEvent("Warning", INVALID_SPEC, spec_after.message)
