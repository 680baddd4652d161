"""Argo's `rangeQuery` against a real Prometheus holding known series (see conftest.py): the query is
evaluated every step over the window its time expressions name, at the measurement's time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from analysis_harness import no_secrets
from prometheus_server import KnownPrometheus

from canary.analysis import runner
from canary.analysis.providers.base import MeasureContext, MeasurementError, Reading, Verdict
from canary.analysis.providers.prometheus import PrometheusMetricProvider
from canary.analysis.providers.registry import default_registry
from canary.api.analysis import AnalysisPhase, AnalysisRun, Metric

pytestmark = pytest.mark.prometheus

RATE = 'sum(rate(http_requests_total{rollouts_pod_template_hash="%s"}[1m]))'
LAST_TEN_MINUTES = {"start": 'now() - duration("10m")', "end": "now()", "step": "1m"}


def metric(address: str, query: str, window: dict[str, str], **fields: Any) -> Metric:
    return Metric.model_validate(
        {
            "name": "m",
            "provider": {"prometheus": {"address": address, "query": query, "rangeQuery": window}},
            **fields,
        }
    )


def measure(known: KnownPrometheus, query: str, window: dict[str, str], at: datetime | None = None) -> Any:
    """One measurement, five minutes before the known series end unless `at` says when."""
    now = at or known.end - timedelta(minutes=5)
    context = MeasureContext(run_name="r", namespace="shop", now=now, index=0)
    return PrometheusMetricProvider().measure(metric(known.address, query, window), context)


def test_a_range_query_gives_one_value_per_step_of_its_window(known_prometheus: KnownPrometheus) -> None:
    reading = measure(known_prometheus, RATE % "stable1", LAST_TEN_MINUTES)
    assert isinstance(reading, Reading)
    assert reading.value == [pytest.approx(10.0)] * 11


def test_the_values_of_several_series_are_one_list(known_prometheus: KnownPrometheus) -> None:
    query = 'sum by (rollouts_pod_template_hash) (rate(http_requests_total{rollouts_pod_template_hash=~"stable1|idle1"}[1m]))'
    reading = measure(known_prometheus, query, {**LAST_TEN_MINUTES, "step": "5m"})
    assert isinstance(reading, Reading)
    assert sorted(reading.value) == pytest.approx([0.0] * 3 + [10.0] * 3)


def test_now_is_the_measurements_time(known_prometheus: KnownPrometheus) -> None:
    # Two hours after the known series end, the last ten minutes hold no sample.
    verdict = measure(
        known_prometheus, RATE % "stable1", LAST_TEN_MINUTES, at=known_prometheus.end + timedelta(hours=2)
    )
    assert isinstance(verdict, Verdict) and verdict.phase == AnalysisPhase.INCONCLUSIVE


def test_a_window_in_absolute_dates_reads_that_window(known_prometheus: KnownPrometheus) -> None:
    end = known_prometheus.end - timedelta(minutes=20)
    window = {
        "start": f'date("{end:%Y-%m-%d %H:%M:%S}", "2006-01-02 15:04:05", "UTC") - duration("2m")',
        "end": f'date("{end.isoformat()}")',
        "step": "30s",
    }
    reading = measure(known_prometheus, RATE % "errors5x", window)
    assert isinstance(reading, Reading) and reading.value == [pytest.approx(10.0)] * 5


def test_a_range_query_matching_nothing_is_the_metrics_empty_result(
    known_prometheus: KnownPrometheus,
) -> None:
    verdict = measure(known_prometheus, RATE % "nosuchhash" + " > 0", LAST_TEN_MINUTES)
    assert isinstance(verdict, Verdict) and verdict.phase == AnalysisPhase.INCONCLUSIVE


def test_a_range_query_the_server_rejects_is_an_error_with_its_message(
    known_prometheus: KnownPrometheus,
) -> None:
    with pytest.raises(MeasurementError, match="rejected the query"):
        measure(known_prometheus, "http_requests_total[1m]", LAST_TEN_MINUTES)


def test_conditions_judge_every_value_of_the_window(known_prometheus: KnownPrometheus) -> None:
    """As Argo's `all(result, # > 9)`, in CEL: a run of the metric on the runner."""
    at = known_prometheus.end - timedelta(minutes=5)
    measured = metric(
        known_prometheus.address,
        RATE % "stable1",
        LAST_TEN_MINUTES,
        successCondition="result.all(x, x > 9.0)",
    )
    run = AnalysisRun.model_validate(
        {"metadata": {"name": "range", "namespace": "shop"}, "spec": {"metrics": [measured.to_wire()]}}
    )
    done = runner.advance(run, now=at, providers=default_registry(), read_secret=no_secrets).run
    assert done.status.phase == AnalysisPhase.SUCCESSFUL, done.status.message
    assert done.status.metric_results[0].measurements[0].value is not None
