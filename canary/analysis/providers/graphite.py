"""The `graphite` provider (Argo's): one request to Graphite's render API, `{address}/render?{query}`.

`query` holds the render parameters, e.g. `target=sumSeries(app.checkout.errors)&from=-5min`;
whitespace in it is dropped (templates often fold a long target over lines) and `format=json` is
added. The result is the list of the first target's non-null datapoint values, oldest first, as
Argo gives it (conditions read `result[0]`, `len(result)`, ...). No target, or only null points, is
Inconclusive. Graphite has no client library worth the name; `requests` is the project's HTTP client.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import requests

from canary.analysis.args import SecretReader
from canary.analysis.providers.base import MeasureContext, MeasurementError, ProviderResult, Reading
from canary.analysis.providers.vendor import calling, no_data, spec_of
from canary.api.analysis import GraphiteProvider, GraphiteSource, Metric

TIMEOUT = 30.0
"""Seconds a render request may take (Argo's graphite spec has no timeout field)."""


class GraphiteMetricProvider:
    """Measures `metric.provider.graphite`."""

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        config = spec_of(metric, GraphiteProvider)
        values = [value for _, value in datapoints(config, config.query)]
        return Reading(values) if values else no_data("Graphite", config.query)


def arm_samples(
    source: GraphiteSource, query: str, context: MeasureContext, read_secret: SecretReader | None
) -> list[tuple[float, float]]:
    """A judge arm's samples: the first target's datapoints, e.g. `target=app.latency.canary&from=-1min`
    (for a count judge, per-bucket counts such as `summarize(app.errors.canary,"10s","sum")`)."""
    return datapoints(source, query)


def datapoints(config: GraphiteSource, query: str) -> list[tuple[float, float]]:
    """(timestamp, value) of the first target's non-null datapoints, oldest first."""
    params = [*parse_qsl(re.sub(r"\s+", "", query), keep_blank_values=True), ("format", "json")]
    url = config.address.rstrip("/") + "/render"
    with calling("Graphite", config.address, frozenset()):
        response = requests.get(url, params=params, timeout=TIMEOUT)
        if response.status_code >= 400:
            raise MeasurementError(
                f"Graphite at {config.address} answered HTTP {response.status_code}: {response.text[:200]}"
            )
        targets: Any = response.json()
    if not isinstance(targets, list):
        raise MeasurementError(f"Graphite at {config.address} sent a malformed answer: not a list of targets")
    if not targets:
        return []
    try:
        return [(float(at), float(value)) for value, at in targets[0]["datapoints"] if value is not None]
    except (KeyError, TypeError, ValueError):
        raise MeasurementError(
            f"Graphite at {config.address} sent a malformed answer: datapoints are not [value, timestamp]"
        ) from None
