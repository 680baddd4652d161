"""Advances one AnalysisRun at `now`: takes the measurements that are due and records them.

The imperative shell around the pure executor (canary.analysis.run). The Kubernetes controller and
the in-memory cluster both call `advance`, each with its own providers, secret reader and clock:

    result = runner.advance(run, now=clock.now(), providers=registry, read_secret=secrets.read)
    # persist result.run.status; call again after result.requeue_after seconds (None: completed)

Nothing escapes as an exception: an unreadable Secret, an invalid metric, a missing provider, a
provider that fails or even crashes all become Error measurements with a message (an invalid metric
at once ends the metric, since retrying cannot fix it). Secret values are masked as `*****` in every
message, value and metadata the run records and in every log event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from canary.analysis import args, conditions
from canary.analysis import run as executor
from canary.analysis.providers.base import (
    InFlight,
    InvalidSpecError,
    MeasureContext,
    MeasurementError,
    ProviderRegistry,
    ProviderResult,
    Reading,
)
from canary.api.analysis import AnalysisPhase, AnalysisRun

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Advance:
    run: AnalysisRun
    requeue_after: float | None
    """Seconds until the next measurement is due; None once the run has completed."""


def advance(
    run: AnalysisRun, *, now: datetime, providers: ProviderRegistry, read_secret: args.SecretReader
) -> Advance:
    """The run after taking every measurement due at `now`, and when to call again."""
    step = executor.step(run, now)
    if step.due:
        namespace = run.metadata.namespace or "default"
        try:
            values = args.resolve_values(run.spec.args, namespace, read_secret)
        except args.ArgumentError as error:
            failed = _error(str(error), invalid_spec=not isinstance(error, args.SecretUnavailableError))
            outcomes = {due.metric.name: failed for due in step.due}
        else:
            outcomes = {
                due.metric.name: _measure(
                    due,
                    run_name=run.metadata.name,
                    namespace=namespace,
                    now=now,
                    values=values,
                    providers=providers,
                    read_secret=read_secret,
                )
                for due in step.due
            }
        step = executor.step(step.run, now, outcomes)
        _log_outcomes(step.run, outcomes)
    requeue_after = None if step.requeue_at is None else max(0.0, (step.requeue_at - now).total_seconds())
    return Advance(step.run, requeue_after)


def _measure(
    due: executor.DueMeasurement,
    *,
    run_name: str,
    namespace: str,
    now: datetime,
    values: args.ResolvedArgs,
    providers: ProviderRegistry,
    read_secret: args.SecretReader,
) -> executor.MeasurementOutcome:
    secrets = values.secrets
    try:
        metric, secrets = args.resolve_metric(due.metric, values, namespace, read_secret)
    except args.SecretUnavailableError as error:
        return _error(str(error))
    except args.ArgumentError as error:
        return _error(args.mask(str(error), secrets), invalid_spec=True)
    kind = metric.provider.kind
    provider = providers.get(kind)
    if provider is None:
        return _error(
            f"no '{kind}' provider is configured in this controller; known: {', '.join(sorted(providers))}"
        )
    context = MeasureContext(
        run_name=run_name,
        namespace=namespace,
        now=now,
        index=due.index,
        in_flight=due.in_flight,
        judge_state=due.judge_state,
    )
    try:
        result = provider.measure(metric, context)
    except MeasurementError as error:
        return _error(args.mask(str(error), secrets), invalid_spec=isinstance(error, InvalidSpecError))
    except Exception as error:  # a provider bug must not stop the controller; it is an Error measurement
        log.exception("provider crashed", provider=kind, metric=metric.name, run=run_name)
        return _error(args.mask(f"{kind} provider crashed: {type(error).__name__}: {error}", secrets))
    return _masked(_outcome(result, metric.success_condition, metric.failure_condition, now), secrets)


def _outcome(
    result: ProviderResult, success_condition: str | None, failure_condition: str | None, now: datetime
) -> executor.MeasurementOutcome:
    if isinstance(result, Reading):
        assessment = conditions.assess(result.value, success_condition, failure_condition)
        return executor.MeasurementOutcome(
            phase=assessment.phase,
            message=assessment.message,
            value=conditions.describe(result.value) if not isinstance(result.value, str) else result.value,
            metadata=result.metadata,
            invalid_spec=assessment.invalid_spec,
            judge_state=result.judge_state,
        )
    if isinstance(result, InFlight):
        return executor.MeasurementOutcome(
            phase=AnalysisPhase.RUNNING,
            message=result.message,
            metadata=result.metadata,
            resume_at=now + timedelta(seconds=result.resume_after),
        )
    return executor.MeasurementOutcome(
        phase=result.phase,
        message=result.message,
        value=result.value,
        metadata=result.metadata,
        judge_state=result.judge_state,
    )


def _error(message: str, *, invalid_spec: bool = False) -> executor.MeasurementOutcome:
    return executor.MeasurementOutcome(phase=AnalysisPhase.ERROR, message=message, invalid_spec=invalid_spec)


def _masked(outcome: executor.MeasurementOutcome, secrets: frozenset[str]) -> executor.MeasurementOutcome:
    if not secrets:
        return outcome
    return replace(
        outcome,
        message=args.mask(outcome.message, secrets),
        value=None if outcome.value is None else args.mask(outcome.value, secrets),
        metadata={key: args.mask(value, secrets) for key, value in outcome.metadata.items()},
    )


def _log_outcomes(run: AnalysisRun, outcomes: Mapping[str, executor.MeasurementOutcome]) -> None:
    for metric, outcome in outcomes.items():
        log.info(
            "measurement",
            run=run.metadata.name,
            namespace=run.metadata.namespace,
            metric=metric,
            phase=str(outcome.phase),
            value=outcome.value,
            message=outcome.message,
        )
    if AnalysisPhase(run.status.phase).completed:
        log.info(
            "analysis run completed",
            run=run.metadata.name,
            phase=str(run.status.phase),
            message=run.status.message,
        )
