"""The shipped statistical templates, run minute by minute by the runner against a real Prometheus
holding known series (see conftest.py): stable `stable1` against a canary of each story."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from analysis_harness import no_secrets, run_to_verdict, template_run
from prometheus_server import KnownPrometheus

from canary.analysis import runner
from canary.analysis.providers.registry import default_registry
from canary.api.analysis import AnalysisPhase, AnalysisRun
from canary.engine.clock import ManualClock

pytestmark = pytest.mark.prometheus

SLOW_LE = {"slow_le": "0.05"}
"""Stable (fast profile) has 10% of its requests above 50 ms; tail2x has 20%, slow1 50%."""


def start(known: KnownPrometheus) -> datetime:
    """Thirty-five minutes before the series end: room for 30 one-minute intervals."""
    return known.end - timedelta(minutes=35)


def judged(known: KnownPrometheus, template: str, canary_hash: str, **args: str) -> AnalysisRun:
    run = template_run(template, canary_hash, known.address, **args)
    return run_to_verdict(run, start(known), no_secrets)


def evidence(run: AnalysisRun) -> dict[str, float]:
    return dict(json.loads(run.status.metric_results[0].measurements[-1].value or "{}"))


@pytest.mark.parametrize(
    ("template", "args"), [("error-rate-sequential", {}), ("latency-tail-sequential", SLOW_LE)]
)
def test_a_sequential_template_passes_a_canary_as_good_as_stable_after_thirty_minutes(
    known_prometheus: KnownPrometheus, template: str, args: dict[str, str]
) -> None:
    run = judged(known_prometheus, template, "healthy1", **args)
    result = run.status.metric_results[0]
    assert run.status.phase == AnalysisPhase.SUCCESSFUL, run.status.message
    assert result.count == 30
    assert evidence(run)["n_canary"] == pytest.approx(30 * 600)


def test_error_rate_sequential_fails_a_canary_with_twice_the_error_rate(
    known_prometheus: KnownPrometheus,
) -> None:
    run = judged(known_prometheus, "error-rate-sequential", "errors2x")
    result = run.status.metric_results[0]
    assert run.status.phase == AnalysisPhase.FAILED, run.status.message
    assert result.count < 30
    assert "sequential-counts: fail (e_value=" in run.status.message
    assert evidence(run)["p_value"] <= 0.05
    assert evidence(run)["estimate"] == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize("canary_hash", ["tail2x", "slow1"])
def test_latency_tail_sequential_fails_a_canary_with_a_slower_tail(
    known_prometheus: KnownPrometheus, canary_hash: str
) -> None:
    run = judged(known_prometheus, "latency-tail-sequential", canary_hash, **SLOW_LE)
    assert run.status.phase == AnalysisPhase.FAILED, run.status.message
    assert run.status.metric_results[0].count < 30
    assert evidence(run)["events_canary"] > evidence(run)["events_stable"]


def test_latency_tail_sequential_is_inconclusive_for_a_canary_without_traffic(
    known_prometheus: KnownPrometheus,
) -> None:
    run = judged(known_prometheus, "latency-tail-sequential", "idle1", **SLOW_LE)
    assert run.status.phase == AnalysisPhase.INCONCLUSIVE
    assert "no data from queries.canary" in run.status.message


def restarted_every_interval(run: AnalysisRun, at: datetime) -> AnalysisRun:
    """Like run_to_verdict, but each interval a new controller reads the run back from its stored
    JSON (the AnalysisRun as the apiserver keeps it) and measures with new providers."""
    clock = ManualClock(at)
    while True:
        stored = json.dumps(run.to_wire())
        result = runner.advance(
            AnalysisRun.model_validate(json.loads(stored)),
            now=clock.now(),
            providers=default_registry(),
            read_secret=no_secrets,
        )
        run = result.run
        if result.requeue_after is None:
            return run
        clock.advance(result.requeue_after)


@pytest.mark.parametrize("canary_hash", ["healthy1", "errors2x"])
def test_the_judge_state_survives_a_restart_at_every_interval(
    known_prometheus: KnownPrometheus, canary_hash: str
) -> None:
    fresh = template_run("error-rate-sequential", canary_hash, known_prometheus.address)
    uninterrupted = run_to_verdict(fresh, start(known_prometheus), no_secrets)
    restarted = restarted_every_interval(fresh, start(known_prometheus))
    assert restarted.status.phase == uninterrupted.status.phase
    assert [m.value for m in restarted.status.metric_results[0].measurements] == [
        m.value for m in uninterrupted.status.metric_results[0].measurements
    ]
    assert (
        restarted.status.metric_results[0].judge_state == uninterrupted.status.metric_results[0].judge_state
    )


@pytest.mark.parametrize("template", ["latency-shift-sequential", "mann-whitney-kayenta"])
def test_the_sample_templates_queries_run_on_prometheus_and_pass_a_canary_as_good_as_stable(
    known_prometheus: KnownPrometheus, template: str
) -> None:
    run = judged(known_prometheus, template, "healthy1")
    assert run.status.phase == AnalysisPhase.SUCCESSFUL, run.status.message
    for result in run.status.metric_results:
        assert json.loads(result.measurements[-1].value or "{}")["n_canary"] > 0, result.name
