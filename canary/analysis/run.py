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
    AnalysisPhase,
    AnalysisRun,
    AnalysisRunStatus,
    Measurement,
    Metric,
    MetricResult,
    RunSummary,
)
from canary.api.base import parse_duration

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
    metrics = {m.name: m for m in run.spec.metrics}
    unknown = sorted(set(outcomes or {}) - set(metrics))
    if unknown:
        raise ValueError(f"outcomes name no metric of the run: {', '.join(unknown)}")
    dry_run = {d.metric_name for d in run.spec.dry_run}
    results = {r.name: r for r in status.metric_results}
    for metric in run.spec.metrics:
        result = results.get(metric.name) or MetricResult(
            name=metric.name, dry_run=metric.name in dry_run or "*" in dry_run
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
    new_status = AnalysisRunStatus(
        phase=phase,
        message=message,
        metric_results=ordered,
        started_at=started_at,
        run_summary=_summary(ordered),
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
        update |= {"error": result.error + 1, "consecutive_error": result.consecutive_error + 1}
        if outcome.invalid_spec:
            update |= {"phase": AnalysisPhase.ERROR, "message": f"InvalidSpec: {outcome.message}"}
    elif phase.completed:
        counter = {
            AnalysisPhase.SUCCESSFUL: "successful",
            AnalysisPhase.FAILED: "failed",
            AnalysisPhase.INCONCLUSIVE: "inconclusive",
        }[phase]
        update |= {counter: getattr(result, counter) + 1, "count": result.count + 1, "consecutive_error": 0}
    return result.model_copy(update=update)


def _retention_limit(run: AnalysisRun, metric_name: str) -> int:
    limits = {r.metric_name: r.limit for r in run.spec.measurement_retention}
    return limits.get(metric_name, limits.get("*", DEFAULT_RETENTION))


def _retain(result: MetricResult, limit: int) -> MetricResult:
    if len(result.measurements) <= limit:
        return result
    return result.model_copy(update={"measurements": result.measurements[-limit:]})


def _terminate_in_flight(result: MetricResult, now: datetime) -> MetricResult:
    in_flight = _in_flight(result)
    if in_flight is None:
        return result
    # Like Argo, a measurement cut short by termination is marked Successful, but it is not counted:
    # the counters only ever hold what was measured.
    terminated = in_flight.model_copy(
        update={
            "phase": AnalysisPhase.SUCCESSFUL,
            "finished_at": now,
            "resume_at": None,
            "message": "terminated before it finished; not counted",
        }
    )
    return result.model_copy(update={"measurements": [*result.measurements[:-1], terminated]})


def effective_count(metric: Metric) -> int | None:
    """How many measurements complete the metric; None when it measures until terminated."""
    if metric.count is not None:
        return metric.count
    return 1 if metric.interval is None else None


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
    last = result.measurements[-1].message if result.measurements else ""
    limits = (
        (AnalysisPhase.FAILED, "failed", result.failed, metric.failure_limit, "failureLimit"),
        (
            AnalysisPhase.INCONCLUSIVE,
            "inconclusive",
            result.inconclusive,
            metric.inconclusive_limit,
            "inconclusiveLimit",
        ),
        (
            AnalysisPhase.ERROR,
            "consecutive errors",
            result.consecutive_error,
            metric.consecutive_error_limit,
            "consecutiveErrorLimit",
        ),
    )
    for phase, what, seen, limit, limit_name in limits:
        if limit >= 0 and seen > limit:
            return phase, f"{what} ({seen}) > {limit_name} ({limit})" + (f": {last}" if last else "")
    count = effective_count(metric)
    if count is not None and result.count >= max(count, 1):
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
    return phase, message


def _summary(results: list[MetricResult]) -> RunSummary:
    deciding = [AnalysisPhase(r.phase) for r in results if not r.dry_run]
    return RunSummary(
        count=len(deciding),
        successful=deciding.count(AnalysisPhase.SUCCESSFUL),
        failed=deciding.count(AnalysisPhase.FAILED),
        inconclusive=deciding.count(AnalysisPhase.INCONCLUSIVE),
        error=deciding.count(AnalysisPhase.ERROR),
    )


def _due_at(metric: Metric, result: MetricResult, started_at: datetime) -> datetime:
    in_flight = _in_flight(result)
    if in_flight is not None:
        return in_flight.resume_at or started_at
    if not result.measurements:
        delay = parse_duration(metric.initial_delay) if metric.initial_delay is not None else 0.0
        return started_at + timedelta(seconds=delay)
    last = result.measurements[-1]
    finished = last.finished_at or started_at
    if last.phase == AnalysisPhase.ERROR or metric.interval is None:
        # Without an interval only an Error leads to another measurement (count reached otherwise).
        return finished + ERROR_RETRY
    return finished + timedelta(seconds=parse_duration(metric.interval))
