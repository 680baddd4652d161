"""decide(): given a Rollout and what is observed, the new status and the actions that make it true.

Pure and deterministic: the same Rollout, Observed and `now` always give the same Decision, and a
decision is a fixed point of itself (deciding again on the status it returns, with the cluster
unchanged, gives the same status, the same actions and no new events).

One decision runs the step machine as far as the observed cluster allows: it passes every step
already satisfied (pods available, weight verified, pause elapsed, analysis Successful) and stops at
the first step that waits for the world (pods, time, an analysis verdict, a promote). Then it derives
what the cluster must look like for the step it stopped at.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from canary.api.analysis import AnalysisPhase
from canary.api.rollout import (
    CanaryStep,
    PauseReason,
    Rollout,
    RolloutAnalysis,
    RolloutAnalysisRunStatus,
    RolloutStatus,
)
from canary.engine import analysis_runs, targets
from canary.engine import status as status_of
from canary.engine import steps as step_list
from canary.engine.actions import (
    Action,
    CreateAnalysisRun,
    CreateReplicaSet,
    DeleteAnalysisRun,
    DeleteReplicaSet,
    PodHash,
    RestartPods,
    ScaleReplicaSet,
    SetScaleDownDeadline,
    SetServiceSelector,
    SetTrafficWeight,
    TerminateAnalysisRun,
    ordered,
)
from canary.engine.hashing import HASH_LABEL, pod_template_hash
from canary.engine.observed import Observed, ReplicaSetView
from canary.engine.progress import Progress


@dataclass(frozen=True)
class Decision:
    """The Rollout's new status, the actions that make the cluster match it, and when to look again.

    `requeue_after` is the number of seconds until something time-based is due (a timed pause ends,
    a scale-down delay passes, the progress deadline expires), None when only a change in the
    cluster can move the rollout on.
    """

    status: RolloutStatus
    actions: tuple[Action, ...]
    requeue_after: float | None


@dataclass(frozen=True)
class _Context:
    rollout: Rollout
    observed: Observed
    now: datetime
    template: Mapping[str, Any]

    @property
    def steps(self) -> list[CanaryStep]:
        return self.rollout.spec.strategy.canary.steps

    def sides(self, progress: Progress) -> targets.Sides:
        others = [
            rs
            for rs in self.observed.replica_sets
            if rs.pod_template_hash not in (progress.canary, progress.stable)
        ]
        canary = None if progress.complete else self.observed.replica_set(progress.canary)
        return targets.Sides(canary, self.observed.replica_set(progress.stable), others)

    def applied_weight(self, progress: Progress) -> int:
        weights = self.rollout.status.canary.weights
        if weights is None or weights.canary.pod_template_hash != progress.canary:
            return 0
        return weights.canary.weight

    def plan(self, progress: Progress, index: int) -> targets.Plan:
        return targets.plan_step(
            self.rollout,
            index,
            self.sides(progress),
            self.applied_weight(progress),
            self.observed.router_weight,
        )


def decide(rollout: Rollout, observed: Observed, now: datetime) -> Decision:
    """The next status and actions for `rollout` (see the module docstring)."""
    template = rollout.spec.template if rollout.spec.template is not None else observed.workload_template
    if template is None:
        ref = rollout.spec.workload_ref.name if rollout.spec.workload_ref else ""
        return _invalid(
            rollout, now, [f"spec.workloadRef: Deployment '{ref}' not found; create it or fix the name"]
        )
    canary = pod_template_hash(template)
    stable = PodHash(rollout.status.stable_rs) if rollout.status.stable_rs else canary
    problems = _spec_problems(rollout, observed) + analysis_runs.analysis_problems(
        rollout, observed, stable, canary
    )
    if problems:
        return _invalid(rollout, now, problems)
    context = _Context(rollout, observed, now, template)
    progress = _start(rollout, stable, canary)
    progress, run_actions, waits = _advance(context, progress)
    progress, deadline = status_of.progress_deadline(
        rollout, observed, progress, context.sides(progress), now
    )
    actions, converge_waits, weight = _converge(context, progress)
    status = status_of.build(
        rollout, observed, progress, sides=context.sides(progress), weight=weight, deadline=deadline, now=now
    )
    events = status_of.events_between(rollout, rollout.status, status)
    due = [w for w in (*waits, *converge_waits, deadline.wait) if w is not None]
    return Decision(status, ordered([*run_actions, *actions, *events]), min(due) if due else None)


def _invalid(rollout: Rollout, now: datetime, problems: list[str]) -> Decision:
    status = status_of.invalid(rollout, problems, now)
    return Decision(status, ordered(list(status_of.events_between(rollout, rollout.status, status))), None)


def _spec_problems(rollout: Rollout, observed: Observed) -> list[str]:
    canary = rollout.spec.strategy.canary
    problems = [
        f"spec.strategy.canary.{field}: Service '{name}' not found; create it or fix the name"
        for field, name in (
            ("stableService", canary.stable_service),
            ("canaryService", canary.canary_service),
        )
        if name and name not in observed.service_selectors
    ]
    if canary.traffic_routing is None:
        problems += [
            f"spec.strategy.canary.steps[{index}].setCanaryScale: needs trafficRouting; "
            "without a router the canary's share is set by replica counts"
            for index, step in enumerate(canary.steps)
            if step.set_canary_scale is not None
        ]
    return problems


def _start(rollout: Rollout, stable: PodHash, canary: PodHash) -> Progress:
    """The step machine as the status left it, or fresh for a new revision (steps restart at 0)."""
    steps = len(rollout.spec.strategy.canary.steps)
    if rollout.status.current_pod_hash != canary or canary == stable:
        fresh = Progress(stable=stable, canary=canary, step_index=steps if canary == stable else 0)
        if rollout.status.current_pod_hash == canary:
            # Same revision, already stable: keep the record of its last analysis.
            return replace(
                fresh,
                step_run=rollout.status.canary.current_step_analysis_run_status,
                background_run=rollout.status.canary.current_background_analysis_run_status,
            )
        return fresh
    return Progress.from_status(rollout.status, stable, canary)


_Waits = list[float | None]


def _advance(context: _Context, progress: Progress) -> tuple[Progress, list[Action], _Waits]:
    """Move the step machine as far as the cluster allows; promote at the end."""
    if progress.complete:
        return progress, [], []
    if progress.promote_full:
        progress = replace(progress, step_index=len(context.steps))
    actions: list[Action] = []
    waits: _Waits = []
    if not progress.abort:
        progress, actions = _background_analysis(context, progress)
    if not progress.abort and not progress.promote_full:
        progress, step_actions, waits = _walk(context, progress)
        actions += step_actions
    at_end = not progress.abort and progress.step_index >= len(context.steps)
    if at_end and context.plan(progress, len(context.steps)).reached:
        progress = replace(progress, stable=progress.canary, promote_full=False, pause_conditions=())
    return progress, actions, waits


def _walk(context: _Context, progress: Progress) -> tuple[Progress, list[Action], _Waits]:
    actions: list[Action] = []
    while progress.step_index < len(context.steps) and not progress.abort:
        if context.rollout.spec.paused or progress.paused_for(PauseReason.INCONCLUSIVE_ANALYSIS):
            return progress, actions, []
        index = progress.step_index
        step = context.steps[index]
        if step.pause is not None:
            progress, wait = _pause_step(context, progress, step)
            if wait is not None:
                return progress, actions, [wait if wait > 0 else None]
        elif step.analysis is not None:
            progress, run_actions, done = _analysis_step(context, progress, step.analysis, index)
            actions += run_actions
            if not done:
                return progress, actions, []
        elif not context.plan(progress, index).reached:
            return progress, actions, []
        progress = replace(progress, step_index=index + 1, step_run=None)
    return progress, actions, []


def _pause_step(context: _Context, progress: Progress, step: CanaryStep) -> tuple[Progress, float | None]:
    """The pause after `step` ends: seconds left (0 = until promoted), None once it is over."""
    progress = progress.with_pause(PauseReason.CANARY_PAUSE_STEP, context.now)
    seconds = step_list.pause_seconds(step)
    if seconds is None:
        return progress, 0.0
    condition = progress.paused_for(PauseReason.CANARY_PAUSE_STEP)
    assert condition is not None
    left = (condition.start_time + timedelta(seconds=seconds) - context.now).total_seconds()
    if left > 0:
        return progress, left
    return progress.without_pause(PauseReason.CANARY_PAUSE_STEP), None


def _analysis_step(
    context: _Context, progress: Progress, analysis: RolloutAnalysis, index: int
) -> tuple[Progress, list[Action], bool]:
    record = progress.step_run or _adopted(context, progress, "step", index)
    run = context.observed.analysis_run(record.name) if record else None
    stale = run is not None and run.metadata.labels.get(analysis_runs.STEP_LABEL) != str(index)
    if (
        record is None
        or stale
        or (run is not None and run.metadata.labels.get(HASH_LABEL) != progress.canary)
    ):
        name = analysis_runs.run_name(context.rollout, context.observed, progress.canary, "step", index)
        record = RolloutAnalysisRunStatus(name=name, status=AnalysisPhase.PENDING)
        run = None
    actions: list[Action] = (
        []
        if run is not None
        else [_create_run(context, progress, analysis, name=record.name, kind="step", index=index)]
    )
    phase = analysis_runs.verdict(run)
    progress = replace(progress, step_run=_recorded(record, phase, run.status.message if run else ""))
    if phase == AnalysisPhase.SUCCESSFUL:
        return progress, actions, True
    if phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
        return progress.aborted(context.now, _verdict_message(record.name, phase, run)), actions, False
    if phase == AnalysisPhase.INCONCLUSIVE:
        return progress.with_pause(PauseReason.INCONCLUSIVE_ANALYSIS, context.now), actions, False
    return progress, actions, False


def _background_analysis(context: _Context, progress: Progress) -> tuple[Progress, list[Action]]:
    analysis = context.rollout.spec.strategy.canary.analysis
    if analysis is None or progress.step_index < (analysis.starting_step or 0):
        return progress, []
    if progress.step_index >= len(context.steps):
        return progress, []
    record = progress.background_run or _adopted(context, progress, "background", 0)
    run = context.observed.analysis_run(record.name) if record else None
    acknowledged = (
        record is not None
        and record.status == AnalysisPhase.INCONCLUSIVE
        and not progress.paused_for(PauseReason.INCONCLUSIVE_ANALYSIS)
    )
    if (
        record is None
        or acknowledged
        or (run is not None and run.metadata.labels.get(HASH_LABEL) != progress.canary)
    ):
        name = analysis_runs.run_name(context.rollout, context.observed, progress.canary, "background", 0)
        record = RolloutAnalysisRunStatus(name=name, status=AnalysisPhase.PENDING)
        run = None
    actions: list[Action] = (
        []
        if run is not None
        else [_create_run(context, progress, analysis, name=record.name, kind="background", index=0)]
    )
    phase = analysis_runs.verdict(run)
    previous = record.status
    progress = replace(progress, background_run=_recorded(record, phase, run.status.message if run else ""))
    if phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
        return progress.aborted(context.now, _verdict_message(record.name, phase, run)), actions
    if phase == AnalysisPhase.INCONCLUSIVE and previous != AnalysisPhase.INCONCLUSIVE:
        return progress.with_pause(PauseReason.INCONCLUSIVE_ANALYSIS, context.now), actions
    return progress, actions


def _adopted(
    context: _Context, progress: Progress, kind: analysis_runs.RunKind, index: int
) -> RolloutAnalysisRunStatus | None:
    """The record of a run created for this step whose status write was lost (a crash in between),
    so that the step does not start a second run."""
    run = analysis_runs.in_flight(context.observed, progress.canary, kind, index)
    return (
        None
        if run is None
        else RolloutAnalysisRunStatus(name=run.metadata.name, status=AnalysisPhase.PENDING)
    )


def _recorded(
    record: RolloutAnalysisRunStatus, phase: AnalysisPhase, message: str
) -> RolloutAnalysisRunStatus:
    return RolloutAnalysisRunStatus(name=record.name, status=phase, message=message)


def _verdict_message(name: str, phase: AnalysisPhase, run: Any) -> str:
    detail = run.status.message if run is not None and run.status.message else ""
    return f"AnalysisRun '{name}' {phase}" + (f": {detail}" if detail else "")


def _create_run(
    context: _Context,
    progress: Progress,
    analysis: RolloutAnalysis,
    *,
    name: str,
    kind: analysis_runs.RunKind,
    index: int,
) -> CreateAnalysisRun:
    run = analysis_runs.new_run(
        context.rollout,
        analysis,
        context.observed,
        name=name,
        kind=kind,
        step=index,
        stable=progress.stable,
        canary=progress.canary,
        now=context.now,
    )
    return CreateAnalysisRun(run)


def _converge(context: _Context, progress: Progress) -> tuple[list[Action], _Waits, int]:
    """Actions that make pods, Services, traffic and runs match `progress`, and the weight routed."""
    rollout = context.rollout
    canary_strategy = rollout.spec.strategy.canary
    routed = canary_strategy.traffic_routing is not None
    sides = context.sides(progress)
    waits: _Waits = []
    if progress.complete:
        canary_count, stable_count, weight = 0, rollout.spec.replicas, 0
    elif progress.abort:
        canary_count, wait = _aborted_canary_count(context, progress, sides)
        stable_count, weight = rollout.spec.replicas, 0
        waits.append(wait)
    else:
        plan = context.plan(progress, progress.step_index)
        canary_count, stable_count, weight = plan.canary_replicas, plan.stable_replicas, plan.weight
    actions: list[Action] = []
    actions += _replica_set(context, progress.stable, sides.stable, stable_count)
    if not progress.complete:
        actions += _replica_set(context, progress.canary, sides.canary, canary_count)
    spare = _spare_available(context, sides, canary_count, stable_count)
    older, older_waits = _older_replica_sets(context, sides.others, routed, None if progress.abort else spare)
    actions += older
    waits += older_waits
    canary_target = progress.stable if progress.complete or progress.abort else progress.canary
    for service, pod_hash in (
        (canary_strategy.stable_service, progress.stable),
        (canary_strategy.canary_service, canary_target),
    ):
        if service:
            actions.append(SetServiceSelector(service, pod_hash))
    if routed:
        actions.append(SetTrafficWeight(weight, progress.stable, canary_target))
    actions += _settle_runs(context, progress)
    actions += _restarts(context)
    if not routed:
        weight = 0 if progress.complete else targets.pod_share(sides)
    return actions, waits, weight


def _restarts(context: _Context) -> list[Action]:
    """spec.restartAt: every ReplicaSet with pods restarts them once, when the time has come."""
    restart_at = context.rollout.spec.restart_at
    if restart_at is None or restart_at > context.now:
        return []
    return [
        RestartPods(rs.pod_template_hash, restart_at)
        for rs in context.observed.replica_sets
        if rs.replicas > 0 and (rs.restarted_at is None or rs.restarted_at < restart_at)
    ]


def _aborted_canary_count(
    context: _Context, progress: Progress, sides: targets.Sides
) -> tuple[int, float | None]:
    """After an abort the canary keeps its pods for abortScaleDownDelaySeconds (0 = for good) with a
    router, so a retry finds them warm; without one its pods carry traffic and must go at once."""
    strategy = context.rollout.spec.strategy.canary
    current = sides.canary.replicas if sides.canary else 0
    delay = strategy.abort_scale_down_delay_seconds
    if strategy.traffic_routing is None or current == 0:
        return 0, None
    if delay == 0:
        return current, None
    aborted_at = progress.aborted_at or context.now
    left = (aborted_at + timedelta(seconds=delay) - context.now).total_seconds()
    return (current, left) if left > 0 else (0, None)


def _replica_set(
    context: _Context, pod_hash: PodHash, seen: ReplicaSetView | None, replicas: int
) -> list[Action]:
    if seen is not None:
        return [ScaleReplicaSet(pod_hash, replicas)]
    if pod_hash != pod_template_hash(context.template):
        return []  # a stable ReplicaSet that vanished cannot be rebuilt: its template is gone with it
    revision = max((rs.revision for rs in context.observed.replica_sets), default=0) + 1
    return [CreateReplicaSet(pod_hash, _labelled(context.template, pod_hash), replicas, revision)]


def _labelled(template: Mapping[str, Any], pod_hash: PodHash) -> dict[str, Any]:
    metadata = dict(template.get("metadata") or {})
    labels = {**(metadata.get("labels") or {}), HASH_LABEL: pod_hash}
    return {**template, "metadata": {**metadata, "labels": labels}}


def _spare_available(context: _Context, sides: targets.Sides, canary_count: int, stable_count: int) -> int:
    """Available pods that may still go this decision without breaking maxUnavailable."""
    _, unavailable = targets.surge_and_unavailable(context.rollout)
    lost = max(0, sides.canary_available() - canary_count) + max(0, sides.stable_available() - stable_count)
    total = sides.canary_available() + sides.stable_available() + sum(rs.available for rs in sides.others)
    return total - lost - (context.rollout.spec.replicas - unavailable)


def _older_replica_sets(
    context: _Context, others: Sequence[ReplicaSetView], routed: bool, spare: int | None
) -> tuple[list[Action], _Waits]:
    """Scale down revisions that are neither stable nor canary. With a router after
    scaleDownDelaySeconds (traffic drains first); without one their pods carry traffic, so unready
    pods go at once and available ones as far as `spare` allows (None: all at once, after an abort).
    Trim the history."""
    delay = context.rollout.spec.strategy.canary.scale_down_delay_seconds
    actions: list[Action] = []
    waits: _Waits = []
    budget = spare
    for rs in others:
        if rs.replicas == 0:
            continue
        if not routed and budget is not None:
            removable = min(rs.available, max(budget, 0))
            budget -= removable
            actions.append(ScaleReplicaSet(rs.pod_template_hash, rs.available - removable))
            continue
        if not routed or delay == 0:
            actions.append(ScaleReplicaSet(rs.pod_template_hash, 0))
            continue
        deadline = rs.scale_down_deadline or context.now + timedelta(seconds=delay)
        if rs.scale_down_deadline is None:
            actions.append(SetScaleDownDeadline(rs.pod_template_hash, deadline))
        left = (deadline - context.now).total_seconds()
        if left > 0:
            waits.append(left)
        else:
            actions.append(ScaleReplicaSet(rs.pod_template_hash, 0))
    idle = sorted(
        (rs for rs in others if rs.replicas == 0 and rs.available == 0),
        key=lambda rs: rs.revision,
        reverse=True,
    )
    limit = context.rollout.spec.revision_history_limit
    actions += [DeleteReplicaSet(rs.pod_template_hash) for rs in idle[limit:]]
    return actions, waits


def _settle_runs(context: _Context, progress: Progress) -> list[Action]:
    """Stop runs nobody waits for any more; trim finished runs to the history limits."""
    live = not progress.complete and not progress.abort
    wanted = {record.name for record in (progress.step_run, progress.background_run) if record and live}
    actions: list[Action] = [
        TerminateAnalysisRun(run.metadata.name)
        for run in context.observed.analysis_runs
        if run.metadata.name not in wanted
        and not AnalysisPhase(run.status.phase).completed
        and not run.spec.terminate
    ]
    shown = [record.name for record in (progress.step_run, progress.background_run) if record]
    actions += [
        DeleteAnalysisRun(name)
        for name in analysis_runs.finished_runs_to_delete(context.rollout, context.observed, shown)
    ]
    return actions
