"""The providers canary ships, keyed by provider kind (the field set under a metric's `provider`)."""

from __future__ import annotations

from canary.analysis.providers.base import Provider, ProviderRegistry
from canary.analysis.providers.job import JobMetricProvider, JobPort
from canary.analysis.providers.judge import JudgeMetricProvider
from canary.analysis.providers.prometheus import PrometheusMetricProvider
from canary.analysis.providers.web import WebMetricProvider


def default_registry(*, job_port: JobPort | None = None) -> ProviderRegistry:
    """Prometheus, web and judge; `job` too when given a port to create Jobs through.

    A kind left out makes its metrics Error measurements that say which provider is missing.
    """
    providers: dict[str, Provider] = {
        "prometheus": PrometheusMetricProvider(),
        "web": WebMetricProvider(),
        "judge": JudgeMetricProvider(),
    }
    if job_port is not None:
        providers["job"] = JobMetricProvider(job_port)
    return providers
