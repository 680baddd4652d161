"""The providers canary ships, keyed by provider kind (the field set under a metric's `provider`)."""

from __future__ import annotations

from collections.abc import Callable

from canary.analysis.args import SecretReader
from canary.analysis.providers.base import MeasureContext, Provider, ProviderRegistry, ProviderResult
from canary.analysis.providers.cloudwatch import CloudWatchMetricProvider
from canary.analysis.providers.datadog import DatadogMetricProvider
from canary.analysis.providers.graphite import GraphiteMetricProvider
from canary.analysis.providers.influxdb import InfluxDBMetricProvider
from canary.analysis.providers.job import JobMetricProvider, JobPort
from canary.analysis.providers.newrelic import NewRelicMetricProvider
from canary.analysis.providers.prometheus import PrometheusMetricProvider
from canary.analysis.providers.web import WebMetricProvider
from canary.api.analysis import Metric


class BuiltOnFirstUse:
    """A provider made on its first measurement, for one whose imports are heavy: the judge provider
    loads numpy and scipy (about 70 MiB resident), which a controller whose Rollouts never ask a
    judge should not carry."""

    def __init__(self, build: Callable[[], Provider]) -> None:
        self._build = build
        self._provider: Provider | None = None

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        if self._provider is None:  # two threads may both build it: providers are stateless
            self._provider = self._build()
        return self._provider.measure(metric, context)


def _judge_provider(read_secret: SecretReader | None) -> Provider:
    # deferred: numpy and scipy load only once a judge is asked (see BuiltOnFirstUse)
    from canary.analysis.providers.judge import JudgeMetricProvider

    return JudgeMetricProvider() if read_secret is None else JudgeMetricProvider(read_secret=read_secret)


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
        "judge": BuiltOnFirstUse(lambda: _judge_provider(read_secret)),
        "cloudWatch": CloudWatchMetricProvider(),
        "graphite": GraphiteMetricProvider(),
    }
    if job_port is not None:
        providers["job"] = JobMetricProvider(job_port)
    if read_secret is not None:
        providers["datadog"] = DatadogMetricProvider(read_secret)
        providers["newRelic"] = NewRelicMetricProvider(read_secret)
        providers["influxdb"] = InfluxDBMetricProvider(read_secret)
    return providers
