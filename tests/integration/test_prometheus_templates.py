"""The shipped templates, run by the runner against a real Prometheus holding known series."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from analysis_harness import no_secrets, run_to_verdict, template_run
from prometheus_server import KnownPrometheus

from canary.api.analysis import AnalysisPhase, AnalysisRun

pytestmark = pytest.mark.prometheus


def run_template(name: str, canary_hash: str, address: str, start: datetime) -> AnalysisRun:
    """Run `analysis-templates/<name>.yaml` for `canary_hash` to its verdict, on a virtual clock."""
    return run_to_verdict(template_run(name, canary_hash, address), start, no_secrets)


def measurements(run: AnalysisRun) -> list[tuple[str, float]]:
    return [(str(m.phase), float(m.value or "")) for m in run.status.metric_results[0].measurements]


def window_start(prometheus: KnownPrometheus) -> datetime:
    return prometheus.end - timedelta(minutes=8)


def test_success_rate_passes_a_healthy_canary(known_prometheus: KnownPrometheus) -> None:
    run = run_template("success-rate", "healthy1", known_prometheus.address, window_start(known_prometheus))
    assert run.status.phase == AnalysisPhase.SUCCESSFUL, run.status.message
    assert measurements(run) == [("Successful", pytest.approx(0.995))] * 5


def test_success_rate_fails_a_canary_with_five_times_the_error_rate(
    known_prometheus: KnownPrometheus,
) -> None:
    run = run_template("success-rate", "errors5x", known_prometheus.address, window_start(known_prometheus))
    assert run.status.phase == AnalysisPhase.FAILED
    assert "failed (2) > failureLimit (1)" in run.status.message
    assert measurements(run) == [("Failed", pytest.approx(0.975))] * 2


def test_success_rate_is_inconclusive_when_the_query_matches_nothing(
    known_prometheus: KnownPrometheus,
) -> None:
    run = run_template("success-rate", "nosuchhash", known_prometheus.address, window_start(known_prometheus))
    assert run.status.phase == AnalysisPhase.INCONCLUSIVE
    assert "query returned no data" in run.status.message


def test_success_rate_is_inconclusive_for_a_canary_without_traffic(known_prometheus: KnownPrometheus) -> None:
    run = run_template("success-rate", "idle1", known_prometheus.address, window_start(known_prometheus))
    assert run.status.phase == AnalysisPhase.INCONCLUSIVE
    assert [m.value for m in run.status.metric_results[0].measurements] == ["NaN"]
    assert "isNaN" in run.status.message


@pytest.mark.parametrize(
    ("canary_hash", "phase"), [("healthy1", AnalysisPhase.SUCCESSFUL), ("slow1", AnalysisPhase.FAILED)]
)
def test_latency_p99_judges_the_canarys_tail(
    known_prometheus: KnownPrometheus, canary_hash: str, phase: AnalysisPhase
) -> None:
    run = run_template("latency-p99", canary_hash, known_prometheus.address, window_start(known_prometheus))
    assert run.status.phase == phase, run.status.message


def test_a_stopped_prometheus_is_an_error_after_the_consecutive_error_limit(
    stopped_prometheus_address: str,
) -> None:
    start = datetime.now().astimezone()
    run = run_template("success-rate", "healthy1", stopped_prometheus_address, start)
    result = run.status.metric_results[0]
    assert run.status.phase == AnalysisPhase.ERROR
    assert (result.error, result.consecutive_error, result.count) == (5, 5, 0)
    assert "consecutive errors (5) > consecutiveErrorLimit (4)" in run.status.message
    assert f"cannot reach Prometheus at {stopped_prometheus_address}" in run.status.message
    assert result.measurements[-1].finished_at == start + timedelta(seconds=40)
