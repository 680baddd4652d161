"""Ready-made Rollouts and analysis templates for simulations, tests and benchmarks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from canary.api.analysis import AnalysisTemplate
from canary.api.rollout import Rollout


def rollout(
    name: str = "web",
    *,
    namespace: str = "default",
    image: str = "web:1",
    replicas: int = 4,
    steps: Sequence[dict[str, Any]] = ({"setWeight": 50}, {"pause": {}}),
    routed: bool = False,
    canary: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
) -> Rollout:
    """A canary Rollout of one container; `routed` adds SMI traffic routing with its two Services
    (`<name>-stable`, `<name>-canary`); `canary` and `spec` override strategy and spec fields."""
    strategy: dict[str, Any] = {"steps": list(steps)}
    if routed:
        strategy |= {
            "canaryService": f"{name}-canary",
            "stableService": f"{name}-stable",
            "trafficRouting": {"smi": {}},
        }
    strategy |= canary or {}
    body: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": name, "image": image}]},
        },
        "strategy": {"canary": strategy},
    }
    body |= spec or {}
    return Rollout.model_validate(
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": name, "namespace": namespace},
            "spec": body,
        }
    )


def error_rate_template(
    name: str = "error-rate", *, namespace: str = "default", count: int = 3
) -> AnalysisTemplate:
    """A template the simulated Prometheus answers: the canary's 5xx ratio must stay under 5%."""
    query = (
        'sum(rate(http_requests_total{rollouts_pod_template_hash="{{args.canary-hash}}",code=~"5.."}[30s]))'
        ' / sum(rate(http_requests_total{rollouts_pod_template_hash="{{args.canary-hash}}"}[30s]))'
    )
    return AnalysisTemplate.model_validate(
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "args": [{"name": "canary-hash"}],
                "metrics": [
                    {
                        "name": "error-rate",
                        "interval": "10s",
                        "count": count,
                        "successCondition": "result < 0.05",
                        "provider": {"prometheus": {"address": "http://prometheus:9090", "query": query}},
                    }
                ],
            },
        }
    )
