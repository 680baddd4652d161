"""spec.rollbackWindow: a template change back to a recent revision skips the steps.

As Argo Rollouts decides it (`isRollbackWithinWindow`): the new template's ReplicaSet still exists
and is older than the stable one, and fewer than `rollbackWindow.revisions` ReplicaSets were created
between the two. With `revisions: 3` and revisions 1..5, 5 stable, going back to 4, 3 or 2 is
within the window (0, 1 and 2 revisions in between). A revision the history limit already deleted
is a new release again. The stable revision itself needs no window (it always skips the steps).

ReplicaSets are ordered by revision number (canary never renumbers one), then creation time.
"""

from __future__ import annotations

from datetime import UTC, datetime

from canary.api.rollout import Rollout
from canary.engine.actions import PodHash
from canary.engine.observed import Observed, ReplicaSetView

_EPOCH = datetime.min.replace(tzinfo=UTC)


def within(rollout: Rollout, observed: Observed, stable: PodHash, canary: PodHash) -> bool:
    """Whether moving to `canary` is a rollback within spec.rollbackWindow (steps skipped)."""
    window = rollout.spec.rollback_window
    if window is None or window.revisions <= 0 or canary == stable:
        return False
    target, current = observed.replica_set(canary), observed.replica_set(stable)
    if target is None or current is None or not _order(target) < _order(current):
        return False
    between = [rs for rs in observed.replica_sets if _order(target) < _order(rs) < _order(current)]
    return len(between) < window.revisions


def _order(rs: ReplicaSetView) -> tuple[int, datetime]:
    return rs.revision, rs.created_at or _EPOCH
