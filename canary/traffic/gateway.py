"""Gateway API: backendRef weights of an HTTPRoute whose rules send to both the canary and the
stable Service. The HTTPRoute belongs to the user; only the two weights are edited.
"""

from __future__ import annotations

from typing import Any

from canary.api.rollout import GatewayAPITrafficRouting, Rollout
from canary.traffic.base import (
    Obj,
    RouterError,
    Target,
    WeightChange,
    namespace_of,
    services,
    split,
)

API_VERSION = "gateway.networking.k8s.io/v1"


def _config(rollout: Rollout) -> GatewayAPITrafficRouting:
    routing = rollout.spec.strategy.traffic_routing
    assert routing is not None and routing.gateway_api is not None, "Gateway plan used without gatewayAPI"
    return routing.gateway_api


class HTTPRoutePlan:
    def target(self, rollout: Rollout) -> Target:
        config = _config(rollout)
        namespace = config.namespace or namespace_of(rollout)
        return Target(API_VERSION, "HTTPRoute", "httproutes", namespace, config.http_route)

    def sources(self, rollout: Rollout) -> tuple[Target, ...]:
        return ()

    def desired(
        self, rollout: Rollout, current: Obj | None, change: WeightChange, sources: tuple[Obj | None, ...]
    ) -> Obj:
        """The HTTPRoute with canary/stable backendRef weights set in every rule that has both."""
        where = self.target(rollout)
        if current is None:
            raise RouterError(f"{where.describe()} does not exist; create it before starting the rollout")
        canary_service, stable_service = services(rollout)
        canary_weight, stable_weight = split(rollout, change.weight)
        weights = {canary_service: canary_weight, stable_service: stable_weight}
        rules = (current.get("spec") or {}).get("rules") or []
        managed = _managed_rules(rules, canary_service, stable_service)
        if not managed:
            raise RouterError(
                f"{where.describe()} has no rule with backendRefs to both '{canary_service}' and '{stable_service}'"
            )
        new_rules = [
            {**rule, "backendRefs": [_reweighted(ref, weights) for ref in rule["backendRefs"]]}
            if index in managed
            else rule
            for index, rule in enumerate(rules)
        ]
        return {**current, "spec": {**current["spec"], "rules": new_rules}}

    def weight_in(self, rollout: Rollout, current: Obj) -> int | None:
        canary_service, stable_service = services(rollout)
        rules = (current.get("spec") or {}).get("rules") or []
        for index in sorted(_managed_rules(rules, canary_service, stable_service)):
            for ref in rules[index]["backendRefs"]:
                if ref.get("name") == canary_service:
                    return int(ref.get("weight", 1))
        return None


def _managed_rules(rules: list[dict[str, Any]], canary_service: str, stable_service: str) -> set[int]:
    return {
        index
        for index, rule in enumerate(rules)
        if {canary_service, stable_service} <= {ref.get("name") for ref in rule.get("backendRefs") or []}
    }


def _reweighted(ref: dict[str, Any], weights: dict[str, int]) -> dict[str, Any]:
    name = ref.get("name")
    return {**ref, "weight": weights[name]} if name in weights else ref
