"""A judge's arm queries run on a vendor's metrics store (`judge.source`) instead of Prometheus.

Each vendor module reads an arm's samples over its window as (timestamp, value) pairs; here they take
the shape of the Prometheus result the judge already reads (canary.analysis.providers.judge), so the
judge's rules apply unchanged: the sample judges get every sample, oldest first (a range vector); the
count judges get the sum of the samples (a scalar), so an arm's query returns its counts per bucket
(e.g. Datadog `sum:errors{...}.as_count()`, NRQL `SELECT count(*) ... TIMESERIES`, CloudWatch `SUM`,
Graphite `summarize(..., "sum")`, InfluxQL `count(...) GROUP BY time(...)`) and the judge adds them up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from canary.analysis.args import SecretReader
from canary.analysis.providers import cloudwatch, datadog, graphite, influxdb, newrelic
from canary.analysis.providers.base import MeasureContext
from canary.api.analysis import COUNT_JUDGES, JudgeSource


class ArmSamples(Protocol):
    def __call__(
        self, source: Any, query: str, context: MeasureContext, read_secret: SecretReader
    ) -> list[tuple[float, float]]: ...


ARM_SAMPLES: Mapping[str, ArmSamples] = {
    "datadog": datadog.arm_samples,
    "newRelic": newrelic.arm_samples,
    "cloudWatch": cloudwatch.arm_samples,
    "influxdb": influxdb.arm_samples,
    "graphite": graphite.arm_samples,
}


def no_secrets(namespace: str, name: str, key: str) -> str:
    """The reader of a controller given none: every Secret is missing."""
    raise KeyError(f"{namespace}/{name}")


def arm_result(
    judge_kind: str, source: JudgeSource, query: str, context: MeasureContext, read_secret: SecretReader
) -> list[Any]:
    """One arm's data from `source`, shaped as the Prometheus result the judge of `judge_kind` reads."""
    points = ARM_SAMPLES[source.kind](source.chosen, query, context, read_secret)
    if not points:
        return []
    if judge_kind in COUNT_JUDGES:
        return [context.now.timestamp(), repr(sum(value for _, value in points))]
    return [{"values": [[at, repr(value)] for at, value in points]}]
