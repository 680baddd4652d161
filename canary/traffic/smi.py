"""SMI TrafficSplit: one split per Rollout with the canary and stable Services as weighted backends.

The split is created (owned by the Rollout) when missing; its root service defaults to the stable
Service, which is what clients address.
"""

from __future__ import annotations

from canary.api.rollout import Rollout, SMITrafficRouting
from canary.traffic.base import (
    Obj,
    Target,
    WeightChange,
    namespace_of,
    services,
    split,
)

API_VERSION = "split.smi-spec.io/v1alpha2"


def _config(rollout: Rollout) -> SMITrafficRouting:
    routing = rollout.spec.strategy.traffic_routing
    assert routing is not None and routing.smi is not None, "SMI plan used for a Rollout without smi"
    return routing.smi


class TrafficSplitPlan:
    def target(self, rollout: Rollout) -> Target:
        name = _config(rollout).traffic_split_name or rollout.metadata.name
        return Target(API_VERSION, "TrafficSplit", "trafficsplits", namespace_of(rollout), name)

    def sources(self, rollout: Rollout) -> tuple[Target, ...]:
        return ()

    def desired(
        self, rollout: Rollout, current: Obj | None, change: WeightChange, sources: tuple[Obj | None, ...]
    ) -> Obj:
        """The TrafficSplit sending `change.weight` to the canary Service (other fields kept)."""
        canary_service, stable_service = services(rollout)
        canary_weight, stable_weight = split(rollout, change.weight)
        where = self.target(rollout)
        base = current or {
            "apiVersion": API_VERSION,
            "kind": "TrafficSplit",
            "metadata": {
                "name": where.name,
                "namespace": where.namespace,
                "ownerReferences": [rollout.owner_reference()],
            },
        }
        spec = {
            **(base.get("spec") or {}),
            "service": _config(rollout).root_service or stable_service,
            "backends": [
                {"service": canary_service, "weight": canary_weight},
                {"service": stable_service, "weight": stable_weight},
            ],
        }
        return {**base, "spec": spec}

    def weight_in(self, rollout: Rollout, current: Obj) -> int | None:
        canary_service, _ = services(rollout)
        backends = (current.get("spec") or {}).get("backends") or []
        return next((int(b["weight"]) for b in backends if b.get("service") == canary_service), None)
