"""Traefik: the weights of the canary and stable Services inside a weighted `TraefikService`
(`spec.weighted.services[]`), as Argo Rollouts' `trafficRouting.traefik.weightedTraefikServiceName`.
The TraefikService belongs to the user and lives in the Rollout's namespace; only the two weights
are edited.

Traefik v3 serves its CRDs only in the group traefik.io; Argo's default group traefik.containo.us
is Traefik v2's, which v3 no longer reads (docs/argo-differences.md).
"""

from __future__ import annotations

from typing import Any

from canary.api.rollout import Rollout
from canary.traffic.base import (
    Obj,
    RouterError,
    Target,
    WeightChange,
    namespace_of,
    services,
    split,
)

API_VERSION = "traefik.io/v1alpha1"


def _name(rollout: Rollout) -> str:
    routing = rollout.spec.strategy.traffic_routing
    assert routing is not None and routing.traefik is not None, "Traefik plan used without traefik"
    return routing.traefik.weighted_traefik_service_name


class TraefikServicePlan:
    def target(self, rollout: Rollout) -> Target:
        return Target(API_VERSION, "TraefikService", "traefikservices", namespace_of(rollout), _name(rollout))

    def sources(self, rollout: Rollout) -> tuple[Target, ...]:
        return ()

    def desired(
        self, rollout: Rollout, current: Obj | None, change: WeightChange, sources: tuple[Obj | None, ...]
    ) -> Obj:
        """The TraefikService with the canary and stable weights set; its other services keep theirs."""
        where = self.target(rollout)
        if current is None:
            raise RouterError(f"{where.describe()} does not exist; create it before starting the rollout")
        weighted = _weighted(current)
        canary_service, stable_service = services(rollout)
        named = {entry.get("name") for entry in weighted}
        missing = [name for name in (canary_service, stable_service) if name not in named]
        if missing:
            raise RouterError(
                f"{where.describe()} has no spec.weighted.services entry named "
                + " or ".join(f"'{name}'" for name in missing)
                + "; add the canary and the stable Service to it"
            )
        canary_weight, stable_weight = split(rollout, change.weight)
        weights = {canary_service: canary_weight, stable_service: stable_weight}
        new_services = [
            {**entry, "weight": weights[entry["name"]]} if entry.get("name") in weights else entry
            for entry in weighted
        ]
        spec = current["spec"]
        return {**current, "spec": {**spec, "weighted": {**spec["weighted"], "services": new_services}}}

    def weight_in(self, rollout: Rollout, current: Obj) -> int | None:
        canary_service, _ = services(rollout)
        for entry in _weighted(current):
            if entry.get("name") == canary_service:
                return int(entry.get("weight", 1))
        return None


def _weighted(current: Obj) -> list[dict[str, Any]]:
    services_ = ((current.get("spec") or {}).get("weighted") or {}).get("services")
    if not isinstance(services_, list):
        name = (current.get("metadata") or {}).get("name")
        raise RouterError(
            f"TraefikService {name} has no spec.weighted.services; weightedTraefikServiceName must name "
            "a weighted TraefikService listing the canary and the stable Service"
        )
    return services_
