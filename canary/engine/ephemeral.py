"""Ephemeral pod metadata: `strategy.canary.canaryMetadata` and `stableMetadata`.

As in Argo Rollouts, the labels and annotations of a role are on a revision's pods only while it has
that role: the canary ReplicaSet's pods carry canaryMetadata, the stable one's stableMetadata, and
every other revision none. When the canary is promoted, its pods get stableMetadata in place of
canaryMetadata (no pod is replaced; the pod-template hash does not change). A ReplicaSet created
in this decision gets its role's metadata in the same decision, right after it is created.

One `SetEphemeralMetadata` per ReplicaSet whose observed metadata differs from its role's, so a
quiet reconcile asks for nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from canary.api.rollout import PodMetadata
from canary.engine.actions import Action, CreateReplicaSet, EphemeralMetadata, PodHash, SetEphemeralMetadata
from canary.engine.context import DecisionContext
from canary.engine.progress import Progress


def metadata_actions(
    context: DecisionContext, progress: Progress, actions: Sequence[Action]
) -> list[SetEphemeralMetadata]:
    """The metadata each ReplicaSet's pods must carry for its role in `progress`, where it differs
    from what is observed. `actions` are the decision's other actions (a ReplicaSet created now)."""
    wanted = wanted_metadata(context, progress)
    created = {a.pod_template_hash for a in actions if isinstance(a, CreateReplicaSet)}
    result: list[SetEphemeralMetadata] = []
    for pod_hash, metadata in wanted.items():
        seen = context.observed.replica_set(pod_hash)
        if seen is None:
            if pod_hash in created and (metadata.labels or metadata.annotations):
                result.append(SetEphemeralMetadata(pod_hash, metadata))
        elif seen.ephemeral_metadata != metadata:
            result.append(SetEphemeralMetadata(pod_hash, metadata))
    return result


def wanted_metadata(context: DecisionContext, progress: Progress) -> dict[PodHash, EphemeralMetadata]:
    """Every revision's ephemeral metadata: stable, then canary (until promoted), then the others."""
    strategy = context.rollout.spec.strategy.canary
    wanted = {progress.stable: _of(strategy.stable_metadata)}
    if not progress.complete:
        wanted[progress.canary] = _of(strategy.canary_metadata)
    for rs in context.observed.replica_sets:
        wanted.setdefault(rs.pod_template_hash, EphemeralMetadata())
    return wanted


def _of(metadata: PodMetadata | None) -> EphemeralMetadata:
    if metadata is None:
        return EphemeralMetadata()
    return EphemeralMetadata(dict(metadata.labels), dict(metadata.annotations))
