"""The runner takes due measurements through injected providers and never lets a failure escape."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from structlog.testing import capture_logs

from canary.analysis import runner
from canary.analysis.providers.base import MeasureContext, MeasurementError, ProviderResult, Reading, Verdict
from canary.api.analysis import AnalysisPhase, AnalysisRun, Metric

NOW = datetime(2024, 1, 1, tzinfo=UTC)
SECRET = "Xk9-s3cr3tT0ken"


class Scripted:
    """A provider answering from a function of the metric (test double of the Provider protocol)."""

    def __init__(self, answer: Callable[[Metric, MeasureContext], ProviderResult]) -> None:
        self.answer = answer
        self.seen: list[Metric] = []

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        self.seen.append(metric)
        return self.answer(metric, context)


def read_secret(namespace: str, name: str, key: str) -> str:
    if (namespace, name, key) != ("shop", "prom", "token"):
        raise KeyError(key)
    return SECRET


def run_of(**metric_fields: Any) -> AnalysisRun:
    metric = {
        "name": "m",
        "provider": {"prometheus": {"address": "http://prom", "query": "q{token='{{args.token}}'}"}},
        **metric_fields,
    }
    return AnalysisRun.model_validate(
        {
            "metadata": {"name": "run", "namespace": "shop"},
            "spec": {
                "args": [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "prom", "key": "token"}}}],
                "metrics": [metric],
            },
        }
    )


def advance(run: AnalysisRun, provider: Scripted, now: datetime = NOW) -> runner.Advance:
    return runner.advance(run, now=now, providers={"prometheus": provider}, read_secret=read_secret)


def last_measurement(run: AnalysisRun) -> Any:
    return run.status.metric_results[0].measurements[-1]


def test_a_reading_is_judged_by_the_metrics_conditions() -> None:
    result = advance(run_of(successCondition="result < 0.05"), Scripted(lambda m, c: Reading(0.2)))
    assert result.run.status.phase == AnalysisPhase.FAILED
    assert last_measurement(result.run).value == "0.2"
    assert result.requeue_after is None


def test_the_provider_sees_the_metric_with_arguments_substituted() -> None:
    provider = Scripted(lambda m, c: Reading(0.0))
    advance(run_of(), provider)
    assert provider.seen[0].provider.prometheus is not None
    assert provider.seen[0].provider.prometheus.query == f"q{{token='{SECRET}'}}"


def test_secret_values_are_masked_in_the_run_and_the_logs() -> None:
    def leaky(metric: Metric, context: MeasureContext) -> ProviderResult:
        raise MeasurementError(f"server said: bad token {SECRET}")

    with capture_logs() as logs:
        result = advance(run_of(consecutiveErrorLimit=0), Scripted(leaky))
    dumped = result.run.model_dump_json()
    assert SECRET not in dumped
    assert "bad token *****" in last_measurement(result.run).message
    assert "bad token *****" in result.run.status.message
    assert logs
    assert all(SECRET not in str(event) for event in logs)


def test_a_verdict_sets_the_phase_and_keeps_the_judge_state() -> None:
    provider = Scripted(
        lambda m, c: Verdict(AnalysisPhase.SUCCESSFUL, "fine", value="{}", judge_state={"n": 3})
    )
    result = advance(run_of(), provider)
    assert result.run.status.metric_results[0].judge_state == {"n": 3}
    assert result.run.status.phase == AnalysisPhase.SUCCESSFUL


def test_a_crashing_provider_becomes_an_error_measurement() -> None:
    def crash(metric: Metric, context: MeasureContext) -> ProviderResult:
        raise ZeroDivisionError("oops")

    with capture_logs():
        result = advance(run_of(), Scripted(crash))
    measurement = last_measurement(result.run)
    assert measurement.phase == AnalysisPhase.ERROR
    assert "prometheus provider crashed: ZeroDivisionError: oops" in measurement.message
    assert result.requeue_after == 10.0


def test_a_missing_provider_is_an_error_naming_the_kind() -> None:
    result = runner.advance(run_of(), now=NOW, providers={}, read_secret=read_secret)
    assert "no 'prometheus' provider" in last_measurement(result.run).message


def test_a_missing_secret_is_retried_as_an_error() -> None:
    result = runner.advance(
        run_of(),
        now=NOW,
        providers={"prometheus": Scripted(lambda m, c: Reading(0.0))},
        read_secret=lambda *a: {}[a],
    )
    assert result.run.status.phase == AnalysisPhase.RUNNING
    assert "Secret 'prom'" in last_measurement(result.run).message


def test_a_metric_invalid_after_substitution_ends_the_run_with_invalid_spec() -> None:
    run = run_of(successCondition="result < {{args.token}}")
    result = advance(run, Scripted(lambda m, c: Reading(0.0)))
    assert result.run.status.phase == AnalysisPhase.ERROR
    assert "InvalidSpec" in result.run.status.message
    assert "conditions cannot use secret argument 'token'" in result.run.status.message


def test_errors_beyond_the_consecutive_error_limit_end_the_run_with_error() -> None:
    def unreachable(metric: Metric, context: MeasureContext) -> ProviderResult:
        raise MeasurementError("cannot reach Prometheus at http://prom: Connection refused")

    provider, now = Scripted(unreachable), NOW
    result = advance(run_of(consecutiveErrorLimit=2), provider, now)
    while result.requeue_after is not None:
        now += timedelta(seconds=result.requeue_after)
        result = advance(result.run, provider, now)
    assert result.run.status.phase == AnalysisPhase.ERROR
    assert len(provider.seen) == 3
    assert "consecutive errors (3) > consecutiveErrorLimit (2)" in result.run.status.message
    assert now == NOW + timedelta(seconds=20)


def test_nothing_is_measured_before_it_is_due() -> None:
    provider = Scripted(lambda m, c: Reading(0.0))
    result = advance(run_of(initialDelay="1m"), provider)
    assert (provider.seen, result.requeue_after) == ([], 60.0)
