"""Replica math: how many canary and stable pods carry a traffic weight. Pure integer arithmetic.

Without a traffic router the canary's share of traffic *is* its share of available pods, so the
weight is approximated by pod counts and reached step by step within maxSurge/maxUnavailable. With a
router the weight is set on the router and the pod counts only need to carry it.

Worked examples (replicas, weight, maxSurge -> canary / stable target), no router:

    10 replicas, 20%, surge 3      -> 2 / 8     exact on 10 pods
    4 replicas, 10%, surge 1       -> 1 / 4     1 of 5 (20%) beats 0 of 4 (no canary) and 1 of 4 (25%)
    1 replica, 1%, surge 1         -> 1 / 1     a canary needs a pod; surging keeps one stable pod
    1 replica, 50%, surge 0        -> 1 / 0     no room for both; ties go to the canary
    3 replicas, 0%, any surge      -> 0 / 3
    3 replicas, 100%, any surge    -> 3 / 0

With a router (replicas, weight, maxTrafficWeight -> canary pods):

    10 replicas, 15%, 100          -> 2         ceil(1.5)
    5 replicas, 1%, 100            -> 1         any weight above 0 needs a pod
    10 replicas, 50 of 1000        -> 1         ceil(0.5)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Counts:
    canary: int
    stable: int


def weighted_counts(replicas: int, weight: int, max_surge: int) -> Counts:
    """Canary/stable pod counts whose canary share is closest to `weight`% (no router).

    Candidates are floor and ceil of the canary share over `replicas` pods, and over `replicas + 1`
    when surging is allowed. For a weight strictly between 0 and 100 a candidate with either side
    at 0 is dropped unless nothing else remains. The smallest error wins; ties go to the larger canary.
    """
    if replicas <= 0:
        return Counts(0, 0)
    if weight <= 0 or weight >= 100:
        return Counts(replicas, 0) if weight >= 100 else Counts(0, replicas)
    totals = [replicas, replicas + 1] if max_surge > 0 else [replicas]
    candidates = [
        Counts(canary, total - canary)
        for total in totals
        for canary in {math.floor(total * weight / 100), math.ceil(total * weight / 100)}
    ]
    if 0 < weight < 100:
        both_sides = [c for c in candidates if c.canary > 0 and c.stable > 0]
        candidates = both_sides or candidates
    # Exact arithmetic: 2 of 3 and 1 of 3 are equally far from 50%, and the tie goes to the canary.
    return min(candidates, key=lambda c: (abs(Fraction(100 * c.canary, c.canary + c.stable) - weight), -c.canary))


@dataclass(frozen=True)
class Current:
    """What the ReplicaSets hold now: asked-for (`*_spec`) and available pods; `others` are older revisions."""

    canary_spec: int
    canary_available: int
    stable_spec: int
    stable_available: int
    others_spec: int = 0
    others_available: int = 0


def rolling_step(
    target: Counts, current: Current, replicas: int, max_surge: int, max_unavailable: int
) -> Counts:
    """The next counts on the way to `target` that keep within the surge and availability budgets.

    The canary side is decided first and the stable side with the canary's new count, so the two
    never grow past `replicas + max_surge` together nor shrink below `replicas - max_unavailable`
    available pods together. A side shrinks only as far as the pods still available stay within
    budget (unavailable pods go first, so they may always go), and a side above the surge cap
    shrinks back under it when availability allows, even below its target (a scale-down of
    `replicas` while the other side cannot take over). Shrinking is never blocked on growth the
    other way round, so the two alternate until `target` is reached (maxSurge and maxUnavailable
    are never both 0, which the API rejects).

        target 2/2 from 0/4, replicas 4, surge 0, unavailable 1:
            -> 0/3, then (canary may use the freed slot) 1/3, then (1 canary available) 1/2, then 2/2
        abort, target 0/3 from 3/0, replicas 3, surge 2, unavailable 0:
            -> 3/2, then (2 stable available) 1/3, then (3 stable available) 0/3
    """
    floor = replicas - max_unavailable
    canary = _next_count(
        target.canary,
        current.canary_spec,
        current.canary_available,
        room=replicas + max_surge - current.stable_spec - current.others_spec,
        must_stay=floor - current.stable_available - current.others_available,
    )
    stable = _next_count(
        target.stable,
        current.stable_spec,
        current.stable_available,
        room=replicas + max_surge - canary - current.others_spec,
        must_stay=floor - min(current.canary_available, canary) - current.others_available,
    )
    return Counts(canary, stable)


def _next_count(target: int, current: int, available: int, *, room: int, must_stay: int) -> int:
    """One side's next count: toward `target` but within the surge `room`, and never fewer than the
    available pods this side must keep (`must_stay`, or all it has when it has fewer)."""
    wanted = max(0, min(target, room))
    if wanted >= current:
        return wanted
    keep = min(available, max(must_stay, 0))
    return max(wanted, min(current, keep))


def routed_canary_count(replicas: int, weight: int, max_weight: int, min_pods: int | None = None) -> int:
    """Canary pods for a router weight: ceil(weight x replicas / maxTrafficWeight), floor minPodsPerReplicaSet."""
    if weight <= 0 or replicas <= 0:
        return 0
    count = math.ceil(weight * replicas / max_weight)
    return max(count, min_pods or 1)


def routed_stable_count(
    replicas: int, desired_weight: int, applied_weight: int, max_weight: int, dynamic: bool
) -> int:
    """Stable pods with a router: all of them, unless dynamicStableScale lets stable shrink to its share.

    Stable never shrinks below the share of the weight the router applies *now*, so its traffic is
    always served while the router catches up.
    """
    if not dynamic:
        return replicas
    heaviest_stable_share = max_weight - min(desired_weight, applied_weight)
    return math.ceil(heaviest_stable_share * replicas / max_weight)
