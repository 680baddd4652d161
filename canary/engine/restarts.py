"""spec.restartAt: every pod of the Rollout restarted once, one pod at a time, within the budgets.

A restart takes a pod away, so it is paced like any other scale-down: one pod of the stable or
canary ReplicaSet is replaced (`RestartPods`) only when every pod of that ReplicaSet is available,
no other revision still has pods, and the pods left available stay at or above
`replicas - maxUnavailable`. With no room below (maxUnavailable 0), the ReplicaSet surges by one pod
first, within maxSurge, keeps it for the whole restart, and gives it back when no old pod is left.
Nothing is restarted while pods are moving between revisions: the restart waits for that to end.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from canary.api.rollout import Rollout
from canary.engine import targets
from canary.engine.actions import PodHash, RestartPods
from canary.engine.observed import ReplicaSetView


def next_restart(
    rollout: Rollout, now: datetime, sides: targets.Sides, counts: Mapping[PodHash, int]
) -> tuple[dict[PodHash, int], list[RestartPods]]:
    """(replica counts that replace those in `counts`, the restart to apply now) for spec.restartAt.

    `counts` are the pods decided for the stable and canary ReplicaSets this decision.
    """
    restart_at = rollout.spec.restart_at
    if restart_at is None or restart_at > now:
        return {}, []
    serving = _serving(sides, counts)
    pending = sorted(
        (rs for rs in serving if rs.restarted_at is None or rs.restarted_at < restart_at),
        key=lambda rs: (rs.revision, rs.pod_template_hash),
    )
    if not pending:
        return {}, []
    target = pending[0]
    wanted = counts[target.pod_template_hash]
    if not _steady(serving, sides, counts, target):
        return {}, []
    keep_surge = {target.pod_template_hash: target.replicas} if target.replicas > wanted else {}
    surge, unavailable = targets.surge_and_unavailable(rollout)
    available = sum(min(rs.available, max(counts[rs.pod_template_hash], rs.replicas)) for rs in serving)
    if target.available >= target.replicas and available - 1 >= rollout.spec.replicas - unavailable:
        return keep_surge, [RestartPods(target.pod_template_hash, restart_at)]
    if keep_surge:
        return keep_surge, []  # the surged pod is still starting
    if sum(counts[rs.pod_template_hash] for rs in serving) + 1 <= rollout.spec.replicas + surge:
        return {target.pod_template_hash: wanted + 1}, []
    return {}, []


def _serving(sides: targets.Sides, counts: Mapping[PodHash, int]) -> list[ReplicaSetView]:
    seen: dict[PodHash, ReplicaSetView] = {}
    for rs in (sides.stable, sides.canary):
        if rs is not None and counts.get(rs.pod_template_hash, 0) > 0:
            seen[rs.pod_template_hash] = rs
    return list(seen.values())


def _steady(
    serving: list[ReplicaSetView],
    sides: targets.Sides,
    counts: Mapping[PodHash, int],
    target: ReplicaSetView,
) -> bool:
    """No pods moving between revisions: older revisions are gone and each side has the pods it
    was decided (the restarting one may hold its one surged pod)."""
    if any(rs.replicas > 0 for rs in sides.others):
        return False
    return all(
        rs.replicas == counts[rs.pod_template_hash]
        or (rs is target and rs.replicas == counts[rs.pod_template_hash] + 1)
        for rs in serving
    )
