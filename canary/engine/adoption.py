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
from typing import Any

from canary.api.base import LabelSelector
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


def to_adopt(
    rollout: Rollout, replica_sets: Iterable[Candidate], workload_selector: LabelSelector | None = None
) -> list[str]:
    """The names of the ReplicaSets `rollout` should become the controller owner of, sorted.

    The selector is the one the Rollout's ReplicaSets are built with: `spec.selector`, else (a
    `workloadRef` Rollout leaves it unset) `workload_selector`, which the adapter resolves from the
    referenced Deployment (`workload_selector_of`).

    None while the Rollout itself is being deleted, or when it has no selector or an empty one
    (which would select every ReplicaSet of the namespace).
    """
    selector = rollout.spec.selector if rollout.spec.selector is not None else workload_selector
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


def workload_selector_of(deployment: Mapping[str, Any] | None) -> LabelSelector | None:
    """The selector a `workloadRef` Rollout's ReplicaSets are built with, from its Deployment: the
    Deployment's `spec.selector`, else its pod template's labels (without the pod-template hash).
    None without a Deployment."""
    if deployment is None:
        return None
    spec = deployment.get("spec") or {}
    if spec.get("selector"):
        return LabelSelector.model_validate(spec["selector"])
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    return LabelSelector.model_validate({"matchLabels": {k: v for k, v in labels.items() if k != HASH_LABEL}})
