"""Where pods and traffic should be for one step: replica counts and the canary weight to route now.

Applies the replica math (`canary.engine.replicas`) to the ReplicaSets observed, and the two traffic
rules users rely on: the weight only grows once the canary's pods for it are available, and a canary
with no available pod never gets traffic. Lowering the weight is never delayed.

With a router, a pod is available to traffic only once it is a ready endpoint of its side's Service:
a proxy routes by the Service's EndpointSlices, which the endpoint controller updates after (and apart
from) the ReplicaSet's available count, so a weight raised on the ReplicaSet's word alone can reach the
proxy before any canary endpoint and be answered 503.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from canary.api.base import resolve_int_or_percent
from canary.api.rollout import Rollout, SetCanaryScale
from canary.engine import replicas as math
from canary.engine import steps as step_list
from canary.engine.observed import ReplicaSetView


@dataclass(frozen=True)
class Plan:
    """Pods each side asks for, the canary weight to route now, and whether the step is reached."""

    canary_replicas: int
    stable_replicas: int
    weight: int
    desired_weight: int
    reached: bool


@dataclass(frozen=True)
class Sides:
    """The canary, stable and older ReplicaSets as observed (canary None before it is created), and
    with a router the ready endpoints of each side's Service that are its pods (None: not observed)."""

    canary: ReplicaSetView | None
    stable: ReplicaSetView | None
    others: Sequence[ReplicaSetView]
    canary_endpoints: int | None = None
    stable_endpoints: int | None = None

    def canary_available(self) -> int:
        return self.canary.available if self.canary else 0

    def stable_available(self) -> int:
        return self.stable.available if self.stable else 0

    def canary_routable(self) -> int:
        """Canary pods that traffic routed to the canary Service reaches now."""
        return _routable(self.canary_available(), self.canary_endpoints)

    def stable_routable(self) -> int:
        """Stable pods that traffic routed to the stable Service reaches now."""
        return _routable(self.stable_available(), self.stable_endpoints)


def _routable(available: int, endpoints: int | None) -> int:
    return available if endpoints is None else min(available, endpoints)


def surge_and_unavailable(rollout: Rollout) -> tuple[int, int]:
    strategy = rollout.spec.strategy
    total = rollout.spec.replicas
    surge = resolve_int_or_percent(strategy.max_surge, total, round_up=True)
    unavailable = resolve_int_or_percent(strategy.max_unavailable, total, round_up=False)
    if surge == 0 and unavailable == 0:
        # Percentages of few replicas can round both to 0; one pod of slack keeps the rollout moving.
        unavailable = 1
    return surge, unavailable


def plan_step(
    rollout: Rollout, index: int, sides: Sides, applied_weight: int, router_weight: int | None
) -> Plan:
    """Counts and weight for step `index` (len(steps) = full promotion)."""
    if rollout.spec.strategy.traffic_routing is None:
        return _plan_by_pods(rollout, index, sides)
    return _plan_routed(rollout, index, sides, applied_weight, router_weight)


def _plan_by_pods(rollout: Rollout, index: int, sides: Sides) -> Plan:
    replicas = rollout.spec.replicas
    desired = step_list.desired_weight(step_list.of(rollout), index)
    surge, unavailable = surge_and_unavailable(rollout)
    target = math.weighted_counts(replicas, desired, surge)
    current = _current(sides)
    step = math.rolling_step(target, current, replicas, surge, unavailable)
    reached = (
        current.canary_spec == target.canary
        and current.canary_available >= target.canary
        and current.stable_spec == target.stable
        and current.stable_available >= target.stable
    )
    return Plan(step.canary, step.stable, pod_share(sides), desired, reached)


def _current(sides: Sides) -> math.Current:
    return math.Current(
        canary_spec=sides.canary.replicas if sides.canary else 0,
        canary_available=sides.canary_available(),
        stable_spec=sides.stable.replicas if sides.stable else 0,
        stable_available=sides.stable_available(),
        others_spec=sum(rs.replicas for rs in sides.others),
        others_available=sum(rs.available for rs in sides.others),
    )


def all_stable_by_pods(rollout: Rollout, sides: Sides) -> math.Counts:
    """Counts on the way to all-stable without a router (an abort, an undo, a promotion's end),
    where pods are traffic: stable scales up within maxSurge and the other side gives up only the
    pods stable has replaced, so availability never falls below `replicas - maxUnavailable`."""
    surge, unavailable = surge_and_unavailable(rollout)
    target = math.Counts(0, rollout.spec.replicas)
    return math.rolling_step(target, _current(sides), rollout.spec.replicas, surge, unavailable)


def pod_share(sides: Sides) -> int:
    """Without a router the canary's traffic share is its share of available pods, in percent."""
    canary, stable = sides.canary_available(), sides.stable_available()
    if canary + stable == 0:
        return 0
    return round(100 * canary / (canary + stable))


def pods_for_share(rollout: Rollout, weight: int) -> int:
    """Canary pods that carry `weight` (of maxTrafficWeight) with a router."""
    canary = step_list.canary_of(rollout)
    return math.routed_canary_count(
        rollout.spec.replicas, weight, canary.max_weight, canary.min_pods_per_replica_set
    )


def _scaled_canary(rollout: Rollout, scale: SetCanaryScale | None, weight: int) -> int:
    canary = step_list.canary_of(rollout)
    replicas = rollout.spec.replicas
    if scale is None or scale.match_traffic_weight:
        return math.routed_canary_count(replicas, weight, canary.max_weight, canary.min_pods_per_replica_set)
    if scale.replicas is not None:
        return scale.replicas
    return math.routed_canary_count(replicas, scale.weight or 0, 100, canary.min_pods_per_replica_set)


def weight_stable_cannot_take(
    rollout: Rollout, stable_available: int, carrier_available: int, routed_weight: int
) -> int:
    """The canary weight that must stay where it is routed now because stable lacks the pods to
    carry it.

    With dynamicStableScale the stable ReplicaSet shrinks as the canary's weight grows, so lowering
    the weight (a smaller step, an abort, an undo) must wait until stable has its pods back.
    Without it stable keeps its full size, and only a stable with no available pod at all (its
    pods crashed) cannot take any of the weight. 0 when the revision carrying the weight has no
    available pod to serve it either.
    """
    canary = step_list.canary_of(rollout)
    if canary.traffic_routing is None or rollout.spec.replicas == 0 or carrier_available == 0:
        return 0
    if not canary.dynamic_stable_scale:
        return routed_weight if stable_available == 0 else 0
    max_weight = canary.traffic_routing.max_traffic_weight
    capacity = stable_available * max_weight // rollout.spec.replicas
    return min(routed_weight, max(0, max_weight - capacity))


def _plan_routed(
    rollout: Rollout, index: int, sides: Sides, applied_weight: int, router_weight: int | None
) -> Plan:
    canary = step_list.canary_of(rollout)
    assert canary.traffic_routing is not None
    max_weight = canary.traffic_routing.max_traffic_weight
    desired = step_list.desired_weight(canary.steps, index, max_weight)
    canary_count = _scaled_canary(rollout, step_list.canary_scale(canary.steps, index), desired)
    available = sides.canary_routable()
    canary_ready = (
        available >= canary_count and (sides.canary.replicas if sides.canary else 0) == canary_count
    )
    weight = desired if desired <= applied_weight or canary_ready else applied_weight
    held = weight_stable_cannot_take(rollout, sides.stable_routable(), available, applied_weight)
    if held > weight:  # the canary keeps the pods for the share it still carries
        weight = held
        canary_count = max(
            canary_count,
            math.routed_canary_count(rollout.spec.replicas, held, max_weight, canary.min_pods_per_replica_set),
        )
    if available == 0:
        weight = 0
    routed_now = weight if router_weight is None else min(weight, router_weight)
    stable_count = math.routed_stable_count(
        rollout.spec.replicas, desired, routed_now, max_weight, canary.dynamic_stable_scale
    )
    stable_spec = sides.stable.replicas if sides.stable else 0
    reached = (
        canary_ready
        and weight == desired
        and (router_weight is None or router_weight == desired)
        and stable_spec == stable_count
        and sides.stable_available() >= stable_count
    )
    return Plan(canary_count, stable_count, weight, desired, reached)
