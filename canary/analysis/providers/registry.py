"""The providers canary ships, keyed by provider kind (the field set under a metric's `provider`)."""

from __future__ import annotations

from canary.analysis.providers.base import Provider, ProviderRegistry
from canary.analysis.providers.job import JobMetricProvider, JobPort
from canary.analysis.providers.judge import JudgeFunction, JudgeMetricProvider
from canary.analysis.providers.prometheus import PrometheusMetricProvider
from canary.analysis.providers.web import WebMetricProvider


def default_registry(
    *, job_port: JobPort | None = None, judge: JudgeFunction | None = None
) -> ProviderRegistry:
    """Prometheus and web always; `job` with a port to create Jobs through; `judge` with a judge function.

    A kind left out makes its metrics Error measurements that say which provider is missing.
    """
    providers: dict[str, Provider] = {"prometheus": PrometheusMetricProvider(), "web": WebMetricProvider()}
    if job_port is not None:
        providers["job"] = JobMetricProvider(job_port)
    if judge is not None:
        providers["judge"] = JudgeMetricProvider(judge)
    return providers
