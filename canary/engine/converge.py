"""Convergence: the actions that make pods, Services, traffic and AnalysisRuns match the step the
step machine stopped at (scale-downs within maxUnavailable, delays before old pods go, history trimmed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from canary.api.analysis import AnalysisPhase
from canary.engine import analysis_runs, ephemeral, restarts, targets
from canary.engine import steps as step_list
from canary.engine.actions import (
    Action,
    CreateReplicaSet,
    DeleteAnalysisRun,
    DeleteReplicaSet,
    PodHash,
    ScaleReplicaSet,
    SetScaleDownDeadline,
    SetServiceSelector,
    SetTrafficWeight,
    TerminateAnalysisRun,
)
from canary.engine.context import DecisionContext
from canary.engine.hashing import HASH_LABEL, pod_template_hash
from canary.engine.observed import ReplicaSetView
from canary.engine.progress import Progress
from canary.engine.strategy import Waits


def converge(context: DecisionContext, progress: Progress) -> tuple[list[Action], Waits, int]:
    """Actions that make pods, Services, traffic and runs match `progress`, and the weight routed."""
    rollout = context.rollout
    canary_strategy = step_list.canary_of(rollout)
    routed = canary_strategy.traffic_routing is not None
    sides = context.sides(progress)
    canary_count, stable_count, weight, wait = _pod_counts(context, progress, sides)
    waits: Waits = [wait]
    counts = {progress.stable: stable_count}
    if not progress.complete:
        counts[progress.canary] = canary_count
    surged, restart = restarts.next_restart(rollout, context.now, sides, counts)
    counts |= surged
    actions: list[Action] = []
    actions += replica_set_actions(context, progress.stable, sides.stable, counts[progress.stable])
    if not progress.complete:
        actions += replica_set_actions(context, progress.canary, sides.canary, counts[progress.canary])
    actions += serving_again(sides)
    roles = {progress.stable: canary_strategy.stable_metadata}
    if not progress.complete:
        roles[progress.canary] = canary_strategy.canary_metadata
    actions += ephemeral.metadata_actions(context, roles, actions)
    back_to_stable = progress.complete or (progress.abort and weight == 0)
    canary_target = progress.stable if back_to_stable else progress.canary
    departing = _departing_hold(context, progress, sides, canary_target)
    if departing is not None:
        canary_target, weight = departing
    spare = _spare_available(context, sides, canary_count, stable_count)
    still_serving = [rs for rs in sides.others if rs.pod_template_hash != canary_target]
    older, older_waits = older_replica_sets(context, still_serving, routed, spare)
    actions += older
    waits += older_waits
    if canary_strategy.stable_service and _may_select(
        context, canary_strategy.stable_service, progress.stable
    ):
        actions.append(SetServiceSelector(canary_strategy.stable_service, progress.stable))
    if canary_strategy.canary_service:
        actions.append(SetServiceSelector(canary_strategy.canary_service, canary_target))
    if routed:
        actions.append(SetTrafficWeight(weight, progress.stable, canary_target))
    actions += settle_runs(context, progress)
    actions += restart
    if not routed:
        weight = 0 if progress.complete else targets.pod_share(sides)
    return actions, waits, weight


def _pod_counts(
    context: DecisionContext, progress: Progress, sides: targets.Sides
) -> tuple[int, int, int, float | None]:
    """(canary pods, stable pods, canary weight, seconds until the aborted canary may go)."""
    rollout = context.rollout
    if (progress.complete or progress.abort) and rollout.spec.strategy.traffic_routing is None:
        back = targets.all_stable_by_pods(rollout, sides)
        return back.canary, back.stable, 0, None
    if progress.complete:
        return 0, rollout.spec.replicas, 0, None
    if progress.abort:
        canary_count, wait = aborted_canary_count(context, progress, sides)
        weight = targets.weight_stable_cannot_take(
            rollout, sides.stable_routable(), sides.canary_routable(), context.applied_weight(progress)
        )
        if weight > 0:  # stable is still scaling back up: the canary keeps that share and its pods
            current = sides.canary.replicas if sides.canary else 0
            canary_count = max(canary_count, min(current, targets.pods_for_share(rollout, weight)))
        return canary_count, rollout.spec.replicas, weight, wait
    plan = context.plan(progress, progress.step_index)
    if progress.traffic_held:
        # Held by a webhook before the step: traffic as the step before left it (before the first
        # step: none). With a router the canary already gets the step's pods, for the hooks to test.
        before = context.plan(progress, progress.step_index - 1)
        routed = rollout.spec.strategy.traffic_routing is not None
        canary = max(before.canary_replicas, plan.canary_replicas) if routed else before.canary_replicas
        return canary, before.stable_replicas, before.weight, None
    return plan.canary_replicas, plan.stable_replicas, plan.weight, None


def _departing_hold(
    context: DecisionContext, progress: Progress, sides: targets.Sides, canary_target: PodHash
) -> tuple[PodHash, int] | None:
    """A revision the router still sends the canary share to although it is no longer the canary
    (an undo, a new template mid-rollout): with dynamicStableScale it keeps that share, and its
    pods, until stable has the pods to take it over. (revision, weight), None when nothing is held."""
    service = step_list.canary_of(context.rollout).canary_service
    selected = context.observed.service_selectors.get(service) if service else None
    if selected is None or selected in (progress.stable, canary_target):
        return None
    departing = context.observed.replica_set(selected)
    if departing is None:
        return None
    routed_now = context.observed.router_weight
    if routed_now is None:
        weights = context.rollout.status.canary.weights
        routed_now = weights.canary.weight if weights and weights.canary.pod_template_hash == selected else 0
    held = targets.weight_stable_cannot_take(
        context.rollout, sides.stable_available(), departing.available, routed_now
    )
    return (selected, held) if held > 0 else None


def serving_again(sides: targets.Sides) -> list[Action]:
    """A revision that is stable or canary again (a rollback, a re-release) drops the scale-down
    deadline it was given when it last left, so an old deadline never removes its pods at once."""
    return [
        SetScaleDownDeadline(rs.pod_template_hash, None)
        for rs in (sides.stable, sides.canary)
        if rs is not None and rs.scale_down_deadline is not None
    ]


def _may_select(context: DecisionContext, service: str, pod_hash: PodHash) -> bool:
    """Whether the stable Service may select `pod_hash` now: only once that ReplicaSet has all its
    pods available (or nothing else is there to serve), so a first deploy, a migration from a
    Deployment or a restore never points live traffic at pods that are still starting."""
    if context.observed.service_selectors.get(service) == pod_hash:
        return True
    target = context.observed.replica_set(pod_hash)
    wanted = context.rollout.spec.replicas
    return wanted == 0 or (target is not None and target.available >= min(wanted, max(target.replicas, 1)))


def aborted_canary_count(
    context: DecisionContext, progress: Progress, sides: targets.Sides
) -> tuple[int, float | None]:
    """After an abort with a router the canary keeps its pods for abortScaleDownDelaySeconds
    (0 = for good), so a retry finds them warm; with dynamicStableScale and no delay set it keeps
    only the pods for the share it still carries (see `_pod_counts`)."""
    strategy = context.rollout.spec.strategy
    current = sides.canary.replicas if sides.canary else 0
    delay = strategy.abort_scale_down_delay_seconds
    if current == 0 or delay is None:
        return 0, None
    if delay == 0:
        return current, None
    aborted_at = progress.aborted_at or context.now
    left = (aborted_at + timedelta(seconds=delay) - context.now).total_seconds()
    return (current, left) if left > 0 else (0, None)


def replica_set_actions(
    context: DecisionContext,
    pod_hash: PodHash,
    seen: ReplicaSetView | None,
    replicas: int,
    *,
    template: Mapping[str, Any] | None = None,
) -> list[Action]:
    """The revision's ReplicaSet asks for `replicas` pods (created from `template`, by default the
    Rollout's, if it does not exist yet)."""
    if seen is not None:
        return [ScaleReplicaSet(pod_hash, replicas)]
    if pod_hash != pod_template_hash(context.template):
        return []  # a stable ReplicaSet that vanished cannot be rebuilt: its template is gone with it
    revision = max((rs.revision for rs in context.observed.replica_sets), default=0) + 1
    source = context.template if template is None else template
    return [CreateReplicaSet(pod_hash, _labelled(source, pod_hash), replicas, revision)]


def _labelled(template: Mapping[str, Any], pod_hash: PodHash) -> dict[str, Any]:
    metadata = dict(template.get("metadata") or {})
    labels = {**(metadata.get("labels") or {}), HASH_LABEL: pod_hash}
    return {**template, "metadata": {**metadata, "labels": labels}}


def _spare_available(
    context: DecisionContext, sides: targets.Sides, canary_count: int, stable_count: int
) -> int:
    """Available pods that may still go this decision without breaking maxUnavailable."""
    _, unavailable = targets.surge_and_unavailable(context.rollout)
    lost = max(0, sides.canary_available() - canary_count) + max(0, sides.stable_available() - stable_count)
    total = sides.canary_available() + sides.stable_available() + sum(rs.available for rs in sides.others)
    return total - lost - (context.rollout.spec.replicas - unavailable)


def older_replica_sets(
    context: DecisionContext, others: Sequence[ReplicaSetView], routed: bool, spare: int
) -> tuple[list[Action], Waits]:
    """Scale down revisions that are neither stable nor canary. With a router after
    scaleDownDelaySeconds (traffic drains first); without one their pods carry traffic, so unready
    pods go at once and available ones as far as `spare` allows. Trim the history."""
    delay = context.rollout.spec.strategy.scale_down_delay_seconds
    delayed = _within_revision_limit(context, others)
    actions: list[Action] = []
    waits: Waits = []
    budget = spare
    for rs in others:
        if rs.replicas == 0:
            continue
        if not routed:
            removable = min(rs.available, max(budget, 0))
            budget -= removable
            actions.append(ScaleReplicaSet(rs.pod_template_hash, rs.available - removable))
            continue
        if delay == 0 or rs.pod_template_hash not in delayed:
            actions.append(ScaleReplicaSet(rs.pod_template_hash, 0))
            continue
        deadline = rs.scale_down_deadline or context.now + timedelta(seconds=delay)
        if rs.scale_down_deadline is None:
            actions.append(SetScaleDownDeadline(rs.pod_template_hash, deadline))
        left = (deadline - context.now).total_seconds()
        if left > 0:
            waits.append(left)
        else:
            actions.append(ScaleReplicaSet(rs.pod_template_hash, 0))
    idle = sorted(
        (rs for rs in others if rs.replicas == 0 and rs.available == 0),
        key=lambda rs: rs.revision,
        reverse=True,
    )
    limit = context.rollout.spec.revision_history_limit
    actions += [DeleteReplicaSet(rs.pod_template_hash) for rs in idle[limit:]]
    return actions, waits


def _within_revision_limit(context: DecisionContext, others: Sequence[ReplicaSetView]) -> set[PodHash]:
    """The old revisions that may wait out scaleDownDelaySeconds: the newest
    scaleDownDelayRevisionLimit of those still scaled up (all without a limit); older ones go at once."""
    limit = context.rollout.spec.strategy.scale_down_delay_revision_limit
    running = sorted((rs for rs in others if rs.replicas > 0), key=lambda rs: rs.revision, reverse=True)
    return {rs.pod_template_hash for rs in (running if limit is None else running[:limit])}


def settle_runs(context: DecisionContext, progress: Progress) -> list[Action]:
    """Stop runs nobody waits for any more; trim finished runs to the history limits."""
    live = not progress.complete and not progress.abort
    records = (progress.step_run, progress.background_run, progress.pre_run, progress.post_run)
    wanted = {record.name for record in records if record and live}
    actions: list[Action] = [
        TerminateAnalysisRun(run.metadata.name)
        for run in context.observed.analysis_runs
        if run.metadata.name not in wanted
        and not AnalysisPhase(run.status.phase).completed
        and not run.spec.terminate
    ]
    shown = [record.name for record in records if record]
    actions += [
        DeleteAnalysisRun(name)
        for name in analysis_runs.finished_runs_to_delete(context.rollout, context.observed, shown)
    ]
    return actions
