"""The judge provider: both arms queried from a real Prometheus, judged by canary.analysis.judges."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import KnownPrometheus

from canary.analysis import runner
from canary.analysis.providers.registry import default_registry
from canary.api.analysis import AnalysisPhase, AnalysisRun
from canary.engine.clock import ManualClock

pytestmark = pytest.mark.prometheus


def arm_counts(hash_: str) -> str:
    """This minute's 5xx responses and requests of one arm, as the counts judge reads them."""
    selector = f'service="checkout", rollouts_pod_template_hash="{hash_}"'
    return (
        f'label_replace(sum(increase(http_requests_total{{{selector}, code=~"5.."}}[1m])), "count", "events", "", "")'
        f' or label_replace(sum(increase(http_requests_total{{{selector}}}[1m])), "count", "total", "", "")'
    )


def judge_run(address: str, canary_hash: str) -> AnalysisRun:
    judge = {
        "kind": "sequential-counts",
        "address": address,
        "queries": {"stable": arm_counts("stable1"), "canary": arm_counts(canary_hash)},
        "config": {"alpha": 0.05},
    }
    metric = {"name": "errors", "interval": "1m", "count": 30, "provider": {"judge": judge}}
    return AnalysisRun.model_validate(
        {"metadata": {"name": "judged", "namespace": "shop"}, "spec": {"metrics": [metric]}}
    )


def run_to_verdict(run: AnalysisRun, known: KnownPrometheus) -> AnalysisRun:
    clock, providers = ManualClock(known.end - timedelta(minutes=35)), default_registry()
    result = runner.advance(run, now=clock.now(), providers=providers, read_secret=lambda *a: "")
    while result.requeue_after is not None:
        clock.advance(result.requeue_after)
        result = runner.advance(result.run, now=clock.now(), providers=providers, read_secret=lambda *a: "")
    return result.run


def test_the_counts_judge_passes_a_canary_as_good_as_stable(known_prometheus: KnownPrometheus) -> None:
    run = run_to_verdict(judge_run(known_prometheus.address, "healthy1"), known_prometheus)
    result = run.status.metric_results[0]
    assert run.status.phase == AnalysisPhase.SUCCESSFUL, run.status.message
    assert result.judge_state is not None
    assert result.count == 30


def test_the_counts_judge_fails_a_canary_with_five_times_the_errors(
    known_prometheus: KnownPrometheus,
) -> None:
    run = run_to_verdict(judge_run(known_prometheus.address, "errors5x"), known_prometheus)
    result = run.status.metric_results[0]
    assert run.status.phase == AnalysisPhase.FAILED, run.status.message
    assert result.count < 30
    assert "sequential-counts: fail" in run.status.message
