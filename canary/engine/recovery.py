"""The stable revision of a Rollout whose status names none, or names one that serves nothing.

A status can be lost while the Rollout's ReplicaSets keep serving: the Rollout restored from a
backup without status, its status subresource wiped, or the Rollout deleted with its ReplicaSets
orphaned and applied again (they are adopted first, `canary.engine.adoption`). Taking the current template for a first
deploy would then promote it at once, past every step and analysis, on no evidence at all; the
revision whose pods still serve is taken back as stable instead, so the current template runs its
steps against it.

The opposite loss: a stable revision that never served (a first deploy whose pods crash) is no
fallback. Once its progress deadline has passed with no pod of it available, the steps of a new
revision would only wait for pods that cannot come, so the new revision replaces it as a first
deploy would.
"""

from __future__ import annotations

from canary.api.rollout import Rollout
from canary.engine.actions import PodHash
from canary.engine.observed import Observed, ReplicaSetView
from canary.engine.status import DEADLINE_EXCEEDED, PROGRESSING


def stable_without_status(rollout: Rollout, observed: Observed, current: PodHash) -> PodHash:
    """The stable revision when the status names none.

    The one the stable Service selects, if its pods serve (that may be `current`: a finished
    rollout); else the older revision with the most available pods, the newest on a tie; else
    `current`, which is then a first deploy.
    """
    serving = [rs for rs in observed.replica_sets if rs.available > 0 and rs.pod_template_hash]
    service = rollout.spec.strategy.serving_service
    selected = observed.service_selectors.get(service) if service else None
    if selected is not None and any(rs.pod_template_hash == selected for rs in serving):
        return selected
    older = [rs for rs in serving if rs.pod_template_hash != current]
    return max(older, key=_serving_order).pod_template_hash if older else current


def _serving_order(rs: ReplicaSetView) -> tuple[int, int, float, str]:
    # The name last, so that the choice never depends on the order the cluster listed them in.
    created = rs.created_at.timestamp() if rs.created_at is not None else float("-inf")
    return rs.available, rs.revision, created, rs.name


def stable_serves_nothing(rollout: Rollout, observed: Observed, stable: PodHash, current: PodHash) -> bool:
    """Whether the recorded stable revision is no fallback: no pod of it is available and the
    rollout already ran out of its progress deadline (so this is not a stable briefly restarting)."""
    if stable == current or rollout.status.abort:
        return False
    seen = observed.replica_set(stable)
    if seen is not None and seen.available > 0:
        return False
    progressing = next((c for c in rollout.status.conditions if c.type == PROGRESSING), None)
    return progressing is not None and progressing.reason == DEADLINE_EXCEEDED
