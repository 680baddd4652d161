"""The influxdb provider: InfluxQL against a real InfluxDB 1.x (Debian's influxd) on loopback, and
Flux (InfluxDB 2's API, which no package here runs) against a loopback server answering
`POST /api/v2/query` with annotated CSV as InfluxDB's API reference documents, through InfluxData's
own client library."""

from __future__ import annotations

import pytest
from vendor_servers import InfluxDBServer, LoopbackAPI
from vendor_specs import context, metric, secrets

from canary.analysis.providers.base import MeasurementError, Reading, Verdict
from canary.analysis.providers.influxdb import InfluxDBMetricProvider
from canary.api.analysis import AnalysisPhase

DATABASE = "shop"


@pytest.fixture(scope="module")
def influxql_data(influxdb_server: InfluxDBServer) -> InfluxDBServer:
    influxdb_server.query(f"CREATE DATABASE {DATABASE}")
    influxdb_server.write(
        DATABASE,
        [
            "latency,track=canary value=0.21 1796644800",
            "latency,track=canary value=0.25 1796644810",
            "latency,track=stable value=0.11 1796644800",
        ],
    )
    return influxdb_server


def _influxql(query: str, profile: str | None = None) -> dict[str, object]:
    spec: dict[str, object] = {"query": query, "language": "influxql", "database": DATABASE}
    return {"influxdb": spec | ({"profile": profile} if profile else {})}


@pytest.mark.influxdb
def test_influxql_result_is_every_value_the_query_returned(influxql_data: InfluxDBServer) -> None:
    provider = InfluxDBMetricProvider(secrets({"influxdb": {"address": influxql_data.address}}))
    reading = provider.measure(
        metric(_influxql("SELECT value FROM latency WHERE track = 'canary'")), context()
    )
    assert reading == Reading([0.21, 0.25])


@pytest.mark.influxdb
def test_influxql_aggregate_is_a_one_value_list(influxql_data: InfluxDBServer) -> None:
    provider = InfluxDBMetricProvider(secrets({"influxdb-eu": {"address": influxql_data.address}}))
    reading = provider.measure(
        metric(_influxql("SELECT count(value) FROM latency", profile="influxdb-eu")), context()
    )
    assert reading == Reading([3])


@pytest.mark.influxdb
def test_influxql_query_matching_nothing_is_inconclusive(influxql_data: InfluxDBServer) -> None:
    provider = InfluxDBMetricProvider(secrets({"influxdb": {"address": influxql_data.address}}))
    outcome = provider.measure(metric(_influxql("SELECT value FROM latency WHERE track = 'none'")), context())
    assert isinstance(outcome, Verdict)
    assert outcome.phase == AnalysisPhase.INCONCLUSIVE


@pytest.mark.influxdb
def test_influxql_syntax_error_is_an_error_quoting_influxdb(influxql_data: InfluxDBServer) -> None:
    provider = InfluxDBMetricProvider(secrets({"influxdb": {"address": influxql_data.address}}))
    with pytest.raises(MeasurementError, match=r"InfluxDB at .*error parsing query"):
        provider.measure(metric(_influxql("SELEKT value FROM latency")), context())


def test_influxdb_without_its_secret_says_which_secret_and_keys_to_create() -> None:
    provider = InfluxDBMetricProvider(secrets({}))
    with pytest.raises(MeasurementError) as raised:
        provider.measure(metric({"influxdb": {"query": 'from(bucket: "shop")'}}), context())
    assert "key 'address' of Secret 'influxdb' in namespace 'shop' cannot be read" in str(raised.value)
    assert "kubectl create secret generic influxdb -n shop --from-literal=address=" in str(raised.value)
    assert "--from-literal=authToken=... --from-literal=org=..." in str(raised.value)


ANNOTATED_CSV = (
    "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string\r\n"
    "#group,false,false,true,true,false,false,true,true,true\r\n"
    "#default,_result,,,,,,,,\r\n"
    ",result,table,_start,_stop,_time,_value,_field,_measurement,track\r\n"
    ",,0,2026-12-07T11:55:00Z,2026-12-07T12:00:00Z,2026-12-07T11:56:00Z,0.012,value,errors,canary\r\n"
    ",,0,2026-12-07T11:55:00Z,2026-12-07T12:00:00Z,2026-12-07T11:57:00Z,0.018,value,errors,canary\r\n"
    "\r\n"
)
FLUX_KEYS = {"address": "", "authToken": "tok-3f9a8b7c6d5e", "org": "shop-org"}


def test_flux_against_loopback_server_answering_as_api_reference_documents_is_every_records_value(
    loopback_api: LoopbackAPI,
) -> None:
    loopback_api.answer("POST", "/api/v2/query", ANNOTATED_CSV, content_type="text/csv; charset=utf-8")
    provider = InfluxDBMetricProvider(secrets({"influxdb": FLUX_KEYS | {"address": loopback_api.address}}))
    query = 'from(bucket: "shop") |> range(start: -5m) |> filter(fn: (r) => r.track == "canary")'
    reading = provider.measure(metric({"influxdb": {"query": query}}), context())
    assert reading == Reading([0.012, 0.018])
    sent = loopback_api.received[-1]
    assert sent.headers["Authorization"] == "Token tok-3f9a8b7c6d5e"
    assert sent.query["org"] == ["shop-org"]
    assert sent.json()["query"] == query


def test_flux_against_loopback_server_answering_as_api_reference_documents_an_error_is_masked(
    loopback_api: LoopbackAPI,
) -> None:
    loopback_api.answer(
        "POST",
        "/api/v2/query",
        {"code": "unauthorized", "message": "token tok-3f9a8b7c6d5e is not authorized for org shop-org"},
        status=401,
    )
    provider = InfluxDBMetricProvider(secrets({"influxdb": FLUX_KEYS | {"address": loopback_api.address}}))
    with pytest.raises(MeasurementError) as raised:
        provider.measure(metric({"influxdb": {"query": 'from(bucket: "shop")'}}), context())
    assert "InfluxDB at" in str(raised.value)
    assert "not authorized" in str(raised.value)
    assert "tok-3f9a8b7c6d5e" not in str(raised.value)
    assert "3f9a" not in str(raised.value)
