"""The datadog provider through Datadog's own client library (datadog-api-client) against a loopback
server answering as Datadog's API reference documents: `GET /api/v1/query` (MetricsQueryResponse)
and `POST /api/v2/query/scalar` (ScalarFormulaQueryResponse). Datadog's servers cannot run here."""

from __future__ import annotations

import pytest
from vendor_servers import LoopbackAPI
from vendor_specs import NOW, context, metric, secrets

from canary.analysis.providers.base import MeasurementError, Reading, Verdict
from canary.analysis.providers.datadog import DatadogMetricProvider
from canary.api.analysis import AnalysisPhase

API_KEY = "dd-api-7c1e9f3a2b4d"
APP_KEY = "dd-app-5e8d2c4b6a1f"
END = int(NOW.timestamp())


def _provider(api: LoopbackAPI, secret: str = "datadog") -> DatadogMetricProvider:
    return DatadogMetricProvider(
        secrets({secret: {"address": api.address, "api-key": API_KEY, "app-key": APP_KEY}})
    )


def _series(*points: tuple[int, float | None]) -> dict[str, object]:
    return {
        "metric": "trace.http.request.errors",
        "display_name": "trace.http.request.errors",
        "pointlist": [[at * 1000, value] for at, value in points],
        "start": points[0][0] * 1000,
        "end": points[-1][0] * 1000,
        "interval": 60,
        "length": len(points),
        "scope": "service:checkout",
        "expression": "sum:trace.http.request.errors{service:checkout}",
        "tag_set": [],
        "attributes": {},
    }


def _v1_answer(*series: dict[str, object]) -> dict[str, object]:
    return {
        "status": "ok",
        "res_type": "time_series",
        "series": list(series),
        "from_date": (END - 300) * 1000,
        "to_date": END * 1000,
        "query": "sum:trace.http.request.errors{service:checkout}",
        "message": "",
        "group_by": [],
    }


def _v2_answer(*columns: dict[str, object]) -> dict[str, object]:
    return {"data": {"type": "scalar_response", "attributes": {"columns": list(columns)}}}


def test_datadog_v1_against_loopback_server_answering_as_api_reference_documents_is_the_last_point(
    loopback_api: LoopbackAPI,
) -> None:
    loopback_api.answer("GET", "/api/v1/query", _v1_answer(_series((END - 120, 0.02), (END - 60, 0.03))))
    query = "sum:trace.http.request.errors{service:checkout}.as_rate()"
    reading = _provider(loopback_api).measure(metric({"datadog": {"query": query}}), context())
    assert reading == Reading(0.03)
    sent = loopback_api.received[-1]
    assert (sent.query["query"], sent.query["from"], sent.query["to"]) == (
        [query],
        [str(END - 300)],
        [str(END)],
    )
    assert (sent.headers["DD-API-KEY"], sent.headers["DD-APPLICATION-KEY"]) == (API_KEY, APP_KEY)


def test_datadog_v1_against_loopback_server_answering_as_api_reference_documents_reads_its_interval(
    loopback_api: LoopbackAPI,
) -> None:
    loopback_api.answer("GET", "/api/v1/query", _v1_answer(_series((END - 60, 1.0))))
    _provider(loopback_api).measure(metric({"datadog": {"query": "avg:x{*}", "interval": "10m"}}), context())
    assert loopback_api.received[-1].query["from"] == [str(END - 600)]


def test_datadog_v1_against_loopback_server_answering_as_api_reference_documents_no_series_is_inconclusive(
    loopback_api: LoopbackAPI,
) -> None:
    loopback_api.answer("GET", "/api/v1/query", _v1_answer())
    outcome = _provider(loopback_api).measure(metric({"datadog": {"query": "avg:x{*}"}}), context())
    assert isinstance(outcome, Verdict)
    assert outcome.phase == AnalysisPhase.INCONCLUSIVE


def test_datadog_v2_against_loopback_server_answering_as_api_reference_documents_is_the_formulas_value(
    loopback_api: LoopbackAPI,
) -> None:
    loopback_api.answer(
        "POST",
        "/api/v2/query/scalar",
        _v2_answer({"name": "a / b", "type": "number", "values": [0.0125], "meta": {"unit": None}}),
    )
    spec = {
        "apiVersion": "v2",
        "queries": {
            "a": "sum:errors{service:checkout}.as_count()",
            "b": "sum:hits{service:checkout}.as_count()",
        },
        "formula": "a / b",
        "aggregator": "sum",
        "secretRef": {"name": "datadog-shop", "namespaced": True},
    }
    reading = _provider(loopback_api, "datadog-shop").measure(metric({"datadog": spec}), context())
    assert reading == Reading(0.0125)
    body = loopback_api.received[-1].json()["data"]
    assert body["type"] == "scalar_request"
    assert body["attributes"]["from"] == (END - 300) * 1000 and body["attributes"]["to"] == END * 1000
    assert body["attributes"]["formulas"] == [{"formula": "a / b"}]
    assert {(q["name"], q["aggregator"], q["data_source"]) for q in body["attributes"]["queries"]} == {
        ("a", "sum", "metrics"),
        ("b", "sum", "metrics"),
    }


def test_datadog_v2_against_loopback_server_answering_as_api_reference_documents_groups_are_a_list(
    loopback_api: LoopbackAPI,
) -> None:
    loopback_api.answer(
        "POST",
        "/api/v2/query/scalar",
        _v2_answer(
            {"name": "pod", "type": "group", "values": [["checkout-a"], ["checkout-b"]]},
            {"name": "query", "type": "number", "values": [0.01, 0.04]},
        ),
    )
    spec = {"apiVersion": "v2", "query": "avg:errors{service:checkout} by {pod}"}
    reading = _provider(loopback_api).measure(metric({"datadog": spec}), context())
    assert reading == Reading([0.01, 0.04])
    assert loopback_api.received[-1].json()["data"]["attributes"]["queries"][0]["aggregator"] == "last"


def test_datadog_against_loopback_server_answering_as_api_reference_documents_forbidden_is_a_masked_error(
    loopback_api: LoopbackAPI,
) -> None:
    loopback_api.answer("GET", "/api/v1/query", {"errors": [f"Forbidden: key {API_KEY} revoked"]}, status=403)
    with pytest.raises(MeasurementError) as raised:
        _provider(loopback_api).measure(metric({"datadog": {"query": "avg:x{*}"}}), context())
    assert str(raised.value).startswith(f"Datadog at {loopback_api.address}: HTTP 403:")
    assert "Forbidden" in str(raised.value)
    assert API_KEY not in str(raised.value) and "7c1e" not in str(raised.value)


def test_datadog_without_its_secret_names_the_secret_and_the_keys_to_create() -> None:
    with pytest.raises(
        MeasurementError, match="key 'api-key' of Secret 'datadog' in namespace 'shop'"
    ) as raised:
        DatadogMetricProvider(secrets({})).measure(metric({"datadog": {"query": "avg:x{*}"}}), context())
    assert "--from-literal=api-key=... --from-literal=app-key=..." in str(raised.value)
