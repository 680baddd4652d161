"""The simulated Prometheus answers the shipped error-rate-sequential template's judge queries (events
and totals per arm) from the workload's counters, as a real Prometheus would answer them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml

from canary.analysis.args import build_run_spec, resolve_metric, resolve_values
from canary.analysis.providers.base import MeasureContext, Verdict
from canary.analysis.providers.judge import JudgeMetricProvider
from canary.api.analysis import AnalysisPhase, AnalysisTemplate, Metric, PrometheusProvider
from canary.api.rollout import RolloutAnalysis
from canary.sim import scenarios
from canary.sim.workload import Behaviour, SimulatedPrometheus, Workload

TEMPLATE = Path(__file__).resolve().parents[3] / "analysis-templates/error-rate-sequential.yaml"
NOW = datetime(2024, 1, 1, tzinfo=UTC)
ANY = PrometheusProvider(address="http://sim", query="unused")


def shipped_metric(stable_hash: str, canary_hash: str) -> Metric:
    """The template's metric with its arguments substituted, as the runner measures it."""
    template = AnalysisTemplate.model_validate(yaml.safe_load(TEMPLATE.read_text()))
    analysis = RolloutAnalysis.model_validate(
        {
            "templates": [{"templateName": "error-rate-sequential"}],
            "args": [{"name": "service", "value": "web"}],
        }
    )
    rollout = scenarios.rollout()
    spec = build_run_spec([template], analysis, rollout, stable_hash=stable_hash, canary_hash=canary_hash)
    values = resolve_values(spec.args, "default", no_secrets)
    metric, _ = resolve_metric(spec.metrics[0], values, "default", no_secrets)
    return metric


def no_secrets(namespace: str, name: str, key: str) -> str:
    raise KeyError(name)


def served(error_rates: dict[str, float]) -> Workload:
    workload = Workload(request_rate=100, seed=3)
    for pod_hash, rate in error_rates.items():
        workload.behave(pod_hash, Behaviour(error_rate=rate))
    workload.serve({pod_hash: 1 / len(error_rates) for pod_hash in error_rates}, 60)
    return workload


def test_events_and_totals_are_the_revisions_5xx_and_requests_over_the_window() -> None:
    workload = served({"aaa": 0.1, "bbb": 0.1})
    judge = shipped_metric("aaa", "bbb").provider.judge
    assert judge is not None and judge.totals is not None
    requests, errors, _ = workload.window("bbb", 60)
    prometheus = SimulatedPrometheus(workload)
    assert prometheus.query(ANY, judge.queries.canary, 0.0) == [{"metric": {}, "value": [0.0, str(errors)]}]
    assert prometheus.query(ANY, judge.totals.canary, 0.0) == [{"metric": {}, "value": [0.0, str(requests)]}]


def test_a_revision_without_traffic_has_no_totals_but_zero_events_by_or_vector() -> None:
    judge = shipped_metric("aaa", "zzz").provider.judge
    assert judge is not None and judge.totals is not None
    prometheus = SimulatedPrometheus(served({"aaa": 0.1}))
    assert prometheus.query(ANY, judge.totals.canary, 0.0) == []
    assert prometheus.query(ANY, judge.queries.canary, 0.0) == [{"metric": {}, "value": [0.0, "0"]}]


def test_the_judge_provider_fails_a_revision_with_four_times_the_errors() -> None:
    prometheus = SimulatedPrometheus(served({"aaa": 0.01, "bbb": 0.04}))
    context = MeasureContext(run_name="r", namespace="default", now=NOW, index=0)
    verdict = JudgeMetricProvider(query=prometheus.query).measure(shipped_metric("aaa", "bbb"), context)
    assert isinstance(verdict, Verdict)
    assert verdict.phase == AnalysisPhase.FAILED, verdict.message
