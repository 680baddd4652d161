"""The pure parts of the providers: reading Prometheus results, selecting JSON, driving a Job.
(The judge provider has its own file, test_judge_provider.py.)"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from canary.analysis.providers.base import InFlight, MeasureContext, MeasurementError, Verdict
from canary.analysis.providers.job import JOB_NAME_KEY, JobMetricProvider, JobState, job_name
from canary.analysis.providers.prometheus import empty_result, query, value_of
from canary.analysis.providers.web import select
from canary.api.analysis import AnalysisPhase, Measurement, Metric, PrometheusProvider

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def series(value: str, **labels: str) -> dict[str, Any]:
    return {"metric": labels, "value": [1704067200.0, value]}


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ([1704067200.0, "0.25"], 0.25),  # scalar
        ([series("0.5")], 0.5),
        ([series("1", pod="a"), series("2", pod="b")], [1.0, 2.0]),
        ([series("+Inf")], math.inf),
        ([series("-Inf")], -math.inf),
        ([], None),
    ],
)
def test_prometheus_results_become_numbers_or_lists(result: list[Any], expected: Any) -> None:
    assert value_of(result) == expected


def test_a_nan_sample_stays_nan() -> None:
    value = value_of([series("NaN")])
    assert isinstance(value, float)
    assert math.isnan(value)


@pytest.mark.parametrize("promql", ['"1"', " ( '0.5' )", "`text`"])
def test_a_string_query_is_an_error_before_anything_is_sent(promql: str) -> None:
    unreachable = PrometheusProvider(address="http://127.0.0.1:9", query=promql)
    with pytest.raises(MeasurementError, match="is a string, not a number; write a query returning numbers"):
        query(unreachable, promql, at=0.0)


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ([{"metric": {}, "values": [[1.0, "1"]]}], "range vector"),
        ([series("abc")], "not a number"),
        ([1.0, "text"], "not a number"),
    ],
)
def test_prometheus_results_that_are_not_numbers_are_errors(result: list[Any], message: str) -> None:
    with pytest.raises(MeasurementError, match=message):
        value_of(result)


@pytest.mark.parametrize(
    ("on_empty", "phase"), [("inconclusive", AnalysisPhase.INCONCLUSIVE), ("failed", AnalysisPhase.FAILED)]
)
def test_an_empty_result_is_never_successful(on_empty: str, phase: AnalysisPhase) -> None:
    config = PrometheusProvider.model_validate(
        {"address": "http://p", "query": "up", "onEmptyResult": on_empty}
    )
    verdict = empty_result(config)
    assert verdict.phase == phase
    assert "no data" in verdict.message


def test_an_empty_result_can_be_an_error() -> None:
    config = PrometheusProvider.model_validate(
        {"address": "http://p", "query": "up", "onEmptyResult": "error"}
    )
    with pytest.raises(MeasurementError, match="no data"):
        empty_result(config)


DOCUMENT = {"data": {"ratio": 0.99, "items": [{"v": 1}, {"v": 2}], "with space": True}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.data.ratio", 0.99),
        ("{$.data.ratio}", 0.99),
        ("{ $.data.ratio }", 0.99),
        ("$.data.items[1].v", 2),
        ("$['data']['with space']", True),
        ("$", DOCUMENT),
        ("$.data.items", [{"v": 1}, {"v": 2}]),
    ],
)
def test_json_path_selects_the_value(path: str, expected: Any) -> None:
    assert select(DOCUMENT, path) == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("$.data.missing", "selects nothing"),
        ("$.data.items[5]", "selects nothing"),
        ("data.ratio", "must start with \\$"),
        ("$.data..ratio", "not understood"),
    ],
)
def test_json_path_that_selects_nothing_is_an_error(path: str, message: str) -> None:
    with pytest.raises(MeasurementError, match=message):
        select(DOCUMENT, path)


class InMemoryJobs:
    """An in-memory JobPort: Jobs are created once and finish when the test says so."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.states: dict[str, JobState] = {}

    def create_job(
        self, namespace: str, name: str, metadata: dict[str, Any], spec: dict[str, Any], *, owner_run: str
    ) -> None:
        self.created.append(name)
        self.states.setdefault(name, JobState())

    def job_state(self, namespace: str, name: str) -> JobState:
        if name not in self.states:
            raise MeasurementError(f"job {name} not found")
        return self.states[name]


JOB_METRIC = Metric.model_validate({"name": "smoke", "provider": {"job": {"spec": {"template": {}}}}})


def context(in_flight: Measurement | None = None) -> MeasureContext:
    return MeasureContext(run_name="web-abc-2", namespace="shop", now=NOW, index=0, in_flight=in_flight)


def in_flight(name: str) -> Measurement:
    return Measurement(phase=AnalysisPhase.RUNNING, metadata={JOB_NAME_KEY: name})


def test_a_job_measurement_starts_a_job_and_stays_in_flight() -> None:
    jobs = InMemoryJobs()
    started = JobMetricProvider(jobs).measure(JOB_METRIC, context())
    assert isinstance(started, InFlight)
    assert jobs.created == ["web-abc-2-smoke-0"]
    assert started.metadata == {JOB_NAME_KEY: "web-abc-2-smoke-0"}


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        (JobState(succeeded=True), AnalysisPhase.SUCCESSFUL),
        (JobState(failed=True, message="BackoffLimitExceeded"), AnalysisPhase.FAILED),
    ],
)
def test_a_finished_job_decides_the_measurement(state: JobState, phase: AnalysisPhase) -> None:
    jobs = InMemoryJobs()
    jobs.states["j"] = state
    verdict = JobMetricProvider(jobs).measure(JOB_METRIC, context(in_flight("j")))
    assert isinstance(verdict, Verdict)
    assert verdict.phase == phase
    assert jobs.created == []
    assert state.message in verdict.message


def test_a_running_job_is_looked_at_again_later() -> None:
    jobs = InMemoryJobs()
    jobs.states["j"] = JobState()
    assert isinstance(JobMetricProvider(jobs).measure(JOB_METRIC, context(in_flight("j"))), InFlight)


def test_job_names_are_valid_kubernetes_names() -> None:
    name = job_name("Very_Long.Run-Name" * 5, "error-rate", 12)
    assert len(name) <= 63
    assert name.endswith("-12")
    assert name == name.lower()
    assert all(c.isalnum() or c == "-" for c in name)
