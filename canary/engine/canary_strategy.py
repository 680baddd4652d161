"""The canary strategy: steps (`setWeight`, `pause`, `analysis`, `setCanaryScale`), background
analysis, and traffic shifted by weight (a router) or by pod counts (none).

One decision runs the step machine as far as the observed cluster allows: it passes every step
already satisfied (pods available, weight verified, pause elapsed, analysis Successful) and stops at
the first step that waits for the world (pods, time, an analysis verdict, a promote). Convergence
(`canary.engine.converge`) then derives what the cluster must look like for the step it stopped at.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from canary.api.analysis import AnalysisPhase
from canary.api.rollout import (
    CanaryStatus,
    CanaryStep,
    PauseReason,
    Rollout,
    RolloutAnalysis,
    RolloutAnalysisRunStatus,
    RolloutStatus,
    TrafficWeights,
    WeightDestination,
)
from canary.engine import analysis_runs, converge, hooks, rollback_window
from canary.engine import steps as step_list
from canary.engine.actions import Action, PodHash
from canary.engine.context import DecisionContext
from canary.engine.hashing import HASH_LABEL, steps_hash
from canary.engine.observed import Observed
from canary.engine.progress import Progress
from canary.engine.strategy import Waits


class CanaryStrategy:
    """`spec.strategy.canary` (see the module docstring); implements `ReleaseStrategy`."""

    def problems(self, rollout: Rollout, observed: Observed) -> list[str]:
        return _problems(rollout, observed)

    def start(self, rollout: Rollout, observed: Observed, stable: PodHash, canary: PodHash) -> Progress:
        return _start(rollout, observed, stable, canary)

    def advance(self, context: DecisionContext, progress: Progress) -> tuple[Progress, list[Action], Waits]:
        return _advance(context, progress)

    def converge(self, context: DecisionContext, progress: Progress) -> tuple[list[Action], Waits, int]:
        return converge.converge(context, progress)

    def in_analysis(self, rollout: Rollout, progress: Progress) -> bool:
        steps = step_list.of(rollout)
        # A webhook gate holding the release stops the progress deadline as an analysis does.
        in_step = progress.step_index < len(steps) and steps[progress.step_index].analysis is not None
        return in_step or progress.traffic_held

    def waiting_message(self, rollout: Rollout, progress: Progress, replicas: int, updated: int) -> str:
        if rollout.spec.strategy.traffic_routing is None and replicas > updated:
            return "old replicas are pending termination"
        if not progress.complete:
            return "waiting for all steps to complete"
        # Promoted, but older pods are still up (with a router, until scaleDownDelaySeconds has passed).
        return "old replicas are pending termination"

    def completion_reason(self, rollout: Rollout) -> str:
        return f"Completed all {len(step_list.of(rollout))} canary steps"

    def status_fields(
        self, rollout: Rollout, observed: Observed, progress: Progress, weight: int
    ) -> dict[str, Any]:
        return {
            "current_step_index": progress.step_index,
            "current_step_hash": steps_hash(step_list.of(rollout)),
            "hooks": list(progress.hooks),
            "canary": CanaryStatus(
                weights=_weights(rollout, progress, weight),
                current_step_analysis_run_status=progress.step_run,
                current_background_analysis_run_status=progress.background_run,
            ),
        }

    def with_routing(
        self, rollout: Rollout, status: RolloutStatus, progress: Progress, weight: int
    ) -> RolloutStatus:
        canary = status.canary.model_copy(update={"weights": _weights(rollout, progress, weight)})
        return status.model_copy(update={"canary": canary})


CANARY = CanaryStrategy()


def _weights(rollout: Rollout, progress: Progress, weight: int) -> TrafficWeights:
    """The weights as the router was given them, in units of maxTrafficWeight (Argo's status.canary.weights):
    the next decision reads the canary's back as the weight it carries."""
    strategy = step_list.canary_of(rollout)
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


def _problems(rollout: Rollout, observed: Observed) -> list[str]:
    canary = step_list.canary_of(rollout)
    problems = [
        f"spec.strategy.canary.{field}: Service '{name}' not found; create it or fix the name"
        for field, name in rollout.spec.strategy.services().items()
        if name not in observed.service_selectors
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
    steps = len(step_list.of(rollout))
    recorded_steps = rollout.status.current_step_hash
    steps_changed = recorded_steps is not None and recorded_steps != steps_hash(step_list.of(rollout))
    if rollout.status.current_pod_hash != canary or canary == stable or steps_changed:
        skip = canary == stable or rollback_window.within(rollout, observed, stable, canary)
        fresh = Progress(stable=stable, canary=canary, step_index=steps if skip else 0)
        if rollout.status.current_pod_hash == canary:
            # Same revision, already stable: keep the record of its last analysis.
            return replace(
                fresh,
                step_run=rollout.status.canary.current_step_analysis_run_status,
                background_run=rollout.status.canary.current_background_analysis_run_status,
                hooks=tuple(rollout.status.hooks),
            )
        return fresh
    return Progress.from_status(rollout.status, stable, canary)


def _advance(context: DecisionContext, progress: Progress) -> tuple[Progress, list[Action], Waits]:
    """Move the step machine as far as the cluster allows; promote at the end."""
    if progress.complete:
        after = hooks.after_release(context, progress)
        return after.progress, after.actions, after.waits
    if progress.promote_full:
        progress = replace(progress, step_index=len(context.steps))
    actions: list[Action] = []
    waits: Waits = []
    held = False
    if not progress.abort and not progress.promote_full:
        progress, actions, waits, held = _webhooks(context, progress)
    if not progress.abort and not held:
        progress, run_actions = _background_analysis(context, progress)
        actions += run_actions
    if not progress.abort and not progress.promote_full and not held:
        reached_from = progress.step_index
        progress, step_actions, step_waits = _walk(context, progress)
        actions += step_actions
        waits += step_waits
        if not progress.abort and _background_starts_between(context, reached_from, progress.step_index):
            progress, run_actions = _background_analysis(context, progress)
            actions += run_actions
    at_end = not progress.abort and not progress.traffic_held and progress.step_index >= len(context.steps)
    if at_end and context.plan(progress, len(context.steps)).reached:
        progress = replace(progress, stable=progress.canary, promote_full=False, pause_conditions=())
    if progress.complete or progress.abort:
        after = hooks.after_release(context, progress)
        return after.progress, actions + after.actions, waits + after.waits
    return progress, actions, waits


def _webhooks(context: DecisionContext, progress: Progress) -> tuple[Progress, list[Action], Waits, bool]:
    """The gates and tests before the current step, then the rollback hooks (`canary.engine.hooks`);
    whether they hold the release (a gate closed, a test not passed)."""
    entry = hooks.entering(context, progress)
    if entry.progress.abort:
        return entry.progress, entry.actions, [], True
    asked = hooks.rollback(context, entry.progress)
    return asked.progress, entry.actions + asked.actions, entry.waits + asked.waits, not entry.passed


def _walk(context: DecisionContext, progress: Progress) -> tuple[Progress, list[Action], Waits]:
    actions: list[Action] = []
    while progress.step_index < len(context.steps) and not progress.abort:
        if context.rollout.spec.paused:
            return progress, actions, []
        if progress.paused_for(PauseReason.INCONCLUSIVE_ANALYSIS):
            progress, waits = _timed_pause_runs_out(context, progress)
            return progress, actions, waits
        index = progress.step_index
        step = context.steps[index]
        tests = hooks.during_step(context, progress, index)
        progress, actions = tests.progress, actions + tests.actions
        if progress.abort:
            return progress, actions, []
        if step.pause is not None and not tests.passed:
            # A pause runs once the step's hooks passed: its time, once started, is never started again.
            return progress, actions, tests.waits
        if step.pause is not None:
            progress, wait = _pause_step(context, progress, step)
            if wait is not None:
                return progress, actions, [wait if wait > 0 else None, *tests.waits]
        elif step.analysis is not None:
            progress, run_actions, done = _analysis_step(context, progress, step.analysis, index)
            actions += run_actions
            if not done:
                return progress, actions, tests.waits
        elif not context.plan(progress, index).reached:
            return progress, actions, tests.waits
        if not tests.passed:
            return progress, actions, tests.waits
        entry = hooks.entering(context, replace(progress, step_index=index + 1, step_run=None))
        progress, actions = entry.progress, actions + entry.actions
        if not entry.passed:
            return progress, actions, entry.waits
    return progress, actions, []


def _timed_pause_runs_out(context: DecisionContext, progress: Progress) -> tuple[Progress, Waits]:
    """Held by an inconclusive analysis at a timed pause: the pause still runs out (its condition
    goes, as Argo's does, leaving InconclusiveAnalysisRun), though the step is passed only once a
    promote releases the hold."""
    step = context.steps[progress.step_index]
    seconds = step_list.pause_seconds(step)
    condition = progress.paused_for(PauseReason.CANARY_PAUSE_STEP)
    if seconds is None or condition is None:
        return progress, []
    left = (condition.start_time + timedelta(seconds=seconds) - context.now).total_seconds()
    if left > 0:
        return progress, [left]
    return progress.without_pause(PauseReason.CANARY_PAUSE_STEP), []


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
    record = progress.step_run or analysis_runs.adopted(context.observed, progress.canary, "step", index)
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
        else [
            analysis_runs.create_run(context, progress, analysis, name=record.name, kind="step", step=index)
        ]
    )
    phase = analysis_runs.verdict(run)
    progress = replace(
        progress, step_run=analysis_runs.recorded(record, phase, run.status.message if run else "")
    )
    if phase == AnalysisPhase.SUCCESSFUL:
        return progress, actions, True
    if phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
        return (
            progress.aborted(context.now, analysis_runs.verdict_message(record.name, phase, run)),
            actions,
            False,
        )
    if phase == AnalysisPhase.INCONCLUSIVE:
        return progress.with_pause(PauseReason.INCONCLUSIVE_ANALYSIS, context.now), actions, False
    return progress, actions, False


def _background_analysis(context: DecisionContext, progress: Progress) -> tuple[Progress, list[Action]]:
    analysis = step_list.canary_of(context.rollout).analysis
    if analysis is None or progress.step_index < (analysis.starting_step or 0):
        return progress, []
    if progress.step_index >= len(context.steps):
        return _final_background_verdict(context, progress), []
    record = progress.background_run or analysis_runs.adopted(
        context.observed, progress.canary, "background", 0
    )
    record, run = analysis_runs.current_run(
        context.rollout,
        context.observed,
        record,
        progress.canary,
        "background",
        held_inconclusive=progress.paused_for(PauseReason.INCONCLUSIVE_ANALYSIS) is not None,
    )
    actions: list[Action] = (
        []
        if run is not None
        else [
            analysis_runs.create_run(context, progress, analysis, name=record.name, kind="background", step=0)
        ]
    )
    phase = analysis_runs.verdict(run)
    previous = record.status
    progress = replace(
        progress, background_run=analysis_runs.recorded(record, phase, run.status.message if run else "")
    )
    if phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
        return progress.aborted(context.now, analysis_runs.verdict_message(record.name, phase, run)), actions
    if phase == AnalysisPhase.INCONCLUSIVE and previous != AnalysisPhase.INCONCLUSIVE:
        return progress.with_pause(PauseReason.INCONCLUSIVE_ANALYSIS, context.now), actions
    return progress, actions


def _background_starts_between(context: DecisionContext, before: int, after: int) -> bool:
    """Whether the walk from step `before` to `after` reached the background analysis' starting step:
    its run starts in this decision, as the step's weight does, not in the next one (a decision is a
    fixed point of itself)."""
    analysis = step_list.canary_of(context.rollout).analysis
    starting = (analysis.starting_step or 0) if analysis is not None else None
    return starting is not None and before < starting <= after < len(context.steps)


def _final_background_verdict(context: DecisionContext, progress: Progress) -> Progress:
    """Past the last step the canary is still scaling up: a failure that arrives now still aborts,
    but no new run starts (and promote --full skips the analysis altogether)."""
    record = progress.background_run
    if record is None or progress.promote_full:
        return progress
    run = context.observed.analysis_run(record.name)
    phase = analysis_runs.verdict(run)
    if run is not None and phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
        return progress.aborted(context.now, analysis_runs.verdict_message(record.name, phase, run))
    return progress
