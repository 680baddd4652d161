"""NGINX Ingress: a canary Ingress cloned from the stable one, pointing at the canary Service and
carrying the `canary` / `canary-weight` annotations the NGINX controller reads.

The stable Ingress belongs to the user and is only read; the canary Ingress is created, owned by
the Rollout, and follows the stable one's rules on every weight change.
"""

from __future__ import annotations

from typing import Any

from canary.api.rollout import NginxTrafficRouting, Rollout
from canary.traffic.base import (
    Obj,
    RouterError,
    Target,
    WeightChange,
    namespace_of,
    services,
    split,
)

API_VERSION = "networking.k8s.io/v1"


def _config(rollout: Rollout) -> NginxTrafficRouting:
    routing = rollout.spec.strategy.traffic_routing
    assert routing is not None and routing.nginx is not None, "NGINX plan used for a Rollout without nginx"
    return routing.nginx


def canary_ingress_name(rollout: Rollout) -> str:
    return f"{rollout.metadata.name}-{_config(rollout).stable_ingress}-canary"[:253]


class CanaryIngressPlan:
    def target(self, rollout: Rollout) -> Target:
        return Target(
            API_VERSION, "Ingress", "ingresses", namespace_of(rollout), canary_ingress_name(rollout)
        )

    def sources(self, rollout: Rollout) -> tuple[Target, ...]:
        stable = _config(rollout).stable_ingress
        return (Target(API_VERSION, "Ingress", "ingresses", namespace_of(rollout), stable),)

    def desired(
        self, rollout: Rollout, current: Obj | None, change: WeightChange, sources: tuple[Obj | None, ...]
    ) -> Obj:
        """The canary Ingress: the stable Ingress's rules sent to the canary Service, weighted."""
        (stable_ingress,) = sources
        if stable_ingress is None:
            raise RouterError(
                f"{self.sources(rollout)[0].describe()} (trafficRouting.nginx.stableIngress) does not exist"
            )
        canary_service, stable_service = services(rollout)
        prefix = _config(rollout).annotation_prefix
        canary_weight, stable_weight = split(rollout, change.weight)
        inherited = {
            k: v
            for k, v in (stable_ingress["metadata"].get("annotations") or {}).items()
            if not k.startswith(f"{prefix}/canary")
            and k != "kubectl.kubernetes.io/last-applied-configuration"
        }
        annotations = {
            **inherited,
            f"{prefix}/canary": "true",
            f"{prefix}/canary-weight": str(canary_weight),
        }
        if canary_weight + stable_weight != 100:
            annotations[f"{prefix}/canary-weight-total"] = str(canary_weight + stable_weight)
        where = self.target(rollout)
        base = current or {"apiVersion": API_VERSION, "kind": "Ingress"}
        metadata = {
            **(base.get("metadata") or {}),
            "name": where.name,
            "namespace": where.namespace,
            "annotations": annotations,
            "ownerReferences": [rollout.owner_reference()],
        }
        spec = _retargeted(stable_ingress.get("spec") or {}, stable_service, canary_service)
        return {**base, "metadata": metadata, "spec": spec}

    def weight_in(self, rollout: Rollout, current: Obj) -> int | None:
        annotations = current.get("metadata", {}).get("annotations") or {}
        value = annotations.get(f"{_config(rollout).annotation_prefix}/canary-weight")
        return int(value) if value is not None and value.isdigit() else None


def _retargeted(spec: dict[str, Any], stable_service: str, canary_service: str) -> dict[str, Any]:
    """The stable Ingress spec with every backend of `stable_service` sent to `canary_service`."""
    if not _mentions_service(spec, stable_service):
        raise RouterError(f"the stable Ingress has no backend for the stable Service '{stable_service}'")
    retargeted: dict[str, Any] = _replace_service(spec, stable_service, canary_service)
    return retargeted


def _replace_service(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        if "service" in node and isinstance(node["service"], dict) and node["service"].get("name") == old:
            return {**node, "service": {**node["service"], "name": new}}
        return {k: _replace_service(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_service(item, old, new) for item in node]
    return node


def _mentions_service(node: Any, name: str) -> bool:
    if isinstance(node, dict):
        service = node.get("service")
        if isinstance(service, dict) and service.get("name") == name:
            return True
        return any(_mentions_service(v, name) for v in node.values())
    if isinstance(node, list):
        return any(_mentions_service(item, name) for item in node)
    return False
