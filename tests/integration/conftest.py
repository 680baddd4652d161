"""Fixtures for the integration tier: a real Prometheus with known series for a stable and canary arms.

The series cover the last hour (15 s samples) ending when the session starts, for service
`checkout` in namespace `shop`, one arm per pod-template hash:

    hash        requests/s   5xx share   latency profile   story
    stable1     10           0.5 %       fast (p99 95 ms)  the stable arm
    healthy1    10           0.5 %       fast              a canary as good as stable
    errors5x    10           2.5 %       fast              a canary with 5x the error rate
    slow1       10           0.5 %       slow (p99 0.9 s)  a canary with a latency regression
    idle1       0            -           -                 a canary that receives no traffic (0/0)
    errors2x    10           1 %         fast              a canary with twice the error rate
    tail2x      10           0.5 %       tail2x            a canary with twice stable's share above 50 ms

Without `prometheus`/`promtool` on PATH (scripts/install-test-deps.sh installs them) the tests are
skipped locally and fail in CI (CI=true).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from prometheus_server import Family, KnownPrometheus, PrometheusServer, Series, require, serving

STEP = 15.0
SAMPLES = 241
RATE = 10.0
ERROR_SHARE = {
    "stable1": 0.005,
    "healthy1": 0.005,
    "errors5x": 0.025,
    "slow1": 0.005,
    "idle1": 0.0,
    "errors2x": 0.01,
    "tail2x": 0.005,
}
BUCKETS = ("0.05", "0.1", "0.25", "0.5", "1", "+Inf")
# Cumulative share of requests at or below each bucket bound.
PROFILES = {
    "fast": (0.90, 1.0, 1.0, 1.0, 1.0, 1.0),
    "slow": (0.50, 0.80, 0.90, 0.95, 1.0, 1.0),
    "tail2x": (0.80, 1.0, 1.0, 1.0, 1.0, 1.0),
}
LATENCY = {
    "stable1": "fast",
    "healthy1": "fast",
    "errors5x": "fast",
    "slow1": "slow",
    "errors2x": "fast",
    "tail2x": "tail2x",
}
LABELS = {"namespace": "shop", "service": "checkout"}


def _requests(hash_: str) -> Family:
    series = []
    for code, share in (("200", 1 - ERROR_SHARE[hash_]), ("500", ERROR_SHARE[hash_])):
        per_step = RATE * STEP * share if hash_ != "idle1" else 0.0
        labels = {**LABELS, "rollouts_pod_template_hash": hash_, "code": code}
        series.append(Series("http_requests_total", labels, [i * per_step for i in range(SAMPLES)]))
    return Family("http_requests", "counter", series)


def _latency(hash_: str) -> list[Series]:
    labels = {**LABELS, "rollouts_pod_template_hash": hash_}
    per_step = RATE * STEP
    series = [
        Series(
            "http_request_duration_seconds_bucket",
            {**labels, "le": bound},
            [i * per_step * share for i in range(SAMPLES)],
        )
        for bound, share in zip(BUCKETS, PROFILES[LATENCY[hash_]], strict=True)
    ]
    series.append(
        Series("http_request_duration_seconds_count", labels, [i * per_step for i in range(SAMPLES)])
    )
    series.append(
        Series("http_request_duration_seconds_sum", labels, [i * per_step * 0.05 for i in range(SAMPLES)])
    )
    return series


def known_series() -> list[Family]:
    counters = [_requests(h) for h in ERROR_SHARE]
    merged = Family("http_requests", "counter", [s for family in counters for s in family.series])
    histogram = Family(
        "http_request_duration_seconds", "histogram", [s for h in LATENCY for s in _latency(h)]
    )
    return [merged, histogram]


@pytest.fixture(scope="session")
def known_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnownPrometheus]:
    """A Prometheus serving `known_series()`, started once per session and stopped by its pid."""
    require(("prometheus", "promtool"))
    with serving(known_series(), tmp_path_factory.mktemp("prometheus"), samples=SAMPLES, step=STEP) as known:
        yield known


@pytest.fixture
def stopped_prometheus_address(tmp_path: Path) -> str:
    """The address of a Prometheus that was started, answered, and was then stopped."""
    require(("prometheus",))
    (tmp_path / "data").mkdir()
    server = PrometheusServer(tmp_path, tmp_path / "data")
    server.wait_ready()
    server.stop()
    return server.address
