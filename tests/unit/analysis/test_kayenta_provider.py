"""The judge provider's kind `kayenta`: every metric of a canary config queried, judged and scored in one
measurement. Prometheus is a function of the query text here; the real server is in
tests/integration/test_kayenta_canary_config.py."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from canary.analysis.providers.base import MeasureContext, MeasurementError, Reading, Verdict
from canary.analysis.providers.judge import JudgeMetricProvider, observe
from canary.analysis.providers.kayenta import samples_with_gaps
from canary.api.analysis import AnalysisPhase, Metric, PrometheusProvider

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def _range(*values: str) -> list[dict[str, Any]]:
    return [{"metric": {"pod": "a"}, "values": [[1704067200.0 + i, v] for i, v in enumerate(values)]}]


LOW = _range(*(str(1.0 + 0.01 * i) for i in range(20)))
HIGH = _range(*(str(3.0 + 0.01 * i) for i in range(20)))


def _metric(critical: bool = False, **fields: Any) -> Metric:
    def entry(name: str, group: str, **canary: Any) -> dict[str, Any]:
        return {
            "name": name,
            "query": {"stable": f"{name}:stable", "canary": f"{name}:canary"},
            "groups": [group],
            "analysisConfigurations": {"canary": {"direction": "increase", **canary}},
        }

    judge = {
        "kind": "kayenta",
        "address": "http://prom",
        "canaryConfig": {
            "metrics": [entry("errors", "errors", critical=critical), entry("latency", "latency")],
            "classifier": {"groupWeights": {"errors": 60, "latency": 40}},
        },
        "thresholds": {"pass": 75, "marginal": 50},
    }
    return Metric.model_validate({"name": "canary-score", "provider": {"judge": judge}, **fields})


def _answers(errors_canary: list[Any]) -> Any:
    table = {
        "errors:stable": LOW,
        "errors:canary": errors_canary,
        "latency:stable": LOW,
        "latency:canary": LOW,
    }

    def query(config: PrometheusProvider, promql: str, at: float) -> list[Any]:
        return table[promql]

    return query


def _measure(metric: Metric, errors_canary: list[Any]) -> Any:
    context = MeasureContext(run_name="run", namespace="shop", now=NOW, index=0)
    return JudgeMetricProvider(query=_answers(errors_canary)).measure(metric, context)


def test_a_score_below_marginal_fails_the_measurement_with_each_metrics_part() -> None:
    verdict = _measure(_metric(), HIGH)
    assert isinstance(verdict, Verdict) and verdict.phase == AnalysisPhase.FAILED
    assert verdict.message.startswith("kayenta: score 40 Fail (pass >= 75, marginal >= 50)")
    value = json.loads(verdict.value or "{}")
    assert (
        value["groups"]["errors"]["score"] == 0.0 and value["metrics"]["errors"]["classification"] == "High"
    )


def test_a_marginal_score_is_inconclusive() -> None:
    metric = _metric()
    judge = metric.provider.judge
    assert judge is not None and judge.thresholds is not None
    lower = judge.model_copy(update={"thresholds": judge.thresholds.model_copy(update={"marginal": 40.0})})
    metric = metric.model_copy(update={"provider": metric.provider.model_copy(update={"judge": lower})})
    assert _measure(metric, HIGH).phase == AnalysisPhase.INCONCLUSIVE


def test_all_metrics_passing_is_successful() -> None:
    assert _measure(_metric(critical=True), LOW).phase == AnalysisPhase.SUCCESSFUL


def test_a_critical_failure_names_the_metric() -> None:
    verdict = _measure(_metric(critical=True), HIGH)
    assert "score 0 Fail" in verdict.message and "errors was classified as High (critical)" in verdict.message


def test_conditions_read_the_score_as_argos_kayenta_provider_does() -> None:
    reading = _measure(_metric(successCondition="result.score >= 40"), HIGH)
    assert isinstance(reading, Reading) and reading.value == {"verdict": "fail", "score": 40.0}


def test_a_query_error_names_the_canary_config_metric_and_arm() -> None:
    def broken(config: PrometheusProvider, promql: str, at: float) -> list[Any]:
        raise MeasurementError("timed out")

    context = MeasureContext(run_name="run", namespace="shop", now=NOW, index=0)
    with pytest.raises(MeasurementError, match=r"canaryConfig metric 'errors' query\.stable: timed out"):
        JudgeMetricProvider(query=broken).measure(_metric(), context)


def test_nan_samples_are_kept_for_the_nan_strategy() -> None:
    assert [math.isnan(v) for v in samples_with_gaps(_range("1", "NaN", "+Inf"))] == [False, True, True]


def test_mann_whitney_reads_nan_and_the_sequential_judges_do_not() -> None:
    results = {"queries.stable": _range("1", "NaN"), "queries.canary": _range("2", "NaN")}
    assert len(observe("mann-whitney", results).stable) == 2
    assert len(observe("sequential-location", results).stable) == 1


def test_mann_whitney_with_nan_strategy_replace_judges_an_empty_canary_result() -> None:
    judge = {
        "kind": "mann-whitney",
        "address": "http://prom",
        "queries": {"stable": "s", "canary": "c"},
        "config": {"nan_strategy": "replace", "direction": "either"},
    }
    table = {"s": _range(*(str(1.0 + 0.1 * i) for i in range(10))), "c": []}
    context = MeasureContext(run_name="run", namespace="shop", now=NOW, index=0)
    metric = Metric.model_validate({"name": "errors", "provider": {"judge": judge}})
    verdict = JudgeMetricProvider(query=lambda config, promql, at: table[promql]).measure(metric, context)
    assert isinstance(verdict, Verdict) and verdict.phase == AnalysisPhase.FAILED
    assert json.loads(verdict.value or "{}")["n_canary"] == 10
