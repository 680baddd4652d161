"""A simulated workload: each revision serves requests with its own error rate and latency.

Seeded, so a simulation replays exactly. Requests are split between revisions by the in-memory
cluster's traffic split; counters accumulate per revision like Prometheus counters, and
`SimulatedPrometheus` answers analysis queries from them, finding the revision by the
pod-template hash written in the query (templates pass `{{args.canary-hash}}`). It serves both the
`prometheus` provider (a value per query) and the `judge` provider's queries (raw instant-query
results, as `JudgeMetricProvider(query=...)` reads them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from canary.analysis.providers.base import MeasureContext, MeasurementError, ProviderResult, Reading
from canary.api.analysis import Metric, PrometheusProvider


@dataclass(frozen=True)
class Behaviour:
    """How one revision behaves: share of failed requests and a log-normal latency (median, p99)."""

    error_rate: float = 0.01
    latency_median_ms: float = 50.0
    latency_p99_ms: float = 200.0


@dataclass
class _Counters:
    samples: list[tuple[float, int, int]] = field(default_factory=lambda: [(0.0, 0, 0)])
    latencies: list[tuple[float, float]] = field(default_factory=list)


class Workload:
    """Requests arriving at `request_rate` per second, spread over revisions by traffic share."""

    def __init__(
        self, request_rate: float = 50.0, *, default: Behaviour | None = None, seed: int = 0
    ) -> None:
        self.request_rate = request_rate
        self.default = default or Behaviour()
        self.behaviours: dict[str, Behaviour] = {}
        self._rng = np.random.default_rng(seed)
        self._counters: dict[str, _Counters] = {}
        self.elapsed = 0.0

    def behave(self, pod_hash: str, behaviour: Behaviour) -> None:
        self.behaviours[pod_hash] = behaviour

    def serve(self, shares: Mapping[str, float], seconds: float) -> None:
        """Serve `seconds` of traffic split by `shares` (revision -> fraction of requests)."""
        if seconds <= 0:
            return
        self.elapsed += seconds
        for pod_hash, share in sorted(shares.items()):
            behaviour = self.behaviours.get(pod_hash, self.default)
            requests = int(self._rng.poisson(self.request_rate * share * seconds))
            errors = int(self._rng.binomial(requests, behaviour.error_rate)) if requests else 0
            counters = self._counters.setdefault(pod_hash, _Counters())
            _, total, failed = counters.samples[-1]
            counters.samples.append((self.elapsed, total + requests, failed + errors))
            sigma = max(math.log(behaviour.latency_p99_ms / behaviour.latency_median_ms) / 2.326, 1e-6)
            drawn = self._rng.lognormal(math.log(behaviour.latency_median_ms), sigma, size=min(requests, 200))
            counters.latencies += [(self.elapsed, float(v)) for v in drawn]
            counters.latencies = counters.latencies[-5000:]

    def window(self, pod_hash: str, seconds: float) -> tuple[int, int, list[float]]:
        """(requests, errors, latency samples in ms) served by a revision over the last `seconds`."""
        counters = self._counters.get(pod_hash)
        if counters is None:
            return 0, 0, []
        since = self.elapsed - seconds
        start = next((s for s in reversed(counters.samples) if s[0] <= since), counters.samples[0])
        end = counters.samples[-1]
        latencies = [v for t, v in counters.latencies if t > since]
        return end[1] - start[1], end[2] - start[2], latencies

    def revisions(self) -> list[str]:
        return sorted(self._counters)


_WINDOW = re.compile(r"\[(\d+)([smh])\]")
_QUANTILE = re.compile(r"histogram_quantile\(\s*([0-9.]+)")
_SERVER_ERRORS = re.compile(r'code\s*=~\s*"5')


class SimulatedPrometheus:
    """A `prometheus` provider answering from the workload's counters.

    The query names its revision by pod-template hash. A query with `histogram_quantile(q, ...)` gets
    that latency quantile in seconds; one mentioning 5xx codes (`code=~"5..`) the error ratio;
    anything else the request rate. A revision that served nothing in the window is an error
    (no data), never a passing value.
    """

    def __init__(self, workload: Workload) -> None:
        self.workload = workload

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        config = metric.provider.prometheus
        if config is None:
            raise MeasurementError(f"metric '{metric.name}' has no prometheus provider")
        query = config.query
        revision = self._revision(query)
        if revision is None:
            raise MeasurementError(f"no traffic recorded yet for the revision in query: {query}")
        seconds = _window_seconds(query)
        requests, errors, latencies = self.workload.window(revision, seconds)
        if requests == 0:
            raise MeasurementError(f"revision {revision} served no requests in the last {seconds:.0f} s")
        quantile = _QUANTILE.search(query)
        if quantile:
            value = float(np.quantile(latencies, float(quantile.group(1)))) / 1000 if latencies else 0.0
        elif _SERVER_ERRORS.search(query):
            value = errors / requests
        else:
            value = requests / seconds
        return Reading(value=round(value, 6), metadata={"revision": revision, "requests": str(requests)})

    def query(self, config: PrometheusProvider, promql: str, at: float) -> list[Any]:
        """An instant query's `data.result` for the judge provider: the revision's 5xx responses
        (a query with `code=~"5..`) or requests over the query's window, as one series; no series
        for a revision that served nothing, unless the query ends `or vector(0)`."""
        revision = self._revision(promql)
        requests, errors, _ = (
            self.workload.window(revision, _window_seconds(promql)) if revision else (0, 0, [])
        )
        if requests == 0 and "or vector(0)" not in promql:
            return []
        count = errors if _SERVER_ERRORS.search(promql) else requests
        return [{"metric": {}, "value": [at, str(count)]}]

    def _revision(self, query: str) -> str | None:
        return next((h for h in self.workload.revisions() if h in query), None)


def _window_seconds(query: str) -> float:
    match = _WINDOW.search(query)
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2)] if match else 60.0
