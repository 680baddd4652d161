"""What the vendor provider tests share: Secrets as a mapping, a measurement context, a metric."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from canary.analysis.args import SecretReader
from canary.analysis.providers.base import MeasureContext
from canary.api.analysis import Metric

NAMESPACE = "shop"


def secrets(stored: Mapping[str, Mapping[str, str]]) -> SecretReader:
    """A SecretReader over `{secret name: {key: value}}` in NAMESPACE (KeyError when missing)."""

    def read(namespace: str, name: str, key: str) -> str:
        if namespace != NAMESPACE or name not in stored or key not in stored[name]:
            raise KeyError(f"{namespace}/{name}[{key}]")
        return stored[name][key]

    return read


NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def context(now: datetime = NOW) -> MeasureContext:
    return MeasureContext(run_name="checkout-7d9f", namespace=NAMESPACE, now=now, index=0)


def metric(provider: Mapping[str, object], **fields: object) -> Metric:
    return Metric.model_validate({"name": "error-rate", "provider": provider, **fields})
