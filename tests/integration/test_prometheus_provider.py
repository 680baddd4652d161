"""The prometheus provider against a real server: result shapes, the server's errors, timeouts."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from prometheus_server import KnownPrometheus

from canary.analysis.providers.base import MeasureContext, MeasurementError, Reading
from canary.analysis.providers.prometheus import PrometheusMetricProvider
from canary.api.analysis import Metric

pytestmark = pytest.mark.prometheus


Measure = Callable[..., Any]


@pytest.fixture
def measure(known_prometheus: KnownPrometheus) -> Measure:
    """Take one measurement of `query` at `address`, five minutes before the known series end."""
    context = MeasureContext(
        run_name="r", namespace="shop", now=known_prometheus.end - timedelta(minutes=5), index=0
    )

    def measure_once(address: str, query: str, **config: Any) -> Any:
        metric = Metric.model_validate(
            {"name": "m", "provider": {"prometheus": {"address": address, "query": query, **config}}}
        )
        return PrometheusMetricProvider().measure(metric, context)

    return measure_once


def test_a_scalar_is_a_number(known_prometheus: KnownPrometheus, measure: Measure) -> None:
    query = 'scalar(sum(rate(http_requests_total{rollouts_pod_template_hash="stable1"}[2m])))'
    assert measure(known_prometheus.address, query) == Reading(pytest.approx(10.0))


def test_a_vector_of_several_series_is_a_list(known_prometheus: KnownPrometheus, measure: Measure) -> None:
    query = 'sum by (rollouts_pod_template_hash) (rate(http_requests_total{rollouts_pod_template_hash=~"stable1|idle1|slow1"}[2m]))'
    reading = measure(known_prometheus.address, query)
    assert isinstance(reading, Reading)
    assert sorted(reading.value) == pytest.approx([0.0, 10.0, 10.0])


def test_a_query_the_server_rejects_is_an_error_with_its_message(
    known_prometheus: KnownPrometheus, measure: Measure
) -> None:
    with pytest.raises(MeasurementError, match=r"rejected the query: .*parse error.*HTTP Status Code 400"):
        measure(known_prometheus.address, "sum(rate(http_requests_total[2m])")


def test_a_range_vector_is_an_error_asking_for_an_instant_query(
    known_prometheus: KnownPrometheus, measure: Measure
) -> None:
    with pytest.raises(MeasurementError, match="range vector"):
        measure(known_prometheus.address, "http_requests_total[1m]")


def test_the_server_sends_a_string_in_the_shape_of_a_scalar(known_prometheus: KnownPrometheus) -> None:
    # Why the provider checks the query text: the client keeps only data.result, [ts, "1"] here.
    answer = requests.get(
        f"{known_prometheus.address}/api/v1/query", params={"query": '"1"'}, timeout=5
    ).json()
    assert answer["data"]["resultType"] == "string" and answer["data"]["result"][1] == "1"


def test_a_quoted_number_is_an_error_naming_the_fix(
    known_prometheus: KnownPrometheus, measure: Measure
) -> None:
    with pytest.raises(MeasurementError, match=r'^the query "1" is a string, not a number; .*1, not "1"'):
        measure(known_prometheus.address, '"1"')


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_server_that_does_not_answer_in_time_is_an_error(silent_server: str, measure: Measure) -> None:
    with pytest.raises(MeasurementError, match=f"Prometheus at {silent_server} did not answer within 1s"):
        measure(silent_server, "up", timeout="1s")
