"""The blue-green strategy (`spec.strategy.blueGreen`), with Argo Rollouts' semantics.

A new revision comes up next to the active one at full size (or `previewReplicaCount`), and the
preview Service selects it at once while the active Service stays on the stable revision. Once the
new ReplicaSet has all its pods available, `prePromotionAnalysis` runs (a failure aborts); then the
rollout pauses (`BlueGreenPause`) until `promote` when `autoPromotionEnabled` is false, or for
`autoPromotionSeconds`; then the preview scales up to `spec.replicas` (previewReplicaCount) and the
active Service is switched to the new revision, only when every one of its `spec.replicas` pods is
available. `postPromotionAnalysis` runs after the switch: success makes the new revision stable
(the old one is scaled down after `scaleDownDelaySeconds`), a failure aborts.

An abort (a verb, a failed analysis, `progressDeadlineAbort`) switches the active Service back to
the stable revision at once, as long as stable has at least `replicas - maxUnavailable` available
pods (it keeps its full size during the release, so it has them unless its pods crashed; until then
the active Service stays where it is). The active Service therefore only ever moves to a ReplicaSet
that has the pods to serve, and a ReplicaSet it selects is never scaled down. A promote --full, or a
rollback within `rollbackWindow`, skips the analysis and the pause, never the availability check.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from canary.api.analysis import AnalysisPhase
from canary.api.rollout import (
    AntiAffinity,
    BlueGreenStatus,
    BlueGreenStrategy,
    CanaryStatus,
    PauseReason,
    PodMetadata,
    Rollout,
    RolloutAnalysis,
    RolloutAnalysisRunStatus,
    RolloutStatus,
)
from canary.engine import analysis_runs, converge, ephemeral, hooks, restarts, rollback_window, targets
from canary.engine.actions import Action, PodHash, SetServiceSelector
from canary.engine.context import DecisionContext
from canary.engine.hashing import HASH_LABEL
from canary.engine.hooks import Outcome
from canary.engine.observed import Observed, ReplicaSetView
from canary.engine.progress import Progress
from canary.engine.strategy import Waits

TOPOLOGY_KEY = "kubernetes.io/hostname"


class BlueGreenRelease:
    """`spec.strategy.blueGreen` (see the module docstring); implements `ReleaseStrategy`."""

    def problems(self, rollout: Rollout, observed: Observed) -> list[str]:
        return [
            f"spec.strategy.blueGreen.{field}: Service '{name}' not found; create it or fix the name"
            for field, name in rollout.spec.strategy.services().items()
            if name not in observed.service_selectors
        ]

    def start(self, rollout: Rollout, observed: Observed, stable: PodHash, canary: PodHash) -> Progress:
        status = rollout.status
        if status.current_pod_hash != canary or canary == stable:
            fresh = Progress(stable=stable, canary=canary, step_index=0)
            if status.current_pod_hash == canary:
                # Same revision, already stable: keep the record of its analysis (Argo does).
                return replace(
                    fresh,
                    pre_run=status.blue_green.pre_promotion_analysis_run_status,
                    post_run=status.blue_green.post_promotion_analysis_run_status,
                    hooks=tuple(status.hooks),
                )
            return fresh
        return Progress.from_status(status, stable, canary)

    def advance(self, context: DecisionContext, progress: Progress) -> tuple[Progress, list[Action], Waits]:
        observed_active = _active_selected(context)
        polled = Outcome(progress, [], [], True)
        if not progress.complete and not progress.abort and not _fast_tracked(context, progress):
            polled = hooks.rollback(context, progress)  # a 2xx answer aborts
            progress = polled.progress
        if progress.complete or progress.abort:
            after = hooks.after_release(context, _ended(context, progress, observed_active))
            return after.progress, polled.actions + after.actions, after.waits
        if observed_active == progress.canary:
            progress, actions, waits = _after_switch(context, replace(progress, active=progress.canary))
        else:
            progress, actions, waits = _before_switch(context, replace(progress, active=observed_active))
        if progress.complete:
            after = hooks.after_release(context, progress)
            return after.progress, polled.actions + actions + after.actions, waits + after.waits
        return progress, polled.actions + actions, waits + polled.waits

    def converge(self, context: DecisionContext, progress: Progress) -> tuple[list[Action], Waits, int]:
        return _converge(context, progress)

    def in_analysis(self, rollout: Rollout, progress: Progress) -> bool:
        # A webhook gate holding the release stops the progress deadline as an analysis does.
        running = any(
            record is not None and not AnalysisPhase(record.status).completed
            for record in (progress.pre_run, progress.post_run)
        )
        return not progress.complete and (running or progress.traffic_held)

    def waiting_message(self, rollout: Rollout, progress: Progress, replicas: int, updated: int) -> str:
        if progress.complete:
            # Promoted, but the old revision still has pods until scaleDownDelaySeconds has passed.
            return "old replicas are pending termination"
        if progress.active != progress.canary:
            return "active service cutover pending"
        post = progress.post_run
        if _spec(rollout).post_promotion_analysis is not None and (
            post is None or not AnalysisPhase(post.status).completed
        ):
            return "waiting for analysis to complete"
        return "waiting for post-promotion verification to complete"

    def completion_reason(self, rollout: Rollout) -> str:
        return "Completed blue-green update"

    def status_fields(
        self, rollout: Rollout, observed: Observed, progress: Progress, weight: int
    ) -> dict[str, Any]:
        return {
            "current_step_index": None,
            "current_step_hash": None,
            "canary": CanaryStatus(),
            "blue_green": BlueGreenStatus(
                active_selector=progress.active,
                preview_selector=progress.canary if _spec(rollout).preview_service else None,
                scale_up_preview_check_point=progress.scale_up_preview and not progress.complete,
                pre_promotion_analysis_run_status=progress.pre_run,
                post_promotion_analysis_run_status=progress.post_run,
            ),
            "hooks": list(progress.hooks),
        }

    def with_routing(
        self, rollout: Rollout, status: RolloutStatus, progress: Progress, weight: int
    ) -> RolloutStatus:
        blue_green = status.blue_green.model_copy(update={"active_selector": progress.active})
        return status.model_copy(update={"blue_green": blue_green})


BLUE_GREEN = BlueGreenRelease()


def _spec(rollout: Rollout) -> BlueGreenStrategy:
    blue_green = rollout.spec.strategy.blue_green
    if blue_green is None:
        raise ValueError(f"rollout '{rollout.metadata.name}' has no blueGreen strategy")
    return blue_green


def _ended(context: DecisionContext, progress: Progress, observed_active: PodHash | None) -> Progress:
    """Promoted: the active Service settles on stable. Aborted: it goes back to stable, and the
    abort ends any pause (Argo's AddAbort)."""
    if progress.complete:
        return replace(progress, active=_settled_active(context, progress, observed_active))
    active = _back_to_stable(context, progress, observed_active)
    return replace(progress, active=active, pause_conditions=(), controller_pause=False)


def _active_selected(context: DecisionContext) -> PodHash | None:
    return context.observed.service_selectors.get(_spec(context.rollout).active_service)


def _floor(rollout: Rollout) -> int:
    """The fewest available pods a ReplicaSet the active Service selects may have: replicas - maxUnavailable."""
    _, unavailable = targets.surge_and_unavailable(rollout)
    return max(0, rollout.spec.replicas - unavailable)


def _available(context: DecisionContext, pod_hash: PodHash | None) -> int:
    seen = context.observed.replica_set(pod_hash)
    return seen.available if seen is not None else 0


def _fully_available(context: DecisionContext, pod_hash: PodHash) -> bool:
    """Every one of spec.replicas pods available (the switch to a new revision waits for this)."""
    wanted = context.rollout.spec.replicas
    return _available(context, pod_hash) >= wanted and (
        wanted > 0 or context.observed.replica_set(pod_hash) is not None
    )


def _settled_active(context: DecisionContext, progress: Progress, selected: PodHash | None) -> PodHash | None:
    """Fully promoted: the active Service selects stable; a first deploy's once all its pods are
    available, a move back from another revision (a rollback) once stable has the floor."""
    if selected == progress.stable:
        return selected
    if selected is None:
        return progress.stable if _fully_available(context, progress.stable) else None
    return progress.stable if _available(context, progress.stable) >= _floor(context.rollout) else selected


def _back_to_stable(context: DecisionContext, progress: Progress, selected: PodHash | None) -> PodHash | None:
    """Aborted: the active Service goes back to stable at once when stable has the pods to serve."""
    if selected == progress.stable or _available(context, progress.stable) >= max(_floor(context.rollout), 1):
        return progress.stable
    return selected


def _new_count(rollout: Rollout, progress: Progress) -> int:
    """Pods for the new revision: spec.replicas, or previewReplicaCount while it is only previewed
    (until the pause before the switch is over, a promote --full, or the switch itself)."""
    preview = _spec(rollout).preview_replica_count
    replicas = rollout.spec.replicas
    if preview is None or progress.promote_full or progress.active == progress.canary:
        return replicas
    if progress.scale_up_preview and not rollout.spec.paused:
        return replicas
    return preview


def _ready(context: DecisionContext, progress: Progress, count: int) -> bool:
    seen = context.observed.replica_set(progress.canary)
    return seen is not None and seen.replicas == count and seen.available >= count


def _fast_tracked(context: DecisionContext, progress: Progress) -> bool:
    """Analysis and pause are skipped: a promote --full, or a rollback within rollbackWindow."""
    return progress.promote_full or rollback_window.within(
        context.rollout, context.observed, progress.stable, progress.canary
    )


def _promoted(progress: Progress) -> Progress:
    return replace(
        progress,
        stable=progress.canary,
        promote_full=False,
        pause_conditions=(),
        controller_pause=False,
        scale_up_preview=False,
    )


def _before_switch(context: DecisionContext, progress: Progress) -> tuple[Progress, list[Action], Waits]:
    """The new revision is previewed: wait for its pods, run pre-promotion analysis, pause, scale
    up past previewReplicaCount, then switch the active Service (and promote without post analysis)."""
    rollout = context.rollout
    spec = _spec(rollout)
    if rollout.spec.paused or not _ready(context, progress, _new_count(rollout, progress)):
        return progress, [], []
    actions: list[Action] = []
    fast = _fast_tracked(context, progress)
    if not fast:
        start = hooks.before_start(context, progress)
        progress, actions = start.progress, start.actions
        if not start.passed:
            return progress, actions, start.waits
        if spec.pre_promotion_analysis is not None:
            progress, run_actions, done = _run(context, progress, "pre", spec.pre_promotion_analysis)
            actions += run_actions
            if not done:
                return progress, actions, []
        progress, wait, resumed = _pause(context, progress, spec)
        if not resumed:
            return progress, actions, [wait]
        if spec.preview_replica_count is not None and not progress.scale_up_preview:
            progress = replace(progress, scale_up_preview=True)
        switch = hooks.before_switch(context, progress)
        progress, actions = switch.progress, actions + switch.actions
        if not switch.passed:
            return progress, actions, switch.waits
    if not _ready(context, progress, _new_count(rollout, progress)) or not _fully_available(
        context, progress.canary
    ):
        return progress, actions, []
    progress = replace(progress, active=progress.canary)
    if fast or spec.post_promotion_analysis is None:
        return _promoted(progress), actions, []
    return progress, actions, []


def _after_switch(context: DecisionContext, progress: Progress) -> tuple[Progress, list[Action], Waits]:
    """The active Service selects the new revision: post-promotion analysis, then promote."""
    analysis = _spec(context.rollout).post_promotion_analysis
    if analysis is None or _fast_tracked(context, progress):
        return _promoted(progress), [], []
    progress, actions, done = _run(context, progress, "post", analysis)
    return (_promoted(progress) if done else progress), actions, []


def _pause(
    context: DecisionContext, progress: Progress, spec: BlueGreenStrategy
) -> tuple[Progress, float | None, bool]:
    """Argo's BlueGreenPause: (progress, seconds until auto-promotion, whether the pause is over).

    With autoPromotionEnabled (and no autoPromotionSeconds) there is none. A promote clears the pause
    condition and leaves controllerPause set: that is the pause being over. Once over, controllerPause
    stays set until the promotion, so that the scale-up past previewReplicaCount is not paused again.
    """
    reason = PauseReason.BLUE_GREEN_PAUSE
    if spec.auto_promotion_enabled and spec.auto_promotion_seconds == 0:
        return progress.without_pause(reason), None, True
    condition = progress.paused_for(reason)
    if condition is None:
        if progress.controller_pause and not progress.pause_conditions:
            return progress, None, True
        paused = progress.with_pause(reason, context.now)
        return paused, (float(spec.auto_promotion_seconds) if spec.auto_promotion_enabled else None), False
    if not spec.auto_promotion_enabled:
        return progress, None, False
    left = (
        condition.start_time + timedelta(seconds=spec.auto_promotion_seconds) - context.now
    ).total_seconds()
    if left > 0:
        return progress, left, False
    return replace(progress.without_pause(reason), controller_pause=True), None, True


def _run(
    context: DecisionContext, progress: Progress, kind: analysis_runs.RunKind, analysis: RolloutAnalysis
) -> tuple[Progress, list[Action], bool]:
    """The pre- or post-promotion run: (progress, the run to create, whether it succeeded)."""
    field = "pre_run" if kind == "pre" else "post_run"
    record: RolloutAnalysisRunStatus | None = getattr(progress, field) or analysis_runs.adopted(
        context.observed, progress.canary, kind, 0
    )
    run = context.observed.analysis_run(record.name) if record else None
    if record is not None and run is None and record.status == AnalysisPhase.SUCCESSFUL:
        return progress, [], True  # its verdict is recorded; the run itself may be gone
    record, run = analysis_runs.current_run(
        context.rollout,
        context.observed,
        record,
        progress.canary,
        kind,
        held_inconclusive=progress.paused_for(PauseReason.INCONCLUSIVE_ANALYSIS) is not None,
    )
    actions: list[Action] = []
    if run is None:
        actions.append(
            analysis_runs.create_run(context, progress, analysis, name=record.name, kind=kind, step=0)
        )
    phase = analysis_runs.verdict(run)
    recorded = analysis_runs.recorded(record, phase, run.status.message if run else "")
    progress = replace(progress, pre_run=recorded) if kind == "pre" else replace(progress, post_run=recorded)
    if phase == AnalysisPhase.SUCCESSFUL:
        return progress, actions, True
    if phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
        return (
            progress.aborted(context.now, analysis_runs.verdict_message(record.name, phase, run)),
            actions,
            False,
        )
    if phase == AnalysisPhase.INCONCLUSIVE:
        return progress.with_pause(PauseReason.INCONCLUSIVE_ANALYSIS, context.now), actions, False
    return progress, actions, False


def _converge(context: DecisionContext, progress: Progress) -> tuple[list[Action], Waits, int]:
    rollout = context.rollout
    spec = _spec(rollout)
    sides = context.sides(progress)
    waits: Waits = []
    counts = {progress.stable: rollout.spec.replicas}
    if not progress.complete:
        new_count = _new_count(rollout, progress)
        if progress.abort:
            new_count, wait = converge.aborted_canary_count(context, progress, sides)
            waits.append(wait)
            if progress.active == progress.canary:  # the active Service still selects it: keep its pods
                new_count = max(new_count, sides.canary.replicas if sides.canary else 0)
        counts[progress.canary] = new_count
    # Pods restart only between releases: during one, the preview's pods serve no production
    # traffic, so they cannot make up for an active pod being restarted.
    surged, restart = (
        restarts.next_restart(rollout, context.now, sides, counts) if progress.complete else ({}, [])
    )
    counts |= surged
    actions: list[Action] = []
    actions += converge.replica_set_actions(context, progress.stable, sides.stable, counts[progress.stable])
    if not progress.complete:
        actions += converge.replica_set_actions(
            context,
            progress.canary,
            sides.canary,
            counts[progress.canary],
            template=_with_anti_affinity(context, progress, spec.anti_affinity),
        )
    actions += converge.serving_again(sides)
    actions += ephemeral.metadata_actions(context, _roles(progress, spec), actions)
    selected = {progress.active, _active_selected(context)}
    others = [rs for rs in sides.others if rs.pod_template_hash not in selected]
    older, older_waits = converge.older_replica_sets(context, others, True, 0)
    actions += older
    waits += older_waits
    if progress.active is not None:
        actions.append(SetServiceSelector(spec.active_service, progress.active))
    if spec.preview_service:
        actions.append(SetServiceSelector(spec.preview_service, progress.canary))
    actions += converge.settle_runs(context, progress)
    actions += restart
    return actions, waits, 0


def _roles(progress: Progress, spec: BlueGreenStrategy) -> dict[PodHash, PodMetadata | None]:
    """activeMetadata on the revisions the active Service selects or is stable, previewMetadata on
    the previewed one (Argo's reconcileEphemeralMetadata)."""
    roles: dict[PodHash, PodMetadata | None] = {progress.stable: spec.active_metadata}
    if not progress.complete:
        active = progress.active == progress.canary
        roles[progress.canary] = spec.active_metadata if active else spec.preview_metadata
    return roles


def _with_anti_affinity(
    context: DecisionContext, progress: Progress, rule: AntiAffinity | None
) -> Mapping[str, Any] | None:
    """The new ReplicaSet's template with Argo's injected podAntiAffinity term against the stable
    revision's pods (`rollouts-pod-template-hash In [stable]`, per node); None: the Rollout's own."""
    if rule is None or progress.stable == progress.canary:
        return None
    term: dict[str, Any] = {
        "labelSelector": {
            "matchExpressions": [{"key": HASH_LABEL, "operator": "In", "values": [progress.stable]}]
        },
        "namespaces": [context.rollout.metadata.namespace or "default"],
        "topologyKey": TOPOLOGY_KEY,
    }
    template = copy.deepcopy(dict(context.template))
    spec = template.setdefault("spec", {})
    anti = spec.setdefault("affinity", {}).setdefault("podAntiAffinity", {})
    preferred = rule.preferred_during_scheduling_ignored_during_execution
    entry: dict[str, Any] = term
    key = "requiredDuringSchedulingIgnoredDuringExecution"
    if preferred is not None:
        key, entry = (
            "preferredDuringSchedulingIgnoredDuringExecution",
            {"weight": preferred.weight, "podAffinityTerm": term},
        )
    anti[key] = [*(anti.get(key) or []), entry]
    return template


def without_injected_anti_affinity(template: Mapping[str, Any]) -> dict[str, Any]:
    """`template` without the anti-affinity terms blue-green injected (those that select by the
    pod-template hash), as the Rollout's own template was: `undo` restores it unchanged."""
    result = copy.deepcopy(dict(template))
    anti = ((result.get("spec") or {}).get("affinity") or {}).get("podAntiAffinity")
    if not anti:
        return result

    def injected(term: Mapping[str, Any]) -> bool:
        expressions = (term.get("labelSelector") or {}).get("matchExpressions") or []
        return any(expression.get("key") == HASH_LABEL for expression in expressions)

    for key in (
        "preferredDuringSchedulingIgnoredDuringExecution",
        "requiredDuringSchedulingIgnoredDuringExecution",
    ):
        entries = anti.get(key)
        if entries is None:
            continue
        kept = [e for e in entries if not injected(e.get("podAffinityTerm", e))]
        if kept:
            anti[key] = kept
        else:
            del anti[key]
    affinity = result["spec"]["affinity"]
    if not anti:
        del affinity["podAntiAffinity"]
    if not affinity:
        del result["spec"]["affinity"]
    return result


def active_replica_set(rollout: Rollout, observed: Observed) -> ReplicaSetView | None:
    """The ReplicaSet the active Service selects (for views)."""
    return observed.replica_set(observed.service_selectors.get(_spec(rollout).active_service))
