"""Rollouts with each traffic router, as a user would write them."""

from __future__ import annotations

from typing import Any

from canary.api.rollout import Rollout


def rollout_with(routing: dict[str, Any], *, name: str = "shop", uid: str = "uid-1") -> Rollout:
    return Rollout.model_validate(
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": name, "namespace": "prod", "uid": uid},
            "spec": {
                "replicas": 4,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "a", "image": "a:1"}]},
                },
                "strategy": {
                    "canary": {
                        "canaryService": f"{name}-canary",
                        "stableService": f"{name}-stable",
                        "trafficRouting": routing,
                        "steps": [{"setWeight": 20}],
                    }
                },
            },
        }
    )
