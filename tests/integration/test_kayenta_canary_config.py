"""analysis-templates/kayenta-canary-config.yaml (a Kayenta canary config: groups, weights, a critical
metric) run as an AnalysisTemplate against a real Prometheus holding known series, giving Kayenta's
answers. The expected scores follow Kayenta's classifier and weighted-sum scorer by hand:

- error-ratio: group errors (weight 60), critical, NaN strategy replace;
- p90-latency (mustHaveData) and mean-latency: group latency (no weight: the 40 left);
- thresholds pass 90, marginal 75.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from analysis_harness import TEMPLATES, no_secrets, run_to_verdict, template_run
from prometheus_server import KnownPrometheus

from canary.api.analysis import AnalysisPhase, AnalysisRun
from canary.cli.main import main

pytestmark = pytest.mark.prometheus


def run(canary_hash: str, prometheus: KnownPrometheus) -> AnalysisRun:
    start: datetime = prometheus.end - timedelta(minutes=35)
    return run_to_verdict(
        template_run("kayenta-canary-config", canary_hash, prometheus.address), start, no_secrets
    )


def first_score(analysis: AnalysisRun) -> dict[str, Any]:
    value = analysis.status.metric_results[0].measurements[0].value
    return dict(json.loads(value or "{}"))


def classifications(score: dict[str, Any]) -> dict[str, str]:
    return {name: metric["classification"] for name, metric in score["metrics"].items()}


def test_a_canary_as_good_as_stable_scores_100_at_every_measurement(
    known_prometheus: KnownPrometheus,
) -> None:
    analysis = run("healthy1", known_prometheus)
    assert analysis.status.phase == AnalysisPhase.SUCCESSFUL, analysis.status.message
    measurements = analysis.status.metric_results[0].measurements
    assert [json.loads(m.value or "{}")["score"] for m in measurements] == [100.0, 100.0, 100.0]


def test_a_critical_metric_that_is_high_fails_the_canary_whatever_the_rest(
    known_prometheus: KnownPrometheus,
) -> None:
    # error-ratio 2.5% against 0.5%: High, and critical (mean ratio 5 >= criticalIncrease 1.0): score 0.
    analysis = run("errors5x", known_prometheus)
    score = first_score(analysis)
    assert analysis.status.phase == AnalysisPhase.FAILED
    assert (score["score"], score["classification"]) == (0.0, "Fail")
    assert classifications(score) == {"error-ratio": "High", "p90-latency": "Pass", "mean-latency": "Pass"}
    assert score["metrics"]["error-ratio"]["critical"] is True
    assert "error-ratio was classified as High (critical)" in analysis.status.message


def test_a_latency_regression_in_half_the_latency_group_is_marginal(
    known_prometheus: KnownPrometheus,
) -> None:
    # p90 0.25 s against 0.05 s: High (ratio 5 >= 1.2); mean latency equal: Pass. Hand:
    # errors 100 x 60% + latency 50 x 40% = 80: below pass 90, at least marginal 75.
    analysis = run("slow1", known_prometheus)
    score = first_score(analysis)
    assert analysis.status.phase == AnalysisPhase.INCONCLUSIVE, analysis.status.message
    assert (score["score"], score["classification"]) == (80.0, "Marginal")
    assert score["groups"] == {
        "errors": {"score": 100.0, "weight": 60.0, "noData": False},
        "latency": {"score": 50.0, "weight": 40.0, "noData": False},
    }


def test_a_canary_without_traffic_has_its_nan_error_ratio_judged_as_zeros(
    known_prometheus: KnownPrometheus,
) -> None:
    # 0/0 ratios: replaced by 0 and judged (Low, so not a failure for direction increase), not Nodata;
    # p90-latency has no data and must have it (counted as a failure); mean-latency Nodata (not
    # counted). Hand: errors 100 x 60% + latency 0/1 x 40% = 60 < 75: Fail.
    analysis = run("idle1", known_prometheus)
    score = first_score(analysis)
    assert analysis.status.phase == AnalysisPhase.FAILED
    assert classifications(score) == {
        "error-ratio": "Pass",
        "p90-latency": "NodataFailMetric",
        "mean-latency": "Nodata",
    }
    # Every minute of the [10m:1m] subquery (10 or 11 points, as the minute boundaries fall): as many
    # zeros as stable has ratios of 0.5%.
    error_ratio = score["metrics"]["error-ratio"]
    assert error_ratio["nCanary"] == error_ratio["nStable"] >= 10
    assert (score["score"], score["classification"]) == (60.0, "Fail")


def test_analyze_and_its_report_show_the_score_and_each_metrics_part(
    known_prometheus: KnownPrometheus, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.html"
    args = ["service=checkout", "namespace=shop", "stable-hash=stable1", "canary-hash=slow1"]
    argv = ["analyze", "template", str(TEMPLATES / "kayenta-canary-config.yaml"), "--prometheus"]
    argv += [known_prometheus.address, "--end", known_prometheus.end.isoformat(), "--report", str(report)]
    code = main(argv + [part for arg in args for part in ("--arg", arg)])
    assert code == 2  # Marginal: Inconclusive, undecided
    assert "canary-score: score 80 Marginal (pass >= 90, marginal >= 75)" in capsys.readouterr().out
    page = report.read_text()
    assert "canary-score: score 80 Marginal (pass &gt;= 90, marginal &gt;= 75)" in page
    assert "<td>latency</td><td>50</td><td>40</td><td>20</td>" in page
    assert "<td>p90-latency</td><td>High</td>" in page
