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

from collections.abc import Mapping
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
from canary.engine import analysis_runs, converge, recovery, rollback_window
from canary.engine import status as status_of
from canary.engine import steps as step_list
from canary.engine.actions import (
    Action,
    CreateAnalysisRun,
    PodHash,
    SetServiceSelector,
    ordered,
)
from canary.engine.context import DecisionContext
from canary.engine.hashing import HASH_LABEL, pod_template_hash, steps_hash
from canary.engine.observed import Observed
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


def decide(rollout: Rollout, observed: Observed, now: datetime) -> Decision:
    """The next status and actions for `rollout` (see the module docstring)."""
    template = rollout.spec.template if rollout.spec.template is not None else observed.workload_template
    if template is None:
        ref = rollout.spec.workload_ref.name if rollout.spec.workload_ref else ""
        return _invalid(
            rollout, now, [f"spec.workloadRef: Deployment '{ref}' not found; create it or fix the name"]
        )
    stable, canary = _hashes(rollout, observed, template)
    problems = _spec_problems(rollout, observed) + analysis_runs.analysis_problems(
        rollout, observed, stable, canary
    )
    context = DecisionContext(rollout, observed, now, template)
    if problems:
        return _invalid(rollout, now, problems, converging=context)
    progress = _start(rollout, observed, stable, canary)
    progress, run_actions, waits = _advance(context, progress)
    progress, deadline = status_of.progress_deadline(
        rollout, observed, progress, context.sides(progress), now
    )
    actions, converge_waits, weight = converge.converge(context, progress)
    status = status_of.build(
        rollout, observed, progress, sides=context.sides(progress), weight=weight, deadline=deadline, now=now
    )
    events = status_of.events_between(rollout, rollout.status, status, observed=observed, actions=actions)
    due = [w for w in (*waits, *converge_waits, deadline.wait) if w is not None]
    return Decision(status, ordered([*run_actions, *actions, *events]), min(due) if due else None)


def _invalid(
    rollout: Rollout, now: datetime, problems: list[str], *, converging: DecisionContext | None = None
) -> Decision:
    """InvalidSpec: nothing moves forward. An abort still takes effect (traffic back to stable,
    through the Services that exist), whatever else is wrong with the spec."""
    status = status_of.invalid(rollout, problems, now)
    events = list(status_of.events_between(rollout, rollout.status, status))
    if converging is None:
        return Decision(status, ordered(events), None)
    progress = _start(
        rollout, converging.observed, *_hashes(rollout, converging.observed, converging.template)
    )
    if not progress.abort or progress.complete:
        return Decision(status, ordered(events), None)
    actions, waits, weight = converge.converge(converging, progress)
    existing = converging.observed.service_selectors
    kept = [a for a in actions if not (isinstance(a, SetServiceSelector) and a.service not in existing)]
    due = [w for w in waits if w is not None]
    status = status_of.with_weights(rollout, status, progress, weight)
    return Decision(status, ordered([*kept, *events]), min(due) if due else None)


def _hashes(rollout: Rollout, observed: Observed, template: Mapping[str, Any]) -> tuple[PodHash, PodHash]:
    """(stable, canary): the canary is the current template; stable is the status's (unless it
    serves nothing, `recovery.stable_serves_nothing`), else the revision that still serves, else
    (a first deploy) the canary."""
    canary = pod_template_hash(template)
    if rollout.status.stable_rs:
        stable = PodHash(rollout.status.stable_rs)
        if recovery.stable_serves_nothing(rollout, observed, stable, canary):
            return canary, canary
        return stable, canary
    return recovery.stable_without_status(rollout, observed, canary), canary


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


def _start(rollout: Rollout, observed: Observed, stable: PodHash, canary: PodHash) -> Progress:
    """The step machine as the status left it, or fresh for a new revision (steps restart at 0;
    back to stable, or to a revision within spec.rollbackWindow, every step is skipped)."""
    steps = len(rollout.spec.strategy.canary.steps)
    recorded_steps = rollout.status.current_step_hash
    steps_changed = recorded_steps is not None and recorded_steps != steps_hash(
        rollout.spec.strategy.canary.steps
    )
    if rollout.status.current_pod_hash != canary or canary == stable or steps_changed:
        skip = canary == stable or rollback_window.within(rollout, observed, stable, canary)
        fresh = Progress(stable=stable, canary=canary, step_index=steps if skip else 0)
        if rollout.status.current_pod_hash == canary:
            # Same revision, already stable: keep the record of its last analysis.
            return replace(
                fresh,
                step_run=rollout.status.canary.current_step_analysis_run_status,
                background_run=rollout.status.canary.current_background_analysis_run_status,
            )
        return fresh
    return Progress.from_status(rollout.status, stable, canary)


def _advance(context: DecisionContext, progress: Progress) -> tuple[Progress, list[Action], converge.Waits]:
    """Move the step machine as far as the cluster allows; promote at the end."""
    if progress.complete:
        return progress, [], []
    if progress.promote_full:
        progress = replace(progress, step_index=len(context.steps))
    actions: list[Action] = []
    waits: converge.Waits = []
    if not progress.abort:
        progress, actions = _background_analysis(context, progress)
    if not progress.abort and not progress.promote_full:
        progress, step_actions, waits = _walk(context, progress)
        actions += step_actions
    at_end = not progress.abort and progress.step_index >= len(context.steps)
    if at_end and context.plan(progress, len(context.steps)).reached:
        progress = replace(progress, stable=progress.canary, promote_full=False, pause_conditions=())
    return progress, actions, waits


def _walk(context: DecisionContext, progress: Progress) -> tuple[Progress, list[Action], converge.Waits]:
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


def _pause_step(
    context: DecisionContext, progress: Progress, step: CanaryStep
) -> tuple[Progress, float | None]:
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
    context: DecisionContext, progress: Progress, analysis: RolloutAnalysis, index: int
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


def _background_analysis(context: DecisionContext, progress: Progress) -> tuple[Progress, list[Action]]:
    analysis = context.rollout.spec.strategy.canary.analysis
    if analysis is None or progress.step_index < (analysis.starting_step or 0):
        return progress, []
    if progress.step_index >= len(context.steps):
        return _final_background_verdict(context, progress), []
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


def _final_background_verdict(context: DecisionContext, progress: Progress) -> Progress:
    """Past the last step the canary is still scaling up: a failure that arrives now still aborts,
    but no new run starts (and promote --full skips the analysis altogether)."""
    record = progress.background_run
    if record is None or progress.promote_full:
        return progress
    run = context.observed.analysis_run(record.name)
    phase = analysis_runs.verdict(run)
    if run is not None and phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
        return progress.aborted(context.now, _verdict_message(record.name, phase, run))
    return progress


def _adopted(
    context: DecisionContext, progress: Progress, kind: analysis_runs.RunKind, index: int
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
    context: DecisionContext,
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
