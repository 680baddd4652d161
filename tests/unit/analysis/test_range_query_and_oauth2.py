"""Argo's `rangeQuery` and `authentication.oauth2` fields: the spec's checks, reading a matrix, and the
client secret treated as a secret wherever it comes from. (Against real servers: the integration tier,
tests/integration/test_prometheus_range_query.py and test_oauth2_loopback_token_server.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from canary.analysis.args import ArgumentError, ResolvedArgs, resolve_metric
from canary.analysis.providers.base import MeasureContext, MeasurementError
from canary.analysis.providers.prometheus import PrometheusMetricProvider, values_of_range
from canary.api.analysis import Metric

NOW = datetime(2024, 1, 1, tzinfo=UTC)
WINDOW = {"start": 'now() - duration("10m")', "end": "now()", "step": "1m"}


def prometheus_metric(**config: Any) -> Metric:
    return Metric.model_validate(
        {"name": "m", "provider": {"prometheus": {"address": "http://127.0.0.1:1", "query": "up", **config}}}
    )


def no_secrets(namespace: str, name: str, key: str) -> str:
    raise KeyError(name)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("start", "now() - 1h", "rangeQuery.start"),
        ("end", 'date("yesterday")', "rangeQuery.end"),
        ("step", "often", "rangeQuery.step"),
        ("step", "0s", "rangeQuery.step"),
    ],
)
def test_a_range_query_that_cannot_be_evaluated_is_refused_naming_its_field(
    field: str, value: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace(".", r"\.")):
        prometheus_metric(rangeQuery={**WINDOW, field: value})


def test_a_range_query_made_of_args_is_checked_once_substituted() -> None:
    metric = prometheus_metric(rangeQuery={**WINDOW, "start": "{{args.start}}"})
    with pytest.raises(ArgumentError, match=r"rangeQuery\.start: .*'last tuesday' is not a time expression"):
        resolve_metric(metric, ResolvedArgs({"start": "last tuesday"}, frozenset()), "shop", no_secrets)


def test_a_range_query_ending_before_it_starts_is_an_error_before_any_request() -> None:
    metric = prometheus_metric(rangeQuery={**WINDOW, "start": "now()", "end": 'now() - duration("1m")'})
    context = MeasureContext(run_name="r", namespace="shop", now=NOW, index=0)
    with pytest.raises(MeasurementError, match=r"rangeQuery\.end .* is before rangeQuery\.start"):
        PrometheusMetricProvider().measure(metric, context)


def test_a_matrix_is_every_sample_of_every_series_in_order() -> None:
    matrix = [
        {"metric": {"pod": "a"}, "values": [[1, "11"], [2, "12"]]},
        {"metric": {"pod": "b"}, "values": [[1, "13"], [2, "NaN"]]},
    ]
    values = values_of_range(matrix)
    assert isinstance(values, list)
    assert values[:3] == [11.0, 12.0, 13.0] and values[3] != values[3]


@pytest.mark.parametrize("matrix", [[], [{"metric": {}, "values": []}]])
def test_a_matrix_without_samples_is_empty(matrix: list[Any]) -> None:
    assert values_of_range(matrix) is None


def test_an_instant_vector_from_a_range_query_is_an_error() -> None:
    with pytest.raises(MeasurementError, match="did not return a matrix"):
        values_of_range([{"metric": {}, "value": [1, "1"]}])


@pytest.mark.parametrize("provider", ["prometheus", "web"])
def test_an_oauth2_client_secret_is_a_secret_even_when_written_literally(provider: str) -> None:
    oauth2 = {"tokenUrl": "http://auth/token", "clientId": "canary", "clientSecret": "literal-s3cret"}
    config = (
        {"address": "http://prom", "query": "up"}
        if provider == "prometheus"
        else {"url": "http://web/health"}
    )
    metric = Metric.model_validate(
        {"name": "m", "provider": {provider: {**config, "authentication": {"oauth2": oauth2}}}}
    )
    _, secrets = resolve_metric(metric, ResolvedArgs({}, frozenset()), "shop", no_secrets)
    assert "literal-s3cret" in secrets


def test_oauth2_needs_its_token_url_client_id_and_secret() -> None:
    with pytest.raises(ValidationError, match="clientSecret"):
        prometheus_metric(authentication={"oauth2": {"tokenUrl": "http://auth/token", "clientId": "c"}})
