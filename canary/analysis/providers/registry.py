"""The providers canary ships, keyed by provider kind (the field set under a metric's `provider`)."""

from __future__ import annotations

from canary.analysis.args import SecretReader
from canary.analysis.providers.base import Provider, ProviderRegistry
from canary.analysis.providers.cloudwatch import CloudWatchMetricProvider
from canary.analysis.providers.datadog import DatadogMetricProvider
from canary.analysis.providers.graphite import GraphiteMetricProvider
from canary.analysis.providers.influxdb import InfluxDBMetricProvider
from canary.analysis.providers.job import JobMetricProvider, JobPort
from canary.analysis.providers.judge import JudgeMetricProvider
from canary.analysis.providers.newrelic import NewRelicMetricProvider
from canary.analysis.providers.prometheus import PrometheusMetricProvider
from canary.analysis.providers.web import WebMetricProvider


def default_registry(
    *, job_port: JobPort | None = None, read_secret: SecretReader | None = None
) -> ProviderRegistry:
    """Prometheus, web, judge, cloudWatch and graphite; `job` too when given a port to create Jobs
    through; datadog, newRelic and influxdb (and a judge whose `source` is one of them) when given a
    reader for the Secrets holding their keys.

    A kind left out makes its metrics Error measurements that say which provider is missing.
    """
    providers: dict[str, Provider] = {
        "prometheus": PrometheusMetricProvider(),
        "web": WebMetricProvider(),
        "judge": JudgeMetricProvider(),
        "cloudWatch": CloudWatchMetricProvider(),
        "graphite": GraphiteMetricProvider(),
    }
    if job_port is not None:
        providers["job"] = JobMetricProvider(job_port)
    if read_secret is not None:
        providers["judge"] = JudgeMetricProvider(read_secret=read_secret)
        providers["datadog"] = DatadogMetricProvider(read_secret)
        providers["newRelic"] = NewRelicMetricProvider(read_secret)
        providers["influxdb"] = InfluxDBMetricProvider(read_secret)
    return providers
