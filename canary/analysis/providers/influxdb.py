"""The `influxdb` provider (Argo's): one Flux query through InfluxData's client (influxdb-client), or,
with canary's `language: influxql`, one InfluxQL query to InfluxDB 1.x through its client (influxdb).

The result is a list of every value the query returned, as in Argo: Flux's `_value` of each record
of each table; InfluxQL's non-time columns of each point, in column order. Conditions read
`result[0]`, `len(result)`, ... No value is Inconclusive (Argo: Error).

Credentials come from the Secret `profile` (default `influxdb`) in the run's namespace: Flux needs
`address`, `authToken` and `org` (Argo's keys); InfluxQL needs `address`, and `username` and
`password` where the server has authentication on.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from canary.analysis.args import SecretReader
from canary.analysis.providers.base import MeasureContext, MeasurementError, ProviderResult, Reading
from canary.analysis.providers.vendor import (
    Credentials,
    ReadsSecrets,
    calling,
    no_data,
    read_credentials,
    spec_of,
)
from canary.api.analysis import InfluxDBProvider, InfluxDBSource, Metric

DEFAULT_PROFILE = "influxdb"
TIMEOUT = 30
"""Seconds a query may take (Argo's default; its spec has no timeout field)."""
KEYS = {"flux": ("address", "authToken", "org"), "influxql": ("address",)}
OPTIONAL_KEYS = {"flux": (), "influxql": ("username", "password")}


class InfluxDBMetricProvider(ReadsSecrets):
    """Measures `metric.provider.influxdb`, reading its Secret through `read_secret`."""

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        config = spec_of(metric, InfluxDBProvider)
        values = query_values(config, read_keys(self._read_secret, config, context.namespace), config.query)
        return Reading(values) if values else no_data("InfluxDB", config.query)


def arm_samples(
    source: InfluxDBSource, query: str, context: MeasureContext, read_secret: SecretReader
) -> list[tuple[float, float]]:
    """A judge arm's samples: every value the query returns, in the server's order (for a count
    judge, counts the judge sums, e.g. `SELECT count(value) ... GROUP BY time(10s)`)."""
    values = query_values(source, read_keys(read_secret, source, context.namespace), query)
    try:
        return [(float(index), float(value)) for index, value in enumerate(values)]
    except (TypeError, ValueError):
        raise MeasurementError(f"a judge's InfluxDB query must return numbers: {query}") from None


def read_keys(read_secret: SecretReader, source: InfluxDBSource, namespace: str) -> Credentials:
    return read_credentials(
        read_secret,
        namespace,
        source.profile or DEFAULT_PROFILE,
        required=KEYS[source.language],
        optional=OPTIONAL_KEYS[source.language],
        provider="influxdb",
    )


def query_values(config: InfluxDBSource, credentials: Credentials, query: str) -> list[Any]:
    """Every value `query` returned, in the order the server sent them."""
    with calling("InfluxDB", credentials["address"], credentials.secrets):
        if config.language == "flux":
            return _flux(credentials, query)
        assert config.database is not None
        return _influxql(credentials, config.database, query)


def _flux(credentials: Credentials, query: str) -> list[Any]:
    from influxdb_client.client.influxdb_client import InfluxDBClient  # heavy import: only when measuring

    with InfluxDBClient(
        url=credentials["address"],
        token=credentials["authToken"],
        org=credentials["org"],
        timeout=TIMEOUT * 1000,
    ) as client:
        tables = client.query_api().query(query)
        return [record.get_value() for table in tables for record in table.records]


def _influxql(credentials: Credentials, database: str, query: str) -> list[Any]:
    from influxdb import InfluxDBClient

    address = urlsplit(credentials["address"])
    if address.scheme not in ("http", "https") or not address.hostname:
        raise MeasurementError("influxdb: Secret key address must be a URL such as http://influxdb:8086")
    login = {key: value for key in ("username", "password") if (value := credentials.get(key))}
    client = InfluxDBClient(
        host=address.hostname,
        port=address.port or 8086,
        database=database,
        ssl=address.scheme == "https",
        verify_ssl=True,
        timeout=TIMEOUT,
        retries=1,
        path=address.path.strip("/"),
        **login,
    )
    try:
        result = client.query(query)
        return [value for point in result.get_points() for key, value in point.items() if key != "time"]
    finally:
        client.close()
