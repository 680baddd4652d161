"""The judge provider: both arms queried from a real Prometheus, judged by canary.analysis.judges."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from analysis_harness import no_secrets, run_to_verdict
from prometheus_server import KnownPrometheus

from canary.api.analysis import AnalysisPhase, AnalysisRun

pytestmark = pytest.mark.prometheus


def arm_requests(hash_: str, codes: str = "") -> str:
    """This minute's requests of one arm (only those whose code matches `codes`, if given)."""
    code = f', code=~"{codes}"' if codes else ""
    return f'sum(increase(http_requests_total{{service="checkout", rollouts_pod_template_hash="{hash_}"{code}}}[1m]))'


def start(known: KnownPrometheus) -> datetime:
    """Thirty-five minutes before the series end: room for 30 one-minute intervals."""
    return known.end - timedelta(minutes=35)


def judge_run(address: str, canary_hash: str) -> AnalysisRun:
    judge = {
        "kind": "sequential-counts",
        "address": address,
        "queries": {"stable": arm_requests("stable1", "5.."), "canary": arm_requests(canary_hash, "5..")},
        "totals": {"stable": arm_requests("stable1"), "canary": arm_requests(canary_hash)},
        "config": {"alpha": 0.05},
    }
    metric = {"name": "errors", "interval": "1m", "count": 30, "provider": {"judge": judge}}
    return AnalysisRun.model_validate(
        {"metadata": {"name": "judged", "namespace": "shop"}, "spec": {"metrics": [metric]}}
    )


def test_the_counts_judge_passes_a_canary_as_good_as_stable(known_prometheus: KnownPrometheus) -> None:
    run = run_to_verdict(judge_run(known_prometheus.address, "healthy1"), start(known_prometheus), no_secrets)
    result = run.status.metric_results[0]
    assert run.status.phase == AnalysisPhase.SUCCESSFUL, run.status.message
    assert result.judge_state is not None
    assert result.count == 30


def test_the_counts_judge_fails_a_canary_with_five_times_the_errors(
    known_prometheus: KnownPrometheus,
) -> None:
    run = run_to_verdict(judge_run(known_prometheus.address, "errors5x"), start(known_prometheus), no_secrets)
    result = run.status.metric_results[0]
    assert run.status.phase == AnalysisPhase.FAILED, run.status.message
    assert result.count < 30
    assert "sequential-counts: fail" in run.status.message
