"""Which orphaned ReplicaSets a Rollout takes back as its own.

A Rollout deleted with `--cascade=orphan` and applied again (a documented migration path, and what
GitOps tools do on some re-creates) leaves its ReplicaSets serving with no owner. Like Kubernetes'
own controllers, a Rollout adopts a ReplicaSet that no controller owns and that its selector
selects; once adopted, the revision still serving is taken back as stable
(`canary.engine.recovery`) instead of the template being promoted as a first deploy.

Only ReplicaSets labelled with a pod-template hash are taken: those are revisions of a Rollout, and
the engine tells revisions apart by that label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from canary.api.rollout import Rollout
from canary.engine.hashing import HASH_LABEL


@dataclass(frozen=True)
class Candidate:
    """What adoption reads of a ReplicaSet: `controller` is the uid of its controller owner (None
    when it has none), `deleting` whether it has a deletionTimestamp."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    controller: str | None
    deleting: bool = False


def to_adopt(rollout: Rollout, replica_sets: Iterable[Candidate]) -> list[str]:
    """The names of the ReplicaSets `rollout` should become the controller owner of, sorted.

    None while the Rollout itself is being deleted, or when it has no selector or an empty one
    (which would select every ReplicaSet of the namespace).
    """
    selector = rollout.spec.selector
    if rollout.metadata.deletion_timestamp is not None or selector is None or selector.empty:
        return []
    namespace = rollout.metadata.namespace or "default"
    return sorted(
        rs.name
        for rs in replica_sets
        if rs.namespace == namespace
        and rs.controller is None
        and not rs.deleting
        and HASH_LABEL in rs.labels
        and selector.matches(rs.labels)
    )
