"""The user verbs as pure functions: each says what to patch, never patches anything itself.

The CLI, the in-memory cluster and the Kubernetes adapter all apply the returned `Patch` values the
same way (a JSON merge patch, RFC 7386, on the named subresource), so a verb means the same thing
everywhere. Status belongs to the controller and spec to people and GitOps tools; a verb writes spec
only where Argo Rollouts users expect it:

    verb            writes                     effect
    promote         status (+ spec.paused)     skip the current step (ends a pause or inconclusive analysis)
    promote --full  status (+ spec.paused)     skip every remaining step, even after an abort
    abort           status                     100% traffic to stable, Degraded/RolloutAborted (fully promoted: no-op)
    retry           status                     clear the abort, restart the steps at step 0
    pause / resume  spec.paused                hold / release progress (GitOps can see and revert it)
    undo            spec.template              roll the template back to an earlier revision
    restart         spec.restartAt             restart every pod, a few at a time
    set image       spec.template              change one container's image (a new revision)

Status patches carry the Rollout's resourceVersion: they are computed from the status the user saw,
so they apply only if the controller has not moved on meanwhile (else `Conflict`, and the verb is
retried against the new status).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from canary.api.rollout import Rollout
from canary.engine import hooks
from canary.engine import steps as step_list
from canary.engine.bluegreen_strategy import without_injected_anti_affinity
from canary.engine.hashing import pod_template_hash
from canary.engine.observed import ReplicaSetView


class CommandError(ValueError):
    """The verb cannot apply to this Rollout as it stands; the message says why and what to do."""


@dataclass(frozen=True)
class Patch:
    """A JSON merge patch of one subresource: `body` is merged into `spec` or `status` (None deletes)."""

    target: Literal["spec", "status"]
    body: Mapping[str, Any]
    resource_version: str | None = None

    def document(self) -> dict[str, Any]:
        """The merge patch of the whole object, as `kubectl patch --type merge` takes it."""
        return {self.target: copy.deepcopy(dict(self.body))}


def merge_patch(document: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, None removes a key, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    merged = dict(document) if isinstance(document, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def apply_patch(rollout: Rollout, patch: Patch) -> Rollout:
    """The Rollout with `patch` applied (validated again, so a bad patch fails like a bad apply)."""
    return Rollout.model_validate(merge_patch(rollout.to_wire(), patch.document()))


def _status(rollout: Rollout, body: Mapping[str, Any]) -> Patch:
    return Patch("status", body, rollout.metadata.resource_version)


def _unpause_spec(rollout: Rollout) -> tuple[Patch, ...]:
    return (Patch("spec", {"paused": False}),) if rollout.spec.paused else ()


def is_complete(rollout: Rollout) -> bool:
    """Fully promoted: the current revision is stable and no abort is pending."""
    status = rollout.status
    return status.stable_rs is not None and status.stable_rs == status.current_pod_hash and not status.abort


def promote(rollout: Rollout) -> tuple[Patch, ...]:
    """Skip the current step: ends an indefinite pause, a timed one, or an inconclusive analysis."""
    status = rollout.status
    if status.abort:
        raise CommandError(
            f"rollout '{rollout.metadata.name}' is aborted; run `retry` to restart its steps "
            "or `promote --full` to promote it anyway"
        )
    if is_complete(rollout):
        raise CommandError(f"rollout '{rollout.metadata.name}' is fully promoted; there is no step to skip")
    if rollout.spec.strategy.blue_green is not None:
        return _promote_blue_green(rollout)
    steps = len(step_list.of(rollout))
    index = min((status.current_step_index or 0) + 1, steps)
    body = {
        "currentStepIndex": index,
        "pauseConditions": None,
        "controllerPause": False,
        "canary": {"currentStepAnalysisRunStatus": None},
    }
    return (_status(rollout, body), *_unpause_spec(rollout))


def _promote_blue_green(rollout: Rollout) -> tuple[Patch, ...]:
    """End the pause before the switch (BlueGreenPause, or an inconclusive analysis) as Argo does:
    the pause conditions go, controllerPause stays set, which tells the controller it was resumed."""
    if not rollout.status.pause_conditions:
        if rollout.spec.paused:
            return _unpause_spec(rollout)
        raise CommandError(
            f"rollout '{rollout.metadata.name}' is not paused: the active Service switches by itself once "
            "the new ReplicaSet is available (and analysed); `promote --full` switches without the analysis"
        )
    return (_status(rollout, {"pauseConditions": None, "controllerPause": True}), *_unpause_spec(rollout))


def promote_full(rollout: Rollout) -> tuple[Patch, ...]:
    """Skip every remaining step and make the current revision stable, even after an abort."""
    if is_complete(rollout):
        raise CommandError(f"rollout '{rollout.metadata.name}' is already fully promoted")
    body = {
        "promoteFull": True,
        "abort": False,
        "abortedAt": None,
        "pauseConditions": None,
        "controllerPause": False,
    }
    return (_status(rollout, body), *_unpause_spec(rollout))


def abort(rollout: Rollout, now: datetime) -> tuple[Patch, ...]:
    """Send all traffic back to stable at once and stop the canary (Degraded, RolloutAborted).

    Nothing to patch when already aborted, or when fully promoted: as with Argo Rollouts, aborting a
    rollout with no canary in progress is a no-op, not an error (a pipeline's "abort on failure" step
    must not fail because the release finished first)."""
    if is_complete(rollout) or rollout.status.abort:
        return ()
    return (_status(rollout, {"abort": True, "abortedAt": now.isoformat()}),)


def retry(rollout: Rollout) -> tuple[Patch, ...]:
    """Clear an abort and run the steps again from step 0 (with fresh analysis runs and webhook calls)."""
    if not rollout.status.abort:
        raise CommandError(
            f"rollout '{rollout.metadata.name}' is not aborted; only an aborted rollout can be retried"
        )
    body = {
        "abort": False,
        "abortedAt": None,
        "currentStepIndex": 0,
        "pauseConditions": None,
        "controllerPause": False,
        "canary": {"currentStepAnalysisRunStatus": None, "currentBackgroundAnalysisRunStatus": None},
        "blueGreen": {
            "prePromotionAnalysisRunStatus": None,
            "postPromotionAnalysisRunStatus": None,
            "scaleUpPreviewCheckPoint": False,
        },
        "hooks": [record.to_wire() for record in hooks.retried(rollout.status.hooks)],
    }
    return (_status(rollout, body),)


def pause(rollout: Rollout) -> tuple[Patch, ...]:
    """Hold the rollout where it is (spec.paused: true) until `resume`."""
    return () if rollout.spec.paused else (Patch("spec", {"paused": True}),)


def resume(rollout: Rollout) -> tuple[Patch, ...]:
    """Release a `pause` (spec.paused: false); pause steps still wait for `promote`."""
    return _unpause_spec(rollout)


def restart(rollout: Rollout, now: datetime) -> tuple[Patch, ...]:
    """Restart every pod of the Rollout (spec.restartAt = now), keeping availability."""
    return (Patch("spec", {"restartAt": now.isoformat()}),)


def _own_template(rollout: Rollout, verb: str) -> dict[str, Any]:
    if rollout.spec.template is None:
        raise CommandError(
            f"rollout '{rollout.metadata.name}' takes its template from workloadRef "
            f"'{rollout.spec.workload_ref.name if rollout.spec.workload_ref else ''}'; {verb} that Deployment instead"
        )
    return copy.deepcopy(rollout.spec.template)


def undo(
    rollout: Rollout, replica_sets: Sequence[ReplicaSetView], to_revision: int | None = None
) -> tuple[Patch, ...]:
    """Set the template back to an earlier revision: `to_revision`, or the one before the current one."""
    current = _own_template(rollout, "undo")
    by_revision = {rs.revision: rs for rs in replica_sets}
    known = ", ".join(str(r) for r in sorted(by_revision)) or "none"
    if to_revision is not None:
        target = by_revision.get(to_revision)
        if target is None:
            raise CommandError(f"revision {to_revision} not found; revisions kept: {known}")
    else:
        older = [rs for rs in replica_sets if rs.pod_template_hash != pod_template_hash(current)]
        if not older:
            raise CommandError(f"no earlier revision to go back to; revisions kept: {known}")
        target = max(older, key=lambda rs: rs.revision)
    # A blue-green ReplicaSet may carry the anti-affinity term canary injected; the Rollout's own
    # template never had it.
    return (Patch("spec", {"template": without_injected_anti_affinity(target.template)}),)


def set_image(rollout: Rollout, container: str, image: str) -> tuple[Patch, ...]:
    """Change one container's image, which starts a new revision."""
    template = _own_template(rollout, "set image")
    containers = template.get("spec", {}).get("containers", [])
    names = [c.get("name") for c in containers]
    if container not in names:
        raise CommandError(
            f"container '{container}' not found in spec.template; containers: {', '.join(map(str, names))}"
        )
    for entry in containers:
        if entry.get("name") == container:
            entry["image"] = image
    # A merge patch replaces lists whole, so the complete container list is sent.
    return (Patch("spec", {"template": {"spec": {"containers": containers}}}),)
