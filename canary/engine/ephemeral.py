"""Ephemeral pod metadata: `strategy.canary.canaryMetadata` and `stableMetadata`,
`strategy.blueGreen.previewMetadata` and `activeMetadata`.

As in Argo Rollouts, the labels and annotations of a role are on a revision's pods only while it has
that role: the canary ReplicaSet's pods carry canaryMetadata, the stable one's stableMetadata, and
every other revision none (blue-green: the preview's previewMetadata, the active ones activeMetadata).
The strategy says which revision has which role. When the canary is promoted, its pods get stableMetadata in place of
canaryMetadata (no pod is replaced; the pod-template hash does not change). A ReplicaSet created
in this decision gets its role's metadata in the same decision, right after it is created.

One `SetEphemeralMetadata` per ReplicaSet whose observed metadata differs from its role's, so a
quiet reconcile asks for nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from canary.api.rollout import PodMetadata
from canary.engine.actions import Action, CreateReplicaSet, EphemeralMetadata, PodHash, SetEphemeralMetadata
from canary.engine.context import DecisionContext


def metadata_actions(
    context: DecisionContext, roles: Mapping[PodHash, PodMetadata | None], actions: Sequence[Action]
) -> list[SetEphemeralMetadata]:
    """The metadata each ReplicaSet's pods must carry for its role, where it differs from what is
    observed. `roles` maps the revisions that have a role to the strategy's metadata for it (say,
    stable to stableMetadata); every other revision carries none. `actions` are the decision's other
    actions (a ReplicaSet created now)."""
    wanted = wanted_metadata(context, roles)
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


def wanted_metadata(
    context: DecisionContext, roles: Mapping[PodHash, PodMetadata | None]
) -> dict[PodHash, EphemeralMetadata]:
    """Every revision's ephemeral metadata: those with a role first, then the others (none)."""
    wanted = {pod_hash: _of(metadata) for pod_hash, metadata in roles.items()}
    for rs in context.observed.replica_sets:
        wanted.setdefault(rs.pod_template_hash, EphemeralMetadata())
    return wanted


def _of(metadata: PodMetadata | None) -> EphemeralMetadata:
    if metadata is None:
        return EphemeralMetadata()
    return EphemeralMetadata(dict(metadata.labels), dict(metadata.annotations))
