"""The newRelic provider through the gql GraphQL client against a loopback server answering
`POST /graphql` as New Relic's NerdGraph API reference documents (`actor.account.nrql.results`).
New Relic's servers cannot run here."""

from __future__ import annotations

import pytest
from vendor_servers import LoopbackAPI
from vendor_specs import context, metric, secrets

from canary.analysis.providers.base import MeasurementError, Reading, Verdict
from canary.analysis.providers.newrelic import NewRelicMetricProvider
from canary.api.analysis import AnalysisPhase

API_KEY = "NRAK-4F2C9E7A1B3D5F6E8A0C"
QUERY = "SELECT percentage(count(*), WHERE error IS true) AS errorRate FROM Transaction SINCE 5 minutes ago"


def _provider(api: LoopbackAPI, profile: str = "newrelic") -> NewRelicMetricProvider:
    keys = {
        "personal-api-key": API_KEY,
        "account-id": "1234567",
        "base-url-nerdgraph": f"{api.address}/graphql",
    }
    return NewRelicMetricProvider(secrets({profile: keys}))


def _results(rows: list[dict[str, object]]) -> dict[str, object]:
    return {"data": {"actor": {"account": {"nrql": {"results": rows}}}}}


def test_newrelic_against_loopback_server_answering_as_api_reference_documents_one_row_is_that_row(
    loopback_api: LoopbackAPI,
) -> None:
    loopback_api.answer("POST", "/graphql", _results([{"errorRate": 0.8}]))
    reading = _provider(loopback_api).measure(metric({"newRelic": {"query": QUERY}}), context())
    assert reading == Reading({"errorRate": 0.8})
    sent = loopback_api.received[-1]
    assert sent.headers["API-Key"] == API_KEY
    assert sent.json()["variables"] == {"accountId": 1234567, "nrql": QUERY, "timeout": 5}
    assert "nrql(query: $nrql, timeout: $timeout)" in sent.json()["query"]


def test_newrelic_against_loopback_server_answering_as_api_reference_documents_rows_are_a_list(
    loopback_api: LoopbackAPI,
) -> None:
    rows = [{"facet": "checkout-a", "errorRate": 0.5}, {"facet": "checkout-b", "errorRate": 1.5}]
    loopback_api.answer("POST", "/graphql", _results(rows))
    spec = {"newRelic": {"query": QUERY + " FACET host", "profile": "newrelic-eu", "timeout": 30}}
    reading = _provider(loopback_api, "newrelic-eu").measure(metric(spec), context())
    assert reading == Reading(rows)
    assert loopback_api.received[-1].json()["variables"]["timeout"] == 30


def test_newrelic_against_loopback_server_answering_as_api_reference_documents_no_rows_is_inconclusive(
    loopback_api: LoopbackAPI,
) -> None:
    loopback_api.answer("POST", "/graphql", _results([]))
    outcome = _provider(loopback_api).measure(metric({"newRelic": {"query": QUERY}}), context())
    assert isinstance(outcome, Verdict)
    assert outcome.phase == AnalysisPhase.INCONCLUSIVE


def test_newrelic_against_loopback_server_answering_as_api_reference_documents_nrql_error_is_quoted(
    loopback_api: LoopbackAPI,
) -> None:
    loopback_api.answer(
        "POST",
        "/graphql",
        {
            "data": {"actor": {"account": {"nrql": None}}},
            "errors": [
                {
                    "message": "NRQL Syntax Error: Error at line 1 position 8, unexpected 'FORM'",
                    "path": ["actor", "account", "nrql"],
                    "extensions": {"errorClass": "INVALID_INPUT"},
                }
            ],
        },
    )
    with pytest.raises(MeasurementError, match=r"New Relic NerdGraph at .*NRQL Syntax Error"):
        _provider(loopback_api).measure(
            metric({"newRelic": {"query": "SELECT count(*) FORM Transaction"}}), context()
        )


def test_newrelic_against_loopback_server_answering_as_api_reference_documents_unauthorized_is_masked(
    loopback_api: LoopbackAPI,
) -> None:
    loopback_api.answer(
        "POST", "/graphql", {"errors": [{"message": f"Invalid API key {API_KEY}"}]}, status=401
    )
    with pytest.raises(MeasurementError) as raised:
        _provider(loopback_api).measure(metric({"newRelic": {"query": QUERY}}), context())
    assert "New Relic NerdGraph at" in str(raised.value)
    assert API_KEY not in str(raised.value) and "4F2C9E7A" not in str(raised.value)


def test_newrelic_region_eu_selects_the_eu_endpoint_and_an_unknown_one_is_refused() -> None:
    from canary.analysis.providers.newrelic import endpoint
    from canary.analysis.providers.vendor import Credentials

    assert endpoint(Credentials({"region": "eu"})) == "https://api.eu.newrelic.com/graphql"
    with pytest.raises(MeasurementError, match="region is 'apac'; write us or eu"):
        endpoint(Credentials({"region": "apac"}))
