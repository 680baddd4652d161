"""The judge provider with `source`: both arms' queries run on a real Graphite or InfluxDB 1.x on
loopback instead of Prometheus, and the judge reads what they return."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest
from vendor_servers import GraphiteServer, InfluxDBServer
from vendor_specs import context, metric, secrets

from canary.analysis import judges
from canary.analysis.providers.base import Verdict
from canary.analysis.providers.judge import JudgeMetricProvider
from canary.api.analysis import AnalysisPhase


def _on_graphite(server: GraphiteServer, stable: str, canary: str) -> dict[str, object]:
    source = {"graphite": {"address": server.address}}
    return {
        "judge": {"kind": "mann-whitney", "source": source, "queries": {"stable": stable, "canary": canary}}
    }


@pytest.mark.graphite
def test_judge_on_graphite_fails_a_canary_whose_latency_samples_are_higher(
    graphite_server: GraphiteServer,
) -> None:
    now = int(time.time()) // 10 * 10
    graphite_server.series(
        "judge.stable.latency", [(now - 10 * i, 0.100 + 0.001 * (i % 7)) for i in range(1, 25)]
    )
    graphite_server.series(
        "judge.canary.latency", [(now - 10 * i, 0.300 + 0.001 * (i % 7)) for i in range(1, 25)]
    )
    spec = _on_graphite(
        graphite_server, "target=judge.stable.latency&from=-5min", "target=judge.canary.latency&from=-5min"
    )
    verdict = JudgeMetricProvider().measure(metric(spec), context())
    assert isinstance(verdict, Verdict)
    assert verdict.phase == AnalysisPhase.FAILED, verdict.message


@pytest.mark.graphite
def test_judge_on_graphite_with_an_arm_that_has_no_data_is_inconclusive(
    graphite_server: GraphiteServer,
) -> None:
    now = int(time.time()) // 10 * 10
    graphite_server.series("judge.stable.errors", [(now - 10, 1.0)])
    spec = {
        "judge": {
            "kind": "mann-whitney",
            "source": {"graphite": {"address": graphite_server.address}},
            "queries": {
                "stable": "target=judge.stable.errors&from=-5min",
                "canary": "target=judge.none&from=-5min",
            },
        }
    }
    verdict = JudgeMetricProvider().measure(metric(spec), context())
    assert isinstance(verdict, Verdict)
    assert (verdict.phase, "queries.canary" in verdict.message) == (AnalysisPhase.INCONCLUSIVE, True)


class RecordingJudge:
    """Stands in for the judge only to show what the InfluxDB arms delivered to it."""

    def __init__(self) -> None:
        self.observed: judges.ArmObservation | None = None

    def __call__(
        self,
        kind: str,
        config: Mapping[str, Any],
        observation: judges.ArmObservation,
        state: Mapping[str, Any] | None = None,
    ) -> judges.JudgeResult:
        self.observed = observation
        return judges.JudgeResult("inconclusive")


@pytest.mark.influxdb
def test_count_judge_on_influxdb_sums_each_arms_counts_per_bucket(influxdb_server: InfluxDBServer) -> None:
    influxdb_server.query("CREATE DATABASE judged")
    start = 1796644800
    lines = [f"requests,track=stable value=1 {start + i}" for i in range(40)]
    lines += [f"requests,track=canary value=1 {start + i}" for i in range(30)]
    lines += [f"errors,track=stable value=1 {start + i}" for i in range(0, 40, 20)]
    lines += [f"errors,track=canary value=1 {start + i}" for i in range(0, 30, 5)]
    influxdb_server.write("judged", lines)

    def counted(measurement: str, track: str) -> str:
        return f"SELECT count(value) FROM {measurement} WHERE track = '{track}' GROUP BY time(10s) fill(none)"

    spec = {
        "judge": {
            "kind": "sequential-counts",
            "source": {"influxdb": {"language": "influxql", "database": "judged", "profile": "metrics"}},
            "queries": {"stable": counted("errors", "stable"), "canary": counted("errors", "canary")},
            "totals": {"stable": counted("requests", "stable"), "canary": counted("requests", "canary")},
        }
    }
    judge = RecordingJudge()
    provider = JudgeMetricProvider(
        judge=judge, read_secret=secrets({"metrics": {"address": influxdb_server.address}})
    )
    provider.measure(metric(spec), context())
    assert judge.observed == judges.ArmObservation(
        stable_events=2, stable_total=40, canary_events=6, canary_total=30
    )
