"""The `newRelic` provider (Argo's): one NRQL query through NerdGraph, New Relic's GraphQL API.

New Relic ships no Python client for NerdGraph, so the query goes through `gql`, a maintained
GraphQL client, as `actor.account(id).nrql(query, timeout).results`. What the results become, as
in Argo: one row is that row (`result.errorRate`), several rows a list (`result[0].errorRate`);
no rows is Inconclusive (Argo: Failed; canary keeps "no data" apart from "bad data").

Credentials come from the Secret `profile` (default `newrelic`) in the run's namespace:
`personal-api-key` and `account-id`, and optionally `region` (`us` or `eu`) and
`base-url-nerdgraph` (another endpoint, e.g. a proxy).
"""

from __future__ import annotations

from typing import Any

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
from canary.api.analysis import Metric, NewRelicProvider, NewRelicSource

DEFAULT_PROFILE = "newrelic"
NERDGRAPH = {"us": "https://api.newrelic.com/graphql", "eu": "https://api.eu.newrelic.com/graphql"}
DEFAULT_TIMEOUT = 5
"""NerdGraph's own default for an NRQL query, in seconds (Argo's too)."""
TIME_COLUMNS = frozenset({"timestamp", "beginTimeSeconds", "endTimeSeconds"})
HTTP_MARGIN = 10
"""Seconds the HTTP request waits beyond the NRQL timeout, for NerdGraph to answer that it ran out."""

NRQL_QUERY = """
query ($accountId: Int!, $nrql: Nrql!, $timeout: Seconds) {
  actor { account(id: $accountId) { nrql(query: $nrql, timeout: $timeout) { results } } }
}
"""


class NewRelicMetricProvider(ReadsSecrets):
    """Measures `metric.provider.newRelic`, reading its keys through `read_secret`."""

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        config = spec_of(metric, NewRelicProvider)
        rows = nrql(config, read_keys(self._read_secret, config, context.namespace), config.query)
        if not rows:
            return no_data("New Relic", config.query)
        return Reading(rows[0] if len(rows) == 1 else rows)


def arm_samples(
    source: NewRelicSource, query: str, context: MeasureContext, read_secret: SecretReader
) -> list[tuple[float, float]]:
    """A judge arm's samples: one number per row, e.g. `SELECT duration FROM Transaction WHERE ...
    SINCE 1 minute ago LIMIT MAX` (samples) or `SELECT count(*) ... TIMESERIES` (counts, summed)."""
    rows = nrql(source, read_keys(read_secret, source, context.namespace), query)
    return [(float(row.get("timestamp", index)), _number(row)) for index, row in enumerate(rows)]


def _number(row: dict[str, Any]) -> float:
    """The one numeric column of a row besides NRQL's time columns."""
    numbers = [
        value for key, value in row.items() if key not in TIME_COLUMNS and isinstance(value, int | float)
    ]
    if len(numbers) != 1:
        raise MeasurementError(
            f"a judge's NRQL query must select one number per row, got {sorted(row)}; select one value, "
            "e.g. SELECT duration FROM Transaction ... or SELECT count(*) FROM Transaction ... TIMESERIES"
        )
    return float(numbers[0])


def read_keys(read_secret: SecretReader, source: NewRelicSource, namespace: str) -> Credentials:
    return read_credentials(
        read_secret,
        namespace,
        source.profile or DEFAULT_PROFILE,
        required=("personal-api-key", "account-id"),
        optional=("region", "base-url-nerdgraph"),
        provider="newRelic",
    )


def endpoint(credentials: Credentials) -> str:
    """NerdGraph's URL: `base-url-nerdgraph`, else the region's (MeasurementError for an unknown one)."""
    explicit = credentials.get("base-url-nerdgraph")
    if explicit:
        return explicit
    region = (credentials.get("region") or "us").lower()
    if region not in NERDGRAPH:
        raise MeasurementError(f"newRelic: Secret key region is '{region}'; write us or eu")
    return NERDGRAPH[region]


def nrql(config: NewRelicSource, credentials: Credentials, query: str) -> list[dict[str, Any]]:
    """The rows NRQL `query` returns."""
    from gql import Client, GraphQLRequest
    from gql.transport.requests import RequestsHTTPTransport

    url = endpoint(credentials)
    account = credentials["account-id"]
    if not account.strip().isdigit():
        raise MeasurementError("newRelic: Secret key account-id must be the account's number")
    timeout = config.timeout or DEFAULT_TIMEOUT
    transport = RequestsHTTPTransport(
        url=url, headers={"API-Key": credentials["personal-api-key"]}, timeout=timeout + HTTP_MARGIN
    )
    request = GraphQLRequest(
        NRQL_QUERY, variable_values={"accountId": int(account), "nrql": query, "timeout": timeout}
    )
    with calling("New Relic NerdGraph", url, credentials.secrets), Client(transport=transport) as session:
        answer = session.execute(request)
        rows = answer["actor"]["account"]["nrql"]["results"]
        if not isinstance(rows, list):
            raise MeasurementError(
                f"New Relic NerdGraph at {url} sent a malformed answer: results is not a list"
            )
        return rows
