"""The shipped Traefik templates (analysis-templates/traefik-*.yaml), run by the runner against a real
Prometheus holding series named as Traefik exports them: `traefik_service_requests_total{code,service}`
and `traefik_service_request_duration_seconds_{bucket,count,sum}{service}` with Traefik's default
buckets, one Traefik service label per arm (`shop-checkout-<arm>-80@kubernetescrd`).

    arm        requests/s   5xx share   latency (share <= 0.1 s, 0.3 s, 1.2 s)   mean
    stable     10           0.5 %       99 %, 100 %, 100 %                       50 ms
    healthy    10           0.5 %       as stable                                50 ms
    errors2x   10           1 %         as stable                                50 ms
    errors5x   10           2.5 %       as stable                                50 ms
    errors10x  10           5 %         as stable                                50 ms
    errors20x  10           10 %        as stable                                50 ms
    slow       10           0.5 %       80 %, 95 %, 100 %                        150 ms
    idle       0            -           -                                        -

Each 15 s step's count varies by up to +-20% around its rate (seeded), so per-minute samples differ.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import pytest
from analysis_harness import no_secrets, run_to_verdict, template_run
from prometheus_server import Family, KnownPrometheus, Series, require, serving

from canary.api.analysis import AnalysisPhase, AnalysisRun

pytestmark = pytest.mark.prometheus

STEP, SAMPLES, RATE = 15.0, 241, 10.0
ERRORS = {
    "stable": 0.005,
    "healthy": 0.005,
    "errors2x": 0.01,
    "errors5x": 0.025,
    "errors10x": 0.05,
    "errors20x": 0.10,
    "slow": 0.005,
    "idle": 0.0,
}
BUCKETS = ("0.1", "0.3", "1.2", "5", "+Inf")
AT_OR_BELOW = {"fast": (0.99, 1.0, 1.0, 1.0, 1.0), "slow": (0.80, 0.95, 1.0, 1.0, 1.0)}
MEAN_SECONDS = {"fast": 0.05, "slow": 0.15}


def service(arm: str) -> str:
    return f"shop-checkout-{arm}-80@kubernetescrd"


def cumulative(increments: list[float]) -> list[float]:
    total, values = 0.0, []
    for step in increments:
        values.append(total)
        total += step
    return values


def arm_series(arm: str, rng: random.Random) -> tuple[list[Series], list[Series]]:
    """(request counters, latency histogram) of one arm."""
    rate = 0.0 if arm == "idle" else RATE
    requests = [rate * STEP * rng.uniform(0.8, 1.2) for _ in range(SAMPLES)]
    labels = {"service": service(arm)}
    counters = [
        Series(
            "traefik_service_requests_total",
            {**labels, "code": code, "method": "GET", "protocol": "http"},
            cumulative([n * share for n in requests]),
        )
        for code, share in (("200", 1 - ERRORS[arm]), ("500", ERRORS[arm]))
    ]
    profile = "slow" if arm == "slow" else "fast"
    histogram = [
        Series(
            "traefik_service_request_duration_seconds_bucket",
            {**labels, "le": bound},
            cumulative([n * share for n in requests]),
        )
        for bound, share in zip(BUCKETS, AT_OR_BELOW[profile], strict=True)
    ]
    histogram += [
        Series("traefik_service_request_duration_seconds_count", labels, cumulative(requests)),
        Series(
            "traefik_service_request_duration_seconds_sum",
            labels,
            cumulative([n * MEAN_SECONDS[profile] for n in requests]),
        ),
    ]
    return counters, histogram


@pytest.fixture(scope="module")
def traefik_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnownPrometheus]:
    require(("prometheus", "promtool"))
    rng = random.Random(15)
    counters, histograms = [], []
    for arm in ERRORS:
        arm_counters, arm_histogram = arm_series(arm, rng)
        counters += arm_counters
        histograms += arm_histogram
    families = [
        Family("traefik_service_requests", "counter", counters),
        Family("traefik_service_request_duration_seconds", "histogram", histograms),
    ]
    with serving(
        families, tmp_path_factory.mktemp("traefik-prometheus"), samples=SAMPLES, step=STEP
    ) as known:
        yield known


def judged(prometheus: KnownPrometheus, template: str, arm: str, **args: str) -> AnalysisRun:
    """`template` run for canary `arm` against stable, from 35 minutes before the series end."""
    run = template_run(
        template,
        arm,
        prometheus.address,
        stable_service=service("stable"),
        canary_service=service(arm),
        **args,
    )
    return run_to_verdict(run, prometheus.end - timedelta(minutes=35), no_secrets)


def phases(run: AnalysisRun) -> dict[str, AnalysisPhase]:
    return {result.name: AnalysisPhase(result.phase) for result in run.status.metric_results}


@pytest.mark.parametrize(
    ("template", "args"),
    [("traefik-error-rate-sequential", {}), ("traefik-latency-tail-sequential", {"slow_le": "0.1"})],
)
def test_a_traefik_sequential_template_passes_a_canary_as_good_as_stable(
    traefik_prometheus: KnownPrometheus, template: str, args: dict[str, str]
) -> None:
    run = judged(traefik_prometheus, template, "healthy", **args)
    assert run.status.phase == AnalysisPhase.SUCCESSFUL, run.status.message
    assert run.status.metric_results[0].count == 30


def test_traefik_error_rate_sequential_fails_a_canary_with_twice_the_error_rate(
    traefik_prometheus: KnownPrometheus,
) -> None:
    run = judged(traefik_prometheus, "traefik-error-rate-sequential", "errors2x")
    assert run.status.phase == AnalysisPhase.FAILED, run.status.message
    assert run.status.metric_results[0].count < 30
    assert "sequential-counts: fail" in run.status.message


def test_traefik_latency_tail_sequential_fails_a_canary_with_a_slower_tail(
    traefik_prometheus: KnownPrometheus,
) -> None:
    run = judged(traefik_prometheus, "traefik-latency-tail-sequential", "slow", slow_le="0.1")
    assert run.status.phase == AnalysisPhase.FAILED, run.status.message
    assert run.status.metric_results[0].count < 30


def test_traefik_sequential_templates_take_a_shorter_interval_as_their_window(
    traefik_prometheus: KnownPrometheus,
) -> None:
    run = judged(traefik_prometheus, "traefik-error-rate-sequential", "errors5x", interval="30s", count="60")
    assert run.status.phase == AnalysisPhase.FAILED, run.status.message
    first, second = run.status.metric_results[0].measurements[:2]
    assert second.started_at is not None and first.started_at is not None
    assert second.started_at - first.started_at == timedelta(seconds=30)


def test_traefik_mann_whitney_passes_a_canary_as_good_as_stable(traefik_prometheus: KnownPrometheus) -> None:
    run = judged(traefik_prometheus, "traefik-mann-whitney", "healthy")
    assert run.status.phase == AnalysisPhase.SUCCESSFUL, run.status.message


@pytest.mark.parametrize(
    ("arm", "failing"), [("errors5x", "traefik-error-ratio"), ("slow", "traefik-mean-latency")]
)
def test_traefik_mann_whitney_fails_the_metric_that_got_worse(
    traefik_prometheus: KnownPrometheus, arm: str, failing: str
) -> None:
    run = judged(traefik_prometheus, "traefik-mann-whitney", arm)
    assert run.status.phase == AnalysisPhase.FAILED, run.status.message
    assert phases(run)[failing] == AnalysisPhase.FAILED


@pytest.mark.parametrize("arm", ["healthy", "errors2x", "errors5x"])
def test_traefik_success_rate_passes_every_canary_above_95_percent(
    traefik_prometheus: KnownPrometheus, arm: str
) -> None:
    run = judged(traefik_prometheus, "traefik-success-rate", arm)
    assert run.status.phase == AnalysisPhase.SUCCESSFUL, run.status.message


def test_traefik_success_rate_fails_a_canary_below_95_percent_after_the_failure_limit(
    traefik_prometheus: KnownPrometheus,
) -> None:
    run = judged(traefik_prometheus, "traefik-success-rate", "errors20x")
    assert run.status.phase == AnalysisPhase.FAILED, run.status.message
    assert "failed (4) > failureLimit (3)" in run.status.message
    values = [float(m.value or "nan") for m in run.status.metric_results[0].measurements]
    assert values == [pytest.approx(0.90, abs=0.01)] * 4


def test_traefik_success_rate_is_inconclusive_for_a_canary_without_responses(
    traefik_prometheus: KnownPrometheus,
) -> None:
    run = judged(traefik_prometheus, "traefik-success-rate", "idle")
    assert run.status.phase == AnalysisPhase.INCONCLUSIVE, run.status.message
