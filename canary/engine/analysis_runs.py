"""The AnalysisRuns a Rollout starts: which templates they need, their names, labels and verdicts.

A run is found again through the name the Rollout's status records (`status.canary.current*Analysis
RunStatus.name`), never by searching for "the latest" run: after a retry or a new revision the
status forgets the name and a fresh run is created, so an old verdict is never read twice. The one
exception is `in_flight`: a run created just before the controller died, whose name never reached the
status, is adopted rather than started again (it has no verdict yet, so none is read twice).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Literal

from canary.analysis.args import ArgumentError, build_run_spec
from canary.api.analysis import (
    RUN_KIND_LABEL,
    AnalysisPhase,
    AnalysisRun,
    AnalysisTemplate,
    ClusterAnalysisTemplate,
)
from canary.api.base import ObjectMeta
from canary.api.rollout import Rollout, RolloutAnalysis, RolloutAnalysisRunStatus
from canary.engine import steps as step_list
from canary.engine.actions import CreateAnalysisRun, PodHash
from canary.engine.context import DecisionContext
from canary.engine.hashing import HASH_LABEL
from canary.engine.observed import Observed
from canary.engine.progress import Progress

ROLLOUT_LABEL = "canary.dev/rollout"
KIND_LABEL = RUN_KIND_LABEL
STEP_LABEL = "canary.dev/step-index"

RunKind = Literal["step", "background", "pre", "post"]
"""A canary step's run, the canary's background run, a blue-green pre- or post-promotion run."""
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


def referenced(rollout: Rollout) -> Iterator[tuple[str, RolloutAnalysis]]:
    """Every analysis of the strategy with the path of its field: the canary's background analysis
    first, then its steps'; blue-green's pre-, then post-promotion analysis."""
    canary = rollout.spec.strategy.canary
    if canary is not None and canary.analysis is not None:
        yield "spec.strategy.canary.analysis", canary.analysis
    for index, step in enumerate(step_list.of(rollout)):
        if step.analysis is not None:
            yield f"spec.strategy.canary.steps[{index}].analysis", step.analysis
    blue_green = rollout.spec.strategy.blue_green
    if blue_green is not None:
        if blue_green.pre_promotion_analysis is not None:
            yield "spec.strategy.blueGreen.prePromotionAnalysis", blue_green.pre_promotion_analysis
        if blue_green.post_promotion_analysis is not None:
            yield "spec.strategy.blueGreen.postPromotionAnalysis", blue_green.post_promotion_analysis


def templates_of(
    analysis: RolloutAnalysis, observed: Observed
) -> tuple[list[AnalysisTemplate | ClusterAnalysisTemplate], list[str]]:
    """The templates `analysis` names, and one problem per template that does not exist or does not
    validate."""
    found: list[AnalysisTemplate | ClusterAnalysisTemplate] = []
    problems: list[str] = []
    for index, ref in enumerate(analysis.templates):
        pool = observed.cluster_templates if ref.cluster_scope else observed.templates
        invalid = observed.invalid_cluster_templates if ref.cluster_scope else observed.invalid_templates
        template = pool.get(ref.template_name)
        kind = "ClusterAnalysisTemplate" if ref.cluster_scope else "AnalysisTemplate"
        if ref.template_name in invalid:
            problems.append(
                f"templates[{index}]: {kind} '{ref.template_name}' is invalid: {invalid[ref.template_name]}; "
                f"fix the {kind} and apply it again (`canary lint` checks it before it reaches the cluster)"
            )
        elif template is None:
            problems.append(
                f"templates[{index}]: {kind} '{ref.template_name}' not found; create it or fix templateName"
            )
        else:
            found.append(template)
    return found, problems


def analysis_problems(rollout: Rollout, observed: Observed, stable: PodHash, canary: PodHash) -> list[str]:
    """Why some analysis of the Rollout could not start: missing or invalid templates, unresolvable
    arguments."""
    problems: list[str] = []
    for path, analysis in referenced(rollout):
        templates, unusable = templates_of(analysis, observed)
        problems += [f"{path}.{problem}" for problem in unusable]
        if not unusable:
            try:
                build_run_spec(templates, analysis, rollout, stable_hash=stable, canary_hash=canary)
            except ArgumentError as error:
                problems.append(f"{path}: {error}")
    return problems


def run_name(rollout: Rollout, observed: Observed, canary: PodHash, kind: RunKind, step: int) -> str:
    """A name no AnalysisRun of the namespace has yet: `<rollout>-<hash>-<step|bg>-<n>`.

    Runs of other owners count too: a run orphaned with a deleted Rollout of the same name would
    otherwise keep the new run from being created (the create finds the name taken).
    """
    suffix = {"step": str(step), "background": "bg", "pre": "pre", "post": "post"}[kind]
    stem = f"{rollout.metadata.name}-{canary}-{suffix}-"
    taken = {run.metadata.name for run in observed.analysis_runs} | observed.run_names
    attempt = 1
    while f"{stem}{attempt}" in taken:
        attempt += 1
    return f"{stem}{attempt}"


def in_flight(observed: Observed, canary: PodHash, kind: RunKind, step: int) -> AnalysisRun | None:
    """The newest unfinished, unterminated run of revision `canary` for this analysis, if any."""
    wanted = {HASH_LABEL: canary, KIND_LABEL: kind} | ({STEP_LABEL: str(step)} if kind == "step" else {})
    running = [
        run
        for run in observed.analysis_runs
        if all(run.metadata.labels.get(key) == value for key, value in wanted.items())
        and not AnalysisPhase(run.status.phase).completed
        and not run.spec.terminate
    ]
    return max(running, key=lambda run: run.metadata.creation_timestamp or _LONG_AGO, default=None)


def verdict(run: AnalysisRun | None) -> AnalysisPhase:
    """The run's phase; a run not yet visible counts as Pending."""
    return AnalysisPhase.PENDING if run is None else AnalysisPhase(run.status.phase)


def finished_runs_to_delete(rollout: Rollout, observed: Observed, keep: Sequence[str]) -> list[str]:
    """Completed runs beyond analysis.successfulRunHistoryLimit / unsuccessfulRunHistoryLimit, oldest first."""
    history = rollout.spec.analysis
    limits = (
        (5, 5)
        if history is None
        else (history.successful_run_history_limit, history.unsuccessful_run_history_limit)
    )
    done = [
        run
        for run in observed.analysis_runs
        if AnalysisPhase(run.status.phase).completed and run.metadata.name not in keep
    ]
    newest_first = sorted(
        done, key=lambda r: (r.metadata.creation_timestamp or _LONG_AGO, r.metadata.name), reverse=True
    )
    successful = [r for r in newest_first if r.status.phase == AnalysisPhase.SUCCESSFUL]
    unsuccessful = [r for r in newest_first if r.status.phase != AnalysisPhase.SUCCESSFUL]
    extra = successful[limits[0] :] + unsuccessful[limits[1] :]
    return sorted(run.metadata.name for run in extra)


def create_run(
    context: DecisionContext,
    progress: Progress,
    analysis: RolloutAnalysis,
    *,
    name: str,
    kind: RunKind,
    step: int,
) -> CreateAnalysisRun:
    """The action that starts `analysis` as the run `name` (its templates were checked by
    `analysis_problems`)."""
    rollout, stable, canary = context.rollout, progress.stable, progress.canary
    templates, _ = templates_of(analysis, context.observed)
    spec = build_run_spec(templates, analysis, rollout, stable_hash=stable, canary_hash=canary)
    labels = {ROLLOUT_LABEL: rollout.metadata.name, HASH_LABEL: canary, KIND_LABEL: kind}
    if kind == "step":
        labels[STEP_LABEL] = str(step)
    metadata = ObjectMeta(
        name=name, namespace=rollout.metadata.namespace, labels=labels, creation_timestamp=context.now
    )
    return CreateAnalysisRun(AnalysisRun(metadata=metadata, spec=spec))


def adopted(observed: Observed, canary: PodHash, kind: RunKind, index: int) -> RolloutAnalysisRunStatus | None:
    """The record of a run created for this analysis whose status write was lost (a crash in
    between), so that the analysis does not start a second run."""
    run = in_flight(observed, canary, kind, index)
    return (
        None
        if run is None
        else RolloutAnalysisRunStatus(name=run.metadata.name, status=AnalysisPhase.PENDING)
    )


def recorded(record: RolloutAnalysisRunStatus, phase: AnalysisPhase, message: str) -> RolloutAnalysisRunStatus:
    """The status's record of a run, with the phase and message it has now."""
    return RolloutAnalysisRunStatus(name=record.name, status=phase, message=message)


def verdict_message(name: str, phase: AnalysisPhase, run: AnalysisRun | None) -> str:
    """Why a run's verdict aborts the rollout: `AnalysisRun '<run>' Failed: <run message>`."""
    detail = run.status.message if run is not None and run.status.message else ""
    return f"AnalysisRun '{name}' {phase}" + (f": {detail}" if detail else "")


def current_run(
    rollout: Rollout,
    observed: Observed,
    record: RolloutAnalysisRunStatus | None,
    canary: PodHash,
    kind: RunKind,
    *,
    held_inconclusive: bool,
) -> tuple[RolloutAnalysisRunStatus, AnalysisRun | None]:
    """The run a background or promotion analysis waits on: `record` and its run, unless there is
    none, its Inconclusive verdict was acknowledged (a promote released the hold), or it judges
    another revision; then a fresh name with no run yet (the caller creates it)."""
    run = observed.analysis_run(record.name) if record else None
    acknowledged = (
        record is not None and record.status == AnalysisPhase.INCONCLUSIVE and not held_inconclusive
    )
    if record is None or acknowledged or (run is not None and run.metadata.labels.get(HASH_LABEL) != canary):
        name = run_name(rollout, observed, canary, kind, 0)
        return RolloutAnalysisRunStatus(name=name, status=AnalysisPhase.PENDING), None
    return record, run
