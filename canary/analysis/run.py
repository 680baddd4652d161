"""The AnalysisRun executor: a pure step function from (run, now, new outcomes) to the next run state.

`step` records the outcomes of the measurements the caller just took, decides every metric's and
the run's phase, and says which measurements are due now and when the next one falls due. It reads
no clock and does no I/O; `canary.analysis.runner` takes the measurements it asks for.

Rules (Argo Rollouts' semantics, see shared/reference/argo-rollouts.md):

- When a metric measures. The first measurement is due `initialDelay` after the run started; the
  next one `interval` after the last finished; after an Error, 10 s later whatever the interval; an
  in-flight measurement (a Job) when its provider asked to resume it. `count` measurements are taken
  (Error measurements do not count); no count and no interval means one; an interval without a
  count measures until the run terminates.
- A metric's phase. Failed when failed > failureLimit (-1 disables the limit); Inconclusive when
  inconclusive > inconclusiveLimit; Error when consecutive errors > consecutiveErrorLimit (an invalid
  spec is Error at once: retrying cannot fix it); else Successful once `count` is reached or the run
  is terminating; else Running (Pending before its first measurement). A completed phase is final.
- The run's phase. Running while any metric is; then the worst non-dry-run metric phase
  (Successful < Running < Pending < Inconclusive < Error < Failed), Successful when every metric is
  dry-run. A dry-run metric is measured and reported but never decides and never ends the run.
- Terminating. `spec.terminate`, or a non-dry-run metric that is Failed, Error or Inconclusive, ends
  the run: nothing more is measured, in-flight measurements are marked terminated, and metrics that
  were still measuring become Successful (the decisive metric, if any, still makes the run fail).
- measurementRetention keeps the last `limit` measurements of a metric (default 10); the counters
  keep counting everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from canary.api.analysis import (
    INLINE_RUN_KINDS,
    RUN_KIND_LABEL,
    AnalysisPhase,
    AnalysisRun,
    AnalysisRunStatus,
    Measurement,
    Metric,
    MetricResult,
    RunSummary,
    pattern_matches,
)

ERROR_RETRY = timedelta(seconds=10)
"""How soon a metric measures again after an Error measurement, whatever its interval."""

DEFAULT_RETENTION = 10
"""Measurements kept per metric when measurementRetention does not name it."""

_SEVERITY = {
    phase: rank
    for rank, phase in enumerate(
        (
            AnalysisPhase.SUCCESSFUL,
            AnalysisPhase.RUNNING,
            AnalysisPhase.PENDING,
            AnalysisPhase.INCONCLUSIVE,
            AnalysisPhase.ERROR,
            AnalysisPhase.FAILED,
        )
    )
}
_DECISIVE = (AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.INCONCLUSIVE)


@dataclass(frozen=True)
class MeasurementOutcome:
    """What one measurement came to, as the runner hands it back.

    `phase` Running means still in flight (resume at `resume_at`). `invalid_spec` marks an Error that
    retrying cannot fix. `judge_state` replaces the metric's stored judge state when not None.
    """

    phase: AnalysisPhase
    message: str = ""
    value: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    resume_at: datetime | None = None
    invalid_spec: bool = False
    judge_state: dict[str, Any] | None = None


@dataclass(frozen=True)
class DueMeasurement:
    """A measurement to take now: a new one, or the in-flight one to resume."""

    metric: Metric
    in_flight: Measurement | None
    judge_state: dict[str, Any] | None
    index: int
    """How many measurements of this metric completed before this one (names Jobs uniquely)."""


@dataclass(frozen=True)
class Step:
    run: AnalysisRun
    due: tuple[DueMeasurement, ...]
    requeue_at: datetime | None
    """When the next measurement falls due; None once the run has completed."""


def worst(first: AnalysisPhase, second: AnalysisPhase) -> AnalysisPhase:
    return first if _SEVERITY[first] >= _SEVERITY[second] else second


def step(run: AnalysisRun, now: datetime, outcomes: Mapping[str, MeasurementOutcome] | None = None) -> Step:
    """The run after recording `outcomes` (keyed by metric name) at `now`, and what is due next.

    Idempotent: stepping a run again at the same `now` with no outcomes changes nothing. A completed
    run is returned as is. Raises ValueError for an outcome naming no metric of the run.
    """
    status = run.status
    if AnalysisPhase(status.phase).completed:
        return Step(run, (), None)
    started_at = status.started_at or now
    try:
        metrics = resolved_metrics(run)
    except ValueError as error:
        # A run created with numeric fields still templated (by hand; the controller resolves them
        # when it creates a run) that cannot be resolved: no measurement could ever be taken.
        failed = status.model_copy(
            update={
                "phase": AnalysisPhase.ERROR,
                "message": f"InvalidSpec: {error}",
                "started_at": started_at,
                "completed_at": now,
            }
        )
        return Step(run.model_copy(update={"status": failed}), (), None)
    unknown = sorted(set(outcomes or {}) - set(metrics))
    if unknown:
        raise ValueError(f"outcomes name no metric of the run: {', '.join(unknown)}")
    skipped = _skipped_metrics(run, metrics)
    results = {r.name: r for r in status.metric_results}
    for metric in run.spec.metrics:
        result = results.get(metric.name) or MetricResult(
            name=metric.name, dry_run=is_dry_run(run, metric.name)
        )
        if metric.name in skipped and not result.measurements:
            result = result.model_copy(
                update={
                    "phase": AnalysisPhase.SUCCESSFUL,
                    "message": "not measured: count 0 in an inline analysis (a step's or a pre/post-promotion "
                    "analysis) skips the metric; in a background analysis it measures until the rollout ends",
                }
            )
        outcome = (outcomes or {}).get(metric.name)
        if outcome is not None and not AnalysisPhase(result.phase).completed:
            result = _record(result, outcome, now)
        results[metric.name] = _retain(result, _retention_limit(run, metric.name))

    terminating = run.spec.terminate
    assessed = {name: _assess(metrics[name], r, terminating=terminating) for name, r in results.items()}
    if not terminating and any(r.phase in _DECISIVE and not r.dry_run for r in assessed.values()):
        terminating = True
    if terminating:
        assessed = {
            name: _assess(metrics[name], _terminate_in_flight(r, now), terminating=True)
            for name, r in assessed.items()
        }
    ordered = [assessed[m.name] for m in run.spec.metrics]
    phase, message = _run_phase(ordered, terminated_by_user=run.spec.terminate)
    dry_runs = [r for r in ordered if r.dry_run]
    new_status = AnalysisRunStatus(
        phase=phase,
        message=message,
        metric_results=ordered,
        started_at=started_at,
        completed_at=(status.completed_at or now) if phase.completed else None,
        run_summary=_summary([r for r in ordered if not r.dry_run]),
        dry_run_summary=_summary(dry_runs) if dry_runs else None,
    )
    new_run = run.model_copy(update={"status": new_status})
    if phase.completed:
        return Step(new_run, (), None)
    schedule = [
        (_due_at(metrics[r.name], r, started_at), r) for r in ordered if not AnalysisPhase(r.phase).completed
    ]
    due = tuple(
        DueMeasurement(
            metric=metrics[r.name],
            in_flight=_in_flight(r),
            judge_state=r.judge_state,
            index=r.count + r.error,
        )
        for at, r in schedule
        if at <= now
    )
    later = [at for at, _ in schedule if at > now]
    requeue_at = now if due else min(later, default=None)
    return Step(new_run, due, requeue_at)


def resolved_metrics(run: AnalysisRun) -> dict[str, Metric]:
    """The run's metrics by name, numeric `{{args.*}}` fields resolved from the run's literal args."""
    literal = {arg.name: arg.value for arg in run.spec.args if arg.value is not None}
    return {m.name: m.with_arguments(literal) for m in run.spec.metrics}


def is_dry_run(run: AnalysisRun, metric_name: str) -> bool:
    """Whether a dryRun rule (a regular expression, as Argo's) names the metric."""
    return any(pattern_matches(d.metric_name, metric_name) for d in run.spec.dry_run)


def is_inline(run: AnalysisRun) -> bool:
    """A step's or a pre/post-promotion analysis, which the rollout waits for (not a background one)."""
    return run.metadata.labels.get(RUN_KIND_LABEL) in INLINE_RUN_KINDS


def _skipped_metrics(run: AnalysisRun, metrics: Mapping[str, Metric]) -> set[str]:
    # Argo: "if the count has value 0 and the analysis is defined in the steps, it won't be executed".
    if not is_inline(run):
        return set()
    return {name for name, metric in metrics.items() if metric.numbers().count == 0}


def expires_at(run: AnalysisRun) -> datetime | None:
    """When a completed run's ttlStrategy has it deleted; None when it is kept (or still running)."""
    ttl = run.spec.ttl_strategy
    completed_at = run.status.completed_at
    if ttl is None or completed_at is None or not AnalysisPhase(run.status.phase).completed:
        return None
    seconds = ttl.seconds_after_completion
    if run.status.phase == AnalysisPhase.SUCCESSFUL and ttl.seconds_after_success is not None:
        seconds = ttl.seconds_after_success
    elif run.status.phase == AnalysisPhase.FAILED and ttl.seconds_after_failure is not None:
        seconds = ttl.seconds_after_failure
    return None if seconds is None else completed_at + timedelta(seconds=seconds)


def _in_flight(result: MetricResult) -> Measurement | None:
    last = result.measurements[-1] if result.measurements else None
    return last if last is not None and not AnalysisPhase(last.phase).completed else None


def _record(result: MetricResult, outcome: MeasurementOutcome, now: datetime) -> MetricResult:
    in_flight = _in_flight(result)
    phase = AnalysisPhase(outcome.phase)
    measurement = Measurement(
        phase=phase,
        value=outcome.value,
        message=outcome.message,
        started_at=in_flight.started_at if in_flight is not None else now,
        finished_at=now if phase.completed else None,
        resume_at=None if phase.completed else (outcome.resume_at or now),
        metadata=dict(outcome.metadata),
    )
    kept = result.measurements[:-1] if in_flight is not None else result.measurements
    update: dict[str, Any] = {"measurements": [*kept, measurement]}
    if outcome.judge_state is not None:
        update["judge_state"] = outcome.judge_state
    if phase is AnalysisPhase.ERROR:
        update |= {
            "error": result.error + 1,
            "consecutive_error": result.consecutive_error + 1,
            "consecutive_success": 0,
        }
        if outcome.invalid_spec:
            update |= {"phase": AnalysisPhase.ERROR, "message": f"InvalidSpec: {outcome.message}"}
    elif phase.completed:
        update |= _counted(result, phase)
    return result.model_copy(update=update)


def _counted(result: MetricResult, phase: AnalysisPhase) -> dict[str, Any]:
    counter = {
        AnalysisPhase.SUCCESSFUL: "successful",
        AnalysisPhase.FAILED: "failed",
        AnalysisPhase.INCONCLUSIVE: "inconclusive",
    }[phase]
    successes = result.consecutive_success + 1 if phase is AnalysisPhase.SUCCESSFUL else 0
    return {
        counter: getattr(result, counter) + 1,
        "count": result.count + 1,
        "consecutive_error": 0,
        "consecutive_success": successes,
    }


def _retention_limit(run: AnalysisRun, metric_name: str) -> int:
    # Argo: every rule whose pattern matches applies in turn, so the last one wins.
    limit = DEFAULT_RETENTION
    for rule in run.spec.measurement_retention:
        if pattern_matches(rule.metric_name, metric_name):
            limit = rule.limit
    return limit


def _retain(result: MetricResult, limit: int) -> MetricResult:
    if len(result.measurements) <= limit:
        return result
    return result.model_copy(update={"measurements": result.measurements[-limit:]})


TERMINATED_MESSAGE = "terminated before it finished: the run was stopped (it is no longer needed, or another metric decided it)"


def _terminate_in_flight(result: MetricResult, now: datetime) -> MetricResult:
    in_flight = _in_flight(result)
    if in_flight is None:
        return result
    # Like Argo (a Job cut short is Inconclusive since 1.9): a measurement that never finished is no
    # evidence that the canary is fine, so it counts as Inconclusive.
    terminated = in_flight.model_copy(
        update={
            "phase": AnalysisPhase.INCONCLUSIVE,
            "finished_at": now,
            "resume_at": None,
            "message": TERMINATED_MESSAGE,
        }
    )
    update = {"measurements": [*result.measurements[:-1], terminated]}
    return result.model_copy(update=update | _counted(result, AnalysisPhase.INCONCLUSIVE))


def effective_count(metric: Metric) -> int | None:
    """How many measurements complete the metric; None when it measures until terminated.

    Argo's rule: a count (other than 0) is the count; otherwise one measurement without an interval
    and measurements until the run is terminated with one (count 0 in an inline analysis skips the
    metric altogether, see `step`).
    """
    numbers = metric.numbers()
    if numbers.count:
        return numbers.count
    return 1 if numbers.interval is None else None


def _assess(metric: Metric, result: MetricResult, *, terminating: bool) -> MetricResult:
    if AnalysisPhase(result.phase).completed:
        return result
    phase, message = _metric_phase(metric, result, terminating=terminating)
    if phase is AnalysisPhase(result.phase) and message == result.message:
        return result
    return result.model_copy(update={"phase": phase, "message": message})


def _metric_phase(metric: Metric, result: MetricResult, *, terminating: bool) -> tuple[AnalysisPhase, str]:
    if _in_flight(result) is not None:
        return AnalysisPhase.RUNNING, ""
    numbers = metric.numbers()
    last = result.measurements[-1].message if result.measurements else ""
    limits = (
        (AnalysisPhase.FAILED, "failed", result.failed, numbers.failure_limit, "failureLimit"),
        (
            AnalysisPhase.INCONCLUSIVE,
            "inconclusive",
            result.inconclusive,
            numbers.inconclusive_limit,
            "inconclusiveLimit",
        ),
        (
            AnalysisPhase.ERROR,
            "consecutive errors",
            result.consecutive_error,
            numbers.consecutive_error_limit,
            "consecutiveErrorLimit",
        ),
    )
    for phase, what, seen, limit, limit_name in limits:
        if limit >= 0 and seen > limit:
            return phase, f"{what} ({seen}) > {limit_name} ({limit})" + (f": {last}" if last else "")
    successes = numbers.consecutive_success_limit
    if successes > 0 and result.consecutive_success >= successes:
        return (
            AnalysisPhase.SUCCESSFUL,
            f"consecutive successes ({result.consecutive_success}) reached consecutiveSuccessLimit ({successes})",
        )
    count = effective_count(metric)
    if count is not None and result.count >= count:
        if successes > 0:
            # Argo: with the success limit not reached by the end of the count, the metric is
            # Inconclusive if failureLimit applies (and was not exceeded), else Failed.
            missed = (
                f"count ({count}) reached without consecutiveSuccessLimit ({successes}) successes in a row"
                f" (best run so far ends at {result.consecutive_success})"
            )
            if numbers.failure_limit >= 0:
                return (
                    AnalysisPhase.INCONCLUSIVE,
                    f"{missed}; failureLimit ({numbers.failure_limit}) was not exceeded",
                )
            return AnalysisPhase.FAILED, missed
        return AnalysisPhase.SUCCESSFUL, ""
    if terminating:
        return (
            AnalysisPhase.SUCCESSFUL,
            "run terminated" if result.measurements else "run terminated before it measured",
        )
    return (AnalysisPhase.RUNNING if result.measurements else AnalysisPhase.PENDING), ""


def _run_phase(results: list[MetricResult], *, terminated_by_user: bool) -> tuple[AnalysisPhase, str]:
    if any(not AnalysisPhase(r.phase).completed for r in results):
        return AnalysisPhase.RUNNING, ""
    phase, message = AnalysisPhase.SUCCESSFUL, "run terminated" if terminated_by_user else ""
    for result in results:
        if not result.dry_run and _SEVERITY[AnalysisPhase(result.phase)] > _SEVERITY[phase]:
            phase = AnalysisPhase(result.phase)
            message = f"metric '{result.name}' {phase}: {result.message}".rstrip(": ")
    dry_runs = [r for r in results if r.dry_run]
    if dry_runs:
        outcomes = "; ".join(
            f"metric '{r.name}' {r.phase}"
            + (f": {r.message}" if r.message and r.phase != AnalysisPhase.SUCCESSFUL else "")
            for r in dry_runs
        )
        summary = f"dry-run (does not decide): {outcomes}"
        message = f"{message}; {summary}" if message else summary
    return phase, message


def _summary(results: list[MetricResult]) -> RunSummary:
    phases = [AnalysisPhase(r.phase) for r in results]
    return RunSummary(
        count=len(phases),
        successful=phases.count(AnalysisPhase.SUCCESSFUL),
        failed=phases.count(AnalysisPhase.FAILED),
        inconclusive=phases.count(AnalysisPhase.INCONCLUSIVE),
        error=phases.count(AnalysisPhase.ERROR),
    )


def _due_at(metric: Metric, result: MetricResult, started_at: datetime) -> datetime:
    in_flight = _in_flight(result)
    if in_flight is not None:
        return in_flight.resume_at or started_at
    numbers = metric.numbers()
    if not result.measurements:
        return started_at + timedelta(seconds=numbers.initial_delay or 0.0)
    last = result.measurements[-1]
    finished = last.finished_at or started_at
    if last.phase == AnalysisPhase.ERROR or numbers.interval is None:
        # Without an interval only an Error leads to another measurement (count reached otherwise).
        return finished + ERROR_RETRY
    return finished + timedelta(seconds=numbers.interval)
