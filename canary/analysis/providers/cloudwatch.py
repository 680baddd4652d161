"""The `cloudWatch` provider (Argo's): GetMetricData over the last `interval`, through boto3.

Credentials, region and endpoint come from the AWS SDK's own chain, as in Argo: IRSA or EKS Pod
Identity in a cluster, `AWS_*` environment variables (`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_CLOUDWATCH`),
shared config files. No Secret is read.

The result is GetMetricData's `MetricDataResults`, in Argo's shape, one entry per query that returns
data: `{"Id", "Label", "StatusCode", "Values", "Timestamps"}` (values newest first, timestamps as
RFC 3339 text), e.g. `successCondition: result[0].Values.all(v, v <= 0.01)`. Results without a
single value are Inconclusive; every page (NextToken) is read.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from canary.analysis.args import SecretReader
from canary.analysis.providers.base import MeasureContext, ProviderResult, Reading
from canary.analysis.providers.vendor import calling, no_data, spec_of, window
from canary.api.analysis import CloudWatchMetricDataQuery, CloudWatchProvider, CloudWatchSource, Metric

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef, MetricStatTypeDef, MetricTypeDef

CONNECT_TIMEOUT = 10
READ_TIMEOUT = 30


class CloudWatchMetricProvider:
    """Measures `metric.provider.cloudWatch`."""

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        config = spec_of(metric, CloudWatchProvider)
        results = metric_data(config.metric_data_queries, *window(context.now, config.interval))
        if not any(result["Values"] for result in results):
            return no_data("CloudWatch", ", ".join(query.id for query in config.metric_data_queries))
        return Reading(results)


def arm_samples(
    source: CloudWatchSource, query: str, context: MeasureContext, read_secret: SecretReader | None
) -> list[tuple[float, float]]:
    """A judge arm's samples: a metric math or Metrics Insights expression every `period` seconds,
    e.g. `SELECT AVG(Latency) FROM App WHERE track = 'canary'` (for a count judge, a SUM the judge sums)."""
    arm = CloudWatchMetricDataQuery(id="arm", expression=query, period=source.period)
    results = metric_data([arm], *window(context.now, source.interval))
    return [
        (datetime.fromisoformat(at).timestamp(), value)
        for result in results
        for at, value in zip(result["Timestamps"], result["Values"], strict=True)
    ]


def metric_data(
    queries: list[CloudWatchMetricDataQuery], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """GetMetricData's MetricDataResults for `queries` between `start` and `end`, all pages merged."""
    import boto3  # heavy import, only when measuring
    from botocore.config import Config

    merged: dict[str, dict[str, Any]] = {}
    # A missing region or credentials surface when the client is made or called: both are inside.
    with calling("CloudWatch", "GetMetricData", frozenset()):
        client = boto3.client(
            "cloudwatch",
            config=Config(
                connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT, retries={"max_attempts": 1}
            ),
        )
        pages = client.get_paginator("get_metric_data").paginate(
            MetricDataQueries=[_wire(query) for query in queries], StartTime=start, EndTime=end
        )
        for page in pages:
            for result in page.get("MetricDataResults", []):
                entry = merged.setdefault(
                    result["Id"],
                    {"Id": result["Id"], "Label": result.get("Label", ""), "Values": [], "Timestamps": []},
                )
                entry["StatusCode"] = result.get("StatusCode", "")
                entry["Values"] += [float(value) for value in result.get("Values", [])]
                entry["Timestamps"] += [at.isoformat() for at in result.get("Timestamps", [])]
    return list(merged.values())


def _wire(query: CloudWatchMetricDataQuery) -> MetricDataQueryTypeDef:
    """The query as GetMetricData takes it: the spec's fields, capitalised, periods as numbers."""
    wire: MetricDataQueryTypeDef = {"Id": query.id}
    if query.expression is not None:
        wire["Expression"] = query.expression
    if query.label is not None:
        wire["Label"] = query.label
    if query.period is not None:
        wire["Period"] = int(query.period)
    if query.return_data is not None:
        wire["ReturnData"] = query.return_data
    stat = query.metric_stat
    if stat is not None:
        metric: MetricTypeDef = {
            "MetricName": stat.metric.metric_name,
            "Dimensions": [{"Name": d.name, "Value": d.value} for d in stat.metric.dimensions],
        }
        if stat.metric.namespace is not None:
            metric["Namespace"] = stat.metric.namespace
        metric_stat: MetricStatTypeDef = {"Metric": metric, "Period": int(stat.period), "Stat": stat.stat}
        if stat.unit is not None:
            metric_stat["Unit"] = stat.unit  # type: ignore[typeddict-item]  # a unit name the API checks
        wire["MetricStat"] = metric_stat
    return wire
