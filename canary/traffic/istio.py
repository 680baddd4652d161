"""Istio: weighted routes of a VirtualService, to the canary/stable Service hosts or, with a
DestinationRule, to its canary/stable subsets (whose labels then pin each revision's pods).

The VirtualService and DestinationRule belong to the user; the router edits only the weights of the
named HTTP routes and the subsets' pod-template-hash labels, and never creates either object.
"""

from __future__ import annotations

from typing import Any

from canary.api.rollout import IstioTrafficRouting, Rollout
from canary.traffic.base import (
    POD_TEMPLATE_HASH_LABEL,
    Obj,
    RouterError,
    Target,
    WeightChange,
    namespace_of,
    services,
    split,
)

API_VERSION = "networking.istio.io/v1beta1"


def _config(rollout: Rollout) -> IstioTrafficRouting:
    routing = rollout.spec.strategy.traffic_routing
    assert routing is not None and routing.istio is not None, "Istio plan used for a Rollout without istio"
    return routing.istio


def _require(current: Obj | None, where: Target) -> Obj:
    if current is None:
        raise RouterError(f"{where.describe()} does not exist; create it before starting the rollout")
    return current


class VirtualServicePlan:
    def target(self, rollout: Rollout) -> Target:
        name = _config(rollout).virtual_service.name
        return Target(API_VERSION, "VirtualService", "virtualservices", namespace_of(rollout), name)

    def sources(self, rollout: Rollout) -> tuple[Target, ...]:
        return ()

    def desired(
        self, rollout: Rollout, current: Obj | None, change: WeightChange, sources: tuple[Obj | None, ...]
    ) -> Obj:
        """The VirtualService with the managed routes' canary/stable destinations re-weighted."""
        virtual_service = _require(current, self.target(rollout))
        canary_weight, stable_weight = split(rollout, change.weight)
        canary_dest, stable_dest = _destinations(rollout)
        routes = virtual_service.get("spec", {}).get("http") or []
        managed = _managed_route_indexes(rollout, routes, self.target(rollout))
        weights = {canary_dest: canary_weight, stable_dest: stable_weight}
        by_subset = _by_subset(rollout)
        new_routes = [
            {**route, "route": [_reweighted(d, weights, by_subset) for d in route.get("route") or []]}
            if index in managed
            else route
            for index, route in enumerate(routes)
        ]
        return {**virtual_service, "spec": {**virtual_service["spec"], "http": new_routes}}

    def weight_in(self, rollout: Rollout, current: Obj) -> int | None:
        canary_dest, _ = _destinations(rollout)
        routes = current.get("spec", {}).get("http") or []
        for index in sorted(_managed_route_indexes(rollout, routes, self.target(rollout))):
            for destination in routes[index].get("route") or []:
                if _destination_key(destination, by_subset=_by_subset(rollout)) == canary_dest:
                    return int(destination.get("weight", 0))
        return None


class DestinationRulePlan:
    """Pins the canary and stable subsets to their revisions' pods by the pod-template-hash label."""

    def target(self, rollout: Rollout) -> Target:
        rule = _config(rollout).destination_rule
        assert rule is not None, "DestinationRule plan used without a destinationRule"
        return Target(API_VERSION, "DestinationRule", "destinationrules", namespace_of(rollout), rule.name)

    def sources(self, rollout: Rollout) -> tuple[Target, ...]:
        return ()

    def desired(
        self, rollout: Rollout, current: Obj | None, change: WeightChange, sources: tuple[Obj | None, ...]
    ) -> Obj:
        rule_object = _require(current, self.target(rollout))
        rule = _config(rollout).destination_rule
        assert rule is not None
        hashes = {rule.canary_subset_name: change.canary_hash, rule.stable_subset_name: change.stable_hash}
        subsets = rule_object.get("spec", {}).get("subsets") or []
        missing = sorted(set(hashes) - {s.get("name") for s in subsets})
        if missing:
            raise RouterError(f"{self.target(rollout).describe()} has no subset named {', '.join(missing)}")
        new_subsets = [
            {**s, "labels": {**(s.get("labels") or {}), POD_TEMPLATE_HASH_LABEL: hashes[s["name"]]}}
            if s.get("name") in hashes
            else s
            for s in subsets
        ]
        return {**rule_object, "spec": {**rule_object["spec"], "subsets": new_subsets}}

    def weight_in(self, rollout: Rollout, current: Obj) -> int | None:
        return None


def _by_subset(rollout: Rollout) -> bool:
    return _config(rollout).destination_rule is not None


def _destinations(rollout: Rollout) -> tuple[str, str]:
    """(canary, stable) as route destinations are matched: subset names, or Service hosts."""
    rule = _config(rollout).destination_rule
    if rule is not None:
        return rule.canary_subset_name, rule.stable_subset_name
    return services(rollout)


def _destination_key(destination: dict[str, Any], *, by_subset: bool) -> str:
    """The subset, or the short Service name of the host (`svc`, `svc.ns`, `svc.ns.svc.cluster.local`)."""
    target = destination.get("destination") or {}
    if by_subset:
        return str(target.get("subset", ""))
    return str(target.get("host", "")).split(".")[0]


def _reweighted(destination: dict[str, Any], weights: dict[str, int], by_subset: bool) -> dict[str, Any]:
    key = _destination_key(destination, by_subset=by_subset)
    return {**destination, "weight": weights[key]} if key in weights else destination


def _managed_route_indexes(rollout: Rollout, routes: list[dict[str, Any]], where: Target) -> set[int]:
    """Indexes of the HTTP routes the Rollout manages: those named, or the only one when none is named."""
    names = _config(rollout).virtual_service.routes
    if not names and len(routes) != 1:
        raise RouterError(
            f"{where.describe()} has {len(routes)} HTTP routes; list the ones to manage in "
            "spec.strategy.canary.trafficRouting.istio.virtualService.routes"
        )
    by_name = {route.get("name"): index for index, route in enumerate(routes)}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise RouterError(f"{where.describe()} has no HTTP route named {', '.join(missing)}")
    indexes = {by_name[name] for name in names} if names else {0}
    canary_dest, stable_dest = _destinations(rollout)
    for index in indexes:
        keys = {_destination_key(d, by_subset=_by_subset(rollout)) for d in routes[index].get("route") or []}
        if not {canary_dest, stable_dest} <= keys:
            label = routes[index].get("name") or f"#{index}"
            raise RouterError(
                f"{where.describe()} HTTP route {label} must route to both {canary_dest} and {stable_dest}"
            )
    return indexes
