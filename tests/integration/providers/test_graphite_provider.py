"""The graphite provider against a real Graphite render API (Debian's graphite-web) on loopback."""

from __future__ import annotations

import time

import pytest
from vendor_servers import GraphiteServer
from vendor_specs import context, metric

from canary.analysis.providers.base import MeasurementError, Reading, Verdict
from canary.analysis.providers.graphite import GraphiteMetricProvider
from canary.api.analysis import AnalysisPhase

pytestmark = pytest.mark.graphite


def _graphite(server: GraphiteServer, query: str) -> dict[str, object]:
    return {"graphite": {"address": server.address, "query": query}}


def test_graphite_result_is_the_first_targets_values_oldest_first_without_nulls(
    graphite_server: GraphiteServer,
) -> None:
    now = int(time.time()) // 10 * 10
    graphite_server.series("shop.checkout.error_rate", [(now - 40, 0.01), (now - 30, 0.02), (now - 10, 0.04)])
    reading = GraphiteMetricProvider().measure(
        metric(_graphite(graphite_server, "target=shop.checkout.error_rate&from=-5min")), context()
    )
    assert reading == Reading([0.01, 0.02, 0.04])


def test_graphite_query_folded_over_lines_is_sent_without_its_whitespace(
    graphite_server: GraphiteServer,
) -> None:
    now = int(time.time()) // 10 * 10
    graphite_server.series("shop.cart.error_rate", [(now - 20, 0.5)])
    query = "target=sumSeries(\n  shop.cart.error_rate\n)\n&from=-5min"
    reading = GraphiteMetricProvider().measure(metric(_graphite(graphite_server, query)), context())
    assert reading == Reading([0.5])


def test_graphite_target_matching_no_series_is_inconclusive(graphite_server: GraphiteServer) -> None:
    outcome = GraphiteMetricProvider().measure(
        metric(_graphite(graphite_server, "target=shop.nothing.here&from=-5min")), context()
    )
    assert isinstance(outcome, Verdict)
    assert outcome.phase == AnalysisPhase.INCONCLUSIVE
    assert "no data" in outcome.message


def test_graphite_rejecting_the_query_is_an_error_quoting_graphite(graphite_server: GraphiteServer) -> None:
    with pytest.raises(MeasurementError, match=f"Graphite at {graphite_server.address}"):
        GraphiteMetricProvider().measure(
            metric(_graphite(graphite_server, "target=noSuchFunction(shop.cart.error_rate)")), context()
        )


def test_graphite_unreachable_is_an_error_naming_the_address() -> None:
    from prometheus_server import free_port

    address = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MeasurementError, match=f"Graphite at {address}"):
        GraphiteMetricProvider().measure(
            metric({"graphite": {"address": address, "query": "target=a"}}), context()
        )
