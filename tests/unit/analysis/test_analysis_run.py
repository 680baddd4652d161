"""The run executor: when metrics measure, how measurements add up to metric and run phases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canary.analysis import run as executor
from canary.analysis.run import MeasurementOutcome, Step
from canary.api.analysis import AnalysisPhase, AnalysisRun

NOW = datetime(2024, 1, 1, tzinfo=UTC)
S, F, INC, E = (
    AnalysisPhase.SUCCESSFUL,
    AnalysisPhase.FAILED,
    AnalysisPhase.INCONCLUSIVE,
    AnalysisPhase.ERROR,
)
RUNNING, PENDING = AnalysisPhase.RUNNING, AnalysisPhase.PENDING


def metric(name: str = "m", **fields: Any) -> dict[str, Any]:
    return {"name": name, "provider": {"prometheus": {"address": "http://prom", "query": "q"}}, **fields}


def run_of(*metrics: dict[str, Any], **spec: Any) -> AnalysisRun:
    return AnalysisRun.model_validate(
        {
            "metadata": {"name": "run", "namespace": "ns"},
            "spec": {"metrics": list(metrics) or [metric()], **spec},
        }
    )


def feed(run: AnalysisRun, phases: list[AnalysisPhase], name: str = "m", *, start: datetime = NOW) -> Step:
    """Answer each measurement of `name` with the next phase, at the time it falls due."""
    now, remaining = start, list(phases)
    current = executor.step(run, now)
    while remaining and current.requeue_at is not None:
        now = current.requeue_at
        current = executor.step(current.run, now)
        if any(d.metric.name == name for d in current.due):
            current = executor.step(current.run, now, {name: MeasurementOutcome(remaining.pop(0))})
    return current


def result_of(step: Step, name: str = "m") -> Any:
    return next(r for r in step.run.status.metric_results if r.name == name)


METRIC_PHASES = [
    # metric fields, measurement phases, metric phase, measurements it took
    ({}, [S], S, 1),
    ({}, [F], F, 1),
    ({}, [INC], INC, 1),
    ({}, [E, S], S, 2),
    ({}, [E] * 5, E, 5),
    ({"consecutiveErrorLimit": 0}, [E], E, 1),
    ({"interval": "1m", "count": 2, "consecutiveErrorLimit": 2}, [E, E, S, E, E, S], S, 6),
    ({"consecutiveErrorLimit": 2}, [E, E, E], E, 3),
    ({"interval": "1m", "count": 3}, [S, S, S], S, 3),
    ({"interval": "1m", "count": 3}, [S, F], F, 2),
    ({"interval": "1m", "count": 3, "failureLimit": 1}, [F, S, S], S, 3),
    ({"interval": "1m", "count": 3, "failureLimit": 1}, [F, S, F], F, 3),
    # consecutiveSuccessLimit (Argo 1.8): failureLimit -1 waits for N successes in a row
    ({"interval": "1m", "failureLimit": -1, "consecutiveSuccessLimit": 2}, [F, S, F, F, S, S], S, 6),
    ({"interval": "1m", "count": 4, "failureLimit": -1, "consecutiveSuccessLimit": 2}, [F, S, F, S], F, 4),
    ({"interval": "1m", "count": 4, "failureLimit": -1, "consecutiveSuccessLimit": 2}, [F, F, S, S], S, 4),
    # both applicable: N successes in a row before more than failureLimit failures, else Inconclusive
    ({"interval": "1m", "count": 5, "failureLimit": 1, "consecutiveSuccessLimit": 3}, [F, S, S, S], S, 4),
    ({"interval": "1m", "count": 5, "failureLimit": 1, "consecutiveSuccessLimit": 3}, [F, S, F], F, 3),
    ({"interval": "1m", "count": 4, "failureLimit": 1, "consecutiveSuccessLimit": 3}, [S, F, S, S], INC, 4),
    ({"interval": "1m", "consecutiveSuccessLimit": 2}, [S, E, S], S, 4),  # an Error breaks the streak
    ({"interval": "1m", "consecutiveSuccessLimit": 2}, [S, INC], INC, 2),
    ({"interval": "1m", "count": 3, "inconclusiveLimit": 1}, [INC, S, S], S, 3),
    ({"interval": "1m", "count": 3, "inconclusiveLimit": 1}, [INC, INC], INC, 2),
    ({"interval": "1m", "count": 2}, [E, S, E, S], S, 4),
    ({"interval": "1m"}, [S] * 27, RUNNING, 30),  # no count: measures until terminated
]


@pytest.mark.parametrize(("fields", "phases", "expected", "taken"), METRIC_PHASES)
def test_metric_phase_from_its_measurements(
    fields: dict[str, Any], phases: list[AnalysisPhase], expected: AnalysisPhase, taken: int
) -> None:
    result = result_of(feed(run_of(metric(**fields)), phases + [S] * 3))
    assert (result.phase, result.count + result.error) == (expected, taken)


def test_counters_count_each_kind_and_errors_are_not_measurements() -> None:
    result = result_of(
        feed(run_of(metric(interval="1m", count=4, failureLimit=3, inconclusiveLimit=3)), [S, E, F, INC, S])
    )
    assert (result.count, result.successful, result.failed, result.inconclusive, result.error) == (
        4,
        2,
        1,
        1,
        1,
    )
    assert result.consecutive_error == 0


def test_the_first_measurement_waits_for_the_initial_delay() -> None:
    first = executor.step(run_of(metric(initialDelay="30s")), NOW)
    assert (first.due, first.requeue_at) == ((), NOW + timedelta(seconds=30))
    assert first.run.status.metric_results[0].phase == PENDING
    assert [d.metric.name for d in executor.step(first.run, NOW + timedelta(seconds=30)).due] == ["m"]


@pytest.mark.parametrize(
    ("fields", "phase", "next_in"),
    [
        ({"interval": "5m", "count": 3}, S, timedelta(minutes=5)),
        ({"interval": "5m", "count": 3}, F, None),  # failureLimit 0: the metric failed, nothing is due
        ({"interval": "5m", "count": 3, "failureLimit": 2}, F, timedelta(minutes=5)),
        ({"interval": "5m", "count": 3}, E, timedelta(seconds=10)),
        ({}, E, timedelta(seconds=10)),
    ],
)
def test_the_next_measurement_is_due_after_the_interval_or_10s_after_an_error(
    fields: dict[str, Any], phase: AnalysisPhase, next_in: timedelta | None
) -> None:
    after = executor.step(run_of(metric(**fields)), NOW, {"m": MeasurementOutcome(phase)})
    assert after.due == ()
    assert after.requeue_at == (None if next_in is None else NOW + next_in)


def test_a_run_started_earlier_keeps_its_start_time() -> None:
    started = executor.step(run_of(), NOW).run
    later = executor.step(started, NOW + timedelta(hours=1)).run
    assert later.status.started_at == NOW


RUN_PHASES = [
    # one measurement each of metrics a and b (errors end a metric at once here), the run's phase
    (S, S, S),
    (S, INC, INC),
    (S, E, E),
    (INC, E, E),
    (INC, F, F),
    (E, F, F),
    (S, F, F),
]


@pytest.mark.parametrize(("a", "b", "expected"), RUN_PHASES)
def test_the_worst_metric_decides_the_run(
    a: AnalysisPhase, b: AnalysisPhase, expected: AnalysisPhase
) -> None:
    run = run_of(metric("a", consecutiveErrorLimit=0), metric("b", consecutiveErrorLimit=0))
    after = executor.step(run, NOW, {"a": MeasurementOutcome(a), "b": MeasurementOutcome(b)})
    assert after.run.status.phase == expected


def test_an_error_within_the_limit_is_retried_and_does_not_decide() -> None:
    after = executor.step(
        run_of(metric("a"), metric("b")), NOW, {"a": MeasurementOutcome(S), "b": MeasurementOutcome(E)}
    )
    assert (after.run.status.phase, after.requeue_at) == (RUNNING, NOW + timedelta(seconds=10))


def test_a_run_is_running_until_every_metric_completes() -> None:
    run = run_of(metric("a"), metric("b", interval="1m", count=2))
    after = executor.step(run, NOW, {"a": MeasurementOutcome(S), "b": MeasurementOutcome(S)})
    assert after.run.status.phase == RUNNING
    assert after.requeue_at == NOW + timedelta(minutes=1)


@pytest.mark.parametrize("decisive", [F, E, INC])
def test_a_decisive_metric_ends_the_run_early(decisive: AnalysisPhase) -> None:
    run = run_of(
        metric("a", consecutiveErrorLimit=0), metric("b", interval="1m"), metric("c", initialDelay="1h")
    )
    after = executor.step(
        run, NOW, {"a": MeasurementOutcome(decisive, message="why"), "b": MeasurementOutcome(S)}
    )
    assert (after.run.status.phase, after.due, after.requeue_at) == (decisive, (), None)
    assert [r.phase for r in after.run.status.metric_results] == [decisive, S, S]
    assert after.run.status.message.startswith(f"metric 'a' {decisive}")
    assert "why" in after.run.status.message


def test_a_dry_run_metric_is_measured_but_never_decides() -> None:
    run = run_of(metric("a"), metric("shadow"), dryRun=[{"metricName": "shadow"}])
    after = executor.step(run, NOW, {"a": MeasurementOutcome(S), "shadow": MeasurementOutcome(F)})
    shadow = result_of(after, "shadow")
    assert (shadow.dry_run, shadow.phase) == (True, F)
    assert after.run.status.phase == S
    assert after.run.status.run_summary.model_dump() == {
        "count": 1,
        "successful": 1,
        "failed": 0,
        "inconclusive": 0,
        "error": 0,
    }


def test_a_failing_dry_run_metric_does_not_end_the_run() -> None:
    run = run_of(metric("a", interval="1m", count=2), metric("shadow"), dryRun=[{"metricName": "*"}])
    after = executor.step(run, NOW, {"a": MeasurementOutcome(S), "shadow": MeasurementOutcome(F)})
    assert after.run.status.phase == RUNNING
    assert after.requeue_at == NOW + timedelta(minutes=1)


def test_only_dry_run_metrics_make_a_successful_run() -> None:
    run = run_of(metric("a"), dryRun=[{"metricName": "a"}])
    assert executor.step(run, NOW, {"a": MeasurementOutcome(F)}).run.status.phase == S


def test_terminate_stops_an_unlimited_metric_as_successful() -> None:
    measuring = feed(run_of(metric(interval="1m")), [S, S]).run
    terminated = executor.step(
        measuring.model_copy(update={"spec": measuring.spec.model_copy(update={"terminate": True})}),
        NOW + timedelta(hours=1),
    )
    assert (terminated.run.status.phase, terminated.due, terminated.requeue_at) == (S, (), None)
    assert terminated.run.status.message == "run terminated"


def test_terminate_makes_an_in_flight_measurement_inconclusive() -> None:
    # Argo since the Job provider's fix (#4602): a measurement cut short is no evidence of success.
    resume = NOW + timedelta(seconds=10)
    running = executor.step(run_of(), NOW, {"m": MeasurementOutcome(RUNNING, resume_at=resume)}).run
    terminating = running.model_copy(update={"spec": running.spec.model_copy(update={"terminate": True})})
    after = executor.step(terminating, NOW + timedelta(seconds=5))
    result = result_of(after)
    assert (result.phase, result.count, result.inconclusive, result.successful) == (INC, 1, 1, 0)
    assert (result.measurements[-1].phase, result.measurements[-1].finished_at) == (INC, NOW + timedelta(seconds=5))
    assert "terminated before it finished" in result.measurements[-1].message
    assert after.run.status.phase == INC
    assert after.run.status.message.startswith("metric 'm' Inconclusive: inconclusive (1) > inconclusiveLimit (0)")


def test_an_in_flight_measurement_is_resumed_and_then_replaced() -> None:
    resume = NOW + timedelta(seconds=10)
    running = executor.step(
        run_of(), NOW, {"m": MeasurementOutcome(RUNNING, metadata={"job-name": "j"}, resume_at=resume)}
    )
    assert (running.run.status.phase, result_of(running).phase, running.requeue_at) == (
        RUNNING,
        RUNNING,
        resume,
    )
    due = executor.step(running.run, resume).due
    assert due[0].in_flight is not None
    assert due[0].in_flight.metadata == {"job-name": "j"}
    done = executor.step(running.run, resume, {"m": MeasurementOutcome(S)})
    [measurement] = result_of(done).measurements
    assert (measurement.phase, measurement.started_at, measurement.finished_at) == (S, NOW, resume)


def test_an_invalid_spec_error_ends_the_metric_at_once() -> None:
    after = executor.step(
        run_of(), NOW, {"m": MeasurementOutcome(E, message="bad condition", invalid_spec=True)}
    )
    assert after.run.status.phase == E
    assert "InvalidSpec: bad condition" in after.run.status.message


@pytest.mark.parametrize(
    ("retention", "kept"),
    [([], 10), ([{"metricName": "m", "limit": 3}], 3), ([{"metricName": "*", "limit": 2}], 2)],
)
def test_measurement_retention_keeps_the_latest_and_counters_keep_counting(
    retention: list[dict[str, Any]], kept: int
) -> None:
    result = result_of(feed(run_of(metric(interval="1m"), measurementRetention=retention), [S] * 15))
    assert (len(result.measurements), result.count) == (kept, 15)
    assert result.measurements[-1].finished_at == NOW + timedelta(minutes=14)


def test_a_completed_run_does_not_change() -> None:
    done = executor.step(run_of(), NOW, {"m": MeasurementOutcome(S)}).run
    assert executor.step(done, NOW + timedelta(days=1), {"m": MeasurementOutcome(F)}) == Step(done, (), None)


def test_an_outcome_for_an_unknown_metric_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="nope"):
        executor.step(run_of(), NOW, {"nope": MeasurementOutcome(S)})


def test_each_due_measurement_has_a_distinct_index() -> None:
    step = feed(run_of(metric(interval="1m")), [S, E, S])
    assert executor.step(step.run, step.requeue_at or NOW).due[0].index == 3


phases = st.sampled_from([S, F, INC, E])


@given(st.lists(phases, max_size=12), st.integers(-1, 2), st.integers(0, 2))
def test_stepping_again_without_outcomes_changes_nothing(
    outcomes: list[AnalysisPhase], failure_limit: int, error_limit: int
) -> None:
    successes = 1 if failure_limit == -1 else 0  # Argo refuses a metric with both limits disabled
    run = run_of(
        metric(
            interval="1m",
            count=5,
            failureLimit=failure_limit,
            consecutiveErrorLimit=error_limit,
            consecutiveSuccessLimit=successes,
        )
    )
    current = feed(run, outcomes)
    now = current.requeue_at or NOW
    again = executor.step(current.run, now)
    assert executor.step(again.run, now) == again


@given(st.lists(phases, min_size=1, max_size=12), st.integers(-1, 2), st.integers(0, 2), st.integers(0, 2))
def test_a_successful_run_has_only_successful_metrics_and_counts_every_measurement(
    outcomes: list[AnalysisPhase], failure_limit: int, inconclusive_limit: int, error_limit: int
) -> None:
    fields = {
        "failureLimit": failure_limit,
        "inconclusiveLimit": inconclusive_limit,
        "consecutiveSuccessLimit": 1 if failure_limit == -1 else 0,
    }
    run = run_of(metric(interval="1m", count=4, consecutiveErrorLimit=error_limit, **fields))
    current = feed(run, outcomes)
    result = result_of(current)
    if current.run.status.phase == S:
        assert result.phase == S
        assert result.failed <= max(failure_limit, 0) or failure_limit == -1
        assert result.inconclusive <= inconclusive_limit
    assert result.successful + result.failed + result.inconclusive == result.count
    assert result.count + result.error <= len(outcomes)
