"""Which router a Rollout uses: chosen from `spec.strategy.canary.trafficRouting` (None without one,
in which case the engine carries the weight by replica counts)."""

from __future__ import annotations

from canary.api.rollout import Rollout
from canary.traffic.base import ObjectStore, PlannedRouter, TrafficRouter
from canary.traffic.gateway import HTTPRoutePlan
from canary.traffic.istio import DestinationRulePlan, VirtualServicePlan
from canary.traffic.nginx import CanaryIngressPlan
from canary.traffic.smi import TrafficSplitPlan
from canary.traffic.traefik import TraefikServicePlan


def router_for(rollout: Rollout, store: ObjectStore) -> TrafficRouter | None:
    routing = rollout.spec.strategy.traffic_routing
    if routing is None:
        return None
    if routing.smi is not None:
        return PlannedRouter(store, TrafficSplitPlan())
    if routing.istio is not None:
        if routing.istio.destination_rule is not None:
            return PlannedRouter(store, DestinationRulePlan(), VirtualServicePlan())
        return PlannedRouter(store, VirtualServicePlan())
    if routing.nginx is not None:
        return PlannedRouter(store, CanaryIngressPlan())
    if routing.gateway_api is not None:
        return PlannedRouter(store, HTTPRoutePlan())
    if routing.traefik is not None:
        return PlannedRouter(store, TraefikServicePlan())
    return None
