"""The `datadog` provider (Argo's), through Datadog's own client library (datadog-api-client).

- `apiVersion: v1` (the default): `GET /api/v1/query` over the last `interval`; the value is the
  last point of the first series.
- `apiVersion: v2`: the scalar formulas API (`POST /api/v2/query/scalar`) with `queries` (or `query`,
  named `query`) reduced by `aggregator` (default `last`) and combined by `formula`; one value is
  that number, several (a `by {tag}` query) a list.

No series, no points or no values is Inconclusive (Argo hands `nil` to the conditions instead; canary
never passes a metric on missing data). Credentials come from the Secret `secretRef.name` (default
`datadog`) in the run's namespace: `api-key`, `app-key`, and `address` (default the US1 site).
"""

from __future__ import annotations

from typing import Any

from canary.analysis.args import SecretReader
from canary.analysis.providers.base import MeasureContext, ProviderResult, Reading
from canary.analysis.providers.vendor import (
    Credentials,
    ReadsSecrets,
    calling,
    no_data,
    read_credentials,
    spec_of,
    window,
)
from canary.api.analysis import DatadogProvider, DatadogSource, Metric
from canary.api.base import parse_duration

DEFAULT_ADDRESS = "https://api.datadoghq.com"


class DatadogMetricProvider(ReadsSecrets):
    """Measures `metric.provider.datadog`, reading its keys through `read_secret`."""

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        config = spec_of(metric, DatadogProvider)
        credentials = read_keys(self._read_secret, config, context.namespace)
        period = _period(config, context)
        if config.api_version == "v1":
            assert config.query is not None
            series = series_points(config, credentials, config.query, period)
            first = series[0] if series else []
            return Reading(first[-1][1]) if first else no_data("Datadog", config.query)
        values = scalar_values(config, credentials, period)
        described = config.formula or " ".join((config.queries or {}).values()) or config.query or ""
        if not values:
            return no_data("Datadog", described)
        return Reading(values[0] if len(values) == 1 else values)


def arm_samples(
    source: DatadogSource, query: str, context: MeasureContext, read_secret: SecretReader
) -> list[tuple[float, float]]:
    """A judge arm's samples: every point of every series of a v1 timeseries query over `interval`
    (for a count judge, a `.as_count()` query whose points the judge sums)."""
    credentials = read_keys(read_secret, source, context.namespace)
    return [
        point
        for series in series_points(source, credentials, query, _period(source, context))
        for point in series
    ]


def read_keys(read_secret: SecretReader, source: DatadogSource, namespace: str) -> Credentials:
    return read_credentials(
        read_secret,
        namespace,
        source.secret_ref.name,
        required=("api-key", "app-key"),
        optional=("address",),
        provider="datadog",
    )


def _period(source: DatadogSource, context: MeasureContext) -> tuple[int, int]:
    start, end = window(context.now, source.interval)
    return int(start.timestamp()), int(end.timestamp())


def _client(config: DatadogSource, credentials: Credentials) -> Any:
    from datadog_api_client import ApiClient, Configuration  # heavy import, only when measuring

    configuration = Configuration(
        host=(credentials.get("address") or DEFAULT_ADDRESS).rstrip("/"),
        request_timeout=parse_duration(config.request_timeout),
    )
    configuration.api_key["apiKeyAuth"] = credentials["api-key"]
    configuration.api_key["appKeyAuth"] = credentials["app-key"]
    return ApiClient(configuration)


def series_points(
    config: DatadogSource, credentials: Credentials, query: str, period: tuple[int, int]
) -> list[list[tuple[float, float]]]:
    """(timestamp in seconds, value) of each series of a v1 timeseries query, oldest first."""
    from datadog_api_client.v1.api.metrics_api import MetricsApi

    address = credentials.get("address") or DEFAULT_ADDRESS
    with calling("Datadog", address, credentials.secrets), _client(config, credentials) as client:
        response = MetricsApi(client).query_metrics(_from=period[0], to=period[1], query=query)
        # Each point is a Point model wrapping [timestamp in ms, value or null].
        return [
            [
                (point.value[0] / 1000, point.value[1])
                for point in series.get("pointlist") or []
                if point.value[1] is not None
            ]
            for series in response.get("series") or []
        ]


def scalar_values(config: DatadogProvider, credentials: Credentials, period: tuple[int, int]) -> list[float]:
    """The values of the v2 scalar query's number column (one per group)."""
    from datadog_api_client.v2.api.metrics_api import MetricsApi
    from datadog_api_client.v2.model.metrics_aggregator import MetricsAggregator
    from datadog_api_client.v2.model.metrics_data_source import MetricsDataSource
    from datadog_api_client.v2.model.metrics_scalar_query import MetricsScalarQuery
    from datadog_api_client.v2.model.query_formula import QueryFormula
    from datadog_api_client.v2.model.scalar_formula_query_request import ScalarFormulaQueryRequest
    from datadog_api_client.v2.model.scalar_formula_request import ScalarFormulaRequest
    from datadog_api_client.v2.model.scalar_formula_request_attributes import ScalarFormulaRequestAttributes
    from datadog_api_client.v2.model.scalar_formula_request_queries import ScalarFormulaRequestQueries
    from datadog_api_client.v2.model.scalar_formula_request_type import ScalarFormulaRequestType

    queries = config.queries or {"query": config.query or ""}
    attributes = ScalarFormulaRequestAttributes(
        _from=period[0] * 1000,
        to=period[1] * 1000,
        queries=ScalarFormulaRequestQueries(
            [
                MetricsScalarQuery(
                    aggregator=MetricsAggregator(config.aggregator or "last"),
                    data_source=MetricsDataSource.METRICS,
                    name=name,
                    query=query,
                )
                for name, query in queries.items()
            ]
        ),
    )
    if config.formula is not None:
        attributes.formulas = [QueryFormula(formula=config.formula)]
    body = ScalarFormulaQueryRequest(
        data=ScalarFormulaRequest(attributes=attributes, type=ScalarFormulaRequestType.SCALAR_REQUEST)
    )
    address = credentials.get("address") or DEFAULT_ADDRESS
    with calling("Datadog", address, credentials.secrets), _client(config, credentials) as client:
        response = MetricsApi(client).query_scalar_data(body)
        columns = response.data.attributes.get("columns") or []
        numbers = [column for column in columns if str(column.get("type")) == "number"]
        return (
            [float(value) for value in (numbers[0].get("values") or []) if value is not None]
            if numbers
            else []
        )
